/*
 * mime_header - MIME header values and header blocks, parsed without I/O.
 *
 * Structured values: Content-Type (RFC 2045, lowercase "type/subtype", the
 * RFC 2045 default when absent or invalid: text/plain, or message/rfc822
 * inside multipart/digest), Content-Disposition and Content-Transfer-
 * Encoding, with their parameters: quoted strings, comments, RFC 2231
 * (name*=charset'lang'%XX and continuations name*0= name*1*= in any order)
 * converted to UTF-8, and RFC 2047 encoded words inside parameter values
 * (not RFC-conforming, but common).  Every size is capped; going over a cap
 * truncates and sets a flag, never fails.
 *
 * Header blocks: mime_hdrs collects "Name: value" fields line by line (or
 * in pieces of a long line), keeps continuation lines in the raw value,
 * accepts CRLF and bare LF, removes NUL bytes, skips lines that are not
 * fields, keeps at most max_headers fields and cuts a field at
 * max_header_len bytes; every such event is reported in ->flags.
 *
 * Ownership: results own their strings; release them with the matching
 * *_free().  Functions returning int give -1 with errno ENOMEM only when
 * memory runs out; malformed input is never an error.
 */
#ifndef MAILSEAL_MESSAGE_MIME_HEADER_H
#define MAILSEAL_MESSAGE_MIME_HEADER_H

#include <stddef.h>

#include "util/buf.h"

#define MIME_PARAMS_MAX        64    /* parameters kept per field value */
#define MIME_PARAM_VALUE_MAX   8192  /* bytes of one parameter value */
#define MIME_2231_SECTIONS_MAX 64    /* RFC 2231 sections joined per parameter */
#define MIME_TOKEN_MAX         256   /* bytes of a type, subtype or name token */
#define MIME_BOUNDARY_MAX      1000  /* longest boundary accepted (RFC 2046: 70) */
#define MIME_CTE_NAME_MAX      32    /* bytes kept of an encoding name */

/* mime_params.flags, mime_ctype.flags, mime_disp.flags */
#define MIME_PF_TRUNCATED 0x01u  /* a value, a token or the list hit a cap */
#define MIME_PF_SYNTAX    0x02u  /* malformed parts of the value were skipped */
#define MIME_CT_ABSENT    0x10u  /* no Content-Type: the default applies */
#define MIME_CT_INVALID   0x20u  /* unusable Content-Type: the default applies */

struct mime_param {
    char *name;               /* lowercase, RFC 2231 '*' and section removed */
    char *value;              /* UTF-8 (raw bytes for "boundary") */
};

struct mime_params {
    struct mime_param *v;
    size_t n;
    unsigned flags;           /* MIME_PF_* */
};

int mime_params_parse(const char *s, size_t len, struct mime_params *ps);
const char *mime_params_get(const struct mime_params *ps, const char *name);
void mime_params_free(struct mime_params *ps);

struct mime_ctype {
    char *type;               /* lowercase "type/subtype" */
    const char *boundary;     /* multipart only: 1..MIME_BOUNDARY_MAX bytes, else NULL */
    const char *charset;      /* the charset parameter as written, NULL when absent */
    struct mime_params params;
    unsigned flags;           /* MIME_PF_*, MIME_CT_* */
};

/* value NULL: the header is absent.  digest: the part is a child of multipart/digest. */
int mime_ctype_parse(const char *value, size_t len, int digest, struct mime_ctype *ct);
void mime_ctype_free(struct mime_ctype *ct);

struct mime_disp {
    char *type;               /* lowercase ("inline", "attachment" ...), NULL when absent or empty */
    struct mime_params params;
    unsigned flags;
};

int mime_disp_parse(const char *value, size_t len, struct mime_disp *d);
void mime_disp_free(struct mime_disp *d);

enum mime_cte {
    MIME_CTE_7BIT,
    MIME_CTE_8BIT,
    MIME_CTE_BINARY,
    MIME_CTE_QP,
    MIME_CTE_BASE64,
    MIME_CTE_OTHER            /* unknown token: the body is taken as it is */
};

/* name receives the lowercase token ("7bit" when absent or empty). */
enum mime_cte mime_cte_parse(const char *value, size_t len, char name[MIME_CTE_NAME_MAX]);

/* Unfold a raw value: drop CR and LF, trim white space at both ends. */
int mime_unfold(const char *s, size_t len, struct buf *out);

/* mime_hdrs.flags */
#define MIME_HF_TOO_MANY 0x01u   /* fields beyond max_headers were dropped */
#define MIME_HF_TOO_LONG 0x02u   /* a field was cut at max_header_len bytes */
#define MIME_HF_BAD_LINE 0x04u   /* lines that are not header fields were skipped */
#define MIME_HF_NUL      0x08u   /* NUL bytes were removed */
#define MIME_HF_MBOX     0x10u   /* a leading mbox "From " line was skipped */

/* mime_hdrs_feed() result: the first line of the block is not a field. */
#define MIME_HDRS_BODY 1

struct mime_hdr {
    char *name;               /* as written, white space before the colon removed */
    char *raw;                /* everything after the colon, line breaks of folding kept */
};

struct mime_hdrs {
    struct mime_hdr *v;
    size_t n;
    unsigned flags;           /* MIME_HF_* */
    /* private */
    size_t cap;
    size_t max_headers;
    size_t max_len;           /* bytes of "Name:raw" kept per field */
    struct buf cur;           /* the field being collected, "Name:raw" */
    size_t name_len;
    char eol[2];              /* line break ending the last line of cur */
    unsigned eol_len;
    int mode;                 /* what later pieces of the current line are */
    size_t lines;             /* lines fed so far */
    int mbox;                 /* a first line "From " is an mbox separator */
};

void mime_hdrs_init(struct mime_hdrs *h, size_t max_headers, size_t max_len, int mbox);
/*
 * Feed one line of a block, with its line break (CRLF or LF) when it has
 * one; a long line may come in pieces (bol = 0 for all but the first).
 * Never feed the empty line that ends the block.  Returns 0, MIME_HDRS_BODY
 * when the block's first line is not a field (the block is empty and that
 * line starts the body), or -1 (ENOMEM).
 */
int mime_hdrs_feed(struct mime_hdrs *h, const char *s, size_t len, int bol);
int mime_hdrs_end(struct mime_hdrs *h);          /* the block is complete */
const struct mime_hdr *mime_hdrs_find(const struct mime_hdrs *h, const char *name, size_t nth);
/* One shot: parse the block at s; *body receives the offset of the body. */
int mime_hdrs_parse(const char *s, size_t len, struct mime_hdrs *h, size_t *body);
void mime_hdrs_free(struct mime_hdrs *h);        /* fields and state; limits kept */

#endif
