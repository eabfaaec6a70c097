//! One request: a pinned staging buffer laid out for the device, the buffer list and op data
//! around it, submission with bounded retry while the ring is full, and the wait for the
//! callback the polling thread runs.

use std::ffi::c_void;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use qat_sys::qatlib as cpa;

use super::QatlibError;
use super::instance::Instance;
use super::memory::{ALIGN, Pinned};

/// Submit attempts answered with a yield before backing off with sleeps.
const RETRY_YIELDS: u32 = 16;
/// The first backoff sleep; it doubles up to [`RETRY_SLEEP_MAX`].
const RETRY_SLEEP_MIN: Duration = Duration::from_micros(10);
const RETRY_SLEEP_MAX: Duration = Duration::from_millis(1);
/// How long a request is retried while the ring stays full before giving up with `Busy`.
pub(super) const RETRY_BUDGET: Duration = Duration::from_secs(2);
/// After this long without a callback, a waiting request logs a warning (and keeps waiting:
/// the device may still write into its buffers, so they cannot be given back before it).
const SLOW_CALLBACK: Duration = Duration::from_secs(5);

/// Room for a digest or tag (the largest, SHA-512, is 64 bytes).
const DIGEST_ROOM: usize = 64;
/// Room for an IV: GCM's J0 block needs 16 bytes even for a 12-byte IV.
const IV_ROOM: usize = 16;
/// Room for AAD: at most 240 bytes, padded by the device to a multiple of 16.
pub(super) const AAD_MAX: usize = 240;
const AAD_ROOM: usize = 256;

const fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Where each part of a request lives in its staging buffer:
/// `[meta][data][digest][iv][aad]`, each part 64-byte aligned, all in one pinned allocation.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    meta: usize,
    data: usize,
    data_len: usize,
    digest: usize,
    iv: usize,
    aad: usize,
    total: usize,
}

impl Layout {
    pub(super) fn new(meta_size: usize, data_len: usize) -> Self {
        let data = align(meta_size);
        let digest = data + align(data_len);
        let iv = digest + align(DIGEST_ROOM);
        let aad = iv + align(IV_ROOM);
        let total = aad + AAD_ROOM;
        Self {
            meta: 0,
            data,
            data_len,
            digest,
            iv,
            aad,
            total,
        }
    }
}

/// A request's staging buffer (from the instance's pool, given back on drop) with its layout.
pub(super) struct Staging<'a> {
    instance: &'a Instance,
    buffer: Option<Pinned>,
    layout: Layout,
}

impl<'a> Staging<'a> {
    pub(super) fn new(instance: &'a Instance, data_len: usize) -> Result<Self, QatlibError> {
        let layout = Layout::new(instance.meta_size, data_len);
        let buffer = instance.pool.get(layout.total)?;
        Ok(Self {
            instance,
            buffer: Some(buffer),
            layout,
        })
    }

    fn at(&self, offset: usize) -> *mut u8 {
        let buffer = self
            .buffer
            .as_ref()
            .expect("the buffer is there until drop");
        // SAFETY: every layout offset lies inside the buffer (its length is at least `total`).
        unsafe { buffer.as_ptr().add(offset) }
    }

    fn region(&mut self, offset: usize, len: usize) -> &mut [u8] {
        // SAFETY: the region lies inside the buffer; `&mut self` makes this the only reference
        // to it, and no request is in flight while one is held (`perform` takes `&mut self`).
        unsafe { std::slice::from_raw_parts_mut(self.at(offset), len) }
    }

    /// The data region (exactly the request's data length).
    pub(super) fn data(&mut self) -> &mut [u8] {
        self.region(self.layout.data, self.layout.data_len)
    }

    /// The digest/tag region's first `len` bytes.
    pub(super) fn digest(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= DIGEST_ROOM);
        self.region(self.layout.digest, len)
    }

    /// The IV region (16 bytes: GCM's J0 room), the IV copied to its start and the rest zeroed.
    pub(super) fn set_iv(&mut self, iv: &[u8]) {
        let room = self.region(self.layout.iv, IV_ROOM);
        room.fill(0);
        room[..iv.len()].copy_from_slice(iv);
    }

    /// The AAD region: the AAD at its start, zero padding after it.
    pub(super) fn set_aad(&mut self, aad: &[u8]) {
        let room = self.region(self.layout.aad, AAD_ROOM);
        room.fill(0);
        room[..aad.len()].copy_from_slice(aad);
    }

    /// Submits the request described by `op` over this buffer and waits for its completion.
    /// Returns the callback's verify result (meaningful for verifying sessions only).
    pub(super) fn perform(&mut self, op: &mut Op) -> Result<bool, QatlibError> {
        let instance = self.instance;
        let data_len = u32::try_from(self.layout.data_len)
            .map_err(|_| QatlibError::rule("requests are limited to 4 GiB"))?;
        let mut flat = cpa::CpaFlatBuffer {
            dataLenInBytes: data_len,
            pData: self.at(self.layout.data),
        };
        let mut list = cpa::CpaBufferList {
            numBuffers: 1,
            pBuffers: &mut flat,
            pUserData: std::ptr::null_mut(),
            pPrivateMetaData: self.at(self.layout.meta).cast(),
        };
        let mut data = cpa::CpaCySymOpData {
            sessionCtx: op.ctx,
            packetType: cpa::CPA_CY_SYM_PACKET_TYPE_FULL,
            pIv: if op.iv_len > 0 {
                self.at(self.layout.iv)
            } else {
                std::ptr::null_mut()
            },
            ivLenInBytes: op.iv_len,
            cryptoStartSrcOffsetInBytes: 0,
            messageLenToCipherInBytes: if op.cipher { data_len } else { 0 },
            hashStartSrcOffsetInBytes: 0,
            messageLenToHashInBytes: if op.hash { data_len } else { 0 },
            pDigestResult: if op.hash {
                self.at(self.layout.digest)
            } else {
                std::ptr::null_mut()
            },
            pAdditionalAuthData: if op.aad {
                self.at(self.layout.aad)
            } else {
                std::ptr::null_mut()
            },
        };
        // In place: the same list is source and destination.
        let list: *mut cpa::CpaBufferList = &mut list;
        let completion = Completion::new();
        // The poller runs from before the submit until the completion was seen.
        let _in_flight = instance.poller.in_flight();
        submit("cpaCySymPerformOp", || {
            // SAFETY: the instance is started and `op.ctx` is a session initialised on it; the
            // op data, buffer list, flat buffer, staging buffer and completion all outlive the
            // request, because this function does not return before the callback ran (or the
            // submit failed, in which case qatlib holds none of them).
            unsafe {
                cpa::cpaCySymPerformOp(
                    instance.handle.0,
                    completion.tag(),
                    std::ptr::from_mut(&mut data).cast(),
                    list,
                    list,
                    std::ptr::null_mut(),
                )
            }
        })?;
        let (status, verified) = completion.wait();
        if status != cpa::CPA_STATUS_SUCCESS {
            return Err(QatlibError::Call {
                call: "cpaCySymPerformOp callback",
                status,
            });
        }
        Ok(verified)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.instance.pool.put(buffer, self.layout.total);
        }
    }
}

/// What a request asks of the device, besides its data.
pub(super) struct Op {
    /// The session context.
    pub(super) ctx: cpa::CpaCySymSessionCtx,
    /// IV length (0: no IV).
    pub(super) iv_len: u32,
    /// Cipher the data.
    pub(super) cipher: bool,
    /// Hash the data into (or verify it against) the digest region.
    pub(super) hash: bool,
    /// Pass the AAD region.
    pub(super) aad: bool,
}

/// Calls `submit` (the CPA call `call`) until it is not RETRY (the ring is full), yielding
/// then sleeping with a growing backoff, for at most [`RETRY_BUDGET`].
pub(super) fn submit(
    call: &'static str,
    mut submit: impl FnMut() -> cpa::CpaStatus,
) -> Result<(), QatlibError> {
    let start = Instant::now();
    let mut attempts = 0u32;
    let mut sleep = RETRY_SLEEP_MIN;
    loop {
        match submit() {
            cpa::CPA_STATUS_SUCCESS => return Ok(()),
            cpa::CPA_STATUS_RETRY => {}
            status => return Err(QatlibError::Call { call, status }),
        }
        let waited = start.elapsed();
        if waited >= RETRY_BUDGET {
            return Err(QatlibError::Busy { waited });
        }
        attempts += 1;
        if attempts <= RETRY_YIELDS {
            std::thread::yield_now();
        } else {
            std::thread::sleep(sleep);
            sleep = (sleep * 2).min(RETRY_SLEEP_MAX);
        }
    }
}

/// Where the callback leaves a request's result: on the waiting thread's stack, its address
/// passed as the callback tag.
pub(super) struct Completion {
    /// `(status, verify result)` once the callback ran.
    done: Mutex<Option<(cpa::CpaStatus, bool)>>,
    cond: Condvar,
}

impl Completion {
    pub(super) fn new() -> Self {
        Self {
            done: Mutex::new(None),
            cond: Condvar::new(),
        }
    }

    /// The tag to hand qatlib with the request.
    pub(super) fn tag(&self) -> *mut c_void {
        std::ptr::from_ref(self).cast_mut().cast()
    }

    pub(super) fn wait(&self) -> (cpa::CpaStatus, bool) {
        let start = Instant::now();
        let mut warned = false;
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = *done {
                return result;
            }
            let (guard, _) = self
                .cond
                .wait_timeout(done, SLOW_CALLBACK)
                .unwrap_or_else(PoisonError::into_inner);
            done = guard;
            if done.is_none() && !warned && start.elapsed() >= SLOW_CALLBACK {
                tracing::warn!("a qatlib request has waited {SLOW_CALLBACK:?} for its callback");
                warned = true;
            }
        }
    }
}

/// The callback every session is initialised with: records the result in the request's
/// [`Completion`] and wakes its thread.
///
/// # Safety
/// `tag` is the address of a live `Completion` whose thread waits for this call.
pub(super) unsafe extern "C" fn callback(
    tag: *mut c_void,
    status: cpa::CpaStatus,
    _operation: cpa::CpaCySymOp,
    _op_data: *mut c_void,
    _dst: *mut cpa::CpaBufferList,
    verify: cpa::CpaBoolean,
) {
    // SAFETY: as `complete` requires.
    unsafe { complete(tag, status, verify == cpa::CPA_TRUE) }
}

/// Records a request's result in its [`Completion`] and wakes its thread: what every callback
/// does.
///
/// # Safety
/// `tag` is the address of a live `Completion` whose thread waits for this call.
pub(super) unsafe fn complete(tag: *mut c_void, status: cpa::CpaStatus, flag: bool) {
    // SAFETY: the tag is the address the submitter passed, of a completion that lives until
    // its thread saw the result, which it cannot before the notify below (both happen under
    // the lock, and the guard is released last).
    let completion = unsafe { &*tag.cast::<Completion>() };
    let mut done = completion
        .done
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    *done = Some((status, flag));
    completion.cond.notify_one();
    drop(done);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_keeps_parts_apart_and_aligned() {
        let l = Layout::new(100, 33);
        assert_eq!(l.data, 128);
        assert_eq!(l.digest, 128 + 64);
        assert_eq!(l.iv, l.digest + 64);
        assert_eq!(l.aad, l.iv + 64);
        assert_eq!(l.total, l.aad + AAD_ROOM);
        for offset in [l.data, l.digest, l.iv, l.aad] {
            assert_eq!(offset % ALIGN, 0);
        }
    }

    #[test]
    fn submit_gives_up_after_the_budget_and_passes_other_errors() {
        let start = Instant::now();
        let err = submit("x", || cpa::CPA_STATUS_RETRY).unwrap_err();
        assert!(matches!(err, QatlibError::Busy { .. }), "{err}");
        assert!(start.elapsed() >= RETRY_BUDGET);
        assert_eq!(err.kind(), qat_error::ErrorKind::Busy);
        let err = submit("x", || cpa::CPA_STATUS_RESTARTING).unwrap_err();
        assert_eq!(err.kind(), qat_error::ErrorKind::DeviceFailure);
        let mut n = 0;
        submit("x", || {
            n += 1;
            if n < 40 {
                cpa::CPA_STATUS_RETRY
            } else {
                cpa::CPA_STATUS_SUCCESS
            }
        })
        .unwrap();
        assert_eq!(n, 40);
    }
}
