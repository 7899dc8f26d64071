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

/* config_templates_parse - templates: a mapping of name -> settings;
 * logo paths relative to dir; 0, or -1 after reporting at the nodes
 * (config_template.c) */
struct ynode;
int config_templates_parse(struct config *cfg, const struct ynode *v, const char *dir,
                           struct diag *d);
/* config_templates_finish - add the built-in template "default" when the
 * file did not define one; 0 or -1 (ENOMEM) */
int config_templates_finish(struct config *cfg);
void config_templates_free(struct config *cfg);

#endif
