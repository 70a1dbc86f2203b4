//! Stage 2, conform: bronze extracts into silver entities, one row per
//! natural key, with stable keys and lineage.
//!
//! Several extracts of the same dataset (nightly deliveries) are stacked; for
//! each natural key the newest extract wins, and within an extract the last
//! line — except payments, where the first copy of a reference is the money
//! that arrived (a resend is the same money, kept once). Output rows are
//! sorted by key, so a rerun on the same inputs writes the same table.

use crate::contract::{self, Dataset};
use crate::lake::{self, Lake};
use anyhow::Result;
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

#[derive(Clone, Debug, Default)]
pub struct TableReport {
    pub table: String,
    pub rows_in: u64,
    pub rows_out: u64,
    /// rows_in − rows_out: copies of a key already kept.
    pub duplicates: u64,
    pub seconds: f64,
}

/// Conforms every dataset that has bronze files, using only extracts dated
/// on or before `as_of` (a run for a past date sees what existed then).
pub fn run(lake: &Lake, as_of: NaiveDate) -> Result<Vec<TableReport>> {
    let mut reports = Vec::new();
    for t in SILVER {
        let files = lake.bronze_files(t.dataset)?;
        if files.is_empty() {
            continue;
        }
        let start = Instant::now();
        let ds = contract::dataset(t.dataset).expect("silver tables name contract datasets");
        let bronze = lake::scan_parquet(&files)?.filter(col("_extract_date").lt_eq(lit(as_of)));
        let rows_in = count(bronze.clone())?;
        let mut df = conform_table(bronze, ds, t.keep)?.collect()?;
        let rows_out = df.height() as u64;
        lake::write_parquet(&lake.silver_file(t.name), &mut df)?;
        reports.push(TableReport {
            table: t.name.to_string(),
            rows_in,
            rows_out,
            duplicates: rows_in - rows_out,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok(reports)
}

fn count(lf: LazyFrame) -> Result<u64> {
    let df = lf.select([len().alias("n")]).collect()?;
    Ok(df.column("n")?.u32()?.get(0).unwrap_or(0) as u64)
}

/// One row per natural key, sorted by key, with derived stable keys.
pub fn conform_table(bronze: LazyFrame, ds: &Dataset, keep: Keep) -> Result<LazyFrame> {
    let key: Vec<PlSmallStr> = ds.key.iter().map(|k| PlSmallStr::from(*k)).collect();
    let mut order = key.clone();
    order.push("_extract_date".into());
    order.push("_extract_version".into());
    order.push("_source_line".into());
    let strategy = match keep {
        Keep::Latest => UniqueKeepStrategy::Last,
        Keep::First => UniqueKeepStrategy::First,
    };
    let sorted = bronze.sort(order, SortMultipleOptions::default().with_maintain_order(true).with_nulls_last(true));
    let unique = sorted.unique_stable(Some(cols(key)), strategy);
    Ok(with_stable_keys(unique, ds))
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
