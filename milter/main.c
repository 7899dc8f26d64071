/*
 * main - mailseal-milter: start-up, privileges, signals and shutdown.
 *
 * Start: load and validate the whole configuration (creating the loop
 * secret on first start), open the milter socket as root, hand a unix
 * socket to the service user, detach unless -f, write the pid file, drop
 * privileges for good, then run libmilter.  Core dumps are disabled before
 * the first key is read and again after the user switch.
 * Signals: the main thread waits for them while libmilter runs in its own
 * thread.  SIGUSR1 (and SIGHUP) reload.  SIGTERM/SIGINT: new messages are
 * answered tempfail at once, messages in flight get milter.shutdown_timeout
 * seconds to finish, then libmilter is stopped and the process exits 0.
 * (libmilter's own stop would end its worker pool and drop messages in
 * flight, so it is only called once they are done.)
 * Exit 1 on any start-up failure, with the reason on stderr and in syslog.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "crypto/keyfile.h"
#include "milter/callbacks.h"
#include "milter/gateway.h"
#include "util/log.h"

struct run_user {
    int set;                  /* a user to switch to */
    uid_t uid;
    gid_t gid;
    char name[64];
};

/* usage - print the options */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mailseal-milter [-c FILE] [-s SOCKET] [-f] [-t] [-h] [-V]\n"
            "  -c FILE    configuration file (default %s)\n"
            "  -s SOCKET  milter socket, overriding milter.socket: unix:/path or inet:PORT@HOST\n"
            "  -f         stay in the foreground and log to stderr as well\n"
            "  -t         check the configuration and the rules, then exit (0 when valid)\n"
            "  -h         this help\n"
            "  -V         print the version\n",
            CONFIG_DEFAULT_PATH);
}

/* print_diag - every diagnostic to stderr and the log */
static void print_diag(const struct diag *d)
{
    for (size_t i = 0; i < diag_count(d); i++)
        log_err(NULL, "%s", diag_get(d, i));
}

/* check_config - -t: validate the configuration, rules and secret file */
static int check_config(const char *path)
{
    struct diag d;
    struct config *cfg;
    unsigned char key[CONFIG_LOOP_KEY_LEN];
    int rc = 0;

    diag_init(&d);
    cfg = config_load(path, CONFIG_SKIP_SECRET, &d);
    if (cfg != NULL) {
        if (access(cfg->loop_secret_file, F_OK) < 0 && errno == ENOENT)
            fprintf(stderr, "%s: loop secret %s does not exist yet: it is created at the first start\n",
                    path, cfg->loop_secret_file);
        else if (keyfile_load(cfg->loop_secret_file, key, sizeof(key), 0, (gid_t)-1, &d) < 0)
            rc = 1;
        OPENSSL_cleanse(key, sizeof(key));
    }
    if (cfg == NULL || rc) {
        diag_print(&d, stderr);
        fprintf(stderr, "%s: %zu error(s)\n", path, diag_count(&d));
        rc = 1;
    } else {
        printf("%s: configuration valid (%zu rule(s) from %s)\n", path,
               rules_count(cfg->rules), cfg->rules_path);
    }
    config_free(cfg);
    diag_free(&d);
    return rc;
}

/* resolve_user - look up milter.user / milter.group */
static int resolve_user(const struct config *cfg, struct run_user *ru)
{
    struct passwd *pw;

    memset(ru, 0, sizeof(*ru));
    if (cfg->user == NULL || cfg->user[0] == 0)
        return 0;
    if ((pw = getpwnam(cfg->user)) == NULL) {
        log_err(NULL, "milter.user %s: no such user", cfg->user);
        return -1;
    }
    ru->set = 1;
    ru->uid = pw->pw_uid;
    ru->gid = pw->pw_gid;
    snprintf(ru->name, sizeof(ru->name), "%s", cfg->user);
    if (cfg->group && cfg->group[0]) {
        struct group *gr = getgrnam(cfg->group);

        if (gr == NULL) {
            log_err(NULL, "milter.group %s: no such group", cfg->group);
            return -1;
        }
        ru->gid = gr->gr_gid;
    }
    return 0;
}

/* prepare_spool - make sure the spool directory exists and is private */
static int prepare_spool(const char *dir, const struct run_user *ru)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0) {
        if (ru->set && geteuid() == 0 && chown(dir, ru->uid, ru->gid) < 0) {
            log_err(NULL, "spool.directory %s: chown: %s", dir, strerror(errno));
            return -1;
        }
    } else if (errno != EEXIST) {
        log_err(NULL, "spool.directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        log_err(NULL, "spool.directory %s: not a directory", dir);
        return -1;
    }
    if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        log_err(NULL, "spool.directory %s is writable by others: refused", dir);
        return -1;
    }
    return 0;
}

/* socket_path - the file of a unix: or local: socket spec, NULL otherwise */
static const char *socket_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    if (spec[0] == '/')
        return spec;
    return NULL;
}

/* listen_nodelay - set TCP_NODELAY on libmilter's listening TCP socket,
 * which Linux copies to every connection it accepts.  libmilter does not
 * hand out its sockets, so the listener is found among the open
 * descriptors (the only listening TCP socket at start-up).  Without it,
 * our actions and the final reply, written one after the other, meet
 * Nagle's algorithm and the MTA's delayed ACK: 40 ms per message on
 * inet: sockets.  Returns the number of sockets set. */
static int listen_nodelay(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        int v = 0, on = 1;
        socklen_t len = sizeof(v);

        if (*end != '\0' || end == e->d_name || fd == dirfd(d))
            continue;
        if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || v != 1)
            continue;
        len = sizeof(v);
        if (getsockopt((int)fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) < 0 || v != IPPROTO_TCP)
            continue;
        if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* open_socket - create the listening socket (as root) */
static int open_socket(const struct config *cfg, const struct run_user *ru)
{
    const char *path = socket_path(cfg->socket);

    if (smfi_setconn((char *)cfg->socket) != MI_SUCCESS
        || smfi_settimeout((int)cfg->timeout) != MI_SUCCESS
        || smfi_register(mailseal_desc) != MI_SUCCESS) {
        log_err(NULL, "libmilter set-up failed for socket %s", cfg->socket);
        return -1;
    }
    umask((mode_t)cfg->umask);
    if (smfi_opensocket(1) != MI_SUCCESS) {
        log_err(NULL, "cannot open milter socket %s (is the directory there, "
                "or another instance running?)", cfg->socket);
        return -1;
    }
    if (path == NULL && listen_nodelay() != 1)
        log_warning(NULL, "cannot set TCP_NODELAY on socket %s: each message may wait "
                 "for delayed acknowledgements", cfg->socket);
    if (path && ru->set && geteuid() == 0 && chown(path, ru->uid, ru->gid) < 0) {
        log_err(NULL, "cannot hand socket %s to user %s: %s", path, ru->name, strerror(errno));
        return -1;
    }
    return 0;
}

/* detach - become a background daemon */
static int detach(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    if (chdir("/") < 0)
        return -1;
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

/* write_pid - write the pid file, owned by the service user */
static int write_pid(const char *path, const struct run_user *ru)
{
    char text[32];
    int fd, n;

    if (path == NULL || path[0] == 0)
        return 0;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_err(NULL, "pid file %s: %s", path, strerror(errno));
        return -1;
    }
    n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (write(fd, text, (size_t)n) != n) {
        log_err(NULL, "pid file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (ru->set && geteuid() == 0 && fchown(fd, ru->uid, ru->gid) < 0)
        log_warning(NULL, "pid file %s: chown: %s", path, strerror(errno));
    close(fd);
    return 0;
}

/* drop_privileges - switch to the service user for good */
static int drop_privileges(const struct run_user *ru)
{
    if (!ru->set)
        return 0;
    if (geteuid() != 0) {
        if (geteuid() != ru->uid)
            log_warning(NULL, "not started as root: staying uid %ld instead of user %s",
                        (long)geteuid(), ru->name);
        return 0;
    }
    if (initgroups(ru->name, ru->gid) < 0 || setgid(ru->gid) < 0 || setuid(ru->uid) < 0) {
        log_err(NULL, "cannot switch to user %s: %s", ru->name, strerror(errno));
        return -1;
    }
    if (ru->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        log_err(NULL, "privileges could be regained after switching to %s: refusing to run", ru->name);
        return -1;
    }
    return 0;
}

/* no_core_dumps - key material must never land in a core file (nor be
 * read through /proc/PID/mem by the service user's other processes) */
static int no_core_dumps(void)
{
    struct rlimit rl = { 0, 0 };

    if (setrlimit(RLIMIT_CORE, &rl) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        log_err(NULL, "cannot disable core dumps: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reload_cond = PTHREAD_COND_INITIALIZER;
static int reload_pending;
static int milter_rc;

/* reload_thread - reload whenever the signal loop asks for it */
static void *reload_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&reload_lock);
        while (!reload_pending)
            pthread_cond_wait(&reload_cond, &reload_lock);
        reload_pending = 0;
        pthread_mutex_unlock(&reload_lock);
        gateway_reload();
    }
    return NULL;
}

/* milter_thread - run libmilter's listener until smfi_stop() */
static void *milter_thread(void *arg)
{
    (void)arg;
    milter_rc = smfi_main();
    /* Wake the signal loop if libmilter stopped on its own. */
    kill(getpid(), SIGTERM);
    return NULL;
}

/* signal_loop - the main thread waits for signals until told to stop.
 * Linux hands a signal sent to the process to its main thread when that
 * thread is waiting for it, so libmilter's own signal thread (which would
 * stop the worker pool and drop messages in flight) does not see SIGTERM. */
static int signal_loop(const sigset_t *set)
{
    int sig;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        switch (sig) {
        case SIGUSR1:
        case SIGHUP:
            log_notice(NULL, "reload requested (%s)", sig == SIGUSR1 ? "SIGUSR1" : "SIGHUP");
            pthread_mutex_lock(&reload_lock);
            reload_pending = 1;
            pthread_cond_signal(&reload_cond);
            pthread_mutex_unlock(&reload_lock);
            break;
        default:
            return sig;
        }
    }
}

int main(int argc, char **argv)
{
    const char *path = CONFIG_DEFAULT_PATH, *socket_override = NULL;
    int foreground = 0, test = 0, c, left, sig;
    sigset_t sigs;
    pthread_t tid, mtid;
    struct run_user ru;
    struct gw_conf *gc;
    struct diag d;

    while ((c = getopt(argc, argv, "c:s:fthV")) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 's': socket_override = optarg; break;
        case 'f': foreground = 1; break;
        case 't': test = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V':
            printf("mailseal-milter %s (%s)\n", MAILSEAL_VERSION, OPENSSL_VERSION_TEXT);
            return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (test) {
        log_open("mailseal-milter", 1, 0, LOG_MAIL);
        return no_core_dumps() < 0 ? 1 : check_config(path);
    }
    log_open("mailseal-milter", 1, 1, LOG_MAIL);
    /* before any key is read; again after the user switch, which resets
     * the dumpable flag to fs.suid_dumpable */
    if (no_core_dumps() < 0)
        log_fatal("not started");
    /* blocked from the start, so that a SIGTERM arriving once the socket
     * accepts, before the signal loop runs, still stops the daemon cleanly */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
        log_fatal("cannot block signals");
    diag_init(&d);
    if (gateway_start(path, CONFIG_CREATE_SECRET, socket_override, &d) < 0) {
        print_diag(&d);
        log_fatal("%s: %zu error(s): not started", path, diag_count(&d));
    }
    diag_free(&d);
    gc = gateway_acquire();
    log_set_level(gc->cfg->log_level);
    if (resolve_user(gc->cfg, &ru) < 0 || prepare_spool(gc->cfg->spool_dir, &ru) < 0
        || open_socket(gc->cfg, &ru) < 0)
        log_fatal("not started");
    if (!foreground) {
        log_close();
        if (detach() < 0)
            log_fatal("cannot detach: %s", strerror(errno));
        log_open("mailseal-milter", 0, 1, gc->cfg->syslog_facility);
    } else {
        log_close();
        log_open("mailseal-milter", 1, 1, gc->cfg->syslog_facility);
    }
    if (write_pid(gc->cfg->pid_file, &ru) < 0 || drop_privileges(&ru) < 0
        || no_core_dumps() < 0)
        log_fatal("not started");
    if (pthread_create(&tid, NULL, reload_thread, NULL) != 0
        || pthread_create(&mtid, NULL, milter_thread, NULL) != 0)
        log_fatal("cannot start threads");
    pthread_detach(tid);
    log_notice(NULL, "started: socket %s, %zu rule(s), user %s, pid %ld",
               gc->cfg->socket, rules_count(gc->cfg->rules),
               ru.set ? ru.name : "(unchanged)", (long)getpid());
    gateway_release(gc);

    sig = signal_loop(&sigs);

    gateway_drain();
    gc = gateway_acquire();
    log_notice(NULL, "stopping (%s): new messages are tempfailed; waiting up to %us "
               "for messages in flight", strsignal(sig), gc->cfg->shutdown_timeout);
    left = gateway_wait_idle(gc->cfg->shutdown_timeout);
    if (left > 0)
        log_warning(NULL, "stopping with %d message(s) still in flight: their MTA retries them", left);
    smfi_stop();
    pthread_join(mtid, NULL);
    log_notice(NULL, "stopped");
    if (gc->cfg->pid_file && gc->cfg->pid_file[0])
        unlink(gc->cfg->pid_file);
    gateway_release(gc);
    gateway_shutdown();
    log_close();
    return milter_rc == MI_SUCCESS ? 0 : 1;
}
