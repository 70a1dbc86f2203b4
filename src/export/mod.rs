//! Export: what each province's officers and agents receive, in
//! `exports/<as_of>/<province_code>/`.
//!
//! ```text
//! gold/province_weekly ─► weekly_report.csv, bao_cao_tuan.html (12-week summary)
//! every list's CSV     ─► bhxh_<province>_<as_of>.xlsx (one sheet per list,
//!                         and a last sheet explaining the lists' codes)
//! ```
//! The earlier stages write their lists as CSV (UTF-8 with a byte-order
//! mark, Vietnamese headers). This stage adds the weekly report and builds one
//! workbook per province from the lists, typing each cell from the list's
//! declared columns: money as VND, dates as dates, codes as text (leading
//! zeros kept), header row frozen. A list whose CSV header differs from its
//! declaration stops the stage: the workbook never guesses.

mod html;
pub mod legend;

use crate::assess::export::{exports_dir, C12_EXPORT, INSPECTION_EXPORT};
use crate::lake::{gold, write_csv, Lake};
use crate::month::report_sunday;
use crate::publish::PROVINCE_WEEKLY;
use crate::reference::{Province, Reference};
use anyhow::{bail, Context, Result};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
use std::path::Path;
use std::time::Instant;

/// How a column's cells are shown in the workbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Text,
    Int,
    /// Whole VND, `#,##0 ₫`.
    Vnd,
    /// `YYYY-MM-DD` in the CSV, a date in the workbook.
    Date,
    /// `YYYY-MM` in the CSV, a date (first of the month) shown `mm/yyyy`.
    Month,
    /// A fraction (0.25) in the CSV, `25.0%` in the workbook.
    Share,
}

impl Cell {
    /// From a declared type name: `string`, `int64`, `vnd`, `date`, `month`, `share`.
    pub fn of(type_name: &str) -> Result<Cell> {
        Ok(match type_name {
            "string" => Cell::Text,
            "int64" | "int" => Cell::Int,
            "vnd" => Cell::Vnd,
            "date" => Cell::Date,
            "month" => Cell::Month,
            "share" => Cell::Share,
            other => bail!("export column type {other:?} is not one the workbook knows"),
        })
    }
}

/// One list a province receives: its CSV file, its sheet, its columns.
pub struct List {
    pub file: &'static str,
    pub sheet: &'static str,
    pub columns: Vec<(&'static str, Cell)>,
}

/// The weekly report's columns: (gold column of province_weekly, header, cell).
pub const WEEKLY_REPORT_COLUMNS: &[(&str, &str, &str)] = &[
    ("week", "Tuần", "string"),
    ("week_start", "Từ ngày", "date"),
    ("week_end", "Đến ngày", "date"),
    ("report_date", "Ngày báo cáo", "date"),
    ("data_as_of", "Dữ liệu đến ngày", "date"),
    ("province_code", "Mã tỉnh", "string"),
    ("province_code_2025", "Mã tỉnh (từ 01/7/2025)", "string"),
    ("province_name", "Tên tỉnh", "string"),
    ("compulsory_month", "Tháng số liệu BHXH bắt buộc", "month"),
    ("compulsory_participants", "Người tham gia BHXH bắt buộc", "int64"),
    ("compulsory_units", "Đơn vị tham gia BHXH bắt buộc", "int64"),
    ("voluntary_participants", "Người tham gia BHXH tự nguyện", "int64"),
    ("household_hi_members", "Người tham gia BHYT hộ gia đình", "int64"),
    ("uninsured_workers_found_week", "Lao động chưa tham gia phát hiện trong tuần", "int64"),
    ("uninsured_workers_found_ytd", "Lao động chưa tham gia phát hiện lũy kế năm", "int64"),
    ("unregistered_employers_found_week", "Đơn vị chưa đăng ký phát hiện trong tuần", "int64"),
    ("unregistered_employers_found_ytd", "Đơn vị chưa đăng ký phát hiện lũy kế năm", "int64"),
    ("workers_developed_week", "Lao động phát triển mới trong tuần", "int64"),
    ("workers_developed_ytd", "Lao động phát triển mới lũy kế năm", "int64"),
    ("employers_developed_week", "Đơn vị phát triển mới trong tuần", "int64"),
    ("employers_developed_ytd", "Đơn vị phát triển mới lũy kế năm", "int64"),
    ("collected_week", "Số thu trong tuần (đồng)", "vnd"),
    ("collected_ytd", "Số thu lũy kế năm (đồng)", "vnd"),
    ("collection_target", "Kế hoạch thu năm (đồng)", "vnd"),
    ("collection_expected", "Kế hoạch thu đến ngày (đồng)", "vnd"),
    ("collection_share", "Tỷ lệ hoàn thành kế hoạch thu", "share"),
    ("debt", "Nợ đóng (đồng)", "vnd"),
    ("units_in_debt", "Đơn vị nợ", "int64"),
    ("units_in_debt_3m", "Đơn vị nợ từ 3 tháng trở lên", "int64"),
    ("suspended_units", "Đơn vị tạm dừng đóng hưu trí, tử tuất", "int64"),
    ("conferences_week", "Hội nghị trong tuần", "int64"),
    ("conference_attended_week", "Người dự hội nghị", "int64"),
    ("conference_registrations_week", "Người đăng ký tại hội nghị", "int64"),
    ("conference_registrations_ytd", "Người đăng ký tại hội nghị lũy kế năm", "int64"),
    ("covid_reviews_week", "Rà soát lao động do Covid trong tuần", "int64"),
    ("compulsory_target", "Kế hoạch BHXH bắt buộc (người)", "int64"),
    ("compulsory_expected", "Kế hoạch BHXH bắt buộc đến ngày", "int64"),
    ("voluntary_target", "Kế hoạch BHXH tự nguyện (người)", "int64"),
    ("voluntary_expected", "Kế hoạch BHXH tự nguyện đến ngày", "int64"),
    ("household_hi_target", "Kế hoạch BHYT hộ gia đình (người)", "int64"),
    ("household_hi_expected", "Kế hoạch BHYT hộ gia đình đến ngày", "int64"),
];

/// Weeks in the weekly report and its chart.
pub const REPORT_WEEKS: usize = 12;

pub const WEEKLY_REPORT_FILE: &str = "weekly_report.csv";
pub const HTML_FILE: &str = "bao_cao_tuan.html";

/// The workbook of a province: `bhxh_<province>_<as_of>.xlsx`.
pub fn workbook_name(province: &str, as_of: NaiveDate) -> String {
    format!("bhxh_{province}_{as_of}.xlsx")
}

fn from_tuples(t: &'static [(&'static str, &'static str, &'static str)]) -> Result<Vec<(&'static str, Cell)>> {
    t.iter().map(|(h, ty, _)| Ok((*h, Cell::of(ty)?))).collect()
}

/// Every list a province receives, in sheet order.
pub fn lists() -> Result<Vec<List>> {
    let assess = |spec: &'static [crate::assess::export::ExportColumn]| -> Result<Vec<(&'static str, Cell)>> {
        spec.iter().map(|c| Ok((c.header, Cell::of(c.format.type_name())?))).collect()
    };
    Ok(vec![
        List {
            file: WEEKLY_REPORT_FILE,
            sheet: "Báo cáo tuần",
            columns: WEEKLY_REPORT_COLUMNS.iter().map(|(_, h, t)| Ok((*h, Cell::of(t)?))).collect::<Result<_>>()?,
        },
        List { file: "officer_worklists.csv", sheet: "Danh sách cán bộ", columns: from_tuples(crate::coverage::export_columns())? },
        List { file: "inspection_list.csv", sheet: "Thanh tra, kiểm tra", columns: assess(INSPECTION_EXPORT)? },
        List { file: "c12_notices.csv", sheet: "C12-TS", columns: assess(C12_EXPORT)? },
        List { file: "d08a_due.csv", sheet: "D08a-TS", columns: from_tuples(crate::voluntary::D08A_EXPORT_COLUMNS)? },
        List { file: "voluntary_prospects.csv", sheet: "Đối tượng tiềm năng", columns: from_tuples(crate::voluntary::PROSPECT_EXPORT_COLUMNS)? },
    ])
}

#[derive(Clone, Debug, Default)]
pub struct ExportReport {
    pub provinces: usize,
    pub workbooks: usize,
    pub rows: u64,
    pub seconds: f64,
}

/// Writes every province's weekly report, HTML summary and workbook.
pub fn run(lake: &Lake, reference: &Reference, as_of: NaiveDate) -> Result<ExportReport> {
    let start = Instant::now();
    let dir = exports_dir(&lake.root, as_of);
    let lists = lists()?;
    let have = gold::partitions(&lake.root, PROVINCE_WEEKLY)?;
    let last = report_sunday(as_of);
    // Provinces are independent: they are written side by side (one per
    // core), the province with the most list bytes first, each sheet
    // streamed to a temporary file as its rows are written (a province's
    // lists are still read whole from CSV). Every province is attempted; the
    // error returned is the first failing province's in the reference
    // table's order (by code).
    let weight = |p: &Province| crate::lake::dir_bytes(&dir.join(&p.code));
    let rows = crate::lake::for_each_side_by_side("export", &reference.provinces, weight, |p| {
        province(&dir, p, as_of, last, &have, lake, &lists).with_context(|| format!("province {}", p.code))
    })?;
    let mut report = ExportReport { rows: rows.iter().sum(), provinces: rows.len(), workbooks: rows.len(), ..Default::default() };
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// One province's weekly report, HTML summary and workbook; returns the workbook's rows.
fn province(dir: &Path, p: &Province, as_of: NaiveDate, last: NaiveDate, have: &[String], lake: &Lake, lists: &[List]) -> Result<u64> {
    let pdir = dir.join(&p.code);
    std::fs::create_dir_all(&pdir).with_context(|| format!("creating {}", pdir.display()))?;
    let weeks = if have.contains(&p.code) {
        gold::read_partition(&lake.root, PROVINCE_WEEKLY, &p.code)?
            .lazy()
            .filter(col("week_end").lt_eq(lit(last)))
            .sort(["week_end"], SortMultipleOptions::default())
            .tail(REPORT_WEEKS as IdxSize)
            .collect()?
    } else {
        DataFrame::empty()
    };
    let rows = weekly_rows(&weeks)?;
    let header: Vec<&str> = WEEKLY_REPORT_COLUMNS.iter().map(|c| c.1).collect();
    write_csv(&pdir.join(WEEKLY_REPORT_FILE), &header, &rows)?;
    html::write(&pdir.join(HTML_FILE), p, as_of, &weeks)?;
    write_workbook(&pdir, &p.code, as_of, lists)
}

/// The weekly report rows as CSV text, oldest week first.
fn weekly_rows(df: &DataFrame) -> Result<Vec<Vec<String>>> {
    if df.height() == 0 {
        return Ok(Vec::new());
    }
    let mut cols = Vec::new();
    for (name, _, ty) in WEEKLY_REPORT_COLUMNS {
        let c = df.column(name).map_err(|e| anyhow::anyhow!("province_weekly column {name}: {e}"))?;
        cols.push((c.as_materialized_series().clone(), Cell::of(ty)?));
    }
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut row = Vec::with_capacity(cols.len());
        for (s, cell) in &cols {
            row.push(text(s.get(i)?, *cell));
        }
        out.push(row);
    }
    Ok(out)
}

fn text(v: AnyValue<'_>, cell: Cell) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::Date(d) => {
            let d = crate::coverage::frame::from_days(d);
            if cell == Cell::Month {
                format!("{:04}-{:02}", d.year(), d.month())
            } else {
                d.to_string()
            }
        }
        AnyValue::Float64(x) => format!("{x:.4}"),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        v => v.to_string(),
    }
}

/// The workbooks' deflate level (1 fastest … 9 smallest). An engineering
/// choice, not a business rule: zlib-rs's fast strategy, one level below
/// Excel's own (3). At 4M people it cut the stage's CPU by 15% for
/// workbooks 4.9% larger (docs/benchmarks.md, 2026-12-06).
const ZIP_LEVEL: u8 = 2;

/// Excel's last row (1,048,576 rows, the header included).
const MAX_ROWS: usize = 1_048_575;

/// Builds the province's workbook from its lists' CSV files; returns the rows written.
fn write_workbook(pdir: &Path, province: &str, as_of: NaiveDate, lists: &[List]) -> Result<u64> {
    let mut wb = Workbook::new();
    // The sheets' rows go to temporary files beside the workbook, on the
    // lake's disk (the system's temporary folder may be memory; the library
    // still opens an empty one there as each sheet is made).
    wb.set_tempdir(pdir)?;
    // The library's default (6) spent almost half the stage compressing
    // sheets for files about 5% smaller than level 3 (see `ZIP_LEVEL`).
    wb.set_zip_compression_level(ZIP_LEVEL);
    // Dated by the data, not the clock: the same lake gives the same bytes.
    let created = ExcelDateTime::from_ymd(as_of.year() as u16, as_of.month() as u8, as_of.day() as u8)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created).set_title(format!("BHXH {province} {as_of}")));
    let header = Format::new().set_bold().set_text_wrap().set_background_color(0xD9E1F2);
    let vnd = Format::new().set_num_format("#,##0 \"₫\"");
    let int = Format::new().set_num_format("#,##0");
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let month = Format::new().set_num_format("mm/yyyy");
    let share = Format::new().set_num_format("0.0%");
    let mut rows_written = 0u64;
    for list in lists {
        let path = pdir.join(list.file);
        let want: Vec<&str> = list.columns.iter().map(|c| c.0).collect();
        // Each record is written as it is read, into one reused record: a
        // province's lists are never held whole (at 4M people, holding them
        // as strings took 150 MB of the stage's peak and a tenth of its CPU).
        let mut reader = if path.exists() {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let mut buf = std::io::BufReader::with_capacity(1 << 16, file);
            // The byte-order mark the lists are written with is not a header's.
            use std::io::BufRead;
            if buf.fill_buf().with_context(|| format!("reading {}", path.display()))?.starts_with(b"\xEF\xBB\xBF") {
                buf.consume(3);
            }
            let mut r = csv::Reader::from_reader(buf);
            let head: Vec<&str> = r.headers().with_context(|| format!("reading {}", path.display()))?.iter().collect();
            if head != want {
                bail!("{}: header {head:?} differs from the declared columns {want:?}", path.display());
            }
            Some(r)
        } else {
            // The stage that writes it did not run (`bhxh stage`, a stage left out): an empty sheet.
            tracing::warn!(stage = "export", province, list = list.file, "no such list: its sheet is empty");
            None
        };
        // Constant memory: each row goes to a temporary file once the next
        // begins (strings inline), so a province of 600,000 rows does not
        // hold its sheets in memory (rows are written in order, as it needs).
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(list.sheet)?;
        for (c, (h, cell)) in list.columns.iter().enumerate() {
            let c = u16::try_from(c).context("too many columns")?;
            ws.write_string_with_format(0, c, *h, &header)?;
            let width = match cell {
                Cell::Text => 18.0,
                Cell::Vnd => 18.0,
                _ => 12.0,
            };
            ws.set_column_width(c, width)?;
            // Numbers and dates take their column's format: written without
            // one, a cell is styled by an index the sheet looks up, not by
            // hashing a whole format per cell (a tenth of the stage's time).
            match cell {
                Cell::Int => ws.set_column_format(c, &int)?,
                Cell::Vnd => ws.set_column_format(c, &vnd)?,
                Cell::Share => ws.set_column_format(c, &share)?,
                Cell::Date => ws.set_column_format(c, &date)?,
                Cell::Month => ws.set_column_format(c, &month)?,
                Cell::Text => ws,
            };
        }
        ws.set_row_height(0, 45)?;
        ws.set_freeze_panes(1, 0)?;
        let mut rec = csv::StringRecord::new();
        let mut records = 0usize;
        while let Some(r) = reader.as_mut() {
            if !r.read_record(&mut rec).with_context(|| format!("reading {}", path.display()))? {
                break;
            }
            records += 1;
            if records > MAX_ROWS {
                // Counted for the warning, not written.
                continue;
            }
            let row = u32::try_from(records).context("row")?;
            for (c, ((_, cell), v)) in list.columns.iter().zip(rec.iter()).enumerate() {
                let c = c as u16;
                if v.is_empty() {
                    continue;
                }
                let bad = || format!("{} line {}: {v:?} is not a {cell:?}", path.display(), records + 1);
                match cell {
                    Cell::Text => {
                        ws.write_string(row, c, v)?;
                    }
                    Cell::Int | Cell::Vnd => {
                        let n: i64 = v.parse().map_err(|_| anyhow::anyhow!(bad()))?;
                        // Whole VND are exact in a double below 2^53 (9 × 10^15).
                        ws.write_number(row, c, n as f64)?;
                    }
                    Cell::Share => {
                        let x: f64 = v.parse().map_err(|_| anyhow::anyhow!(bad()))?;
                        ws.write_number(row, c, x)?;
                    }
                    Cell::Date | Cell::Month => {
                        let d = if *cell == Cell::Month {
                            v.parse::<crate::month::Month>().ok().map(|m| m.first_day())
                        } else {
                            crate::month::parse_date(v)
                        }
                        .with_context(bad)?;
                        let x = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
                        ws.write_datetime(row, c, &x)?;
                    }
                }
            }
            rows_written += 1;
        }
        if records > MAX_ROWS {
            tracing::warn!(stage = "export", province, list = list.file, rows = records, "more rows than a sheet holds: the workbook has the first ones, the CSV all");
        }
        if records > 0 {
            // The filter's range is metadata the workbook writes at the end.
            let last_row = u32::try_from(records.min(MAX_ROWS)).context("rows")?;
            ws.autofilter(0, 0, last_row, (list.columns.len() - 1) as u16)?;
        }
    }
    // The codes of the lists, in Vietnamese (`legend`).
    let ws = wb.add_worksheet();
    ws.set_name(legend::SHEET)?;
    for (c, h) in legend::HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &header)?;
    }
    for (c, width) in [22.0, 16.0, 28.0, 80.0].into_iter().enumerate() {
        ws.set_column_width(c as u16, width)?;
    }
    for (r, (file, column, code, meaning)) in legend::LEGEND.iter().enumerate() {
        let sheet = lists.iter().find(|l| l.file == *file).map_or(*file, |l| l.sheet);
        for (c, v) in [sheet, column, code, meaning].into_iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    let target = pdir.join(workbook_name(province, as_of));
    let bytes = wb.save_to_buffer().with_context(|| format!("building {}", target.display()))?;
    crate::lake::write_file(&target, &bytes)?;
    Ok(rows_written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_declares_known_types_and_headers_once() {
        let lists = lists().unwrap();
        assert_eq!(lists.len(), 6);
        for l in &lists {
            let mut seen = std::collections::HashSet::new();
            for (h, _) in &l.columns {
                assert!(seen.insert(*h), "{}: header {h} twice", l.file);
            }
            assert!(l.columns.iter().any(|c| c.0 == "Mã tỉnh"), "{}: no province column", l.file);
            assert!(l.sheet.chars().count() <= 31, "{}: sheet name too long", l.sheet);
        }
    }

    #[test]
    fn the_weekly_report_covers_every_province_weekly_column() {
        let declared: Vec<&str> = crate::publish::tables::PROVINCE_WEEKLY.columns.iter().map(|c| c.name).collect();
        let exported: Vec<&str> = WEEKLY_REPORT_COLUMNS.iter().map(|c| c.0).collect();
        // The same columns (the report puts the collection plan beside the collection).
        let (mut a, mut b) = (declared.clone(), exported.clone());
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }
}
