/*
 * check.h: the C tests' whole framework. CHECK counts a condition and prints file:line when it
 * fails; CHECK_RESULT compares a qatkit_result and, on a mismatch, prints both results' texts
 * and qatkit_last_error(). Each program ends with `return check_report();`, which prints
 * "N passed, N failed" as its last line and gives the exit status.
 *
 * Built by qatkit-capi/tests/c.rs: once with -fsanitize=address,undefined against libqatkit.a,
 * once without against libqatkit.so under valgrind.
 */

#ifndef QATKIT_TEST_CHECK_H
#define QATKIT_TEST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h> /* clock_gettime: the programs define _XOPEN_SOURCE 700 before any include */

#include "qatkit.h"

static unsigned check_passed;
static unsigned check_failed;

/* The message of this thread's last failure (empty when there is none or it does not fit). */
static inline const char *check_last_error(void) {
    static char buf[4096];
    size_t len = 0;
    if (qatkit_last_error(buf, sizeof buf, &len) != QATKIT_OK) {
        buf[0] = '\0';
    }
    return buf;
}

/* Failures go to stdout, in order with the section headings and before the count line
 * (stderr is left to the sanitizers and valgrind). */
static inline void check_fail_at(const char *file, int line, const char *what) {
    check_failed++;
    fflush(stderr);
    printf("%s:%d: CHECK failed: %s\n", file, line, what);
    fflush(stdout);
}

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (cond) {                                                                         \
            check_passed++;                                                                 \
        } else {                                                                            \
            check_fail_at(__FILE__, __LINE__, #cond);                                       \
        }                                                                                   \
    } while (0)

/* `expr` (a qatkit call) returns `want`. */
#define CHECK_RESULT(expr, want)                                                            \
    do {                                                                                    \
        qatkit_result check_got_ = (expr);                                                  \
        qatkit_result check_want_ = (want);                                                 \
        if (check_got_ == check_want_) {                                                    \
            check_passed++;                                                                 \
        } else {                                                                            \
            check_fail_at(__FILE__, __LINE__, #expr " == " #want);                          \
            printf("    got %u (%s), want %u (%s); last error: %s\n",                      \
                    (unsigned)check_got_, qatkit_result_text(check_got_),                   \
                    (unsigned)check_want_, qatkit_result_text(check_want_),                 \
                    check_last_error());                                                    \
        }                                                                                   \
    } while (0)

#define CHECK_OK(expr) CHECK_RESULT(expr, QATKIT_OK)

/* Two size_t values are equal; both are printed when not. */
#define CHECK_SIZE(got, want)                                                               \
    do {                                                                                    \
        size_t check_a_ = (got), check_b_ = (want);                                         \
        if (check_a_ == check_b_) {                                                         \
            check_passed++;                                                                 \
        } else {                                                                            \
            check_fail_at(__FILE__, __LINE__, #got " == " #want);                           \
            printf("    %zu != %zu\n", check_a_, check_b_);                                \
        }                                                                                   \
    } while (0)

/* A NUL-terminated string contains `needle` (a NULL string does not). */
#define CHECK_CONTAINS(haystack, needle)                                                    \
    do {                                                                                    \
        const char *check_h_ = (haystack);                                                  \
        if (check_h_ != NULL && strstr(check_h_, (needle)) != NULL) {                       \
            check_passed++;                                                                 \
        } else {                                                                            \
            check_fail_at(__FILE__, __LINE__, #haystack " contains " #needle);              \
            printf("    %.400s%s\n", check_h_ ? check_h_ : "(NULL)",                       \
                    check_h_ && strlen(check_h_) > 400 ? "..." : "");                       \
        }                                                                                   \
    } while (0)

static inline double check_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double check_section_start = -1;

/* Ends the current section: prints how long it took. */
static inline void check_section_end(void) {
    if (check_section_start >= 0) {
        printf("   %.2f s\n", check_now() - check_section_start);
        check_section_start = -1;
    }
}

/* A section heading in the output, so a failure's context (and each part's time) shows in the
 * log. */
static inline void check_section(const char *name) {
    check_section_end();
    fflush(stderr);
    printf("-- %s\n", name);
    fflush(stdout);
    check_section_start = check_now();
}

/* Prints the counts (the program's last line) and gives the exit status. */
static inline int check_report(void) {
    check_section_end();
    fflush(stderr);
    printf("%u passed, %u failed\n", check_passed, check_failed);
    fflush(stdout);
    return check_failed == 0 ? 0 : 1;
}

/* Whether QATKIT_C_TEST_BIG is set (the ASan run only: valgrind's is kept small). */
static inline bool check_big(void) {
    const char *big = getenv("QATKIT_C_TEST_BIG");
    return big != NULL && big[0] != '\0' && strcmp(big, "0") != 0;
}

/* Deterministic test data: compressible text-like bytes mixed with runs of noise. */
static inline void check_fill(uint8_t *buf, size_t len, uint32_t seed) {
    static const char words[] =
        "the quick brown fox jumps over the lazy dog; QuickAssist offloads deflate and lz4. ";
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if ((i / 4096) % 5 == 4) {
            buf[i] = (uint8_t)x; /* a noisy 4 KiB block every 20 KiB */
        } else {
            buf[i] = (uint8_t)words[(i + (x % 3 == 0 ? 1 : 0)) % (sizeof words - 1)];
        }
    }
}

/* A level whose output depends on the request alone, for tests comparing bytes across worker
 * threads: gzip at 4 (libdeflate's; ISA-L's levels 0-3 may give other valid bytes for a small
 * request on another worker, as it resets only part of its match history), 1 otherwise. */
static inline uint32_t same_bytes_level(qatkit_format format) {
    return format == QATKIT_FORMAT_GZIP ? 4 : 1;
}

#endif /* QATKIT_TEST_CHECK_H */
