/*
 * decide - model the message and evaluate the rules (see decide.h).
 */
#include <errno.h>
#include <string.h>

#include "milter/decide.h"

/* decide - build the model and evaluate the rules on it */
int decide(const struct config *cfg, struct spool *sp, const struct msg_envelope *env,
           unsigned capture_incomplete, struct decision *d)
{
    struct rules_scan *scan;
    int r = -1;

    memset(d, 0, sizeof(*d));
    if ((scan = rules_scan_new(cfg->rules)) == NULL)
        return -1;
    if (msg_model_build(sp, &cfg->limits, rules_scan_sink(scan), &d->model) < 0)
        goto out;
    d->model->incomplete |= capture_incomplete;
    r = rules_eval(cfg->rules, d->model, env, scan, cfg->on_incomplete, &d->res);
out:
    rules_scan_free(scan);
    if (r < 0) {
        int err = errno;

        decision_free(d);
        errno = err;
    }
    return r;
}

/* decision_free - release the model and the result */
void decision_free(struct decision *d)
{
    rules_result_free(&d->res);
    msg_model_free(d->model);
    memset(d, 0, sizeof(*d));
}
