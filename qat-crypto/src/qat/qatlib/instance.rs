//! qatlib and its crypto instances: start, discovery, address translation, stop.

use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use qat_sys::qatlib as cpa;

use super::memory::Pool;
use super::poll::Poller;
use super::{Handle, QatlibError, check};

/// The configuration section qatlib's user-space driver reads (qatlib's default).
const SECTION: &CStr = c"SSL";

/// One started crypto instance with its poller and staging pool.
pub(super) struct Instance {
    pub(super) handle: Handle,
    /// Which services it offers.
    pub(super) offers: Offers,
    /// The NUMA node its pinned memory comes from.
    pub(super) node: i32,
    /// `cpaCyBufferListGetMetaSize` for a one-buffer list.
    pub(super) meta_size: usize,
    pub(super) pool: Pool,
    pub(super) poller: Poller,
}

/// The crypto services an instance offers (qatlib's `accelerationServiceType`: a `sym`
/// instance, an `asym` one, or a crypto instance with both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offers {
    pub(crate) sym: bool,
    pub(crate) asym: bool,
}

/// qatlib, started, with every crypto instance started and polled. Shared through
/// [`service`](super::service); the last `Arc` stops it.
pub(crate) struct Service {
    instances: Vec<Instance>,
    /// The instances with symmetric crypto, and with public-key crypto (indices).
    sym: Vec<usize>,
    asym: Vec<usize>,
    /// Round-robin cursors for new sessions and for public-key requests.
    next_sym: AtomicUsize,
    next_asym: AtomicUsize,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("instances", &self.instances.len())
            .finish()
    }
}

impl Service {
    /// The number of started crypto instances.
    pub(crate) fn instances(&self) -> usize {
        self.instances.len()
    }

    /// Whether some instance offers symmetric crypto, and some public-key crypto.
    pub(crate) fn offers(&self) -> Offers {
        Offers {
            sym: !self.sym.is_empty(),
            asym: !self.asym.is_empty(),
        }
    }

    /// The instance with this index.
    pub(super) fn instance(&self, index: usize) -> &Instance {
        &self.instances[index]
    }

    /// The instance a new symmetric session goes to (round robin).
    pub(super) fn pick_sym(&self) -> Result<usize, QatlibError> {
        pick(&self.sym, &self.next_sym, "symmetric crypto")
    }

    /// The instance a public-key request goes to (round robin).
    pub(super) fn pick_asym(&self) -> Result<usize, QatlibError> {
        pick(&self.asym, &self.next_asym, "public-key crypto")
    }

    /// Starts qatlib and every crypto instance.
    pub(super) fn start() -> Result<Service, QatlibError> {
        let _span = tracing::debug_span!("qatlib_start").entered();
        // SAFETY: SECTION is a NUL-terminated string that outlives the call.
        let status = unsafe { cpa::icp_sal_userStart(SECTION.as_ptr()) };
        if status != cpa::CPA_STATUS_SUCCESS {
            return Err(QatlibError::Start {
                call: "icp_sal_userStart",
                status,
            });
        }
        // From here on, `Started` stops whatever was started if a later step fails.
        let mut started = Started {
            instances: Vec::new(),
            user_started: true,
        };
        for handle in crypto_handles()? {
            started.instances.push(start_instance(handle)?);
        }
        if started.instances.is_empty() {
            return Err(QatlibError::NoInstance { service: "crypto" });
        }
        let instances = started.take();
        let with = |offered: fn(&Offers) -> bool| -> Vec<usize> {
            (0..instances.len())
                .filter(|&i| offered(&instances[i].offers))
                .collect()
        };
        let (sym, asym) = (with(|o| o.sym), with(|o| o.asym));
        tracing::debug!(
            instances = instances.len(),
            sym = sym.len(),
            asym = asym.len(),
            "qatlib started"
        );
        Ok(Service {
            instances,
            sym,
            asym,
            next_sym: AtomicUsize::new(0),
            next_asym: AtomicUsize::new(0),
        })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let instances = std::mem::take(&mut self.instances);
        // Sessions are gone (each held an Arc): stop polling, then the instances, then qatlib,
        // under the global lock so that no new start overlaps the stop.
        super::teardown(|| {
            let _span = tracing::debug_span!("qatlib_stop").entered();
            drop(Started {
                instances,
                user_started: true,
            });
        });
    }
}

/// What a start has set up so far; dropping it stops all of it (pollers first, then instances,
/// then qatlib).
struct Started {
    instances: Vec<Instance>,
    user_started: bool,
}

impl Started {
    fn take(mut self) -> Vec<Instance> {
        self.user_started = false;
        std::mem::take(&mut self.instances)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            instance.poller.stop();
        }
        for instance in self.instances.drain(..) {
            let handle = instance.handle;
            // Staging buffers are freed while qatlib's memory driver is still open.
            drop(instance);
            // SAFETY: the instance was started by `start_instance`; its sessions are removed
            // and its poller has stopped.
            let status = unsafe { cpa::cpaCyStopInstance(handle.0) };
            if status != cpa::CPA_STATUS_SUCCESS {
                tracing::warn!(status, "cpaCyStopInstance failed");
            }
        }
        if self.user_started {
            // SAFETY: icp_sal_userStart succeeded and every instance is stopped.
            let status = unsafe { cpa::icp_sal_userStop() };
            if status != cpa::CPA_STATUS_SUCCESS {
                tracing::warn!(status, "icp_sal_userStop failed");
            }
        }
    }
}

/// The next of `indices` in round-robin order, or `NoInstance` naming `service`.
fn pick(
    indices: &[usize],
    next: &AtomicUsize,
    service: &'static str,
) -> Result<usize, QatlibError> {
    if indices.is_empty() {
        return Err(QatlibError::NoInstance { service });
    }
    Ok(indices[next.fetch_add(1, Ordering::Relaxed) % indices.len()])
}

/// The crypto instances, with what each offers and its NUMA node.
fn crypto_handles() -> Result<Vec<(Handle, Offers, i32)>, QatlibError> {
    let mut count: cpa::Cpa16U = 0;
    // SAFETY: `count` is a valid out-parameter.
    check("cpaCyGetNumInstances", unsafe {
        cpa::cpaCyGetNumInstances(&mut count)
    })?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut handles: Vec<cpa::CpaInstanceHandle> = vec![std::ptr::null_mut(); count.into()];
    // SAFETY: `handles` has room for exactly `count` handles.
    check("cpaCyGetInstances", unsafe {
        cpa::cpaCyGetInstances(count, handles.as_mut_ptr())
    })?;
    let mut crypto = Vec::new();
    for handle in handles {
        // SAFETY: all-zero is a valid value of this plain C struct (integers and arrays).
        let mut info: cpa::CpaInstanceInfo2 = unsafe { std::mem::zeroed() };
        // SAFETY: `handle` came from cpaCyGetInstances; `info` is a valid out-parameter.
        check("cpaCyInstanceGetInfo2", unsafe {
            cpa::cpaCyInstanceGetInfo2(handle, &mut info)
        })?;
        let service = info.accelerationServiceType;
        let offers = Offers {
            sym: service == cpa::CPA_ACC_SVC_TYPE_CRYPTO
                || service == cpa::CPA_ACC_SVC_TYPE_CRYPTO_SYM,
            asym: service == cpa::CPA_ACC_SVC_TYPE_CRYPTO
                || service == cpa::CPA_ACC_SVC_TYPE_CRYPTO_ASYM,
        };
        if offers.sym || offers.asym {
            // An out-of-range node (no affinity) means "any node", which qaeMemAllocNUMA
            // takes as 0 too.
            let node = i32::try_from(info.nodeAffinity).unwrap_or(0);
            crypto.push((Handle(handle), offers, node));
        }
    }
    Ok(crypto)
}

/// Starts one instance: start, address translation, buffer-list metadata size, poller.
fn start_instance((handle, offers, node): (Handle, Offers, i32)) -> Result<Instance, QatlibError> {
    // SAFETY: `handle` came from cpaCyGetInstances after icp_sal_userStart.
    check("cpaCyStartInstance", unsafe {
        cpa::cpaCyStartInstance(handle.0)
    })?;
    let stop = |error| {
        // SAFETY: the instance was started just above and nothing uses it yet.
        unsafe { cpa::cpaCyStopInstance(handle.0) };
        error
    };
    // SAFETY: qaeVirtToPhysNUMA has the translation function's signature and works on every
    // address qaeMemAllocNUMA returned, which is all the memory this layer hands to qatlib.
    let status = unsafe { cpa::cpaCySetAddressTranslation(handle.0, Some(cpa::qaeVirtToPhysNUMA)) };
    check("cpaCySetAddressTranslation", status).map_err(stop)?;
    let mut meta: cpa::Cpa32U = 0;
    // SAFETY: the instance is started; `meta` is a valid out-parameter.
    let status = unsafe { cpa::cpaCyBufferListGetMetaSize(handle.0, 1, &mut meta) };
    check("cpaCyBufferListGetMetaSize", status).map_err(stop)?;
    let poller = Poller::start(handle).map_err(stop)?;
    Ok(Instance {
        handle,
        offers,
        node,
        meta_size: meta as usize,
        pool: Pool::new(node),
        poller,
    })
}
