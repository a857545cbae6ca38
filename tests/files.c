#include "files.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

char *clipt_test_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = clipt_test_join(base != NULL && base[0] ? base : "/tmp",
                                 "clipt-test-XXXXXX");
    ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp %s: %s", path, strerror(errno));
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void clipt_test_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *clipt_test_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void clipt_test_write_file(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_msg(bytes == 0 || fwrite(data, 1, bytes, f) == bytes,
                  "cannot write %s", path);
    ck_assert_msg(fclose(f) == 0, "cannot close %s", path);
}

char *clipt_test_read_file(const char *path, size_t *bytes)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        buf = realloc(buf, cap + 1);
        ck_assert_ptr_nonnull(buf);
    }
    fclose(f);
    buf[n] = '\0';
    if (bytes != NULL) *bytes = n;
    return buf;
}

/* Expands a gzip file into dst. */
static void gunzip_file(const char *src, const char *dst)
{
    gzFile in = gzopen(src, "rb");
    ck_assert_msg(in != NULL, "cannot open %s", src);
    FILE *out = fopen(dst, "wb");
    ck_assert_msg(out != NULL, "cannot create %s: %s", dst, strerror(errno));
    char buf[1 << 16];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0) {
        ck_assert_msg(fwrite(buf, 1, (size_t)n, out) == (size_t)n,
                      "cannot write %s", dst);
    }
    ck_assert_msg(n == 0, "%s: gzip data is corrupt", src);
    gzclose(in);
    ck_assert_msg(fclose(out) == 0, "cannot close %s", dst);
}

void clipt_test_unpack_fixture(const char *src, const char *dst)
{
    ck_assert_msg(mkdir(dst, 0777) == 0 || errno == EEXIST, "mkdir %s: %s", dst,
                  strerror(errno));
    DIR *d = opendir(src);
    ck_assert_msg(d != NULL, "cannot open fixture directory %s (run the suites "
                  "from the repository root)", src);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *from = clipt_test_join(src, e->d_name);
        size_t n = strlen(e->d_name);
        if (n > 3 && strcmp(e->d_name + n - 3, ".gz") == 0) {
            char *name = strndup(e->d_name, n - 3);
            char *to = clipt_test_join(dst, name);
            gunzip_file(from, to);
            free(name);
            free(to);
        } else {
            char *to = clipt_test_join(dst, e->d_name);
            size_t bytes = 0;
            char *data = clipt_test_read_file(from, &bytes);
            clipt_test_write_file(to, data, bytes);
            free(data);
            free(to);
        }
        free(from);
    }
    closedir(d);
}
