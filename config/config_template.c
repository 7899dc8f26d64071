/*
 * config_template - the templates: section of the configuration: the
 * branding of the wrapper message and of the viewer, several templates
 * chosen per rule (encrypt: {template: NAME}).
 *
 *   templates:
 *     NAME:                       # letters, digits, . _ -
 *       organization_name: TEXT   # default: organization.name
 *       title: TEXT               # the viewer's title and heading
 *       intro: TEXT               # above the passphrase field
 *       help: TEXT                # how to open the file
 *       lang: en                  # the viewer's language tag
 *       color_primary: "#1f4e79"
 *       color_background: "#f4f6f8"
 *       logo: FILE                # PNG, JPEG or GIF, embedded (relative to the config)
 *       subject: TEXT             # the wrapper's neutral subject (default: the original)
 *       text: TEXT                # the wrapper's instructions to the recipient
 *
 * Each template is checked as the viewer will render it
 * (viewer_template_check()); errors are reported at the node.  Interface
 * in config_int.h; the templates belong to the configuration and are
 * released by config_templates_free().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_int.h"
#include "crypto/viewer.h"
#include "util/buf.h"
#include "util/yaml_tree.h"

#define TEMPLATE_MAX 64           /* templates in a configuration */
#define TEMPLATE_MAX_NAME 64
#define TEMPLATE_MAX_SUBJECT 512

static const char *const template_keys[] = {
    "organization_name", "title", "intro", "help", "lang", "color_primary",
    "color_background", "logo", "subject", "text",
};
#define NTEMPLATE_KEYS (sizeof(template_keys) / sizeof(template_keys[0]))

/* tpl_name_ok - a template name: letters, digits, . _ - */
static int tpl_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > TEMPLATE_MAX_NAME)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
              || *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* tpl_text - a string setting into *out; max bytes, no control characters
 * but (with lines) LF and TAB; 0 or -1 after reporting */
static int tpl_text(const struct ynode *n, const char *what, size_t max, int lines, char **out,
                    struct diag *d)
{
    if (!ynode_is_string(n)) {
        ynode_error(d, n, "%s: expected a string, not %s", what, ynode_kind(n));
        return -1;
    }
    if (n->len > max) {
        ynode_error(d, n, "%s: longer than %zu bytes", what, max);
        return -1;
    }
    for (size_t i = 0; i < n->len; i++) {
        unsigned char c = (unsigned char)n->value[i];

        if ((c < 0x20 && !(lines && (c == '\n' || c == '\t'))) || c == 0x7f) {
            ynode_error(d, n, "%s: control characters are not allowed%s", what,
                        lines ? " (only line breaks and tabs)" : "");
            return -1;
        }
    }
    if ((*out = strdup(n->value)) == NULL) {
        ynode_error(d, n, "%s: out of memory", what);
        return -1;
    }
    return 0;
}

/* tpl_logo - read the logo file (relative to dir) */
static int tpl_logo(struct config_template *t, const struct ynode *n, const char *dir,
                    struct diag *d)
{
    struct buf path = BUF_INIT(4096);
    struct stat st;
    FILE *fp = NULL;
    int fd = -1, rc = -1;

    if (!ynode_is_string(n) || n->len == 0) {
        ynode_error(d, n, "logo: expected a file name");
        return -1;
    }
    if ((n->value[0] != '/' && (buf_adds(&path, dir) < 0 || buf_addc(&path, '/') < 0))
        || buf_adds(&path, n->value) < 0) {
        ynode_error(d, n, "logo: the path is too long");
        goto out;
    }
    /* O_NONBLOCK: a FIFO there must be refused below, not wait for a writer */
    if ((fd = open(buf_str(&path), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0
        || (fp = fdopen(fd, "rb")) == NULL || fstat(fd, &st) < 0) {
        ynode_error(d, n, "logo: cannot read '%s': %s", buf_str(&path), strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size > VIEWER_MAX_LOGO) {
        ynode_error(d, n, "logo: '%s' must be a regular file of 1 to %u bytes", buf_str(&path),
                    VIEWER_MAX_LOGO);
        goto out;
    }
    if ((t->logo = malloc((size_t)st.st_size)) == NULL
        || fread(t->logo, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
        ynode_error(d, n, "logo: cannot read '%s'", buf_str(&path));
        goto out;
    }
    t->logo_len = (size_t)st.st_size;
    rc = 0;
out:
    if (fp != NULL)
        fclose(fp);
    else if (fd >= 0)
        close(fd);
    buf_free(&path);
    return rc;
}

/* config_template_view - the viewer's view of template t */
void config_template_view(const struct config *cfg, const struct config_template *t,
                          struct viewer_template *vt)
{
    memset(vt, 0, sizeof(*vt));
    vt->org_name = t->org_name ? t->org_name : cfg->org_name;
    vt->title = t->title;
    vt->intro = t->intro;
    vt->help = t->help;
    vt->lang = t->lang;
    vt->color_primary = t->color_primary;
    vt->color_background = t->color_background;
    vt->logo = t->logo;
    vt->logo_len = t->logo_len;
}

/* tpl_parse_one - one template's settings; 0 or -1 after reporting */
static int tpl_parse_one(struct config *cfg, struct config_template *t, const struct ynode *map,
                         const char *dir, struct diag *d)
{
    struct viewer_template vt;
    char err[256];
    int bad = 0;

    if (map->type != YNODE_MAP) {
        ynode_error(d, map, "templates.%s: expected a mapping of settings, not %s", t->name,
                    ynode_kind(map));
        return -1;
    }
    if (ymap_check_keys(map, "a template", template_keys, NTEMPLATE_KEYS, d) > 0)
        bad = 1;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->value;
        const struct ynode *v = map->items[i];
        char **slot = strcmp(k, "organization_name") == 0 ? &t->org_name
            : strcmp(k, "title") == 0 ? &t->title
            : strcmp(k, "intro") == 0 ? &t->intro
            : strcmp(k, "help") == 0 ? &t->help
            : strcmp(k, "lang") == 0 ? &t->lang
            : strcmp(k, "color_primary") == 0 ? &t->color_primary
            : strcmp(k, "color_background") == 0 ? &t->color_background
            : strcmp(k, "subject") == 0 ? &t->subject
            : strcmp(k, "text") == 0 ? &t->text : NULL;
        int long_text = strcmp(k, "intro") == 0 || strcmp(k, "help") == 0
            || strcmp(k, "text") == 0;

        if (strcmp(k, "logo") == 0)
            bad |= tpl_logo(t, v, dir, d) < 0;
        else if (slot != NULL)
            bad |= tpl_text(v, k, long_text ? VIEWER_MAX_LONG_TEXT
                            : strcmp(k, "subject") == 0 ? TEMPLATE_MAX_SUBJECT
                            : VIEWER_MAX_SHORT_TEXT, long_text, slot, d) < 0;
    }
    if (bad)
        return -1;
    config_template_view(cfg, t, &vt);
    if (viewer_template_check(&vt, err, sizeof(err)) < 0) {
        ynode_error(d, map, "templates.%s: %s", t->name, err);
        return -1;
    }
    return 0;
}

/* config_templates_parse - the templates: mapping */
int config_templates_parse(struct config *cfg, const struct ynode *v, const char *dir,
                           struct diag *d)
{
    int bad = 0;

    if (ynode_is_null(v))
        return 0;
    if (v->type != YNODE_MAP) {
        ynode_error(d, v, "templates: expected a mapping of template names, not %s",
                    ynode_kind(v));
        return -1;
    }
    if (v->n > TEMPLATE_MAX) {
        ynode_error(d, v, "templates: more than %d templates", TEMPLATE_MAX);
        return -1;
    }
    if ((cfg->templates = calloc(v->n + 1, sizeof(*cfg->templates))) == NULL) {
        ynode_error(d, v, "templates: out of memory");
        return -1;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct ynode *key = v->keys[i];
        struct config_template *t = &cfg->templates[cfg->ntemplates];

        if (!tpl_name_ok(key->value)) {
            ynode_error(d, key, "templates: invalid template name '%s' (letters, digits, "
                        ". _ -, at most %d)", key->value, TEMPLATE_MAX_NAME);
            bad = 1;
            continue;
        }
        if ((t->name = strdup(key->value)) == NULL) {
            ynode_error(d, key, "templates: out of memory");
            bad = 1;
            continue;
        }
        cfg->ntemplates++;
        if (tpl_parse_one(cfg, t, v->items[i], dir, d) < 0)
            bad = 1;
    }
    return bad ? -1 : 0;
}

/* config_templates_finish - a template called "default" always exists
 * (the built-in look when the file defines none) */
int config_templates_finish(struct config *cfg)
{
    struct config_template *t;

    if (config_template_find(cfg, "default") != NULL)
        return 0;
    if (cfg->templates == NULL && (cfg->templates = calloc(1, sizeof(*cfg->templates))) == NULL)
        return -1;
    t = &cfg->templates[cfg->ntemplates];
    memset(t, 0, sizeof(*t));
    if ((t->name = strdup("default")) == NULL)
        return -1;
    cfg->ntemplates++;
    return 0;
}

/* config_template_find - the template called name (NULL: the default) */
const struct config_template *config_template_find(const struct config *cfg, const char *name)
{
    if (name == NULL)
        name = cfg->default_template ? cfg->default_template : "default";
    for (size_t i = 0; i < cfg->ntemplates; i++)
        if (strcmp(cfg->templates[i].name, name) == 0)
            return &cfg->templates[i];
    return NULL;
}

/* config_templates_free - release every template */
void config_templates_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->ntemplates; i++) {
        struct config_template *t = &cfg->templates[i];

        free(t->name);
        free(t->org_name);
        free(t->title);
        free(t->intro);
        free(t->help);
        free(t->lang);
        free(t->color_primary);
        free(t->color_background);
        free(t->logo);
        free(t->subject);
        free(t->text);
    }
    free(cfg->templates);
    cfg->templates = NULL;
    cfg->ntemplates = 0;
}
