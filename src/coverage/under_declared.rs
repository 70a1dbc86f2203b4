//! `under_declared_wages`: due declarations (`due_statuses`) in the
//! `lookback_months` before the as-of month whose insured wage is below the
//! regional minimum wage of the unit's `wage_region` that month
//! (`below_min_wage`), or else below `income_share_percent` of the person's
//! taxable income that month from the unit's employer — head office and
//! branches, through the person's link (`below_income_share`).

use super::frame::{self, date_column, days, ints, month_of, str_list, strs};
use super::Ctx;
use anyhow::Result;
use polars::prelude::*;

pub(crate) fn compute(ctx: &Ctx) -> Result<DataFrame> {
    let empty = || -> Result<DataFrame> {
        Ok(DataFrame::new(0, super::tables::UNDER_DECLARED_WAGES.columns.iter().map(|c| super::covid::empty_column(c.name, c.dtype)).collect())?)
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
        let decl = contrib
            .clone()
            .filter(
                col("work_status")
                    .is_in(str_list(&ctx.cfg.uninsured.due_statuses), false)
                    .and(col("month").eq(lit(m.first_day()))),
            )
            .select([col("unit_code"), col("si_number"), col("month"), col("insured_wage")])
            .join(
                units.clone().select([col("unit_code"), col("head_tax_code"), col("wage_region").cast(DataType::Int64), col("province_code")]),
                [col("unit_code")],
                [col("unit_code")],
                JoinArgs::new(JoinType::Inner),
            )
            .join(min_wage.clone(), [col("wage_region"), col("month")], [col("wage_region"), col("month")], JoinArgs::new(JoinType::Left));
        let decl = match (wages.clone(), links.clone()) {
            (Some(w), Some(l)) => {
                let income = w
                    .filter(col("month").eq(lit(m.first_day())))
                    .select([col("person_ref"), col("employer_head_tax_code"), col("month"), col("taxable_income")])
                    .join(
                        l.filter(col("status").eq(lit("matched"))).select([col("person_ref"), col("si_number")]),
                        [col("person_ref")],
                        [col("person_ref")],
                        JoinArgs::new(JoinType::Inner),
                    )
                    .group_by([col("si_number"), col("employer_head_tax_code"), col("month")])
                    .agg([col("taxable_income").sum()]);
                decl.join(
                    income,
                    [col("si_number"), col("head_tax_code"), col("month")],
                    [col("si_number"), col("employer_head_tax_code"), col("month")],
                    JoinArgs::new(JoinType::Left),
                )
            }
            _ => decl.with_column(lit(NULL).cast(DataType::Int64).alias("taxable_income")),
        };
        let share = c.income_share_percent as i64;
        Ok(decl
            .with_column(
                when(col("insured_wage").lt(col("min_wage")))
                    .then(lit("below_min_wage"))
                    .when(
                        col("taxable_income")
                            .is_not_null()
                            .and((col("insured_wage") * lit(100i64)).lt(col("taxable_income") * lit(share))),
                    )
                    .then(lit("below_income_share"))
                    .otherwise(lit(NULL).cast(DataType::String))
                    .alias("rule"),
            )
            .filter(col("rule").is_not_null())
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single())
    }, frame::stack)?;
    let Some(found) = found else { return empty() };
    let df = found.sort(["unit_code", "si_number", "month"], Default::default())?;
    let n = df.height();
    let si = strs(&df, "si_number")?;
    let keys: Vec<Option<String>> = si.iter().map(|s| s.as_deref().map(|s| ctx.keyer.si(s))).collect();
    let months: Vec<Option<chrono::NaiveDate>> = days(&df, "month")?.into_iter().map(|d| d.map(|d| month_of(d).first_day())).collect();
    Ok(DataFrame::new(
        n,
        vec![
            date_column("as_of", vec![Some(ctx.as_of); n])?,
            Column::new("province_code".into(), strs(&df, "province_code")?),
            Column::new("unit_code".into(), strs(&df, "unit_code")?),
            Column::new("person_key".into(), keys),
            date_column("month", months)?,
            Column::new("insured_wage".into(), ints(&df, "insured_wage")?),
            Column::new("taxable_income".into(), ints(&df, "taxable_income")?),
            Column::new("min_wage".into(), ints(&df, "min_wage")?),
            Column::new("rule".into(), strs(&df, "rule")?),
        ],
    )?)
}
