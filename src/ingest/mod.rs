//! Stage 1, ingest: every extract in the inbox into typed Parquet in bronze,
//! every row accounted for.
//!
//! For each file `<dataset>_<YYYYMMDD>.csv|.parquet`:
//! - the header is checked against the contract; a file missing a required
//!   column, not UTF-8, or not CSV/Parquet at all is refused whole (nothing of
//!   it is written) with a one-line reason naming the file and column;
//! - each row is validated column by column in contract order
//!   ([`validate::validate_row`]); the first failure sends it to
//!   `rejects` with its line, column, reason code and raw text;
//! - accepted rows go to `bronze/<dataset>/<extract>.parquet` with
//!   `_source_file`, `_source_line` and `_extract_date` on every row;
//! - input rows = accepted + rejected is checked for every file.

mod validate;

pub use validate::{parse_cell, validate_row, CellError, ParsedRow, RowError, Value};

use crate::contract::{self, Dataset, Kind, Reason};
use crate::lake::ledger::{hash_file, Ledger, LedgerEntry, Stamp};
use crate::lake::{Lake, ParquetFile};
use crate::reference::Reference;
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use polars::prelude::{DataType, Int32Chunked, IntoColumn, IntoSeries, NamedFrom, NewChunkedArray, PlSmallStr, Series, StringChunked};
use polars::prelude::DataFrame;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Accepted rows buffered before a Parquet row group is written.
const CHUNK_ROWS: usize = 256 * 1024;

/// An input file recognised by its name.
#[derive(Clone, Debug)]
pub struct Extract {
    pub path: PathBuf,
    pub dataset: &'static Dataset,
    /// The extract's name in the lake: the file stem (`tax_wages_20200608`),
    /// with `.v<N>` for the N-th different content under the same file name.
    pub name: String,
    /// 1 for the first content seen under this file name (see the ledger).
    pub version: u32,
    pub extract_date: NaiveDate,
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

/// What happened to one input file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub dataset: String,
    pub file: String,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Set when the file was refused whole; nothing of it was loaded.
    pub refused: Option<String>,
    /// Optional contract columns the file's header does not have: their
    /// values are null in bronze, and the rules that read them see unknowns
    /// (a tax_wages file without `contract` has no compulsory wages).
    pub absent_columns: Vec<String>,
    /// Set when this exact content was ingested before (the earlier run's id).
    pub skipped: Option<String>,
    /// Extract version in the lake (a changed file under a known name is a new version).
    pub version: u32,
    pub blake3: String,
    pub bytes: u64,
    /// The file's size and modification time when it was read (or found
    /// unchanged); the ledger remembers it.
    pub stamp: Stamp,
    /// Whether the content was hashed this run (false: known by its stamp).
    pub hashed: bool,
    pub seconds: f64,
}

#[derive(Clone, Debug, Default)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    /// Files in the inbox that are not named like a contract extract.
    pub ignored: Vec<String>,
}

impl IngestReport {
    pub fn refused(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.refused.is_some())
    }
    pub fn skipped(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.skipped.is_some())
    }
    pub fn totals(&self) -> (u64, u64, u64) {
        self.files.iter().fold((0, 0, 0), |(r, a, j), f| (r + f.rows, a + f.accepted, j + f.rejected))
    }
}

/// Recognises `<dataset>_<YYYYMMDD>.csv|.parquet`.
pub fn recognise(path: &Path) -> Option<Extract> {
    let file = path.file_name()?.to_str()?;
    let (stem, format) = if let Some(s) = file.strip_suffix(".csv") {
        (s, Format::Csv)
    } else if let Some(s) = file.strip_suffix(".parquet") {
        (s, Format::Parquet)
    } else {
        return None;
    };
    let (name, date) = stem.rsplit_once('_')?;
    if date.len() != 8 || !date.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let extract_date = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
    Some(Extract {
        path: path.to_path_buf(),
        dataset: contract::dataset(name)?,
        name: stem.to_string(),
        version: 1,
        extract_date,
        format,
    })
}

/// Lists the inbox: recognised extracts (sorted by name) and the other files.
pub fn scan_inbox(inbox: &Path) -> Result<(Vec<Extract>, Vec<String>)> {
    let mut extracts = Vec::new();
    let mut ignored = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(inbox)
        .with_context(|| format!("reading inbox {}", inbox.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for path in entries.into_iter().filter(|p| p.is_file()) {
        match recognise(&path) {
            Some(x) => extracts.push(x),
            None => ignored.push(path.file_name().unwrap_or_default().to_string_lossy().into_owned()),
        }
    }
    Ok((extracts, ignored))
}

/// Runs `work` on every extract, `threads` files at a time, the largest
/// file first; results in the extracts' order.
///
/// Largest first: the run takes as long as its longest lane, and a lane
/// that begins the biggest file last (`tax_wages` sorts last by name) ends
/// long after the others have run dry.
fn each_file<T: Send>(extracts: &[Extract], threads: usize, work: impl Fn(&Extract) -> T + Sync) -> Vec<T> {
    // A file whose size cannot be read counts as empty: opening it reports the error.
    let order = crate::lake::heaviest_first(extracts.iter().map(|x| std::fs::metadata(&x.path).map_or(0, |m| m.len())).collect());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(extracts.len().max(1)) {
            s.spawn(|| loop {
                let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                let Some(x) = extracts.get(i) else { break };
                let r = work(x);
                results.lock().expect("no poisoned lock").push((i, r));
            });
        }
    });
    let mut results = results.into_inner().expect("no poisoned lock");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The I/O floor of a run: reads every extract of the inbox once, `threads`
/// files at a time as ingest does, and counts its rows (CSV records parsed,
/// nothing validated or written; Parquet row counts from the file). Returns
/// (file name, rows, bytes) per extract.
pub fn scan_only(inbox: &Path, threads: usize) -> Result<Vec<(String, u64, u64)>> {
    let (extracts, _) = scan_inbox(inbox)?;
    each_file(&extracts, threads, |x| -> Result<(String, u64, u64)> {
        let name = x.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let bytes = std::fs::metadata(&x.path)?.len();
        let rows = match x.format {
            Format::Csv => {
                let f = std::fs::File::open(&x.path).with_context(|| format!("opening {}", x.path.display()))?;
                let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(std::io::BufReader::with_capacity(1 << 20, f));
                let mut rec = csv::ByteRecord::new();
                let mut n = 0u64;
                while r.read_byte_record(&mut rec).with_context(|| format!("reading {}", x.path.display()))? {
                    n += 1;
                }
                n
            }
            Format::Parquet => {
                let df = crate::lake::scan_parquet(std::slice::from_ref(&x.path))?.select([polars::prelude::len().alias("n")]).collect()?;
                u64::from(df.column("n")?.u32()?.get(0).unwrap_or(0))
            }
        };
        Ok((name, rows, bytes))
    })
    .into_iter()
    .collect()
}

/// Ingests every extract of the inbox into the lake, `threads` files at a
/// time. Files already in the ledger with the same content are skipped; what
/// is ingested is recorded in the ledger under `run_id`.
pub fn run(
    inbox: &Path,
    lake: &Lake,
    reference: &Reference,
    threads: usize,
    ledger: &mut Ledger,
    run_id: &str,
    progress: &indicatif::ProgressBar,
) -> Result<IngestReport> {
    let (extracts, ignored) = scan_inbox(inbox)?;
    let known: &Ledger = ledger;
    let files = each_file(&extracts, threads, |x| {
        progress.set_message(x.name.clone());
        let r = ingest_new(x, lake, reference, known);
        progress.inc(1);
        r
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    let now = chrono::Utc::now().to_rfc3339();
    for (x, f) in extracts.iter().zip(&files) {
        if f.refused.is_none() && f.skipped.is_none() {
            ledger.record(LedgerEntry {
                file: f.file.clone(),
                dataset: f.dataset.clone(),
                extract: versioned_name(&x.name, f.version),
                version: f.version,
                blake3: f.blake3.clone(),
                bytes: f.bytes,
                rows: f.rows,
                accepted: f.accepted,
                rejected: f.rejected,
                ingested_at: now.clone(),
                run_id: run_id.to_string(),
                modified_ns: f.stamp.modified_ns,
            });
        } else if f.skipped.is_some() && f.hashed {
            ledger.restamp(&f.file, &f.blake3, &f.stamp);
        }
    }
    ledger.save()?;
    Ok(IngestReport { files, ignored })
}

fn versioned_name(stem: &str, version: u32) -> String {
    if version <= 1 {
        stem.to_string()
    } else {
        format!("{stem}.v{version}")
    }
}

/// Skips the file if the ledger has its content (known by its stamp, or by
/// its hash when the ledger has had its size), else ingests it as the next
/// version of its name, publishing it once its hash is checked.
fn ingest_new(x: &Extract, lake: &Lake, reference: &Reference, ledger: &Ledger) -> Result<FileReport> {
    let file = x.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    // Taken before the content is read: a write during the hash moves the
    // time past what is remembered, and the next run reads the file again.
    let stamp = Stamp::of(&x.path)?;
    let skip = |seen: &LedgerEntry, blake3: String, bytes: u64, hashed: bool| FileReport {
        dataset: x.dataset.name.to_string(),
        file: file.clone(),
        skipped: Some(seen.run_id.clone()),
        version: seen.version,
        blake3,
        bytes,
        stamp,
        hashed,
        ..Default::default()
    };
    if let Some(seen) = ledger.find_unchanged(&file, &stamp) {
        return Ok(skip(seen, seen.blake3.clone(), seen.bytes, false));
    }
    // A file the ledger has had at this size may be a copy of known content:
    // hashed first, so that a copy is skipped without being loaded. Any
    // other is new content, hashed as it is loaded, so that it is read from
    // disk once (at 16M people the inbox, 23 GB, does not fit in the page
    // cache beside the run: hashed first, it was read from disk twice).
    if ledger.knows_size(&file, stamp.bytes) {
        let (blake3, bytes) = hash_file(&x.path)?;
        if let Some(seen) = ledger.find(&file, &blake3) {
            return Ok(skip(seen, blake3, bytes, true));
        }
    }
    let version = ledger.next_version(&file);
    let x = Extract { name: versioned_name(&x.name, version), version, ..x.clone() };
    let (mut report, written, (blake3, bytes)) = ingest_extract(&x, lake, reference)?;
    if let Some(seen) = ledger.find(&file, &blake3) {
        // Known content after all (the file was rewritten while it was
        // read): what was loaded is dropped unpublished.
        drop(written);
        return Ok(skip(seen, blake3, bytes, true));
    }
    if let Some(w) = written {
        w.publish()?;
    }
    (report.version, report.blake3, report.bytes, report.stamp, report.hashed) = (version, blake3, bytes, stamp, true);
    Ok(report)
}

/// Loads one extract, publishing nothing yet: the report, the bronze and
/// rejects files written (none when the file was refused) and the file's
/// content hash and size. `Err` is an internal failure (I/O); a file that
/// breaks the contract comes back `Ok` with `refused` set.
fn ingest_extract(x: &Extract, lake: &Lake, reference: &Reference) -> Result<(FileReport, Option<Written>, (String, u64))> {
    let start = Instant::now();
    let file = x.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let is_province = |c: &str| reference.is_province(c);
    let (outcome, content) = match x.format {
        Format::Csv => {
            let f = std::fs::File::open(&x.path).with_context(|| format!("opening {}", x.path.display()))?;
            let (f, seen) = Hashing::new(f);
            let outcome = load_csv(f, x, &file, lake, &is_province)?;
            // A file loaded whole was read to its end: the hash is of exactly
            // the bytes loaded (a write since moved its time, so the next run
            // reads it again). A refused file stopped partway: the rest of it
            // is hashed for the report.
            let content = match outcome {
                Outcome::Loaded { .. } => seen.hashed(),
                Outcome::Refused(_) => seen.finish(&x.path)?,
            };
            (outcome, content)
        }
        // A Parquet file is read by its footer and column chunks, not from
        // the first byte to the last: hashed on its own, first, so that the
        // hash is of the content loaded or of an earlier one (then the
        // file's time moved, and the next run reads it again).
        Format::Parquet => {
            let content = hash_file(&x.path)?;
            (load_parquet(x, &file, lake, &is_province)?, content)
        }
    };
    let mut report = FileReport { dataset: x.dataset.name.to_string(), file, seconds: 0.0, ..Default::default() };
    let written = match outcome {
        Outcome::Refused(why) => {
            report.refused = Some(why);
            None
        }
        Outcome::Loaded { rows, accepted, rejected, absent, written } => {
            if rows != accepted + rejected {
                bail!("{}: {rows} rows read but {accepted} accepted + {rejected} rejected", report.file);
            }
            (report.rows, report.accepted, report.rejected) = (rows, accepted, rejected);
            report.absent_columns = absent;
            Some(written)
        }
    };
    report.seconds = start.elapsed().as_secs_f64();
    Ok((report, written, content))
}

enum Outcome {
    Loaded { rows: u64, accepted: u64, rejected: u64, absent: Vec<String>, written: Written },
    Refused(String),
}

/// A loaded extract's bronze and rejects files, written under temporary
/// names: published by [`Written::publish`], deleted if dropped.
struct Written {
    bronze: ParquetFile,
    rejects: ParquetFile,
}

impl Written {
    fn publish(self) -> Result<()> {
        self.bronze.commit()?;
        self.rejects.commit()
    }
}

/// What a [`Hashing`] reader has handed on: the BLAKE3 state and the bytes.
type Seen = std::rc::Rc<std::cell::RefCell<(blake3::Hasher, u64)>>;

/// A reader that hashes the bytes it hands on, so that a file is read once
/// for both its rows and its content hash.
struct Hashing<R> {
    inner: R,
    seen: Seen,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> (Hashing<R>, HashingSeen) {
        let seen = Seen::default();
        (Hashing { inner, seen: seen.clone() }, HashingSeen(seen))
    }
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seen = self.seen.borrow_mut();
        seen.0.update(&buf[..n]);
        seen.1 += n as u64;
        Ok(n)
    }
}

/// The other end of a [`Hashing`] reader.
struct HashingSeen(Seen);

impl HashingSeen {
    /// The hash and size of the bytes the reader handed on.
    fn hashed(self) -> (String, u64) {
        let (hasher, bytes) = &*self.0.borrow();
        (hasher.finalize().to_hex().to_string(), *bytes)
    }

    /// The hash and size of the whole file at `path`: the bytes the reader
    /// handed on, then the rest of the file (a refused file is not read to
    /// its end).
    fn finish(self, path: &Path) -> Result<(String, u64)> {
        use std::io::{Seek, SeekFrom};
        let (mut hasher, bytes) = std::mem::take(&mut *self.0.borrow_mut());
        let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        f.seek(SeekFrom::Start(bytes))?;
        let rest = crate::lake::ledger::hash_rest(f, &mut hasher)?;
        Ok((hasher.finalize().to_hex().to_string(), bytes + rest))
    }
}

/// Where each contract column sits in the file's header.
struct HeaderMap {
    /// For each contract column, its index in the file (None: absent, optional).
    contract: Vec<Option<usize>>,
    /// Columns the contract does not know: kept through to bronze as text.
    extra: Vec<(usize, String)>,
    width: usize,
}

fn map_header(dataset: &Dataset, header: &[String], file: &str) -> Result<HeaderMap, String> {
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            return Err(format!("{file}: header column {} has no name", i + 1));
        }
        if header[..i].contains(h) {
            return Err(format!("{file}: column {h} appears twice in the header"));
        }
        if dataset.column(h).is_none() && generated_column(dataset, h) {
            return Err(format!(
                "{file}: column {h} is a name ingest writes itself (lineage columns and each name's _raw); rename it in the extract"
            ));
        }
    }
    let mut contract = Vec::with_capacity(dataset.columns.len());
    for c in dataset.columns {
        let at = header.iter().position(|h| h == c.name);
        if at.is_none() && c.required {
            return Err(format!("{file}: required column {} is missing from the header", c.name));
        }
        contract.push(at);
    }
    let extra = header
        .iter()
        .enumerate()
        .filter(|(_, h)| dataset.column(h).is_none())
        .map(|(i, h)| (i, h.clone()))
        .collect();
    Ok(HeaderMap { contract, extra, width: header.len() })
}

/// Lineage columns ingest adds to every bronze row ([`Loader::chunk`]):
/// (name, type, meaning), as the data dictionary lists them.
pub const LINEAGE: [(&str, &str, &str); 4] = [
    ("_source_file", "string", "Input file the row came from"),
    ("_source_line", "int64", "Physical line in that file (header = 1); for Parquet extracts the 1-based row number"),
    ("_extract_date", "date", "Extraction date from the file name"),
    ("_extract_version", "int64", "1, or N for the N-th different content delivered under the same file name"),
];

/// Whether `name` is a column ingest writes itself: a lineage column, or
/// the `_raw` twin of a name column. An unknown extract column of that name
/// would collide with it in bronze, so the file is refused with a reason
/// rather than failing the run.
fn generated_column(dataset: &Dataset, name: &str) -> bool {
    LINEAGE.iter().any(|(c, _, _)| *c == name)
        || dataset.columns.iter().any(|c| c.kind == Kind::Name && name.strip_suffix("_raw") == Some(c.name))
}

/// Column buffers for one chunk of accepted rows.
#[derive(Clone)]
enum Buffer {
    Str(Texts),
    Int(Vec<Option<i64>>),
    Date(Vec<Option<i32>>),
    Bool(Vec<Option<bool>>),
}

impl Buffer {
    fn for_kind(kind: Kind) -> Buffer {
        match kind {
            Kind::Date | Kind::Month => Buffer::Date(Vec::new()),
            Kind::Money { .. } | Kind::Int { .. } | Kind::IntOneOf(_) => Buffer::Int(Vec::new()),
            Kind::Bool => Buffer::Bool(Vec::new()),
            _ => Buffer::Str(Texts::default()),
        }
    }
    fn push(&mut self, v: Value<'_>) {
        match (self, v) {
            (Buffer::Str(b), Value::Str(s)) => b.push(Some(&s)),
            (Buffer::Str(b), Value::Null) => b.push(None),
            (Buffer::Int(b), Value::Int(n)) => b.push(Some(n)),
            (Buffer::Int(b), Value::Null) => b.push(None),
            (Buffer::Date(b), Value::Date(d)) => b.push(Some(days(d))),
            (Buffer::Date(b), Value::Month(m)) => b.push(Some(days(m.first_day()))),
            (Buffer::Date(b), Value::Null) => b.push(None),
            (Buffer::Bool(b), Value::Bool(x)) => b.push(Some(x)),
            (Buffer::Bool(b), Value::Null) => b.push(None),
            (_, v) => unreachable!("value {v:?} does not fit its column buffer"),
        }
    }
    /// A text cell as it is (`None`: null).
    fn push_text(&mut self, v: Option<&str>) {
        match self {
            Buffer::Str(b) => b.push(v),
            _ => unreachable!("a text cell goes to a text column"),
        }
    }
    /// Appends `other`'s values (a buffer of the same column).
    fn append(&mut self, other: Buffer) {
        match (self, other) {
            (Buffer::Str(a), Buffer::Str(b)) => a.append(b),
            (Buffer::Int(a), Buffer::Int(b)) => a.extend(b),
            (Buffer::Date(a), Buffer::Date(b)) => a.extend(b),
            (Buffer::Bool(a), Buffer::Bool(b)) => a.extend(b),
            _ => unreachable!("buffers of one column have one type"),
        }
    }
    /// The first `n` values as a column; the rest stay.
    fn take(&mut self, name: &str, n: usize) -> polars::prelude::Column {
        fn front<T>(b: &mut Vec<T>, n: usize) -> Vec<T> {
            let rest = b.split_off(n.min(b.len()));
            std::mem::replace(b, rest)
        }
        let name = name.into();
        match self {
            Buffer::Str(b) => b.take(name, n).into_column(),
            Buffer::Int(b) => Series::new(name, front(b, n)).into_column(),
            Buffer::Bool(b) => Series::new(name, front(b, n)).into_column(),
            Buffer::Date(b) => Int32Chunked::new(name, front(b, n))
                .into_series()
                .cast(&DataType::Date)
                .expect("Int32 casts to Date")
                .into_column(),
        }
    }
}

/// Text cells back to back in one string, with where each ends and whether
/// it is null: one allocation for a column of many rows, not one per cell.
#[derive(Clone, Default)]
struct Texts {
    bytes: String,
    ends: Vec<usize>,
    valid: Vec<bool>,
}

impl Texts {
    fn push(&mut self, v: Option<&str>) {
        if let Some(s) = v {
            self.bytes.push_str(s);
        }
        self.ends.push(self.bytes.len());
        self.valid.push(v.is_some());
    }
    fn get(&self, i: usize) -> Option<&str> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.valid[i].then(|| &self.bytes[start..self.ends[i]])
    }
    fn append(&mut self, other: Texts) {
        let base = self.bytes.len();
        self.bytes.push_str(&other.bytes);
        self.ends.extend(other.ends.into_iter().map(|e| e + base));
        self.valid.extend(other.valid);
    }
    /// The first `n` cells as a column; the rest stay.
    fn take(&mut self, name: PlSmallStr, n: usize) -> Series {
        let n = n.min(self.ends.len());
        let ca = StringChunked::from_iter_options(name, (0..n).map(|i| self.get(i)));
        let cut = if n == 0 { 0 } else { self.ends[n - 1] };
        self.bytes.drain(..cut);
        self.ends.drain(..n);
        self.ends.iter_mut().for_each(|e| *e -= cut);
        self.valid.drain(..n);
        ca.into_series()
    }
}

pub fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// Input records validated as one piece, apart from the other pieces.
const PIECE_ROWS: usize = 16 * 1024;
/// Pieces read before they are validated side by side on the rayon pool:
/// a file's lane reads records alone (the cheap part), then every core
/// validates. One lane used to validate the largest file (`tax_wages`)
/// alone while the other ran dry.
const PIECES_AT_ONCE: usize = 8;

/// The records of an extract as validation sees them.
trait Rows: Sync {
    /// Physical line of record `i` (for Parquet, its 1-based row number).
    fn line(&self, i: usize) -> u64;
    /// Record `i`'s fields as text into `out`, or why the whole file is refused.
    fn fields<'s>(&'s self, i: usize, out: &mut Vec<&'s str>) -> Result<(), String>;
    /// Record `i` as text, for the rejects table.
    fn raw(&self, i: usize) -> String;
}

/// How a file's records become bronze columns: shared by every piece.
struct Layout<'a> {
    dataset: &'static Dataset,
    header: HeaderMap,
    is_province: &'a (dyn Fn(&str) -> bool + Sync),
    /// Output column names, in order.
    names: Vec<String>,
    /// An empty buffer for each output column.
    empty: Vec<Buffer>,
    /// For each contract column, its index in the output; Name columns also have `+1` = raw.
    slots: Vec<usize>,
    extra_slots: Vec<usize>,
}

/// The accepted rows and rejects of one piece of records, in order.
struct Piece {
    columns: Vec<Buffer>,
    lines: Vec<i64>,
    rejects: Rejects,
    rows: u64,
    /// Set when a record makes the whole file refused (the piece stops there).
    refused: Option<String>,
}

impl<'a> Layout<'a> {
    fn new(dataset: &'static Dataset, header: HeaderMap, is_province: &'a (dyn Fn(&str) -> bool + Sync)) -> Layout<'a> {
        let (mut names, mut empty, mut slots, mut extra_slots) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for c in dataset.columns {
            slots.push(names.len());
            names.push(c.name.to_string());
            empty.push(Buffer::for_kind(c.kind));
            if c.kind == Kind::Name {
                names.push(format!("{}_raw", c.name));
                empty.push(Buffer::Str(Texts::default()));
            }
        }
        for (_, name) in &header.extra {
            extra_slots.push(names.len());
            names.push(name.clone());
            empty.push(Buffer::Str(Texts::default()));
        }
        Layout { dataset, header, is_province, names, empty, slots, extra_slots }
    }

    /// Validates records `range` of `rows`.
    fn validate<R: Rows>(&self, rows: &R, range: std::ops::Range<usize>) -> Piece {
        let mut p = Piece { columns: self.empty.clone(), lines: Vec::new(), rejects: Rejects::default(), rows: 0, refused: None };
        let map = &self.header.contract;
        let mut fields: Vec<&str> = Vec::new();
        let mut values = Vec::new();
        for i in range {
            fields.clear();
            if let Err(why) = rows.fields(i, &mut fields) {
                p.refused = Some(why);
                break;
            }
            p.rows += 1;
            let line = rows.line(i);
            if fields.len() != self.header.width {
                let msg = format!("{} fields where the header has {}", fields.len(), self.header.width);
                p.rejects.push(line, None, Reason::MalformedRow, msg, rows.raw(i));
                continue;
            }
            match validate_row(self.dataset, |c| map[c].map(|h| fields[h]), self.is_province, &mut values) {
                Err(e) => p.rejects.push(line, e.column, e.reason, e.message, rows.raw(i)),
                Ok(()) => {
                    for (c, (column, v)) in self.dataset.columns.iter().zip(values.drain(..)).enumerate() {
                        let slot = self.slots[c];
                        p.columns[slot].push(v);
                        if column.kind == Kind::Name {
                            p.columns[slot + 1].push_text(map[c].map(|h| fields[h]));
                        }
                    }
                    for (k, (h, _)) in self.header.extra.iter().enumerate() {
                        let v = fields[*h];
                        p.columns[self.extra_slots[k]].push_text((!v.is_empty()).then_some(v));
                    }
                    p.lines.push(line as i64);
                }
            }
        }
        p
    }
}

/// Validates rows and accumulates accepted rows and rejects for one file.
struct Loader<'a> {
    x: &'a Extract,
    lake: &'a Lake,
    file: &'a str,
    layout: Layout<'a>,
    /// Accepted rows not yet written, one buffer per output column.
    columns: Vec<Buffer>,
    lines: Vec<i64>,
    out: Option<ParquetFile>,
    rejects: Rejects,
    rows: u64,
    accepted: u64,
}

#[derive(Default)]
struct Rejects {
    line: Vec<i64>,
    column: Vec<Option<&'static str>>,
    reason: Vec<&'static str>,
    message: Vec<String>,
    raw: Vec<String>,
}

impl Rejects {
    fn push(&mut self, line: u64, column: Option<&'static str>, reason: Reason, message: String, raw: String) {
        self.line.push(line as i64);
        self.column.push(column);
        self.reason.push(reason.code());
        self.message.push(message);
        self.raw.push(raw);
    }

    fn append(&mut self, other: Rejects) {
        self.line.extend(other.line);
        self.column.extend(other.column);
        self.reason.extend(other.reason);
        self.message.extend(other.message);
        self.raw.extend(other.raw);
    }
}

impl<'a> Loader<'a> {
    fn new(x: &'a Extract, lake: &'a Lake, file: &'a str, layout: Layout<'a>) -> Loader<'a> {
        let columns = layout.empty.clone();
        Loader { x, lake, file, layout, columns, lines: Vec::new(), out: None, rejects: Rejects::default(), rows: 0, accepted: 0 }
    }

    /// Validates records `range` of `rows`, in pieces side by side, and
    /// takes their results in order. `Some(reason)` when a record makes the
    /// whole file refused.
    fn load<R: Rows>(&mut self, rows: &R, range: std::ops::Range<usize>) -> Result<Option<String>> {
        use rayon::prelude::*;
        let starts: Vec<usize> = range.clone().step_by(PIECE_ROWS).collect();
        let layout = &self.layout;
        let pieces: Vec<Piece> =
            starts.into_par_iter().map(|a| layout.validate(rows, a..(a + PIECE_ROWS).min(range.end))).collect();
        for p in pieces {
            if p.refused.is_some() {
                return Ok(p.refused);
            }
            self.rows += p.rows;
            self.accepted += p.lines.len() as u64;
            for (b, pb) in self.columns.iter_mut().zip(p.columns) {
                b.append(pb);
            }
            self.lines.extend(p.lines);
            self.rejects.append(p.rejects);
            while self.lines.len() >= CHUNK_ROWS {
                self.flush(CHUNK_ROWS)?;
            }
        }
        Ok(None)
    }

    /// The first `n` buffered rows as a bronze chunk with its lineage.
    fn chunk(&mut self, n: usize) -> Result<DataFrame> {
        let mut cols: Vec<polars::prelude::Column> =
            self.columns.iter_mut().zip(&self.layout.names).map(|(b, name)| b.take(name, n)).collect();
        let [file, line, date, version] = LINEAGE.map(|(c, _, _)| c);
        let rest = self.lines.split_off(n);
        let lines = std::mem::replace(&mut self.lines, rest);
        cols.push(Series::new(file.into(), vec![self.file; n]).into_column());
        cols.push(Series::new(line.into(), lines).into_column());
        let d = days(self.x.extract_date);
        cols.push(Int32Chunked::new(date.into(), vec![d; n]).into_series().cast(&DataType::Date)?.into_column());
        cols.push(Series::new(version.into(), vec![i64::from(self.x.version); n]).into_column());
        Ok(DataFrame::new(n, cols)?)
    }

    /// Writes the first `n` buffered rows as one row group of the bronze file.
    fn flush(&mut self, n: usize) -> Result<()> {
        let df = self.chunk(n)?;
        if self.out.is_none() {
            let target = self.lake.bronze_file(self.x.dataset.name, &self.x.name);
            self.out = Some(ParquetFile::create(&target, df.schema())?);
        }
        self.out.as_mut().expect("created above").write(&df)
    }

    /// Writes the last chunk and the rejects (published by the caller).
    fn finish(mut self) -> Result<Outcome> {
        if self.out.is_none() || !self.lines.is_empty() {
            self.flush(self.lines.len())?;
        }
        let lake = self.lake;
        let r = std::mem::take(&mut self.rejects);
        let n = r.line.len();
        let mut rejects = DataFrame::new(
            n,
            vec![
                Series::new("dataset".into(), vec![self.x.dataset.name; n]).into_column(),
                Series::new("file".into(), vec![self.file; n]).into_column(),
                Series::new("line".into(), r.line).into_column(),
                Series::new("column".into(), r.column).into_column(),
                Series::new("reason".into(), r.reason).into_column(),
                Series::new("message".into(), r.message).into_column(),
                Series::new("raw".into(), r.raw).into_column(),
            ],
        )?;
        let mut rej = ParquetFile::create(&lake.rejects_file(&self.x.name), rejects.schema())?;
        rej.write(&mut rejects)?;
        let written = Written { bronze: self.out.take().expect("bronze writer"), rejects: rej };
        let absent = (self.x.dataset.columns.iter().zip(&self.layout.header.contract))
            .filter(|(_, at)| at.is_none())
            .map(|(c, _)| c.name.to_string())
            .collect();
        Ok(Outcome::Loaded { rows: self.rows, accepted: self.accepted, rejected: n as u64, absent, written })
    }
}

/// Offsets of a file's line-ending bytes (`\r`, `\n`), each with whether it is a `\n`.
type Endings = std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<(u64, bool)>>>;

/// A reader that notes where the line endings it hands on are, so that a
/// CSV record's physical line comes from its byte offset ([`LineOf`]). The
/// csv crate's own line count is off by one per CRLF line ending before the
/// record, and does not count blank lines; the rejects promise the physical
/// line.
struct NoteNewlines<R> {
    inner: R,
    at: u64,
    endings: Endings,
}

impl<R: std::io::Read> std::io::Read for NoteNewlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut q = self.endings.borrow_mut();
        q.extend(memchr::memchr2_iter(b'\r', b'\n', &buf[..n]).map(|i| (self.at + i as u64, buf[i] == b'\n')));
        self.at += n as u64;
        Ok(n)
    }
}

/// The physical line (1-based) where a record starting at a byte offset
/// has its first byte, from the line endings a [`NoteNewlines`] noted. The
/// offset the csv crate gives a record is where it began reading it: the
/// `\n` of the last line's CRLF, or blank lines before the record, come
/// first and are passed over. Offsets asked for never decrease, so the
/// endings before one are counted and let go (only those the CSV reader's
/// buffer is ahead by are held).
struct LineOf {
    endings: Endings,
    passed: u64,
}

impl LineOf {
    fn new<R>(inner: R) -> (NoteNewlines<R>, LineOf) {
        let endings = Endings::default();
        (NoteNewlines { inner, at: 0, endings: endings.clone() }, LineOf { endings, passed: 0 })
    }

    fn line(&mut self, byte: u64) -> u64 {
        let mut q = self.endings.borrow_mut();
        let mut at = byte;
        while let Some(&(p, newline)) = q.front() {
            if p > at {
                break;
            }
            // Before the record, or a line ending right where it was said to begin.
            if p == at {
                at += 1;
            }
            q.pop_front();
            self.passed += u64::from(newline);
        }
        self.passed + 1
    }
}

/// Records of a CSV file read so far: (physical line, record).
struct CsvRows<'a> {
    file: &'a str,
    records: &'a [(u64, csv::ByteRecord)],
}

impl Rows for CsvRows<'_> {
    fn line(&self, i: usize) -> u64 {
        self.records[i].0
    }
    fn fields<'s>(&'s self, i: usize, out: &mut Vec<&'s str>) -> Result<(), String> {
        let (line, record) = &self.records[i];
        for f in record.iter() {
            match std::str::from_utf8(f) {
                Ok(s) => out.push(s),
                Err(_) => return Err(format!("{}: not UTF-8 at line {line}", self.file)),
            }
        }
        Ok(())
    }
    fn raw(&self, i: usize) -> String {
        raw_csv(&self.records[i].1)
    }
}

fn load_csv(f: impl std::io::Read, x: &Extract, file: &str, lake: &Lake, is_province: &(dyn Fn(&str) -> bool + Sync)) -> Result<Outcome> {
    let (f, mut line_of) = LineOf::new(f);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .buffer_capacity(1 << 20)
        .from_reader(f);
    let mut record = csv::ByteRecord::new();
    let header: Vec<String> = match rdr.read_byte_record(&mut record) {
        Ok(true) => match record.iter().map(|f| std::str::from_utf8(f).map(str::to_string)).collect::<Result<Vec<_>, _>>() {
            Ok(mut h) => {
                if let Some(first) = h.first_mut() {
                    if let Some(s) = first.strip_prefix('\u{feff}') {
                        *first = s.to_string();
                    }
                }
                h.iter_mut().for_each(|c| *c = c.trim().to_string());
                h
            }
            Err(_) => return Ok(Outcome::Refused(format!("{file}: not UTF-8 (line 1)"))),
        },
        Ok(false) => return Ok(Outcome::Refused(format!("{file}: empty file, no header"))),
        Err(e) => return Ok(Outcome::Refused(format!("{file}: not CSV: {e}"))),
    };
    let header = match map_header(x.dataset, &header, file) {
        Ok(h) => h,
        Err(why) => return Ok(Outcome::Refused(why)),
    };
    let mut loader = Loader::new(x, lake, file, Layout::new(x.dataset, header, is_province));
    // Records are read into a reused batch, then validated side by side.
    let batch = PIECE_ROWS * PIECES_AT_ONCE;
    let mut records: Vec<(u64, csv::ByteRecord)> = Vec::new();
    loop {
        let mut n = 0;
        let mut broken = None;
        while n < batch {
            if n == records.len() {
                records.push((0, csv::ByteRecord::new()));
            }
            let (line, record) = &mut records[n];
            match rdr.read_byte_record(record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    broken = Some(format!("{file}: not CSV: {e}"));
                    break;
                }
            }
            *line = record.position().map_or(0, |p| line_of.line(p.byte()));
            n += 1;
        }
        // A record before the break that refuses the file is the reason given.
        if let Some(why) = loader.load(&CsvRows { file, records: &records[..n] }, 0..n)? {
            return Ok(Outcome::Refused(why));
        }
        if let Some(why) = broken {
            return Ok(Outcome::Refused(why));
        }
        if n < batch {
            break;
        }
    }
    loader.finish()
}

/// The record as CSV text (RFC 4180 quoting), for the rejects table.
fn raw_csv(record: &csv::ByteRecord) -> String {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let _ = w.write_byte_record(record);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end_matches('\n').to_string()
}

/// The rows of a Parquet extract, every column cast to text.
struct ParquetRows<'a> {
    columns: Vec<&'a polars::prelude::StringChunked>,
}

impl Rows for ParquetRows<'_> {
    /// Parquet has no lines: the 1-based row number.
    fn line(&self, i: usize) -> u64 {
        i as u64 + 1
    }
    fn fields<'s>(&'s self, i: usize, out: &mut Vec<&'s str>) -> Result<(), String> {
        out.extend(self.columns.iter().map(|c| c.get(i).unwrap_or("")));
        Ok(())
    }
    fn raw(&self, i: usize) -> String {
        let mut fields = Vec::new();
        let _ = self.fields(i, &mut fields);
        fields.join(",")
    }
}

fn load_parquet(x: &Extract, file: &str, lake: &Lake, is_province: &(dyn Fn(&str) -> bool + Sync)) -> Result<Outcome> {
    let df = match crate::lake::read_parquet(&x.path) {
        Ok(df) => df,
        Err(e) => return Ok(Outcome::Refused(format!("{file}: not Parquet: {e:#}"))),
    };
    let header: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let header = match map_header(x.dataset, &header, file) {
        Ok(h) => h,
        Err(why) => return Ok(Outcome::Refused(why)),
    };
    let mut text = Vec::with_capacity(df.width());
    for c in df.columns() {
        // One chunk: a row lookup in a column of many chunks walks them
        // from the first (the loop below would cost rows × chunks).
        text.push(c.as_materialized_series().cast(&DataType::String)?.rechunk());
    }
    let rows = ParquetRows { columns: text.iter().map(|s| s.str().expect("cast to String")).collect() };
    let mut loader = Loader::new(x, lake, file, Layout::new(x.dataset, header, is_province));
    let batch = PIECE_ROWS * PIECES_AT_ONCE;
    for a in (0..df.height()).step_by(batch) {
        if let Some(why) = loader.load(&rows, a..(a + batch).min(df.height()))? {
            return Ok(Outcome::Refused(why));
        }
    }
    loader.finish()
}

/// The dtype each contract column has in bronze (for the data dictionary).
pub fn bronze_dtype(kind: Kind) -> DataType {
    match kind {
        Kind::Date | Kind::Month => DataType::Date,
        Kind::Money { .. } | Kind::Int { .. } | Kind::IntOneOf(_) => DataType::Int64,
        Kind::Bool => DataType::Boolean,
        _ => DataType::String,
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    /// Content the ledger knows under another size (the file was rewritten
    /// between its stamp and its read) is found by the hash taken as it was
    /// loaded: skipped, and what the load wrote is deleted unpublished.
    #[test]
    fn content_found_known_after_loading_is_skipped_and_nothing_is_published() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("si_units_20200608.csv");
        let text = "unit_code,tax_code,name,province_code,ward_code,wage_region,officer_id,registered_on,status\nU1,,A,01,,1,,,active\n";
        std::fs::write(&path, text).unwrap();
        let lake = Lake::new(dir.path().join("lake"));
        let mut ledger = Ledger::load(&lake.root).unwrap();
        ledger.record(LedgerEntry {
            file: "si_units_20200608.csv".into(),
            dataset: "si_units".into(),
            extract: "si_units_20200608".into(),
            version: 1,
            blake3: blake3::hash(text.as_bytes()).to_hex().to_string(),
            // Not the file's size now: it is not hashed before it is loaded.
            bytes: text.len() as u64 + 1,
            rows: 1,
            accepted: 1,
            rejected: 0,
            ingested_at: String::new(),
            run_id: "earlier".into(),
            modified_ns: None,
        });
        let reference = Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap();
        let x = recognise(&path).unwrap();
        let report = ingest_new(&x, &lake, &reference, &ledger).unwrap();
        assert_eq!((report.skipped.as_deref(), report.hashed, report.rows), (Some("earlier"), true, 0));
        for d in [lake.bronze_dir("si_units"), lake.rejects_dir()] {
            let left: Vec<_> = std::fs::read_dir(&d).map(|r| r.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
            assert!(left.is_empty(), "{}: {left:?}", d.display());
        }
    }

    fn strs(s: &Series) -> Vec<Option<String>> {
        s.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    }

    /// Text cells packed back to back: nulls, empty text and multi-byte
    /// text come back as they went in, across appended pieces and a column
    /// taken in two row groups.
    #[test]
    fn texts_keep_every_cell_across_pieces_and_row_groups() {
        let mut a = Texts::default();
        for v in [Some("Nguyễn"), None, Some("")] {
            a.push(v);
        }
        let mut b = Texts::default();
        for v in [Some("Đức"), Some("An"), None] {
            b.push(v);
        }
        a.append(b);
        let first = a.take("c".into(), 4);
        assert_eq!(first.name().as_str(), "c");
        assert_eq!(strs(&first), [Some("Nguyễn".into()), None, Some(String::new()), Some("Đức".into())]);
        assert_eq!(first.null_count(), 1);
        let rest = a.take("c".into(), 10);
        assert_eq!(strs(&rest), [Some("An".into()), None]);
        assert_eq!(a.take("c".into(), 1).len(), 0, "nothing left");
    }
}
