//! The streaming [`Decoder`] (`io::Read`), in bounded memory whatever the input's size.
//!
//! Units whose size is known before decompressing them — gzip members whose header records
//! their length (qatkit's, QATzip's, BGZF's), LZ4 and zstd frames, whose blocks say where they
//! end — are read whole and decompressed by the codec's backend on its workers, up to
//! `in_flight` at once, each into an output of the right size, and handed out in order. The
//! rest (gzip members nobody recorded, units over [`MAX_UNIT`](super::units::MAX_UNIT), zlib and
//! raw deflate streams) are decompressed as streams on the reading thread: ISA-L's or zlib-rs's
//! inflate, lz4_flex's frame decoder, libzstd's streaming decoder.

use std::io::{self, BufRead, Read};

use bytes::{Buf as _, Bytes};

use super::inflate_stream::{Body, StreamInflater};
use super::lz4::FrameCheck;
use super::units::{self, Next};
use super::{Codec, Error, Format, ServedBy, zstd};
use crate::executor::Pipeline;

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

/// Output a streamed unit gives at a time.
const CHUNK: usize = 256 << 10;
/// Input read from the reader at a time.
const READ_STEP: usize = 256 << 10;

/// A streaming decompressor reading from `R`, failing with [`Error::LimitExceeded`] (as an
/// `io::Error` of kind `InvalidData`) past the codec's output limit, with [`Error::Corrupt`]
/// on corrupt or truncated input and [`Error::Unsupported`] on features qatkit does not read.
/// Errors of `R` itself come through as they are. After an error every read fails.
///
/// Output follows input as it arrives with one request in flight; with more, a unit whose
/// worker finishes while the decoder waits for input (from a pipe, say) comes out when more
/// input arrives or the input ends.
pub struct Decoder<R: BufRead> {
    codec: Codec,
    /// `None` after an error.
    state: Option<State<R>>,
    pipeline: Pipeline<Decompressed>,
    /// Buffers of finished units, for the next ones: compressed units' and outputs' apart, so
    /// that each keeps the capacity its use needs (no regrowing, no page faults).
    spare_units: Vec<Vec<u8>>,
    spare_outputs: Vec<Vec<u8>>,
    /// The output being handed out, from `at`.
    ready: Vec<u8>,
    at: usize,
    produced: u64,
    /// Before the first unit.
    first: bool,
    /// The output was cut at the limit: the next read fails.
    over_limit: bool,
}

enum State<R: Read> {
    /// Between units.
    Units(Input<R>),
    /// A gzip member, zlib or raw deflate stream being inflated, with what is left of a
    /// member's recorded length.
    Inflate(Input<R>, Box<StreamInflater>, Option<usize>),
    Lz4(Box<lz4_flex::frame::FrameDecoder<Input<R>>>),
    /// zstd frames from here to the end.
    Zstd(Box<zstd::FrameReader<Input<R>>>),
}

/// What one step of the decoder gave, besides its next state.
enum Gave {
    /// Nothing yet: step again.
    Nothing,
    /// The next piece of output.
    Chunk(Vec<u8>),
    /// The end of the data.
    End,
}

type Step<R> = Result<(State<R>, Gave), io::Error>;

/// A unit's input: a buffer of the decoder's, or a part of the shared input, read in place.
enum Unit {
    Buffer(Vec<u8>),
    Shared(Bytes),
}

impl Unit {
    fn data(&self) -> &[u8] {
        match self {
            Unit::Buffer(buffer) => buffer,
            Unit::Shared(bytes) => bytes,
        }
    }
}

/// A unit's input and its output, back from a worker.
struct Decompressed {
    input: Unit,
    output: Result<Vec<u8>, Error>,
}

/// Windows of shared input, in order: a mapped file's, say.
type Windows = Box<dyn Iterator<Item = io::Result<Bytes>> + Send>;

impl Decoder<io::Empty> {
    pub(super) fn over_windows(codec: &Codec, windows: Windows) -> Self {
        let mut decoder = Self::with_codec(codec, io::empty());
        if let Some(State::Units(input)) = &mut decoder.state {
            input.windows = Some(windows);
        }
        decoder
    }
}

impl<R: BufRead> Decoder<R> {
    /// A decoder of `format` reading from `reader`, failing past `limit` bytes of output, on
    /// the calling thread: what [`Codec::decoder`] makes for a codec with one request in
    /// flight and backend `auto`.
    pub fn new(format: Format, limit: usize, reader: R) -> Self {
        let codec = Codec::new(format, *format.levels().start())
            .expect("every format has its lowest level")
            .with_limit(limit);
        Self::with_codec(&codec, reader)
    }

    pub(super) fn with_codec(codec: &Codec, reader: R) -> Self {
        Decoder {
            codec: codec.clone(),
            state: Some(State::Units(Input::new(reader))),
            pipeline: Pipeline::new(codec.in_flight),
            spare_units: Vec::new(),
            spare_outputs: Vec::new(),
            ready: Vec::new(),
            at: 0,
            produced: 0,
            first: true,
            over_limit: false,
        }
    }

    fn format(&self) -> Format {
        self.codec.format
    }

    fn buffer(&mut self) -> Vec<u8> {
        let mut buffer = self.spare_outputs.pop().unwrap_or_default();
        buffer.clear();
        buffer
    }

    /// The next piece of output, in order; `None` at the end of the data.
    fn advance(&mut self) -> Result<Option<Vec<u8>>, io::Error> {
        loop {
            let state = self.state.take().ok_or_else(failed_earlier)?;
            let (state, gave) = match state {
                State::Units(input) => self.next_unit(input)?,
                State::Inflate(input, inflater, left) => self.inflate(input, inflater, left)?,
                State::Lz4(mut decoder) => {
                    let mut out = self.buffer();
                    if let Err(e) = read_chunk(&mut *decoder, &mut out) {
                        return Err(self.failure(e, decoder.get_mut().error.take()));
                    }
                    if !out.is_empty() {
                        (State::Lz4(decoder), Gave::Chunk(out))
                    } else {
                        // lz4_flex takes a frame cut at a block boundary as complete: the
                        // frame's walk says whether it was.
                        let mut input = decoder.into_inner();
                        if !input.frame.take().is_some_and(|check| check.complete()) {
                            return Err(io_error(Error::Corrupt {
                                format: Format::Lz4,
                            }));
                        }
                        (State::Units(input), Gave::Nothing)
                    }
                }
                State::Zstd(mut decoder) => {
                    let mut out = self.buffer();
                    if let Err(e) = read_chunk(&mut *decoder, &mut out) {
                        return Err(self.failure(e, decoder.get_mut().error.take()));
                    }
                    match out.is_empty() {
                        true => (State::Units(decoder.into_inner()), Gave::Nothing),
                        false => (State::Zstd(decoder), Gave::Chunk(out)),
                    }
                }
            };
            self.state = Some(state);
            match gave {
                Gave::Nothing => {}
                Gave::Chunk(out) => return Ok(Some(out)),
                Gave::End => return Ok(None),
            }
        }
    }

    /// The oldest queued unit's output (there is one).
    fn oldest(&mut self) -> Result<Gave, io::Error> {
        let done = self.pipeline.pop().expect("a unit is queued");
        self.unpack(done)
    }

    fn unpack(&mut self, done: Decompressed) -> Result<Gave, io::Error> {
        if let Unit::Buffer(mut input) = done.input {
            input.clear();
            self.spare_units.push(input);
        }
        match done.output {
            Ok(output) => Ok(Gave::Chunk(output)),
            // A unit decompressing to more than its header said is corrupt, not over a limit.
            Err(Error::LimitExceeded { format, .. }) => Err(io_error(Error::Corrupt { format })),
            Err(e) => Err(io_error(e)),
        }
    }

    /// Looks at what comes next between units: queues a whole unit, passes over bytes, starts
    /// a stream, or hands out a queued unit's output when it must come first.
    fn next_unit(&mut self, mut input: Input<R>) -> Step<R> {
        let format = self.format();
        if self.pipeline.is_full() {
            return Ok((State::Units(input), self.oldest()?));
        }
        let next = match units::next(format, input.pending(), input.eof, self.first) {
            // The units before the bad one come out first; the error comes again after them.
            Err(_) if !self.pipeline.is_empty() => {
                return Ok((State::Units(input), self.oldest()?));
            }
            next => next.map_err(io_error)?,
        };
        match next {
            Next::More => {
                // What is ready goes out before a read that may wait (or fail).
                if let Some(done) = self.pipeline.pop_done() {
                    return Ok((State::Units(input), self.unpack(done)?));
                }
                if let Err(e) = input.read_more() {
                    if self.pipeline.is_empty() {
                        return Err(e);
                    }
                    // The reader failed: what was read before comes out first.
                    return Ok((State::Units(input), self.oldest()?));
                }
                Ok((State::Units(input), Gave::Nothing))
            }
            Next::Unit { len, out_len } => {
                let unit = match input.take_shared(len) {
                    Some(bytes) => Unit::Shared(bytes),
                    None => {
                        let mut unit = self.spare_units.pop().unwrap_or_default();
                        unit.clear();
                        unit.extend_from_slice(&input.pending()[..len]);
                        input.consume(len);
                        Unit::Buffer(unit)
                    }
                };
                let mut output = self.buffer();
                let codec = self.codec.clone();
                self.pipeline.push(move || {
                    // A byte of room past the size the unit records: QATzip asks for more room
                    // when its output fills the space exactly.
                    let result = codec.decompress_request(unit.data(), out_len + 1, &mut output);
                    Decompressed {
                        input: unit,
                        output: result.map(|()| output),
                    }
                });
                self.first = false;
                Ok((State::Units(input), Gave::Nothing))
            }
            Next::Skip { len } => {
                if !input.skip(len)? {
                    return Err(io_error(Error::Corrupt { format }));
                }
                // A skippable frame alone is a valid (empty) stream.
                self.first = false;
                Ok((State::Units(input), Gave::Nothing))
            }
            // Queued units come out before the stream's output.
            Next::Stream { .. } | Next::End if !self.pipeline.is_empty() => {
                Ok((State::Units(input), self.oldest()?))
            }
            Next::End => Ok((State::Units(input), Gave::End)),
            Next::Stream { header, body } => {
                input.consume(header);
                self.first = false;
                self.codec.count(ServedBy::Cpu, input.pending().len());
                let state = match format {
                    Format::Lz4 => {
                        let mut input = input;
                        input.frame = Some(FrameCheck::new());
                        State::Lz4(Box::new(lz4_flex::frame::FrameDecoder::new(input)))
                    }
                    Format::Zstd => State::Zstd(Box::new(zstd::FrameReader::new(input))),
                    _ => {
                        let kind = match format {
                            Format::Gzip => Body::Gzip,
                            Format::Zlib => Body::Zlib,
                            _ => Body::Raw,
                        };
                        let inflater = StreamInflater::new(kind).map_err(io_error)?;
                        State::Inflate(input, Box::new(inflater), body)
                    }
                };
                Ok((state, Gave::Nothing))
            }
        }
    }

    /// Inflates the next chunk of a streamed gzip member or zlib/raw stream. A member whose
    /// header records its length is given no input past it, and must end exactly there: a
    /// length that disagrees with the member is corrupt, as the one-shot path finds it.
    fn inflate(
        &mut self,
        mut input: Input<R>,
        mut inflater: Box<StreamInflater>,
        mut left: Option<usize>,
    ) -> Step<R> {
        let format = self.format();
        let mut out = self.buffer();
        out.reserve(CHUNK);
        loop {
            if input.pending().is_empty() {
                // What is inflated goes out before a read that may wait (or fail).
                if !out.is_empty() {
                    return Ok((State::Inflate(input, inflater, left), Gave::Chunk(out)));
                }
                input.fill(1)?;
            }
            let room = CHUNK - out.len();
            let pending = input.pending();
            let given = &pending[..pending.len().min(left.unwrap_or(usize::MAX))];
            let progress = inflater.step(given, &mut out, room).map_err(io_error)?;
            input.consume(progress.consumed);
            left = left.map(|left| left - progress.consumed);
            let ended_early = progress.done && left.is_some_and(|left| left > 0);
            let ran_over = !progress.done && left == Some(0) && progress.produced == 0;
            if ended_early || ran_over {
                return Err(io_error(Error::Corrupt { format }));
            }
            if progress.done {
                let state = State::Units(input);
                let gave = match out.is_empty() {
                    true => Gave::Nothing,
                    false => Gave::Chunk(out),
                };
                return Ok((state, gave));
            }
            if out.len() == CHUNK {
                return Ok((State::Inflate(input, inflater, left), Gave::Chunk(out)));
            }
            if progress.consumed == 0 && progress.produced == 0 && input.eof {
                return Err(io_error(Error::Corrupt { format }));
            }
        }
    }

    /// The error to give for a failed read of a frame decoder: the reader's own error if it
    /// failed (`kept`), else corrupt input.
    fn failure(&self, e: io::Error, kept: Option<io::Error>) -> io::Error {
        let format = self.format();
        kept.unwrap_or_else(
            || match e.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
                Some(_) => e,
                None => io_error(Error::Corrupt { format }),
            },
        )
    }
}

fn failed_earlier() -> io::Error {
    io::Error::other("the decoder failed earlier")
}

/// Reads what one read of `decoder` gives, up to [`CHUNK`] bytes, into `out`; leaves it empty
/// at the end. One read, not as many as fill the chunk: what is decoded goes out before a read
/// that may wait for input (a pipe).
fn read_chunk(decoder: &mut impl Read, out: &mut Vec<u8>) -> io::Result<()> {
    out.resize(CHUNK, 0);
    let read = loop {
        match decoder.read(out) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            read => break read,
        }
    };
    match read {
        Ok(n) => {
            out.truncate(n);
            Ok(())
        }
        Err(e) => {
            out.clear();
            Err(e)
        }
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let ready = self.fill_buf()?;
        let n = buf.len().min(ready.len());
        buf[..n].copy_from_slice(&ready[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// The decoder's output comes in its own buffers (a unit, or a piece of a stream, at a time):
/// reading through `fill_buf` and `consume` takes it without a copy.
impl<R: BufRead> BufRead for Decoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at == self.ready.len() {
            if self.over_limit {
                return Err(io_error(Error::LimitExceeded {
                    format: self.format(),
                    limit: self.codec.limit,
                }));
            }
            let next = match self.advance() {
                Ok(next) => next,
                Err(e) => {
                    self.state = None;
                    return Err(e);
                }
            };
            let Some(mut chunk) = next else {
                return Ok(&[]);
            };
            let room = (self.codec.limit as u64).saturating_sub(self.produced);
            if chunk.len() as u64 > room {
                chunk.truncate(room as usize);
                self.over_limit = true;
            }
            self.produced += chunk.len() as u64;
            let used = std::mem::replace(&mut self.ready, chunk);
            self.spare_outputs.push(used);
            self.at = 0;
        }
        Ok(&self.ready[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at = (self.at + n).min(self.ready.len());
    }
}

/// The decoder's input: its own buffer in front of the reader, so whole units can be looked
/// at before they are taken, and frame decoders can read through it.
struct Input<R> {
    reader: R,
    /// Shared windows to read instead of `reader`: what follows `buf[start..end]` is `shared`
    /// (the rest of the window being read), then these.
    windows: Option<Windows>,
    shared: Bytes,
    /// From `buf[at..]` on, `buf` is a copy of the start of `window`: once consumed past
    /// `at`, the input is read in place again.
    copied: Option<(usize, Bytes)>,
    buf: Vec<u8>,
    /// `buf[start..end]` is read and not yet consumed. When it is empty, what is pending is
    /// `shared`, in place: with windows, `buf` holds only a unit that spans two of them.
    start: usize,
    end: usize,
    eof: bool,
    /// The reader's own error, kept so that a frame decoder's report of it is not taken for
    /// corrupt data.
    error: Option<io::Error>,
    /// While an LZ4 frame is streamed: the walk of what it consumed.
    frame: Option<FrameCheck>,
}

impl<R: Read> Input<R> {
    fn new(reader: R) -> Self {
        Input {
            reader,
            windows: None,
            shared: Bytes::new(),
            copied: None,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            error: None,
            frame: None,
        }
    }

    fn pending(&self) -> &[u8] {
        match self.start < self.end {
            true => &self.buf[self.start..self.end],
            false => &self.shared,
        }
    }

    fn consume(&mut self, n: usize) {
        if let Some(mut check) = self.frame.take() {
            check.feed(&self.pending()[..n]);
            self.frame = Some(check);
        }
        if self.start == self.end {
            self.shared.advance(n);
            return;
        }
        self.start += n;
        debug_assert!(self.start <= self.end);
        if let Some((at, window)) = &self.copied
            && self.start >= *at
        {
            // Past the unit that spanned two windows: back in place.
            self.shared = window.slice(self.start - at..);
            self.start = self.end;
            self.copied = None;
        }
    }

    /// The next `len` pending bytes, consumed, when they are shared: no copy.
    fn take_shared(&mut self, len: usize) -> Option<Bytes> {
        if self.start < self.end || self.frame.is_some() {
            return None;
        }
        Some(self.shared.split_to(len))
    }

    /// Reads until `want` bytes are pending or the reader ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while self.pending().len() < want && !self.eof {
            self.read_more()?;
        }
        Ok(())
    }

    /// Reads once (a byte or more, unless the reader ended): what is there, without waiting
    /// for more than one read gives, as input from a pipe may be slow to come.
    fn read_more(&mut self) -> io::Result<()> {
        if self.windows.is_some() {
            return self.more_of_windows();
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.buf.len() - self.end < READ_STEP {
            // Move what is pending to the front when that frees at least as much as it copies
            // (copies stay linear in the input), and grow to make room for one more read.
            if self.start >= self.end - self.start {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            if self.buf.len() - self.end < READ_STEP {
                self.buf.resize(self.end + READ_STEP, 0);
            }
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    self.error = Some(e);
                    return Err(copy);
                }
            }
            return Ok(());
        }
    }

    /// [`Input::read_more`] for shared windows: what is pending in place (the end of a window)
    /// goes to `buf`, followed by a read's worth of what comes next; once `buf` is consumed,
    /// the rest is read in place again.
    fn more_of_windows(&mut self) -> io::Result<()> {
        if self.start == self.end {
            if self.shared.is_empty() {
                // Nothing pending: the next window, in place.
                if let Some(window) = self.next_window()? {
                    self.shared = window;
                }
                return Ok(());
            }
            // The end of a window is not a whole unit: it goes to `buf`, where the start of
            // the next window joins it.
            self.buf.clear();
            self.buf.extend_from_slice(&self.shared);
            (self.start, self.end) = (0, self.buf.len());
            self.shared.clear();
        }
        if self.shared.is_empty() {
            let Some(window) = self.next_window()? else {
                return Ok(());
            };
            self.copied = Some((self.end, window.clone()));
            self.shared = window;
        }
        let n = self.shared.len().min(READ_STEP);
        self.buf.extend_from_slice(&self.shared[..n]);
        self.shared.advance(n);
        self.end += n;
        Ok(())
    }

    /// The next window; `None`, and the end of the input, when there is none.
    fn next_window(&mut self) -> io::Result<Option<Bytes>> {
        match self.windows.as_mut().and_then(Iterator::next) {
            Some(Ok(window)) => Ok(Some(window)),
            Some(Err(e)) => {
                // Every later read fails the same way, as a reader's would.
                let (kind, message) = (e.kind(), e.to_string());
                let again = move || Some(Err(io::Error::new(kind, message.clone())));
                self.windows = Some(Box::new(std::iter::from_fn(again)));
                let copy = io::Error::new(e.kind(), e.to_string());
                self.error = Some(e);
                Err(copy)
            }
            None => {
                self.eof = true;
                Ok(None)
            }
        }
    }

    /// Passes over `n` bytes; `false` if the input ended first.
    fn skip(&mut self, mut n: usize) -> io::Result<bool> {
        loop {
            let here = n.min(self.pending().len());
            self.consume(here);
            n -= here;
            if n == 0 {
                return Ok(true);
            }
            self.fill(n.min(READ_STEP))?;
            if self.pending().is_empty() {
                return Ok(false);
            }
        }
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pending = self.fill_buf()?;
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pending().is_empty() {
            self.fill(1)?;
        }
        Ok(self.pending())
    }

    fn consume(&mut self, n: usize) {
        Input::consume(self, n)
    }
}
