//! Per-province lists for the people who act on them, read back from gold:
//!
//! ```text
//! <lake>/exports/<as_of>/<province_code>/c12_notices.csv
//! <lake>/exports/<as_of>/<province_code>/inspection_list.csv
//! ```
//! CSV, UTF-8 with a BOM (so Excel opens the Vietnamese text right), comma
//! separated, Vietnamese headers (their English column names are in
//! [`C12_EXPORT`], [`INSPECTION_EXPORT`] and `docs/rules.md`). Money is whole
//! VND without separators, months `YYYY-MM`, dates `YYYY-MM-DD`. Every one of
//! the 63 provinces gets both files (a header only when it has no rows), and
//! a province's folder holds that province's rows only. Each file is written
//! to a temporary name and renamed into place.
//!
//! The inspection list gathers [`InspectionEntry`] rows from every
//! [`EVIDENCE_SOURCES`] function and merges the rows of the same unit. Today
//! the sources are the debt (`delinquent_employers`, candidates only) and the
//! coverage stage's units with uninsured workers and unregistered employers
//! (`coverage::evidence`), which fill `workers_not_declared`.

use super::{C12_NOTICES, DELINQUENT_EMPLOYERS};
use crate::lake::{gold, Lake};
use crate::month::Month;
use crate::reference::Reference;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

/// How a cell is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt {
    Text,
    Int,
    /// Whole VND: written as an integer, shown as money in the workbook.
    Vnd,
    /// A Date column holding months: `YYYY-MM`.
    Month,
    /// `YYYY-MM-DD`
    Date,
    /// `có` (yes) or empty.
    YesNo,
}

/// A column of an export: the gold column it comes from and its header.
#[derive(Clone, Copy, Debug)]
pub struct ExportColumn {
    pub column: &'static str,
    pub header: &'static str,
    pub format: Fmt,
}

const fn c(column: &'static str, header: &'static str, format: Fmt) -> ExportColumn {
    ExportColumn { column, header, format }
}

/// `c12_notices.csv`: the notices of the last ended month (final) and of the
/// as-of month (provisional: payments up to the as-of date), one row per unit
/// and month, sorted by unit then month.
pub const C12_EXPORT: &[ExportColumn] = &[
    c("month", "Tháng", Fmt::Month),
    c("province_code", "Mã tỉnh", Fmt::Text),
    c("unit_code", "Mã đơn vị", Fmt::Text),
    c("unit_name", "Tên đơn vị", Fmt::Text),
    c("tax_code", "Mã số thuế", Fmt::Text),
    c("officer_id", "Cán bộ chuyên quản", Fmt::Text),
    c("headcount", "Số lao động", Fmt::Int),
    c("wage_fund", "Quỹ tiền lương", Fmt::Vnd),
    c("brought_forward", "Kỳ trước chuyển sang", Fmt::Vnd),
    c("due", "Phải đóng kỳ này", Fmt::Vnd),
    c("makeup", "Trong đó: đóng bù hưu trí, tử tuất", Fmt::Vnd),
    c("paid", "Số tiền đã đóng", Fmt::Vnd),
    c("interest", "Lãi chậm đóng", Fmt::Vnd),
    c("carried_forward", "Chuyển kỳ sau", Fmt::Vnd),
    c("debt", "Trong đó: nợ tiền đóng", Fmt::Vnd),
    c("interest_unpaid", "Trong đó: nợ lãi", Fmt::Vnd),
    c("credit", "Trong đó: đóng thừa", Fmt::Vnd),
    c("deferred_pension_part", "Tạm dừng đóng hưu trí, tử tuất (lũy kế)", Fmt::Vnd),
    c("provisional", "Tạm tính (tháng chưa kết thúc)", Fmt::YesNo),
];

/// `inspection_list.csv` columns, in the names of [`InspectionEntry`].
pub const INSPECTION_EXPORT: &[ExportColumn] = &[
    c("province_code", "Mã tỉnh", Fmt::Text),
    c("unit_code", "Mã đơn vị", Fmt::Text),
    c("tax_code", "Mã số thuế", Fmt::Text),
    c("unit_name", "Tên đơn vị", Fmt::Text),
    c("officer_id", "Cán bộ chuyên quản", Fmt::Text),
    c("reasons", "Lý do", Fmt::Text),
    c("debt", "Số tiền nợ (đồng)", Fmt::Vnd),
    c("debt_months", "Số tháng nợ", Fmt::Int),
    c("oldest_unpaid_month", "Nợ từ tháng", Fmt::Month),
    c("interest", "Lãi chậm đóng chưa nộp (đồng)", Fmt::Vnd),
    c("workers_not_declared", "Số lao động chưa tham gia", Fmt::Int),
    c("evidence", "Bằng chứng", Fmt::Text),
];

/// One unit (or unregistered employer) on a province's inspection list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InspectionEntry {
    pub province_code: String,
    pub unit_code: Option<String>,
    pub tax_code: Option<String>,
    pub unit_name: Option<String>,
    pub officer_id: Option<String>,
    /// Reason codes: `debt` (debt of 3 months or more, not suspended); the
    /// coverage issue adds `uninsured_workers`, `unregistered_employer`.
    pub reasons: Vec<&'static str>,
    pub debt: Option<i64>,
    pub debt_months: Option<i64>,
    pub oldest_unpaid_month: Option<Month>,
    pub interest: Option<i64>,
    pub workers_not_declared: Option<i64>,
    /// One sentence per source, in Vietnamese.
    pub evidence: Vec<String>,
}

/// What every evidence source is given: the lake and the as-of date, and
/// what is read once for all 63 provinces.
pub struct EvidenceInputs<'a> {
    pub lake_root: &'a Path,
    pub as_of: NaiveDate,
    /// Silver units' names, own tax codes and officers by province.
    pub units: UnitsByProvince,
}

/// The columns of silver `units` the inspection lists show (`unit_code`,
/// `unit_name`, `unit_tax_code`, `unit_officer`), split by the unit's
/// province once: a scan of silver units for each province and source read
/// the whole table 126 times a night.
#[derive(Default)]
pub struct UnitsByProvince {
    /// `None`: the lake has no silver units.
    parts: Option<std::collections::HashMap<String, DataFrame>>,
}

impl UnitsByProvince {
    pub fn load(lake_root: &Path) -> Result<UnitsByProvince> {
        let Some(units) = crate::coverage::frame::silver(&Lake::new(lake_root), "units")? else { return Ok(UnitsByProvince::default()) };
        let df = units
            .filter(col("province_code").is_not_null())
            .select([
                col("province_code"),
                col("unit_code"),
                col("name").alias("unit_name"),
                col("tax_code").alias("unit_tax_code"),
                col("officer_id").alias("unit_officer"),
            ])
            .collect()?;
        let mut parts = std::collections::HashMap::new();
        for part in df.partition_by_stable(["province_code"], true)? {
            let province = part.column("province_code")?.str()?.get(0).map(str::to_string);
            if let Some(province) = province {
                parts.insert(province, part.drop("province_code")?);
            }
        }
        Ok(UnitsByProvince { parts: Some(parts) })
    }

    /// `df` with the units' columns joined on `unit_code` (a left join: a
    /// unit not in silver units gets nulls); the units of `province` only.
    pub fn join(&self, province: &str, df: LazyFrame) -> LazyFrame {
        const COLUMNS: [&str; 3] = ["unit_name", "unit_tax_code", "unit_officer"];
        match self.parts.as_ref().map(|p| p.get(province)) {
            Some(Some(units)) => df.join(units.clone().lazy(), [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Left)),
            // No silver units, or none in the province: nothing to join.
            _ => df.with_columns(COLUMNS.map(|c| lit(NULL).cast(DataType::String).alias(c))),
        }
    }
}

/// Gives a province's inspection entries at the as-of date.
pub type EvidenceSource = fn(inputs: &EvidenceInputs, province: &str) -> Result<Vec<InspectionEntry>>;

/// Where inspection evidence comes from. Extension point: the coverage issue
/// appends its sources here.
pub const EVIDENCE_SOURCES: &[EvidenceSource] =
    &[
        debt_evidence,
        crate::coverage::evidence::uninsured_evidence,
        crate::coverage::evidence::under_declared_evidence,
        crate::coverage::evidence::unregistered_evidence,
    ];

/// `1234567` → `1.234.567` (Vietnamese thousands separator).
pub fn vnd(x: i64) -> String {
    let digits = x.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(ch);
    }
    if x < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn month_of_day(day: i32) -> Month {
    Month::of_date(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(i64::from(day)))
}

/// Inspection candidates of `delinquent_employers` (debt of 3 months or more,
/// not inside a suspension at the as-of date).
pub fn debt_evidence(inputs: &EvidenceInputs, province: &str) -> Result<Vec<InspectionEntry>> {
    let lake_root = inputs.lake_root;
    if !gold::partitions(lake_root, DELINQUENT_EMPLOYERS)?.iter().any(|p| p == province) {
        return Ok(Vec::new());
    }
    let df = gold::read_partition(lake_root, DELINQUENT_EMPLOYERS, province)?
        .lazy()
        .filter(col("inspection_candidate"))
        .collect()?;
    let s = |n: &str| -> Result<StringChunked> { Ok(df.column(n)?.str()?.clone()) };
    let (code, tax, name, officer) = (s("unit_code")?, s("tax_code")?, s("unit_name")?, s("officer_id")?);
    let debt = df.column("debt")?.i64()?.clone();
    let months = df.column("debt_months")?.i64()?.clone();
    let oldest = df.column("oldest_unpaid_month")?.date()?.physical().clone();
    let interest = df.column("interest")?.i64()?.clone();
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (d, m, o, int) = (debt.get(i), months.get(i), oldest.get(i).map(month_of_day), interest.get(i));
        let mut evidence =
            format!("Nợ {} đồng tiền đóng BHXH, BHYT, BHTN trong {} tháng", vnd(d.unwrap_or(0)), m.unwrap_or(0));
        if let Some(o) = o {
            evidence += &format!(", từ tháng {:02}/{}", o.month(), o.year());
        }
        if let Some(int) = int.filter(|x| *x > 0) {
            evidence += &format!("; lãi chậm đóng chưa nộp {} đồng", vnd(int));
        }
        out.push(InspectionEntry {
            province_code: province.to_string(),
            unit_code: code.get(i).map(str::to_string),
            tax_code: tax.get(i).map(str::to_string),
            unit_name: name.get(i).map(str::to_string),
            officer_id: officer.get(i).map(str::to_string),
            reasons: vec!["debt"],
            debt: d,
            debt_months: m,
            oldest_unpaid_month: o,
            interest: int,
            workers_not_declared: None,
            evidence: vec![evidence],
        });
    }
    Ok(out)
}

/// Merges the entries of the same unit (or, without a unit, the same tax
/// code) from several sources: reasons and evidence are joined, the first
/// non-empty value of each figure is kept. Sorted by debt age, then debt
/// (largest first), then unit code.
pub fn merge(entries: Vec<InspectionEntry>) -> Vec<InspectionEntry> {
    let mut out: Vec<InspectionEntry> = Vec::new();
    let key =
        |e: &InspectionEntry| (e.unit_code.clone(), if e.unit_code.is_none() { e.tax_code.clone() } else { None });
    let mut index = std::collections::HashMap::new();
    for e in entries {
        match index.get(&key(&e)) {
            None => {
                index.insert(key(&e), out.len());
                out.push(e);
            }
            Some(&i) => {
                let t: &mut InspectionEntry = &mut out[i];
                t.tax_code = t.tax_code.take().or(e.tax_code);
                t.unit_name = t.unit_name.take().or(e.unit_name);
                t.officer_id = t.officer_id.take().or(e.officer_id);
                t.debt = t.debt.or(e.debt);
                t.debt_months = t.debt_months.or(e.debt_months);
                t.oldest_unpaid_month = t.oldest_unpaid_month.or(e.oldest_unpaid_month);
                t.interest = t.interest.or(e.interest);
                t.workers_not_declared = t.workers_not_declared.or(e.workers_not_declared);
                for r in e.reasons {
                    if !t.reasons.contains(&r) {
                        t.reasons.push(r);
                    }
                }
                t.evidence.extend(e.evidence);
            }
        }
    }
    out.sort_by(|a, b| {
        (b.debt_months.unwrap_or(0), b.debt.unwrap_or(0), &a.unit_code, &a.tax_code).cmp(&(
            a.debt_months.unwrap_or(0),
            a.debt.unwrap_or(0),
            &b.unit_code,
            &b.tax_code,
        ))
    });
    out
}

/// Writes every province's files; returns how many files were written.
/// Provinces are independent and written side by side (rayon); every one is
/// attempted, the error returned is the first failing province's in the
/// reference table's order, and the others are logged.
pub fn run(lake: &Lake, reference: &Reference, as_of: NaiveDate) -> Result<u64> {
    let dir = exports_dir(&lake.root, as_of);
    let have_c12 = gold::partitions(&lake.root, C12_NOTICES)?;
    let inputs = EvidenceInputs { lake_root: &lake.root, as_of, units: UnitsByProvince::load(&lake.root)? };
    // The province with the most notices first (see `for_each_side_by_side`).
    let weight = |p: &crate::reference::Province| crate::lake::dir_bytes(&gold::partition_dir(&lake.root, C12_NOTICES, &p.code));
    let files = crate::lake::for_each_side_by_side("assess", &reference.provinces, weight, |p| {
        province(lake, &dir.join(&p.code), &p.code, &inputs, &have_c12).with_context(|| format!("province {}", p.code))
    })?;
    Ok(files.iter().sum())
}

/// One province's C12 notices and inspection list; returns the files written.
fn province(lake: &Lake, pdir: &Path, province: &str, inputs: &EvidenceInputs, have_c12: &[String]) -> Result<u64> {
    let as_of_m = Month::of_date(inputs.as_of);
    fs::create_dir_all(pdir).with_context(|| format!("creating {}", pdir.display()))?;
    // C12-TS notices: last ended month and the as-of month.
    let c12 = if have_c12.iter().any(|c| c == province) {
        Some(
            gold::read_partition(&lake.root, C12_NOTICES, province)?
                .lazy()
                .filter(col("month").gt_eq(lit(as_of_m.prev().first_day())))
                .sort(vec![PlSmallStr::from("unit_code"), PlSmallStr::from("month")], SortMultipleOptions::default())
                .collect()?,
        )
    } else {
        None
    };
    write_csv(&pdir.join("c12_notices.csv"), C12_EXPORT, |w| {
        if let Some(df) = &c12 {
            write_frame(w, df, C12_EXPORT)?;
        }
        Ok(())
    })?;
    let mut entries = Vec::new();
    for source in EVIDENCE_SOURCES {
        entries.extend(source(inputs, province)?);
    }
    let entries = merge(entries);
    write_csv(&pdir.join("inspection_list.csv"), INSPECTION_EXPORT, |w| {
        for e in &entries {
            w.write_record(entry_record(e))?;
        }
        Ok(())
    })?;
    Ok(2)
}

/// `<lake>/exports/<as_of>`
pub fn exports_dir(lake_root: &Path, as_of: NaiveDate) -> PathBuf {
    lake_root.join("exports").join(as_of.format("%Y-%m-%d").to_string())
}

fn entry_record(e: &InspectionEntry) -> Vec<String> {
    let o = |x: &Option<String>| x.clone().unwrap_or_default();
    let n = |x: Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
    vec![
        e.province_code.clone(),
        o(&e.unit_code),
        o(&e.tax_code),
        o(&e.unit_name),
        o(&e.officer_id),
        e.reasons.join(";"),
        n(e.debt),
        n(e.debt_months),
        e.oldest_unpaid_month.map(|m| m.to_string()).unwrap_or_default(),
        n(e.interest),
        n(e.workers_not_declared),
        e.evidence.join(" | "),
    ]
}

type CsvW = crate::lake::CsvWriter;

/// Writes a BOM, the list's Vietnamese headers and whatever `body` writes, atomically.
fn write_csv(target: &Path, spec: &[ExportColumn], body: impl FnOnce(&mut CsvW) -> Result<()>) -> Result<()> {
    let header: Vec<&str> = spec.iter().map(|c| c.header).collect();
    crate::lake::write_csv_with(target, &header, body)
}

impl Fmt {
    /// The column type name the workbook export reads ([`crate::export::Cell`]).
    pub fn type_name(self) -> &'static str {
        match self {
            Fmt::Text | Fmt::YesNo => "string",
            Fmt::Int => "int64",
            Fmt::Vnd => "vnd",
            Fmt::Month => "month",
            Fmt::Date => "date",
        }
    }
}

fn cell(v: AnyValue<'_>, fmt: Fmt) -> String {
    match (v, fmt) {
        (AnyValue::Null, _) => String::new(),
        (AnyValue::Date(d), Fmt::Month) => month_of_day(d).to_string(),
        (AnyValue::Date(d), _) => {
            (NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(i64::from(d))).to_string()
        }
        (AnyValue::Boolean(b), _) => if b { "có" } else { "" }.to_string(),
        (AnyValue::String(s), _) => s.to_string(),
        (AnyValue::StringOwned(s), _) => s.to_string(),
        (v, _) => v.to_string(),
    }
}

fn write_frame(w: &mut CsvW, df: &DataFrame, spec: &[ExportColumn]) -> Result<()> {
    let cols: Vec<&Column> = spec
        .iter()
        .map(|c| df.column(c.column).map_err(|e| anyhow::anyhow!("export column {}: {e}", c.column)))
        .collect::<Result<_>>()?;
    let mut rec: Vec<String> = Vec::with_capacity(spec.len());
    for i in 0..df.height() {
        rec.clear();
        for (col, c) in cols.iter().zip(spec) {
            rec.push(cell(col.get(i)?, c.format));
        }
        w.write_record(&rec)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnd_has_dot_thousands() {
        assert_eq!(vnd(0), "0");
        assert_eq!(vnd(999), "999");
        assert_eq!(vnd(1_000), "1.000");
        assert_eq!(vnd(12_345_678), "12.345.678");
        assert_eq!(vnd(-1_234), "-1.234");
    }

    #[test]
    fn merge_joins_the_same_unit_and_sorts_by_age_then_debt() {
        let e = |code: &str, debt: i64, months: i64, reason: &'static str| InspectionEntry {
            unit_code: Some(code.into()),
            reasons: vec![reason],
            debt: Some(debt),
            debt_months: Some(months),
            evidence: vec![format!("{reason} {code}")],
            ..Default::default()
        };
        let mut w = e("B", 0, 0, "uninsured_workers");
        w.debt = None;
        w.debt_months = None;
        w.workers_not_declared = Some(7);
        let out = merge(vec![e("A", 100, 3, "debt"), e("B", 500, 4, "debt"), e("C", 900, 3, "debt"), w]);
        let codes: Vec<_> = out.iter().map(|x| x.unit_code.clone().unwrap()).collect();
        assert_eq!(codes, ["B", "C", "A"]);
        assert_eq!(out[0].reasons, ["debt", "uninsured_workers"]);
        assert_eq!((out[0].debt, out[0].workers_not_declared), (Some(500), Some(7)));
        assert_eq!(out[0].evidence.len(), 2);
    }
}
