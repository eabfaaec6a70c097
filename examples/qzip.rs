//! qzip: compress or decompress a file with qatkit, like QATzip's `qzip`.
//!
//! ```text
//! cargo run --release --example qzip -- [-d] [-L LEVEL] [-O gzip|zlib|raw|lz4]
//!     [--backend auto|cpu|qat] [-o OUT] [-f] FILE
//! ```
//!
//! Compressing writes `FILE.gz`, `.zz`, `.deflate` or `.lz4` (or OUT), streaming the file
//! through an `Encoder` with a request per MiB and as many in flight as there are cores.
//! Decompressing takes the format from `-O` or the file's suffix and writes FILE without it
//! (or OUT); it decompresses the file in one request, so the backend asked for serves it.
//! The output is written to a temporary file beside it and renamed into place only when
//! everything succeeded: on any error nothing is left behind, and an existing file is replaced
//! only with `-f`. stderr gets one line: what served, sizes, ratio and throughput.
//! Exit status: 0 done, 1 failed (corrupt input, I/O), 2 bad arguments (nothing is read or
//! written).

use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use qatkit::compress::{Backend, Codec, Format, Served};

#[derive(Parser)]
#[command(
    name = "qzip",
    about = "Compress or decompress FILE with qatkit (QAT or CPU)"
)]
struct Args {
    /// Decompress.
    #[arg(short = 'd', long = "decompress")]
    decompress: bool,
    /// Compression level (deflate 0-12, lz4 0-2).
    #[arg(short = 'L', long = "level", default_value_t = 1)]
    level: u32,
    /// Format (default: gzip, or from FILE's suffix with -d).
    #[arg(short = 'O', long = "format", value_enum)]
    format: Option<FormatArg>,
    /// Who compresses: the device when present (auto), the CPU, or QATzip by name.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(Backend))]
    backend: Backend,
    /// Output file.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Input file.
    file: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Gzip,
    Zlib,
    Raw,
    Lz4,
}

const SUFFIXES: [(Format, &str); 4] = [
    (Format::Gzip, "gz"),
    (Format::Zlib, "zz"),
    (Format::Raw, "deflate"),
    (Format::Lz4, "lz4"),
];

fn suffix(format: Format) -> &'static str {
    SUFFIXES
        .iter()
        .find(|(f, _)| *f == format)
        .map(|(_, s)| *s)
        .expect("every format has a suffix")
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Gzip => Format::Gzip,
            FormatArg::Zlib => Format::Zlib,
            FormatArg::Raw => Format::Raw,
            FormatArg::Lz4 => Format::Lz4,
        }
    }
}

/// The format and output path the arguments mean, or a usage error.
fn plan(args: &Args) -> Result<(Format, PathBuf), String> {
    let file_suffix = args.file.extension().and_then(|s| s.to_str());
    let from_suffix = SUFFIXES
        .iter()
        .find(|(_, s)| Some(*s) == file_suffix)
        .map(|(f, _)| *f);
    let format = match (args.format, args.decompress) {
        (Some(f), _) => f.into(),
        (None, false) => Format::Gzip,
        (None, true) => from_suffix.ok_or_else(|| {
            format!(
                "{}: unknown suffix: give the format with -O",
                args.file.display()
            )
        })?,
    };
    let output = match &args.output {
        Some(out) => out.clone(),
        None if args.decompress => {
            if from_suffix != Some(format) {
                return Err(format!(
                    "{}: does not end in .{}: name the output with -o",
                    args.file.display(),
                    suffix(format)
                ));
            }
            args.file.with_extension("")
        }
        None => {
            let mut name = args.file.clone().into_os_string();
            name.push(".");
            name.push(suffix(format));
            PathBuf::from(name)
        }
    };
    Ok((format, output))
}

/// What one run did, for the stderr line.
struct Done {
    input: u64,
    output: u64,
    served: Served,
}

/// The codec the arguments ask for, or a usage error.
fn codec(args: &Args, format: Format) -> Result<Codec, String> {
    let codec = Codec::new(format, args.level)
        .and_then(|c| c.with_backend(args.backend))
        .map_err(|e| e.to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Files are the caller's to size: no output limit.
    Ok(codec.with_limit(usize::MAX).with_in_flight(cores))
}

fn run(args: &Args, codec: &Codec, output: &Path) -> Result<Done, String> {
    let shown = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
    let input = std::fs::File::open(&args.file).map_err(|e| shown(&args.file, &e))?;
    let input_len = input.metadata().map_err(|e| shown(&args.file, &e))?.len();
    if !args.force && output.exists() {
        return Err(format!(
            "{}: exists (use -f to replace it)",
            output.display()
        ));
    }
    let dir = output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| shown(dir, &e))?;
    let mut writer = BufWriter::new(temp);
    if args.decompress {
        let packed = std::fs::read(&args.file).map_err(|e| shown(&args.file, &e))?;
        let data = codec
            .decompress(&packed)
            .map_err(|e| shown(&args.file, &e))?;
        writer.write_all(&data).map_err(|e| shown(output, &e))?;
    } else {
        let mut encoder = codec.encoder(&mut writer);
        std::io::copy(&mut BufReader::new(input), &mut encoder)
            .map_err(|e| shown(&args.file, &e))?;
        encoder.finish().map_err(|e| shown(output, &e))?;
    }
    let temp = writer
        .into_inner()
        .map_err(|e| shown(output, &e.error().to_string()))?;
    let output_len = temp
        .as_file()
        .metadata()
        .map_err(|e| shown(output, &e))?
        .len();
    temp.as_file().sync_all().map_err(|e| shown(output, &e))?;
    let persisted = if args.force {
        temp.persist(output).map(|_| ())
    } else {
        // Refuses if the output appeared meanwhile.
        temp.persist_noclobber(output).map(|_| ())
    };
    persisted.map_err(|e| shown(output, &e.error))?;
    Ok(Done {
        input: input_len,
        output: output_len,
        served: codec.served(),
    })
}

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
    parts.join(" + ")
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let (format, output, codec) = match plan(&args)
        .and_then(|(format, output)| Ok((format, output, codec(&args, format)?)))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("qzip: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    match run(&args, &codec, &output) {
        Ok(done) => {
            let seconds = start.elapsed().as_secs_f64();
            let (raw, packed) = if args.decompress {
                (done.output, done.input)
            } else {
                (done.input, done.output)
            };
            eprintln!(
                "qzip: {} -> {}: {format}, {} -> {} bytes, ratio {:.2}, {:.3} s, {:.0} MB/s, served by {}",
                args.file.display(),
                output.display(),
                done.input,
                done.output,
                raw as f64 / packed.max(1) as f64,
                seconds,
                raw as f64 / seconds / 1e6,
                served_line(done.served),
            );
        }
        Err(e) => {
            eprintln!("qzip: {e}");
            std::process::exit(1);
        }
    }
}
