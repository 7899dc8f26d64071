/*
 * null_milter - the floor for any milter, for the MTA benchmark: reads
 * every body chunk (and does nothing with it) and adds one header field
 * to every message, nothing else.  No configuration, no logging.
 *
 *   bench_null_milter [-H] SOCKET      e.g. unix:/tmp/null.sock or inet:9999@127.0.0.1
 *
 * -H: also take what mailseal-milter takes, with the same protocol steps
 * (connect, MAIL, RCPT, DATA answered, header fields unanswered through
 * SMFIP_NR_HDR, end of headers): the floor for a milter that must see the
 * envelope and the header, which is the protocol's cost, not the rules'.
 *
 * Runs in the foreground until killed.  Exit 1 when the socket cannot be
 * set up (libmilter says why on stderr).
 */
#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

/* nm_body - take the chunk and drop it */
static sfsistat nm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    (void)ctx;
    (void)chunk;
    (void)len;
    return SMFIS_CONTINUE;
}

/* nm_eom - the one header field */
static sfsistat nm_eom(SMFICTX *ctx)
{
    return smfi_addheader(ctx, (char *)"X-Null-Milter", (char *)"seen") == MI_SUCCESS
           ? SMFIS_ACCEPT : SMFIS_TEMPFAIL;
}

/* nm_negotiate - mailseal-milter's protocol steps (-H) */
static sfsistat nm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)ctx;
    (void)f2;
    (void)f3;
    *pf0 = f0 & SMFIF_ADDHDRS;
    *pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC | SMFIP_NR_HDR);
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

/* nm_connect, nm_env, nm_data, nm_eoh - answered steps of -H */
static sfsistat nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)ctx;
    (void)host;
    (void)addr;
    return SMFIS_CONTINUE;
}
static sfsistat nm_env(SMFICTX *ctx, char **argv)
{
    (void)ctx;
    (void)argv;
    return SMFIS_CONTINUE;
}
static sfsistat nm_step(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

/* nm_header - a header field, unanswered (SMFIP_NR_HDR) */
static sfsistat nm_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx;
    (void)name;
    (void)value;
    return SMFIS_NOREPLY;
}

int main(int argc, char **argv)
{
    struct smfiDesc desc;
    int headers = argc == 3 && strcmp(argv[1], "-H") == 0;

    if (argc != 2 && !headers) {
        fprintf(stderr, "usage: bench_null_milter [-H] SOCKET\n");
        return 2;
    }
    memset(&desc, 0, sizeof(desc));
    desc.xxfi_name = (char *)"null";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS;
    desc.xxfi_body = nm_body;
    desc.xxfi_eom = nm_eom;
    if (headers) {
        desc.xxfi_negotiate = nm_negotiate;
        desc.xxfi_connect = nm_connect;
        desc.xxfi_envfrom = nm_env;
        desc.xxfi_envrcpt = nm_env;
        desc.xxfi_data = nm_step;
        desc.xxfi_header = nm_header;
        desc.xxfi_eoh = nm_step;
    }
    if (smfi_register(desc) != MI_SUCCESS) {
        fprintf(stderr, "bench_null_milter: smfi_register failed\n");
        return 1;
    }
    if (smfi_setconn(argv[argc - 1]) != MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "bench_null_milter: cannot listen on %s\n", argv[argc - 1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
