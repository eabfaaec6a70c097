//! Streaming, driven by the caller's buffers as zlib's `z_stream` is: each call takes what input
//! it can hold and gives what output fits, so a C program can pipe data of any size in bounded
//! memory.
//!
//! Both run with the codec's settings, in_flight included: with more than one request in
//! flight, qat-crypto's pipelines compress and decompress whole units (gzip members, LZ4 and
//! zstd frames) on the worker pool while the stream goes on.
//!
//! The encoder drives qat-crypto's `Encoder` from the caller's thread, in the calls. The decoder
//! runs qat-crypto's `Decoder` — a reader-driven state machine — on a thread of its own that
//! asks for input when it needs it: the caller's thread and the decoder's take turns, never both
//! running (the pool's workers run on their own).

use std::io::{self, BufRead, Read, Write as _};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use qat_crypto::compress::{Decoder, Encoder};

use crate::compress::qatkit_codec;
use crate::ffi::{
    Failure, QATKIT_CORRUPT_DATA, QATKIT_IO, arg, arg_mut, boundary, bytes, bytes_mut, free_handle,
    out, put, put_handle, qatkit_result, result_of,
};

/// Output the encoder may hold back before it takes more input.
const MAX_PENDING_OUTPUT: usize = 1 << 20;
/// Input handed to the encoder at a time.
const INPUT_STEP: usize = 64 << 10;
/// Output the decoder's thread produces at a time.
const OUTPUT_STEP: usize = 64 << 10;

/// A streaming compressor. Not thread-safe: one thread at a time.
pub struct qatkit_encoder {
    /// `None` once finished.
    encoder: Option<Encoder<Vec<u8>>>,
    /// Output written by the encoder; `output[sent..]` is not yet given to the caller.
    output: Vec<u8>,
    sent: usize,
}

impl qatkit_encoder {
    fn unsent(&self) -> usize {
        self.output.len() - self.sent
    }

    /// Moves what the encoder wrote into `output`, then gives as much as fits to `out`.
    fn drain(&mut self, out: &mut [u8], written: &mut usize) {
        if let Some(buffer) = self.encoder.as_mut().and_then(Encoder::get_mut) {
            self.output.append(buffer);
        }
        let n = self.unsent().min(out.len() - *written);
        out[*written..*written + n].copy_from_slice(&self.output[self.sent..self.sent + n]);
        *written += n;
        self.sent += n;
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
        }
    }
}

fn stream_failure(error: io::Error) -> Failure {
    let result = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<qat_crypto::Error>())
        .map_or(
            if error.kind() == io::ErrorKind::InvalidData {
                QATKIT_CORRUPT_DATA
            } else {
                QATKIT_IO
            },
            |e| result_of(e.kind()),
        );
    Failure::new(result, error.to_string())
}

/// Makes a streaming compressor with `codec`'s settings, which it keeps: the codec may change
/// or be freed while the encoder lives. gzip, LZ4 and zstd streams are cut into 1 MiB members or
/// frames (at the same places whatever in_flight is), compressed through the backend; with
/// in_flight n > 1 up to n at once on the worker threads while the caller writes more, with 1
/// on the caller's thread within `qatkit_encoder_write`. zlib and raw deflate streams are one
/// deflate stream, compressed on the CPU on the caller's thread whatever the settings. Free it
/// with `qatkit_encoder_free`.
///
/// # Safety
/// `codec` is NULL or a live handle; `encoder_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_encoder_new(
    codec: *const qatkit_codec,
    encoder_out: *mut *mut qatkit_encoder,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let codec = unsafe { arg(codec, "codec")? };
        let encoder_out = out(encoder_out, "encoder_out")?;
        let encoder = qatkit_encoder {
            encoder: Some(codec.codec.encoder(Vec::new())),
            output: Vec::new(),
            sent: 0,
        };
        // SAFETY: checked by `out`.
        unsafe { put_handle(encoder_out, encoder) };
        Ok(())
    })
}

/// Frees an encoder (NULL is fine). An encoder freed before `qatkit_encoder_finish` said done
/// leaves its stream incomplete.
///
/// # Safety
/// `encoder` is NULL or a handle from `qatkit_encoder_new` not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_encoder_free(encoder: *mut qatkit_encoder) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(encoder) }
}

/// Compresses: takes as much of `input` as the encoder can hold (its count goes to
/// `input_used_out`) and writes as much compressed output as fits in `output` (its count to
/// `output_len_out`). Call again with the rest of the input, and with more room when the output
/// was full; then `qatkit_encoder_finish`. Input after the finish is `QATKIT_INVALID_INPUT`.
///
/// # Safety
/// `encoder` is NULL or a live handle; the buffers are as for `qatkit_compress`; the two
/// out-parameters are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_encoder_write(
    encoder: *mut qatkit_encoder,
    input: *const u8,
    input_len: usize,
    output: *mut u8,
    output_cap: usize,
    input_used_out: *mut usize,
    output_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above, for each argument.
        let (encoder, input, output) = unsafe {
            (
                arg_mut(encoder, "encoder")?,
                bytes(input, input_len, "input")?,
                bytes_mut(output, output_cap, "output")?,
            )
        };
        let used_out = out(input_used_out, "input_used_out")?;
        let len_out = out(output_len_out, "output_len_out")?;
        let (mut used, mut written) = (0, 0);
        encoder.drain(output, &mut written);
        while used < input.len() && encoder.unsent() < MAX_PENDING_OUTPUT {
            let step = &input[used..input.len().min(used + INPUT_STEP)];
            let result = encoder.encoder.as_mut().map(|e| e.write_all(step));
            match result {
                Some(written) => written.map_err(stream_failure)?,
                None => return Err(Failure::invalid("the encoder was finished: no more input")),
            }
            used += step.len();
            encoder.drain(output, &mut written);
        }
        // SAFETY: both checked by `out`.
        unsafe {
            put(used_out, used);
            put(len_out, written);
        }
        Ok(())
    })
}

/// Ends the stream: writes the rest of the compressed output, as much as fits in `output` (its
/// count to `output_len_out`); `done_out` says whether all of it is out. Call until done.
///
/// # Safety
/// `encoder` is NULL or a live handle; `output` holds `output_cap` writable bytes (NULL when
/// 0); the out-parameters are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_encoder_finish(
    encoder: *mut qatkit_encoder,
    output: *mut u8,
    output_cap: usize,
    output_len_out: *mut usize,
    done_out: *mut bool,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above, for each argument.
        let (encoder, output) = unsafe {
            (
                arg_mut(encoder, "encoder")?,
                bytes_mut(output, output_cap, "output")?,
            )
        };
        let len_out = out(output_len_out, "output_len_out")?;
        let done_out = out(done_out, "done_out")?;
        let mut written = 0;
        encoder.drain(output, &mut written);
        let finished = encoder.encoder.take().map(Encoder::finish);
        if let Some(result) = finished {
            let mut rest = result.map_err(stream_failure)?;
            encoder.output.append(&mut rest);
            encoder.drain(output, &mut written);
        }
        let done = encoder.unsent() == 0;
        // SAFETY: both checked by `out`.
        unsafe {
            put(len_out, written);
            put(done_out, done);
        }
        Ok(())
    })
}

/// What the caller's thread hands the decoder's.
enum ToWorker {
    Input(Vec<u8>),
    End,
}

/// What the decoder's thread answers.
enum FromWorker {
    NeedInput,
    Output(Vec<u8>),
    Done,
    Failed(io::Error),
}

/// The decoder thread's reader: input arrives when it asks for it.
struct Feed {
    to_caller: SyncSender<FromWorker>,
    from_caller: Receiver<ToWorker>,
    chunk: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Feed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.chunk.len() && !self.ended {
            // A caller that went away ends the input.
            let asked = self.to_caller.send(FromWorker::NeedInput).is_ok();
            match self.from_caller.recv() {
                Ok(ToWorker::Input(chunk)) if asked => (self.chunk, self.pos) = (chunk, 0),
                _ => self.ended = true,
            }
        }
        Ok(&self.chunk[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.chunk.len());
    }
}

fn decode(mut decoder: Decoder<Feed>, to_caller: SyncSender<FromWorker>) {
    let mut buffer = vec![0; OUTPUT_STEP];
    loop {
        let event = match decoder.read(&mut buffer) {
            Ok(0) => FromWorker::Done,
            Ok(n) => FromWorker::Output(buffer[..n].to_vec()),
            Err(e) => FromWorker::Failed(e),
        };
        let last = !matches!(event, FromWorker::Output(_));
        if to_caller.send(event).is_err() || last {
            return;
        }
    }
}

/// Where the decoder's thread is.
enum State {
    /// Working: it will answer.
    Running,
    /// Waiting for input.
    NeedInput,
    /// The stream ended.
    Done,
    /// It failed; reported once the output before the failure is out.
    Failed(Option<Failure>),
}

/// A streaming decompressor. Not thread-safe: one thread at a time.
pub struct qatkit_decoder {
    to_worker: Option<SyncSender<ToWorker>>,
    from_worker: Option<Receiver<FromWorker>>,
    worker: Option<JoinHandle<()>>,
    state: State,
    end_sent: bool,
    /// Output the caller's buffer had no room for.
    pending: Vec<u8>,
    pending_pos: usize,
}

impl Drop for qatkit_decoder {
    fn drop(&mut self) {
        // Closing both channels ends the thread wherever it waits.
        self.to_worker.take();
        self.from_worker.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl qatkit_decoder {
    fn give(&mut self, out: &mut [u8], written: &mut usize) {
        let n = (self.pending.len() - self.pending_pos).min(out.len() - *written);
        out[*written..*written + n]
            .copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + n]);
        *written += n;
        self.pending_pos += n;
    }

    fn has_pending(&self) -> bool {
        self.pending_pos < self.pending.len()
    }

    fn send(&mut self, message: ToWorker) {
        if let Some(to) = &self.to_worker {
            if to.send(message).is_ok() {
                self.state = State::Running;
                return;
            }
        }
        self.state = State::Failed(Some(Failure::new(
            crate::ffi::QATKIT_PANIC,
            "the decoder's thread stopped",
        )));
    }

    /// Takes the thread's next answer: waiting for it when `wait`, else only if one is ready.
    fn answer(&mut self, wait: bool) -> bool {
        let Some(from) = &self.from_worker else {
            return false;
        };
        let event = if wait {
            from.recv().ok()
        } else {
            match from.try_recv() {
                Ok(event) => Some(event),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => None,
            }
        };
        self.state = match event {
            Some(FromWorker::NeedInput) => State::NeedInput,
            Some(FromWorker::Output(data)) => {
                (self.pending, self.pending_pos) = (data, 0);
                State::Running
            }
            Some(FromWorker::Done) => State::Done,
            Some(FromWorker::Failed(e)) => State::Failed(Some(stream_failure(e))),
            None => State::Failed(Some(Failure::new(
                crate::ffi::QATKIT_PANIC,
                "the decoder's thread stopped",
            ))),
        };
        true
    }
}

/// Makes a streaming decompressor with `codec`'s settings (format, output limit, backend, in
/// flight), which it keeps: the codec may change or be freed while the decoder lives. Units
/// whose size is known before decompressing them (gzip members that record their length, as
/// qatkit's and QATzip's do; LZ4 and zstd frames up to 8 MiB) go through the backend, up to
/// in_flight at once on the worker threads (with 1, on the decoder's thread); the rest is
/// streamed on the CPU. The decoder has a thread of its own, started here; free the decoder
/// (which ends its thread) with `qatkit_decoder_free`.
///
/// # Safety
/// `codec` is NULL or a live handle; `decoder_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_decoder_new(
    codec: *const qatkit_codec,
    decoder_out: *mut *mut qatkit_decoder,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let codec = unsafe { arg(codec, "codec")? };
        let decoder_out = out(decoder_out, "decoder_out")?;
        let (to_worker, from_caller) = sync_channel(0);
        let (to_caller, from_worker) = sync_channel(0);
        let feed = Feed {
            to_caller: to_caller.clone(),
            from_caller,
            chunk: Vec::new(),
            pos: 0,
            ended: false,
        };
        // The thread takes a clone of the codec (its settings as they are now) and makes the
        // decoder there.
        let codec = codec.codec.clone();
        let worker = std::thread::Builder::new()
            .name("qatkit-decoder".into())
            .spawn(move || decode(codec.decoder(feed), to_caller))
            .map_err(|e| Failure::new(QATKIT_IO, format!("cannot start a thread: {e}")))?;
        let decoder = qatkit_decoder {
            to_worker: Some(to_worker),
            from_worker: Some(from_worker),
            worker: Some(worker),
            state: State::Running,
            end_sent: false,
            pending: Vec::new(),
            pending_pos: 0,
        };
        // SAFETY: checked by `out`.
        unsafe { put_handle(decoder_out, decoder) };
        Ok(())
    })
}

/// Frees a decoder (NULL is fine).
///
/// # Safety
/// `decoder` is NULL or a handle from `qatkit_decoder_new` not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_decoder_free(decoder: *mut qatkit_decoder) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(decoder) }
}

/// Decompresses: takes `input` (its count to `input_used_out`: all of it, unless the output
/// was full first) and writes as much decompressed output as fits in `output` (its count to
/// `output_len_out`). Pass `end_of_input` true once the input has no more after this; the
/// stream is done (`done_out`) when the data has ended and all output is out. Corrupt or
/// truncated input is `QATKIT_CORRUPT_DATA`, output past the codec's limit
/// `QATKIT_LIMIT_EXCEEDED`, data that needs something qatkit does not read (an LZ4 legacy
/// frame, a dictionary) `QATKIT_UNSUPPORTED` — reported after the output before it. With in_flight
/// over 1, the output of a unit still being decompressed when the decoder asks for more input
/// comes out in a later call, one that gives input or `end_of_input`.
///
/// # Safety
/// `decoder` is NULL or a live handle; the buffers are as for `qatkit_decompress`; the
/// out-parameters are NULL or writable.
#[allow(clippy::too_many_arguments)] // z_stream's in, out and state, spelled out for C
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_decoder_read(
    decoder: *mut qatkit_decoder,
    input: *const u8,
    input_len: usize,
    end_of_input: bool,
    output: *mut u8,
    output_cap: usize,
    input_used_out: *mut usize,
    output_len_out: *mut usize,
    done_out: *mut bool,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above, for each argument.
        let (decoder, input, output) = unsafe {
            (
                arg_mut(decoder, "decoder")?,
                bytes(input, input_len, "input")?,
                bytes_mut(output, output_cap, "output")?,
            )
        };
        let used_out = out(input_used_out, "input_used_out")?;
        let len_out = out(output_len_out, "output_len_out")?;
        let done_out = out(done_out, "done_out")?;
        let (mut used, mut written) = (0, 0);
        loop {
            decoder.give(output, &mut written);
            if decoder.has_pending() {
                break;
            }
            match &mut decoder.state {
                State::Done => break,
                State::Failed(failure) => {
                    if written > 0 {
                        break;
                    }
                    let failure = failure
                        .take()
                        .unwrap_or_else(|| Failure::new(QATKIT_CORRUPT_DATA, "the stream failed"));
                    let again = Failure::new(failure.result, failure.message.clone());
                    decoder.state = State::Failed(Some(again));
                    return Err(failure);
                }
                State::NeedInput if used < input.len() => {
                    decoder.send(ToWorker::Input(input[used..].to_vec()));
                    used = input.len();
                }
                State::NeedInput if end_of_input && !decoder.end_sent => {
                    decoder.end_sent = true;
                    decoder.send(ToWorker::End);
                }
                State::NeedInput => break,
                State::Running => {
                    let room = written < output.len();
                    if !decoder.answer(room) {
                        break;
                    }
                }
            }
        }
        let done = matches!(decoder.state, State::Done) && !decoder.has_pending();
        // SAFETY: all three checked by `out`.
        unsafe {
            put(used_out, used);
            put(len_out, written);
            put(done_out, done);
        }
        Ok(())
    })
}
