/*
 * replay_main - a main() for the fuzz harnesses outside libFuzzer: runs
 * LLVMFuzzerTestOneInput() once over every regular file in the directories
 * (or files) named on the command line, so the seed corpora and the saved
 * regression inputs are replayed by ctest in the normal and the sanitizer
 * builds.
 *
 *   fuzz_replay_NAME DIR_OR_FILE...
 *
 * A missing directory is skipped (a harness may have no regressions yet);
 * files are read whole, up to REPLAY_MAX bytes (larger ones are an error,
 * since no harness accepts them).  Entries are replayed in name order so a
 * failure is reproducible.  Exit 0 when every input ran, 1 when a file
 * could not be read; a crash in a harness ends the process as it would
 * under libFuzzer (the sanitizer build reports it).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

#define REPLAY_MAX (4u << 20)         /* largest input file replayed */
#define REPLAY_PATH 4096              /* longest path built */

/* replay_file - run the harness on one file; 0, or -1 after a message */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    size_t n;
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if ((data = malloc(REPLAY_MAX + 1)) == NULL) {
        fclose(f);
        fprintf(stderr, "replay: out of memory\n");
        return -1;
    }
    n = fread(data, 1, REPLAY_MAX + 1, f);
    if (ferror(f) || n > REPLAY_MAX) {
        fprintf(stderr, "replay: %s: %s\n", path, ferror(f) ? "read error" : "too large");
        rc = -1;
    } else {
        LLVMFuzzerTestOneInput(data, n);
    }
    free(data);
    fclose(f);
    return rc;
}

/* name_cmp - qsort order of directory entry names */
static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* replay_dir - every regular file in dir, in name order; counts files run */
static int replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nv = realloc(names, ncap * sizeof(*nv));

            if (nv == NULL) {
                rc = -1;
                break;
            }
            names = nv;
            cap = ncap;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), name_cmp);
    for (i = 0; i < n; i++) {
        char path[REPLAY_PATH];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);

        if (rc == 0 && len > 0 && (size_t)len < sizeof(path) && stat(path, &st) == 0
            && S_ISREG(st.st_mode)) {
            if (replay_file(path) < 0)
                rc = -1;
            else
                (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* main - replay every input named */
int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(argv[i]) < 0)
                rc = 1;
            else
                count++;
        } else if (replay_dir(argv[i], &count) < 0) {
            fprintf(stderr, "replay: %s: cannot read\n", argv[i]);
            rc = 1;
        }
    }
    printf("replay: %zu inputs\n", count);
    return rc;
}
