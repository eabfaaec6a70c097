/*
 * qat-cpa-double: what the double's C files share (not part of its control API).
 */
#ifndef QAT_CPA_DOUBLE_INTERNAL_H
#define QAT_CPA_DOUBLE_INTERNAL_H

#include <stddef.h>

#include <qat/cpa.h>

/* A region of a request the device reads or writes: it must be pinned and translated. */
struct dbl_dma {
    const void *p;
    size_t len;
};

/* Computes a queued public-key request (from its state) and calls its callback; runs on the
 * polling thread. `fault` is the fault it was given at submit (QATDBL_FAULT_*). */
typedef void (*dbl_run_fn)(void *state, int fault);

/* Queues a public-key request on the instance after checking the instance and every region,
 * and applying an injected fault: CPA_STATUS_SUCCESS when queued (the request owns `state`,
 * malloc'd, freed after `run`), else the status to return (and `state` is freed). */
CpaStatus dbl_submit_asym(CpaInstanceHandle instanceHandle, const struct dbl_dma *dma,
                          size_t ndma, dbl_run_fn run, void *state);

/* Whether [p, p+len) lies in one live pinned block: what a check may read at submit. */
int dbl_pinned(const void *p, size_t len);

/* Counts a public-key submission refused before it reached dbl_submit_asym; returns `st`. */
CpaStatus dbl_refuse(CpaStatus st);

#endif
