/*
 * fuzz_header - libFuzzer harness for the header value decoders: RFC 2047
 * encoded words (message/rfc2047.h) and the MIME parameter parser with
 * RFC 2231 sections and charsets (message/mime_header.h: parameters,
 * Content-Type, Content-Disposition, Content-Transfer-Encoding, unfolding,
 * header blocks).
 *
 * Every decoder runs on the whole input, held in an allocation of exactly
 * its size (no NUL after it), so a read past the value is caught.  Checked
 * invariants: rfc2047_decode() output is UTF-8 free of CR, LF and NUL;
 * rfc2047_encode() of that output can never start a new header (every LF
 * is followed by a space, no CR or NUL) and decodes back to the same text
 * when the text has no control characters and no white space at its ends;
 * parsed parameters have lowercase names and stay within the caps of
 * mime_header.h; a boundary has 1..MIME_BOUNDARY_MAX bytes.  Interface:
 * LLVMFuzzerTestOneInput() (fuzz.h); a broken invariant aborts; ENOMEM
 * skips the rest of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "message/charset.h"
#include "message/mime_header.h"
#include "message/rfc2047.h"
#include "util/buf.h"

#define FUZZ_OUT_MAX (1u << 20)       /* cap of every output buffer */

/* check_params - names lowercase and non-empty, counts within the caps */
static void check_params(const struct mime_params *ps)
{
    if (ps->n > MIME_PARAMS_MAX)
        fuzz_fail("more parameters than MIME_PARAMS_MAX");
    for (size_t i = 0; i < ps->n; i++) {
        const char *n = ps->v[i].name;

        if (n == NULL || ps->v[i].value == NULL)
            fuzz_fail("parameter without name or value");
        if (strlen(ps->v[i].value) > MIME_PARAM_VALUE_MAX * 4)
            fuzz_fail("parameter value far beyond MIME_PARAM_VALUE_MAX");
        for (; *n != '\0'; n++)
            if (*n >= 'A' && *n <= 'Z')
                fuzz_fail("parameter name not lowercase");
    }
}

/* plain_text - no control characters and no white space at either end */
static int plain_text(const char *s, size_t len)
{
    if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* check_2047 - decode, then encode the result and decode that again */
static void check_2047(const char *v, size_t len)
{
    struct buf dec = BUF_INIT(FUZZ_OUT_MAX), enc = BUF_INIT(FUZZ_OUT_MAX), again = BUF_INIT(FUZZ_OUT_MAX);

    if (rfc2047_decode(v, len, &dec) < 0)
        return;
    if (dec.len > 0 && (memchr(dec.data, '\0', dec.len) != NULL || memchr(dec.data, '\r', dec.len) != NULL
                        || memchr(dec.data, '\n', dec.len) != NULL))
        fuzz_fail("rfc2047_decode output holds NUL, CR or LF");
    if (!utf8_valid(buf_str(&dec), dec.len))
        fuzz_fail("rfc2047_decode output is not UTF-8");
    if (rfc2047_encode("Subject", buf_str(&dec), &enc) == 0) {
        const char *e = buf_str(&enc);

        for (size_t i = 0; i < enc.len; i++)
            if (e[i] == '\0' || e[i] == '\r' || (e[i] == '\n' && (i + 1 == enc.len || e[i + 1] != ' ')))
                fuzz_fail("rfc2047_encode output could start a new header");
        if (plain_text(buf_str(&dec), dec.len) && rfc2047_decode(e, enc.len, &again) == 0
            && (again.len != dec.len || memcmp(buf_str(&again), buf_str(&dec), dec.len) != 0))
            fuzz_fail("rfc2047_encode does not decode back to its input");
    }
    buf_free(&dec);
    buf_free(&enc);
    buf_free(&again);
}

/* check_mime - the structured value parsers and the header block parser */
static void check_mime(const char *v, size_t len)
{
    struct mime_params ps;
    struct mime_ctype ct;
    struct mime_disp d;
    struct mime_hdrs h;
    struct buf un = BUF_INIT(FUZZ_OUT_MAX);
    char cte[MIME_CTE_NAME_MAX];
    size_t body = 0;

    memset(&ps, 0, sizeof(ps));
    if (mime_params_parse(v, len, &ps) == 0) {
        check_params(&ps);
        (void)mime_params_get(&ps, "filename");
    }
    mime_params_free(&ps);

    memset(&ct, 0, sizeof(ct));
    if (mime_ctype_parse(v, len, len % 2, &ct) == 0) {
        if (ct.type == NULL || strchr(ct.type, '/') == NULL)
            fuzz_fail("content type without a slash");
        if (ct.boundary != NULL && (ct.boundary[0] == '\0' || strlen(ct.boundary) > MIME_BOUNDARY_MAX))
            fuzz_fail("boundary out of range");
        check_params(&ct.params);
    }
    mime_ctype_free(&ct);

    memset(&d, 0, sizeof(d));
    if (mime_disp_parse(v, len, &d) == 0)
        check_params(&d.params);
    mime_disp_free(&d);

    (void)mime_cte_parse(v, len, cte);
    if (memchr(cte, '\0', sizeof(cte)) == NULL)
        fuzz_fail("encoding name not terminated");

    if (mime_unfold(v, len, &un) == 0 && un.len > 0
        && (memchr(un.data, '\r', un.len) != NULL || memchr(un.data, '\n', un.len) != NULL))
        fuzz_fail("mime_unfold left a line break");
    buf_free(&un);

    mime_hdrs_init(&h, 20, 1024, 1);
    if (mime_hdrs_parse(v, len, &h, &body) == 0) {
        if (body > len || h.n > 20)
            fuzz_fail("header block result out of range");
        (void)mime_hdrs_find(&h, "content-type", 0);
    }
    mime_hdrs_free(&h);
}

/* LLVMFuzzerTestOneInput - one header value through every decoder */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size ? size : 1);

    if (v == NULL)
        return 0;
    memcpy(v, data, size);
    check_2047(v, size);
    check_mime(v, size);
    free(v);
    return 0;
}
