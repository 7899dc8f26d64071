/*
 * notify - the passphrase notification to the envelope sender and the SMTP
 * client that submits it (interface and errors: notify.h).
 *
 * Composition builds the body as UTF-8 text with LF line ends, then writes
 * it quoted-printable with CRLF, so the wire form is 7-bit whatever the
 * subject holds.  Untrusted text (original subject, recipients) is first
 * made valid UTF-8 (Windows-1252 when it is not), stripped of control
 * characters (C0, DEL, C1 become spaces) and capped in length.  Buffers
 * that held the passphrase are wiped before they are freed, and sized
 * before it goes in, so that no realloc leaves an unwiped copy behind.
 *
 * The SMTP client is one function that runs the dialogue on a non-blocking
 * socket: every wait is a poll() bounded by the relay timeout, every reply
 * line is capped (an overlong line fails the submission rather than being
 * read to its end), and a failure names the step and the relay's reply
 * (printable characters only, truncated), never message bytes.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "message/charset.h"
#include "message/rfc2047.h"
#include "milter/notify.h"

#define NOTIFY_FROM_NAME   "Mail encryption gateway"
#define NOTIFY_SUBJECT     "Passphrase for your encrypted message"
#define NOTIFY_HELO_MAX    255
#define NOTIFY_PASS_MAX    128
#define QP_LINE_MAX        76        /* including the soft-break "=" */
#define SMTP_IN_SIZE       4096
#define SMTP_OUT_SIZE      16384
#define ERR_TEXT_MAX       120       /* bytes of a relay reply quoted in err */

/* ---- composition ---- */

/* wipe_free - wipe a buffer's bytes, then free it */
static void wipe_free(struct buf *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    buf_free(b);
}

/* helo_ok - 1 when name can be a Message-ID right side and an EHLO argument */
static int helo_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > NOTIFY_HELO_MAX)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

/* passphrase_ok - 1 when the shown passphrase is printable ASCII without spaces */
static int passphrase_ok(const char *p)
{
    size_t n = strlen(p);

    if (n == 0 || n > NOTIFY_PASS_MAX)
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7F)
            return 0;
    return 1;
}

/* notify_addr_ok - 1 when addr may go into MAIL FROM/RCPT TO or a header */
int notify_addr_ok(const char *addr, int allow_empty)
{
    size_t n;

    if (addr == NULL)
        return 0;
    n = strlen(addr);
    if (n == 0)
        return allow_empty;
    if (n > NOTIFY_ADDR_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
        if (*p <= ' ' || *p >= 0x7F || *p == '<' || *p == '>')
            return 0;
    return 1;
}

/* clean_text - append untrusted text as valid UTF-8 without controls, at
 * most max bytes (cut at a character boundary, then "..."), trimmed */
static int clean_text(const char *s, size_t max, struct buf *out)
{
    size_t n = strlen(s), start = out->len, keep;
    struct buf u = BUF_INIT(n * 3 + 16);
    const unsigned char *p, *end;
    int r = -1;

    if (utf8_valid(s, n)) {
        if (n > 0 && buf_add(&u, s, n) < 0)
            goto done;
    } else if (charset_to_utf8(NULL, s, n, &u) < 0) {
        goto done;
    }
    p = (const unsigned char *)(u.data ? u.data : "");
    end = p + u.len;
    while (p < end && out->len - start < max) {
        if (*p < 0x20 || *p == 0x7F) {
            if (buf_addc(out, ' ') < 0)
                goto done;
            p++;
        } else if (*p == 0xC2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9F) {
            if (buf_addc(out, ' ') < 0)
                goto done;
            p += 2;
        } else {
            size_t cl = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;

            if ((size_t)(end - p) < cl || out->len - start + cl > max)
                break;
            if (buf_add(out, p, cl) < 0)
                goto done;
            p += cl;
        }
    }
    /* trim: trailing, then leading white space */
    keep = out->len;
    while (keep > start && out->data[keep - 1] == ' ')
        keep--;
    buf_truncate(out, keep);
    if (out->len > start) {
        size_t lead = 0;

        while (start + lead < out->len && out->data[start + lead] == ' ')
            lead++;
        if (lead > 0) {
            memmove(out->data + start, out->data + start + lead, out->len - start - lead);
            buf_truncate(out, out->len - lead);
        }
    }
    if (p < end && buf_adds(out, "...") < 0)
        goto done;
    r = 0;
done:
    buf_free(&u);
    return r;
}

/* format_date - append t as an RFC 5322 date in the local time zone */
static int format_date(struct buf *b, time_t t)
{
    static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    long off;
    char sign = '+';

    if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6
        || tm.tm_mon < 0 || tm.tm_mon > 11) {
        errno = EINVAL;
        return -1;
    }
    off = tm.tm_gmtoff / 60;
    if (off < 0) {
        sign = '-';
        off = -off;
    }
    return buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", wday[tm.tm_wday],
                      tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, sign, off / 60, off % 60);
}

/* add_crlf_value - append a value folded with "\n " as CRLF-folded */
static int add_crlf_value(struct buf *out, const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '\n') {
            if (buf_add(out, "\r\n", 2) < 0)
                return -1;
        } else if (buf_addc(out, v[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

/* qp_encode - append LF-terminated UTF-8 text as quoted-printable CRLF lines */
static int qp_encode(const char *s, size_t len, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int eol = (i + 1 == len || s[i + 1] == '\n');
        int enc, from;
        char tok[3];
        size_t tl;

        if (c == '\n') {
            if (buf_add(out, "\r\n", 2) < 0)
                return -1;
            col = 0;
            continue;
        }
        /* '=', 8-bit, controls, white space before a line end, and a '.'
         * or the "F" of "From " at a line start are escaped */
        from = c == 'F' && len - i >= 5 && memcmp(s + i, "From ", 5) == 0;
        enc = c == '=' || c >= 0x7F || (c < 0x20 && c != '\t') || ((c == ' ' || c == '\t') && eol)
              || (col == 0 && (c == '.' || from));
        if (enc) {
            tok[0] = '=';
            tok[1] = hex[c >> 4];
            tok[2] = hex[c & 15];
            tl = 3;
        } else {
            tok[0] = (char)c;
            tl = 1;
        }
        /* keep room for the "=" of a soft break unless this is the last token */
        if (col + tl > QP_LINE_MAX - (eol ? 0 : 1)) {
            if (buf_add(out, "=\r\n", 3) < 0)
                return -1;
            col = 0;
            if (!enc && (c == '.' || from)) {       /* now at a line start */
                tok[0] = '=';
                tok[1] = hex[c >> 4];
                tok[2] = hex[c & 15];
                tl = 3;
            }
        }
        if (buf_add(out, tok, tl) < 0)
            return -1;
        col += tl;
    }
    if (col > 0 && buf_add(out, "\r\n", 2) < 0)
        return -1;
    return 0;
}

/* compose_body - the plain UTF-8 body text, LF line ends */
static int compose_body(struct buf *b, const char *subject, const char *date,
                        const char *const *rcpts, size_t nrcpts, const char *pass)
{
    size_t listed = nrcpts < NOTIFY_RCPTS_LISTED ? nrcpts : NOTIFY_RCPTS_LISTED;

    if (buf_adds(b, "Hello,\n\n") < 0)
        return -1;
    if (subject[0] != '\0') {
        if (buf_printf(b, "your message with the subject\n\n    \"%s\"\n\n", subject) < 0)
            return -1;
    } else if (buf_adds(b, "your message without a subject,\n\n") < 0) {
        return -1;
    }
    if (buf_printf(b, "sent on %s", date) < 0)
        return -1;
    if (nrcpts > 0) {
        if (buf_adds(b, " to\n\n") < 0)
            return -1;
        for (size_t i = 0; i < listed; i++) {
            if (buf_adds(b, "    ") < 0
                || clean_text(rcpts[i] ? rcpts[i] : "", NOTIFY_ADDR_MAX, b) < 0
                || buf_addc(b, '\n') < 0)
                return -1;
        }
        if (nrcpts > listed && buf_printf(b, "    (and %zu more)\n", nrcpts - listed) < 0)
            return -1;
        if (buf_addc(b, '\n') < 0)
            return -1;
    } else if (buf_adds(b, ",\n") < 0) {
        return -1;
    }
    if (buf_adds(b, "was encrypted. Its recipients need this passphrase to open it:\n\n") < 0
        || buf_adds(b, pass) < 0
        || buf_adds(b, "\n\n"
                       "Please give it to them by phone or through another channel,\n"
                       "not by e-mail.\n\n"
                       "The passphrase opens only this one message.\n\n"
                       "-- \n" NOTIFY_FROM_NAME "\n") < 0)
        return -1;
    return 0;
}

/* notify_compose - the notification for the current time */
int notify_compose(struct buf *out, const char *from, const char *to, const char *orig_subject,
                   const char *const *rcpts, size_t nrcpts, const char *passphrase_shown,
                   const char *helo)
{
    return notify_compose_at(out, from, to, orig_subject, rcpts, nrcpts, passphrase_shown,
                             helo, 0);
}

/* notify_compose_at - the notification message into out (see notify.h) */
int notify_compose_at(struct buf *out, const char *from, const char *to,
                      const char *orig_subject, const char *const *rcpts, size_t nrcpts,
                      const char *passphrase_shown, const char *helo, time_t when)
{
    struct buf subj = BUF_INIT(NOTIFY_SUBJECT_MAX + 64), hdr = BUF_INIT(8192);
    struct buf date = BUF_INIT(64), body = BUF_INIT(64 * 1024);
    unsigned char rnd[16];
    int r = -1, saved = 0;

    if (out == NULL || !notify_addr_ok(from, 0) || !notify_addr_ok(to, 0)
        || passphrase_shown == NULL || !passphrase_ok(passphrase_shown)
        || (nrcpts > 0 && rcpts == NULL)) {
        errno = EINVAL;
        return -1;
    }
    if (helo == NULL)
        helo = "localhost";
    if (!helo_ok(helo)) {
        errno = EINVAL;
        return -1;
    }
    if (when <= 0)
        when = time(NULL);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        errno = EIO;
        return -1;
    }
    if (format_date(&date, when) < 0
        || clean_text(orig_subject ? orig_subject : "", NOTIFY_SUBJECT_MAX, &subj) < 0)
        goto done;
    /* the Subject value: fixed text, then ": " and the original subject */
    {
        struct buf s = BUF_INIT(NOTIFY_SUBJECT_MAX + 128);

        if (buf_adds(&s, NOTIFY_SUBJECT) < 0
            || (subj.len > 0 && buf_printf(&s, ": %s", buf_str(&subj)) < 0)
            || rfc2047_encode("Subject", buf_str(&s), &hdr) < 0) {
            buf_free(&s);
            goto done;
        }
        buf_free(&s);
    }
    if (buf_reserve(&body, body.max) < 0
        || compose_body(&body, buf_str(&subj), buf_str(&date), rcpts, nrcpts,
                        passphrase_shown) < 0)
        goto done;

    if (buf_printf(out, "From: \"" NOTIFY_FROM_NAME "\" <%s>\r\nTo: <%s>\r\n", from, to) < 0
        || buf_adds(out, "Subject: ") < 0 || add_crlf_value(out, hdr.data ? hdr.data : "", hdr.len) < 0
        || buf_printf(out, "\r\nDate: %s\r\nMessage-ID: <", buf_str(&date)) < 0)
        goto done;
    for (size_t i = 0; i < sizeof(rnd); i++)
        if (buf_printf(out, "%02x", rnd[i]) < 0)
            goto done;
    if (buf_printf(out, "@%s>\r\n", helo) < 0
        || buf_adds(out, "MIME-Version: 1.0\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n"
                         "Auto-Submitted: auto-generated\r\n"
                         "\r\n") < 0
        /* at most 3 bytes per body byte, plus soft breaks and CRs */
        || buf_reserve(out, 4 * body.len + 64) < 0
        || qp_encode(body.data ? body.data : "", body.len, out) < 0)
        goto done;
    r = 0;
done:
    saved = errno;
    wipe_free(&body);
    buf_free(&subj);
    buf_free(&hdr);
    buf_free(&date);
    errno = saved;
    return r;
}

/* ---- SMTP client ---- */

struct smtp {
    int fd;
    int timeout_ms;
    char *err;
    size_t errlen;
    char in[SMTP_IN_SIZE];
    size_t in_pos, in_len;
    char out[SMTP_OUT_SIZE];
    size_t out_len;
};

/* set_err - write a reason into err (may be NULL) and set errno */
static int set_err(char *err, size_t errlen, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t errlen, int e, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = e;
    return -1;
}

/* ms_until - milliseconds left until deadline, 0 when past */
static int ms_until(const struct timespec *deadline)
{
    struct timespec now;
    long long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000
         + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms <= 0 ? 0 : ms > 86400000 ? 86400000 : (int)ms;
}

/* deadline_in - the deadline ms milliseconds from now */
static void deadline_in(struct timespec *d, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, d);
    d->tv_sec += ms / 1000;
    d->tv_nsec += (long)(ms % 1000) * 1000000;
    if (d->tv_nsec >= 1000000000) {
        d->tv_sec++;
        d->tv_nsec -= 1000000000;
    }
}

/* wait_fd - poll fd for events until deadline: 1 ready, 0 timed out, -1 error */
static int wait_fd(int fd, short events, const struct timespec *deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = events, .revents = 0 };
        int n = poll(&pfd, 1, ms_until(deadline));

        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* connect_one - non-blocking connect to one address within timeout_ms; fd or -1 */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
    struct timespec deadline;
    int fd, soerr = 0, w;
    socklen_t sl = sizeof(soerr);

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EINTR)
        goto fail;
    deadline_in(&deadline, timeout_ms);
    w = wait_fd(fd, POLLOUT, &deadline);
    if (w == 0) {
        errno = ETIMEDOUT;
        goto fail;
    }
    if (w < 0)
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        goto fail;
    if (soerr != 0) {
        errno = soerr;
        goto fail;
    }
    return fd;
fail:
    {
        int e = errno;

        close(fd);
        errno = e;
    }
    return -1;
}

/* smtp_connect - connect to the relay, each address in turn; 0 or -1 */
static int smtp_connect(struct smtp *s, const struct notify_relay *relay)
{
    struct addrinfo hints, *res = NULL;
    char host[NOTIFY_HELO_MAX + 1], port[16];
    size_t hl = strlen(relay->host);
    int rc, last = ECONNREFUSED;

    /* an IPv6 literal may come in brackets */
    if (hl >= 2 && relay->host[0] == '[' && relay->host[hl - 1] == ']') {
        if (hl - 2 >= sizeof(host))
            return set_err(s->err, s->errlen, EINVAL, "relay host name too long");
        memcpy(host, relay->host + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        if (hl >= sizeof(host))
            return set_err(s->err, s->errlen, EINVAL, "relay host name too long");
        memcpy(host, relay->host, hl + 1);
    }
    snprintf(port, sizeof(port), "%u", relay->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        int e = rc == EAI_SYSTEM ? errno : rc == EAI_AGAIN ? EAGAIN
                : rc == EAI_MEMORY ? ENOMEM : EHOSTUNREACH;

        return set_err(s->err, s->errlen, e, "cannot resolve relay %s: %s", host,
                       gai_strerror(rc));
    }
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        s->fd = connect_one(ai, s->timeout_ms);
        if (s->fd >= 0)
            break;
        last = errno;
    }
    freeaddrinfo(res);
    if (s->fd < 0)
        return set_err(s->err, s->errlen, last, "connect to relay %s port %s: %s", host, port,
                       strerror(last));
    return 0;
}

/* smtp_flush - write the output buffer, each wait bounded by the timeout */
static int smtp_flush(struct smtp *s, const char *step)
{
    size_t off = 0;

    while (off < s->out_len) {
        ssize_t n = send(s->fd, s->out + off, s->out_len - off, MSG_NOSIGNAL);

        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            struct timespec deadline;
            int w;

            deadline_in(&deadline, s->timeout_ms);
            w = wait_fd(s->fd, POLLOUT, &deadline);
            if (w == 0)
                return set_err(s->err, s->errlen, ETIMEDOUT, "%s: timed out writing", step);
            if (w < 0)
                return set_err(s->err, s->errlen, errno, "%s: %s", step, strerror(errno));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno == EPIPE || errno == ECONNRESET)
            return set_err(s->err, s->errlen, ECONNRESET, "%s: relay closed the connection", step);
        return set_err(s->err, s->errlen, errno, "%s: %s", step, strerror(errno));
    }
    s->out_len = 0;
    return 0;
}

/* smtp_put - queue bytes for writing, flushing when the buffer is full */
static int smtp_put(struct smtp *s, const char *step, const char *p, size_t n)
{
    while (n > 0) {
        size_t room = sizeof(s->out) - s->out_len, k = n < room ? n : room;

        memcpy(s->out + s->out_len, p, k);
        s->out_len += k;
        p += k;
        n -= k;
        if (s->out_len == sizeof(s->out) && smtp_flush(s, step) < 0)
            return -1;
    }
    return 0;
}

/* smtp_line - read one reply line (without CR LF) into line[cap] before deadline */
static int smtp_line(struct smtp *s, const char *step, const struct timespec *deadline,
                     char *line, size_t cap, size_t *len)
{
    size_t n = 0;

    for (;;) {
        while (s->in_pos < s->in_len) {
            char c = s->in[s->in_pos++];

            if (c == '\n') {
                if (n > 0 && line[n - 1] == '\r')
                    n--;
                line[n] = '\0';
                *len = n;
                return 0;
            }
            if (n + 1 >= cap)
                return set_err(s->err, s->errlen, EPROTO, "%s: reply line too long", step);
            line[n++] = c;
        }
        {
            ssize_t r = recv(s->fd, s->in, sizeof(s->in), 0);
            int w;

            if (r > 0) {
                s->in_pos = 0;
                s->in_len = (size_t)r;
                continue;
            }
            if (r == 0)
                return set_err(s->err, s->errlen, ECONNRESET, "%s: relay closed the connection",
                               step);
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET || errno == EPIPE)
                return set_err(s->err, s->errlen, ECONNRESET, "%s: relay closed the connection",
                               step);
            if (errno != EAGAIN)
                return set_err(s->err, s->errlen, errno, "%s: %s", step, strerror(errno));
            w = wait_fd(s->fd, POLLIN, deadline);
            if (w == 0)
                return set_err(s->err, s->errlen, ETIMEDOUT, "%s: no reply within %d s", step,
                               s->timeout_ms / 1000);
            if (w < 0)
                return set_err(s->err, s->errlen, errno, "%s: %s", step, strerror(errno));
        }
    }
}

/* quote_reply - printable, truncated copy of reply text for err */
static void quote_reply(const char *text, char *q, size_t cap)
{
    size_t n = 0;

    /* text is NUL-terminated: smtp_reply's line is filled when smtp_line
     * returns 0; the analyzer does not follow the variadic set_err to its
     * -1 and takes an unfilled line for one */
    /* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Branch) */
    for (; *text && n + 1 < cap; text++)
        q[n++] = ((unsigned char)*text < 0x20 || (unsigned char)*text >= 0x7F) ? '?' : *text;
    q[n] = '\0';
}

/* smtp_reply - read a whole (multi-line) reply; its code, or -1 */
static int smtp_reply(struct smtp *s, const char *step, char *first, size_t firstcap)
{
    char line[NOTIFY_REPLY_LINE_MAX + 1];
    struct timespec deadline;
    int code = 0;

    deadline_in(&deadline, s->timeout_ms);
    for (int i = 0; i < NOTIFY_REPLY_LINES_MAX; i++) {
        size_t len = 0;
        int c;

        if (smtp_line(s, step, &deadline, line, sizeof(line), &len) < 0)
            return -1;
        if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9'
            || line[2] < '0' || line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-')) {
            char q[ERR_TEXT_MAX];

            quote_reply(line, q, sizeof(q));
            return set_err(s->err, s->errlen, EPROTO, "%s: malformed reply \"%s\"", step, q);
        }
        c = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (i == 0) {
            code = c;
            quote_reply(len > 4 ? line + 4 : "", first, firstcap);
        } else if (c != code) {
            return set_err(s->err, s->errlen, EPROTO, "%s: reply codes %d and %d mixed", step,
                           code, c);
        }
        if (len == 3 || line[3] == ' ')
            return code;
    }
    return set_err(s->err, s->errlen, EPROTO, "%s: reply of more than %d lines", step,
                   NOTIFY_REPLY_LINES_MAX);
}

/* smtp_expect - read a reply and require code class want (2 or 3); 0, or -1
 * with EPERM for a 5xx and EPROTO for anything else */
static int smtp_expect(struct smtp *s, const char *step, int want, int *got)
{
    char text[ERR_TEXT_MAX];
    int code = smtp_reply(s, step, text, sizeof(text));

    if (got != NULL)
        *got = code;
    if (code < 0)
        return -1;
    if (code / 100 == want)
        return 0;
    return set_err(s->err, s->errlen, code / 100 == 5 ? EPERM : EPROTO, "%s: %d %s", step, code,
                   text);
}

/* smtp_cmd - send one command line and expect a reply of class want */
static int smtp_cmd(struct smtp *s, const char *step, int want, int *got, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int smtp_cmd(struct smtp *s, const char *step, int want, int *got, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(s->out, sizeof(s->out), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(s->out))
        return set_err(s->err, s->errlen, EINVAL, "%s: command too long", step);
    s->out_len = (size_t)n;
    if (smtp_flush(s, step) < 0)
        return -1;
    return smtp_expect(s, step, want, got);
}

/* smtp_data - the message, CRLF lines, dot-stuffed, then "." */
static int smtp_data(struct smtp *s, const char *msg, size_t len)
{
    int bol = 1;

    for (size_t i = 0; i < len;) {
        size_t j = i;

        if (bol && msg[i] == '.' && smtp_put(s, "message", ".", 1) < 0)
            return -1;
        while (j < len && msg[j] != '\r' && msg[j] != '\n')
            j++;
        if (smtp_put(s, "message", msg + i, j - i) < 0)
            return -1;
        if (j == len) {
            bol = (j == i) ? bol : 0;
            break;
        }
        /* CRLF, bare LF and bare CR all end a line */
        if (smtp_put(s, "message", "\r\n", 2) < 0)
            return -1;
        bol = 1;
        i = (msg[j] == '\r' && j + 1 < len && msg[j + 1] == '\n') ? j + 2 : j + 1;
    }
    if (!bol && smtp_put(s, "message", "\r\n", 2) < 0)
        return -1;
    if (smtp_put(s, "message", ".\r\n", 3) < 0 || smtp_flush(s, "message") < 0)
        return -1;
    return 0;
}

/* notify_send - submit msg to rcpt through the relay (see notify.h) */
int notify_send(const struct notify_relay *relay, const char *mail_from, const char *rcpt,
                const char *msg, size_t len, char *err, size_t errlen)
{
    struct smtp *s;
    const char *helo;
    unsigned t;
    int code = 0, r = -1, e;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (relay == NULL || relay->host == NULL || relay->host[0] == '\0' || relay->port == 0
        || relay->port > 65535)
        return set_err(err, errlen, EINVAL, "no relay host or port");
    if (!notify_addr_ok(mail_from, 1) || !notify_addr_ok(rcpt, 0))
        return set_err(err, errlen, EINVAL, "invalid sender or recipient address");
    if (msg == NULL && len > 0)
        return set_err(err, errlen, EINVAL, "no message");
    helo = relay->helo ? relay->helo : "localhost";
    if (!helo_ok(helo))
        return set_err(err, errlen, EINVAL, "invalid helo name");
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return set_err(err, errlen, ENOMEM, "out of memory");
    s->fd = -1;
    t = relay->timeout ? relay->timeout : NOTIFY_DEFAULT_TIMEOUT;
    s->timeout_ms = (int)(t > 86400 ? 86400 : t) * 1000;
    s->err = err;
    s->errlen = errlen;

    if (smtp_connect(s, relay) < 0 || smtp_expect(s, "greeting", 2, NULL) < 0)
        goto done;
    if (smtp_cmd(s, "EHLO", 2, &code, "EHLO %s\r\n", helo) < 0) {
        if (code / 100 != 5 || smtp_cmd(s, "HELO", 2, NULL, "HELO %s\r\n", helo) < 0)
            goto done;
    }
    if (smtp_cmd(s, "MAIL FROM", 2, NULL, "MAIL FROM:<%s>\r\n", mail_from) < 0
        || smtp_cmd(s, "RCPT TO", 2, NULL, "RCPT TO:<%s>\r\n", rcpt) < 0
        || smtp_cmd(s, "DATA", 3, NULL, "DATA\r\n") < 0
        || smtp_data(s, msg ? msg : "", len) < 0
        || smtp_expect(s, "end of data", 2, NULL) < 0)
        goto done;
    r = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    /* the message is accepted: QUIT is a courtesy, its outcome is ignored */
    if (smtp_cmd(s, "QUIT", 2, NULL, "QUIT\r\n") < 0 && err != NULL && errlen > 0)
        err[0] = '\0';
done:
    e = errno;
    if (s->fd >= 0)
        close(s->fd);
    OPENSSL_cleanse(s->out, sizeof(s->out));
    free(s);
    errno = r == 0 ? 0 : e;
    return r;
}
