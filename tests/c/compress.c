/*
 * compress.c: the library basics (version, result texts, last error, string free) and one-shot
 * compression: codecs and their settings, compress/decompress into caller buffers, the bound,
 * batches and the served counters.
 *
 * Functions covered here: qatkit_version, qatkit_result_text, qatkit_last_error,
 * qatkit_string_free, qatkit_codec_new, qatkit_codec_free, qatkit_codec_set_backend,
 * qatkit_codec_set_limit, qatkit_codec_set_in_flight, qatkit_compress_bound, qatkit_compress,
 * qatkit_decompress, qatkit_compress_batch, qatkit_decompress_batch, qatkit_codec_served.
 * Every format, zstd included; batches and one-shot compression with 4 requests in flight (on
 * the worker threads) against 1; an LZ4 legacy frame (QATKIT_UNSUPPORTED).
 */

#define _XOPEN_SOURCE 700

#include <pthread.h>

#include "check.h"

static const qatkit_format FORMATS[] = {QATKIT_FORMAT_GZIP, QATKIT_FORMAT_ZLIB,
                                        QATKIT_FORMAT_RAW, QATKIT_FORMAT_LZ4,
                                        QATKIT_FORMAT_ZSTD};
static const char *const FORMAT_NAMES[] = {"gzip", "zlib", "raw", "lz4", "zstd"};
#define NFORMATS (sizeof FORMATS / sizeof FORMATS[0])

/* The highest level of a format. */
static uint32_t max_level_of(qatkit_format format) {
    switch (format) {
    case QATKIT_FORMAT_LZ4:
        return 2;
    case QATKIT_FORMAT_ZSTD:
        return 22;
    default:
        return 12;
    }
}

/* A codec at `level`, with the CPU backend so that the served counts are the CPU's. */
static qatkit_codec *codec_at(qatkit_format format, uint32_t level) {
    qatkit_codec *codec = NULL;
    CHECK_OK(qatkit_codec_new(format, level, &codec));
    CHECK(codec != NULL);
    if (codec != NULL) {
        CHECK_OK(qatkit_codec_set_backend(codec, QATKIT_BACKEND_CPU));
    }
    return codec;
}

/* Compresses `len` bytes into a fresh buffer of the bound's size; NULL on failure. */
static uint8_t *compress_all(const qatkit_codec *codec, const uint8_t *in, size_t len,
                             size_t *out_len) {
    size_t bound = qatkit_compress_bound(codec, len);
    CHECK(bound > 0);
    uint8_t *out = malloc(bound);
    CHECK(out != NULL);
    if (out == NULL) {
        return NULL;
    }
    *out_len = 0;
    qatkit_result r = qatkit_compress(codec, in, len, out, bound, out_len);
    CHECK_RESULT(r, QATKIT_OK);
    CHECK(*out_len <= bound);
    if (r != QATKIT_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------------------------------------ */

static void test_version(void) {
    check_section("qatkit_version");
    const char *version = qatkit_version();
    CHECK(version != NULL);
    if (version != NULL) {
        CHECK(strcmp(version, QATKIT_VERSION) == 0);
        char expected[64];
        snprintf(expected, sizeof expected, "%d.%d.%d", QATKIT_VERSION_MAJOR,
                 QATKIT_VERSION_MINOR, QATKIT_VERSION_PATCH);
        CHECK(strcmp(version, expected) == 0);
        CHECK(qatkit_version() == version); /* static: the same string every time */
    }
}

static void test_result_text(void) {
    check_section("qatkit_result_text");
    static const qatkit_result known[] = {
        QATKIT_OK,           QATKIT_INVALID_INPUT,  QATKIT_NOT_FOUND,
        QATKIT_UNSUPPORTED,  QATKIT_PERMISSION_DENIED, QATKIT_BUSY,
        QATKIT_NOT_VIABLE,   QATKIT_LIMIT_EXCEEDED, QATKIT_CORRUPT_DATA,
        QATKIT_DEVICE_FAILURE, QATKIT_IO,           QATKIT_OTHER,
        QATKIT_NULL_PARAMETER, QATKIT_BUFFER_TOO_SMALL, QATKIT_PANIC,
    };
    size_t n = sizeof known / sizeof known[0];
    for (size_t i = 0; i < n; i++) {
        const char *text = qatkit_result_text(known[i]);
        CHECK(text != NULL);
        if (text == NULL) {
            continue;
        }
        CHECK(text[0] != '\0');
        CHECK(strcmp(text, "unknown result") != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(text, qatkit_result_text(known[j])) != 0);
        }
    }
    CHECK(strcmp(qatkit_result_text(QATKIT_OK), "ok") == 0);
    CHECK(strcmp(qatkit_result_text(QATKIT_CORRUPT_DATA), "corrupt data") == 0);
    CHECK(strcmp(qatkit_result_text(QATKIT_BUFFER_TOO_SMALL), "the buffer is too small") == 0);
    CHECK(strcmp(qatkit_result_text(1), "unknown result") == 0);
    CHECK(strcmp(qatkit_result_text(7000), "unknown result") == 0);
    CHECK(strcmp(qatkit_result_text(12345), "unknown result") == 0);
    CHECK(strcmp(qatkit_result_text(UINT32_MAX), "unknown result") == 0);
}

static void *last_error_in_new_thread(void *arg) {
    char buf[16] = "untouched";
    size_t len = 77;
    qatkit_result *r = arg;
    r[0] = qatkit_last_error(buf, sizeof buf, &len);
    r[1] = (len == 0 && buf[0] == '\0') ? QATKIT_OK : QATKIT_OTHER;
    return NULL;
}

/* Runs first: no call has failed yet on this thread. */
static void test_last_error_empty(void) {
    check_section("qatkit_last_error before any failure");
    char buf[8] = "junk";
    size_t len = 99;
    CHECK_OK(qatkit_last_error(buf, sizeof buf, &len));
    CHECK_SIZE(len, 0);
    CHECK(buf[0] == '\0');
    /* The empty message still needs its NUL. */
    len = 99;
    CHECK_RESULT(qatkit_last_error(NULL, 0, &len), QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(len, 1);
    len = 99;
    CHECK_OK(qatkit_last_error(buf, 1, &len));
    CHECK_SIZE(len, 0);
}

static void test_last_error(void) {
    check_section("qatkit_last_error");
    qatkit_codec *codec = (qatkit_codec *)&codec; /* a sentinel: must stay as it is */
    CHECK_RESULT(qatkit_codec_new(99, 1, &codec), QATKIT_INVALID_INPUT);
    CHECK(codec == (qatkit_codec *)&codec);

    size_t needed = 0;
    CHECK_RESULT(qatkit_last_error(NULL, 0, &needed), QATKIT_BUFFER_TOO_SMALL);
    CHECK(needed > 1);

    char *buf = malloc(needed);
    CHECK(buf != NULL);
    if (buf == NULL) {
        return;
    }
    /* One byte short: too small again, with the same size needed; the buffer is not written. */
    memset(buf, 'x', needed);
    size_t len = 0;
    CHECK_RESULT(qatkit_last_error(buf, needed - 1, &len), QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(len, needed);
    CHECK(buf[0] == 'x');
    /* Exactly the size needed. */
    len = 0;
    CHECK_OK(qatkit_last_error(buf, needed, &len));
    CHECK_SIZE(len, needed - 1);
    CHECK_SIZE(strlen(buf), needed - 1);
    CHECK_CONTAINS(buf, "unknown format 99");
    free(buf);

    /* NULL arguments: the length out-parameter is required; a NULL buffer needs len 0. */
    char small[4];
    CHECK_RESULT(qatkit_last_error(small, sizeof small, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_last_error(NULL, 0, NULL), QATKIT_NULL_PARAMETER);
    len = 1234;
    CHECK_RESULT(qatkit_last_error(NULL, 10, &len), QATKIT_NULL_PARAMETER);
    CHECK_SIZE(len, 1234);

    /* A success does not clear the last failure's message. */
    qatkit_codec *ok = NULL;
    CHECK_OK(qatkit_codec_new(QATKIT_FORMAT_GZIP, 1, &ok));
    CHECK_CONTAINS(check_last_error(), "unknown format 99");
    /* The next failure replaces it. */
    CHECK_RESULT(qatkit_codec_set_limit(ok, 0), QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "limit");
    CHECK(strstr(check_last_error(), "unknown format") == NULL);
    qatkit_codec_free(ok);

    /* A NULL pointer's message names the parameter. */
    CHECK_RESULT(qatkit_codec_new(QATKIT_FORMAT_GZIP, 1, NULL), QATKIT_NULL_PARAMETER);
    CHECK_CONTAINS(check_last_error(), "codec_out");

    /* Per thread: a new thread has had no failure. */
    pthread_t thread;
    qatkit_result results[2] = {QATKIT_OTHER, QATKIT_OTHER};
    CHECK(pthread_create(&thread, NULL, last_error_in_new_thread, results) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_OK(results[0]);
    CHECK_OK(results[1]);
    /* ... and this thread's message is still there. */
    CHECK_CONTAINS(check_last_error(), "codec_out");
}

static void test_string_free(void) {
    check_section("qatkit_string_free");
    qatkit_string_free(NULL); /* NULL is fine */
    CHECK(1);
    /* Strings from the library are freed with it in host.c (status, plans, reports, XML). */
}

/* ------------------------------------------------------------------------------------------ */

static void test_codec_new(void) {
    check_section("qatkit_codec_new / qatkit_codec_free");
    for (size_t f = 0; f < NFORMATS; f++) {
        uint32_t max_level = max_level_of(FORMATS[f]);
        for (uint32_t level = 0; level <= max_level; level++) {
            qatkit_codec *codec = NULL;
            CHECK_OK(qatkit_codec_new(FORMATS[f], level, &codec));
            CHECK(codec != NULL);
            qatkit_codec_free(codec);
        }
        /* One past the highest level: refused, and nothing written. */
        qatkit_codec *codec = (qatkit_codec *)&codec;
        CHECK_RESULT(qatkit_codec_new(FORMATS[f], max_level + 1, &codec), QATKIT_INVALID_INPUT);
        CHECK(codec == (qatkit_codec *)&codec);
        CHECK_RESULT(qatkit_codec_new(FORMATS[f], UINT32_MAX, &codec), QATKIT_INVALID_INPUT);
        CHECK(codec == (qatkit_codec *)&codec);
    }
    /* Invalid formats. */
    qatkit_codec *codec = (qatkit_codec *)&codec;
    CHECK_RESULT(qatkit_codec_new(99, 1, &codec), QATKIT_INVALID_INPUT);
    CHECK(codec == (qatkit_codec *)&codec);
    CHECK_RESULT(qatkit_codec_new(5, 1, &codec), QATKIT_INVALID_INPUT); /* one past zstd */
    CHECK_RESULT(qatkit_codec_new(UINT32_MAX, 1, &codec), QATKIT_INVALID_INPUT);
    CHECK(codec == (qatkit_codec *)&codec);
    /* NULL out-parameter, even with a bad format: NULL or invalid, never a crash. */
    CHECK_RESULT(qatkit_codec_new(QATKIT_FORMAT_GZIP, 1, NULL), QATKIT_NULL_PARAMETER);
    qatkit_result r = qatkit_codec_new(99, 1, NULL);
    CHECK(r == QATKIT_NULL_PARAMETER || r == QATKIT_INVALID_INPUT);
    /* Freeing NULL is fine. */
    qatkit_codec_free(NULL);
}

static void test_settings(void) {
    check_section("qatkit_codec_set_backend / set_limit / set_in_flight");
    qatkit_codec *codec = NULL;
    CHECK_OK(qatkit_codec_new(QATKIT_FORMAT_GZIP, 6, &codec));
    if (codec == NULL) {
        return;
    }
    CHECK_OK(qatkit_codec_set_backend(codec, QATKIT_BACKEND_CPU));
    CHECK_OK(qatkit_codec_set_backend(codec, QATKIT_BACKEND_AUTO));
    /* QAT needs a build with QATzip (the default build has none): unsupported there. */
    qatkit_result qat = qatkit_codec_set_backend(codec, QATKIT_BACKEND_QAT);
    CHECK(qat == QATKIT_OK || qat == QATKIT_UNSUPPORTED);
    if (qat == QATKIT_UNSUPPORTED) {
        CHECK_CONTAINS(check_last_error(), "qat");
    }
    CHECK_OK(qatkit_codec_set_backend(codec, QATKIT_BACKEND_CPU));
    CHECK_RESULT(qatkit_codec_set_backend(codec, 3), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_codec_set_backend(codec, 99), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_codec_set_backend(NULL, QATKIT_BACKEND_CPU), QATKIT_NULL_PARAMETER);

    CHECK_OK(qatkit_codec_set_limit(codec, 1));
    CHECK_OK(qatkit_codec_set_limit(codec, SIZE_MAX));
    CHECK_RESULT(qatkit_codec_set_limit(codec, 0), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_codec_set_limit(NULL, 100), QATKIT_NULL_PARAMETER);

    CHECK_OK(qatkit_codec_set_in_flight(codec, 1));
    CHECK_OK(qatkit_codec_set_in_flight(codec, 8));
    CHECK_RESULT(qatkit_codec_set_in_flight(codec, 0), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_codec_set_in_flight(NULL, 2), QATKIT_NULL_PARAMETER);

    /* The codec still works after the refused settings. */
    uint8_t in[1000];
    check_fill(in, sizeof in, 1);
    size_t clen = 0;
    uint8_t *comp = compress_all(codec, in, sizeof in, &clen);
    uint8_t out[1000];
    size_t olen = 0;
    CHECK_OK(qatkit_decompress(codec, comp, clen, out, sizeof out, &olen));
    CHECK_SIZE(olen, sizeof in);
    CHECK(memcmp(in, out, sizeof in) == 0);
    free(comp);
    qatkit_codec_free(codec);
}

static void test_bound(void) {
    check_section("qatkit_compress_bound");
    CHECK_SIZE(qatkit_compress_bound(NULL, 0), 0);
    CHECK_SIZE(qatkit_compress_bound(NULL, 1000), 0);
    static const size_t sizes[] = {0, 1, 2, 100, 4096, 65535, 65536, 65537, 300000};
    size_t max = 300000;
    uint8_t *text = malloc(max);
    uint8_t *noise = malloc(max);
    CHECK(text != NULL && noise != NULL);
    if (text == NULL || noise == NULL) {
        free(text);
        free(noise);
        return;
    }
    check_fill(text, max, 7);
    uint32_t x = 12345;
    for (size_t i = 0; i < max; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (uint8_t)(x >> 7);
    }
    for (size_t f = 0; f < NFORMATS; f++) {
        const uint32_t levels[] = {0, 1, FORMATS[f] == QATKIT_FORMAT_LZ4 ? 2 : 9};
        for (size_t l = 0; l < 3; l++) {
            qatkit_codec *codec = codec_at(FORMATS[f], levels[l]);
            if (codec == NULL) {
                continue;
            }
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t bound = qatkit_compress_bound(codec, sizes[s]);
                CHECK(bound >= sizes[s]);
                CHECK(bound > 0);
                for (int which = 0; which < 2; which++) {
                    const uint8_t *in = which ? noise : text;
                    /* The bound is always enough: exactly the bound, no more room. */
                    uint8_t *out = malloc(bound);
                    size_t len = 0;
                    CHECK_OK(qatkit_compress(codec, sizes[s] ? in : NULL, sizes[s], out, bound,
                                             &len));
                    CHECK(len > 0 && len <= bound);
                    free(out);
                }
            }
            qatkit_codec_free(codec);
        }
    }
    free(text);
    free(noise);
}

/* Round trips, zero-length input, too-small buffers, corrupt and truncated input. */
static void test_one_shot(size_t f) {
    char title[64];
    snprintf(title, sizeof title, "qatkit_compress / qatkit_decompress (%s)", FORMAT_NAMES[f]);
    check_section(title);
    qatkit_codec *codec = codec_at(FORMATS[f], 1);
    if (codec == NULL) {
        return;
    }
    const size_t n = 100000;
    uint8_t *in = malloc(n);
    uint8_t *out = malloc(n + 16);
    CHECK(in != NULL && out != NULL);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        qatkit_codec_free(codec);
        return;
    }
    check_fill(in, n, (uint32_t)f + 3);
    size_t clen = 0;
    uint8_t *comp = compress_all(codec, in, n, &clen);
    if (comp == NULL) {
        free(in);
        free(out);
        qatkit_codec_free(codec);
        return;
    }
    CHECK(clen < n); /* compressible */
    switch (FORMATS[f]) {
    case QATKIT_FORMAT_GZIP:
        CHECK(clen > 18 && comp[0] == 0x1f && comp[1] == 0x8b && comp[2] == 8);
        break;
    case QATKIT_FORMAT_ZLIB:
        CHECK(clen > 6 && (comp[0] & 0x0f) == 8 && ((comp[0] << 8) | comp[1]) % 31 == 0);
        break;
    case QATKIT_FORMAT_LZ4:
        CHECK(clen > 7 && comp[0] == 0x04 && comp[1] == 0x22 && comp[2] == 0x4d &&
              comp[3] == 0x18);
        break;
    case QATKIT_FORMAT_ZSTD:
        CHECK(clen > 9 && comp[0] == 0x28 && comp[1] == 0xb5 && comp[2] == 0x2f &&
              comp[3] == 0xfd);
        break;
    default:
        break;
    }

    /* Round trip. */
    size_t olen = 0;
    CHECK_OK(qatkit_decompress(codec, comp, clen, out, n + 16, &olen));
    CHECK_SIZE(olen, n);
    CHECK(memcmp(in, out, n) == 0);

    /* Deterministic: the same input gives the same output. */
    size_t clen2 = 0;
    uint8_t *comp2 = compress_all(codec, in, n, &clen2);
    CHECK(comp2 != NULL && clen2 == clen && memcmp(comp, comp2, clen) == 0);
    free(comp2);

    /* ---- compress: output too small. */
    size_t needed = 0;
    memset(out, 0xAA, 16);
    CHECK_RESULT(qatkit_compress(codec, in, n, out, 1, &needed), QATKIT_BUFFER_TOO_SMALL);
    CHECK(needed > 1 && needed <= qatkit_compress_bound(codec, n));
    size_t needed0 = 0;
    CHECK_RESULT(qatkit_compress(codec, in, n, NULL, 0, &needed0), QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(needed0, needed);
    size_t short_len = 4242;
    uint8_t *exact = malloc(needed);
    CHECK_RESULT(qatkit_compress(codec, in, n, exact, needed - 1, &short_len),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(short_len, needed);
    /* Then success with exactly that size, and the same bytes as with the bound. */
    size_t exact_len = 0;
    CHECK_OK(qatkit_compress(codec, in, n, exact, needed, &exact_len));
    CHECK_SIZE(exact_len, needed);
    CHECK(exact_len == clen && memcmp(exact, comp, clen) == 0);
    free(exact);

    /* ---- decompress: output too small gives the exact size needed. */
    needed = 0;
    CHECK_RESULT(qatkit_decompress(codec, comp, clen, out, 10, &needed), QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(needed, n);
    needed = 0;
    CHECK_RESULT(qatkit_decompress(codec, comp, clen, NULL, 0, &needed), QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(needed, n);
    needed = 0;
    CHECK_RESULT(qatkit_decompress(codec, comp, clen, out, n - 1, &needed),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(needed, n);
    memset(out, 0, n);
    olen = 0;
    CHECK_OK(qatkit_decompress(codec, comp, clen, out, n, &olen));
    CHECK_SIZE(olen, n);
    CHECK(memcmp(in, out, n) == 0);

    /* ---- NULL pointers: QATKIT_NULL_PARAMETER and nothing written. */
    size_t sentinel = 31337;
    memset(out, 0x5A, 64);
    CHECK_RESULT(qatkit_compress(NULL, in, n, out, n, &sentinel), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_compress(codec, NULL, n, out, n, &sentinel), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_compress(codec, in, n, NULL, n, &sentinel), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_compress(codec, in, n, out, n, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decompress(NULL, comp, clen, out, n, &sentinel), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decompress(codec, NULL, clen, out, n, &sentinel), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decompress(codec, comp, clen, NULL, n, &sentinel), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decompress(codec, comp, clen, out, n, NULL), QATKIT_NULL_PARAMETER);
    CHECK_SIZE(sentinel, 31337);
    int untouched = 1;
    for (size_t i = 0; i < 64; i++) {
        untouched &= out[i] == 0x5A;
    }
    CHECK(untouched);

    /* ---- Zero-length input: NULL with len 0 is an empty stream, which decompresses to 0. */
    size_t bound0 = qatkit_compress_bound(codec, 0);
    CHECK(bound0 > 0);
    uint8_t empty[256];
    size_t elen = 0;
    CHECK(bound0 <= sizeof empty);
    CHECK_OK(qatkit_compress(codec, NULL, 0, empty, bound0, &elen));
    CHECK(elen > 0 && elen <= bound0);
    olen = 777;
    CHECK_OK(qatkit_decompress(codec, empty, elen, NULL, 0, &olen));
    CHECK_SIZE(olen, 0);
    olen = 777;
    CHECK_OK(qatkit_decompress(codec, empty, elen, out, n, &olen));
    CHECK_SIZE(olen, 0);
    /* The empty stream into no room at all. */
    needed = 0;
    CHECK_RESULT(qatkit_compress(codec, NULL, 0, NULL, 0, &needed), QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(needed, elen);
    /* No input at all is not a stream (a truncated one), except in LZ4, where it is an empty
     * one: `lz4 -d` reads an empty file so. */
    sentinel = 31337;
    if (FORMATS[f] == QATKIT_FORMAT_LZ4) {
        CHECK_OK(qatkit_decompress(codec, NULL, 0, out, n, &sentinel));
        CHECK_SIZE(sentinel, 0);
        sentinel = 31337;
    } else {
        CHECK_RESULT(qatkit_decompress(codec, NULL, 0, out, n, &sentinel), QATKIT_CORRUPT_DATA);
        CHECK_SIZE(sentinel, 31337);
    }

    /* ---- Corrupt input. */
    uint8_t garbage[300];
    memset(garbage, 0xFF, sizeof garbage); /* deflate: block type 3 (reserved) */
    sentinel = 31337;
    CHECK_RESULT(qatkit_decompress(codec, garbage, sizeof garbage, out, n, &sentinel),
                 QATKIT_CORRUPT_DATA);
    CHECK_SIZE(sentinel, 31337);
    CHECK_CONTAINS(check_last_error(), "corrupt");
    uint8_t *bad = malloc(clen);
    memcpy(bad, comp, clen);
    if (FORMATS[f] == QATKIT_FORMAT_RAW) {
        bad[0] |= 0x06; /* the first block's type: 3 (reserved) */
    } else {
        bad[0] ^= 0xFF; /* the magic or header */
    }
    CHECK_RESULT(qatkit_decompress(codec, bad, clen, out, n, &sentinel), QATKIT_CORRUPT_DATA);
    if (FORMATS[f] != QATKIT_FORMAT_RAW) {
        /* The trailing checksum (gzip CRC-32, zlib Adler-32, LZ4 and zstd content checksums). */
        memcpy(bad, comp, clen);
        bad[clen - 1] ^= 0x55;
        CHECK_RESULT(qatkit_decompress(codec, bad, clen, out, n, &sentinel),
                     QATKIT_CORRUPT_DATA);
    }
    CHECK_SIZE(sentinel, 31337);
    free(bad);

    /* ---- Truncated input: every cut of the last bytes, half, and only the first byte. */
    for (size_t cut = 1; cut <= 8 && cut < clen; cut++) {
        CHECK_RESULT(qatkit_decompress(codec, comp, clen - cut, out, n, &sentinel),
                     QATKIT_CORRUPT_DATA);
    }
    CHECK_RESULT(qatkit_decompress(codec, comp, clen / 2, out, n, &sentinel),
                 QATKIT_CORRUPT_DATA);
    CHECK_RESULT(qatkit_decompress(codec, comp, 1, out, n, &sentinel), QATKIT_CORRUPT_DATA);
    CHECK_SIZE(sentinel, 31337);

    /* ---- Output limit. */
    CHECK_OK(qatkit_codec_set_limit(codec, n - 1));
    CHECK_RESULT(qatkit_decompress(codec, comp, clen, out, n, &sentinel), QATKIT_LIMIT_EXCEEDED);
    CHECK_SIZE(sentinel, 31337);
    CHECK_CONTAINS(check_last_error(), "limit");
    /* Also when the buffer is too small: the limit comes first, no size is promised. */
    qatkit_result r = qatkit_decompress(codec, comp, clen, out, 10, &sentinel);
    CHECK(r == QATKIT_LIMIT_EXCEEDED);
    CHECK_OK(qatkit_codec_set_limit(codec, n));
    olen = 0;
    CHECK_OK(qatkit_decompress(codec, comp, clen, out, n, &olen));
    CHECK_SIZE(olen, n);
    CHECK(memcmp(in, out, n) == 0);

    free(comp);
    free(in);
    free(out);
    qatkit_codec_free(codec);
}

/* gzip: several members decode as one. */
static void test_gzip_members(void) {
    check_section("gzip members");
    qatkit_codec *codec = codec_at(QATKIT_FORMAT_GZIP, 6);
    if (codec == NULL) {
        return;
    }
    uint8_t a[5000], b[3000];
    check_fill(a, sizeof a, 11);
    check_fill(b, sizeof b, 12);
    size_t alen = 0, blen = 0;
    uint8_t *ca = compress_all(codec, a, sizeof a, &alen);
    uint8_t *cb = compress_all(codec, b, sizeof b, &blen);
    uint8_t *both = malloc(alen + blen);
    memcpy(both, ca, alen);
    memcpy(both + alen, cb, blen);
    uint8_t out[8000];
    size_t olen = 0;
    CHECK_OK(qatkit_decompress(codec, both, alen + blen, out, sizeof out, &olen));
    CHECK_SIZE(olen, sizeof a + sizeof b);
    CHECK(memcmp(out, a, sizeof a) == 0 && memcmp(out + sizeof a, b, sizeof b) == 0);
    free(ca);
    free(cb);
    free(both);
    qatkit_codec_free(codec);
}


/* zstd: level 0 is zstd's default (3), every level round trips, QAT has no zstd, and damage
 * anywhere in a frame is QATKIT_CORRUPT_DATA (its content checksum catches what decoding does
 * not). */
static void test_zstd(void) {
    check_section("zstd: levels, the QAT backend, damaged frames");
    const size_t n = 20000;
    uint8_t *in = malloc(n);
    uint8_t *out = malloc(n);
    qatkit_codec *level0 = codec_at(QATKIT_FORMAT_ZSTD, 0);
    qatkit_codec *level3 = codec_at(QATKIT_FORMAT_ZSTD, 3);
    CHECK(in != NULL && out != NULL);
    if (in == NULL || out == NULL || level0 == NULL || level3 == NULL) {
        free(in);
        free(out);
        qatkit_codec_free(level0);
        qatkit_codec_free(level3);
        return;
    }
    check_fill(in, n, 31);
    size_t len0 = 0, len3 = 0;
    uint8_t *c0 = compress_all(level0, in, n, &len0);
    uint8_t *c3 = compress_all(level3, in, n, &len3);
    CHECK(c0 != NULL && c3 != NULL && len0 == len3 && memcmp(c0, c3, len0) == 0);

    /* Every level, each read back by the level-0 codec (the level does not matter to
     * decompression). */
    for (uint32_t level = 1; level <= 22; level++) {
        qatkit_codec *codec = codec_at(QATKIT_FORMAT_ZSTD, level);
        size_t clen = 0, olen = 0;
        uint8_t *comp = codec != NULL ? compress_all(codec, in, n, &clen) : NULL;
        if (comp != NULL) {
            CHECK(clen < n);
            CHECK_OK(qatkit_decompress(level0, comp, clen, out, n, &olen));
            CHECK(olen == n && memcmp(out, in, n) == 0);
        }
        free(comp);
        qatkit_codec_free(codec);
    }

    /* QATzip has no zstd: the QAT backend is refused, and the codec stays as it was. */
    CHECK_RESULT(qatkit_codec_set_backend(level3, QATKIT_BACKEND_QAT), QATKIT_UNSUPPORTED);
    CHECK_CONTAINS(check_last_error(), "qat");
    size_t olen = 0;
    CHECK_OK(qatkit_decompress(level3, c3, len3, out, n, &olen));
    CHECK(olen == n && memcmp(out, in, n) == 0);

    /* One bit flipped in the blocks, at eight places; a byte missing in the middle; trailing
     * garbage after the frame. */
    uint8_t *bad = c3 != NULL ? malloc(len3 + 1) : NULL;
    if (bad != NULL) {
        for (size_t k = 1; k <= 8; k++) {
            size_t at = len3 * k / 9;
            memcpy(bad, c3, len3);
            bad[at] ^= 0x01;
            size_t sentinel = 31337;
            CHECK_RESULT(qatkit_decompress(level3, bad, len3, out, n, &sentinel),
                         QATKIT_CORRUPT_DATA);
            CHECK_SIZE(sentinel, 31337);
            CHECK_CONTAINS(check_last_error(), "decompressing zstd: data is corrupt");
        }
        memcpy(bad, c3, len3 / 2);
        memcpy(bad + len3 / 2, c3 + len3 / 2 + 1, len3 - len3 / 2 - 1);
        CHECK_RESULT(qatkit_decompress(level3, bad, len3 - 1, out, n, &olen),
                     QATKIT_CORRUPT_DATA);
        memcpy(bad, c3, len3);
        bad[len3] = 0x28; /* the first byte of a zstd magic, and no more */
        CHECK_RESULT(qatkit_decompress(level3, bad, len3 + 1, out, n, &olen),
                     QATKIT_CORRUPT_DATA);
    }
    free(bad);
    free(c0);
    free(c3);
    free(in);
    free(out);
    qatkit_codec_free(level0);
    qatkit_codec_free(level3);
}

/* An LZ4 legacy frame (`lz4 -l`): its magic 0x184C2102, then one block behind its size, here
 * 11 literals, "hello world". */
static const uint8_t LZ4_LEGACY[] = {
    0x02, 0x21, 0x4c, 0x18, /* magic, little-endian */
    0x0c, 0x00, 0x00, 0x00, /* the block's size: 12 */
    0xb0, 'h',  'e',  'l',  'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', /* token: 11 literals */
};

/* A legacy frame is valid LZ4 that qatkit does not read: QATKIT_UNSUPPORTED, with a message
 * saying so, alone, after a frame qatkit reads, with requests in flight, and in a batch. */
static void test_lz4_legacy(void) {
    check_section("LZ4 legacy frames: QATKIT_UNSUPPORTED");
    qatkit_codec *codec = codec_at(QATKIT_FORMAT_LZ4, 1);
    if (codec == NULL) {
        return;
    }
    uint8_t out[256];
    size_t sentinel = 31337;
    CHECK_RESULT(qatkit_decompress(codec, LZ4_LEGACY, sizeof LZ4_LEGACY, out, sizeof out,
                                   &sentinel),
                 QATKIT_UNSUPPORTED);
    CHECK_SIZE(sentinel, 31337);
    CHECK_CONTAINS(check_last_error(), "decompressing lz4: legacy frames are not supported");
    CHECK(strcmp(qatkit_result_text(QATKIT_UNSUPPORTED), "unsupported") == 0);

    /* After a frame qatkit reads. */
    uint8_t in[100], both[256];
    check_fill(in, sizeof in, 41);
    size_t clen = 0;
    CHECK_OK(qatkit_compress(codec, in, sizeof in, both, sizeof both, &clen));
    CHECK(clen + sizeof LZ4_LEGACY <= sizeof both);
    memcpy(both + clen, LZ4_LEGACY, sizeof LZ4_LEGACY);
    CHECK_RESULT(qatkit_decompress(codec, both, clen + sizeof LZ4_LEGACY, out, sizeof out,
                                   &sentinel),
                 QATKIT_UNSUPPORTED);
    CHECK_SIZE(sentinel, 31337);

    /* With requests in flight, and as one request of a batch beside a good one. */
    CHECK_OK(qatkit_codec_set_in_flight(codec, 4));
    CHECK_RESULT(qatkit_decompress(codec, LZ4_LEGACY, sizeof LZ4_LEGACY, out, sizeof out,
                                   &sentinel),
                 QATKIT_UNSUPPORTED);
    CHECK_CONTAINS(check_last_error(), "legacy frames are not supported");
    uint8_t plain[2][256];
    qatkit_request req[2] = {
        {LZ4_LEGACY, sizeof LZ4_LEGACY, plain[0], sizeof plain[0], 999, 4444},
        {both, clen, plain[1], sizeof plain[1], 999, 4444},
    };
    CHECK_OK(qatkit_decompress_batch(codec, req, 2));
    CHECK_RESULT(req[0].status, QATKIT_UNSUPPORTED);
    CHECK_SIZE(req[0].output_len, 0);
    CHECK_OK(req[1].status);
    CHECK(req[1].output_len == sizeof in && memcmp(plain[1], in, sizeof in) == 0);
    qatkit_codec_free(codec);
}

/* ------------------------------------------------------------------------------------------ */

#define NREQ 8

static void test_batch(size_t f) {
    char title[64];
    snprintf(title, sizeof title, "qatkit_compress_batch / decompress_batch (%s)",
             FORMAT_NAMES[f]);
    check_section(title);
    qatkit_codec *codec = codec_at(FORMATS[f], 1);
    if (codec == NULL) {
        return;
    }
    CHECK_OK(qatkit_codec_set_in_flight(codec, 3));
    const size_t len = 20000;
    uint8_t *inputs[NREQ];
    uint8_t *outputs[NREQ];
    size_t caps[NREQ];
    for (size_t i = 0; i < NREQ; i++) {
        inputs[i] = malloc(len);
        check_fill(inputs[i], len, (uint32_t)(100 + i));
        caps[i] = qatkit_compress_bound(codec, len);
        outputs[i] = malloc(caps[i]);
    }
    /* Request 2 is empty (NULL input), request 5's output is too small. */
    qatkit_request req[NREQ];
    for (size_t i = 0; i < NREQ; i++) {
        req[i] = (qatkit_request){
            .input = inputs[i],
            .input_len = len,
            .output = outputs[i],
            .output_cap = caps[i],
            .output_len = 999,
            .status = 4444,
        };
    }
    req[2].input = NULL;
    req[2].input_len = 0;
    req[5].output_cap = 3;

    /* Bad arguments first: nothing touched. */
    CHECK_RESULT(qatkit_compress_batch(NULL, req, NREQ), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_compress_batch(codec, NULL, NREQ), QATKIT_NULL_PARAMETER);
    req[4].input = NULL; /* NULL with a length */
    CHECK_RESULT(qatkit_compress_batch(codec, req, NREQ), QATKIT_NULL_PARAMETER);
    req[4].input = inputs[4];
    req[6].output = NULL; /* NULL with a capacity */
    CHECK_RESULT(qatkit_compress_batch(codec, req, NREQ), QATKIT_NULL_PARAMETER);
    req[6].output = outputs[6];
    int untouched = 1;
    for (size_t i = 0; i < NREQ; i++) {
        untouched &= req[i].status == 4444 && req[i].output_len == 999;
    }
    CHECK(untouched);
    /* No requests. */
    CHECK_OK(qatkit_compress_batch(codec, NULL, 0));
    CHECK_OK(qatkit_decompress_batch(codec, NULL, 0));
    CHECK_RESULT(qatkit_compress_batch(NULL, NULL, 0), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decompress_batch(NULL, req, NREQ), QATKIT_NULL_PARAMETER);

    /* The batch: each request its own status. */
    CHECK_OK(qatkit_compress_batch(codec, req, NREQ));
    for (size_t i = 0; i < NREQ; i++) {
        if (i == 5) {
            CHECK_RESULT(req[i].status, QATKIT_BUFFER_TOO_SMALL);
            CHECK(req[i].output_len > 3 && req[i].output_len <= caps[i]);
        } else {
            CHECK_OK(req[i].status);
            CHECK(req[i].output_len > 0 && req[i].output_len <= req[i].output_cap);
        }
    }
    /* The too-small one again with the size it asked for. */
    size_t needed5 = req[5].output_len;
    req[5].output_cap = needed5;
    CHECK_OK(qatkit_compress_batch(codec, &req[5], 1));
    CHECK_OK(req[5].status);
    CHECK_SIZE(req[5].output_len, needed5);

    /* Each batch output is what a single call makes. */
    for (size_t i = 0; i < NREQ; i++) {
        size_t single_len = 0;
        uint8_t *single = compress_all(codec, req[i].input, req[i].input_len, &single_len);
        CHECK(single != NULL && single_len == req[i].output_len &&
              memcmp(single, req[i].output, single_len) == 0);
        free(single);
    }

    /* Decompress them back, with request 3 corrupt, request 6 truncated, request 7 in a
     * too-small buffer. */
    qatkit_request back[NREQ];
    uint8_t *plain[NREQ];
    for (size_t i = 0; i < NREQ; i++) {
        plain[i] = malloc(len);
        back[i] = (qatkit_request){
            .input = outputs[i],
            .input_len = req[i].output_len,
            .output = plain[i],
            .output_cap = len,
            .output_len = 999,
            .status = 4444,
        };
    }
    uint8_t corrupt[64];
    memset(corrupt, 0xFF, sizeof corrupt);
    back[3].input = corrupt;
    back[3].input_len = sizeof corrupt;
    back[6].input_len = req[6].output_len / 2;
    back[7].output_cap = 100;
    /* Bad arguments: nothing touched. */
    CHECK_RESULT(qatkit_decompress_batch(codec, NULL, NREQ), QATKIT_NULL_PARAMETER);
    back[1].input = NULL;
    CHECK_RESULT(qatkit_decompress_batch(codec, back, NREQ), QATKIT_NULL_PARAMETER);
    back[1].input = outputs[1];
    back[4].output = NULL;
    CHECK_RESULT(qatkit_decompress_batch(codec, back, NREQ), QATKIT_NULL_PARAMETER);
    back[4].output = plain[4];
    untouched = 1;
    for (size_t i = 0; i < NREQ; i++) {
        untouched &= back[i].status == 4444 && back[i].output_len == 999;
    }
    CHECK(untouched);
    CHECK_OK(qatkit_decompress_batch(codec, back, NREQ));
    for (size_t i = 0; i < NREQ; i++) {
        if (i == 3 || i == 6) {
            CHECK_RESULT(back[i].status, QATKIT_CORRUPT_DATA);
        } else if (i == 7) {
            CHECK_RESULT(back[i].status, QATKIT_BUFFER_TOO_SMALL);
            CHECK_SIZE(back[i].output_len, len);
        } else if (i == 2) {
            CHECK_OK(back[i].status);
            CHECK_SIZE(back[i].output_len, 0);
        } else {
            CHECK_OK(back[i].status);
            CHECK_SIZE(back[i].output_len, len);
            CHECK(memcmp(plain[i], inputs[i], len) == 0);
        }
    }

    /* The limit applies to each request of a batch. */
    CHECK_OK(qatkit_codec_set_limit(codec, len - 1));
    back[3].input = outputs[3];
    back[3].input_len = req[3].output_len;
    back[2].status = 4444;
    CHECK_OK(qatkit_decompress_batch(codec, &back[2], 2));
    CHECK_OK(back[2].status); /* empty: within any limit */
    CHECK_RESULT(back[3].status, QATKIT_LIMIT_EXCEEDED);

    for (size_t i = 0; i < NREQ; i++) {
        free(inputs[i]);
        free(outputs[i]);
        free(plain[i]);
    }
    qatkit_codec_free(codec);
}

/* Requests of a parallel batch: a large one first, so that later, smaller ones finish before
 * it; the last is 3 MiB with QATKIT_C_TEST_BIG (more than a stream's 1 MiB requests: a batch
 * does not cut it). */
#define NPAR 9
static size_t par_size(size_t i) {
    static const size_t sizes[NPAR - 1] = {(1 << 20) + 3, 0, 1, 17, 300000, 65536, 1000, 100000};
    if (i < NPAR - 1) {
        return sizes[i];
    }
    return check_big() ? ((size_t)3 << 20) + 5 : 40000;
}

/* Fills `req` with the inputs and output buffers of a batch (outputs of `cap(i)` bytes). */
static void par_requests(qatkit_request *req, uint8_t *const *inputs, const size_t *in_lens,
                         uint8_t **outputs, const size_t *caps) {
    for (size_t i = 0; i < NPAR; i++) {
        req[i] = (qatkit_request){
            .input = in_lens[i] ? inputs[i] : NULL,
            .input_len = in_lens[i],
            .output = caps[i] ? outputs[i] : NULL,
            .output_cap = caps[i],
            .output_len = 999,
            .status = 4444,
        };
    }
}

/* A batch with 4 requests in flight, on the worker threads, of mixed sizes: each result is what
 * a batch with one in flight gives, byte for byte and in request order, and decompressing them
 * with 4 in flight gives every input back. */
static void test_parallel_batch(size_t f) {
    char title[80];
    snprintf(title, sizeof title, "a batch with 4 in flight against 1 (%s)", FORMAT_NAMES[f]);
    check_section(title);
    qatkit_codec *one = codec_at(FORMATS[f], same_bytes_level(FORMATS[f]));
    qatkit_codec *four = codec_at(FORMATS[f], same_bytes_level(FORMATS[f]));
    if (one == NULL || four == NULL) {
        qatkit_codec_free(one);
        qatkit_codec_free(four);
        return;
    }
    CHECK_OK(qatkit_codec_set_in_flight(four, 4));
    uint8_t *inputs[NPAR], *out1[NPAR], *out4[NPAR], *plain[NPAR];
    size_t lens[NPAR], caps[NPAR];
    for (size_t i = 0; i < NPAR; i++) {
        lens[i] = par_size(i);
        caps[i] = qatkit_compress_bound(four, lens[i]);
        inputs[i] = malloc(lens[i] ? lens[i] : 1);
        out1[i] = malloc(caps[i]);
        out4[i] = malloc(caps[i]);
        plain[i] = malloc(lens[i] ? lens[i] : 1);
        check_fill(inputs[i], lens[i], (uint32_t)(200 + i));
    }
    qatkit_request r1[NPAR], r4[NPAR];
    par_requests(r1, inputs, lens, out1, caps);
    par_requests(r4, inputs, lens, out4, caps);
    CHECK_OK(qatkit_compress_batch(one, r1, NPAR));
    CHECK_OK(qatkit_compress_batch(four, r4, NPAR));
    bool same = true;
    for (size_t i = 0; i < NPAR; i++) {
        CHECK_OK(r1[i].status);
        CHECK_OK(r4[i].status);
        same &= r1[i].status == QATKIT_OK && r4[i].status == QATKIT_OK &&
                r4[i].output_len == r1[i].output_len &&
                memcmp(out4[i], out1[i], r1[i].output_len) == 0;
    }
    CHECK(same);
    qatkit_served served = {0};
    CHECK_OK(qatkit_codec_served(four, &served));
    CHECK(served.cpu == NPAR && served.qat_device == 0 && served.qat_software == 0);

    /* Back, with 4 in flight. */
    size_t clens[NPAR];
    for (size_t i = 0; i < NPAR; i++) {
        clens[i] = r4[i].output_len;
    }
    qatkit_request back[NPAR];
    par_requests(back, out4, clens, plain, lens);
    CHECK_OK(qatkit_decompress_batch(four, back, NPAR));
    bool round_trip = true;
    for (size_t i = 0; i < NPAR; i++) {
        CHECK_OK(back[i].status);
        round_trip &= back[i].status == QATKIT_OK && back[i].output_len == lens[i] &&
                      memcmp(plain[i], inputs[i], lens[i]) == 0;
    }
    CHECK(round_trip);
    CHECK_OK(qatkit_codec_served(four, &served));
    CHECK(served.cpu == 2 * NPAR);

    for (size_t i = 0; i < NPAR; i++) {
        free(inputs[i]);
        free(out1[i]);
        free(out4[i]);
        free(plain[i]);
    }
    qatkit_codec_free(one);
    qatkit_codec_free(four);
}

/* With 4 in flight, qatkit_compress cuts gzip, LZ4 and zstd inputs over 1 MiB into 1 MiB
 * members or frames compressed in parallel: on incompressible data the result still fits in
 * exactly qatkit_compress_bound bytes, and codecs with 1 and with 4 in flight read it back. */
static void test_parallel_one_shot(void) {
    check_section("one-shot compression with 4 in flight, incompressible, into the bound");
    size_t n = check_big() ? ((size_t)6 << 20) + 777 : ((size_t)2 << 20) + 777;
    uint8_t *noise = malloc(n);
    uint8_t *plain = malloc(n);
    CHECK(noise != NULL && plain != NULL);
    if (noise == NULL || plain == NULL) {
        free(noise);
        free(plain);
        return;
    }
    uint32_t x = 777;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (uint8_t)(x >> 11);
    }
    for (size_t f = 0; f < NFORMATS; f++) {
        qatkit_codec *one = codec_at(FORMATS[f], same_bytes_level(FORMATS[f]));
        qatkit_codec *four = codec_at(FORMATS[f], same_bytes_level(FORMATS[f]));
        if (one == NULL || four == NULL) {
            qatkit_codec_free(one);
            qatkit_codec_free(four);
            continue;
        }
        CHECK_OK(qatkit_codec_set_in_flight(four, 4));
        size_t bound = qatkit_compress_bound(four, n);
        CHECK_SIZE(bound, qatkit_compress_bound(one, n));
        uint8_t *comp = malloc(bound);
        size_t clen = 0, olen = 0;
        CHECK_OK(qatkit_compress(four, noise, n, comp, bound, &clen));
        CHECK(clen > n && clen <= bound);
        CHECK_OK(qatkit_decompress(one, comp, clen, plain, n, &olen));
        CHECK(olen == n && memcmp(plain, noise, n) == 0);
        olen = 0;
        memset(plain, 0, n);
        CHECK_OK(qatkit_decompress(four, comp, clen, plain, n, &olen));
        CHECK(olen == n && memcmp(plain, noise, n) == 0);
        free(comp);
        qatkit_codec_free(one);
        qatkit_codec_free(four);
    }
    free(noise);
    free(plain);
}

static void test_served(void) {
    check_section("qatkit_codec_served");
    qatkit_codec *codec = codec_at(QATKIT_FORMAT_ZLIB, 1);
    if (codec == NULL) {
        return;
    }
    qatkit_served served = {111, 222, 333};
    CHECK_RESULT(qatkit_codec_served(NULL, &served), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_codec_served(codec, NULL), QATKIT_NULL_PARAMETER);
    CHECK(served.cpu == 111 && served.qat_device == 222 && served.qat_software == 333);
    CHECK_OK(qatkit_codec_served(codec, &served));
    CHECK(served.cpu == 0 && served.qat_device == 0 && served.qat_software == 0);

    /* The counters count since the codec was made or a setting last changed (the header says
     * so); this test makes its settings (codec_at's set_backend) before it counts. */
    uint8_t in[3000], comp[4000], out[3000];
    check_fill(in, sizeof in, 5);
    size_t clen = 0, olen = 0;
    CHECK_OK(qatkit_compress(codec, in, sizeof in, comp, sizeof comp, &clen));
    CHECK_OK(qatkit_compress(codec, in, 100, out, sizeof out, &olen));
    CHECK_OK(qatkit_decompress(codec, comp, clen, out, sizeof out, &olen));
    CHECK_OK(qatkit_codec_served(codec, &served));
    CHECK(served.cpu == 3);
    CHECK(served.qat_device == 0 && served.qat_software == 0); /* the CPU backend */

    qatkit_request req[4];
    uint8_t outs[4][4000];
    for (size_t i = 0; i < 4; i++) {
        req[i] = (qatkit_request){in, sizeof in, outs[i], sizeof outs[i], 0, 0};
    }
    CHECK_OK(qatkit_compress_batch(codec, req, 4));
    CHECK_OK(qatkit_codec_served(codec, &served));
    CHECK(served.cpu == 7); /* one per request */
    CHECK(served.qat_device == 0 && served.qat_software == 0);
    qatkit_codec_free(codec);
}

/* ------------------------------------------------------------------------------------------ */

/* Thread-safe: several threads compress and decompress with one codec at once. */
struct worker {
    const qatkit_codec *codec;
    uint32_t seed;
    int ok;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    uint8_t in[20000], comp[21000], out[20000];
    check_fill(in, sizeof in, w->seed);
    w->ok = 1;
    for (int round = 0; round < 4; round++) {
        size_t clen = 0, olen = 0;
        w->ok &= qatkit_compress(w->codec, in, sizeof in, comp, sizeof comp, &clen) == QATKIT_OK;
        w->ok &= qatkit_decompress(w->codec, comp, clen, out, sizeof out, &olen) == QATKIT_OK;
        w->ok &= olen == sizeof in && memcmp(in, out, sizeof in) == 0;
    }
    return NULL;
}

static void test_threads(void) {
    check_section("one codec, several threads");
    qatkit_codec *codec = codec_at(QATKIT_FORMAT_GZIP, 1);
    if (codec == NULL) {
        return;
    }
    pthread_t threads[4];
    struct worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){codec, (uint32_t)(40 + i), 0};
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].ok);
    }
    qatkit_served served;
    CHECK_OK(qatkit_codec_served(codec, &served));
    CHECK(served.cpu == 32);
    qatkit_codec_free(codec);
}

int main(void) {
    test_last_error_empty(); /* first: before any call has failed */
    test_version();
    test_result_text();
    test_last_error();
    test_string_free();
    test_codec_new();
    test_settings();
    test_bound();
    for (size_t f = 0; f < NFORMATS; f++) {
        test_one_shot(f);
    }
    test_gzip_members();
    test_zstd();
    test_lz4_legacy();
    for (size_t f = 0; f < NFORMATS; f++) {
        test_batch(f);
    }
    for (size_t f = 0; f < NFORMATS; f++) {
        test_parallel_batch(f);
    }
    test_parallel_one_shot();
    test_served();
    test_threads();
    return check_report();
}
