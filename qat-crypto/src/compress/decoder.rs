//! The streaming [`Decoder`] (`io::Read`): stateful, on the CPU (flate2, lz4_flex), so it reads
//! any stream of the format, whoever wrote it, in bounded memory.

use std::io::{self, BufRead, Read};

use super::lz4::FrameCheck;
use super::{Error, Format};

/// `e` as an `io::Error`: corrupt or unsupported input and an exceeded limit are
/// `InvalidData`.
pub(super) fn io_error(e: Error) -> io::Error {
    let kind = match e {
        Error::Corrupt { .. } | Error::Unsupported { .. } | Error::LimitExceeded { .. } => {
            io::ErrorKind::InvalidData
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// A streaming decompressor reading from `R`, failing with [`Error::LimitExceeded`] (as an
/// `io::Error` of kind `InvalidData`) past the codec's output limit, and with
/// [`Error::Corrupt`] on corrupt or truncated input. Errors of `R` itself come through as they
/// are.
pub struct Decoder<R: BufRead> {
    format: Format,
    inner: Inner<R>,
    produced: u64,
    limit: u64,
}

enum Inner<R: BufRead> {
    Gzip(flate2::bufread::MultiGzDecoder<Source<R>>),
    /// zlib or raw deflate; `done` once the stream's end was read.
    Deflate {
        reader: Source<R>,
        state: flate2::Decompress,
        done: bool,
    },
    /// `None` only while one frame's decoder is being replaced by the next.
    Lz4(Option<lz4_flex::frame::FrameDecoder<Source<R>>>),
}

impl<R: BufRead> Decoder<R> {
    /// A decoder of `format` reading from `reader`, failing past `limit` bytes of output: what
    /// [`Codec::decoder`](super::Codec::decoder) makes, without a codec. Gzip's header is read
    /// here already.
    pub fn new(format: Format, limit: usize, reader: R) -> Self {
        let inner = match format {
            Format::Gzip => Inner::Gzip(flate2::bufread::MultiGzDecoder::new(Source::new(
                reader, false,
            ))),
            Format::Zlib | Format::Raw => Inner::Deflate {
                reader: Source::new(reader, false),
                state: flate2::Decompress::new(format == Format::Zlib),
                done: false,
            },
            Format::Lz4 => Inner::Lz4(Some(lz4_flex::frame::FrameDecoder::new(Source::new(
                reader, true,
            )))),
        };
        Decoder {
            format,
            inner,
            produced: 0,
            limit: limit as u64,
        }
    }

    fn source(&mut self) -> Option<&mut Source<R>> {
        match &mut self.inner {
            Inner::Gzip(d) => Some(d.get_mut()),
            Inner::Deflate { reader, .. } => Some(reader),
            Inner::Lz4(frame) => frame.as_mut().map(|d| d.get_mut()),
        }
    }

    /// The error to give for a failed read: the reader's own, or corrupt input.
    fn failure(&mut self) -> io::Error {
        let format = self.format;
        self.source()
            .and_then(|s| s.error.take())
            .unwrap_or_else(|| io_error(Error::Corrupt { format }))
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for one byte past the limit at most: getting it means the limit is exceeded.
        let allowed = (self.limit - self.produced.min(self.limit)).saturating_add(1);
        let len = buf
            .len()
            .min(usize::try_from(allowed).unwrap_or(usize::MAX));
        let buf = &mut buf[..len];
        let result = match &mut self.inner {
            Inner::Gzip(d) => match d.read(buf) {
                // flate2 takes empty input as an empty stream; gzip does not.
                Ok(0) if self.produced == 0 && d.header().is_none() && !buf.is_empty() => Err(()),
                Ok(n) => Ok(n),
                Err(_) => Err(()),
            },
            Inner::Deflate {
                reader,
                state,
                done,
            } => inflate(reader, state, done, buf).map_err(|_| ()),
            Inner::Lz4(frame) => read_frames(frame, buf).map_err(|_| ()),
        };
        let n = result.map_err(|()| self.failure())?;
        self.produced += n as u64;
        if self.produced > self.limit {
            return Err(io_error(Error::LimitExceeded {
                format: self.format,
                limit: usize::try_from(self.limit).unwrap_or(usize::MAX),
            }));
        }
        Ok(n)
    }
}

/// One read of a zlib or raw deflate stream; an error is corrupt or truncated input, data
/// after the stream's end, or the reader's own.
fn inflate<R: BufRead>(
    reader: &mut R,
    state: &mut flate2::Decompress,
    done: &mut bool,
    buf: &mut [u8],
) -> io::Result<usize> {
    let bad = || io::Error::from(io::ErrorKind::InvalidData);
    loop {
        let input = reader.fill_buf()?;
        if *done {
            return if input.is_empty() { Ok(0) } else { Err(bad()) };
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let eof = input.is_empty();
        let (in_before, out_before) = (state.total_in(), state.total_out());
        let status = state
            .decompress(input, buf, flate2::FlushDecompress::None)
            .map_err(|_| bad())?;
        let consumed = (state.total_in() - in_before) as usize;
        let produced = (state.total_out() - out_before) as usize;
        reader.consume(consumed);
        *done = status == flate2::Status::StreamEnd;
        if produced > 0 {
            return Ok(produced);
        }
        if eof && !*done {
            return Err(bad());
        }
    }
}

/// One read of concatenated LZ4 frames: lz4_flex stops at the end of a frame, having read
/// exactly its bytes, so a new decoder takes the next frame. An error is corrupt input, a
/// stream cut short, or the reader's own.
fn read_frames<R: BufRead>(
    frame: &mut Option<lz4_flex::frame::FrameDecoder<Source<R>>>,
    buf: &mut [u8],
) -> io::Result<usize> {
    let bad = || io::Error::from(io::ErrorKind::InvalidData);
    loop {
        let decoder = frame.as_mut().ok_or_else(bad)?;
        let n = decoder.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let mut source = frame.take().ok_or_else(bad)?.into_inner();
        let more = !source.fill_buf()?.is_empty();
        let complete = source.frames.as_ref().is_some_and(|c| c.complete());
        *frame = Some(lz4_flex::frame::FrameDecoder::new(source));
        if !complete {
            return Err(bad());
        }
        if !more {
            return Ok(0);
        }
    }
}

/// The decoder's view of its reader: keeps the reader's own errors (so they are not taken for
/// corrupt data) and, for LZ4, walks the frames read through it.
struct Source<R> {
    inner: R,
    error: Option<io::Error>,
    frames: Option<FrameCheck>,
}

impl<R> Source<R> {
    fn new(inner: R, lz4: bool) -> Self {
        Source {
            inner,
            error: None,
            frames: lz4.then(FrameCheck::new),
        }
    }
}

/// Keeps `e` as the reader's error and returns a copy to pass up through the decoder.
fn keep(error: &mut Option<io::Error>, e: io::Error) -> io::Error {
    let copy = io::Error::new(e.kind(), e.to_string());
    *error = Some(e);
    copy
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| keep(&mut self.error, e))?;
        if let Some(check) = &mut self.frames {
            check.feed(&buf[..n]);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self.inner.fill_buf() {
            Ok(buf) => Ok(buf),
            Err(e) => Err(keep(&mut self.error, e)),
        }
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}
