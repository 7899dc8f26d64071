/*
 * test_notify - the passphrase notification: what notify_compose() writes
 * (header fields, Date in several time zones, the RFC 2047 subject decoded
 * back with the project's decoder, the quoted-printable body decoded back,
 * header injection through the subject and the recipients, caps, bad
 * arguments), and notify_send() against a real SMTP server (the project's
 * Python sink, tests/e2e/sink.py, started here and stopped by its PID:
 * stored bytes and envelope compared exactly) and against a scripted
 * in-test server thread for the faults a real server does not produce
 * (4xx/5xx at each step, EHLO refused, silence, a close mid-dialogue,
 * multi-line, malformed and 2 MB replies, dot-stuffing on the wire).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "message/codec.h"
#include "message/rfc2047.h"
#include "milter/notify.h"
#include "util/buf.h"

#define PASS "7KQ2-M9XD-0123-4567-89AB-CD"
#define WHEN ((time_t)1700000000)           /* 2023-11-14 22:13:20 UTC */

/* ---- helpers: reading a composed message ---- */

struct parsed {
    char names[32][64];        /* header field names, in order */
    char values[32][4096];     /* raw values (folding kept) */
    size_t n;
    struct buf body;           /* quoted-printable decoded */
    const char *raw_body;      /* points into the message */
};

/* parse_msg - split msg into header fields and the decoded body */
static void parse_msg(const char *msg, struct parsed *p)
{
    const char *end = strstr(msg, "\r\n\r\n"), *s = msg;
    struct qp_dec d;
    unsigned char *tmp;
    size_t blen, k;

    memset(p, 0, sizeof(*p));
    assert_non_null(end);
    while (s < end + 2) {
        const char *colon = strchr(s, ':'), *eol = s;

        assert_non_null(colon);
        assert_true(*s != ' ' && *s != '\t');
        /* the field ends at a CRLF not followed by white space */
        for (;;) {
            eol = strstr(eol, "\r\n");
            assert_non_null(eol);
            if (eol[2] != ' ' && eol[2] != '\t')
                break;
            eol += 2;
        }
        assert_true(p->n < 32);
        assert_true((size_t)(colon - s) < sizeof(p->names[0]));
        memcpy(p->names[p->n], s, (size_t)(colon - s));
        assert_true((size_t)(eol - colon) < sizeof(p->values[0]));
        memcpy(p->values[p->n], colon + 1, (size_t)(eol - colon - 1));
        p->n++;
        s = eol + 2;
    }
    p->raw_body = end + 4;
    blen = strlen(p->raw_body);
    tmp = malloc(CODEC_DEC_MAX(blen) + 3);
    assert_non_null(tmp);
    qp_dec_init(&d);
    k = qp_dec_update(&d, p->raw_body, blen, tmp);
    k += qp_dec_final(&d, tmp + k);
    assert_int_equal(d.bad, 0);
    buf_init(&p->body, 1 << 20);
    assert_int_equal(buf_add(&p->body, tmp, k), 0);
    free(tmp);
}

/* header - the one raw value of header name (fails when not exactly one) */
static const char *header(const struct parsed *p, const char *name)
{
    const char *v = NULL;

    for (size_t i = 0; i < p->n; i++)
        if (strcasecmp(p->names[i], name) == 0) {
            assert_null(v);
            v = p->values[i];
        }
    assert_non_null(v);
    return v;
}

/* decoded_subject - the Subject decoded with the project's RFC 2047 decoder */
static void decoded_subject(const struct parsed *p, struct buf *out)
{
    const char *v = header(p, "Subject");

    buf_init(out, 1 << 16);
    assert_int_equal(rfc2047_decode(v, strlen(v), out), 0);
}

/* check_wire_form - CRLF lines only, printable 7-bit, at most 78 characters */
static void check_wire_form(const struct buf *m)
{
    size_t col = 0;

    assert_true(m->len >= 2);
    assert_memory_equal(m->data + m->len - 2, "\r\n", 2);
    for (size_t i = 0; i < m->len; i++) {
        unsigned char c = (unsigned char)m->data[i];

        if (c == '\r') {
            assert_true(i + 1 < m->len && m->data[i + 1] == '\n');
            i++;
            col = 0;
            continue;
        }
        assert_true(c != '\n');
        assert_true(c == '\t' || (c >= 0x20 && c < 0x7F));
        col++;
        assert_true(col <= 78);
    }
}

/* compose - notify_compose_at with fixed values; asserts success */
static void compose(struct buf *out, const char *subject, const char *const *rcpts, size_t n)
{
    buf_init(out, 1 << 20);
    assert_int_equal(notify_compose_at(out, "gateway@example.org", "sender@example.com", subject,
                                       rcpts, n, PASS, "mail.example.org", WHEN), 0);
    check_wire_form(out);
}

/* ---- compose ---- */

static void test_compose_headers(void **state)
{
    static const char *const names[] = { "From", "To", "Subject", "Date", "Message-ID",
                                         "MIME-Version", "Content-Type",
                                         "Content-Transfer-Encoding", "Auto-Submitted" };
    static const char *const rcpts[] = { "ann@example.net", "bob@example.net" };
    struct buf m, m2;
    struct parsed p, p2;
    const char *id;

    (void)state;
    setenv("TZ", "UTC0", 1);
    tzset();
    compose(&m, "Quarterly report", rcpts, 2);
    parse_msg(m.data, &p);
    assert_int_equal(p.n, sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < p.n; i++)
        assert_string_equal(p.names[i], names[i]);
    assert_string_equal(header(&p, "From"), " \"Mail encryption gateway\" <gateway@example.org>");
    assert_string_equal(header(&p, "To"), " <sender@example.com>");
    assert_string_equal(header(&p, "Subject"),
                        " Passphrase for your encrypted message: Quarterly report");
    assert_string_equal(header(&p, "Date"), " Tue, 14 Nov 2023 22:13:20 +0000");
    assert_string_equal(header(&p, "MIME-Version"), " 1.0");
    assert_string_equal(header(&p, "Content-Type"), " text/plain; charset=utf-8");
    assert_string_equal(header(&p, "Content-Transfer-Encoding"), " quoted-printable");
    assert_string_equal(header(&p, "Auto-Submitted"), " auto-generated");
    id = header(&p, "Message-ID");
    assert_int_equal(strlen(id), 1 + 1 + 32 + 1 + strlen("mail.example.org") + 1);
    assert_memory_equal(id, " <", 2);
    for (size_t i = 2; i < 34; i++)
        assert_non_null(strchr("0123456789abcdef", id[i]));
    assert_string_equal(id + 34, "@mail.example.org>");
    assert_string_equal(buf_str(&p.body),
        "Hello,\r\n"
        "\r\n"
        "your message with the subject\r\n"
        "\r\n"
        "    \"Quarterly report\"\r\n"
        "\r\n"
        "sent on Tue, 14 Nov 2023 22:13:20 +0000 to\r\n"
        "\r\n"
        "    ann@example.net\r\n"
        "    bob@example.net\r\n"
        "\r\n"
        "was encrypted. Its recipients need this passphrase to open it:\r\n"
        "\r\n"
        PASS "\r\n"
        "\r\n"
        "Please give it to them by phone or through another channel,\r\n"
        "not by e-mail.\r\n"
        "\r\n"
        "The passphrase opens only this one message.\r\n"
        "\r\n"
        "-- \r\n"
        "Mail encryption gateway\r\n");

    /* a second message gets another Message-ID */
    compose(&m2, "Quarterly report", rcpts, 2);
    parse_msg(m2.data, &p2);
    assert_string_not_equal(header(&p2, "Message-ID"), id);
    buf_free(&m);
    buf_free(&m2);
    buf_free(&p.body);
    buf_free(&p2.body);
}

static void test_compose_date(void **state)
{
    static const struct {
        const char *tz;
        time_t when;
        const char *date;
    } cases[] = {
        { "UTC0", WHEN, " Tue, 14 Nov 2023 22:13:20 +0000" },
        { "CET-1CEST,M3.5.0,M10.5.0/3", WHEN, " Tue, 14 Nov 2023 23:13:20 +0100" },
        { "CET-1CEST,M3.5.0,M10.5.0/3", 1690000000, " Sat, 22 Jul 2023 06:26:40 +0200" },
        { "<-0330>3:30", WHEN, " Tue, 14 Nov 2023 18:43:20 -0330" },
        { "<+0545>-5:45", 946684800, " Sat, 01 Jan 2000 05:45:00 +0545" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf m = BUF_INIT(1 << 20), want = BUF_INIT(256);
        struct parsed p;

        setenv("TZ", cases[i].tz, 1);
        tzset();
        assert_int_equal(notify_compose_at(&m, "g@example.org", "s@example.com", "x", NULL, 0,
                                           PASS, "h.example", cases[i].when), 0);
        parse_msg(m.data, &p);
        assert_string_equal(header(&p, "Date"), cases[i].date);
        /* the same date in the body; no recipients: no list */
        assert_int_equal(buf_printf(&want, "sent on%s,\r\nwas encrypted.", cases[i].date), 0);
        assert_non_null(strstr(buf_str(&p.body), buf_str(&want)));
        buf_free(&m);
        buf_free(&want);
        buf_free(&p.body);
    }
    /* notify_compose uses the current time */
    {
        struct buf m = BUF_INIT(1 << 20);
        struct parsed p;
        char now[64];
        time_t t = time(NULL);
        struct tm tm;

        setenv("TZ", "UTC0", 1);
        tzset();
        assert_int_equal(notify_compose(&m, "g@example.org", "s@example.com", NULL, NULL, 0,
                                        PASS, NULL), 0);
        parse_msg(m.data, &p);
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), " %d ", &tm);     /* day of month: enough to see "now" */
        assert_non_null(strstr(header(&p, "Date"), now));
        assert_non_null(strstr(header(&p, "Message-ID"), "@localhost>"));
        buf_free(&m);
        buf_free(&p.body);
    }
}

static void test_compose_subject(void **state)
{
    char longsub[1001], longwant[512];
    const struct {
        const char *in;
        const char *want;       /* decoded Subject after the fixed text */
        const char *in_body;    /* the quoted subject line in the body; NULL: none */
    } cases[] = {
        { NULL, "", NULL },
        { "", "", NULL },
        { "   ", "", NULL },
        { "Quarterly report", ": Quarterly report", "\"Quarterly report\"" },
        { "Grüße aus Köln – Q3 ✓", ": Grüße aus Köln – Q3 ✓", "\"Grüße aus Köln – Q3 ✓\"" },
        { "Hi\r\nBcc: evil@example.org", ": Hi  Bcc: evil@example.org",
          "\"Hi  Bcc: evil@example.org\"" },
        { "x\nTo: a@b\r\n\r\nbody", ": x To: a@b    body", "\"x To: a@b    body\"" },
        { "Caf\xe9 cr\xe8me", ": Café crème", "\"Café crème\"" },
        { "a\xc2\x85" "b\tc\x7f" "d", ": a b c d", "\"a b c d\"" },
        { "=?UTF-8?B?SGk=?= literal", ": =?UTF-8?B?SGk=?= literal",
          "\"=?UTF-8?B?SGk=?= literal\"" },
        { "  padded  ", ": padded", "\"padded\"" },
        { longsub, longwant, NULL },
    };

    (void)state;
    setenv("TZ", "UTC0", 1);
    tzset();
    for (size_t i = 0; i < 1000; i++)
        longsub[i] = (char)('a' + i % 26);
    longsub[1000] = '\0';
    snprintf(longwant, sizeof(longwant), ": %.*s...", NOTIFY_SUBJECT_MAX, longsub);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf m, subj, want = BUF_INIT(4096);
        struct parsed p;

        compose(&m, cases[i].in, NULL, 0);
        parse_msg(m.data, &p);
        /* injection attempts make no header fields of their own */
        assert_int_equal(p.n, 9);
        decoded_subject(&p, &subj);
        assert_int_equal(buf_printf(&want, "Passphrase for your encrypted message%s",
                                    cases[i].want), 0);
        assert_string_equal(buf_str(&subj), buf_str(&want));
        if (cases[i].in_body != NULL) {
            buf_reset(&want);
            assert_int_equal(buf_printf(&want, "\r\n    %s\r\n", cases[i].in_body), 0);
            assert_non_null(strstr(buf_str(&p.body), buf_str(&want)));
        } else if (cases[i].in == longsub) {
            buf_reset(&want);
            assert_int_equal(buf_printf(&want, "\r\n    \"%s\"\r\n", longwant + 2), 0);
            assert_non_null(strstr(buf_str(&p.body), buf_str(&want)));
        } else {
            assert_non_null(strstr(buf_str(&p.body), "your message without a subject,\r\n"));
        }
        /* the body holds no line that could pass for a header */
        assert_null(strstr(buf_str(&p.body), "\nBcc:"));
        assert_null(strstr(buf_str(&p.body), "\nTo:"));
        buf_free(&m);
        buf_free(&subj);
        buf_free(&want);
        buf_free(&p.body);
    }
}

static void test_compose_rcpts(void **state)
{
    static const char *const evil[] = {
        "ann@example.net",
        "bob@example.net\r\nBcc: evil@example.org",
        "carol@example.net\n\nBody",
        NULL,
        "dave\x01@example.net",
    };
    const char *many[60];
    char names[60][32], longrcpt[301];
    struct buf m;
    struct parsed p;

    (void)state;
    setenv("TZ", "UTC0", 1);
    tzset();
    compose(&m, "s", evil, 5);
    parse_msg(m.data, &p);
    assert_int_equal(p.n, 9);
    for (size_t i = 0; i < p.n; i++)
        assert_string_not_equal(p.names[i], "Bcc");
    assert_non_null(strstr(buf_str(&p.body),
                           " to\r\n\r\n"
                           "    ann@example.net\r\n"
                           "    bob@example.net  Bcc: evil@example.org\r\n"
                           "    carol@example.net  Body\r\n"
                           "    \r\n"
                           "    dave @example.net\r\n"
                           "\r\nwas encrypted."));
    buf_free(&m);
    buf_free(&p.body);

    /* 60 recipients: 50 listed, the rest counted */
    for (size_t i = 0; i < 60; i++) {
        snprintf(names[i], sizeof(names[i]), "r%02zu@example.net", i);
        many[i] = names[i];
    }
    compose(&m, "s", many, 60);
    parse_msg(m.data, &p);
    assert_non_null(strstr(buf_str(&p.body), "    r49@example.net\r\n    (and 10 more)\r\n\r\n"));
    assert_null(strstr(buf_str(&p.body), "r50@"));
    buf_free(&m);
    buf_free(&p.body);

    /* a long recipient full of dots: soft line breaks, no line starting
     * with "." or "From " on the wire, decoded back intact */
    for (size_t i = 0; i < 300; i++)
        longrcpt[i] = i % 3 == 0 ? 'x' : '.';
    memcpy(longrcpt + 100, "From ", 5);
    longrcpt[300] = '\0';
    {
        const char *one[] = { longrcpt };
        struct buf want = BUF_INIT(1024);

        compose(&m, "s", one, 1);
        parse_msg(m.data, &p);
        assert_null(strstr(p.raw_body, "\r\n."));
        assert_null(strstr(p.raw_body, "\r\nFrom "));
        assert_non_null(strstr(p.raw_body, "=\r\n"));
        assert_int_equal(buf_printf(&want, "\r\n    %s\r\n", longrcpt), 0);
        assert_non_null(strstr(buf_str(&p.body), buf_str(&want)));
        buf_free(&want);
        buf_free(&m);
        buf_free(&p.body);
    }
}

static void test_compose_8bit_body_is_qp(void **state)
{
    struct buf m;
    struct parsed p;

    (void)state;
    compose(&m, "Grüße", NULL, 0);
    parse_msg(m.data, &p);
    assert_non_null(strstr(p.raw_body, "Gr=C3=BC=C3=9Fe"));
    assert_non_null(strstr(buf_str(&p.body), "\"Grüße\""));
    /* the passphrase line is plain on the wire too */
    assert_non_null(strstr(p.raw_body, "\r\n" PASS "\r\n"));
    buf_free(&m);
    buf_free(&p.body);
}

static void test_compose_invalid(void **state)
{
    static const char *const ok_rcpts[] = { "a@example.net" };
    static const struct {
        const char *from, *to, *pass, *helo;
    } cases[] = {
        { "g@example.org", "s@example.com", PASS, "bad helo" },
        { "g@example.org", "s@example.com", PASS, "h\r\nX: y" },
        { "g@example.org", "s@example.com", PASS, "" },
        { "g@example.org", "s@example.com", "", "h" },
        { "g@example.org", "s@example.com", "7KQ2 M9XD", "h" },
        { "g@example.org", "s@example.com", PASS "\r\nBcc: x", "h" },
        { "g@example.org", "s@example.com", NULL, "h" },
        { "g@example.org", "", PASS, "h" },
        { "g@example.org", NULL, PASS, "h" },
        { "g@example.org", "s@example.com>\r\nBcc: x@y", PASS, "h" },
        { "g@example.org", "<s@example.com>", PASS, "h" },
        { "g @example.org", "s@example.com", PASS, "h" },
        { "", "s@example.com", PASS, "h" },
        { "g\x7f@example.org", "s@example.com", PASS, "h" },
        { "g\xc3\xa9@example.org", "s@example.com", PASS, "h" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf m = BUF_INIT(1 << 20);

        errno = 0;
        assert_int_equal(notify_compose(&m, cases[i].from, cases[i].to, "s", ok_rcpts, 1,
                                        cases[i].pass, cases[i].helo), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(m.len, 0);
        buf_free(&m);
    }
    {
        struct buf m = BUF_INIT(1 << 20);

        errno = 0;
        assert_int_equal(notify_compose(&m, "g@x", "s@x", "s", NULL, 2, PASS, "h"), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(notify_compose(NULL, "g@x", "s@x", "s", NULL, 0, PASS, "h"), -1);
        /* a buffer too small: EOVERFLOW */
        buf_init(&m, 200);
        errno = 0;
        assert_int_equal(notify_compose(&m, "g@x", "s@x", "s", NULL, 0, PASS, "h"), -1);
        assert_int_equal(errno, EOVERFLOW);
        buf_free(&m);
    }
}

/* ---- the Python sink ---- */

static pid_t sink_pid = -1;
static unsigned sink_port;
static char sink_dir[64];
static int sink_count;

/* read_file - the whole file into out (at most 4 MB); 0 or -1 */
static int read_file(const char *path, struct buf *out)
{
    char chunk[8192];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    buf_init(out, 4 << 20);
    if (fd < 0)
        return -1;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        if (buf_add(out, chunk, (size_t)n) < 0)
            break;
    close(fd);
    return n == 0 ? 0 : -1;
}

static int sink_setup(void **state)
{
    static const char self[] = __FILE__, tail[] = "/tests/milter/test_notify.c";
    const char *src = getenv("MAILSEAL_SOURCE_DIR");
    char script[600], portfile[128], here[512];

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (src == NULL) {
        /* run by hand: the source tree this file was compiled from */
        size_t n = sizeof(self) - 1, t = sizeof(tail) - 1;

        /* cppcheck-suppress pointerOutOfBoundsCond ; n is sizeof(self) - 1, never past self */
        if (n <= t || n >= sizeof(here) || strcmp(self + n - t, tail) != 0) {
            fprintf(stderr, "MAILSEAL_SOURCE_DIR is not set\n");
            return -1;
        }
        memcpy(here, self, n - t);
        here[n - t] = '\0';
        src = here;
    }
    snprintf(sink_dir, sizeof(sink_dir), "/tmp/mailseal-notify-XXXXXX");
    if (mkdtemp(sink_dir) == NULL)
        return -1;
    snprintf(script, sizeof(script), "%s/tests/e2e/sink.py", src);
    snprintf(portfile, sizeof(portfile), "%s/port", sink_dir);
    sink_pid = fork();
    if (sink_pid < 0)
        return -1;
    if (sink_pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execlp("python3", "python3", script, "--dir", sink_dir, "--port", "0",
               "--port-file", portfile, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {            /* up to 10 s */
        struct buf b;

        if (read_file(portfile, &b) == 0 && b.len > 0) {
            sink_port = (unsigned)strtoul(buf_str(&b), NULL, 10);
            buf_free(&b);
            return sink_port > 0 ? 0 : -1;
        }
        buf_free(&b);
        if (waitpid(sink_pid, NULL, WNOHANG) == sink_pid) {
            sink_pid = -1;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

static int sink_teardown(void **state)
{
    char cmd[128];

    (void)state;
    if (sink_pid > 0) {
        int st = 0;

        kill(sink_pid, SIGTERM);
        waitpid(sink_pid, &st, 0);
        sink_pid = -1;
    }
    if (sink_dir[0] != '\0' && strncmp(sink_dir, "/tmp/mailseal-notify-", 21) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sink_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", sink_dir);
    }
    return 0;
}

/* sink_check - the next stored message equals want, with that envelope */
static void sink_check(const char *want, size_t len, const char *helo, const char *from,
                       const char *rcpt)
{
    char path[128];
    struct buf got, json, wj = BUF_INIT(1024);

    sink_count++;
    snprintf(path, sizeof(path), "%s/%03d.eml", sink_dir, sink_count);
    assert_int_equal(read_file(path, &got), 0);
    assert_int_equal(got.len, len);
    assert_memory_equal(got.data ? got.data : "", want, len);
    snprintf(path, sizeof(path), "%s/%03d.json", sink_dir, sink_count);
    assert_int_equal(read_file(path, &json), 0);
    assert_int_equal(buf_printf(&wj, "{\"helo\": \"%s\", \"mail_from\": \"%s\", \"rcpts\": [\"%s\"]}",
                                helo, from, rcpt), 0);
    assert_string_equal(buf_str(&json), buf_str(&wj));
    buf_free(&got);
    buf_free(&json);
    buf_free(&wj);
}

static void test_sink_composed(void **state)
{
    static const char *const rcpts[] = { "ann@example.net", "bob@example.net\r\nBcc: e@x" };
    struct notify_relay relay = { "127.0.0.1", sink_port, 10, "gw.example.org" };
    struct buf m = BUF_INIT(1 << 20);
    char err[256];

    (void)state;
    assert_int_equal(notify_compose(&m, "gateway@example.org", "sender@example.com",
                                    "Grüße\r\nBcc: evil@example.org", rcpts, 2, PASS,
                                    "gw.example.org"), 0);
    assert_int_equal(notify_send(&relay, "gateway@example.org", "sender@example.com", m.data,
                                 m.len, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    sink_check(m.data, m.len, "gw.example.org", "gateway@example.org", "sender@example.com");
    buf_free(&m);
}

static void test_sink_null_sender_and_dots(void **state)
{
    static const char msg[] =
        "Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nmiddle . dot\r\n.\r\n\r\n.last";
    static const char stored[] =
        "Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nmiddle . dot\r\n.\r\n\r\n.last\r\n";
    struct notify_relay relay = { "127.0.0.1", sink_port, 10, NULL };
    char err[256];

    (void)state;
    assert_int_equal(notify_send(&relay, "", "sender@example.com", msg, sizeof(msg) - 1, err,
                                 sizeof(err)), 0);
    sink_check(stored, sizeof(stored) - 1, "localhost", "", "sender@example.com");
}

static void test_sink_hostname(void **state)
{
    /* "localhost" may resolve to ::1 first, where nothing listens: the next
     * address is tried */
    struct notify_relay relay = { "localhost", sink_port, 10, "h" };
    static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
    char err[256];

    (void)state;
    assert_int_equal(notify_send(&relay, "a@example.org", "b@example.org", msg, sizeof(msg) - 1,
                                 err, sizeof(err)), 0);
    sink_check(msg, sizeof(msg) - 1, "h", "a@example.org", "b@example.org");
}

/* ---- a scripted server thread ---- */

#define HANG  "@HANG"       /* send nothing more; read until the client leaves */
#define CLOSE "@CLOSE"      /* close the connection */
#define BIG   "@BIG"        /* a 2 MB reply line */

struct fake {
    int lfd;
    unsigned port;
    const char *const *script;   /* greeting, then one reply per command; NULL ends */
    struct buf cmds;             /* command lines received */
    struct buf data;             /* raw bytes after 354 up to and with ".\r\n" */
    pthread_t th;
};

/* fake_send - write all of s, ignoring errors */
static void fake_send(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* fake_reply - play one script entry; 0 to go on, 1 to stop */
static int fake_reply(int fd, const char *r)
{
    if (r == NULL || strcmp(r, CLOSE) == 0)
        return 1;
    if (strcmp(r, HANG) == 0) {
        char c[512];
        struct pollfd pfd = { .fd = fd, .events = POLLIN, .revents = 0 };

        while (poll(&pfd, 1, 10000) > 0 && recv(fd, c, sizeof(c), 0) > 0)
            ;
        return 1;
    }
    if (strcmp(r, BIG) == 0) {
        size_t n = 2u << 20;
        char *big = malloc(n + 2);

        if (big == NULL)
            return 1;
        memcpy(big, "250 ", 4);
        memset(big + 4, 'x', n - 4);
        memcpy(big + n, "\r\n", 2);
        fake_send(fd, big, n + 2);
        free(big);
        return 0;
    }
    fake_send(fd, r, strlen(r));
    return 0;
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    struct pollfd pfd = { .fd = f->lfd, .events = POLLIN, .revents = 0 };
    char line[8192];
    size_t n = 0, step = 1;
    int fd, in_data = 0;

    if (poll(&pfd, 1, 10000) <= 0 || (fd = accept(f->lfd, NULL, NULL)) < 0)
        return NULL;
    if (fake_reply(fd, f->script[0]) == 0) {
        for (;;) {
            char c;
            struct pollfd cp = { .fd = fd, .events = POLLIN, .revents = 0 };

            if (poll(&cp, 1, 10000) <= 0 || recv(fd, &c, 1, 0) != 1)
                break;
            if (n + 1 < sizeof(line))
                line[n++] = c;
            if (c != '\n')
                continue;
            line[n] = '\0';
            if (in_data) {
                buf_add(&f->data, line, n);
                if (strcmp(line, ".\r\n") == 0) {
                    in_data = 0;
                    if (fake_reply(fd, f->script[step++]))
                        break;
                }
            } else {
                const char *r = f->script[step++];

                buf_add(&f->cmds, line, n);
                if (strcmp(line, "DATA\r\n") == 0 && r != NULL && strncmp(r, "354", 3) == 0)
                    in_data = 1;
                if (fake_reply(fd, r))
                    break;
            }
            n = 0;
        }
    }
    close(fd);
    return NULL;
}

/* fake_start - listen on the loopback address of family af, serve script in a thread */
static int fake_start(struct fake *f, int af, const char *const *script)
{
    memset(f, 0, sizeof(*f));
    buf_init(&f->cmds, 1 << 16);
    buf_init(&f->data, 1 << 20);
    f->script = script;
    f->lfd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0)
        return -1;
    if (af == AF_INET6) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        socklen_t l = sizeof(a);

        if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0
            || getsockname(f->lfd, (struct sockaddr *)&a, &l) < 0)
            goto fail;
        f->port = ntohs(a.sin6_port);
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t l = sizeof(a);

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0
            || getsockname(f->lfd, (struct sockaddr *)&a, &l) < 0)
            goto fail;
        f->port = ntohs(a.sin_port);
    }
    if (listen(f->lfd, 4) < 0 || pthread_create(&f->th, NULL, fake_main, f) != 0)
        goto fail;
    return 0;
fail:
    close(f->lfd);
    return -1;
}

/* fake_stop - wait for the session thread, close the listener */
static void fake_stop(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
}

static void fake_free(struct fake *f)
{
    buf_free(&f->cmds);
    buf_free(&f->data);
}

#define G    "220 fake.test ESMTP\r\n"
#define E    "250-fake.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
#define OK   "250 2.0.0 Ok\r\n"
#define D    "354 go ahead\r\n"
#define Q    "221 bye\r\n"
#define MSG  "Subject: x\r\n\r\nbody\r\n"
#define CMDS_ALL "EHLO h.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nQUIT\r\n"

static void test_faults(void **state)
{
    static const char *const s_ok[] = { G, E, OK, OK, D, OK, Q, NULL };
    static const char *const s_421[] = { "421 4.3.2 busy\r\n", NULL };
    static const char *const s_554g[] = { "554 5.7.1 go away\r\n", NULL };
    static const char *const s_helo[] = { G, "502 5.5.1 no EHLO\r\n", "250 fake\r\n", OK, OK, D,
                                          OK, Q, NULL };
    static const char *const s_ehlo421[] = { G, "421 4.3.2 shutting down\r\n", NULL };
    static const char *const s_mail451[] = { G, E, "451 4.3.0 try later\r\n", NULL };
    static const char *const s_rcpt550[] = { G, E, OK, "550 5.1.1 no such user\r\n", NULL };
    static const char *const s_data452[] = { G, E, OK, OK, "452 4.3.1 no space\r\n", NULL };
    static const char *const s_data554[] = { G, E, OK, OK, "554 5.5.1 no\r\n", NULL };
    static const char *const s_data250[] = { G, E, OK, OK, OK, NULL };
    static const char *const s_end554[] = { G, E, OK, OK, D, "554 5.7.1 spam\r\n", NULL };
    static const char *const s_end451[] = { G, E, OK, OK, D, "451 4.3.0 later\r\n", NULL };
    static const char *const s_hang0[] = { HANG };
    static const char *const s_hang_mail[] = { G, E, HANG };
    static const char *const s_hang_end[] = { G, E, OK, OK, D, HANG };
    static const char *const s_close[] = { G, E, CLOSE };
    static const char *const s_close_data[] = { G, E, OK, OK, D, CLOSE };
    static const char *const s_multi[] = { "220-fake.test\r\n220-second line\n220 third\r\n",
                                           "250-a\n250-b\n250-c\n250 d\n", "250\r\n", "251 ok\r\n",
                                           "354\r\n", "250-2.0.0 queued\r\n250 really\r\n", Q,
                                           NULL };
    static const char *const s_mixed[] = { G, "250-a\r\n251 b\r\n", NULL };
    static const char *const s_big[] = { BIG, NULL };
    static const char *const s_garbage[] = { "hello there\r\n", NULL };
    static const char *const s_bad_sep[] = { "220xfake\r\n", NULL };
    static const char *const s_1xx[] = { "120 wait\r\n", NULL };
    static const char *const s_quit_close[] = { G, E, OK, OK, D, OK, CLOSE };
    static char many[120 * 9 + 16];
    static const char *const s_many[] = { many, NULL };
    static const struct {
        const char *name;
        const char *const *script;
        unsigned timeout;
        int rc, err;
        const char *reason;       /* err text, NULL: not checked */
        const char *cmds;         /* commands the server saw, NULL: not checked */
    } cases[] = {
        { "ok", s_ok, 5, 0, 0, "", CMDS_ALL },
        { "greeting 421", s_421, 5, -1, EPROTO, "greeting: 421 4.3.2 busy", "" },
        { "greeting 554", s_554g, 5, -1, EPERM, "greeting: 554 5.7.1 go away", "" },
        { "EHLO 502, HELO", s_helo, 5, 0, 0, "",
          "EHLO h.test\r\nHELO h.test\r\nMAIL FROM:<a@example.org>\r\n"
          "RCPT TO:<b@example.org>\r\nDATA\r\nQUIT\r\n" },
        { "EHLO 421", s_ehlo421, 5, -1, EPROTO, "EHLO: 421 4.3.2 shutting down", "EHLO h.test\r\n" },
        { "MAIL 451", s_mail451, 5, -1, EPROTO, "MAIL FROM: 451 4.3.0 try later", NULL },
        { "RCPT 550", s_rcpt550, 5, -1, EPERM, "RCPT TO: 550 5.1.1 no such user",
          "EHLO h.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n" },
        { "DATA 452", s_data452, 5, -1, EPROTO, "DATA: 452 4.3.1 no space", NULL },
        { "DATA 554", s_data554, 5, -1, EPERM, "DATA: 554 5.5.1 no", NULL },
        { "DATA 250", s_data250, 5, -1, EPROTO, "DATA: 250 2.0.0 Ok", NULL },
        { "end 554", s_end554, 5, -1, EPERM, "end of data: 554 5.7.1 spam", NULL },
        { "end 451", s_end451, 5, -1, EPROTO, "end of data: 451 4.3.0 later", NULL },
        { "silent greeting", s_hang0, 1, -1, ETIMEDOUT, "greeting: no reply within 1 s", NULL },
        { "silent MAIL", s_hang_mail, 1, -1, ETIMEDOUT, "MAIL FROM: no reply within 1 s", NULL },
        { "silent end", s_hang_end, 1, -1, ETIMEDOUT, "end of data: no reply within 1 s", NULL },
        { "close after EHLO", s_close, 5, -1, ECONNRESET,
          "MAIL FROM: relay closed the connection", NULL },
        { "close after 354", s_close_data, 5, -1, ECONNRESET, NULL, NULL },
        { "multi-line", s_multi, 5, 0, 0, "", CMDS_ALL },
        { "mixed codes", s_mixed, 5, -1, EPROTO, "EHLO: reply codes 250 and 251 mixed", NULL },
        { "2 MB line", s_big, 5, -1, EPROTO, "greeting: reply line too long", NULL },
        { "garbage", s_garbage, 5, -1, EPROTO, "greeting: malformed reply \"hello there\"", NULL },
        { "bad separator", s_bad_sep, 5, -1, EPROTO, "greeting: malformed reply \"220xfake\"",
          NULL },
        { "1xx", s_1xx, 5, -1, EPROTO, NULL, NULL },
        { "too many lines", s_many, 5, -1, EPROTO, "greeting: reply of more than 100 lines",
          NULL },
        { "QUIT unanswered", s_quit_close, 5, 0, 0, "", CMDS_ALL },
    };

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    many[0] = '\0';
    for (int i = 0; i < 120; i++)
        strcat(many, "220-abc\r\n");
    strcat(many, "220 end\r\n");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake f;
        struct notify_relay relay = { "127.0.0.1", 0, cases[i].timeout, "h.test" };
        struct timespec t0, t1;
        char err[256];
        int rc, e;
        double secs;

        print_message("case %s\n", cases[i].name);
        assert_int_equal(fake_start(&f, AF_INET, cases[i].script), 0);
        relay.port = f.port;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        errno = 0;
        rc = notify_send(&relay, "a@example.org", "b@example.org", MSG, sizeof(MSG) - 1, err,
                         sizeof(err));
        e = errno;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fake_stop(&f);
        secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        assert_int_equal(rc, cases[i].rc);
        if (rc < 0)
            assert_int_equal(e, cases[i].err);
        if (cases[i].reason != NULL)
            assert_string_equal(err, cases[i].reason);
        if (cases[i].cmds != NULL)
            assert_string_equal(buf_str(&f.cmds), cases[i].cmds);
        if (cases[i].rc == 0)
            assert_string_equal(buf_str(&f.data), MSG ".\r\n");
        if (cases[i].err == ETIMEDOUT)
            assert_true(secs >= 0.9 && secs < 3.0);
        else
            assert_true(secs < 3.0);
        fake_free(&f);
    }
}

static void test_dot_stuffing_wire(void **state)
{
    static const char *const s_ok[] = { G, E, OK, OK, D, OK, Q, NULL };
    static const struct {
        const char *msg;
        size_t len;
        const char *wire;
    } cases[] = {
        { ".", 1, "..\r\n.\r\n" },
        { "", 0, ".\r\n" },
        { "a\r\n.\r\n..\r\n.b\r\n", 14, "a\r\n..\r\n...\r\n..b\r\n.\r\n" },
        { "no final newline", 16, "no final newline\r\n.\r\n" },
        { "bare\nlf\n.dot\rcr\r\r\n", 18, "bare\r\nlf\r\n..dot\r\ncr\r\n\r\n.\r\n" },
        { "x.\r\n. \r\n", 8, "x.\r\n.. \r\n.\r\n" },
        { "\r\n\r\n", 4, "\r\n\r\n.\r\n" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake f;
        struct notify_relay relay = { "127.0.0.1", 0, 5, "h.test" };
        char err[256];

        assert_int_equal(fake_start(&f, AF_INET, s_ok), 0);
        relay.port = f.port;
        assert_int_equal(notify_send(&relay, "a@example.org", "b@example.org", cases[i].msg,
                                     cases[i].len, err, sizeof(err)), 0);
        fake_stop(&f);
        assert_string_equal(buf_str(&f.data), cases[i].wire);
        fake_free(&f);
    }
    /* a large message (several output buffers) arrives whole */
    {
        struct buf big = BUF_INIT(1 << 22), want = BUF_INIT(1 << 22);
        struct fake f;
        struct notify_relay relay = { "127.0.0.1", 0, 5, "h.test" };
        char err[256];

        for (int i = 0; i < 20000; i++) {
            assert_int_equal(buf_printf(&big, "%sline %d\r\n", i % 7 ? "" : ".", i), 0);
            assert_int_equal(buf_printf(&want, "%sline %d\r\n", i % 7 ? "" : "..", i), 0);
        }
        assert_int_equal(buf_adds(&want, ".\r\n"), 0);
        assert_int_equal(fake_start(&f, AF_INET, s_ok), 0);
        relay.port = f.port;
        assert_int_equal(notify_send(&relay, "a@example.org", "b@example.org", big.data, big.len,
                                     err, sizeof(err)), 0);
        fake_stop(&f);
        assert_int_equal(f.data.len, want.len);
        assert_memory_equal(f.data.data, want.data, want.len);
        fake_free(&f);
        buf_free(&big);
        buf_free(&want);
    }
}

static void test_ipv6(void **state)
{
    static const char *const s_ok[] = { G, E, OK, OK, D, OK, Q, NULL };
    static const char *const hosts[] = { "::1", "[::1]" };

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct fake f;
        struct notify_relay relay = { hosts[i], 0, 5, "h.test" };
        char err[256];

        if (fake_start(&f, AF_INET6, s_ok) < 0) {
            fake_free(&f);
            skip();
        }
        relay.port = f.port;
        assert_int_equal(notify_send(&relay, "a@example.org", "b@example.org", MSG,
                                     sizeof(MSG) - 1, err, sizeof(err)), 0);
        fake_stop(&f);
        assert_string_equal(buf_str(&f.cmds), CMDS_ALL);
        fake_free(&f);
    }
}

static void test_connect_refused(void **state)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct notify_relay relay = { "127.0.0.1", 0, 5, "h.test" };
    char err[256];

    (void)state;
    /* a port that was free a moment ago and has no listener */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    relay.port = ntohs(a.sin_port);
    close(fd);
    errno = 0;
    assert_int_equal(notify_send(&relay, "a@example.org", "b@example.org", MSG, sizeof(MSG) - 1,
                                 err, sizeof(err)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_non_null(strstr(err, "connect to relay 127.0.0.1 port"));
}

static void test_send_invalid(void **state)
{
    static const struct {
        const char *host;
        unsigned port;
        const char *helo, *from, *rcpt;
    } cases[] = {
        { "127.0.0.1", 25, "h", "a b@example.org", "b@example.org" },
        { "127.0.0.1", 25, "h", "<a@example.org>", "b@example.org" },
        { "127.0.0.1", 25, "h", "a@example.org>", "b@example.org" },
        { "127.0.0.1", 25, "h", "a@example.org\r\nRCPT TO:<x@y>", "b@example.org" },
        { "127.0.0.1", 25, "h", "a@example.org", "b@example.org\n" },
        { "127.0.0.1", 25, "h", "a@example.org", "b\t@example.org" },
        { "127.0.0.1", 25, "h", "a@example.org", "b\x01@example.org" },
        { "127.0.0.1", 25, "h", "a@example.org", "" },
        { "127.0.0.1", 25, "h", "a@example.org", NULL },
        { "127.0.0.1", 25, "h", NULL, "b@example.org" },
        { "127.0.0.1", 25, "h\r\nRSET", "a@example.org", "b@example.org" },
        { "127.0.0.1", 25, "h x", "a@example.org", "b@example.org" },
        { "127.0.0.1", 0, "h", "a@example.org", "b@example.org" },
        { "127.0.0.1", 65536, "h", "a@example.org", "b@example.org" },
        { "", 25, "h", "a@example.org", "b@example.org" },
        { NULL, 25, "h", "a@example.org", "b@example.org" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct notify_relay relay = { cases[i].host, cases[i].port, 1, cases[i].helo };
        char err[256];

        errno = 0;
        assert_int_equal(notify_send(&relay, cases[i].from, cases[i].rcpt, MSG, sizeof(MSG) - 1,
                                     err, sizeof(err)), -1);
        assert_int_equal(errno, EINVAL);
        assert_true(err[0] != '\0');
    }
    errno = 0;
    assert_int_equal(notify_send(NULL, "a@x", "b@x", MSG, 3, NULL, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(notify_addr_ok("", 1), 1);
    assert_int_equal(notify_addr_ok("", 0), 0);
    assert_int_equal(notify_addr_ok("a@b", 0), 1);
}

int main(void)
{
    const struct CMUnitTest compose_tests[] = {
        cmocka_unit_test(test_compose_headers),
        cmocka_unit_test(test_compose_date),
        cmocka_unit_test(test_compose_subject),
        cmocka_unit_test(test_compose_rcpts),
        cmocka_unit_test(test_compose_8bit_body_is_qp),
        cmocka_unit_test(test_compose_invalid),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_dot_stuffing_wire),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_send_invalid),
    };
    const struct CMUnitTest sink_tests[] = {
        cmocka_unit_test(test_sink_composed),
        cmocka_unit_test(test_sink_null_sender_and_dots),
        cmocka_unit_test(test_sink_hostname),
    };
    int failed = cmocka_run_group_tests_name("notify", compose_tests, NULL, NULL);

    failed += cmocka_run_group_tests_name("notify with the sink", sink_tests, sink_setup,
                                          sink_teardown);
    return failed;
}
