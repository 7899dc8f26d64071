/*
 * callbacks - the libmilter callbacks of mailseal-milter.
 *
 * mailseal_desc is handed to smfi_register().  The callbacks receive and
 * spool the message, and at end of message verify the loop marker, build
 * the message model, evaluate the rules and apply the decision (apply.h).
 * Any transient fault answers tempfail (451 4.3.0), never accept.
 */
#ifndef MAILSEAL_MILTER_CALLBACKS_H
#define MAILSEAL_MILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

extern struct smfiDesc mailseal_desc;

sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                      unsigned long f2, unsigned long f3, unsigned long *pf0,
                      unsigned long *pf1, unsigned long *pf2, unsigned long *pf3);
sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr);
sfsistat cb_envfrom(SMFICTX *ctx, char **argv);
sfsistat cb_envrcpt(SMFICTX *ctx, char **argv);
sfsistat cb_header(SMFICTX *ctx, char *name, char *value);
sfsistat cb_data(SMFICTX *ctx);
sfsistat cb_eoh(SMFICTX *ctx);
sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len);
sfsistat cb_eom(SMFICTX *ctx);
sfsistat cb_abort(SMFICTX *ctx);
sfsistat cb_close(SMFICTX *ctx);

#endif
