/*
 * test_callbacks - the milter callbacks driven through a recording fake of
 * libmilter: what each decision asks the MTA to do, the loop marker
 * (forged, genuine, several), reverse-order header deletion
 * (CVE-2022-48521), tempfail on spool faults, scope, and reload keeping the
 * old rules on a bad file while messages in flight keep their own; the
 * actions remove_subject_tag, remove_header, bcc, log and encrypt (which
 * fails closed), and the actions negotiated with the MTA.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto/envelope.h"
#include "crypto/marker.h"
#include "crypto/viewer.h"
#include "message/codec.h"
#include "message/spool.h"
#include "milter/callbacks.h"
#include "milter/context.h"
#include "milter/gateway.h"
#include "milter/smfi_ops.h"
#include "util/buf.h"

static char dir[64];
static char path_conf[128], path_rules[128];
static void *fake_priv;
static struct buf ops;              /* one line per MTA operation */
static struct buf newbody = BUF_INIT(64u << 20);  /* the body replacebody wrote */
static struct buf last_marker = BUF_INIT(1024);   /* the value of the last marker added */
static const char *fake_auth;
static SMFICTX *const CTX = (SMFICTX *)&fake_priv;

static char *fake_getsymval(SMFICTX *ctx, char *name)
{
    (void)ctx;
    if (strcmp(name, "i") == 0)
        return (char *)"4XyZ12";
    if (strcmp(name, "{auth_authen}") == 0)
        return (char *)fake_auth;
    return NULL;
}
static int fake_setpriv(SMFICTX *ctx, void *p) { (void)ctx; fake_priv = p; return MI_SUCCESS; }
static void *fake_getpriv(SMFICTX *ctx) { (void)ctx; return fake_priv; }
static int fake_setreply(SMFICTX *ctx, char *r, char *x, char *t)
{
    (void)ctx;
    buf_printf(&ops, "reply %s %s %s\n", r, x, t);
    return MI_SUCCESS;
}
static int fake_addheader(SMFICTX *ctx, char *n, char *v)
{
    (void)ctx;
    if (strcmp(n, "Content-Type") == 0 && strncmp(v, " multipart/mixed;", 17) == 0 && strstr(v, "boundary=\"=_mailseal_") != NULL)
        v = (char *)" (wrapper)";
    if (strcmp(n, MARKER_HEADER) == 0) {
        buf_reset(&last_marker);
        buf_adds(&last_marker, v);
    }
    buf_printf(&ops, "add %s:%s\n", n, strcmp(n, MARKER_HEADER) == 0 ? " (marker)" : v);
    return MI_SUCCESS;
}
static int fake_replacebody(SMFICTX *ctx, unsigned char *d, int len)
{
    (void)ctx;
    if (len > 65536)
        return MI_FAILURE;
    /* one line for the pieces of one body (64 KiB each) */
    if (ops.len < 12 || strcmp(buf_str(&ops) + ops.len - 12, "replacebody\n") != 0)
        buf_printf(&ops, "replacebody\n");
    buf_add(&newbody, d, (size_t)len);
    return MI_SUCCESS;
}
static int fake_chgheader(SMFICTX *ctx, char *n, int i, char *v)
{
    (void)ctx;
    if (v == NULL)
        buf_printf(&ops, "del %s %d\n", n, i);
    else
        buf_printf(&ops, "chg %s %d:%s\n", n, i, v);
    return MI_SUCCESS;
}
static int fake_quarantine(SMFICTX *ctx, char *r) { (void)ctx; buf_printf(&ops, "quarantine %s\n", r); return MI_SUCCESS; }
static int fake_setsymlist(SMFICTX *ctx, int s, char *m) { (void)ctx; (void)s; (void)m; return MI_SUCCESS; }
static int fake_addrcpt_fails;      /* the MTA refuses smfi_addrcpt */
static int fake_addrcpt(SMFICTX *ctx, char *r)
{
    (void)ctx;
    buf_printf(&ops, "addrcpt %s%s\n", r, fake_addrcpt_fails ? " (failed)" : "");
    return fake_addrcpt_fails ? MI_FAILURE : MI_SUCCESS;
}

static const struct smfi_ops fake_ops = {
    fake_getsymval, fake_setpriv, fake_getpriv, fake_setreply, fake_addheader,
    fake_chgheader, fake_quarantine, fake_setsymlist, fake_addrcpt, fake_replacebody,
};

#define SEAL_PASS "correct horse battery"

/* write_secrets - a store with a key for bob@partner.test (passphrase SEAL_PASS) */
static void write_secrets(void)
{
    struct env_recipient_key k;
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/secrets", dir);
    assert_int_equal(env_derive_passphrase_key(SEAL_PASS, strlen(SEAL_PASS), 100000, &k), 0);
    assert_non_null(fp = fopen(path, "w"));
    fprintf(fp, "bob@partner.test %u ", (unsigned)k.iterations);
    for (size_t i = 0; i < sizeof(k.salt); i++)
        fprintf(fp, "%02x", k.salt[i]);
    fputc(' ', fp);
    for (size_t i = 0; i < sizeof(k.kek); i++)
        fprintf(fp, "%02x", k.kek[i]);
    fputc('\n', fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0600), 0);
}

/* plain_out - collect the decrypted payload */
static int plain_out(void *arg, const void *d, size_t len)
{
    return buf_add(arg, d, len);
}

/* open_wrapper - decrypt the envelope in the captured body with SEAL_PASS */
static void open_wrapper(struct buf *plain)
{
    struct buf env = BUF_INIT(64u << 20), text = BUF_INIT(64u << 20);
    struct env_reader *r;
    size_t pos = 0, start, end;
    long took;
    int rc;

    while ((rc = viewer_envelope_block(buf_str(&newbody), newbody.len, &pos, &start, &end)) == 1)
        assert_int_equal(buf_add(&text, buf_str(&newbody) + start, end - start), 0);
    assert_int_equal(rc, 0);
    assert_true(text.len > 0);
    assert_int_equal(b64_decode_buf(text.data, text.len, &env), 0);
    buf_free(&text);
    assert_non_null(r = env_reader_new(plain_out, plain));
    took = env_reader_feed(r, buf_str(&env), env.len);
    assert_true(took > 0 && env_reader_header_done(r));
    assert_int_equal(env_reader_unlock_passphrase(r, SEAL_PASS, strlen(SEAL_PASS), NULL), 0);
    assert_int_equal(env_reader_feed(r, buf_str(&env) + took, env.len - (size_t)took),
                     (long)(env.len - (size_t)took));
    assert_int_equal(env_reader_finish(r), 0);
    env_reader_free(r);
    buf_free(&env);
}

/* write_text - replace a file's contents */
static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static const char rules_a[] =
    "rules:\n"
    "  - name: tag\n"
    "    if: {subject_contains: \"[tag]\"}\n"
    "    then: {add_header: {name: X-Tag, value: yes}}\n"
    "  - name: prefix\n"
    "    if: {subject_contains: \"[secure]\", recipient_scope: external}\n"
    "    then: {prepend_subject: \"[Secure] \"}\n"
    "  - name: block\n"
    "    if: {subject_contains: \"[block]\"}\n"
    "    then: {reject: {code: 550, status: \"5.7.1\", message: \"Blocked 100% by policy\"}}\n"
    "  - name: hold\n"
    "    if: {subject_contains: \"[hold]\"}\n"
    "    then: {quarantine: \"held for review\"}\n"
    "  - name: setter\n"
    "    if: {subject_contains: \"[set]\"}\n"
    "    then: {set_header: {name: X-Class, value: secret}}\n";

/* write_conf - the test configuration */
static void write_conf(void)
{
    char conf[512];

    snprintf(conf, sizeof(conf),
             "organization:\n  domains: [example.com]\n"
             "rules: rules.yaml\n"
             "spool: {directory: %s, memory_limit: 64KB}\n"
             "loop: {secret_file: %s/loop.key}\n"
             "envelope: {secrets_file: secrets, random_passphrase: never}\n", dir, dir);
    write_text(path_conf, conf);
}

static int setup(void **state)
{
    struct diag d;

    (void)state;
    strcpy(dir, "/tmp/mailseal-cb-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path_conf, sizeof(path_conf), "%s/mailseal.yaml", dir);
    snprintf(path_rules, sizeof(path_rules), "%s/rules.yaml", dir);
    write_conf();
    write_secrets();
    write_text(path_rules, rules_a);
    ms_smfi = &fake_ops;
    buf_init(&ops, 1 << 20);
    diag_init(&d);
    if (gateway_start(path_conf, CONFIG_CREATE_SECRET, NULL, &d) < 0) {
        diag_print(&d, stderr);
        return -1;
    }
    diag_free(&d);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    gateway_shutdown();
    buf_free(&ops);
    buf_free(&last_marker);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

struct hdr { const char *name, *value; };

/* connect_from - open a fake connection from 127.0.0.1 */
static void connect_from(const char *ip)
{
    struct sockaddr_in sin;
    unsigned long p0 = 0, p1 = 0, p2 = 0, p3 = 0;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sin.sin_addr);
    assert_int_equal(cb_negotiate(CTX, 0x1ff, 0x1fffff, 0, 0, &p0, &p1, &p2, &p3), SMFIS_CONTINUE);
    assert_true(p1 & SMFIP_HDR_LEADSPC);
    assert_true(p1 & SMFIP_NR_HDR);     /* headers unanswered: one round trip fewer per field */
    assert_true(p1 & SMFIP_NR_BODY);    /* body chunks unanswered too */
    assert_false(p1 & SMFIP_NODATA);    /* DATA answered (no wait on a delayed ACK) */
    assert_int_equal(cb_connect(CTX, (char *)"client", (struct sockaddr *)&sin), SMFIS_CONTINUE);
}

/* start_message - MAIL FROM, RCPT TO and headers; returns the last status */
static sfsistat start_message(const char *to, const struct hdr *h)
{
    char *from[] = { (char *)"<alice@example.com>", NULL };
    char *rcpt[] = { (char *)to, NULL };
    sfsistat st;

    if ((st = cb_envfrom(CTX, from)) != SMFIS_CONTINUE)
        return st;
    if ((st = cb_envrcpt(CTX, rcpt)) != SMFIS_CONTINUE)
        return st;
    for (; h && h->name; h++)
        if ((st = cb_header(CTX, (char *)h->name, (char *)h->value)) != SMFIS_NOREPLY)
            return st == SMFIS_CONTINUE ? SMFIS_TEMPFAIL : st;    /* never answered */
    return cb_eoh(CTX);
}

/* finish_message - body and end of message */
static sfsistat finish_message(const char *body)
{
    sfsistat st = cb_body(CTX, (unsigned char *)body, strlen(body));

    if (st != SMFIS_NOREPLY)
        return st == SMFIS_CONTINUE ? SMFIS_TEMPFAIL : st;      /* never answered */
    return cb_eom(CTX);
}

/* run_message - one whole message on a fresh connection; the MTA operations in ops */
static sfsistat run_message(const char *to, const struct hdr *h, const char *body)
{
    sfsistat st;

    buf_reset(&ops);
    connect_from("127.0.0.1");
    st = start_message(to, h);
    if (st == SMFIS_CONTINUE)
        st = finish_message(body);
    cb_close(CTX);
    assert_null(fake_priv);
    return st;
}

static void test_decisions(void **state)
{
    static const struct hdr h_tag[] = { { "Subject", " Report [tag]" }, { "Message-ID", " <a@x>" }, { NULL, NULL } };
    static const struct hdr h_none[] = { { "Subject", " hello" }, { NULL, NULL } };
    static const struct hdr h_block[] = { { "Subject", " [block] x" }, { NULL, NULL } };
    static const struct hdr h_hold[] = { { "Subject", " [hold] x" }, { NULL, NULL } };
    static const struct hdr h_secure[] = { { "Subject", " =?UTF-8?B?W3NlY3VyZV0gUTMgbnVtYmVycw==?=" }, { NULL, NULL } };
    static const struct hdr h_set[] = { { "X-Class", " a" }, { "Subject", " [set]" }, { "X-Class", " b" },
                                        { "x-class", " c" }, { NULL, NULL } };
    struct { const char *name; const char *to; const struct hdr *h; sfsistat want; const char *ops; } cases[] = {
        { "no rule matches", "<bob@partner.test>", h_none, SMFIS_CONTINUE, "" },
        { "add_header", "<bob@partner.test>", h_tag, SMFIS_CONTINUE,
          "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n" },
        { "reject, % escaped", "<bob@partner.test>", h_block, SMFIS_REJECT,
          "reply 550 5.7.1 Blocked 100%% by policy\n" },
        { "quarantine", "<bob@partner.test>", h_hold, SMFIS_CONTINUE, "quarantine held for review\n" },
        { "prepend to an encoded subject, external", "<bob@partner.test>", h_secure, SMFIS_CONTINUE,
          "chg Subject 1: [Secure] [secure] Q3 numbers\nadd X-Mailseal-Loop: (marker)\n" },
        { "recipient_scope: internal recipient only", "<carol@example.com>", h_secure, SMFIS_CONTINUE, "" },
        { "set_header: delete extra copies last first", "<bob@partner.test>", h_set, SMFIS_CONTINUE,
          "del X-Class 3\ndel X-Class 2\nchg X-Class 1: secret\nadd X-Mailseal-Loop: (marker)\n" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sfsistat st = run_message(cases[i].to, cases[i].h, "body\r\n");

        if (st != cases[i].want || strcmp(buf_str(&ops), cases[i].ops) != 0)
            fail_msg("%s: status %d (want %d), ops:\n%s\nwant:\n%s", cases[i].name, st,
                     cases[i].want, buf_str(&ops), cases[i].ops);
    }
}

/* genuine_marker - a marker this installation would write for the message */
static void genuine_marker(const char *msgid, const char *rcpt, const char *body, struct buf *out)
{
    struct gw_conf *gc = gateway_acquire();
    struct body_digest *bd = body_digest_new();
    unsigned char digest[MARKER_DIGEST_LEN];
    const char *rcpts[] = { rcpt };

    assert_int_equal(body_digest_update(bd, body, strlen(body)), 0);
    assert_int_equal(body_digest_final(bd, digest), 0);
    body_digest_free(bd);
    buf_init(out, 512);
    buf_addc(out, ' ');
    assert_int_equal(marker_make(gc->cfg->loop_key, 32, time(NULL), msgid, rcpts, 1, digest, out), 0);
    gateway_release(gc);
}

static void test_loop_marker(void **state)
{
    struct buf m;
    sfsistat st;

    (void)state;
    genuine_marker(" <m1@example.com>", "bob@partner.test", "body\r\n", &m);
    {
        /* genuine: passes untouched, even though a rule would match */
        const struct hdr h[] = { { "Subject", " [tag]" }, { "Message-ID", " <m1@example.com>" },
                                 { MARKER_HEADER, m.data }, { NULL, NULL } };

        st = run_message("<bob@partner.test>", h, "body\r\n");
        assert_int_equal(st, SMFIS_ACCEPT);
        assert_string_equal(buf_str(&ops), "");
    }
    {
        /* the same marker on another body (or to other recipients) is not accepted */
        const struct hdr h[] = { { "Subject", " [tag]" }, { "Message-ID", " <m1@example.com>" },
                                 { MARKER_HEADER, m.data }, { NULL, NULL } };

        st = run_message("<bob@partner.test>", h, "other body\r\n");
        assert_int_equal(st, SMFIS_CONTINUE);
        assert_string_equal(buf_str(&ops), "del X-Mailseal-Loop 1\nadd X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
        st = run_message("<eve@evil.test>", h, "body\r\n");
        assert_string_equal(buf_str(&ops), "del X-Mailseal-Loop 1\nadd X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    }
    {
        /* two forged markers: both removed, highest index first; rules still run */
        const struct hdr h[] = { { MARKER_HEADER, " v=1; t=1; s=AAAA" }, { "Subject", " [tag]" },
                                 { "x-mailseal-loop", " forged" }, { NULL, NULL } };

        st = run_message("<bob@partner.test>", h, "body\r\n");
        assert_int_equal(st, SMFIS_CONTINUE);
        assert_string_equal(buf_str(&ops), "del X-Mailseal-Loop 2\ndel X-Mailseal-Loop 1\n"
                                           "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    }
    buf_free(&m);
}

/* v2_marker - a v=2 marker under this installation's key for body (with a fresh nonce) */
static void v2_marker(const char *msgid, const char *rcpt, const char *body, time_t t, struct buf *out)
{
    struct gw_conf *gc = gateway_acquire();
    struct body_mac *bm = body_mac_new(gc->cfg->loop_key, 32, NULL);
    unsigned char auth[MARKER_BODY_AUTH_LEN];
    const char *rcpts[] = { rcpt };

    assert_non_null(bm);
    assert_int_equal(body_mac_update(bm, body, strlen(body)), 0);
    assert_int_equal(body_mac_final(bm, auth), 0);
    body_mac_free(bm);
    buf_init(out, 512);
    buf_addc(out, ' ');
    assert_int_equal(marker_make_v2(gc->cfg->loop_key, 32, t, msgid, rcpts, 1, auth, out), 0);
    gateway_release(gc);
}

/* test_loop_marker_v2 - the marker the gateway adds is v=2 and lets the
 * message pass next time (LF line ends too); on another body it is removed */
static void test_loop_marker_v2(void **state)
{
    static const struct hdr h_first[] = { { "Subject", " [tag]" }, { "Message-ID", " <m2@example.com>" },
                                          { NULL, NULL } };
    struct buf m = BUF_INIT(1024);

    (void)state;
    assert_int_equal(run_message("<bob@partner.test>", h_first, "body\r\nline two\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    assert_true(strncmp(buf_str(&last_marker), " v=2; t=", 8) == 0);
    assert_int_equal(buf_adds(&m, buf_str(&last_marker)), 0);
    {
        const struct hdr h[] = { { "Subject", " [tag]" }, { "Message-ID", " <m2@example.com>" },
                                 { "X-Tag", " yes" }, { MARKER_HEADER, m.data }, { NULL, NULL } };

        assert_int_equal(run_message("<bob@partner.test>", h, "body\nline two\n\n"), SMFIS_ACCEPT);
        assert_string_equal(buf_str(&ops), "");
        /* replayed on another body, or to another recipient: removed, inspected */
        assert_int_equal(run_message("<bob@partner.test>", h, "body\r\nline 2\r\n"), SMFIS_CONTINUE);
        assert_string_equal(buf_str(&ops), "del X-Mailseal-Loop 1\nadd X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
        assert_int_equal(run_message("<eve@evil.test>", h, "body\r\nline two\r\n"), SMFIS_CONTINUE);
        assert_string_equal(buf_str(&ops), "del X-Mailseal-Loop 1\nadd X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    }
    buf_free(&m);
}

/* test_loop_marker_cap - of many v=2 markers only MARKER_CHECK_MAX_MACS
 * nonces are checked: a genuine marker among the first passes, one after
 * four forged ones does not (all are removed, the message is inspected) */
static void test_loop_marker_cap(void **state)
{
    struct buf forged[MARKER_CHECK_MAX_MACS], good;
    struct hdr h[MARKER_CHECK_MAX_MACS + 4];
    char want[512];
    size_t n = 0, len = 0;

    (void)state;
    v2_marker("<m3@example.com>", "bob@partner.test", "body\r\n", time(NULL), &good);
    for (size_t i = 0; i < MARKER_CHECK_MAX_MACS; i++)
        v2_marker("<m3@example.com>", "bob@partner.test", "forged body\r\n", time(NULL), &forged[i]);
    h[n++] = (struct hdr){ "Subject", " [tag]" };
    h[n++] = (struct hdr){ "Message-ID", " <m3@example.com>" };
    for (size_t i = 0; i < MARKER_CHECK_MAX_MACS; i++)
        h[n++] = (struct hdr){ MARKER_HEADER, forged[i].data };
    h[n++] = (struct hdr){ MARKER_HEADER, good.data };
    h[n] = (struct hdr){ NULL, NULL };
    assert_int_equal(run_message("<bob@partner.test>", h, "body\r\n"), SMFIS_CONTINUE);
    for (size_t i = MARKER_CHECK_MAX_MACS + 1; i > 0; i--)
        len += (size_t)snprintf(want + len, sizeof(want) - len, "del X-Mailseal-Loop %zu\n", i);
    snprintf(want + len, sizeof(want) - len, "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    assert_string_equal(buf_str(&ops), want);
    /* the genuine one first: it passes */
    h[2] = (struct hdr){ MARKER_HEADER, good.data };
    h[n - 1] = (struct hdr){ MARKER_HEADER, forged[0].data };
    assert_int_equal(run_message("<bob@partner.test>", h, "body\r\n"), SMFIS_ACCEPT);
    assert_string_equal(buf_str(&ops), "");
    for (size_t i = 0; i < MARKER_CHECK_MAX_MACS; i++)
        buf_free(&forged[i]);
    buf_free(&good);
}

/* test_body_hashed_only_with_markers - no marker header: no marker check
 * (the body is not hashed); an expired marker: a check that needs no body */
static void test_body_hashed_only_with_markers(void **state)
{
    static const struct hdr h_none[] = { { "Subject", " [tag]" }, { NULL, NULL } };
    struct buf old;
    struct conn_ctx *cc;

    (void)state;
    v2_marker("<m4@example.com>", "bob@partner.test", "body\r\n", time(NULL) - 30 * 86400, &old);
    buf_reset(&ops);
    connect_from("127.0.0.1");
    assert_int_equal(start_message("<bob@partner.test>", h_none), SMFIS_CONTINUE);
    cc = fake_priv;
    assert_non_null(cc->cctx_msg);
    assert_null(cc->cctx_msg->mctx_check);
    assert_int_equal(finish_message("body\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    {
        const struct hdr h[] = { { "Subject", " [tag]" }, { MARKER_HEADER, old.data }, { NULL, NULL } };

        buf_reset(&ops);
        assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);
        cc = fake_priv;
        assert_non_null(cc->cctx_msg->mctx_check);
        assert_int_equal(marker_check_needs_body(cc->cctx_msg->mctx_check), 0);
        assert_int_equal(finish_message("body\r\n"), SMFIS_CONTINUE);
        assert_string_equal(buf_str(&ops), "del X-Mailseal-Loop 1\nadd X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    }
    cb_close(CTX);
    buf_free(&old);
}

static void test_abort_and_reuse(void **state)
{
    static const struct hdr h[] = { { "Subject", " [tag]" }, { NULL, NULL } };

    (void)state;
    buf_reset(&ops);
    connect_from("127.0.0.1");
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);
    assert_int_equal(cb_abort(CTX), SMFIS_CONTINUE);
    /* a second message on the same connection, then one started twice */
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);
    assert_int_equal(finish_message("x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    cb_close(CTX);
    assert_int_equal(gateway_wait_idle(0), 0);
}

static void test_large_message_spills(void **state)
{
    static const struct hdr h[] = { { "Subject", " [tag]" }, { NULL, NULL } };
    struct buf body = BUF_INIT(4 << 20);

    (void)state;
    for (int i = 0; i < 40000; i++)
        assert_int_equal(buf_adds(&body, "a line of text that is long enough to matter.\r\n"), 0);
    assert_int_equal(run_message("<bob@partner.test>", h, body.data), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    {
        /* the marker's body MAC, read back from the spool file, verifies next time */
        struct buf m = BUF_INIT(1024);
        struct hdr h2[] = { { "Subject", " [tag]" }, { MARKER_HEADER, NULL }, { NULL, NULL } };

        assert_int_equal(buf_adds(&m, buf_str(&last_marker)), 0);
        h2[1].value = buf_str(&m);
        assert_int_equal(run_message("<bob@partner.test>", h2, body.data), SMFIS_ACCEPT);
        assert_string_equal(buf_str(&ops), "");
        buf_free(&m);
    }
    buf_free(&body);
}

static void test_spool_fault_tempfails(void **state)
{
    static const struct hdr h[] = { { "Subject", " [tag]" }, { NULL, NULL } };
    struct buf body = BUF_INIT(1 << 20);
    struct gw_conf *gc = gateway_acquire();
    char *saved = gc->cfg->spool_dir;

    (void)state;
    gc->cfg->spool_dir = (char *)"/nonexistent/mailseal-spool";
    for (int i = 0; i < 3000; i++)
        buf_adds(&body, "more than the 64 KB memory limit allows......\r\n");
    assert_int_equal(run_message("<bob@partner.test>", h, body.data), SMFIS_TEMPFAIL);
    assert_non_null(strstr(buf_str(&ops), "reply 451 4.3.0"));
    gc->cfg->spool_dir = saved;
    gateway_release(gc);
    buf_free(&body);
}

/* A fault while taking a header field gets no reply under SMFIP_NR_HDR:
 * the fields after it are not taken and the end of headers answers 451. */
static void test_header_fault_answered_at_eoh(void **state)
{
    char *from[] = { (char *)"<alice@example.com>", NULL };
    char *rcpt[] = { (char *)"<bob@partner.test>", NULL };
    struct msg_ctx *mc;
    uint64_t before;

    (void)state;
    buf_reset(&ops);
    connect_from("127.0.0.1");
    assert_int_equal(cb_envfrom(CTX, from), SMFIS_CONTINUE);
    assert_int_equal(cb_envrcpt(CTX, rcpt), SMFIS_CONTINUE);
    assert_int_equal(cb_header(CTX, (char *)"Subject", (char *)" [tag]"), SMFIS_NOREPLY);
    mc = ((struct conn_ctx *)fake_priv)->cctx_msg;
    mc->mctx_error = ENOMEM;           /* as ctx_fault() records it, say for Message-ID */
    mc->mctx_error_what = "message-id";
    before = spool_size(mc->mctx_spool);
    assert_int_equal(cb_header(CTX, (char *)"X-After", (char *)" 1"), SMFIS_NOREPLY);
    assert_true(spool_size(mc->mctx_spool) == before);
    assert_int_equal(cb_eoh(CTX), SMFIS_TEMPFAIL);
    assert_non_null(strstr(buf_str(&ops), "reply 451 4.3.0"));
    cb_abort(CTX);
    cb_close(CTX);
    assert_null(fake_priv);
}

/* Likewise for a body chunk under SMFIP_NR_BODY: the chunks after it are
 * not taken and the end of the message answers 451, deciding nothing. */
static void test_body_fault_answered_at_eom(void **state)
{
    static const struct hdr h[] = { { "Subject", " [tag]" }, { NULL, NULL } };
    struct msg_ctx *mc;
    uint64_t before;

    (void)state;
    buf_reset(&ops);
    connect_from("127.0.0.1");
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);
    assert_int_equal(cb_body(CTX, (unsigned char *)"one\r\n", 5), SMFIS_NOREPLY);
    mc = ((struct conn_ctx *)fake_priv)->cctx_msg;
    mc->mctx_error = ENOSPC;           /* as ctx_fault() records a failed spool write */
    mc->mctx_error_what = "spool write";
    before = spool_size(mc->mctx_spool);
    assert_int_equal(cb_body(CTX, (unsigned char *)"two\r\n", 5), SMFIS_NOREPLY);
    assert_true(spool_size(mc->mctx_spool) == before);
    assert_int_equal(cb_eom(CTX), SMFIS_TEMPFAIL);
    assert_string_equal(buf_str(&ops), "reply 451 4.3.0 Temporary failure in the mail encryption gateway, try again later\n");
    cb_close(CTX);
    assert_null(fake_priv);
}

static void test_scope(void **state)
{
    static const struct hdr h[] = { { "Subject", " [tag]" }, { NULL, NULL } };
    char conf[512];
    char *from[] = { (char *)"<alice@example.com>", NULL };
    struct gw_conf *gc;

    (void)state;
    snprintf(conf, sizeof(conf),
             "organization:\n  domains: [example.com]\nrules: rules.yaml\n"
             "spool: {directory: %s}\nloop: {secret_file: %s/loop.key}\n"
             "apply_to: {authenticated: true, networks: [10.0.0.0/8]}\n", dir, dir);
    write_text(path_conf, conf);
    assert_int_equal(gateway_reload(), 0);
    buf_reset(&ops);
    connect_from("127.0.0.1");
    fake_auth = NULL;
    assert_int_equal(cb_envfrom(CTX, from), SMFIS_ACCEPT);       /* not listed: passed */
    fake_auth = "alice";
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);   /* authenticated */
    assert_int_equal(finish_message("x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    cb_close(CTX);
    fake_auth = NULL;
    buf_reset(&ops);
    connect_from("10.1.2.3");
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);    /* listed network */
    cb_close(CTX);
    gc = gateway_acquire();
    assert_int_equal(gc->cfg->apply_all, 0);
    gateway_release(gc);
}

static void test_reload(void **state)
{
    static const struct hdr h[] = { { "Subject", " [tag]" }, { NULL, NULL } };
    char conf[512];

    (void)state;
    snprintf(conf, sizeof(conf),
             "organization:\n  domains: [example.com]\nrules: rules.yaml\n"
             "spool: {directory: %s}\nloop: {secret_file: %s/loop.key}\n", dir, dir);
    write_text(path_conf, conf);
    write_text(path_rules, rules_a);
    assert_int_equal(gateway_reload(), 0);
    /* a broken rules file: reload fails, the old rules stay */
    write_text(path_rules, "rules:\n  - name: tag\n    if: {subject_contains: [unclosed\n");
    assert_int_equal(gateway_reload(), -1);
    assert_int_equal(run_message("<bob@partner.test>", h, "x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    /* a broken configuration file: reload fails, the old configuration stays */
    write_text(path_conf, "organization:\n  domians: [example.com]\nrules: rules.yaml\n");
    assert_int_equal(gateway_reload(), -1);
    assert_int_equal(run_message("<bob@partner.test>", h, "x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    write_text(path_conf, conf);
    /* a message in flight across a good reload finishes with the rules it started with */
    buf_reset(&ops);
    connect_from("127.0.0.1");
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);
    write_text(path_rules,
               "rules:\n  - name: tag2\n    if: {subject_contains: \"[tag]\"}\n"
               "    then: {add_header: {name: X-Tag2, value: two}}\n");
    assert_int_equal(gateway_reload(), 0);
    assert_int_equal(finish_message("x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
    /* the next message uses the new rules */
    buf_reset(&ops);
    assert_int_equal(start_message("<bob@partner.test>", h), SMFIS_CONTINUE);
    assert_int_equal(finish_message("x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag2: two\nadd X-Mailseal-Loop: (marker)\n");
    cb_close(CTX);
    write_text(path_rules, rules_a);
    assert_int_equal(gateway_reload(), 0);
}

/* set_config - rewrite the configuration with extra YAML and reload it */
static void set_config(const char *extra)
{
    char conf[1024];

    snprintf(conf, sizeof(conf),
             "organization:\n  domains: [example.com]\nrules: rules.yaml\n"
             "spool: {directory: %s}\nloop: {secret_file: %s/loop.key}\n%s", dir, dir, extra);
    write_text(path_conf, conf);
    assert_int_equal(gateway_reload(), 0);
}

static void test_on_incomplete(void **state)
{
    /* The Subject comes after the header limit: subject_contains cannot be
     * decided.  Protective actions apply (encrypt policy) or the message is
     * rejected (reject policy); harmless actions (add_header) do not. */
    static const struct hdr h_block[] = { { "X-1", " a" }, { "X-2", " b" }, { "X-3", " c" },
                                          { "Subject", " [block]" }, { NULL, NULL } };
    static const struct hdr h_tag[] = { { "X-1", " a" }, { "X-2", " b" }, { "X-3", " c" },
                                        { "Subject", " [tag]" }, { NULL, NULL } };

    (void)state;
    write_text(path_rules, rules_a);
    set_config("limits: {max_headers: 3}\n");
    assert_int_equal(run_message("<bob@partner.test>", h_block, "x\r\n"), SMFIS_REJECT);
    assert_string_equal(buf_str(&ops), "reply 550 5.7.1 Blocked 100%% by policy\n");
    /* every undecidable protective rule counts: the [block] rule rejects this one too */
    assert_int_equal(run_message("<bob@partner.test>", h_tag, "x\r\n"), SMFIS_REJECT);
    write_text(path_rules,
               "rules:\n  - name: tag\n    if: {subject_contains: \"[tag]\"}\n"
               "    then: {add_header: {name: X-Tag, value: yes}}\n"
               "  - name: hold\n    if: {subject_contains: \"[hold]\"}\n"
               "    then: {quarantine: \"held for review\"}\n");
    set_config("limits: {max_headers: 3}\n");
    assert_int_equal(run_message("<bob@partner.test>", h_tag, "x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "quarantine held for review\n");

    set_config("limits: {max_headers: 3}\npolicy: {on_incomplete: reject}\n");
    assert_int_equal(run_message("<bob@partner.test>", h_tag, "x\r\n"), SMFIS_REJECT);
    assert_string_equal(buf_str(&ops),
                        "reply 550 5.7.1 Message could not be fully checked by the mail encryption gateway\n");

    /* within the limit, the same messages are decided normally */
    write_text(path_rules, rules_a);
    set_config("");
    assert_int_equal(run_message("<bob@partner.test>", h_tag, "x\r\n"), SMFIS_CONTINUE);
    assert_string_equal(buf_str(&ops), "add X-Tag: yes\nadd X-Mailseal-Loop: (marker)\n");
}

static const char rules_actions[] =
    "rules:\n"
    "  - name: strip\n"
    "    priority: 10\n"
    "    if: {subject_contains: \"[encrypt]\"}\n"
    "    then:\n"
    "      remove_subject_tag: [\"[encrypt]\", \"[secure]\"]\n"
    "      remove_header: [X-Internal-Id, X-Trace]\n"
    "      bcc: [audit@example.com, bob@partner.test]\n"
    "      log: \"stripped the encrypt tag\"\n"
    "  - name: prefix\n"
    "    priority: 20\n"
    "    if: {subject_contains: \"[encrypt]\"}\n"
    "    then: {prepend_subject: \"[Secure] \", remove_header: x-internal-id, bcc: AUDIT@example.com}\n"
    "  - name: logonly\n"
    "    if: {subject_contains: \"[log]\"}\n"
    "    then: {log: \"just noted\"}\n"
    "  - name: bcconly\n"
    "    if: {subject_contains: \"[copy]\"}\n"
    "    then: {bcc: archive@example.com}\n"
    "  - name: seal\n"
    "    if: {subject_contains: \"[seal]\"}\n"
    "    then: {encrypt: {template: default}, add_header: {name: X-Never, value: written}}\n";

static void test_actions(void **state)
{
    /* "[encrypt] Q3 [SECURE] numbers" in UTF-8 base64: the tags go, the
     * prefix comes after, the subject is written once; both copies of
     * X-Internal-Id and the X-Trace go, last first; bob is a recipient
     * already and audit is added once */
    static const struct hdr h_strip[] = {
        { "X-Internal-Id", " 1" }, { "Subject", " =?UTF-8?B?W2VuY3J5cHRdIFEzIFtTRUNVUkVdIG51bWJlcnM=?=" },
        { "X-Trace", " t" }, { "x-internal-id", " 2" }, { NULL, NULL } };
    static const struct hdr h_log[] = { { "Subject", " [log] x" }, { NULL, NULL } };
    static const struct hdr h_copy[] = { { "Subject", " [copy] x" }, { NULL, NULL } };
    static const struct hdr h_seal[] = { { "Subject", " [seal] x" }, { NULL, NULL } };
    struct { const char *name; const struct hdr *h; sfsistat want; const char *ops; } cases[] = {
        { "strip, remove, bcc, then prefix", h_strip, SMFIS_CONTINUE,
          "del X-Internal-Id 2\ndel X-Internal-Id 1\ndel X-Trace 1\naddrcpt <audit@example.com>\n"
          "chg Subject 1: [Secure] Q3 numbers\nadd X-Mailseal-Loop: (marker)\n" },
        { "log changes nothing", h_log, SMFIS_CONTINUE, "" },
        { "bcc alone adds the recipient and the marker", h_copy, SMFIS_CONTINUE,
          "addrcpt <archive@example.com>\nadd X-Mailseal-Loop: (marker)\n" },
        { "encrypt: the body replaced, the wrapper's fields, then the rule's header", h_seal,
          SMFIS_CONTINUE,
          "replacebody\nadd MIME-Version: 1.0\nadd Content-Type: (wrapper)\n"
          "add X-Never: written\nadd X-Mailseal-Loop: (marker)\n" },
    };
    unsigned long p0 = 0, p1 = 0, p2 = 0, p3 = 0;

    (void)state;
    write_conf();
    write_text(path_rules, rules_actions);
    assert_int_equal(gateway_reload(), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sfsistat st = run_message("<bob@partner.test>", cases[i].h, "body\r\n");

        if (st != cases[i].want || strcmp(buf_str(&ops), cases[i].ops) != 0)
            fail_msg("%s: status %d (want %d), ops:\n%s\nwant:\n%s", cases[i].name, st,
                     cases[i].want, buf_str(&ops), cases[i].ops);
    }
    {
        /* the wrapper opens with the recipient's passphrase and gives back
         * the message as captured; its other fields are gone */
        static const struct hdr h_seal2[] = {
            { "X-Internal-Id", " 7" }, { "Subject", " [seal] x" }, { "Received", " from a" },
            { "x-internal-id", " 8" }, { "Content-Type", " text/plain" }, { NULL, NULL } };
        struct buf plain = BUF_INIT(1u << 20);

        buf_reset(&newbody);
        assert_int_equal(run_message("<bob@partner.test>", h_seal2, "secret body\r\n"),
                         SMFIS_CONTINUE);
        assert_string_equal(buf_str(&ops), "replacebody\ndel Content-Type 1\ndel X-Internal-Id 2\n"
                            "del X-Internal-Id 1\nadd MIME-Version: 1.0\nadd Content-Type: (wrapper)\n"
                            "add X-Never: written\nadd X-Mailseal-Loop: (marker)\n");
        assert_null(strstr(buf_str(&newbody), "secret body"));
        assert_non_null(strstr(buf_str(&newbody), "name=\"message.html\""));
        open_wrapper(&plain);
        assert_non_null(strstr(buf_str(&plain), "X-Internal-Id: 7"));
        assert_true(plain.len > 13 && strcmp(buf_str(&plain) + plain.len - 13, "secret body\r\n") == 0);
        buf_free(&plain);
        {
            /* the wrapper's marker (its MAC made from the viewer's CR-free
             * output) verifies against the wrapper body as it travels */
            struct buf m = BUF_INIT(1024), wrapped = BUF_INIT(64u << 20);
            struct hdr h_back[] = { { "Subject", " [seal] x" }, { MARKER_HEADER, NULL }, { NULL, NULL } };

            assert_true(strncmp(buf_str(&last_marker), " v=2; t=", 8) == 0);
            assert_int_equal(buf_adds(&m, buf_str(&last_marker)), 0);
            assert_int_equal(buf_add(&wrapped, buf_str(&newbody), newbody.len), 0);
            h_back[1].value = buf_str(&m);
            assert_int_equal(run_message("<bob@partner.test>", h_back, buf_str(&wrapped)), SMFIS_ACCEPT);
            assert_string_equal(buf_str(&ops), "");
            /* one byte of the wrapper changed: inspected (and sealed) again */
            wrapped.data[wrapped.len / 2] ^= 1;
            buf_reset(&newbody);
            assert_int_equal(run_message("<bob@partner.test>", h_back, buf_str(&wrapped)), SMFIS_CONTINUE);
            assert_non_null(strstr(buf_str(&ops), "del X-Mailseal-Loop 1\n"));
            buf_free(&m);
            buf_free(&wrapped);
        }
        /* a recipient without a passphrase, random passphrases off: 550 */
        assert_int_equal(run_message("<carol@other.test>", h_seal, "body\r\n"), SMFIS_REJECT);
        assert_string_equal(buf_str(&ops), "reply 550 5.7.1 Message must be encrypted, but a "
                            "recipient has no passphrase and none can be sent\n");
    }
    /* a refused recipient: tempfail, no marker, nothing relayed half-changed */
    fake_addrcpt_fails = 1;
    assert_int_equal(run_message("<bob@partner.test>", h_copy, "body\r\n"), SMFIS_TEMPFAIL);
    fake_addrcpt_fails = 0;
    assert_string_equal(buf_str(&ops), "addrcpt <archive@example.com> (failed)\n"
                        "reply 451 4.3.0 Temporary failure in the mail encryption gateway, try again later\n");
    /* the actions asked of the MTA include adding recipients; an MTA
     * that cannot is refused */
    assert_int_equal(cb_negotiate(CTX, 0x1ff, 0x1fffff, 0, 0, &p0, &p1, &p2, &p3), SMFIS_CONTINUE);
    assert_int_equal(p0 & ~(unsigned long)SMFIF_SETSYMLIST,
                     SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_ADDRCPT | SMFIF_CHGBODY);
    assert_int_equal(mailseal_desc.xxfi_flags,
                     SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_ADDRCPT | SMFIF_CHGBODY);
    cb_close(CTX);
    assert_int_equal(cb_negotiate(CTX, 0x1ff & ~(unsigned long)SMFIF_ADDRCPT, 0x1fffff, 0, 0,
                                  &p0, &p1, &p2, &p3), SMFIS_REJECT);
    cb_close(CTX);
    write_text(path_rules, rules_a);
    assert_int_equal(gateway_reload(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_loop_marker),
        cmocka_unit_test(test_loop_marker_v2),
        cmocka_unit_test(test_loop_marker_cap),
        cmocka_unit_test(test_body_hashed_only_with_markers),
        cmocka_unit_test(test_abort_and_reuse),
        cmocka_unit_test(test_large_message_spills),
        cmocka_unit_test(test_spool_fault_tempfails),
        cmocka_unit_test(test_header_fault_answered_at_eoh),
        cmocka_unit_test(test_body_fault_answered_at_eom),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_on_incomplete),
        cmocka_unit_test(test_actions),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
