//! `unregistered_employers`: head offices in the tax registry with no BHXH
//! unit under their tax code or a branch's, and with employees: wages in
//! tax_wages in the `recent_months` before the as-of month (any contract),
//! whatever the registry's status (a suspended, closed or absent employer that
//! still pays wages owes their contributions, and its workers need an
//! officer); or, for the `active_statuses` only (when
//! `include_declared_only`), `employees_declared` > 0 in the registry.

use super::frame::{self, date_column, ints, str_list, strs};
use super::Ctx;
use anyhow::Result;
use polars::prelude::*;

#[derive(Clone, Debug)]
pub(crate) struct EmployerRow {
    pub tax_code: String,
    pub province: Option<String>,
    pub employees_in_tax: i64,
    pub wage_fund: i64,
    pub employees_declared: Option<i64>,
    /// The registry's status.
    pub status: Option<String>,
    pub monthly_gap: i64,
    pub score: i64,
    pub priority: i64,
    pub officer: Option<String>,
}

pub(crate) fn unregistered(ctx: &Ctx) -> Result<Vec<EmployerRow>> {
    let Some(emps) = frame::silver(ctx.lake, "employers")? else { return Ok(Vec::new()) };
    // The heads and their recent wages depend on the as-of month, not the
    // day: kept from night to night while the employers and the month
    // inputs stay the same.
    let df = ctx.kept("unregistered_heads", &["employers"], || heads_with_wages(ctx, emps))?;
    finish(ctx, &df)
}

/// The head offices without a unit, with the people they paid and the wages
/// of the `recent_months` before the as-of month (null without wages).
fn heads_with_wages(ctx: &Ctx, emps: LazyFrame) -> Result<DataFrame> {
    let c = &ctx.cfg.unregistered;
    let heads = emps.filter(col("is_branch").not()).select([
        col("tax_code"),
        col("province_code"),
        col("employees_declared"),
        col("status"),
        col("status").is_in(str_list(&c.active_statuses), false).fill_null(lit(false)).alias("active"),
    ]);
    let heads = match frame::silver(ctx.lake, "units")? {
        Some(units) => heads.join(
            units.select([col("head_tax_code")]).filter(col("head_tax_code").is_not_null()).unique(None, UniqueKeepStrategy::Any),
            [col("tax_code")],
            [col("head_tax_code")],
            JoinArgs::new(JoinType::Anti),
        ),
        None => heads,
    };
    let first = ctx.asof_m.add(-(c.recent_months as i32)).first_day();
    let last = ctx.asof_m.prev().first_day();
    let recent = match (frame::silver(ctx.lake, "wages")?, frame::silver(ctx.lake, "person_links")?) {
        (Some(w), Some(l)) => Some(
            w.filter(col("month").gt_eq(lit(first)).and(col("month").lt_eq(lit(last))))
                .select([col("person_ref"), col("employer_head_tax_code"), col("taxable_income")])
                // The wages of the heads with no unit only (a few percent of
                // them): counting every employer's distinct people took 4 GB
                // at 16M people.
                .join(
                    heads.clone().select([col("tax_code")]),
                    [col("employer_head_tax_code")],
                    [col("tax_code")],
                    JoinArgs::new(JoinType::Semi),
                )
                .join(l.select([col("person_ref"), col("person_key")]), [col("person_ref")], [col("person_ref")], JoinArgs::new(JoinType::Left))
                .group_by([col("employer_head_tax_code")])
                .agg([
                    coalesce(&[col("person_key"), col("person_ref")]).n_unique().cast(DataType::Int64).alias("employees_in_tax"),
                    col("taxable_income").sum().alias("wage_fund_3m"),
                ]),
        ),
        _ => None,
    };
    let df = match recent {
        Some(r) => heads.join(r, [col("tax_code")], [col("employer_head_tax_code")], JoinArgs::new(JoinType::Left)),
        None => heads.with_columns([lit(NULL).cast(DataType::Int64).alias("employees_in_tax"), lit(NULL).cast(DataType::Int64).alias("wage_fund_3m")]),
    }
    .sort(["tax_code"], Default::default())
    .collect_with_engine(Engine::Streaming)?
    .unwrap_single();
    Ok(df)
}

/// The listed employers of [`heads_with_wages`], ranked within each province.
fn finish(ctx: &Ctx, df: &DataFrame) -> Result<Vec<EmployerRow>> {
    let c = &ctx.cfg.unregistered;
    let (code, prov, declared, emp, fund, status) = (
        strs(df, "tax_code")?,
        strs(df, "province_code")?,
        ints(df, "employees_declared")?,
        ints(df, "employees_in_tax")?,
        ints(df, "wage_fund_3m")?,
        strs(df, "status")?,
    );
    let active: Vec<bool> = df.column("active")?.bool()?.iter().map(|v| v.unwrap_or(false)).collect();
    let mut rows = Vec::new();
    for i in 0..df.height() {
        let Some(tax_code) = code[i].clone() else { continue };
        let employees = emp[i].unwrap_or(0);
        let declared_only = employees == 0 && active[i] && c.include_declared_only && declared[i].unwrap_or(0) > 0;
        if employees == 0 && !declared_only {
            continue;
        }
        let wage_fund = fund[i].unwrap_or(0);
        let bill = if declared_only {
            // No wages seen: the declared headcount at the province's rural minimum wage.
            match prov[i].as_deref().and_then(|p| ctx.reference.province(p)) {
                Some(p) => declared[i].unwrap_or(0) * ctx.reference.min_wage(p.rural_region, ctx.asof_m)?,
                None => 0,
            }
        } else {
            wage_fund / c.recent_months as i64
        };
        let monthly_gap = ctx.contributions_on(bill);
        rows.push(EmployerRow {
            tax_code,
            province: prov[i].clone(),
            employees_in_tax: employees,
            wage_fund,
            employees_declared: declared[i],
            status: status[i].clone(),
            monthly_gap,
            score: (monthly_gap as f64 * ctx.cfg.priority.unregistered_employer).round() as i64,
            priority: 0,
            officer: None,
        });
    }
    // Rank within each province: biggest score first, then tax code.
    rows.sort_by(|a, b| a.province.cmp(&b.province).then(b.score.cmp(&a.score)).then(a.tax_code.cmp(&b.tax_code)));
    let mut rank = 0;
    let mut prev: Option<Option<String>> = None;
    for r in rows.iter_mut() {
        if prev.as_ref() != Some(&r.province) {
            rank = 0;
            prev = Some(r.province.clone());
        }
        rank += 1;
        r.priority = rank;
    }
    Ok(rows)
}

pub(crate) fn frame(ctx: &Ctx, rows: &[EmployerRow]) -> Result<DataFrame> {
    let n = rows.len();
    Ok(DataFrame::new(
        n,
        vec![
            date_column("as_of", vec![Some(ctx.as_of); n])?,
            Column::new("province_code".into(), rows.iter().map(|r| r.province.clone()).collect::<Vec<_>>()),
            Column::new("tax_code".into(), rows.iter().map(|r| r.tax_code.clone()).collect::<Vec<_>>()),
            Column::new("employees_in_tax".into(), rows.iter().map(|r| r.employees_in_tax).collect::<Vec<_>>()),
            Column::new("wage_fund_3m".into(), rows.iter().map(|r| r.wage_fund).collect::<Vec<_>>()),
            Column::new("wage_months".into(), vec![i64::from(ctx.cfg.unregistered.recent_months); n]),
            Column::new("employees_declared".into(), rows.iter().map(|r| r.employees_declared).collect::<Vec<_>>()),
            Column::new("estimated_monthly_contributions".into(), rows.iter().map(|r| r.monthly_gap).collect::<Vec<_>>()),
            Column::new("priority_score".into(), rows.iter().map(|r| r.score).collect::<Vec<_>>()),
            Column::new("priority".into(), rows.iter().map(|r| r.priority).collect::<Vec<_>>()),
            Column::new("officer_id".into(), rows.iter().map(|r| r.officer.clone()).collect::<Vec<_>>()),
            Column::new("tax_status".into(), rows.iter().map(|r| r.status.clone()).collect::<Vec<_>>()),
        ],
    )?)
}
