//! What the published-vector suites share (`crypto_vectors.rs`, `asym_vectors.rs`, each with
//! `mod vectors;`): the count of cases run and skipped, with the reasons, per set and backend.

// Each suite is a crate of its own and uses only some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;

use qat_crypto::Backend;

/// What ran and what was skipped (and why), per set and backend.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) passed: usize,
    skipped: BTreeMap<&'static str, usize>,
    /// Requests the device served (from the keys' served counts), where a suite tallies them.
    pub(crate) on_device: u64,
}

impl Counts {
    pub(crate) fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Prints the counts (`cargo test -- --nocapture` shows them) and checks that every one
    /// of the set's `total` cases was either run or skipped for a reason, and that some ran.
    pub(crate) fn report(&self, set: &str, backend: Backend, total: usize) {
        println!(
            "wycheproof {set} on {backend}: {} of {total} passed ({} requests served by the device)",
            self.passed, self.on_device
        );
        for (reason, n) in &self.skipped {
            println!("    {n} skipped: {reason}");
        }
        assert_eq!(
            self.passed + self.skipped.values().sum::<usize>(),
            total,
            "every case is counted"
        );
        assert!(self.passed > 0, "{set} on {backend}: nothing ran");
    }

    /// Checks, for a suite that tallies `on_device`, that the device served requests exactly
    /// where it should: never on `cpu`, and on `auto` and `qat` when the device backend is
    /// built in (the CPA test double serves it).
    pub(crate) fn check_device_served(&self, set: &str, backend: Backend) {
        let expected = backend != Backend::Cpu && cfg!(feature = "qatlib");
        assert_eq!(
            self.on_device > 0,
            expected,
            "{set} on {backend}: device served {}",
            self.on_device
        );
    }
}
