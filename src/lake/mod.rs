//! The lake: where each layer's tables live, and how files get there whole.
//!
//! Layout (all Parquet):
//! ```text
//! <lake>/bronze/<dataset>/<extract>.parquet   typed rows of one input file
//! <lake>/rejects/<extract>.parquet            rejected rows of one input file
//! <lake>/silver/<table>.parquet               conformed entities
//! <lake>/gold/<table>/province_code=NN/        answers, by province (see [`gold`])
//! <lake>/exports/<as_of>/<province_code>/      lists for the provinces (CSV)
//! ```
//! Every file is written to a temporary name beside its target and renamed
//! into place only when complete, so a reader never sees half a file.

pub mod gold;
pub mod ledger;
pub mod lock;
pub mod memo;
pub mod remote;

use anyhow::{Context, Result};
use polars::prelude::*;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Lake {
    pub root: PathBuf,
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Lake {
        Lake { root: root.into() }
    }
    pub fn bronze_dir(&self, dataset: &str) -> PathBuf {
        self.root.join("bronze").join(dataset)
    }
    pub fn bronze_file(&self, dataset: &str, extract: &str) -> PathBuf {
        self.bronze_dir(dataset).join(format!("{extract}.parquet"))
    }
    pub fn rejects_dir(&self) -> PathBuf {
        self.root.join("rejects")
    }
    pub fn rejects_file(&self, extract: &str) -> PathBuf {
        self.rejects_dir().join(format!("{extract}.parquet"))
    }
    pub fn silver_file(&self, table: &str) -> PathBuf {
        self.root.join("silver").join(format!("{table}.parquet"))
    }
    /// The bronze files of a dataset, in name order (oldest extract first).
    pub fn bronze_files(&self, dataset: &str) -> Result<Vec<PathBuf>> {
        parquet_files(&self.bronze_dir(dataset))
    }
}

/// `*.parquet` files directly under `dir`, sorted by name; none if `dir` is absent.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
    files.sort();
    Ok(files)
}

/// Removes what killed runs left behind: the temporary files and folders
/// (`.<name>.tmp-<pid>`) of writes that never reached their rename. Call it
/// only while holding the lake's lock: then no live run is writing them.
pub fn remove_stale_temporaries(root: &Path) -> Result<usize> {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let is_tmp = name.starts_with('.') && name.contains(".tmp");
            match (is_tmp, path.is_dir()) {
                (true, true) => {
                    fs::remove_dir_all(&path)?;
                    removed += 1;
                }
                (true, false) => {
                    fs::remove_file(&path)?;
                    removed += 1;
                }
                (false, true) => stack.push(path),
                (false, false) => {}
            }
        }
    }
    Ok(removed)
}

fn tmp_path(target: &Path) -> PathBuf {
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn writer_options(file: File) -> ParquetWriter<BufWriter<File>> {
    ParquetWriter::new(BufWriter::with_capacity(1 << 20, file))
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
}

/// Writes `df` to `target` atomically (temporary file, then rename).
pub fn write_parquet(target: &Path, df: &mut DataFrame) -> Result<()> {
    write_parquet_with_metadata(target, df, &[])
}

/// [`write_parquet`], with file-level key-value `metadata` in the footer
/// (what pyarrow's `read_metadata(f).metadata`, Polars' `read_parquet_metadata`
/// and DuckDB's `parquet_kv_metadata` show).
pub fn write_parquet_with_metadata(target: &Path, df: &mut DataFrame, metadata: &[(String, String)]) -> Result<()> {
    let mut w = ParquetFile::create_with_metadata(target, df.schema(), metadata)?;
    w.write(df)?;
    w.commit()
}

/// The file-level key-value metadata of a Parquet file (empty when it has none).
pub fn parquet_metadata(path: &Path) -> Result<Vec<(String, String)>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = polars::io::parquet::read::ParquetReader::new(file);
    let meta = anyhow::Context::with_context(reader.get_metadata(), || format!("reading the footer of {}", path.display()))?;
    Ok(meta
        .key_value_metadata()
        .iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect())
}

/// A Parquet file being written batch by batch; it appears at its target
/// name only on [`ParquetFile::commit`]. Dropped uncommitted, it leaves nothing.
pub struct ParquetFile {
    target: PathBuf,
    tmp: PathBuf,
    writer: Option<polars::io::parquet::write::BatchedWriter<BufWriter<File>>>,
}

impl ParquetFile {
    pub fn create(target: &Path, schema: &Schema) -> Result<ParquetFile> {
        ParquetFile::create_with_metadata(target, schema, &[])
    }

    /// A file whose footer carries `metadata` (key, value pairs) besides the schema.
    pub fn create_with_metadata(target: &Path, schema: &Schema, metadata: &[(String, String)]) -> Result<ParquetFile> {
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = tmp_path(target);
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut options = writer_options(file);
        if !metadata.is_empty() {
            options = options.with_key_value_metadata(Some(polars::io::parquet::write::KeyValueMetadata::from_static(metadata.to_vec())));
        }
        let writer = options.batched(schema)?;
        Ok(ParquetFile { target: target.to_path_buf(), tmp, writer: Some(writer) })
    }

    pub fn write(&mut self, df: &DataFrame) -> Result<()> {
        self.writer.as_mut().expect("open writer").write_batch(df)?;
        Ok(())
    }

    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("open writer");
        writer.finish()?;
        drop(writer);
        fs::rename(&self.tmp, &self.target)
            .with_context(|| format!("publishing {}", self.target.display()))?;
        Ok(())
    }
}

impl Drop for ParquetFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Runs `lf` on Polars' streaming engine straight into a Parquet file at
/// `target` (atomically: temporary name, then rename), so a table larger
/// than memory never has to be collected. Returns the rows written.
pub fn sink_parquet(lf: LazyFrame, target: &Path) -> Result<u64> {
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = tmp_path(target);
    let options = ParquetWriteOptions {
        compression: ParquetCompression::Zstd(None),
        statistics: StatisticsOptions::default(),
        ..Default::default()
    };
    let destination = SinkDestination::File { target: SinkTarget::Path(PlRefPath::try_from_path(&tmp)?) };
    let result = lf
        .sink(destination, FileWriteFormat::Parquet(std::sync::Arc::new(options)), UnifiedSinkArgs::default())
        .and_then(|lf| lf.collect_with_engine(Engine::Streaming));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    let rows = ParquetReader::new(File::open(&tmp)?).num_rows()? as u64;
    fs::rename(&tmp, target).with_context(|| format!("publishing {}", target.display()))?;
    Ok(rows)
}

/// Runs `lf` on Polars' streaming engine into one folder of Parquet files
/// per value of column `key` (Polars' Hive layout, `<dir>/<key>=<value>/`;
/// each part's rows in `lf`'s order), in one pass: a table read a part at a
/// time is split once, rather than read whole and filtered for every part.
/// What `dir` held is deleted first. See [`parquet_part`].
pub fn sink_parquet_by(lf: LazyFrame, key: &str, dir: &Path) -> Result<()> {
    remove_dir(dir)?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // LZ4: the parts are scratch, read once; at 4M people coverage's split
    // took 9.3 s with Zstandard and 7.1 s with LZ4.
    let options = ParquetWriteOptions {
        compression: ParquetCompression::Lz4Raw,
        statistics: StatisticsOptions::default(),
        ..Default::default()
    };
    let destination = SinkDestination::Partitioned {
        base_path: PlRefPath::try_from_path(dir)?,
        file_path_provider: None,
        partition_strategy: PartitionStrategy::Keyed { keys: vec![col(key)], include_keys: true, keys_pre_grouped: false },
        max_rows_per_file: IdxSize::MAX,
        approximate_bytes_per_file: u64::MAX,
    };
    let args = UnifiedSinkArgs { mkdir: true, maintain_order: true, ..Default::default() };
    lf.sink(destination, FileWriteFormat::Parquet(std::sync::Arc::new(options)), args)?
        .collect_with_engine(Engine::Streaming)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("splitting by {key} into {}", dir.display()))?;
    Ok(())
}

/// The files [`sink_parquet_by`] wrote for the rows whose `key` is `value`,
/// as Polars names it (a date as `YYYY-MM-DD`); none when no row had it.
pub fn parquet_part(dir: &Path, key: &str, value: &str) -> Result<Vec<PathBuf>> {
    parquet_files(&dir.join(format!("{key}={value}")))
}

/// Deletes `dir` with everything in it; a missing `dir` is no error.
pub fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("deleting {}", dir.display())),
        _ => Ok(()),
    }
}

/// A stage's scratch folder, deleted with what it holds when dropped, error
/// or not. It is named as a temporary (`.<name>.tmp-<pid>` beside where
/// `path` says), so that readers pass over it and the next run sweeps one a
/// killed run left (see [`remove_stale_temporaries`]).
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(path: PathBuf) -> Result<ScratchDir> {
        let path = tmp_path(&path);
        remove_dir(&path)?;
        Ok(ScratchDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = remove_dir(&self.0) {
            tracing::warn!(error = %e, "could not delete a scratch folder");
        }
    }
}

/// Files named `*.<ext>` under `dir` (recursively, in path order), leaving
/// out hidden ones (temporaries, private folders).
pub fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Rows of a Parquet file, from its metadata.
pub fn parquet_rows(path: &Path) -> Result<u64> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(ParquetReader::new(f).num_rows()? as u64)
}

/// Writes `bytes` to `target` under a temporary name, then renames it into
/// place: readers see the old file or the new one, never a part.
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<()> {
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, target).with_context(|| format!("publishing {}", target.display()))
}

/// The CSV writer [`write_csv_with`] hands its body.
pub type CsvWriter = csv::Writer<std::io::BufWriter<std::fs::File>>;

/// `f` for every item (a province, say) side by side, one worker thread per
/// thread of the rayon pool (one per core unless `RAYON_NUM_THREADS` says
/// otherwise), heaviest item first by `weight` (ties in the items' order);
/// the results come back in the items' order. Every item is attempted: the
/// error returned is the first failing item's in the items' order
/// (whichever thread met it first), and the others are logged under `stage`.
///
/// Heaviest first because the provinces are very unequal (Ho Chi Minh City
/// alone is a fifth of the country's lists): taken in code order, the
/// largest came near the end and one core worked alone on it.
///
/// The workers are threads of their own, not jobs of the rayon pool: `f`
/// runs Polars queries, and a rayon worker waiting for one takes the next
/// job from its own queue meanwhile, which was often the other worker's
/// whole share, leaving one core to do everything (the export took 5.5 s
/// one run and 11 s the next, at 99% of one core).
pub fn for_each_side_by_side<I: Sync, T: Send>(
    stage: &str,
    items: &[I],
    weight: impl Fn(&I) -> u64,
    f: impl Fn(&I) -> Result<T> + Sync + Send,
) -> Result<Vec<T>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let order = heaviest_first(items.iter().map(weight).collect());
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<T>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
        let r = f(&items[i]);
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    };
    std::thread::scope(|s| {
        for _ in 1..rayon::current_num_threads().min(items.len()) {
            s.spawn(work);
        }
        work();
    });
    let results: Vec<Result<T>> =
        slots.into_iter().map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()).expect("every item is taken by a worker")).collect();
    for e in results.iter().filter_map(|r| r.as_ref().err()).skip(1) {
        tracing::error!(stage, "{e:#}");
    }
    results.into_iter().collect()
}

/// Indexes of `weights`, largest weight first, equal weights in index order.
pub fn heaviest_first(weights: Vec<u64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
    order
}

/// Bytes of the regular files directly in `dir` (0 when it does not exist):
/// what a province's lists weigh, for [`for_each_side_by_side`].
pub fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|it| it.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// A CSV file, UTF-8 with a BOM, written to a temporary name and renamed into place.
pub fn write_csv(target: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    write_csv_with(target, header, |w| {
        for r in rows {
            w.write_record(r)?;
        }
        Ok(())
    })
}

/// [`write_csv`] with the records written by `body`, for lists streamed from
/// a frame rather than collected first.
pub fn write_csv_with(target: &Path, header: &[&str], body: impl FnOnce(&mut CsvWriter) -> Result<()>) -> Result<()> {
    use std::io::Write;
    let dir = target.parent().context("export file has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?);
        f.write_all("\u{FEFF}".as_bytes())?;
        let mut w = csv::Writer::from_writer(f);
        w.write_record(header)?;
        body(&mut w)?;
        w.flush()?;
        let f = w.into_inner().map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        f.into_inner().map_err(|e| anyhow::anyhow!("{}", e.error()))?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, target).with_context(|| format!("publishing {}", target.display()))
}

/// Scans several Parquet files as one lazy frame (an empty list is an error
/// the caller should avoid).
pub fn scan_parquet(files: &[PathBuf]) -> Result<LazyFrame> {
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::try_from_path(p).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    let args = ScanArgsParquet { allow_missing_columns: true, ..Default::default() };
    Ok(LazyFrame::scan_parquet_files(paths.into_iter().collect(), args)?)
}

/// Reads a whole Parquet file.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(ParquetReader::new(file).finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncommitted_file_never_appears_and_leftovers_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("silver/t.parquet");
        let mut df = polars::df!("a" => [1i64, 2]).unwrap();
        {
            let mut w = ParquetFile::create(&target, df.schema()).unwrap();
            w.write(&df).unwrap();
            // Dropped without commit: as if the run died here.
        }
        assert!(!target.exists());
        write_parquet(&target, &mut df).unwrap();
        assert_eq!(read_parquet(&target).unwrap().height(), 2);
        // What a kill -9 between create and rename leaves behind.
        fs::write(dir.path().join("silver/.t.parquet.tmp-12345"), b"half").unwrap();
        fs::create_dir_all(dir.path().join("gold/.x.tmp-9/province_code=01")).unwrap();
        assert_eq!(remove_stale_temporaries(dir.path()).unwrap(), 2);
        assert!(target.exists(), "published files are kept");
        assert_eq!(fs::read_dir(dir.path().join("silver")).unwrap().count(), 1);
    }

    #[test]
    fn heaviest_first_keeps_the_items_order_among_equals() {
        assert_eq!(heaviest_first(vec![1, 9, 3, 9, 0]), vec![1, 3, 2, 0, 4]);
        assert!(heaviest_first(Vec::new()).is_empty());
    }

    #[test]
    fn side_by_side_answers_in_the_items_order_and_reports_the_first_failure_in_that_order() {
        let items: Vec<u64> = (0..40).collect();
        let seen = std::sync::Mutex::new(Vec::new());
        // Heaviest last in the items (taken first: see heaviest_first).
        let out = for_each_side_by_side("test", &items, |&i| i, |&i| {
            seen.lock().unwrap().push(i);
            Ok(i * 10)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 10).collect::<Vec<_>>());
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, items, "every item once");
        // Two failures: the one earlier in the items' order is returned,
        // though it weighs less and so was taken later.
        let attempted = std::sync::atomic::AtomicUsize::new(0);
        let err = for_each_side_by_side("test", &items, |&i| i, |&i| {
            attempted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i == 7 || i == 30 { anyhow::bail!("item {i} failed") } else { Ok(i) }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 7 failed");
        assert_eq!(attempted.into_inner(), 40, "every item is attempted");
    }

    #[test]
    fn dir_bytes_counts_the_files_of_a_folder_and_nothing_for_none() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.csv"), b"12345").unwrap();
        fs::write(dir.path().join("b.csv"), b"678").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/c.csv"), b"not counted").unwrap();
        assert_eq!(dir_bytes(dir.path()), 8);
        assert_eq!(dir_bytes(&dir.path().join("missing")), 0);
    }
}
