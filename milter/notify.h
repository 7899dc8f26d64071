/*
 * notify - the message that tells an envelope sender the per-message
 * random passphrase (kind 2 slot, docs/ENVELOPE.md), and a small SMTP
 * client that submits it to a relay (normally the local MTA).
 *
 * notify_compose() writes the whole notification (RFC 5322, CRLF lines,
 * 7-bit: the body is quoted-printable UTF-8, the subject RFC 2047-encoded
 * when not ASCII) and appends it to out.  Control characters (CR, LF, ...)
 * in the original subject and the recipients are replaced by spaces, so
 * they cannot start a header line.  The from and to addresses and the helo
 * name must be free of "<", ">", white space and control characters.  The
 * result holds the passphrase: the caller owns out and should wipe it
 * (OPENSSL_cleanse) before buf_free().  Returns 0, or -1 with errno:
 * EINVAL for a bad argument, or buf.h's EOVERFLOW / ENOMEM (out is then
 * freed, see buf.h).
 *
 * notify_send() submits msg (CRLF lines, not dot-stuffed; bare LF or CR
 * are sent as CRLF) from envelope sender mail_from ("" is the null sender
 * <>) to one recipient: it tries each address of relay->host in turn
 * (non-blocking connect), then 220, EHLO (HELO when EHLO gets a 5xx),
 * MAIL, RCPT, DATA, the dot-stuffed message and ".", and QUIT.  Each step
 * (connect, every reply, every write) has relay->timeout seconds; replies
 * are capped (NOTIFY_REPLY_LINE_MAX per line, NOTIFY_REPLY_LINES_MAX
 * lines).  Returns 0 when the relay answered 250 to the message; else -1
 * with errno and a short reason in err (the step and the relay's reply,
 * never message content):
 *   EINVAL       a bad argument (an address with "<", ">", white space or
 *                control characters, no host, port 0 or above 65535);
 *   EHOSTUNREACH the host name did not resolve;
 *   ETIMEDOUT    a step took longer than the timeout;
 *   ECONNREFUSED (and other connect errors) no address could be reached;
 *   ECONNRESET   the relay closed the connection during the dialogue;
 *   EPERM        the relay answered with a permanent (5xx) code;
 *   EPROTO       a transient (4xx) code, any other unexpected code, or a
 *                malformed or overlong reply.
 * The caller tempfails on anything but EPERM (EINVAL is a local error).
 * SIGPIPE is never raised (MSG_NOSIGNAL).  Thread-safe.
 */
#ifndef MAILSEAL_MILTER_NOTIFY_H
#define MAILSEAL_MILTER_NOTIFY_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define NOTIFY_REPLY_LINE_MAX   1024    /* bytes of one reply line */
#define NOTIFY_REPLY_LINES_MAX  100     /* lines of one multi-line reply */
#define NOTIFY_ADDR_MAX         512     /* bytes of an address */
#define NOTIFY_SUBJECT_MAX      400     /* bytes of the original subject kept */
#define NOTIFY_RCPTS_LISTED     50      /* recipients listed by name in the body */
#define NOTIFY_DEFAULT_TIMEOUT  30      /* seconds, when relay->timeout is 0 */

struct notify_relay {
    const char *host;       /* name, IPv4 or IPv6 literal (no brackets) */
    unsigned port;
    unsigned timeout;       /* seconds per SMTP step; 0: NOTIFY_DEFAULT_TIMEOUT */
    const char *helo;       /* name for EHLO; NULL: "localhost" */
};

int notify_compose(struct buf *out, const char *from, const char *to,
                   const char *orig_subject, const char *const *rcpts, size_t nrcpts,
                   const char *passphrase_shown, const char *helo);
/* notify_compose_at - notify_compose() with the time the message was sent
 * (Date header and the date in the body); when <= 0 means now */
int notify_compose_at(struct buf *out, const char *from, const char *to,
                      const char *orig_subject, const char *const *rcpts, size_t nrcpts,
                      const char *passphrase_shown, const char *helo, time_t when);

int notify_send(const struct notify_relay *relay, const char *mail_from, const char *rcpt,
                const char *msg, size_t len, char *err, size_t errlen);

/* notify_addr_ok - 1 when addr may go into MAIL FROM/RCPT TO (empty allowed
 * only when allow_empty), else 0 */
int notify_addr_ok(const char *addr, int allow_empty);

#endif
