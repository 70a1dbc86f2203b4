//! The window's wage and declaration rows, split by month once per run.
//!
//! Silver keeps rows in extract order: wages and declarations come grouped
//! by person, so every row group holds every month, and a rule that
//! filtered one month read and decoded the whole table, once per month and
//! per rule (at 16M people most of the stage). The first month a rule
//! computes splits the window of the table, in one streaming pass, into a
//! scratch file per month (the columns the month rules read, rows in
//! silver's order); every month after reads its own file. The files are
//! scratch: made again by the next run that computes a month, and deleted
//! when the stage ends. A month outside the window is read from silver.

use super::frame;
use crate::lake::{self, Lake};
use crate::month::Month;
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The tables split, and the columns kept: every column a month rule reads.
const TABLES: &[(&str, &[&str])] = &[
    ("wages", &["person_ref", "employer_tax_code", "employer_head_tax_code", "month", "taxable_income", "contract"]),
    ("contributions", &["unit_code", "si_number", "month", "insured_wage", "work_status"]),
];

pub(crate) struct MonthSlices<'a> {
    lake: &'a Lake,
    dir: PathBuf,
    first: Month,
    last: Month,
    /// Tables split so far in this run.
    split: RefCell<Vec<&'static str>>,
}

impl<'a> MonthSlices<'a> {
    /// Months `first..=last` of the tables, split when first asked for.
    pub fn new(lake: &'a Lake, first: Month, last: Month) -> Result<MonthSlices<'a>> {
        let dir = lake.root.join("_state/coverage/by_month");
        remove(&dir)?; // left by a run that stopped
        Ok(MonthSlices { lake, dir, first, last, split: RefCell::new(Vec::new()) })
    }

    /// Silver `table`'s rows of month `m` (the columns the month rules
    /// read), or `None` when the lake has no such table.
    pub fn month(&self, table: &str, m: Month) -> Result<Option<LazyFrame>> {
        let Some(&(name, columns)) = TABLES.iter().find(|t| t.0 == table) else {
            bail!("silver/{table} is not split by month")
        };
        let Some(silver) = frame::silver(self.lake, name)? else { return Ok(None) };
        let cols: Vec<Expr> = columns.iter().map(|c| col(*c)).collect();
        let in_month = |lf: LazyFrame| lf.filter(col("month").eq(lit(m.first_day()))).select(cols.clone());
        if m < self.first || m > self.last {
            return Ok(Some(in_month(silver)));
        }
        if !self.split.borrow().contains(&name) {
            self.split_table(name, silver.clone(), &cols)?;
            self.split.borrow_mut().push(name);
        }
        let files = lake::parquet_files(&self.month_dir(name, m))?;
        Ok(Some(if files.is_empty() {
            // No row that month: silver's columns, filtered to nothing.
            in_month(silver)
        } else {
            lake::scan_parquet(&files)?.select(cols)
        }))
    }

    fn month_dir(&self, table: &str, m: Month) -> PathBuf {
        // Polars' Hive layout: `<key>=<value as a string>/`.
        self.dir.join(table).join(format!("month={}", m.first_day()))
    }

    fn split_table(&self, table: &str, silver: LazyFrame, cols: &[Expr]) -> Result<()> {
        let t = std::time::Instant::now();
        let base = self.dir.join(table);
        remove(&base)?;
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let options = ParquetWriteOptions {
            compression: ParquetCompression::Zstd(None),
            statistics: StatisticsOptions::default(),
            ..Default::default()
        };
        let destination = SinkDestination::Partitioned {
            base_path: PlRefPath::try_from_path(&base)?,
            file_path_provider: None,
            partition_strategy: PartitionStrategy::Keyed { keys: vec![col("month")], include_keys: true, keys_pre_grouped: false },
            max_rows_per_file: IdxSize::MAX,
            approximate_bytes_per_file: u64::MAX,
        };
        let args = UnifiedSinkArgs { mkdir: true, maintain_order: true, ..Default::default() };
        silver
            .filter(col("month").gt_eq(lit(self.first.first_day())).and(col("month").lt_eq(lit(self.last.first_day()))))
            .select(cols.to_vec())
            .sink(destination, FileWriteFormat::Parquet(Arc::new(options)), args)?
            .collect_with_engine(Engine::Streaming)?;
        tracing::debug!(stage = "coverage", table, seconds = t.elapsed().as_secs_f64(), "split by month");
        Ok(())
    }
}

impl Drop for MonthSlices<'_> {
    fn drop(&mut self) {
        if let Err(e) = remove(&self.dir) {
            tracing::warn!(error = %e, "could not delete the coverage month scratch");
        }
    }
}

fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("deleting {}", dir.display())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(y: i32, m: u32) -> Month {
        Month::new(y, m).unwrap()
    }

    /// Silver wages over four months, rows of a person together (as silver
    /// keeps them), with a column the month rules do not read.
    fn lake_with_wages(dir: &Path) -> Lake {
        let lake = Lake::new(dir);
        let (mut person, mut months, mut income) = (Vec::new(), Vec::new(), Vec::new());
        for p in 0..50 {
            for m in [1, 2, 4] {
                person.push(format!("pit:{p:010}"));
                months.push(month(2020, m).first_day());
                income.push(1_000_000 * p as i64 + m as i64);
            }
        }
        let n = person.len();
        let mut df = DataFrame::new(
            n,
            vec![
                Column::new("person_ref".into(), person.clone()),
                Column::new("employer_tax_code".into(), vec!["0100109106-001"; n]),
                Column::new("employer_head_tax_code".into(), vec!["0100109106"; n]),
                Column::new("month".into(), months),
                Column::new("taxable_income".into(), income),
                Column::new("contract".into(), vec!["indefinite"; n]),
                Column::new("full_name".into(), vec!["Nguyễn Văn An"; n]),
            ],
        )
        .unwrap();
        lake::write_parquet(&lake.silver_file("wages"), &mut df).unwrap();
        lake
    }

    #[test]
    fn a_month_read_from_its_slice_is_the_month_filtered_from_silver() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake_with_wages(dir.path());
        let scratch = dir.path().join("_state/coverage/by_month");
        std::fs::create_dir_all(scratch.join("wages/month=2020-02-01")).unwrap();
        std::fs::write(scratch.join("wages/month=2020-02-01/stale.parquet"), b"left by a run that stopped").unwrap();
        let silver = frame::silver(&lake, "wages").unwrap().unwrap();
        {
            let slices = MonthSlices::new(&lake, month(2020, 1), month(2020, 3)).unwrap();
            assert!(!scratch.exists(), "a stopped run's scratch is deleted first");
            for m in [month(2019, 12), month(2020, 1), month(2020, 2), month(2020, 3), month(2020, 4)] {
                let got = slices.month("wages", m).unwrap().unwrap().collect().unwrap();
                let want = silver
                    .clone()
                    .filter(col("month").eq(lit(m.first_day())))
                    .select(TABLES[0].1.iter().map(|c| col(*c)).collect::<Vec<_>>())
                    .collect()
                    .unwrap();
                assert!(got.equals_missing(&want), "{m:?}: {got} != {want}");
                assert_eq!(got.height(), if [1, 2, 4].contains(&m.month()) && m.year() == 2020 { 50 } else { 0 }, "{m:?}");
            }
            // Split once, only the window's months (April is read from silver).
            assert!(scratch.join("wages/month=2020-01-01").is_dir());
            assert!(!scratch.join("wages/month=2020-04-01").exists());
            assert!(slices.month("contributions", month(2020, 1)).unwrap().is_none(), "no such silver table");
            assert!(slices.month("people", month(2020, 1)).is_err(), "not a split table");
        }
        assert!(!scratch.exists(), "deleted when the stage is done");
    }
}
