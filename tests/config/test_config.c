/*
 * test_config - the configuration loader: every error path with its exact
 * "FILE:LINE:COLUMN: message", several errors in one run, the defaults of
 * a minimal file, the shipped example (it must load and equal the
 * defaults), every key set, relative paths, the domain and client scope
 * questions, size/duration/socket syntax, and the loop secret (created,
 * refused for bad modes and symbolic links, skipped).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "tests/support/diag_check.h"
#include "util/buf.h"
#include "util/diag.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

static char tmpdir[256];

/* rm_entry - nftw callback removing one entry */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* setup - a fresh temporary directory with a valid rules file */
static int setup(void **state)
{
    char path[512];
    FILE *fp;

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ms-config-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/rules.yaml", tmpdir);
    if ((fp = fopen(path, "w")) == NULL)
        return -1;
    fputs("rules:\n  - name: r\n    if: {recipient_scope: external}\n    then: {quarantine: q}\n", fp);
    return fclose(fp);
}

/* teardown - remove the temporary directory */
static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tpath - tmpdir/name (static buffer) */
static const char *tpath(const char *name)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

/* write_file - create tmpdir/name with text */
static void write_file(const char *name, const char *text)
{
    FILE *fp = fopen(tpath(name), "w");

    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* expand - the template with every "@/" replaced by the temporary dir */
static char *expand(const char *tmpl)
{
    return test_expand(tmpl, tmpdir);
}

/* check_diags - d holds exactly the expected messages (NULL-terminated) */
static void check_diags(const struct diag *d, const char *const *want, const char *input)
{
    char context[8192];

    snprintf(context, sizeof(context), "input:\n%s", input);
    test_check_diags(d, want, tmpdir, context);
}

/* load - write text as cfg.yaml and load it */
static struct config *load(const char *text, unsigned flags, struct diag *d)
{
    write_file("cfg.yaml", text);
    diag_init(d);
    return config_load(tpath("cfg.yaml"), flags, d);
}

#define MIN "organization:\n  domains: [example.com]\nrules: rules.yaml\n"
#define MAXD 12

struct err_case {
    const char *yaml;
    const char *want[MAXD];   /* "@/" stands for the temporary directory */
};

static const struct err_case err_cases[] = {
    /* the file as a whole */
    { "", { "@/cfg.yaml:1:1: the configuration file is empty" } },
    { "# nothing but a comment\n\n", { "@/cfg.yaml:1:1: the configuration file is empty" } },
    { "- organization\n", { "@/cfg.yaml:1:1: expected a mapping of settings, not a list" } },
    { "just text\n", { "@/cfg.yaml:1:1: expected a mapping of settings, not a string" } },
    { MIN "milter: {socket: &s x}\n", { "@/cfg.yaml:4:18: anchors and aliases are not supported" } },
    { MIN "rules: other.yaml\n", { "@/cfg.yaml:4:1: duplicate key 'rules' (first at line 3 column 1)" } },
    { "organization:\n  domains: [example.com\nrules: x\n",
      { "@/cfg.yaml:3:6: did not find expected ',' or ']' (while parsing a flow sequence at "
        "line 2 column 12)" } },
    /* required keys */
    { "milter:\n  timeout: 10\n",
      { "@/cfg.yaml:1:1: missing required key 'organization'",
        "@/cfg.yaml:1:1: missing required key 'rules'" } },
    { "# a comment first\nrules: rules.yaml\n",
      { "@/cfg.yaml:1:1: missing required key 'organization'" } },
    { "organization:\n  name: Example\nrules: rules.yaml\n",
      { "@/cfg.yaml:2:3: missing required key 'domains' in organization" } },
    { "organization:\nrules: rules.yaml\n",
      { "@/cfg.yaml:1:1: missing required key 'domains' in organization" } },
    { "organization: Example\nrules: rules.yaml\n",
      { "@/cfg.yaml:1:15: organization: expected a mapping, not a string" } },
    /* unknown keys */
    { MIN "rule: x\n", { "@/cfg.yaml:4:1: unknown key 'rule' (did you mean 'rules'?)" } },
    { MIN "server: x\n",
      { "@/cfg.yaml:4:1: unknown key 'server' (allowed: milter, organization, rules, spool, "
        "limits, apply_to, policy, loop, envelope, notify, templates)" } },
    { MIN "milter.timeout: 5\n",
      { "@/cfg.yaml:4:1: unknown key 'milter.timeout' (allowed: milter, organization, rules, "
        "spool, limits, apply_to, policy, loop, envelope, notify, templates)" } },
    { MIN "milter:\n  sockt: unix:/x\n",
      { "@/cfg.yaml:5:3: unknown key 'sockt' in milter (did you mean 'socket'?)" } },
    { MIN "milter:\n  colour: red\n",
      { "@/cfg.yaml:5:3: unknown key 'colour' in milter (allowed: socket, user, group, pid_file, "
        "umask, timeout, shutdown_timeout, log_level, syslog_facility)" } },
    { MIN "limits:\n  max_size: 1MB\n",
      { "@/cfg.yaml:5:3: unknown key 'max_size' in limits (allowed: max_message_size, "
        "max_headers, max_header_length, max_mime_depth, max_mime_parts, scan_limit)" } },
    { MIN "loop:\n  secret: x\n",
      { "@/cfg.yaml:5:3: unknown key 'secret' in loop (allowed: secret_file, max_age)" } },
    { "organization:\n  domains: [example.com]\n  domain: example.org\nrules: rules.yaml\n",
      { "@/cfg.yaml:3:3: unknown key 'domain' in organization (did you mean 'domains'?)" } },
    /* wrong types */
    { MIN "milter: [a]\n", { "@/cfg.yaml:4:9: milter: expected a mapping, not a list" } },
    { MIN "spool: /var/spool\n", { "@/cfg.yaml:4:8: spool: expected a mapping, not a string" } },
    { "organization:\n  domains: example.com\nrules: rules.yaml\n",
      { "@/cfg.yaml:2:12: organization.domains: expected a list of strings, not a string" } },
    { "organization:\n  domains: [example.com, [b.com], {c: d}]\nrules: rules.yaml\n",
      { "@/cfg.yaml:2:26: organization.domains: expected a list of strings, found a list",
        "@/cfg.yaml:2:35: organization.domains: expected a list of strings, found a mapping" } },
    { "organization:\n  domains: []\nrules: rules.yaml\n",
      { "@/cfg.yaml:2:12: organization.domains: expected at least one domain" } },
    { "organization:\n  domains:\nrules: rules.yaml\n",
      { "@/cfg.yaml:2:11: organization.domains: expected a list of strings, not nothing" } },
    { MIN "milter: {timeout: [1]}\n", { "@/cfg.yaml:4:19: milter.timeout: expected an integer, not a list" } },
    { MIN "milter: {timeout: soon}\n", { "@/cfg.yaml:4:19: milter.timeout: expected an integer, not 'soon'" } },
    { MIN "milter: {timeout: 1.5}\n", { "@/cfg.yaml:4:19: milter.timeout: expected an integer, not '1.5'" } },
    { MIN "milter: {socket: {a: b}}\n", { "@/cfg.yaml:4:18: milter.socket: expected a socket, not a mapping" } },
    { MIN "spool: {memory_limit: [1]}\n", { "@/cfg.yaml:4:23: spool.memory_limit: expected a size, not a list" } },
    { MIN "apply_to: {networks: 10.0.0.0/8}\n",
      { "@/cfg.yaml:4:22: apply_to.networks: expected a list of strings, not a string" } },
    { "organization:\n  domains: [example.com]\n  name: \"A\\tB\"\nrules: rules.yaml\n",
      { "@/cfg.yaml:3:9: organization.name: must not contain control characters" } },
    { "organization:\n  domains: [example.com]\nrules: [a.yaml]\n",
      { "@/cfg.yaml:3:8: rules: expected a path, not a list" } },
    { "organization:\n  domains: [example.com]\nrules:\n",
      { "@/cfg.yaml:3:7: rules: must not be empty" } },
    { MIN "spool: {directory: \"\"}\n", { "@/cfg.yaml:4:20: spool.directory: must not be empty" } },
    /* out of range */
    { MIN "milter: {timeout: 0}\n", { "@/cfg.yaml:4:19: milter.timeout: 0 is out of range (allowed 1..86400)" } },
    { MIN "milter: {timeout: 86401}\n",
      { "@/cfg.yaml:4:19: milter.timeout: 86401 is out of range (allowed 1..86400)" } },
    { MIN "milter: {shutdown_timeout: -1}\n",
      { "@/cfg.yaml:4:28: milter.shutdown_timeout: -1 is out of range (allowed 0..86400)" } },
    { MIN "limits: {max_headers: 0}\n",
      { "@/cfg.yaml:4:23: limits.max_headers: 0 is out of range (allowed 1..100000)" } },
    { MIN "limits: {max_mime_depth: 101}\n",
      { "@/cfg.yaml:4:26: limits.max_mime_depth: 101 is out of range (allowed 1..100)" } },
    { MIN "limits: {max_mime_parts: 100001}\n",
      { "@/cfg.yaml:4:26: limits.max_mime_parts: 100001 is out of range (allowed 1..100000)" } },
    { MIN "spool: {memory_limit: 2GB}\n",
      { "@/cfg.yaml:4:23: spool.memory_limit: 2GB is out of range (allowed 0..1GB)" } },
    { MIN "limits: {max_message_size: 512}\n",
      { "@/cfg.yaml:4:28: limits.max_message_size: 512 is out of range (allowed 1KB..16GB)" } },
    { MIN "limits: {max_header_length: 2MB}\n",
      { "@/cfg.yaml:4:29: limits.max_header_length: 2MB is out of range (allowed 1KB..1MB)" } },
    { MIN "limits: {scan_limit: 1TB}\n",
      { "@/cfg.yaml:4:22: limits.scan_limit: 1TB is out of range (allowed 1KB..16GB)" } },
    { MIN "loop: {max_age: 30s}\n", { "@/cfg.yaml:4:17: loop.max_age: 30s is out of range (allowed 1m..365d)" } },
    { MIN "loop: {max_age: 53w}\n", { "@/cfg.yaml:4:17: loop.max_age: 53w is out of range (allowed 1m..365d)" } },
    /* bad sizes and durations */
    { MIN "spool: {memory_limit: 10XB}\n",
      { "@/cfg.yaml:4:23: spool.memory_limit: invalid size '10XB' (expected a number of bytes "
        "with an optional unit: KB, MB, GB)" } },
    { MIN "limits: {scan_limit: 1.5MB}\n",
      { "@/cfg.yaml:4:22: limits.scan_limit: invalid size '1.5MB' (expected a number of bytes "
        "with an optional unit: KB, MB, GB)" } },
    { MIN "limits: {scan_limit: \"-1\"}\n",
      { "@/cfg.yaml:4:22: limits.scan_limit: invalid size '-1' (expected a number of bytes "
        "with an optional unit: KB, MB, GB)" } },
    { MIN "limits: {max_message_size: 99999999999999999999}\n",
      { "@/cfg.yaml:4:28: limits.max_message_size: invalid size '99999999999999999999' (expected "
        "a number of bytes with an optional unit: KB, MB, GB)" } },
    { MIN "loop: {max_age: 7x}\n",
      { "@/cfg.yaml:4:17: loop.max_age: invalid duration '7x' (expected a number with an "
        "optional unit: s, m, h, d, w)" } },
    { MIN "loop: {max_age: 1y}\n",
      { "@/cfg.yaml:4:17: loop.max_age: invalid duration '1y' (expected a number with an "
        "optional unit: s, m, h, d, w)" } },
    /* sockets */
    { MIN "milter: {socket: \"tcp:25@localhost\"}\n",
      { "@/cfg.yaml:4:18: milter.socket: invalid socket 'tcp:25@localhost': expected "
        "unix:/absolute/path, local:/absolute/path, inet:PORT@HOST or inet6:PORT@HOST" } },
    { MIN "milter: {socket: \"unix:run/m.sock\"}\n",
      { "@/cfg.yaml:4:18: milter.socket: invalid socket 'unix:run/m.sock': the socket path "
        "must be absolute" } },
    { MIN "milter: {socket: \"inet:0@127.0.0.1\"}\n",
      { "@/cfg.yaml:4:18: milter.socket: invalid socket 'inet:0@127.0.0.1': PORT must be a "
        "number from 1 to 65535" } },
    { MIN "milter: {socket: \"inet:65536@127.0.0.1\"}\n",
      { "@/cfg.yaml:4:18: milter.socket: invalid socket 'inet:65536@127.0.0.1': PORT must be "
        "a number from 1 to 65535" } },
    { MIN "milter: {socket: \"inet:8891\"}\n",
      { "@/cfg.yaml:4:18: milter.socket: invalid socket 'inet:8891': missing @HOST after the port" } },
    { MIN "milter: {socket: \"inet6:8891@not an address\"}\n",
      { "@/cfg.yaml:4:18: milter.socket: invalid socket 'inet6:8891@not an address': HOST "
        "must be an IPv6 address or a host name" } },
    /* networks */
    { MIN "apply_to:\n  networks: [10.0.0.0/33, 10.0.0.1/8, \"fe80::1/10\", foo, \"::1/129\", 1.2.3.4/]\n",
      { "@/cfg.yaml:5:14: apply_to.networks: invalid network '10.0.0.0/33': the prefix length "
        "must be 0..32",
        "@/cfg.yaml:5:27: apply_to.networks: invalid network '10.0.0.1/8': host bits are set "
        "(did you mean 10.0.0.0/8?)",
        "@/cfg.yaml:5:39: apply_to.networks: invalid network 'fe80::1/10': host bits are set "
        "(did you mean fe80::/10?)",
        "@/cfg.yaml:5:53: apply_to.networks: invalid network 'foo': not an IPv4 or IPv6 address",
        "@/cfg.yaml:5:58: apply_to.networks: invalid network '::1/129': the prefix length must "
        "be 0..128",
        "@/cfg.yaml:5:69: apply_to.networks: invalid network '1.2.3.4/': the prefix length must "
        "be 0..32" } },
    { MIN "apply_to: {}\n",
      { "@/cfg.yaml:4:1: apply_to: matches no connection (set authenticated: true or list "
        "networks, or remove apply_to to apply to every connection)" } },
    { MIN "apply_to:\n  authenticated: false\n  networks: []\n",
      { "@/cfg.yaml:4:1: apply_to: matches no connection (set authenticated: true or list "
        "networks, or remove apply_to to apply to every connection)" } },
    /* domains */
    { "organization:\n  domains: [\"a.*.com\", \"*\", \"*.\", \"exa mple.com\", -a.com, a-.com, "
      "a..com, \"b\\u00fccher.de\", "
      "x1234567890123456789012345678901234567890123456789012345678901234.com]\nrules: rules.yaml\n",
      { "@/cfg.yaml:2:13: organization.domains: invalid domain 'a.*.com': only a leading '*.' "
        "wildcard is allowed",
        "@/cfg.yaml:2:24: organization.domains: invalid domain '*': only a leading '*.' wildcard "
        "is allowed",
        "@/cfg.yaml:2:29: organization.domains: invalid domain '*.': empty domain",
        "@/cfg.yaml:2:35: organization.domains: invalid domain 'exa mple.com': invalid character",
        "@/cfg.yaml:2:51: organization.domains: invalid domain '-a.com': a label must not start "
        "with '-'",
        "@/cfg.yaml:2:59: organization.domains: invalid domain 'a-.com': a label must not end "
        "with '-'",
        "@/cfg.yaml:2:67: organization.domains: invalid domain 'a..com': empty label",
        "@/cfg.yaml:2:75: organization.domains: invalid domain 'b\xc3\xbc" "cher.de': non-ASCII "
        "domains must be written in IDNA form (xn--...)",
        "@/cfg.yaml:2:93: organization.domains: invalid domain "
        "'x1234567890123456789012345678901234567890123456789012345678901234.com': a label is "
        "longer than 63 characters" } },
    /* users, groups, names from lists */
    { MIN "milter: {user: nosuchuser-mailseal}\n",
      { "@/cfg.yaml:4:16: milter.user: user 'nosuchuser-mailseal' does not exist" } },
    { MIN "milter: {group: nosuchgroup-mailseal}\n",
      { "@/cfg.yaml:4:17: milter.group: group 'nosuchgroup-mailseal' does not exist" } },
    { MIN "milter: {log_level: verbose}\n",
      { "@/cfg.yaml:4:21: milter.log_level: unknown log level 'verbose' (allowed: error, "
        "warning, notice, info, debug)" } },
    { MIN "milter: {syslog_facility: kern}\n",
      { "@/cfg.yaml:4:27: milter.syslog_facility: unknown syslog facility 'kern' (allowed: mail, "
        "daemon, user, local0 .. local7)" } },
    { MIN "milter: {umask: \"0999\"}\n",
      { "@/cfg.yaml:4:17: milter.umask: invalid umask '0999' (expected an octal number such as "
        "0007 or 0027)" } },
    { MIN "milter: {umask: 00000}\n",
      { "@/cfg.yaml:4:17: milter.umask: invalid umask '00000' (expected an octal number such as "
        "0007 or 0027)" } },
    { MIN "milter: {umask: [7]}\n",
      { "@/cfg.yaml:4:17: milter.umask: expected an octal umask, not a list" } },
    { MIN "apply_to: {authenticated: \"yes\"}\n",
      { "@/cfg.yaml:4:27: apply_to.authenticated: expected true or false, not 'yes' "
        "(a quoted string)" } },
    { MIN "apply_to: {authenticated: on}\n",
      { "@/cfg.yaml:4:27: apply_to.authenticated: expected true or false, not 'on'" } },
    { MIN "policy: {on_incomplete: maybe}\n",
      { "@/cfg.yaml:4:25: policy.on_incomplete: expected encrypt or reject, not 'maybe'" } },
    /* the rules the file names */
    { "organization:\n  domains: [example.com]\nrules: nope.d\n",
      { "@/cfg.yaml:3:8: rules: cannot access '@/nope.d': No such file or directory" } },
    { "organization:\n  domains: [example.com]\nrules: bad-rules.yaml\n",
      { "@/bad-rules.yaml:3:10: unknown condition 'subject' (allowed: subject_contains, "
        "recipient_scope, sender_is, sender_domain_is, sender_matches, sender_scope, "
        "recipient_is, recipient_domain_is, recipient_matches, has_attachment, "
        "attachment_name_matches, attachment_extension_is, attachment_type_is, "
        "attachment_size_over, size_over, "
        "header_contains, header_matches, subject_matches, body_contains, "
        "subject_or_body_contains, attachment_contains, body_matches, subject_or_body_matches, "
        "attachment_matches, already_encrypted, sensitive_info)" } },
    /* several errors in one run */
    { "milter:\n"
      "  sockt: \"unix:/x\"\n"
      "  timeout: 0\n"
      "  log_level: loud\n"
      "organization:\n"
      "  domains: [\"a.*.com\"]\n"
      "rules: bad-rules.yaml\n"
      "spool:\n"
      "  memory_limit: 10XB\n"
      "loop:\n"
      "  max_age: 7x\n"
      "extra: 1\n",
      { "@/cfg.yaml:2:3: unknown key 'sockt' in milter (did you mean 'socket'?)",
        "@/cfg.yaml:3:12: milter.timeout: 0 is out of range (allowed 1..86400)",
        "@/cfg.yaml:4:14: milter.log_level: unknown log level 'loud' (allowed: error, warning, "
        "notice, info, debug)",
        "@/cfg.yaml:6:13: organization.domains: invalid domain 'a.*.com': only a leading '*.' "
        "wildcard is allowed",
        "@/cfg.yaml:9:17: spool.memory_limit: invalid size '10XB' (expected a number of bytes "
        "with an optional unit: KB, MB, GB)",
        "@/cfg.yaml:11:12: loop.max_age: invalid duration '7x' (expected a number with an "
        "optional unit: s, m, h, d, w)",
        "@/cfg.yaml:12:1: unknown key 'extra' (allowed: milter, organization, rules, spool, "
        "limits, apply_to, policy, loop, envelope, notify, templates)",
        "@/bad-rules.yaml:3:10: unknown condition 'subject' (allowed: subject_contains, "
        "recipient_scope, sender_is, sender_domain_is, sender_matches, sender_scope, "
        "recipient_is, recipient_domain_is, recipient_matches, has_attachment, "
        "attachment_name_matches, attachment_extension_is, attachment_type_is, "
        "attachment_size_over, size_over, "
        "header_contains, header_matches, subject_matches, body_contains, "
        "subject_or_body_contains, attachment_contains, body_matches, subject_or_body_matches, "
        "attachment_matches, already_encrypted, sensitive_info)" } },
};

/* test_envelope_errors - the envelope, notify and templates sections:
 * each error at its position */
static void test_envelope_errors(void **state)
{
    static const struct err_case cases[] = {
        { MIN "envelope:\n  random_passphrase: sometimes\n",
          { "@/cfg.yaml:5:22: envelope.random_passphrase: expected missing, always or never, "
            "not 'sometimes'" } },
        { MIN "envelope:\n  chunk_size: 100\n",
          { "@/cfg.yaml:5:15: envelope.chunk_size: 100 is out of range (allowed 1KB..16MB)" } },
        { MIN "envelope:\n  keep_headers: [X-Ok, \"Bad: x\"]\n",
          { "@/cfg.yaml:5:24: envelope.keep_headers: invalid header name 'Bad: x'" } },
        { MIN "envelope:\n  secrets_file: nowhere\n",
          { "@/nowhere: cannot open the secrets store: No such file or directory" } },
        { MIN "envelope:\n  recovery_public_key: missing.pem\n",
          { "@/cfg.yaml:5:24: envelope.recovery_public_key: @/missing.pem: "
            "No such file or directory" } },
        { MIN "notify:\n  relay: localhost\n",
          { "@/cfg.yaml:5:10: notify.relay: expected HOST:PORT (an IPv6 address in brackets), "
            "not 'localhost'" } },
        { MIN "notify:\n  relay: \"[::1]:99999\"\n",
          { "@/cfg.yaml:5:10: notify.relay: expected HOST:PORT with a port from 1 to 65535, "
            "not '[::1]:99999'" } },
        { MIN "templates:\n  corp:\n    colour: red\n",
          { "@/cfg.yaml:6:5: unknown key 'colour' in a template (allowed: organization_name, title, "
            "intro, help, lang, color_primary, color_background, logo, subject, text)" } },
        { MIN "templates:\n  corp:\n    color_primary: blue\n",
          { "@/cfg.yaml:6:5: templates.corp: color_primary is not a colour #rrggbb" } },
        { MIN "templates:\n  \"bad name\": {}\n",
          { "@/cfg.yaml:5:3: templates: invalid template name 'bad name' (letters, digits, "
            ". _ -, at most 64)" } },
        { MIN "templates:\n  corp:\n    logo: nologo.png\n",
          { "@/cfg.yaml:6:11: logo: cannot read '@/nologo.png': No such file or directory" } },
        { MIN "templates:\n  corp:\n    subject: \"a\\nb\"\n",
          { "@/cfg.yaml:6:14: subject: control characters are not allowed" } },
        { MIN "envelope:\n  default_template: corp\n",
          { "@/cfg.yaml:5:21: envelope.default_template: no template 'corp' in templates" } },
        { "organization:\n  domains: [example.com]\nrules: tpl-rules.yaml\n",
          { "@/tpl-rules.yaml:2:5: rule 'e': encrypt.template 'corp' is not defined under "
            "templates: in the configuration" } },
        /* FIFOs are refused, never waited on for a writer */
        { "organization:\n  domains: [example.com]\nrules: fifo\n",
          { "@/fifo: not a regular file" } },
        { MIN "templates:\n  corp:\n    logo: fifo\n",
          { "@/cfg.yaml:6:11: logo: '@/fifo' must be a regular file of 1 to 524288 bytes" } },
        { MIN "envelope:\n  secrets_file: fifo\n",
          { "@/fifo: key file is not a regular file" } },
        { MIN "envelope:\n  recovery_public_key: fifo\n",
          { "@/cfg.yaml:5:24: envelope.recovery_public_key: @/fifo: key file is not a "
            "regular file" } },
    };

    (void)state;
    write_file("tpl-rules.yaml", "rules:\n  - name: e\n    if: {recipient_scope: external}\n"
                                 "    then: {encrypt: {template: corp}}\n");
    assert_int_equal(mkfifo(tpath("fifo"), 0600), 0);
    alarm(60);          /* an open that waits for a writer ends the test */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct diag d;
        struct config *cfg = load(cases[i].yaml, 0, &d);

        if (cfg != NULL)
            fail_msg("case %zu loaded:\n%s", i, cases[i].yaml);
        check_diags(&d, cases[i].want, cases[i].yaml);
        diag_free(&d);
    }
    alarm(0);
    unlink(tpath("fifo"));
}

/* test_envelope_keys - every envelope, notify and templates setting */
static void test_envelope_keys(void **state)
{
    static const char yaml[] =
        MIN
        "envelope:\n"
        "  secrets_file: secrets\n"
        "  random_passphrase: never\n"
        "  chunk_size: 16KB\n"
        "  max_wrapper_size: 10MB\n"
        "  keep_headers: [X-Ticket, List-Id]\n"
        "  attachment_name: secure.html\n"
        "  default_template: corp\n"
        "notify:\n"
        "  relay: \"[::1]:2525\"\n"
        "  from: gateway@example.com\n"
        "  timeout: 5\n"
        "templates:\n"
        "  corp:\n"
        "    organization_name: Corp\n"
        "    title: Secure message\n"
        "    color_primary: \"#1f4e79\"\n"
        "    logo: logo.png\n"
        "    subject: Encrypted message\n"
        "    text: \"Open the attachment.\\nThanks.\"\n"
        "  plain: {}\n"
        "loop:\n"
        "  secret_file: loop.key\n";
    static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    struct diag d;
    struct config *cfg;
    const struct config_template *t;
    FILE *fp;

    (void)state;
    write_file("secrets", "# none yet\n");
    assert_int_equal(chmod(tpath("secrets"), 0600), 0);
    assert_non_null(fp = fopen(tpath("logo.png"), "wb"));
    assert_int_equal(fwrite(png, 1, sizeof(png) - 1, fp), sizeof(png) - 1);
    assert_int_equal(fclose(fp), 0);
    cfg = load(yaml, CONFIG_CREATE_SECRET, &d);
    check_diags(&d, (const char *const[]){ NULL }, yaml);
    assert_non_null(cfg);
    assert_string_equal(cfg->secrets_file, tpath("secrets"));
    assert_non_null(cfg->secrets);
    assert_int_equal(cfg->random_passphrase, CONFIG_RANDOM_NEVER);
    assert_int_equal(cfg->chunk_size, 16 * KiB);
    assert_int_equal(cfg->max_wrapper_size, 10 * MiB);
    assert_int_equal(cfg->nkeep_headers, 2);
    assert_string_equal(cfg->keep_headers[0], "x-ticket");
    assert_string_equal(cfg->keep_headers[1], "list-id");
    assert_string_equal(cfg->attachment_name, "secure.html");
    assert_string_equal(cfg->notify_host, "::1");
    assert_int_equal(cfg->notify_port, 2525);
    assert_string_equal(cfg->notify_from, "gateway@example.com");
    assert_int_equal(cfg->notify_timeout, 5);
    assert_int_equal(cfg->ntemplates, 3);
    assert_non_null(config_template_find(cfg, "default"));
    t = config_template_find(cfg, NULL);
    assert_non_null(t);
    assert_string_equal(t->name, "corp");
    assert_string_equal(t->org_name, "Corp");
    assert_string_equal(t->subject, "Encrypted message");
    assert_string_equal(t->text, "Open the attachment.\nThanks.");
    assert_int_equal(t->logo_len, sizeof(png) - 1);
    assert_non_null(config_template_find(cfg, "plain"));
    assert_null(config_template_find(cfg, "nope"));
    config_free(cfg);
    diag_free(&d);
}

/* test_errors - every error case gives exactly its diagnostics */
static void test_errors(void **state)
{
    (void)state;
    write_file("bad-rules.yaml", "rules:\n  - name: b\n    if: {subject: x}\n    then: {}\n");
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        struct diag d;
        struct config *cfg = load(err_cases[i].yaml, CONFIG_SKIP_SECRET, &d);

        if (cfg != NULL)
            fail_msg("case %zu loaded:\n%s", i, err_cases[i].yaml);
        check_diags(&d, err_cases[i].want, err_cases[i].yaml);
        diag_free(&d);
    }
}

/* test_missing_file - the file itself cannot be read */
static void test_missing_file(void **state)
{
    struct diag d;

    (void)state;
    diag_init(&d);
    assert_null(config_load(tpath("absent.yaml"), 0, &d));
    check_diags(&d, (const char *const[]){ "@/absent.yaml: cannot open: No such file or directory",
                                          NULL }, "(none)");
    diag_free(&d);
    config_free(NULL);
}

/* check_defaults - every field of cfg holds its built-in default */
static void check_defaults(const struct config *cfg)
{
    assert_string_equal(cfg->socket, "unix:/var/spool/postfix/mailseal/mailseal.sock");
    assert_null(cfg->user);
    assert_null(cfg->group);
    assert_string_equal(cfg->pid_file, "/run/mailseal/mailseal-milter.pid");
    assert_int_equal(cfg->umask, 07);
    assert_int_equal(cfg->timeout, 300);
    assert_int_equal(cfg->shutdown_timeout, 60);
    assert_int_equal(cfg->log_level, LOG_INFO);
    assert_int_equal(cfg->syslog_facility, LOG_MAIL);
    assert_string_equal(cfg->org_name, "");
    assert_int_equal(cfg->apply_all, 1);
    assert_int_equal(cfg->apply_authenticated, 0);
    assert_int_equal(cfg->nnetworks, 0);
    assert_string_equal(cfg->spool_dir, "/var/spool/mailseal");
    assert_int_equal(cfg->memory_limit, 1 * MiB);
    assert_int_equal(cfg->limits.max_size, 100 * MiB);
    assert_int_equal(cfg->limits.max_headers, 1000);
    assert_int_equal(cfg->limits.max_header_len, 64 * KiB);
    assert_int_equal(cfg->limits.max_depth, 32);
    assert_int_equal(cfg->limits.max_parts, 2000);
    assert_int_equal(cfg->limits.scan_limit, 32 * MiB);
    assert_int_equal(cfg->on_incomplete, RULES_INCOMPLETE_ENCRYPT);
    assert_string_equal(cfg->loop_secret_file, "/var/lib/mailseal/loop.key");
    assert_int_equal(cfg->loop_max_age, 7 * 86400);
    assert_string_equal(cfg->secrets_file, "/etc/mailseal/secrets");
    assert_int_equal(cfg->random_passphrase, CONFIG_RANDOM_MISSING);
    assert_null(cfg->recovery_key_file);
    assert_int_equal(cfg->has_recovery, 0);
    assert_int_equal(cfg->chunk_size, 64 * KiB);
    assert_int_equal(cfg->max_wrapper_size, 25 * MiB);
    assert_int_equal(cfg->nkeep_headers, 0);
    assert_string_equal(cfg->attachment_name, "message.html");
    assert_string_equal(cfg->default_template, "default");
    assert_string_equal(cfg->notify_host, "127.0.0.1");
    assert_int_equal(cfg->notify_port, 25);
    assert_string_equal(cfg->notify_from, "");
    assert_int_equal(cfg->notify_timeout, 30);
    assert_int_equal(cfg->ntemplates, 1);
    assert_non_null(config_template_find(cfg, NULL));
    assert_string_equal(config_template_find(cfg, "default")->name, "default");
    assert_null(config_template_find(cfg, NULL)->title);
}

/* test_defaults - a file with only organization and rules */
static void test_defaults(void **state)
{
    static const unsigned char zero[CONFIG_LOOP_KEY_LEN];
    struct diag d;
    struct config *cfg = load(MIN, CONFIG_SKIP_SECRET, &d);

    (void)state;
    check_diags(&d, (const char *const[]){ NULL }, MIN);
    assert_non_null(cfg);
    check_defaults(cfg);
    assert_string_equal(cfg->path, tpath("cfg.yaml"));
    assert_int_equal(cfg->ndomains, 1);
    assert_string_equal(cfg->domains[0], "example.com");
    assert_string_equal(cfg->rules_path, tpath("rules.yaml"));
    assert_non_null(cfg->rules);
    assert_int_equal(rules_count(cfg->rules), 1);
    assert_memory_equal(cfg->loop_key, zero, sizeof(zero));
    config_free(cfg);
    diag_free(&d);
}

/* test_example - the shipped example loads and documents the defaults */
static void test_example(void **state)
{
    const char *src = getenv("MAILSEAL_SOURCE_DIR");
    char path[PATH_MAX];
    struct buf text = BUF_INIT(1 << 20);
    struct diag d;
    struct config *cfg;
    FILE *fp;
    char chunk[4096];
    size_t n;

    (void)state;
    if (src == NULL)
        skip();
    snprintf(path, sizeof(path), "%s/config/mailseal.yaml.example", src);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        assert_int_equal(buf_add(&text, chunk, n), 0);
    fclose(fp);
    assert_int_equal(mkdir(tpath("rules.d"), 0700), 0);
    cfg = load(buf_str(&text), CONFIG_SKIP_SECRET, &d);
    check_diags(&d, (const char *const[]){ NULL }, "(the example)");
    assert_non_null(cfg);
    check_defaults(cfg);
    assert_int_equal(cfg->ndomains, 2);
    assert_string_equal(cfg->domains[0], "example.com");
    assert_string_equal(cfg->domains[1], "*.example.com");
    assert_string_equal(cfg->rules_path, tpath("rules.d"));
    assert_int_equal(rules_count(cfg->rules), 0);
    config_free(cfg);
    diag_free(&d);
    buf_free(&text);
}

/* test_every_key - every key set to something other than its default */
static void test_every_key(void **state)
{
    static const char yaml[] =
        "milter:\n"
        "  socket: \"inet:8891@127.0.0.1\"\n"
        "  user: root\n"
        "  group: root\n"
        "  pid_file: run/m.pid\n"
        "  umask: \"0027\"\n"
        "  timeout: 60\n"
        "  shutdown_timeout: 0\n"
        "  log_level: DEBUG\n"
        "  syslog_facility: local3\n"
        "organization:\n"
        "  name: \"Example Corp \\u00c4\"\n"
        "  domains: [Example.COM, \"*.Example.org.\", xn--bcher-kva.example]\n"
        "rules: ./sub/../rules.yaml\n"
        "spool:\n"
        "  directory: spool\n"
        "  memory_limit: 0\n"
        "limits:\n"
        "  max_message_size: 1GiB\n"
        "  max_headers: 50\n"
        "  max_header_length: 1kb\n"
        "  max_mime_depth: 100\n"
        "  max_mime_parts: 7\n"
        "  scan_limit: 16GB\n"
        "apply_to:\n"
        "  authenticated: yes\n"
        "  networks: [127.0.0.0/8, \"::1/128\", 192.168.1.7]\n"
        "policy:\n"
        "  on_incomplete: reject\n"
        "loop:\n"
        "  secret_file: keys/loop.key\n"
        "  max_age: 12h\n";
    struct diag d;
    struct config *cfg;

    (void)state;
    assert_int_equal(mkdir(tpath("sub"), 0700), 0);
    cfg = load(yaml, CONFIG_SKIP_SECRET, &d);
    check_diags(&d, (const char *const[]){ NULL }, yaml);
    assert_non_null(cfg);
    assert_string_equal(cfg->socket, "inet:8891@127.0.0.1");
    assert_string_equal(cfg->user, "root");
    assert_string_equal(cfg->group, "root");
    assert_string_equal(cfg->pid_file, tpath("run/m.pid"));
    assert_int_equal(cfg->umask, 027);
    assert_int_equal(cfg->timeout, 60);
    assert_int_equal(cfg->shutdown_timeout, 0);
    assert_int_equal(cfg->log_level, LOG_DEBUG);
    assert_int_equal(cfg->syslog_facility, LOG_LOCAL3);
    assert_string_equal(cfg->org_name, "Example Corp \xc3\x84");
    assert_int_equal(cfg->ndomains, 3);
    assert_string_equal(cfg->domains[0], "example.com");
    assert_string_equal(cfg->domains[1], "*.example.org");
    assert_string_equal(cfg->domains[2], "xn--bcher-kva.example");
    assert_string_equal(cfg->rules_path, tpath("sub/../rules.yaml"));
    assert_int_equal(rules_count(cfg->rules), 1);
    assert_string_equal(cfg->spool_dir, tpath("spool"));
    assert_int_equal(cfg->memory_limit, 0);
    assert_int_equal(cfg->limits.max_size, 1 * GiB);
    assert_int_equal(cfg->limits.max_headers, 50);
    assert_int_equal(cfg->limits.max_header_len, 1 * KiB);
    assert_int_equal(cfg->limits.max_depth, 100);
    assert_int_equal(cfg->limits.max_parts, 7);
    assert_int_equal(cfg->limits.scan_limit, 16 * GiB);
    assert_int_equal(cfg->apply_all, 0);
    assert_int_equal(cfg->apply_authenticated, 1);
    assert_int_equal(cfg->nnetworks, 3);
    assert_int_equal(cfg->networks[0].family, AF_INET);
    assert_int_equal(cfg->networks[0].prefix, 8);
    assert_memory_equal(cfg->networks[0].addr, "\x7f\0\0\0", 4);
    assert_int_equal(cfg->networks[1].family, AF_INET6);
    assert_int_equal(cfg->networks[1].prefix, 128);
    assert_int_equal(cfg->networks[1].addr[15], 1);
    assert_int_equal(cfg->networks[2].prefix, 32);
    assert_int_equal(cfg->on_incomplete, RULES_INCOMPLETE_REJECT);
    assert_string_equal(cfg->loop_secret_file, tpath("keys/loop.key"));
    assert_int_equal(cfg->loop_max_age, 12 * 3600);
    config_free(cfg);
    diag_free(&d);
}

/* test_empty_values - keys whose empty value means "none" */
static void test_empty_values(void **state)
{
    static const char yaml[] = MIN "milter:\n  user: \"\"\n  group:\n  pid_file: \"\"\n"
        "spool:\nlimits: ~\napply_to:\n";
    struct diag d;
    struct config *cfg = load(yaml, CONFIG_SKIP_SECRET, &d);

    (void)state;
    check_diags(&d, (const char *const[]){ NULL }, yaml);
    assert_non_null(cfg);
    assert_null(cfg->user);
    assert_null(cfg->group);
    assert_null(cfg->pid_file);
    assert_int_equal(cfg->apply_all, 1);
    assert_string_equal(cfg->spool_dir, "/var/spool/mailseal");
    config_free(cfg);
    diag_free(&d);
}

/* test_relative_config_path - a config named relative to the working directory */
static void test_relative_config_path(void **state)
{
    static const char *const names[] = { "cfg.yaml", "./cfg.yaml", "././cfg.yaml" };
    char cwd[PATH_MAX];

    (void)state;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    write_file("cfg.yaml", MIN "spool: {directory: ./spool}\n");
    assert_int_equal(chdir(tmpdir), 0);
    for (size_t i = 0; i < 3; i++) {
        struct diag d;
        struct config *cfg;

        diag_init(&d);
        cfg = config_load(names[i], CONFIG_SKIP_SECRET, &d);
        assert_non_null(cfg);
        assert_string_equal(cfg->path, tpath("cfg.yaml"));
        assert_string_equal(cfg->rules_path, tpath("rules.yaml"));
        assert_string_equal(cfg->spool_dir, tpath("spool"));
        config_free(cfg);
        diag_free(&d);
    }
    {
        /* diagnostics name the file as given */
        struct diag d;

        write_file("bad.yaml", "rules: rules.yaml\n");
        diag_init(&d);
        assert_null(config_load("bad.yaml", CONFIG_SKIP_SECRET, &d));
        assert_string_equal(diag_get(&d, 0), "bad.yaml:1:1: missing required key 'organization'");
        diag_free(&d);
    }
    assert_int_equal(chdir(cwd), 0);
}

/* test_domains - config_domain_is_internal */
static void test_domains(void **state)
{
    static const struct { const char *domain; int internal; } cases[] = {
        { "example.com", 1 }, { "EXAMPLE.COM", 1 }, { "Example.Com.", 1 },
        { "a.example.com", 0 }, { "xexample.com", 0 }, { "example.com..", 0 },
        { "example.org", 0 }, { "a.example.org", 1 }, { "a.b.example.org", 1 },
        { "A.B.EXAMPLE.ORG.", 1 }, { "xexample.org", 0 }, { ".example.org", 0 },
        { "example.org.evil", 0 }, { "sub.example.net", 1 }, { "example.net", 0 },
        { "x.sub.example.net", 0 }, { "", 0 }, { ".", 0 }, { NULL, 0 },
    };
    static const char yaml[] =
        "organization:\n  domains: [example.com, \"*.Example.ORG\", Sub.Example.NET.]\nrules: rules.yaml\n";
    struct diag d;
    struct config *cfg = load(yaml, CONFIG_SKIP_SECRET, &d);

    (void)state;
    assert_non_null(cfg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (config_domain_is_internal(cfg, cases[i].domain) != cases[i].internal)
            fail_msg("'%s': want %d", cases[i].domain ? cases[i].domain : "(null)",
                     cases[i].internal);
    assert_int_equal(config_domain_is_internal(NULL, "example.com"), 0);
    config_free(cfg);
    diag_free(&d);
}

/* sa_make - a socket address from text ("" for none, "unix" for AF_UNIX) */
static const struct sockaddr *sa_make(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (text == NULL)
        return NULL;
    if (strcmp(text, "unix") == 0) {
        ((struct sockaddr_un *)ss)->sun_family = AF_UNIX;
    } else if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return (const struct sockaddr *)ss;
}

/* test_client_scope - config_client_in_scope */
static void test_client_scope(void **state)
{
    static const struct { int cfg; const char *addr; const char *auth; int in; } cases[] = {
        /* cfg 0: no apply_to: everyone */
        { 0, NULL, NULL, 1 }, { 0, "8.8.8.8", NULL, 1 }, { 0, "2001:db8::1", "", 1 },
        /* cfg 1: authenticated or one of the networks */
        { 1, "10.1.2.3", NULL, 1 }, { 1, "10.255.255.255", NULL, 1 }, { 1, "11.0.0.1", NULL, 0 },
        { 1, "9.255.255.255", NULL, 0 }, { 1, "192.168.1.0", NULL, 1 }, { 1, "192.168.1.255", NULL, 1 },
        { 1, "192.168.2.1", NULL, 0 }, { 1, "172.16.0.1", NULL, 1 }, { 1, "172.16.0.2", NULL, 0 },
        { 1, "100.64.0.1", NULL, 1 }, { 1, "100.127.255.255", NULL, 1 }, { 1, "100.128.0.0", NULL, 0 },
        { 1, "2001:db8::1", NULL, 1 }, { 1, "2001:db8:ffff::1", NULL, 1 },
        { 1, "2001:db9::1", NULL, 0 }, { 1, "::1", NULL, 1 }, { 1, "::2", NULL, 0 },
        { 1, "::ffff:10.9.9.9", NULL, 1 }, { 1, "::ffff:11.0.0.1", NULL, 0 },
        { 1, "::ffff:192.168.1.7", NULL, 1 }, { 1, "::10.9.9.9", NULL, 0 },   /* not mapped */
        { 1, "11.0.0.1", "alice", 1 }, { 1, "11.0.0.1", "", 0 }, { 1, NULL, "alice", 1 },
        { 1, NULL, NULL, 0 }, { 1, "unix", NULL, 0 }, { 1, "unix", "bob", 1 },
        /* cfg 2: networks only; authentication alone does not count */
        { 2, "11.0.0.1", "alice", 0 }, { 2, "0.0.0.0", NULL, 0 }, { 2, "127.0.0.1", "alice", 1 },
        { 2, "::ffff:127.1.2.3", NULL, 1 }, { 2, "fe80::1", NULL, 1 }, { 2, "fec0::1", NULL, 0 },
        /* cfg 3: authenticated only */
        { 3, "10.1.2.3", NULL, 0 }, { 3, "10.1.2.3", "carol", 1 },
    };
    static const char *const yamls[] = {
        MIN,
        MIN "apply_to:\n  authenticated: true\n  networks: [10.0.0.0/8, 192.168.1.0/24, 172.16.0.1,"
            " 100.64.0.0/10, \"2001:db8::/32\", \"::1/128\"]\n",
        MIN "apply_to:\n  networks: [127.0.0.0/8, \"fe80::/10\"]\n",
        MIN "apply_to:\n  authenticated: true\n",
    };
    struct config *cfgs[4];
    struct diag d;

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        cfgs[i] = load(yamls[i], CONFIG_SKIP_SECRET, &d);
        check_diags(&d, (const char *const[]){ NULL }, yamls[i]);
        assert_non_null(cfgs[i]);
        diag_free(&d);
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss;
        const struct sockaddr *sa = sa_make(cases[i].addr, &ss);

        if (config_client_in_scope(cfgs[cases[i].cfg], sa, cases[i].auth) != cases[i].in)
            fail_msg("case %zu: cfg %d addr %s auth %s: want %d", i, cases[i].cfg,
                     cases[i].addr ? cases[i].addr : "(none)",
                     cases[i].auth ? cases[i].auth : "(none)", cases[i].in);
    }
    assert_int_equal(config_client_in_scope(NULL, NULL, "x"), 0);
    for (size_t i = 0; i < 4; i++)
        config_free(cfgs[i]);
}

/* test_parse_size - sizes */
static void test_parse_size(void **state)
{
    static const struct { const char *s; int ok; unsigned long long v; } cases[] = {
        { "0", 0, 0 }, { "512", 0, 512 }, { "1k", 0, KiB }, { "1K", 0, KiB }, { "1KB", 0, KiB },
        { "1kb", 0, KiB }, { "1KiB", 0, KiB }, { "1kib", 0, KiB }, { "64KiB", 0, 64 * KiB },
        { "10MB", 0, 10 * MiB }, { "1M", 0, MiB }, { "1mib", 0, MiB }, { "2G", 0, 2 * GiB },
        { "1gb", 0, GiB }, { "3GiB", 0, 3 * GiB }, { "1 MB", 0, MiB }, { "1TB", 0, 1024 * GiB },
        { "7b", 0, 7 }, { "7B", 0, 7 }, { "007", 0, 7 },
        { "18446744073709551615", 0, 18446744073709551615ull },
        { "16777215T", 0, 16777215ull << 40 },
        { "", -1, 0 }, { "MB", -1, 0 }, { "1.5MB", -1, 0 }, { "-1", -1, 0 }, { "10XB", -1, 0 },
        { "1 2", -1, 0 }, { "1  MB", -1, 0 }, { " 1", -1, 0 }, { "1bytes", -1, 0 },
        { "1MBB", -1, 0 }, { "0x10", -1, 0 }, { "18446744073709551616", -1, 0 },
        { "16777216T", -1, 0 }, { "17179869184G", -1, 0 }, { "1MB ", -1, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long long v = 12345;

        if (config_parse_size(cases[i].s, &v) != cases[i].ok)
            fail_msg("'%s': want %d", cases[i].s, cases[i].ok);
        assert_int_equal(v, cases[i].ok == 0 ? cases[i].v : 12345);
    }
    assert_int_equal(config_parse_size(NULL, &(unsigned long long){ 0 }), -1);
}

/* test_parse_duration - durations */
static void test_parse_duration(void **state)
{
    static const struct { const char *s; int ok; long v; } cases[] = {
        { "0", 0, 0 }, { "90", 0, 90 }, { "30s", 0, 30 }, { "5m", 0, 300 }, { "2h", 0, 7200 },
        { "7d", 0, 604800 }, { "1w", 0, 604800 }, { "1W", 0, 604800 }, { "5 m", 0, 300 },
        { "3D", 0, 3 * 86400 }, { "9223372036854775807", 0, LONG_MAX },
        { "106751991167300d", 0, 106751991167300L * 86400 },
        { "", -1, 0 }, { "m", -1, 0 }, { "1y", -1, 0 }, { "1.5h", -1, 0 }, { "-1", -1, 0 },
        { "1ms", -1, 0 }, { "1 h ", -1, 0 }, { "9223372036854775808", -1, 0 },
        { "106751991167301d", -1, 0 }, { "15250284452472w", -1, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long v = 12345;

        if (config_parse_duration(cases[i].s, &v) != cases[i].ok)
            fail_msg("'%s': want %d", cases[i].s, cases[i].ok);
        assert_int_equal(v, cases[i].ok == 0 ? cases[i].v : 12345);
    }
    assert_int_equal(config_parse_duration(NULL, &(long){ 0 }), -1);
}

/* test_check_socket - milter socket syntax */
static void test_check_socket(void **state)
{
    static const struct { const char *s; const char *why; } cases[] = {
        { "unix:/var/spool/postfix/mailseal/mailseal.sock", NULL },
        { "local:/run/m.sock", NULL },
        { "inet:8891@127.0.0.1", NULL }, { "inet:1@localhost", NULL },
        { "inet:65535@mail.example.com", NULL }, { "inet6:8891@::1", NULL },
        { "inet6:8891@[::1]", NULL }, { "inet6:8891@localhost", NULL },
        { "unix:relative.sock", "the socket path must be absolute" },
        { "local:", "the socket path must be absolute" },
        { "unix:/run/\x01.sock", "the socket path contains a control character" },
        { "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          "the socket path is longer than 107 bytes" },
        { "inet:0@localhost", "PORT must be a number from 1 to 65535" },
        { "inet:65536@localhost", "PORT must be a number from 1 to 65535" },
        { "inet:port@localhost", "PORT must be a number from 1 to 65535" },
        { "inet:25x@localhost", "PORT must be a number from 1 to 65535" },
        { "inet:25", "missing @HOST after the port" },
        { "inet:25@", "missing @HOST after the port" },
        { "inet:25@bad host", "HOST must be an IPv4 address or a host name" },
        { "inet:25@a..b", "HOST must be an IPv4 address or a host name" },
        { "inet6:25@::zz", "HOST must be an IPv6 address or a host name" },
        { "tcp:25@localhost", "expected unix:/absolute/path, local:/absolute/path, inet:PORT@HOST "
                              "or inet6:PORT@HOST" },
        { "", "expected unix:/absolute/path, local:/absolute/path, inet:PORT@HOST or inet6:PORT@HOST" },
        { "/run/m.sock", "expected unix:/absolute/path, local:/absolute/path, inet:PORT@HOST or "
                         "inet6:PORT@HOST" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = "unset";
        int r = config_check_socket(cases[i].s, &why);

        if (cases[i].why == NULL) {
            if (r != 0)
                fail_msg("'%s' refused: %s", cases[i].s, why);
            assert_null(why);
        } else {
            if (r != -1)
                fail_msg("'%s' accepted", cases[i].s);
            assert_string_equal(why, cases[i].why);
        }
    }
}

#define KEYHEX "00112233445566778899aabbccddeeff0123456789abcdef0011223344556677"
#define KEYCFG MIN "loop: {secret_file: loop.key}\n"

/* key_bytes - KEYHEX as bytes */
static void key_bytes(unsigned char *out)
{
    for (size_t i = 0; i < CONFIG_LOOP_KEY_LEN; i++) {
        unsigned v;

        sscanf(KEYHEX + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* test_secret_create - a missing secret is created with CONFIG_CREATE_SECRET */
static void test_secret_create(void **state)
{
    static const unsigned char zero[CONFIG_LOOP_KEY_LEN];
    struct diag d;
    struct config *cfg, *again;
    struct stat st;
    char hex[80] = { 0 };
    FILE *fp;

    (void)state;
    /* without the flag a missing file is an error */
    assert_null(load(KEYCFG, 0, &d));
    check_diags(&d, (const char *const[]){
        "@/loop.key: cannot open key file: No such file or directory", NULL }, KEYCFG);
    diag_free(&d);
    assert_int_equal(stat(tpath("loop.key"), &st), -1);

    /* a configuration with errors creates nothing */
    assert_null(load(KEYCFG "milter: {timeout: 0}\n", CONFIG_CREATE_SECRET, &d));
    diag_free(&d);
    assert_int_equal(stat(tpath("loop.key"), &st), -1);

    cfg = load(KEYCFG, CONFIG_CREATE_SECRET, &d);
    check_diags(&d, (const char *const[]){ NULL }, KEYCFG);
    assert_non_null(cfg);
    assert_int_equal(stat(tpath("loop.key"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    fp = fopen(tpath("loop.key"), "r");
    assert_non_null(fp);
    assert_non_null(fgets(hex, sizeof(hex), fp));
    fclose(fp);
    assert_int_equal(strlen(hex), 65);
    assert_int_equal(hex[64], '\n');
    for (size_t i = 0; i < CONFIG_LOOP_KEY_LEN; i++) {
        unsigned v;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        assert_int_equal(cfg->loop_key[i], v);
    }
    assert_memory_not_equal(cfg->loop_key, zero, sizeof(zero));

    /* loading again reads the same key */
    again = load(KEYCFG, 0, &d);
    assert_non_null(again);
    assert_memory_equal(again->loop_key, cfg->loop_key, CONFIG_LOOP_KEY_LEN);
    config_free(again);
    config_free(cfg);
    diag_free(&d);
}

/* test_secret_group - with a user, the created file is readable by its group */
static void test_secret_group(void **state)
{
    struct diag d;
    struct config *cfg;
    struct stat st;

    (void)state;
    if (geteuid() != 0)
        skip();
    cfg = load(KEYCFG "milter: {user: root}\n", CONFIG_CREATE_SECRET, &d);
    check_diags(&d, (const char *const[]){ NULL }, KEYCFG);
    assert_non_null(cfg);
    assert_int_equal(stat(tpath("loop.key"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(st.st_gid, 0);
    config_free(cfg);
    diag_free(&d);
}

/* test_secret_refused - bad modes, a symbolic link, bad contents */
static void test_secret_refused(void **state)
{
    static const struct { mode_t mode; const char *text; const char *want; } cases[] = {
        { 0644, KEYHEX "\n", "@/loop.key: key file mode 0644 is unsafe" },
        { 0660, KEYHEX "\n", "@/loop.key: key file mode 0660 is unsafe" },
        { 0604, KEYHEX "\n", "@/loop.key: key file mode 0604 is unsafe" },
        { 0600, "abc\n", "@/loop.key: key file must hold exactly 64 hexadecimal digits" },
        { 0600, "zz112233445566778899aabbccddeeff0123456789abcdef0011223344556677\n",
          "@/loop.key: key file holds a character that is not a hexadecimal digit" },
    };
    unsigned char want_key[CONFIG_LOOP_KEY_LEN];
    struct diag d;
    struct config *cfg;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *want = expand(cases[i].want);

        write_file("loop.key", cases[i].text);
        assert_int_equal(chmod(tpath("loop.key"), cases[i].mode), 0);
        assert_null(load(KEYCFG, CONFIG_CREATE_SECRET, &d));
        assert_int_equal(diag_count(&d), 1);
        if (strncmp(diag_get(&d, 0), want, strlen(want)) != 0)
            fail_msg("got:  %s\nwant: %s...", diag_get(&d, 0), want);
        free(want);
        diag_free(&d);
    }

    /* a symbolic link to a good file is refused */
    write_file("real.key", KEYHEX "\n");
    assert_int_equal(chmod(tpath("real.key"), 0600), 0);
    unlink(tpath("loop.key"));
    {
        char target[512];

        snprintf(target, sizeof(target), "%s", tpath("real.key"));
        assert_int_equal(symlink(target, tpath("loop.key")), 0);
    }
    assert_null(load(KEYCFG, CONFIG_CREATE_SECRET, &d));
    check_diags(&d, (const char *const[]){ "@/loop.key: key file is a symbolic link: refused", NULL },
                "(symlink)");
    diag_free(&d);

    /* the same file, named directly, is fine; mode 0640 is fine too */
    assert_int_equal(chmod(tpath("real.key"), 0640), 0);
    cfg = load(MIN "loop: {secret_file: real.key}\n", 0, &d);
    check_diags(&d, (const char *const[]){ NULL }, "(real.key)");
    assert_non_null(cfg);
    key_bytes(want_key);
    assert_memory_equal(cfg->loop_key, want_key, CONFIG_LOOP_KEY_LEN);
    config_free(cfg);
    diag_free(&d);

    /* CONFIG_SKIP_SECRET reads nothing: the link is not even looked at */
    cfg = load(KEYCFG, CONFIG_SKIP_SECRET, &d);
    assert_non_null(cfg);
    assert_int_equal(diag_count(&d), 0);
    config_free(cfg);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_config_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_scope, setup, teardown),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_check_socket),
        cmocka_unit_test_setup_teardown(test_secret_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_refused, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
