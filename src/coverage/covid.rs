//! Covid review monitoring (DOMAIN §1.1).
//!
//! `covid_review_monitor`: every covid_reviews row (unit × month, up to the
//! as-of month) beside what the unit's declarations show that month and its
//! pre-Covid due headcount.
//!
//! `should_have_resumed`: units whose latest review reports every worker back
//! (continuing only: no unpaid leave, suspended contract or stopped-with-pay),
//! or whose agreed `resume_month` is before the as-of month, while their
//! latest declarations (up to the as-of month) have not come back to the
//! review's workforce: workers still declared out (`out_statuses`: unpaid
//! leave, suspended contract), or fewer people declared with a due status than
//! the review counts working, on leave, suspended or stopped with pay (the
//! unit that says 50 are back and declares 10 has dropped 40 from its
//! declarations). `workers_missing` is the larger of the two counts.

use super::frame::{self, date_column, days, ints, month_of, str_list, strs};
use super::Ctx;
use crate::month::Month;
use anyhow::Result;
use polars::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub(crate) struct ResumeRow {
    pub unit_code: String,
    pub province: Option<String>,
    pub review_month: Month,
    pub all_back: bool,
    pub resume_month: Option<Month>,
    pub declared_month: Month,
    pub declared_due: i64,
    pub declared_out: i64,
    /// The latest review's workforce: everyone not terminated.
    pub review_headcount: i64,
    /// max(declared_out, review_headcount − declared_due).
    pub workers_missing: i64,
    pub pre_covid: Option<i64>,
    pub monthly_gap: i64,
    pub score: i64,
    pub officer: Option<String>,
}

/// Declarations per unit and month of the units `of` (a frame with a
/// `unit_code` column): due and out headcounts, due wage bill. The units are
/// picked before the months are summed, and the sums are plain column sums,
/// so the query streams (with the wage bill as a filter inside the
/// aggregation it did not, and read every declaration at once: 5 GB at 4M).
pub(crate) fn unit_months(ctx: &Ctx, of: LazyFrame) -> Result<Option<LazyFrame>> {
    let Some(contrib) = frame::silver(ctx.lake, "contributions")? else { return Ok(None) };
    let due = col("work_status").is_in(str_list(&ctx.cfg.uninsured.due_statuses), false);
    let out = col("work_status").is_in(str_list(&ctx.cfg.covid.out_statuses), false);
    Ok(Some(
        contrib
            .filter(col("month").lt_eq(lit(ctx.asof_m.first_day())))
            .join(of.select([col("unit_code")]).unique(None, UniqueKeepStrategy::Any), [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Semi))
            .select([
                col("unit_code"),
                col("month"),
                due.clone().cast(DataType::Int64).alias("declared_due"),
                out.cast(DataType::Int64).alias("declared_out"),
                when(due).then(col("insured_wage")).otherwise(lit(0i64)).alias("due_wages"),
            ])
            .group_by([col("unit_code"), col("month")])
            .agg([col("declared_due").sum(), col("declared_out").sum(), col("due_wages").sum()]),
    ))
}

/// A review's workforce: everyone the unit reports not terminated (working,
/// on unpaid leave, suspended, stopped with pay), all of whom are declared
/// with a due status once work resumes.
fn review_workforce(continuing: Option<i64>, leave: Option<i64>, suspended: Option<i64>, stopped: Option<i64>) -> i64 {
    [continuing, leave, suspended, stopped].iter().map(|v| v.unwrap_or(0)).sum()
}

/// The reviewed workforce of each of `units` by review month, oldest first
/// (for the "developed" check of should-have-resumed items: declarations
/// are back when they reach the latest review's workforce).
pub(crate) fn review_workforces(ctx: &Ctx, units: LazyFrame) -> Result<HashMap<String, Vec<(Month, i64)>>> {
    let mut out: HashMap<String, Vec<(Month, i64)>> = HashMap::new();
    let Some(reviews) = frame::silver(ctx.lake, "covid_reviews")? else { return Ok(out) };
    let df = reviews
        .filter(col("month").lt_eq(lit(ctx.asof_m.first_day())))
        .join(units.select([col("unit_code")]).unique(None, UniqueKeepStrategy::Any), [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Semi))
        .select([col("unit_code"), col("month"), col("continuing"), col("unpaid_leave"), col("suspended_contract"), col("stopped_paid")])
        .sort(["unit_code", "month"], Default::default())
        .collect()?;
    let (u, m) = (strs(&df, "unit_code")?, days(&df, "month")?);
    let (c, l, s, p) = (ints(&df, "continuing")?, ints(&df, "unpaid_leave")?, ints(&df, "suspended_contract")?, ints(&df, "stopped_paid")?);
    for i in 0..df.height() {
        let (Some(u), Some(m)) = (u[i].clone(), m[i]) else { continue };
        out.entry(u).or_default().push((month_of(m), review_workforce(c[i], l[i], s[i], p[i])));
    }
    Ok(out)
}

pub(crate) fn compute(ctx: &Ctx) -> Result<(DataFrame, Vec<ResumeRow>)> {
    let empty = || -> Result<(DataFrame, Vec<ResumeRow>)> {
        let cols = super::tables::COVID_REVIEW_MONITOR.columns.iter().map(|c| empty_column(c.name, c.dtype)).collect();
        Ok((DataFrame::new(0, cols)?, Vec::new()))
    };
    let Some(reviews) = frame::silver(ctx.lake, "covid_reviews")? else { return empty() };
    let reviews = reviews.filter(col("month").lt_eq(lit(ctx.asof_m.first_day())));
    let pre = ctx.cfg.pre_covid_month()?;
    let decl = unit_months(ctx, reviews.clone())?;
    let (monitor, decl_df) = match decl {
        Some(decl) => {
            // Streamed: the group-by reads every declaration up to the as-of month
            // (5 GB held at once at 4M people on the in-memory engine).
            // Kept from night to night while the reviews and the month inputs stay the same.
            let decl_df = ctx.kept("covid_unit_months", &["covid_reviews"], || {
                Ok(decl.clone().sort(["unit_code", "month"], Default::default()).collect_with_engine(Engine::Streaming)?.unwrap_single())
            })?;
            let pre_df = decl_df
                .clone()
                .lazy()
                .filter(col("month").eq(lit(pre.first_day())))
                .select([col("unit_code"), col("declared_due").alias("pre_covid_headcount")]);
            let m = reviews
                .join(
                    decl_df.clone().lazy().select([col("unit_code"), col("month"), col("declared_due"), col("declared_out")]),
                    [col("unit_code"), col("month")],
                    [col("unit_code"), col("month")],
                    JoinArgs::new(JoinType::Left),
                )
                .join(pre_df, [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Left));
            (m, Some(decl_df))
        }
        None => (
            reviews.with_columns([
                lit(NULL).cast(DataType::Int64).alias("declared_due"),
                lit(NULL).cast(DataType::Int64).alias("declared_out"),
                lit(NULL).cast(DataType::Int64).alias("pre_covid_headcount"),
            ]),
            None,
        ),
    };
    let df = monitor.sort(["unit_code", "month"], Default::default()).collect()?;
    let n = df.height();
    let units = strs(&df, "unit_code")?;
    let unit_info = |u: &Option<String>| u.as_deref().and_then(|u| ctx.units.get(u));
    let monitor_df = DataFrame::new(
        n,
        vec![
            date_column("as_of", vec![Some(ctx.as_of); n])?,
            Column::new("province_code".into(), units.iter().map(|u| unit_info(u).and_then(|x| x.province.clone())).collect::<Vec<_>>()),
            Column::new("unit_code".into(), units.clone()),
            df.column("month")?.clone(),
            df.column("reviewed_on")?.clone(),
            Column::new("continuing".into(), ints(&df, "continuing")?),
            Column::new("terminated".into(), ints(&df, "terminated")?),
            Column::new("unpaid_leave".into(), ints(&df, "unpaid_leave")?),
            Column::new("suspended_contract".into(), ints(&df, "suspended_contract")?),
            Column::new("stopped_paid".into(), ints(&df, "stopped_paid")?),
            df.column("resume_month")?.clone(),
            Column::new("declared_due".into(), ints(&df, "declared_due")?),
            Column::new("declared_out".into(), ints(&df, "declared_out")?),
            Column::new("pre_covid_headcount".into(), ints(&df, "pre_covid_headcount")?),
            Column::new("officer_id".into(), units.iter().map(|u| unit_info(u).and_then(|x| x.officer.clone())).collect::<Vec<_>>()),
        ],
    )?;

    // The latest declared month of each reviewed unit.
    let mut latest: HashMap<String, (Month, i64, i64, i64)> = HashMap::new();
    if let Some(d) = &decl_df {
        let (u, m, due, out, wages) = (strs(d, "unit_code")?, days(d, "month")?, ints(d, "declared_due")?, ints(d, "declared_out")?, ints(d, "due_wages")?);
        for i in 0..d.height() {
            let (Some(u), Some(m)) = (u[i].clone(), m[i]) else { continue };
            let m = month_of(m);
            let e = latest.entry(u).or_insert((m, 0, 0, 0));
            if m >= e.0 {
                *e = (m, due[i].unwrap_or(0), out[i].unwrap_or(0), wages[i].unwrap_or(0));
            }
        }
    }
    // The latest review of each unit: rows are sorted by unit and month.
    let (month, cont, leave, susp, stopped, resume, pre_hc) = (
        days(&df, "month")?,
        ints(&df, "continuing")?,
        ints(&df, "unpaid_leave")?,
        ints(&df, "suspended_contract")?,
        ints(&df, "stopped_paid")?,
        days(&df, "resume_month")?,
        ints(&df, "pre_covid_headcount")?,
    );
    let mut rows = Vec::new();
    for i in 0..n {
        let Some(unit) = units[i].clone() else { continue };
        if units.get(i + 1).is_some_and(|next| next.as_deref() == Some(unit.as_str())) {
            continue; // not this unit's latest review
        }
        let Some(review_month) = month[i].map(month_of) else { continue };
        let all_back = cont[i].unwrap_or(0) > 0
            && leave[i].unwrap_or(0) + susp[i].unwrap_or(0) + stopped[i].unwrap_or(0) == 0;
        let resume_month = resume[i].map(month_of);
        let resume_passed = resume_month.is_some_and(|r| r < ctx.asof_m);
        let Some(&(declared_month, declared_due, declared_out, due_wages)) = latest.get(&unit) else { continue };
        let review_headcount = review_workforce(cont[i], leave[i], susp[i], stopped[i]);
        let workers_missing = declared_out.max(review_headcount - declared_due);
        if !(all_back || resume_passed) || workers_missing <= 0 {
            continue;
        }
        let info = ctx.units.get(&unit);
        // The workers still out, at the unit's average due wage (or, with none
        // declared, its region's minimum wage; unknown: not estimated).
        let avg_wage = if declared_due > 0 {
            due_wages / declared_due
        } else {
            match info.and_then(|u| u.wage_region) {
                Some(r) => ctx.reference.min_wage(r, ctx.asof_m)?,
                None => 0,
            }
        };
        let monthly_gap = ctx.contributions_on(avg_wage * workers_missing);
        rows.push(ResumeRow {
            province: info.and_then(|u| u.province.clone()),
            unit_code: unit,
            review_month,
            all_back,
            resume_month,
            declared_month,
            declared_due,
            declared_out,
            review_headcount,
            workers_missing,
            pre_covid: pre_hc[i],
            monthly_gap,
            score: (monthly_gap as f64 * ctx.cfg.priority.should_have_resumed).round() as i64,
            officer: None,
        });
    }
    Ok((monitor_df, rows))
}

pub(crate) fn resume_frame(ctx: &Ctx, rows: &[ResumeRow]) -> Result<DataFrame> {
    let n = rows.len();
    Ok(DataFrame::new(
        n,
        vec![
            date_column("as_of", vec![Some(ctx.as_of); n])?,
            Column::new("province_code".into(), rows.iter().map(|r| r.province.clone()).collect::<Vec<_>>()),
            Column::new("unit_code".into(), rows.iter().map(|r| r.unit_code.clone()).collect::<Vec<_>>()),
            date_column("review_month", rows.iter().map(|r| Some(r.review_month.first_day())).collect())?,
            Column::new("review_all_back".into(), rows.iter().map(|r| r.all_back).collect::<Vec<_>>()),
            date_column("resume_month", rows.iter().map(|r| r.resume_month.map(|m| m.first_day())).collect())?,
            date_column("declared_month", rows.iter().map(|r| Some(r.declared_month.first_day())).collect())?,
            Column::new("declared_due".into(), rows.iter().map(|r| r.declared_due).collect::<Vec<_>>()),
            Column::new("declared_out".into(), rows.iter().map(|r| r.declared_out).collect::<Vec<_>>()),
            Column::new("pre_covid_headcount".into(), rows.iter().map(|r| r.pre_covid).collect::<Vec<_>>()),
            Column::new("estimated_monthly_contributions".into(), rows.iter().map(|r| r.monthly_gap).collect::<Vec<_>>()),
            Column::new("priority_score".into(), rows.iter().map(|r| r.score).collect::<Vec<_>>()),
            Column::new("officer_id".into(), rows.iter().map(|r| r.officer.clone()).collect::<Vec<_>>()),
            Column::new("review_headcount".into(), rows.iter().map(|r| r.review_headcount).collect::<Vec<_>>()),
            Column::new("workers_missing".into(), rows.iter().map(|r| r.workers_missing).collect::<Vec<_>>()),
        ],
    )?)
}

pub(crate) fn empty_column(name: &str, ty: &str) -> Column {
    let dt = match ty {
        "int64" => DataType::Int64,
        "date" => DataType::Date,
        "bool" => DataType::Boolean,
        _ => DataType::String,
    };
    Column::new_empty(name.into(), &dt)
}
