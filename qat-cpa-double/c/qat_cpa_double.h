/*
 * qat-cpa-double: control API of the test double (fault injection and counters).
 * The CPA functions themselves are declared by qatlib's own headers.
 */
#ifndef QAT_CPA_DOUBLE_H
#define QAT_CPA_DOUBLE_H

#include <stdint.h>

/* Faults the next submissions of cpaCySymPerformOp can be given. */
enum qatdbl_fault {
    QATDBL_FAULT_NONE = 0,
    QATDBL_FAULT_RETRY = 1,            /* submit returns CPA_STATUS_RETRY (ring full) */
    QATDBL_FAULT_FAIL = 2,             /* submit returns CPA_STATUS_FAIL */
    QATDBL_FAULT_RESTARTING = 3,       /* submit returns CPA_STATUS_RESTARTING */
    QATDBL_FAULT_FAIL_IN_CALLBACK = 4, /* accepted; its callback gets CPA_STATUS_FAIL */
    QATDBL_FAULT_VERIFY_FAILS = 5,     /* accepted; a verifying op reports verifyResult false */
    QATDBL_FAULT_WRONG_RESULT = 6      /* accepted; a public-key result comes back wrong */
};

/* Counters since the last reset (event counts) and current levels (live_*, in_flight). */
struct qatdbl_stats {
    uint64_t submitted;         /* perform-op calls accepted (queued) */
    uint64_t rejected;          /* perform-op calls refused, whatever the status */
    uint64_t completed;         /* requests the "device" processed */
    uint64_t callbacks;         /* callbacks fired (always from icp_sal_CyPollInstance) */
    uint64_t in_flight;         /* requests queued and not yet completed */
    uint64_t live_sessions;     /* sessions initialised and not removed */
    uint64_t live_pinned;       /* qaeMemAllocNUMA blocks not freed */
    uint64_t live_pinned_bytes; /* their total size */
    uint64_t violations;        /* contract breaches that have no return code */
    uint64_t dropped;           /* queued requests discarded by stop/reset without callback */
};

void qatdbl_reset(void);
void qatdbl_set_instances(uint32_t n);
void qatdbl_inject(int fault, uint32_t skip, uint32_t count);
void qatdbl_stats(struct qatdbl_stats *out);
int qatdbl_in_poll(void);
uint32_t qatdbl_session_ctx_size(void);

#endif
