/*
 * test_viewer - the viewer page writer: exact sizes, 7bit-safe lines,
 * escaping of hostile template texts, refused templates, finding the
 * envelope again block by block (sizes around the block boundary, the
 * separators exactly, damaged and foreign pages), the CSP hash naming the
 * inline script actually present, streaming in any piece sizes and output
 * failures passed through.
 *
 * With MAILSEAL_VIEWER_SAMPLE=OUT.html and MAILSEAL_VIEWER_ENVELOPE=ENV.bin
 * set, it also writes the page of that envelope (default template, or the
 * branded one with MAILSEAL_VIEWER_BRANDED=1) for trying it in a browser;
 * with only MAILSEAL_VIEWER_SAMPLE set, the page of the envelope the C
 * writer made in test_real_envelope_page, and its random passphrase in
 * OUT.pass (tests/viewer/page.test.mjs opens it with the JavaScript).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "crypto/envelope.h"
#include "crypto/viewer.h"
#include "message/codec.h"
#include "util/buf.h"

static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\x08\x06\0\0\0";
static const unsigned char gif[] = "GIF89a\1\0\1\0\0\0\0;";

#define BLOCK_BYTES ((size_t)VIEWER_BLOCK_LINES * 57)     /* envelope bytes in one full block */
#define BLOCK_SEP "</script>\r\n" VIEWER_ENVELOPE_MORE "\r\n"

/* collect - viewer_out_fn appending to a buf */
static int collect(void *arg, const void *data, size_t len)
{
    return buf_add(arg, data, len);
}

/* failing - viewer_out_fn that fails with ENOSPC after *arg calls */
static int failing(void *arg, const void *data, size_t len)
{
    int *left = arg;

    (void)data;
    (void)len;
    if ((*left)-- <= 0) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}

/* envelope_bytes - len deterministic pseudo-random bytes (caller frees) */
static unsigned char *envelope_bytes(size_t len)
{
    unsigned char *e = malloc(len + 1);
    uint32_t x = 12345;

    assert_non_null(e);
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        e[i] = (unsigned char)(x >> 16);
    }
    return e;
}

/* render - the page for template t around env[0..len), written in pieces of step bytes */
static void render(const struct viewer_template *t, const unsigned char *env, size_t len, size_t step,
                   struct buf *page)
{
    struct viewer_writer *vw;

    buf_init(page, 64u * 1024 * 1024);
    vw = viewer_writer_new(t, collect, page);
    assert_non_null(vw);
    assert_int_equal(viewer_writer_begin(vw), 0);
    for (size_t off = 0; off < len; off += step)
        assert_int_equal(viewer_writer_data(vw, env + off, len - off < step ? len - off : step), 0);
    assert_int_equal(viewer_writer_finish(vw), 0);
    viewer_writer_free(vw);
}

/* assert_7bit_lines - ASCII, CRLF line ends only, lines of at most 998 bytes */
static void assert_7bit_lines(const struct buf *page)
{
    size_t col = 0;

    assert_true(page->len > 2);
    assert_memory_equal(page->data + page->len - 2, "\r\n", 2);
    for (size_t i = 0; i < page->len; i++) {
        unsigned char c = (unsigned char)page->data[i];

        assert_true(c < 0x80 && c != 0);
        if (c == '\r') {
            assert_true(i + 1 < page->len && page->data[i + 1] == '\n');
            assert_true(col <= 998);
            col = 0;
            i++;
        } else {
            assert_true(c != '\n');
            col++;
        }
    }
}

static const struct viewer_template branded = {
    .org_name = "M\xc3\xbcller & S\xc3\xb6hne \"AG\"",
    .title = "Verschl\xc3\xbcsselte Nachricht",
    .intro = "Bitte geben Sie Ihr Passwort ein.\nDanke.",
    .help = "Speichern Sie die Datei und \xc3\xb6" "ffnen Sie sie im Browser.",
    .lang = "de-CH",
    .color_primary = "#FFCC00",
    .color_background = "#102030",
    .logo = png,
    .logo_len = sizeof(png) - 1,
    .logo_type = "image/png",
};

static void test_size_exact(void **state)
{
    static const size_t lens[] = { 0, 1, 2, 3, 56, 57, 58, 114, 1000, 1024 * 1024,
                                   BLOCK_BYTES - 1, BLOCK_BYTES, BLOCK_BYTES + 1, BLOCK_BYTES + 57,
                                   3 * BLOCK_BYTES, 3 * BLOCK_BYTES + 1 };
    const struct viewer_template *ts[] = { NULL, &branded };
    unsigned char *env = envelope_bytes(3 * BLOCK_BYTES + 1);

    (void)state;
    for (size_t ti = 0; ti < 2; ti++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            struct buf page;

            render(ts[ti], env, lens[i], lens[i] > 1000 ? 65551 : 7, &page);
            assert_int_equal(viewer_size(ts[ti], lens[i]), page.len);
            assert_7bit_lines(&page);
            buf_free(&page);
        }
    }
    free(env);
}

static void test_streaming_pieces_give_same_page(void **state)
{
    unsigned char *env = envelope_bytes(5000);
    struct buf whole, bytes;

    (void)state;
    render(&branded, env, 5000, 5000, &whole);
    render(&branded, env, 5000, 1, &bytes);
    assert_int_equal(whole.len, bytes.len);
    assert_memory_equal(whole.data, bytes.data, whole.len);
    buf_free(&whole);
    buf_free(&bytes);
    free(env);
}

/* envelope_text - the envelope's base64 text of a writer's page, read with
 * viewer_envelope_block() into text, checking the layout on the way: the
 * first block follows VIEWER_ENVELOPE_START, each further one the exact
 * separator; every line has 76 characters and CRLF but the envelope's last;
 * a block that is not the last has VIEWER_BLOCK_LINES lines, the last one
 * at least one (none only for an empty envelope); the number of blocks */
static size_t envelope_text(const struct buf *page, struct buf *text)
{
    size_t pos = 0, s = 0, e = 0, prev_end = 0, nblocks = 0, nlines = 0;
    int rc;

    buf_init(text, 64u * 1024 * 1024);
    while ((rc = viewer_envelope_block(page->data, page->len, &pos, &s, &e)) == 1) {
        if (nblocks == 0) {
            assert_true(s >= strlen(VIEWER_ENVELOPE_START));
            assert_memory_equal(page->data + s - strlen(VIEWER_ENVELOPE_START), VIEWER_ENVELOPE_START,
                                strlen(VIEWER_ENVELOPE_START));
        } else {
            /* the block before was full, this one follows its end tag exactly (the
             * separator's last CRLF begins the text, as after the first start tag) */
            assert_int_equal(nlines, VIEWER_BLOCK_LINES);
            assert_int_equal(s, prev_end + strlen(BLOCK_SEP) - 2);
            assert_memory_equal(page->data + prev_end, BLOCK_SEP, strlen(BLOCK_SEP));
        }
        assert_memory_equal(page->data + e, "</script>", 9);
        assert_int_equal(pos, e + 9);
        assert_memory_equal(page->data + s, "\r\n", 2);
        nlines = 0;
        for (size_t p = s + 2, n = 0; p < e; p += n + 2, nlines++) {
            n = (size_t)((char *)memchr(page->data + p, '\r', e - p) - (page->data + p));
            assert_memory_equal(page->data + p + n, "\r\n", 2);
            assert_true(n == 76 || (p + n + 2 == e && n > 0 && n < 76));
            if (n < 76)             /* a short line ends the envelope: no block follows */
                assert_int_equal(viewer_envelope_block(page->data, page->len, &(size_t){ pos }, NULL, NULL), 0);
        }
        assert_true(nlines <= VIEWER_BLOCK_LINES);
        assert_true(nlines > 0 || nblocks == 0);
        assert_int_equal(buf_add(text, page->data + s, e - s), 0);
        prev_end = e;
        nblocks++;
    }
    assert_int_equal(rc, 0);
    /* the page goes on as the template says */
    assert_memory_equal(page->data + prev_end, "</script>\r\n</div>\r\n", 19);
    return nblocks;
}

static void test_envelope_blocks_roundtrip(void **state)
{
    static const struct { size_t len, blocks; } cases[] = {
        { 0, 1 }, { 1, 1 }, { 56, 1 }, { 57, 1 }, { 58, 1 }, { 4000, 1 },
        { BLOCK_BYTES - 1, 1 }, { BLOCK_BYTES, 1 }, { BLOCK_BYTES + 1, 2 }, { BLOCK_BYTES + 57, 2 },
        { BLOCK_BYTES + 58, 2 }, { 2 * BLOCK_BYTES + 1000, 3 }, { 3 * BLOCK_BYTES, 3 },
        { 3 * BLOCK_BYTES + 1, 4 },
    };
    unsigned char *env = envelope_bytes(3 * BLOCK_BYTES + 1);

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf page, text, dec;

        render(NULL, env, cases[i].len, cases[i].len > 4000 ? 65551 : 100, &page);
        assert_int_equal(viewer_size(NULL, cases[i].len), page.len);
        assert_7bit_lines(&page);
        assert_int_equal(envelope_text(&page, &text), cases[i].blocks);
        buf_init(&dec, 64u * 1024 * 1024);
        assert_int_equal(b64_decode_buf(text.data, text.len, &dec), 0);
        assert_int_equal(dec.len, cases[i].len);
        assert_memory_equal(dec.data, env, cases[i].len);
        buf_free(&dec);
        buf_free(&text);
        buf_free(&page);
    }
    free(env);
}

static void test_envelope_blocks_found_as_the_spec_says(void **state)
{
#define START VIEWER_ENVELOPE_START
#define MORE VIEWER_ENVELOPE_MORE
    static const struct {
        const char *page;
        int last;               /* what the call after the texts returns */
        const char *texts[3];   /* the blocks' texts */
    } cases[] = {
        /* no first block: -1 at once */
        { "", -1, { NULL } },
        { "<html><script>x</script></html>", -1, { NULL } },
        { MORE "AAAA</script>", -1, { NULL } },
        { "<script type=\"application/x-mailseal-envelope\" id=\"mailseal-envelope\" >AAAA</script>", -1, { NULL } },
        /* a block without its end tag */
        { START "AAAA", -1, { NULL } },
        { START "AAAA</scrip>", -1, { NULL } },
        { START "QUJD</script>\r\n" MORE "AAAA", -1, { "QUJD" } },
        { START "QUJD</script>" MORE "AAAA</script", -1, { "QUJD" } },
        /* the first start tag counts, end tags in any case, white space between blocks */
        { "x" START "QUJD\r\n</SCRIPT>" START "WFla</script>", 0, { "QUJD\r\n" } },
        { START "QUJD</ScRiPt> \t\r\n\n" MORE "RUZH</script>" MORE "\r\nSUo=</script>\r\n</div>",
          0, { "QUJD", "RUZH", "\r\nSUo=" } },
        { START "</script>" MORE "</script>", 0, { "", "" } },
        /* anything else after an end tag ends the envelope: a partial tag, another
         * element, other white space, the continuation tag in another case */
        { START "QUJD</script></div>" MORE "RUZH</script>", 0, { "QUJD" } },
        { START "QUJD</script><script\r\n" MORE "RUZH</script>", 0, { "QUJD" } },
        { START "QUJD</script>\r\n<script type=\"application/x-mailseal-envelope\" id=\"x\">RUZH</script>",
          0, { "QUJD" } },
        { START "QUJD</script>\f" MORE "RUZH</script>", 0, { "QUJD" } },
        { START "QUJD</script>\r\n<SCRIPT type=\"application/x-mailseal-envelope\">RUZH</script>",
          0, { "QUJD" } },
        { START "QUJD</script>x" MORE "RUZH</script>", 0, { "QUJD" } },
        { START "QUJD</script>", 0, { "QUJD" } },
        { START "QUJD</script>\r\n<script type=\"application/x-mailseal-envelope\"", 0, { "QUJD" } },
    };
#undef START
#undef MORE

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *page = cases[i].page;
        size_t pos = 0, s = 0, e = 0, k = 0;
        int rc;

        while ((rc = viewer_envelope_block(page, strlen(page), &pos, &s, &e)) == 1) {
            assert_true(k < 3 && cases[i].texts[k] != NULL);
            assert_int_equal(e - s, strlen(cases[i].texts[k]));
            assert_memory_equal(page + s, cases[i].texts[k], e - s);
            k++;
        }
        assert_true(k == 3 || cases[i].texts[k] == NULL);
        assert_int_equal(rc, cases[i].last);
        if (rc < 0)
            assert_int_equal(errno, EBADMSG);
    }
    /* bad arguments */
    size_t pos = 10, s, e;

    errno = 0;
    assert_int_equal(viewer_envelope_block("abc", 3, &pos, &s, &e), -1);
    assert_int_equal(errno, EINVAL);
    pos = 0;
    assert_int_equal(viewer_envelope_block(NULL, 0, &pos, &s, &e), -1);
    assert_int_equal(viewer_envelope_block("abc", 3, NULL, &s, &e), -1);
}

static void test_csp_hash_names_the_inline_script(void **state)
{
    struct buf page, lf;
    unsigned char md[32];
    char want[45], have[45];
    const char *csp, *open, *close, *p;

    (void)state;
    render(&branded, (const unsigned char *)"abc", 3, 3, &page);
    csp = strstr(page.data, "script-src 'sha256-");
    assert_non_null(csp);
    memcpy(have, csp + 19, 44);
    have[44] = '\0';
    assert_int_equal(csp[19 + 44], '\'');
    /* the inline script: the last <script> without attributes */
    open = NULL;
    for (p = page.data; (p = strstr(p, "<script>")) != NULL; p++)
        open = p;
    assert_non_null(open);
    open += 8;
    close = strstr(open, "</script>");
    assert_non_null(close);
    assert_null(strstr(close + 1, "<script"));
    /* the browser hashes the text after CRLF -> LF */
    buf_init(&lf, 1 << 24);
    for (p = open; p < close; p++)
        if (!(*p == '\r' && p[1] == '\n'))
            assert_int_equal(buf_addc(&lf, *p), 0);
    assert_true(lf.len > 20000);
    EVP_Digest(lf.data, lf.len, md, NULL, EVP_sha256(), NULL);
    EVP_EncodeBlock((unsigned char *)want, md, 32);
    assert_string_equal(have, want);
    assert_int_equal(viewer_script_hash(have), 0);
    assert_string_equal(have, want);
    /* exactly one CSP, with default-src 'none' */
    assert_non_null(strstr(page.data, "content=\"default-src 'none'; script-src 'sha256-"));
    buf_free(&lf);
    buf_free(&page);
}

static void test_hostile_texts_escaped(void **state)
{
    char long_cjk[VIEWER_MAX_LONG_TEXT + 1], long_word[VIEWER_MAX_LONG_TEXT + 1];
    struct viewer_template t = {
        .org_name = "\"><img src=x onerror=alert(1)>",
        .title = "</title><script>alert(1)</script>",
        .intro = "Tom & Jerry's <b>\"quote\"</b>",
        .help = long_cjk,
        .lang = "en",
    };
    struct buf page;

    (void)state;
    for (size_t i = 0; i + 3 <= VIEWER_MAX_LONG_TEXT; i += 3)
        memcpy(long_cjk + i, "\xe6\x97\xa5", 3);
    long_cjk[VIEWER_MAX_LONG_TEXT / 3 * 3] = '\0';
    render(&t, (const unsigned char *)"x", 1, 1, &page);
    assert_7bit_lines(&page);
    assert_null(strstr(page.data, "<script>alert"));
    assert_null(strstr(page.data, "<img src=x"));
    assert_null(strstr(page.data, "<b>"));
    assert_non_null(strstr(page.data, "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
    assert_non_null(strstr(page.data, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(page.data, "Tom &amp; Jerry&#39;s &lt;b&gt;&quot;quote&quot;&lt;/b&gt;"));
    assert_non_null(strstr(page.data, "&#x65E5;&#x65E5;"));
    /* a text without spaces is broken with an empty comment, never mid-reference */
    assert_non_null(strstr(page.data, ";<!--\r\n-->&#x65E5;"));
    assert_int_equal(viewer_size(&t, 1), page.len);
    buf_free(&page);

    /* long words in the title are broken with plain white space */
    memset(long_word, 'w', VIEWER_MAX_SHORT_TEXT);
    long_word[VIEWER_MAX_SHORT_TEXT] = '\0';
    t.title = long_word;
    t.help = "line one\nline two";
    render(&t, (const unsigned char *)"x", 1, 1, &page);
    assert_7bit_lines(&page);
    assert_non_null(strstr(page.data, "line one<br>\r\nline two"));
    assert_non_null(strstr(page.data, "lang=\"en\""));
    buf_free(&page);

    /* branding: UTF-8 as references, colours and the computed text colours, the logo */
    render(&branded, (const unsigned char *)"x", 1, 1, &page);
    assert_non_null(strstr(page.data, "M&#xFC;ller &amp; S&#xF6;hne &quot;AG&quot;"));
    assert_non_null(strstr(page.data, "lang=\"de-CH\""));
    assert_non_null(strstr(page.data, "--brand: #FFCC00; --on-brand: #111111; --bg: #102030; --on-bg: #ffffff;"));
    assert_non_null(strstr(page.data, "<img id=\"logo\" alt=\"\" src=\"data:image/png;base64,\r\niVBORw0KGgo"));
    assert_non_null(strstr(page.data, "Bitte geben Sie Ihr Passwort ein.<br>\r\nDanke."));
    buf_free(&page);
}

static void test_invalid_templates_refused(void **state)
{
    static const struct { struct viewer_template t; const char *why; } cases[] = {
        { { .color_primary = "red" }, "color_primary" },
        { { .color_primary = "#12345" }, "color_primary" },
        { { .color_primary = "#1234567" }, "color_primary" },
        { { .color_background = "#12345g" }, "color_background" },
        { { .color_background = "#fff" }, "color_background" },
        { { .color_background = "#ffffff;x" }, "color_background" },
        { { .logo = png, .logo_len = sizeof(png) - 1, .logo_type = "image/svg+xml" }, "logo type" },
        { { .logo = png, .logo_len = sizeof(png) - 1, .logo_type = "image/gif" }, "logo is image/png" },
        { { .logo = (const unsigned char *)"<svg>", .logo_len = 5 }, "not a PNG" },
        { { .logo = NULL, .logo_len = 10 }, "no data" },
        { { .logo = gif, .logo_len = VIEWER_MAX_LOGO + 1 }, "larger" },
        { { .lang = "en us" }, "lang" },
        { { .lang = "\"><script>" }, "lang" },
        { { .lang = "" }, "lang" },
        { { .lang = "en--us" }, "lang" },
        { { .title = "two\nlines" }, "title holds a control" },
        { { .org_name = "bad \xc3" }, "org_name is not valid UTF-8" },
        { { .intro = "over\xc0\xaflong" }, "intro is not valid UTF-8" },
        { { .help = "bell\a" }, "help holds a control" },
    };
    char err[200];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int zero = 0;

        err[0] = '\0';
        errno = 0;
        assert_int_equal(viewer_template_check(&cases[i].t, err, sizeof(err)), -1);
        assert_int_equal(errno, EINVAL);
        assert_non_null(strstr(err, cases[i].why));
        assert_null(viewer_writer_new(&cases[i].t, failing, &zero));
        assert_int_equal(viewer_size(&cases[i].t, 100), 0);
    }
    char big[VIEWER_MAX_SHORT_TEXT + 2];
    struct viewer_template t = { .title = big };

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(viewer_template_check(&t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "title is too long"));

    /* good ones pass, a logo's type may come from its bytes */
    static const struct viewer_template good[] = {
        { 0 },
        { .color_primary = "#a0B1c2", .color_background = "#000000", .lang = "zh-Hant-TW" },
        { .logo = gif, .logo_len = sizeof(gif) - 1 },
        { .logo = (const unsigned char *)"\xff\xd8\xff\xe0", .logo_len = 4, .logo_type = "image/jpeg" },
        { .intro = "tab\tand\r\nCRLF", .org_name = "\xe6\x97\xa5\xe6\x9c\xac" },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(viewer_template_check(&good[i], err, sizeof(err)), 0);
    assert_int_equal(viewer_template_check(NULL, err, sizeof(err)), 0);

    struct buf page;

    render(&good[2], (const unsigned char *)"x", 1, 1, &page);
    assert_non_null(strstr(page.data, "src=\"data:image/gif;base64,\r\nR0lGODlh"));
    buf_free(&page);
}

static void test_output_failures_and_misuse(void **state)
{
    unsigned char env[1000];
    struct viewer_writer *vw;
    int left;

    (void)state;
    memset(env, 7, sizeof(env));
    /* the first output call fails: begin reports the output's errno */
    left = 0;
    vw = viewer_writer_new(NULL, failing, &left);
    assert_non_null(vw);
    errno = 0;
    assert_int_equal(viewer_writer_begin(vw), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(viewer_writer_data(vw, env, 10), -1);
    assert_int_equal(errno, EINVAL);
    viewer_writer_free(vw);

    /* a failure while writing the lines of a large envelope */
    left = 2;
    vw = viewer_writer_new(NULL, failing, &left);
    assert_int_equal(viewer_writer_begin(vw), 0);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = viewer_writer_data(vw, env, sizeof(env));
    assert_int_equal(rc, -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(viewer_writer_finish(vw), -1);
    viewer_writer_free(vw);

    /* order: data before begin, begin twice, finish twice */
    left = 1000;
    vw = viewer_writer_new(NULL, failing, &left);
    assert_int_equal(viewer_writer_data(vw, env, 1), -1);
    assert_int_equal(viewer_writer_finish(vw), -1);
    assert_int_equal(viewer_writer_begin(vw), 0);
    assert_int_equal(viewer_writer_begin(vw), -1);
    assert_int_equal(viewer_writer_finish(vw), 0);
    assert_int_equal(viewer_writer_finish(vw), -1);
    viewer_writer_free(vw);
    viewer_writer_free(NULL);
    assert_null(viewer_writer_new(NULL, NULL, NULL));
}

/* write_file - data into path */
static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_real_envelope_page(void **state)
{
    static const char plain[] = "Subject: =?utf-8?q?from_the_C_writer_=E2=9C=93?=\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n\r\nhello from C\r\n";
    const char *out = getenv("MAILSEAL_VIEWER_SAMPLE");
    char shown[ENV_RANDOM_PASS_SHOWN + 1];
    struct env_writer *w = env_writer_new(1024);
    struct viewer_writer *vw;
    struct buf page, dec;
    struct buf text;
    uint64_t env_len;

    (void)state;
    assert_non_null(w);
    assert_int_equal(env_writer_add_random(w, shown), 0);
    env_len = env_writer_size(w, sizeof(plain) - 1);
    buf_init(&page, 1 << 20);
    vw = viewer_writer_new(NULL, collect, &page);
    assert_non_null(vw);
    assert_int_equal(viewer_writer_begin(vw), 0);
    /* the viewer writer is the envelope writer's output */
    assert_int_equal(env_writer_begin(w, viewer_writer_data, vw), 0);
    assert_int_equal(env_writer_update(w, plain, sizeof(plain) - 1), 0);
    assert_int_equal(env_writer_finish(w), 0);
    assert_int_equal(viewer_writer_finish(vw), 0);
    assert_int_equal(page.len, viewer_size(NULL, env_len));
    assert_7bit_lines(&page);
    assert_int_equal(envelope_text(&page, &text), 1);
    buf_init(&dec, 1 << 20);
    assert_int_equal(b64_decode_buf(text.data, text.len, &dec), 0);
    buf_free(&text);
    assert_int_equal(dec.len, env_len);
    assert_memory_equal(dec.data, "MSEALENV", 8);
    if (out != NULL && getenv("MAILSEAL_VIEWER_ENVELOPE") == NULL) {
        struct buf passpath = BUF_INIT(4096);

        assert_int_equal(buf_printf(&passpath, "%s.pass", out), 0);
        write_file(out, page.data, page.len);
        write_file(buf_str(&passpath), shown, strlen(shown));
        buf_free(&passpath);
    }
    buf_free(&dec);
    buf_free(&page);
    viewer_writer_free(vw);
    env_writer_free(w);
}

static void test_write_sample_page(void **state)
{
    const char *out = getenv("MAILSEAL_VIEWER_SAMPLE"), *in = getenv("MAILSEAL_VIEWER_ENVELOPE");
    struct buf page;
    FILE *f;
    long n;
    unsigned char *env;

    (void)state;
    if (out == NULL || in == NULL)
        skip();
    f = fopen(in, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    env = malloc((size_t)n + 1);
    assert_non_null(env);
    assert_int_equal(fread(env, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    render(getenv("MAILSEAL_VIEWER_BRANDED") != NULL ? &branded : NULL, env, (size_t)n, 65552, &page);
    f = fopen(out, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(page.data, 1, page.len, f), page.len);
    assert_int_equal(fclose(f), 0);
    buf_free(&page);
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_exact),
        cmocka_unit_test(test_streaming_pieces_give_same_page),
        cmocka_unit_test(test_envelope_blocks_roundtrip),
        cmocka_unit_test(test_envelope_blocks_found_as_the_spec_says),
        cmocka_unit_test(test_csp_hash_names_the_inline_script),
        cmocka_unit_test(test_hostile_texts_escaped),
        cmocka_unit_test(test_invalid_templates_refused),
        cmocka_unit_test(test_output_failures_and_misuse),
        cmocka_unit_test(test_real_envelope_page),
        cmocka_unit_test(test_write_sample_page),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
