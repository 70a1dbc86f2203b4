//! The window's wage rows and due declarations split by month once, for a
//! run that computes several months of the month rules.
//!
//! The silver tables keep their extracts' order (by person), so every row
//! group holds every month and a month's filter reads and decodes the whole
//! table: computing the 24 months of the two rules read the year's wages 24
//! times. Split once (one streaming pass per table with Polars' partitioned
//! sink, [`lake::sink_parquet_by`]), each month reads only its own rows. The
//! parts hold the silver rows in the silver order, so a month's answer is the
//! one the filter gives. A night that reuses its months splits nothing.

use super::frame::{self, str_list};
use super::Ctx;
use crate::lake::{self, Lake, ScratchDir};
use crate::month::Month;
use anyhow::Result;
use polars::prelude::*;
use std::collections::BTreeSet;

/// Fewer months than this are filtered from the silver tables. At 4M people
/// the split of 12 months took 7.1 s, and each month split saved its two
/// rules 1.24 s (docs/benchmarks.md, thirteenth session): even from 6. A
/// night computes none, a new month one, a changed table all twelve.
pub(crate) const MIN_MONTHS: usize = 6;

const WAGES: &str = "wages";
const DUE: &str = "due";

/// The split, in a scratch folder deleted with it.
pub(crate) struct MonthParts {
    dir: ScratchDir,
    months: BTreeSet<Month>,
}

impl MonthParts {
    /// Splits the wage rows (every contract: the columns the rules read) and
    /// the due declarations (work status in `due_statuses`) of `months`.
    pub fn split(lake: &Lake, due_statuses: &[String], months: BTreeSet<Month>) -> Result<MonthParts> {
        let dir = ScratchDir::new(lake.root.join("_state/coverage/by_month"))?;
        let in_months = || {
            let days: Vec<i32> = months.iter().map(|m| frame::to_days(m.first_day())).collect();
            col("month").cast(DataType::Int32).is_in(lit(Series::new("".into(), days)).implode(false), false)
        };
        if let Some(wages) = frame::silver(lake, "wages")? {
            let rows = wages.filter(in_months()).select([
                col("person_ref"),
                col("employer_tax_code"),
                col("employer_head_tax_code"),
                col("month"),
                col("taxable_income"),
                col("contract"),
            ]);
            lake::sink_parquet_by(rows, "month", &dir.path().join(WAGES))?;
        }
        if let Some(contrib) = frame::silver(lake, "contributions")? {
            let rows = contrib
                .filter(col("work_status").is_in(str_list(due_statuses), false).and(in_months()))
                .select([col("unit_code"), col("si_number"), col("month"), col("insured_wage")]);
            lake::sink_parquet_by(rows, "month", &dir.path().join(DUE))?;
        }
        Ok(MonthParts { dir, months })
    }

    /// Month `m`'s part of `what`: `None` when `m` was not split, and an
    /// empty frame when it was and had no rows.
    fn part(&self, what: &str, m: Month, silver: &LazyFrame) -> Result<Option<LazyFrame>> {
        if !self.months.contains(&m) {
            return Ok(None);
        }
        let files = lake::parquet_part(&self.dir.path().join(what), "month", &m.first_day().format("%Y-%m-%d").to_string())?;
        Ok(Some(if files.is_empty() { silver.clone().filter(lit(false)) } else { lake::scan_parquet(&files)? }))
    }
}

/// The months of the window the month rules will compute (all of both
/// windows without kept answers), split when there are [`MIN_MONTHS`] or more.
pub(crate) fn prepare(ctx: &Ctx) -> Result<Option<MonthParts>> {
    let c = ctx.cfg;
    let windows = [
        ("uninsured", ctx.asof_m.add(-(c.uninsured.lookback_months as i32))),
        ("under_declared", ctx.asof_m.add(-(c.under_declared.lookback_months as i32))),
    ];
    let last = ctx.asof_m.prev();
    let months: BTreeSet<Month> = windows
        .iter()
        .flat_map(|&(part, first)| match &ctx.months {
            Some(cache) => cache.borrow().to_compute(part, first, last),
            None => first.through(last).collect(),
        })
        .collect();
    if months.len() < MIN_MONTHS {
        return Ok(None);
    }
    Ok(Some(MonthParts::split(ctx.lake, &c.uninsured.due_statuses, months)?))
}

/// Month `m`'s wage rows (every contract), from its part when split, else
/// the silver `wages` filtered.
pub(crate) fn wages_in(parts: Option<&MonthParts>, wages: &LazyFrame, m: Month) -> Result<LazyFrame> {
    if let Some(p) = parts.map(|p| p.part(WAGES, m, wages)).transpose()?.flatten() {
        return Ok(p);
    }
    Ok(wages.clone().filter(col("month").eq(lit(m.first_day()))))
}

/// Month `m`'s due declarations (work status in `due_statuses`: the columns
/// `unit_code`, `si_number`, `month`, `insured_wage`), from its part when
/// split (with the same statuses), else the silver `contributions` filtered.
pub(crate) fn due_in(parts: Option<&MonthParts>, due_statuses: &[String], contrib: &LazyFrame, m: Month) -> Result<LazyFrame> {
    let rows = match parts.map(|p| p.part(DUE, m, contrib)).transpose()?.flatten() {
        Some(p) => p,
        None => contrib
            .clone()
            .filter(col("work_status").is_in(str_list(due_statuses), false).and(col("month").eq(lit(m.first_day())))),
    };
    Ok(rows.select([col("unit_code"), col("si_number"), col("month"), col("insured_wage")]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(s: &str) -> Month {
        s.parse().unwrap()
    }

    fn dates(v: &[&str]) -> Column {
        frame::date_column("month", v.iter().map(|s| Some(month(s).first_day())).collect()).unwrap()
    }

    /// Silver wages and contributions over January to March, in person
    /// order (as the extracts come), with one status that is not due.
    fn lake() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let ms = ["2020-01", "2020-02", "2020-03", "2020-01", "2020-03", "2020-02"];
        let mut wages = DataFrame::new(
            6,
            vec![
                Column::new("person_ref".into(), ["a", "a", "a", "b", "b", "c"]),
                Column::new("employer_tax_code".into(), ["e1", "e1", "e2", "e1", "e1", "e3"]),
                Column::new("employer_head_tax_code".into(), ["e1", "e1", "e1", "e1", "e1", "e3"]),
                dates(&ms),
                Column::new("taxable_income".into(), [10i64, 11, 12, 20, 21, 30]),
                Column::new("contract".into(), ["indefinite", "indefinite", "short", "fixed", "fixed", "none"]),
                Column::new("_source_line".into(), [1i64, 2, 3, 4, 5, 6]),
            ],
        )
        .unwrap();
        lake::write_parquet(&lake.silver_file("wages"), &mut wages).unwrap();
        let mut contrib = DataFrame::new(
            6,
            vec![
                Column::new("unit_code".into(), ["u1", "u1", "u1", "u2", "u2", "u3"]),
                Column::new("si_number".into(), ["s1", "s1", "s1", "s2", "s2", "s3"]),
                dates(&ms),
                Column::new("insured_wage".into(), [5i64, 6, 7, 8, 9, 10]),
                Column::new("work_status".into(), ["working", "working", "maternity", "working", "working", "unpaid_leave"]),
            ],
        )
        .unwrap();
        lake::write_parquet(&lake.silver_file("contributions"), &mut contrib).unwrap();
        (dir, lake)
    }

    #[test]
    fn a_months_part_holds_what_its_filter_gives_in_the_same_order() {
        let (dir, lake) = lake();
        let (wages, contrib) = (frame::silver(&lake, "wages").unwrap().unwrap(), frame::silver(&lake, "contributions").unwrap().unwrap());
        let due = ["working".to_string(), "maternity".to_string()];
        // January and February split; April too, though no row has it; March not.
        let months: BTreeSet<Month> = ["2020-01", "2020-02", "2020-04"].into_iter().map(month).collect();
        let parts = MonthParts::split(&lake, &due, months).unwrap();
        let scratch = parts.dir.path().to_path_buf();
        assert!(scratch.starts_with(dir.path().join("_state/coverage")));
        assert!(scratch.file_name().unwrap().to_string_lossy().starts_with(".by_month.tmp-"), "a temporary: {}", scratch.display());
        assert!(scratch.join("wages/month=2020-01-01").exists() && !scratch.join("wages/month=2020-03-01").exists());
        let cols = ["person_ref", "employer_tax_code", "employer_head_tax_code", "month", "taxable_income", "contract"];
        for m in ["2020-01", "2020-02", "2020-03", "2020-04"].map(month) {
            let split = wages_in(Some(&parts), &wages, m).unwrap().select(cols.map(col)).collect().unwrap();
            let filtered = wages_in(None, &wages, m).unwrap().select(cols.map(col)).collect().unwrap();
            assert!(split.equals_missing(&filtered), "{m}: wages\n{split}\n{filtered}");
            let split = due_in(Some(&parts), &due, &contrib, m).unwrap().collect().unwrap();
            let filtered = due_in(None, &due, &contrib, m).unwrap().collect().unwrap();
            assert!(split.equals_missing(&filtered), "{m}: due\n{split}\n{filtered}");
        }
        let jan = wages_in(Some(&parts), &wages, month("2020-01")).unwrap().collect().unwrap();
        assert_eq!(jan.column("person_ref").unwrap().str().unwrap().iter().flatten().collect::<Vec<_>>(), ["a", "b"]);
        let feb = due_in(Some(&parts), &due, &contrib, month("2020-02")).unwrap().collect().unwrap();
        assert_eq!(feb.column("si_number").unwrap().str().unwrap().iter().flatten().collect::<Vec<_>>(), ["s1"], "unpaid leave is not due");
        assert_eq!(due_in(Some(&parts), &due, &contrib, month("2020-04")).unwrap().collect().unwrap().height(), 0);
        drop(parts);
        assert!(!scratch.exists(), "the scratch folder goes with the split");
    }
}
