/*
 * compress.c: the library basics (version, result texts, last error, string free) and one-shot
 * compression: codecs and their settings, compress/decompress into caller buffers, the bound,
 * batches and the served counters.
 *
 * Functions covered here: qatkit_version, qatkit_result_text, qatkit_last_error,
 * qatkit_string_free, qatkit_codec_new, qatkit_codec_free, qatkit_codec_set_backend,
 * qatkit_codec_set_limit, qatkit_codec_set_in_flight, qatkit_compress_bound, qatkit_compress,
 * qatkit_decompress, qatkit_compress_batch, qatkit_decompress_batch, qatkit_codec_served.
 */

#define _XOPEN_SOURCE 700

#include <pthread.h>

#include "check.h"

static const qatkit_format FORMATS[] = {QATKIT_FORMAT_GZIP, QATKIT_FORMAT_ZLIB,
                                        QATKIT_FORMAT_RAW, QATKIT_FORMAT_LZ4};
static const char *const FORMAT_NAMES[] = {"gzip", "zlib", "raw", "lz4"};
#define NFORMATS (sizeof FORMATS / sizeof FORMATS[0])

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
        uint32_t max_level = FORMATS[f] == QATKIT_FORMAT_LZ4 ? 2 : 12;
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
    CHECK_RESULT(qatkit_codec_new(4, 1, &codec), QATKIT_INVALID_INPUT);
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
    /* No input at all is not a stream (a truncated one). */
    sentinel = 31337;
    CHECK_RESULT(qatkit_decompress(codec, NULL, 0, out, n, &sentinel), QATKIT_CORRUPT_DATA);
    CHECK_SIZE(sentinel, 31337);

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
        /* The trailing checksum (gzip CRC-32, zlib Adler-32, LZ4 content checksum or end mark). */
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
    for (size_t f = 0; f < NFORMATS; f++) {
        test_batch(f);
    }
    test_served();
    test_threads();
    return check_report();
}
