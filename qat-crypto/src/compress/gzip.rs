//! gzip members (RFC 1952): reading a member's header, and writing qatkit's. A header may
//! record the whole member's length — qatkit's own `QK` subfield, QATzip's `QZ`, BGZF's `BC` —
//! which tells a reader where the member ends without inflating it, so that members can be read
//! whole, inflated in parallel, and each given an output buffer of the size its own trailer
//! records.

use super::{Error, Format};

const MAGIC: [u8; 2] = [0x1f, 0x8b];
const CM_DEFLATE: u8 = 8;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
/// FLG bits 5–7: gzip refuses members that set them.
const FRESERVED: u8 = 0xe0;

/// ID1 ID2 CM FLG MTIME XFL OS.
const FIXED_LEN: usize = 10;
/// CRC-32 and ISIZE.
pub(super) const TRAILER_LEN: usize = 8;

/// The longest header read. Only FNAME and FCOMMENT can make one long (they are unbounded); a
/// streaming reader must not buffer forever waiting for the end of a hostile name.
pub(super) const MAX_HEADER_LEN: usize = 1 << 20;

/// The header qatkit writes: the fixed part, XLEN, and the `QK` subfield (ID, LEN 4, the
/// member's length as a u32).
pub(super) const QK_HEADER_LEN: usize = FIXED_LEN + 2 + 8;
/// Where the member's length goes in qatkit's header.
const QK_LEN_AT: usize = QK_HEADER_LEN - 4;

/// What the start of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    Header(Header),
    /// A header may start here, but its end is not in the buffer yet.
    Incomplete,
    /// Not a gzip member header qatkit reads.
    Corrupt,
}

/// A member's header.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Header {
    /// The header's bytes: the deflate data starts here.
    pub(super) len: usize,
    /// The whole member's length, first header byte through trailer, when a subfield records
    /// it (`QK`, `QZ`, `BC`; the first one wins). A reader must still check that the member ends
    /// there: a wrong length is corrupt data.
    pub(super) member_len: Option<usize>,
}

/// A length a subfield records.
enum Recorded {
    /// The whole member (`QK`, `BC`).
    Member(usize),
    /// The deflate data only (`QZ`): the member adds the header and the trailer.
    Deflate(usize),
}

/// Reads the member header at the start of `buf`.
pub(super) fn parse_header(buf: &[u8]) -> Parsed {
    let view = &buf[..buf.len().min(MAX_HEADER_LEN)];
    match parse(view) {
        Ok(header) => Parsed::Header(header),
        // The header runs past the cap.
        Err(Parsed::Incomplete) if buf.len() >= MAX_HEADER_LEN => Parsed::Corrupt,
        Err(other) => other,
    }
}

/// `n` bytes at `*pos`, advancing it.
fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], Parsed> {
    let bytes = buf.get(*pos..*pos + n).ok_or(Parsed::Incomplete)?;
    *pos += n;
    Ok(bytes)
}

fn u16_at(bytes: &[u8]) -> usize {
    u16::from_le_bytes([bytes[0], bytes[1]]).into()
}

fn u32_at(bytes: &[u8]) -> usize {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
}

/// Reads a zero-terminated field (FNAME, FCOMMENT) at `*pos`.
fn skip_zero_terminated(buf: &[u8], pos: &mut usize) -> Result<(), Parsed> {
    let end = buf[*pos..]
        .iter()
        .position(|&b| b == 0)
        .ok_or(Parsed::Incomplete)?;
    *pos += end + 1;
    Ok(())
}

fn parse(buf: &[u8]) -> Result<Header, Parsed> {
    // Refuse what cannot be gzip from the first bytes, so that a streaming reader need not wait.
    let wrong_start = buf
        .iter()
        .zip(MAGIC.iter().chain(&[CM_DEFLATE]))
        .any(|(a, b)| a != b);
    if wrong_start || buf.get(3).is_some_and(|flg| flg & FRESERVED != 0) {
        return Err(Parsed::Corrupt);
    }
    let mut pos = 0;
    let flg = take(buf, &mut pos, FIXED_LEN)?[3];
    let mut recorded = None;
    if flg & FEXTRA != 0 {
        let xlen = u16_at(take(buf, &mut pos, 2)?);
        let mut field = take(buf, &mut pos, xlen)?;
        // Subfields: SI1 SI2, LEN, then LEN bytes; together exactly XLEN.
        while !field.is_empty() {
            let len = u16_at(field.get(2..4).ok_or(Parsed::Corrupt)?);
            let data = field.get(4..4 + len).ok_or(Parsed::Corrupt)?;
            let this = match (&field[..2], len) {
                (b"QK", 4) => Some(Recorded::Member(u32_at(data))),
                // QATzip's software stream path leaves both sizes 0 (its placeholder) when a
                // member spans several calls; deflate data is never empty, so 0 says nothing.
                (b"QZ", 8) => Some(u32_at(&data[4..]))
                    .filter(|&n| n > 0)
                    .map(Recorded::Deflate),
                (b"BC", 2) => Some(Recorded::Member(u16_at(data) + 1)),
                _ => None,
            };
            recorded = recorded.or(this);
            field = &field[4 + len..];
        }
    }
    if flg & FNAME != 0 {
        skip_zero_terminated(buf, &mut pos)?;
    }
    if flg & FCOMMENT != 0 {
        skip_zero_terminated(buf, &mut pos)?;
    }
    if flg & FHCRC != 0 {
        let covered = pos;
        let crc16 = u16_at(take(buf, &mut pos, 2)?);
        if super::crc::crc32(0, &buf[..covered]) & 0xffff != crc16 as u32 {
            return Err(Parsed::Corrupt);
        }
    }
    let member_len = match recorded {
        None => None,
        Some(Recorded::Member(n)) => Some(n),
        Some(Recorded::Deflate(n)) => Some(pos + n + TRAILER_LEN),
    };
    if member_len.is_some_and(|n| n < pos + TRAILER_LEN) {
        return Err(Parsed::Corrupt);
    }
    Ok(Header {
        len: pos,
        member_len,
    })
}

/// Whether `rest`, the bytes after the last member, is all zeros (true for none): padding that
/// gzip accepts (with a warning), as tape and block devices leave it.
pub(super) fn is_zero_padding(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == 0)
}

/// gzip's XFL for `level`: 2, "maximum compression", from level 8 up (as zlib and libdeflate
/// write it, and `isal::inflates_faster` reads it), 4, "fastest", for levels 0–1.
fn xfl(level: u32) -> u8 {
    match level {
        0..=1 => 4,
        8.. => 2,
        _ => 0,
    }
}

/// A member whose header is written and whose length is to be recorded.
#[must_use]
pub(super) struct Member {
    /// Where the header starts in the output.
    start: usize,
    /// Whether the header has a `QK` subfield to fill in.
    sized: bool,
}

/// Appends the header of a member compressed at `level` that will be at most `max_len` bytes
/// long in all (header, deflate data, trailer): qatkit's, with `QK`, when that fits its 32 bits,
/// else a plain one.
pub(super) fn begin_member(level: u32, max_len: usize, out: &mut Vec<u8>) -> Member {
    let start = out.len();
    let sized = u32::try_from(max_len).is_ok();
    let flg = if sized { FEXTRA } else { 0 };
    // MTIME 0: no time; OS 3: Unix.
    out.extend_from_slice(&[
        MAGIC[0],
        MAGIC[1],
        CM_DEFLATE,
        flg,
        0,
        0,
        0,
        0,
        xfl(level),
        3,
    ]);
    if sized {
        // XLEN 8; QK, LEN 4; the length, filled in by `finish`.
        out.extend_from_slice(&[8, 0, b'Q', b'K', 4, 0, 0, 0, 0, 0]);
    }
    Member { start, sized }
}

impl Member {
    /// Records the member's length, now that `out` ends with its trailer.
    pub(super) fn finish(self, out: &mut [u8]) -> Result<(), Error> {
        if !self.sized {
            return Ok(());
        }
        let len = u32::try_from(out.len() - self.start).map_err(|_| Error::Compress {
            format: Format::Gzip,
            reason: "the member outgrew its bound".into(),
        })?;
        let at = self.start + QK_LEN_AT;
        out[at..at + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }
}

/// A member's trailer: CRC-32 and ISIZE (the uncompressed length modulo 2^32).
pub(super) fn trailer(crc: u32, len: usize) -> [u8; TRAILER_LEN] {
    let mut trailer = [0; TRAILER_LEN];
    trailer[..4].copy_from_slice(&crc.to_le_bytes());
    trailer[4..].copy_from_slice(&(len as u32).to_le_bytes());
    trailer
}

/// The uncompressed length a member's trailer records (ISIZE, modulo 2^32).
pub(super) fn trailer_size(member: &[u8]) -> Option<usize> {
    let at = member.len().checked_sub(4)?;
    Some(u32_at(&member[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with FLG `flg` and `rest` after the fixed part.
    fn header(flg: u8, rest: &[u8]) -> Vec<u8> {
        let mut h = vec![0x1f, 0x8b, 8, flg, 1, 2, 3, 4, 0, 3];
        h.extend_from_slice(rest);
        h
    }

    fn parsed(len: usize, member_len: Option<usize>) -> Parsed {
        Parsed::Header(Header { len, member_len })
    }

    /// `h` with FHCRC set and the header CRC appended.
    fn with_hcrc(mut h: Vec<u8>) -> Vec<u8> {
        h[3] |= FHCRC;
        let crc = crate::compress::crc::crc32(0, &h) as u16;
        h.extend_from_slice(&crc.to_le_bytes());
        h
    }

    #[test]
    fn a_plain_header_is_ten_bytes_and_records_no_length() {
        let h = header(0, b"");
        assert_eq!(parse_header(&h), parsed(10, None));
        // Bytes after the header are not its business.
        assert_eq!(
            parse_header(&[&h[..], b"\x03\x00"].concat()),
            parsed(10, None)
        );
        // FTEXT is only a hint.
        assert_eq!(parse_header(&header(0x01, b"")), parsed(10, None));
    }

    #[test]
    fn each_flag_adds_its_field() {
        assert_eq!(
            parse_header(&header(FNAME, b"file.txt\0")),
            parsed(19, None)
        );
        assert_eq!(parse_header(&header(FCOMMENT, b"hi\0")), parsed(13, None));
        assert_eq!(
            parse_header(&header(FNAME | FCOMMENT, b"a\0bc\0")),
            parsed(15, None)
        );
        assert_eq!(
            parse_header(&header(FEXTRA, b"\x05\x00AB\x01\x00z")),
            parsed(17, None)
        );
        assert_eq!(parse_header(&header(FEXTRA, b"\x00\x00")), parsed(12, None));
        let all = with_hcrc(header(
            FEXTRA | FNAME | FCOMMENT | 0x01,
            b"\x04\x00XY\x00\x00name\0comment\0",
        ));
        assert_eq!(parse_header(&all), parsed(all.len(), None));
    }

    #[test]
    fn the_header_crc_must_be_the_crc_of_the_bytes_before_it() {
        let good = with_hcrc(header(FNAME, b"x\0"));
        assert_eq!(good.len(), 14);
        assert_eq!(parse_header(&good), parsed(14, None));
        for at in [12, 13] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            assert_eq!(parse_header(&bad), Parsed::Corrupt, "byte {at}");
        }
        // A changed header byte before it is caught the same way.
        let mut bad = good.clone();
        bad[4] ^= 0x80;
        assert_eq!(parse_header(&bad), Parsed::Corrupt);
        assert_eq!(parse_header(&good[..13]), Parsed::Incomplete);
    }

    #[test]
    fn reserved_flags_a_wrong_magic_or_method_are_corrupt() {
        for bit in [0x20, 0x40, 0x80] {
            assert_eq!(parse_header(&header(bit, b"")), Parsed::Corrupt, "{bit:#x}");
            // Known before the rest of the header is there.
            assert_eq!(parse_header(&header(bit, b"")[..4]), Parsed::Corrupt);
        }
        assert_eq!(parse_header(b"\x1f\x8c\x08\x00"), Parsed::Corrupt);
        assert_eq!(parse_header(b"\x1f\x8b\x07"), Parsed::Corrupt);
        assert_eq!(parse_header(b"PK\x03\x04"), Parsed::Corrupt);
        assert_eq!(parse_header(b"\x00"), Parsed::Corrupt);
    }

    #[test]
    fn a_header_cut_anywhere_is_incomplete() {
        let full = with_hcrc(header(
            FEXTRA | FNAME | FCOMMENT,
            b"\x08\x00QK\x04\x00\x40\x00\x00\x00name\0comment\0",
        ));
        assert_eq!(parse_header(&full), parsed(full.len(), Some(64)));
        for cut in 0..full.len() {
            assert_eq!(
                parse_header(&full[..cut]),
                Parsed::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_subfield_overrunning_xlen_is_corrupt() {
        // LEN 3 in an XLEN of 6: one byte short.
        assert_eq!(
            parse_header(&header(FEXTRA, b"\x06\x00AB\x03\x00zz")),
            Parsed::Corrupt
        );
        // Leftover bytes too few for a subfield's ID and LEN.
        assert_eq!(
            parse_header(&header(FEXTRA, b"\x07\x00AB\x00\x00CD\x00")),
            Parsed::Corrupt
        );
        // XLEN itself past the buffer is only incomplete.
        assert_eq!(
            parse_header(&header(FEXTRA, b"\x40\x00AB")),
            Parsed::Incomplete
        );
    }

    #[test]
    fn qk_records_the_whole_member() {
        let h = header(FEXTRA, b"\x08\x00QK\x04\x00\x34\x12\x00\x00");
        assert_eq!(parse_header(&h), parsed(20, Some(0x1234)));
        // Another subfield first: QK is still found.
        let h = header(FEXTRA, b"\x0d\x00AB\x01\x00zQK\x04\x00\x00\x01\x00\x00");
        assert_eq!(parse_header(&h), parsed(25, Some(256)));
        // A QK of another length is not qatkit's.
        let h = header(FEXTRA, b"\x06\x00QK\x02\x00\x34\x12");
        assert_eq!(parse_header(&h), parsed(18, None));
    }

    #[test]
    fn qz_records_the_deflate_data_as_qatzip_writes_it() {
        // As QATzip 1.3.1's software path wrote 5000 bytes at level 9: OS 255, XLEN 12, QZ,
        // LEN 8, the input's size (5000), the deflate data's (1218); 1250 bytes in all.
        let h = [
            0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x02, 0xff, 0x0c, 0x00, b'Q', b'Z', 0x08, 0x00,
            0x88, 0x13, 0x00, 0x00, 0xc2, 0x04, 0x00, 0x00,
        ];
        assert_eq!(parse_header(&h), parsed(24, Some(1250)));
        // Sizes left at QATzip's placeholder 0 say nothing.
        let mut zero = h;
        zero[16..24].fill(0);
        assert_eq!(parse_header(&zero), parsed(24, None));
    }

    /// QATzip writes one member per request on its software path, one per hardware buffer on
    /// a device; either way each header records its member's length.
    #[cfg(feature = "qatzip")]
    #[test]
    fn the_installed_qatzip_records_each_members_length() {
        use crate::compress::{Backend, Codec};
        for level in [1, 9] {
            let qat = Codec::new(Format::Gzip, level)
                .and_then(|c| c.with_backend(Backend::Qat))
                .unwrap();
            for len in [0, 5000, 300_000] {
                let data: Vec<u8> = (0..len)
                    .map(|i| (i % 251) as u8 ^ (i / 997) as u8)
                    .collect();
                let packed = qat.compress(&data).unwrap();
                let mut at = 0;
                while at < packed.len() {
                    let Parsed::Header(Header {
                        len: 24,
                        member_len: Some(member_len),
                    }) = parse_header(&packed[at..])
                    else {
                        panic!("level {level}, {len} bytes: no QZ header at {at}");
                    };
                    at += member_len;
                }
                assert_eq!(at, packed.len(), "level {level}, {len} bytes");
            }
        }
    }

    #[test]
    fn bc_records_the_block_size_less_one_as_bgzf_writes_it() {
        // BGZF's empty end-of-file block: 28 bytes, BSIZE 27.
        let eof = [
            0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0x00, b'B', b'C', 0x02, 0x00, 0x1b,
            0x00, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(parse_header(&eof), parsed(18, Some(28)));
    }

    #[test]
    fn a_recorded_length_too_short_for_header_and_trailer_is_corrupt() {
        // 20 bytes of header and 8 of trailer need 28.
        let qk = |n: u32| {
            let mut h = header(FEXTRA, b"\x08\x00QK\x04\x00");
            h.extend_from_slice(&n.to_le_bytes());
            h
        };
        assert_eq!(parse_header(&qk(28)), parsed(20, Some(28)));
        assert_eq!(parse_header(&qk(27)), Parsed::Corrupt);
        assert_eq!(parse_header(&qk(0)), Parsed::Corrupt);
        let bc = header(FEXTRA, b"\x06\x00BC\x02\x00\x10\x00");
        assert_eq!(parse_header(&bc), Parsed::Corrupt);
    }

    #[test]
    fn a_header_longer_than_the_cap_is_corrupt() {
        let mut name = header(FNAME, b"");
        name.resize(MAX_HEADER_LEN - 1, b'n');
        assert_eq!(parse_header(&name), Parsed::Incomplete);
        let mut terminated = name.clone();
        terminated.push(0);
        assert_eq!(parse_header(&terminated), parsed(MAX_HEADER_LEN, None));
        name.push(b'n');
        assert_eq!(parse_header(&name), Parsed::Corrupt);
        name.push(0);
        assert_eq!(parse_header(&name), Parsed::Corrupt);
    }

    #[test]
    fn zero_padding_is_only_zeros() {
        assert!(is_zero_padding(&[]));
        assert!(is_zero_padding(&[0; 512]));
        assert!(!is_zero_padding(&[0, 0, 1, 0]));
    }

    #[test]
    fn qatkits_header_records_its_length_and_reads_back() {
        for (level, xfl) in [(0, 4), (1, 4), (2, 0), (6, 0), (7, 0), (8, 2), (12, 2)] {
            let mut out = b"before".to_vec();
            let member = begin_member(level, 1000, &mut out);
            assert_eq!(out.len(), 6 + QK_HEADER_LEN);
            assert_eq!(out[6 + 8], xfl, "level {level}");
            out.extend_from_slice(&[0x03, 0x00]);
            out.extend_from_slice(&trailer(0, 0));
            member.finish(&mut out).unwrap();
            assert_eq!(parse_header(&out[6..]), parsed(QK_HEADER_LEN, Some(30)));
            assert_eq!(trailer_size(&out), Some(0));
        }
        // Too long to record: a plain header.
        let mut out = Vec::new();
        let member = begin_member(1, u32::MAX as usize + 1, &mut out);
        assert_eq!(parse_header(&out), parsed(10, None));
        out.extend_from_slice(&[0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
        member.finish(&mut out).unwrap();
        assert_eq!(out.len(), 20);
    }

    #[test]
    fn the_trailer_is_crc_then_size_modulo_2_32() {
        assert_eq!(trailer(0x0403_0201, 0x0807_0605), [1, 2, 3, 4, 5, 6, 7, 8]);
        if usize::BITS > 32 {
            assert_eq!(trailer(0, (1 << 32) + 5)[4..], [5, 0, 0, 0]);
        }
        assert_eq!(trailer_size(&[9, 9, 1, 0, 0, 0]), Some(1));
        assert_eq!(trailer_size(&[1, 0, 0]), None);
    }
}
