/* File helpers for checkpoint IO; see fileio.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

/* Maps an errno value of open() or stat() to a status. */
static clipt_status status_of_errno(int err)
{
    return err == ENOENT || err == ENOTDIR ? CLIPT_ERR_FILE_NOT_FOUND
                                           : CLIPT_ERR_IO;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

clipt_status clipt_require_regular_file(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int err = errno;
        return clipt_set_error(status_of_errno(err), "cannot open %s %s: %s", what, path,
                               strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        return clipt_set_error(CLIPT_ERR_IO, "%s %s is not a regular file%s", what, path,
                               S_ISDIR(st.st_mode) ? " but a directory" : "");
    }
    return CLIPT_OK;
}

/* Opens path for reading and checks that it is a regular file. O_NONBLOCK
 * keeps open() from waiting for a writer when path is a FIFO; it has no
 * effect on the reads of a regular file. */
static clipt_status open_regular(const char *path, int *fd_out,
                                 uint64_t *size_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        return clipt_set_error(status_of_errno(err), "%s: cannot open: %s",
                               path, strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return clipt_set_error(CLIPT_ERR_IO, "%s: cannot stat: %s", path,
                               strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return clipt_set_error(CLIPT_ERR_IO, "%s: not a regular file", path);
    }
    *fd_out = fd;
    *size_out = (uint64_t)st.st_size;
    return CLIPT_OK;
}

clipt_status clipt_read_file(const char *path, size_t max_bytes, char **data,
                             size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd = -1;
    uint64_t length = 0;
    CLIPT_TRY(open_regular(path, &fd, &length));
    if (length > max_bytes) {
        close(fd);
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: file has %llu bytes, more than the %zu "
                               "this reader accepts",
                               path, (unsigned long long)length, max_bytes);
    }
    char *buf = malloc((size_t)length + 1);
    if (buf == NULL) {
        close(fd);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory reading %s (%llu bytes)",
                               path, (unsigned long long)length);
    }
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, buf + done, (size_t)length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : 0;
            free(buf);
            close(fd);
            return clipt_set_error(CLIPT_ERR_IO,
                                   "%s: read failed after %zu of %llu bytes%s%s",
                                   path, done, (unsigned long long)length,
                                   err ? ": " : " (file shrank)",
                                   err ? strerror(err) : "");
        }
        done += (size_t)n;
    }
    close(fd);
    buf[done] = '\0';
    *data = buf;
    *size = done;
    return CLIPT_OK;
}

clipt_status clipt_map_file(const char *path, clipt_mapped_file *out)
{
    out->data = NULL;
    out->size = 0;
    int fd = -1;
    uint64_t length = 0;
    CLIPT_TRY(open_regular(path, &fd, &length));
    if (length > SIZE_MAX) {
        close(fd);
        return clipt_set_error(CLIPT_ERR_IO, "%s: file too large to map", path);
    }
    if (length == 0) {
        close(fd);
        return CLIPT_OK;
    }
    /* NOTE: a file truncated by another process while mapped raises SIGBUS
     * on access; checkpoints are assumed not to change while they load. */
    void *p = mmap(NULL, (size_t)length, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        return clipt_set_error(CLIPT_ERR_IO, "%s: mmap of %llu bytes failed: %s",
                               path, (unsigned long long)length, strerror(err));
    }
    out->data = p;
    out->size = (size_t)length;
    return CLIPT_OK;
}

void clipt_unmap_file(clipt_mapped_file *file)
{
    if (file->data != NULL) munmap((void *)file->data, file->size);
    file->data = NULL;
    file->size = 0;
}

/* ------------------------------------------------------------------------ */
/* Atomic writing                                                           */
/* ------------------------------------------------------------------------ */

clipt_status clipt_atomic_open(const char *path, clipt_atomic_file *file)
{
    memset(file, 0, sizeof *file);
    file->fd = -1;
    size_t cap = strlen(path) + 64;
    file->path = strdup(path);
    file->temp_path = malloc(cap);
    if (file->path == NULL || file->temp_path == NULL) {
        clipt_atomic_abort(file);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory opening %s", path);
    }
    /* O_EXCL with a counter finds a free name without shared state; a
     * leftover file from an earlier crash only moves the counter on. */
    for (int n = 0; n < 1000; n++) {
        snprintf(file->temp_path, cap, "%s.tmp-%ld-%d", path, (long)getpid(), n);
        file->fd = open(file->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        0666);
        if (file->fd >= 0) return CLIPT_OK;
        if (errno != EEXIST) break;
    }
    int err = errno;
    free(file->temp_path);
    file->temp_path = NULL;
    clipt_atomic_abort(file);
    return clipt_set_error(status_of_errno(err),
                           "%s: cannot create a temporary file beside it: %s",
                           path, strerror(err));
}

clipt_status clipt_atomic_write(clipt_atomic_file *file, const void *data,
                                size_t bytes)
{
    const char *p = data;
    while (bytes > 0) {
        /* Large writes go in pieces: Linux moves at most about 2 GiB per
         * call anyway. */
        size_t chunk = bytes < ((size_t)1 << 30) ? bytes : ((size_t)1 << 30);
        ssize_t n = write(file->fd, p, chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : ENOSPC;
            return clipt_set_error(CLIPT_ERR_IO, "%s: write failed: %s",
                                   file->temp_path, strerror(err));
        }
        p += n;
        bytes -= (size_t)n;
    }
    return CLIPT_OK;
}

/* Flushes the directory holding path, so a rename survives a crash. */
static clipt_status sync_parent_directory(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory syncing %s", path);
    }
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    clipt_status status = CLIPT_OK;
    if (fd < 0 || fsync(fd) != 0) {
        status = clipt_set_error(CLIPT_ERR_IO,
                                 "%s: cannot flush the directory entry: %s",
                                 path, strerror(errno));
    }
    if (fd >= 0) close(fd);
    free(copy);
    return status;
}

clipt_status clipt_atomic_commit(clipt_atomic_file *file)
{
    clipt_status status = CLIPT_OK;
    if (fsync(file->fd) != 0) {
        status = clipt_set_error(CLIPT_ERR_IO, "%s: fsync failed: %s",
                                 file->temp_path, strerror(errno));
    }
    if (close(file->fd) != 0 && status == CLIPT_OK) {
        status = clipt_set_error(CLIPT_ERR_IO, "%s: close failed: %s",
                                 file->temp_path, strerror(errno));
    }
    file->fd = -1;
    if (status == CLIPT_OK && rename(file->temp_path, file->path) != 0) {
        status = clipt_set_error(CLIPT_ERR_IO, "cannot rename %s to %s: %s",
                                 file->temp_path, file->path, strerror(errno));
    }
    if (status != CLIPT_OK) {
        clipt_atomic_abort(file);
        return status;
    }
    status = sync_parent_directory(file->path);
    free(file->path);
    free(file->temp_path);
    file->path = file->temp_path = NULL;
    return status;
}

void clipt_atomic_abort(clipt_atomic_file *file)
{
    if (file->fd >= 0) close(file->fd);
    file->fd = -1;
    if (file->temp_path != NULL) unlink(file->temp_path);
    free(file->temp_path);
    free(file->path);
    file->path = file->temp_path = NULL;
}

clipt_status clipt_write_file_atomic(const char *path, const void *data,
                                     size_t bytes)
{
    clipt_atomic_file file;
    CLIPT_TRY(clipt_atomic_open(path, &file));
    clipt_status status = clipt_atomic_write(&file, data, bytes);
    if (status != CLIPT_OK) {
        clipt_atomic_abort(&file);
        return status;
    }
    return clipt_atomic_commit(&file);
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

clipt_status clipt_path_join(const char *dir, const char *name, char **out)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    *out = malloc(a + (size_t)slash + b + 1);
    if (*out == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory joining %s and %s", dir, name);
    }
    memcpy(*out, dir, a);
    if (slash) (*out)[a] = '/';
    memcpy(*out + a + slash, name, b + 1);
    return CLIPT_OK;
}

int clipt_is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int clipt_is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
