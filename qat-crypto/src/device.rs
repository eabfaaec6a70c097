//! The crypto device probe and the sessions one key holds, shared by the device backends of
//! [`aead`](crate::aead), [`cipher`](crate::cipher), [`hash`](crate::hash) and
//! [`mac`](crate::mac), and (the probe alone) of [`rsa`](crate::rsa), [`ecdsa`](crate::ecdsa)
//! and [`ecdh`](crate::ecdh). A key asks for the qatlib service once (qatlib remembers a failed
//! start for the process, so a host without a device pays for the probe once) and keeps the
//! sessions it made, keyed by what the device fixes per session (direction, AAD length).

use std::sync::{Arc, Mutex, OnceLock};

use crate::crypto::{Error, Operation};
use crate::qat::qatlib::{self, Offers, QatlibError, Service, SymSession, SymSetup};

/// At most this many sessions per key; beyond it the oldest is dropped (removed from the
/// device once no request uses it). Only AEAD keys used with many AAD lengths get there.
const MAX_SESSIONS: usize = 8;

/// Which of an instance's services a key needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Symmetric crypto (sessions).
    Sym,
    /// Public-key crypto (RSA, ECDSA, ECDH).
    Asym,
}

impl Needs {
    fn met_by(self, offers: Offers) -> bool {
        match self {
            Needs::Sym => offers.sym,
            Needs::Asym => offers.asym,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Needs::Sym => "symmetric crypto",
            Needs::Asym => "public-key crypto",
        }
    }
}

/// The qatlib service as one key sees it: asked for once, on first need.
pub(crate) struct Probe {
    needs: Needs,
    service: OnceLock<Option<Arc<Service>>>,
}

impl Probe {
    pub(crate) fn new(needs: Needs) -> Probe {
        Probe {
            needs,
            service: OnceLock::new(),
        }
    }

    /// The service, started (or joined) on first need, if it offers what the key needs.
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
            Some(service) if self.needs.met_by(service.offers()) => Ok(service),
            Some(_) => Err(QatlibError::NoInstance {
                service: self.needs.name(),
            }),
            // The failure is remembered by qatlib::service: asking again gives its error
            // without starting anything.
            None => Err(qatlib::service()
                .err()
                .unwrap_or(QatlibError::NoInstance { service: "crypto" })),
        }
    }

    /// Why `qat` cannot serve `algorithm`, if no device is up: the error `with_backend` gives.
    pub(crate) fn check(&self, algorithm: &'static str) -> Result<(), Error> {
        self.service()
            .map(|_| ())
            .map_err(|e| Error::no_device(Operation::Backend, algorithm, e.to_string(), e.kind()))
    }

    /// Whether a device with an instance offering what the key needs is up.
    pub(crate) fn up(&self) -> bool {
        self.service().is_ok()
    }
}

/// The device as one symmetric key sees it: the probe and the sessions.
pub(crate) struct KeySessions<K> {
    probe: Probe,
    sessions: Mutex<Vec<(K, Arc<SymSession>)>>,
}

impl<K: Copy + PartialEq> KeySessions<K> {
    pub(crate) fn new() -> Self {
        KeySessions {
            probe: Probe::new(Needs::Sym),
            sessions: Mutex::new(Vec::new()),
        }
    }

    /// Why `qat` cannot serve `algorithm`, if no device is up.
    pub(crate) fn check(&self, algorithm: &'static str) -> Result<(), Error> {
        self.probe.check(algorithm)
    }

    /// Whether a device with symmetric crypto is up.
    pub(crate) fn up(&self) -> bool {
        self.probe.up()
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
        SymSession::new(self.probe.service()?, setup)
    }
}
