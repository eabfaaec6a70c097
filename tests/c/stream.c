/*
 * stream.c: the streaming encoder and decoder, driven the way a C program drives z_stream:
 * one byte at a time in and out for every format, several MB in larger and odd-sized pieces,
 * zero-length input, corrupt and truncated streams, the output limit, NULL arguments, settings
 * that change while streams live, zstd, an LZ4 legacy frame (QATKIT_UNSUPPORTED), and streams
 * with 4 requests in flight against 1.
 *
 * Functions covered here: qatkit_encoder_new, qatkit_encoder_free, qatkit_encoder_write,
 * qatkit_encoder_finish, qatkit_decoder_new, qatkit_decoder_free, qatkit_decoder_read (and
 * qatkit_codec_new/_free, _set_*, qatkit_compress, qatkit_decompress around them).
 *
 * QATKIT_C_TEST_BIG (set for the ASan run only) makes the large round trips bigger.
 */

#define _XOPEN_SOURCE 700

#include <dirent.h>

#include "check.h"

static const qatkit_format FORMATS[] = {QATKIT_FORMAT_GZIP, QATKIT_FORMAT_ZLIB,
                                        QATKIT_FORMAT_RAW, QATKIT_FORMAT_LZ4,
                                        QATKIT_FORMAT_ZSTD};
static const char *const FORMAT_NAMES[] = {"gzip", "zlib", "raw", "lz4", "zstd"};
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

/* Whether a format's streams are units (gzip members, LZ4 and zstd frames) that the decoder
 * reads whole before it decompresses them. */
static bool has_units(qatkit_format format) {
    return format == QATKIT_FORMAT_GZIP || format == QATKIT_FORMAT_LZ4 ||
           format == QATKIT_FORMAT_ZSTD;
}

/*
 * Compresses `in` through `enc`, `in_step` input bytes and `out_cap` output bytes per call,
 * then finishes; frees the encoder. Returns the result of the first failing call (QATKIT_OK
 * when all went well).
 */
static qatkit_result drive_encoder(qatkit_encoder *enc, const uint8_t *in, size_t len,
                                   size_t in_step, size_t out_cap, struct buf *compressed) {
    qatkit_result r = QATKIT_OK;
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

/* Compresses `in` through a new encoder of `codec`, as drive_encoder does. */
static qatkit_result encode(const qatkit_codec *codec, const uint8_t *in, size_t len,
                            size_t in_step, size_t out_cap, struct buf *compressed) {
    qatkit_encoder *enc = NULL;
    qatkit_result r = qatkit_encoder_new(codec, &enc);
    CHECK_OK(r);
    if (r != QATKIT_OK) {
        return r;
    }
    return drive_encoder(enc, in, len, in_step, out_cap, compressed);
}

/*
 * Decompresses `in` through `dec`, `in_step` input bytes and `out_cap` output bytes per call,
 * with end_of_input on the call that passes the last byte (or on an empty call when `in` is
 * empty); frees the decoder. Returns the result of the first failing call; the output before
 * it is in `plain`.
 */
static qatkit_result drive_decoder(qatkit_decoder *dec, const uint8_t *in, size_t len,
                                   size_t in_step, size_t out_cap, struct buf *plain) {
    qatkit_result r = QATKIT_OK;
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

/* Decompresses `in` through a new decoder of `codec`, as drive_decoder does. */
static qatkit_result decode(const qatkit_codec *codec, const uint8_t *in, size_t len,
                            size_t in_step, size_t out_cap, struct buf *plain) {
    qatkit_decoder *dec = NULL;
    qatkit_result r = qatkit_decoder_new(codec, &dec);
    CHECK_OK(r);
    if (r != QATKIT_OK) {
        return r;
    }
    return drive_decoder(dec, in, len, in_step, out_cap, plain);
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

/* A codec's settings change freely while encoders and decoders made from it live: each keeps the
 * settings the codec had when it was made, counts what it serves in the codec's counters (until
 * a setting makes the codec anew), and works on after the codec is freed. */
static void test_settings_while_streaming(void) {
    check_section("settings change while streams live; each stream keeps its codec's");
    uint8_t in[5000], out[5000];
    check_fill(in, sizeof in, 21);
    qatkit_codec *codec = new_codec(QATKIT_FORMAT_GZIP, 3);
    if (codec == NULL) {
        return;
    }
    CHECK_OK(qatkit_codec_set_backend(codec, QATKIT_BACKEND_CPU));

    /* Streams count in their codec's counters: the encoder's one member, then the decoder's. */
    struct buf compressed = {0}, plain = {0};
    CHECK_OK(encode(codec, in, sizeof in, 1000, 1000, &compressed));
    qatkit_served served = {0};
    CHECK_OK(qatkit_codec_served(codec, &served));
    CHECK(served.cpu == 1 && served.qat_device == 0 && served.qat_software == 0);
    CHECK_OK(decode(codec, compressed.data, compressed.len, 1000, 1000, &plain));
    CHECK(plain.len == sizeof in && memcmp(plain.data, in, sizeof in) == 0);
    CHECK_OK(qatkit_codec_served(codec, &served));
    CHECK(served.cpu == 2);
    buf_free(&plain);

    /* An encoder and a decoder made now, with the output limit at 1 GiB; then every setting
     * changes, with them alive. */
    qatkit_encoder *enc = NULL;
    qatkit_decoder *before = NULL;
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    CHECK_OK(qatkit_decoder_new(codec, &before));
    CHECK_OK(qatkit_codec_set_limit(codec, 1000));
    CHECK_OK(qatkit_codec_set_in_flight(codec, 2));
    CHECK_OK(qatkit_codec_set_backend(codec, QATKIT_BACKEND_AUTO));
    CHECK_RESULT(qatkit_codec_set_limit(codec, 0), QATKIT_INVALID_INPUT); /* still refused */
    CHECK_OK(qatkit_codec_served(codec, &served));
    CHECK(served.cpu == 0); /* a codec made anew */

    /* The decoder made before keeps the 1 GiB limit; one-shot calls and a decoder made now
     * have the new one. */
    CHECK_OK(drive_decoder(before, compressed.data, compressed.len, 777, 1000, &plain));
    CHECK(plain.len == sizeof in && memcmp(plain.data, in, sizeof in) == 0);
    buf_free(&plain);
    size_t olen = 0;
    CHECK_RESULT(qatkit_decompress(codec, compressed.data, compressed.len, out, sizeof out,
                                   &olen),
                 QATKIT_LIMIT_EXCEEDED);
    CHECK_RESULT(decode(codec, compressed.data, compressed.len, 777, 1000, &plain),
                 QATKIT_LIMIT_EXCEEDED);
    CHECK(plain.len <= 1000 && buf_is_prefix(&plain, in, sizeof in));
    buf_free(&plain);

    /* The encoder made before compresses as it would have: the same member. */
    struct buf again = {0};
    CHECK_OK(drive_encoder(enc, in, sizeof in, 1000, 1000, &again));
    CHECK(again.len == compressed.len && memcmp(again.data, compressed.data, again.len) == 0);
    buf_free(&again);

    /* An encoder and a decoder outlive their codec. */
    CHECK_OK(qatkit_codec_set_limit(codec, 1 << 20));
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    CHECK_OK(qatkit_decoder_new(codec, &before));
    qatkit_codec_free(codec);
    CHECK_OK(drive_encoder(enc, in, sizeof in, 4096, 4096, &again));
    CHECK(again.len == compressed.len && memcmp(again.data, compressed.data, again.len) == 0);
    CHECK_OK(drive_decoder(before, again.data, again.len, 4096, 4096, &plain));
    CHECK(plain.len == sizeof in && memcmp(plain.data, in, sizeof in) == 0);
    buf_free(&again);
    buf_free(&plain);
    buf_free(&compressed);
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

    /* No stream at all (end of input at once) is a truncated stream; in LZ4 an empty one, as
     * `lz4 -d` reads an empty file. */
    buf_free(&plain);
    CHECK_RESULT(decode(codec, NULL, 0, 1, 1, &plain),
                 FORMATS[f] == QATKIT_FORMAT_LZ4 ? QATKIT_OK : QATKIT_CORRUPT_DATA);
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

    /* The whole stream, then garbage: all of the stream's output first, then the failure. */
    uint8_t *tail = malloc(clen + 64);
    memcpy(tail, compressed.data, clen);
    memset(tail + clen, 0xFF, 64);
    CHECK_RESULT(decode(codec, tail, clen + 64, 4096, 4096, &plain), QATKIT_CORRUPT_DATA);
    CHECK(plain.len == n && memcmp(plain.data, in, n) == 0);
    buf_free(&plain);
    free(tail);

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
        if (!has_units(FORMATS[f])) {
            /* Half a zlib or raw deflate stream gives some of the data; half a gzip member or
             * an LZ4 or zstd frame, which the decoder reads whole, gives none. */
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
    CHECK(total > 0 || has_units(FORMATS[f])); /* a zlib or raw stream's output follows */
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

/* Streams with 4 requests in flight, on the worker threads, of 1.3 MiB (12 MiB with
 * QATKIT_C_TEST_BIG): the encoder gives
 * the bytes an encoder with 1 in flight gives (gzip, LZ4 and zstd are cut into 1 MiB units
 * either way), which for those formats is also what qatkit_compress gives with 4 in flight;
 * decoders with 4 and with 1 in flight give the same output, the input; and the codec counts
 * each unit the streams served. */
static void test_parallel_stream(size_t f) {
    char title[80];
    snprintf(title, sizeof title, "streams with 4 in flight against 1 (%s)", FORMAT_NAMES[f]);
    check_section(title);
    size_t n = check_big() ? ((size_t)12 << 20) + 12345 : ((size_t)1 << 20) + 300000;
    size_t units = (n + ((size_t)1 << 20) - 1) >> 20;
    uint8_t *in = malloc(n);
    qatkit_codec *one = new_codec(FORMATS[f], same_bytes_level(FORMATS[f]));
    qatkit_codec *four = new_codec(FORMATS[f], same_bytes_level(FORMATS[f]));
    if (in == NULL || one == NULL || four == NULL) {
        free(in);
        qatkit_codec_free(one);
        qatkit_codec_free(four);
        return;
    }
    check_fill(in, n, (uint32_t)(300 + f));
    CHECK_OK(qatkit_codec_set_backend(one, QATKIT_BACKEND_CPU));
    CHECK_OK(qatkit_codec_set_backend(four, QATKIT_BACKEND_CPU));
    CHECK_OK(qatkit_codec_set_in_flight(four, 4));

    /* The same calls to both encoders: only in_flight differs. */
    struct buf s1 = {0}, s4 = {0};
    CHECK_OK(encode(one, in, n, 100003, 65536, &s1));
    CHECK_OK(encode(four, in, n, 100003, 65536, &s4));
    CHECK(s4.len > 0 && s4.len < n);
    CHECK(s4.len == s1.len && memcmp(s4.data, s1.data, s1.len) == 0);
    qatkit_served served = {0};
    CHECK_OK(qatkit_codec_served(four, &served));
    if (has_units(FORMATS[f])) {
        CHECK_SIZE(served.cpu, units);
        size_t bound = qatkit_compress_bound(four, n), clen = 0;
        uint8_t *comp = malloc(bound);
        CHECK_OK(qatkit_compress(four, in, n, comp, bound, &clen));
        CHECK(clen == s4.len && memcmp(comp, s4.data, clen) == 0);
        free(comp);
        CHECK_OK(qatkit_codec_served(four, &served));
        CHECK_SIZE(served.cpu, 2 * units);
    }

    struct buf p4 = {0}, p1 = {0};
    CHECK_OK(decode(four, s4.data, s4.len, 65537, 100003, &p4));
    CHECK(p4.len == n && memcmp(p4.data, in, n) == 0);
    CHECK_OK(decode(one, s4.data, s4.len, 65537, 100003, &p1));
    CHECK(p1.len == p4.len && memcmp(p1.data, p4.data, p4.len) == 0);
    if (has_units(FORMATS[f])) {
        /* The decoder with 4 in flight is the codec's: it counted the units it decompressed. */
        CHECK_OK(qatkit_codec_served(four, &served));
        CHECK_SIZE(served.cpu, 3 * units);
    }
    if (check_big()) {
        /* The whole stream in one call, into a large buffer. */
        buf_free(&p4);
        CHECK_OK(decode(four, s4.data, s4.len, s4.len, 1 << 20, &p4));
        CHECK(p4.len == n && memcmp(p4.data, in, n) == 0);
    }

    buf_free(&s1);
    buf_free(&s4);
    buf_free(&p1);
    buf_free(&p4);
    free(in);
    qatkit_codec_free(one);
    qatkit_codec_free(four);
}

/* The threads of this process, from /proc/self/task (Linux); -1 when it cannot be read. */
static int count_threads(void) {
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL) {
        return -1;
    }
    int count = 0;
    const struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        count += entry->d_name[0] != '.';
    }
    closedir(dir);
    return count;
}

/* A decoder decompresses with its codec's in_flight: decoding with 3 in flight (a number no
 * other test here asks for) starts the pool of 3 worker threads, which stays when the decoder
 * is freed (its own thread does not). */
static void test_decoder_in_flight(void) {
    check_section("a decoder with 3 in flight starts 3 worker threads");
    const size_t n = (size_t)3 << 20;
    uint8_t *in = malloc(n);
    qatkit_codec *codec = new_codec(QATKIT_FORMAT_ZSTD, 1);
    if (in == NULL || codec == NULL) {
        free(in);
        qatkit_codec_free(codec);
        return;
    }
    check_fill(in, n, 333);
    struct buf compressed = {0}, plain = {0};
    CHECK_OK(encode(codec, in, n, 1 << 20, 1 << 20, &compressed));
    int before = count_threads();
    CHECK(before > 0);
    CHECK_OK(qatkit_codec_set_in_flight(codec, 3));
    CHECK_OK(decode(codec, compressed.data, compressed.len, 1 << 16, 1 << 16, &plain));
    CHECK(plain.len == n && memcmp(plain.data, in, n) == 0);
    int after = count_threads();
    if (after != before + 3) {
        printf("    %d threads before, %d after\n", before, after);
    }
    CHECK(after == before + 3);
    buf_free(&compressed);
    buf_free(&plain);
    free(in);
    qatkit_codec_free(codec);
}

/* An LZ4 legacy frame (`lz4 -l`): its magic 0x184C2102, then one block behind its size, here
 * 11 literals, "hello world". */
static const uint8_t LZ4_LEGACY[] = {
    0x02, 0x21, 0x4c, 0x18, /* magic, little-endian */
    0x0c, 0x00, 0x00, 0x00, /* the block's size: 12 */
    0xb0, 'h',  'e',  'l',  'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', /* token: 11 literals */
};

/* A legacy frame is valid LZ4 that the decoder does not read: QATKIT_UNSUPPORTED, saying so,
 * fed whole or a byte at a time, with 1 or 4 in flight, alone or after a frame it reads (whose
 * output comes first). */
static void test_lz4_legacy(void) {
    check_section("an LZ4 legacy frame through the decoder: QATKIT_UNSUPPORTED");
    qatkit_codec *codec = new_codec(QATKIT_FORMAT_LZ4, 1);
    if (codec == NULL) {
        return;
    }
    uint8_t in[1000], both[1200];
    check_fill(in, sizeof in, 44);
    size_t clen = 0;
    CHECK_OK(qatkit_compress(codec, in, sizeof in, both, sizeof both, &clen));
    CHECK(clen + sizeof LZ4_LEGACY <= sizeof both);
    memcpy(both + clen, LZ4_LEGACY, sizeof LZ4_LEGACY);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            CHECK_OK(qatkit_codec_set_in_flight(codec, 4));
        }
        struct buf plain = {0};
        CHECK_RESULT(decode(codec, LZ4_LEGACY, sizeof LZ4_LEGACY, sizeof LZ4_LEGACY, 4096,
                            &plain),
                     QATKIT_UNSUPPORTED);
        CHECK_CONTAINS(check_last_error(), "decompressing lz4: legacy frames are not supported");
        CHECK_SIZE(plain.len, 0);
        buf_free(&plain);
        CHECK_RESULT(decode(codec, LZ4_LEGACY, sizeof LZ4_LEGACY, 1, 1, &plain),
                     QATKIT_UNSUPPORTED);
        CHECK_SIZE(plain.len, 0);
        buf_free(&plain);
        CHECK_RESULT(decode(codec, both, clen + sizeof LZ4_LEGACY, 4096, 4096, &plain),
                     QATKIT_UNSUPPORTED);
        CHECK_CONTAINS(check_last_error(), "legacy frames are not supported");
        CHECK(plain.len == sizeof in && memcmp(plain.data, in, sizeof in) == 0);
        buf_free(&plain);
    }
    qatkit_codec_free(codec);
}

/* An encoder freed before it finished, and a decoder freed with output still held, with 1 and
 * with 4 in flight: no leak. */
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

    /* With 4 in flight: an encoder freed with requests on the workers, a decoder freed with
     * units on them. */
    codec = new_codec(QATKIT_FORMAT_ZSTD, 1);
    if (codec == NULL) {
        return;
    }
    CHECK_OK(qatkit_codec_set_in_flight(codec, 4));
    const size_t n = (size_t)5 << 20;
    uint8_t *big = malloc(n);
    check_fill(big, n, 98);
    struct buf compressed = {0};
    CHECK_OK(encode(codec, big, n, 1 << 20, 1 << 20, &compressed));
    CHECK_OK(qatkit_encoder_new(codec, &enc));
    CHECK_OK(qatkit_encoder_write(enc, big, n, out, sizeof out, &used, &written));
    CHECK(used > 0);
    qatkit_encoder_free(enc);
    CHECK_OK(qatkit_decoder_new(codec, &dec));
    CHECK_OK(qatkit_decoder_read(dec, compressed.data, compressed.len, true, out, sizeof out,
                                 &used, &written, &done));
    CHECK(written == sizeof out && !done && memcmp(out, big, sizeof out) == 0);
    qatkit_decoder_free(dec);
    buf_free(&compressed);
    free(big);
    qatkit_codec_free(codec);
}

int main(void) {
    test_null_arguments();
    test_settings_while_streaming();
    for (size_t f = 0; f < NFORMATS; f++) {
        test_one_byte_at_a_time(f);
    }
    for (size_t f = 0; f < NFORMATS; f++) {
        test_large(f, 1);
    }
    if (check_big()) {
        test_large(0, 6);
        test_large(3, 2);
        test_large(4, 0);
    }
    for (size_t f = 0; f < NFORMATS; f++) {
        test_empty(f);
        test_corrupt(f);
        test_limit(f);
    }
    test_lz4_legacy();
    test_decoder_in_flight(); /* before anything asks for 3 in flight */
    for (size_t f = 0; f < NFORMATS; f++) {
        test_parallel_stream(f);
    }
    test_abandoned();
    return check_report();
}
