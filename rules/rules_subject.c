/*
 * rules_subject - the subject rewriting of the remove_subject_tag action,
 * shared by the milter (apply.c) and `mailseal test`.
 *
 * Interface: rules_strip_subject_tags() (see rules.h).  It is pure: a
 * string in, a string out in the caller's capped buffer.  One pass over
 * the subject copies it to out; after each byte, a tag that now ends out
 * is cut off, so a tag that two removed pieces form ("[enc[encrypt]rypt]")
 * goes as well.  The white space before and after a removed tag becomes
 * one space, or none at the start or end of the subject.  Matching folds
 * ASCII letters only.  Cost: bytes of the subject times the bytes of the
 * tags, both capped (subject by out's cap, tags at load).  Fails only when
 * out's cap is reached (-1, out emptied, as buf.h does).
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "rules/rules.h"
#include "util/buf.h"

/* subj_is_space - white space inside a subject line */
static int subj_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* subj_fold - ASCII lower case */
static int subj_fold(char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : (unsigned char)c;
}

/* subj_ends_with_tag - the length of a tag that ends out, 0 when none */
static size_t subj_ends_with_tag(const struct buf *out, const char *const *tags,
                                 size_t ntags)
{
    for (size_t t = 0; t < ntags; t++) {
        size_t len = strlen(tags[t]), i;

        if (len == 0 || len > out->len)
            continue;
        for (i = 0; i < len; i++)
            if (subj_fold(out->data[out->len - 1 - i]) != subj_fold(tags[t][len - 1 - i]))
                break;
        if (i == len)
            return len;
    }
    return 0;
}

/* rules_strip_subject_tags - the subject without the tags (see rules.h) */
int rules_strip_subject_tags(const char *subject, const char *const *tags,
                             size_t ntags, struct buf *out)
{
    const char *p = subject ? subject : "";
    size_t start = out->len;
    int removed = 0;

    while (*p) {
        size_t len;
        int gap = 0;

        if (buf_addc(out, *p++) < 0)
            return -1;
        if ((len = subj_ends_with_tag(out, tags, ntags)) == 0 || out->len - len < start)
            continue;
        removed = 1;
        len = out->len - len;
        while (len > start && subj_is_space(out->data[len - 1])) {
            len--;
            gap = 1;
        }
        buf_truncate(out, len);
        while (subj_is_space(*p)) {
            p++;
            gap = 1;
        }
        if (gap && out->len > start && *p && buf_addc(out, ' ') < 0)
            return -1;
    }
    return removed;
}
