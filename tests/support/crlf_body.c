/*
 * crlf_body - random CR/LF bodies for the loop-marker tests (see crlf_body.h).
 */
#include <stdlib.h>

#include "tests/support/crlf_body.h"

/* test_crlf_body - a random body of CR, LF and letter runs, and its CR-free copy */
size_t test_crlf_body(unsigned *seed, char *body, size_t len, char *canon)
{
    size_t n = 0;

    for (size_t i = 0; i < len;) {
        size_t run = 1 + (size_t)(rand_r(seed) % (rand_r(seed) % 4 ? 5 : 20000));
        char c = "\r\nab"[rand_r(seed) % 4];

        for (; run > 0 && i < len; run--, i++)
            body[i] = c;
    }
    for (size_t i = 0; i < len; i++)
        if (body[i] != '\r')
            canon[n++] = body[i];
    return n;
}
