//! qatctl: the operator's command line over qat-vf.
//!
//! Exit codes: 0 done; 1 the operation failed (and was rolled back, or a VFIO user holds a VF);
//! 2 bad usage or input, nothing written.

mod args;
mod cmd;
mod domain_file;
mod failure;
mod output;
mod target;
mod transaction;

use std::process::ExitCode;

use clap::Parser as _;
use qat_vf::ErrorKind;

use crate::args::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`qatctl status | head`), like other command-line tools.
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        nix::libc::signal(nix::libc::SIGPIPE, nix::libc::SIG_DFL);
    }
    // The library's spans and events (each sysfs operation, rollback, anomalies) on stderr, only
    // when asked for: `RUST_LOG=qat_vf=info qatctl ...`. Off by default to keep errors one line.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap's message spans several lines; the contract is one line and exit 2.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            eprintln!("qatctl: {message}");
            // Scripts asked for JSON get it even when the arguments did not parse.
            if std::env::args().any(|a| a == "--json") {
                println!("{}", serde_json::json!({ "ok": false, "error": message }));
            }
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let json = cli.global.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::from(1),
        Err(Failure::ReportedBecause(message)) => {
            eprintln!("qatctl: error: {}", message.replace('\n', " "));
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            report_error(&message, None, json);
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            report_error(&message, None, json);
            ExitCode::from(1)
        }
        Err(Failure::Error { message, kind }) => {
            report_error(&message, Some(kind), json);
            ExitCode::from(failure::exit_code(kind).unwrap_or(1))
        }
    }
}

/// Runs the command that was asked for.
fn run(cli: Cli) -> Result<(), Failure> {
    let global = &cli.global;
    match cli.command {
        Command::Sim(command) => cmd::sim::run(global, command),
        Command::List => cmd::list::run(global),
        Command::Status { pfs } => cmd::status::run(global, &pfs),
        Command::Plan(args) => cmd::plan::run(global, &args),
        Command::Apply(args) => cmd::apply::run(global, &args),
        Command::VfioCheck { vf } => cmd::vfio_check::run(global, vf),
        Command::Xml(args) => cmd::xml::run(global, &args),
        Command::Kubevirt(args) => cmd::kubevirt::run(global, &args),
        Command::Reset { pfs, force } => cmd::reset::run(global, &pfs, force),
    }
}

fn report_error(message: &str, kind: Option<ErrorKind>, json: bool) {
    // One line on stderr for people; with --json, the same as an object on stdout for scripts,
    // with the error's kind when qat-vf gave one.
    let line = message.replace('\n', " ");
    eprintln!("qatctl: error: {line}");
    if json {
        let mut object = serde_json::json!({ "ok": false, "error": line });
        if let Some(kind) = kind {
            object["kind"] = serde_json::json!(kind);
        }
        println!("{object}");
    }
}
