//! Source stage: where load comes from. Takes a file path (CSV or Parquet with
//! columns `timestamp,value`), gives the raw samples in file order.
//!
//! Guarantees: every returned sample has a parsed timestamp and a finite,
//! non-negative value; anything else is an error naming the file, the line
//! and the problem. Nothing here panics on bad bytes. Parsing of the file's
//! structure is done by polars; each cell is then checked here so that the
//! error can name its line.
//!
//! It also writes series back out ([`write_csv`], [`write_parquet`]) in the
//! same format it reads, for `homeostat fetch`.

use crate::core::time::{check_timestamp, format_timestamp, parse_timestamp};
use polars::prelude::{
    Column, CsvReadOptions, DataFrame, DataType, NamedFrom, ParquetReader, ParquetWriter,
    PolarsError, SerReader, StringChunked, TimeUnit, TimeZone,
};
use std::io::Cursor;
use std::io::Write;
use std::path::{Path, PathBuf};

// The samples a reader returns are the domain's own (`series`).
pub use crate::core::series::{RawSeries, Sample};

/// The largest load file read (256 MiB, as the largest Prometheus answer):
/// a year of 10-second samples as CSV is about 100 MB.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The longest header line read (64 KiB: hundreds of columns): a reader
/// builds a column per header field, and a hostile or broken file (one
/// line of 50 MB) must fail alone, not exhaust the run's memory.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Why a load file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    // `cause`, not `source`: the message already says it, and a chained
    // source would make `{:#}` print it twice.
    #[error("{path}: cannot read file: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: is {what}, not a regular file; expected a CSV or Parquet file of `timestamp,value` rows")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("{path}: file is empty; expected a header line `timestamp,value` and data rows")]
    Empty { path: PathBuf },
    #[error("{path}: line {line}: bytes are not valid UTF-8 (at byte {offset} of the file); save the file as UTF-8")]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        offset: usize,
    },
    #[error(
        "{path}: missing column `{column}`: the header is `{header}`, expected `timestamp,value`{hint}"
    )]
    MissingColumn {
        path: PathBuf,
        column: &'static str,
        header: String,
        /// Why, when the header says (another separator).
        hint: &'static str,
    },
    #[error("{path}: the header line is {bytes} bytes long (it starts `{start}…`); expected `timestamp,value` and a few more columns at most (no header over {MAX_HEADER_BYTES} bytes is read)")]
    HugeHeader {
        path: PathBuf,
        bytes: usize,
        start: String,
    },
    #[error("{path}: the file is {mib} MiB; no load file over {} MiB is read (a year of 10-second samples is about 100 MB): an export of the wrong thing, or split it", MAX_FILE_BYTES >> 20)]
    TooLarge { path: PathBuf, mib: u64 },
    #[error("{path}: has a header but no data rows")]
    NoRows { path: PathBuf },
    #[error("{path}: line {line}: {problem}")]
    BadRow {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error("{path}: row {row}: {problem}")]
    BadParquetRow {
        path: PathBuf,
        row: usize,
        problem: String,
    },
    #[error("{path}: not a readable {format} file: {message}")]
    Malformed {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("{path}: unsupported file type; expected a .csv or .parquet file")]
    UnknownFormat { path: PathBuf },
    /// The content is the other format's: the format follows the name.
    #[error("{path}: is a {content} file by its content (named as {named}: the format follows the extension); rename it to .{extension}")]
    MisnamedFormat {
        path: PathBuf,
        content: &'static str,
        named: &'static str,
        extension: &'static str,
    },
}

impl SourceError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            SourceError::Io { .. } => "file_unreadable",
            SourceError::TooLarge { .. } => "file_too_large",
            _ => "file_invalid",
        }
    }
}

/// Reads a load file; the format follows the extension (`.parquet`/`.pq`, else CSV).
pub fn read_file(path: &Path) -> Result<RawSeries, SourceError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let raw = match extension.as_deref() {
        Some("parquet" | "pq") => read_parquet(path),
        Some("csv" | "txt") | None => read_csv(path),
        Some(_) => Err(SourceError::UnknownFormat { path: path.into() }),
    }?;
    if let Some((count, first)) = conflicting_timestamps(&raw.samples) {
        tracing::warn!(
            "{}: {count} timestamp{} more than once with different values (the first {}): their values are averaged; two series in one file, or local times repeating an hour at a clock change?",
            path.display(),
            if count == 1 { " appears" } else { "s appear" },
            format_timestamp(first)
        );
    }
    Ok(raw)
}

/// Timestamps given more than once with different values, and the
/// earliest of them: averaged into one step as any samples of a step are,
/// but a file holding two series (one appended to the other) looked like
/// one, its load the mean of both. Only looked for when the file is not in
/// strict time order (the usual file costs nothing more).
fn conflicting_timestamps(samples: &[Sample]) -> Option<(usize, i64)> {
    if samples.windows(2).all(|w| w[0].ts < w[1].ts) {
        return None;
    }
    let mut sorted: Vec<(i64, f64)> = samples.iter().map(|s| (s.ts, s.value)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut count = 0;
    let mut first = None;
    let mut k = 0;
    while k < sorted.len() {
        let end = k + sorted[k..]
            .iter()
            .take_while(|s| s.0 == sorted[k].0)
            .count();
        if sorted[k..end]
            .iter()
            .any(|s| s.1.total_cmp(&sorted[k].1).is_ne())
        {
            count += 1;
            first = first.or(Some(sorted[k].0));
        }
        k = end;
    }
    first.map(|first| (count, first))
}

/// About how much memory reading `path` takes at its peak, measured on a
/// 99 MB CSV of 5 million lines (267 MB: the bytes, then polars' text
/// columns at 16 bytes a cell beside them) and a 31 MB Parquet file of the
/// same rows (194 MB: the bytes, the decoded columns, the checked values
/// and the samples, about 32 bytes a row). `None` when the file cannot be
/// looked at or is too large to read at all (reading it will say why).
#[must_use]
pub fn read_need(path: &Path) -> Option<u64> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_FILE_BYTES {
        return None;
    }
    let parquet = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "parquet" | "pq"));
    let slack = 1 << 20;
    if !parquet {
        return Some(3 * size + slack);
    }
    // The row count is in the footer; a file without a readable one
    // fails to decode anyway, after a guess at its rows.
    let rows = std::fs::File::open(path)
        .ok()
        .and_then(|file| ParquetReader::new(file).num_rows().ok())
        .map_or(8 * size, |rows| rows as u64);
    Some(size + 40 * rows + slack)
}

/// [`read_file`] on bytes already read (`path` names them in errors and
/// picks the format): what the fuzz tests feed.
pub fn parse_file(path: &Path, bytes: Vec<u8>) -> Result<RawSeries, SourceError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet" | "pq") => parse_parquet(path, bytes),
        _ => parse_csv(path, bytes),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, SourceError> {
    let io = |cause| SourceError::Io {
        path: path.into(),
        cause,
    };
    // A file is read whole: one too large for any history must fail
    // alone, before it takes the run's memory. Only a regular file has a
    // size to check: a named pipe would block the run for ever (the
    // others wait on it, in config order) and a device would be read
    // without end.
    let metadata = std::fs::metadata(path).map_err(io)?;
    if !metadata.is_file() {
        return Err(SourceError::NotAFile {
            path: path.into(),
            what: kind_of(metadata.file_type()),
        });
    }
    let size = metadata.len();
    if size > MAX_FILE_BYTES {
        return Err(SourceError::TooLarge {
            path: path.into(),
            mib: size >> 20,
        });
    }
    std::fs::read(path).map_err(io)
}

/// What a path that is not a regular file is, in words.
fn kind_of(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "something else"
    }
}

/// Reads CSV with a `timestamp,value` header (other columns are ignored).
/// Accepts CRLF line ends and a UTF-8 byte-order mark.
pub fn read_csv(path: &Path) -> Result<RawSeries, SourceError> {
    let bytes = read_bytes(path)?;
    parse_csv(path, bytes)
}

// Long because it is one pass over one buffer, in order:
// encoding, byte-order mark and line ends fixed in place, the header
// checked and rewritten in place, polars' parse (a failure named by its
// line), the buffer dropped before the cells are read, so that a large
// file is held once, not twice (issue 19's memory budget).
fn parse_csv(path: &Path, mut bytes: Vec<u8>) -> Result<RawSeries, SourceError> {
    // A Parquet file's first bytes: said as such, not as bad UTF-8.
    if bytes.starts_with(PARQUET_MAGIC) {
        return Err(SourceError::MisnamedFormat {
            path: path.into(),
            content: "Parquet",
            named: "CSV",
            extension: "parquet",
        });
    }
    if let Err(e) = std::str::from_utf8(&bytes) {
        let offset = e.valid_up_to();
        let line = bytes[..offset].split(|&b| b == b'\n').count();
        return Err(SourceError::NotUtf8 {
            path: path.into(),
            line,
            offset,
        });
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    if bytes.contains(&b'\r') {
        // CRLF (Windows) loses its CR; a lone CR (classic Mac) is a line
        // end, or the whole file would read as one giant header.
        let mut kept = Vec::with_capacity(bytes.len());
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
                b'\r' => kept.push(b'\n'),
                _ => kept.push(b),
            }
        }
        bytes = kept;
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty { path: path.into() });
    }
    let header_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    // Only `timestamp` and `value` are read, but a reader gives every
    // header column a column of its own (about 1 KB each): a 50 MB header
    // would take the whole pod's memory. No real export needs this many.
    if header_end > MAX_HEADER_BYTES {
        return Err(SourceError::HugeHeader {
            path: path.into(),
            bytes: header_end,
            start: crate::core::time::shown(&String::from_utf8_lossy(&bytes[..40])),
        });
    }
    let header = String::from_utf8_lossy(&bytes[..header_end])
        .trim()
        .to_string();
    let names: Vec<&str> = header
        .split(',')
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    for column in ["timestamp", "value"] {
        if !names.contains(&column) {
            return Err(SourceError::MissingColumn {
                path: path.into(),
                column,
                header: crate::core::time::shown(&header),
                hint: separator_hint(&header),
            });
        }
    }
    // The header as checked (names trimmed), so polars sees the same names;
    // replaced in place (a copy of a 200 MB file is 200 MB more at peak).
    let clean_header = names.join(",");
    let field_count = names.len();
    bytes.splice(..header_end, clean_header.into_bytes());
    let malformed = |e: PolarsError| SourceError::Malformed {
        path: path.into(),
        format: "CSV",
        message: crate::core::time::shown(&e.to_string()),
    };
    // Every column as text (no schema inference): each cell is parsed below,
    // where the error can name its line.
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_columns(Some(["timestamp".into(), "value".into()].into()))
        .into_reader_with_file_handle(Cursor::new(&bytes))
        .finish()
        .map_err(|e| match (unclosed_quote(&bytes), ragged_line(&bytes, field_count)) {
            (Some(line), _) => SourceError::BadRow {
                path: path.into(),
                line,
                problem: "a double quote (\") opened here is never closed: the rest of the file reads as one cell".into(),
            },
            (None, Some((line, found))) => SourceError::BadRow {
                path: path.into(),
                line,
                problem: format!(
                    "has {found} fields, the header `{}` has {field_count}",
                    crate::core::time::shown(&header)
                ),
            },
            (None, None) => malformed(e),
        })?;
    drop(bytes);
    // The cells are read where polars holds them: a copy of each as a
    // `String` cost 40 bytes a cell more (400 MB for a 100 MB file).
    let timestamps = text_column(&frame, "timestamp").map_err(malformed)?;
    let values = text_column(&frame, "value").map_err(malformed)?;
    if timestamps.is_empty() {
        return Err(SourceError::NoRows { path: path.into() });
    }
    let mut samples = Vec::with_capacity(timestamps.len());
    let mut bad_rows = BadRows::default();
    for (row, (ts, value)) in timestamps.iter().zip(values.iter()).enumerate() {
        // polars keeps a blank line as a row of nulls, so row i is line i + 2
        // (line 1 is the header); blank lines carry no sample.
        let line = row + 2;
        let blank = |cell: Option<&str>| cell.is_none_or(|c| c.trim().is_empty());
        if blank(ts) && blank(value) {
            continue;
        }
        let ts = ts
            .ok_or_else(|| "empty timestamp".to_string())
            .and_then(parse_timestamp);
        // A value left empty, `NaN`, `null` or `NA` (pandas, Grafana, R and
        // Prometheus write a missing sample so) is a gap, as in a
        // Prometheus answer: one such cell failed the whole workload.
        let value = value.filter(|&c| !missing(Some(c))).map(parse_value);
        match (ts, value) {
            (Ok(_), None) => {}
            (Ok(ts), Some(Ok(value))) => samples.push(Sample { ts, value }),
            (Err(problem), _) | (_, Some(Err(problem))) => bad_rows.add(line, problem),
        }
    }
    if let Some((line, problem)) = bad_rows.summary() {
        return Err(SourceError::BadRow {
            path: path.into(),
            line,
            problem,
        });
    }
    if samples.is_empty() {
        return Err(SourceError::NoRows { path: path.into() });
    }
    Ok(RawSeries {
        origin: path.display().to_string(),
        samples,
    })
}

/// The line of a double quote that is never closed (quotes may span
/// lines in CSV, so the state is carried across them, as the reader does).
fn unclosed_quote(bytes: &[u8]) -> Option<usize> {
    let (mut line, mut open_at) = (1, None);
    for &b in bytes {
        match b {
            b'\n' => line += 1,
            b'"' => open_at = if open_at.is_some() { None } else { Some(line) },
            _ => {}
        }
    }
    open_at
}

/// The first non-blank line whose field count (commas outside double
/// quotes, plus one) differs from the header's, with its count.
fn ragged_line(bytes: &[u8], expected: usize) -> Option<(usize, usize)> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            let mut quoted = false;
            let mut fields = 1;
            for &b in line {
                match b {
                    b'"' => quoted = !quoted,
                    b',' if !quoted => fields += 1,
                    _ => {}
                }
            }
            (i + 1, fields)
        })
        .find(|&(_, fields)| fields != expected)
}

/// A column of `frame` as text (every CSV column is read as text).
/// A file's bad rows: the first few with their problems, and how many, so
/// that one run names what to fix instead of one line per run.
#[derive(Default)]
struct BadRows {
    first: Vec<(usize, String)>,
    count: usize,
}

impl BadRows {
    /// Lines named one by one; the rest are counted (the error stays
    /// short enough for a log line).
    const NAMED: usize = 3;

    fn add(&mut self, line: usize, problem: String) {
        if self.first.len() < Self::NAMED {
            self.first.push((line, problem));
        }
        self.count += 1;
    }

    /// The first bad line, and its problem followed by the others'.
    fn summary(&self) -> Option<(usize, String)> {
        use std::fmt::Write as _;
        let (line, problem) = self.first.first()?;
        let mut text = problem.clone();
        for (other, problem) in &self.first[1..] {
            let _ = write!(text, "; line {other}: {problem}");
        }
        if self.count > 1 {
            let _ = write!(text, " ({} bad rows in all)", self.count);
        }
        Some((*line, text))
    }
}

fn text_column(frame: &DataFrame, name: &str) -> Result<StringChunked, PolarsError> {
    Ok(frame.column(name)?.cast(&DataType::String)?.str()?.clone())
}

/// Whether a value cell says the sample is missing: empty, `NaN`, `null`
/// or `NA` (R's), in any case. Infinity is no missing sample but a mistake.
fn missing(cell: Option<&str>) -> bool {
    cell.is_none_or(|c| {
        let c = c.trim();
        c.is_empty()
            || ["nan", "null", "na"]
                .iter()
                .any(|m| c.eq_ignore_ascii_case(m))
    })
}

/// What a header without the two columns says of its separator: a
/// semicolon or tab file (a European spreadsheet's export) is one column
/// to a comma reader.
fn separator_hint(header: &str) -> &'static str {
    if header.contains(',') {
        ""
    } else if header.contains(';') {
        " (its columns are separated by `;`: homeostat reads commas; export as comma-separated)"
    } else if header.contains('\t') {
        " (its columns are separated by tabs: homeostat reads commas; export as comma-separated)"
    } else {
        ""
    }
}

/// Parses a load value: a finite, non-negative decimal number.
fn parse_value(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let value: f64 = text.parse().map_err(|_| {
        format!(
            "cannot parse value `{}`: expected a decimal number",
            crate::core::time::shown(text)
        )
    })?;
    check_value(value)
        .map_err(|problem| format!("value `{}` {problem}", crate::core::time::shown(text)))
}

/// The largest load accepted (a petabyte per second, a quadrillion
/// requests): beyond it a value is a mistake, and one such value would
/// swamp every statistic of the series.
pub const MAX_LOAD: f64 = 1e15;

fn check_value(value: f64) -> Result<f64, &'static str> {
    if !value.is_finite() {
        Err("is not finite: load must be a finite number (a missing sample is written empty, NaN or null)")
    } else if value < 0.0 {
        Err("is negative: load must be 0 or more")
    } else if value > MAX_LOAD {
        Err("is above 1e15: no load is that large (a unit or export mistake?)")
    } else {
        Ok(value)
    }
}

/// Reads Parquet with columns `timestamp` (datetime, unix seconds as a number,
/// or text as in CSV) and `value` (any numeric type).
pub fn read_parquet(path: &Path) -> Result<RawSeries, SourceError> {
    parse_parquet(path, read_bytes(path)?)
}

/// The first (and last) four bytes of every Parquet file.
const PARQUET_MAGIC: &[u8] = b"PAR1";

fn parse_parquet(path: &Path, bytes: Vec<u8>) -> Result<RawSeries, SourceError> {
    if bytes.is_empty() {
        return Err(SourceError::Empty { path: path.into() });
    }
    // Text where Parquet's magic bytes should be: a CSV file named
    // `.parquet` (the decoder said only "must end with PAR1").
    let head = &bytes[..bytes.len().min(1024)];
    if !bytes.starts_with(PARQUET_MAGIC)
        && head.contains(&b',')
        && !head.contains(&0)
        // A character cut by the 1,024 bytes is still text.
        && std::str::from_utf8(head).map_or_else(|e| e.error_len().is_none(), |_| true)
    {
        return Err(SourceError::MisnamedFormat {
            path: path.into(),
            content: "CSV",
            named: "Parquet",
            extension: "csv",
        });
    }
    // polars' decoder panics on some corrupt files (found by tests/it/fuzz.rs:
    // "internal error: entered unreachable code"): that is a malformed file
    // too, not the end of the run.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_parquet(path, bytes)))
        .unwrap_or_else(|panic| {
            Err(SourceError::Malformed {
                path: path.into(),
                format: "Parquet",
                message: format!(
                    "the Parquet decoder failed on it ({}): a corrupt file?",
                    crate::core::time::shown(&crate::core::panic_message(panic.as_ref()))
                ),
            })
        })
}

fn decode_parquet(path: &Path, bytes: Vec<u8>) -> Result<RawSeries, SourceError> {
    // polars' messages may list every column of the file: cut, escaped.
    let malformed = |message: String| SourceError::Malformed {
        path: path.into(),
        format: "Parquet",
        message: crate::core::time::shown(&message),
    };
    let bytes: polars_buffer::Buffer<u8> = bytes.into();
    check_parquet_pages(&bytes).map_err(|message| SourceError::Malformed {
        path: path.into(),
        format: "Parquet",
        message,
    })?;
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    let header = reader
        .schema()
        .map_err(|e| malformed(e.to_string()))?
        .iter_names()
        .map(polars::prelude::PlSmallStr::as_str)
        .collect::<Vec<_>>()
        .join(",");
    for column in ["timestamp", "value"] {
        if !header.split(',').any(|n| n == column) {
            return Err(SourceError::MissingColumn {
                path: path.into(),
                column,
                header: crate::core::time::shown(&header),
                hint: "",
            });
        }
    }
    // Only the two columns are decoded (a wide file's other columns would
    // cost memory for nothing).
    let frame = reader
        .with_columns(Some(vec!["timestamp".into(), "value".into()]))
        .finish()
        .map_err(|e| malformed(e.to_string()))?;
    if frame.height() == 0 {
        return Err(SourceError::NoRows { path: path.into() });
    }
    let in_row = |(row, problem): (usize, String)| SourceError::BadParquetRow {
        path: path.into(),
        row: row + 1,
        problem,
    };
    let column = |name: &str| frame.column(name).map_err(|e| malformed(e.to_string()));
    let timestamps = parquet_timestamps(column("timestamp")?).map_err(|p| match p {
        Problem::Column(message) => malformed(message),
        Problem::Row(row, problem) => in_row((row, problem)),
    })?;
    let values = parquet_values(column("value")?).map_err(|p| match p {
        Problem::Column(message) => malformed(message),
        Problem::Row(row, problem) => in_row((row, problem)),
    })?;
    drop(frame);
    // A missing value (null or NaN) is a gap, as in CSV.
    let samples = timestamps
        .into_iter()
        .zip(values)
        .filter_map(|(ts, value)| value.map(|value| Sample { ts, value }))
        .collect();
    Ok(RawSeries {
        origin: path.display().to_string(),
        samples,
    })
}

/// Checks the counts in the footer and in the page headers of the two
/// columns read, before polars decodes them: its decoder takes a page's
/// value count (an `i32`) as a `usize`, so a negative one in a corrupt file
/// asks for exabytes and aborts the whole run (found by the fuzz tests),
/// and a count beyond the row group's asks for memory the rows do not
/// need. Every count must be between 0 and the row group's rows, and the
/// pages of a column must hold exactly its rows (flat columns: one value,
/// or null, a row). Columns missing here are left to the schema check.
/// The message is whole; polars' own is cut and escaped.
fn check_parquet_pages(bytes: &polars_buffer::Buffer<u8>) -> Result<(), String> {
    use polars_parquet::parquet::page::{CompressedPage, DataPageHeader};
    use polars_parquet::parquet::read::{get_page_iterator, read_metadata};
    let polars =
        |e: polars_parquet::parquet::error::ParquetError| crate::core::time::shown(&e.to_string());
    let metadata = read_metadata(&mut Cursor::new(bytes.as_ref())).map_err(polars)?;
    let mut rows = 0usize;
    for (index, group) in metadata.row_groups.iter().enumerate() {
        let group_rows = group.num_rows();
        rows = rows.saturating_add(group_rows);
        let count = |what: &str, n: i64| -> Result<usize, String> {
            usize::try_from(n)
                .ok()
                .filter(|&n| n <= group_rows)
                .ok_or_else(|| {
                    format!("{what} {n} in row group {index} of {group_rows} rows: a corrupt file?")
                })
        };
        for name in ["timestamp", "value"] {
            let Some(chunks) = group.columns_under_root_iter(name) else {
                continue;
            };
            for chunk in chunks {
                // A repeated (list) column holds more values than rows; it
                // is refused for its type after decoding, with a clearer
                // message than a count could give.
                if chunk.descriptor().descriptor.max_rep_level > 0 {
                    continue;
                }
                count("column value count", chunk.num_values())?;
                let pages =
                    get_page_iterator(chunk, Cursor::new(bytes.clone()), Vec::new(), bytes.len())
                        .map_err(polars)?;
                let mut values = 0usize;
                for page in pages {
                    match page.map_err(polars)? {
                        // Its size is read unsigned, and it holds no rows.
                        CompressedPage::Dict(_) => {}
                        CompressedPage::Data(data) => match data.header() {
                            DataPageHeader::V1(h) => {
                                values += count("page value count", i64::from(h.num_values))?;
                            }
                            DataPageHeader::V2(h) => {
                                values += count("page value count", i64::from(h.num_values))?;
                                count("page row count", i64::from(h.num_rows))?;
                                count("page null count", i64::from(h.num_nulls))?;
                            }
                        },
                    }
                }
                if values != group_rows {
                    return Err(format!(
                        "row group {index} holds {group_rows} rows but the pages of `{name}` \
                         hold {values} values: a corrupt file?"
                    ));
                }
            }
        }
    }
    if rows != metadata.num_rows {
        return Err(format!(
            "the footer says {} rows but its row groups hold {rows}: a corrupt file?",
            metadata.num_rows
        ));
    }
    Ok(())
}

/// What is wrong with a Parquet column: the whole of it, or one row (from 0).
enum Problem {
    Column(String),
    Row(usize, String),
}

/// Every cell of `cells` through `check`, or the first row that fails
/// (a null is an empty cell).
fn checked<T, U>(
    cells: impl Iterator<Item = Option<T>>,
    what: &str,
    check: impl Fn(T) -> Result<U, String>,
) -> Result<Vec<U>, Problem> {
    cells
        .enumerate()
        .map(|(row, cell)| {
            cell.ok_or_else(|| format!("empty (null) {what}"))
                .and_then(&check)
                .map_err(|problem| Problem::Row(row, problem))
        })
        .collect()
}

/// The value column as checked loads: text is parsed as in CSV, numbers
/// are widened to `f64`; a missing one (null, NaN, empty text) is `None`.
fn parquet_values(column: &Column) -> Result<Vec<Option<f64>>, Problem> {
    let whole = |e: PolarsError| Problem::Column(e.to_string());
    match column.dtype() {
        DataType::String => checked(
            column
                .str()
                .map_err(whole)?
                .iter()
                .map(|c| Some(c.filter(|&c| !missing(Some(c))))),
            "value",
            |cell: Option<&str>| cell.map(parse_value).transpose(),
        ),
        dtype if dtype.is_primitive_numeric() => {
            let numbers = column.cast(&DataType::Float64).map_err(whole)?;
            checked(
                numbers
                    .f64()
                    .map_err(whole)?
                    .iter()
                    .map(|v| Some(v.filter(|v| !v.is_nan()))),
                "value",
                |v: Option<f64>| {
                    v.map(|v| check_value(v).map_err(|p| format!("value {v} {p}")))
                        .transpose()
                },
            )
        }
        other => Err(Problem::Column(format!(
            "column `value` has type {other}; expected numbers or text"
        ))),
    }
}

/// The timestamp column as unix seconds.
fn parquet_timestamps(column: &Column) -> Result<Vec<i64>, Problem> {
    let whole = |e: PolarsError| Problem::Column(e.to_string());
    let per_second = match column.dtype() {
        DataType::Datetime(TimeUnit::Nanoseconds, _) => 1_000_000_000,
        DataType::Datetime(TimeUnit::Microseconds, _) => 1_000_000,
        DataType::Datetime(TimeUnit::Milliseconds, _) => 1_000,
        DataType::String => {
            return checked(
                column.str().map_err(whole)?.iter(),
                "timestamp",
                parse_timestamp,
            )
        }
        dtype if dtype.is_integer() => 1,
        dtype if dtype.is_float() => {
            let secs = column.cast(&DataType::Float64).map_err(whole)?;
            return checked(secs.f64().map_err(whole)?.iter(), "timestamp", |t| {
                parse_timestamp(&t.to_string())
            });
        }
        other => {
            return Err(Problem::Column(format!(
                "column `timestamp` has type {other}; expected a datetime, unix seconds or text"
            )))
        }
    };
    let ticks = column.cast(&DataType::Int64).map_err(whole)?;
    checked(ticks.i64().map_err(whole)?.iter(), "timestamp", |t| {
        check_timestamp(t.div_euclid(per_second))
    })
}

/// Writes samples as CSV `timestamp,value` (RFC3339 UTC, shortest exact
/// decimal), atomically: a reader never sees half a file.
pub fn write_csv(path: &Path, samples: &[Sample]) -> std::io::Result<()> {
    let mut text = String::with_capacity(32 * (samples.len() + 1));
    text.push_str("timestamp,value\n");
    for sample in samples {
        text.push_str(&format_timestamp(sample.ts));
        text.push(',');
        text.push_str(&sample.value.to_string());
        text.push('\n');
    }
    crate::edge::atomic::write_atomically(path, |file| file.write_all(text.as_bytes()))
}

/// Writes samples as Parquet: `timestamp` a datetime (milliseconds, UTC),
/// `value` a double. Atomic as [`write_csv`].
pub fn write_parquet(path: &Path, samples: &[Sample]) -> std::io::Result<()> {
    let timestamps: Vec<i64> = samples.iter().map(|s| s.ts).collect();
    let values = samples.iter().map(|s| Some(s.value)).collect();
    write_table_parquet(path, &timestamps, vec![("value", values)])
}

/// Writes a table as Parquet: `timestamp` (seconds in, a datetime in
/// milliseconds out, UTC) and nullable double columns (`None` is null).
/// Atomic as [`write_csv`].
pub fn write_table_parquet(
    path: &Path,
    timestamps: &[i64],
    columns: Vec<(&str, Vec<Option<f64>>)>,
) -> std::io::Result<()> {
    let to_io = |e: PolarsError| std::io::Error::other(e.to_string());
    let millis: Vec<i64> = timestamps.iter().map(|t| t * 1000).collect();
    // Marked UTC, so that readers take the times as instants (Parquet's
    // isAdjustedToUTC), not as wall-clock times of some unknown zone.
    let mut all = vec![Column::from(
        polars::prelude::Series::new("timestamp".into(), millis)
            .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
    )];
    for (name, values) in columns {
        all.push(Column::new(name.into(), values));
    }
    let mut frame = DataFrame::new_infer_height(all).map_err(to_io)?;
    crate::edge::atomic::write_atomically(path, |file| {
        ParquetWriter::new(file)
            .finish(&mut frame)
            .map(|_| ())
            .map_err(to_io)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<RawSeries, SourceError> {
        parse_csv(Path::new("load.csv"), text.to_vec())
    }

    #[test]
    fn timestamps_given_twice_with_different_values_are_found() {
        let sample = |ts, value| Sample { ts, value };
        let sorted = [sample(0, 1.0), sample(60, 2.0), sample(120, 3.0)];
        assert_eq!(conflicting_timestamps(&sorted), None);
        // The same value twice is a repeated row, not two series.
        let repeated = [sample(0, 1.0), sample(60, 2.0), sample(60, 2.0)];
        assert_eq!(conflicting_timestamps(&repeated), None);
        let appended = [
            sample(0, 1.0),
            sample(60, 2.0),
            sample(120, 3.0),
            sample(60, 5000.0),
            sample(120, 5000.0),
        ];
        assert_eq!(conflicting_timestamps(&appended), Some((2, 60)));
    }

    #[test]
    fn reads_all_timestamp_forms_and_crlf() {
        let raw = parse(
            b"timestamp,value\r\n2015-04-22T10:00:00Z,1.5\r\n2015-04-22 10:05:00,2\r\n1429697100,3\r\n",
        )
        .unwrap();
        let ts: Vec<i64> = raw.samples.iter().map(|s| s.ts).collect();
        assert_eq!(ts, [1_429_696_800, 1_429_697_100, 1_429_697_100]);
        assert_eq!(raw.samples[0].value, 1.5);
    }

    #[test]
    fn a_missing_value_is_a_gap_not_a_bad_row() {
        // Empty, NaN and null, as pandas, Grafana and Prometheus write a
        // missing sample: left out, the rows around them kept.
        let raw =
            parse(b"timestamp,value\n60,1\n120,\n180,NaN\n240,null\n300,nan\n360,2\n").unwrap();
        let kept: Vec<(i64, f64)> = raw.samples.iter().map(|s| (s.ts, s.value)).collect();
        assert_eq!(kept, [(60, 1.0), (360, 2.0)]);
    }

    #[test]
    fn a_utf8_byte_order_mark_is_accepted() {
        let raw = parse(b"\xEF\xBB\xBFtimestamp,value\n1429696800,2\n").unwrap();
        assert_eq!(raw.samples.len(), 1);
    }

    #[test]
    fn extra_columns_and_column_order_do_not_matter() {
        let raw = parse(b"value,host,timestamp\n4,a,1429696800\n").unwrap();
        assert_eq!(
            raw.samples,
            [Sample {
                ts: 1_429_696_800,
                value: 4.0
            }]
        );
    }

    #[test]
    fn one_read_names_the_first_bad_rows_and_counts_them_all() {
        use std::fmt::Write as _;
        let mut input = String::from("timestamp,value\n");
        for i in 0..100 {
            let value = match i {
                10 => "abc".to_string(),
                20 => "-5".to_string(),
                30..=33 => "1e300".to_string(),
                _ => "1".to_string(),
            };
            let _ = writeln!(input, "{},{value}", 1_700_000_000 + i * 60);
        }
        let err = parse(input.as_bytes()).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "line 12: cannot parse value `abc`: expected a decimal number; line 22: value `-5` is negative: load must be 0 or more; line 32: value `1e300` is above 1e15: no load is that large (a unit or export mistake?) (6 bad rows in all)"
            ),
            "{err}"
        );
    }

    #[test]
    fn each_bad_cell_names_its_line_and_value() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"timestamp,value\n1,1\nnoon,2\n",
                "line 3: cannot parse timestamp `noon`",
            ),
            (
                b"timestamp,value\n1,abc\n",
                "line 2: cannot parse value `abc`",
            ),
            (
                b"timestamp,value\n1,inf\n",
                "line 2: value `inf` is not finite",
            ),
            (b"timestamp,value\n1,-3\n", "line 2: value `-3` is negative"),
            (b"timestamp,value\n,1\n", "line 2: empty timestamp"),
        ];
        for (input, expected) in cases {
            let err = parse(input).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
            assert!(err.starts_with("load.csv"), "{err}");
        }
    }

    #[test]
    fn padded_headers_blank_lines_and_ragged_rows() {
        let raw = parse(b"timestamp , value\n1,2\n\n3,4\n").unwrap();
        assert_eq!(raw.samples.len(), 2);
        let err = parse(b"timestamp,value\n1,2\n\n3,x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4: cannot parse value `x`"), "{err}");
        let err = parse(b"timestamp,value\n1,2\n3,4,5\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3: has 3 fields, the header `timestamp,value` has 2"),
            "{err}"
        );
    }

    #[test]
    fn whitespace_lines_are_blank_and_quoted_cells_are_short_and_visible() {
        let raw = parse(b"timestamp,value\n1,2\n   \n3,4\n").unwrap();
        assert_eq!(raw.samples.len(), 2);
        let err = parse(b"timestamp,value\n1,3\0\0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: cannot parse value `3\\0\\0`"),
            "{err}"
        );
        let long = format!("timestamp,value\n1,{}\n", "9".repeat(5000) + "x");
        let err = parse(long.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("… (5001 characters)"), "{err}");
        assert!(err.len() < 300, "{err}");
        let err = parse(b"timestamp,value\n0000-01-01T00:00:00Z,1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the years 1653 to 2286"), "{err}");
    }

    #[test]
    fn an_unclosed_quote_is_named_by_its_line() {
        let err = parse(b"timestamp,value\n1,2\n2,\"3\n3,4\n4,5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: a double quote"), "{err}");
    }

    #[test]
    fn structural_problems_are_named() {
        let err = parse(b"").unwrap_err().to_string();
        assert!(err.contains("file is empty"), "{err}");
        let err = parse(b"timestamp,value\n").unwrap_err().to_string();
        assert!(err.contains("no data rows"), "{err}");
        let err = parse(b"timestamp,value\n\n\n").unwrap_err().to_string();
        assert!(err.contains("no data rows"), "{err}");
        let err = parse(b"time,load\n1,2\n").unwrap_err().to_string();
        assert!(err.contains("missing column `timestamp`"), "{err}");
        // A semicolon export says so; its quotes are shown as they are.
        let err = parse(b"\"timestamp\";\"value\"\n1;2\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the header is `\"timestamp\";\"value\"`")
                && err.contains("separated by `;`"),
            "{err}"
        );
        let err = parse(b"2015-04-22T10:00:00Z,3\n").unwrap_err().to_string();
        assert!(err.contains("missing column"), "{err}");
        let err = parse(b"timestamp,value\n1,2\n2,\xff\xfe\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: bytes are not valid UTF-8"), "{err}");
    }

    #[test]
    fn a_file_named_as_the_other_format_is_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let parquet = dir.path().join("load.parquet");
        write_parquet(
            &parquet,
            &[Sample { ts: 0, value: 1.0 }, Sample { ts: 60, value: 2.0 }],
        )
        .unwrap();
        let named_csv = dir.path().join("load.csv");
        std::fs::copy(&parquet, &named_csv).unwrap();
        let err = read_file(&named_csv).unwrap_err().to_string();
        assert!(
            err.contains("is a Parquet file by its content (named as CSV")
                && err.contains("rename it to .parquet"),
            "{err}"
        );
        let text = dir.path().join("text.parquet");
        std::fs::write(&text, "timestamp,value\n2015-01-01T00:00:00Z,3\n").unwrap();
        let err = read_file(&text).unwrap_err().to_string();
        assert!(
            err.contains("is a CSV file by its content") && err.contains("rename it to .csv"),
            "{err}"
        );
        // Parquet as named still reads.
        assert_eq!(read_file(&parquet).unwrap().samples.len(), 2);
    }
}
