//! A features file for node-feature-discovery's local source (`features.d/`), so that clusters
//! can schedule by label: NFD turns each `name=value` line into the node label
//! `feature.node.kubernetes.io/<name>=<value>`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;

use qat_vf::Host;

use crate::inventory::Inventory;

/// The lines: `qat.present`, each PF family (`qat.family.4xxx=true`), each PF service set
/// (`qat.services.sym-dc=true`) and the number of healthy VFs served (`qat.vfs`). Values and
/// names are within the label rules (names of letters, digits, `-`, `.`; values short).
pub fn features(host: &Host, inventory: &Inventory) -> String {
    let families: BTreeSet<&str> = host
        .pfs
        .iter()
        .filter_map(|pf| pf.family())
        .map(|f| f.name)
        .collect();
    let services: BTreeSet<String> = host
        .pfs
        .iter()
        .filter_map(|pf| pf.services.filter(|s| !s.is_empty()))
        .map(|s| s.names().join("-"))
        .collect();
    let healthy = inventory.values().flatten().filter(|d| d.healthy()).count();
    let mut text = format!("qat.present={}\n", !families.is_empty());
    for family in families {
        text.push_str(&format!("qat.family.{family}=true\n"));
    }
    for services in services {
        text.push_str(&format!("qat.services.{services}=true\n"));
    }
    text.push_str(&format!("qat.vfs={healthy}\n"));
    text
}

/// Replaces the file at `path` with `text` atomically (a temporary file beside it, renamed), so
/// that NFD never reads half of it.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
