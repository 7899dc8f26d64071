/*
 * null_milter - the floor for any milter, for the MTA benchmark: reads
 * every body chunk (and does nothing with it) and adds one header field
 * to every message, nothing else.  No configuration, no logging.
 *
 *   bench_null_milter SOCKET      e.g. unix:/tmp/null.sock or inet:9999@127.0.0.1
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

int main(int argc, char **argv)
{
    struct smfiDesc desc;

    if (argc != 2) {
        fprintf(stderr, "usage: bench_null_milter SOCKET\n");
        return 2;
    }
    memset(&desc, 0, sizeof(desc));
    desc.xxfi_name = (char *)"null";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS;
    desc.xxfi_body = nm_body;
    desc.xxfi_eom = nm_eom;
    if (smfi_register(desc) != MI_SUCCESS) {
        fprintf(stderr, "bench_null_milter: smfi_register failed\n");
        return 1;
    }
    if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "bench_null_milter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
