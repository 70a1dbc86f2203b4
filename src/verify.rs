//! `bhxh verify`: checks a lake keeps personal data where it belongs.
//!
//! - Analyst tables (`gold/**.parquet`) must carry `person_key`, never a
//!   citizen ID, a personal tax code or a name: no column of those names, and
//!   no text value shaped like a CCCD (12 digits, valid province and
//!   century/sex digit) or a CMND (9 digits).
//! - Action lists (`exports/<as_of>/<province>/*.csv`, and every sheet of
//!   the province's workbook `*.xlsx`) must hold only their province's rows:
//!   every value of a `province_code` (or `Mã tỉnh`) column equals the
//!   folder's code.
//! - The weekly summary page (`*.html`) is aggregates only: no number in it
//!   may be shaped like a citizen ID.

use crate::ids::{check_citizen_id, mask};
use crate::lake::read_parquet;
use crate::reference::Reference;
use anyhow::{Context, Result};
use calamine::{open_workbook, Data, Reader, Xlsx};
use polars::prelude::DataType;
use std::path::{Path, PathBuf};

/// Columns that name a person or carry a personal identifier.
pub const PERSONAL_COLUMNS: &[&str] =
    &["citizen_id", "person_tax_code", "full_name", "full_name_raw", "owner_name", "owner_name_raw", "cccd", "cmnd"];

/// Header names of the province column in export files.
const PROVINCE_HEADERS: &[&str] = &["province_code", "Mã tỉnh"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: PathBuf,
    pub problem: String,
}

/// Scans the lake; an empty result means it passed.
pub fn run(lake: &Path, exports: &Path, reference: &Reference) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    // check_citizen_id answers only for all-digit values of 9 or 12 digits.
    let id_shaped = |v: &str| check_citizen_id(v, |c: &str| reference.is_province(c)).is_some();
    for path in crate::lake::files_under(&lake.join("gold"), "parquet") {
        let df = read_parquet(&path)?;
        for c in df.columns() {
            let name = c.name().as_str();
            if PERSONAL_COLUMNS.contains(&name) {
                findings.push(Finding { path: path.clone(), problem: format!("analyst table has personal column {name}") });
                continue;
            }
            if c.dtype() != &DataType::String {
                continue;
            }
            let ca = c.as_materialized_series().str()?.clone();
            let hit = (0..ca.len()).filter_map(|i| ca.get(i)).find(|v| id_shaped(v));
            if let Some(v) = hit {
                findings.push(Finding {
                    path: path.clone(),
                    problem: format!("column {name} holds a citizen ID ({})", mask(v)),
                });
            }
        }
    }
    // The folder a list sits in is its province.
    let province_folder = |path: &Path| {
        let folder = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str())?;
        reference.is_province(folder).then(|| folder.to_string())
    };
    for path in crate::lake::files_under(exports, "csv") {
        let Some(folder) = province_folder(&path) else { continue };
        let mut rdr = csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        let headers = rdr.headers()?.clone();
        let Some(at) = headers.iter().position(|h| PROVINCE_HEADERS.contains(&h.trim_start_matches('\u{feff}'))) else {
            continue;
        };
        let codes = rdr.records().map(|rec| Ok(rec?.get(at).unwrap_or_default().to_string()));
        if let Some((line, code)) = first_foreign(codes, &folder)? {
            findings.push(Finding { path: path.clone(), problem: format!("line {line} belongs to province {code}, not {folder}") });
        }
    }
    for path in crate::lake::files_under(exports, "xlsx") {
        let Some(folder) = province_folder(&path) else { continue };
        findings.extend(workbook_findings(&path, &folder)?);
    }
    for path in crate::lake::files_under(exports, "html") {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let hit = text.split(|c: char| !c.is_ascii_digit()).find(|v| id_shaped(v));
        if let Some(v) = hit {
            findings.push(Finding { path: path.clone(), problem: format!("summary page holds a citizen ID ({})", mask(v)) });
        }
    }
    Ok(findings)
}

/// Every sheet of a province's workbook: the first row is the header; a
/// province column's values must all be the folder's code.
fn workbook_findings(path: &Path, folder: &str) -> Result<Vec<Finding>> {
    let mut wb: Xlsx<_> = open_workbook(path).with_context(|| format!("reading {}", path.display()))?;
    let mut findings = Vec::new();
    for sheet in wb.sheet_names() {
        let range = wb.worksheet_range(&sheet).with_context(|| format!("reading sheet {sheet} of {}", path.display()))?;
        let mut rows = range.rows();
        let Some(header) = rows.next() else { continue };
        let Some(at) = header.iter().position(|h| matches!(h, Data::String(s) if PROVINCE_HEADERS.contains(&s.as_str()))) else {
            continue;
        };
        let codes = rows.map(|row| {
            Ok(match row.get(at) {
                Some(Data::String(s)) => s.clone(),
                Some(Data::Empty) | None => String::new(),
                Some(other) => other.to_string(),
            })
        });
        if let Some((row, code)) = first_foreign(codes, folder)? {
            findings.push(Finding {
                path: path.to_path_buf(),
                problem: format!("sheet {sheet} row {row} belongs to province {code}, not {folder}"),
            });
        }
    }
    Ok(findings)
}

/// The first data row (numbered from 2, the header being row 1) of a list
/// whose province column is not the folder's, with its code.
fn first_foreign(codes: impl Iterator<Item = Result<String>>, folder: &str) -> Result<Option<(usize, String)>> {
    for (i, code) in codes.enumerate() {
        let code = code?;
        if code != folder {
            return Ok(Some((i + 2, code)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::write_parquet;

    fn reference() -> Reference {
        Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap()
    }

    #[test]
    fn catches_a_raw_cccd_a_personal_column_and_a_foreign_province_row() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, exports) = (dir.path().join("lake"), dir.path().join("exports"));
        let gold = lake.join("gold/uninsured_workers/province_code=01/part-0.parquet");
        let mut clean = polars::df!("person_key" => ["a1b2c3"], "unit_code" => ["TA0001"], "tax_code" => ["0100109106"]).unwrap();
        write_parquet(&gold, &mut clean).unwrap();
        let csv = exports.join("2020-06-08/01/worklist.csv");
        std::fs::create_dir_all(csv.parent().unwrap()).unwrap();
        std::fs::write(&csv, "\u{feff}province_code,unit_code\n01,TA0001\n01,TA0002\n").unwrap();
        assert_eq!(run(&lake, &exports, &reference()).unwrap(), vec![], "a clean lake passes");

        let mut leaky = polars::df!("person_key" => ["a1b2c3"], "note" => ["001185012345"]).unwrap();
        write_parquet(&lake.join("gold/prospects/province_code=01/part-0.parquet"), &mut leaky).unwrap();
        let mut named = polars::df!("full_name" => ["Nguyễn Văn An"]).unwrap();
        write_parquet(&lake.join("gold/other/province_code=01/part-0.parquet"), &mut named).unwrap();
        std::fs::write(&csv, "\u{feff}province_code,unit_code\n01,TA0001\n79,TA0002\n").unwrap();
        let xlsx = exports.join("2020-06-08/01/bhxh_01_2020-06-08.xlsx");
        let mut wb = rust_xlsxwriter::Workbook::new();
        for (sheet, codes) in [("Nợ", ["01", "01"]), ("Khác", ["01", "79"])] {
            let ws = wb.add_worksheet().set_name(sheet).unwrap();
            ws.write(0, 0, "Mã đơn vị").unwrap();
            ws.write(0, 1, "Mã tỉnh").unwrap();
            for (r, code) in codes.iter().enumerate() {
                ws.write(r as u32 + 1, 0, "TA0001").unwrap();
                ws.write(r as u32 + 1, 1, *code).unwrap();
            }
        }
        wb.save(&xlsx).unwrap();
        let html = exports.join("2020-06-08/01/bao_cao_tuan.html");
        std::fs::write(&html, "<p>Thu 1.234.567 đồng, 12 đơn vị, tuần 2020-W23</p><p>001185012345</p>").unwrap();
        let found = run(&lake, &exports, &reference()).unwrap();
        let problems: Vec<&str> = found.iter().map(|f| f.problem.as_str()).collect();
        assert_eq!(
            problems,
            [
                "analyst table has personal column full_name",
                "column note holds a citizen ID (001*********)",
                "line 3 belongs to province 79, not 01",
                "sheet Khác row 3 belongs to province 79, not 01",
                "summary page holds a citizen ID (001*********)",
            ]
        );
    }
}
