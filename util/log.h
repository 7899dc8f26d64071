/*
 * log - the daemon's logging: levels with one meaning each, a queue id on
 * every line, to syslog and/or stderr.
 *
 *   LOG_ERR      something failed; the message or the operation was refused
 *                or tempfailed, the service goes on
 *   LOG_WARNING  something is wrong with input or configuration, handled
 *   LOG_NOTICE   normal but significant: start, stop, reload, a rule matched
 *   LOG_INFO     one line per message processed
 *   LOG_DEBUG    detail for developers
 * log_fatal() is for start-up only: it logs and exits 1.
 *
 * Never pass message content, keys or passphrases.  Control characters in
 * the formatted line are replaced, so an address cannot forge log lines.
 * Thread-safe.
 */
#ifndef MAILSEAL_UTIL_LOG_H
#define MAILSEAL_UTIL_LOG_H

#include <syslog.h>

void log_open(const char *ident, int to_stderr, int to_syslog, int facility);
void log_set_level(int level);
int log_get_level(void);
int log_level_parse(const char *name);
int log_facility_parse(const char *name);
void log_close(void);
void log_msg(int level, const char *qid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void log_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#define log_err(qid, ...)     log_msg(LOG_ERR, (qid), __VA_ARGS__)
#define log_warning(qid, ...) log_msg(LOG_WARNING, (qid), __VA_ARGS__)
#define log_notice(qid, ...)  log_msg(LOG_NOTICE, (qid), __VA_ARGS__)
#define log_info(qid, ...)    log_msg(LOG_INFO, (qid), __VA_ARGS__)
#define log_debug(qid, ...)   log_msg(LOG_DEBUG, (qid), __VA_ARGS__)

#endif
