//! What the published-vector suites share (`crypto_vectors.rs`, `asym_vectors.rs`, each with
//! `mod vectors;`): the count of cases run and skipped, with the reasons, per set and backend.

use std::collections::BTreeMap;

use qat_crypto::Backend;

/// What ran and what was skipped (and why), per set and backend.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) passed: usize,
    skipped: BTreeMap<&'static str, usize>,
}

impl Counts {
    pub(crate) fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Prints the counts (`cargo test -- --nocapture` shows them) and checks that every one
    /// of the set's `total` cases was either run or skipped for a reason, and that some ran.
    pub(crate) fn report(&self, set: &str, backend: Backend, total: usize) {
        println!(
            "wycheproof {set} on {backend}: {} of {total} passed",
            self.passed
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
}
