//! Provisioning: desired state → [`Plan`] of typed [`Step`]s → [`apply`] as a transaction.

mod apply;
mod lock;
mod plan;
mod snapshot;
mod step;

pub use apply::{Report, StepFailure, apply, converge, error_chain};
pub use lock::ProvisionLock;
pub use plan::{Desired, Plan, VfDriver, VfioAccess, plan, plan_reset, target_pfs};
pub use step::Step;
