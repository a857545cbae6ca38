/* Helpers of the GPU suites: finding out whether a CUDA device is usable
 * without initialising CUDA in the test process, contexts, device buffers,
 * and comparisons against the CPU backend. */
#ifndef CLIPT_TEST_CUDA_HARNESS_H
#define CLIPT_TEST_CUDA_HARNESS_H

#include <stddef.h>

#include "harness.h"

/* Tries to create a "cuda" context in a child process. Returns 0, with the
 * library's message in why, when the library has no CUDA or no usable
 * device exists (CLIPT_ERR_NO_CUDA, CLIPT_ERR_NO_DEVICE). Returns 1 when
 * the context was created or failed for another reason, so that the suites
 * run and report that failure. Probing in a child keeps CUDA uninitialised
 * in this process, which Check's forked tests need. */
int clipt_test_cuda_available(char *why, size_t size);

/* Runs the suite that make_suite builds when a CUDA device is usable.
 * Otherwise prints "skipped: <name>: no CUDA device" and the reason, and
 * runs an empty suite so the run counts as skipped, not passed. */
int clipt_test_run_cuda_suite(Suite *(*make_suite)(void), const char *name);

/* 1 when CLIPT_TEST_SMALL_SHAPES is set to a non-empty value other than
 * "0": the suites then skip their larger shapes, for runs under
 * compute-sanitizer. */
int clipt_test_small_shapes(void);

/* Creates a context on "cuda" (device 0) or fails the current test. With
 * CLIPT_TEST_GPU_STANDIN=cpu set, the context is a CPU context, and
 * clipt_test_cuda_available() returns 1: the GPU suites then compare the
 * CPU backend with itself, which checks the suites' code on a machine
 * without a GPU and nothing about the CUDA backend. */
clipt_context *clipt_test_cuda_context(int allow_tf32);

/* Allocates bytes of backend memory on ctx and copies host into it (when
 * host is not NULL); fails the current test on error. */
void *clipt_test_to_device(clipt_context *ctx, const void *host, size_t bytes);

/* Copies bytes of backend memory into host and waits for the copy; fails
 * the current test on error. */
void clipt_test_to_host(clipt_context *ctx, void *host, const void *device,
                        size_t bytes);

/* Releases backend memory from clipt_test_to_device. */
void clipt_test_device_free(clipt_context *ctx, void *device);

/* Asserts |got - want| <= rel (max |want| + |want|) elementwise, the
 * relative tolerance the GPU suites state per op: rel times the array's
 * largest magnitude plus rel of each value. rel = 0 demands equal bits
 * (up to the sign of zero). */
void clipt_test_check_rel(const char *what, const float *got, const float *want,
                          size_t n, double rel);

/* Fills ids with integers uniform in [0, V) from a seeded generator. */
void clipt_test_fill_ids(int32_t *ids, size_t n, uint64_t seed, int V);

#endif /* CLIPT_TEST_CUDA_HARNESS_H */
