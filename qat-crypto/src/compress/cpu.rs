//! The `cpu` backend, and the only place that chooses among the CPU libraries: ISA-L for
//! deflate levels 0–3 (feature `isal`, the fastest deflate there is), libdeflate for 4–12 (the
//! best ratio per cycle; every level without `isal`); for decompression libdeflate, except
//! maximum-effort gzip and zlib, which ISA-L inflates faster; lz4_flex for LZ4. The libraries
//! are leaves: each serves one request the way it is told.
//!
//! Nothing is inflated twice. A gzip member whose header records its length (qatkit's, QATzip's,
//! BGZF's) is inflated in one call into exactly the size its own trailer records; any other
//! member, and zlib or raw deflate that outgrow a first guess, go through the stateful inflater,
//! whose output grows as it goes.

use std::cell::RefCell;

use super::gzip::{self, Header, Parsed};
use super::inflate::Step;
use super::inflate_stream::{Body, StreamInflater};
use super::{Error, Format, MAX_DEFLATE_RATIO, Operation, libdeflate, lz4};

/// Appends `input` compressed at `level` to `out`.
pub(super) fn compress(
    format: Format,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match format {
        Format::Lz4 => lz4::compress(input, out),
        Format::Zstd => super::zstd::compress(level, input, out),
        #[cfg(feature = "isal")]
        _ if super::isal::LEVELS.contains(&level) => {
            super::isal::compress(format, level, input, out)
        }
        // libdeflate's levels are 1–12; without ISA-L, level 0 is its fastest.
        _ => libdeflate::compress(format, level.max(1), input, out),
    }
}

/// Appends the decompressed `input` to `out`, writing at most `limit` bytes.
pub(super) fn decompress(
    format: Format,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match format {
        Format::Lz4 => lz4::decompress(input, limit, out),
        Format::Zstd => super::zstd::decompress(input, limit, out),
        Format::Gzip => inflate_gzip(input, limit, out),
        _ => inflate_whole(format, input, limit, out),
    }
}

/// The most `len` bytes can compress to, at any level.
pub(super) fn compress_bound(format: Format, len: usize) -> usize {
    match format {
        Format::Lz4 => lz4::compress_bound(len),
        Format::Zstd => super::zstd::compress_bound(len),
        _ => libdeflate::compress_bound(format, len),
    }
}

/// One member (or stream) at the start of `input`, in one call: through ISA-L where it inflates
/// faster (feature `isal`), else, or when ISA-L does not end where a member or stream should,
/// through libdeflate.
fn member_step(
    format: Format,
    input: &[u8],
    out: &mut Vec<u8>,
    capacity: usize,
) -> Result<Step, Error> {
    #[cfg(feature = "isal")]
    if super::isal::inflates_faster(format, input) {
        let before = out.len();
        match super::isal::inflate_step(format, input, out, capacity) {
            Some(Step::Done { consumed }) if ends_cleanly(format, &input[consumed..]) => {
                return Ok(Step::Done { consumed });
            }
            Some(Step::NoSpace) => return Ok(Step::NoSpace),
            // Anything else, libdeflate decides, inflating it again.
            _ => {
                out.truncate(before);
                probe::started();
            }
        }
    }
    libdeflate::inflate_step(format, input, out, capacity)
}

/// Whether what follows a member or stream that ISA-L inflated is where it should end: the end
/// of the input, or for gzip another member or zero padding.
#[cfg(feature = "isal")]
fn ends_cleanly(format: Format, rest: &[u8]) -> bool {
    rest.is_empty()
        || (format == Format::Gzip
            && (rest.starts_with(&[0x1f, 0x8b]) || gzip::is_zero_padding(rest)))
}

/// The output one call may append: at most `limit` bytes past `start`.
struct Limit {
    format: Format,
    start: usize,
    limit: usize,
}

impl Limit {
    fn new(format: Format, out: &[u8], limit: usize) -> Self {
        Limit {
            format,
            start: out.len(),
            limit,
        }
    }

    fn room(&self, out: &[u8]) -> usize {
        self.limit - (out.len() - self.start)
    }

    fn exceeded(&self) -> Error {
        Error::LimitExceeded {
            format: self.format,
            limit: self.limit,
        }
    }

    fn corrupt(&self) -> Error {
        Error::Corrupt {
            format: self.format,
        }
    }

    fn reserve(&self, out: &mut Vec<u8>, bytes: usize) -> Result<(), Error> {
        out.try_reserve(bytes)
            .map_err(|_| Operation::Decompress.no_room(self.format, bytes))
    }
}

/// A first output guess for `input` when nothing says better: 4x, at least a page, never more
/// than deflate can expand to (1032:1), so that a forged size cannot make a tiny input reserve
/// gigabytes.
fn guess(input: &[u8], said: Option<usize>) -> usize {
    said.unwrap_or(input.len().saturating_mul(4))
        .min(input.len().saturating_mul(MAX_DEFLATE_RATIO))
        .max(4096)
}

/// Appends the inflated gzip `input`, any number of members, at most `limit` bytes. Zero bytes
/// after the last member are padding, as gzip takes them; any other bytes are corrupt.
fn inflate_gzip(mut input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let limit = Limit::new(Format::Gzip, out, limit);
    let mut first = true;
    loop {
        let header = read_header(input, &limit)?;
        let used = match header.member_len {
            Some(len) => {
                let member = input.get(..len).ok_or_else(|| limit.corrupt())?;
                inflate_known(member, &header, &limit, out)?;
                len
            }
            None => inflate_unknown(input, &header, first, &limit, out)?,
        };
        first = false;
        input = &input[used..];
        if input.is_empty() {
            return Ok(());
        }
        if gzip::is_zero_padding(input) {
            tracing::warn!(
                bytes = input.len(),
                "gzip input ends in zero padding; ignored"
            );
            return Ok(());
        }
    }
}

fn read_header(input: &[u8], limit: &Limit) -> Result<Header, Error> {
    match gzip::parse_header(input) {
        Parsed::Header(header) => Ok(header),
        Parsed::Incomplete | Parsed::Corrupt => Err(limit.corrupt()),
    }
}

/// One member of known length, in one call into exactly the size its trailer records.
fn inflate_known(
    member: &[u8],
    header: &Header,
    limit: &Limit,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if member.len() < header.len + gzip::TRAILER_LEN {
        return Err(limit.corrupt());
    }
    let size = gzip::trailer_size(member)
        .ok_or_else(|| limit.corrupt())?
        .min(member.len().saturating_mul(MAX_DEFLATE_RATIO));
    if size > limit.room(out) {
        return Err(limit.exceeded());
    }
    limit.reserve(out, size)?;
    probe::started();
    match member_step(Format::Gzip, member, out, size)? {
        Step::Done { consumed } if consumed == member.len() => Ok(()),
        Step::Done { .. } | Step::Corrupt => Err(limit.corrupt()),
        Step::NoSpace => {
            // The trailer's size is modulo 2^32 (or wrong): only a member of 4 GiB and more, or
            // a corrupt one, gets here; the stateful inflater finishes it.
            probe::no_space();
            let body = &member[header.len..];
            let used = inflate_stream(Body::Gzip, body, size.saturating_mul(2), limit, out)?;
            if used != body.len() {
                return Err(limit.corrupt());
            }
            Ok(())
        }
    }
}

/// One member of unknown length at the start of `input`: only the last member's trailer is
/// known, and it may not be this member's. Returns the member's length.
///
/// The trailer's size is taken as this member's, for one call of the one-shot inflaters (the
/// fastest), when this is the first member of the call — most gzip files hold one — or when no
/// gzip magic follows its header. The first member is not scanned for: the scan reads the whole
/// cold input before the inflate and cost 2–5% of it. If the first member is one of several and
/// bigger than the last, the one-shot call runs out of space and the stateful inflater inflates
/// it again: at most once per call, at most the last member's size.
fn inflate_unknown(
    input: &[u8],
    header: &Header,
    first: bool,
    limit: &Limit,
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let size = gzip::trailer_size(input);
    let alone = || first || !holds_a_member_start(&input[header.len..]);
    if let Some(size) = size.filter(|&size| size <= limit.room(out) && alone()) {
        let size = size.min(input.len().saturating_mul(MAX_DEFLATE_RATIO));
        limit.reserve(out, size)?;
        probe::started();
        match member_step(Format::Gzip, input, out, size)? {
            Step::Done { consumed } => return Ok(consumed),
            Step::Corrupt => return Err(limit.corrupt()),
            // Another member follows, or the size is modulo 2^32 (a member of 4 GiB and more),
            // or wrong: the stateful inflater finishes it.
            Step::NoSpace => probe::no_space(),
        }
    }
    // Exact when this is the last member, as it most often is.
    let first_guess = guess(input, size);
    let used = inflate_stream(Body::Gzip, &input[header.len..], first_guess, limit, out)?;
    Ok(header.len + used)
}

/// Whether `bytes` hold the start of a gzip member (its magic and method, 1f 8b 08).
fn holds_a_member_start(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, &[0x1f, 0x8b, 0x08]).is_some()
}

/// Appends an inflated zlib or raw deflate stream, exactly `input`, at most `limit` bytes.
fn inflate_whole(
    format: Format,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let limit = Limit::new(format, out, limit);
    if format == Format::Zlib && has_preset_dictionary(input) {
        return Err(Error::Unsupported {
            format,
            what: "preset dictionaries",
        });
    }
    let room = limit.room(out);
    let capacity = guess(input, None).min(room);
    limit.reserve(out, capacity)?;
    probe::started();
    let used = match member_step(format, input, out, capacity)? {
        Step::Done { consumed } => consumed,
        Step::NoSpace if capacity == room => return Err(limit.exceeded()),
        Step::NoSpace => {
            // Nothing records the size: once the guess is too small, the stateful inflater
            // takes over and grows the output as it goes.
            probe::no_space();
            let body = match format {
                Format::Zlib => Body::Zlib,
                _ => Body::Raw,
            };
            inflate_stream(body, input, capacity.saturating_mul(2), &limit, out)?
        }
        Step::Corrupt => return Err(limit.corrupt()),
    };
    // Bytes after a zlib or raw stream are not part of it.
    if used != input.len() {
        return Err(limit.corrupt());
    }
    Ok(())
}

/// Whether `input` starts with a valid zlib header that asks for a preset dictionary (FDICT).
fn has_preset_dictionary(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && u16::from_be_bytes([*cmf, *flg]) % 31 == 0 && flg & 0x20 != 0
        }
        _ => false,
    }
}

thread_local! {
    // ISA-L's inflate state is about 100 KB: allocated and zeroed once per thread, not per call.
    // Taken out while in use, so that nothing holds the cell's borrow across a call.
    static INFLATER: RefCell<Option<StreamInflater>> = const { RefCell::new(None) };
}

/// Inflates one `body` at the start of `input` with this thread's stateful inflater, the output
/// growing from `first` bytes and doubling, within the limit. Returns the input used.
fn inflate_stream(
    body: Body,
    input: &[u8],
    first: usize,
    limit: &Limit,
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let cached = INFLATER.with_borrow_mut(Option::take);
    let mut inflater = match cached {
        Some(mut inflater) => {
            inflater.reset(body);
            inflater
        }
        None => StreamInflater::new(body)?,
    };
    probe::started();
    let result = drive(&mut inflater, input, first, limit, out);
    INFLATER.with_borrow_mut(|slot| *slot = Some(inflater));
    result
}

/// Steps `inflater` through `input` until its body ends, doubling the room each time it fills.
fn drive(
    inflater: &mut StreamInflater,
    input: &[u8],
    first: usize,
    limit: &Limit,
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let mut at = 0;
    let mut want = first.max(4096);
    loop {
        let room = limit.room(out);
        let piece = want.min(room);
        limit.reserve(out, piece)?;
        let step = inflater.step(&input[at..], out, piece)?;
        at += step.consumed;
        if step.done {
            return Ok(at);
        }
        if step.produced == piece {
            // Out of room: more, unless the limit is reached and the inflater is stuck there.
            if room == 0 && step.consumed == 0 {
                return Err(limit.exceeded());
            }
            want = want.saturating_mul(2);
        } else if at == input.len() {
            return Err(limit.corrupt());
        } else if step.consumed == 0 && step.produced == 0 {
            // Input and room left, and no progress: never so for a working inflater.
            return Err(limit.corrupt());
        }
    }
}

/// Counters for tests of "nothing is inflated twice": bodies whose inflation started, and
/// one-shot calls that ran out of output space. Per thread, so tests run in parallel.
mod probe {
    #[cfg(test)]
    thread_local! {
        pub(super) static STARTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        pub(super) static NO_SPACE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    pub(super) fn started() {
        #[cfg(test)]
        STARTED.with(|n| n.set(n.get() + 1));
    }

    pub(super) fn no_space() {
        #[cfg(test)]
        NO_SPACE.with(|n| n.set(n.get() + 1));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn text(len: usize, seed: usize) -> Vec<u8> {
        let words = ["qat ", "member ", "gzip ", "trailer ", "inflate\n"];
        (0..)
            .flat_map(|i: usize| words[(i * 7 + seed) % words.len()].bytes())
            .take(len)
            .collect()
    }

    fn qatkit_gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut out = Vec::new();
        compress(Format::Gzip, level, data, &mut out).unwrap();
        out
    }

    fn plain_gzip(data: &[u8]) -> Vec<u8> {
        plain_gzip_at(data, 6)
    }

    fn plain_gzip_at(data: &[u8], level: u32) -> Vec<u8> {
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// Decompresses `input` and returns the output and what the probes counted.
    fn probed(input: &[u8], limit: usize) -> (Result<Vec<u8>, Error>, usize, usize) {
        probe::STARTED.set(0);
        probe::NO_SPACE.set(0);
        let mut out = Vec::new();
        let result = decompress(Format::Gzip, input, limit, &mut out).map(|()| out);
        (result, probe::STARTED.get(), probe::NO_SPACE.get())
    }

    #[test]
    fn each_member_is_inflated_once_whatever_the_last_members_size() {
        // Sizes far apart, the small ones first: the old guess from the last trailer ran out of
        // space on every member before the last and inflated it again.
        let parts: Vec<Vec<u8>> = [300_000, 10, 0, 70_000, 5, 1_000_000, 1]
            .iter()
            .enumerate()
            .map(|(i, &len)| text(len, i))
            .collect();
        for level in [1, 6, 9, 12] {
            let mut input = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                // Every other member plain, whose length nothing records.
                input.extend(if i % 2 == 0 {
                    qatkit_gzip(part, level)
                } else {
                    plain_gzip(part)
                });
            }
            let (out, started, no_space) = probed(&input, usize::MAX);
            assert!(out.unwrap() == parts.concat(), "level {level}");
            assert_eq!(started, parts.len(), "level {level}");
            assert_eq!(no_space, 0, "level {level}");
        }
    }

    #[test]
    fn a_first_member_of_unknown_length_is_inflated_again_at_most_once_per_call() {
        // Plain members record no length. One alone is exact; as the first of several and
        // bigger than the last, its one-shot call runs out of the last one's size and the
        // stateful inflater starts it again, once; every later member is scanned for first.
        // Level 9 marks maximum effort, which ISA-L inflates (feature `isal`).
        let big = text(200_000, 1);
        let small = text(1_000, 2);
        for level in [6, 9] {
            let gz = |data: &[u8]| plain_gzip_at(data, level);
            let (out, started, no_space) = probed(&gz(&big), usize::MAX);
            assert!(out.unwrap() == big, "level {level}");
            assert_eq!((started, no_space), (1, 0), "level {level}");
            let input = [gz(&big), gz(&big), gz(&small)].concat();
            let (out, started, no_space) = probed(&input, usize::MAX);
            assert!(out.unwrap() == [&big[..], &big, &small].concat());
            assert_eq!((started, no_space), (4, 1), "level {level}");
            // Smaller than the last: its one-shot call ends it where it ends.
            let input = [gz(&small), gz(&big), gz(&big)].concat();
            let (out, started, no_space) = probed(&input, usize::MAX);
            assert!(out.unwrap() == [&small[..], &big, &big].concat());
            assert_eq!((started, no_space), (3, 0), "level {level}");
        }
    }

    #[test]
    fn a_member_of_known_length_gets_exactly_its_size() {
        let data = text(123_457, 3);
        let member = qatkit_gzip(&data, 6);
        let mut out = Vec::new();
        decompress(Format::Gzip, &member, usize::MAX, &mut out).unwrap();
        assert!(out == data);
        assert_eq!(out.capacity(), data.len());
    }

    #[test]
    fn a_size_past_4_gib_in_the_trailer_is_finished_by_the_stateful_inflater() {
        // ISIZE is modulo 2^32: forge a smaller one with a matching member, as a member of
        // 4 GiB + 10 bytes would have, by lowering it and fixing nothing else. The one-shot call
        // runs out of space, and the stateful inflater then reports the real problem, the wrong
        // trailer, without another one-shot attempt.
        let data = text(10_000, 2);
        let mut member = qatkit_gzip(&data, 6);
        let at = member.len() - 4;
        member[at..].copy_from_slice(&10u32.to_le_bytes());
        let (out, started, no_space) = probed(&member, usize::MAX);
        assert!(matches!(out, Err(Error::Corrupt { .. })));
        assert_eq!((started, no_space), (2, 1));
    }

    #[test]
    fn the_limit_holds_for_members_known_and_unknown() {
        let data = text(50_000, 4);
        for member in [qatkit_gzip(&data, 6), plain_gzip(&data)] {
            let twice = [&member[..], &member].concat();
            let (out, _, no_space) = probed(&twice, 100_000);
            assert!(out.unwrap() == [&data[..], &data].concat());
            assert_eq!(no_space, 0);
            let (out, _, _) = probed(&twice, 99_999);
            assert!(matches!(
                out,
                Err(Error::LimitExceeded { limit: 99_999, .. })
            ));
        }
    }

    #[test]
    fn zlib_and_raw_past_the_first_guess_are_not_inflated_from_the_start_again() {
        // 4 MB of one byte compresses far beyond the 4x first guess.
        let data = vec![b'z'; 4 << 20];
        for format in [Format::Zlib, Format::Raw] {
            let mut packed = Vec::new();
            compress(format, 6, &data, &mut packed).unwrap();
            probe::STARTED.set(0);
            probe::NO_SPACE.set(0);
            let mut out = Vec::new();
            decompress(format, &packed, usize::MAX, &mut out).unwrap();
            assert!(out == data, "{format}");
            // The one-shot call, then one stateful run that grows the output.
            assert_eq!((probe::STARTED.get(), probe::NO_SPACE.get()), (2, 1));
        }
    }

    #[test]
    fn a_zlib_preset_dictionary_is_unsupported_in_one_shot_too() {
        let input = [0x78, 0xbb, 0, 0, 0, 1, 0x03, 0x00, 0, 0, 0, 1];
        assert!(matches!(
            decompress(Format::Zlib, &input, 100, &mut Vec::new()),
            Err(Error::Unsupported {
                what: "preset dictionaries",
                ..
            })
        ));
        // FDICT in a header that fails its check is only corrupt.
        let bad = [0x78, 0xbc, 0, 0, 0, 1, 0x03, 0x00];
        assert!(matches!(
            decompress(Format::Zlib, &bad, 100, &mut Vec::new()),
            Err(Error::Corrupt { .. })
        ));
    }
}
