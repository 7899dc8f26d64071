/*
 * config_int - value parsers the configuration loader uses internally
 * (implemented in config_value.c).  Not for other modules.
 */
#ifndef MAILSEAL_CONFIG_CONFIG_INT_H
#define MAILSEAL_CONFIG_CONFIG_INT_H

#include <stddef.h>

#include "config/config.h"

/* config_parse_domain - check a domain pattern ("example.com",
 * "*.example.com"); 0 and a malloc'd lowercase copy without trailing dot
 * in *out, or -1 and a static reason in *why. */
int config_parse_domain(const char *s, char **out, const char **why);

/* config_parse_net - "ADDR/PREFIX" or "ADDR" (IPv4 or IPv6); 0, or -1 and
 * a static reason in *why (and, when host bits are set, the intended
 * network in fix). */
int config_parse_net(const char *s, struct config_net *net, char *fix,
                     size_t fixlen, const char **why);

#endif
