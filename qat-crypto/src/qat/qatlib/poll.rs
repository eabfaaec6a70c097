//! The polling thread of one instance: it runs `icp_sal_CyPollInstance` (which calls the
//! requests' callbacks) while requests are in flight, and parks on a condition variable when
//! none is, so an idle process uses no CPU.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use qat_sys::qatlib as cpa;

use super::{Handle, QatlibError};

/// Empty polls in a row answered with a yield before the poller starts sleeping between polls.
const YIELDS: u32 = 64;
/// The sleep between empty polls after that: short against a device's tens of microseconds per
/// request, long enough not to burn a core while a request is being processed.
const IDLE_SLEEP: Duration = Duration::from_micros(20);

/// State shared between the poller and the submitters.
struct Shared {
    /// Requests submitted (or being submitted) and not yet completed.
    in_flight: AtomicUsize,
    stop: AtomicBool,
    /// Guards the park/wake handshake (the counter itself is atomic).
    lock: Mutex<()>,
    wake: Condvar,
}

/// One instance's polling thread; [`stop`](Poller::stop) (or drop) stops and joins it.
pub(super) struct Poller {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    pub(super) fn start(handle: Handle) -> Result<Self, QatlibError> {
        let shared = Arc::new(Shared {
            in_flight: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("qat-poll".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(handle, &shared)
            })
            .map_err(|e| QatlibError::Spawn {
                message: e.to_string(),
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Marks a request in flight until the returned guard drops: the poller runs meanwhile.
    /// Taken before submitting, so that the response of a request is never left unpolled.
    pub(super) fn in_flight(&self) -> InFlight<'_> {
        if self.shared.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            // Taking the lock orders this wake after the poller's check-then-wait.
            let _guard = self
                .shared
                .lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.shared.wake.notify_one();
        }
        InFlight {
            shared: &self.shared,
        }
    }

    /// Stops and joins the thread (idempotent).
    pub(super) fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _guard = self
                .shared
                .lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.shared.wake.notify_one();
        }
        if thread.join().is_err() {
            tracing::warn!("the qatlib polling thread panicked");
        }
    }

    /// Requests in flight now.
    #[cfg(test)]
    pub(super) fn pending(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A request in flight; dropping it (after its completion, or after a failed submit) lets the
/// poller park once nothing else is.
pub(super) struct InFlight<'a> {
    shared: &'a Shared,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn run(handle: Handle, shared: &Shared) {
    let mut empty = 0u32;
    let mut warned = false;
    loop {
        if shared.in_flight.load(Ordering::SeqCst) == 0 {
            let mut guard = shared.lock.lock().unwrap_or_else(PoisonError::into_inner);
            while shared.in_flight.load(Ordering::SeqCst) == 0
                && !shared.stop.load(Ordering::SeqCst)
            {
                guard = shared
                    .wake
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            empty = 0;
        }
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: the instance is started and stays so until this thread is joined; a quota of
        // 0 reads every response on the ring.
        let status = unsafe { cpa::icp_sal_CyPollInstance(handle.0, 0) };
        match status {
            cpa::CPA_STATUS_SUCCESS => empty = 0,
            cpa::CPA_STATUS_RETRY => {
                // Nothing on the ring yet.
                empty = empty.saturating_add(1);
                if empty < YIELDS {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(IDLE_SLEEP);
                }
            }
            status => {
                // FAIL or RESTARTING: keep polling (a restarted device answers again); the
                // requests in flight get their status through their callbacks.
                if !warned {
                    tracing::warn!(status, "icp_sal_CyPollInstance failed");
                    warned = true;
                }
                std::thread::sleep(IDLE_SLEEP);
            }
        }
    }
}
