/*
 * decide - the gateway's decision on one message: build the message model
 * from the spool with the rules' text sink, then evaluate the rules.
 *
 * The milter calls it at end of message and `mailseal test` calls it on a
 * saved message, so a dry run goes through exactly the code the milter
 * uses.  decide() fills *d (free with decision_free()); it returns -1 with
 * errno set only on a transient fault (the milter then tempfails).
 * capture_incomplete carries the MSG_INC_* bits found while receiving.
 */
#ifndef MAILSEAL_MILTER_DECIDE_H
#define MAILSEAL_MILTER_DECIDE_H

#include "config/config.h"
#include "message/model.h"
#include "message/spool.h"
#include "rules/rules.h"

struct decision {
    struct msg_model *model;
    struct rules_result res;
};

int decide(const struct config *cfg, struct spool *sp, const struct msg_envelope *env,
           unsigned capture_incomplete, struct decision *d);
void decision_free(struct decision *d);

#endif
