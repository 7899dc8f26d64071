/*
 * fuzz - the entry point every harness in fuzz/ defines, as libFuzzer
 * calls it, and what replay_main.c calls in the normal builds.  A harness
 * returns 0 for every input; it checks the documented invariants of the
 * module it drives and calls fuzz_fail() when one does not hold, so a
 * violation is a crash under libFuzzer and a failure in ctest.
 */
#ifndef MAILSEAL_FUZZ_FUZZ_H
#define MAILSEAL_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_fail - an invariant does not hold: say which, and crash (the harness is a test, not the product) */
#define fuzz_fail(what) \
    do { fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", (what), __FILE__, __LINE__); \
         abort(); } while (0)

#endif
