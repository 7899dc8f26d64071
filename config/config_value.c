/*
 * config_value - the value syntaxes of the configuration (sizes,
 * durations, milter sockets, domain patterns, networks) and the questions
 * the milter asks of a loaded configuration (is this domain ours, is this
 * client in scope).
 *
 * Interface: config_parse_size(), config_parse_duration(),
 * config_check_socket(), config_domain_is_internal() and
 * config_client_in_scope() from config.h; config_parse_domain() and
 * config_parse_net() from config_int.h for the loader.  All are pure
 * functions of their arguments: no allocation except where a result string
 * is returned (the caller frees it), no global state, safe in threads.
 * Invalid input gives -1 and, where there is one, a static reason text.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "config/config.h"
#include "config/config_int.h"

/* cv_number - leading decimal digits of s; NULL on overflow or none */
static const char *cv_number(const char *s, unsigned long long *v)
{
    unsigned long long n = 0;

    if (*s < '0' || *s > '9')
        return NULL;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (n > (ULLONG_MAX - d) / 10)
            return NULL;
        n = n * 10 + d;
    }
    *v = n;
    return s;
}

/* config_parse_size - "512", "64K", "10MB", "1GiB" (1K = 1024) */
int config_parse_size(const char *s, unsigned long long *out)
{
    static const struct { const char *unit; unsigned long long mult; } units[] = {
        { "", 1 }, { "b", 1 },
        { "k", 1ull << 10 }, { "kb", 1ull << 10 }, { "kib", 1ull << 10 },
        { "m", 1ull << 20 }, { "mb", 1ull << 20 }, { "mib", 1ull << 20 },
        { "g", 1ull << 30 }, { "gb", 1ull << 30 }, { "gib", 1ull << 30 },
        { "t", 1ull << 40 }, { "tb", 1ull << 40 }, { "tib", 1ull << 40 },
    };
    unsigned long long v;

    if (s == NULL || (s = cv_number(s, &v)) == NULL)
        return -1;
    if (*s == ' ')
        s++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(s, units[i].unit) == 0) {
            if (v > ULLONG_MAX / units[i].mult)
                return -1;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

/* config_parse_duration - "90", "30s", "5m", "2h", "7d", "1w" (plain: seconds) */
int config_parse_duration(const char *s, long *out)
{
    static const struct { const char *unit; unsigned long long mult; } units[] = {
        { "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
        { "w", 604800 },
    };
    unsigned long long v;

    if (s == NULL || (s = cv_number(s, &v)) == NULL)
        return -1;
    if (*s == ' ')
        s++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(s, units[i].unit) == 0) {
            if (v > (unsigned long long)LONG_MAX / units[i].mult)
                return -1;
            *out = (long)(v * units[i].mult);
            return 0;
        }
    }
    return -1;
}

/* cv_hostname - 1 when s is a plausible host name (LDH labels, dots) */
static int cv_hostname(const char *s)
{
    size_t label = 0;

    if (*s == 0 || strlen(s) > 253)
        return 0;
    for (; *s; s++) {
        if (*s == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

/* config_check_socket - milter socket syntax as libmilter takes it */
int config_check_socket(const char *s, const char **why)
{
    const char *rest, *at;
    unsigned long long port;
    int v6;

    *why = NULL;
    if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
        rest = strchr(s, ':') + 1;
        if (rest[0] != '/') {
            *why = "the socket path must be absolute";
            return -1;
        }
        if (strlen(rest) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            *why = "the socket path is longer than 107 bytes";
            return -1;
        }
        for (const char *p = rest; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7F) {
                *why = "the socket path contains a control character";
                return -1;
            }
        }
        return 0;
    }
    if (strncmp(s, "inet:", 5) == 0) {
        v6 = 0;
        rest = s + 5;
    } else if (strncmp(s, "inet6:", 6) == 0) {
        v6 = 1;
        rest = s + 6;
    } else {
        *why = "expected unix:/absolute/path, local:/absolute/path, inet:PORT@HOST "
               "or inet6:PORT@HOST";
        return -1;
    }
    if ((at = cv_number(rest, &port)) == NULL || port < 1 || port > 65535
        || (*at != '@' && *at != 0)) {
        *why = "PORT must be a number from 1 to 65535";
        return -1;
    }
    if (*at != '@' || at[1] == 0) {
        *why = "missing @HOST after the port";
        return -1;
    }
    at++;
    if (v6) {
        struct in6_addr a6;
        char host[INET6_ADDRSTRLEN + 2];
        size_t len = strlen(at);

        if (len >= 2 && at[0] == '[' && at[len - 1] == ']' && len - 2 < sizeof(host)) {
            memcpy(host, at + 1, len - 2);
            host[len - 2] = 0;
        } else if (len < sizeof(host)) {
            memcpy(host, at, len + 1);
        } else {
            host[0] = 0;
        }
        if (inet_pton(AF_INET6, host, &a6) == 1 || cv_hostname(at))
            return 0;
        *why = "HOST must be an IPv6 address or a host name";
        return -1;
    }
    if (cv_hostname(at))
        return 0;
    *why = "HOST must be an IPv4 address or a host name";
    return -1;
}

/* config_parse_domain - check and normalise a domain pattern: lowercase,
 * no trailing dot, at most a leading "*." wildcard; *out is malloc'd */
int config_parse_domain(const char *s, char **out, const char **why)
{
    size_t len = strlen(s), label = 0, start = 0;
    char *d;

    *why = NULL;
    if (len >= 2 && s[0] == '*' && s[1] == '.')
        start = 2;
    if (len > start && s[len - 1] == '.')
        len--;
    if (len == start) {
        *why = "empty domain";
        return -1;
    }
    if (len - start > 253) {
        *why = "longer than 253 characters";
        return -1;
    }
    for (size_t i = start; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '*') {
            *why = "only a leading '*.' wildcard is allowed";
            return -1;
        }
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                *why = label == 0 ? "empty label" : "a label must not end with '-'";
                return -1;
            }
            label = 0;
            continue;
        }
        if (!isalnum(c) && c != '-' && c != '_') {
            *why = c >= 0x80 ? "non-ASCII domains must be written in IDNA form (xn--...)"
                             : "invalid character";
            return -1;
        }
        if (c == '-' && label == 0) {
            *why = "a label must not start with '-'";
            return -1;
        }
        if (++label > 63) {
            *why = "a label is longer than 63 characters";
            return -1;
        }
    }
    if (label == 0 || s[len - 1] == '-') {
        *why = label == 0 ? "empty label" : "a label must not end with '-'";
        return -1;
    }
    if ((d = malloc(len + 1)) == NULL) {
        *why = "out of memory";
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    d[len] = 0;
    *out = d;
    return 0;
}

/* cv_host_bits_clear - zero the address bits after the prefix; 1 when
 * some were set */
static int cv_host_bits_clear(unsigned char *addr, size_t alen, unsigned prefix)
{
    int set = 0;

    for (size_t i = 0; i < alen; i++) {
        unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;
        unsigned char mask = (unsigned char)(keep == 8 ? 0xFF : (0xFF00u >> keep) & 0xFF);

        if (addr[i] & ~mask)
            set = 1;
        addr[i] &= mask;
    }
    return set;
}

/* config_parse_net - "10.0.0.0/8", "::1/128", or an address alone (one host);
 * host bits must be clear.  *fix gets the corrected network text when
 * they are not (for the message). */
int config_parse_net(const char *s, struct config_net *net, char *fix,
                     size_t fixlen, const char **why)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    unsigned long long prefix;
    const char *end;
    unsigned maxp;

    *why = NULL;
    if (fixlen)
        fix[0] = 0;
    memset(net, 0, sizeof(*net));
    if (alen >= sizeof(addr)) {
        *why = "not an IPv4 or IPv6 address";
        return -1;
    }
    memcpy(addr, s, alen);
    addr[alen] = 0;
    if (inet_pton(AF_INET, addr, net->addr) == 1) {
        net->family = AF_INET;
        maxp = 32;
    } else if (inet_pton(AF_INET6, addr, net->addr) == 1) {
        net->family = AF_INET6;
        maxp = 128;
    } else {
        *why = "not an IPv4 or IPv6 address";
        return -1;
    }
    if (slash == NULL) {
        net->prefix = maxp;
        return 0;
    }
    if ((end = cv_number(slash + 1, &prefix)) == NULL || *end != 0 || prefix > maxp) {
        *why = maxp == 32 ? "the prefix length must be 0..32" : "the prefix length must be 0..128";
        return -1;
    }
    net->prefix = (unsigned)prefix;
    if (cv_host_bits_clear(net->addr, maxp / 8, net->prefix)) {
        char text[INET6_ADDRSTRLEN];

        if (fixlen && inet_ntop(net->family, net->addr, text, sizeof(text)) != NULL)
            snprintf(fix, fixlen, "%s/%u", text, net->prefix);
        *why = "host bits are set";
        return -1;
    }
    return 0;
}

/* config_domain_is_internal - domain (any case, trailing dot ignored) is ours */
int config_domain_is_internal(const struct config *cfg, const char *domain)
{
    size_t len;

    if (cfg == NULL || domain == NULL)
        return 0;
    len = strlen(domain);
    if (len > 0 && domain[len - 1] == '.')
        len--;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < cfg->ndomains; i++) {
        const char *p = cfg->domains[i];

        if (p[0] == '*' && p[1] == '.') {
            size_t slen = strlen(p + 1);

            if (len > slen && strncasecmp(domain + len - slen, p + 1, slen) == 0)
                return 1;
        } else if (strlen(p) == len && strncasecmp(domain, p, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* cv_net_match - addr (alen bytes of family) lies in net */
static int cv_net_match(const struct config_net *net, int family,
                        const unsigned char *addr)
{
    unsigned full, rest;

    if (net->family != family)
        return 0;
    full = net->prefix / 8;
    rest = net->prefix % 8;
    if (memcmp(net->addr, addr, full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xFF00u >> rest);

        if ((net->addr[full] & mask) != (addr[full] & mask))
            return 0;
    }
    return 1;
}

/* config_client_in_scope - does the gateway apply to this connection? */
int config_client_in_scope(const struct config *cfg, const struct sockaddr *sa,
                           const char *auth)
{
    unsigned char v4[4], v6[16];
    int have4 = 0, have6 = 0;

    if (cfg == NULL)
        return 0;
    if (cfg->apply_all)
        return 1;
    if (cfg->apply_authenticated && auth != NULL && auth[0] != 0)
        return 1;
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        have4 = 1;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

        memcpy(v6, a, 16);
        have6 = 1;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            memcpy(v4, v6 + 12, 4);
            have4 = 1;
        }
    }
    for (size_t i = 0; i < cfg->nnetworks; i++) {
        if (have4 && cv_net_match(&cfg->networks[i], AF_INET, v4))
            return 1;
        if (have6 && cv_net_match(&cfg->networks[i], AF_INET6, v6))
            return 1;
    }
    return 0;
}
