//! qzip: compress or decompress a file with qatkit, like gzip and QATzip's `qzip`.
//!
//! ```text
//! cargo run --release --example qzip -- [-d] [-c] [-k] [-f] [-L LEVEL] [-O FORMAT]
//!     [--backend auto|cpu|qat] [-T THREADS] [-o OUT] [FILE]
//! ```
//!
//! Both directions stream, so memory does not grow with the file: compression through an
//! `Encoder` (a request per MiB, `-T` of them in flight, default the number of cores),
//! decompression through a `Decoder` with as many workers. Compressing FILE writes FILE.gz
//! (.zz, .deflate, .lz4, .zst) or OUT; `-d` takes the format from `-O` or FILE's suffix and
//! drops the suffix. FILE `-` or none reads stdin and writes stdout (unless `-o`); `-c` writes
//! stdout.
//!
//! As gzip does: the output keeps FILE's permission bits and access and modification times;
//! FILE is removed once its output is in place, unless `-k` (never stdin, never when writing
//! stdout or into something that is not a regular file); compressed data is neither written to
//! nor read from a terminal unless `-f`.
//!
//! A regular output file (or a name that does not exist yet) is written as an unnamed
//! O_TMPFILE beside it and linked into place only when everything succeeded, so an error, a
//! signal, an abort or SIGKILL leaves nothing behind; where the filesystem has no O_TMPFILE it
//! is a named temporary file, removed on errors and on SIGINT, SIGTERM and SIGHUP (after which
//! qzip dies of the signal). An existing file is replaced only with `-f`. Anything else (a
//! device, a FIFO, /dev/stdout on a pipe) is written in place; a symlink stands for its target.
//!
//! stderr gets one line: sizes read and written, ratio, throughput and what served. Exit
//! status: 0 done, 1 failed (corrupt input, I/O), 2 bad arguments (nothing read or written).

use std::fmt::Display;
use std::fs::{File, FileTimes, Metadata, Permissions};
use std::io::{
    self, BufRead, BufReader, BufWriter, IsTerminal as _, Read, Seek as _, SeekFrom, Write,
};
use std::os::fd::{AsFd as _, AsRawFd as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use clap::Parser;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use memmap2::{Advice, MmapOptions};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag};
use nix::sys::stat::Mode;
use qatkit::compress::{Backend, Bytes, Codec, Format, Served};
use tempfile::TempPath;

#[derive(Parser)]
#[command(
    name = "qzip",
    about = "Compress or decompress FILE with qatkit (QAT or CPU), like gzip"
)]
struct Args {
    /// Decompress.
    #[arg(short = 'd', long = "decompress")]
    decompress: bool,
    /// Write to stdout (FILE is kept).
    #[arg(short = 'c', long = "stdout", conflicts_with = "output")]
    stdout: bool,
    /// Keep FILE (without -k it is removed once the output is in place, as gzip does).
    #[arg(short = 'k', long = "keep")]
    keep: bool,
    /// Replace an existing output file; write compressed data to a terminal.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Compression level (deflate 0-12, lz4 0-2).
    #[arg(short = 'L', long = "level", default_value_t = 1)]
    level: u32,
    /// Format (default: gzip, or from FILE's suffix with -d).
    #[arg(
        short = 'O',
        long = "format",
        value_parser = PossibleValuesParser::new(FORMATS.iter().map(|f| f.name))
            .map(|name| named(&name).format)
    )]
    format: Option<Format>,
    /// Who compresses: the device when present (auto), the CPU, or QATzip by name.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(Backend))]
    backend: Backend,
    /// Worker threads: requests in flight (default: the number of cores).
    #[arg(short = 'T', long = "threads", value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Output file (default: FILE with the format's suffix added, or dropped with -d).
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Input file; `-` or none reads stdin.
    file: Option<PathBuf>,
}

/// A format as qzip names it: `-O NAME`, files ending in `.SUFFIX`.
struct Named {
    name: &'static str,
    format: Format,
    suffix: &'static str,
}

/// Every format qzip offers: a new one is one more line.
#[rustfmt::skip]
const FORMATS: &[Named] = &[
    Named { name: "gzip", format: Format::Gzip, suffix: "gz" },
    Named { name: "zlib", format: Format::Zlib, suffix: "zz" },
    Named { name: "raw", format: Format::Raw, suffix: "deflate" },
    Named { name: "lz4", format: Format::Lz4, suffix: "lz4" },
    Named { name: "zstd", format: Format::Zstd, suffix: "zst" },
];

/// The entry clap accepted `name` from.
fn named(name: &str) -> &'static Named {
    FORMATS
        .iter()
        .find(|f| f.name == name)
        .expect("clap accepts only names from FORMATS")
}

fn suffix(format: Format) -> &'static str {
    FORMATS
        .iter()
        .find(|f| f.format == format)
        .map(|f| f.suffix)
        .expect("every format has a suffix")
}

/// Why a run stopped: a usage error (exit status 2, nothing read or written) or a failure (1).
enum Failure {
    Usage(String),
    Failed(String),
}

/// A failure about `what` (a file name).
fn failed(what: impl Display, e: impl Display) -> Failure {
    Failure::Failed(format!("{what}: {e}"))
}

enum Source {
    Stdin,
    File(PathBuf),
}

enum Target {
    Stdout,
    File(PathBuf),
}

/// What the arguments ask for.
struct Plan {
    format: Format,
    source: Source,
    target: Target,
}

/// The plan the arguments mean, or a usage error.
fn plan(args: &Args) -> Result<Plan, String> {
    let source = match &args.file {
        Some(file) if file.as_os_str() != "-" => Source::File(file.clone()),
        _ => Source::Stdin,
    };
    let format = match (&source, args.format, args.decompress) {
        (_, Some(format), _) => format,
        (Source::File(file), None, true) => FORMATS
            .iter()
            .find(|f| file.extension() == Some(f.suffix.as_ref()))
            .map(|f| f.format)
            .ok_or_else(|| {
                format!(
                    "{}: unknown suffix: give the format with -O",
                    file.display()
                )
            })?,
        // gzip reads its own format from stdin.
        _ => Format::Gzip,
    };
    let target = match (&source, &args.output) {
        (_, Some(output)) => Target::File(output.clone()),
        (Source::File(file), None) if !args.stdout => {
            Target::File(output_name(file, format, args.decompress)?)
        }
        _ => Target::Stdout,
    };
    Ok(Plan {
        format,
        source,
        target,
    })
}

/// FILE with the format's suffix added, or with it dropped when decompressing.
fn output_name(file: &Path, format: Format, decompress: bool) -> Result<PathBuf, String> {
    let suffix = suffix(format);
    if !decompress {
        let mut name = file.as_os_str().to_owned();
        name.push(".");
        name.push(suffix);
        return Ok(name.into());
    }
    if file.extension() != Some(suffix.as_ref()) {
        return Err(format!(
            "{}: does not end in .{suffix}: name the output with -o",
            file.display()
        ));
    }
    Ok(file.with_extension(""))
}

/// The codec the arguments ask for, or a usage error.
fn codec(args: &Args, format: Format) -> Result<Codec, String> {
    let codec = Codec::new(format, args.level)
        .and_then(|c| c.with_backend(args.backend))
        .map_err(|e| e.to_string())?;
    let threads = match args.threads {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // Files are the caller's to size: no output limit.
    Ok(codec.with_limit(usize::MAX).with_in_flight(threads))
}

/// The input, open.
struct Input {
    file: File,
    name: String,
    /// A regular file named on the command line: the output takes its mode and times, and it
    /// is removed once the output is in place.
    named: Option<(PathBuf, Metadata)>,
}

fn open_input(source: &Source) -> Result<Input, Failure> {
    let path = match source {
        Source::Stdin => {
            let fd = io::stdin().as_fd().try_clone_to_owned();
            return Ok(Input {
                file: File::from(fd.map_err(|e| failed("stdin", e))?),
                name: "stdin".into(),
                named: None,
            });
        }
        Source::File(path) => path,
    };
    let shown = |e: &dyn Display| failed(path.display(), e);
    let file = File::open(path).map_err(|e| shown(&e))?;
    let metadata = file.metadata().map_err(|e| shown(&e))?;
    if metadata.is_dir() {
        return Err(shown(&"is a directory"));
    }
    Ok(Input {
        file,
        name: path.display().to_string(),
        named: metadata.is_file().then(|| (path.clone(), metadata)),
    })
}

/// Where the output goes.
enum Output {
    /// stdout, a device, a FIFO: written in place, with nothing to undo.
    InPlace(File),
    /// A regular file: written beside the target and put there by [`Replacement::commit`].
    Replace(Replacement),
}

impl Output {
    fn file(&mut self) -> &mut File {
        match self {
            Output::InPlace(file) => file,
            Output::Replace(r) => &mut r.file,
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

/// The message for an output that exists and may not be replaced.
fn exists(path: &Path) -> Failure {
    failed(path.display(), "exists (use -f to replace it)")
}

/// Opens the output: in place when the target exists and is not a regular file, else a new
/// file beside the regular file the target names (through symlinks).
fn open_output(target: &Target, force: bool, input: &Input) -> Result<Output, Failure> {
    let path = match target {
        Target::Stdout => {
            let fd = io::stdout().as_fd().try_clone_to_owned();
            return Ok(Output::InPlace(File::from(
                fd.map_err(|e| failed("stdout", e))?,
            )));
        }
        Target::File(path) => path,
    };
    let shown = |e: &dyn Display| failed(path.display(), e);
    let existing = match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(shown(&"is a directory")),
        Ok(m) if !m.is_file() => {
            let file = File::options().write(true).open(path);
            return Ok(Output::InPlace(file.map_err(|e| shown(&e))?));
        }
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(shown(&e)),
    };
    let target = resolve(path).map_err(|e| shown(&e))?;
    if let Some(existing) = existing {
        let same = |m: &Metadata| (m.dev(), m.ino()) == (existing.dev(), existing.ino());
        if input.named.as_ref().is_some_and(|(_, m)| same(m)) {
            return Err(shown(&"is the input file"));
        }
        if !force {
            return Err(exists(path));
        }
    }
    // Created no wider than the input (umask applies); commit sets the input's exact bits.
    let mode = input
        .named
        .as_ref()
        .map_or(0o666, |(_, m)| m.mode() & 0o777);
    let replacement = Replacement::create(target, force, mode).map_err(|e| shown(&e))?;
    Ok(Output::Replace(replacement))
}

/// `path` with the symlinks of its last component followed, dangling ones too: the name to
/// create or replace.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    // The kernel's own limit: a loop of links fails instead of spinning.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&path)?;
                // A relative link is relative to its directory; join keeps an absolute one.
                path = path.parent().map_or(link.clone(), |dir| dir.join(&link));
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => return Ok(path),
        }
    }
    Err(Errno::ELOOP.into())
}

/// A new regular file, written beside its target and put there only by [`Replacement::commit`];
/// dropped uncommitted, it leaves nothing.
struct Replacement {
    file: File,
    temp: Temp,
    target: PathBuf,
    force: bool,
}

enum Temp {
    /// O_TMPFILE: no name until committed, gone with the process whatever ends it.
    Unnamed,
    /// Where the filesystem has no O_TMPFILE.
    Named(Pending),
}

/// The directory a file at `path` goes into.
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Set (to any value) to take the named temporary file where O_TMPFILE works: for the tests of
/// that path.
const NAMED_TEMP_VAR: &str = "QZIP_NAMED_TEMP";

impl Replacement {
    fn create(target: PathBuf, force: bool, mode: u32) -> io::Result<Self> {
        let dir = dir_of(&target);
        let unnamed = if std::env::var_os(NAMED_TEMP_VAR).is_some() {
            Err(Errno::EOPNOTSUPP)
        } else {
            nix::fcntl::open(
                dir,
                OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(mode),
            )
        };
        let (file, temp) = match unnamed {
            Ok(fd) => (File::from(fd), Temp::Unnamed),
            // EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP: a filesystem without it.
            Err(Errno::EOPNOTSUPP | Errno::EISDIR) => {
                let (file, pending) = Pending::create(dir, mode)?;
                (file, Temp::Named(pending))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Replacement {
            file,
            temp,
            target,
            force,
        })
    }

    /// Gives the file `like`'s permission bits and times (when the input is a regular file),
    /// makes it durable and puts it at the target.
    fn commit(self, like: Option<&Metadata>) -> io::Result<()> {
        if let Some(m) = like {
            self.file
                .set_permissions(Permissions::from_mode(m.mode() & 0o777))?;
            let times = FileTimes::new()
                .set_accessed(m.accessed()?)
                .set_modified(m.modified()?);
            self.file.set_times(times)?;
        }
        self.file.sync_all()?;
        match self.temp {
            Temp::Named(pending) => pending.persist(&self.target, self.force),
            Temp::Unnamed => link_into_place(&self.file, &self.target, self.force),
        }
    }
}

/// Names the unnamed `file` `target`: directly when it must replace nothing (the link fails
/// if the name appeared meanwhile), else through a temporary name renamed over the target,
/// under the pending lock so that a signal cannot leave that name behind.
fn link_into_place(file: &File, target: &Path, force: bool) -> io::Result<()> {
    let unnamed = format!("/proc/self/fd/{}", file.as_raw_fd());
    let link = |to: &Path| {
        nix::unistd::linkat(
            AT_FDCWD,
            unnamed.as_str(),
            AT_FDCWD,
            to,
            AtFlags::AT_SYMLINK_FOLLOW,
        )
        .map_err(io::Error::from)
    };
    if !force {
        return link(target);
    }
    let _pending = pending();
    let temp = temp_builder().make_in(dir_of(target), link)?;
    temp.persist(target).map_err(|e| e.error)
}

fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".qzip");
    builder
}

/// The named temporary file that a signal must remove, if any. The signal thread takes the
/// lock, removes the file and ends the process still holding it: nothing is created or renamed
/// into place after that.
static PENDING: Mutex<Option<PathBuf>> = Mutex::new(None);

fn pending() -> MutexGuard<'static, Option<PathBuf>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A named temporary file, in [`PENDING`] from its creation until it is renamed into place
/// or removed (on drop).
struct Pending(Option<TempPath>);

impl Pending {
    fn create(dir: &Path, mode: u32) -> io::Result<(File, Pending)> {
        // Only a named file needs removing: an unnamed one, or output into a device or a pipe,
        // leaves nothing when a signal's default action ends qzip.
        clean_up_on_signals()?;
        let mut pending = pending();
        let (file, path) = temp_builder()
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(dir)?
            .into_parts();
        *pending = Some(path.to_path_buf());
        Ok((file, Pending(Some(path))))
    }

    fn persist(mut self, target: &Path, force: bool) -> io::Result<()> {
        let mut pending = pending();
        *pending = None;
        let path = self.0.take().expect("a pending file is persisted once");
        let persisted = if force {
            path.persist(target)
        } else {
            path.persist_noclobber(target)
        };
        // On error the temporary file is removed with the error, under the lock.
        persisted.map_err(|e| e.error)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let mut pending = pending();
            *pending = None;
            drop(path);
        }
    }
}

/// Removes the pending temporary file on SIGINT, SIGTERM and SIGHUP, then ends qzip by the
/// signal's default action, so that its exit status still tells the signal.
fn clean_up_on_signals() -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let pending = pending();
            if let Some(path) = pending.as_ref() {
                let _ = std::fs::remove_file(path);
            }
            let _ = signal_hook::low_level::emulate_default_handler(signal);
        }
    });
    Ok(())
}

/// A reader or writer counting the bytes through it, for the stderr line; a writer also
/// remembers whether it failed, to tell output errors from input errors.
struct Counted<T> {
    inner: T,
    bytes: u64,
    failed: bool,
}

impl<T> Counted<T> {
    fn new(inner: T) -> Self {
        Counted {
            inner,
            bytes: 0,
            failed: false,
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf);
        match &written {
            Ok(n) => self.bytes += *n as u64,
            Err(e) => self.failed |= e.kind() != io::ErrorKind::Interrupted,
        }
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.inner.flush();
        self.failed |= flushed.is_err();
        flushed
    }
}

/// What one run did, for the stderr line.
struct Done {
    input: String,
    output: String,
    read: u64,
    written: u64,
    served: Served,
}

/// Writes what `decoder` gives straight from its buffers (no copy into the writer's).
fn copy_out(decoder: &mut impl BufRead, writer: &mut BufWriter<impl Write>) -> io::Result<()> {
    loop {
        let ready = decoder.fill_buf()?;
        if ready.is_empty() {
            return Ok(());
        }
        // BufWriter passes writes larger than its buffer straight through.
        writer.write_all(ready)?;
        let n = ready.len();
        decoder.consume(n);
    }
}

/// The windows a regular input file is mapped in: a multiple of the page size.
const WINDOW: usize = 8 << 20;

/// A regular input file in mapped windows, in order, up to its length when opened: the
/// workers read them in place, straight from the page cache, with no copy through a read
/// buffer (the copy is about 5% of a level-1 compression's CPU time), and each window is
/// unmapped once nothing holds it, so memory stays bounded whatever the file's size.
struct Windows {
    file: File,
    len: u64,
    at: u64,
}

impl Windows {
    /// `file`'s windows when it is a regular file read from its start; `None` for anything
    /// else (a pipe, a device, stdin redirected from a file another command read a part of),
    /// which is read.
    fn of(file: &File) -> io::Result<Option<Self>> {
        let metadata = file.metadata()?;
        if !metadata.is_file() || (&*file).stream_position()? != 0 {
            return Ok(None);
        }
        Ok(Some(Windows {
            file: file.try_clone()?,
            len: metadata.len(),
            at: 0,
        }))
    }
}

impl Iterator for Windows {
    type Item = io::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        let n = (self.len - self.at).min(WINDOW as u64) as usize;
        if n == 0 {
            return None;
        }
        // SAFETY: the mapping is read-only and private, and lives as long as the `Bytes` that
        // owns it. Another process truncating the file while qzip reads it makes the kernel
        // send SIGBUS, which ends qzip (with nothing left behind where the output is still
        // unnamed); one writing to it changes what qzip reads, as it would with read(2).
        let map = unsafe { MmapOptions::new().offset(self.at).len(n).map(&self.file) };
        self.at += n as u64;
        Some(map.and_then(|map| {
            map.advise(Advice::Sequential)?;
            if self.at == self.len {
                // Where reading would have left the file offset, which a redirected stdin
                // shares with the commands after qzip.
                (&self.file).seek(SeekFrom::Start(self.len))?;
            }
            Ok(Bytes::from_owner(map))
        }))
    }
}

/// Large reads and writes: fewer system calls, and the encoder takes 1 MiB requests anyway.
const BUFFER: usize = 256 << 10;

fn run(args: &Args, plan: &Plan, codec: &Codec) -> Result<Done, Failure> {
    let input = open_input(&plan.source)?;
    if args.decompress && !args.force && input.file.is_terminal() {
        return Err(Failure::Usage(
            "compressed data is not read from a terminal (use -f to force)".into(),
        ));
    }
    let mut output = open_output(&plan.target, args.force, &input)?;
    let output_name = match &plan.target {
        Target::Stdout => "stdout".to_string(),
        Target::File(path) => path.display().to_string(),
    };
    if !args.decompress && !args.force && output.file().is_terminal() {
        return Err(Failure::Usage(
            "compressed data is not written to a terminal (use -f to force)".into(),
        ));
    }
    let mut reader = Counted::new(&input.file);
    let mut writer = BufWriter::with_capacity(BUFFER, Counted::new(&mut output));
    // A regular file (named, or stdin redirected from one) is read in mapped windows.
    let windows = Windows::of(&input.file).map_err(|e| failed(&input.name, e))?;
    if let Some(windows) = &windows {
        reader.bytes = windows.len;
    }
    let streamed = match (args.decompress, windows) {
        (true, Some(windows)) => copy_out(&mut codec.decoder_over(windows), &mut writer),
        (true, None) => {
            let buffered = BufReader::with_capacity(BUFFER, &mut reader);
            copy_out(&mut codec.decoder(buffered), &mut writer)
        }
        (false, windows) => {
            let mut encoder = codec.encoder(&mut writer);
            match windows {
                Some(windows) => windows
                    .into_iter()
                    .try_for_each(|window| encoder.write_bytes(window?)),
                // Read straight into the encoder's requests.
                None => encoder.copy_from(&mut reader).map(drop),
            }
            .and_then(|()| encoder.finish().map(drop))
        }
    }
    .and_then(|()| writer.flush());
    if let Err(e) = streamed {
        let side = if writer.get_ref().failed {
            &output_name
        } else {
            &input.name
        };
        return Err(failed(side, e));
    }
    let (read, written) = (reader.bytes, writer.get_ref().bytes);
    drop(writer);
    if let Output::Replace(replacement) = output {
        let like = input.named.as_ref().map(|(_, m)| m);
        replacement.commit(like).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists if !args.force => exists(Path::new(&output_name)),
            _ => failed(&output_name, e),
        })?;
        if let (Some((path, _)), false) = (&input.named, args.keep) {
            std::fs::remove_file(path).map_err(|e| failed(path.display(), e))?;
        }
    }
    Ok(Done {
        input: input.name,
        output: output_name,
        read,
        written,
        served: codec.served(),
    })
}

/// Who served the requests; zlib and raw deflate streams, and every decoder, run on the CPU
/// without counting.
fn served_line(s: Served) -> String {
    let parts: Vec<String> = [
        ("qat device", s.qat_device),
        ("qatzip software", s.qat_software),
        ("cpu", s.cpu),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(who, n)| format!("{who} ({n} request{})", if n == 1 { "" } else { "s" }))
    .collect();
    if parts.is_empty() {
        return "cpu".into();
    }
    parts.join(" + ")
}

/// Runs qzip as the arguments say and prints its line.
fn start(args: &Args) -> Result<(), Failure> {
    let plan = plan(args).map_err(Failure::Usage)?;
    let codec = codec(args, plan.format).map_err(Failure::Usage)?;
    let start = Instant::now();
    let done = run(args, &plan, &codec)?;
    let seconds = start.elapsed().as_secs_f64();
    let (raw, packed) = if args.decompress {
        (done.written, done.read)
    } else {
        (done.read, done.written)
    };
    eprintln!(
        "qzip: {} -> {}: {}, {} -> {} bytes, ratio {:.2}, {:.3} s, {:.0} MB/s, served by {}",
        done.input,
        done.output,
        plan.format,
        done.read,
        done.written,
        raw as f64 / packed.max(1) as f64,
        seconds,
        raw as f64 / seconds / 1e6,
        served_line(done.served),
    );
    Ok(())
}

fn main() {
    let args = Args::parse();
    // Tracing only when asked for: setting it up costs as much as decompressing a small file.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    // Everything `start` made is dropped (an unfinished output removed) before exiting.
    let status = match start(&args) {
        Ok(()) => 0,
        Err(Failure::Usage(e)) => {
            eprintln!("qzip: {e}");
            2
        }
        Err(Failure::Failed(e)) => {
            eprintln!("qzip: {e}");
            1
        }
    };
    std::process::exit(status);
}
