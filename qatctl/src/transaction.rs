//! `apply` and `reset`: a plan applied as one transaction under the provisioning lock, with the
//! signals that would cut it short held until it, any rollback and the save are over.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use qat_vf::HostEnv;
use qat_vf::provision::{self, Plan};

use crate::args::Global;
use crate::failure::Failure;
use crate::output;
use crate::target;

/// Takes the lock, holds signals, applies the plan that `make_plan` makes for the selected host
/// (saving a simulated one) and prints the report. Ctrl-C or SIGTERM halfway would leave the host
/// half-provisioned with the undo journal lost, hence the held signals.
pub(crate) fn run(
    global: &Global,
    force: bool,
    make_plan: impl FnOnce(&HostEnv) -> Result<Plan, Failure>,
) -> Result<(), Failure> {
    let lock = target::lock(global, None)?;
    let signals = HeldSignals::hold();
    let result = target::with_host(global, true, |host| {
        let plan = make_plan(host)?;
        let report = provision::apply(host, &plan, force, &lock);
        output::print_report(&report, global.json);
        if report.ok {
            Ok(())
        } else {
            Err(Failure::Reported)
        }
    });
    say_arrived(signals.finish());
    result
}

/// Says which held signals arrived while the host was being changed.
fn say_arrived(signals: Vec<Signal>) {
    if !signals.is_empty() {
        let names: Vec<&str> = signals.iter().map(|s| s.as_str()).collect();
        eprintln!(
            "qatctl: {} arrived while the host was being changed; the command ran to the end first (its outcome is above)",
            names.join(", ")
        );
    }
}

/// SIGINT, SIGTERM, SIGHUP and SIGQUIT held back (blocked, not lost) from [`HeldSignals::hold`]
/// on: a transaction and its rollback run to the end, whatever arrives meanwhile.
struct HeldSignals(SigSet);

impl HeldSignals {
    fn hold() -> Self {
        let mut set = SigSet::empty();
        for signal in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            set.add(signal);
        }
        // Blocking signals in this single-threaded process cannot fail with a valid set.
        let _ = set.thread_block();
        HeldSignals(set)
    }

    /// Takes the signals that arrived while held. They stay blocked: the command is over and
    /// qatctl exits with its outcome, so that an apply that ran to the end is not reported as
    /// killed.
    fn finish(self) -> Vec<Signal> {
        let Ok(pending) = SignalFd::with_flags(&self.0, SfdFlags::SFD_NONBLOCK) else {
            return Vec::new();
        };
        let mut arrived = Vec::new();
        while let Ok(Some(info)) = pending.read_signal() {
            arrived.extend(Signal::try_from(info.ssi_signo as i32));
        }
        arrived
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_signals_wait_and_are_taken_at_the_end() {
        let held = HeldSignals::hold();
        // Unheld, either would end this test process.
        nix::sys::signal::raise(Signal::SIGTERM).unwrap();
        nix::sys::signal::raise(Signal::SIGHUP).unwrap();
        let mut arrived = held.finish();
        arrived.sort_by_key(|s| *s as i32);
        assert_eq!(arrived, [Signal::SIGHUP, Signal::SIGTERM]);
        assert!(HeldSignals::hold().finish().is_empty(), "taken once");
    }
}
