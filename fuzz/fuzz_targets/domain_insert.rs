//! qatkit's elements inserted into any domain document. Invariants: no panic; where the input is
//! well-formed XML to another parser (xml-rs), so is the output, and it holds, read by that
//! parser, everything the input held outside qatkit's elements, in order, and exactly the VFs
//! asked for; running again changes nothing; taking qatkit's elements out again gives the input
//! with its own taken out, byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qat_vf::Bdf;
use qat_vf::domain::{self, Allocated, DomainInfo, HostdevOptions};
use xml_rs::reader::{ParserConfig, XmlEvent};

/// Up to 31 VFs over two PFs, and the options, from one byte each.
fn request(vfs: u8, options: u8) -> (Vec<Allocated>, HostdevOptions) {
    let pf = |bus| Bdf::new(0, bus, 0, 0).unwrap();
    let vfs = (0..vfs % 32)
        .map(|i| {
            let bus = if i % 2 == 0 { 0x6b } else { 0x70 };
            let n = i / 2 + 1;
            Allocated {
                vf: Bdf::new(0, bus, n / 8, n % 8).unwrap(),
                pf: pf(bus),
                numa_node: None,
            }
        })
        .collect();
    let opts = HostdevOptions {
        managed: options & 1 != 0,
        model: (options & 2 != 0).then(|| "qat_vfio_pci".to_owned()),
        rom_bar_off: options & 4 != 0,
        alias_prefix: if options & 8 != 0 { "ua-q" } else { "ua-qat-" }.to_owned(),
    };
    (vfs, opts)
}

/// What a document holds, as xml-rs reads it: everything outside `<domain><devices>`'s
/// children, and each of those children as one item; whitespace left out (qatkit indents).
#[derive(Debug, Default, PartialEq)]
struct Content {
    outside: Vec<String>,
    children: Vec<Vec<String>>,
}

fn xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Reads `xml` with xml-rs; `None` when it is not well-formed to it. Items inside a child of
/// `<devices>` carry their depth in it (1: the child's own children).
fn read(xml: &str) -> Option<Content> {
    let body = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let reader = ParserConfig::new()
        .whitespace_to_characters(false)
        .cdata_to_characters(false)
        .coalesce_characters(false)
        .create_reader(body.as_bytes());
    let mut content = Content::default();
    let mut path: Vec<String> = Vec::new();
    for event in reader {
        let event = event.ok()?;
        let under_devices = path.len() >= 2 && path[0] == "domain" && path[1] == "devices";
        let item = match &event {
            XmlEvent::Whitespace(_) | XmlEvent::StartDocument { .. } => None,
            // Text without whitespace, where qatkit's indentation joins it, and as one piece
            // with the text before it: taking an element out joins the text on either side.
            XmlEvent::Characters(text) => Some(format!("Text({})", text.replace(xml_space, ""))),
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                let attrs: Vec<String> = attributes
                    .iter()
                    .map(|a| format!("{}={:?}", a.name, a.value))
                    .collect();
                Some(format!("<{} {}>", name, attrs.join(" ")))
            }
            other => Some(format!("{other:?}")),
        };
        // Depth of the event inside the current child of <devices> (0: the child itself).
        let in_child = under_devices && path.len() >= 3;
        let depth = match &event {
            XmlEvent::StartElement { name, .. } => {
                if under_devices && path.len() == 2 {
                    content.children.push(Vec::new());
                }
                path.push(name.to_string());
                under_devices.then(|| path.len() - 3)
            }
            XmlEvent::EndElement { .. } => {
                let depth = in_child.then(|| path.len() - 3);
                path.pop();
                depth
            }
            _ => in_child.then(|| path.len() - 2),
        };
        match (item, depth) {
            (Some(item), Some(depth)) => {
                content.children.last_mut()?.push(format!("{depth}{item}"))
            }
            (Some(item), None) => match (content.outside.last_mut(), item.strip_prefix("Text(")) {
                (Some(last), Some(more)) if last.starts_with("Text(") => {
                    last.pop();
                    last.push_str(more);
                }
                _ => content.outside.push(item),
            },
            (None, _) => {}
        }
    }
    Some(content)
}

/// Whether a child of `<devices>` is one qatkit writes, as its README describes them: a
/// controller or hostdev whose alias is the prefix, `port-`/`bridge-` for controllers, and a
/// VF address as `dddd-bb-ss-f` in lower-case hex.
fn is_qatkits(child: &[String], prefix: &str) -> bool {
    let kind = match child.first().map(String::as_str) {
        Some(s) if s.starts_with("0<controller ") => "controller",
        Some(s) if s.starts_with("0<hostdev ") => "hostdev",
        _ => return false,
    };
    let alias = child.iter().find_map(|item| {
        let rest = item.strip_prefix("1<alias name=\"")?;
        Some(rest.get(..rest.find('"')?)?.to_owned())
    });
    let Some(rest) = alias.as_deref().and_then(|a| a.strip_prefix(prefix)) else {
        return false;
    };
    let rest = match kind {
        "controller" => match rest.strip_prefix("port-").or(rest.strip_prefix("bridge-")) {
            Some(rest) => rest,
            None => return false,
        },
        _ => rest,
    };
    let hex = |s: &str, n| s.len() == n && s.bytes().all(|b| b"0123456789abcdef".contains(&b));
    matches!(rest.split('-').collect::<Vec<_>>().as_slice(),
        [d, b, s, f] if hex(d, 4) && hex(b, 2) && hex(s, 2) && matches!(*f, "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7"))
}

/// The output's content is the input's, but for qatkit's elements, which are `vfs` hostdevs
/// and their controllers.
fn same_content(before: &Content, after: &Content, vfs: usize, prefix: &str) {
    // Everything but qatkit's elements is there, in order; qatkit's are what was asked for.
    let theirs = |c: &Content| -> Vec<Vec<String>> {
        c.children
            .iter()
            .filter(|child| !is_qatkits(child, prefix))
            .cloned()
            .collect()
    };
    assert_eq!(
        after.outside, before.outside,
        "content outside <devices> changed"
    );
    assert_eq!(
        theirs(after),
        theirs(before),
        "a child of <devices> changed"
    );
    let own = after.children.len() - theirs(after).len();
    let hostdevs = after
        .children
        .iter()
        .filter(|c| is_qatkits(c, prefix) && c[0].starts_with("0<hostdev "))
        .count();
    assert_eq!(hostdevs, vfs, "{own} of qatkit's elements");
}

fuzz_target!(|data: &[u8]| {
    let [vfs, options, document @ ..] = data else {
        return;
    };
    let Ok(xml) = std::str::from_utf8(document) else {
        return;
    };
    let (vfs, opts) = request(*vfs, *options);
    let Ok(out) = domain::insert(xml, &vfs, &opts) else {
        return;
    };
    // (qatkit's own parser, roxmltree, takes a few documents xml-rs refuses, such as a PI
    // target that is not a name: checked where both read the input.)
    if let Some(before) = read(xml) {
        let after = read(&out).unwrap_or_else(|| panic!("the output is not well-formed:\n{out}"));
        same_content(&before, &after, vfs.len(), &opts.alias_prefix);
    }
    // Idempotent; and qatkit's elements come out again byte for byte.
    let again = domain::insert(&out, &vfs, &opts).expect("qatkit's own output is refused");
    assert_eq!(again, out, "not idempotent");
    let without_out = domain::insert(&out, &[], &opts).expect("taking out");
    let without_in = domain::insert(xml, &[], &opts).expect("taking out of the input");
    assert_eq!(
        devices_opened(&without_out),
        devices_opened(&without_in),
        "bytes outside qatkit's elements changed"
    );
    let info = DomainInfo::parse(&out, &opts.alias_prefix).expect("output parses");
    let mut own_sources = info.own_sources.clone();
    own_sources.sort_unstable();
    let mut asked: Vec<Bdf> = vfs.iter().map(|a| a.vf).collect();
    asked.sort_unstable();
    assert_eq!(
        own_sources, asked,
        "the output holds other VFs than asked for"
    );
});

/// `<devices/>` is opened up to take elements (`<devices .../>` → `<devices ...>`): compare
/// with every empty `<devices ...></devices>` closed again.
fn devices_opened(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find("<devices") {
        out.push_str(&rest[..at]);
        let tag_end = rest[at..].find('>').map(|e| at + e);
        let name_ends =
            rest[at + "<devices".len()..].starts_with(|c: char| c == '>' || xml_space(c));
        let Some(tag_end) = tag_end.filter(|e| name_ends && !rest[..*e].ends_with('/')) else {
            out.push_str("<devices");
            rest = &rest[at + "<devices".len()..];
            continue;
        };
        let after = &rest[tag_end + 1..];
        let inner = after.len() - after.trim_start_matches(xml_space).len();
        if after[inner..].starts_with("</devices>") {
            out.push_str(&rest[at..tag_end]);
            out.push_str("/>");
            rest = &after[inner + "</devices>".len()..];
        } else {
            out.push_str(&rest[at..=tag_end]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
