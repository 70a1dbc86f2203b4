//! The coverage stage's evidence for the province inspection lists (DOMAIN
//! §1.2: units that keep workers out of compulsory insurance, employers that
//! never registered). Registered in `assess::export::EVIDENCE_SOURCES`; read
//! back from this stage's gold tables, so the coverage stage runs first.

use crate::assess::export::{vnd, EvidenceInputs, InspectionEntry};
use crate::lake::gold;
use anyhow::Result;
use polars::prelude::*;
use std::path::Path;

/// A province's partition of a gold table as a scan (only the columns a
/// query uses are read: the evidence is built every night, 63 times).
fn scan_partition(lake_root: &Path, table: &str, province: &str) -> Result<Option<LazyFrame>> {
    if !gold::partitions(lake_root, table)?.iter().any(|p| p == province) {
        return Ok(None);
    }
    let files = crate::lake::parquet_files(&gold::partition_dir(lake_root, table, province))?;
    Ok(Some(crate::lake::scan_parquet(&files)?))
}

/// Units whose declarations in the look-back months are below the regional
/// minimum wage or far below the person's taxable income
/// (`under_declared_wages`): the workers and declarations concerned, and
/// what was declared against what the tax data shows.
pub fn under_declared_evidence(inputs: &EvidenceInputs, province: &str) -> Result<Vec<InspectionEntry>> {
    let Some(df) = scan_partition(inputs.lake_root, super::tables::UNDER_DECLARED_WAGES.name, province)? else { return Ok(Vec::new()) };
    let below_min = col("rule").eq(lit("below_min_wage"));
    let df = df
        .filter(col("unit_code").is_not_null())
        .group_by([col("unit_code")])
        .agg([
            col("person_key").n_unique().cast(DataType::Int64).alias("workers"),
            len().cast(DataType::Int64).alias("declarations"),
            below_min.clone().sum().cast(DataType::Int64).alias("below_min"),
            col("insured_wage").filter(below_min.clone().not()).sum().alias("declared"),
            col("taxable_income").filter(below_min.not()).sum().alias("income"),
        ]);
    // The gold tables read here are partitioned by the unit's province, so
    // only that province's units are joined.
    let df = inputs.units.join(province, df).sort(["unit_code"], Default::default()).collect()?;
    let s = |c: &str| super::frame::strs(&df, c);
    let i = |c: &str| super::frame::ints(&df, c);
    let (unit, names, tax, off) = (s("unit_code")?, s("unit_name")?, s("unit_tax_code")?, s("unit_officer")?);
    let (workers, declarations, below_min, declared, income) = (i("workers")?, i("declarations")?, i("below_min")?, i("declared")?, i("income")?);
    Ok((0..df.height())
        .map(|k| {
            let (n, low) = (declarations[k].unwrap_or(0), below_min[k].unwrap_or(0));
            let mut parts = Vec::new();
            if low > 0 {
                parts.push(format!("{low} lượt khai tiền lương đóng BHXH thấp hơn mức lương tối thiểu vùng"));
            }
            if n > low {
                parts.push(format!(
                    "{} lượt khai tiền lương đóng BHXH tổng {} đồng so với thu nhập chịu thuế {} đồng",
                    n - low,
                    vnd(declared[k].unwrap_or(0)),
                    vnd(income[k].unwrap_or(0))
                ));
            }
            InspectionEntry {
                province_code: province.to_string(),
                unit_name: names[k].clone(),
                unit_code: unit[k].clone(),
                tax_code: tax[k].clone(),
                officer_id: off[k].clone(),
                reasons: vec!["under_declared_wages"],
                evidence: vec![format!("{} lao động đóng BHXH thấp hơn tiền lương thực tế: {}", workers[k].unwrap_or(0), parts.join("; "))],
                ..Default::default()
            }
        })
        .collect())
}

/// Units with uninsured workers (`uninsured_workers`, months_uninsured > 0).
pub fn uninsured_evidence(inputs: &EvidenceInputs, province: &str) -> Result<Vec<InspectionEntry>> {
    let Some(df) = scan_partition(inputs.lake_root, super::tables::UNINSURED_WORKERS.name, province)? else { return Ok(Vec::new()) };
    let df = df
        .filter(col("months_uninsured").gt(lit(0i64)).and(col("unit_code").is_not_null()))
        .group_by([col("unit_code")])
        .agg([
            len().cast(DataType::Int64).alias("workers"),
            col("months_uninsured").max().alias("months"),
            col("employer_tax_code").first(),
            col("officer_id").first(),
        ]);
    // A branch's unit is listed under the branch's tax code (the one on its
    // registration and on its debt entry), not its head office's.
    let df = inputs
    .units
    .join(province, df)
    .with_column(coalesce(&[col("unit_tax_code"), col("employer_tax_code")]).alias("employer_tax_code"))
    .sort(["unit_code"], Default::default())
    .collect()?;
    let (unit, tax, off) = (super::frame::strs(&df, "unit_code")?, super::frame::strs(&df, "employer_tax_code")?, super::frame::strs(&df, "officer_id")?);
    let names = super::frame::strs(&df, "unit_name")?;
    let (workers, months) = (super::frame::ints(&df, "workers")?, super::frame::ints(&df, "months")?);
    Ok((0..df.height())
        .map(|i| InspectionEntry {
            province_code: province.to_string(),
            unit_name: names[i].clone(),
            unit_code: unit[i].clone(),
            tax_code: tax[i].clone(),
            officer_id: off[i].clone(),
            reasons: vec!["uninsured_workers"],
            workers_not_declared: workers[i],
            evidence: vec![format!(
                "{} lao động có thu nhập từ tiền lương theo dữ liệu thuế nhưng chưa được đóng BHXH bắt buộc (lâu nhất {} tháng)",
                workers[i].unwrap_or(0),
                months[i].unwrap_or(0)
            )],
            ..Default::default()
        })
        .collect())
}

/// A tax-registry status other than active, in the inspection list's words.
fn tax_status_vi(status: &str) -> Option<&'static str> {
    match status {
        "suspended" => Some("tạm ngừng kinh doanh"),
        "closed" => Some("đã chấm dứt hoạt động"),
        "absent" => Some("không hoạt động tại địa chỉ đã đăng ký"),
        _ => None,
    }
}

/// Employers with employees and no BHXH unit (`unregistered_employers`).
pub fn unregistered_evidence(inputs: &EvidenceInputs, province: &str) -> Result<Vec<InspectionEntry>> {
    let Some(df) = scan_partition(inputs.lake_root, super::tables::UNREGISTERED_EMPLOYERS.name, province)? else { return Ok(Vec::new()) };
    let df = df
        .select([col("tax_code"), col("officer_id"), col("employees_in_tax"), col("wage_fund_3m"), col("employees_declared"), col("wage_months"), col("tax_status")])
        .collect()?;
    let (tax, off) = (super::frame::strs(&df, "tax_code")?, super::frame::strs(&df, "officer_id")?);
    let (emp, fund, declared) =
        (super::frame::ints(&df, "employees_in_tax")?, super::frame::ints(&df, "wage_fund_3m")?, super::frame::ints(&df, "employees_declared")?);
    let window = super::frame::ints(&df, "wage_months")?;
    let status = super::frame::strs(&df, "tax_status")?;
    Ok((0..df.height())
        .map(|i| {
            let n = emp[i].unwrap_or(0);
            let mut evidence = if n > 0 {
                format!(
                    "Chưa đăng ký tham gia BHXH: {n} lao động có thu nhập trong dữ liệu thuế {} tháng gần nhất, tổng thu nhập chịu thuế {} đồng",
                    window[i].unwrap_or(0),
                    vnd(fund[i].unwrap_or(0))
                )
            } else {
                format!("Chưa đăng ký tham gia BHXH: {} lao động theo quyết toán thuế", declared[i].unwrap_or(0))
            };
            // An employer the registry no longer shows active still pays wages.
            if let Some(s) = status[i].as_deref().and_then(tax_status_vi) {
                evidence += &format!(" (trong dữ liệu thuế: {s})");
            }
            InspectionEntry {
                province_code: province.to_string(),
                tax_code: tax[i].clone(),
                officer_id: off[i].clone(),
                reasons: vec!["unregistered_employer"],
                workers_not_declared: Some(if n > 0 { n } else { declared[i].unwrap_or(0) }),
                evidence: vec![evidence],
                ..Default::default()
            }
        })
        .collect())
}
