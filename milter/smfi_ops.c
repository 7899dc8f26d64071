/*
 * smfi_ops - the libmilter call table (see smfi_ops.h).
 */
#include "milter/smfi_ops.h"

const struct smfi_ops smfi_ops_libmilter = {
    .getsymval = smfi_getsymval,
    .setpriv = smfi_setpriv,
    .getpriv = smfi_getpriv,
    .setreply = smfi_setreply,
    .addheader = smfi_addheader,
    .chgheader = smfi_chgheader,
    .quarantine = smfi_quarantine,
    .setsymlist = smfi_setsymlist,
    .addrcpt = smfi_addrcpt,
    .replacebody = smfi_replacebody,
};

const struct smfi_ops *ms_smfi = &smfi_ops_libmilter;
