/*
 * gateway - reference-counted configuration generations, reload, and the
 * count of messages in flight (see gateway.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milter/gateway.h"
#include "util/log.h"

static pthread_mutex_t gw_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gw_idle = PTHREAD_COND_INITIALIZER;
static struct gw_conf *gw_current;
static char *gw_path;
static char *gw_socket;          /* the socket in use, fixed at start */
static unsigned long gw_generation;
static unsigned gw_active;       /* messages in flight */
static int gw_draining;          /* shutting down: no new messages */

/* gateway_wrap - a new generation holding cfg, with the gateway's reference */
static struct gw_conf *gateway_wrap(struct config *cfg)
{
    struct gw_conf *gc = calloc(1, sizeof(*gc));

    if (gc == NULL)
        return NULL;
    gc->cfg = cfg;
    gc->refs = 1;
    return gc;
}

/* gateway_start - load the first configuration; 0, or -1 with errors in d */
int gateway_start(const char *path, unsigned flags, const char *socket_override,
                  struct diag *d)
{
    struct config *cfg;
    struct gw_conf *gc;

    if ((cfg = config_load(path, flags, d)) == NULL)
        return -1;
    if (socket_override) {
        char *s = strdup(socket_override);

        if (s == NULL) {
            config_free(cfg);
            diag_add(d, path, 0, 0, "out of memory");
            return -1;
        }
        free(cfg->socket);
        cfg->socket = s;
    }
    if ((gw_path = strdup(path)) == NULL || (gw_socket = strdup(cfg->socket)) == NULL
        || (gc = gateway_wrap(cfg)) == NULL) {
        config_free(cfg);
        diag_add(d, path, 0, 0, "out of memory");
        return -1;
    }
    gc->generation = ++gw_generation;
    gw_current = gc;
    return 0;
}

/* gateway_acquire - a reference to the current configuration */
struct gw_conf *gateway_acquire(void)
{
    struct gw_conf *gc;

    pthread_mutex_lock(&gw_lock);
    gc = gw_current;
    if (gc)
        gc->refs++;
    pthread_mutex_unlock(&gw_lock);
    return gc;
}

/* gateway_release - drop a reference; the last one frees the generation */
void gateway_release(struct gw_conf *gc)
{
    int last;

    if (gc == NULL)
        return;
    pthread_mutex_lock(&gw_lock);
    last = --gc->refs == 0;
    pthread_mutex_unlock(&gw_lock);
    if (last) {
        config_free(gc->cfg);
        free(gc);
    }
}

/* gateway_reload - rebuild the configuration; swap only if all loaded */
int gateway_reload(void)
{
    struct diag d;
    struct config *cfg;
    struct gw_conf *gc, *old;

    diag_init(&d);
    cfg = config_load(gw_path, 0, &d);
    if (cfg == NULL) {
        for (size_t i = 0; i < diag_count(&d); i++)
            log_err(NULL, "reload: %s", diag_get(&d, i));
        log_err(NULL, "reload failed: %zu error(s); the running configuration "
                "(generation %lu) stays in force", diag_count(&d), gw_current->generation);
        diag_free(&d);
        return -1;
    }
    diag_free(&d);
    if (strcmp(cfg->socket, gw_socket) != 0)
        log_warning(NULL, "reload: milter.socket changed to %s; the socket in use (%s) "
                    "changes only at restart", cfg->socket, gw_socket);
    if ((gc = gateway_wrap(cfg)) == NULL) {
        config_free(cfg);
        log_err(NULL, "reload failed: out of memory; the running configuration stays in force");
        return -1;
    }
    log_set_level(cfg->log_level);
    pthread_mutex_lock(&gw_lock);
    gc->generation = ++gw_generation;
    old = gw_current;
    gw_current = gc;
    pthread_mutex_unlock(&gw_lock);
    log_notice(NULL, "reload: configuration generation %lu in force (%s, %zu rule(s))",
               gc->generation, gw_path, rules_count(cfg->rules));
    gateway_release(old);
    return 0;
}

/* gateway_shutdown - drop the gateway's own reference at exit */
void gateway_shutdown(void)
{
    struct gw_conf *gc;

    pthread_mutex_lock(&gw_lock);
    gc = gw_current;
    gw_current = NULL;
    pthread_mutex_unlock(&gw_lock);
    gateway_release(gc);
    free(gw_path);
    free(gw_socket);
    gw_path = gw_socket = NULL;
}

/* gateway_msg_begin - a message starts; -1 when shutting down */
int gateway_msg_begin(void)
{
    int r = 0;

    pthread_mutex_lock(&gw_lock);
    if (gw_draining)
        r = -1;
    else
        gw_active++;
    pthread_mutex_unlock(&gw_lock);
    return r;
}

/* gateway_drain - refuse new messages from now on */
void gateway_drain(void)
{
    pthread_mutex_lock(&gw_lock);
    gw_draining = 1;
    pthread_mutex_unlock(&gw_lock);
}

/* gateway_draining - 1 once shutdown began */
int gateway_draining(void)
{
    int r;

    pthread_mutex_lock(&gw_lock);
    r = gw_draining;
    pthread_mutex_unlock(&gw_lock);
    return r;
}

/* gateway_msg_end - a message ended (accepted, rejected or aborted) */
void gateway_msg_end(void)
{
    pthread_mutex_lock(&gw_lock);
    if (gw_active > 0 && --gw_active == 0)
        pthread_cond_broadcast(&gw_idle);
    pthread_mutex_unlock(&gw_lock);
}

/* gateway_wait_idle - wait up to seconds for messages in flight; count left */
int gateway_wait_idle(unsigned seconds)
{
    struct timespec until;
    unsigned left;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&gw_lock);
    while (gw_active > 0)
        if (pthread_cond_timedwait(&gw_idle, &gw_lock, &until) == ETIMEDOUT)
            break;
    left = gw_active;
    pthread_mutex_unlock(&gw_lock);
    return (int)left;
}
