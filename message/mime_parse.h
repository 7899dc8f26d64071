/*
 * mime_parse - a pure streaming MIME parser: bytes in, events out.
 *
 * mime_parse_new(limits, callbacks), then mime_parse_push() the message in
 * chunks of any size, mime_parse_finish() at its end, mime_parse_free().
 * The parser knows nothing of files or the network.
 *
 * Events, in document order: part_begin (the part's header block has been
 * read; its Content-Type and Content-Transfer-Encoding are parsed), body
 * (raw, still transfer-encoded bytes of a leaf part, in pieces) and
 * part_end.  Parts nest: every part_begin of a child comes between the
 * part_begin and part_end of its parent.  Preamble and epilogue of a
 * multipart are not reported; the line break before a boundary belongs to
 * the boundary.  A message/rfc822 (or message/global) part that is not
 * base64 or quoted-printable encoded is parsed as a nested message: its one
 * child is the message.
 *
 * Limits (struct msg_limits): a header block keeps max_headers fields of at
 * most max_header_len bytes (MSG_INC_HEADERS, MSG_PART_HEADERS_CUT); a
 * container whose children would be deeper than max_depth is reported as
 * a leaf, its content opaque (MSG_INC_DEPTH); past max_parts parts (the
 * message itself included) no part is created: a container without room
 * for a child becomes an opaque leaf and later parts are skipped
 * (MSG_INC_PARTS).  Boundaries up to MIME_BOUNDARY_MAX bytes are accepted.
 * Memory is bounded by the limits, whatever the input: one line of at most
 * MIME_LINE_CAP bytes is buffered, longer lines pass through in pieces, the
 * stack of open parts has at most max_depth + 1 entries, and nothing
 * recurses on the input.  Time is linear in the input.
 *
 * Callbacks return 0 to go on, MIME_STOP to end parsing quietly (later
 * pushes are ignored, no more events), or -1 with errno set to fail: the
 * push or finish then returns -1 with that errno, and so does every later
 * call.  The struct mime_part handed to a callback, and all it points to,
 * is valid only during the call.
 */
#ifndef MAILSEAL_MESSAGE_MIME_PARSE_H
#define MAILSEAL_MESSAGE_MIME_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "message/mime_header.h"
#include "message/model.h"

#define MIME_LINE_CAP 4096        /* bytes of a line examined for a boundary */
#define MIME_STOP 1               /* callback result: stop parsing, not an error */

enum mime_kind {
    MIME_LEAF,                    /* body bytes are reported */
    MIME_MULTIPART,               /* children are its parts */
    MIME_MESSAGE                  /* one child: the encapsulated message */
};

struct mime_part {
    unsigned id;                  /* 0 for the message, then document order */
    unsigned depth;               /* 0 for the message */
    unsigned parent;              /* id of the enclosing part (0 for the message itself) */
    enum mime_kind kind;
    struct mime_hdrs *hdrs;       /* part_begin only: the header block; the callback may
                                     take the fields (set hdrs->v NULL, hdrs->n 0) */
    const struct mime_ctype *ct;  /* part_begin only: Content-Type, RFC 2045 default applied */
    enum mime_cte cte;
    char cte_name[MIME_CTE_NAME_MAX];   /* lowercase, "7bit" when absent */
    uint64_t header_offset;       /* where the header block starts */
    uint64_t body_offset;         /* where the body starts */
    uint64_t body_end;            /* part_end only: where the body ends */
    unsigned flags;               /* MSG_PART_NO_END, MSG_PART_HEADERS_CUT */
    unsigned limited;             /* MSG_INC_DEPTH or MSG_INC_PARTS: made a leaf by a limit */
};

struct mime_callbacks {
    int (*part_begin)(void *arg, struct mime_part *part);
    int (*body)(void *arg, const struct mime_part *part, const char *data, size_t len);
    int (*part_end)(void *arg, const struct mime_part *part);  /* body_end is set */
    void *arg;
};

struct mime_parser;

/* NULL with errno ENOMEM.  Callbacks may be NULL. */
struct mime_parser *mime_parse_new(const struct msg_limits *lim, const struct mime_callbacks *cb);
int mime_parse_push(struct mime_parser *p, const char *data, size_t len);
int mime_parse_finish(struct mime_parser *p);
unsigned mime_parse_incomplete(const struct mime_parser *p);   /* MSG_INC_HEADERS|DEPTH|PARTS */
size_t mime_parse_nparts(const struct mime_parser *p);
int mime_parse_stopped(const struct mime_parser *p);
size_t mime_parse_memory(const struct mime_parser *p);          /* bytes held now */
void mime_parse_free(struct mime_parser *p);

#endif
