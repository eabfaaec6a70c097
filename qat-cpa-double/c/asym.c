/*
 * qat-cpa-double: the public-key calls (cpa_cy_rsa.h, cpa_cy_ecdsa.h, cpa_cy_ec.h), computed
 * with OpenSSL's BIGNUM and EC_POINT arithmetic (and EVP for X25519).
 *
 * The device's rules, checked at submit (INVALID_PARAM unless noted): every flat buffer the
 * device reads or writes is pinned and translated (as for the symmetric calls); operands are
 * big-endian integers of exactly the operation's size (RSA: the modulus, 128 to 1024 bytes, CRT
 * components half of it; prime curves: 32 or 48 bytes, every value that long; Curve25519: 32);
 * only two-prime CRT private keys (representation 2; representation 1 is UNSUPPORTED here);
 * an RSA public input below the modulus; a Curve25519 x below 2^255 - 19. Values are read when
 * the request is processed (at poll), as the device reads them by DMA. The callback reports
 * multiplyStatus/verifyStatus as the header says: false when r or s comes out zero, the result
 * is the point at infinity, the input point is not on the curve, or a signature does not check.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <qat/cpa.h>
#include <qat/cpa_cy_ec.h>
#include <qat/cpa_cy_ecdsa.h>
#include <qat/cpa_cy_rsa.h>

#include "internal.h"
#include "qat_cpa_double.h"

static int rsa_size_ok(Cpa32U len)
{
    return len == 128 || len == 192 || len == 256 || len == 384 || len == 512 || len == 1024;
}

static int curve_size_ok(Cpa32U len) { return len == 32 || len == 48; }

static BIGNUM *bn(const CpaFlatBuffer *b)
{
    return BN_bin2bn(b->pData, (int)b->dataLenInBytes, NULL);
}

static int bn_out(const BIGNUM *v, CpaFlatBuffer *out)
{
    return BN_bn2binpad(v, out->pData, (int)out->dataLenInBytes) >= 0;
}

/* ---- RSA ---------------------------------------------------------------------------------- */

struct rsa_state {
    CpaCyGenFlatBufCbFunc cb;
    void *tag;
    void *op_user;
    int private_op;
    CpaCyRsaPrivateKeyRep2 key; /* private: the CRT components */
    CpaCyRsaPublicKey pub;      /* public: n and e */
    CpaFlatBuffer in;
    CpaFlatBuffer *out;
};

static void rsa_run(void *p, int fault)
{
    struct rsa_state *s = p;
    CpaStatus status = CPA_STATUS_FAIL;
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *c = bn(&s->in), *m = BN_new(), *t = BN_new();
    BIGNUM *a = NULL, *b = NULL, *e1 = NULL, *e2 = NULL, *qinv = NULL;
    if (fault == QATDBL_FAULT_FAIL_IN_CALLBACK || !ctx || !c || !m || !t)
        goto done;
    if (s->private_op) {
        /* m1 = c^dP mod p, m2 = c^dQ mod q, h = qInv (m1 - m2) mod p, m = m2 + h q */
        a = bn(&s->key.prime1P);
        b = bn(&s->key.prime2Q);
        e1 = bn(&s->key.exponent1Dp);
        e2 = bn(&s->key.exponent2Dq);
        qinv = bn(&s->key.coefficientQInv);
        BIGNUM *m1 = BN_new(), *m2 = BN_new();
        int ok = a && b && e1 && e2 && qinv && m1 && m2 && !BN_is_zero(a) && !BN_is_zero(b) &&
                 BN_mod_exp(m1, c, e1, a, ctx) && BN_mod_exp(m2, c, e2, b, ctx) &&
                 BN_mod_sub(t, m1, m2, a, ctx) && BN_mod_mul(t, t, qinv, a, ctx) &&
                 BN_mul(t, t, b, ctx) && BN_add(m, m2, t);
        BN_clear_free(m1);
        BN_clear_free(m2);
        if (!ok)
            goto done;
    } else {
        a = bn(&s->pub.modulusN);
        e1 = bn(&s->pub.publicExponentE);
        if (!a || !e1 || !BN_mod_exp(m, c, e1, a, ctx))
            goto done;
    }
    if (bn_out(m, s->out)) {
        status = CPA_STATUS_SUCCESS;
        if (fault == QATDBL_FAULT_WRONG_RESULT)
            s->out->pData[s->out->dataLenInBytes - 1] ^= 1;
    }
done:
    BN_clear_free(c);
    BN_clear_free(m);
    BN_clear_free(t);
    BN_clear_free(a);
    BN_clear_free(b);
    BN_clear_free(e1);
    BN_clear_free(e2);
    BN_clear_free(qinv);
    BN_CTX_free(ctx);
    s->cb(s->tag, status, s->op_user, s->out);
}

CpaStatus cpaCyRsaDecrypt(const CpaInstanceHandle instanceHandle,
                          const CpaCyGenFlatBufCbFunc pRsaDecryptCb, void *pCallbackTag,
                          const CpaCyRsaDecryptOpData *pDecryptOpData, CpaFlatBuffer *pOutputData)
{
    if (!pRsaDecryptCb)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED); /* synchronous mode is not modelled */
    if (!pDecryptOpData || !pDecryptOpData->pRecipientPrivateKey || !pOutputData)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    const CpaCyRsaPrivateKey *key = pDecryptOpData->pRecipientPrivateKey;
    if (key->version != CPA_CY_RSA_VERSION_TWO_PRIME)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    if (key->privateKeyRepType == CPA_CY_RSA_PRIVATE_KEY_REP_TYPE_1)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED);
    if (key->privateKeyRepType != CPA_CY_RSA_PRIVATE_KEY_REP_TYPE_2)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    const CpaCyRsaPrivateKeyRep2 *k = &key->privateKeyRep2;
    Cpa32U len = pDecryptOpData->inputData.dataLenInBytes, half = len / 2;
    if (!rsa_size_ok(len) || pOutputData->dataLenInBytes != len ||
        k->prime1P.dataLenInBytes != half || k->prime2Q.dataLenInBytes != half ||
        k->exponent1Dp.dataLenInBytes != half || k->exponent2Dq.dataLenInBytes != half ||
        k->coefficientQInv.dataLenInBytes != half)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    struct dbl_dma dma[] = {
        {k->prime1P.pData, half},     {k->prime2Q.pData, half},
        {k->exponent1Dp.pData, half}, {k->exponent2Dq.pData, half},
        {k->coefficientQInv.pData, half}, {pDecryptOpData->inputData.pData, len},
        {pOutputData->pData, len},
    };
    struct rsa_state *s = calloc(1, sizeof(*s));
    if (!s)
        return dbl_refuse(CPA_STATUS_RESOURCE);
    *s = (struct rsa_state){.cb = pRsaDecryptCb,
                            .tag = pCallbackTag,
                            .op_user = (void *)pDecryptOpData,
                            .private_op = 1,
                            .key = *k,
                            .in = pDecryptOpData->inputData,
                            .out = pOutputData};
    return dbl_submit_asym(instanceHandle, dma, sizeof(dma) / sizeof(dma[0]), rsa_run, s);
}

CpaStatus cpaCyRsaEncrypt(const CpaInstanceHandle instanceHandle,
                          const CpaCyGenFlatBufCbFunc pRsaEncryptCb, void *pCallbackTag,
                          const CpaCyRsaEncryptOpData *pEncryptOpData, CpaFlatBuffer *pOutputData)
{
    if (!pRsaEncryptCb)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED);
    if (!pEncryptOpData || !pEncryptOpData->pPublicKey || !pOutputData)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    const CpaCyRsaPublicKey *pub = pEncryptOpData->pPublicKey;
    Cpa32U len = pub->modulusN.dataLenInBytes, elen = pub->publicExponentE.dataLenInBytes;
    if (!rsa_size_ok(len) || elen == 0 || elen > len ||
        pEncryptOpData->inputData.dataLenInBytes != len || pOutputData->dataLenInBytes != len)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    struct dbl_dma dma[] = {
        {pub->modulusN.pData, len},
        {pub->publicExponentE.pData, elen},
        {pEncryptOpData->inputData.pData, len},
        {pOutputData->pData, len},
    };
    /* The input must be below the modulus (both are big-endian and as long). */
    if (dbl_pinned(dma[2].p, len) && dbl_pinned(dma[0].p, len) &&
        memcmp(dma[2].p, dma[0].p, len) >= 0)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    struct rsa_state *s = calloc(1, sizeof(*s));
    if (!s)
        return dbl_refuse(CPA_STATUS_RESOURCE);
    *s = (struct rsa_state){.cb = pRsaEncryptCb,
                            .tag = pCallbackTag,
                            .op_user = (void *)pEncryptOpData,
                            .pub = *pub,
                            .in = pEncryptOpData->inputData,
                            .out = pOutputData};
    return dbl_submit_asym(instanceHandle, dma, sizeof(dma) / sizeof(dma[0]), rsa_run, s);
}

/* ---- prime curves ------------------------------------------------------------------------- */

/* The curve y^2 = x^3 + ax + b over GF(p), with generator (gx, gy) of order n when given. */
static EC_GROUP *prime_group(const CpaFlatBuffer *p, const CpaFlatBuffer *a,
                             const CpaFlatBuffer *b, const CpaFlatBuffer *gx,
                             const CpaFlatBuffer *gy, const CpaFlatBuffer *n, BN_CTX *ctx)
{
    BIGNUM *bp = bn(p), *ba = bn(a), *bb = bn(b);
    EC_GROUP *group = bp && ba && bb ? EC_GROUP_new_curve_GFp(bp, ba, bb, ctx) : NULL;
    if (group && gx) {
        BIGNUM *x = bn(gx), *y = bn(gy), *order = bn(n), *one = BN_new();
        EC_POINT *g = EC_POINT_new(group);
        int ok = x && y && order && one && g && BN_one(one) &&
                 EC_POINT_set_affine_coordinates(group, g, x, y, ctx) &&
                 EC_GROUP_set_generator(group, g, order, one);
        EC_POINT_free(g);
        BN_free(x);
        BN_free(y);
        BN_free(order);
        BN_free(one);
        if (!ok) {
            EC_GROUP_free(group);
            group = NULL;
        }
    }
    BN_free(bp);
    BN_free(ba);
    BN_free(bb);
    return group;
}

/* A point of the group from its coordinates, or NULL when it is not on the curve. */
static EC_POINT *point_at(const EC_GROUP *group, const CpaFlatBuffer *x, const CpaFlatBuffer *y,
                          BN_CTX *ctx)
{
    BIGNUM *bx = bn(x), *by = bn(y);
    EC_POINT *pt = EC_POINT_new(group);
    if (!bx || !by || !pt || !EC_POINT_set_affine_coordinates(group, pt, bx, by, ctx)) {
        EC_POINT_free(pt);
        pt = NULL;
    }
    BN_free(bx);
    BN_free(by);
    return pt;
}

struct sign_state {
    CpaCyEcdsaSignRSCbFunc cb;
    void *tag;
    void *op_user;
    CpaCyEcdsaSignRSOpData op;
    CpaFlatBuffer *r, *s;
};

static void sign_run(void *p, int fault)
{
    struct sign_state *st = p;
    const CpaCyEcdsaSignRSOpData *op = &st->op;
    CpaStatus status = CPA_STATUS_FAIL;
    CpaBoolean ok = CPA_FALSE;
    BN_CTX *ctx = BN_CTX_new();
    EC_GROUP *group = NULL;
    EC_POINT *kg = NULL;
    BIGNUM *k = bn(&op->k), *m = bn(&op->m), *d = bn(&op->d), *n = bn(&op->n);
    BIGNUM *r = BN_new(), *s = BN_new(), *x = BN_new(), *kinv = NULL;
    if (fault == QATDBL_FAULT_FAIL_IN_CALLBACK || !ctx || !k || !m || !d || !n || !r || !s || !x)
        goto done;
    group = prime_group(&op->q, &op->a, &op->b, &op->xg, &op->yg, &op->n, ctx);
    if (!group || BN_is_zero(k) || BN_cmp(k, n) >= 0 || BN_is_zero(d) || BN_cmp(d, n) >= 0)
        goto done;
    status = CPA_STATUS_SUCCESS;
    /* r = x(kG) mod n; s = k^-1 (m + r d) mod n */
    if (!(kg = EC_POINT_new(group)) || !EC_POINT_mul(group, kg, k, NULL, NULL, ctx) ||
        !EC_POINT_get_affine_coordinates(group, kg, x, NULL, ctx) || !BN_nnmod(r, x, n, ctx) ||
        !(kinv = BN_mod_inverse(NULL, k, n, ctx)) || !BN_mod_mul(s, r, d, n, ctx) ||
        !BN_mod_add(s, s, m, n, ctx) || !BN_mod_mul(s, s, kinv, n, ctx)) {
        status = CPA_STATUS_FAIL;
        goto done;
    }
    ok = !BN_is_zero(r) && !BN_is_zero(s) && bn_out(r, st->r) && bn_out(s, st->s);
done:
    EC_POINT_free(kg);
    EC_GROUP_free(group);
    BN_clear_free(k);
    BN_clear_free(kinv);
    BN_clear_free(d);
    BN_free(m);
    BN_free(n);
    BN_free(r);
    BN_free(s);
    BN_free(x);
    BN_CTX_free(ctx);
    st->cb(st->tag, status, st->op_user, ok, st->r, st->s);
}

CpaStatus cpaCyEcdsaSignRS(const CpaInstanceHandle instanceHandle,
                           const CpaCyEcdsaSignRSCbFunc pCb, void *pCallbackTag,
                           const CpaCyEcdsaSignRSOpData *pOpData, CpaBoolean *pSignStatus,
                           CpaFlatBuffer *pR, CpaFlatBuffer *pS)
{
    (void)pSignStatus; /* synchronous mode only */
    if (!pCb)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED);
    if (!pOpData || !pR || !pS || pOpData->fieldType != CPA_CY_EC_FIELD_TYPE_PRIME)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    const CpaCyEcdsaSignRSOpData *op = pOpData;
    Cpa32U len = op->q.dataLenInBytes;
    const CpaFlatBuffer *all[] = {&op->xg, &op->yg, &op->n, &op->q, &op->a, &op->b,
                                  &op->k,  &op->m,  &op->d, pR,     pS};
    struct dbl_dma dma[11];
    if (!curve_size_ok(len))
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    for (size_t i = 0; i < 11; i++) {
        if (all[i]->dataLenInBytes != len)
            return dbl_refuse(CPA_STATUS_INVALID_PARAM);
        dma[i] = (struct dbl_dma){all[i]->pData, len};
    }
    struct sign_state *s = calloc(1, sizeof(*s));
    if (!s)
        return dbl_refuse(CPA_STATUS_RESOURCE);
    *s = (struct sign_state){
        .cb = pCb, .tag = pCallbackTag, .op_user = (void *)pOpData, .op = *op, .r = pR, .s = pS};
    return dbl_submit_asym(instanceHandle, dma, 11, sign_run, s);
}

struct verify_state {
    CpaCyEcdsaVerifyCbFunc cb;
    void *tag;
    void *op_user;
    CpaCyEcdsaVerifyOpData op;
};

static void verify_run(void *p, int fault)
{
    struct verify_state *st = p;
    const CpaCyEcdsaVerifyOpData *op = &st->op;
    CpaStatus status = CPA_STATUS_FAIL;
    CpaBoolean ok = CPA_FALSE;
    BN_CTX *ctx = BN_CTX_new();
    EC_GROUP *group = NULL;
    EC_POINT *pub = NULL, *sum = NULL;
    BIGNUM *m = bn(&op->m), *r = bn(&op->r), *s = bn(&op->s), *n = bn(&op->n);
    BIGNUM *w = NULL, *u1 = BN_new(), *u2 = BN_new(), *x = BN_new();
    if (fault == QATDBL_FAULT_FAIL_IN_CALLBACK || !ctx || !m || !r || !s || !n || !u1 || !u2 ||
        !x)
        goto done;
    group = prime_group(&op->q, &op->a, &op->b, &op->xg, &op->yg, &op->n, ctx);
    if (!group)
        goto done;
    status = CPA_STATUS_SUCCESS;
    if (fault == QATDBL_FAULT_VERIFY_FAILS || BN_is_zero(r) || BN_cmp(r, n) >= 0 ||
        BN_is_zero(s) || BN_cmp(s, n) >= 0 || !(pub = point_at(group, &op->xp, &op->yp, ctx)))
        goto done;
    /* w = s^-1; u1 = m w; u2 = r w; valid iff x(u1 G + u2 P) mod n = r */
    if (!(w = BN_mod_inverse(NULL, s, n, ctx)) || !BN_mod_mul(u1, m, w, n, ctx) ||
        !BN_mod_mul(u2, r, w, n, ctx) || !(sum = EC_POINT_new(group)) ||
        !EC_POINT_mul(group, sum, u1, pub, u2, ctx)) {
        status = CPA_STATUS_FAIL;
        goto done;
    }
    ok = !EC_POINT_is_at_infinity(group, sum) &&
         EC_POINT_get_affine_coordinates(group, sum, x, NULL, ctx) && BN_nnmod(x, x, n, ctx) &&
         BN_cmp(x, r) == 0;
done:
    EC_POINT_free(pub);
    EC_POINT_free(sum);
    EC_GROUP_free(group);
    BN_free(m);
    BN_free(r);
    BN_free(s);
    BN_free(n);
    BN_free(w);
    BN_free(u1);
    BN_free(u2);
    BN_free(x);
    BN_CTX_free(ctx);
    st->cb(st->tag, status, st->op_user, ok);
}

CpaStatus cpaCyEcdsaVerify(const CpaInstanceHandle instanceHandle,
                           const CpaCyEcdsaVerifyCbFunc pCb, void *pCallbackTag,
                           const CpaCyEcdsaVerifyOpData *pOpData, CpaBoolean *pVerifyStatus)
{
    (void)pVerifyStatus;
    if (!pCb)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED);
    if (!pOpData || pOpData->fieldType != CPA_CY_EC_FIELD_TYPE_PRIME)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    const CpaCyEcdsaVerifyOpData *op = pOpData;
    Cpa32U len = op->q.dataLenInBytes;
    const CpaFlatBuffer *all[] = {&op->xg, &op->yg, &op->n, &op->q, &op->a, &op->b,
                                  &op->m,  &op->r,  &op->s, &op->xp, &op->yp};
    struct dbl_dma dma[11];
    if (!curve_size_ok(len))
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    for (size_t i = 0; i < 11; i++) {
        if (all[i]->dataLenInBytes != len)
            return dbl_refuse(CPA_STATUS_INVALID_PARAM);
        dma[i] = (struct dbl_dma){all[i]->pData, len};
    }
    struct verify_state *s = calloc(1, sizeof(*s));
    if (!s)
        return dbl_refuse(CPA_STATUS_RESOURCE);
    *s = (struct verify_state){
        .cb = pCb, .tag = pCallbackTag, .op_user = (void *)pOpData, .op = *op};
    return dbl_submit_asym(instanceHandle, dma, 11, verify_run, s);
}

struct multiply_state {
    CpaCyEcPointMultiplyCbFunc cb;
    void *tag;
    void *op_user;
    CpaCyEcGenericPointMultiplyOpData op;
    CpaCyEcCurveParametersWeierstrass curve;
    CpaCyEcMontEdwdsPointMultiplyOpData mont;
    CpaFlatBuffer *xk, *yk;
};

static void multiply_run(void *p, int fault)
{
    struct multiply_state *st = p;
    CpaStatus status = CPA_STATUS_FAIL;
    CpaBoolean ok = CPA_FALSE;
    BN_CTX *ctx = BN_CTX_new();
    EC_GROUP *group = NULL;
    EC_POINT *pt = NULL, *res = NULL;
    BIGNUM *k = bn(&st->op.k), *x = BN_new(), *y = BN_new();
    if (fault == QATDBL_FAULT_FAIL_IN_CALLBACK || !ctx || !k || !x || !y)
        goto done;
    group = prime_group(&st->curve.p, &st->curve.a, &st->curve.b, NULL, NULL, NULL, ctx);
    if (!group)
        goto done;
    status = CPA_STATUS_SUCCESS;
    if (!(pt = point_at(group, &st->op.xP, &st->op.yP, ctx)))
        goto done; /* not on the curve: multiplyStatus false */
    if (!(res = EC_POINT_new(group)) || !EC_POINT_mul(group, res, NULL, pt, k, ctx)) {
        status = CPA_STATUS_FAIL;
        goto done;
    }
    ok = !EC_POINT_is_at_infinity(group, res) &&
         EC_POINT_get_affine_coordinates(group, res, x, y, ctx) && bn_out(x, st->xk) &&
         bn_out(y, st->yk);
done:
    EC_POINT_free(pt);
    EC_POINT_clear_free(res);
    EC_GROUP_free(group);
    BN_clear_free(k);
    BN_clear_free(x);
    BN_clear_free(y);
    BN_CTX_free(ctx);
    st->cb(st->tag, status, st->op_user, ok, st->xk, st->yk);
}

CpaStatus cpaCyEcGenericPointMultiply(const CpaInstanceHandle instanceHandle,
                                      const CpaCyEcPointMultiplyCbFunc pCb, void *pCallbackTag,
                                      const CpaCyEcGenericPointMultiplyOpData *pOpData,
                                      CpaBoolean *pMultiplyStatus, CpaFlatBuffer *pXk,
                                      CpaFlatBuffer *pYk)
{
    (void)pMultiplyStatus;
    if (!pCb)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED);
    if (!pOpData || !pOpData->pCurve || !pXk || !pYk)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    const CpaCyEcCurve *curve = pOpData->pCurve;
    if (curve->curveType != CPA_CY_EC_CURVE_TYPE_WEIERSTRASS_PRIME)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED);
    const CpaCyEcCurveParametersWeierstrass *w = &curve->parameters.weierstrassParameters;
    if (w->fieldType != CPA_CY_EC_FIELD_TYPE_PRIME)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    if (pOpData->generator)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED); /* the double models variable-point multiplication */
    Cpa32U len = w->p.dataLenInBytes;
    const CpaFlatBuffer *all[] = {&w->a, &w->b, &pOpData->k, &pOpData->xP, &pOpData->yP, pXk,
                                  pYk};
    struct dbl_dma dma[9];
    if (!curve_size_ok(len) || w->h.dataLenInBytes == 0 || w->h.dataLenInBytes > len)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    dma[0] = (struct dbl_dma){w->p.pData, len};
    dma[1] = (struct dbl_dma){w->h.pData, w->h.dataLenInBytes};
    for (size_t i = 0; i < 7; i++) {
        if (all[i]->dataLenInBytes != len)
            return dbl_refuse(CPA_STATUS_INVALID_PARAM);
        dma[i + 2] = (struct dbl_dma){all[i]->pData, len};
    }
    struct multiply_state *s = calloc(1, sizeof(*s));
    if (!s)
        return dbl_refuse(CPA_STATUS_RESOURCE);
    *s = (struct multiply_state){.cb = pCb,
                                 .tag = pCallbackTag,
                                 .op_user = (void *)pOpData,
                                 .op = *pOpData,
                                 .curve = *w,
                                 .xk = pXk,
                                 .yk = pYk};
    return dbl_submit_asym(instanceHandle, dma, 9, multiply_run, s);
}

/* ---- Curve25519 --------------------------------------------------------------------------- */

static void reverse32(uint8_t *dst, const uint8_t *src)
{
    for (int i = 0; i < 32; i++)
        dst[i] = src[31 - i];
}

static void x25519_run(void *p, int fault)
{
    struct multiply_state *st = p;
    CpaStatus status = CPA_STATUS_FAIL;
    CpaBoolean ok = CPA_FALSE;
    uint8_t k[32], u[32], out[32];
    size_t out_len = sizeof(out);
    EVP_PKEY *priv = NULL, *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (fault == QATDBL_FAULT_FAIL_IN_CALLBACK)
        goto done;
    /* The device's operands are big-endian; RFC 7748's strings little-endian. */
    reverse32(k, st->mont.k.pData);
    reverse32(u, st->mont.x.pData);
    priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k, 32);
    peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, u, 32);
    if (!priv || !peer || !(ctx = EVP_PKEY_CTX_new(priv, NULL)) || EVP_PKEY_derive_init(ctx) != 1)
        goto done;
    status = CPA_STATUS_SUCCESS;
    /* OpenSSL refuses an all-zero result (a low-order point): multiplyStatus false. */
    if (EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, out, &out_len) == 1 &&
        out_len == 32) {
        reverse32(st->xk->pData, out);
        ok = CPA_TRUE;
    }
done:
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(out, sizeof(out));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(peer);
    st->cb(st->tag, status, st->op_user, ok, st->xk, st->yk);
}

CpaStatus cpaCyEcMontEdwdsPointMultiply(const CpaInstanceHandle instanceHandle,
                                        const CpaCyEcPointMultiplyCbFunc pCb, void *pCallbackTag,
                                        const CpaCyEcMontEdwdsPointMultiplyOpData *pOpData,
                                        CpaBoolean *pMultiplyStatus, CpaFlatBuffer *pXk,
                                        CpaFlatBuffer *pYk)
{
    (void)pMultiplyStatus;
    if (!pCb)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED);
    if (!pOpData || !pXk)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    if (pOpData->curveType != CPA_CY_EC_MONTEDWDS_CURVE25519_TYPE || pOpData->generator)
        return dbl_refuse(CPA_STATUS_UNSUPPORTED); /* the double models X25519's variable-point multiply */
    if (pOpData->k.dataLenInBytes != 32 || pOpData->x.dataLenInBytes != 32 ||
        pXk->dataLenInBytes != 32)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    struct dbl_dma dma[] = {
        {pOpData->k.pData, 32}, {pOpData->x.pData, 32}, {pXk->pData, 32}};
    /* x below p = 2^255 - 19 (big-endian: 7f ff .. ff ed) */
    static const uint8_t p25519[32] = {
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xed};
    if (dbl_pinned(pOpData->x.pData, 32) && memcmp(pOpData->x.pData, p25519, 32) >= 0)
        return dbl_refuse(CPA_STATUS_INVALID_PARAM);
    struct multiply_state *s = calloc(1, sizeof(*s));
    if (!s)
        return dbl_refuse(CPA_STATUS_RESOURCE);
    *s = (struct multiply_state){.cb = pCb,
                                 .tag = pCallbackTag,
                                 .op_user = (void *)pOpData,
                                 .mont = *pOpData,
                                 .xk = pXk,
                                 .yk = pYk};
    return dbl_submit_asym(instanceHandle, dma, 3, x25519_run, s);
}
