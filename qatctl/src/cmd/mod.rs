//! One module per command, each with its `run`; main.rs dispatches to them. Commands share
//! helpers from the crate's other modules, which never import a command.

pub(crate) mod apply;
pub(crate) mod kubevirt;
pub(crate) mod list;
pub(crate) mod plan;
pub(crate) mod reset;
pub(crate) mod sim;
pub(crate) mod status;
pub(crate) mod vfio_check;
pub(crate) mod xml;
