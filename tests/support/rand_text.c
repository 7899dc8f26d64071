/*
 * rand_text - seeded random text for the differential tests (see
 * rand_text.h).
 */
#include <string.h>

#include "tests/support/rand_text.h"

/* test_rnd - a small seeded generator (xorshift), so failures reproduce */
uint32_t test_rnd(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return (uint32_t)(*st >> 16);
}

/* test_gen_text - random text of at most max bytes from pieces[] */
size_t test_gen_text(uint64_t *st, const char *const *pieces, size_t npieces, char *out,
                     size_t max)
{
    size_t n = 0, want = test_rnd(st) % max;

    while (n < want) {
        const char *p = pieces[test_rnd(st) % npieces];
        size_t l = strlen(p);

        if (n + l > max)
            break;
        memcpy(out + n, p, l);
        n += l;
    }
    return n;
}
