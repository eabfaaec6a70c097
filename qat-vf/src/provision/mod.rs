//! Provisioning: desired state → [`Plan`] of typed [`Step`]s → [`apply`] as a transaction.

mod apply;
mod lock;
mod plan;
mod snapshot;
mod step;

pub use apply::{Report, StepFailure, apply, converge};
pub use lock::ProvisionLock;
pub use plan::{Desired, Plan, VfDriver, VfioAccess, plan, plan_reset};
pub use step::Step;
