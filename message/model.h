/*
 * model - what the rules see of a message: the envelope, the decoded top
 * level headers, the MIME tree with attachment names, types and sizes, and
 * the decoded text of every text part, streamed to a sink.
 *
 * msg_model_build() parses the message kept in a spool in one streaming
 * pass (the parser is pure: bytes in, events out; see mime_parse.h).  Text
 * parts are transfer-decoded (base64, quoted-printable), converted from
 * their charset to UTF-8, and HTML is reduced to its text with entities
 * decoded; that text is handed to the sink in chunks and never held whole.
 * At most lim->scan_limit bytes of text are delivered in all.
 *
 * Hitting a limit is not an error: the model is built as far as the limit
 * allows and the matching MSG_INC_* bit is set in model->incomplete, so the
 * caller can apply its on_incomplete policy.  msg_model_build() returns -1
 * with errno set only for transient faults (ENOMEM, EIO); *out is then NULL.
 * The model owns all its strings; free it with msg_model_free().
 */
#ifndef MAILSEAL_MESSAGE_MODEL_H
#define MAILSEAL_MESSAGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

struct msg_limits {
    uint64_t max_size;        /* bigger messages are not parsed (MSG_INC_SIZE) */
    size_t max_headers;       /* header fields per header block */
    size_t max_header_len;    /* bytes in one header field, folded lines included */
    unsigned max_depth;       /* MIME nesting; the message itself is depth 0 */
    size_t max_parts;         /* MIME parts in the whole message */
    uint64_t scan_limit;      /* bytes of decoded text delivered to the sink */
};

void msg_limits_default(struct msg_limits *lim);

/* Set in msg_model.incomplete when a limit was hit, or (MSG_INC_OPAQUE)
 * when content that mail readers may show was not read. */
#define MSG_INC_SIZE     0x01u  /* message larger than max_size: body not parsed */
#define MSG_INC_HEADERS  0x02u  /* too many header fields (the rest dropped) or one too long (cut) */
#define MSG_INC_DEPTH    0x04u  /* MIME nesting deeper than max_depth: not descended */
#define MSG_INC_PARTS    0x08u  /* more parts than max_parts: the rest not modelled */
#define MSG_INC_SCAN     0x10u  /* text beyond scan_limit not delivered */
#define MSG_INC_OPAQUE   0x20u  /* content not read that readers may show: a non-empty
                                 * multipart in which no part was found (all preamble), a
                                 * base64 or quoted-printable message/rfc822 or message/global */

struct msg_header {
    char *name;               /* as written, e.g. "Subject" */
    char *raw;                /* raw value after the colon, folding kept */
    char *value;              /* unfolded, trimmed, RFC 2047 decoded to UTF-8 */
};

/* msg_part.flags */
#define MSG_PART_MULTIPART       0x0001u /* multipart/x: children are its parts */
#define MSG_PART_MESSAGE         0x0002u /* message/rfc822: one child, the message */
#define MSG_PART_TEXT            0x0004u /* any text type: decoded text sent to the sink */
#define MSG_PART_HTML            0x0008u /* text/html */
#define MSG_PART_ATTACHMENT      0x0010u /* an attachment (see README, "message model") */
#define MSG_PART_BAD_ENCODING    0x0020u /* invalid base64 / quoted-printable seen */
#define MSG_PART_UNKNOWN_CHARSET 0x0040u /* charset unknown: decoded as UTF-8 or Latin-1 */
#define MSG_PART_NO_END          0x0080u /* multipart without its closing boundary */
#define MSG_PART_HEADERS_CUT     0x0100u /* part header block hit a header limit */
#define MSG_PART_ENVELOPE        0x0200u /* text/html that starts as a mailseal envelope page */

struct msg_part {
    unsigned id;              /* 0 for the message itself, then document order */
    unsigned depth;           /* 0 for the message itself */
    struct msg_part *parent;
    struct msg_part *children;   /* first child */
    struct msg_part *next;       /* next sibling */
    char *content_type;       /* lowercase "type/subtype" (RFC 2045 default applied) */
    char *charset;            /* lowercase charset parameter, NULL when absent */
    char *disposition;        /* lowercase "inline"/"attachment"/..., NULL when absent */
    char *filename;           /* UTF-8 (RFC 2231 / RFC 2047 decoded), NULL when none */
    char *encoding;           /* lowercase Content-Transfer-Encoding, "7bit" default */
    struct msg_header *headers;  /* this part's own header block */
    size_t nheaders;
    uint64_t body_offset;     /* offset of the part's body in the spool */
    uint64_t raw_size;        /* bytes of the (encoded) body */
    uint64_t decoded_size;    /* bytes after transfer decoding */
    unsigned flags;           /* MSG_PART_* */
};

struct msg_rcpt {
    char *addr;               /* without angle brackets */
    char *domain;             /* lowercase, "" when none */
    int external;             /* 1 when outside organization.domains */
};

struct msg_envelope {
    char *from;               /* envelope sender, "" for the null sender */
    char *from_domain;
    int from_external;
    struct msg_rcpt *rcpts;
    size_t nrcpts;
    size_t cap;
};

/* Receives decoded UTF-8 text in chunks; return -1 to stop delivery. */
struct msg_text_sink {
    int (*text)(void *arg, const struct msg_part *part, const char *utf8, size_t len);
    void (*part_end)(void *arg, const struct msg_part *part);   /* may be NULL */
    void *arg;
};

struct msg_model {
    struct msg_part *root;    /* the message itself; root->headers are the top level */
    size_t nparts;
    const char *subject;      /* decoded Subject, "" when absent (points into root) */
    uint64_t size;            /* bytes of the whole message */
    uint64_t text_bytes;      /* bytes of text delivered to the sink */
    unsigned incomplete;      /* MSG_INC_* */
};

int msg_model_build(struct spool *sp, const struct msg_limits *lim,
                    const struct msg_text_sink *sink, struct msg_model **out);
void msg_model_free(struct msg_model *m);
const struct msg_header *msg_header_find(const struct msg_part *part,
                                         const char *name, size_t nth);

/* Envelope helpers: addresses are stored without <>, domains lowercased. */
void msg_envelope_init(struct msg_envelope *env);
int msg_envelope_set_from(struct msg_envelope *env, const char *addr);
int msg_envelope_add_rcpt(struct msg_envelope *env, const char *addr);
int msg_envelope_has_rcpt(const struct msg_envelope *env, const char *addr);
void msg_envelope_free(struct msg_envelope *env);

#endif
