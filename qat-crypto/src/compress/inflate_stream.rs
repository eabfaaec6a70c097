//! A stateful inflater: input and output in pieces of any size, so that nothing is ever
//! inflated twice — the one-shot inflaters must start over when their output space runs out.
//! ISA-L's `isal_inflate` with feature `isal`, else flate2's `Decompress` (zlib-rs) with the gzip
//! trailer checked here. Either stops exactly at the end of the body, so the next gzip member
//! starts where it stopped.

use super::{Error, Format};

/// What the inflater reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// A gzip member after its header: raw deflate, then the 8-byte trailer, whose CRC-32 and
    /// ISIZE are verified.
    Gzip,
    /// A zlib stream, with its 2-byte header and Adler-32.
    Zlib,
    /// Raw deflate.
    Raw,
}

impl Body {
    fn format(self) -> Format {
        match self {
            Body::Gzip => Format::Gzip,
            Body::Zlib => Format::Zlib,
            Body::Raw => Format::Raw,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Progress {
    /// Input bytes used.
    pub(super) consumed: usize,
    /// Bytes appended to the output.
    pub(super) produced: usize,
    /// The body ended (and its checksum, for gzip its trailer, was verified) at `consumed`.
    pub(super) done: bool,
}

/// Inflates one body at a time, in steps.
pub(super) struct StreamInflater {
    body: Body,
    inner: Inner,
}

impl StreamInflater {
    pub(super) fn new(body: Body) -> Result<Self, Error> {
        let mut inflater = StreamInflater {
            body,
            inner: Inner::new(),
        };
        inflater.reset(body);
        Ok(inflater)
    }

    /// Starts over on a new body.
    pub(super) fn reset(&mut self, body: Body) {
        self.body = body;
        self.inner.reset(body);
    }

    /// Inflates from `input` into up to `room` bytes of `out`'s spare capacity (which must have
    /// that many), appending what it produces. `done` once the body (and for gzip its trailer,
    /// for zlib its Adler-32) was consumed and verified; `consumed` then ends exactly there, so
    /// the next member starts at `input[consumed..]`. For zlib and raw deflate, after which
    /// nothing may come, ISA-L may have read a few bytes past the end in an earlier step: the
    /// step then fails as corrupt. A step that is not done stopped for want of input or of
    /// room (or at ISA-L's 4 GiB per call). On error `out` is as it was.
    pub(super) fn step(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<Progress, Error> {
        // ISA-L writes up to `room` bytes there: a condition of soundness, so checked always.
        assert!(
            out.capacity() - out.len() >= room,
            "the output must have `room` bytes of spare capacity"
        );
        let format = self.body.format();
        self.inner
            .step(self.body, input, out, room)
            .map_err(|e| match e {
                Failure::Corrupt => Error::Corrupt { format },
                Failure::NeedsDictionary => Error::Unsupported {
                    format,
                    what: "preset dictionaries",
                },
            })
    }
}

/// Why a step failed.
enum Failure {
    Corrupt,
    NeedsDictionary,
}

#[cfg(feature = "isal")]
use isal_inner::Inner;

#[cfg(feature = "isal")]
mod isal_inner {
    use isal::isal_sys::igzip_lib as sys;

    use super::{Body, Failure, Progress};
    use crate::compress::isal::zeroed;

    /// ISA-L's inflate state (about 100 KB).
    pub(super) struct Inner(Box<sys::inflate_state>);

    // SAFETY: the state is plain data owned by this value; its `next_in`/`next_out` point into
    // the caller's buffers only during a `step`, which borrows them, and are not used between
    // steps. ISA-L keeps no thread-local state.
    unsafe impl Send for Inner {}

    impl Inner {
        pub(super) fn new() -> Self {
            Inner(zeroed())
        }

        pub(super) fn reset(&mut self, body: Body) {
            let state = &mut *self.0;
            // SAFETY: `state` is a valid (zeroed or used) state; init resets it.
            unsafe { sys::isal_inflate_init(state) };
            state.crc_flag = match body {
                // The header was read by the caller: deflate, then a trailer ISA-L verifies.
                Body::Gzip => sys::ISAL_GZIP_NO_HDR_VER,
                Body::Zlib => sys::ISAL_ZLIB,
                Body::Raw => sys::ISAL_DEFLATE,
            };
        }

        pub(super) fn step(
            &mut self,
            _: Body,
            input: &[u8],
            out: &mut Vec<u8>,
            room: usize,
        ) -> Result<Progress, Failure> {
            let state = &mut *self.0;
            // ISA-L counts in 32 bits; a step may take less than it is offered.
            let avail_in = u32::try_from(input.len()).unwrap_or(u32::MAX);
            let avail_out = u32::try_from(room).unwrap_or(u32::MAX);
            state.next_in = input.as_ptr().cast_mut();
            state.avail_in = avail_in;
            state.next_out = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
            state.avail_out = avail_out;
            // SAFETY: ISA-L reads `avail_in` bytes at `next_in` (never writing there) and writes
            // at most `avail_out` bytes at `next_out`, spare capacity of `out` (the caller
            // checked it has `room`); both outlive the call.
            let rc = unsafe { sys::isal_inflate(state) };
            if rc == sys::ISAL_NEED_DICT as i32 {
                return Err(Failure::NeedsDictionary);
            }
            if rc < 0 {
                return Err(Failure::Corrupt);
            }
            let mut consumed = (avail_in - state.avail_in) as usize;
            let done = state.block_state == sys::isal_block_state_ISAL_BLOCK_FINISH;
            if done {
                // ISA-L reads ahead into a 64-bit buffer: whole bytes still there at the end
                // follow the body. A gzip trailer takes all 8, so only zlib and raw deflate
                // leave any; when some came in an earlier step they are gone from this input,
                // and bytes after a zlib or raw stream are corrupt anyway.
                let ahead = (state.read_in_length / 8) as usize;
                consumed = consumed.checked_sub(ahead).ok_or(Failure::Corrupt)?;
            }
            let produced = (avail_out - state.avail_out) as usize;
            // SAFETY: ISA-L initialized `produced` bytes of the spare capacity.
            unsafe { out.set_len(out.len() + produced) };
            Ok(Progress {
                consumed,
                produced,
                done,
            })
        }
    }
}

#[cfg(not(feature = "isal"))]
use flate_inner::Inner;

#[cfg(not(feature = "isal"))]
mod flate_inner {
    use flate2::{Decompress, FlushDecompress, Status};

    use super::{Body, Failure, Progress};
    use crate::compress::crc::crc32;
    use crate::compress::gzip::{self, TRAILER_LEN};

    pub(super) struct Inner {
        inflate: Decompress,
        /// The deflate data (or zlib stream) ended.
        ended: bool,
        /// gzip: CRC-32 and length of the output so far, and the trailer as it arrives.
        crc: u32,
        len: usize,
        trailer: [u8; TRAILER_LEN],
        trailer_len: usize,
    }

    impl Inner {
        pub(super) fn new() -> Self {
            Inner {
                inflate: Decompress::new(false),
                ended: false,
                crc: 0,
                len: 0,
                trailer: [0; TRAILER_LEN],
                trailer_len: 0,
            }
        }

        pub(super) fn reset(&mut self, body: Body) {
            self.inflate.reset(body == Body::Zlib);
            self.ended = false;
            self.crc = 0;
            self.len = 0;
            self.trailer_len = 0;
        }

        pub(super) fn step(
            &mut self,
            body: Body,
            input: &[u8],
            out: &mut Vec<u8>,
            room: usize,
        ) -> Result<Progress, Failure> {
            let (mut consumed, mut produced) = (0, 0);
            if !self.ended {
                let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
                let spare = &mut out.spare_capacity_mut()[..room];
                let status = self
                    .inflate
                    .decompress_uninit(input, spare, FlushDecompress::None)
                    .map_err(|e| match e.needs_dictionary() {
                        Some(_) => Failure::NeedsDictionary,
                        None => Failure::Corrupt,
                    })?;
                consumed = (self.inflate.total_in() - in_before) as usize;
                produced = (self.inflate.total_out() - out_before) as usize;
                let start = out.len();
                // SAFETY: zlib-rs initialized `produced` bytes of the spare capacity.
                unsafe { out.set_len(start + produced) };
                if body == Body::Gzip {
                    self.crc = crc32(self.crc, &out[start..]);
                    self.len += produced;
                }
                self.ended = status == Status::StreamEnd;
            }
            if !self.ended || body != Body::Gzip {
                return Ok(Progress {
                    consumed,
                    produced,
                    done: self.ended,
                });
            }
            let rest = &input[consumed..];
            let n = rest.len().min(TRAILER_LEN - self.trailer_len);
            self.trailer[self.trailer_len..][..n].copy_from_slice(&rest[..n]);
            self.trailer_len += n;
            consumed += n;
            let done = self.trailer_len == TRAILER_LEN;
            if done && self.trailer != gzip::trailer(self.crc, self.len) {
                // Leave `out` as it was.
                out.truncate(out.len() - produced);
                return Err(Failure::Corrupt);
            }
            Ok(Progress {
                consumed,
                produced,
                done,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip_body(data: &[u8], level: u32) -> Vec<u8> {
        let mut member = Vec::new();
        crate::compress::cpu::compress(Format::Gzip, level, data, &mut member).unwrap();
        member.drain(..crate::compress::gzip::QK_HEADER_LEN);
        member
    }

    fn compressed(body: Body, data: &[u8], level: u32) -> Vec<u8> {
        match body {
            Body::Gzip => gzip_body(data, level),
            Body::Zlib | Body::Raw => {
                let mut out = Vec::new();
                crate::compress::cpu::compress(body.format(), level, data, &mut out).unwrap();
                out
            }
        }
    }

    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Half text-like, half noise.
                if (i / 4096) % 2 == 0 {
                    b"qat offload "[i % 12]
                } else {
                    (x >> 24) as u8
                }
            })
            .collect()
    }

    /// Feeds `input` in pieces of `in_piece` bytes with `out_piece` bytes of room per step,
    /// until done; returns the output and the input used.
    fn run(
        inflater: &mut StreamInflater,
        input: &[u8],
        in_piece: usize,
        out_piece: usize,
    ) -> Result<(Vec<u8>, usize), Error> {
        let mut out = Vec::new();
        let mut at = 0usize;
        loop {
            let end = at.saturating_add(in_piece).min(input.len());
            out.reserve(out_piece);
            let p = inflater.step(&input[at..end], &mut out, out_piece)?;
            assert!(p.produced <= out_piece);
            at += p.consumed;
            if p.done {
                return Ok((out, at));
            }
            assert!(
                p.consumed == end - (at - p.consumed) || p.produced == out_piece,
                "stopped with input and room left"
            );
            if end == input.len() && p.consumed == 0 && p.produced < out_piece {
                return Err(Error::Corrupt {
                    format: Format::Gzip,
                });
            }
        }
    }

    const PIECES: [(usize, usize); 6] = [
        (usize::MAX, 1 << 20),
        (1, 1 << 20),
        (7, 1000),
        (4096, 1),
        (65536, 65536),
        (3, 333),
    ];

    #[test]
    fn every_body_inflates_in_pieces_of_any_size() {
        let data = sample(150_000, 7);
        for body in [Body::Gzip, Body::Zlib, Body::Raw] {
            for level in [1, 6, 12] {
                let packed = compressed(body, &data, level);
                let mut inflater = StreamInflater::new(body).unwrap();
                for (in_piece, out_piece) in PIECES {
                    inflater.reset(body);
                    let what = format!("{body:?} level {level} pieces {in_piece} {out_piece}");
                    let (out, used) = run(&mut inflater, &packed, in_piece, out_piece)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert!(out == data, "{what}");
                    assert_eq!(used, packed.len(), "{what}");
                }
            }
        }
    }

    #[test]
    fn a_gzip_body_ends_exactly_where_the_next_member_begins() {
        let data = sample(150_000, 9);
        let next = b"\x1f\x8b\x08 the next member";
        for level in [1, 6, 12] {
            let packed = gzip_body(&data, level);
            let input = [&packed[..], next].concat();
            let mut inflater = StreamInflater::new(Body::Gzip).unwrap();
            for (in_piece, out_piece) in PIECES {
                inflater.reset(Body::Gzip);
                let what = format!("level {level} pieces {in_piece} {out_piece}");
                let (out, used) = run(&mut inflater, &input, in_piece, out_piece)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(out == data, "{what}");
                assert_eq!(used, packed.len(), "{what}");
            }
        }
    }

    #[test]
    fn bytes_after_zlib_or_raw_are_left_or_the_step_fails() {
        let data = sample(150_000, 11);
        for body in [Body::Zlib, Body::Raw] {
            let packed = compressed(body, &data, 6);
            let input = [&packed[..], b"trailing bytes"].concat();
            let mut inflater = StreamInflater::new(body).unwrap();
            for (in_piece, out_piece) in PIECES {
                inflater.reset(body);
                let what = format!("{body:?} pieces {in_piece} {out_piece}");
                match run(&mut inflater, &input, in_piece, out_piece) {
                    Ok((out, used)) => {
                        assert!(out == data, "{what}");
                        assert_eq!(used, packed.len(), "{what}");
                    }
                    Err(e) => assert!(matches!(e, Error::Corrupt { .. }), "{what}: {e}"),
                }
            }
        }
    }

    #[test]
    fn a_wrong_trailer_or_checksum_is_corrupt() {
        let data = sample(20_000, 3);
        for body in [Body::Gzip, Body::Zlib] {
            let packed = compressed(body, &data, 6);
            // The CRC-32 (gzip) or the Adler-32 (zlib), and gzip's ISIZE.
            let mut ats = vec![packed.len() - 1];
            if body == Body::Gzip {
                ats.push(packed.len() - 8);
            }
            for at in ats {
                let mut bad = packed.clone();
                bad[at] ^= 1;
                for in_piece in [usize::MAX, 1] {
                    let mut inflater = StreamInflater::new(body).unwrap();
                    assert!(
                        matches!(
                            run(&mut inflater, &bad, in_piece, 1 << 20),
                            Err(Error::Corrupt { .. })
                        ),
                        "{body:?} byte {at} pieces {in_piece}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_step_that_fails_leaves_the_output_alone() {
        let packed = compressed(Body::Gzip, &sample(5000, 5), 6);
        let mut bad = packed.clone();
        let at = bad.len() - 8;
        bad[at] ^= 1;
        let mut inflater = StreamInflater::new(Body::Gzip).unwrap();
        let mut out = b"kept".to_vec();
        out.reserve(1 << 20);
        assert!(inflater.step(&bad, &mut out, 1 << 20).is_err());
        assert_eq!(out, b"kept");
    }

    #[test]
    fn a_zlib_preset_dictionary_is_unsupported() {
        // CMF 0x78, FLG 0xbb: FDICT set, header check (0x78bb % 31 == 0); then DICTID.
        let input = [0x78, 0xbb, 0, 0, 0, 1, 0x03, 0x00];
        let mut inflater = StreamInflater::new(Body::Zlib).unwrap();
        let mut out = Vec::with_capacity(100);
        assert!(matches!(
            inflater.step(&input, &mut out, 100),
            Err(Error::Unsupported {
                format: Format::Zlib,
                what: "preset dictionaries"
            })
        ));
    }

    #[test]
    fn an_inflater_can_move_between_threads() {
        fn is_send<T: Send>(_: &T) {}
        let inflater = StreamInflater::new(Body::Raw).unwrap();
        is_send(&inflater);
        let packed = compressed(Body::Raw, b"moved", 1);
        let mut inflater = std::thread::spawn(move || inflater).join().unwrap();
        assert_eq!(run(&mut inflater, &packed, 64, 64).unwrap().0, b"moved");
    }
}
