/*
 * stream.c: the streaming encoder and decoder, driven the way a C program drives z_stream:
 * one byte at a time in and out for every format, several MB in larger and odd-sized pieces,
 * zero-length input, corrupt and truncated streams, the output limit, NULL arguments, and the
 * codec's settings refused with QATKIT_BUSY while an encoder holds it.
 *
 * Functions covered here: qatkit_encoder_new, qatkit_encoder_free, qatkit_encoder_write,
 * qatkit_encoder_finish, qatkit_decoder_new, qatkit_decoder_free, qatkit_decoder_read (and
 * qatkit_codec_new/_free, _set_*, qatkit_compress, qatkit_decompress around them).
 *
 * QATKIT_C_TEST_BIG (set for the ASan run only) makes the large round trips bigger.
 */

#define _XOPEN_SOURCE 700

#include "check.h"

static const qatkit_format FORMATS[] = {QATKIT_FORMAT_GZIP, QATKIT_FORMAT_ZLIB,
                                        QATKIT_FORMAT_RAW, QATKIT_FORMAT_LZ4};
static const char *const FORMAT_NAMES[] = {"gzip", "zlib", "raw", "lz4"};
#define NFORMATS (sizeof FORMATS / sizeof FORMATS[0])

/* Calls without progress after which a loop counts as stuck. */
#define MAX_IDLE 1000

/* A growable byte buffer. */
struct buf {
    uint8_t *data;
    size_t len, cap;
};

static void buf_append(struct buf *b, const uint8_t *data, size_t len) {
    if (len == 0) {
        return;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len) {
            cap *= 2;
        }
        uint8_t *grown = realloc(b->data, cap);
        if (grown == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* Whether `b` holds a prefix of `data` (`n` bytes); an empty buffer is one. */
static bool buf_is_prefix(const struct buf *b, const uint8_t *data, size_t n) {
    return b->len <= n && (b->len == 0 || memcmp(b->data, data, b->len) == 0);
}

static void buf_free(struct buf *b) {
    free(b->data);
    *b = (struct buf){0};
}

static qatkit_codec *new_codec(qatkit_format format, uint32_t level) {
    qatkit_codec *codec = NULL;
    CHECK_OK(qatkit_codec_new(format, level, &codec));
    return codec;
}

/*
 * Compresses `in` through an encoder, `in_step` input bytes and `out_cap` output bytes per
 * call. Returns the result of the first failing call (QATKIT_OK when all went well).
 */
static qatkit_result encode(const qatkit_codec *codec, const uint8_t *in, size_t len,
                            size_t in_step, size_t out_cap, struct buf *compressed) {
    qatkit_encoder *enc = NULL;
    qatkit_result r = qatkit_encoder_new(codec, &enc);
    CHECK_OK(r);
    if (r != QATKIT_OK) {
        return r;
    }
    uint8_t *out = malloc(out_cap);
    size_t pos = 0, idle = 0;
    bool sane = true; /* every call's counts within its buffers (one CHECK, not millions) */
    while (pos < len && r == QATKIT_OK) {
        size_t step = len - pos < in_step ? len - pos : in_step;
        size_t used = SIZE_MAX, written = SIZE_MAX;
        r = qatkit_encoder_write(enc, in + pos, step, out, out_cap, &used, &written);
        if (r != QATKIT_OK) {
            break;
        }
        sane &= used <= step && written <= out_cap;
        buf_append(compressed, out, written);
        pos += used;
        idle = (used == 0 && written == 0) ? idle + 1 : 0;
        if (idle > MAX_IDLE) {
            CHECK(!"encoder_write makes no progress");
            r = QATKIT_OTHER;
        }
    }
    bool done = false;
    idle = 0;
    while (!done && r == QATKIT_OK) {
        size_t written = SIZE_MAX;
        r = qatkit_encoder_finish(enc, out, out_cap, &written, &done);
        if (r != QATKIT_OK) {
            break;
        }
        sane &= written <= out_cap;
        buf_append(compressed, out, written);
        idle = (written == 0 && !done) ? idle + 1 : 0;
        if (idle > MAX_IDLE) {
            CHECK(!"encoder_finish makes no progress");
            r = QATKIT_OTHER;
        }
    }
    CHECK(sane);
    if (r == QATKIT_OK) {
        /* Finishing again: done, nothing more. */
        size_t written = SIZE_MAX;
        done = false;
        CHECK_OK(qatkit_encoder_finish(enc, out, out_cap, &written, &done));
        CHECK(done && written == 0);
    }
    free(out);
    qatkit_encoder_free(enc);
    return r;
}

/*
 * Decompresses `in` through a decoder, `in_step` input bytes and `out_cap` output bytes per
 * call, with end_of_input on the call that passes the last byte (or on an empty call when
 * `in` is empty). Returns the result of the first failing call; the output before it is in
 * `plain`.
 */
static qatkit_result decode(const qatkit_codec *codec, const uint8_t *in, size_t len,
                            size_t in_step, size_t out_cap, struct buf *plain) {
    qatkit_decoder *dec = NULL;
    qatkit_result r = qatkit_decoder_new(codec, &dec);
    CHECK_OK(r);
    if (r != QATKIT_OK) {
        return r;
    }
    uint8_t *out = malloc(out_cap);
    size_t pos = 0, idle = 0;
    bool done = false, sane = true;
    while (!done) {
        size_t step = len - pos < in_step ? len - pos : in_step;
        bool end = pos + step == len;
        size_t used = SIZE_MAX, written = SIZE_MAX;
        r = qatkit_decoder_read(dec, step ? in + pos : NULL, step, end, out, out_cap, &used,
                                &written, &done);
        if (r != QATKIT_OK) {
            break;
        }
        sane &= used <= step && written <= out_cap;
        buf_append(plain, out, written);
        pos += used;
        idle = (used == 0 && written == 0 && !done) ? idle + 1 : 0;
        if (idle > MAX_IDLE) {
            CHECK(!"decoder_read makes no progress");
            r = QATKIT_OTHER;
            break;
        }
    }
    CHECK(sane);
    if (r == QATKIT_OK) {
        CHECK_SIZE(pos, len); /* all input taken */
        /* Reading after the end: done, nothing more. */
        size_t used = SIZE_MAX, written = SIZE_MAX;
        done = false;
        CHECK_OK(qatkit_decoder_read(dec, NULL, 0, true, out, out_cap, &used, &written, &done));
        CHECK(done && used == 0 && written == 0);
    } else {
        /* A failure stays: the next call reports it again. */
        size_t used = SIZE_MAX, written = SIZE_MAX;
        bool again_done = false;
        CHECK_RESULT(qatkit_decoder_read(dec, NULL, 0, true, out, out_cap, &used, &written,
                                         &again_done),
                     r);
        CHECK(used == SIZE_MAX && written == SIZE_MAX && !again_done);
    }
    free(out);
    qatkit_decoder_free(dec);
    return r;
}

/* ------------------------------------------------------------------------------------------ */

static void test_null_arguments(void) {
    check_section("NULL arguments");
    qatkit_encoder_free(NULL);
    qatkit_decoder_free(NULL);
    qatkit_codec *codec = new_codec(QATKIT_FORMAT_GZIP, 1);
    if (codec == NULL) {
        return;
    }
    qatkit_encoder *enc = (qatkit_encoder *)&enc;
    CHECK_RESULT(qatkit_encoder_new(NULL, &enc), QATKIT_NULL_PARAMETER);
    CHECK(enc == (qatkit_encoder *)&enc);
    CHECK_RESULT(qatkit_encoder_new(codec, NULL), QATKIT_NULL_PARAMETER);
    qatkit_decoder *dec = (qatkit_decoder *)&dec;
    CHECK_RESULT(qatkit_decoder_new(NULL, &dec), QATKIT_NULL_PARAMETER);
    CHECK(dec == (qatkit_decoder *)&dec);
    CHECK_RESULT(qatkit_decoder_new(codec, NULL), QATKIT_NULL_PARAMETER);
    /* A failed encoder_new leaves the codec free to change. */
    CHECK_OK(qatkit_codec_set_limit(codec, 1 << 20));

    enc = NULL;
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    dec = NULL;
    CHECK_OK(qatkit_decoder_new(codec, &dec));
    if (enc == NULL || dec == NULL) {
        qatkit_encoder_free(enc);
        qatkit_decoder_free(dec);
        qatkit_codec_free(codec);
        return;
    }
    uint8_t in[16] = "0123456789abcdef";
    uint8_t out[64];
    memset(out, 0x77, sizeof out);
    size_t used = 5555, written = 6666;
    bool done = true;

    CHECK_RESULT(qatkit_encoder_write(NULL, in, 16, out, 64, &used, &written),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_write(enc, NULL, 16, out, 64, &used, &written),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_write(enc, in, 16, NULL, 64, &used, &written),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_write(enc, in, 16, out, 64, NULL, &written),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_write(enc, in, 16, out, 64, &used, NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_finish(NULL, out, 64, &written, &done), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_finish(enc, NULL, 64, &written, &done), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_finish(enc, out, 64, NULL, &done), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_encoder_finish(enc, out, 64, &written, NULL), QATKIT_NULL_PARAMETER);

    CHECK_RESULT(qatkit_decoder_read(NULL, in, 16, false, out, 64, &used, &written, &done),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decoder_read(dec, NULL, 16, false, out, 64, &used, &written, &done),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decoder_read(dec, in, 16, false, NULL, 64, &used, &written, &done),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decoder_read(dec, in, 16, false, out, 64, NULL, &written, &done),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decoder_read(dec, in, 16, false, out, 64, &used, NULL, &done),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_decoder_read(dec, in, 16, false, out, 64, &used, &written, NULL),
                 QATKIT_NULL_PARAMETER);
    /* Nothing written, nothing taken. */
    CHECK_SIZE(used, 5555);
    CHECK_SIZE(written, 6666);
    CHECK(done == true);
    int untouched = 1;
    for (size_t i = 0; i < sizeof out; i++) {
        untouched &= out[i] == 0x77;
    }
    CHECK(untouched);

    /* Zero lengths with NULL buffers are fine. */
    CHECK_OK(qatkit_encoder_write(enc, NULL, 0, NULL, 0, &used, &written));
    CHECK(used == 0 && written == 0);
    CHECK_OK(qatkit_decoder_read(dec, NULL, 0, false, NULL, 0, &used, &written, &done));
    CHECK(used == 0 && written == 0 && !done);

    /* The NULL calls did not disturb either stream: the encoder still makes a valid stream of
     * the input, and the decoder decodes it. */
    struct buf compressed = {0};
    CHECK_OK(qatkit_encoder_write(enc, in, 16, out, sizeof out, &used, &written));
    CHECK_SIZE(used, 16);
    buf_append(&compressed, out, written);
    done = false;
    while (!done) {
        qatkit_result r = qatkit_encoder_finish(enc, out, sizeof out, &written, &done);
        CHECK_OK(r);
        if (r != QATKIT_OK) {
            break;
        }
        buf_append(&compressed, out, written);
    }
    struct buf plain = {0};
    size_t pos = 0;
    done = false;
    for (int calls = 0; !done && calls < 100; calls++) {
        qatkit_result r = qatkit_decoder_read(dec, compressed.data + pos, compressed.len - pos,
                                              true, out, sizeof out, &used, &written, &done);
        CHECK_OK(r);
        if (r != QATKIT_OK) {
            break;
        }
        pos += used;
        buf_append(&plain, out, written);
    }
    CHECK(done);
    CHECK(plain.len == 16 && memcmp(plain.data, in, 16) == 0);
    buf_free(&compressed);
    buf_free(&plain);

    qatkit_encoder_free(enc);
    qatkit_decoder_free(dec);
    qatkit_codec_free(codec);
}

/* Settings are refused with QATKIT_BUSY while an encoder holds the codec; the encoder keeps the
 * codec alive after qatkit_codec_free. */
static void test_busy(void) {
    check_section("QATKIT_BUSY while an encoder holds the codec");
    qatkit_codec *codec = new_codec(QATKIT_FORMAT_ZLIB, 3);
    if (codec == NULL) {
        return;
    }
    qatkit_encoder *enc = NULL;
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    CHECK_RESULT(qatkit_codec_set_backend(codec, QATKIT_BACKEND_CPU), QATKIT_BUSY);
    CHECK_CONTAINS(check_last_error(), "encoder");
    CHECK_RESULT(qatkit_codec_set_limit(codec, 1000), QATKIT_BUSY);
    CHECK_RESULT(qatkit_codec_set_in_flight(codec, 2), QATKIT_BUSY);
    /* Bad values are still bad (the value is checked first, or BUSY: either refuses). */
    qatkit_result r = qatkit_codec_set_limit(codec, 0);
    CHECK(r == QATKIT_INVALID_INPUT || r == QATKIT_BUSY);
    /* A second encoder: still busy after the first is gone. */
    qatkit_encoder *enc2 = NULL;
    CHECK_OK(qatkit_encoder_new(codec, &enc2));
    qatkit_encoder_free(enc);
    CHECK_RESULT(qatkit_codec_set_limit(codec, 1000), QATKIT_BUSY);

    /* One-shot calls still work while busy, with the old settings (limit 1 GiB). */
    uint8_t in[5000], comp[6000], out[5000];
    check_fill(in, sizeof in, 21);
    size_t clen = 0, olen = 0;
    CHECK_OK(qatkit_compress(codec, in, sizeof in, comp, sizeof comp, &clen));
    CHECK_OK(qatkit_decompress(codec, comp, clen, out, sizeof out, &olen));
    CHECK_SIZE(olen, sizeof in);
    qatkit_encoder_free(enc2);

    /* Free again: settings change. */
    CHECK_OK(qatkit_codec_set_limit(codec, 1000));
    CHECK_RESULT(qatkit_decompress(codec, comp, clen, out, sizeof out, &olen),
                 QATKIT_LIMIT_EXCEEDED);
    CHECK_OK(qatkit_codec_set_backend(codec, QATKIT_BACKEND_CPU));
    CHECK_OK(qatkit_codec_set_in_flight(codec, 2));
    CHECK_OK(qatkit_codec_set_limit(codec, 1 << 20));

    /* The encoder outlives its codec. */
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    qatkit_codec_free(codec);
    struct buf compressed = {0};
    size_t used = 0, written = 0;
    bool done = false;
    CHECK_OK(qatkit_encoder_write(enc, in, sizeof in, comp, sizeof comp, &used, &written));
    CHECK_SIZE(used, sizeof in);
    buf_append(&compressed, comp, written);
    while (!done) {
        r = qatkit_encoder_finish(enc, comp, sizeof comp, &written, &done);
        CHECK_OK(r);
        if (r != QATKIT_OK) {
            break;
        }
        buf_append(&compressed, comp, written);
    }
    qatkit_encoder_free(enc);
    qatkit_codec *check = new_codec(QATKIT_FORMAT_ZLIB, 3);
    olen = 0;
    CHECK_OK(qatkit_decompress(check, compressed.data, compressed.len, out, sizeof out, &olen));
    CHECK(olen == sizeof in && memcmp(out, in, sizeof in) == 0);
    qatkit_codec_free(check);
    buf_free(&compressed);

    /* A decoder does not hold its codec: settings may change while it lives. */
    {
        qatkit_codec *free_codec = NULL;
        qatkit_decoder *dec = NULL;
        CHECK_RESULT(qatkit_codec_new(QATKIT_FORMAT_GZIP, 1, &free_codec), QATKIT_OK);
        CHECK_RESULT(qatkit_decoder_new(free_codec, &dec), QATKIT_OK);
        CHECK_RESULT(qatkit_codec_set_limit(free_codec, 5000), QATKIT_OK);
        qatkit_decoder_free(dec);
        qatkit_codec_free(free_codec);
    }
}

/* One byte at a time in and out, for every format: the encoder takes one input byte and
 * gives one output byte per call; the decoder likewise. */
static void test_one_byte_at_a_time(size_t f) {
    char title[80];
    snprintf(title, sizeof title, "one byte at a time (%s)", FORMAT_NAMES[f]);
    check_section(title);
    size_t n = check_big() ? 200000 : 16384;
    uint8_t *in = malloc(n);
    check_fill(in, n, (uint32_t)(60 + f));
    qatkit_codec *codec = new_codec(FORMATS[f], 1);
    if (codec == NULL) {
        free(in);
        return;
    }
    struct buf compressed = {0};
    CHECK_OK(encode(codec, in, n, 1, 1, &compressed));
    CHECK(compressed.len > 0 && compressed.len < n);

    /* The stream is what one-shot decompression reads too. */
    uint8_t *out = malloc(n);
    size_t olen = 0;
    CHECK_OK(qatkit_decompress(codec, compressed.data, compressed.len, out, n, &olen));
    CHECK(olen == n && memcmp(out, in, n) == 0);

    struct buf plain = {0};
    CHECK_OK(decode(codec, compressed.data, compressed.len, 1, 1, &plain));
    CHECK_SIZE(plain.len, n);
    CHECK(plain.len == n && memcmp(plain.data, in, n) == 0);

    /* One-shot output read one byte at a time by the decoder (in one byte, out three). */
    size_t clen = 0;
    size_t bound = qatkit_compress_bound(codec, n);
    uint8_t *comp = malloc(bound);
    CHECK_OK(qatkit_compress(codec, in, n, comp, bound, &clen));
    buf_free(&plain);
    CHECK_OK(decode(codec, comp, clen, 1, 3, &plain));
    CHECK(plain.len == n && memcmp(plain.data, in, n) == 0);

    free(comp);
    free(out);
    free(in);
    buf_free(&plain);
    buf_free(&compressed);
    qatkit_codec_free(codec);
}

/* MBs through both, in odd-sized pieces: 1 MB per format (4 MB in all) in the valgrind run,
 * 24 MB per format with QATKIT_C_TEST_BIG. */
static void test_large(size_t f, uint32_t level) {
    char title[80];
    snprintf(title, sizeof title, "large round trip (%s, level %u)", FORMAT_NAMES[f],
             (unsigned)level);
    check_section(title);
    size_t n = check_big() ? (size_t)24 << 20 : (size_t)1 << 20;
    n += 12345; /* not a multiple of anything */
    uint8_t *in = malloc(n);
    check_fill(in, n, (uint32_t)(80 + f));
    qatkit_codec *codec = new_codec(FORMATS[f], level);
    if (codec == NULL) {
        free(in);
        return;
    }
    struct buf compressed = {0};
    /* Input in pieces larger than the encoder takes at once; output in small ones. */
    CHECK_OK(encode(codec, in, n, 3 << 20, 7001, &compressed));
    CHECK(compressed.len > 0 && compressed.len < n);
    struct buf plain = {0};
    CHECK_OK(decode(codec, compressed.data, compressed.len, 65537, 100003, &plain));
    CHECK_SIZE(plain.len, n);
    CHECK(plain.len == n && memcmp(plain.data, in, n) == 0);
    if (check_big()) {
        /* The whole stream at once, into a large buffer. */
        buf_free(&plain);
        CHECK_OK(decode(codec, compressed.data, compressed.len, compressed.len, 1 << 20, &plain));
        CHECK(plain.len == n && memcmp(plain.data, in, n) == 0);
    }
    free(in);
    buf_free(&plain);
    buf_free(&compressed);
    qatkit_codec_free(codec);
}

/* Empty input: a valid empty stream, which decodes to nothing. */
static void test_empty(size_t f) {
    char title[80];
    snprintf(title, sizeof title, "empty stream (%s)", FORMAT_NAMES[f]);
    check_section(title);
    qatkit_codec *codec = new_codec(FORMATS[f], 1);
    if (codec == NULL) {
        return;
    }
    struct buf compressed = {0};
    CHECK_OK(encode(codec, NULL, 0, 1, 1, &compressed));
    CHECK(compressed.len > 0);
    size_t olen = 99;
    CHECK_OK(qatkit_decompress(codec, compressed.data, compressed.len, NULL, 0, &olen));
    CHECK_SIZE(olen, 0);
    struct buf plain = {0};
    CHECK_OK(decode(codec, compressed.data, compressed.len, 1, 1, &plain));
    CHECK_SIZE(plain.len, 0);

    /* Finishing into no room: not done until there is room. */
    qatkit_encoder *enc = NULL;
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    size_t written = 99;
    bool done = true;
    CHECK_OK(qatkit_encoder_finish(enc, NULL, 0, &written, &done));
    CHECK(written == 0 && !done);
    uint8_t out[256];
    CHECK_OK(qatkit_encoder_finish(enc, out, sizeof out, &written, &done));
    CHECK(done);
    CHECK(written == compressed.len && memcmp(out, compressed.data, written) == 0);
    /* Writing after the end is refused as the caller's mistake. */
    size_t used = 99;
    uint8_t byte = 'x';
    qatkit_result r = qatkit_encoder_write(enc, &byte, 1, out, sizeof out, &used, &written);
    CHECK_RESULT(r, QATKIT_INVALID_INPUT);
    CHECK_SIZE(used, 99);
    qatkit_encoder_free(enc);

    /* No stream at all (end of input at once) is a truncated stream. */
    buf_free(&plain);
    CHECK_RESULT(decode(codec, NULL, 0, 1, 1, &plain), QATKIT_CORRUPT_DATA);
    CHECK_SIZE(plain.len, 0);

    buf_free(&plain);
    buf_free(&compressed);
    qatkit_codec_free(codec);
}

/* Corrupt data and truncated streams (end_of_input true) give QATKIT_CORRUPT_DATA, after the
 * output before the damage. */
static void test_corrupt(size_t f) {
    char title[80];
    snprintf(title, sizeof title, "corrupt and truncated streams (%s)", FORMAT_NAMES[f]);
    check_section(title);
    const size_t n = check_big() ? 60000 : 20000;
    uint8_t *in = malloc(n);
    check_fill(in, n, (uint32_t)(90 + f));
    qatkit_codec *codec = new_codec(FORMATS[f], 1);
    if (codec == NULL) {
        free(in);
        return;
    }
    struct buf compressed = {0};
    CHECK_OK(encode(codec, in, n, 50000, 50000, &compressed));
    size_t clen = compressed.len;
    uint8_t *bad = malloc(clen);

    /* Garbage from the first byte. */
    uint8_t garbage[200];
    memset(garbage, 0xFF, sizeof garbage);
    struct buf plain = {0};
    CHECK_RESULT(decode(codec, garbage, sizeof garbage, 1, 1, &plain), QATKIT_CORRUPT_DATA);
    CHECK_SIZE(plain.len, 0);
    buf_free(&plain);
    CHECK_RESULT(decode(codec, garbage, sizeof garbage, sizeof garbage, 4096, &plain),
                 QATKIT_CORRUPT_DATA);
    CHECK_SIZE(plain.len, 0);
    CHECK_CONTAINS(check_last_error(), "corrupt");
    buf_free(&plain);

    /* A damaged header. */
    memcpy(bad, compressed.data, clen);
    if (FORMATS[f] == QATKIT_FORMAT_RAW) {
        bad[0] |= 0x06; /* block type 3 (reserved) */
    } else {
        bad[0] ^= 0xFF;
    }
    CHECK_RESULT(decode(codec, bad, clen, 4096, 4096, &plain), QATKIT_CORRUPT_DATA);
    CHECK_SIZE(plain.len, 0);
    buf_free(&plain);

    /* A damaged trailer (checksum or end mark): all output first, then the failure. */
    if (FORMATS[f] != QATKIT_FORMAT_RAW) {
        memcpy(bad, compressed.data, clen);
        bad[clen - 1] ^= 0x55;
        CHECK_RESULT(decode(codec, bad, clen, 4096, 4096, &plain), QATKIT_CORRUPT_DATA);
        CHECK(buf_is_prefix(&plain, in, n));
        buf_free(&plain);
    }

    /* Truncated: the last byte missing, and half the stream; end_of_input on the last call.
     * What comes out before the failure is a prefix of the data. */
    static const size_t steps[] = {1, 777, 1 << 20};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        CHECK_RESULT(decode(codec, compressed.data, clen - 1, steps[s], 3000, &plain),
                     QATKIT_CORRUPT_DATA);
        CHECK(buf_is_prefix(&plain, in, n));
        buf_free(&plain);
        CHECK_RESULT(decode(codec, compressed.data, clen / 2, steps[s], 3000, &plain),
                     QATKIT_CORRUPT_DATA);
        CHECK(plain.len < n && buf_is_prefix(&plain, in, n));
        if (FORMATS[f] != QATKIT_FORMAT_LZ4) {
            /* Half a deflate stream holds some of the data (LZ4's one block here does not). */
            CHECK(plain.len > 0);
        }
        buf_free(&plain);
    }

    /* Without end_of_input a truncated stream is simply not done yet: no error. */
    qatkit_decoder *dec = NULL;
    CHECK_OK(qatkit_decoder_new(codec, &dec));
    uint8_t *out = malloc(n);
    size_t pos = 0, total = 0;
    bool done = false;
    for (int calls = 0; calls < 10000; calls++) {
        size_t used = 0, written = 0;
        qatkit_result r = qatkit_decoder_read(dec, compressed.data + pos, clen / 2 - pos, false,
                                              out + total, n - total, &used, &written, &done);
        CHECK_OK(r);
        if (r != QATKIT_OK || (used == 0 && written == 0)) {
            break;
        }
        pos += used;
        total += written;
    }
    CHECK(!done);
    CHECK_SIZE(pos, clen / 2);
    CHECK(total < n && (total == 0 || memcmp(out, in, total) == 0));
    CHECK(total > 0 || FORMATS[f] == QATKIT_FORMAT_LZ4);
    /* Freed mid-stream, with its thread waiting for input. */
    qatkit_decoder_free(dec);

    free(out);
    free(bad);
    free(in);
    buf_free(&compressed);
    qatkit_codec_free(codec);
}

/* The codec's output limit applies to the decoder: output up to it, then LIMIT_EXCEEDED. */
static void test_limit(size_t f) {
    char title[80];
    snprintf(title, sizeof title, "output limit (%s)", FORMAT_NAMES[f]);
    check_section(title);
    const size_t n = 200000, limit = 70000;
    uint8_t *in = malloc(n);
    check_fill(in, n, (uint32_t)(95 + f));
    qatkit_codec *codec = new_codec(FORMATS[f], 1);
    if (codec == NULL) {
        free(in);
        return;
    }
    CHECK_OK(qatkit_codec_set_limit(codec, limit));
    struct buf compressed = {0};
    CHECK_OK(encode(codec, in, n, 10000, 10000, &compressed)); /* compressing has no limit */
    struct buf plain = {0};
    CHECK_RESULT(decode(codec, compressed.data, compressed.len, 5000, 5000, &plain),
                 QATKIT_LIMIT_EXCEEDED);
    CHECK(buf_is_prefix(&plain, in, limit));
    CHECK_CONTAINS(check_last_error(), "limit");
    buf_free(&plain);
    CHECK_RESULT(decode(codec, compressed.data, compressed.len, 97, 1000, &plain),
                 QATKIT_LIMIT_EXCEEDED);
    CHECK(buf_is_prefix(&plain, in, limit));
    buf_free(&plain);
    /* Exactly at the limit is fine. */
    qatkit_codec *exact = new_codec(FORMATS[f], 1);
    CHECK_OK(qatkit_codec_set_limit(exact, n));
    CHECK_OK(decode(exact, compressed.data, compressed.len, 5000, 5000, &plain));
    CHECK(plain.len == n && memcmp(plain.data, in, n) == 0);
    qatkit_codec_free(exact);
    buf_free(&plain);
    buf_free(&compressed);
    free(in);
    qatkit_codec_free(codec);
}

/* An encoder freed before it finished, and one freed with output still held: no leak. */
static void test_abandoned(void) {
    check_section("streams freed before the end");
    qatkit_codec *codec = new_codec(QATKIT_FORMAT_GZIP, 1);
    if (codec == NULL) {
        return;
    }
    uint8_t in[100000], out[16];
    check_fill(in, sizeof in, 99);
    qatkit_encoder *enc = NULL;
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    size_t used = 0, written = 0;
    CHECK_OK(qatkit_encoder_write(enc, in, sizeof in, out, sizeof out, &used, &written));
    CHECK(used > 0);
    qatkit_encoder_free(enc);

    qatkit_decoder *dec = NULL;
    CHECK_OK(qatkit_decoder_new(codec, &dec));
    qatkit_decoder_free(dec); /* never used */
    dec = NULL;
    CHECK_OK(qatkit_decoder_new(codec, &dec));
    /* With output still pending in it. */
    size_t clen = 0;
    uint8_t comp[110000];
    CHECK_OK(qatkit_compress(codec, in, sizeof in, comp, sizeof comp, &clen));
    bool done = false;
    CHECK_OK(qatkit_decoder_read(dec, comp, clen, true, out, sizeof out, &used, &written,
                                 &done));
    CHECK(written == sizeof out && !done && memcmp(out, in, sizeof out) == 0);
    qatkit_decoder_free(dec);
    qatkit_codec_free(codec);
}

int main(void) {
    test_null_arguments();
    test_busy();
    for (size_t f = 0; f < NFORMATS; f++) {
        test_one_byte_at_a_time(f);
    }
    for (size_t f = 0; f < NFORMATS; f++) {
        test_large(f, 1);
    }
    if (check_big()) {
        test_large(0, 6);
        test_large(3, 2);
    }
    for (size_t f = 0; f < NFORMATS; f++) {
        test_empty(f);
        test_corrupt(f);
        test_limit(f);
    }
    test_abandoned();
    return check_report();
}
