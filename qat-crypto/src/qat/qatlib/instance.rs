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
    /// The NUMA node its pinned memory comes from.
    pub(super) node: i32,
    /// `cpaCyBufferListGetMetaSize` for a one-buffer list.
    pub(super) meta_size: usize,
    pub(super) pool: Pool,
    pub(super) poller: Poller,
}

/// qatlib, started, with every crypto instance that does symmetric crypto started and polled.
/// Shared through [`service`](super::service); the last `Arc` stops it.
pub(crate) struct Service {
    instances: Vec<Instance>,
    /// Round-robin cursor for new sessions.
    next: AtomicUsize,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("instances", &self.instances.len())
            .finish()
    }
}

impl Service {
    /// The number of started instances with symmetric crypto.
    pub(crate) fn instances(&self) -> usize {
        self.instances.len()
    }

    /// The instance with this index.
    pub(super) fn instance(&self, index: usize) -> &Instance {
        &self.instances[index]
    }

    /// The instance a new session goes to (round robin).
    pub(super) fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.instances.len()
    }

    /// Starts qatlib and every crypto instance with symmetric crypto.
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
        for handle in sym_handles()? {
            started.instances.push(start_instance(handle)?);
        }
        if started.instances.is_empty() {
            return Err(QatlibError::NoInstance);
        }
        tracing::debug!(instances = started.instances.len(), "qatlib started");
        Ok(Service {
            instances: started.take(),
            next: AtomicUsize::new(0),
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

/// The crypto instances that offer symmetric crypto.
fn sym_handles() -> Result<Vec<(Handle, i32)>, QatlibError> {
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
    let mut sym = Vec::new();
    for handle in handles {
        // SAFETY: all-zero is a valid value of this plain C struct (integers and arrays).
        let mut info: cpa::CpaInstanceInfo2 = unsafe { std::mem::zeroed() };
        // SAFETY: `handle` came from cpaCyGetInstances; `info` is a valid out-parameter.
        check("cpaCyInstanceGetInfo2", unsafe {
            cpa::cpaCyInstanceGetInfo2(handle, &mut info)
        })?;
        let service = info.accelerationServiceType;
        if service == cpa::CPA_ACC_SVC_TYPE_CRYPTO || service == cpa::CPA_ACC_SVC_TYPE_CRYPTO_SYM {
            // An out-of-range node (no affinity) means "any node", which qaeMemAllocNUMA
            // takes as 0 too.
            let node = i32::try_from(info.nodeAffinity).unwrap_or(0);
            sym.push((Handle(handle), node));
        }
    }
    Ok(sym)
}

/// Starts one instance: start, address translation, buffer-list metadata size, poller.
fn start_instance((handle, node): (Handle, i32)) -> Result<Instance, QatlibError> {
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
        node,
        meta_size: meta as usize,
        pool: Pool::new(node),
        poller,
    })
}
