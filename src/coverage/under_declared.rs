//! `under_declared_wages`: due declarations (`due_statuses`) in the
//! `lookback_months` before the as-of month whose insured wage is below the
//! regional minimum wage of the unit's `wage_region` that month
//! (`below_min_wage`), or else below `income_share_percent` of the person's
//! taxable income that month from the unit's employer — head office and
//! branches, through the person's link (`below_income_share`).

use super::frame::{self, date_column};
use super::Ctx;
use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

pub(crate) fn compute(ctx: &Ctx) -> Result<DataFrame> {
    // The rows depend on the as-of month, not the day (the as-of date is
    // added last): kept from night to night while the month inputs stay the same.
    let mut out = ctx.kept("under_declared_rows", &[], || rows(ctx))?;
    // A column rather than a literal: a literal date over no rows is of no type.
    out.insert_column(0, date_column("as_of", vec![Some(ctx.as_of); out.height()])?)?;
    Ok(out)
}

/// The table's rows but the as-of date, in (unit, person, month) order.
fn rows(ctx: &Ctx) -> Result<DataFrame> {
    let empty = || -> Result<DataFrame> {
        Ok(DataFrame::new(0, super::tables::UNDER_DECLARED_WAGES.columns.iter().filter(|c| c.name != "as_of").map(|c| super::covid::empty_column(c.name, c.dtype)).collect())?)
    };
    let (Some(contrib), Some(units)) = (frame::silver(ctx.lake, "contributions")?, frame::silver(ctx.lake, "units")?) else {
        return empty();
    };
    let c = &ctx.cfg.under_declared;
    let first_m = ctx.asof_m.add(-(c.lookback_months as i32));
    let last_m = ctx.asof_m.prev();
    // Minimum wage by region and month, from the reference tables.
    let (mut reg, mut mon, mut amt) = (Vec::new(), Vec::new(), Vec::new());
    for m in first_m.through(last_m) {
        for region in 1..=4u8 {
            if let Ok(a) = ctx.reference.min_wage(region, m) {
                reg.push(region as i64);
                mon.push(Some(m.first_day()));
                amt.push(a);
            }
        }
    }
    let min_wage = DataFrame::new(
        reg.len(),
        vec![Column::new("wage_region".into(), reg), date_column("month", mon)?, Column::new("min_wage".into(), amt)],
    )?
    .lazy();
    // Every rule compares one month's rows, so the window is worked one month
    // at a time (bounded memory, as in `uninsured`).
    let (wages, links) = (frame::silver(ctx.lake, "wages")?, frame::silver(ctx.lake, "person_links")?);
    let cache = ctx.months.as_ref().map(|c| (c, "under_declared"));
    let found = frame::by_month(first_m, last_m, cache, |m| {
        let decl = super::month_parts::due_in(ctx.parts.as_ref(), &ctx.cfg.uninsured.due_statuses, &contrib, m)?
            .join(
                units.clone().select([col("unit_code"), col("head_tax_code"), col("wage_region").cast(DataType::Int64), col("province_code")]),
                [col("unit_code")],
                [col("unit_code")],
                JoinArgs::new(JoinType::Inner),
            )
            .join(min_wage.clone(), [col("wage_region"), col("month")], [col("wage_region"), col("month")], JoinArgs::new(JoinType::Left));
        let decl = match (wages.clone(), links.clone()) {
            (Some(w), Some(l)) => {
                let income = super::month_parts::linked_wages_in(ctx.parts.as_ref(), &w, &l, m)?
                    .filter(col("status").eq(lit("matched")))
                    // Every row is of month `m`: the month is no part of the
                    // key, and the person at the employer is one number.
                    .group_by([frame::person_at_head(col("si_number"), col("employer_head_tax_code")).alias("pair")])
                    .agg([col("taxable_income").sum()]);
                decl.with_column(frame::person_at_head(col("si_number"), col("head_tax_code")).alias("pair"))
                    .join(income, [col("pair")], [col("pair")], JoinArgs::new(JoinType::Left))
            }
            _ => decl.with_column(lit(NULL).cast(DataType::Int64).alias("taxable_income")),
        };
        let share = c.income_share_percent as i64;
        Ok(decl
            .with_column(
                // The rule as a number until the rows are stacked and sorted: a string
                // this long is kept in a buffer that each of the engine's
                // small chunks holds whole (3 GB over the window at 16M people).
                when(col("insured_wage").lt(col("min_wage")))
                    .then(lit(BELOW_MIN_WAGE))
                    .when(
                        col("taxable_income")
                            .is_not_null()
                            .and((col("insured_wage") * lit(100i64)).lt(col("taxable_income") * lit(share))),
                    )
                    .then(lit(BELOW_INCOME_SHARE))
                    .otherwise(lit(NULL).cast(DataType::Int32))
                    .alias("rule"),
            )
            .filter(col("rule").is_not_null())
            // What the table needs, in one chunk.
            .select([
                col("province_code"),
                col("unit_code"),
                col("si_number"),
                col("month"),
                col("insured_wage").cast(DataType::Int64),
                col("taxable_income").cast(DataType::Int64),
                col("min_wage").cast(DataType::Int64),
                col("rule"),
            ])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single()
            .rechunk_mut_par()
            .clone())
    }, frame::stack)?;
    let Some(found) = found else { return empty() };
    tracing::debug!(stage = "coverage", rows = found.height(), "under-declared months done");
    let df = found.sort(["unit_code", "si_number", "month"], Default::default())?;
    drop(found);
    let si: Vec<Option<&str>> = df.column("si_number")?.str()?.iter().collect();
    let keys: Vec<Option<String>> = si.par_iter().map(|s| s.map(|s| ctx.keyer.si(s))).collect();
    let keys = Column::new("person_key".into(), keys);
    Ok(df
        .lazy()
        .select([
            col("province_code"),
            col("unit_code"),
            lit(keys.take_materialized_series()).alias("person_key"),
            col("month"),
            col("insured_wage"),
            col("taxable_income"),
            col("min_wage"),
            when(col("rule").eq(lit(BELOW_MIN_WAGE))).then(lit("below_min_wage")).otherwise(lit("below_income_share")).alias("rule"),
        ])
        .collect()?)
}

/// The rules, as numbered in the month answers.
const BELOW_MIN_WAGE: i32 = 1;
const BELOW_INCOME_SHARE: i32 = 2;
