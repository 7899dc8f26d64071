/*
 * secrets - the store of recipient keys for passphrase slots (kind 1 of
 * docs/ENVELOPE.md): what `mailseal secret set` derives once from a
 * recipient's passphrase, so that no password derivation happens at
 * start, reload or per message.
 *
 * The store is a text file, one entry per line:
 *     NAME ITERATIONS SALT_HEX KEK_HEX
 * fields separated by spaces or tabs; blank lines and lines whose first
 * non-blank character is '#' are ignored.  NAME is a lower-cased ASCII
 * address (ann@example.net) or '@' and a lower-cased ASCII domain
 * (@example.net); internationalised domains are written as A-labels.
 * ITERATIONS is decimal, from ENV_MIN_ITERATIONS to SECRETS_MAX_ITERATIONS
 * (the most the envelope writer accepts); SALT_HEX holds
 * ENV_SALT_LEN bytes and KEK_HEX ENV_KEY_LEN bytes in hexadecimal.  Lines
 * are at most SECRETS_MAX_LINE bytes, the store at most SECRETS_MAX_ENTRIES
 * entries; a name appears once.
 *
 * A loaded store is immutable and may be shared between threads; the
 * keys and names secrets_find() returns belong to it and live until
 * secrets_free(), which wipes every key.  secrets_set() and
 * secrets_remove() edit the file in place of a running loader: they write
 * a new file beside it and rename it over the old one, keeping every
 * other line as it was.  Functions taking a struct diag return NULL or -1
 * after adding the reasons to it (FILE:LINE:COL where a line is at
 * fault).  Nothing here logs or prints a key.
 */
#ifndef MAILSEAL_CRYPTO_SECRETS_H
#define MAILSEAL_CRYPTO_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/envelope.h"
#include "util/diag.h"

#define SECRETS_DEFAULT_PATH "/etc/mailseal/secrets"
#define SECRETS_MAX_ENTRIES 1000000u
#define SECRETS_MAX_LINE 1024u        /* bytes, without the line feed */
#define SECRETS_MAX_NAME 255u         /* bytes of a name ('@' + 254) */
#define SECRETS_MAX_ITERATIONS 10000000u   /* the envelope writer's ENV_MAX_ITERATIONS */

struct secrets;

/* secrets_load - read and check the store at path.  Refused when others
 * can read it or anyone but its owner can write it (keyfile_check_perms),
 * when it is missing, and when any line is wrong (every error is added). */
struct secrets *secrets_load(const char *path, struct diag *d);
/* secrets_find - the key for address: the address itself (ASCII case
 * ignored), else "@" and its domain, else "@" and each parent domain
 * ("@sub.example.net", then "@example.net", ...).  *name (when name is
 * not NULL) gets the store name that matched, for the slot's hint.  NULL
 * when nothing matches. */
const struct env_recipient_key *secrets_find(const struct secrets *s, const char *address,
                                             const char **name);
/* secrets_count - the number of entries */
size_t secrets_count(const struct secrets *s);
/* secrets_entry - the name of entry i (0 <= i < count, in byte order of
 * the names) and its iterations: for listings, which never show keys */
const char *secrets_entry(const struct secrets *s, size_t i, uint32_t *iterations);
/* secrets_free - wipe every key and release the store (NULL is allowed) */
void secrets_free(struct secrets *s);

/* secrets_name_normalize - the store name for what a user typed: ASCII
 * upper case lowered, then checked; out gets it (SECRETS_MAX_NAME + 1
 * bytes).  0, or -1 with a static reason in *why. */
int secrets_name_normalize(const char *in, char out[SECRETS_MAX_NAME + 1], const char **why);

/* secrets_set - add the entry name, or replace it where it is.  The store
 * is created (mode 0640, group of its directory) when missing; an existing
 * one keeps its owner, group and mode, and is refused like secrets_load()
 * refuses it.  Writes a temporary file in the same directory, fsyncs it
 * and renames it over the store; concurrent edits are serialised with a
 * lock on the directory. */
int secrets_set(const char *path, const char *name, const struct env_recipient_key *k,
                struct diag *d);
/* secrets_remove - remove the entry name; an error when it is not there */
int secrets_remove(const char *path, const char *name, struct diag *d);

#endif
