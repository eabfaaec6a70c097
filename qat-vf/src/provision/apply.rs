//! Running a plan as a transaction: journal of inverses, rollback newest first, a report.

use serde::Serialize;

use super::lock::ProvisionLock;
use super::plan::{Desired, Plan, plan};
use super::step::Step;
use crate::error::Error;
use crate::sysfs::Sysfs;

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
    /// Steps that completed (on failure: before the failing one; all of them were undone).
    pub steps_done: Vec<Step>,
    /// The step that failed, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StepFailure>,
    /// The inverse steps run during rollback, in the order they ran.
    pub rolled_back: Vec<Step>,
    /// Inverse steps that failed too: the host may differ from before. Empty when rollback was clean.
    pub rollback_failures: Vec<StepFailure>,
}

/// An error and its sources, joined by ": ".
pub fn error_chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn failure(step: &Step, error: &Error) -> StepFailure {
    StepFailure {
        step: step.clone(),
        description: step.to_string(),
        message: error_chain(error),
    }
}

/// Runs the plan's steps in order, under the provisioning lock (taking it is the caller's proof
/// that no other provisioner changes the host meanwhile; plan after taking it, too). Before each step its inverse is captured from the host; after
/// it, the step has verified its effect by re-reading. On the first failure, the failing step's
/// inverse and then every earlier step's are run, newest first, and the report says both.
pub fn apply(sysfs: &impl Sysfs, plan: &Plan, force: bool, _lock: &ProvisionLock) -> Report {
    let _span = tracing::info_span!("apply", steps = plan.steps.len()).entered();
    let mut journal: Vec<(Step, Vec<Step>)> = Vec::new();
    let mut error = None;
    for step in &plan.steps {
        let inverse = match step.capture_inverse(sysfs) {
            Ok(inverse) => inverse,
            Err(e) => {
                error = Some(failure(step, &e));
                break;
            }
        };
        let result = step.run(sysfs, force);
        // A failed step may have half happened: its inverse restores absolute values, so it is
        // undone too.
        journal.push((step.clone(), inverse));
        if let Err(e) = result {
            tracing::warn!(step = %step, error = %error_chain(&e), "step failed; rolling back");
            error = Some(failure(step, &e));
            break;
        }
    }
    let Some(error) = error else {
        return Report {
            ok: true,
            steps_done: journal.into_iter().map(|(s, _)| s).collect(),
            error: None,
            rolled_back: Vec::new(),
            rollback_failures: Vec::new(),
        };
    };
    let _span = tracing::info_span!("rollback", failed = %error.description).entered();
    let mut rolled_back = Vec::new();
    let mut rollback_failures = Vec::new();
    for (_, inverse) in journal.iter().rev() {
        for undo in inverse {
            // Rollback never forces: blocking forever on a held VF is worse than a reported failure.
            match undo.run(sysfs, false) {
                Ok(()) => rolled_back.push(undo.clone()),
                Err(e) => rollback_failures.push(failure(undo, &e)),
            }
        }
    }
    // A step that failed while running was journaled for its undo, but it was not done.
    if journal.last().is_some_and(|(step, _)| *step == error.step) {
        journal.pop();
    }
    let steps_done = journal.into_iter().map(|(s, _)| s).collect();
    Report {
        ok: false,
        steps_done,
        error: Some(error),
        rolled_back,
        rollback_failures,
    }
}

/// Takes the lock at `lock_path`, then discovers, plans and applies `desired`: the whole
/// provisioning transaction in one call.
pub fn converge(
    sysfs: &impl Sysfs,
    desired: &Desired,
    lock_path: &std::path::Path,
) -> crate::Result<(Plan, Report)> {
    let lock = ProvisionLock::acquire(lock_path)?;
    let host = crate::Host::discover(sysfs, &desired.pfs)?;
    let plan = plan(&host, desired)?;
    let report = apply(sysfs, &plan, desired.force, &lock);
    Ok((plan, report))
}
