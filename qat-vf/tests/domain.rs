//! Handing VFs to VMs (issue 4), on simulated hosts: libvirt's own validators accept the
//! domains qatkit writes and `virsh dumpxml` shows the addresses qatkit chose; insertion is
//! idempotent and keeps the rest of the document; names cannot break the XML, YAML or JSON;
//! allocation policies on the presets; the KubeVirt documents' structure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;
use qat_vf::domain::{self, Allocated, DomainInfo, HostdevOptions, Policy, Request, kubevirt};
use qat_vf::error::{DomainError, KubevirtError};
use qat_vf::provision::{self, Desired};
use qat_vf::sim::SimHost;
use qat_vf::{Bdf, Error, Host, QatState};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::Value;

// ----------------------------------------------------------------------------------------------
// Simulated hosts

fn bdf(text: &str) -> Bdf {
    text.parse()
        .unwrap_or_else(|e| panic!("bad BDF {text:?} in a test: {e}"))
}

/// VF `index` of the 4xxx PF on `bus` (offset 1, stride 1), computed from the routing id here.
fn vf(bus: u8, index: u16) -> Bdf {
    let rid = (u16::from(bus) << 8) + 1 + index;
    Bdf {
        domain: 0,
        bus: (rid >> 8) as u8,
        device: ((rid >> 3) & 0x1f) as u8,
        function: (rid & 7) as u8,
    }
}

fn sim(preset: &str, pfs: usize) -> SimHost {
    SimHost::preset(preset.parse().unwrap(), pfs)
}

/// Provisions `pfs` (empty: every QAT PF) with every VF on `driver`, through
/// `provision::converge`.
fn provision_pfs(sim: &SimHost, pfs: &[&str], driver: &str) {
    let dir = tempfile::tempdir().unwrap();
    let want = Desired::new(driver.parse().unwrap()).with_pfs(pfs.iter().map(|p| bdf(p)));
    let (_, report) = provision::converge(sim, &want, &dir.path().join("lock")).unwrap();
    assert!(report.ok, "{report:#?}");
}

fn provisioned(preset: &str, pfs: usize, driver: &str) -> SimHost {
    let sim = sim(preset, pfs);
    provision_pfs(&sim, &[], driver);
    sim
}

fn discover(sim: &SimHost) -> Host {
    Host::discover(sim, &[]).unwrap()
}

fn request(count: usize, policy: Policy) -> Request {
    Request {
        count,
        policy,
        numa_node: None,
        driver: "vfio-pci".into(),
        keep: Vec::new(),
        exclude: Vec::new(),
    }
}

fn chosen(vfs: &[Allocated]) -> Vec<Bdf> {
    vfs.iter().map(|a| a.vf).collect()
}

// ----------------------------------------------------------------------------------------------
// A small DOM read with quick-xml, for checking documents independently of qatkit's parser

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Elem {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Elem>,
}

impl Elem {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    fn child(&self, name: &str) -> Option<&Elem> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Elem> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Every element of the tree, depth first.
    fn walk(&self, out: &mut Vec<Elem>) {
        for c in &self.children {
            out.push(c.clone());
            c.walk(out);
        }
    }
}

fn open(e: &BytesStart<'_>) -> Result<Elem, String> {
    let mut elem = Elem {
        name: e.name().as_ref().to_owned(),
        ..Elem::default()
    };
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.as_ref().to_owned();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?
            .into_owned();
        if elem.attrs.insert(key.clone(), value).is_some() {
            return Err(format!("attribute {key} twice"));
        }
    }
    Ok(elem)
}

/// Parses a whole document into its root element (quick-xml checks end names and attributes).
fn parse_xml(xml: &str) -> Result<Elem, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Elem::default()];
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => stack.push(open(&e)?),
            Event::Empty(e) => {
                let elem = open(&e)?;
                stack.last_mut().unwrap().children.push(elem);
            }
            Event::End(_) => {
                if stack.len() < 2 {
                    return Err("end tag without start".into());
                }
                let elem = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(elem);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = stack.pop().unwrap();
    if !stack.is_empty() || doc.children.len() != 1 {
        return Err("not one closed root element".into());
    }
    Ok(doc.children.remove(0))
}

/// A libvirt number attribute: `0x` hex or decimal (as libvirt writes and reads them).
fn num(text: &str) -> u32 {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

/// A guest PCI address: bus, slot, function, multifunction.
type GuestAddr = (u32, u32, u32, bool);

/// One `<hostdev>` as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostdevView {
    alias: Option<String>,
    managed: Option<String>,
    driver: Option<BTreeMap<String, String>>,
    rom_bar: Option<String>,
    source: Bdf,
    /// The source `<address>`'s attributes as written.
    source_attrs: BTreeMap<String, String>,
    guest: Option<GuestAddr>,
    /// The guest `<address>`'s attributes as written.
    guest_attrs: Option<BTreeMap<String, String>>,
}

fn hostdevs(domain: &Elem) -> Vec<HostdevView> {
    let devices = domain.child("devices").expect("<devices>");
    devices
        .all("hostdev")
        .map(|h| {
            let src = h
                .child("source")
                .and_then(|s| s.child("address"))
                .expect("hostdev source address");
            let field = |name| src.attr(name).map_or(0, num);
            let guest = h.child("address");
            HostdevView {
                alias: h
                    .child("alias")
                    .and_then(|a| a.attr("name"))
                    .map(str::to_owned),
                managed: h.attr("managed").map(str::to_owned),
                driver: h.child("driver").map(|d| d.attrs.clone()),
                rom_bar: h
                    .child("rom")
                    .and_then(|r| r.attr("bar"))
                    .map(str::to_owned),
                source: Bdf {
                    domain: field("domain") as u16,
                    bus: field("bus") as u8,
                    device: field("slot") as u8,
                    function: field("function") as u8,
                },
                source_attrs: src.attrs.clone(),
                guest: guest.map(|a| {
                    assert_eq!(a.attr("type"), Some("pci"), "{a:?}");
                    assert_eq!(a.attr("domain").map(num), Some(0), "{a:?}");
                    (
                        num(a.attr("bus").unwrap()),
                        num(a.attr("slot").unwrap()),
                        num(a.attr("function").unwrap()),
                        a.attr("multifunction") == Some("on"),
                    )
                }),
                guest_attrs: guest.map(|a| a.attrs.clone()),
            }
        })
        .collect()
}

/// One PCI `<controller>`: index, model, alias, the bus its own address names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ControllerView {
    index: u32,
    model: Option<String>,
    alias: Option<String>,
    on_bus: Option<u32>,
}

fn pci_controllers(domain: &Elem) -> BTreeMap<u32, ControllerView> {
    domain
        .child("devices")
        .expect("<devices>")
        .all("controller")
        .filter(|c| c.attr("type") == Some("pci"))
        .map(|c| {
            let index = num(c.attr("index").expect("controller index"));
            let view = ControllerView {
                index,
                model: c.attr("model").map(str::to_owned),
                alias: c
                    .child("alias")
                    .and_then(|a| a.attr("name"))
                    .map(str::to_owned),
                on_bus: c.child("address").and_then(|a| a.attr("bus")).map(num),
            };
            (index, view)
        })
        .collect()
}

// ----------------------------------------------------------------------------------------------
// qatlib's placement rule, restated here: one guest bus per host PF (PFs in address order),
// a PF's VFs in address order over functions 0-7 of slot 1, then slot 2, ...;
// multifunction='on' on function 0 of a slot with more than one function. On q35 a PF takes a
// pcie-root-port and a pcie-to-pci-bridge (the bus), on i440fx a pci-bridge.

struct Expected {
    /// (root port index, bridge index) per PF.
    buses: BTreeMap<Bdf, (Option<u32>, u32)>,
    guest: BTreeMap<Bdf, GuestAddr>,
}

fn expected(vfs: &[Allocated], first_index: u32, q35: bool) -> Expected {
    let mut by_pf: BTreeMap<Bdf, Vec<Bdf>> = BTreeMap::new();
    for a in vfs {
        by_pf.entry(a.pf).or_default().push(a.vf);
    }
    let per_pf = if q35 { 2 } else { 1 };
    let mut buses = BTreeMap::new();
    let mut guest = BTreeMap::new();
    for (n, (pf, mut list)) in by_pf.into_iter().enumerate() {
        list.sort();
        let base = first_index + n as u32 * per_pf;
        let bridge = base + per_pf - 1;
        buses.insert(pf, (q35.then_some(base), bridge));
        for (i, v) in list.iter().enumerate() {
            let in_slot = (list.len() - i / 8 * 8).min(8);
            guest.insert(
                *v,
                (
                    bridge,
                    1 + (i / 8) as u32,
                    (i % 8) as u32,
                    i % 8 == 0 && in_slot > 1,
                ),
            );
        }
    }
    Expected { buses, guest }
}

/// Whether an alias is one qatkit writes: the prefix, `port-`/`bridge-` or nothing, then a BDF
/// as `dddd-bb-ss-f` (a user's `ua-nic0` is not, whatever the prefix).
fn is_qatkit_alias(alias: &str, prefix: &str) -> bool {
    let Some(rest) = alias.strip_prefix(prefix) else {
        return false;
    };
    let rest = rest
        .strip_prefix("port-")
        .or_else(|| rest.strip_prefix("bridge-"))
        .unwrap_or(rest);
    let parts: Vec<&str> = rest.split('-').collect();
    parts.len() == 4
        && parts
            .iter()
            .zip([4, 2, 2, 1])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks qatkit's hostdevs and controllers in `domain` (qatkit's output or libvirt's dumpxml)
/// against the rule and the options.
fn check_qatkit_devices(
    domain: &Elem,
    vfs: &[Allocated],
    first_index: u32,
    q35: bool,
    opts: &HostdevOptions,
) {
    let want = expected(vfs, first_index, q35);
    let prefix = opts.alias_prefix.as_str();
    let ours: Vec<HostdevView> = hostdevs(domain)
        .into_iter()
        .filter(|h| {
            h.alias
                .as_deref()
                .is_some_and(|a| is_qatkit_alias(a, prefix))
        })
        .collect();
    assert_eq!(ours.len(), vfs.len(), "{ours:#?}");
    let controllers = pci_controllers(domain);
    for h in &ours {
        let place = want.guest[&h.source];
        assert_eq!(h.guest, Some(place), "guest address of {}", h.source);
        assert_eq!(
            h.managed.as_deref(),
            Some(if opts.managed { "yes" } else { "no" })
        );
        let mut driver = BTreeMap::from([("name".to_owned(), "vfio".to_owned())]);
        if let Some(model) = &opts.model {
            driver.insert("model".into(), model.clone());
        }
        assert_eq!(h.driver.as_ref(), Some(&driver), "{}", h.source);
        assert_eq!(h.rom_bar.as_deref(), opts.rom_bar_off.then_some("off"));
        let s = h.source;
        assert_eq!(
            h.alias.as_deref(),
            Some(
                format!(
                    "{prefix}{:04x}-{:02x}-{:02x}-{:x}",
                    s.domain, s.bus, s.device, s.function
                )
                .as_str()
            )
        );
        // The guest bus exists and is the bridge of this VF's PF.
        let pf = vfs.iter().find(|a| a.vf == s).unwrap().pf;
        let (port, bridge) = want.buses[&pf];
        let bus = &controllers[&place.0];
        assert_eq!(bus.index, bridge);
        let pf_alias = format!(
            "{:04x}-{:02x}-{:02x}-{:x}",
            pf.domain, pf.bus, pf.device, pf.function
        );
        assert_eq!(
            bus.alias.as_deref(),
            Some(format!("{prefix}bridge-{pf_alias}").as_str())
        );
        if q35 {
            assert_eq!(bus.model.as_deref(), Some("pcie-to-pci-bridge"));
            let port = port.unwrap();
            assert_eq!(bus.on_bus, Some(port), "bridge sits in its root port");
            let root_port = &controllers[&port];
            assert_eq!(root_port.model.as_deref(), Some("pcie-root-port"));
            assert_eq!(
                root_port.alias.as_deref(),
                Some(format!("{prefix}port-{pf_alias}").as_str())
            );
        } else {
            assert_eq!(bus.model.as_deref(), Some("pci-bridge"));
        }
    }
    // Every VF once, and nothing else on qatkit's buses.
    let sources: BTreeSet<Bdf> = ours.iter().map(|h| h.source).collect();
    assert_eq!(sources, vfs.iter().map(|a| a.vf).collect());
    let own_controllers = controllers
        .values()
        .filter(|c| {
            c.alias
                .as_deref()
                .is_some_and(|a| is_qatkit_alias(a, prefix))
        })
        .count();
    assert_eq!(own_controllers, want.buses.len() * if q35 { 2 } else { 1 });
    // A slot is never used twice on a bus.
    let places: BTreeSet<(u32, u32, u32)> = ours
        .iter()
        .map(|h| {
            let (b, s, f, _) = h.guest.unwrap();
            (b, s, f)
        })
        .collect();
    assert_eq!(places.len(), ours.len());
}

// ----------------------------------------------------------------------------------------------
// Domain templates

/// A hostdev the user added by hand, which qatkit must keep and never reuse.
const UNRELATED: &str = "    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
      </source>
      <alias name='ua-nic0'/>
    </hostdev>";

/// A complete domain for `machine` (`q35` or `pc`), with the user's own devices, a comment and
/// an unrelated hostdev.
fn template(name: &str, machine: &str) -> String {
    template_with(name, machine, UNRELATED)
}

fn template_with(name: &str, machine: &str, hostdev: &str) -> String {
    let root = if machine == "pc" {
        "pci-root"
    } else {
        "pcie-root"
    };
    format!(
        "<domain type='kvm'>
  <name>{name}</name>
  <memory unit='MiB'>2048</memory>
  <vcpu placement='static'>4</vcpu>
  <os>
    <type arch='x86_64' machine='{machine}'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <!-- the guest's own devices: qatkit keeps them & never <touches> them -->
    <controller type='pci' index='0' model='{root}'/>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/{name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
{hostdev}
  </devices>
</domain>
"
    )
}

fn opts(managed: bool, model: Option<&str>, rom_bar_off: bool) -> HostdevOptions {
    HostdevOptions {
        managed,
        model: model.map(str::to_owned),
        rom_bar_off,
        ..HostdevOptions::default()
    }
}

// ----------------------------------------------------------------------------------------------
// 1. libvirt's own validators

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// Whether libvirt's tools are here (libvirt >= 9.3 for `<driver model=...>`). Missing tools
/// fail the test under `QATKIT_REQUIRE_LIBVIRT=1` and skip it otherwise.
fn libvirt_available() -> bool {
    const INSTALL: &str = "install libvirt-clients libxml2-utils (libvirt >= 9.3, e.g. from \
                           bookworm-backports)";
    let missing: Vec<&str> = ["virsh", "virt-xml-validate", "xmllint"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    let problem = if missing.is_empty() {
        let version = Command::new("virsh")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (major, minor) >= (9, 3) {
            return true;
        }
        format!("virsh {version:?} is older than 9.3")
    } else {
        format!("{} not found", missing.join(", "))
    };
    if std::env::var("QATKIT_REQUIRE_LIBVIRT").as_deref() == Ok("1") {
        panic!("QATKIT_REQUIRE_LIBVIRT=1 but {problem}: {INSTALL}");
    }
    eprintln!("skipped: {INSTALL} ({problem})");
    false
}

/// Runs `virt-xml-validate` on `xml`, then defines it on libvirt's test driver and returns
/// `virsh dumpxml`'s output (one virsh connection: the test driver keeps no state between them).
fn libvirt_roundtrip(dir: &Path, name: &str, xml: &str) -> String {
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("virt-xml-validate")
        .arg(&file)
        .arg("domain")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "virt-xml-validate rejected {name}:\n{}{}\n--- document ---\n{xml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let script = format!("define --validate '{}'; dumpxml {name}", file.display());
    let out = Command::new("virsh")
        .args(["-q", "-c", "test:///default", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "virsh {script:?} failed for {name}:\n{stderr}\n--- document ---\n{xml}"
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Case {
    name: String,
    xml: String,
    vfs: Vec<Allocated>,
    opts: HostdevOptions,
    q35: bool,
}

/// The domains of the matrix: 1, 8 and 16 VFs on one-PF and two-PF hosts (balanced, so two PFs
/// give two buses), 24 VFs packed over two PFs, managed yes/no, with and without the
/// `qat_vfio_pci` model (VFs then bound to qat_vfio_pci), and an i440fx domain.
fn libvirt_cases() -> Vec<Case> {
    let hosts: BTreeMap<(usize, &str), Host> = [1, 2]
        .into_iter()
        .flat_map(|pfs| ["vfio-pci", "qat_vfio_pci"].map(|d| (pfs, d)))
        .map(|(pfs, driver)| ((pfs, driver), discover(&provisioned("4xxx", pfs, driver))))
        .collect();
    let mut cases = Vec::new();
    let sizes = [
        (1, 1, Policy::Balanced),
        (1, 8, Policy::Balanced),
        (1, 16, Policy::Balanced),
        (2, 1, Policy::Balanced),
        (2, 8, Policy::Balanced),
        (2, 16, Policy::Balanced),
        (2, 24, Policy::Packed),
    ];
    for (pfs, count, policy) in sizes {
        for managed in [true, false] {
            for model in [None, Some("qat_vfio_pci")] {
                let driver = if model.is_some() {
                    "qat_vfio_pci"
                } else {
                    "vfio-pci"
                };
                let mut req = request(count, policy);
                req.driver = driver.into();
                let vfs = domain::allocate(&hosts[&(pfs, driver)], &req).unwrap();
                assert_eq!(vfs.len(), count);
                let name = format!(
                    "qat-{pfs}pf-{count}vf-managed-{}-{}",
                    if managed { "yes" } else { "no" },
                    model.unwrap_or("vfio")
                );
                let opts = opts(managed, model, !managed);
                let xml = domain::insert(&template(&name, "q35"), &vfs, &opts).unwrap();
                cases.push(Case {
                    name,
                    xml,
                    vfs,
                    opts,
                    q35: true,
                });
            }
        }
    }
    let vfs = domain::allocate(&hosts[&(2, "vfio-pci")], &request(9, Policy::Balanced)).unwrap();
    let opts = opts(true, None, false);
    let name = "qat-i440fx-2pf-9vf".to_owned();
    let xml = domain::insert(&template(&name, "pc"), &vfs, &opts).unwrap();
    cases.push(Case {
        name,
        xml,
        vfs,
        opts,
        q35: false,
    });
    cases
}

#[test]
fn generated_domains_pass_virt_xml_validate_and_virsh_define_shows_the_same_addresses() {
    if !libvirt_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases = libvirt_cases();
    assert_eq!(cases.len(), 7 * 4 + 1);
    for case in &cases {
        let written = parse_xml(&case.xml).unwrap();
        // What qatkit wrote follows the rule ...
        check_qatkit_devices(&written, &case.vfs, 1, case.q35, &case.opts);
        let dumped_text = libvirt_roundtrip(dir.path(), &case.name, &case.xml);
        let dumped = parse_xml(&dumped_text).unwrap();
        // ... and so does what libvirt made of it.
        check_qatkit_devices(&dumped, &case.vfs, 1, case.q35, &case.opts);
        // Source and guest addresses, byte for byte as attributes, the same after libvirt
        // parsed and formatted them; the same for qatkit's controllers.
        let by_source = |d: &Elem| -> BTreeMap<Bdf, HostdevView> {
            hostdevs(d).into_iter().map(|h| (h.source, h)).collect()
        };
        let (mine, theirs) = (by_source(&written), by_source(&dumped));
        assert_eq!(
            mine.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{}",
            case.name
        );
        for (source, h) in &mine {
            let d = &theirs[source];
            assert_eq!(h.source_attrs, d.source_attrs, "{}: {source}", case.name);
            assert_eq!(h.guest_attrs, d.guest_attrs, "{}: {source}", case.name);
            assert_eq!(h, d, "{}: {source}", case.name);
        }
        let own = |d: &Elem| -> Vec<ControllerView> {
            pci_controllers(d)
                .into_values()
                .filter(|c| c.alias.as_deref().is_some_and(|a| a.starts_with("ua-qat-")))
                .collect()
        };
        assert_eq!(own(&written), own(&dumped), "{}", case.name);
        // The user's devices survive the round trip too.
        let unrelated = &theirs[&bdf("0000:05:00.0")];
        assert_eq!(unrelated.alias.as_deref(), Some("ua-nic0"));
        assert_eq!(unrelated.guest, None);
        let devices = dumped.child("devices").unwrap();
        assert_eq!(devices.all("disk").count(), 1);
        assert_eq!(devices.all("console").count(), 1);
        let root = pci_controllers(&dumped)[&0].model.clone();
        let want_root = if case.q35 { "pcie-root" } else { "pci-root" };
        assert_eq!(root.as_deref(), Some(want_root));
        // qatkit run again on libvirt's reformatted, reordered output recognises its own
        // elements: the same devices at the same indexes, stable from then on.
        let again = domain::insert(&dumped_text, &case.vfs, &case.opts).unwrap();
        check_qatkit_devices(
            &parse_xml(&again).unwrap(),
            &case.vfs,
            1,
            case.q35,
            &case.opts,
        );
        assert_eq!(
            domain::insert(&again, &case.vfs, &case.opts).unwrap(),
            again
        );
    }
}

#[test]
fn libvirt_refuses_what_qatkit_refuses() {
    // The validators are not rubber stamps. A VF passed twice is refused by `virsh define`
    // however its source address is spelled (libvirt reads absent fields as 0 and numbers
    // without 0x as decimal: what qatkit's own check must match), and a schema violation by
    // both validators.
    //
    // What they do not check: libvirt's test driver assigns and validates no guest PCI
    // addresses (it accepts a hostdev on a bus no controller provides, or two hostdevs at one
    // guest address), so the guest topology is checked by `check_qatkit_devices` on the
    // dumpxml output instead.
    if !libvirt_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = discover(&provisioned("4xxx", 1, "vfio-pci"));
    let vfs = domain::allocate(&host, &request(2, Policy::Packed)).unwrap();
    let good = domain::insert(
        &template("qat-refused", "q35"),
        &vfs,
        &HostdevOptions::default(),
    )
    .unwrap();
    let unrelated = "<address domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>";
    // (document, virt-xml-validate accepts it)
    let attempts = [
        (
            good.replace(
                unrelated,
                "<address domain='0x0000' bus='0x6b' slot='0x00' function='0x1'/>",
            ),
            true,
        ),
        (
            good.replace(unrelated, "<address bus='0x6b' function='1'/>"),
            true,
        ),
        (
            good.replace(unrelated, "<address bus='107' slot='0' function='1'/>"),
            true,
        ),
        (
            good.replace("multifunction=\"on\"", "multifunction=\"yes\""),
            false,
        ),
    ];
    for (i, (xml, schema_valid)) in attempts.iter().enumerate() {
        assert_ne!(xml, &good);
        let name = format!("qat-refused-{i}");
        let xml = xml.replace("qat-refused", &name);
        let file = dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, &xml).unwrap();
        let validated = Command::new("virt-xml-validate")
            .arg(&file)
            .arg("domain")
            .output()
            .unwrap();
        assert_eq!(validated.status.success(), *schema_valid, "{xml}");
        let out = Command::new("virsh")
            .args([
                "-q",
                "-c",
                "test:///default",
                &format!("define --validate '{}'", file.display()),
            ])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "libvirt accepted broken domain {i}:\n{xml}"
        );
        if *schema_valid {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("Hostdev already exists"), "{stderr}");
            // And qatkit, given the same domain, refuses to add the VF.
            let without_own = domain::insert(&xml, &[], &HostdevOptions::default()).unwrap();
            let err = domain::insert(&without_own, &vfs, &HostdevOptions::default()).unwrap_err();
            assert!(matches!(err, Error::Domain(_)), "{err}");
        }
    }
}

// ----------------------------------------------------------------------------------------------
// 2. Idempotency and preservation

fn two_pf_vfs(count: usize) -> Vec<Allocated> {
    let host = discover(&provisioned("4xxx", 2, "vfio-pci"));
    domain::allocate(&host, &request(count, Policy::Balanced)).unwrap()
}

#[test]
fn inserting_twice_is_inserting_once_and_inserting_nothing_restores_the_original() {
    let vfs = two_pf_vfs(11);
    for machine in ["q35", "pc"] {
        let original = template("keep-me", machine);
        for o in [
            HostdevOptions::default(),
            opts(false, Some("qat_vfio_pci"), true),
        ] {
            let once = domain::insert(&original, &vfs, &o).unwrap();
            assert_ne!(once, original);
            let twice = domain::insert(&once, &vfs, &o).unwrap();
            assert_eq!(twice, once, "second insert changed the document");
            // Replacing with other VFs and back again is also stable.
            let other = domain::insert(&once, &vfs[..3], &o).unwrap();
            assert_ne!(other, once);
            assert_eq!(domain::insert(&other, &vfs, &o).unwrap(), once);
            // No VFs: qatkit's elements (and only they) go, byte for byte.
            assert_eq!(domain::insert(&once, &[], &o).unwrap(), original);
            assert_eq!(domain::insert(&original, &[], &o).unwrap(), original);
            check_qatkit_devices(&parse_xml(&once).unwrap(), &vfs, 1, machine == "q35", &o);
        }
    }
}

#[test]
fn rerunning_against_a_running_vm_keeps_its_vfs_and_the_document() {
    // First run: allocate and insert. Then the VM starts and holds its VFs; the second run
    // keeps the domain's own VFs (held, yet eligible for it) and excludes the others'.
    let sim = provisioned("4xxx", 2, "vfio-pci");
    let original = template("running", "q35");
    let mut req = request(6, Policy::Balanced);
    let first = domain::allocate(&discover(&sim), &req).unwrap();
    let once = domain::insert(&original, &first, &HostdevOptions::default()).unwrap();
    for a in &first {
        sim.hold(a.vf, 777).unwrap();
    }
    let info = DomainInfo::parse(&once, "ua-qat-").unwrap();
    assert_eq!(
        info.own_sources.iter().collect::<BTreeSet<_>>(),
        first.iter().map(|a| &a.vf).collect::<BTreeSet<_>>()
    );
    assert_eq!(info.other_sources, vec![bdf("0000:05:00.0")]);
    req.keep = info.own_sources.clone();
    req.exclude = info.other_sources.clone();
    let second = domain::allocate(&discover(&sim), &req).unwrap();
    assert_eq!(
        chosen(&second).iter().collect::<BTreeSet<_>>(),
        chosen(&first).iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        domain::insert(&once, &second, &HostdevOptions::default()).unwrap(),
        once
    );
    // Without keep, the held VFs are not eligible: a second VM gets other VFs.
    req.keep.clear();
    let other = domain::allocate(&discover(&sim), &req).unwrap();
    assert!(other.iter().all(|a| !chosen(&first).contains(&a.vf)));
}

#[test]
fn comments_the_unrelated_hostdev_and_other_devices_are_kept_verbatim_and_in_order() {
    let vfs = two_pf_vfs(16);
    let original = template("keep-me", "q35");
    let out = domain::insert(&original, &vfs, &HostdevOptions::default()).unwrap();
    // Everything up to </devices>'s indentation is the original's prefix: qatkit only appended.
    let end = original.rfind("\n  </devices>").unwrap();
    assert!(out.starts_with(&original[..end]));
    assert!(out.ends_with(&original[end..]));
    let pieces = [
        "<emulator>/usr/bin/qemu-system-x86_64</emulator>",
        "<!-- the guest's own devices: qatkit keeps them & never <touches> them -->",
        "<controller type='pci' index='0' model='pcie-root'/>",
        "<disk type='file' device='disk'>",
        "<console type='pty'>",
        UNRELATED,
    ];
    let mut last = 0;
    for piece in pieces {
        let at = out[last..]
            .find(piece)
            .unwrap_or_else(|| panic!("{piece:?} lost or moved:\n{out}"));
        last += at + piece.len();
    }
    // The added elements are indented like <devices>'s other children.
    for line in out[end..].lines().skip(1) {
        if line != "  </devices>" && line != "</domain>" {
            assert!(
                line.starts_with("    ") && line.trim_start().starts_with('<'),
                "{line:?}"
            );
        }
    }
    // A device the user adds after qatkit's is kept, and qatkit's move before </devices>.
    let edited = out.replace(
        "\n  </devices>",
        "\n    <watchdog model='itco' action='reset'/>\n  </devices>",
    );
    let again = domain::insert(&edited, &vfs, &HostdevOptions::default()).unwrap();
    assert_eq!(
        domain::insert(&again, &vfs, &HostdevOptions::default()).unwrap(),
        again
    );
    assert_eq!(
        domain::insert(&again, &[], &HostdevOptions::default()).unwrap(),
        original.replace(
            "\n  </devices>",
            "\n    <watchdog model='itco' action='reset'/>\n  </devices>"
        )
    );
}

#[test]
fn domains_written_on_one_line_or_with_tabs_round_trip_too() {
    let vfs = two_pf_vfs(3);
    let o = HostdevOptions::default();
    let one_line = "<domain type='kvm'><name>x</name><os><type machine='pc-q35-9.2'>hvm</type>\
                    </os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>\
                    </domain>";
    let tabs = template("tabs", "pc-i440fx-9.2")
        .replace("    ", "\t\t")
        .replace("  ", "\t");
    for (original, q35) in [(one_line.to_owned(), true), (tabs, false)] {
        let once = domain::insert(&original, &vfs, &o).unwrap();
        assert_eq!(domain::insert(&once, &vfs, &o).unwrap(), once);
        assert_eq!(domain::insert(&once, &[], &o).unwrap(), original);
        check_qatkit_devices(&parse_xml(&once).unwrap(), &vfs, 1, q35, &o);
    }
}

#[test]
fn qatkit_controllers_take_the_lowest_indexes_the_domain_leaves_free() {
    let vfs = two_pf_vfs(2);
    let original = template("ports", "q35").replace(
        "<controller type='pci' index='0' model='pcie-root'/>",
        "<controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='7' model='pcie-root-port'/>
    <controller type='usb' index='0' model='qemu-xhci'/>",
    );
    let out = domain::insert(&original, &vfs, &HostdevOptions::default()).unwrap();
    check_qatkit_devices(
        &parse_xml(&out).unwrap(),
        &vfs,
        // 0 and 7 are the domain's; qatkit's four controllers take 1-4.
        1,
        true,
        &HostdevOptions::default(),
    );
    // Running again does not count qatkit's own controllers as the domain's.
    assert_eq!(
        domain::insert(&out, &vfs, &HostdevOptions::default()).unwrap(),
        out
    );
}

#[test]
fn a_vf_another_hostdev_passes_is_refused_and_allocation_excludes_it() {
    let sim = provisioned("4xxx", 2, "vfio-pci");
    let host = discover(&sim);
    let taken = vf(0x6b, 0);
    // The same VF written the ways libvirt reads it: full, decimal, without the fields
    // libvirt defaults to 0 (`virsh define` calls all of these 0000:6b:00.1).
    let spellings = [
        "<address domain='0x0000' bus='0x6b' slot='0x00' function='0x1'/>",
        "<address type='pci' domain='0' bus='107' slot='0' function='1'/>",
        "<address bus='0x6b' slot='0x00' function='0x1'/>",
        "<address bus='0x6b' function='0x1'/>",
    ];
    for spelling in spellings {
        let hostdev = format!(
            "    <hostdev mode='subsystem' type='pci' managed='no'>
      <source>
        {spelling}
      </source>
    </hostdev>"
        );
        let original = template_with("taken", "q35", &hostdev);
        let info = DomainInfo::parse(&original, "ua-qat-").unwrap();
        assert_eq!(info.other_sources, vec![taken], "{spelling}");
        let all = domain::allocate(&host, &request(32 - 1, Policy::Packed)).unwrap();
        assert!(all.iter().any(|a| a.vf == taken));
        let err = domain::insert(&original, &all, &HostdevOptions::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Domain(DomainError::Place(m)) if m.contains(&taken.to_string())),
            "{spelling}: {err}"
        );
        // With the domain's other sources excluded, allocation never picks it, and the
        // insertion goes through.
        for policy in [Policy::Balanced, Policy::Packed] {
            let mut req = request(31, policy);
            req.exclude = info.other_sources.clone();
            let vfs = domain::allocate(&host, &req).unwrap();
            assert!(!chosen(&vfs).contains(&taken));
            domain::insert(&original, &vfs, &HostdevOptions::default()).unwrap();
        }
    }
    // Hostdevs of other kinds are not PCI sources, even where their address has a bus.
    let usb = "    <hostdev mode='subsystem' type='usb' managed='yes'>
      <source>
        <address bus='1' device='3'/>
      </source>
    </hostdev>";
    let info = DomainInfo::parse(&template_with("usb", "q35", usb), "ua-qat-").unwrap();
    assert!(info.other_sources.is_empty(), "{:?}", info.other_sources);
}

#[test]
fn exclude_never_picks_an_excluded_vf() {
    let host = discover(&provisioned("4xxx", 2, "vfio-pci"));
    let all: Vec<Bdf> = host
        .pfs
        .iter()
        .flat_map(|pf| pf.vfs.iter().map(|v| v.pci.bdf))
        .collect();
    assert_eq!(all.len(), 32);
    for (i, excluded) in all.iter().enumerate() {
        let mut req = request(31, [Policy::Balanced, Policy::Packed][i % 2]);
        req.numa_node = Some((i % 2) as u32);
        req.exclude = vec![*excluded];
        let vfs = domain::allocate(&host, &req).unwrap();
        assert!(!chosen(&vfs).contains(excluded));
        req.count = 32;
        match domain::allocate(&host, &req) {
            Err(Error::Domain(DomainError::TooFewVfs { left_out, .. })) => assert_eq!(
                left_out,
                vec![(
                    *excluded,
                    "used by another hostdev of the domain".to_owned()
                )]
            ),
            other => panic!("{other:?}"),
        }
    }
}

// ----------------------------------------------------------------------------------------------
// 3. Names cannot break the output

/// Strings made of the characters that break XML, YAML and JSON, and mostly valid ones.
fn nasty(valid: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        valid,
        "(ua-|intel\\.com/)?[\"'&<>\n\r\t :#{}\\[\\],*!|%@`a-z0-9é€😀/\\\\-]{0,24}",
        any::<String>(),
    ]
}

fn is_xml_or_yaml_special(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_whitespace() || c.is_ascii_control() || "\"'&<>".contains(c)
}

/// libvirt's aliasName: `[a-zA-Z0-9_\-.]+`.
fn libvirt_alias_ok(alias: &str) -> bool {
    !alias.is_empty()
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

fn fixed_vfs() -> Vec<Allocated> {
    let (a, b) = (bdf("0000:6b:00.0"), bdf("0000:70:00.0"));
    [(a, vf(0x6b, 0)), (a, vf(0x6b, 9)), (b, vf(0x70, 3))]
        .into_iter()
        .map(|(pf, vf)| Allocated {
            vf,
            pf,
            numa_node: Some(0),
        })
        .collect()
}

fn four_xxx_host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| discover(&provisioned("4xxx", 1, "vfio-pci")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An alias prefix is refused with InvalidName, or the output parses and every alias
    /// qatkit wrote is the prefix, exactly, followed by qatkit's suffix.
    #[test]
    fn alias_prefixes_cannot_break_the_xml(prefix in nasty("ua-[A-Za-z0-9_-]{1,20}")) {
        let vfs = fixed_vfs();
        let original = template("names", "q35");
        let o = HostdevOptions { alias_prefix: prefix.clone(), ..HostdevOptions::default() };
        match domain::insert(&original, &vfs, &o) {
            Err(Error::Domain(DomainError::InvalidName { value, .. })) => prop_assert_eq!(value, prefix),
            Err(e) => prop_assert!(false, "{prefix:?}: unexpected error {e}"),
            Ok(out) => {
                prop_assert!(!prefix.chars().any(is_xml_or_yaml_special), "{prefix:?} accepted");
                let root = parse_xml(&out).map_err(|e| TestCaseError::fail(format!("{prefix:?}: {e}\n{out}")))?;
                let mut all = Vec::new();
                root.walk(&mut all);
                let aliases: Vec<String> = all
                    .iter()
                    .filter(|e| e.name == "alias")
                    .filter_map(|e| e.attr("name").map(str::to_owned))
                    .collect();
                // The document's own aliases (e.g. a user's `ua-nic0`, which a prefix like `ua-n`
                // also starts) are kept; every other alias is qatkit's.
                let mut own_before = Vec::new();
                parse_xml(&original).unwrap().walk(&mut own_before);
                let before: Vec<String> = own_before
                    .iter()
                    .filter(|e| e.name == "alias")
                    .filter_map(|e| e.attr("name").map(str::to_owned))
                    .collect();
                prop_assert!(before.iter().all(|a| aliases.contains(a)), "{:?}", aliases);
                let ours: Vec<&String> = aliases.iter().filter(|a| !before.contains(a)).collect();
                // 3 hostdevs, 2 PFs with a root port and a bridge each.
                prop_assert_eq!(ours.len(), 3 + 4, "{:?}", aliases);
                for a in &ours {
                    prop_assert!(libvirt_alias_ok(a) && a.starts_with(&prefix), "{a:?}");
                    let rest = &a[prefix.len()..];
                    prop_assert!(
                        rest.starts_with("port-") || rest.starts_with("bridge-") || rest.starts_with("0000-"),
                        "{a:?}"
                    );
                }
                check_qatkit_devices(&root, &vfs, 1, true, &o);
                // The user's hostdev stays, even when its alias starts with the prefix.
                prop_assert!(aliases.contains(&"ua-nic0".to_owned()));
                prop_assert_eq!(domain::insert(&out, &vfs, &o).unwrap(), out.clone());
            }
        }
    }

    /// A resource name is refused with InvalidName, or the JSON and YAML documents read back
    /// with exactly that name wherever it appears.
    #[test]
    fn resource_names_cannot_break_yaml_or_json(
        name in nasty("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z]{1,6}){0,2}/[A-Za-z0-9]([A-Za-z0-9._-]{0,12}[A-Za-z0-9])?"),
        external in any::<bool>(),
    ) {
        let host = four_xxx_host();
        let vfs = domain::allocate(host, &request(3, Policy::Packed)).unwrap();
        match kubevirt::config(host, vfs.len(), Some(&name), external) {
            Err(Error::Kubevirt(KubevirtError::InvalidResourceName { value, .. })) => prop_assert_eq!(value, name),
            Err(e) => prop_assert!(false, "{name:?}: unexpected error {e}"),
            Ok(cfg) => {
                prop_assert!(!name.chars().any(is_xml_or_yaml_special), "{name:?} accepted");
                let json: Value = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
                let yaml_text = serde_norway::to_string(&cfg).unwrap();
                let yaml: Value = serde_norway::from_str(&yaml_text)
                    .map_err(|e| TestCaseError::fail(format!("{name:?}: {e}\n{yaml_text}")))?;
                prop_assert_eq!(&json, &yaml);
                let permitted = &json["kubevirtPatch"]["spec"]["configuration"]["permittedHostDevices"]["pciHostDevices"];
                prop_assert_eq!(permitted.as_array().unwrap().len(), 1);
                prop_assert_eq!(permitted[0]["resourceName"].as_str(), Some(name.as_str()));
                let wanted = json["vmHostDevices"]["spec"]["domain"]["devices"]["hostDevices"].as_array().unwrap();
                prop_assert_eq!(wanted.len(), 3);
                for d in wanted {
                    prop_assert_eq!(d["deviceName"].as_str(), Some(name.as_str()));
                }
            }
        }
    }
}

#[test]
fn hostile_model_names_are_refused() {
    for model in ["qat'vfio", "a\"b", "x&y", "<m>", "a b", "é", ""] {
        let err = domain::insert(
            &template("m", "q35"),
            &fixed_vfs(),
            &opts(true, Some(model), false),
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::Domain(DomainError::InvalidName { .. })),
            "{model:?}: {err}"
        );
    }
}

// ----------------------------------------------------------------------------------------------
// 4. Allocation on the simulated presets

#[test]
fn balanced_alternates_pfs_and_packed_fills_one_first() {
    let host = discover(&provisioned("4xxx", 2, "vfio-pci"));
    let balanced = domain::allocate(&host, &request(5, Policy::Balanced)).unwrap();
    assert_eq!(
        chosen(&balanced),
        vec![
            vf(0x6b, 0),
            vf(0x70, 0),
            vf(0x6b, 1),
            vf(0x70, 1),
            vf(0x6b, 2)
        ]
    );
    assert_eq!(
        balanced.iter().map(|a| a.pf).collect::<Vec<_>>(),
        ["6b", "70", "6b", "70", "6b"].map(|b| bdf(&format!("0000:{b}:00.0")))
    );
    assert_eq!(
        balanced.iter().map(|a| a.numa_node).collect::<Vec<_>>(),
        [0, 1, 0, 1, 0].map(Some)
    );
    let packed = domain::allocate(&host, &request(18, Policy::Packed)).unwrap();
    let mut want: Vec<Bdf> = (0..16).map(|i| vf(0x6b, i)).collect();
    want.extend([vf(0x70, 0), vf(0x70, 1)]);
    assert_eq!(chosen(&packed), want);
    // Every VF at most once, whatever the count.
    for count in 1..=32 {
        for policy in [Policy::Balanced, Policy::Packed] {
            let got = chosen(&domain::allocate(&host, &request(count, policy)).unwrap());
            assert_eq!(got.len(), count);
            assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), count);
        }
    }
}

#[test]
fn numa_preference_takes_the_preferred_node_first_and_falls_back() {
    // Four PFs: 6b and 70 on node 0, 75 and 7a on node 1.
    let host = discover(&provisioned("4xxx", 4, "vfio-pci"));
    let nodes: Vec<(Bdf, Option<u32>)> = host
        .pfs
        .iter()
        .map(|p| (p.pci.bdf, p.pci.numa_node))
        .collect();
    assert_eq!(
        nodes,
        [("6b", 0), ("70", 0), ("75", 1), ("7a", 1)]
            .map(|(b, n)| (bdf(&format!("0000:{b}:00.0")), Some(n)))
    );
    let mut req = request(6, Policy::Balanced);
    req.numa_node = Some(1);
    let got = domain::allocate(&host, &req).unwrap();
    assert_eq!(
        chosen(&got),
        vec![
            vf(0x75, 0),
            vf(0x7a, 0),
            vf(0x75, 1),
            vf(0x7a, 1),
            vf(0x75, 2),
            vf(0x7a, 2)
        ]
    );
    // More than node 1 has: all 32 of node 1, then node 0's, still balanced.
    req.count = 40;
    let got = domain::allocate(&host, &req).unwrap();
    assert!(got[..32].iter().all(|a| a.numa_node == Some(1)));
    assert_eq!(
        chosen(&got[32..]),
        vec![
            vf(0x6b, 0),
            vf(0x70, 0),
            vf(0x6b, 1),
            vf(0x70, 1),
            vf(0x6b, 2),
            vf(0x70, 2),
            vf(0x6b, 3),
            vf(0x70, 3)
        ]
    );
    // Packed on node 1: 75 full, then 7a, then node 0.
    req.policy = Policy::Packed;
    req.count = 33;
    let got = domain::allocate(&host, &req).unwrap();
    let mut want: Vec<Bdf> = (0..16).map(|i| vf(0x75, i)).collect();
    want.extend((0..16).map(|i| vf(0x7a, i)));
    want.push(vf(0x6b, 0));
    assert_eq!(chosen(&got), want);
    // Node 0 preferred: its PFs first.
    req.numa_node = Some(0);
    req.count = 20;
    let got = domain::allocate(&host, &req).unwrap();
    let mut want: Vec<Bdf> = (0..16).map(|i| vf(0x6b, i)).collect();
    want.extend((0..4).map(|i| vf(0x70, i)));
    assert_eq!(chosen(&got), want);
}

#[test]
fn a_numa_node_without_vfs_is_refused_not_ignored() {
    let host = discover(&provisioned("4xxx", 2, "vfio-pci"));
    for policy in [Policy::Balanced, Policy::Packed] {
        let mut req = request(1, policy);
        req.numa_node = Some(99);
        let err = domain::allocate(&host, &req).unwrap_err();
        assert!(
            matches!(&err, Error::Domain(DomainError::NoVfsOnNode { node: 99, nodes }) if nodes == &[0, 1]),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "no VF is on NUMA node 99 (VFs are on nodes 0, 1)"
        );
    }
    // VFs that report no node (one socket, a VM): a preference cannot matter, so it stands.
    let one_socket = sim("4xxx", 1);
    one_socket.with_kernel(|k| k.devices.values_mut().for_each(|d| d.numa_node = -1));
    provision_pfs(&one_socket, &[], "vfio-pci");
    let mut req = request(2, Policy::Balanced);
    req.numa_node = Some(0);
    assert_eq!(
        domain::allocate(&discover(&one_socket), &req)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn held_wrong_driver_down_and_failed_heartbeat_vfs_are_left_out_with_reasons() {
    let sim = provisioned("4xxx", 4, "vfio-pci");
    let (pf_6b, pf_75, pf_7a) = (
        bdf("0000:6b:00.0"),
        bdf("0000:75:00.0"),
        bdf("0000:7a:00.0"),
    );
    // 6b:00.1 held by a VFIO user.
    let held = vf(0x6b, 0);
    sim.hold(held, 4242).unwrap();
    // 70's VFs on qat_vfio_pci instead of vfio-pci.
    provision_pfs(&sim, &["0000:70:00.0"], "qat_vfio_pci");
    // 75 down, 7a's heartbeat failed.
    sim.with_kernel(|k| {
        k.devices
            .get_mut(&pf_75)
            .unwrap()
            .qat
            .as_mut()
            .unwrap()
            .state = QatState::Down;
        k.devices
            .get_mut(&pf_7a)
            .unwrap()
            .qat
            .as_mut()
            .unwrap()
            .heartbeat = -1;
    });
    let host = discover(&sim);
    assert_eq!(host.pfs.iter().map(|p| p.vfs.len()).sum::<usize>(), 64);

    let mut want_left_out: Vec<(Bdf, String)> = vec![(held, "held by pid 4242".into())];
    want_left_out
        .extend((0..16).map(|i| (vf(0x70, i), "bound to qat_vfio_pci, not vfio-pci".into())));
    want_left_out.extend((0..16).map(|i| (vf(0x75, i), format!("its PF {pf_75} is down"))));
    want_left_out
        .extend((0..16).map(|i| (vf(0x7a, i), format!("its PF {pf_7a} failed its heartbeat"))));

    for policy in [Policy::Balanced, Policy::Packed] {
        // Only 6b's 15 free VFs are eligible, whatever the policy or NUMA node.
        for numa in [None, Some(0), Some(1)] {
            let mut req = request(15, policy);
            req.numa_node = numa;
            let got = domain::allocate(&host, &req).unwrap();
            assert_eq!(
                chosen(&got),
                (1..16).map(|i| vf(0x6b, i)).collect::<Vec<_>>()
            );
            assert!(got.iter().all(|a| a.pf == pf_6b));

            req.count = 16;
            let err = domain::allocate(&host, &req).unwrap_err();
            let message = err.to_string();
            match err {
                Error::Domain(DomainError::TooFewVfs {
                    wanted,
                    eligible,
                    left_out,
                }) => {
                    assert_eq!((wanted, eligible), (16, 15));
                    assert_eq!(left_out, want_left_out);
                }
                other => panic!("{other:?}"),
            }
            assert!(
                message.starts_with("16 VFs requested, 15 eligible"),
                "{message}"
            );
            for (vf, why) in &want_left_out {
                assert!(message.contains(&format!("{vf} {why}")), "{vf}: {message}");
            }
        }
    }

    // The domain's own VM may hold its VFs: a kept VF is eligible though held, and first.
    let mut req = request(3, Policy::Balanced);
    req.keep = vec![held];
    assert_eq!(
        chosen(&domain::allocate(&host, &req).unwrap()),
        vec![held, vf(0x6b, 1), vf(0x6b, 2)]
    );
    // Once released, the VF is anybody's again.
    sim.release(held);
    let host = discover(&sim);
    assert_eq!(
        chosen(&domain::allocate(&host, &request(16, Policy::Packed)).unwrap()),
        (0..16).map(|i| vf(0x6b, i)).collect::<Vec<_>>()
    );
}

#[test]
fn kept_vfs_come_first_in_their_order() {
    let host = discover(&provisioned("4xxx", 2, "vfio-pci"));
    for policy in [Policy::Balanced, Policy::Packed] {
        let mut req = request(5, policy);
        req.keep = vec![vf(0x70, 9), vf(0x6b, 4)];
        let got = chosen(&domain::allocate(&host, &req).unwrap());
        assert_eq!(&got[..2], &[vf(0x70, 9), vf(0x6b, 4)]);
        assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 5, "{got:?}");
        let rest = match policy {
            Policy::Balanced => vec![vf(0x6b, 0), vf(0x70, 0), vf(0x6b, 1)],
            Policy::Packed => vec![vf(0x6b, 0), vf(0x6b, 1), vf(0x6b, 2)],
        };
        assert_eq!(&got[2..], &rest[..]);
        // Fewer wanted than kept: the first kept ones.
        req.count = 1;
        assert_eq!(
            chosen(&domain::allocate(&host, &req).unwrap()),
            vec![vf(0x70, 9)]
        );
    }
}

#[test]
fn the_mixed_host_offers_only_vfs_on_the_requested_driver() {
    let sim = sim("mixed", 3);
    provision_pfs(&sim, &["0000:6b:00.0"], "vfio-pci");
    provision_pfs(&sim, &["0000:70:00.0"], "kernel");
    let host = discover(&sim);
    let got = domain::allocate(&host, &request(16, Policy::Balanced)).unwrap();
    assert!(got.iter().all(|a| a.pf == bdf("0000:6b:00.0")));
    match domain::allocate(&host, &request(17, Policy::Balanced)) {
        Err(Error::Domain(DomainError::TooFewVfs {
            eligible, left_out, ..
        })) => {
            assert_eq!(eligible, 16);
            let c62x = host.pf(bdf("0000:70:00.0")).unwrap();
            assert_eq!(left_out.len(), c62x.vfs.len());
            assert!(!left_out.is_empty());
            for ((vf, why), v) in left_out.iter().zip(&c62x.vfs) {
                assert_eq!(*vf, v.pci.bdf);
                let driver = v.pci.driver.as_deref().unwrap();
                assert_eq!(why, &format!("bound to {driver}, not vfio-pci"));
            }
        }
        other => panic!("{other:?}"),
    }
}

// ----------------------------------------------------------------------------------------------
// 5. KubeVirt

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Both serialisations, parsed back, after checking they agree.
fn documents(cfg: &kubevirt::KubevirtConfig) -> Value {
    let json: Value = serde_json::from_str(&serde_json::to_string_pretty(cfg).unwrap()).unwrap();
    let yaml_text = serde_norway::to_string(cfg).unwrap();
    let yaml: Value = serde_norway::from_str(&yaml_text).unwrap();
    assert_eq!(json, yaml, "{yaml_text}");
    json
}

/// Checks the documents field by field against KubeVirt's API: returns the pciHostDevices
/// entries and the hostDevices entries.
fn kubevirt_structure(doc: &Value) -> (Vec<Value>, Vec<Value>) {
    assert_eq!(
        keys(doc),
        BTreeSet::from(["kubevirtPatch", "vmHostDevices"])
    );
    let patch = &doc["kubevirtPatch"];
    assert_eq!(keys(patch), BTreeSet::from(["spec"]));
    assert_eq!(keys(&patch["spec"]), BTreeSet::from(["configuration"]));
    let configuration = &patch["spec"]["configuration"];
    assert_eq!(
        keys(configuration),
        BTreeSet::from(["permittedHostDevices"])
    );
    let permitted = &configuration["permittedHostDevices"];
    assert_eq!(keys(permitted), BTreeSet::from(["pciHostDevices"]));
    let pci = permitted["pciHostDevices"].as_array().unwrap().clone();
    for entry in &pci {
        let k = keys(entry);
        assert!(
            k == BTreeSet::from(["pciVendorSelector", "resourceName"])
                || k == BTreeSet::from([
                    "pciVendorSelector",
                    "resourceName",
                    "externalResourceProvider"
                ]),
            "{entry}"
        );
        let selector = entry["pciVendorSelector"].as_str().unwrap();
        let (vendor, device) = selector.split_once(':').unwrap();
        assert_eq!(vendor, "8086");
        assert!(device.len() == 4 && device.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(entry["resourceName"].is_string());
        if let Some(ext) = entry.get("externalResourceProvider") {
            assert_eq!(ext, &Value::Bool(true));
        }
    }
    let vm = &doc["vmHostDevices"];
    assert_eq!(keys(vm), BTreeSet::from(["spec"]));
    assert_eq!(keys(&vm["spec"]), BTreeSet::from(["domain"]));
    assert_eq!(keys(&vm["spec"]["domain"]), BTreeSet::from(["devices"]));
    let devices = &vm["spec"]["domain"]["devices"];
    assert_eq!(keys(devices), BTreeSet::from(["hostDevices"]));
    let wanted = devices["hostDevices"].as_array().unwrap().clone();
    for d in &wanted {
        assert_eq!(keys(d), BTreeSet::from(["name", "deviceName"]), "{d}");
        assert!(d["name"].is_string() && d["deviceName"].is_string());
    }
    (pci, wanted)
}

#[test]
fn kubevirt_documents_have_kubevirts_field_names() {
    let host = discover(&provisioned("4xxx", 2, "vfio-pci"));
    let vfs = domain::allocate(&host, &request(3, Policy::Balanced)).unwrap();

    let doc = documents(&kubevirt::config(&host, vfs.len(), None, false).unwrap());
    let (pci, wanted) = kubevirt_structure(&doc);
    assert_eq!(
        pci,
        vec![serde_json::json!({
            "pciVendorSelector": "8086:4941",
            "resourceName": "intel.com/qat_4xxx_vf"
        })]
    );
    assert_eq!(
        wanted,
        (0..3)
            .map(|i| serde_json::json!({
                "name": format!("qat{i}"),
                "deviceName": "intel.com/qat_4xxx_vf"
            }))
            .collect::<Vec<_>>()
    );

    // Asked for: an external provider and another resource name.
    let doc = documents(
        &kubevirt::config(&host, vfs.len(), Some("qat.intel.com/generic"), true).unwrap(),
    );
    let (pci, wanted) = kubevirt_structure(&doc);
    assert_eq!(
        pci,
        vec![serde_json::json!({
            "pciVendorSelector": "8086:4941",
            "resourceName": "qat.intel.com/generic",
            "externalResourceProvider": true
        })]
    );
    assert!(
        wanted
            .iter()
            .all(|d| d["deviceName"] == "qat.intel.com/generic")
    );

    // The YAML is plain: KubeVirt's field names as keys, no tags.
    let yaml = serde_norway::to_string(
        &kubevirt::config(&host, vfs.len(), Some("intel.com/qat_4xxx_vf"), true).unwrap(),
    )
    .unwrap();
    for needle in [
        "kubevirtPatch:",
        "permittedHostDevices:",
        "pciHostDevices:",
        "pciVendorSelector: 8086:4941",
        "externalResourceProvider: true",
        "hostDevices:",
        "deviceName: intel.com/qat_4xxx_vf",
    ] {
        assert!(yaml.contains(needle), "{needle:?} not in\n{yaml}");
    }
    assert!(!yaml.contains('!'), "{yaml}");

    // No VFs: still the permitted devices, and an empty hostDevices list.
    let doc = documents(&kubevirt::config(&host, 0, None, false).unwrap());
    let (pci, wanted) = kubevirt_structure(&doc);
    assert_eq!(pci.len(), 1);
    assert!(wanted.is_empty());
}

#[test]
fn kubevirt_lists_one_entry_per_vf_device_id_and_refuses_one_name_for_two() {
    let sim = sim("mixed", 3);
    provision_pfs(&sim, &["0000:6b:00.0"], "vfio-pci");
    let host = discover(&sim);
    let vfs = domain::allocate(&host, &request(2, Policy::Balanced)).unwrap();
    let doc = documents(&kubevirt::config(&host, vfs.len(), None, false).unwrap());
    let (pci, wanted) = kubevirt_structure(&doc);
    let entries: BTreeMap<&str, &str> = pci
        .iter()
        .map(|e| {
            (
                e["pciVendorSelector"].as_str().unwrap(),
                e["resourceName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        BTreeMap::from([
            ("8086:37c9", "intel.com/qat_c62x_vf"),
            ("8086:4941", "intel.com/qat_4xxx_vf"),
        ])
    );
    assert_eq!(pci.len(), 2, "one entry per VF device id");
    assert!(
        wanted
            .iter()
            .all(|d| d["deviceName"] == "intel.com/qat_4xxx_vf")
    );

    // One --resource-name cannot name two families.
    let err = kubevirt::config(&host, vfs.len(), Some("intel.com/qat"), false).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Kubevirt(KubevirtError::AmbiguousResourceName { kinds: 2 })
        ),
        "{err}"
    );
    // A host without QAT devices has nothing to permit.
    let igb = discover(&SimHost::preset("igb".parse().unwrap(), 1));
    assert!(matches!(
        kubevirt::config(&igb, 0, None, false),
        Err(Error::Kubevirt(KubevirtError::NoQatDevices))
    ));
}

#[test]
fn kept_vfs_keep_their_policy_and_their_guest_addresses() {
    let sim = provisioned("4xxx", 2, "vfio-pci");
    let host = discover(&sim);
    let keep = vec![vf(0x6b, 4), vf(0x6b, 2)];
    let req = |policy, count| Request {
        count,
        policy,
        numa_node: None,
        driver: "vfio-pci".into(),
        keep: keep.clone(),
        exclude: Vec::new(),
    };
    // Balanced counts the kept VFs: two more go to the other PF.
    let balanced = domain::allocate(&host, &req(Policy::Balanced, 4)).unwrap();
    let per_pf = |pf: u8| balanced.iter().filter(|a| a.pf.bus == pf).count();
    assert_eq!((per_pf(0x6b), per_pf(0x70)), (2, 2));
    // Packed continues the PF that holds them.
    let packed = domain::allocate(&host, &req(Policy::Packed, 4)).unwrap();
    assert!(packed.iter().all(|a| a.pf.bus == 0x6b));
    // Kept VFs come first on their bus, in their old order.
    let (_, places) = domain::layout(&packed, domain::Machine::Q35, 1..).unwrap();
    assert_eq!((places[0].vf, places[0].function), (keep[0], 0));
    assert_eq!((places[1].vf, places[1].function), (keep[1], 1));
}

#[test]
fn odd_but_valid_domains_are_handled() {
    let vfs = two_pf_vfs(1);
    let opts = HostdevOptions::default();
    // A self-closing <devices/> opens up, and closes again with no VFs.
    let empty = "<domain type='kvm'>\n  <name>e</name>\n  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n  <devices/>\n</domain>\n";
    let out = domain::insert(empty, &vfs, &opts).unwrap();
    assert!(
        out.contains("\n  <devices>\n    <controller")
            && out.contains("</hostdev>\n  </devices>\n"),
        "{out}"
    );
    assert!(parse_xml(&out).is_ok());
    assert_eq!(
        domain::insert(&out, &[], &opts).unwrap(),
        out.replace(
            &out[out.find("<devices>").unwrap()..out.find("</devices>").unwrap() + 10],
            "<devices>\n  </devices>"
        )
    );
    // CRLF documents get CRLF lines.
    let crlf = "<domain type='kvm'>\r\n  <os><type arch='x86_64' machine='q35'>hvm</type></os>\r\n  <devices>\r\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\r\n  </devices>\r\n</domain>\r\n";
    let out = domain::insert(crlf, &vfs, &opts).unwrap();
    assert!(
        !out.replace("\r\n", "").contains('\n'),
        "a bare LF in {out:?}"
    );
    assert_eq!(domain::insert(&out, &vfs, &opts).unwrap(), out);
    // Non-x86 guests and unknown machines are refused.
    let arm = empty.replace(
        "arch='x86_64' machine='q35'",
        "arch='aarch64' machine='virt'",
    );
    assert!(matches!(
        domain::insert(&arm, &vfs, &opts),
        Err(Error::Domain(_))
    ));
    let odd = empty.replace("machine='q35'", "machine='microvm'");
    assert!(matches!(
        domain::insert(&odd, &vfs, &opts),
        Err(Error::Domain(_))
    ));
}

// ----------------------------------------------------------------------------------------------
// Hostile and careless documents

/// The q35 template with `extra` at the end of its `<devices>`.
fn template_ending_devices_with(name: &str, extra: &str) -> String {
    template(name, "q35").replace("\n  </devices>", &format!("{extra}\n  </devices>"))
}

/// Inserts `vfs` into `original` and checks that a re-run changes nothing and that taking
/// qatkit's elements out gives `original` back, byte for byte; returns the first result.
fn insert_round_trip(original: &str, vfs: &[Allocated], opts: &HostdevOptions) -> String {
    let once = domain::insert(original, vfs, opts).unwrap();
    assert_eq!(
        domain::insert(&once, vfs, opts).unwrap(),
        once,
        "a re-run changed it"
    );
    assert_eq!(
        domain::insert(&once, &[], opts).unwrap(),
        original,
        "not taken out exactly"
    );
    once
}

#[test]
fn a_byte_order_mark_is_kept_and_moves_no_insertion() {
    let vfs = two_pf_vfs(3);
    let opts = HostdevOptions::default();
    let plain = template("bom", "q35");
    let with_bom = format!("\u{feff}{plain}");
    let out = domain::insert(&with_bom, &vfs, &opts).unwrap();
    // The mark stays, and everything after it is what the same document without it gives.
    assert_eq!(
        out.strip_prefix('\u{feff}'),
        Some(domain::insert(&plain, &vfs, &opts).unwrap().as_str())
    );
    assert_eq!(domain::insert(&out, &vfs, &opts).unwrap(), out);
    assert_eq!(domain::insert(&out, &[], &opts).unwrap(), with_bom);
    // Also with qatkit's elements there already, with CRLF, and into <devices/>.
    let crlf = format!(
        "\u{feff}{}",
        domain::insert(&plain, &vfs[..1], &opts).unwrap()
    )
    .replace('\n', "\r\n");
    let again = domain::insert(&crlf, &vfs, &opts).unwrap();
    assert!(again.starts_with('\u{feff}') && !again.replace("\r\n", "").contains('\n'));
    assert_eq!(domain::insert(&again, &vfs, &opts).unwrap(), again);
    let empty = "\u{feff}<domain type='kvm'><name>e</name><os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>";
    let opened = domain::insert(empty, &vfs, &opts).unwrap();
    assert!(opened.starts_with("\u{feff}<domain type='kvm'><name>e</name>"));
    assert!(parse_xml(&opened[3..]).is_ok(), "{opened}");
    if libvirt_available() {
        let dir = tempfile::tempdir().unwrap();
        let defined = libvirt_roundtrip(dir.path(), "bom", &out);
        check_qatkit_devices(&parse_xml(&defined).unwrap(), &vfs, 1, true, &opts);
    }
}

#[test]
fn a_second_devices_element_is_refused() {
    let vfs = two_pf_vfs(1);
    let doubled = template("two", "q35").replace(
        "</devices>\n",
        "</devices>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n  </devices>\n",
    );
    let err = domain::insert(&doubled, &vfs, &HostdevOptions::default()).unwrap_err();
    assert!(err.to_string().contains("more than one <devices>"), "{err}");
    if libvirt_available() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("two.xml");
        std::fs::write(&file, &doubled).unwrap();
        let validated = Command::new("virt-xml-validate")
            .arg(&file)
            .arg("domain")
            .output()
            .unwrap();
        assert!(!validated.status.success(), "libvirt's schema takes it");
    }
}

#[test]
fn a_document_larger_than_virsh_reads_is_refused() {
    let plain = template("big", "q35");
    let padding = " ".repeat(domain::MAX_DOMAIN_XML_BYTES + 1 - plain.len());
    let big = plain.replace("</domain>", &format!("{padding}</domain>"));
    assert_eq!(big.len(), domain::MAX_DOMAIN_XML_BYTES + 1);
    let err = domain::insert(&big, &two_pf_vfs(1), &HostdevOptions::default()).unwrap_err();
    assert!(err.to_string().contains("more than the 10485760"), "{err}");
    // At the limit it is read, but what qatkit would write must fit too.
    let fits = big.replacen("  </domain>", " </domain>", 1);
    assert!(domain::insert(&fits, &[], &HostdevOptions::default()).is_ok());
    let err = domain::insert(&fits, &two_pf_vfs(1), &HostdevOptions::default()).unwrap_err();
    assert!(err.to_string().contains("the result would have"), "{err}");
}

#[test]
fn resource_names_kubernetes_would_refuse_are_refused() {
    // Kubernetes' IsExtendedResourceName: not in a kubernetes.io domain, no quota prefix, and a
    // qualified name once "requests." is put in front.
    let refused = [
        "kubernetes.io/qat",
        "foo.kubernetes.io/qat",
        "requests.intel.com/qat",
        "qat",
        "intel.com/",
        "/qat",
        "Intel.com/qat",
        "intel.com/-qat",
        "intel.com/qat/vf",
        "intel..com/qat",
    ];
    for name in refused {
        assert!(
            matches!(
                kubevirt::validate_resource_name(name),
                Err(Error::Kubevirt(KubevirtError::InvalidResourceName { .. }))
            ),
            "{name} accepted"
        );
    }
    let long_domain = format!("{}.com", "a".repeat(240));
    assert_eq!(long_domain.len(), 244);
    let accepted = [
        "intel.com/qat_4xxx_vf",
        "qat.intel.com/generic",
        "kubernetes.iox/qat",
        "requestsx.example.com/qat",
        "example.com/Q.a-t_1",
    ];
    for name in accepted {
        assert!(
            kubevirt::validate_resource_name(name).is_ok(),
            "{name} refused"
        );
    }
    assert!(kubevirt::validate_resource_name(&format!("{long_domain}/qat")).is_ok());
    assert!(kubevirt::validate_resource_name(&format!("a{long_domain}/qat")).is_err());
}

#[test]
fn text_before_qatkits_elements_keeps_a_rerun_idempotent() {
    // Found by fuzzing: with text (not only whitespace) before </devices>, the newline qatkit
    // puts before its first element joined that text, and a re-run did not take it back out.
    let vfs = two_pf_vfs(2);
    let opts = HostdevOptions::default();
    let mixed = template_ending_devices_with("mixed", "\n    stray text &amp; more");
    insert_round_trip(&mixed, &vfs, &opts);
}

#[test]
fn documents_libvirt_would_not_parse_are_refused() {
    let vfs = two_pf_vfs(1);
    let opts = HostdevOptions::default();
    let good = template("strict", "q35");
    let cases = [
        // A character XML does not allow (form feed), found by fuzzing.
        (
            good.replace("<devices>\n", "<devices>\n  \u{c}\n"),
            "not well-formed",
        ),
        (good.replace("</devices>", ""), "not well-formed"),
        (
            good.replace("type='kvm'", "type='kvm' type='qemu'"),
            "not well-formed",
        ),
        (
            good.replace("<name>strict</name>", "<name>a<b</name>"),
            "not well-formed",
        ),
        (
            good.replace("<name>strict</name>", "<name>&ent;</name>"),
            "not well-formed",
        ),
        (
            format!("<!DOCTYPE domain [<!ENTITY ent SYSTEM 'file:///etc/passwd'>]>\n{good}"),
            "DTD",
        ),
        (format!("<!DOCTYPE domain>\n{good}"), "DTD"),
        (format!("{good}<domain/>"), "not well-formed"),
    ];
    for (xml, why) in cases {
        let err = domain::insert(&xml, &vfs, &opts).unwrap_err().to_string();
        assert!(err.contains(why), "{err} for\n{xml}");
    }
}

#[test]
fn prefixed_elements_are_not_libvirts() {
    // Found by fuzzing: `<:devices/>` was taken for libvirt's <devices/> and rewritten as it.
    let vfs = two_pf_vfs(1);
    let opts = HostdevOptions::default();
    let only_prefixed =
        "<domain type='kvm'><os><type machine='q35'>hvm</type></os><:devices/></domain>";
    assert!(
        domain::insert(only_prefixed, &vfs, &opts)
            .is_err_and(|e| e.to_string().contains("no <devices>"))
    );
    let both = template("ns", "q35").replace(
        "<domain type='kvm'>",
        "<domain type='kvm' xmlns:x='urn:x'>\n  <x:devices><x:hostdev/></x:devices>",
    );
    let out = domain::insert(&both, &vfs, &opts).unwrap();
    assert!(out.contains("<x:devices><x:hostdev/></x:devices>\n"));
    assert_eq!(domain::insert(&out, &[], &opts).unwrap(), both);
    assert_eq!(
        out.matches("<hostdev ").count(),
        2,
        "the user's and qatkit's"
    );
}

#[test]
fn cdata_before_qatkits_elements_is_kept_and_reruns_are_idempotent() {
    // The parser joins text and CDATA into one node that keeps only the first part's position:
    // offsets taken from it deleted the CDATA with qatkit's elements, or left whitespace behind.
    let vfs = two_pf_vfs(2);
    let opts = HostdevOptions::default();
    for tail in [
        "\n    <![CDATA[keep]]>",
        "x<![CDATA[y]]>",
        "\n  <![CDATA[ ]]>\n",
    ] {
        let once = insert_round_trip(&template_ending_devices_with("cdata", tail), &vfs, &opts);
        assert!(once.contains(tail), "{once}");
    }
}

#[test]
fn only_controllers_and_hostdevs_can_be_qatkits() {
    // Found by fuzzing: an element of another kind holding a qatkit-shaped alias was taken for
    // qatkit's and deleted by the next run.
    let vfs = two_pf_vfs(1);
    let opts = HostdevOptions::default();
    let users = "\n    <redirdev bus='usb' type='spicevmc'>\n      <alias name='ua-qat-0000-6b-00-1'/>\n    </redirdev>\n    <controller type='pci' index='5' model='pcie-root-port'>\n      <alias name='ua-qat-0000-6b-00-2'/>\n    </controller>";
    let once = insert_round_trip(&template_ending_devices_with("kinds", users), &vfs, &opts);
    assert!(once.contains(users));
    // The user's controller keeps its index to itself.
    assert!(!once.contains("index=\"5\""));
}

#[test]
fn an_end_tag_must_name_its_element_exactly() {
    // Found by fuzzing: the reader took `</:domain>` for the end of `<domain>`; XML does not.
    let vfs = two_pf_vfs(1);
    let good = template("ends", "q35");
    for bad in [
        good.replace("</domain>", "</:domain>"),
        good.replace("</devices>", "</:devices>"),
        good.replace("</name>", "</x:name>"),
    ] {
        let err = domain::insert(&bad, &vfs, &HostdevOptions::default()).unwrap_err();
        assert!(err.to_string().contains("not well-formed"), "{err}");
    }
    let spaced = good.replace("</devices>", "</devices \n >");
    assert!(domain::insert(&spaced, &vfs, &HostdevOptions::default()).is_ok());
}

#[test]
fn elements_in_a_namespace_are_not_libvirts() {
    // Found by fuzzing: a <controller xmlns='...'> with a qatkit alias was taken for qatkit's.
    let vfs = two_pf_vfs(1);
    let opts = HostdevOptions::default();
    let theirs = "\n    <controller xmlns='urn:x' type='pci' index='4'>\n      <alias name='ua-qat-bridge-0000-70-00-0'/>\n    </controller>";
    let once = insert_round_trip(&template_ending_devices_with("ns2", theirs), &vfs, &opts);
    assert!(once.contains(theirs));
    let default_ns =
        template("ns3", "q35").replace("<domain type='kvm'>", "<domain type='kvm' xmlns='urn:x'>");
    let err = domain::insert(&default_ns, &vfs, &opts).unwrap_err();
    assert!(err.to_string().contains("not libvirt's <domain>"), "{err}");
}

#[test]
fn an_empty_devices_tag_opens_up_as_it_was_written() {
    // Found by fuzzing: `<devices\r\r/>` (or one with attributes) became a bare `<devices>`.
    let vfs = two_pf_vfs(1);
    let opts = HostdevOptions::default();
    for tag in ["<devices\r\r/>", "<devices  x='1' />"] {
        let empty = format!(
            "<domain type='kvm'>\n  <os><type machine='q35'>hvm</type></os>\n  {tag}\n</domain>\n"
        );
        let out = domain::insert(&empty, &vfs, &opts).unwrap();
        let opened = tag.replace("/>", ">");
        assert!(
            out.contains(&format!("{opened}\n    <controller")),
            "{out:?}"
        );
        assert_eq!(domain::insert(&out, &vfs, &opts).unwrap(), out);
    }
}
