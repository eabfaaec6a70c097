//! Multi-member gzip: members of every kind qatkit meets — its own (a `QK` subfield records
//! each member's length), plain ones (flate2, the gzip tool), BGZF blocks — in any mix and any
//! sizes, read in one call; padding, garbage and header checksums; and the gzip tool reading
//! what qatkit writes.

mod common;

use std::io::Write as _;

use common::{codec, mixed, run, sample, tool_on_file};
use proptest::prelude::*;
use qat_crypto::compress::{Backend, Codec, Error, Format};

/// gzip at `level` on the CPU.
fn cpu(level: u32) -> Codec {
    codec(Format::Gzip, level, Backend::Cpu)
}

fn qatkit(data: &[u8], level: u32) -> Vec<u8> {
    cpu(level).compress(data).unwrap()
}

fn plain(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    Codec::new(Format::Raw, 6).unwrap().compress(data).unwrap()
}

fn trailer(data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    [crc.sum().to_le_bytes(), (data.len() as u32).to_le_bytes()].concat()
}

/// A BGZF block as samtools writes it: FEXTRA with `BC`, BSIZE = block size - 1.
fn bgzf(data: &[u8]) -> Vec<u8> {
    let deflate = raw_deflate(data);
    let bsize = u16::try_from(18 + deflate.len() + 8 - 1).expect("a BGZF block under 64 KiB");
    let mut block = vec![
        0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0,
    ];
    block.extend_from_slice(&bsize.to_le_bytes());
    block.extend_from_slice(&deflate);
    block.extend_from_slice(&trailer(data));
    block
}

/// A member with FNAME and FHCRC, its header CRC as given or computed.
fn with_header_crc(data: &[u8], crc16: Option<u16>) -> Vec<u8> {
    let mut member = vec![0x1f, 0x8b, 8, 0x02 | 0x08, 0, 0, 0, 0, 0, 3];
    member.extend_from_slice(b"name.txt\0");
    let mut crc = flate2::Crc::new();
    crc.update(&member);
    let crc16 = crc16.unwrap_or(crc.sum() as u16);
    member.extend_from_slice(&crc16.to_le_bytes());
    member.extend_from_slice(&raw_deflate(data));
    member.extend_from_slice(&trailer(data));
    member
}

#[test]
fn members_of_every_kind_and_size_read_in_one_call() {
    let parts: Vec<Vec<u8>> = [200_000, 0, 17, 60_000, 1, 500_000, 3000, 40_000]
        .iter()
        .enumerate()
        .map(|(i, &len)| sample(len, i))
        .collect();
    for level in [0, 1, 6, 9, 12] {
        let mut input = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            input.extend(match i % 4 {
                0 | 3 => qatkit(part, level),
                1 => plain(part),
                // BGZF blocks hold at most 64 KiB.
                _ if part.len() < 60_000 => bgzf(part),
                _ => plain(part),
            });
        }
        // BGZF's end-of-file block: an empty member.
        input.extend(bgzf(b""));
        assert!(
            cpu(1).decompress(&input).unwrap() == parts.concat(),
            "level {level}"
        );
    }
}

#[test]
fn members_smaller_and_larger_than_the_last_one_read_right() {
    // The last member's size is the only one the end of the input tells; the rest differ.
    let small = sample(10, 1);
    let big = sample(2_000_000, 2);
    for (first, last) in [(&big, &small), (&small, &big)] {
        for make in [qatkit as fn(&[u8], u32) -> Vec<u8>, |d: &[u8], _| plain(d)] {
            let input = [make(first, 6), make(last, 6), make(first, 1)].concat();
            let out = cpu(1).decompress(&input).unwrap();
            assert!(out == [&first[..], last, first].concat());
        }
    }
}

#[test]
fn zero_padding_after_the_last_member_is_accepted_and_other_bytes_are_not() {
    let data = sample(30_000, 3);
    for member in [qatkit(&data, 1), plain(&data)] {
        for padding in [1, 7, 512] {
            let padded = [&member[..], &vec![0; padding]].concat();
            assert!(cpu(1).decompress(&padded).unwrap() == data, "{padding}");
        }
        for garbage in [&b"garbage"[..], b"\0\0\0\x01", b"\x1f", b"\x1f\x8b\x08\0\0"] {
            let bad = [&member[..], garbage].concat();
            assert!(
                matches!(cpu(1).decompress(&bad), Err(Error::Corrupt { .. })),
                "{garbage:?}"
            );
        }
        // Padding only after the last member: a member after zeros is not read as one.
        let between = [&member[..], &[0; 4], &member].concat();
        assert!(matches!(
            cpu(1).decompress(&between),
            Err(Error::Corrupt { .. })
        ));
    }
}

#[test]
fn a_header_crc_is_checked() {
    let data = sample(5000, 4);
    let good = with_header_crc(&data, None);
    assert!(cpu(1).decompress(&good).unwrap() == data);
    let wrong = with_header_crc(&data, Some(0x1234));
    assert!(good != wrong);
    assert!(matches!(
        cpu(1).decompress(&wrong),
        Err(Error::Corrupt { .. })
    ));
    // Also as a later member.
    let both = [qatkit(&data, 1), wrong].concat();
    assert!(matches!(
        cpu(1).decompress(&both),
        Err(Error::Corrupt { .. })
    ));
    let both = [qatkit(&data, 1), good].concat();
    assert!(cpu(1).decompress(&both).unwrap() == [&data[..], &data].concat());
}

#[test]
fn a_recorded_length_that_is_not_the_members_is_corrupt() {
    let data = sample(20_000, 5);
    let member = qatkit(&data, 6);
    // qatkit's header: QK's length at bytes 16-19.
    assert_eq!(&member[12..16], b"QK\x04\x00");
    let recorded = u32::from_le_bytes(member[16..20].try_into().unwrap());
    assert_eq!(recorded as usize, member.len());
    for wrong in [recorded - 1, recorded + 1, recorded + 100] {
        let mut bad = [&member[..], &member].concat();
        bad[16..20].copy_from_slice(&wrong.to_le_bytes());
        assert!(
            matches!(cpu(1).decompress(&bad), Err(Error::Corrupt { .. })),
            "{wrong}"
        );
    }
    // A member cut short of its recorded length.
    assert!(matches!(
        cpu(1).decompress(&member[..member.len() - 3]),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn the_gzip_tool_reads_what_qatkit_writes() {
    let parts = [
        sample(100_000, 6),
        Vec::new(),
        sample(1, 7),
        sample(70_000, 8),
    ];
    for level in [0, 1, 3, 6, 9, 12] {
        let members: Vec<u8> = parts.iter().flat_map(|p| qatkit(p, level)).collect();
        let Some((ok, out)) = run("gzip", &["-dc"], &members) else {
            return;
        };
        assert!(ok, "level {level}");
        assert!(out == parts.concat(), "level {level}");
        let (ok, _) = run("gzip", &["-t"], &members).unwrap();
        assert!(ok, "level {level}");
        // The streaming encoder writes the same members.
        let codec = cpu(level).with_request_size(30_000);
        let mut encoder = codec.encoder(Vec::new());
        encoder.write_all(&parts.concat()).unwrap();
        let streamed = encoder.finish().unwrap();
        let (ok, out) = run("gzip", &["-dc"], &streamed).unwrap();
        assert!(ok && out == parts.concat(), "level {level} streamed");
    }
    // And refuses what qatkit refuses: a wrong header CRC.
    let (ok, _) = run("gzip", &["-t"], &with_header_crc(b"x", Some(1))).unwrap();
    assert!(!ok);
    let (ok, _) = run("gzip", &["-t"], &with_header_crc(b"x", None)).unwrap();
    assert!(ok);
}

#[test]
fn qatkit_reads_what_the_gzip_tool_writes_with_a_name() {
    let data = sample(80_000, 9);
    // A file argument: gzip records its name (FNAME).
    let Some(packed) = tool_on_file("gzip", &["-9"], &data) else {
        return;
    };
    assert_ne!(packed[3] & 0x08, 0, "FNAME");
    let twice = [&packed[..], &qatkit(&data, 1), &packed].concat();
    assert!(cpu(1).decompress(&twice).unwrap() == [&data[..], &data, &data].concat());
}

#[cfg(feature = "qatzip")]
#[test]
fn qatzip_and_qatkit_read_each_others_members() {
    let qat = codec(Format::Gzip, 1, Backend::Qat);
    let parts = [sample(300_000, 10), sample(5, 11), Vec::new()];
    let mut mixed = Vec::new();
    for part in &parts {
        mixed.extend(qat.compress(part).unwrap());
        mixed.extend(qatkit(part, 6));
    }
    let expected: Vec<u8> = parts.iter().flat_map(|p| [&p[..], p].concat()).collect();
    assert!(cpu(1).decompress(&mixed).unwrap() == expected);
    assert!(qat.decompress(&mixed).unwrap() == expected);
}

/// How a member is written in the property test.
#[derive(Debug, Clone, Copy)]
enum Writer {
    Qatkit(u32),
    Plain,
    Bgzf,
}

fn writer() -> impl Strategy<Value = Writer> {
    prop_oneof![
        (0u32..=12).prop_map(Writer::Qatkit),
        Just(Writer::Plain),
        Just(Writer::Bgzf),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_data_cut_into_any_members_reads_back_whole(
        seed in any::<u64>(),
        cuts in prop::collection::vec(
            (prop_oneof![Just(0usize), 1usize..40_000], writer()),
            1..8,
        ),
        padding in prop_oneof![Just(0usize), 1usize..64],
    ) {
        let data = mixed(cuts.iter().map(|(len, _)| len).sum(), seed);
        let mut input = Vec::new();
        let mut at = 0;
        for (len, writer) in &cuts {
            let part = &data[at..at + len];
            at += len;
            input.extend(match writer {
                Writer::Qatkit(level) => qatkit(part, *level),
                Writer::Plain => plain(part),
                Writer::Bgzf => bgzf(part),
            });
        }
        input.resize(input.len() + padding, 0);
        prop_assert!(cpu(1).decompress(&input).unwrap() == data);
        // Within an exact limit, and one byte short of it.
        let exact = cpu(1).with_limit(data.len());
        prop_assert!(exact.decompress(&input).unwrap() == data);
        if !data.is_empty() {
            let short = cpu(1).with_limit(data.len() - 1);
            let limited = matches!(short.decompress(&input), Err(Error::LimitExceeded { .. }));
            prop_assert!(limited);
        }
    }
}
