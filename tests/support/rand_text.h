/*
 * rand_text - seeded random text for the differential tests: a small
 * xorshift generator (so a failure reproduces from its seed) and text
 * built from a caller's list of pieces.
 */
#ifndef MAILSEAL_TESTS_SUPPORT_RAND_TEXT_H
#define MAILSEAL_TESTS_SUPPORT_RAND_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* test_rnd - the next value of the xorshift state *st */
uint32_t test_rnd(uint64_t *st);
/* test_gen_text - up to max bytes of pieces[0..npieces) picked at random
 * into out; returns the length */
size_t test_gen_text(uint64_t *st, const char *const *pieces, size_t npieces, char *out,
                     size_t max);

#endif
