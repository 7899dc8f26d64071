/*
 * crlf_body - random mail bodies for the loop-marker tests: runs of CR,
 * LF and letters (mostly short, now and then up to 20,000 bytes, so they
 * cross staging buffers), and the same body without its CRs.
 */
#ifndef MAILSEAL_TESTS_SUPPORT_CRLF_BODY_H
#define MAILSEAL_TESTS_SUPPORT_CRLF_BODY_H

#include <stddef.h>

/* test_crlf_body - fill body[0..len) from *seed; write it without CRs to
 * canon (room for len bytes) and return that length */
size_t test_crlf_body(unsigned *seed, char *body, size_t len, char *canon);

#endif
