//! Stage 2, conform: bronze extracts into silver entities, one row per
//! natural key, with stable keys and lineage.
//!
//! Several extracts of the same dataset (nightly deliveries) are stacked; for
//! each natural key the newest extract wins, and within an extract the last
//! line — except payments, where the first copy of a reference is the money
//! that arrived (a resend is the same money, kept once). Kept rows stay in
//! extract and line order, so a rerun on the same inputs writes the same table.

use crate::contract::{self, Dataset};
use crate::lake::ledger::Ledger;
use crate::lake::memo::{Fingerprint, Memo};
use crate::lake::{self, Lake};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use std::time::Instant;

/// A silver table and the bronze dataset it conforms.
pub struct SilverTable {
    pub name: &'static str,
    pub dataset: &'static str,
    /// Which copy of a duplicated key survives.
    pub keep: Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The newest extract, last line: the latest word on the entity.
    Latest,
    /// The first copy: a resent record is the same event.
    First,
}

pub const SILVER: &[SilverTable] = &[
    SilverTable { name: "employers", dataset: "tax_employers", keep: Keep::Latest },
    SilverTable { name: "wages", dataset: "tax_wages", keep: Keep::Latest },
    SilverTable { name: "households", dataset: "tax_households", keep: Keep::Latest },
    SilverTable { name: "units", dataset: "si_units", keep: Keep::Latest },
    SilverTable { name: "people", dataset: "si_people", keep: Keep::Latest },
    SilverTable { name: "contributions", dataset: "si_contributions", keep: Keep::Latest },
    SilverTable { name: "suspensions", dataset: "si_suspensions", keep: Keep::Latest },
    SilverTable { name: "payments", dataset: "si_payments", keep: Keep::First },
    SilverTable { name: "enrolments", dataset: "si_voluntary", keep: Keep::Latest },
    SilverTable { name: "agents", dataset: "agents", keep: Keep::Latest },
    SilverTable { name: "officers", dataset: "officers", keep: Keep::Latest },
    SilverTable { name: "plan_targets", dataset: "plan_targets", keep: Keep::Latest },
    SilverTable { name: "covid_reviews", dataset: "covid_reviews", keep: Keep::Latest },
    SilverTable { name: "conferences", dataset: "conferences", keep: Keep::Latest },
];

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TableReport {
    pub table: String,
    pub rows_in: u64,
    pub rows_out: u64,
    /// rows_in − rows_out: copies of a key already kept.
    pub duplicates: u64,
    pub seconds: f64,
    /// Its extracts were the same as when this table was last conformed:
    /// kept as it was (the counts are that run's).
    #[serde(default)]
    pub skipped: bool,
}

/// Conforms every dataset that has bronze files, using only extracts dated
/// on or before `as_of` (a run for a past date sees what existed then).
///
/// With a `memo` (the nightly run), a table whose extracts are the ones it
/// was last conformed from (same names, same content hashes in the ingest
/// ledger) is kept as it is.
pub fn run(lake: &Lake, as_of: NaiveDate, progress: &indicatif::ProgressBar, mut memo: Option<&mut Memo>) -> Result<Vec<TableReport>> {
    let ledger = Ledger::load(&lake.root)?;
    let mut reports = Vec::new();
    for t in SILVER {
        progress.set_message(t.name);
        progress.inc(1);
        let step = format!("conform/{}", t.name);
        let target = lake.silver_file(t.name);
        let files = bronze_in_order(lake, t.dataset, as_of)?;
        if files.is_empty() {
            // Nothing dated up to as_of: a silver table left by a run for a
            // later date must not leak into this one.
            if target.exists() {
                std::fs::remove_file(&target).with_context(|| format!("removing {}", target.display()))?;
            }
            if let Some(m) = memo.as_deref_mut() {
                m.forget(&step)?;
            }
            continue;
        }
        let fingerprint = fingerprint(t, &files, &ledger)?;
        if let Some(e) = memo.as_deref().and_then(|m| m.fresh(&step, &fingerprint)) {
            if let Ok(mut r) = serde_json::from_value::<TableReport>(e.report.clone()) {
                r.skipped = true;
                r.seconds = 0.0;
                reports.push(r);
                continue;
            }
        }
        let start = Instant::now();
        let ds = contract::dataset(t.dataset).expect("silver tables name contract datasets");
        let bronze = lake::scan_parquet(&files)?;
        let rows_in = count(bronze.clone())?;
        let rows_out = lake::sink_parquet(conform_table(bronze, rows_in, ds, t.keep)?, &target)?;
        let report = TableReport {
            table: t.name.to_string(),
            rows_in,
            rows_out,
            duplicates: rows_in - rows_out,
            seconds: start.elapsed().as_secs_f64(),
            skipped: false,
        };
        tracing::debug!(stage = "conform", table = t.name, seconds = report.seconds, peak_mib = crate::pipeline::peak_rss_mib(), "table written");
        if let Some(m) = memo.as_deref_mut() {
            m.record(&step, &fingerprint, &[target], serde_json::to_value(&report)?)?;
        }
        reports.push(report);
    }
    Ok(reports)
}

/// What a silver table is made of: its rule (which copy survives) and its
/// extracts in order, each by name and content hash (from the ingest ledger;
/// a bronze file the ledger does not know is hashed itself).
fn fingerprint(t: &SilverTable, files: &[std::path::PathBuf], ledger: &Ledger) -> Result<String> {
    let mut f = Fingerprint::new("conform");
    f.add("table", t.name.as_bytes()).add("keep", format!("{:?}", t.keep).as_bytes());
    for p in files {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let known = ledger.entries.iter().rev().find(|e| e.dataset == t.dataset && e.extract == stem);
        let hash = match known {
            Some(e) => e.blake3.clone(),
            None => crate::lake::ledger::hash_file(p)?.0,
        };
        f.add("extract", stem.as_bytes()).add("blake3", hash.as_bytes());
    }
    Ok(f.finish())
}

/// The fingerprint a silver table was last conformed with (`None` when no
/// run recorded one): what the stages reading it put in their own.
pub fn table_fingerprint<'a>(memo: &'a Memo, table: &str) -> Option<&'a str> {
    memo.fingerprint(&format!("conform/{table}"))
}

fn count(lf: LazyFrame) -> Result<u64> {
    let df = lf.select([len().alias("n")]).collect()?;
    Ok(df.column("n")?.u32()?.get(0).unwrap_or(0) as u64)
}

/// One row per natural key, with derived stable keys.
///
/// `bronze` (`rows` rows) must list the extracts oldest first (see
/// [`bronze_in_order`]), each in line order, so "last" is the newest
/// extract's last line. The kept rows stay in that order: no sort, so the
/// table streams through in bounded memory.
pub fn conform_table(bronze: LazyFrame, rows: u64, ds: &Dataset, keep: Keep) -> Result<LazyFrame> {
    // Decide the survivors on the key columns alone, then stream the whole
    // rows through an anti join on the row numbers of the others: the wide
    // rows are never all held at once, and the join's table holds the few
    // duplicates (0.5% of the wages), not one entry per row (at 16M people a
    // semi join on the survivors hashed 168M row numbers).
    let indexed = bronze.with_row_index("_row", None);
    let t = Instant::now();
    let dropped = dropped_rows(survivors(indexed.clone(), ds, keep)?, rows)?;
    tracing::debug!(stage = "conform", table = ds.name, dropped = dropped.height(), seconds = t.elapsed().as_secs_f64(), peak_mib = crate::pipeline::peak_rss_mib(), "survivors found");
    let kept = if dropped.height() == 0 {
        indexed
    } else {
        let mut args = JoinArgs::new(JoinType::Anti);
        args.maintain_order = MaintainOrderJoin::Left;
        indexed.join(dropped.lazy(), [col("_row")], [col("_row")], args)
    };
    Ok(with_stable_keys(kept.drop(cols(["_row"])), ds))
}

/// The row numbers in `0..rows` that are not among `survivors`' `_row`, in order.
fn dropped_rows(survivors: DataFrame, rows: u64) -> Result<DataFrame> {
    let mut kept = vec![0u64; (rows as usize).div_ceil(64)];
    for r in survivors.column("_row")?.idx()?.into_no_null_iter() {
        let r = r as usize;
        anyhow::ensure!(r < rows as usize, "row number {r} past the {rows} rows read");
        kept[r / 64] |= 1 << (r % 64);
    }
    drop(survivors);
    let mut dropped: Vec<IdxSize> = Vec::new();
    for (w, bits) in kept.iter().enumerate() {
        let mut missing = !bits;
        while missing != 0 {
            let r = w * 64 + missing.trailing_zeros() as usize;
            if r >= rows as usize {
                break;
            }
            dropped.push(r as IdxSize);
            missing &= missing - 1;
        }
    }
    Ok(DataFrame::new(dropped.len(), vec![Column::new("_row".into(), dropped)])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(df: &DataFrame) -> Vec<IdxSize> {
        df.column("_row").unwrap().idx().unwrap().into_no_null_iter().collect()
    }

    #[test]
    fn dropped_rows_are_the_ones_not_kept_in_order() {
        let kept = df!("_row" => [130 as IdxSize, 0, 2, 64, 63, 65, 127, 129]).unwrap();
        let want: Vec<IdxSize> = (0..131).filter(|r| ![130, 0, 2, 64, 63, 65, 127, 129].contains(r)).collect();
        assert_eq!(rows_of(&dropped_rows(kept, 131).unwrap()), want);
    }

    #[test]
    fn nothing_dropped_when_every_row_is_kept_and_everything_when_none_is() {
        let all = df!("_row" => (0..128 as IdxSize).rev().collect::<Vec<_>>()).unwrap();
        assert!(rows_of(&dropped_rows(all, 128).unwrap()).is_empty());
        let none = df!("_row" => Vec::<IdxSize>::new()).unwrap();
        assert_eq!(rows_of(&dropped_rows(none, 3).unwrap()), vec![0, 1, 2]);
    }

    #[test]
    fn a_row_number_past_the_rows_read_is_refused() {
        let kept = df!("_row" => [0 as IdxSize, 5]).unwrap();
        assert!(dropped_rows(kept, 5).is_err());
    }
}

/// The row numbers (`_row`) of the rows that survive deduplication.
///
/// A key that contains `month` (wages, contributions: the year's bulk) is
/// deduplicated one month at a time — no key spans two months, so the answer
/// is the same, and only one month's keys are in memory at once (a whole
/// year's string keys took 16 GB at 4M people).
fn survivors(indexed: LazyFrame, ds: &Dataset, keep: Keep) -> Result<DataFrame> {
    let key: Vec<PlSmallStr> = ds.key.iter().map(|k| PlSmallStr::from(*k)).collect();
    let strategy = match keep {
        Keep::Latest => UniqueKeepStrategy::Last,
        Keep::First => UniqueKeepStrategy::First,
    };
    let mut key_and_row: Vec<Expr> = key.iter().map(|k| col(k.clone())).collect();
    key_and_row.push(col("_row"));
    let dedup = |lf: LazyFrame| -> Result<DataFrame> {
        Ok(lf
            .select(key_and_row.clone())
            .unique_stable(Some(cols(key.clone())), strategy)
            .select([col("_row")])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single())
    };
    if !ds.key.contains(&"month") {
        return dedup(indexed);
    }
    let months = indexed
        .clone()
        .select([col("month")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    let months = months.column("month")?.as_materialized_series().clone();
    let mut parts: Vec<DataFrame> = Vec::with_capacity(months.len());
    for i in 0..months.len() {
        let m = months.get(i)?;
        let this = if m.is_null() { col("month").is_null() } else { col("month").eq(lit(Scalar::new(months.dtype().clone(), m.into_static()))) };
        parts.push(dedup(indexed.clone().filter(this))?);
    }
    let mut all = match parts.pop() {
        Some(df) => df,
        None => return dedup(indexed),
    };
    for p in &parts {
        all.vstack_mut(p)?;
    }
    Ok(all)
}

/// The bronze files of a dataset dated on or before `as_of`, oldest extract
/// first: by extraction date, then version (`.v2` after the first content).
pub fn bronze_in_order(lake: &Lake, dataset: &str, as_of: NaiveDate) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<(NaiveDate, u32, std::path::PathBuf)> = Vec::new();
    for path in lake.bronze_files(dataset)? {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let (base, version) = match stem.rsplit_once(".v") {
            Some((b, v)) if v.parse::<u32>().is_ok() => (b, v.parse().unwrap_or(1)),
            _ => (stem, 1),
        };
        let date = base.rsplit_once('_').and_then(|(_, d)| NaiveDate::parse_from_str(d, "%Y%m%d").ok());
        match date {
            Some(d) if d <= as_of => files.push((d, version, path)),
            Some(_) => {}
            None => anyhow::bail!("bronze file {} is not named <dataset>_<YYYYMMDD>[.vN].parquet", path.display()),
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, _, p)| p).collect())
}

/// Keys later stages join on: the head office of any tax code (branches
/// belong to their head office's 10-digit code), and for tax-side people a
/// `person_ref` from the best identifier they carry.
fn with_stable_keys(lf: LazyFrame, ds: &Dataset) -> LazyFrame {
    let head = |c: &str, alias: &str| col(c).str().slice(lit(0), lit(10)).alias(alias);
    match ds.name {
        "tax_employers" => lf.with_columns([
            head("tax_code", "head_tax_code"),
            col("tax_code").str().len_bytes().gt(lit(10)).alias("is_branch"),
        ]),
        "si_units" => lf.with_column(head("tax_code", "head_tax_code")),
        "tax_wages" => lf.with_columns([
            head("employer_tax_code", "employer_head_tax_code"),
            coalesce(&[
                concat_str([lit("pit:"), col("person_tax_code")], "", false),
                concat_str([lit("cid:"), col("citizen_id")], "", false),
                concat_str([lit("name:"), col("full_name").str().to_lowercase(), lit("|"), col("birth_date").cast(DataType::String)], "", false),
                concat_str([lit("name:"), col("full_name").str().to_lowercase()], "", false),
            ])
            .alias("person_ref"),
        ]),
        _ => lf,
    }
}
