//! `qatctl xml`: choose VFs for a VM and print libvirt `<hostdev>` XML, or the updated domain.

use qat_vf::{Bdf, Host, HostEnv, domain};
use serde_json::json;

use crate::args::{AllocArgs, Global, XmlArgs};
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
    opts.validate()?;
    let driver = args.model.clone().unwrap_or_else(|| "vfio-pci".into());
    let found = Host::discover(host, &[])?;
    let (vfs, xml) = match &args.domain {
        Some(path) => {
            let file = DomainFile::read(path, args.in_place, args.force)?;
            let info = domain::DomainInfo::parse(&file.text, &opts.alias_prefix)?;
            let vfs = allocate(
                &found,
                &args.alloc,
                &driver,
                info.own_sources.clone(),
                info.other_sources.clone(),
            )?;
            let xml = domain::insert_parsed(&file.text, &info, &vfs, &opts)?;
            if let Some(warning) = file.replace(&xml)? {
                eprintln!("qatctl: warning: {warning}");
            }
            (vfs, xml)
        }
        None => {
            let vfs = allocate(&found, &args.alloc, &driver, Vec::new(), Vec::new())?;
            let xml = domain::hostdev_xml(&vfs, args.machine, &opts)?;
            (vfs, xml)
        }
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

/// Allocates VFs by `args`, keeping `keep` (what the domain has from qatkit already) and
/// leaving out `exclude` (what it has from elsewhere).
fn allocate(
    host: &Host,
    args: &AllocArgs,
    driver: &str,
    keep: Vec<Bdf>,
    exclude: Vec<Bdf>,
) -> Result<Vec<domain::Allocated>, Failure> {
    let request = domain::Request {
        count: usize::from(args.count),
        policy: args.policy,
        numa_node: args.numa,
        driver: driver.to_owned(),
        keep,
        exclude,
    };
    Ok(domain::allocate(host, &request)?)
}
