//! `uninsured_workers` (DOMAIN "Uninsured months", exactly):
//!
//! a month in the `lookback_months` before the as-of month in which the person
//! has wages under a compulsory contract from an employer (branches belong to
//! the head office's 10-digit code) and no due contribution from any unit of
//! that employer. If the person has a due contribution at another unit that
//! month (a second job), the month is *declared elsewhere*: not uninsured.
//! A person × employer pair is listed when it has an uninsured month
//! (`no_si_record`: linked to no si_people row; `not_declared_by_employer`:
//! known to BHXH), or else a month declared elsewhere (`declared_elsewhere`,
//! `months_uninsured` = 0, never counted). Pensioners (`pension_since` on or
//! before the as-of date) and `short`/`none` (or unknown) contracts never count.
//!
//! The person is the linked si_number when the link stage matched one; an
//! `ambiguous` person counts as covered in a month when any of their
//! clerical-review candidates was declared by the employer that month, and is
//! otherwise listed with `match_method` = `ambiguous` and reason `no_si_record`
//! (no BHXH record is confirmed until a clerk decides).

use super::frame::{self, avg_vnd, date_column, days, ints, month_of, str_list, strs};
use super::Ctx;
use crate::month::Month;
use anyhow::Result;
use polars::prelude::*;

#[derive(Clone, Debug)]
pub(crate) struct WorkerRow {
    pub person_key: String,
    /// The tax-side reference (the smallest, when several link to one person).
    pub person_ref: String,
    pub si_number: Option<String>,
    pub employer_head: String,
    pub unit_code: Option<String>,
    pub province: Option<String>,
    pub months_uninsured: i64,
    pub months_elsewhere: i64,
    pub last_month: Month,
    pub avg_income: i64,
    pub reason: &'static str,
    pub match_method: String,
    pub officer: Option<String>,
}

impl WorkerRow {
    /// Counts in uninsured figures (a second job declared elsewhere does not).
    pub fn is_uninsured(&self) -> bool {
        self.months_uninsured > 0
    }
}

pub(crate) fn compute(ctx: &Ctx) -> Result<Vec<WorkerRow>> {
    let (Some(wages), Some(links)) = (frame::silver(ctx.lake, "wages")?, frame::silver(ctx.lake, "person_links")?) else {
        return Ok(Vec::new());
    };
    let mut t = std::time::Instant::now();
    let c = &ctx.cfg.uninsured;
    // A month's state depends on that month's rows alone, so the window is
    // worked one month at a time: only one month of wages and declarations is
    // joined at once (the whole window did not fit in 24 GB at 4M people).
    let first = ctx.asof_m.add(-(c.lookback_months as i32));
    let cache = ctx.months.as_ref().map(|c| (c, "uninsured"));
    // Each month's answer is summed into the person × employer totals as it
    // comes (every figure is a sum, maximum or minimum, so the totals of the
    // totals are the totals): the window's month rows are never all held
    // (stacked, they took 7 GB at 16M people).
    let totals = frame::by_month(
        first,
        ctx.asof_m.prev(),
        cache,
        |m| Ok(totals_of(month_states(ctx, wages.clone(), links.clone(), m)?).collect_with_engine(Engine::Streaming)?.unwrap_single()),
        |a, b| Ok(merge_totals(a.lazy(), b.lazy())?.collect()?),
    )?;
    let Some(totals) = totals else { return Ok(Vec::new()) };
    super::lap("uninsured window", &mut t);
    let df = totals.lazy();
    // Pensioners never count. Their months are dropped here rather than in
    // each month (a month's answer must not depend on the as-of date, so that
    // it can be kept from night to night): every row of a person key carries
    // the same si_number, so this drops exactly the pensioners' rows.
    let df = match frame::silver(ctx.lake, "people")? {
        Some(people) => df.join(
            people
                .filter(col("pension_since").is_not_null().and(col("pension_since").lt_eq(lit(ctx.as_of))))
                .select([col("si_number")]),
            [col("si_number")],
            [col("si_number")],
            JoinArgs::new(JoinType::Anti),
        ),
        None => df,
    }
    .collect_with_engine(Engine::Streaming)?
    .unwrap_single();
    super::lap("uninsured pensioners", &mut t);

    let (head, mu, me, lu, le, iu, ie, pref, si, status, method, etc) = (
        strs(&df, "employer_head_tax_code")?,
        ints(&df, "months_uninsured")?,
        ints(&df, "months_elsewhere")?,
        days(&df, "last_uninsured")?,
        days(&df, "last_elsewhere")?,
        ints(&df, "income_uninsured")?,
        ints(&df, "income_elsewhere")?,
        strs(&df, "person_ref")?,
        strs(&df, "si_number")?,
        strs(&df, "status")?,
        strs(&df, "method")?,
        strs(&df, "employer_tax_code")?,
    );
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let Some(head) = head[i].clone() else { continue };
        let (mu, me) = (mu[i].unwrap_or(0), me[i].unwrap_or(0));
        let status = status[i].as_deref().unwrap_or("unmatched");
        // The person key as the link stage gives it: of the si_number when
        // matched, else of the tax-side reference.
        let key = match (status, si[i].as_deref(), pref[i].as_deref()) {
            ("matched", Some(s), _) => ctx.keyer.si(s),
            (_, _, Some(r)) => ctx.keyer.tax(r),
            _ => continue,
        };
        let (reason, months, last, income) = if mu > 0 {
            // An ambiguous person has no confirmed BHXH record either (match_method says so).
            let reason = if status == "matched" { "not_declared_by_employer" } else { "no_si_record" };
            (reason, mu, lu[i], avg_vnd(iu[i].unwrap_or(0), mu))
        } else if me > 0 {
            ("declared_elsewhere", 0, le[i], avg_vnd(ie[i].unwrap_or(0), me))
        } else {
            continue;
        };
        let Some(last) = last else { continue };
        let unit = ctx.units.for_employer(&head, etc[i].as_deref());
        let province = unit
            .and_then(|u| u.province.clone())
            .or_else(|| ctx.employers.get(&head, etc[i].as_deref()).and_then(|e| e.province.clone()));
        let match_method = match status {
            "matched" => method[i].clone().unwrap_or_else(|| "matched".into()),
            s => s.to_string(),
        };
        rows.push(WorkerRow {
            person_key: key,
            person_ref: pref[i].clone().unwrap_or_default(),
            si_number: si[i].clone().filter(|_| status == "matched"),
            employer_head: head,
            unit_code: unit.map(|u| u.code.clone()),
            province,
            months_uninsured: months,
            months_elsewhere: me,
            last_month: month_of(last),
            avg_income: income,
            reason,
            match_method,
            officer: None,
        });
    }
    super::lap("uninsured rows", &mut t);
    rows.sort_by(|a, b| a.employer_head.cmp(&b.employer_head).then_with(|| a.person_key.cmp(&b.person_key)));
    // No unit and no registry record of the employer: the person's own
    // province (si_people), so the row still has a partition.
    let need: Vec<String> = rows.iter().filter(|r| r.province.is_none()).filter_map(|r| r.si_number.clone()).collect();
    if let (false, Some(people)) = (need.is_empty(), frame::silver(ctx.lake, "people")?) {
        let q = DataFrame::new(need.len(), vec![Column::new("si_number".into(), need)])?;
        let df = people
            .select([col("si_number"), col("province_code")])
            .join(q.lazy(), [col("si_number")], [col("si_number")], JoinArgs::new(JoinType::Semi))
            .collect()?;
        let found: std::collections::HashMap<String, String> =
            strs(&df, "si_number")?.into_iter().zip(strs(&df, "province_code")?).filter_map(|(a, b)| Some((a?, b?))).collect();
        for r in rows.iter_mut().filter(|r| r.province.is_none()) {
            r.province = r.si_number.as_ref().and_then(|s| found.get(s).cloned());
        }
    }
    super::lap("uninsured provinces", &mut t);
    Ok(rows)
}

/// A month's rows (with their `state`) as person × employer totals.
fn totals_of(lf: LazyFrame) -> LazyFrame {
    let is = |s: &str| col("state").eq(lit(s));
    lf.group_by([col("pid"), col("employer_head_tax_code")]).agg([
        is("uninsured").cast(DataType::Int64).sum().alias("months_uninsured"),
        is("elsewhere").cast(DataType::Int64).sum().alias("months_elsewhere"),
        col("month").filter(is("uninsured")).max().alias("last_uninsured"),
        col("month").filter(is("elsewhere")).max().alias("last_elsewhere"),
        col("taxable_income").filter(is("uninsured")).sum().alias("income_uninsured"),
        col("taxable_income").filter(is("elsewhere")).sum().alias("income_elsewhere"),
    ]
    .into_iter()
    .chain(smallest_identifiers())
    .collect::<Vec<_>>())
}

/// Two sets of person × employer totals as one.
fn merge_totals(a: LazyFrame, b: LazyFrame) -> Result<LazyFrame> {
    Ok(concat([a, b], UnionArgs::default())?.group_by([col("pid"), col("employer_head_tax_code")]).agg([
        col("months_uninsured").sum(),
        col("months_elsewhere").sum(),
        col("last_uninsured").max(),
        col("last_elsewhere").max(),
        col("income_uninsured").sum(),
        col("income_elsewhere").sum(),
    ]
    .into_iter()
    .chain(smallest_identifiers())
    .collect::<Vec<_>>()))
}

/// The smallest identifiers of a group (the minimum of minimums is the
/// minimum, so months and their totals aggregate alike).
fn smallest_identifiers() -> [Expr; 5] {
    ["person_ref", "si_number", "status", "method", "employer_tax_code"].map(|c| col(c).min())
}

/// One month `m` of the window: every person × employer head with wages
/// under a compulsory contract that month that the employer did not declare
/// (pensioners included: the caller drops them, so that the answer does not
/// depend on the as-of date),
/// with its state (`uninsured`, or `elsewhere` when another unit declared the
/// person), the income and the smallest identifiers. The caller aggregates
/// the months again (the minimum of minimums is the minimum).
fn month_states(ctx: &Ctx, wages: LazyFrame, links: LazyFrame, m: Month) -> Result<LazyFrame> {
    let c = &ctx.cfg.uninsured;
    let w = super::month_parts::linked_wages_in(ctx.parts.as_ref(), &wages, &links, m)?
        .filter(col("contract").is_in(str_list(&c.compulsory_contracts), false))
        .select(
            ["person_ref", "employer_tax_code", "employer_head_tax_code", "month", "taxable_income", "status", "si_number", "method"].map(col),
        );
    // Due declarations by person, employer head and month.
    let due = due_declarations_in(ctx, m)?;
    // The rows left uncovered. A row is covered when the employer declared
    // the person (the due declarations are matched on the person's
    // si_number, the head and the month), or, for an ambiguous person, one
    // of their clerical-review candidates there; the covered rows, most of
    // a month's, are dropped by anti joins, so that only the rest are
    // joined further and grouped (at 16M people, joining and grouping every
    // row was most of the month's time). Whether a row is covered, and
    // whether the person was declared anywhere, are the same on every row of
    // a person × employer head × month (a matched person is one si_number;
    // anyone else is one person_ref, with one link; only an ambiguous
    // reference has candidates), so the groups left are exactly the ones
    // that grouping every row leaves uncovered.
    // Every row here is of month `m`, so the month is no part of any key
    // (a narrower key to encode and hash for each of the month's rows), and
    // the person at the employer is one number (`frame::person_at_head`).
    let w = match due {
        Some(due) => {
            // Each si_number parsed once: the number, then the pair from it.
            let si_no = || col("si_number").strict_cast(DataType::UInt64).alias("si_no");
            let due = due.with_column(si_no());
            let w = w.with_column(si_no()).with_column(frame::person_at_head(col("si_no"), col("employer_head_tax_code")).alias("pair")).join(
                due.clone().select([frame::person_at_head(col("si_no"), col("head_tax_code")).alias("pair")]),
                [col("pair")],
                [col("pair")],
                JoinArgs::new(JoinType::Anti),
            );
            let w = match frame::silver(ctx.lake, "clerical_review")? {
                Some(review) => {
                    let amb = review
                        .select([col("person_ref"), col("si_number").strict_cast(DataType::UInt64).alias("cand")])
                        .join(due.clone(), [col("cand")], [col("si_no")], JoinArgs::new(JoinType::Inner))
                        .select([col("person_ref"), col("head_tax_code")]);
                    w.join(
                        amb,
                        [col("person_ref"), col("employer_head_tax_code")],
                        [col("person_ref"), col("head_tax_code")],
                        JoinArgs::new(JoinType::Anti),
                    )
                }
                None => w,
            };
            let any = due.select([col("si_no")]).unique(None, UniqueKeepStrategy::Any).with_column(lit(true).alias("any_due"));
            w.join(any, [col("si_no")], [col("si_no")], JoinArgs::new(JoinType::Left))
        }
        None => w.with_column(lit(NULL).cast(DataType::Boolean).alias("any_due")),
    };
    // Every wage person_ref has a link row; a missing one (silver changed
    // under the stage) is skipped rather than published without a key.
    Ok(w
        .filter(col("status").is_not_null())
        // The person: the linked si_number when matched, else the tax-side
        // reference (what person_key is a keyed hash of; the 64-character
        // key itself is computed for the listed rows only).
        .with_columns([
            when(col("status").eq(lit("matched")))
                .then(concat_str([lit("si:"), col("si_number")], "", false))
                .otherwise(concat_str([lit("ref:"), col("person_ref")], "", false))
                .alias("pid"),
            col("any_due").fill_null(lit(false)).alias("any_due"),
        ])
        .group_by([col("pid"), col("employer_head_tax_code")])
        .agg([col("any_due").any(true), col("taxable_income").sum()].into_iter().chain(smallest_identifiers()).collect::<Vec<_>>())
        .with_columns([
            when(col("any_due")).then(lit("elsewhere")).otherwise(lit("uninsured")).alias("state"),
            // A Date, as the month column was (the rows' other dates are read as days).
            lit(frame::to_days(m.first_day())).cast(DataType::Date).alias("month"),
        ]))
}

/// Month `m`'s due declarations as (si_number, head_tax_code), from the
/// month's part when the window was split: every declaration, its head
/// office null where its unit has none (see [`due_declarations`] for the
/// declarations of units with one).
fn due_declarations_in(ctx: &Ctx, m: Month) -> Result<Option<LazyFrame>> {
    let (Some(contrib), Some(units)) = (frame::silver(ctx.lake, "contributions")?, frame::silver(ctx.lake, "units")?) else {
        return Ok(None);
    };
    let due = super::month_parts::due_in(ctx.parts.as_ref(), &ctx.cfg.uninsured.due_statuses, &contrib, m)?;
    // Rows of units without a head office stay: they cover no employer's
    // row (a null pair matches nothing), but they do say the person was
    // declared somewhere that month (a second job at a unit whose tax code
    // si_units lacks, or at a unit missing from si_units, is declared elsewhere).
    Ok(Some(
        due.select([col("unit_code"), col("si_number")])
            .join(units.select([col("unit_code"), col("head_tax_code")]), [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Left))
            .select([col("si_number"), col("head_tax_code")]),
    ))
}

/// Due declarations: (si_number, head_tax_code, month), one row per unit
/// declaration (not unique).
pub(crate) fn due_declarations(ctx: &Ctx) -> Result<Option<LazyFrame>> {
    let (Some(contrib), Some(units)) = (frame::silver(ctx.lake, "contributions")?, frame::silver(ctx.lake, "units")?) else {
        return Ok(None);
    };
    Ok(Some(with_heads(contrib.filter(col("work_status").is_in(str_list(&ctx.cfg.uninsured.due_statuses), false)), units)))
}

/// Due contribution rows as (si_number, head_tax_code, month): each with its
/// unit's head office, rows of units without one left out.
fn with_heads(due: LazyFrame, units: LazyFrame) -> LazyFrame {
    due.select([col("unit_code"), col("si_number"), col("month")])
        .join(units.select([col("unit_code"), col("head_tax_code")]), [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Inner))
        .filter(col("head_tax_code").is_not_null())
        .select([col("si_number"), col("head_tax_code"), col("month")])
}

pub(crate) fn frame(ctx: &Ctx, rows: &[WorkerRow]) -> Result<DataFrame> {
    let n = rows.len();
    let cols = vec![
        date_column("as_of", vec![Some(ctx.as_of); n])?,
        Column::new("province_code".into(), rows.iter().map(|r| r.province.clone()).collect::<Vec<_>>()),
        Column::new("employer_tax_code".into(), rows.iter().map(|r| r.employer_head.clone()).collect::<Vec<_>>()),
        Column::new("unit_code".into(), rows.iter().map(|r| r.unit_code.clone()).collect::<Vec<_>>()),
        Column::new("person_key".into(), rows.iter().map(|r| r.person_key.clone()).collect::<Vec<_>>()),
        Column::new("months_uninsured".into(), rows.iter().map(|r| r.months_uninsured).collect::<Vec<_>>()),
        Column::new("months_declared_elsewhere".into(), rows.iter().map(|r| r.months_elsewhere).collect::<Vec<_>>()),
        date_column("last_month", rows.iter().map(|r| Some(r.last_month.first_day())).collect())?,
        Column::new("avg_taxable_income".into(), rows.iter().map(|r| r.avg_income).collect::<Vec<_>>()),
        Column::new("reason".into(), rows.iter().map(|r| r.reason).collect::<Vec<_>>()),
        Column::new("match_method".into(), rows.iter().map(|r| r.match_method.clone()).collect::<Vec<_>>()),
        Column::new("officer_id".into(), rows.iter().map(|r| r.officer.clone()).collect::<Vec<_>>()),
    ];
    Ok(DataFrame::new(n, cols)?)
}
