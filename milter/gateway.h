/*
 * gateway - the running configuration and its replacement on reload.
 *
 * The current configuration is a reference-counted generation.  A message
 * takes a reference when it starts (gateway_acquire) and keeps using that
 * configuration until it ends (gateway_release), whatever reloads happen
 * meanwhile.  gateway_reload() builds a complete new configuration (file,
 * rules, secret) and swaps it in only when everything loaded; otherwise it
 * logs every error and the running configuration stays in force.
 * The socket is fixed at start: a reload that changes it logs a warning.
 *
 * gateway_msg_begin()/gateway_msg_end() count messages in flight so that
 * shutdown can wait for them (gateway_wait_idle).  Once gateway_drain()
 * is called, gateway_msg_begin() refuses new messages (returns -1): the
 * MTA is answered tempfail and retries later.  Thread-safe.
 */
#ifndef MAILSEAL_MILTER_GATEWAY_H
#define MAILSEAL_MILTER_GATEWAY_H

#include "config/config.h"

struct gw_conf {
    struct config *cfg;
    unsigned long generation;
    int refs;                 /* protected by the gateway lock */
};

int gateway_start(const char *path, unsigned flags, const char *socket_override,
                  struct diag *d);
struct gw_conf *gateway_acquire(void);
void gateway_release(struct gw_conf *gc);
int gateway_reload(void);
void gateway_shutdown(void);
int gateway_msg_begin(void);
void gateway_msg_end(void);
void gateway_drain(void);
int gateway_draining(void);
int gateway_wait_idle(unsigned seconds);

#endif
