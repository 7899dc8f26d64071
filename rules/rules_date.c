/*
 * rules_date - the dates of a rule's active: period, "YYYY-MM-DD" or ISO
 * 8601 "YYYY-MM-DDTHH:MM[:SS[.fraction]]" with a zone ("Z", "+HH:MM",
 * "+HHMM", "-HH:MM"); a space may stand for the "T".
 *
 * Interface: rules_date_parse() (rules_cond_int.h).  Pure: a string in, a
 * time_t out; no locale, no time zone database, no libc time parsing.  A
 * date alone means midnight UTC at the start of that day, or with
 * end_of_day the midnight after it (so "until: 2026-03-31" includes the
 * 31st).  Returns -1 for anything else, impossible dates (2026-02-30)
 * included.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rules/rules_cond_int.h"

/* digits - n decimal digits at s into *v; 0 or -1 */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* month_days - days in month m of year y */
static int month_days(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* rules_date_parse - a date or a date and time with a zone */
int rules_date_parse(const char *s, int end_of_day, time_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, zh = 0, zm = 0, sign = 0;
    int64_t t;

    if (strlen(s) < 10 || digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0
        || s[7] != '-' || digits(s + 8, 2, &d) < 0)
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
        return -1;
    s += 10;
    if (*s == '\0') {
        t = (days_from_civil(y, mo, d) + (end_of_day ? 1 : 0)) * 86400;
        *out = (time_t)t;
        return 0;
    }
    if ((*s != 'T' && *s != 't' && *s != ' ') || digits(s + 1, 2, &h) < 0 || s[3] != ':'
        || digits(s + 4, 2, &mi) < 0)
        return -1;
    s += 6;
    if (*s == ':') {
        if (digits(s + 1, 2, &sec) < 0)
            return -1;
        s += 3;
        if (*s == '.' || *s == ',') {
            s++;
            if (*s < '0' || *s > '9')
                return -1;
            while (*s >= '0' && *s <= '9')
                s++;
        }
    }
    if (h > 23 || mi > 59 || sec > 59)
        return -1;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        if (digits(s + 1, 2, &zh) < 0)
            return -1;
        s += 3;
        if (*s == ':')
            s++;
        if (digits(s, 2, &zm) < 0 || zh > 23 || zm > 59)
            return -1;
        s += 2;
    } else {
        return -1;            /* a time needs its zone */
    }
    if (*s != '\0')
        return -1;
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
        - sign * (zh * 3600 + zm * 60);
    if (sizeof(time_t) < 8 && (t > INT32_MAX || t < 0))
        return -1;
    *out = (time_t)t;
    return 0;
}
