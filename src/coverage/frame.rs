//! Moving columns between Polars frames and plain Rust vectors.

use crate::lake::memo::{Fingerprint, Memo};
use crate::lake::{self, Lake};
use crate::month::Month;
use anyhow::{Context, Result};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use chrono::NaiveDate;
use polars::prelude::*;

pub fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
}

pub fn to_days(d: NaiveDate) -> i32 {
    (d - epoch()).num_days() as i32
}

pub fn from_days(d: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(d as i64)
}

pub fn month_of(days: i32) -> Month {
    Month::of_date(from_days(days))
}

/// Month answers [`by_month`] stacks before one combine (coverage's sampled
/// peak at 16M people was 5,854 MB with four, 6,110 MB combining each
/// month alone). An engineering bound, not a business rule.
pub const BATCH: usize = 4;

/// Works a window one month at a time: `part` answers for one month, and
/// `combine` joins two answers, the earlier months first (`None` for an
/// empty window). For rules that compare one month's rows only, so that a
/// month's join is all that is in memory; a rule that sums months up
/// combines as it goes, so that the window's month answers are never all
/// held at once (at 16M people they took 7 GB).
///
/// After the first month, the answers are stacked [`BATCH`] at a time and
/// each batch is combined into the months before it once: a rule's
/// combine groups what the months before it left again, and those totals
/// hardly shrink month to month, so combining each month alone grouped
/// them 23 times in a 24-month window (at 4M people the combines took
/// 3.8 s; in batches of four, 1.2 s).
///
/// With a [`MonthCache`], a month whose inputs are unchanged since a run
/// kept its answer is read back instead of computed: the nightly run after
/// a day of payments recomputes no month, and when the window moves on only
/// the new month is computed. The fold of the whole window is kept too (as
/// `<part>-window`, for its last month and its first): a night whose window
/// and inputs are unchanged reads that one answer and no month.
pub fn by_month(
    first: Month,
    last: Month,
    cache: Option<(&RefCell<MonthCache>, &str)>,
    mut part: impl FnMut(Month) -> Result<DataFrame>,
    mut combine: impl FnMut(DataFrame, DataFrame) -> Result<DataFrame>,
) -> Result<Option<DataFrame>> {
    let window = |name: &str| format!("{name}-window");
    let from = first.to_string();
    if let Some((c, name)) = cache {
        let mut c = c.borrow_mut();
        if let Some((df, _)) = c.reuse(&window(name), last, &from)? {
            c.windows_reused += 1;
            c.keep_only(name, first, last)?;
            return Ok(Some(df));
        }
    }
    let mut all: Option<DataFrame> = None;
    // Month answers stacked, not yet combined, and how many.
    let (mut pending, mut batched): (Option<DataFrame>, usize) = (None, 0);
    let (mut in_parts, mut in_combine) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for m in first.through(last) {
        let t = std::time::Instant::now();
        let df = match cache {
            Some((c, name)) => {
                let mut c = c.borrow_mut();
                let (df, reused) = c.get_or_compute(name, m, "", || part(m))?;
                if reused {
                    c.reused += 1;
                } else {
                    c.computed += 1;
                }
                df
            }
            None => part(m)?,
        };
        let t = {
            in_parts += t.elapsed();
            std::time::Instant::now()
        };
        if all.is_none() {
            all = Some(df);
        } else {
            pending = Some(match pending.take() {
                Some(p) => stack(p, df)?,
                None => df,
            });
            batched += 1;
            if batched == BATCH {
                all = Some(combine(all.take().expect("the first month"), pending.take().expect("a batch"))?);
                batched = 0;
            }
        }
        in_combine += t.elapsed();
    }
    if let Some(p) = pending.take() {
        all = Some(combine(all.take().expect("the first month"), p)?);
    }
    tracing::debug!(
        part = cache.map(|c| c.1),
        months_seconds = in_parts.as_secs_f64(),
        combine_seconds = in_combine.as_secs_f64(),
        "month answers combined"
    );
    if let Some((c, name)) = cache {
        let mut c = c.borrow_mut();
        c.keep_only(name, first, last)?;
        if let Some(df) = all.as_mut() {
            c.keep(&window(name), last, &from, df, serde_json::Value::Null)?;
        }
        c.keep_only(&window(name), last, last)?;
    }
    Ok(all)
}

/// The `combine` of [`by_month`] that stacks the month answers.
pub fn stack(mut a: DataFrame, b: DataFrame) -> Result<DataFrame> {
    a.vstack_mut(&b)?;
    Ok(a)
}

/// Month answers kept between runs in `<lake>/_state/<stage>/<part>/<YYYY-MM>.parquet`,
/// each remembered in the memo (`<stage>/<part>/<YYYY-MM>`) with the
/// fingerprint of the stage's inputs: the silver tables the rules read (by
/// their conform and link fingerprints, which carry the code's) and the
/// rules (and, for coverage, the reference tables). A month is reused only
/// under the same fingerprint and with its file untouched (see
/// [`Memo::fresh`]).
///
/// Coverage keeps one answer per month of its window; voluntary keeps the
/// frames it reads for the month of the as-of date (see [`Self::frame`]).
pub struct MonthCache<'a> {
    /// Shared with the stages running beside this one (each keeps its own
    /// steps, under its stage's name).
    memo: &'a Mutex<Memo>,
    root: PathBuf,
    stage: &'static str,
    inputs: String,
    /// Months read back and computed by [`by_month`], for the log; a month
    /// inside a window fold read back whole is neither.
    pub reused: u32,
    pub computed: u32,
    /// Window folds read back whole (see [`by_month`]).
    pub windows_reused: u32,
    /// Frames read back and computed by [`Self::frame`] and [`Self::frame_for`].
    pub frames_reused: u32,
    pub frames_computed: u32,
}

impl<'a> MonthCache<'a> {
    pub fn new(memo: &'a Mutex<Memo>, lake_root: &Path, stage: &'static str, inputs: String) -> MonthCache<'a> {
        MonthCache { memo, root: lake_root.to_path_buf(), stage, inputs, reused: 0, computed: 0, windows_reused: 0, frames_reused: 0, frames_computed: 0 }
    }

    /// The memo, for one step's look-up or record (a stage that panicked
    /// holding it left whole entries: each record is one insert and a save).
    fn memo(&self) -> MutexGuard<'_, Memo> {
        self.memo.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn step(&self, part: &str, m: Month) -> String {
        format!("{}/{part}/{}", self.stage, m.first_day().format("%Y-%m"))
    }

    /// The frame `part` of month `m`: read back when kept under the same
    /// inputs, else computed and kept; every other month's `part` is
    /// forgotten (only month `m`'s is kept, so a rerun for an earlier month
    /// drops a later one's).
    pub fn frame(&mut self, part: &str, m: Month, compute: impl FnOnce() -> Result<DataFrame>) -> Result<DataFrame> {
        self.frame_for(part, m, "", compute)
    }

    /// [`Self::frame`] for a frame that also depends on `key` (the people it
    /// is for, say): read back only when kept under the same inputs and key.
    pub fn frame_for(&mut self, part: &str, m: Month, key: &str, compute: impl FnOnce() -> Result<DataFrame>) -> Result<DataFrame> {
        if let Some((df, _)) = self.kept_frame_for(part, m, key)? {
            return Ok(df);
        }
        let mut df = compute()?;
        self.keep_frame_for(part, m, key, &mut df, serde_json::Value::Null)?;
        Ok(df)
    }

    /// The months of `first..=last` that [`by_month`] computes for `part`:
    /// none when the window's fold is kept, else those without a kept
    /// answer. For a stage that prepares what the months read.
    pub fn to_compute(&self, part: &str, first: Month, last: Month) -> Vec<Month> {
        if self.is_kept(&format!("{part}-window"), last, &first.to_string()) {
            return Vec::new();
        }
        first.through(last).filter(|&m| !self.is_kept(part, m, "")).collect()
    }

    /// Whether `part` of month `m` is kept under the same inputs (and `extra`).
    fn is_kept(&self, part: &str, m: Month, extra: &str) -> bool {
        let step = self.step(part, m);
        self.memo().fresh(&step, &self.fingerprint(&step, extra)).is_some()
    }

    /// `<lake>/_state/<step>.parquet`.
    fn file(&self, step: &str) -> PathBuf {
        self.root.join("_state").join(format!("{step}.parquet"))
    }

    /// `part` of month `m`, and whether it was read back (else computed and kept).
    fn get_or_compute(&mut self, part: &str, m: Month, extra: &str, compute: impl FnOnce() -> Result<DataFrame>) -> Result<(DataFrame, bool)> {
        if let Some((df, _)) = self.reuse(part, m, extra)? {
            return Ok((df, true));
        }
        let mut df = compute()?;
        self.keep(part, m, extra, &mut df, serde_json::Value::Null)?;
        Ok((df, false))
    }

    /// For a stage whose frame comes out of its own work rather than a
    /// closure: frame `part` of month `m` and what was kept beside it, when
    /// kept under the same inputs (counted as reused), else `None` (then
    /// [`Self::keep_frame`] keeps it once computed).
    pub fn kept_frame(&mut self, part: &str, m: Month) -> Result<Option<(DataFrame, serde_json::Value)>> {
        self.kept_frame_for(part, m, "")
    }

    /// Keeps `df` (with `report`, given back by [`Self::kept_frame`]) as
    /// frame `part` of month `m`, counted as computed; every other month's
    /// `part` is forgotten.
    pub fn keep_frame(&mut self, part: &str, m: Month, df: &mut DataFrame, report: serde_json::Value) -> Result<()> {
        self.keep_frame_for(part, m, "", df, report)
    }

    /// [`Self::kept_frame`] under `key` too: the one place a read-back frame is counted.
    fn kept_frame_for(&mut self, part: &str, m: Month, key: &str) -> Result<Option<(DataFrame, serde_json::Value)>> {
        let kept = self.reuse(part, m, key)?;
        if kept.is_some() {
            self.frames_reused += 1;
            self.keep_only(part, m, m)?;
        }
        Ok(kept)
    }

    /// [`Self::keep_frame`] under `key` too: the one place a computed frame is counted.
    fn keep_frame_for(&mut self, part: &str, m: Month, key: &str, df: &mut DataFrame, report: serde_json::Value) -> Result<()> {
        self.keep_frame_written(part, m, key, report, |file| write_frame(file, df))
    }

    /// [`Self::keep_frame`] under `key` too (see [`Self::kept_frame_keyed`]).
    pub fn keep_frame_keyed(&mut self, part: &str, m: Month, key: &str, df: &mut DataFrame) -> Result<()> {
        self.keep_frame_for(part, m, key, df, serde_json::Value::Null)
    }

    /// A key for a frame that also reads the silver `tables` (beyond the
    /// inputs the cache was made with): their conform fingerprints, a table
    /// that is absent counted as such. `None` when a table's origin is
    /// unknown (written outside a run): then nothing that reads it is kept.
    pub fn silver_key(&self, tables: &[&str]) -> Option<String> {
        let mut f = Fingerprint::new("silver");
        crate::conform::add_silver(&mut f, &Lake::new(&self.root), &self.memo(), tables).then(|| f.finish())
    }

    /// Whether every one of `parts` of month `m` is kept under the same inputs.
    pub fn all_kept(&self, parts: &[&str], m: Month) -> bool {
        parts.iter().all(|p| self.is_kept(p, m, ""))
    }

    /// Frame `part` of month `m` under `key` and what was kept beside it,
    /// when kept under the same inputs and key (counted as reused).
    pub fn kept_frame_keyed(&mut self, part: &str, m: Month, key: &str) -> Result<Option<(DataFrame, serde_json::Value)>> {
        self.kept_frame_for(part, m, key)
    }

    /// Keeps frame `part` of month `m` under `key`, written to the file it
    /// is given by `write` (batch by batch, so that a large frame is never
    /// whole in memory), with `report`; counted as computed, every other
    /// month's `part` forgotten.
    pub fn keep_frame_written(&mut self, part: &str, m: Month, key: &str, report: serde_json::Value, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        self.keep_written(part, m, key, report, write)?;
        self.frames_computed += 1;
        self.keep_only(part, m, m)
    }

    /// The as-of date of the last run that recorded `part` of month `m` done
    /// (see [`Self::record_done`]) under the same inputs, with the files it
    /// named untouched since; `None` when there is none (or with `--full`).
    pub fn done_on(&self, part: &str, m: Month) -> Option<NaiveDate> {
        let step = self.step(part, m);
        let memo = self.memo();
        let e = memo.fresh(&step, &self.fingerprint(&step, ""))?;
        e.report.get("as_of")?.as_str()?.parse().ok()
    }

    /// Records that `part` of month `m` was done as of `as_of` under the
    /// current inputs, its result in `outputs` (files inside the lake, which
    /// must stay untouched for [`Self::done_on`] to answer); every other
    /// month's record of `part` is forgotten.
    pub fn record_done(&mut self, part: &str, m: Month, as_of: NaiveDate, outputs: &[PathBuf]) -> Result<()> {
        let step = self.step(part, m);
        let fingerprint = self.fingerprint(&step, "");
        self.memo().record(&step, &fingerprint, outputs, serde_json::json!({ "as_of": as_of.to_string() }))?;
        self.keep_only(part, m, m)
    }

    /// The fingerprint of `step`: the inputs, and `extra` when not empty.
    fn fingerprint(&self, step: &str, extra: &str) -> String {
        let mut f = Fingerprint::new(step);
        f.add("inputs", self.inputs.as_bytes());
        if !extra.is_empty() {
            f.add("extra", extra.as_bytes());
        }
        f.finish()
    }

    /// `part` of month `m` as kept under the same inputs (and `extra`), if it is.
    fn reuse(&mut self, part: &str, m: Month, extra: &str) -> Result<Option<(DataFrame, serde_json::Value)>> {
        let step = self.step(part, m);
        let Some(report) = self.memo().fresh(&step, &self.fingerprint(&step, extra)).map(|e| e.report.clone()) else {
            return Ok(None);
        };
        Ok(Some((lake::read_parquet(&self.file(&step))?, report)))
    }

    /// Keeps `df` as `part` of month `m` under the inputs (and `extra`).
    fn keep(&mut self, part: &str, m: Month, extra: &str, df: &mut DataFrame, report: serde_json::Value) -> Result<()> {
        self.keep_written(part, m, extra, report, |file| write_frame(file, df))
    }

    /// Keeps what `write` writes to its file as `part` of month `m` under
    /// the inputs (and `extra`).
    fn keep_written(&mut self, part: &str, m: Month, extra: &str, report: serde_json::Value, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let step = self.step(part, m);
        let file = self.file(&step);
        write(&file)?;
        let fingerprint = self.fingerprint(&step, extra);
        self.memo().record(&step, &fingerprint, &[file], report)
    }

    /// Forgets (and deletes) the months of `part` outside `first..=last`.
    fn keep_only(&mut self, part: &str, first: Month, last: Month) -> Result<()> {
        let prefix = format!("{}/{part}/", self.stage);
        let keep: Vec<String> = first.through(last).map(|m| self.step(part, m)).collect();
        let steps = self.memo().steps_with_prefix(&prefix);
        for step in steps {
            if !keep.contains(&step) {
                let f = self.file(&step);
                if f.exists() {
                    std::fs::remove_file(&f).with_context(|| format!("removing {}", f.display()))?;
                }
                self.memo().forget(&step)?;
            }
        }
        Ok(())
    }
}

/// Writes a kept frame. A fold of month answers can come out with its
/// columns in differently sized chunks, which the Parquet writer refuses.
fn write_frame(file: &Path, df: &mut DataFrame) -> Result<()> {
    df.align_chunks_par();
    lake::write_parquet(file, df)
}

/// A silver table, lazily; `None` when it was never written.
pub fn silver(lake: &Lake, table: &str) -> Result<Option<LazyFrame>> {
    let f = lake.silver_file(table);
    Ok(if f.exists() { Some(lake::scan_parquet(&[f])?) } else { None })
}

pub fn strs(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

pub fn ints(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().collect())
}

pub fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().collect())
}

pub fn bools(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    let c = df.column(name)?.cast(&DataType::Boolean)?;
    Ok(c.bool()?.iter().collect())
}

/// A Date column as days since 1970-01-01.
pub fn days(df: &DataFrame, name: &str) -> Result<Vec<Option<i32>>> {
    let c = df.column(name)?.cast(&DataType::Int32)?;
    Ok(c.i32()?.iter().collect())
}

pub fn date_column(name: &str, v: Vec<Option<NaiveDate>>) -> Result<Column> {
    let d: Vec<Option<i32>> = v.into_iter().map(|d| d.map(to_days)).collect();
    Ok(Int32Chunked::new(name.into(), d).into_series().cast(&DataType::Date)?.into_column())
}

/// A person at an employer (an si_number and a head-office tax code) as one
/// 64-bit number, for the month rules' joins and groups: Polars hashes a
/// key of one primitive column as a number, where two string columns are
/// row-encoded and compared byte by byte (at 16M people a large share of
/// the month rules' time, by `perf`). The si_number (ten digits, below
/// 2^34) is shifted over the head's first nine digits (below 10^9 < 2^30):
/// its tenth is the check digit of the nine, so it adds nothing (ingest
/// refuses a tax code whose check digit is wrong, and an si_number that is
/// not ten digits). A null in either gives null, which matches nothing. The
/// casts are strict: a value of another form fails the query rather than
/// match wrongly.
pub fn person_at_head(si_number: Expr, head_tax_code: Expr) -> Expr {
    si_number.strict_cast(DataType::UInt64) * lit(1u64 << HEAD_BITS)
        + head_tax_code.str().slice(lit(0), lit(9)).strict_cast(DataType::UInt64)
}

/// The bits [`person_at_head`] gives a head office's first nine digits.
const HEAD_BITS: u32 = 30;

/// A literal list of strings for `is_in`.
pub fn str_list(v: &[String]) -> Expr {
    lit(Series::new("".into(), v.to_vec())).implode(false)
}

/// The rows whose `month` (a date, the month's first day) is one of `months`.
pub fn month_in<'a>(months: impl IntoIterator<Item = &'a Month>) -> Expr {
    let days: Vec<i32> = months.into_iter().map(|m| to_days(m.first_day())).collect();
    col("month").cast(DataType::Int32).is_in(lit(Series::new("".into(), days)).implode(false), false)
}

/// Rounds `sum / n` to the nearest whole VND, halves up.
pub fn avg_vnd(sum: i64, n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    (2 * sum + n) / (2 * n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn month(s: &str) -> Month {
        s.parse().unwrap()
    }

    #[test]
    fn person_at_head_gives_each_valid_pair_its_own_number() {
        // Valid head tax codes with the smallest, the largest and ordinary
        // nine-digit prefixes (a head with a branch suffix is its first ten).
        let heads: Vec<String> = [[0u8, 0, 0, 0, 0, 0, 0, 0, 1], [9; 9], [0, 1, 0, 0, 1, 0, 9, 1, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 9, 9, 9, 9, 9, 9, 9, 8]]
            .iter()
            .filter_map(crate::ids::make_tax_code)
            .collect();
        assert!(heads.len() >= 4, "{heads:?}");
        let sis = ["0000000000", "0000000001", "0100109106", "9999999999"];
        let (mut si_col, mut head_col) = (Vec::new(), Vec::new());
        for s in sis {
            for h in &heads {
                si_col.push(Some(s.to_string()));
                head_col.push(Some(h.clone()));
            }
        }
        // A branch code counts as its head office; a null in either side is null.
        si_col.extend([Some("0100109106".to_string()), None, Some("0100109106".to_string())]);
        head_col.extend([Some(format!("{}-001", heads[2])), Some(heads[0].clone()), None]);
        let n = si_col.len();
        let df = DataFrame::new(n, vec![Column::new("si".into(), si_col.clone()), Column::new("head".into(), head_col.clone())]).unwrap();
        let out = df.lazy().select([person_at_head(col("si"), col("head").str().slice(lit(0), lit(10))).alias("k")]).collect().unwrap();
        let keys: Vec<Option<u64>> = out.column("k").unwrap().u64().unwrap().iter().collect();
        let pairs = sis.len() * heads.len();
        let distinct: std::collections::BTreeSet<u64> = keys[..pairs].iter().map(|k| k.expect("a key")).collect();
        assert_eq!(distinct.len(), pairs, "one number per (si_number, head)");
        for (i, k) in keys[..pairs].iter().enumerate() {
            let k = k.unwrap();
            let (si, head) = (si_col[i].as_deref().unwrap(), head_col[i].as_deref().unwrap());
            assert_eq!(k >> HEAD_BITS, si.parse::<u64>().unwrap(), "the si_number is the high bits");
            assert_eq!(k & ((1 << HEAD_BITS) - 1), head[..9].parse::<u64>().unwrap(), "the head's nine digits the low");
        }
        assert_eq!(keys[pairs], keys[2 * heads.len() + 2], "a branch is its head office");
        assert_eq!((keys[pairs + 1], keys[pairs + 2]), (None, None), "a null side gives null");
        // Not ten digits: the query fails rather than match wrongly.
        let bad = DataFrame::new(1, vec![Column::new("si".into(), ["s1"]), Column::new("head".into(), ["0100109106"])]).unwrap();
        assert!(bad.lazy().select([person_at_head(col("si"), col("head"))]).collect().is_err());
    }

    #[test]
    fn to_compute_names_the_months_by_month_would_compute() {
        let dir = tempfile::tempdir().unwrap();
        let memo = Mutex::new(Memo::load(dir.path(), true).unwrap());
        let (jan, mar, apr) = (month("2020-01"), month("2020-03"), month("2020-04"));
        let cache = RefCell::new(MonthCache::new(&memo, dir.path(), "coverage", "inputs".into()));
        assert_eq!(cache.borrow().to_compute("rule", jan, mar), vec![jan, month("2020-02"), mar], "nothing kept yet");
        let answer = |m: Month| Ok(DataFrame::new(1, vec![Column::new("m".into(), [m.to_string()])])?);
        by_month(jan, mar, Some((&cache, "rule")), answer, stack).unwrap();
        assert_eq!(cache.borrow().to_compute("rule", jan, mar), Vec::<Month>::new(), "the window's fold is kept");
        assert_eq!(cache.borrow().to_compute("rule", month("2020-02"), apr), vec![apr], "the window moved on: one new month");
        assert_eq!(cache.borrow().to_compute("other", jan, mar).len(), 3, "another rule keeps nothing");
        let changed = MonthCache::new(&memo, dir.path(), "coverage", "new inputs".into());
        assert_eq!(changed.to_compute("rule", jan, mar).len(), 3, "inputs changed: every month again");
        // What to_compute promised: by_month computes exactly that month.
        let computed = RefCell::new(Vec::new());
        by_month(month("2020-02"), apr, Some((&cache, "rule")), |m| { computed.borrow_mut().push(m); answer(m) }, stack).unwrap();
        assert_eq!(computed.into_inner(), vec![apr]);
    }

    /// Windows of 1 to 13 months: every month once and in order (stacking
    /// is not commutative), and with a combine that sums its two sides into
    /// one row, the window's total in one row, whatever the batches.
    #[test]
    fn by_month_combines_every_month_once_in_order() {
        use chrono::Datelike;
        let jan = month("2019-01");
        for n in 1..=13i32 {
            let last = jan.add(n - 1);
            let answer = |m: Month| Ok(DataFrame::new(1, vec![Column::new("m".into(), [m.to_string()])])?);
            let df = by_month(jan, last, None, answer, stack).unwrap().unwrap();
            let got: Vec<String> = df.column("m").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect();
            let want: Vec<String> = jan.through(last).map(|m| m.to_string()).collect();
            assert_eq!(got, want, "{n} months");
            let one = |m: Month| Ok(DataFrame::new(1, vec![Column::new("x".into(), [i64::from(m.first_day().month())])])?);
            let sum = |a: DataFrame, b: DataFrame| -> Result<DataFrame> {
                let total: i64 = a.column("x")?.i64()?.sum().unwrap_or(0) + b.column("x")?.i64()?.sum().unwrap_or(0);
                Ok(DataFrame::new(1, vec![Column::new("x".into(), [total])])?)
            };
            let df = by_month(jan, last, None, one, sum).unwrap().unwrap();
            let want: i64 = jan.through(last).map(|m| i64::from(m.first_day().month())).sum();
            assert_eq!((df.height(), df.column("x").unwrap().i64().unwrap().get(0)), (1, Some(want)), "{n} months");
        }
    }
}
