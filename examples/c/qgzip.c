/*
 * qgzip: a gzip-compatible compressor and decompressor on qatkit's streaming API.
 *
 *     qgzip [-d] [-1..-9] [-f gzip|zlib|raw|lz4|zstd] [FILE]
 *
 * Reads FILE (or standard input when there is none, or it is "-") and writes the result to
 * standard output, as `gzip -c` does. -d decompresses; -1 (fastest) to -9 (best) choose the
 * level (default 6; LZ4 takes 0-2 and defaults to 1); -f chooses the format (default gzip).
 * -c is accepted and ignored: the output is always standard output.
 *
 * The data streams through two fixed buffers (64 KiB in, 64 KiB out) and one qatkit encoder
 * or decoder, so memory stays small whatever the size of the file. gzip output is a series of
 * gzip members (qatkit compresses a request at a time), which `gzip -d` reads as one stream;
 * decompression reads any gzip stream, multi-member ones included.
 *
 * Exit status: 0 done; 1 failed, after one line `qgzip: MESSAGE` on standard error; 2 bad
 * usage (nothing was read or written).
 *
 * Build (C11):
 *     cc -std=c11 -Wall -Wextra -Werror -O2 -Iinclude examples/c/qgzip.c \
 *         target/debug/libqatkit.a -lpthread -ldl -lm -o qgzip
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qatkit.h"

/* The two buffers the data goes through; static, so the program allocates nothing for them. */
enum { IN_SIZE = 64 * 1024, OUT_SIZE = 64 * 1024 };
static uint8_t in_buf[IN_SIZE];
static uint8_t out_buf[OUT_SIZE];

/* What a run failed with: the exit status, 0 when it did not. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *to) {
    fputs("usage: qgzip [-d] [-1..-9] [-f gzip|zlib|raw|lz4|zstd] [FILE]\n"
          "  -d         decompress\n"
          "  -1 .. -9   compression level (default 6; lz4: 0-2, default 1)\n"
          "  -f FORMAT  gzip (default), zlib, raw, lz4 or zstd\n"
          "Reads FILE (or standard input) and writes standard output.\n",
          to);
}

/*
 * Prints `qgzip: MESSAGE` with the message of this thread's last failed qatkit call, or the
 * short text of `result` when there is none; returns EXIT_FAILED.
 */
static int fail_qatkit(qatkit_result result) {
    char small[512];
    size_t len = 0;
    qatkit_result got = qatkit_last_error(small, sizeof small, &len);
    if (got == QATKIT_OK && len > 0) {
        fprintf(stderr, "qgzip: %s\n", small);
    } else if (got == QATKIT_BUFFER_TOO_SMALL) {
        /* A long message (a long path, a chain of causes): `len` is the size it needs. */
        char *big = malloc(len);
        if (big != NULL && qatkit_last_error(big, len, &len) == QATKIT_OK) {
            fprintf(stderr, "qgzip: %s\n", big);
        } else {
            fprintf(stderr, "qgzip: %s\n", qatkit_result_text(result));
        }
        free(big);
    } else {
        fprintf(stderr, "qgzip: %s\n", qatkit_result_text(result));
    }
    return EXIT_FAILED;
}

/* Prints `qgzip: WHAT: MESSAGE` (a message of its own, or errno's); returns EXIT_FAILED. */
static int fail(const char *what, const char *message) {
    fprintf(stderr, "qgzip: %s: %s\n", what, message != NULL ? message : strerror(errno));
    return EXIT_FAILED;
}

/* Writes `len` bytes of `out_buf` to `out`; false (errno set by stdio) when it could not. */
static bool put_output(FILE *out, size_t len) {
    return len == 0 || fwrite(out_buf, 1, len, out) == len;
}

/*
 * Fills `in_buf` from `in`: the count read goes to `len`, and `eof` is set once the input has
 * ended. False on a read error.
 */
static bool get_input(FILE *in, size_t *len, bool *eof) {
    *len = fread(in_buf, 1, IN_SIZE, in);
    if (*len < IN_SIZE) {
        if (ferror(in)) {
            return false;
        }
        *eof = true;
    }
    return true;
}

/* Compresses `in` to `out` with `codec`. Returns the exit status. */
static int compress_stream(const qatkit_codec *codec, FILE *in, const char *in_name, FILE *out) {
    qatkit_encoder *encoder = NULL;
    qatkit_result result = qatkit_encoder_new(codec, &encoder);
    if (result != QATKIT_OK) {
        return fail_qatkit(result);
    }
    int status = EXIT_OK;
    bool eof = false;
    while (status == EXIT_OK && !eof) {
        size_t len = 0;
        if (!get_input(in, &len, &eof)) {
            status = fail(in_name, NULL);
            break;
        }
        /* The encoder takes what it can hold and gives what fits in out_buf: call it until it
         * has taken the whole buffer, writing out what it gives each time. */
        size_t pos = 0;
        while (pos < len) {
            size_t used = 0, written = 0;
            result = qatkit_encoder_write(encoder, in_buf + pos, len - pos, out_buf, OUT_SIZE,
                                          &used, &written);
            if (result != QATKIT_OK) {
                status = fail_qatkit(result);
                break;
            }
            if (!put_output(out, written)) {
                status = fail("standard output", NULL);
                break;
            }
            if (used == 0 && written == 0) {
                /* Never expected: an encoder with room for output always makes progress. */
                status = fail("compressing", "the encoder took no input and gave no output");
                break;
            }
            pos += used;
        }
    }
    /* End the stream: the rest of the output, a buffer at a time, until done. */
    bool done = false;
    while (status == EXIT_OK && !done) {
        size_t written = 0;
        result = qatkit_encoder_finish(encoder, out_buf, OUT_SIZE, &written, &done);
        if (result != QATKIT_OK) {
            status = fail_qatkit(result);
        } else if (!put_output(out, written)) {
            status = fail("standard output", NULL);
        }
    }
    qatkit_encoder_free(encoder);
    return status;
}

/* Decompresses `in` to `out` with `codec`. Returns the exit status. */
static int decompress_stream(const qatkit_codec *codec, FILE *in, const char *in_name,
                             FILE *out) {
    qatkit_decoder *decoder = NULL;
    qatkit_result result = qatkit_decoder_new(codec, &decoder);
    if (result != QATKIT_OK) {
        return fail_qatkit(result);
    }
    int status = EXIT_OK;
    size_t len = 0, pos = 0; /* in_buf[pos..len] is input the decoder has not taken yet */
    bool eof = false, done = false;
    while (status == EXIT_OK && !done) {
        if (pos == len && !eof) {
            pos = 0;
            if (!get_input(in, &len, &eof)) {
                status = fail(in_name, NULL);
                break;
            }
        }
        /* The decoder takes all the input unless out_buf fills first; the rest goes again.
         * end_of_input tells it that nothing follows what it is given now. */
        size_t used = 0, written = 0;
        result = qatkit_decoder_read(decoder, in_buf + pos, len - pos, eof, out_buf, OUT_SIZE,
                                     &used, &written, &done);
        if (result != QATKIT_OK) {
            /* Corrupt or truncated input: the output before the fault was already written. */
            status = fail_qatkit(result);
            break;
        }
        if (!put_output(out, written)) {
            status = fail("standard output", NULL);
            break;
        }
        pos += used;
        if (!done && used == 0 && written == 0 && (pos < len || eof)) {
            /* Never expected: with input (or its end) to give and room for output, the decoder
             * always makes progress or ends. */
            status = fail("decompressing", "the decoder took no input and gave no output");
        }
    }
    if (status == EXIT_OK && pos < len) {
        /* Never expected either: the stream ends only once all its input was taken. */
        status = fail(in_name, "the decoder ended before its input did");
    }
    qatkit_decoder_free(decoder);
    return status;
}

/* The format named `name`; false when there is none of that name. */
static bool parse_format(const char *name, qatkit_format *format) {
    static const struct {
        const char *name;
        qatkit_format format;
    } formats[] = {
        {"gzip", QATKIT_FORMAT_GZIP},
        {"zlib", QATKIT_FORMAT_ZLIB},
        {"raw", QATKIT_FORMAT_RAW},
        {"lz4", QATKIT_FORMAT_LZ4},
        {"zstd", QATKIT_FORMAT_ZSTD},
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(name, formats[i].name) == 0) {
            *format = formats[i].format;
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv) {
    bool decompress = false;
    int level = -1; /* -1: the format's default */
    qatkit_format format = QATKIT_FORMAT_GZIP;
    const char *path = NULL;

    /* Options may be grouped (-d9; -flz4 is -f lz4); "--" ends them; "-" is stdin. */
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options && strcmp(arg, "--") == 0) {
            options = false;
            continue;
        }
        if (options && strcmp(arg, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!options || arg[0] != '-' || arg[1] == '\0') {
            if (path != NULL) {
                fprintf(stderr, "qgzip: one FILE at most\n");
                usage(stderr);
                return EXIT_USAGE;
            }
            path = arg;
            continue;
        }
        for (const char *c = arg + 1; *c != '\0'; c++) {
            if (*c == 'd') {
                decompress = true;
            } else if (*c == 'c') {
                /* gzip's "to stdout": always so here. */
            } else if (*c == 'h') {
                usage(stdout);
                return EXIT_OK;
            } else if (*c >= '0' && *c <= '9') {
                level = *c - '0';
            } else if (*c == 'f') {
                /* The format is the rest of this argument, or the next one. */
                const char *name = c[1] != '\0' ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (name == NULL || !parse_format(name, &format)) {
                    fprintf(stderr, "qgzip: -f takes gzip, zlib, raw, lz4 or zstd\n");
                    usage(stderr);
                    return EXIT_USAGE;
                }
                break;
            } else {
                fprintf(stderr, "qgzip: unknown option -%c\n", *c);
                usage(stderr);
                return EXIT_USAGE;
            }
        }
    }
    if (level < 0) {
        level = format == QATKIT_FORMAT_LZ4 ? 1 : 6;
    }

    /* The codec: a level it does not take (e.g. -9 for lz4) is a usage error. */
    qatkit_codec *codec = NULL;
    qatkit_result result = qatkit_codec_new(format, (uint32_t)level, &codec);
    if (result != QATKIT_OK) {
        fail_qatkit(result);
        return EXIT_USAGE;
    }
    /* Like gzip, no limit on how much a stream may decompress to (qatkit's default: 1 GiB). */
    result = qatkit_codec_set_limit(codec, SIZE_MAX);
    if (result != QATKIT_OK) {
        int status = fail_qatkit(result);
        qatkit_codec_free(codec);
        return status;
    }

    FILE *in = stdin;
    const char *in_name = "standard input";
    if (path != NULL && strcmp(path, "-") != 0) {
        in = fopen(path, "rb");
        if (in == NULL) {
            int status = fail(path, NULL);
            qatkit_codec_free(codec);
            return status;
        }
        in_name = path;
    }

    int status = decompress ? decompress_stream(codec, in, in_name, stdout)
                            : compress_stream(codec, in, in_name, stdout);

    /* Output still in stdio's buffer can fail to go out too. */
    if (fflush(stdout) != 0 && status == EXIT_OK) {
        status = fail("standard output", NULL);
    }
    if (in != stdin) {
        fclose(in);
    }
    qatkit_codec_free(codec);
    return status;
}
