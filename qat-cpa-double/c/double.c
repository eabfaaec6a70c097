/*
 * qat-cpa-double: a test double of the subset of qatlib's CPA API that qatkit calls.
 *
 * Written from the contracts documented in qatlib's public headers (<qat/cpa*.h>,
 * <qat/icp_sal_*.h>, <qat/qae_mem.h>), which it is compiled against; the results are computed
 * with OpenSSL's EVP. It behaves like a device: requests are validated at submit, queued on the
 * instance's ring, and processed and answered only by icp_sal_CyPollInstance. Linked into test
 * executables only (whole-archive, so these definitions win over libqat's and libusdm's).
 *
 * Locking: g_lock (recursive) guards every piece of state; it is never held while a user
 * callback runs or while data is processed. Each instance also has a poll lock that serialises
 * pollers of that instance (the header: reentrant no, thread-safe yes), which keeps callbacks of
 * one session in submission order.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <qat/cpa.h>
#include <qat/cpa_cy_common.h>
#include <qat/cpa_cy_im.h>
#include <qat/cpa_cy_sym.h>
#include <qat/icp_sal_poll.h>
#include <qat/icp_sal_user.h>
#include <qat/qae_mem.h>

#include "internal.h"
#include "qat_cpa_double.h"

#define DBL_MAX_INSTANCES 64u
#define DBL_DEFAULT_INSTANCES 2u
#define DBL_SESSION_CTX_SIZE 512u
#define DBL_SESSION_MAGIC 0x51415444u /* "QATD" */
#define DBL_SESSION_DEAD 0xdead5e55u
#define DBL_MAX_AAD 240u
#define DBL_META_HEADER 64u
#define DBL_META_PER_BUFFER 16u
#define DBL_MIN_ALIGN 64u
#define DBL_GCM_IV_BUFFER 16u

/* ---- state ----------------------------------------------------------------------------- */

struct region {
    uintptr_t lo, hi;
};

struct regions {
    struct region *v;
    size_t n, cap;
};

enum kind { K_CBC, K_XTS, K_GCM, K_CHACHAPOLY, K_HASH, K_HMAC };

/* Lives in the caller's session ctx memory (which must be pinned). */
struct dbl_session {
    uint32_t magic;
    enum kind kind;
    struct dbl_instance *inst;
    CpaCySymCbFunc cb;
    CpaCySymOp op;
    CpaCySymCipherDirection dir;
    CpaCySymHashAlgorithm hash;
    CpaBoolean digest_appended;
    CpaBoolean verify;
    uint32_t key_len;
    uint32_t auth_key_len;
    uint32_t digest_len;
    uint32_t aad_len;
    uint64_t pending;
    uint8_t key[64];
    uint8_t auth_key[128];
};
_Static_assert(sizeof(struct dbl_session) <= DBL_SESSION_CTX_SIZE, "session ctx size");

struct dbl_request {
    struct dbl_request *next;
    struct dbl_session *session;   /* NULL for a public-key request (run and state instead) */
    dbl_run_fn run;
    void *state;
    void *tag;
    const CpaCySymOpData *op_user; /* handed back in the callback */
    CpaCySymOpData op;             /* read at submit, as the real one builds its message */
    const CpaBufferList *src;
    CpaBufferList *dst;
    int fault;
    struct regions dma;            /* what the device still reads or writes */
};

struct dbl_instance {
    int started;
    CpaVirtualToPhysical v2p;
    struct dbl_request *head, *tail;
    uint64_t in_flight;
    pthread_mutex_t poll_lock;
};

struct block {
    uintptr_t lo;
    size_t size;
};

static pthread_mutex_t g_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct dbl_instance g_inst[DBL_MAX_INSTANCES] = {
    [0 ... DBL_MAX_INSTANCES - 1] = {.poll_lock = PTHREAD_MUTEX_INITIALIZER}};
static uint32_t g_configured = DBL_DEFAULT_INSTANCES;
static uint32_t g_active;
static uint32_t g_start_count;
static struct block *g_blocks;
static size_t g_nblocks, g_cap_blocks;
static struct dbl_session **g_sessions;
static size_t g_nsessions, g_cap_sessions;
static int g_fault;
static uint32_t g_fault_skip, g_fault_count;
static struct qatdbl_stats g_stats;
static __thread int t_in_poll;

static void lock(void) { pthread_mutex_lock(&g_lock); }
static void unlock(void) { pthread_mutex_unlock(&g_lock); }

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*v, cap2 * elem);
    if (!p)
        return -1;
    *v = p;
    *cap = cap2;
    return 0;
}

static int regions_push(struct regions *r, const void *p, size_t len)
{
    if (len == 0)
        return 0;
    if (grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v)))
        return -1;
    r->v[r->n].lo = (uintptr_t)p;
    r->v[r->n].hi = (uintptr_t)p + len;
    r->n++;
    return 0;
}

/* The block holding [p, p+len), or NULL. Caller holds g_lock. */
static struct block *block_of(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < g_nblocks; i++) {
        struct block *b = &g_blocks[i];
        if (a >= b->lo && a < b->lo + b->size && len <= b->lo + b->size - a)
            return b;
    }
    return NULL;
}

static struct dbl_instance *instance_of(CpaInstanceHandle h)
{
    uintptr_t a = (uintptr_t)h, lo = (uintptr_t)&g_inst[0];
    if (a < lo || a >= (uintptr_t)&g_inst[g_active] || (a - lo) % sizeof(g_inst[0]))
        return NULL;
    return (struct dbl_instance *)h;
}

static struct dbl_session *session_of(const void *ctx)
{
    for (size_t i = 0; i < g_nsessions; i++)
        if (g_sessions[i] == ctx && g_sessions[i]->magic == DBL_SESSION_MAGIC)
            return g_sessions[i];
    return NULL;
}

static void session_forget(struct dbl_session *s)
{
    for (size_t i = 0; i < g_nsessions; i++)
        if (g_sessions[i] == s) {
            g_sessions[i] = g_sessions[--g_nsessions];
            break;
        }
    s->magic = DBL_SESSION_DEAD;
}

/* Memory the device would DMA: pinned, and translated by the instance's function. */
static int dma_ok(struct dbl_instance *inst, const void *p, size_t len)
{
    if (!p || !block_of(p, len))
        return 0;
    return inst->v2p((void *)p) != 0;
}

static void request_free(struct dbl_request *r)
{
    free(r->dma.v);
    free(r->state);
    free(r);
}

/* Discards every queued request without a callback. Caller holds g_lock. */
static void drop_queues(void)
{
    for (uint32_t i = 0; i < DBL_MAX_INSTANCES; i++) {
        struct dbl_instance *inst = &g_inst[i];
        while (inst->head) {
            struct dbl_request *r = inst->head;
            inst->head = r->next;
            if (r->session)
                r->session->pending--;
            g_stats.dropped++;
            request_free(r);
        }
        inst->tail = NULL;
        inst->in_flight = 0;
        inst->started = 0;
        inst->v2p = NULL;
    }
}

/* ---- control API ------------------------------------------------------------------------ */

void qatdbl_reset(void)
{
    lock();
    drop_queues();
    while (g_nsessions)
        session_forget(g_sessions[0]);
    g_start_count = 0;
    g_active = 0;
    g_configured = DBL_DEFAULT_INSTANCES;
    g_fault = QATDBL_FAULT_NONE;
    g_fault_skip = g_fault_count = 0;
    memset(&g_stats, 0, sizeof(g_stats));
    unlock();
}

void qatdbl_set_instances(uint32_t n)
{
    lock();
    g_configured = n > DBL_MAX_INSTANCES ? DBL_MAX_INSTANCES : n;
    unlock();
}

void qatdbl_inject(int fault, uint32_t skip, uint32_t count)
{
    lock();
    g_fault = fault;
    g_fault_skip = skip;
    g_fault_count = fault == QATDBL_FAULT_NONE ? 0 : count;
    unlock();
}

void qatdbl_stats(struct qatdbl_stats *out)
{
    lock();
    *out = g_stats;
    out->in_flight = 0;
    for (uint32_t i = 0; i < DBL_MAX_INSTANCES; i++)
        out->in_flight += g_inst[i].in_flight;
    out->live_sessions = g_nsessions;
    out->live_pinned = g_nblocks;
    out->live_pinned_bytes = 0;
    for (size_t i = 0; i < g_nblocks; i++)
        out->live_pinned_bytes += g_blocks[i].size;
    unlock();
}

int qatdbl_in_poll(void) { return t_in_poll > 0; }

uint32_t qatdbl_session_ctx_size(void) { return DBL_SESSION_CTX_SIZE; }

/* ---- usdm: pinned memory ---------------------------------------------------------------- */

void *qaeMemAllocNUMA(size_t size, int node, size_t phys_alignment_byte)
{
    (void)node;
    size_t align = phys_alignment_byte < DBL_MIN_ALIGN ? DBL_MIN_ALIGN : phys_alignment_byte;
    if (size == 0 || (align & (align - 1)))
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align, size))
        return NULL;
    memset(p, 0, size);
    lock();
    if (grow((void **)&g_blocks, &g_cap_blocks, g_nblocks + 1, sizeof(*g_blocks))) {
        unlock();
        free(p);
        return NULL;
    }
    g_blocks[g_nblocks].lo = (uintptr_t)p;
    g_blocks[g_nblocks].size = size;
    g_nblocks++;
    unlock();
    return p;
}

/* Whether the device still uses [lo, hi): a live session ctx or a queued request's memory. */
static int block_in_use(uintptr_t lo, uintptr_t hi)
{
    for (size_t i = 0; i < g_nsessions; i++) {
        uintptr_t s = (uintptr_t)g_sessions[i];
        if (s >= lo && s < hi)
            return 1;
    }
    for (uint32_t i = 0; i < DBL_MAX_INSTANCES; i++)
        for (struct dbl_request *r = g_inst[i].head; r; r = r->next)
            for (size_t k = 0; k < r->dma.n; k++)
                if (r->dma.v[k].lo < hi && r->dma.v[k].hi > lo)
                    return 1;
    return 0;
}

void qaeMemFreeNUMA(void **ptr)
{
    if (!ptr || !*ptr)
        return;
    lock();
    uintptr_t a = (uintptr_t)*ptr;
    size_t i;
    for (i = 0; i < g_nblocks && g_blocks[i].lo != a; i++)
        ;
    if (i == g_nblocks || block_in_use(a, a + g_blocks[i].size)) {
        /* Not a block, or the device still uses it: count the breach and keep the memory so
         * the double itself never touches freed memory. */
        g_stats.violations++;
    } else {
        g_blocks[i] = g_blocks[--g_nblocks];
        free((void *)a);
    }
    unlock();
    *ptr = NULL;
}

uint64_t qaeVirtToPhysNUMA(void *pVirtAddr)
{
    lock();
    uint64_t phys = block_of(pVirtAddr, 0) ? (uint64_t)(uintptr_t)pVirtAddr : 0;
    unlock();
    return phys;
}

/* ---- process and instances -------------------------------------------------------------- */

CpaStatus icp_sal_userStart(const char *pProcessName)
{
    if (!pProcessName)
        return CPA_STATUS_INVALID_PARAM;
    CpaStatus st = CPA_STATUS_SUCCESS;
    lock();
    if (g_start_count == 0) {
        if (g_configured == 0) {
            st = CPA_STATUS_FAIL; /* as qatlib without a device */
        } else {
            drop_queues();
            g_active = g_configured;
        }
    }
    if (st == CPA_STATUS_SUCCESS)
        g_start_count++;
    unlock();
    return st;
}

CpaStatus icp_sal_userStop(void)
{
    CpaStatus st = CPA_STATUS_SUCCESS;
    lock();
    if (g_start_count == 0) {
        st = CPA_STATUS_FAIL;
    } else if (--g_start_count == 0) {
        drop_queues();
        g_active = 0;
    }
    unlock();
    return st;
}

CpaStatus cpaCyGetNumInstances(Cpa16U *pNumInstances)
{
    if (!pNumInstances)
        return CPA_STATUS_INVALID_PARAM;
    lock();
    *pNumInstances = (Cpa16U)(g_start_count ? g_active : 0);
    unlock();
    return CPA_STATUS_SUCCESS;
}

CpaStatus cpaCyGetInstances(Cpa16U numInstances, CpaInstanceHandle *cyInstances)
{
    if (!cyInstances)
        return CPA_STATUS_INVALID_PARAM;
    CpaStatus st = CPA_STATUS_SUCCESS;
    lock();
    if (g_start_count == 0 || g_active == 0)
        st = CPA_STATUS_RESOURCE;
    else if (numInstances == 0 || numInstances > g_active)
        st = CPA_STATUS_INVALID_PARAM;
    else
        for (Cpa16U i = 0; i < numInstances; i++)
            cyInstances[i] = &g_inst[i];
    unlock();
    return st;
}

CpaStatus cpaCyStartInstance(CpaInstanceHandle instanceHandle)
{
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    if (inst)
        inst->started = 1;
    unlock();
    return inst ? CPA_STATUS_SUCCESS : CPA_STATUS_INVALID_PARAM;
}

CpaStatus cpaCyStopInstance(CpaInstanceHandle instanceHandle)
{
    CpaStatus st = CPA_STATUS_SUCCESS;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    if (!inst)
        st = CPA_STATUS_INVALID_PARAM;
    else if (inst->in_flight)
        st = CPA_STATUS_RETRY;
    else
        inst->started = 0;
    unlock();
    return st;
}

static void set_text(Cpa8U *dst, size_t cap, const char *text)
{
    size_t n = strlen(text);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, text, n);
    dst[n] = 0;
}

CpaStatus cpaCyInstanceGetInfo2(const CpaInstanceHandle instanceHandle,
                                CpaInstanceInfo2 *pInstanceInfo2)
{
    if (!pInstanceInfo2)
        return CPA_STATUS_INVALID_PARAM;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    if (!inst) {
        unlock();
        return CPA_STATUS_INVALID_PARAM;
    }
    unsigned idx = (unsigned)(inst - g_inst);
    CpaInstanceInfo2 *info = pInstanceInfo2;
    memset(info, 0, sizeof(*info));
    info->accelerationServiceType = CPA_ACC_SVC_TYPE_CRYPTO;
    set_text(info->vendorName, sizeof(info->vendorName), "Intel(R)");
    set_text(info->partName, sizeof(info->partName), "qat-cpa-double");
    set_text(info->swVersion, sizeof(info->swVersion), "Version 24.02");
    char text[64];
    snprintf(text, sizeof(text), "SSL_INST%u", idx);
    set_text(info->instName, sizeof(info->instName), text);
    snprintf(text, sizeof(text), "double_%u", idx);
    set_text(info->instID, sizeof(info->instID), text);
    info->physInstId.packageId = 0;
    info->physInstId.acceleratorId = 0;
    info->physInstId.executionEngineId = (Cpa16U)idx;
    info->physInstId.busAddress = 0;
    CPA_BITMAP_BIT_SET(info->coreAffinity, idx % CPA_MAX_CORES);
    info->nodeAffinity = 0;
    info->operState = inst->started ? CPA_OPER_STATE_UP : CPA_OPER_STATE_DOWN;
    info->requiresPhysicallyContiguousMemory = CPA_TRUE;
    info->isPolled = CPA_TRUE;
    info->isOffloaded = CPA_TRUE;
    unlock();
    return CPA_STATUS_SUCCESS;
}

CpaStatus cpaCySymQueryCapabilities(const CpaInstanceHandle instanceHandle,
                                    CpaCySymCapabilitiesInfo *pCapInfo)
{
    if (!pCapInfo)
        return CPA_STATUS_INVALID_PARAM;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    unlock();
    if (!inst)
        return CPA_STATUS_INVALID_PARAM;
    memset(pCapInfo, 0, sizeof(*pCapInfo));
    CPA_BITMAP_BIT_SET(pCapInfo->ciphers, CPA_CY_SYM_CIPHER_AES_CBC);
    CPA_BITMAP_BIT_SET(pCapInfo->ciphers, CPA_CY_SYM_CIPHER_AES_GCM);
    CPA_BITMAP_BIT_SET(pCapInfo->ciphers, CPA_CY_SYM_CIPHER_AES_XTS);
    CPA_BITMAP_BIT_SET(pCapInfo->ciphers, CPA_CY_SYM_CIPHER_CHACHA);
    CPA_BITMAP_BIT_SET(pCapInfo->hashes, CPA_CY_SYM_HASH_SHA256);
    CPA_BITMAP_BIT_SET(pCapInfo->hashes, CPA_CY_SYM_HASH_SHA384);
    CPA_BITMAP_BIT_SET(pCapInfo->hashes, CPA_CY_SYM_HASH_SHA512);
    CPA_BITMAP_BIT_SET(pCapInfo->hashes, CPA_CY_SYM_HASH_SHA3_256);
    CPA_BITMAP_BIT_SET(pCapInfo->hashes, CPA_CY_SYM_HASH_AES_GCM);
    CPA_BITMAP_BIT_SET(pCapInfo->hashes, CPA_CY_SYM_HASH_POLY);
    pCapInfo->partialPacketSupported = CPA_FALSE;
    return CPA_STATUS_SUCCESS;
}

CpaStatus cpaCySetAddressTranslation(const CpaInstanceHandle instanceHandle,
                                     CpaVirtualToPhysical virtual2Physical)
{
    if (!virtual2Physical)
        return CPA_STATUS_INVALID_PARAM;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    if (inst)
        inst->v2p = virtual2Physical;
    unlock();
    return inst ? CPA_STATUS_SUCCESS : CPA_STATUS_INVALID_PARAM;
}

static uint32_t meta_size(uint32_t numBuffers)
{
    return DBL_META_HEADER + DBL_META_PER_BUFFER * numBuffers;
}

CpaStatus cpaCyBufferListGetMetaSize(const CpaInstanceHandle instanceHandle,
                                     Cpa32U numBuffers, Cpa32U *pSizeInBytes)
{
    if (!pSizeInBytes || numBuffers == 0 || numBuffers > (UINT32_MAX - DBL_META_HEADER) / 16)
        return CPA_STATUS_INVALID_PARAM;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    unlock();
    if (!inst)
        return CPA_STATUS_INVALID_PARAM;
    *pSizeInBytes = meta_size(numBuffers);
    return CPA_STATUS_SUCCESS;
}

/* ---- sessions --------------------------------------------------------------------------- */

CpaStatus cpaCySymSessionCtxGetSize(const CpaInstanceHandle instanceHandle,
                                    const CpaCySymSessionSetupData *pSessionSetupData,
                                    Cpa32U *pSessionCtxSizeInBytes)
{
    if (!pSessionSetupData || !pSessionCtxSizeInBytes)
        return CPA_STATUS_INVALID_PARAM;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    unlock();
    if (!inst)
        return CPA_STATUS_INVALID_PARAM;
    *pSessionCtxSizeInBytes = DBL_SESSION_CTX_SIZE;
    return CPA_STATUS_SUCCESS;
}

static int valid_dir(CpaCySymCipherDirection d)
{
    return d == CPA_CY_SYM_CIPHER_DIRECTION_ENCRYPT || d == CPA_CY_SYM_CIPHER_DIRECTION_DECRYPT;
}

/* Digest size and HMAC block size of the hashes the double computes; 0 if it computes none. */
static uint32_t hash_size(CpaCySymHashAlgorithm h, uint32_t *block)
{
    switch (h) {
    case CPA_CY_SYM_HASH_SHA256:
        *block = 64;
        return 32;
    case CPA_CY_SYM_HASH_SHA384:
        *block = 128;
        return 48;
    case CPA_CY_SYM_HASH_SHA512:
        *block = 128;
        return 64;
    case CPA_CY_SYM_HASH_SHA3_256:
        *block = 136;
        return 32;
    default:
        *block = 0;
        return 0;
    }
}

static const EVP_MD *hash_md(CpaCySymHashAlgorithm h)
{
    switch (h) {
    case CPA_CY_SYM_HASH_SHA256:
        return EVP_sha256();
    case CPA_CY_SYM_HASH_SHA384:
        return EVP_sha384();
    case CPA_CY_SYM_HASH_SHA512:
        return EVP_sha512();
    case CPA_CY_SYM_HASH_SHA3_256:
        return EVP_sha3_256();
    default:
        return NULL;
    }
}

static CpaStatus setup_cipher(const CpaCySymCipherSetupData *c, struct dbl_session *s)
{
    if (!valid_dir(c->cipherDirection) || !c->pCipherKey)
        return CPA_STATUS_INVALID_PARAM;
    uint32_t k = c->cipherKeyLenInBytes;
    switch (c->cipherAlgorithm) {
    case CPA_CY_SYM_CIPHER_AES_CBC:
        if (k != 16 && k != 24 && k != 32)
            return CPA_STATUS_INVALID_PARAM;
        s->kind = K_CBC;
        break;
    case CPA_CY_SYM_CIPHER_AES_XTS:
        if (k != 32 && k != 64)
            return CPA_STATUS_INVALID_PARAM;
        s->kind = K_XTS;
        break;
    case CPA_CY_SYM_CIPHER_AES_GCM:
    case CPA_CY_SYM_CIPHER_CHACHA:
    case CPA_CY_SYM_CIPHER_AES_CCM:
        /* authenticated ciphers are expressed as algorithm chaining */
        return CPA_STATUS_INVALID_PARAM;
    case CPA_CY_SYM_CIPHER_NULL:
    case CPA_CY_SYM_CIPHER_ARC4:
    case CPA_CY_SYM_CIPHER_AES_ECB:
    case CPA_CY_SYM_CIPHER_AES_CTR:
    case CPA_CY_SYM_CIPHER_DES_ECB:
    case CPA_CY_SYM_CIPHER_DES_CBC:
    case CPA_CY_SYM_CIPHER_3DES_ECB:
    case CPA_CY_SYM_CIPHER_3DES_CBC:
    case CPA_CY_SYM_CIPHER_3DES_CTR:
    case CPA_CY_SYM_CIPHER_KASUMI_F8:
    case CPA_CY_SYM_CIPHER_SNOW3G_UEA2:
    case CPA_CY_SYM_CIPHER_AES_F8:
    case CPA_CY_SYM_CIPHER_ZUC_EEA3:
    case CPA_CY_SYM_CIPHER_SM4_ECB:
    case CPA_CY_SYM_CIPHER_SM4_CBC:
    case CPA_CY_SYM_CIPHER_SM4_CTR:
        return CPA_STATUS_UNSUPPORTED;
    default:
        return CPA_STATUS_INVALID_PARAM;
    }
    s->dir = c->cipherDirection;
    s->key_len = k;
    memcpy(s->key, c->pCipherKey, k);
    return CPA_STATUS_SUCCESS;
}

static CpaStatus setup_hash(const CpaCySymSessionSetupData *d, struct dbl_session *s)
{
    const CpaCySymHashSetupData *h = &d->hashSetupData;
    switch (h->hashAlgorithm) {
    case CPA_CY_SYM_HASH_SHA256:
    case CPA_CY_SYM_HASH_SHA384:
    case CPA_CY_SYM_HASH_SHA512:
    case CPA_CY_SYM_HASH_SHA3_256:
        break;
    case CPA_CY_SYM_HASH_AES_GCM:
    case CPA_CY_SYM_HASH_POLY:
    case CPA_CY_SYM_HASH_AES_CCM:
    case CPA_CY_SYM_HASH_AES_GMAC:
        return CPA_STATUS_INVALID_PARAM; /* not hash-only algorithms here */
    case CPA_CY_SYM_HASH_MD5:
    case CPA_CY_SYM_HASH_SHA1:
    case CPA_CY_SYM_HASH_SHA224:
    case CPA_CY_SYM_HASH_AES_XCBC:
    case CPA_CY_SYM_HASH_KASUMI_F9:
    case CPA_CY_SYM_HASH_SNOW3G_UIA2:
    case CPA_CY_SYM_HASH_AES_CMAC:
    case CPA_CY_SYM_HASH_AES_CBC_MAC:
    case CPA_CY_SYM_HASH_ZUC_EIA3:
    case CPA_CY_SYM_HASH_SHA3_224:
    case CPA_CY_SYM_HASH_SHA3_384:
    case CPA_CY_SYM_HASH_SHA3_512:
    case CPA_CY_SYM_HASH_SHAKE_128:
    case CPA_CY_SYM_HASH_SHAKE_256:
    case CPA_CY_SYM_HASH_SM3:
        return CPA_STATUS_UNSUPPORTED;
    default:
        return CPA_STATUS_INVALID_PARAM;
    }
    uint32_t block, full = hash_size(h->hashAlgorithm, &block);
    if (h->digestResultLenInBytes == 0 || h->digestResultLenInBytes > full)
        return CPA_STATUS_INVALID_PARAM;
    if (d->verifyDigest && d->digestIsAppended)
        return CPA_STATUS_INVALID_PARAM; /* the header: not supported for hash-only ops */
    switch (h->hashMode) {
    case CPA_CY_SYM_HASH_MODE_PLAIN:
        s->kind = K_HASH;
        break;
    case CPA_CY_SYM_HASH_MODE_AUTH: {
        const CpaCySymHashAuthModeSetupData *a = &h->authModeSetupData;
        if (h->hashAlgorithm == CPA_CY_SYM_HASH_SHA3_256)
            return CPA_STATUS_UNSUPPORTED; /* HMAC-SHA3 is not modelled */
        if (a->authKeyLenInBytes > block || (a->authKeyLenInBytes && !a->authKey))
            return CPA_STATUS_INVALID_PARAM;
        s->kind = K_HMAC;
        s->auth_key_len = a->authKeyLenInBytes;
        if (a->authKeyLenInBytes)
            memcpy(s->auth_key, a->authKey, a->authKeyLenInBytes);
        break;
    }
    case CPA_CY_SYM_HASH_MODE_NESTED:
        return CPA_STATUS_UNSUPPORTED;
    default:
        return CPA_STATUS_INVALID_PARAM;
    }
    s->hash = h->hashAlgorithm;
    s->digest_len = h->digestResultLenInBytes;
    s->digest_appended = d->digestIsAppended ? CPA_TRUE : CPA_FALSE;
    s->verify = d->verifyDigest ? CPA_TRUE : CPA_FALSE;
    return CPA_STATUS_SUCCESS;
}

static CpaStatus setup_aead(const CpaCySymSessionSetupData *d, struct dbl_session *s)
{
    const CpaCySymCipherSetupData *c = &d->cipherSetupData;
    const CpaCySymHashSetupData *h = &d->hashSetupData;
    int gcm = c->cipherAlgorithm == CPA_CY_SYM_CIPHER_AES_GCM &&
              h->hashAlgorithm == CPA_CY_SYM_HASH_AES_GCM;
    int chacha = c->cipherAlgorithm == CPA_CY_SYM_CIPHER_CHACHA &&
                 h->hashAlgorithm == CPA_CY_SYM_HASH_POLY;
    if (!gcm && !chacha) {
        if (c->cipherAlgorithm == CPA_CY_SYM_CIPHER_AES_GCM ||
            h->hashAlgorithm == CPA_CY_SYM_HASH_AES_GCM ||
            c->cipherAlgorithm == CPA_CY_SYM_CIPHER_CHACHA ||
            h->hashAlgorithm == CPA_CY_SYM_HASH_POLY)
            return CPA_STATUS_INVALID_PARAM; /* half an authenticated cipher */
        return CPA_STATUS_UNSUPPORTED;       /* cipher+HMAC chains are not modelled */
    }
    if (!valid_dir(c->cipherDirection) || !c->pCipherKey ||
        h->hashMode != CPA_CY_SYM_HASH_MODE_AUTH)
        return CPA_STATUS_INVALID_PARAM;
    uint32_t k = c->cipherKeyLenInBytes, t = h->digestResultLenInBytes;
    if (gcm && ((k != 16 && k != 24 && k != 32) || (t != 8 && t != 12 && t != 16)))
        return CPA_STATUS_INVALID_PARAM;
    if (chacha && (k != 32 || t != 16))
        return CPA_STATUS_INVALID_PARAM;
    if (h->authModeSetupData.aadLenInBytes > DBL_MAX_AAD)
        return CPA_STATUS_INVALID_PARAM;
    s->kind = gcm ? K_GCM : K_CHACHAPOLY;
    s->dir = c->cipherDirection;
    s->key_len = k;
    memcpy(s->key, c->pCipherKey, k);
    s->digest_len = t;
    s->aad_len = h->authModeSetupData.aadLenInBytes;
    s->digest_appended = d->digestIsAppended ? CPA_TRUE : CPA_FALSE;
    /* verifyDigest is ignored: decryption always verifies */
    s->verify = c->cipherDirection == CPA_CY_SYM_CIPHER_DIRECTION_DECRYPT ? CPA_TRUE : CPA_FALSE;
    return CPA_STATUS_SUCCESS;
}

CpaStatus cpaCySymInitSession(const CpaInstanceHandle instanceHandle,
                              const CpaCySymCbFunc pSymCb,
                              const CpaCySymSessionSetupData *pSessionSetupData,
                              CpaCySymSessionCtx sessionCtx)
{
    if (!pSessionSetupData || !sessionCtx || ((uintptr_t)sessionCtx % 8))
        return CPA_STATUS_INVALID_PARAM;
    if (!pSymCb)
        return CPA_STATUS_UNSUPPORTED; /* the synchronous mode is not modelled */
    CpaStatus st = CPA_STATUS_SUCCESS;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    if (!inst)
        st = CPA_STATUS_INVALID_PARAM;
    else if (!inst->started)
        st = CPA_STATUS_FAIL;
    else if (!block_of(sessionCtx, DBL_SESSION_CTX_SIZE) || session_of(sessionCtx))
        st = CPA_STATUS_INVALID_PARAM;
    else if (grow((void **)&g_sessions, &g_cap_sessions, g_nsessions + 1, sizeof(*g_sessions)))
        st = CPA_STATUS_RESOURCE;
    if (st != CPA_STATUS_SUCCESS) {
        unlock();
        return st;
    }
    struct dbl_session s;
    memset(&s, 0, sizeof(s));
    switch (pSessionSetupData->symOperation) {
    case CPA_CY_SYM_OP_CIPHER:
        st = setup_cipher(&pSessionSetupData->cipherSetupData, &s);
        break;
    case CPA_CY_SYM_OP_HASH:
        st = setup_hash(pSessionSetupData, &s);
        break;
    case CPA_CY_SYM_OP_ALGORITHM_CHAINING:
        st = setup_aead(pSessionSetupData, &s);
        break;
    default:
        st = CPA_STATUS_INVALID_PARAM;
    }
    if (st == CPA_STATUS_SUCCESS) {
        s.magic = DBL_SESSION_MAGIC;
        s.inst = inst;
        s.cb = pSymCb;
        s.op = pSessionSetupData->symOperation;
        memcpy(sessionCtx, &s, sizeof(s));
        g_sessions[g_nsessions++] = sessionCtx;
    }
    OPENSSL_cleanse(&s, sizeof(s));
    unlock();
    return st;
}

CpaStatus cpaCySymRemoveSession(const CpaInstanceHandle instanceHandle,
                                CpaCySymSessionCtx pSessionCtx)
{
    CpaStatus st = CPA_STATUS_SUCCESS;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    struct dbl_session *s = session_of(pSessionCtx);
    if (!inst || !s || s->inst != inst)
        st = CPA_STATUS_INVALID_PARAM;
    else if (s->pending)
        st = CPA_STATUS_RETRY;
    else
        session_forget(s);
    unlock();
    return st;
}

CpaStatus cpaCySymSessionInUse(CpaCySymSessionCtx sessionCtx, CpaBoolean *pSessionInUse)
{
    if (!pSessionInUse)
        return CPA_STATUS_INVALID_PARAM;
    lock();
    struct dbl_session *s = session_of(sessionCtx);
    if (s)
        *pSessionInUse = s->pending ? CPA_TRUE : CPA_FALSE;
    unlock();
    return s ? CPA_STATUS_SUCCESS : CPA_STATUS_INVALID_PARAM;
}

CpaStatus cpaCySymUpdateSession(CpaCySymSessionCtx sessionCtx,
                                const CpaCySymSessionUpdateData *pSessionUpdateData)
{
    const Cpa32U known = CPA_CY_SYM_SESUPD_CIPHER_KEY | CPA_CY_SYM_SESUPD_CIPHER_DIR |
                         CPA_CY_SYM_SESUPD_AUTH_KEY;
    const CpaCySymSessionUpdateData *u = pSessionUpdateData;
    if (!u || (u->flags & ~known))
        return CPA_STATUS_INVALID_PARAM;
    CpaStatus st = CPA_STATUS_SUCCESS;
    lock();
    struct dbl_session *s = session_of(sessionCtx);
    int ciphers = s && s->kind != K_HASH && s->kind != K_HMAC;
    if (!s)
        st = CPA_STATUS_INVALID_PARAM;
    else if (s->pending)
        st = CPA_STATUS_RETRY;
    else if ((u->flags & CPA_CY_SYM_SESUPD_CIPHER_KEY) && (!ciphers || !u->pCipherKey))
        st = CPA_STATUS_INVALID_PARAM;
    else if ((u->flags & CPA_CY_SYM_SESUPD_CIPHER_DIR) && (!ciphers || !valid_dir(u->cipherDirection)))
        st = CPA_STATUS_INVALID_PARAM;
    else if ((u->flags & CPA_CY_SYM_SESUPD_AUTH_KEY) && s->kind == K_HMAC && s->auth_key_len &&
             !u->authKey)
        st = CPA_STATUS_INVALID_PARAM;
    if (st == CPA_STATUS_SUCCESS) {
        if (u->flags & CPA_CY_SYM_SESUPD_CIPHER_KEY)
            memcpy(s->key, u->pCipherKey, s->key_len);
        if (u->flags & CPA_CY_SYM_SESUPD_CIPHER_DIR) {
            s->dir = u->cipherDirection;
            if (s->kind == K_GCM || s->kind == K_CHACHAPOLY)
                s->verify = s->dir == CPA_CY_SYM_CIPHER_DIRECTION_DECRYPT ? CPA_TRUE : CPA_FALSE;
        }
        /* for GCM and ChaCha-Poly the auth key is the cipher key: the flag is ignored */
        if ((u->flags & CPA_CY_SYM_SESUPD_AUTH_KEY) && s->kind == K_HMAC && s->auth_key_len)
            memcpy(s->auth_key, u->authKey, s->auth_key_len);
    }
    unlock();
    return st;
}

/* ---- data path -------------------------------------------------------------------------- */

static CpaStatus check_list(struct dbl_instance *inst, const CpaBufferList *l, uint64_t *total,
                            struct regions *dma)
{
    if (!l || l->numBuffers == 0 || !l->pBuffers)
        return CPA_STATUS_INVALID_PARAM;
    uint32_t meta = meta_size(l->numBuffers);
    if (!dma_ok(inst, l->pPrivateMetaData, meta))
        return CPA_STATUS_INVALID_PARAM;
    if (regions_push(dma, l->pPrivateMetaData, meta))
        return CPA_STATUS_RESOURCE;
    *total = 0;
    for (uint32_t i = 0; i < l->numBuffers; i++) {
        const CpaFlatBuffer *b = &l->pBuffers[i];
        if (b->dataLenInBytes == 0)
            continue;
        if (!dma_ok(inst, b->pData, b->dataLenInBytes))
            return CPA_STATUS_INVALID_PARAM;
        if (regions_push(dma, b->pData, b->dataLenInBytes))
            return CPA_STATUS_RESOURCE;
        *total += b->dataLenInBytes;
    }
    return CPA_STATUS_SUCCESS;
}

static CpaStatus check_ptr(struct dbl_instance *inst, const void *p, size_t len,
                           struct regions *dma)
{
    if (!dma_ok(inst, p, len))
        return CPA_STATUS_INVALID_PARAM;
    return regions_push(dma, p, len) ? CPA_STATUS_RESOURCE : CPA_STATUS_SUCCESS;
}

/* The fault this accepted submission gets, if one is due, and the status the submit returns
 * for it. Caller holds g_lock. */
static CpaStatus take_fault(int *fault)
{
    *fault = QATDBL_FAULT_NONE;
    if (!g_fault_count)
        return CPA_STATUS_SUCCESS;
    if (g_fault_skip) {
        g_fault_skip--;
        return CPA_STATUS_SUCCESS;
    }
    g_fault_count--;
    *fault = g_fault;
    switch (*fault) {
    case QATDBL_FAULT_RETRY:
        return CPA_STATUS_RETRY;
    case QATDBL_FAULT_FAIL:
        return CPA_STATUS_FAIL;
    case QATDBL_FAULT_RESTARTING:
        return CPA_STATUS_RESTARTING;
    default:
        return CPA_STATUS_SUCCESS;
    }
}

/* The device rules for one request. Caller holds g_lock. */
static CpaStatus check_op(struct dbl_instance *inst, const struct dbl_session *s,
                          const CpaCySymOpData *op, const CpaBufferList *src,
                          const CpaBufferList *dst, struct regions *dma)
{
    int aead = s->kind == K_GCM || s->kind == K_CHACHAPOLY;
    if (op->packetType != CPA_CY_SYM_PACKET_TYPE_FULL)
        return aead ? CPA_STATUS_INVALID_PARAM : CPA_STATUS_UNSUPPORTED;
    uint64_t total, dst_total;
    CpaStatus st = check_list(inst, src, &total, dma);
    if (st != CPA_STATUS_SUCCESS)
        return st;
    if (dst != src) {
        if ((st = check_list(inst, dst, &dst_total, dma)) != CPA_STATUS_SUCCESS)
            return st;
        if (dst_total != total)
            return CPA_STATUS_INVALID_PARAM;
    }
    uint64_t off, len;
    if (s->kind == K_HASH || s->kind == K_HMAC) {
        off = op->hashStartSrcOffsetInBytes;
        len = op->messageLenToHashInBytes;
    } else {
        off = op->cryptoStartSrcOffsetInBytes;
        len = op->messageLenToCipherInBytes;
    }
    if (off + len > total)
        return CPA_STATUS_INVALID_PARAM;
    switch (s->kind) {
    case K_CBC:
        if (len == 0 || len % 16 || op->ivLenInBytes != 16)
            return CPA_STATUS_INVALID_PARAM;
        return check_ptr(inst, op->pIv, 16, dma);
    case K_XTS:
        if (len < 16 || op->ivLenInBytes != 16)
            return CPA_STATUS_INVALID_PARAM;
        return check_ptr(inst, op->pIv, 16, dma);
    case K_GCM:
    case K_CHACHAPOLY:
        if (op->ivLenInBytes != 12)
            return CPA_STATUS_INVALID_PARAM;
        st = check_ptr(inst, op->pIv, s->kind == K_GCM ? DBL_GCM_IV_BUFFER : 12, dma);
        if (st == CPA_STATUS_SUCCESS && s->aad_len)
            st = check_ptr(inst, op->pAdditionalAuthData,
                           s->kind == K_GCM ? (s->aad_len + 15) / 16 * 16 : s->aad_len, dma);
        break;
    case K_HASH:
    case K_HMAC:
        break;
    }
    if (st != CPA_STATUS_SUCCESS)
        return st;
    if (s->digest_appended)
        return off + len + s->digest_len > total ? CPA_STATUS_INVALID_PARAM : CPA_STATUS_SUCCESS;
    return check_ptr(inst, op->pDigestResult, s->digest_len, dma);
}

CpaStatus cpaCySymPerformOp(const CpaInstanceHandle instanceHandle, void *pCallbackTag,
                            const CpaCySymOpData *pOpData, const CpaBufferList *pSrcBuffer,
                            CpaBufferList *pDstBuffer, CpaBoolean *pVerifyResult)
{
    (void)pVerifyResult; /* only used in the synchronous mode, which is not modelled */
    CpaStatus st = CPA_STATUS_SUCCESS;
    struct regions dma = {0};
    struct dbl_session *s = NULL;
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    if (!inst)
        st = CPA_STATUS_INVALID_PARAM;
    else if (!inst->started)
        st = CPA_STATUS_FAIL;
    else if (!inst->v2p || !pOpData)
        st = CPA_STATUS_INVALID_PARAM;
    else if (!(s = session_of(pOpData->sessionCtx)) || s->inst != inst)
        st = CPA_STATUS_INVALID_PARAM;
    else
        st = check_op(inst, s, pOpData, pSrcBuffer, pDstBuffer, &dma);
    int fault = QATDBL_FAULT_NONE;
    if (st == CPA_STATUS_SUCCESS)
        st = take_fault(&fault);
    struct dbl_request *r = NULL;
    if (st == CPA_STATUS_SUCCESS && !(r = calloc(1, sizeof(*r))))
        st = CPA_STATUS_RESOURCE;
    if (st != CPA_STATUS_SUCCESS) {
        g_stats.rejected++;
        unlock();
        free(dma.v);
        return st;
    }
    r->session = s;
    r->tag = pCallbackTag;
    r->op_user = pOpData;
    r->op = *pOpData;
    r->src = pSrcBuffer;
    r->dst = pDstBuffer;
    r->fault = fault;
    r->dma = dma;
    if (inst->tail)
        inst->tail->next = r;
    else
        inst->head = r;
    inst->tail = r;
    inst->in_flight++;
    s->pending++;
    g_stats.submitted++;
    unlock();
    return CPA_STATUS_SUCCESS;
}

int dbl_pinned(const void *p, size_t len)
{
    lock();
    int ok = p && block_of(p, len) != NULL;
    unlock();
    return ok;
}

CpaStatus dbl_refuse(CpaStatus st)
{
    lock();
    g_stats.rejected++;
    unlock();
    return st;
}

CpaStatus dbl_submit_asym(CpaInstanceHandle instanceHandle, const struct dbl_dma *dma,
                          size_t ndma, dbl_run_fn run, void *state)
{
    CpaStatus st = CPA_STATUS_SUCCESS;
    struct regions regions = {0};
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    if (!inst)
        st = CPA_STATUS_INVALID_PARAM;
    else if (!inst->started)
        st = CPA_STATUS_FAIL;
    else if (!inst->v2p)
        st = CPA_STATUS_INVALID_PARAM;
    for (size_t i = 0; st == CPA_STATUS_SUCCESS && i < ndma; i++)
        st = check_ptr(inst, dma[i].p, dma[i].len, &regions);
    int fault = QATDBL_FAULT_NONE;
    if (st == CPA_STATUS_SUCCESS)
        st = take_fault(&fault);
    struct dbl_request *r = NULL;
    if (st == CPA_STATUS_SUCCESS && !(r = calloc(1, sizeof(*r))))
        st = CPA_STATUS_RESOURCE;
    if (st != CPA_STATUS_SUCCESS) {
        g_stats.rejected++;
        unlock();
        free(regions.v);
        free(state);
        return st;
    }
    r->run = run;
    r->state = state;
    r->fault = fault;
    r->dma = regions;
    if (inst->tail)
        inst->tail->next = r;
    else
        inst->head = r;
    inst->tail = r;
    inst->in_flight++;
    g_stats.submitted++;
    unlock();
    return CPA_STATUS_SUCCESS;
}

static void gather(const CpaBufferList *l, uint8_t *out)
{
    for (uint32_t i = 0; i < l->numBuffers; i++) {
        const CpaFlatBuffer *b = &l->pBuffers[i];
        if (b->dataLenInBytes) {
            memcpy(out, b->pData, b->dataLenInBytes);
            out += b->dataLenInBytes;
        }
    }
}

static void scatter(const uint8_t *in, CpaBufferList *l)
{
    for (uint32_t i = 0; i < l->numBuffers; i++) {
        CpaFlatBuffer *b = &l->pBuffers[i];
        if (b->dataLenInBytes) {
            memcpy(b->pData, in, b->dataLenInBytes);
            in += b->dataLenInBytes;
        }
    }
}

static const EVP_CIPHER *cipher_of(const struct dbl_session *s)
{
    switch (s->kind) {
    case K_CBC:
        return s->key_len == 16 ? EVP_aes_128_cbc()
               : s->key_len == 24 ? EVP_aes_192_cbc()
                                  : EVP_aes_256_cbc();
    case K_XTS:
        return s->key_len == 32 ? EVP_aes_128_xts() : EVP_aes_256_xts();
    case K_GCM:
        return s->key_len == 16 ? EVP_aes_128_gcm()
               : s->key_len == 24 ? EVP_aes_192_gcm()
                                  : EVP_aes_256_gcm();
    case K_CHACHAPOLY:
        return EVP_chacha20_poly1305();
    default:
        return NULL;
    }
}

/* Runs the cipher over in[0..len) into out; for AEADs also the AAD and the tag. Returns 1 on
 * success, 0 on an EVP error, -1 when an AEAD tag does not verify. */
static int run_cipher(const struct dbl_session *s, const CpaCySymOpData *op, const uint8_t *in,
                      uint8_t *out, size_t len, uint8_t *tag)
{
    int enc = s->dir == CPA_CY_SYM_CIPHER_DIRECTION_ENCRYPT, aead = s->kind >= K_GCM, n, ok = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return 0;
    if (!EVP_CipherInit_ex(ctx, cipher_of(s), NULL, NULL, NULL, enc))
        goto out;
    if (aead && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL))
        goto out;
    if (!EVP_CipherInit_ex(ctx, NULL, NULL, s->key, op->pIv, enc))
        goto out;
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    if (aead && s->aad_len &&
        !EVP_CipherUpdate(ctx, NULL, &n, op->pAdditionalAuthData, (int)s->aad_len))
        goto out;
    if (len && !EVP_CipherUpdate(ctx, out, &n, in, (int)len))
        goto out;
    if (aead && !enc &&
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)s->digest_len, tag))
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + len, &n) <= 0) {
        ok = aead && !enc ? -1 : 0;
        goto out;
    }
    if (aead && enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)s->digest_len, tag))
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static int run_hash(const struct dbl_session *s, const uint8_t *in, size_t len, uint8_t *md)
{
    static const uint8_t empty_key[1];
    unsigned int n = 0;
    if (s->kind == K_HMAC)
        return HMAC(hash_md(s->hash), s->auth_key_len ? s->auth_key : empty_key,
                    (int)s->auth_key_len, in, len, md, &n) != NULL;
    return EVP_Digest(in, len, md, &n, hash_md(s->hash), NULL);
}

/* What the device does with one request; the data is read here, not at submit. */
static void process(struct dbl_request *r, CpaStatus *status, CpaBoolean *verify)
{
    const struct dbl_session *s = r->session;
    const CpaCySymOpData *op = &r->op;
    *status = CPA_STATUS_SUCCESS;
    *verify = CPA_TRUE;
    if (r->fault == QATDBL_FAULT_FAIL_IN_CALLBACK) {
        *status = CPA_STATUS_FAIL;
        *verify = CPA_FALSE;
        return;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < r->src->numBuffers; i++)
        total += r->src->pBuffers[i].dataLenInBytes;
    uint8_t *in = malloc(total + 1), *out = malloc(total + 64);
    if (!in || !out) {
        *status = CPA_STATUS_FAIL;
        goto done;
    }
    gather(r->src, in);
    /* out of place: what lies outside the regions is copied to the destination */
    memcpy(out, in, total);
    int verify_fault = r->fault == QATDBL_FAULT_VERIFY_FAILS && s->verify;
    if (s->kind == K_HASH || s->kind == K_HMAC) {
        size_t off = op->hashStartSrcOffsetInBytes, len = op->messageLenToHashInBytes;
        uint8_t md[EVP_MAX_MD_SIZE];
        if (!run_hash(s, in + off, len, md)) {
            *status = CPA_STATUS_FAIL;
            goto done;
        }
        if (s->verify)
            *verify = !verify_fault && !CRYPTO_memcmp(md, op->pDigestResult, s->digest_len);
        else if (s->digest_appended)
            memcpy(out + off + len, md, s->digest_len);
        else
            memcpy(op->pDigestResult, md, s->digest_len);
    } else {
        size_t off = op->cryptoStartSrcOffsetInBytes, len = op->messageLenToCipherInBytes;
        int aead = s->kind == K_GCM || s->kind == K_CHACHAPOLY;
        uint8_t tag[16] = {0};
        if (aead && s->verify)
            memcpy(tag, s->digest_appended ? in + off + len : op->pDigestResult, s->digest_len);
        int ok = run_cipher(s, op, in + off, out + off, len, tag);
        if (ok == 0) {
            *status = CPA_STATUS_FAIL;
            goto done;
        }
        if (aead && s->verify && (ok < 0 || verify_fault)) {
            *verify = CPA_FALSE;
            memset(out + off, 0, len); /* the header: the message buffer is zeroed */
        } else if (aead && !s->verify) {
            if (s->digest_appended)
                memcpy(out + off + len, tag, s->digest_len);
            else
                memcpy(op->pDigestResult, tag, s->digest_len);
        }
    }
    scatter(out, r->dst);
done:
    free(in);
    free(out);
}

CpaStatus icp_sal_CyPollInstance(CpaInstanceHandle instanceHandle, Cpa32U response_quota)
{
    lock();
    struct dbl_instance *inst = instance_of(instanceHandle);
    int started = inst && inst->started;
    unlock();
    if (!inst)
        return CPA_STATUS_INVALID_PARAM;
    if (!started)
        return CPA_STATUS_FAIL;
    Cpa32U done = 0;
    pthread_mutex_lock(&inst->poll_lock);
    while (response_quota == 0 || done < response_quota) {
        lock();
        struct dbl_request *r = inst->head;
        if (r) {
            inst->head = r->next;
            if (!inst->head)
                inst->tail = NULL;
        }
        unlock();
        if (!r)
            break;
        if (!r->session) {
            /* a public-key request: its run function computes and calls back; it stays in
             * flight until then (the instance cannot stop while its buffers are read) */
            lock();
            g_stats.completed++;
            g_stats.callbacks++;
            unlock();
            t_in_poll++;
            r->run(r->state, r->fault);
            t_in_poll--;
            lock();
            if (inst->in_flight)
                inst->in_flight--;
            unlock();
            request_free(r);
            done++;
            continue;
        }
        CpaStatus status;
        CpaBoolean verify;
        process(r, &status, &verify);
        lock();
        /* the request leaves the session before its callback, which may remove the session */
        CpaCySymCbFunc cb = r->session->cb;
        CpaCySymOp op_type = r->session->op;
        r->session->pending--;
        if (inst->in_flight) /* a reset may have zeroed it meanwhile */
            inst->in_flight--;
        g_stats.completed++;
        g_stats.callbacks++;
        unlock();
        t_in_poll++;
        cb(r->tag, status, op_type, (void *)r->op_user, r->dst, verify);
        t_in_poll--;
        request_free(r);
        done++;
    }
    pthread_mutex_unlock(&inst->poll_lock);
    return done ? CPA_STATUS_SUCCESS : CPA_STATUS_RETRY;
}
