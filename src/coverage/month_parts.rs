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
//!
//! The wage parts carry each row's link (`status`, `si_number`, `method` of
//! `person_links`), joined once in the split: both rules join a month's
//! wages to the links, and at 16M people (14M links) building that join's
//! table again for each of the 24 months cost more than the split.

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
    /// The wage parts carry the link columns (the lake had person_links).
    linked: bool,
}

/// The columns of `person_links` a month's wage rows are given.
const LINK_COLUMNS: [&str; 3] = ["status", "si_number", "method"];

/// `rows` (wage rows) with each row's link: a left join on `person_ref`
/// (person_links has one row per reference), keeping the rows' order.
fn with_links(rows: LazyFrame, links: &LazyFrame) -> LazyFrame {
    let mut args = JoinArgs::new(JoinType::Left);
    args.maintain_order = MaintainOrderJoin::Left;
    let mut keep = vec![col("person_ref")];
    keep.extend(LINK_COLUMNS.map(col));
    rows.join(links.clone().select(keep), [col("person_ref")], [col("person_ref")], args)
}

impl MonthParts {
    /// Splits the wage rows (every contract: the columns the rules read,
    /// with their links when the lake has person_links) and the due
    /// declarations (work status in `due_statuses`) of `months`.
    pub fn split(lake: &Lake, due_statuses: &[String], months: BTreeSet<Month>) -> Result<MonthParts> {
        let dir = ScratchDir::new(lake.root.join("_state/coverage/by_month"))?;
        let links = frame::silver(lake, "person_links")?;
        if let Some(wages) = frame::silver(lake, "wages")? {
            let rows = wages.filter(frame::month_in(&months)).select(WAGE_COLUMNS.map(col));
            let rows = match &links {
                Some(l) => with_links(rows, l),
                None => rows,
            };
            lake::sink_parquet_by(rows, "month", &dir.path().join(WAGES))?;
        }
        if let Some(contrib) = frame::silver(lake, "contributions")? {
            let rows = contrib
                .filter(col("work_status").is_in(str_list(due_statuses), false).and(frame::month_in(&months)))
                .select([col("unit_code"), col("si_number"), col("month"), col("insured_wage")]);
            lake::sink_parquet_by(rows, "month", &dir.path().join(DUE))?;
        }
        Ok(MonthParts { dir, months, linked: links.is_some() })
    }

    /// Month `m`'s part of `what`: `None` when `m` was not split, and `none`
    /// (a frame of no rows with the part's columns) when it was and had no rows.
    fn part(&self, what: &str, m: Month, none: LazyFrame) -> Result<Option<LazyFrame>> {
        if !self.months.contains(&m) {
            return Ok(None);
        }
        let files = lake::parquet_part(&self.dir.path().join(what), "month", &m.first_day().format("%Y-%m-%d").to_string())?;
        Ok(Some(if files.is_empty() { none } else { lake::scan_parquet(&files)? }))
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

/// The wage columns the month rules read.
const WAGE_COLUMNS: [&str; 6] = ["person_ref", "employer_tax_code", "employer_head_tax_code", "month", "taxable_income", "contract"];

/// Month `m`'s wage rows (every contract: [`WAGE_COLUMNS`]) with each row's
/// link (`status`, `si_number`, `method`; null for a reference without a
/// link row), in the silver order: from its part when split, else the silver
/// `wages` filtered and joined to `links`.
pub(crate) fn linked_wages_in(parts: Option<&MonthParts>, wages: &LazyFrame, links: &LazyFrame, m: Month) -> Result<LazyFrame> {
    let rows = |lf: LazyFrame| lf.select(WAGE_COLUMNS.map(col));
    match parts {
        Some(p) if p.linked => {
            let none = with_links(rows(wages.clone().filter(lit(false))), &links.clone().filter(lit(false)));
            if let Some(part) = p.part(WAGES, m, none)? {
                return Ok(part);
            }
        }
        Some(p) => {
            if let Some(part) = p.part(WAGES, m, wages.clone().filter(lit(false)))? {
                return Ok(with_links(rows(part), links));
            }
        }
        None => {}
    }
    Ok(with_links(rows(wages.clone().filter(col("month").eq(lit(m.first_day())))), links))
}

/// Month `m`'s due declarations (work status in `due_statuses`: the columns
/// `unit_code`, `si_number`, `month`, `insured_wage`), from its part when
/// split (with the same statuses), else the silver `contributions` filtered.
pub(crate) fn due_in(parts: Option<&MonthParts>, due_statuses: &[String], contrib: &LazyFrame, m: Month) -> Result<LazyFrame> {
    let rows = match parts.map(|p| p.part(DUE, m, contrib.clone().filter(lit(false)))).transpose()?.flatten() {
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

    /// person_links for `a` (matched) and `b` (unmatched); `c` has no row.
    fn write_links(lake: &Lake) {
        let mut links = DataFrame::new(
            2,
            vec![
                Column::new("person_ref".into(), ["b", "a"]),
                Column::new("status".into(), ["unmatched", "matched"]),
                Column::new("si_number".into(), [None, Some("s1")]),
                Column::new("method".into(), [None, Some("citizen_id")]),
                Column::new("match_weight".into(), [None, Some(30.0f64)]),
            ],
        )
        .unwrap();
        lake::write_parquet(&lake.silver_file("person_links"), &mut links).unwrap();
    }

    #[test]
    fn a_months_part_holds_what_its_filter_gives_in_the_same_order() {
        let (dir, lake) = lake();
        write_links(&lake);
        let silver = |t: &str| frame::silver(&lake, t).unwrap().unwrap();
        let (wages, contrib, links) = (silver("wages"), silver("contributions"), silver("person_links"));
        let due = ["working".to_string(), "maternity".to_string()];
        // January and February split; April too, though no row has it; March not.
        let months: BTreeSet<Month> = ["2020-01", "2020-02", "2020-04"].into_iter().map(month).collect();
        let parts = MonthParts::split(&lake, &due, months).unwrap();
        assert!(parts.linked);
        let scratch = parts.dir.path().to_path_buf();
        assert!(scratch.starts_with(dir.path().join("_state/coverage")));
        assert!(scratch.file_name().unwrap().to_string_lossy().starts_with(".by_month.tmp-"), "a temporary: {}", scratch.display());
        assert!(scratch.join("wages/month=2020-01-01").exists() && !scratch.join("wages/month=2020-03-01").exists());
        let cols: Vec<Expr> = WAGE_COLUMNS.iter().chain(&LINK_COLUMNS).map(|c| col(*c)).collect();
        for m in ["2020-01", "2020-02", "2020-03", "2020-04"].map(month) {
            let split = linked_wages_in(Some(&parts), &wages, &links, m).unwrap().select(cols.clone()).collect().unwrap();
            let filtered = linked_wages_in(None, &wages, &links, m).unwrap().select(cols.clone()).collect().unwrap();
            assert!(split.equals_missing(&filtered), "{m}: wages\n{split}\n{filtered}");
            let split = due_in(Some(&parts), &due, &contrib, m).unwrap().collect().unwrap();
            let filtered = due_in(None, &due, &contrib, m).unwrap().collect().unwrap();
            assert!(split.equals_missing(&filtered), "{m}: due\n{split}\n{filtered}");
        }
        let jan = linked_wages_in(Some(&parts), &wages, &links, month("2020-01")).unwrap().collect().unwrap();
        assert_eq!(jan.column("person_ref").unwrap().str().unwrap().iter().flatten().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(jan.column("si_number").unwrap().str().unwrap().iter().collect::<Vec<_>>(), [Some("s1"), None], "a's link; b's has no si_number");
        let feb = linked_wages_in(Some(&parts), &wages, &links, month("2020-02")).unwrap().collect().unwrap();
        assert_eq!(feb.column("status").unwrap().str().unwrap().iter().collect::<Vec<_>>(), [Some("matched"), None], "c has no link row");
        assert_eq!(linked_wages_in(Some(&parts), &wages, &links, month("2020-04")).unwrap().collect().unwrap().height(), 0);
        let feb = due_in(Some(&parts), &due, &contrib, month("2020-02")).unwrap().collect().unwrap();
        assert_eq!(feb.column("si_number").unwrap().str().unwrap().iter().flatten().collect::<Vec<_>>(), ["s1"], "unpaid leave is not due");
        assert_eq!(due_in(Some(&parts), &due, &contrib, month("2020-04")).unwrap().collect().unwrap().height(), 0);
        drop(parts);
        assert!(!scratch.exists(), "the scratch folder goes with the split");
    }

    #[test]
    fn a_split_made_before_any_links_joins_them_when_read() {
        let (_dir, lake) = lake();
        let parts = MonthParts::split(&lake, &["working".to_string()], ["2020-01"].into_iter().map(month).collect()).unwrap();
        assert!(!parts.linked);
        write_links(&lake);
        let (wages, links) = (frame::silver(&lake, "wages").unwrap().unwrap(), frame::silver(&lake, "person_links").unwrap().unwrap());
        let split = linked_wages_in(Some(&parts), &wages, &links, month("2020-01")).unwrap().collect().unwrap();
        let filtered = linked_wages_in(None, &wages, &links, month("2020-01")).unwrap().collect().unwrap();
        assert!(split.equals_missing(&filtered), "{split}\n{filtered}");
        assert_eq!(split.column("status").unwrap().str().unwrap().iter().collect::<Vec<_>>(), [Some("matched"), Some("unmatched")]);
    }
}
