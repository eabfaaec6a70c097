//! The streaming [`Encoder`] (`io::Write`).
//!
//! gzip, LZ4 and zstd streams are cut into requests of the codec's request size, each a gzip
//! member, LZ4 frame or zstd frame, which the standard tools read as one stream. Requests are a
//! pipeline: while up to `in_flight` workers compress, the caller's thread goes on reading
//! input into the next request and writes finished ones out in order; buffers are reused from
//! one request to the next. zlib and raw deflate have no members, so their streams go through
//! one stateful deflate (flate2) on the CPU, levels above 9 served as 9.

use std::io::{self, Read, Write};

use bytes::Bytes;

use super::decoder::io_error;
use super::{Codec, Error, Format};
use crate::executor::Pipeline;

/// A streaming compressor writing to `W`; [`Encoder::finish`] ends the stream and returns the
/// writer. Dropping it unfinished finishes it and ignores errors, as flate2's encoders do.
/// After an error the stream is incomplete: every later call fails, and nothing more is
/// written (not even on drop), so no data is ever written twice.
pub struct Encoder<W: Write> {
    codec: Codec,
    /// `None` after an error.
    sink: Option<Sink<W>>,
}

fn failed_earlier() -> io::Error {
    io::Error::other("the encoder failed earlier: its output is incomplete")
}

/// A request's input: a buffer of the encoder's, the first `len` bytes of it, or a part of
/// the caller's shared input, read in place.
enum Request {
    Buffer(Vec<u8>, usize),
    Shared(Bytes),
}

impl Request {
    fn data(&self) -> &[u8] {
        match self {
            Request::Buffer(buffer, len) => &buffer[..*len],
            Request::Shared(bytes) => bytes,
        }
    }
}

/// A request's input and output buffers, with its result, back from a worker.
struct Compressed {
    input: Request,
    output: Vec<u8>,
    result: Result<(), Error>,
}

enum Sink<W: Write> {
    /// gzip members, LZ4 or zstd frames, one per request.
    Requests(Box<Requests<W>>),
    Zlib(flate2::write::ZlibEncoder<W>),
    Raw(flate2::write::DeflateEncoder<W>),
}

struct Requests<W> {
    writer: W,
    /// The request being filled: its first `filled` bytes. Request buffers are a whole
    /// request long from their allocation on, so that input can be read straight into them.
    pending: Vec<u8>,
    filled: usize,
    pipeline: Pipeline<Compressed>,
    /// Buffers of finished requests, for the next ones: inputs' and outputs' apart, so that
    /// each keeps the size its use needs (no regrowing, no page faults).
    spare_inputs: Vec<Vec<u8>>,
    spare_outputs: Vec<Vec<u8>>,
    emitted: bool,
}

impl<W: Write> Requests<W> {
    /// The unfilled rest of the pending request, `size` bytes in all.
    fn room(&mut self, size: usize) -> &mut [u8] {
        if self.pending.len() != size {
            // Zeroed by the allocator (fresh pages), not by a pass over it.
            self.pending = vec![0; size];
        }
        &mut self.pending[self.filled..]
    }

    /// Takes `n` more bytes of the pending request, put in its room, and queues it when full.
    fn filled(&mut self, n: usize, codec: &Codec) -> io::Result<()> {
        self.filled += n;
        match self.filled == codec.request_size {
            true => self.submit(codec),
            false => Ok(()),
        }
    }

    /// Queues what is pending as a request, first writing the oldest out if the pipeline is
    /// full.
    fn submit(&mut self, codec: &Codec) -> io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let next = self.spare_inputs.pop().unwrap_or_default();
        let input = std::mem::replace(&mut self.pending, next);
        let len = std::mem::take(&mut self.filled);
        self.queue(Request::Buffer(input, len), codec)
    }

    /// Queues `input` as a request, first writing the oldest out if the pipeline is full.
    fn queue(&mut self, input: Request, codec: &Codec) -> io::Result<()> {
        if self.pipeline.is_full() {
            self.write_oldest()?;
        }
        let mut output = self.spare_outputs.pop().unwrap_or_default();
        let codec = codec.clone();
        self.pipeline.push(move || {
            let result = codec.compress_request(input.data(), &mut output);
            Compressed {
                input,
                output,
                result,
            }
        });
        self.emitted = true;
        Ok(())
    }

    /// Writes the oldest request's output; `false` when none was queued.
    fn write_oldest(&mut self) -> io::Result<bool> {
        let Some(done) = self.pipeline.pop() else {
            return Ok(false);
        };
        self.write_compressed(done).map(|()| true)
    }

    fn write_compressed(&mut self, done: Compressed) -> io::Result<()> {
        done.result.map_err(io_error)?;
        self.writer.write_all(&done.output)?;
        let Compressed {
            input, mut output, ..
        } = done;
        output.clear();
        if let Request::Buffer(input, _) = input {
            self.spare_inputs.push(input);
        }
        self.spare_outputs.push(output);
        Ok(())
    }

    /// Writes out the requests that are done, oldest first, without waiting.
    fn write_done(&mut self) -> io::Result<()> {
        while let Some(done) = self.pipeline.pop_done() {
            self.write_compressed(done)?;
        }
        Ok(())
    }

    /// Queues what is pending and writes every request out.
    fn drain(&mut self, codec: &Codec) -> io::Result<()> {
        self.submit(codec)?;
        while self.write_oldest()? {}
        Ok(())
    }
}

impl<W: Write> Encoder<W> {
    pub(super) fn new(codec: &Codec, writer: W) -> Self {
        // qatkit's level 0 is "fastest", zlib's is "stored".
        let level = flate2::Compression::new(codec.level.clamp(1, 9));
        let sink = match codec.format {
            Format::Zlib => Sink::Zlib(flate2::write::ZlibEncoder::new(writer, level)),
            Format::Raw => Sink::Raw(flate2::write::DeflateEncoder::new(writer, level)),
            _ => Sink::Requests(Box::new(Requests {
                writer,
                pending: Vec::new(),
                filled: 0,
                pipeline: Pipeline::new(codec.in_flight),
                spare_inputs: Vec::new(),
                spare_outputs: Vec::new(),
                emitted: false,
            })),
        };
        Encoder {
            codec: codec.clone(),
            sink: Some(sink),
        }
    }

    /// Passes `result` on; an error ends the encoder.
    fn guard<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.sink = None;
        }
        result
    }

    /// The writer, to take what was written so far; `None` after an error. Requests still
    /// being compressed are not in it yet ([`Write::flush`] waits for them). Writing to it
    /// directly would put bytes in the middle of the stream.
    pub fn get_mut(&mut self) -> Option<&mut W> {
        match self.sink.as_mut()? {
            Sink::Requests(requests) => Some(&mut requests.writer),
            Sink::Zlib(encoder) => Some(encoder.get_mut()),
            Sink::Raw(encoder) => Some(encoder.get_mut()),
        }
    }

    /// Compresses what `reader` gives, to its end, and returns how many bytes that was: what
    /// [`io::copy`] into the encoder does, but reading straight into the requests' buffers,
    /// with no copy through a buffer between (the reader's own buffering is not needed
    /// either). Interrupted reads are retried; any other error of `reader` is returned as it
    /// is, and leaves the encoder usable, with what was read before still in the stream.
    pub fn copy_from(&mut self, reader: &mut impl Read) -> io::Result<u64> {
        // zlib and raw deflate streams, and a failed encoder, take writes.
        if !matches!(self.sink, Some(Sink::Requests(_))) {
            return io::copy(reader, self);
        }
        let mut total = 0;
        loop {
            let codec = &self.codec;
            let Some(Sink::Requests(requests)) = self.sink.as_mut() else {
                unreachable!("an error returns at once");
            };
            let n = match reader.read(requests.room(codec.request_size)) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            total += n as u64;
            let queued = requests
                .filled(n, codec)
                .and_then(|()| requests.write_done());
            self.guard(queued)?;
        }
    }

    /// Compresses `data`, shared: its whole requests are compressed where they are, by the
    /// workers, with no copy (a mapped file's window is read straight from the page cache);
    /// only a request that `data` starts or ends in the middle of is copied, so the requests
    /// are cut as if `data` had been written. The workers keep clones of `data` until their
    /// requests are written out.
    pub fn write_bytes(&mut self, mut data: Bytes) -> io::Result<()> {
        if !matches!(self.sink, Some(Sink::Requests(_))) {
            return self.write_all(&data);
        }
        // The end of a request begun by earlier writes.
        if let Some(Sink::Requests(requests)) = &self.sink
            && requests.filled > 0
        {
            let n = data.len().min(self.codec.request_size - requests.filled);
            self.write_all(&data.split_to(n))?;
        }
        let size = self.codec.request_size;
        while data.len() >= size {
            let codec = &self.codec;
            let Some(Sink::Requests(requests)) = self.sink.as_mut() else {
                unreachable!("an error returns at once");
            };
            let queued = requests
                .queue(Request::Shared(data.split_to(size)), codec)
                .and_then(|()| requests.write_done());
            self.guard(queued)?;
        }
        self.write_all(&data)
    }

    /// Ends the stream and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_stream()
    }

    fn finish_stream(&mut self) -> io::Result<W> {
        let codec = &self.codec;
        let drained = match self.sink.as_mut().ok_or_else(failed_earlier)? {
            Sink::Requests(requests) => requests.drain(codec),
            _ => Ok(()),
        };
        self.guard(drained)?;
        match self.sink.take().ok_or_else(failed_earlier)? {
            Sink::Requests(mut requests) => {
                if !requests.emitted {
                    // An empty stream is still one (empty) member or frame.
                    let empty = self.codec.compress(&[]).map_err(io_error)?;
                    requests.writer.write_all(&empty)?;
                }
                requests.writer.flush()?;
                Ok(requests.writer)
            }
            Sink::Zlib(e) => e.finish(),
            Sink::Raw(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let codec = &self.codec;
        let result = match self.sink.as_mut().ok_or_else(failed_earlier)? {
            Sink::Requests(requests) => {
                let room = requests.room(codec.request_size);
                let take = buf.len().min(room.len());
                room[..take].copy_from_slice(&buf[..take]);
                // What is done goes out before the caller's next write, which may be long in
                // coming (input from a pipe).
                requests
                    .filled(take, codec)
                    .and_then(|()| requests.write_done())
                    .map(|()| take)
            }
            Sink::Zlib(e) => e.write(buf),
            Sink::Raw(e) => e.write(buf),
        };
        self.guard(result)
    }

    /// Compresses what is pending (a shorter request, for gzip, LZ4 and zstd), waits for every
    /// request in flight, and flushes the writer.
    fn flush(&mut self) -> io::Result<()> {
        let codec = &self.codec;
        let result = match self.sink.as_mut().ok_or_else(failed_earlier)? {
            Sink::Requests(requests) => {
                requests.drain(codec).and_then(|()| requests.writer.flush())
            }
            Sink::Zlib(e) => e.flush(),
            Sink::Raw(e) => e.flush(),
        };
        self.guard(result)
    }
}

impl<W: Write> Drop for Encoder<W> {
    fn drop(&mut self) {
        if self.sink.is_some() {
            let _ = self.finish_stream();
        }
    }
}
