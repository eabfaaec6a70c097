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

use super::{Codec, Error, Format};

fn io_error(e: Error) -> io::Error {
    let kind = match e {
        Error::Corrupt { .. } | Error::LimitExceeded { .. } => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// A streaming compressor writing to `W`; [`Encoder::finish`] ends the stream and returns the
/// writer. Dropping it unfinished finishes it and ignores errors, as flate2's encoders do.
pub struct Encoder<'c, W: Write> {
    codec: &'c Codec,
    sink: Option<Sink<W>>,
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
            Format::Gzip | Format::Lz4 => Sink::Requests {
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

    /// Ends the stream and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_stream()
    }

    fn finish_stream(&mut self) -> io::Result<W> {
        self.emit()?;
        match self.sink.take().expect("finished once") {
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
        match self.sink.as_mut().expect("not finished") {
            Sink::Requests { pending, .. } => {
                let take = buf.len().min(batch - pending.len());
                pending.extend_from_slice(&buf[..take]);
                if pending.len() == batch {
                    self.emit()?;
                }
                Ok(take)
            }
            Sink::Zlib(e) => e.write(buf),
            Sink::Raw(e) => e.write(buf),
        }
    }

    /// Compresses what is pending (a shorter request, for gzip and LZ4) and flushes the writer.
    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        match self.sink.as_mut().expect("not finished") {
            Sink::Requests { writer, .. } => writer.flush(),
            Sink::Zlib(e) => e.flush(),
            Sink::Raw(e) => e.flush(),
        }
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
/// [`Error::Corrupt`] on corrupt or truncated input.
pub struct Decoder<R: BufRead> {
    format: Format,
    inner: Inner<R>,
    produced: u64,
    limit: u64,
}

enum Inner<R: BufRead> {
    Gzip(flate2::bufread::MultiGzDecoder<R>),
    /// zlib or raw deflate; `done` once the stream's end was read.
    Deflate {
        reader: R,
        state: flate2::Decompress,
        done: bool,
    },
    /// `None` only while one frame's decoder is being replaced by the next.
    Lz4(Option<lz4_flex::frame::FrameDecoder<Tail<R>>>),
}

impl<R: BufRead> Decoder<R> {
    pub(super) fn new(format: Format, limit: usize, reader: R) -> Self {
        let inner = match format {
            Format::Gzip => Inner::Gzip(flate2::bufread::MultiGzDecoder::new(reader)),
            Format::Zlib | Format::Raw => Inner::Deflate {
                reader,
                state: flate2::Decompress::new(format == Format::Zlib),
                done: false,
            },
            Format::Lz4 => Inner::Lz4(Some(lz4_flex::frame::FrameDecoder::new(Tail::new(reader)))),
        };
        Decoder {
            format,
            inner,
            produced: 0,
            limit: limit as u64,
        }
    }

    fn corrupt(&self) -> io::Error {
        io_error(Error::Corrupt {
            format: self.format,
        })
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
        let format = self.format;
        let n = match &mut self.inner {
            Inner::Gzip(d) => match d.read(buf) {
                // flate2 takes empty input as an empty stream; gzip does not.
                Ok(0) if self.produced == 0 && d.header().is_none() && !buf.is_empty() => {
                    return Err(self.corrupt());
                }
                Ok(n) => n,
                Err(_) => return Err(self.corrupt()),
            },
            Inner::Deflate {
                reader,
                state,
                done,
            } => inflate(reader, state, done, buf)
                .map_err(|_| io_error(Error::Corrupt { format }))?,
            Inner::Lz4(frame) => {
                read_frames(frame, buf).map_err(|_| io_error(Error::Corrupt { format }))?
            }
        };
        self.produced += n as u64;
        if self.produced > self.limit {
            return Err(io_error(Error::LimitExceeded {
                format,
                limit: usize::try_from(self.limit).unwrap_or(usize::MAX),
            }));
        }
        Ok(n)
    }
}

/// One read of a zlib or raw deflate stream; an error is corrupt or truncated input, or data
/// after the stream's end.
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
/// exactly its bytes, so a new decoder takes the next frame. An error is corrupt input or a
/// stream cut short.
fn read_frames<R: BufRead>(
    frame: &mut Option<lz4_flex::frame::FrameDecoder<Tail<R>>>,
    buf: &mut [u8],
) -> io::Result<usize> {
    let bad = || io::Error::from(io::ErrorKind::InvalidData);
    loop {
        let decoder = frame.as_mut().ok_or_else(bad)?;
        let n = decoder.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let mut tail = frame.take().ok_or_else(bad)?.into_inner();
        if !tail.ends_a_frame() {
            return Err(bad());
        }
        if tail.inner.fill_buf()?.is_empty() {
            *frame = Some(lz4_flex::frame::FrameDecoder::new(tail));
            return Ok(0);
        }
        *frame = Some(lz4_flex::frame::FrameDecoder::new(tail));
    }
}

/// A reader that remembers how much it read and its last eight bytes, to tell a complete LZ4
/// stream (ending with an end mark, maybe followed by a checksum) from a cut one.
struct Tail<R> {
    inner: R,
    total: u64,
    last: [u8; 8],
}

impl<R> Tail<R> {
    fn new(inner: R) -> Self {
        Tail {
            inner,
            total: 0,
            last: [0; 8],
        }
    }

    fn ends_a_frame(&self) -> bool {
        self.total >= 11 && (self.last[4..] == [0; 4] || self.last[..4] == [0; 4])
    }
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        if n >= 8 {
            self.last.copy_from_slice(&read[n - 8..]);
        } else {
            self.last.rotate_left(n);
            self.last[8 - n..].copy_from_slice(read);
        }
        self.total += n as u64;
        Ok(n)
    }
}
