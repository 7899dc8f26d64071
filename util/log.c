/*
 * log - levelled logging to syslog and/or stderr (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include "util/log.h"

static int log_to_stderr = 1;
static int log_to_syslog;
static int log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct { const char *name; int value; } log_levels[] = {
    { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
    { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

static const struct { const char *name; int value; } log_facilities[] = {
    { "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
    { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
    { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
    { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* log_open - choose the destinations; ident names the program in syslog */
void log_open(const char *ident, int to_stderr, int to_syslog, int facility)
{
    log_to_stderr = to_stderr;
    log_to_syslog = to_syslog;
    if (to_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

/* log_set_level - drop lines less important than level */
void log_set_level(int level)
{
    log_level = level;
}

/* log_get_level - the current threshold */
int log_get_level(void)
{
    return log_level;
}

/* log_level_parse - level by name, -1 when unknown */
int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
        if (strcasecmp(name, log_levels[i].name) == 0)
            return log_levels[i].value;
    return -1;
}

/* log_facility_parse - syslog facility by name, -1 when unknown */
int log_facility_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
        if (strcasecmp(name, log_facilities[i].name) == 0)
            return log_facilities[i].value;
    return -1;
}

/* log_close - close syslog */
void log_close(void)
{
    if (log_to_syslog)
        closelog();
}

/* log_level_name - the word printed on stderr for a level */
static const char *log_level_name(int level)
{
    for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
        if (log_levels[i].value == level)
            return log_levels[i].name;
    return "error";
}

/* log_vmsg - format, sanitise and emit one line */
static void log_vmsg(int level, const char *qid, const char *fmt, va_list ap)
{
    char line[2048];
    int n;

    n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0)
        return;
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (qid == NULL || *qid == 0)
        qid = "NOQUEUE";
    pthread_mutex_lock(&log_lock);
    if (log_to_syslog)
        syslog(level, "%s: %s", qid, line);
    if (log_to_stderr)
        fprintf(stderr, "mailseal-milter[%s] %s: %s\n", log_level_name(level),
                qid, line);
    pthread_mutex_unlock(&log_lock);
}

/* log_msg - log one line at level, tagged with the queue id */
void log_msg(int level, const char *qid, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    log_vmsg(level, qid, fmt, ap);
    va_end(ap);
}

/* log_fatal - log a start-up failure and exit 1 */
void log_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(LOG_ERR, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}
