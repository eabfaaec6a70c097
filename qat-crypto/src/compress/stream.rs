//! Streaming: an [`Encoder`] (`io::Write`) and a [`Decoder`] (`io::Read`).
//!
//! The encoder cuts gzip and LZ4 streams into requests of the codec's request size and
//! compresses them through the codec's backend, a batch of up to `in_flight` at a time: each
//! request becomes a gzip member or an LZ4 frame, which gzip and lz4 read as one stream (QATzip
//! writes gzip the same way). zlib and raw deflate have no members, so their streams go
//! through one stateful deflate (flate2) on the CPU, levels above 9 served as 9.
//!
//! The decoder is stateful and runs on the CPU (flate2, lz4_flex), so it reads any stream of
//! the format, whoever wrote it, in bounded memory.

use std::io::{self, BufRead, Read, Write};

use super::lz4::FrameCheck;
use super::{Codec, Error, Format};

fn io_error(e: Error) -> io::Error {
    let kind = match e {
        Error::Corrupt { .. } | Error::Unsupported { .. } | Error::LimitExceeded { .. } => {
            io::ErrorKind::InvalidData
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// A streaming compressor writing to `W`; [`Encoder::finish`] ends the stream and returns the
/// writer. Dropping it unfinished finishes it and ignores errors, as flate2's encoders do.
/// After an error the stream is incomplete: every later call fails, and nothing more is
/// written (not even on drop), so no data is ever written twice.
pub struct Encoder<'c, W: Write> {
    codec: &'c Codec,
    /// `None` after an error.
    sink: Option<Sink<W>>,
}

fn failed_earlier() -> io::Error {
    io::Error::other("the encoder failed earlier: its output is incomplete")
}

enum Sink<W: Write> {
    /// gzip members or LZ4 frames, one per request.
    Requests {
        writer: W,
        pending: Vec<u8>,
        emitted: bool,
    },
    Zlib(flate2::write::ZlibEncoder<W>),
    Raw(flate2::write::DeflateEncoder<W>),
}

impl<'c, W: Write> Encoder<'c, W> {
    pub(super) fn new(codec: &'c Codec, writer: W) -> Self {
        // qatkit's level 0 is "fastest", zlib's is "stored".
        let level = flate2::Compression::new(codec.level.clamp(1, 9));
        let sink = match codec.format {
            Format::Gzip | Format::Lz4 | Format::Zstd => Sink::Requests {
                writer,
                pending: Vec::new(),
                emitted: false,
            },
            Format::Zlib => Sink::Zlib(flate2::write::ZlibEncoder::new(writer, level)),
            Format::Raw => Sink::Raw(flate2::write::DeflateEncoder::new(writer, level)),
        };
        Encoder {
            codec,
            sink: Some(sink),
        }
    }

    /// Bytes a batch of requests holds.
    fn batch_bytes(&self) -> usize {
        self.codec.request_size.saturating_mul(self.codec.in_flight)
    }

    /// Passes `result` on; an error ends the encoder.
    fn guard<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.sink = None;
        }
        result
    }

    /// Compresses what is pending, as requests, and writes them out in order.
    fn emit(&mut self) -> io::Result<()> {
        let codec = self.codec;
        let Some(Sink::Requests {
            writer,
            pending,
            emitted,
        }) = &mut self.sink
        else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let requests: Vec<&[u8]> = pending.chunks(codec.request_size).collect();
        for packed in codec.compress_batch(&requests) {
            writer.write_all(&packed.map_err(io_error)?)?;
        }
        pending.clear();
        *emitted = true;
        Ok(())
    }

    /// The writer, to take what was written so far; `None` after an error. Writing to it
    /// directly would put bytes in the middle of the stream.
    pub fn get_mut(&mut self) -> Option<&mut W> {
        match self.sink.as_mut()? {
            Sink::Requests { writer, .. } => Some(writer),
            Sink::Zlib(encoder) => Some(encoder.get_mut()),
            Sink::Raw(encoder) => Some(encoder.get_mut()),
        }
    }

    /// Ends the stream and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_stream()
    }

    fn finish_stream(&mut self) -> io::Result<W> {
        let emitted = self.emit();
        self.guard(emitted)?;
        match self.sink.take().ok_or_else(failed_earlier)? {
            Sink::Requests {
                mut writer,
                emitted,
                ..
            } => {
                if !emitted {
                    // An empty stream is still one (empty) member or frame.
                    let empty = self.codec.compress(&[]).map_err(io_error)?;
                    writer.write_all(&empty)?;
                }
                writer.flush()?;
                Ok(writer)
            }
            Sink::Zlib(e) => e.finish(),
            Sink::Raw(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let batch = self.batch_bytes();
        let result = match self.sink.as_mut().ok_or_else(failed_earlier)? {
            Sink::Requests { pending, .. } => {
                let take = buf.len().min(batch - pending.len());
                pending.extend_from_slice(&buf[..take]);
                if pending.len() == batch {
                    self.emit().map(|()| take)
                } else {
                    Ok(take)
                }
            }
            Sink::Zlib(e) => e.write(buf),
            Sink::Raw(e) => e.write(buf),
        };
        self.guard(result)
    }

    /// Compresses what is pending (a shorter request, for gzip and LZ4) and flushes the writer.
    fn flush(&mut self) -> io::Result<()> {
        let emitted = self.emit();
        self.guard(emitted)?;
        let result = match self.sink.as_mut().ok_or_else(failed_earlier)? {
            Sink::Requests { writer, .. } => writer.flush(),
            Sink::Zlib(e) => e.flush(),
            Sink::Raw(e) => e.flush(),
        };
        self.guard(result)
    }
}

impl<W: Write> Drop for Encoder<'_, W> {
    fn drop(&mut self) {
        if self.sink.is_some() {
            let _ = self.finish_stream();
        }
    }
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
    Zstd(super::zstd::FrameReader<Source<R>>),
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
            Format::Zstd => Inner::Zstd(super::zstd::FrameReader::new(Source::new(reader, false))),
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
            Inner::Zstd(d) => Some(d.get_mut()),
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
            Inner::Zstd(d) => d.read(buf).map_err(|_| ()),
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
