//! Running a plan as a transaction: journal of inverses, rollback newest first, a report.

use serde::Serialize;

use super::lock::ProvisionLock;
use super::plan::{Desired, Plan, plan};
use super::snapshot::Snapshot;
use super::step::Step;
use crate::error::Error;
use crate::host::HostEnv;

/// A failed step and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepFailure {
    /// The step.
    pub step: Step,
    /// What it does, for people.
    pub description: String,
    /// The error, with its causes joined by ": ".
    pub message: String,
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every step ran and was verified.
    pub ok: bool,
    /// Whether steps were run: not when the host could not be read before the first one (then
    /// nothing was changed, and nothing could be verified either).
    pub started: bool,
    /// Steps that completed (on failure: before the failing one; all of them were undone).
    pub steps_done: Vec<Step>,
    /// The step that failed, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StepFailure>,
    /// The inverse steps run during rollback, in the order they ran.
    pub rolled_back: Vec<Step>,
    /// Inverse steps that failed too. Empty when rollback was clean.
    pub rollback_failures: Vec<StepFailure>,
    /// After a rollback, what re-reading the host found different from before the apply (or
    /// why it could not be re-read). Empty when it reads as it did.
    pub still_changed: Vec<String>,
}

impl Report {
    /// Whether a failed apply left the host as it was, verified by re-reading everything the
    /// plan could change (also when an undo step failed but a later one restored its part).
    pub fn restored(&self) -> bool {
        self.started && self.error.is_some() && self.still_changed.is_empty()
    }

    /// What a failed apply left, in the words qatctl and the device plugin report it with:
    /// `nothing was changed`, `rolled back`, or that the rollback is incomplete. `None` when
    /// the apply succeeded.
    pub fn failed_outcome(&self) -> Option<&'static str> {
        self.error.as_ref()?;
        Some(if !self.started {
            "nothing was changed"
        } else if self.restored() {
            "rolled back"
        } else {
            "ROLLBACK INCOMPLETE, check the host"
        })
    }
}

fn failure(step: &Step, error: &Error) -> StepFailure {
    StepFailure {
        step: step.clone(),
        description: step.to_string(),
        message: error.chain(),
    }
}

/// Runs the plan's steps in order, under the provisioning lock (taking it is the caller's proof
/// that no other provisioner changes the host meanwhile; plan after taking it, too). First the
/// host is read as far as the plan can change it. Before each step its inverse is captured from
/// the host; after it, the step has verified its effect by re-reading. On the first failure, the
/// failing step's inverse and then every earlier step's are run, newest first, the host is read
/// again and compared with the first reading, and the report says all of it.
pub fn apply(env: &HostEnv, plan: &Plan, force: bool, _lock: &ProvisionLock) -> Report {
    let _span = tracing::info_span!("apply", steps = plan.steps.len()).entered();
    let mut report = Report {
        ok: true,
        started: false,
        steps_done: Vec::new(),
        error: None,
        rolled_back: Vec::new(),
        rollback_failures: Vec::new(),
        still_changed: Vec::new(),
    };
    let Some(first) = plan.steps.first() else {
        return report;
    };
    // A host that cannot be read before the change is not changed.
    let before = match Snapshot::read(env, plan) {
        Ok(before) => before,
        Err(e) => {
            // Reported against the first step, which it keeps from running.
            let mut error = failure(first, &e);
            error.message = format!("the host could not be read first: {}", error.message);
            report.ok = false;
            report.error = Some(error);
            return report;
        }
    };
    report.started = true;
    let mut journal: Vec<(Step, Vec<Step>)> = Vec::new();
    let mut error = None;
    for step in &plan.steps {
        let inverse = match step.capture_inverse(env) {
            Ok(inverse) => inverse,
            Err(e) => {
                error = Some(failure(step, &e));
                break;
            }
        };
        let result = step.run(env, force);
        // A failed step may have half happened: its inverse restores absolute values, so it is
        // undone too.
        journal.push((step.clone(), inverse));
        if let Err(e) = result {
            tracing::warn!(step = %step, error = %e.chain(), "step failed; rolling back");
            error = Some(failure(step, &e));
            break;
        }
    }
    let Some(error) = error else {
        report.steps_done = journal.into_iter().map(|(s, _)| s).collect();
        return report;
    };
    let _span = tracing::info_span!("rollback", failed = %error.description).entered();
    for (_, inverse) in journal.iter().rev() {
        for undo in inverse {
            // Rollback never forces: blocking forever on a held VF is worse than a reported failure.
            match undo.run(env, false) {
                Ok(()) => report.rolled_back.push(undo.clone()),
                Err(e) => report.rollback_failures.push(failure(undo, &e)),
            }
        }
    }
    // A step that failed while running was journaled for its undo, but it was not done.
    if journal.last().is_some_and(|(step, _)| *step == error.step) {
        journal.pop();
    }
    report.still_changed = match Snapshot::read(env, plan) {
        Ok(after) => before.differences(&after),
        Err(e) => vec![format!("the host could not be read again: {}", e.chain())],
    };
    for difference in &report.still_changed {
        tracing::warn!(%difference, "the host differs from before the apply after the rollback");
    }
    report.ok = false;
    report.steps_done = journal.into_iter().map(|(s, _)| s).collect();
    report.error = Some(error);
    report
}

/// Takes the lock at `lock_path`, then discovers, plans and applies `desired`: the whole
/// provisioning transaction in one call.
pub fn converge(
    env: &HostEnv,
    desired: &Desired,
    lock_path: &std::path::Path,
) -> crate::Result<(Plan, Report)> {
    let lock = ProvisionLock::acquire(lock_path)?;
    let host = crate::Host::discover(env, &desired.pfs)?;
    let plan = plan(&host, desired)?;
    let report = apply(env, &plan, desired.force, &lock);
    Ok((plan, report))
}
