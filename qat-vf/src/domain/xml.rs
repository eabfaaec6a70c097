//! libvirt domain XML: the `<controller>`s and `<hostdev>`s for placed VFs, written with
//! quick-xml, and their insertion into an existing domain that keeps every other byte.
//!
//! qatkit's elements carry a user alias starting with its prefix (`ua-qat-` by default), which is
//! how a later run finds and replaces them: running twice gives the same document.

use std::ops::Range;

use quick_xml::Writer;
use quick_xml::events::{BytesStart, Event};

use super::layout::{GuestBus, Machine, Placement};
use crate::error::{DomainError, Result};
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

impl HostdevOptions {
    /// Checks the options before anything is rendered: the alias prefix is a libvirt user
    /// alias and the model a driver name.
    pub fn validate(&self) -> Result<()> {
        validate_alias_prefix(&self.alias_prefix)?;
        match &self.model {
            Some(model) => validate_model(model),
            None => Ok(()),
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
        Err(DomainError::InvalidName {
            what: "alias prefix",
            value: prefix.to_owned(),
            rule: "libvirt user aliases start with ua- and hold only letters, digits, _ and -",
        }
        .into())
    }
}

/// Checks a hostdev driver model: a driver name.
fn validate_model(model: &str) -> Result<()> {
    crate::driver::validate_driver_name(model).map_err(|_| {
        DomainError::InvalidName {
            what: "driver model",
            value: model.to_owned(),
            rule: "a driver name: letters, digits, _ - .",
        }
        .into()
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
pub(crate) fn render(
    buses: &[GuestBus],
    placements: &[Placement],
    opts: &HostdevOptions,
) -> Result<Vec<String>> {
    opts.validate()?;
    let mut out = Vec::new();
    let write = |build: &dyn Fn(&mut Writer<Vec<u8>>) -> std::io::Result<()>| -> Result<String> {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        build(&mut writer).map_err(|e| DomainError::Write(e.to_string()))?;
        String::from_utf8(writer.into_inner()).map_err(|e| DomainError::Write(e.to_string()).into())
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

/// An element's name as written, prefix included.
fn qualified_name<'i>(element: roxmltree::Node<'_, 'i>) -> &'i str {
    let tag = &element.document().input_text()[element.range()];
    let name = tag.get(1..).unwrap_or_default();
    let end = name
        .find(|c: char| is_xml_space(c) || c == '/' || c == '>')
        .unwrap_or(name.len());
    &name[..end]
}

/// Whether an element's end tag names it as its start tag does (an empty element has none).
fn end_tag_matches(element: roxmltree::Node<'_, '_>) -> bool {
    let text = &element.document().input_text()[element.range()];
    if text.ends_with("/>") {
        return true;
    }
    // The end tag is the last thing in the element's text, and no tag holds `</`.
    let end = text.rfind("</").map_or("", |at| &text[at + 2..]);
    end.trim_end_matches('>').trim_end_matches(is_xml_space) == qualified_name(element)
}

/// The name of one of libvirt's elements: no prefix and no namespace (`<x:devices>`, `<:devices>`
/// and `<devices xmlns='...'>`, found by fuzzing, are not libvirt's `<devices>`, nor would its
/// XPath lookups find them); the empty name for any other element.
fn libvirt_name<'i>(element: roxmltree::Node<'_, 'i>) -> &'i str {
    match element.tag_name().namespace() {
        None => qualified_name(element),
        Some(_) => "",
    }
}

/// The element children of `node` that are libvirt's `name`, in document order.
fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && libvirt_name(*c) == name)
}

/// XML's whitespace (space, tab, CR, LF): narrower than Unicode's or ASCII's.
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Where the whitespace right before byte `at` begins. It is read from the bytes, not from the
/// parser's text nodes (which join text and CDATA and keep the first one's position); it never
/// reaches into markup, which ends with `>`.
fn whitespace_before(xml: &str, at: usize) -> usize {
    xml[..at].trim_end_matches(is_xml_space).len()
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

/// Whether an element is one qatkit writes, by its name and alias: a `<controller>` aliased
/// the prefix, `port-` or `bridge-`, and a BDF as `dddd-bb-ss-f`; a `<hostdev>` aliased the prefix
/// and a BDF. Only these are replaced, so a short prefix cannot take a user's element (or, found
/// by fuzzing, an element of another kind holding such an alias) for qatkit's.
fn is_own(element: &str, alias: &str, prefix: &str) -> bool {
    let Some(rest) = alias.strip_prefix(prefix) else {
        return false;
    };
    let rest = match element {
        "controller" => match rest
            .strip_prefix("port-")
            .or_else(|| rest.strip_prefix("bridge-"))
        {
            Some(rest) => rest,
            None => return false,
        },
        "hostdev" => rest,
        _ => return false,
    };
    let parts: Vec<&str> = rest.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    matches!(parts.as_slice(), [d, b, s, f] if hex(d, 4) && hex(b, 2) && hex(s, 2) && f.len() == 1 && (b'0'..=b'7').contains(&f.as_bytes()[0]))
}

fn parse_pci_address(e: roxmltree::Node<'_, '_>) -> Result<Bdf> {
    let field = |name| -> Result<u32> {
        e.attribute(name).map_or(Ok(0), |v| {
            parse_c_integer(v).ok_or_else(|| {
                DomainError::Read(format!("bad PCI address field {name}={v:?}")).into()
            })
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
        (Some(d), Some(b), Some(s), Some(f)) => Ok(Bdf {
            domain: d as u16,
            bus: b as u8,
            device: s as u8,
            function: f as u8,
        }),
        _ => Err(DomainError::Read("PCI address out of range".into()).into()),
    }
}

impl DomainInfo {
    /// Parses a domain, finding `<devices>` and what qatkit (recognised by `alias_prefix`) and
    /// others put there. A document over [`MAX_DOMAIN_XML_BYTES`] is refused.
    pub fn parse(xml: &str, alias_prefix: &str) -> Result<Self> {
        if xml.len() > MAX_DOMAIN_XML_BYTES {
            return Err(DomainError::Read(format!(
                "the document has {} bytes, more than the {MAX_DOMAIN_XML_BYTES} virsh reads",
                xml.len()
            ))
            .into());
        }
        // A strict XML 1.0 parser: a document libvirt's libxml2 would refuse is refused here,
        // and so is any DTD (libvirt never writes one; it is where entity tricks live).
        let options = roxmltree::ParsingOptions {
            allow_dtd: false,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(xml, options).map_err(|e| {
            DomainError::Read(match e {
                roxmltree::Error::DtdDetected => "a DTD (<!DOCTYPE ...>) is not accepted".into(),
                e => format!("not well-formed XML: {e}"),
            })
        })?;
        // roxmltree matches `</:a>` with `<a>`; XML 1.0 (and libxml2) wants the same name.
        if let Some(e) = doc
            .descendants()
            .find(|e| e.is_element() && !end_tag_matches(*e))
        {
            return Err(DomainError::Read(format!(
                "not well-formed XML: the end tag of <{}> at byte {} does not match it",
                qualified_name(e),
                e.range().start
            ))
            .into());
        }
        let domain = doc.root_element();
        if libvirt_name(domain) != "domain" {
            return Err(DomainError::Read(format!(
                "root element is <{}>, not libvirt's <domain> (with no namespace)",
                qualified_name(domain)
            ))
            .into());
        }
        // Without a machine type, QEMU's x86 default applies: i440fx (pc).
        let mut info = DomainInfo {
            machine: Machine::Pc,
            newline: if xml.contains("\r\n") { "\r\n" } else { "\n" },
            ..DomainInfo::default()
        };
        for os_type in children(domain, "os").flat_map(|os| children(os, "type")) {
            let arch = os_type.attribute("arch").unwrap_or("x86_64");
            let machine = os_type.attribute("machine").unwrap_or_default();
            if !matches!(arch, "x86_64" | "i686") {
                return Err(DomainError::Read(format!("architecture {arch} is not x86")).into());
            }
            if machine.contains("q35") {
                info.machine = Machine::Q35;
            } else if !(machine.is_empty()
                || machine.starts_with("pc")
                || machine.contains("i440fx"))
            {
                return Err(DomainError::Read(format!(
                    "machine type {machine:?} is neither q35 nor i440fx (pc)"
                ))
                .into());
            }
        }
        let mut all_devices = children(domain, "devices");
        let devices = all_devices.next().ok_or_else(|| {
            DomainError::Read("no <devices>...</devices> element under <domain>".into())
        })?;
        // libvirt's schema allows one; which one its parser would take is not for qatkit to
        // guess.
        if all_devices.next().is_some() {
            return Err(
                DomainError::Read("the domain has more than one <devices> element".into()).into(),
            );
        }
        let range = devices.range();
        let indent_before = |at: usize| {
            let ws = &xml[whitespace_before(xml, at)..at];
            ws.rsplit_once('\n').map(|(_, indent)| indent.to_owned())
        };
        info.devices_indent = indent_before(range.start).unwrap_or_default();
        if xml[range.clone()].ends_with("/>") {
            info.empty_devices = Some(range.clone());
        }
        for node in devices.children().filter(|n| n.is_element()) {
            let start = node.range().start;
            // The first child's leading whitespace sets the children's indentation.
            if info.child_indent.is_empty() {
                info.child_indent = indent_before(start).unwrap_or_default();
            }
            info.add_child(node, whitespace_before(xml, start), alias_prefix)?;
        }
        if info.empty_devices.is_none() {
            // The end tag is the last thing in the element's text, and no tag holds `</`.
            let end_tag = range.start + xml[range].rfind("</").expect("an end tag");
            info.insert_at = whitespace_before(xml, end_tag);
        }
        if info.child_indent.is_empty() {
            info.child_indent = format!("{}  ", info.devices_indent);
        }
        Ok(info)
    }

    /// Records a child element of `<devices>` that starts, with its leading whitespace, at
    /// `start`: qatkit's own by its alias, or another's hostdev source and controller index.
    fn add_child(
        &mut self,
        node: roxmltree::Node<'_, '_>,
        start: usize,
        prefix: &str,
    ) -> Result<()> {
        let name = libvirt_name(node);
        let pci = node.attribute("type") == Some("pci");
        let alias = children(node, "alias").find_map(|a| a.attribute("name"));
        let source = if name == "hostdev" && pci {
            let addresses: Vec<Bdf> = children(node, "source")
                .flat_map(|s| children(s, "address"))
                .map(parse_pci_address)
                .collect::<Result<_>>()?;
            addresses.first().copied()
        } else {
            None
        };
        if alias.is_some_and(|a| is_own(name, a, prefix)) {
            self.own_spans.push(start..node.range().end);
            self.own_sources.extend(source);
            return Ok(());
        }
        if name == "hostdev" {
            self.other_sources.extend(source);
        }
        if name == "controller" && pci {
            if let Some(index) = node.attribute("index").and_then(|i| i.parse().ok()) {
                self.used_pci_indexes.insert(index);
            }
        }
        Ok(())
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
            // The tag as written, attributes and spacing too, opened: `<devices .../>` → `<devices ...>`.
            let tag = &xml[empty.clone()];
            out.push_str(&xml[..empty.start]);
            out.push_str(&tag[..tag.len() - "/>".len()]);
            out.push('>');
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
    fn own_elements_are_recognised_by_their_kind_and_whole_alias() {
        assert!(is_own("hostdev", "ua-qat-0000-6b-00-1", "ua-qat-"));
        assert!(is_own("controller", "ua-qat-port-0000-6b-00-0", "ua-qat-"));
        assert!(is_own(
            "controller",
            "ua-qat-bridge-0001-ff-1f-7",
            "ua-qat-"
        ));
        assert!(!is_own("hostdev", "ua-qat-nic0", "ua-qat-"));
        assert!(!is_own("hostdev", "ua-nic0", "ua-n"));
        assert!(!is_own("hostdev", "ua-qat-0000-6b-00-8", "ua-qat-"));
        assert!(!is_own("hostdev", "ua-qat-0000-6B-00-1", "ua-qat-"));
        // The alias must fit the element.
        assert!(!is_own("hostdev", "ua-qat-port-0000-6b-00-0", "ua-qat-"));
        assert!(!is_own("controller", "ua-qat-0000-6b-00-1", "ua-qat-"));
        assert!(!is_own("devices", "ua-qat-0000-6b-00-1", "ua-qat-"));
        assert!(!is_own("disk", "ua-qat-0000-6b-00-1", "ua-qat-"));
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
