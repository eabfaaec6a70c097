//! The crypto device probe and the sessions one key holds, shared by the device backends of
//! [`aead`](crate::aead), [`cipher`](crate::cipher), [`hash`](crate::hash) and
//! [`mac`](crate::mac). A key asks for the qatlib service once (qatlib remembers a failed
//! start for the process, so a host without a device pays for the probe once) and keeps the
//! sessions it made, keyed by what the device fixes per session (direction, AAD length).

use std::sync::{Arc, Mutex, OnceLock};

use crate::crypto::{Error, Operation};
use crate::qat::qatlib::{self, QatlibError, Service, SymSession, SymSetup};

/// At most this many sessions per key; beyond it the oldest is dropped (removed from the
/// device once no request uses it). Only AEAD keys used with many AAD lengths get there.
const MAX_SESSIONS: usize = 8;

/// The device as one key sees it.
pub(crate) struct KeySessions<K> {
    service: OnceLock<Option<Arc<Service>>>,
    sessions: Mutex<Vec<(K, Arc<SymSession>)>>,
}

impl<K: Copy + PartialEq> KeySessions<K> {
    pub(crate) fn new() -> Self {
        KeySessions {
            service: OnceLock::new(),
            sessions: Mutex::new(Vec::new()),
        }
    }

    /// The service, started (or joined) on first need.
    pub(crate) fn service(&self) -> Result<&Arc<Service>, QatlibError> {
        let started = || match qatlib::service() {
            Ok(service) => {
                tracing::debug!(instances = service.instances(), "qatlib crypto service up");
                Some(service)
            }
            Err(e) => {
                tracing::debug!(error = %e, "no qatlib crypto service");
                None
            }
        };
        match self.service.get_or_init(started) {
            Some(service) => Ok(service),
            // The failure is remembered by qatlib::service: asking again gives its error
            // without starting anything.
            None => Err(qatlib::service().err().unwrap_or(QatlibError::NoInstance)),
        }
    }

    /// Why `qat` cannot serve `algorithm`, if no device is up: the error `with_backend` gives.
    pub(crate) fn check(&self, algorithm: &'static str) -> Result<(), Error> {
        self.service()
            .map(|_| ())
            .map_err(|e| Error::no_device(Operation::Backend, algorithm, e.to_string(), e.kind()))
    }

    /// Whether a device with a crypto instance is up.
    pub(crate) fn up(&self) -> bool {
        self.service().is_ok()
    }

    /// The session for `key`, set up with `setup` on first need.
    pub(crate) fn session(
        &self,
        key: K,
        setup: impl FnOnce() -> Result<SymSession, QatlibError>,
    ) -> Result<Arc<SymSession>, QatlibError> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, s)) = sessions.iter().find(|(k, _)| *k == key) {
            return Ok(Arc::clone(s));
        }
        let session = Arc::new(setup()?);
        if sessions.len() == MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push((key, Arc::clone(&session)));
        Ok(session)
    }

    /// Sets up a session for `setup` on this key's service.
    pub(crate) fn new_session(&self, setup: &SymSetup<'_>) -> Result<SymSession, QatlibError> {
        SymSession::new(self.service()?, setup)
    }
}
