/* File helpers of the checkpoint suites: temporary directories, fixture
 * directories with gzip-compressed files, whole-file reads and writes.
 * Every helper fails the current test when the operating system fails. */
#ifndef CLIPT_TEST_FILES_H
#define CLIPT_TEST_FILES_H

#include <stddef.h>

/* Creates a new empty directory under $TMPDIR (default /tmp) and returns
 * its path; the caller frees it after clipt_test_remove_tree(). */
char *clipt_test_tempdir(void);

/* Removes a directory tree. */
void clipt_test_remove_tree(const char *path);

/* Returns a new string "dir/name". */
char *clipt_test_join(const char *dir, const char *name);

/* Copies the files of fixture directory src into dst (created if
 * missing), expanding each NAME.gz into NAME. */
void clipt_test_unpack_fixture(const char *src, const char *dst);

/* Writes bytes to path, replacing it. */
void clipt_test_write_file(const char *path, const void *data, size_t bytes);

/* Reads a whole file into a new buffer (NUL-terminated, not counted). */
char *clipt_test_read_file(const char *path, size_t *bytes);

#endif /* CLIPT_TEST_FILES_H */
