/*
 * asym.c: RSA, ECDSA and ECDH through the C ABI, with the keys qat-crypto's tests use
 * (test_keys.h, written by tests/c.rs from qat-crypto/tests/data): keys from every encoding
 * and bad DER refused with a message, RSA signatures of every scheme and ECDSA on P-256 and
 * P-384 with tampering (QATKIT_CORRUPT_DATA), OAEP round trips and a wrong label, X25519,
 * P-256 and P-384 agreement from both sides, the sizes needed (QATKIT_BUFFER_TOO_SMALL),
 * batches with one bad request, bad parameters, the served counters, and threads sharing keys.
 *
 * Functions covered here: qatkit_rsa_private_key_new, qatkit_rsa_private_key_free,
 * qatkit_rsa_private_key_set_in_flight, qatkit_rsa_private_key_modulus_len,
 * qatkit_rsa_private_key_public_key, qatkit_rsa_private_key_served, qatkit_rsa_public_key_new,
 * qatkit_rsa_public_key_free, qatkit_rsa_public_key_set_in_flight,
 * qatkit_rsa_public_key_modulus_len, qatkit_rsa_public_key_spki, qatkit_rsa_public_key_served,
 * qatkit_rsa_sign, qatkit_rsa_verify, qatkit_rsa_encrypt, qatkit_rsa_decrypt,
 * qatkit_rsa_sign_batch, qatkit_rsa_verify_batch, qatkit_rsa_decrypt_batch,
 * qatkit_ecdsa_signing_key_new, qatkit_ecdsa_signing_key_free,
 * qatkit_ecdsa_signing_key_set_in_flight, qatkit_ecdsa_signing_key_alg,
 * qatkit_ecdsa_signing_key_verifying_key, qatkit_ecdsa_signing_key_served,
 * qatkit_ecdsa_verifying_key_new, qatkit_ecdsa_verifying_key_free,
 * qatkit_ecdsa_verifying_key_set_in_flight, qatkit_ecdsa_verifying_key_alg,
 * qatkit_ecdsa_verifying_key_point, qatkit_ecdsa_verifying_key_served, qatkit_ecdsa_sign,
 * qatkit_ecdsa_verify, qatkit_ecdsa_sign_batch, qatkit_ecdsa_verify_batch,
 * qatkit_ecdh_key_generate, qatkit_ecdh_key_new, qatkit_ecdh_key_new_raw, qatkit_ecdh_key_free,
 * qatkit_ecdh_key_set_in_flight, qatkit_ecdh_key_alg, qatkit_ecdh_key_public_key,
 * qatkit_ecdh_key_served, qatkit_ecdh_agree, qatkit_ecdh_agree_batch.
 */

#define _XOPEN_SOURCE 700

#include <pthread.h>

#include "check.h"
#include "test_keys.h"

#define B(s) ((const uint8_t *)(s))

static const uint8_t MSG[] = "CertificateVerify: the transcript hash goes here";
static const uint8_t LABEL[] = "tls13 label";

/* The bytes of qat-crypto/tests/data/`name`, and their length in `len`. */
static const uint8_t *key_file(const char *name, size_t *len) {
    for (size_t i = 0; i < TEST_KEYS_COUNT; i++) {
        if (strcmp(TEST_KEYS[i].name, name) == 0) {
            *len = TEST_KEYS[i].len;
            return B(TEST_KEYS[i].der);
        }
    }
    printf("    no key file %s\n", name);
    CHECK(false);
    *len = 0;
    return NULL;
}

static qatkit_rsa_private_key *rsa_private(const char *name, qatkit_key_format format) {
    size_t len = 0;
    const uint8_t *der = key_file(name, &len);
    qatkit_rsa_private_key *key = NULL;
    CHECK_OK(qatkit_rsa_private_key_new(format, der, len, QATKIT_BACKEND_CPU, &key));
    return key;
}

static qatkit_rsa_public_key *rsa_public(const char *name, qatkit_key_format format) {
    size_t len = 0;
    const uint8_t *der = key_file(name, &len);
    qatkit_rsa_public_key *key = NULL;
    CHECK_OK(qatkit_rsa_public_key_new(format, der, len, QATKIT_BACKEND_AUTO, &key));
    return key;
}

static qatkit_ecdsa_signing_key *ecdsa_signing(const char *name, qatkit_key_format format) {
    size_t len = 0;
    const uint8_t *der = key_file(name, &len);
    qatkit_ecdsa_signing_key *key = NULL;
    CHECK_OK(qatkit_ecdsa_signing_key_new(format, der, len, QATKIT_BACKEND_CPU, &key));
    return key;
}

static qatkit_ecdh_key *ecdh_generated(qatkit_ecdh_alg alg) {
    qatkit_ecdh_key *key = NULL;
    CHECK_OK(qatkit_ecdh_key_generate(alg, QATKIT_BACKEND_AUTO, &key));
    return key;
}

/* ------------------------------------------------------------------------------------------ */

static void test_rsa_signatures(void) {
    check_section("rsa: keys from PKCS#8, PKCS#1 and SPKI; every scheme signed and verified");
    qatkit_rsa_private_key *pk8 = rsa_private("rsa2048.pk8", QATKIT_KEY_PKCS8);
    qatkit_rsa_private_key *pkcs1 = rsa_private("rsa2048.pkcs1.der", QATKIT_KEY_PKCS1);
    qatkit_rsa_public_key *spki = rsa_public("rsa2048.spki.der", QATKIT_KEY_SPKI);
    qatkit_rsa_public_key *derived = NULL;
    if (pk8 == NULL || pkcs1 == NULL || spki == NULL) {
        goto out;
    }
    CHECK_SIZE(qatkit_rsa_private_key_modulus_len(pk8), 256);
    CHECK_SIZE(qatkit_rsa_public_key_modulus_len(spki), 256);
    CHECK_OK(qatkit_rsa_private_key_public_key(pk8, &derived));
    if (derived == NULL) {
        goto out;
    }
    /* The public half is the SPKI file's key, byte for byte. */
    size_t spki_len = 0;
    const uint8_t *spki_der = key_file("rsa2048.spki.der", &spki_len);
    uint8_t exported[600];
    size_t exported_len = 0;
    CHECK_OK(qatkit_rsa_public_key_spki(derived, exported, sizeof exported, &exported_len));
    CHECK_SIZE(exported_len, spki_len);
    CHECK(memcmp(exported, spki_der, spki_len) == 0);
    exported_len = 0;
    CHECK_RESULT(qatkit_rsa_public_key_spki(spki, NULL, 0, &exported_len),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(exported_len, spki_len);

    static const qatkit_rsa_scheme schemes[] = {
        QATKIT_RSA_PKCS1_SHA256, QATKIT_RSA_PKCS1_SHA384, QATKIT_RSA_PKCS1_SHA512,
        QATKIT_RSA_PSS_SHA256,   QATKIT_RSA_PSS_SHA384,   QATKIT_RSA_PSS_SHA512,
    };
    for (size_t s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
        uint8_t sig[QATKIT_RSA_MAX_MODULUS_LEN], sig2[256];
        size_t sig_len = 0, sig2_len = 0;
        CHECK_OK(qatkit_rsa_sign(pk8, schemes[s], MSG, sizeof MSG, sig, sizeof sig, &sig_len));
        CHECK_SIZE(sig_len, 256);
        CHECK_OK(qatkit_rsa_verify(spki, schemes[s], MSG, sizeof MSG, sig, sig_len));
        CHECK_OK(qatkit_rsa_verify(derived, schemes[s], MSG, sizeof MSG, sig, sig_len));
        /* The PKCS#1 file holds the same key; exactly the modulus is room enough. */
        CHECK_OK(qatkit_rsa_sign(pkcs1, schemes[s], MSG, sizeof MSG, sig2, 256, &sig2_len));
        CHECK_OK(qatkit_rsa_verify(spki, schemes[s], MSG, sizeof MSG, sig2, sig2_len));
        bool pss = schemes[s] >= QATKIT_RSA_PSS_SHA256;
        CHECK(pss == (memcmp(sig, sig2, 256) != 0)); /* PKCS#1 v1.5 is deterministic */
        /* A tampered message, a tampered signature, another scheme. */
        CHECK_RESULT(qatkit_rsa_verify(spki, schemes[s], MSG, sizeof MSG - 1, sig, sig_len),
                     QATKIT_CORRUPT_DATA);
        CHECK_CONTAINS(check_last_error(), "the signature does not verify");
        sig[100] ^= 0x10;
        CHECK_RESULT(qatkit_rsa_verify(spki, schemes[s], MSG, sizeof MSG, sig, sig_len),
                     QATKIT_CORRUPT_DATA);
        sig[100] ^= 0x10;
        qatkit_rsa_scheme other = schemes[(s + 1) % 6];
        CHECK_RESULT(qatkit_rsa_verify(spki, other, MSG, sizeof MSG, sig, sig_len),
                     QATKIT_CORRUPT_DATA);
        CHECK_RESULT(qatkit_rsa_verify(spki, schemes[s], MSG, sizeof MSG, sig, sig_len - 1),
                     QATKIT_CORRUPT_DATA);
    }

    /* PSS-SHA256 of an empty message (NULL with 0). */
    uint8_t sig[256];
    size_t sig_len = 0;
    CHECK_OK(qatkit_rsa_sign(pk8, QATKIT_RSA_PSS_SHA256, NULL, 0, sig, sizeof sig, &sig_len));
    CHECK_OK(qatkit_rsa_verify(spki, QATKIT_RSA_PSS_SHA256, NULL, 0, sig, sig_len));
    CHECK_RESULT(qatkit_rsa_verify(spki, QATKIT_RSA_PSS_SHA256, MSG, 1, sig, sig_len),
                 QATKIT_CORRUPT_DATA);

    /* Too small: the modulus length, nothing signed. */
    uint8_t small[255];
    memset(small, 0xa5, sizeof small);
    sig_len = 0;
    CHECK_RESULT(qatkit_rsa_sign(pk8, QATKIT_RSA_PSS_SHA256, MSG, sizeof MSG, small,
                                 sizeof small, &sig_len),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(sig_len, 256);
    CHECK(small[0] == 0xa5 && small[254] == 0xa5);
    sig_len = 0;
    CHECK_RESULT(qatkit_rsa_sign(pk8, QATKIT_RSA_PSS_SHA256, MSG, sizeof MSG, NULL, 0, &sig_len),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(sig_len, 256);

    qatkit_served served;
    CHECK_OK(qatkit_rsa_private_key_served(pk8, &served));
    CHECK(served.cpu == 7 && served.qat_device == 0 && served.qat_software == 0);
    CHECK_OK(qatkit_rsa_public_key_served(spki, &served));
    CHECK(served.cpu == 13); /* both files' signatures, the empty message's; not the failures */
    CHECK_OK(qatkit_rsa_public_key_served(derived, &served));
    CHECK(served.cpu == 6);

out:
    qatkit_rsa_public_key_free(derived);
    qatkit_rsa_public_key_free(spki);
    qatkit_rsa_private_key_free(pkcs1);
    qatkit_rsa_private_key_free(pk8);
}

static void test_rsa_oaep(void) {
    check_section("rsa: OAEP round trips, a wrong label, tampering, the sizes needed");
    qatkit_rsa_private_key *key = rsa_private("rsa2048.pk8", QATKIT_KEY_PKCS8);
    qatkit_rsa_public_key *pub = NULL;
    size_t len = 0;
    const uint8_t *pkcs1 = key_file("rsa2048.pkcs1.der", &len);
    CHECK_RESULT(qatkit_rsa_public_key_new(QATKIT_KEY_PKCS1, pkcs1, len, QATKIT_BACKEND_CPU,
                                           &pub),
                 QATKIT_INVALID_INPUT); /* a private key's PKCS#1 is not a public key's */
    CHECK(pub == NULL);
    pub = rsa_public("rsa2048.spki.der", QATKIT_KEY_SPKI);
    if (key == NULL || pub == NULL) {
        goto out;
    }
    static const qatkit_rsa_oaep variants[] = {QATKIT_RSA_OAEP_SHA256, QATKIT_RSA_OAEP_SHA384,
                                               QATKIT_RSA_OAEP_SHA512};
    static const size_t max_plain[] = {256 - 66, 256 - 98, 256 - 130};
    for (size_t v = 0; v < 3; v++) {
        uint8_t plain[256], ct[256], out[256];
        size_t ct_len = 0, out_len = 0;
        check_fill(plain, sizeof plain, (uint32_t)v);
        /* The longest plaintext, with a label. */
        CHECK_OK(qatkit_rsa_encrypt(pub, variants[v], plain, max_plain[v], LABEL, sizeof LABEL,
                                    ct, sizeof ct, &ct_len));
        CHECK_SIZE(ct_len, 256);
        CHECK_OK(qatkit_rsa_decrypt(key, variants[v], ct, ct_len, LABEL, sizeof LABEL, out,
                                    sizeof out, &out_len));
        CHECK_SIZE(out_len, max_plain[v]);
        CHECK(memcmp(out, plain, max_plain[v]) == 0);
        /* A wrong label, no label, another digest, a flipped bit: one answer, nothing written. */
        out_len = 777;
        memset(out, 0x5a, sizeof out);
        CHECK_RESULT(qatkit_rsa_decrypt(key, variants[v], ct, ct_len, LABEL, sizeof LABEL - 1,
                                        out, sizeof out, &out_len),
                     QATKIT_CORRUPT_DATA);
        CHECK_CONTAINS(check_last_error(), "does not decrypt with this key and label");
        CHECK_RESULT(qatkit_rsa_decrypt(key, variants[v], ct, ct_len, NULL, 0, out, sizeof out,
                                        &out_len),
                     QATKIT_CORRUPT_DATA);
        CHECK_RESULT(qatkit_rsa_decrypt(key, variants[(v + 1) % 3], ct, ct_len, LABEL,
                                        sizeof LABEL, out, sizeof out, &out_len),
                     QATKIT_CORRUPT_DATA);
        ct[17] ^= 1;
        CHECK_RESULT(qatkit_rsa_decrypt(key, variants[v], ct, ct_len, LABEL, sizeof LABEL, out,
                                        sizeof out, &out_len),
                     QATKIT_CORRUPT_DATA);
        CHECK_SIZE(out_len, 777);
        CHECK(out[0] == 0x5a && out[255] == 0x5a);
        /* One byte too long to encrypt. */
        CHECK_RESULT(qatkit_rsa_encrypt(pub, variants[v], plain, max_plain[v] + 1, NULL, 0, ct,
                                        sizeof ct, &ct_len),
                     QATKIT_INVALID_INPUT);
    }

    /* Empty plaintext and label; the sizes needed. */
    uint8_t ct[256], out[64];
    size_t ct_len = 0, out_len = 0;
    CHECK_OK(qatkit_rsa_encrypt(pub, QATKIT_RSA_OAEP_SHA256, NULL, 0, NULL, 0, ct, sizeof ct,
                                &ct_len));
    CHECK_OK(qatkit_rsa_decrypt(key, QATKIT_RSA_OAEP_SHA256, ct, ct_len, NULL, 0, NULL, 0,
                                &out_len));
    CHECK_SIZE(out_len, 0);
    CHECK_OK(qatkit_rsa_encrypt(pub, QATKIT_RSA_OAEP_SHA256, B("premaster secret"), 16, NULL, 0,
                                ct, sizeof ct, &ct_len));
    CHECK_RESULT(qatkit_rsa_encrypt(pub, QATKIT_RSA_OAEP_SHA256, B("x"), 1, NULL, 0, out,
                                    sizeof out, &ct_len),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(ct_len, 256);
    out_len = 0;
    memset(out, 0, sizeof out);
    CHECK_RESULT(qatkit_rsa_decrypt(key, QATKIT_RSA_OAEP_SHA256, ct, 256, NULL, 0, out, 15,
                                    &out_len),
                 QATKIT_BUFFER_TOO_SMALL);
    CHECK_SIZE(out_len, 16);
    CHECK(out[0] == 0); /* nothing written */
    CHECK_OK(qatkit_rsa_decrypt(key, QATKIT_RSA_OAEP_SHA256, ct, 256, NULL, 0, out, 16, &out_len));
    CHECK(out_len == 16 && memcmp(out, "premaster secret", 16) == 0);
    /* A ciphertext of another length. */
    CHECK_RESULT(qatkit_rsa_decrypt(key, QATKIT_RSA_OAEP_SHA256, ct, 255, NULL, 0, out,
                                    sizeof out, &out_len),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "the ciphertext is 255 bytes, not the key's 256");

out:
    qatkit_rsa_public_key_free(pub);
    qatkit_rsa_private_key_free(key);
}

/* ------------------------------------------------------------------------------------------ */

static void test_ecdsa(void) {
    check_section("ecdsa: P-256 and P-384 keys from PKCS#8, SEC 1, SPKI and points; tampering");
    static const struct {
        const char *pk8, *sec1, *spki;
        qatkit_ecdsa_alg alg;
        size_t max_sig, point_len;
    } curves[] = {
        {"p256.pk8", "p256.sec1.der", "p256.spki.der", QATKIT_ECDSA_P256_SHA256, 72, 65},
        {"p384.pk8", "p384.sec1.der", NULL, QATKIT_ECDSA_P384_SHA384, 104, 97},
    };
    for (size_t c = 0; c < 2; c++) {
        qatkit_ecdsa_signing_key *key = ecdsa_signing(curves[c].pk8, QATKIT_KEY_PKCS8);
        qatkit_ecdsa_signing_key *sec1 = ecdsa_signing(curves[c].sec1, QATKIT_KEY_SEC1);
        qatkit_ecdsa_verifying_key *derived = NULL, *from_point = NULL, *from_spki = NULL;
        if (key == NULL || sec1 == NULL) {
            goto next;
        }
        CHECK(qatkit_ecdsa_signing_key_alg(key) == curves[c].alg);
        CHECK_OK(qatkit_ecdsa_signing_key_verifying_key(key, &derived));
        if (derived == NULL) {
            goto next;
        }
        CHECK(qatkit_ecdsa_verifying_key_alg(derived) == curves[c].alg);
        uint8_t point[QATKIT_EC_MAX_POINT_LEN];
        size_t point_len = 0;
        CHECK_OK(qatkit_ecdsa_verifying_key_point(derived, point, sizeof point, &point_len));
        CHECK_SIZE(point_len, curves[c].point_len);
        CHECK(point[0] == 0x04);
        CHECK_OK(qatkit_ecdsa_verifying_key_new(QATKIT_KEY_SEC1_POINT, point, point_len,
                                                QATKIT_BACKEND_CPU, &from_point));
        if (curves[c].spki != NULL) {
            size_t len = 0;
            const uint8_t *der = key_file(curves[c].spki, &len);
            CHECK_OK(qatkit_ecdsa_verifying_key_new(QATKIT_KEY_SPKI, der, len,
                                                    QATKIT_BACKEND_AUTO, &from_spki));
            uint8_t again[QATKIT_EC_MAX_POINT_LEN];
            size_t again_len = 0;
            CHECK_OK(qatkit_ecdsa_verifying_key_point(from_spki, again, sizeof again,
                                                      &again_len));
            CHECK(again_len == point_len && memcmp(again, point, point_len) == 0);
        }
        const qatkit_ecdsa_verifying_key *verifiers[] = {derived, from_point, from_spki};

        uint8_t sig[QATKIT_ECDSA_MAX_SIGNATURE_LEN];
        size_t sig_len = 0;
        CHECK_OK(qatkit_ecdsa_sign(key, MSG, sizeof MSG, sig, sizeof sig, &sig_len));
        CHECK(sig_len > 8 && sig_len <= curves[c].max_sig);
        CHECK(sig[0] == 0x30); /* a DER SEQUENCE */
        for (size_t v = 0; v < 3; v++) {
            if (verifiers[v] == NULL) {
                continue;
            }
            CHECK_OK(qatkit_ecdsa_verify(verifiers[v], MSG, sizeof MSG, sig, sig_len));
            CHECK_RESULT(qatkit_ecdsa_verify(verifiers[v], MSG, sizeof MSG - 1, sig, sig_len),
                         QATKIT_CORRUPT_DATA);
        }
        CHECK_CONTAINS(check_last_error(), "the signature does not verify");
        /* The SEC 1 file's key signs for the same public key. */
        uint8_t sig2[QATKIT_ECDSA_MAX_SIGNATURE_LEN];
        size_t sig2_len = 0;
        CHECK_OK(qatkit_ecdsa_sign(sec1, MSG, sizeof MSG, sig2, curves[c].max_sig, &sig2_len));
        CHECK_OK(qatkit_ecdsa_verify(derived, MSG, sizeof MSG, sig2, sig2_len));
        CHECK(sig_len != sig2_len || memcmp(sig, sig2, sig_len) != 0); /* randomised */
        /* Tampered signatures: a flipped bit, cut short, not DER at all. */
        sig[sig_len - 1] ^= 0x01;
        CHECK_RESULT(qatkit_ecdsa_verify(derived, MSG, sizeof MSG, sig, sig_len),
                     QATKIT_CORRUPT_DATA);
        sig[sig_len - 1] ^= 0x01;
        CHECK_RESULT(qatkit_ecdsa_verify(derived, MSG, sizeof MSG, sig, sig_len - 1),
                     QATKIT_CORRUPT_DATA);
        CHECK_RESULT(qatkit_ecdsa_verify(derived, MSG, sizeof MSG, MSG, 8), QATKIT_CORRUPT_DATA);
        CHECK_RESULT(qatkit_ecdsa_verify(derived, MSG, sizeof MSG, NULL, 0), QATKIT_CORRUPT_DATA);
        CHECK_OK(qatkit_ecdsa_verify(derived, MSG, sizeof MSG, sig, sig_len));
        /* Too small: the longest signature's length, nothing signed. */
        sig_len = 0;
        CHECK_RESULT(qatkit_ecdsa_sign(key, MSG, sizeof MSG, sig, curves[c].max_sig - 1,
                                       &sig_len),
                     QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(sig_len, curves[c].max_sig);
        point_len = 0;
        CHECK_RESULT(qatkit_ecdsa_verifying_key_point(derived, point, 64, &point_len),
                     QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(point_len, curves[c].point_len);

        qatkit_served served;
        CHECK_OK(qatkit_ecdsa_signing_key_served(key, &served));
        CHECK(served.cpu == 1 && served.qat_device == 0);
        CHECK_OK(qatkit_ecdsa_verifying_key_served(derived, &served));
        CHECK(served.cpu == 3);
    next:
        qatkit_ecdsa_verifying_key_free(from_spki);
        qatkit_ecdsa_verifying_key_free(from_point);
        qatkit_ecdsa_verifying_key_free(derived);
        qatkit_ecdsa_signing_key_free(sec1);
        qatkit_ecdsa_signing_key_free(key);
    }
}

/* ------------------------------------------------------------------------------------------ */

/* `a` and `b` agree on one secret of `want` bytes, each from the other's public key. */
static void agree_both_ways(const qatkit_ecdh_key *a, const qatkit_ecdh_key *b, size_t want) {
    uint8_t pa[QATKIT_EC_MAX_POINT_LEN], pb[QATKIT_EC_MAX_POINT_LEN];
    uint8_t sa[QATKIT_ECDH_MAX_SECRET_LEN], sb[QATKIT_ECDH_MAX_SECRET_LEN];
    size_t pa_len = 0, pb_len = 0, sa_len = 0, sb_len = 0;
    CHECK_OK(qatkit_ecdh_key_public_key(a, pa, sizeof pa, &pa_len));
    CHECK_OK(qatkit_ecdh_key_public_key(b, pb, sizeof pb, &pb_len));
    CHECK_OK(qatkit_ecdh_agree(a, pb, pb_len, sa, sizeof sa, &sa_len));
    CHECK_OK(qatkit_ecdh_agree(b, pa, pa_len, sb, want, &sb_len));
    CHECK_SIZE(sa_len, want);
    CHECK_SIZE(sb_len, want);
    CHECK(memcmp(sa, sb, want) == 0);
}

static void test_ecdh(void) {
    check_section("ecdh: X25519, P-256 and P-384 agree from both sides; bad peers");
    size_t len = 0;
    const uint8_t *der = NULL;

    /* X25519: the PKCS#8 file's key and a generated one; raw bytes too. */
    qatkit_ecdh_key *x_file = NULL, *x_new = ecdh_generated(QATKIT_ECDH_X25519), *x_raw = NULL;
    der = key_file("x25519.pk8", &len);
    CHECK_OK(qatkit_ecdh_key_new(QATKIT_KEY_PKCS8, der, len, QATKIT_BACKEND_CPU, &x_file));
    uint8_t scalar[32];
    check_fill(scalar, sizeof scalar, 25519);
    CHECK_OK(qatkit_ecdh_key_new_raw(QATKIT_ECDH_X25519, scalar, 32, QATKIT_BACKEND_CPU, &x_raw));
    if (x_file != NULL && x_new != NULL && x_raw != NULL) {
        CHECK(qatkit_ecdh_key_alg(x_file) == QATKIT_ECDH_X25519);
        agree_both_ways(x_file, x_new, 32);
        agree_both_ways(x_raw, x_new, 32);
        agree_both_ways(x_raw, x_file, 32);
        uint8_t pk[QATKIT_EC_MAX_POINT_LEN], secret[QATKIT_ECDH_MAX_SECRET_LEN];
        size_t pk_len = 0, secret_len = 0;
        CHECK_OK(qatkit_ecdh_key_public_key(x_file, pk, sizeof pk, &pk_len));
        CHECK_SIZE(pk_len, 32);
        /* A low-order peer (all zeros), a peer of another length: refused, nothing written. */
        static const uint8_t zeros[32] = {0};
        secret_len = 99;
        CHECK_RESULT(qatkit_ecdh_agree(x_file, zeros, 32, secret, sizeof secret, &secret_len),
                     QATKIT_INVALID_INPUT);
        CHECK_CONTAINS(check_last_error(), "low order");
        CHECK_RESULT(qatkit_ecdh_agree(x_file, pk, 31, secret, sizeof secret, &secret_len),
                     QATKIT_INVALID_INPUT);
        CHECK_SIZE(secret_len, 99);
        /* Too small: the secret's length, nothing computed. */
        CHECK_RESULT(qatkit_ecdh_agree(x_file, pk, 32, secret, 31, &secret_len),
                     QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(secret_len, 32);
        CHECK_RESULT(qatkit_ecdh_key_public_key(x_file, NULL, 0, &pk_len),
                     QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(pk_len, 32);
        qatkit_served served;
        CHECK_OK(qatkit_ecdh_key_served(x_file, &served));
        CHECK(served.cpu == 2 && served.qat_device == 0);
    }
    qatkit_ecdh_key_free(x_raw);
    qatkit_ecdh_key_free(x_new);
    qatkit_ecdh_key_free(x_file);

    /* P-256: PKCS#8 and SEC 1 files (one key), a generated key; the peer as an SPKI too. */
    qatkit_ecdh_key *p_file = NULL, *p_sec1 = NULL, *p_new = ecdh_generated(QATKIT_ECDH_P256);
    der = key_file("p256.pk8", &len);
    CHECK_OK(qatkit_ecdh_key_new(QATKIT_KEY_PKCS8, der, len, QATKIT_BACKEND_CPU, &p_file));
    der = key_file("p256.sec1.der", &len);
    CHECK_OK(qatkit_ecdh_key_new(QATKIT_KEY_SEC1, der, len, QATKIT_BACKEND_CPU, &p_sec1));
    if (p_file != NULL && p_sec1 != NULL && p_new != NULL) {
        CHECK(qatkit_ecdh_key_alg(p_file) == QATKIT_ECDH_P256);
        agree_both_ways(p_file, p_new, 32);
        uint8_t pk[QATKIT_EC_MAX_POINT_LEN], s1[32], s2[32], s3[32];
        size_t pk_len = 0, n = 0;
        CHECK_OK(qatkit_ecdh_key_public_key(p_new, pk, sizeof pk, &pk_len));
        CHECK_SIZE(pk_len, 65);
        CHECK_OK(qatkit_ecdh_agree(p_file, pk, pk_len, s1, sizeof s1, &n));
        CHECK_OK(qatkit_ecdh_agree(p_sec1, pk, pk_len, s2, sizeof s2, &n));
        CHECK(memcmp(s1, s2, 32) == 0);
        der = key_file("p256.spki.der", &len);
        CHECK_OK(qatkit_ecdh_agree(p_new, der, len, s3, sizeof s3, &n));
        CHECK(memcmp(s1, s3, 32) == 0);
        /* A point off the curve. */
        pk[40] ^= 0x01;
        CHECK_RESULT(qatkit_ecdh_agree(p_file, pk, pk_len, s1, sizeof s1, &n),
                     QATKIT_INVALID_INPUT);
        CHECK_CONTAINS(check_last_error(), "not a point of the curve");
        /* A P-384 point given to a P-256 key. */
        qatkit_ecdh_key *p384 = ecdh_generated(QATKIT_ECDH_P384);
        if (p384 != NULL) {
            CHECK(qatkit_ecdh_key_alg(p384) == QATKIT_ECDH_P384);
            uint8_t big[QATKIT_EC_MAX_POINT_LEN];
            size_t big_len = 0;
            CHECK_OK(qatkit_ecdh_key_public_key(p384, big, sizeof big, &big_len));
            CHECK_SIZE(big_len, 97);
            CHECK_RESULT(qatkit_ecdh_agree(p_file, big, big_len, s1, sizeof s1, &n),
                         QATKIT_INVALID_INPUT);
            qatkit_ecdh_key *p384b = ecdh_generated(QATKIT_ECDH_P384);
            if (p384b != NULL) {
                agree_both_ways(p384, p384b, 48);
            }
            qatkit_ecdh_key_free(p384b);
        }
        qatkit_ecdh_key_free(p384);
    }
    qatkit_ecdh_key_free(p_new);
    qatkit_ecdh_key_free(p_sec1);
    qatkit_ecdh_key_free(p_file);
}

/* ------------------------------------------------------------------------------------------ */

enum { N = 6 };

static void test_batches(void) {
    check_section("batches: RSA, ECDSA, ECDH, one bad request failing alone");
    static uint8_t messages[N][100], outputs[N][256], plains[N][32];
    qatkit_request requests[N];
    qatkit_verify_request checks[N];
    for (size_t i = 0; i < N; i++) {
        check_fill(messages[i], sizeof messages[i], (uint32_t)(i + 7));
    }

    /* RSA: sign (request 2's output one byte short), verify (request 4's message altered). */
    qatkit_rsa_private_key *key = rsa_private("rsa2048.pk8", QATKIT_KEY_PKCS8);
    qatkit_rsa_public_key *pub = rsa_public("rsa2048.spki.der", QATKIT_KEY_SPKI);
    if (key != NULL && pub != NULL) {
        CHECK_OK(qatkit_rsa_private_key_set_in_flight(key, 3));
        CHECK_OK(qatkit_rsa_public_key_set_in_flight(pub, 4));
        for (size_t i = 0; i < N; i++) {
            requests[i] = (qatkit_request){messages[i], i == 1 ? 0 : 100, outputs[i],
                                           i == 2 ? 255 : 256, 12345, 9999};
        }
        requests[1].input = NULL; /* an empty message */
        CHECK_OK(qatkit_rsa_sign_batch(key, QATKIT_RSA_PSS_SHA256, requests, N));
        for (size_t i = 0; i < N; i++) {
            if (i == 2) {
                CHECK_RESULT(requests[i].status, QATKIT_BUFFER_TOO_SMALL);
                CHECK_SIZE(requests[i].output_len, 256);
            } else {
                CHECK_OK(requests[i].status);
                CHECK_SIZE(requests[i].output_len, 256);
            }
            checks[i] = (qatkit_verify_request){requests[i].input, requests[i].input_len,
                                                outputs[i], 256, 9999};
        }
        requests[2].output_cap = 256;
        CHECK_OK(qatkit_rsa_sign_batch(key, QATKIT_RSA_PSS_SHA256, requests + 2, 1));
        CHECK_OK(requests[2].status);
        messages[4][50] ^= 1;
        CHECK_OK(qatkit_rsa_verify_batch(pub, QATKIT_RSA_PSS_SHA256, checks, N));
        for (size_t i = 0; i < N; i++) {
            CHECK_RESULT(checks[i].status, i == 4 ? QATKIT_CORRUPT_DATA : QATKIT_OK);
        }
        messages[4][50] ^= 1;
        /* Another scheme: every one fails, each alone. */
        CHECK_OK(qatkit_rsa_verify_batch(pub, QATKIT_RSA_PSS_SHA384, checks, N));
        for (size_t i = 0; i < N; i++) {
            CHECK_RESULT(checks[i].status, QATKIT_CORRUPT_DATA);
        }

        /* Decrypt: request 3's ciphertext altered, request 5's output too small. */
        for (size_t i = 0; i < N; i++) {
            size_t ct_len = 0;
            check_fill(plains[i], sizeof plains[i], (uint32_t)(i + 70));
            CHECK_OK(qatkit_rsa_encrypt(pub, QATKIT_RSA_OAEP_SHA384, plains[i], 32, LABEL,
                                        sizeof LABEL, outputs[i], 256, &ct_len));
            requests[i] = (qatkit_request){outputs[i], 256, messages[i], i == 5 ? 31 : 100, 0,
                                           9999};
        }
        outputs[3][9] ^= 0x40;
        CHECK_OK(qatkit_rsa_decrypt_batch(key, QATKIT_RSA_OAEP_SHA384, LABEL, sizeof LABEL,
                                          requests, N));
        for (size_t i = 0; i < N; i++) {
            if (i == 3) {
                CHECK_RESULT(requests[i].status, QATKIT_CORRUPT_DATA);
                CHECK_SIZE(requests[i].output_len, 0);
            } else if (i == 5) {
                CHECK_RESULT(requests[i].status, QATKIT_BUFFER_TOO_SMALL);
                CHECK_SIZE(requests[i].output_len, 32);
            } else {
                CHECK_OK(requests[i].status);
                CHECK_SIZE(requests[i].output_len, 32);
                CHECK(memcmp(messages[i], plains[i], 32) == 0);
            }
        }
        /* The label may not overlap what the batch writes. */
        CHECK_RESULT(qatkit_rsa_decrypt_batch(key, QATKIT_RSA_OAEP_SHA384, messages[2], 4,
                                              requests, N),
                     QATKIT_INVALID_INPUT);
        CHECK_CONTAINS(check_last_error(), "overlap");

        qatkit_served served;
        CHECK_OK(qatkit_rsa_private_key_served(key, &served));
        CHECK(served.cpu == N + 5); /* N - 1 signed, 1 signed again, N - 1 decrypted */
        CHECK_OK(qatkit_rsa_public_key_served(pub, &served));
        CHECK(served.cpu == (N - 1) + N);
    }
    qatkit_rsa_public_key_free(pub);
    qatkit_rsa_private_key_free(key);

    /* ECDSA: sign all (request 0's output too small), verify with request 5 tampered. */
    qatkit_ecdsa_signing_key *sk = ecdsa_signing("p256.pk8", QATKIT_KEY_PKCS8);
    qatkit_ecdsa_verifying_key *vk = NULL;
    if (sk != NULL) {
        CHECK_OK(qatkit_ecdsa_signing_key_verifying_key(sk, &vk));
        CHECK_OK(qatkit_ecdsa_signing_key_set_in_flight(sk, 2));
        CHECK_OK(qatkit_ecdsa_verifying_key_set_in_flight(vk, 3));
        for (size_t i = 0; i < N; i++) {
            requests[i] = (qatkit_request){messages[i], 100, outputs[i], i == 0 ? 71 : 72, 0,
                                           9999};
        }
        CHECK_OK(qatkit_ecdsa_sign_batch(sk, requests, N));
        CHECK_RESULT(requests[0].status, QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(requests[0].output_len, 72);
        for (size_t i = 0; i < N; i++) {
            if (i > 0) {
                CHECK_OK(requests[i].status);
                CHECK(requests[i].output_len > 8 && requests[i].output_len <= 72);
            }
            checks[i] = (qatkit_verify_request){messages[i], 100, outputs[i],
                                                requests[i].output_len, 9999};
        }
        outputs[5][10] ^= 0x08;
        CHECK_OK(qatkit_ecdsa_verify_batch(vk, checks + 1, N - 1));
        for (size_t i = 1; i < N; i++) {
            CHECK_RESULT(checks[i].status, i == 5 ? QATKIT_CORRUPT_DATA : QATKIT_OK);
        }
        CHECK(checks[0].status == 9999); /* not in the batch */
        qatkit_served served;
        CHECK_OK(qatkit_ecdsa_signing_key_served(sk, &served));
        CHECK(served.cpu == N - 1);
        CHECK_OK(qatkit_ecdsa_verifying_key_served(vk, &served));
        CHECK(served.cpu == N - 2);
    }
    qatkit_ecdsa_verifying_key_free(vk);
    qatkit_ecdsa_signing_key_free(sk);

    /* ECDH: agree with N peers, request 1's peer off the curve. */
    qatkit_ecdh_key *ours = ecdh_generated(QATKIT_ECDH_P256);
    qatkit_ecdh_key *peers[N] = {0};
    static uint8_t points[N][QATKIT_EC_MAX_POINT_LEN];
    if (ours != NULL) {
        CHECK_OK(qatkit_ecdh_key_set_in_flight(ours, 4));
        for (size_t i = 0; i < N; i++) {
            size_t n = 0;
            peers[i] = ecdh_generated(QATKIT_ECDH_P256);
            if (peers[i] != NULL) {
                CHECK_OK(qatkit_ecdh_key_public_key(peers[i], points[i], sizeof points[i], &n));
            }
            requests[i] = (qatkit_request){points[i], 65, outputs[i], 32, 0, 9999};
        }
        points[1][64] ^= 0x02;
        CHECK_OK(qatkit_ecdh_agree_batch(ours, requests, N));
        for (size_t i = 0; i < N; i++) {
            if (i == 1) {
                CHECK_RESULT(requests[i].status, QATKIT_INVALID_INPUT);
                continue;
            }
            CHECK_OK(requests[i].status);
            CHECK_SIZE(requests[i].output_len, 32);
            /* The peer's side gives the same secret. */
            uint8_t mine[QATKIT_EC_MAX_POINT_LEN], secret[32];
            size_t mine_len = 0, n = 0;
            CHECK_OK(qatkit_ecdh_key_public_key(ours, mine, sizeof mine, &mine_len));
            if (peers[i] != NULL) {
                CHECK_OK(qatkit_ecdh_agree(peers[i], mine, mine_len, secret, 32, &n));
                CHECK(memcmp(secret, outputs[i], 32) == 0);
            }
        }
        /* Too small for one; empty batches. */
        requests[0].output_cap = 16;
        CHECK_OK(qatkit_ecdh_agree_batch(ours, requests, 1));
        CHECK_RESULT(requests[0].status, QATKIT_BUFFER_TOO_SMALL);
        CHECK_SIZE(requests[0].output_len, 32);
        CHECK_OK(qatkit_ecdh_agree_batch(ours, NULL, 0));
        qatkit_served served;
        CHECK_OK(qatkit_ecdh_key_served(ours, &served));
        CHECK(served.cpu == N - 1);
    }
    for (size_t i = 0; i < N; i++) {
        qatkit_ecdh_key_free(peers[i]);
    }
    qatkit_ecdh_key_free(ours);
}

static void test_batch_arguments(void) {
    check_section("batches: bad arguments touch no request");
    qatkit_ecdsa_signing_key *sk = ecdsa_signing("p256.pk8", QATKIT_KEY_PKCS8);
    qatkit_ecdsa_verifying_key *vk = NULL;
    if (sk == NULL) {
        return;
    }
    CHECK_OK(qatkit_ecdsa_signing_key_verifying_key(sk, &vk));
    static uint8_t buf[4096];
    qatkit_request requests[3];
    qatkit_verify_request checks[2];
    for (size_t i = 0; i < 3; i++) {
        requests[i] = (qatkit_request){buf + 100 * i, 50, buf + 1000 + 100 * i, 72, 1, 9999};
    }
    CHECK_RESULT(qatkit_ecdsa_sign_batch(NULL, requests, 3), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_sign_batch(sk, NULL, 3), QATKIT_NULL_PARAMETER);
    requests[1].output = NULL;
    CHECK_RESULT(qatkit_ecdsa_sign_batch(sk, requests, 3), QATKIT_NULL_PARAMETER);
    CHECK_CONTAINS(check_last_error(), "requests[1].output is NULL");
    requests[1].output = buf + 1000 + 50; /* into request 0's output */
    CHECK_RESULT(qatkit_ecdsa_sign_batch(sk, requests, 3), QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "requests[0].output and requests[1].output overlap");
    requests[1].output = buf + 1100;
    requests[2].input = buf + 1120; /* reads what request 1 writes */
    CHECK_RESULT(qatkit_ecdsa_sign_batch(sk, requests, 3), QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "requests[2].input and requests[1].output overlap");
    requests[2].input = buf + 200;
    requests[2].output = (uint8_t *)&requests[0]; /* the requests themselves */
    CHECK_RESULT(qatkit_ecdsa_sign_batch(sk, requests, 3), QATKIT_INVALID_INPUT);
    for (size_t i = 0; i < 3; i++) {
        CHECK(requests[i].status == 9999 && requests[i].output_len == 1);
    }
    checks[0] = (qatkit_verify_request){buf, 10, buf + 10, 70, 9999};
    checks[1] = (qatkit_verify_request){NULL, 10, buf + 10, 70, 9999};
    CHECK_RESULT(qatkit_ecdsa_verify_batch(vk, checks, 2), QATKIT_NULL_PARAMETER);
    CHECK_CONTAINS(check_last_error(), "requests[1].message is NULL");
    checks[1].message = (const uint8_t *)&checks[0].status;
    CHECK_RESULT(qatkit_ecdsa_verify_batch(vk, checks, 2), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdsa_verify_batch(NULL, checks, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_verify_batch(vk, NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK(checks[0].status == 9999 && checks[1].status == 9999);
    CHECK_OK(qatkit_ecdsa_verify_batch(vk, NULL, 0));
    CHECK_OK(qatkit_ecdsa_sign_batch(sk, NULL, 0));
    /* Overlapping buffers of one-shot calls. */
    size_t n = 0;
    CHECK_RESULT(qatkit_ecdsa_sign(sk, buf, 100, buf + 50, 104, &n), QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "message and signature overlap");
    qatkit_ecdsa_verifying_key_free(vk);
    qatkit_ecdsa_signing_key_free(sk);

    qatkit_rsa_private_key *key = rsa_private("rsa2048.pk8", QATKIT_KEY_PKCS8);
    qatkit_rsa_public_key *pub = NULL;
    if (key != NULL) {
        CHECK_OK(qatkit_rsa_private_key_public_key(key, &pub));
        CHECK_RESULT(qatkit_rsa_sign_batch(key, 99, requests, 3), QATKIT_INVALID_INPUT);
        CHECK_CONTAINS(check_last_error(), "unknown RSA signature scheme 99");
        CHECK_RESULT(qatkit_rsa_sign_batch(NULL, QATKIT_RSA_PSS_SHA256, requests, 3),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_verify_batch(pub, 0, checks, 2), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_rsa_verify_batch(NULL, QATKIT_RSA_PSS_SHA256, checks, 2),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_decrypt_batch(key, 9, NULL, 0, requests, 3),
                     QATKIT_INVALID_INPUT);
        CHECK_CONTAINS(check_last_error(), "unknown RSA-OAEP variant 9");
        CHECK_RESULT(qatkit_rsa_decrypt_batch(key, QATKIT_RSA_OAEP_SHA256, NULL, 4, requests, 3),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_decrypt_batch(key, QATKIT_RSA_OAEP_SHA256, NULL, 0, NULL, 3),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_encrypt(pub, QATKIT_RSA_OAEP_SHA256, buf, 10, NULL, 0, buf + 5,
                                        256, &n),
                     QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_rsa_decrypt(key, QATKIT_RSA_OAEP_SHA256, buf, 256, buf + 300, 10,
                                        buf + 305, 256, &n),
                     QATKIT_INVALID_INPUT);
        CHECK_CONTAINS(check_last_error(), "label and plaintext overlap");
        CHECK_OK(qatkit_rsa_verify_batch(pub, QATKIT_RSA_PSS_SHA256, NULL, 0));
        CHECK_OK(qatkit_rsa_decrypt_batch(key, QATKIT_RSA_OAEP_SHA256, NULL, 0, NULL, 0));
        for (size_t i = 0; i < 3; i++) {
            CHECK(requests[i].status == 9999);
        }
    }
    qatkit_rsa_public_key_free(pub);
    qatkit_rsa_private_key_free(key);

    qatkit_ecdh_key *ours = ecdh_generated(QATKIT_ECDH_X25519);
    if (ours != NULL) {
        requests[0] = (qatkit_request){buf, 32, buf + 16, 32, 0, 9999};
        CHECK_RESULT(qatkit_ecdh_agree_batch(ours, requests, 1), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_ecdh_agree_batch(NULL, requests, 1), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdh_agree(ours, buf, 32, buf + 31, 32, &n), QATKIT_INVALID_INPUT);
        CHECK(requests[0].status == 9999);
    }
    qatkit_ecdh_key_free(ours);
}

/* ------------------------------------------------------------------------------------------ */

static void test_bad_keys(void) {
    check_section("keys: bad DER, wrong formats and algorithms, bad parameters");
    size_t len = 0;
    const uint8_t *rsa_pk8 = key_file("rsa2048.pk8", &len);
    size_t rsa_len = len;
    const uint8_t *p256_pk8 = key_file("p256.pk8", &len);
    size_t p256_len = len;
    const uint8_t *rsa1024 = key_file("rsa1024.pk8", &len);
    size_t rsa1024_len = len;
    static const uint8_t garbage[] = {0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x00, 0xff};
    qatkit_rsa_private_key *rsa = NULL;
    qatkit_rsa_public_key *pub = NULL;
    qatkit_ecdsa_signing_key *sk = NULL;
    qatkit_ecdsa_verifying_key *vk = NULL;
    qatkit_ecdh_key *ecdh = NULL;

    /* Bad DER: refused with a message, no handle. */
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, garbage, sizeof garbage,
                                            QATKIT_BACKEND_CPU, &rsa),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "making a key RSA");
    CHECK(rsa == NULL);
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, rsa_pk8, rsa_len - 1,
                                            QATKIT_BACKEND_CPU, &rsa),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS1, rsa_pk8, rsa_len,
                                            QATKIT_BACKEND_CPU, &rsa),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, p256_pk8, p256_len,
                                            QATKIT_BACKEND_CPU, &rsa),
                 QATKIT_INVALID_INPUT); /* an EC key */
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, rsa1024, rsa1024_len,
                                            QATKIT_BACKEND_CPU, &rsa),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "2048");
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, NULL, 0, QATKIT_BACKEND_CPU, &rsa),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_rsa_public_key_new(QATKIT_KEY_SPKI, garbage, sizeof garbage,
                                           QATKIT_BACKEND_CPU, &pub),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_rsa_public_key_new(QATKIT_KEY_SPKI, rsa_pk8, rsa_len, QATKIT_BACKEND_CPU,
                                           &pub),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdsa_signing_key_new(QATKIT_KEY_PKCS8, rsa_pk8, rsa_len,
                                              QATKIT_BACKEND_CPU, &sk),
                 QATKIT_INVALID_INPUT); /* an RSA key */
    CHECK_CONTAINS(check_last_error(), "not a P-256 or P-384");
    CHECK_RESULT(qatkit_ecdsa_signing_key_new(QATKIT_KEY_SEC1, garbage, sizeof garbage,
                                              QATKIT_BACKEND_CPU, &sk),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdsa_verifying_key_new(QATKIT_KEY_SEC1_POINT, garbage, sizeof garbage,
                                                QATKIT_BACKEND_CPU, &vk),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdsa_verifying_key_new(QATKIT_KEY_SPKI, garbage, sizeof garbage,
                                                QATKIT_BACKEND_CPU, &vk),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdh_key_new(QATKIT_KEY_PKCS8, garbage, sizeof garbage,
                                     QATKIT_BACKEND_CPU, &ecdh),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdh_key_new(QATKIT_KEY_PKCS8, rsa_pk8, rsa_len, QATKIT_BACKEND_CPU,
                                     &ecdh),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdh_key_new_raw(QATKIT_ECDH_P256, garbage, sizeof garbage,
                                         QATKIT_BACKEND_CPU, &ecdh),
                 QATKIT_INVALID_INPUT);
    static const uint8_t zero_scalar[32] = {0};
    CHECK_RESULT(qatkit_ecdh_key_new_raw(QATKIT_ECDH_P256, zero_scalar, 32, QATKIT_BACKEND_CPU,
                                         &ecdh),
                 QATKIT_INVALID_INPUT);
    CHECK(rsa == NULL && pub == NULL && sk == NULL && vk == NULL && ecdh == NULL);

    /* A format the constructor does not take, or none at all. */
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_SPKI, rsa_pk8, rsa_len,
                                            QATKIT_BACKEND_CPU, &rsa),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "an RSA private key is PKCS#8 or PKCS#1, not SPKI");
    CHECK_RESULT(qatkit_rsa_public_key_new(QATKIT_KEY_PKCS8, rsa_pk8, rsa_len,
                                           QATKIT_BACKEND_CPU, &pub),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdsa_signing_key_new(QATKIT_KEY_SPKI, p256_pk8, p256_len,
                                              QATKIT_BACKEND_CPU, &sk),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdsa_verifying_key_new(QATKIT_KEY_PKCS8, p256_pk8, p256_len,
                                                QATKIT_BACKEND_CPU, &vk),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdh_key_new(99, p256_pk8, p256_len, QATKIT_BACKEND_CPU, &ecdh),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "unknown key format 99");

    /* Backends: an unknown one; the device by name (no device backend for public keys). */
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, rsa_pk8, rsa_len, 7, &rsa),
                 QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "unknown backend 7");
    qatkit_result r = qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, rsa_pk8, rsa_len,
                                                 QATKIT_BACKEND_QAT, &rsa);
    CHECK(r == QATKIT_UNSUPPORTED || r == QATKIT_NOT_FOUND);
    r = qatkit_ecdsa_signing_key_new(QATKIT_KEY_PKCS8, p256_pk8, p256_len, QATKIT_BACKEND_QAT,
                                     &sk);
    CHECK(r == QATKIT_UNSUPPORTED || r == QATKIT_NOT_FOUND);
    r = qatkit_ecdh_key_generate(QATKIT_ECDH_X25519, QATKIT_BACKEND_QAT, &ecdh);
    CHECK(r == QATKIT_UNSUPPORTED || r == QATKIT_NOT_FOUND);
    CHECK_RESULT(qatkit_ecdh_key_generate(QATKIT_ECDH_X25519, 3, &ecdh), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_ecdh_key_generate(0, QATKIT_BACKEND_CPU, &ecdh), QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "unknown key-agreement algorithm 0");
    CHECK_RESULT(qatkit_ecdh_key_new_raw(4, zero_scalar, 32, QATKIT_BACKEND_CPU, &ecdh),
                 QATKIT_INVALID_INPUT);
    CHECK(rsa == NULL && sk == NULL && ecdh == NULL);

    /* NULL pointers. */
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, rsa_pk8, rsa_len,
                                            QATKIT_BACKEND_CPU, NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_private_key_new(QATKIT_KEY_PKCS8, NULL, rsa_len, QATKIT_BACKEND_CPU,
                                            &rsa),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_public_key_new(QATKIT_KEY_SPKI, NULL, 5, QATKIT_BACKEND_CPU, &pub),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_signing_key_new(QATKIT_KEY_PKCS8, p256_pk8, p256_len,
                                              QATKIT_BACKEND_CPU, NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_verifying_key_new(QATKIT_KEY_SPKI, NULL, 9, QATKIT_BACKEND_CPU,
                                                &vk),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdh_key_new(QATKIT_KEY_PKCS8, NULL, 1, QATKIT_BACKEND_CPU, &ecdh),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdh_key_new_raw(QATKIT_ECDH_X25519, NULL, 32, QATKIT_BACKEND_CPU, &ecdh),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdh_key_generate(QATKIT_ECDH_X25519, QATKIT_BACKEND_CPU, NULL),
                 QATKIT_NULL_PARAMETER);
    CHECK(rsa == NULL && pub == NULL && sk == NULL && vk == NULL && ecdh == NULL);

    /* NULL handles and out-parameters on the calls. */
    uint8_t buf[512];
    size_t n = 0;
    qatkit_served served;
    CHECK_SIZE(qatkit_rsa_private_key_modulus_len(NULL), 0);
    CHECK_SIZE(qatkit_rsa_public_key_modulus_len(NULL), 0);
    CHECK(qatkit_ecdsa_signing_key_alg(NULL) == 0);
    CHECK(qatkit_ecdsa_verifying_key_alg(NULL) == 0);
    CHECK(qatkit_ecdh_key_alg(NULL) == 0);
    CHECK_RESULT(qatkit_rsa_sign(NULL, QATKIT_RSA_PSS_SHA256, buf, 1, buf + 8, 256, &n),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_verify(NULL, QATKIT_RSA_PSS_SHA256, buf, 1, buf, 256),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_encrypt(NULL, QATKIT_RSA_OAEP_SHA256, buf, 1, NULL, 0, buf + 8, 256,
                                    &n),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_decrypt(NULL, QATKIT_RSA_OAEP_SHA256, buf, 256, NULL, 0, buf + 256,
                                    256, &n),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_sign(NULL, buf, 1, buf + 8, 104, &n), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_verify(NULL, buf, 1, buf, 70), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdh_agree(NULL, buf, 32, buf + 32, 32, &n), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_private_key_set_in_flight(NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_public_key_set_in_flight(NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_signing_key_set_in_flight(NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_verifying_key_set_in_flight(NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdh_key_set_in_flight(NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_private_key_served(NULL, &served), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_public_key_served(NULL, &served), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_signing_key_served(NULL, &served), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_verifying_key_served(NULL, &served), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdh_key_served(NULL, &served), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_private_key_public_key(NULL, &pub), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_signing_key_verifying_key(NULL, &vk), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_rsa_public_key_spki(NULL, buf, sizeof buf, &n), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdsa_verifying_key_point(NULL, buf, 97, &n), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_ecdh_key_public_key(NULL, buf, 97, &n), QATKIT_NULL_PARAMETER);

    rsa = rsa_private("rsa2048.pk8", QATKIT_KEY_PKCS8);
    sk = ecdsa_signing("p256.pk8", QATKIT_KEY_PKCS8);
    ecdh = ecdh_generated(QATKIT_ECDH_P384);
    if (rsa != NULL && sk != NULL && ecdh != NULL) {
        CHECK_OK(qatkit_rsa_private_key_public_key(rsa, &pub));
        CHECK_OK(qatkit_ecdsa_signing_key_verifying_key(sk, &vk));
        CHECK_RESULT(qatkit_rsa_sign(rsa, QATKIT_RSA_PSS_SHA256, buf, 1, buf + 8, 256, NULL),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_sign(rsa, QATKIT_RSA_PSS_SHA256, NULL, 1, buf + 8, 256, &n),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_sign(rsa, QATKIT_RSA_PSS_SHA256, buf, 1, NULL, 256, &n),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_sign(rsa, 0, buf, 1, buf + 8, 256, &n), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_rsa_verify(pub, 7, buf, 1, buf + 8, 256), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_rsa_verify(pub, QATKIT_RSA_PSS_SHA256, buf, 1, NULL, 256),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_encrypt(pub, 0, buf, 1, NULL, 0, buf + 8, 256, &n),
                     QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_rsa_encrypt(pub, QATKIT_RSA_OAEP_SHA256, buf, 1, NULL, 3, buf + 8,
                                        256, &n),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_encrypt(pub, QATKIT_RSA_OAEP_SHA256, buf, 1, NULL, 0, buf + 8,
                                        256, NULL),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_decrypt(rsa, 4, buf, 256, NULL, 0, buf + 256, 256, &n),
                     QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_rsa_decrypt(rsa, QATKIT_RSA_OAEP_SHA256, buf, 256, NULL, 0, NULL, 256,
                                        &n),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_public_key_spki(pub, buf, sizeof buf, NULL),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_private_key_public_key(rsa, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_private_key_served(rsa, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_public_key_served(pub, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_rsa_private_key_set_in_flight(rsa, 0), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_rsa_public_key_set_in_flight(pub, 0), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_ecdsa_sign(sk, buf, 1, buf + 8, 104, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdsa_verify(vk, buf, 1, NULL, 70), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdsa_verifying_key_point(vk, NULL, 97, &n), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdsa_signing_key_verifying_key(sk, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdsa_signing_key_served(sk, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdsa_verifying_key_served(vk, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdsa_signing_key_set_in_flight(sk, 0), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_ecdsa_verifying_key_set_in_flight(vk, 0), QATKIT_INVALID_INPUT);
        CHECK_RESULT(qatkit_ecdh_agree(ecdh, buf, 97, buf + 100, 48, NULL),
                     QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdh_agree(ecdh, NULL, 97, buf + 100, 48, &n), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdh_key_public_key(ecdh, buf, 97, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdh_key_served(ecdh, NULL), QATKIT_NULL_PARAMETER);
        CHECK_RESULT(qatkit_ecdh_key_set_in_flight(ecdh, 0), QATKIT_INVALID_INPUT);
        /* A failed call changes nothing: the keys still work, their counts untouched. */
        CHECK_OK(qatkit_rsa_private_key_served(rsa, &served));
        CHECK(served.cpu == 0);
        CHECK_OK(qatkit_ecdh_key_served(ecdh, &served));
        CHECK(served.cpu == 0);
    }
    qatkit_ecdsa_verifying_key_free(vk);
    qatkit_ecdsa_signing_key_free(sk);
    qatkit_rsa_public_key_free(pub);
    qatkit_rsa_private_key_free(rsa);
    qatkit_ecdh_key_free(ecdh);
    /* Free takes NULL. */
    qatkit_rsa_private_key_free(NULL);
    qatkit_rsa_public_key_free(NULL);
    qatkit_ecdsa_signing_key_free(NULL);
    qatkit_ecdsa_verifying_key_free(NULL);
    qatkit_ecdh_key_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */

struct worker {
    const qatkit_ecdsa_signing_key *sk;
    const qatkit_ecdsa_verifying_key *vk;
    const qatkit_ecdh_key *ecdh;
    const uint8_t *peer;
    const uint8_t *secret;
    uint32_t seed;
    bool ok;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    w->ok = true;
    for (int round = 0; round < 8; round++) {
        uint8_t msg[64], sig[QATKIT_ECDSA_MAX_SIGNATURE_LEN], secret[32];
        size_t sig_len = 0, n = 0;
        check_fill(msg, sizeof msg, w->seed * 100 + (uint32_t)round);
        w->ok &= qatkit_ecdsa_sign(w->sk, msg, sizeof msg, sig, sizeof sig, &sig_len) ==
                 QATKIT_OK;
        w->ok &= qatkit_ecdsa_verify(w->vk, msg, sizeof msg, sig, sig_len) == QATKIT_OK;
        w->ok &= qatkit_ecdsa_verify(w->vk, msg, sizeof msg - 1, sig, sig_len) ==
                 QATKIT_CORRUPT_DATA;
        w->ok &= qatkit_ecdh_agree(w->ecdh, w->peer, 32, secret, sizeof secret, &n) == QATKIT_OK;
        w->ok &= n == 32 && memcmp(secret, w->secret, 32) == 0;
    }
    return NULL;
}

static void test_threads(void) {
    check_section("threads: four threads sharing an ECDSA key pair and an X25519 key");
    qatkit_ecdsa_signing_key *sk = ecdsa_signing("p256.pk8", QATKIT_KEY_PKCS8);
    qatkit_ecdsa_verifying_key *vk = NULL;
    qatkit_ecdh_key *ours = ecdh_generated(QATKIT_ECDH_X25519);
    qatkit_ecdh_key *peer = ecdh_generated(QATKIT_ECDH_X25519);
    uint8_t peer_pk[32], secret[32];
    size_t n = 0;
    if (sk == NULL || ours == NULL || peer == NULL) {
        goto out;
    }
    CHECK_OK(qatkit_ecdsa_signing_key_verifying_key(sk, &vk));
    CHECK_OK(qatkit_ecdh_key_public_key(peer, peer_pk, sizeof peer_pk, &n));
    CHECK_OK(qatkit_ecdh_agree(ours, peer_pk, 32, secret, sizeof secret, &n));
    pthread_t threads[4];
    struct worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){sk, vk, ours, peer_pk, secret, (uint32_t)(i + 1), false};
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].ok);
    }
    qatkit_served served;
    CHECK_OK(qatkit_ecdsa_signing_key_served(sk, &served));
    CHECK(served.cpu == 4 * 8);
    CHECK_OK(qatkit_ecdh_key_served(ours, &served));
    CHECK(served.cpu == 1 + 4 * 8);
out:
    qatkit_ecdh_key_free(peer);
    qatkit_ecdh_key_free(ours);
    qatkit_ecdsa_verifying_key_free(vk);
    qatkit_ecdsa_signing_key_free(sk);
}

int main(void) {
    test_rsa_signatures();
    test_rsa_oaep();
    test_ecdsa();
    test_ecdh();
    test_batches();
    test_batch_arguments();
    test_bad_keys();
    test_threads();
    return check_report();
}
