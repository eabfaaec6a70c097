//! Compression offload: gzip, zlib, raw deflate, LZ4 and zstd, served by a QAT device through
//! QATzip (backend `qat`, feature `qatzip`) or by the fastest CPU libraries (backend `cpu`);
//! backend `auto` takes the device when there is one and the request is big enough, else the
//! CPU — never QATzip's slower software path unless `qat` is asked for by name.
//!
//! A [`Codec`] holds the choices (format, level, backend, output limit, requests in flight)
//! and offers one-shot calls (into a new `Vec`, appending to the caller's `Vec`, or into the
//! caller's slice), a batch call that keeps a bounded number of requests in flight and returns
//! results in order, and streaming [`Encoder`]s and [`Decoder`]s. Which backend served is
//! counted ([`Codec::served`]) and traced (`tracing`, target `qat_crypto::compress`).
//!
//! Requests in flight run on persistent worker threads, one pool per in-flight count, whose
//! library state (compressors, inflaters, QATzip sessions) lives as long as they do. Streams
//! are pipelines: the encoder reads ahead while workers compress its requests (each a gzip
//! member, LZ4 or zstd frame); the decoder hands whole units whose size is known — gzip
//! members whose header records their length (qatkit's, QATzip's, BGZF's), LZ4 and zstd frames
//! — to the workers, and streams the rest; both keep output in order and memory bounded. A
//! gzip member is inflated once, into the size its trailer records or, when nothing records
//! it, through a stateful inflater whose output grows.
//!
//! ```
//! use qat_crypto::compress::{Backend, Codec, Format};
//!
//! let codec = Codec::new(Format::Gzip, 1)?.with_backend(Backend::Auto)?;
//! let packed = codec.compress(b"QuickAssist, or the CPU when there is none")?;
//! assert_eq!(codec.decompress(&packed)?, b"QuickAssist, or the CPU when there is none");
//! # Ok::<(), qat_crypto::compress::Error>(())
//! ```

use std::fmt;

use qat_error::ErrorKind;

use crate::backend::Counters;
pub use crate::backend::{Backend, Served, ServedBy};
use crate::executor;

mod cpu;
mod crc;
mod decoder;
mod encoder;
mod gzip;
mod inflate;
mod inflate_stream;
#[cfg(feature = "isal")]
mod isal;
mod libdeflate;
mod lz4;
#[cfg(feature = "qatzip")]
mod qat;
mod units;
mod zstd;

/// Shared input for [`Encoder::write_bytes`] and [`Codec::decoder_over`] (the `bytes` crate's).
pub use bytes::Bytes;
pub use decoder::Decoder;
pub use encoder::Encoder;

/// The compressed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// gzip (RFC 1952). Output may be several members, as gzip writes for concatenated files;
    /// decoders read them all.
    Gzip,
    /// zlib (RFC 1950).
    Zlib,
    /// Raw deflate (RFC 1951).
    Raw,
    /// LZ4 frames, as the `lz4` tool writes them; decoders read concatenated frames.
    Lz4,
    /// zstd frames, as the `zstd` tool writes them; decoders read concatenated frames. CPU
    /// only: QATzip has no zstd.
    Zstd,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Gzip => "gzip",
            Format::Zlib => "zlib",
            Format::Raw => "raw deflate",
            Format::Lz4 => "lz4",
            Format::Zstd => "zstd",
        })
    }
}

impl Format {
    /// Every format, in the order of the C ABI's format constants (which the fuzz targets'
    /// seeds rely on too).
    pub const ALL: [Format; 5] = [
        Format::Gzip,
        Format::Zlib,
        Format::Raw,
        Format::Lz4,
        Format::Zstd,
    ];

    /// The levels this format takes: deflate 0–12 (0–3 ISA-L's levels, 4–12 libdeflate's; 0 is
    /// the fastest, not "stored"); LZ4's fast levels 0–2 (lz4_flex has no HC levels); zstd's
    /// levels 1–22 and 0 for its default (3), as `ZSTD_compress` takes them (zstd's negative,
    /// faster levels are out: qatkit's levels are unsigned).
    pub fn levels(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Format::Lz4 => 0..=2,
            Format::Zstd => 0..=22,
            _ => 0..=12,
        }
    }

    /// Whether the format's streams are units (gzip members, LZ4 or zstd frames) that can be
    /// compressed and decompressed independently.
    fn has_units(self) -> bool {
        matches!(self, Format::Gzip | Format::Lz4 | Format::Zstd)
    }

    fn check_level(self, level: u32) -> Result<(), Error> {
        let levels = self.levels();
        if levels.contains(&level) {
            return Ok(());
        }
        Err(Error::InvalidLevel {
            format: self,
            level,
            min: *levels.start(),
            max: *levels.end(),
        })
    }
}

/// What was being done when an error happened, where more than one thing can fail the same
/// way. Shown as the start of the message: "compressing", "decompressing".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Compressing.
    Compress,
    /// Decompressing.
    Decompress,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Compress => "compressing",
            Operation::Decompress => "decompressing",
        })
    }
}

impl Operation {
    /// The error for a library or QATzip that failed at this operation, saying `reason`.
    /// The output buffer could not grow: an error to return, not an abort of the process.
    fn no_room(self, format: Format, bytes: usize) -> Error {
        self.failed(
            format,
            format!("cannot allocate {bytes} bytes for the output"),
        )
    }

    fn failed(self, format: Format, reason: impl Into<String>) -> Error {
        let reason = reason.into();
        match self {
            Operation::Compress => Error::Compress { format, reason },
            Operation::Decompress => Error::Decompress { format, reason },
        }
    }
}

/// What can go wrong. Each message starts with what was being done ("compressing gzip: ...",
/// "decompressing lz4: ..."); [`Error::kind`] says what kind of failure it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A level the format does not have.
    #[error("choosing a level: {format} has no level {level} (levels {min}-{max})")]
    InvalidLevel {
        /// The format.
        format: Format,
        /// The level asked for.
        level: u32,
        /// Lowest level.
        min: u32,
        /// Highest level.
        max: u32,
    },
    /// The backend asked for ([`Codec::with_backend`]) cannot serve: not built in, or not for
    /// this format and level.
    #[error("choosing backend {backend}: {reason}")]
    Backend {
        /// The backend.
        backend: &'static str,
        /// Why.
        reason: String,
    },
    /// The input is not valid data of the format (corrupt, truncated, another format).
    #[error("decompressing {format}: data is corrupt or truncated")]
    Corrupt {
        /// The format.
        format: Format,
    },
    /// The input is valid data of the format that uses a feature qatkit does not read (a zlib
    /// preset dictionary, an LZ4 legacy frame).
    #[error("decompressing {format}: {what} are not supported")]
    Unsupported {
        /// The format.
        format: Format,
        /// The feature, in the plural: "preset dictionaries", "legacy frames".
        what: &'static str,
    },
    /// The decompressed data would exceed the output limit ([`Codec::with_limit`]).
    #[error("decompressing {format}: output exceeds the {limit}-byte limit")]
    LimitExceeded {
        /// The format.
        format: Format,
        /// The limit.
        limit: usize,
    },
    /// The caller's slice is too small for the result. Its kind is
    /// [`ErrorKind::LimitExceeded`], not [`ErrorKind::InvalidInput`]: the request is well
    /// formed, and whether the result fits depends on the data, which the caller cannot know
    /// beforehand; the slice is an output limit the caller set, as [`Error::LimitExceeded`]'s is
    /// one set on the codec (`decompress_to_slice` reports whichever of the two is smaller), and
    /// the cure is the same: more room. Nothing was written to the slice.
    #[error(
        "{operation} {format}: the output needs at least {needed} bytes, the buffer has {available}"
    )]
    OutputTooSmall {
        /// Compressing or decompressing.
        operation: Operation,
        /// The format.
        format: Format,
        /// Bytes the result needs: exact when compressing; when decompressing, decompression
        /// stops one byte past the buffer, so the result needs at least this many.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A request larger than the library serving it takes: ISA-L and QATzip count bytes in 32
    /// bits.
    #[error("{operation} {format}: {library} takes requests under 4 GiB, this one has {len} bytes")]
    RequestTooLarge {
        /// Compressing or decompressing.
        operation: Operation,
        /// The format.
        format: Format,
        /// The library: "ISA-L", "QATzip".
        library: &'static str,
        /// The request's length.
        len: usize,
    },
    /// The compressor (a CPU library or QATzip) failed: it returned an error, could not
    /// allocate its state or buffers, or QATzip could not set up a session.
    #[error("compressing {format}: {reason}")]
    Compress {
        /// The format.
        format: Format,
        /// What it said.
        reason: String,
    },
    /// The decompressor (a CPU library or QATzip) failed other than on corrupt data: it could
    /// not allocate its state or buffers, or QATzip could not set up a session.
    #[error("decompressing {format}: {reason}")]
    Decompress {
        /// The format.
        format: Format,
        /// What it said.
        reason: String,
    },
}

impl Error {
    /// What kind of failure this is: what the CLI, the C ABI and the device plugin map.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidLevel { .. } => ErrorKind::InvalidInput,
            Error::Backend { .. } => ErrorKind::Unsupported,
            Error::Corrupt { .. } => ErrorKind::CorruptData,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            Error::OutputTooSmall { .. } => ErrorKind::LimitExceeded,
            Error::RequestTooLarge { .. } => ErrorKind::LimitExceeded,
            Error::Compress { .. } => ErrorKind::DeviceFailure,
            Error::Decompress { .. } => ErrorKind::DeviceFailure,
        }
    }
}

/// Deflate's largest expansion on decompression: a 258-byte match per code of at least 2 bits.
/// No output guess or buffer needs to be larger than this many times the input.
const MAX_DEFLATE_RATIO: usize = 1032;

/// The default output limit of decompression: 1 GiB.
pub const DEFAULT_LIMIT: usize = 1 << 30;

/// Requests smaller than this go to the CPU under [`Backend::Auto`]: below it a round trip
/// to the device costs about as much as ISA-L takes to compress the request (tens of µs).
pub const DEFAULT_AUTO_MIN_REQUEST: usize = 16 << 10;

/// Streams are cut into requests of this size: on the bench corpus 1 MiB requests keep the
/// ratio within 0.5% of whole files (2.86/2.85, 3.40/3.41, 3.48/3.49 at levels 1, 6, 9), it
/// bounds memory, and gives QATzip 16 of its 64 KiB hardware buffers per request.
pub const DEFAULT_REQUEST_SIZE: usize = 1 << 20;

/// A format, level and backend, with the limits that go with them. Cheap to make: QATzip
/// sessions are made on first need and kept until the last clone of the codec is dropped.
/// Clones share the sessions and the [`Codec::served`] counts (streams hand a clone to each
/// request they run on a worker).
#[derive(Debug, Clone)]
pub struct Codec {
    format: Format,
    level: u32,
    backend: Backend,
    limit: usize,
    in_flight: usize,
    request_size: usize,
    auto_min_request: usize,
    shared: std::sync::Arc<Shared>,
}

/// What the clones of a codec share.
#[derive(Debug)]
struct Shared {
    served: Counters,
    /// QATzip sessions: for compression at the codec's level, and for decompression.
    #[cfg(feature = "qatzip")]
    qat: [crate::qat::qatzip::Pool; 2],
}

impl Codec {
    /// A codec for `format` at `level`, backend [`Backend::Auto`], one request in flight.
    pub fn new(format: Format, level: u32) -> Result<Self, Error> {
        format.check_level(level)?;
        Ok(Codec {
            format,
            level,
            backend: Backend::Auto,
            limit: DEFAULT_LIMIT,
            in_flight: 1,
            request_size: DEFAULT_REQUEST_SIZE,
            auto_min_request: DEFAULT_AUTO_MIN_REQUEST,
            shared: std::sync::Arc::new(Shared {
                served: Default::default(),
                #[cfg(feature = "qatzip")]
                qat: [qat::pool(format, level), qat::pool(format, 1)],
            }),
        })
    }

    /// Chooses the backend. `qat` needs the `qatzip` feature and a level QATzip has (deflate
    /// 1–9; LZ4 1–2, of the levels qatkit takes; no zstd).
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        if backend == Backend::Qat {
            qat_supports(self.format, self.level)?;
        }
        self.backend = backend;
        Ok(self)
    }

    /// Decompression fails with [`Error::LimitExceeded`] past `limit` bytes of output.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Batches and streams keep up to `n` (at least 1) requests in flight, on as many worker
    /// threads, kept for the life of the process and shared by every codec and key asking for
    /// `n`; with 1, everything runs on the calling thread.
    pub fn with_in_flight(mut self, n: usize) -> Self {
        self.in_flight = n.max(1);
        self
    }

    /// Streaming encoders, and one-shot compression with more than one request in flight, cut
    /// their input into requests of `bytes` (at least 1).
    pub fn with_request_size(mut self, bytes: usize) -> Self {
        self.request_size = bytes.max(1);
        self
    }

    /// Under [`Backend::Auto`], requests under `bytes` go to the CPU.
    pub fn with_auto_min_request(mut self, bytes: usize) -> Self {
        self.auto_min_request = bytes;
        self
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The level.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// The backend asked for.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The decompression output limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many requests each server has completed so far.
    pub fn served(&self) -> Served {
        self.shared.served.served()
    }

    fn count(&self, served_by: ServedBy, len: usize) {
        self.shared.served.count(served_by, &self.format, len);
    }

    /// Whether a compression request of `len` bytes goes to QATzip: under `auto`, only when
    /// this thread's QATzip session runs on a device.
    fn compress_on_qat(&self, len: usize) -> bool {
        match self.backend {
            Backend::Cpu => false,
            Backend::Qat => true,
            Backend::Auto => {
                // Cheapest first: qat_supports builds an error message when it says no.
                len >= self.auto_min_request
                    && device_present()
                    && qat_supports(self.format, self.level).is_ok()
                    && self.qat_on_device(0)
            }
        }
    }

    /// Whether decompressing `input` goes to QATzip: under `auto`, only gzip QATzip wrote
    /// (the device takes nothing else; QATzip sends the rest to its software path).
    fn decompress_on_qat(&self, input: &[u8]) -> bool {
        match self.backend {
            Backend::Cpu => false,
            Backend::Qat => true,
            Backend::Auto => {
                input.len() >= self.auto_min_request
                    && self.format == Format::Gzip
                    && is_qatzip_gzip(input)
                    && device_present()
                    && self.qat_on_device(1)
            }
        }
    }

    /// Compresses one request, appending to `out`.
    fn compress_request(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let served_by = if self.compress_on_qat(input.len()) {
            self.qat_compress(input, out)?
        } else {
            cpu::compress(self.format, self.level, input, out)?;
            ServedBy::Cpu
        };
        self.count(served_by, input.len());
        Ok(())
    }

    /// Decompresses one request, appending at most `limit` bytes to `out`.
    fn decompress_request(
        &self,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let served_by = if self.decompress_on_qat(input) {
            self.qat_decompress(input, limit, out)?
        } else {
            cpu::decompress(self.format, input, limit, out)?;
            ServedBy::Cpu
        };
        self.count(served_by, input.len());
        Ok(())
    }

    /// Runs `op` on every input and its output buffer, up to `in_flight` at once; the
    /// results come back in input order.
    fn batch<T: AsRef<[u8]> + Sync>(
        &self,
        inputs: &[T],
        outs: &mut [Vec<u8>],
        op: impl Fn(&[u8], &mut Vec<u8>) -> Result<(), Error> + Sync,
    ) -> Vec<Result<(), Error>> {
        let mut pairs: Vec<(&[u8], &mut Vec<u8>)> = inputs
            .iter()
            .map(AsRef::as_ref)
            .zip(outs.iter_mut())
            .collect();
        executor::run(self.in_flight, &mut pairs, |(i, o)| op(i, o))
    }

    /// Runs a batch with a new buffer per input.
    fn batch_to_vecs<T: AsRef<[u8]> + Sync>(
        &self,
        inputs: &[T],
        op: impl Fn(&[u8], &mut Vec<u8>) -> Result<(), Error> + Sync,
    ) -> Vec<Result<Vec<u8>, Error>> {
        let mut outs = vec![Vec::new(); inputs.len()];
        let results = self.batch(inputs, &mut outs, op);
        results
            .into_iter()
            .zip(outs)
            .map(|(result, out)| result.map(|()| out))
            .collect()
    }

    /// Runs a batch of one that appends to `out`, which is left as it was on error.
    fn one_into(
        &self,
        input: &[u8],
        out: &mut Vec<u8>,
        op: impl Fn(&[u8], &mut Vec<u8>) -> Result<(), Error> + Sync,
    ) -> Result<usize, Error> {
        let start = out.len();
        let result = self
            .batch(&[input], std::slice::from_mut(out), op)
            .pop()
            .expect("a batch of one has one result");
        match result {
            Ok(()) => Ok(out.len() - start),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Compresses each input independently, up to [`Codec::with_in_flight`] at once; the
    /// results come back in input order.
    pub fn compress_batch<T: AsRef<[u8]> + Sync>(
        &self,
        inputs: &[T],
    ) -> Vec<Result<Vec<u8>, Error>> {
        self.batch_to_vecs(inputs, |i, o| self.compress_request(i, o))
    }

    /// Decompresses each input independently, each within the output limit, up to
    /// [`Codec::with_in_flight`] at once; the results come back in input order.
    pub fn decompress_batch<T: AsRef<[u8]> + Sync>(
        &self,
        inputs: &[T],
    ) -> Vec<Result<Vec<u8>, Error>> {
        self.batch_to_vecs(inputs, |i, o| self.decompress_request(i, self.limit, o))
    }

    /// The largest output compressing `len` bytes in one call can give with this codec (its
    /// format, any level, and QATzip when the backend may use it): a slice this long is never
    /// too small for [`Codec::compress_to_slice`].
    pub fn compress_bound(&self, len: usize) -> usize {
        // No request is this large; the bounds' own arithmetic would wrap past it.
        if len > usize::MAX / 4 {
            return usize::MAX;
        }
        let cpu = cpu::compress_bound(self.format, len);
        match self.backend {
            Backend::Cpu => cpu,
            Backend::Auto | Backend::Qat => cpu.max(self.qat_compress_bound(len)),
        }
    }

    /// Compresses `input` into a new buffer.
    pub fn compress(&self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.compress_into(input, &mut out)?;
        Ok(out)
    }

    /// Compresses `input`, appending to `out` (whose capacity is reused: the fastest way to
    /// make many calls); returns the length appended.
    ///
    /// With more than one request in flight, an input longer than the request size is cut
    /// into requests compressed in parallel (gzip members, LZ4 or zstd frames, as streams
    /// write them).
    pub fn compress_into(&self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        if self.in_flight > 1 && input.len() > self.request_size && self.format.has_units() {
            let start = out.len();
            let mut encoder = self.encoder(&mut *out);
            let written = std::io::Write::write_all(&mut encoder, input)
                .and_then(|()| encoder.finish().map(drop));
            return match written {
                Ok(()) => Ok(out.len() - start),
                Err(e) => {
                    out.truncate(start);
                    Err(from_io(Operation::Compress, self.format, e))
                }
            };
        }
        self.one_into(input, out, |i, o| self.compress_request(i, o))
    }

    /// Compresses `input` into `out`, returning the length written; a result longer than `out`
    /// is [`Error::OutputTooSmall`].
    pub fn compress_to_slice(&self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        copy_into(Operation::Compress, self.format, self.compress(input)?, out)
    }

    /// Decompresses `input` into a new buffer, within the output limit.
    pub fn decompress(&self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.decompress_into(input, &mut out)?;
        Ok(out)
    }

    /// Decompresses `input` within the output limit, appending to `out` (whose capacity is
    /// reused); returns the length appended.
    ///
    /// With more than one request in flight, units whose size is recorded (see
    /// [`Codec::decoder`]) are decompressed in parallel.
    pub fn decompress_into(&self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        if self.in_flight > 1 && self.format.has_units() {
            let start = out.len();
            let read = std::io::Read::read_to_end(&mut self.decoder(input), out);
            return read.map_err(|e| {
                out.truncate(start);
                from_io(Operation::Decompress, self.format, e)
            });
        }
        self.one_into(input, out, |i, o| self.decompress_request(i, self.limit, o))
    }

    /// Decompresses `input` into `out`, returning the length written; more output than `out`
    /// holds (or than the limit) is [`Error::OutputTooSmall`] (or [`Error::LimitExceeded`]).
    pub fn decompress_to_slice(&self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let limit = self.limit.min(out.len());
        let mut result = Vec::new();
        match self.one_into(input, &mut result, |i, o| {
            self.decompress_request(i, limit, o)
        }) {
            Err(Error::LimitExceeded { .. }) if limit < self.limit => Err(Error::OutputTooSmall {
                operation: Operation::Decompress,
                format: self.format,
                needed: limit + 1,
                available: out.len(),
            }),
            Err(e) => Err(e),
            Ok(_) => copy_into(Operation::Decompress, self.format, result, out),
        }
    }

    /// A streaming encoder writing compressed data to `writer`. gzip, LZ4 and zstd go through
    /// the backend, request by request; zlib and raw deflate streams have no members to cut them
    /// into, so they run on the CPU (flate2, levels above 9 as 9) whatever the backend, and
    /// are not counted in [`Codec::served`].
    pub fn encoder<W: std::io::Write>(&self, writer: W) -> Encoder<W> {
        Encoder::new(self, writer)
    }

    /// A streaming decoder reading compressed data from `reader`, within the output limit, in
    /// bounded memory. Units whose size is recorded (gzip members qatkit, QATzip or BGZF wrote;
    /// LZ4 and zstd frames) go through the backend, up to [`Codec::with_in_flight`] at once;
    /// the rest are streamed on the CPU, each counted once in [`Codec::served`].
    pub fn decoder<R: std::io::BufRead>(&self, reader: R) -> Decoder<R> {
        Decoder::with_codec(self, reader)
    }

    /// A streaming decoder like [`Codec::decoder`] that reads `windows` of shared input, in
    /// order (a mapped file's, say): the units it decompresses on workers are read in place,
    /// with no copy; only a unit that spans two windows is copied. An error from `windows`
    /// ends the decoder as a reader's would.
    pub fn decoder_over(
        &self,
        windows: impl Iterator<Item = std::io::Result<Bytes>> + Send + 'static,
    ) -> Decoder<std::io::Empty> {
        Decoder::over_windows(self, Box::new(windows))
    }
}

/// The codec's error inside an `io::Error` from a stream over memory, which has no I/O errors
/// of its own.
fn from_io(operation: Operation, format: Format, e: std::io::Error) -> Error {
    let message = e.to_string();
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(e)) => *e,
        _ => operation.failed(format, message),
    }
}

fn copy_into(
    operation: Operation,
    format: Format,
    result: Vec<u8>,
    out: &mut [u8],
) -> Result<usize, Error> {
    let available = out.len();
    let dst = out.get_mut(..result.len()).ok_or(Error::OutputTooSmall {
        operation,
        format,
        needed: result.len(),
        available,
    })?;
    dst.copy_from_slice(&result);
    Ok(result.len())
}

#[cfg(feature = "qatzip")]
fn qat_supports(format: Format, level: u32) -> Result<(), Error> {
    qat::supports(format, level).map_err(|reason| Error::Backend {
        backend: "qat",
        reason,
    })
}

#[cfg(not(feature = "qatzip"))]
fn qat_supports(_: Format, _: u32) -> Result<(), Error> {
    Err(Error::Backend {
        backend: "qat",
        reason: "qat-crypto was built without the `qatzip` feature".into(),
    })
}

/// Whether `input` starts with a gzip member QATzip wrote: the FEXTRA subfield "QZ" that
/// records the member's sizes.
fn is_qatzip_gzip(input: &[u8]) -> bool {
    input.len() >= 14
        && input[..3] == [0x1f, 0x8b, 8]
        && input[3] & 0x04 != 0
        && input[12..14] == *b"QZ"
}

#[cfg(feature = "qatzip")]
use crate::qat::qatzip::device_present;

#[cfg(not(feature = "qatzip"))]
fn device_present() -> bool {
    false
}

/// The QATzip backend's entry points; without the `qatzip` feature `with_backend` refuses
/// `qat` and `auto` never gets here.
impl Codec {
    #[cfg(feature = "qatzip")]
    fn qat_on_device(&self, pool: usize) -> bool {
        self.shared.qat[pool].on_device()
    }

    #[cfg(feature = "qatzip")]
    fn qat_compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<ServedBy, Error> {
        qat::compress(&self.shared.qat[0], self.format, input, out)
    }

    #[cfg(feature = "qatzip")]
    fn qat_compress_bound(&self, len: usize) -> usize {
        qat::compress_bound(&self.shared.qat[0], self.format, len).unwrap_or(0)
    }

    #[cfg(feature = "qatzip")]
    fn qat_decompress(
        &self,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<ServedBy, Error> {
        qat::decompress(&self.shared.qat[1], self.format, input, limit, out)
    }

    #[cfg(not(feature = "qatzip"))]
    fn qat_compress_bound(&self, _: usize) -> usize {
        0
    }

    #[cfg(not(feature = "qatzip"))]
    fn qat_on_device(&self, _: usize) -> bool {
        false
    }

    #[cfg(not(feature = "qatzip"))]
    fn qat_compress(&self, _: &[u8], _: &mut Vec<u8>) -> Result<ServedBy, Error> {
        qat_supports(self.format, self.level).map(|()| ServedBy::QatSoftware)
    }

    #[cfg(not(feature = "qatzip"))]
    fn qat_decompress(&self, _: &[u8], _: usize, _: &mut Vec<u8>) -> Result<ServedBy, Error> {
        qat_supports(self.format, 1).map(|()| ServedBy::QatSoftware)
    }
}

/// Compresses `input` with backend [`Backend::Auto`].
pub fn compress(format: Format, level: u32, input: &[u8]) -> Result<Vec<u8>, Error> {
    Codec::new(format, level)?.compress(input)
}

/// Decompresses `input` with backend [`Backend::Auto`], producing at most `limit` bytes: more
/// is [`Error::LimitExceeded`].
pub fn decompress(format: Format, input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    // The level does not matter to decompression.
    Codec::new(format, 1)?.with_limit(limit).decompress(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qatzip_gzip_is_told_from_other_gzip_by_its_header() {
        // A GZIP_EXT header as QATzip writes it: FEXTRA, XLEN 8, subfield "QZ".
        let mut qatzip_header = vec![0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 3, 8, 0];
        qatzip_header.extend_from_slice(b"QZ\x04\x00");
        assert!(is_qatzip_gzip(&qatzip_header));
        let plain = compress(Format::Gzip, 1, b"plain gzip, no extra field").unwrap();
        assert!(!is_qatzip_gzip(&plain));
        assert!(!is_qatzip_gzip(&qatzip_header[..13]));
        #[cfg(feature = "qatzip")]
        {
            let qat = Codec::new(Format::Gzip, 1)
                .and_then(|c| c.with_backend(Backend::Qat))
                .unwrap();
            assert!(is_qatzip_gzip(&qat.compress(&[7u8; 5000]).unwrap()));
        }
    }

    /// One error of each variant, with the kind it is meant to have.
    fn one_of_each() -> Vec<(Error, ErrorKind)> {
        use Operation::{Compress, Decompress};
        let format = Format::Gzip;
        vec![
            (Codec::new(format, 13).unwrap_err(), ErrorKind::InvalidInput),
            (
                Codec::new(format, 12)
                    .unwrap()
                    .with_backend(Backend::Qat)
                    .unwrap_err(),
                ErrorKind::Unsupported,
            ),
            (
                decompress(format, b"not gzip", 100).unwrap_err(),
                ErrorKind::CorruptData,
            ),
            (
                Error::Unsupported {
                    format,
                    what: "preset dictionaries",
                },
                ErrorKind::Unsupported,
            ),
            (
                decompress(format, &compress(format, 1, &[0; 200]).unwrap(), 100).unwrap_err(),
                ErrorKind::LimitExceeded,
            ),
            (
                Codec::new(format, 6)
                    .unwrap()
                    .compress_to_slice(&[0; 200], &mut [0; 4])
                    .unwrap_err(),
                ErrorKind::LimitExceeded,
            ),
            (
                Error::RequestTooLarge {
                    operation: Decompress,
                    format,
                    library: "QATzip",
                    len: 1 << 32,
                },
                ErrorKind::LimitExceeded,
            ),
            (
                Compress.failed(format, "ISA-L returned -1"),
                ErrorKind::DeviceFailure,
            ),
            (
                Decompress.failed(format, "libdeflate could not allocate its state"),
                ErrorKind::DeviceFailure,
            ),
        ]
    }

    #[test]
    fn every_variant_has_the_kind_meant_and_says_what_was_being_done() {
        let cases = one_of_each();
        let mut variants = std::collections::BTreeSet::new();
        for (error, kind) in &cases {
            assert_eq!(error.kind(), *kind, "{error:?}");
            // No `_` arm: a new variant does not compile until it is named here, and this test
            // fails until one_of_each builds it.
            let variant = match error {
                Error::InvalidLevel { .. } => "InvalidLevel",
                Error::Backend { .. } => "Backend",
                Error::Corrupt { .. } => "Corrupt",
                Error::Unsupported { .. } => "Unsupported",
                Error::LimitExceeded { .. } => "LimitExceeded",
                Error::OutputTooSmall { .. } => "OutputTooSmall",
                Error::RequestTooLarge { .. } => "RequestTooLarge",
                Error::Compress { .. } => "Compress",
                Error::Decompress { .. } => "Decompress",
            };
            variants.insert(variant);
            let message = error.to_string();
            assert!(
                ["choosing ", "compressing gzip: ", "decompressing gzip: "]
                    .iter()
                    .any(|start| message.starts_with(start)),
                "{message}"
            );
        }
        assert_eq!(variants.len(), 9, "one of each variant: {variants:?}");
        assert_eq!(variants.len(), cases.len());
    }

    #[test]
    fn messages_name_the_operation_and_what_went_wrong() {
        let messages: Vec<String> = one_of_each().iter().map(|(e, _)| e.to_string()).collect();
        let needed = compress(Format::Gzip, 6, &[0; 200]).unwrap().len();
        let qat = if cfg!(feature = "qatzip") {
            "QATzip has no gzip level 12"
        } else {
            "qat-crypto was built without the `qatzip` feature"
        };
        assert_eq!(
            messages,
            [
                "choosing a level: gzip has no level 13 (levels 0-12)".to_string(),
                format!("choosing backend qat: {qat}"),
                "decompressing gzip: data is corrupt or truncated".into(),
                "decompressing gzip: preset dictionaries are not supported".into(),
                "decompressing gzip: output exceeds the 100-byte limit".into(),
                format!(
                    "compressing gzip: the output needs at least {needed} bytes, the buffer has 4"
                ),
                "decompressing gzip: QATzip takes requests under 4 GiB, this one has 4294967296 \
                 bytes"
                    .into(),
                "compressing gzip: ISA-L returned -1".into(),
                "decompressing gzip: libdeflate could not allocate its state".into(),
            ]
        );
    }

    #[test]
    fn a_slice_too_small_for_decompression_says_decompressing() {
        let codec = Codec::new(Format::Lz4, 1).unwrap();
        let packed = codec.compress(&[7; 300]).unwrap();
        let error = codec
            .decompress_to_slice(&packed, &mut [0; 100])
            .unwrap_err();
        assert!(matches!(
            error,
            Error::OutputTooSmall {
                operation: Operation::Decompress,
                needed: 101,
                available: 100,
                ..
            }
        ));
        assert_eq!(error.kind(), ErrorKind::LimitExceeded);
        assert_eq!(
            error.to_string(),
            "decompressing lz4: the output needs at least 101 bytes, the buffer has 100"
        );
    }

    #[test]
    fn auto_without_a_device_stays_on_the_cpu() {
        let auto = Codec::new(Format::Gzip, 1).unwrap();
        let mut qatzip_gzip = vec![0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 3, 8, 0, b'Q', b'Z'];
        assert!(is_qatzip_gzip(&qatzip_gzip));
        qatzip_gzip.resize(1 << 20, 0);
        assert!(!auto.compress_on_qat(1 << 20));
        assert!(!auto.decompress_on_qat(&qatzip_gzip));
        let cpu = Codec::new(Format::Gzip, 1)
            .unwrap()
            .with_backend(Backend::Cpu)
            .unwrap();
        assert!(!cpu.compress_on_qat(1 << 20));
    }
}
