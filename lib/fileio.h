/* File helpers for checkpoint IO: whole-file reads, read-only mappings,
 * atomic replacement (temporary file, fsync, rename) and path joining.
 * Every function records a message naming the path on failure. */
#ifndef CLIPT_FILEIO_H
#define CLIPT_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Returns CLIPT_OK when path names a regular file. A missing path gives
 * CLIPT_ERR_FILE_NOT_FOUND and a directory, FIFO or device CLIPT_ERR_IO,
 * both with a message naming the path and `what` (such as "wnid file").
 * A reader that calls it before opening never waits on a FIFO. */
clipt_status clipt_require_regular_file(const char *path, const char *what);

/* Reads a whole regular file into a new NUL-terminated buffer (the NUL is
 * not counted in *size). Files larger than max_bytes are rejected with
 * CLIPT_ERR_PARSE. Errors: CLIPT_ERR_FILE_NOT_FOUND, CLIPT_ERR_IO,
 * CLIPT_ERR_OUT_OF_MEMORY. The caller frees *data. */
clipt_status clipt_read_file(const char *path, size_t max_bytes, char **data,
                             size_t *size);

/* A read-only private mapping of a whole file. An empty file has
 * data == NULL and size == 0. */
typedef struct clipt_mapped_file {
    const uint8_t *data;
    size_t size;
} clipt_mapped_file;

clipt_status clipt_map_file(const char *path, clipt_mapped_file *out);
void clipt_unmap_file(clipt_mapped_file *file);

/* A file being written under a temporary name beside its final path. Data
 * becomes visible under the final path only through clipt_atomic_commit(),
 * so readers see either the old file or the complete new one. */
typedef struct clipt_atomic_file {
    char *path;
    char *temp_path;
    int fd;
} clipt_atomic_file;

/* Creates the temporary file "<path>.tmp-<pid>-<n>" (mode 0666 less the
 * umask) in the directory of path. */
clipt_status clipt_atomic_open(const char *path, clipt_atomic_file *file);

/* Appends bytes, retrying short writes and EINTR. */
clipt_status clipt_atomic_write(clipt_atomic_file *file, const void *data,
                                size_t bytes);

/* Flushes the data to disk, renames the temporary file over path and
 * flushes the directory entry. The handle is released either way; on
 * failure the temporary file is removed. */
clipt_status clipt_atomic_commit(clipt_atomic_file *file);

/* Closes and removes the temporary file. Safe on a released handle. */
void clipt_atomic_abort(clipt_atomic_file *file);

/* Writes a whole buffer to path atomically. */
clipt_status clipt_write_file_atomic(const char *path, const void *data,
                                     size_t bytes);

/* Returns a new string "dir/name" in *out, or CLIPT_ERR_OUT_OF_MEMORY. */
clipt_status clipt_path_join(const char *dir, const char *name, char **out);

/* Returns 1 when path names an existing directory, 0 otherwise. */
int clipt_is_directory(const char *path);

/* Returns 1 when path names an existing regular file, 0 otherwise. */
int clipt_is_regular_file(const char *path);

#endif /* CLIPT_FILEIO_H */
