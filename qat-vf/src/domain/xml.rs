//! libvirt domain XML: the `<controller>`s and `<hostdev>`s for placed VFs, written with
//! quick-xml, and their insertion into an existing domain that keeps every other byte.
//!
//! qatkit's elements carry a user alias starting with its prefix (`ua-qat-` by default), which is
//! how a later run finds and replaces them: running twice gives the same document.

use std::ops::Range;

use quick_xml::Writer;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::layout::{GuestBus, Machine, Placement};
use crate::error::{Error, Result};
use crate::pci::Bdf;

/// The largest domain document qatkit reads: what `virsh define` reads from a file
/// (`VSH_MAX_XML_FILE` in libvirt's `tools/vsh.h`, 10 MiB).
pub const MAX_DOMAIN_XML_BYTES: usize = 10 * 1024 * 1024;

/// How the hostdevs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostdevOptions {
    /// `managed='yes'`: libvirt binds the VF to vfio-pci itself when the VM starts.
    pub managed: bool,
    /// `<driver name='vfio' model='...'/>`, e.g. `qat_vfio_pci` (libvirt ≥ 9.3).
    pub model: Option<String>,
    /// `<rom bar='off'/>`: VFs have no option ROM worth exposing.
    pub rom_bar_off: bool,
    /// Alias prefix of qatkit's elements; a libvirt user alias (`ua-`, letters, digits, `_-`).
    pub alias_prefix: String,
}

impl Default for HostdevOptions {
    fn default() -> Self {
        HostdevOptions {
            managed: true,
            model: None,
            rom_bar_off: false,
            alias_prefix: "ua-qat-".into(),
        }
    }
}

/// Checks a libvirt user alias (prefix): `ua-` then letters, digits, `_` and `-` only.
pub fn validate_alias_prefix(prefix: &str) -> Result<()> {
    let ok = prefix.len() > 3
        && prefix.len() <= 48
        && prefix.starts_with("ua-")
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "alias prefix",
            value: prefix.to_owned(),
            rule: "libvirt user aliases start with ua- and hold only letters, digits, _ and -",
        })
    }
}

/// Checks a hostdev driver model: a driver name.
fn validate_model(model: &str) -> Result<()> {
    crate::driver::validate_driver_name(model).map_err(|_| Error::InvalidName {
        what: "driver model",
        value: model.to_owned(),
        rule: "a driver name: letters, digits, _ - .",
    })
}

fn bdf_alias(prefix: &str, kind: &str, bdf: Bdf) -> String {
    format!(
        "{prefix}{kind}{:04x}-{:02x}-{:02x}-{:x}",
        bdf.domain, bdf.bus, bdf.device, bdf.function
    )
}

fn hex(value: u32, width: usize) -> String {
    format!("0x{value:0width$x}")
}

fn element(name: &str, attrs: &[(&str, &str)]) -> BytesStart<'static> {
    let mut start = BytesStart::new(name.to_owned());
    for (k, v) in attrs {
        start.push_attribute((*k, *v));
    }
    start
}

/// The controllers and hostdevs, each element as its own indented text.
pub fn render(
    buses: &[GuestBus],
    placements: &[Placement],
    opts: &HostdevOptions,
) -> Result<Vec<String>> {
    validate_alias_prefix(&opts.alias_prefix)?;
    if let Some(model) = &opts.model {
        validate_model(model)?;
    }
    let mut out = Vec::new();
    let write = |build: &dyn Fn(&mut Writer<Vec<u8>>) -> std::io::Result<()>| -> Result<String> {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        build(&mut writer).map_err(|e| Error::Domain(format!("writing XML: {e}")))?;
        String::from_utf8(writer.into_inner()).map_err(|e| Error::Domain(e.to_string()))
    };
    for bus in buses {
        if let Some(port) = bus.root_port {
            let alias = bdf_alias(&opts.alias_prefix, "port-", bus.pf);
            let index = port.to_string();
            out.push(write(&|w| {
                w.create_element("controller")
                    .with_attributes([
                        ("type", "pci"),
                        ("index", index.as_str()),
                        ("model", "pcie-root-port"),
                    ])
                    .write_inner_content(|w| {
                        w.create_element("alias")
                            .with_attribute(("name", alias.as_str()))
                            .write_empty()?;
                        Ok(())
                    })?;
                Ok(())
            })?);
        }
        let alias = bdf_alias(&opts.alias_prefix, "bridge-", bus.pf);
        let index = bus.bridge.to_string();
        let model = if bus.root_port.is_some() {
            "pcie-to-pci-bridge"
        } else {
            "pci-bridge"
        };
        let port_bus = bus.root_port.map(|p| hex(p, 2));
        out.push(write(&|w| {
            w.create_element("controller")
                .with_attributes([("type", "pci"), ("index", index.as_str()), ("model", model)])
                .write_inner_content(|w| {
                    w.create_element("alias")
                        .with_attribute(("name", alias.as_str()))
                        .write_empty()?;
                    if let Some(port_bus) = &port_bus {
                        w.write_event(Event::Empty(element(
                            "address",
                            &[
                                ("type", "pci"),
                                ("domain", "0x0000"),
                                ("bus", port_bus),
                                ("slot", "0x00"),
                                ("function", "0x0"),
                            ],
                        )))?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?);
    }
    for place in placements {
        let vf = place.vf;
        let alias = bdf_alias(&opts.alias_prefix, "", vf);
        let (domain, bus, slot, function) = (
            hex(u32::from(vf.domain), 4),
            hex(u32::from(vf.bus), 2),
            hex(u32::from(vf.device), 2),
            hex(u32::from(vf.function), 1),
        );
        let guest_bus = hex(place.bus, 2);
        let guest_slot = hex(u32::from(place.slot), 2);
        let guest_function = hex(u32::from(place.function), 1);
        out.push(write(&|w| {
            w.create_element("hostdev")
                .with_attributes([
                    ("mode", "subsystem"),
                    ("type", "pci"),
                    ("managed", if opts.managed { "yes" } else { "no" }),
                ])
                .write_inner_content(|w| {
                    let mut driver = element("driver", &[("name", "vfio")]);
                    if let Some(model) = &opts.model {
                        driver.push_attribute(("model", model.as_str()));
                    }
                    w.write_event(Event::Empty(driver))?;
                    w.create_element("source").write_inner_content(|w| {
                        w.write_event(Event::Empty(element(
                            "address",
                            &[
                                ("domain", &domain),
                                ("bus", &bus),
                                ("slot", &slot),
                                ("function", &function),
                            ],
                        )))?;
                        Ok(())
                    })?;
                    w.create_element("alias")
                        .with_attribute(("name", alias.as_str()))
                        .write_empty()?;
                    if opts.rom_bar_off {
                        w.create_element("rom")
                            .with_attribute(("bar", "off"))
                            .write_empty()?;
                    }
                    let mut address = element(
                        "address",
                        &[
                            ("type", "pci"),
                            ("domain", "0x0000"),
                            ("bus", &guest_bus),
                            ("slot", &guest_slot),
                            ("function", &guest_function),
                        ],
                    );
                    if place.multifunction {
                        address.push_attribute(("multifunction", "on"));
                    }
                    w.write_event(Event::Empty(address))?;
                    Ok(())
                })?;
            Ok(())
        })?);
    }
    Ok(out)
}

/// What qatkit needs to know about an existing domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainInfo {
    /// From `<os><type machine=...>`: q35 when it names q35, else i440fx (`pc`, QEMU's default).
    pub machine: Machine,
    /// `<controller type='pci' index>`es not added by qatkit.
    pub used_pci_indexes: std::collections::BTreeSet<u32>,
    /// PCI sources of hostdevs qatkit did not add.
    pub other_sources: Vec<Bdf>,
    /// PCI sources of qatkit's hostdevs.
    pub own_sources: Vec<Bdf>,
    /// Byte ranges of qatkit's elements, each with the whitespace before it.
    own_spans: Vec<Range<usize>>,
    /// Where `</devices>` begins, less the whitespace before it.
    insert_at: usize,
    /// Indentation of `<devices>`'s children.
    child_indent: String,
    /// The document's line ending.
    newline: &'static str,
    /// A self-closing `<devices/>`, to be opened up.
    empty_devices: Option<Range<usize>>,
    /// Indentation of `<devices>` itself.
    devices_indent: String,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>> {
    match e
        .try_get_attribute(name)
        .map_err(|err| Error::Domain(err.to_string()))?
    {
        Some(a) => Ok(Some(
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| Error::Domain(err.to_string()))?
                .into_owned(),
        )),
        None => Ok(None),
    }
}

/// A `<hostdev type='pci'>` source address. Every field is optional and 0 when absent, as
/// libvirt reads it (`<address bus='0x6b' function='1'/>` is 0000:6b:00.1).
/// An integer as libvirt reads address fields (strtol base 0): `0x` hex, a leading `0` octal,
/// else decimal.
fn parse_c_integer(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}

/// Whether an alias is one qatkit writes: the prefix, then `port-`, `bridge-` or nothing, then
/// a BDF as `dddd-bb-ss-f`. Only these are replaced, so a short prefix cannot take a user's
/// element for qatkit's.
fn is_own_alias(alias: &str, prefix: &str) -> bool {
    let Some(rest) = alias.strip_prefix(prefix) else {
        return false;
    };
    let rest = rest
        .strip_prefix("port-")
        .or_else(|| rest.strip_prefix("bridge-"))
        .unwrap_or(rest);
    let parts: Vec<&str> = rest.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    matches!(parts.as_slice(), [d, b, s, f] if hex(d, 4) && hex(b, 2) && hex(s, 2) && f.len() == 1 && (b'0'..=b'7').contains(&f.as_bytes()[0]))
}

fn parse_pci_address(e: &BytesStart<'_>) -> Result<Option<Bdf>> {
    let field = |name| -> Result<u32> {
        attr(e, name)?.map_or(Ok(0), |v| {
            parse_c_integer(&v)
                .ok_or_else(|| Error::Domain(format!("bad PCI address field {name}={v:?}")))
        })
    };
    let (domain, bus, slot, function) = (
        field("domain")?,
        field("bus")?,
        field("slot")?,
        field("function")?,
    );
    let narrow = |v: u32, max: u32| (v <= max).then_some(v);
    match (
        narrow(domain, 0xffff),
        narrow(bus, 0xff),
        narrow(slot, 0x1f),
        narrow(function, 7),
    ) {
        (Some(d), Some(b), Some(s), Some(f)) => Ok(Some(Bdf {
            domain: d as u16,
            bus: b as u8,
            device: s as u8,
            function: f as u8,
        })),
        _ => Err(Error::Domain("PCI address out of range".into())),
    }
}

/// A child of `<devices>` being read: where it starts (with its leading whitespace), its name,
/// alias, hostdev source and PCI controller index.
#[derive(Default)]
struct Child {
    start: usize,
    name: String,
    alias: Option<String>,
    source: Option<Bdf>,
    pci_index: Option<u32>,
    /// A `<hostdev type='pci'>`: only its source is a PCI address.
    pci_hostdev: bool,
}

impl DomainInfo {
    /// Parses a domain, finding `<devices>` and what qatkit (recognised by `alias_prefix`) and
    /// others put there. A document over [`MAX_DOMAIN_XML_BYTES`] is refused.
    pub fn parse(xml: &str, alias_prefix: &str) -> Result<Self> {
        if xml.len() > MAX_DOMAIN_XML_BYTES {
            return Err(Error::Domain(format!(
                "the document has {} bytes, more than the {MAX_DOMAIN_XML_BYTES} virsh reads",
                xml.len()
            )));
        }
        // quick-xml skips a byte-order mark without counting it in its positions: read what
        // follows the mark, then shift every offset by its length so that they index `xml`.
        let body = xml.strip_prefix('\u{feff}').unwrap_or(xml);
        let mut info = Self::parse_body(body, alias_prefix)?;
        info.shift(xml.len() - body.len());
        Ok(info)
    }

    /// Moves every byte offset `by` bytes on.
    fn shift(&mut self, by: usize) {
        for span in &mut self.own_spans {
            *span = span.start + by..span.end + by;
        }
        self.insert_at += by;
        if let Some(empty) = &mut self.empty_devices {
            *empty = empty.start + by..empty.end + by;
        }
    }

    fn parse_body(xml: &str, alias_prefix: &str) -> Result<Self> {
        let mut reader = Reader::from_str(xml);
        // Without a machine type, QEMU's x86 default applies: i440fx (pc).
        let mut info = DomainInfo {
            machine: Machine::Pc,
            ..DomainInfo::default()
        };
        let mut path: Vec<String> = Vec::new();
        let mut child: Option<Child> = None;
        // Whitespace right before the next child of <devices> (or before </devices>).
        let mut pending_ws: Option<usize> = None;
        let mut devices_closed = false;
        let mut seen_devices = false;
        // Whitespace directly under <domain>, for the indentation of <devices>.
        let mut last_domain_ws: Option<(usize, usize)> = None;
        loop {
            let start = reader.buffer_position() as usize;
            let event = reader
                .read_event()
                .map_err(|e| Error::Domain(format!("at byte {}: {e}", reader.error_position())))?;
            let end = reader.buffer_position() as usize;
            let in_devices = path.len() == 2 && path[0] == "domain" && path[1] == "devices";
            match &event {
                Event::Eof => break,
                Event::Text(t) if in_devices && t.bytes().all(|b| b.is_ascii_whitespace()) => {
                    pending_ws.get_or_insert(start);
                }
                Event::Text(t) if path.len() == 1 && t.bytes().all(|b| b.is_ascii_whitespace()) => {
                    last_domain_ws = Some((start, end));
                }
                Event::Start(e) | Event::Empty(e) => {
                    let name =
                        String::from_utf8_lossy(e.local_name().as_ref().as_ref()).into_owned();
                    if path.is_empty() && name != "domain" {
                        return Err(Error::Domain(format!(
                            "root element is <{name}>, not <domain>"
                        )));
                    }
                    if path.len() == 2 && path[1] == "os" && name == "type" {
                        let arch = attr(e, "arch")?.unwrap_or_else(|| "x86_64".into());
                        let machine = attr(e, "machine")?.unwrap_or_default();
                        if !matches!(arch.as_str(), "x86_64" | "i686") {
                            return Err(Error::Domain(format!("architecture {arch} is not x86")));
                        }
                        if machine.contains("q35") {
                            info.machine = Machine::Q35;
                        } else if !(machine.is_empty()
                            || machine.starts_with("pc")
                            || machine.contains("i440fx"))
                        {
                            return Err(Error::Domain(format!(
                                "machine type {machine:?} is neither q35 nor i440fx (pc)"
                            )));
                        }
                    }
                    if path.len() == 1 && name == "devices" {
                        // libvirt's schema allows one; which one its parser would take is
                        // not for qatkit to guess.
                        if seen_devices {
                            return Err(Error::Domain(
                                "the domain has more than one <devices> element".into(),
                            ));
                        }
                        seen_devices = true;
                        info.devices_indent = last_domain_ws
                            .filter(|(_, ws_end)| *ws_end == start)
                            .and_then(|(ws_start, _)| {
                                xml[ws_start..start]
                                    .rsplit_once('\n')
                                    .map(|(_, i)| i.to_owned())
                            })
                            .unwrap_or_default();
                        if matches!(event, Event::Empty(_)) && !devices_closed {
                            info.empty_devices = Some(start..end);
                            devices_closed = true;
                        }
                    }
                    if in_devices {
                        // The first child's leading whitespace sets the children's indentation.
                        if let (Some(ws), true) = (pending_ws, info.child_indent.is_empty()) {
                            if let Some((_, indent)) = xml[ws..start].rsplit_once('\n') {
                                info.child_indent = indent.to_owned();
                            }
                        }
                        let pci_index =
                            if name == "controller" && attr(e, "type")?.as_deref() == Some("pci") {
                                attr(e, "index")?.and_then(|i| i.parse().ok())
                            } else {
                                None
                            };
                        child = Some(Child {
                            start: pending_ws.take().unwrap_or(start),
                            name: name.clone(),
                            pci_index,
                            pci_hostdev: name == "hostdev"
                                && attr(e, "type")?.as_deref() == Some("pci"),
                            ..Child::default()
                        });
                    } else if let Some(c) = child.as_mut() {
                        if name == "alias" && path.len() == 3 {
                            c.alias = attr(e, "name")?;
                        }
                        if c.pci_hostdev
                            && name == "address"
                            && path.len() == 4
                            && path[3] == "source"
                        {
                            c.source = parse_pci_address(e)?;
                        }
                    }
                    if matches!(event, Event::Start(_)) {
                        path.push(name);
                    } else if in_devices {
                        info.finish_child(child.take(), end, alias_prefix);
                    }
                }
                Event::End(_) => {
                    let name = path.pop().unwrap_or_default();
                    let back_in_devices = path.len() == 2 && path[1] == "devices";
                    if back_in_devices {
                        info.finish_child(child.take(), end, alias_prefix);
                    } else if path.len() == 1 && name == "devices" && !devices_closed {
                        info.insert_at = pending_ws.take().unwrap_or(start);
                        devices_closed = true;
                    }
                }
                _ if in_devices => pending_ws = None,
                _ => {}
            }
        }
        if !devices_closed {
            return Err(Error::Domain(
                "no <devices>...</devices> element under <domain>".into(),
            ));
        }
        if info.child_indent.is_empty() {
            info.child_indent = format!("{}  ", info.devices_indent);
        }
        info.newline = if xml.contains("\r\n") { "\r\n" } else { "\n" };
        Ok(info)
    }

    fn finish_child(&mut self, child: Option<Child>, end: usize, prefix: &str) {
        let Some(child) = child else { return };
        if child
            .alias
            .as_deref()
            .is_some_and(|a| is_own_alias(a, prefix))
        {
            self.own_spans.push(child.start..end);
            self.own_sources.extend(child.source);
        } else {
            if child.name == "hostdev" {
                self.other_sources.extend(child.source);
            }
            if let Some(i) = child.pci_index {
                self.used_pci_indexes.insert(i);
            }
        }
    }

    /// The document with qatkit's previous elements (and the whitespace before each) removed
    /// and `elements` added at the end of `<devices>`, indented like its other children. Every
    /// other byte is kept.
    pub fn rewrite(&self, xml: &str, elements: &[String]) -> String {
        let mut out =
            String::with_capacity(xml.len() + elements.iter().map(String::len).sum::<usize>());
        let lines = |out: &mut String| {
            for line in elements.iter().flat_map(|e| e.lines()) {
                out.push_str(self.newline);
                out.push_str(&self.child_indent);
                out.push_str(line);
            }
        };
        if let Some(empty) = &self.empty_devices {
            if elements.is_empty() {
                return xml.to_owned();
            }
            out.push_str(&xml[..empty.start]);
            out.push_str("<devices>");
            lines(&mut out);
            out.push_str(self.newline);
            out.push_str(&self.devices_indent);
            out.push_str("</devices>");
            out.push_str(&xml[empty.end..]);
            return out;
        }
        let mut pos = 0;
        for span in &self.own_spans {
            out.push_str(&xml[pos..span.start]);
            pos = span.end;
        }
        out.push_str(&xml[pos..self.insert_at]);
        lines(&mut out);
        out.push_str(&xml[self.insert_at..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_aliases_are_recognised_by_their_whole_shape() {
        assert!(is_own_alias("ua-qat-0000-6b-00-1", "ua-qat-"));
        assert!(is_own_alias("ua-qat-port-0000-6b-00-0", "ua-qat-"));
        assert!(is_own_alias("ua-qat-bridge-0001-ff-1f-7", "ua-qat-"));
        assert!(!is_own_alias("ua-qat-nic0", "ua-qat-"));
        assert!(!is_own_alias("ua-nic0", "ua-n"));
        assert!(!is_own_alias("ua-qat-0000-6b-00-8", "ua-qat-"));
        assert!(!is_own_alias("ua-qat-0000-6B-00-1", "ua-qat-"));
    }

    #[test]
    fn address_fields_read_like_strtol() {
        assert_eq!(parse_c_integer("0x6b"), Some(0x6b));
        assert_eq!(parse_c_integer("010"), Some(8));
        assert_eq!(parse_c_integer("107"), Some(107));
        assert_eq!(parse_c_integer("0"), Some(0));
        assert_eq!(parse_c_integer("09"), None);
        assert_eq!(parse_c_integer("x"), None);
    }
}
