//! `qatctl xml`: choose VFs for a VM and print libvirt `<hostdev>` XML, or the updated domain.

use qat_vf::{Host, HostEnv, domain};
use serde_json::json;

use crate::args::{Global, XmlArgs};
use crate::domain_file::DomainFile;
use crate::failure::Failure;
use crate::target;

/// Prints the XML, or with `--in-place` writes it to the domain file and says which VFs it has.
pub(crate) fn run(global: &Global, args: &XmlArgs) -> Result<(), Failure> {
    target::with_host(global, false, |host| xml(host, args, global.json))
}

/// Chooses the VFs and builds the XML: standalone `<hostdev>`s, or the domain with them in.
fn xml(host: &HostEnv, args: &XmlArgs, json: bool) -> Result<(), Failure> {
    let opts = domain::HostdevOptions {
        managed: args.managed == "yes",
        model: args.model.clone(),
        rom_bar_off: args.rom_bar.is_some(),
        alias_prefix: args.alias_prefix.clone(),
    };
    let request = domain::Request {
        count: usize::from(args.alloc.count),
        policy: args.alloc.policy,
        numa_node: args.alloc.numa,
        driver: args.model.clone().unwrap_or_else(|| "vfio-pci".into()),
        keep: Vec::new(),
        exclude: Vec::new(),
    };
    // Bad options are refused before the domain file is read.
    opts.validate()?;
    let found = Host::discover(host, &[])?;
    let (vfs, xml) = match &args.domain {
        Some(path) => {
            let file = DomainFile::read(path, args.in_place, args.force)?;
            let (vfs, xml) =
                domain::choose_and_write(&found, &request, Some(&file.text), args.machine, &opts)?;
            if let Some(warning) = file.replace(&xml)? {
                eprintln!("qatctl: warning: {warning}");
            }
            (vfs, xml)
        }
        None => domain::choose_and_write(&found, &request, None, args.machine, &opts)?,
    };
    if json {
        println!(
            "{}",
            json!({ "vfs": vfs, "xml": xml, "written": args.in_place })
        );
    } else if args.in_place {
        let list: Vec<String> = vfs.iter().map(|a| a.vf.to_string()).collect();
        println!(
            "{}: {} VFs ({})",
            args.domain
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            vfs.len(),
            list.join(" ")
        );
    } else {
        print!("{xml}");
    }
    Ok(())
}
