//! Moving columns between Polars frames and plain Rust vectors.

use crate::lake::{self, Lake};
use crate::month::Month;
use anyhow::Result;
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

/// Works a window one month at a time: `part` answers for one month, and the
/// answers are stacked (`None` for an empty window). For rules that compare
/// one month's rows only, so that a month's join is all that is in memory.
pub fn by_month(first: Month, last: Month, mut part: impl FnMut(Month) -> Result<DataFrame>) -> Result<Option<DataFrame>> {
    let mut all: Option<DataFrame> = None;
    for m in first.through(last) {
        let df = part(m)?;
        match all.as_mut() {
            Some(a) => {
                a.vstack_mut(&df)?;
            }
            None => all = Some(df),
        }
    }
    Ok(all)
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

/// A literal list of strings for `is_in`.
pub fn str_list(v: &[String]) -> Expr {
    lit(Series::new("".into(), v.to_vec())).implode(false)
}

/// Rounds `sum / n` to the nearest whole VND, halves up.
pub fn avg_vnd(sum: i64, n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    (2 * sum + n) / (2 * n)
}
