/*
 * smfi_ops - every libmilter call the callbacks make goes through this
 * table, so tests can drive the callbacks with a recording fake instead of
 * an MTA (as OpenDKIM does).  ms_smfi points at the real libmilter
 * functions unless a test replaces it.
 */
#ifndef MAILSEAL_MILTER_SMFI_OPS_H
#define MAILSEAL_MILTER_SMFI_OPS_H

#include <libmilter/mfapi.h>

struct smfi_ops {
    char *(*getsymval)(SMFICTX *ctx, char *name);
    int (*setpriv)(SMFICTX *ctx, void *priv);
    void *(*getpriv)(SMFICTX *ctx);
    int (*setreply)(SMFICTX *ctx, char *rcode, char *xcode, char *text);
    int (*addheader)(SMFICTX *ctx, char *name, char *value);
    int (*chgheader)(SMFICTX *ctx, char *name, int idx, char *value);
    int (*quarantine)(SMFICTX *ctx, char *reason);
    int (*setsymlist)(SMFICTX *ctx, int stage, char *macros);
    int (*addrcpt)(SMFICTX *ctx, char *rcpt);
    int (*replacebody)(SMFICTX *ctx, unsigned char *data, int len);
};

extern const struct smfi_ops *ms_smfi;
extern const struct smfi_ops smfi_ops_libmilter;

#endif
