//! Pinned (DMA-able) memory from qatlib's memory driver (`qaeMemAllocNUMA`), and a pool of
//! staging buffers reused across requests.

use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};

use qat_sys::qatlib as cpa;

use super::QatlibError;

/// Alignment of every pinned allocation: a cache line, which also satisfies the device's
/// 8-byte preference for data and 16-byte blocks.
pub(super) const ALIGN: usize = 64;

/// A pinned allocation, freed with `qaeMemFreeNUMA`; with `zero_on_free` it is zeroed first
/// (session contexts hold key material).
pub(super) struct Pinned {
    ptr: NonNull<u8>,
    len: usize,
    zero_on_free: bool,
}

// SAFETY: `Pinned` owns its allocation exclusively; the memory driver's free may run on any
// thread.
unsafe impl Send for Pinned {}
// SAFETY: `&Pinned` only gives out the raw pointer; writes through it are the caller's unsafe
// responsibility.
unsafe impl Sync for Pinned {}

impl Pinned {
    /// `len` bytes (at least one) of pinned memory on `node`, aligned to [`ALIGN`].
    pub(super) fn new(len: usize, node: i32, zero_on_free: bool) -> Result<Self, QatlibError> {
        let len = len.max(1);
        // SAFETY: a plain allocation call; a null result is handled.
        let raw = unsafe { cpa::qaeMemAllocNUMA(len, node, ALIGN) };
        let ptr = NonNull::new(raw.cast::<u8>()).ok_or(QatlibError::Alloc { bytes: len })?;
        Ok(Self {
            ptr,
            len,
            zero_on_free,
        })
    }

    /// The start of the allocation.
    pub(super) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Its length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Zeroes the first `len` bytes in a way the compiler keeps.
    pub(super) fn zero(&mut self, len: usize) {
        let len = len.min(self.len);
        // SAFETY: the range lies inside the allocation, which `&mut self` holds exclusively.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr(), 0, len) };
        // The writes above must happen even though the memory is about to be freed or reused.
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.zero_on_free {
            self.zero(self.len);
        }
        let mut raw = self.ptr.as_ptr().cast::<std::ffi::c_void>();
        // SAFETY: the pointer came from qaeMemAllocNUMA and is freed once, here.
        unsafe { cpa::qaeMemFreeNUMA(&mut raw) };
    }
}

/// Buffers no larger than this go back to the pool; larger ones are freed after the request.
pub(super) const KEEP_MAX: usize = 256 << 10;
/// At most this many buffers wait in one pool (per instance): enough for the requests a few
/// busy threads keep in flight, small enough that an idle process holds little pinned memory
/// (at most 32 × 256 KiB = 8 MiB per instance).
pub(super) const KEEP_COUNT: usize = 32;
/// The smallest staging buffer allocated: sizes are rounded up to a power of two from here so
/// that buffers fit the next request of a similar size.
const MIN_BUFFER: usize = 4 << 10;

/// Staging buffers for one instance's NUMA node.
pub(super) struct Pool {
    node: i32,
    free: Mutex<Vec<Pinned>>,
}

impl Pool {
    pub(super) fn new(node: i32) -> Self {
        Self {
            node,
            free: Mutex::new(Vec::new()),
        }
    }

    /// A buffer of at least `len` bytes: a kept one if one fits, else a new one.
    pub(super) fn get(&self, len: usize) -> Result<Pinned, QatlibError> {
        {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            // The smallest kept buffer that fits.
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.len() >= len)
                .min_by_key(|(_, b)| b.len())
                .map(|(i, _)| i);
            if let Some(i) = best {
                return Ok(free.swap_remove(i));
            }
        }
        let size = if len <= KEEP_MAX {
            len.max(MIN_BUFFER).next_power_of_two()
        } else {
            len
        };
        Pinned::new(size, self.node, false)
    }

    /// Gives a buffer back after a request that used its first `used` bytes: they are zeroed
    /// (they held the caller's data), and the buffer is kept if it is small enough and the pool
    /// is not full, else freed.
    pub(super) fn put(&self, mut buffer: Pinned, used: usize) {
        buffer.zero(used);
        if buffer.len() > KEEP_MAX {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < KEEP_COUNT {
            free.push(buffer);
        }
    }

    /// How many buffers are kept.
    #[cfg(test)]
    pub(super) fn kept(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
