//! Ingest on hand-written files: every file-level class of bad input, BOMs,
//! column order, unknown columns, Parquet extracts, reconciliation.

use bhxh::ingest::{self, FileReport, IngestReport};
use bhxh::lake::ledger::Ledger;
use bhxh::lake::{read_parquet, Lake};
use bhxh::reference::Reference;
use polars::prelude::*;
use std::path::Path;

fn reference() -> Reference {
    Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap()
}

fn run(inbox: &Path, lake: &Lake) -> IngestReport {
    let mut ledger = Ledger::load(&lake.root).unwrap();
    ingest::run(inbox, lake, &reference(), 1, &mut ledger, "test-run", &indicatif::ProgressBar::hidden()).unwrap()
}

/// A temporary folder with an empty `inbox` and a `lake` beside it.
fn inbox_and_lake() -> (tempfile::TempDir, std::path::PathBuf, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let lake = Lake::new(dir.path().join("lake"));
    (dir, inbox, lake)
}

fn ingest_one(name: &str, bytes: &[u8]) -> (tempfile::TempDir, FileReport) {
    let (dir, inbox, lake) = inbox_and_lake();
    std::fs::write(inbox.join(name), bytes).unwrap();
    let report = run(&inbox, &lake);
    assert_eq!(report.files.len(), 1, "{name} recognised");
    let f = report.files.into_iter().next().unwrap();
    (dir, f)
}

const UNITS_HEADER: &str = "unit_code,tax_code,name,province_code,ward_code,wage_region,officer_id,registered_on,status";

#[test]
fn missing_required_column_refuses_the_whole_file() {
    let csv = "unit_code,tax_code,province_code,wage_region,status\nU1,0100109106,01,1,active\n";
    let (dir, f) = ingest_one("si_units_20200608.csv", csv.as_bytes());
    let why = f.refused.expect("refused");
    assert!(why.contains("si_units_20200608.csv") && why.contains("name"), "{why}");
    assert!(!dir.path().join("lake/bronze/si_units").exists(), "nothing of it loaded");
    assert!(!dir.path().join("lake/rejects/si_units_20200608.parquet").exists());
}

#[test]
fn an_unknown_column_named_like_a_generated_one_refuses_the_file() {
    // `name_raw` is the raw twin ingest writes beside `name`; `_source_line`
    // a lineage column. Either in the extract would collide in bronze: the
    // file is refused with the column named, the run goes on.
    for extra in ["name_raw", "_source_line"] {
        let csv = format!("{UNITS_HEADER},{extra}\nU1,0100109106,Công ty A,01,,1,,,active,x\n");
        let (dir, f) = ingest_one("si_units_20200608.csv", csv.as_bytes());
        let why = f.refused.expect("refused");
        assert!(why.contains(extra) && why.contains("si_units_20200608.csv"), "{why}");
        assert!(!dir.path().join("lake/bronze/si_units").exists(), "nothing of it loaded");
    }
    // A column merely starting with an underscore is an ordinary extra.
    let csv = format!("{UNITS_HEADER},_note\nU1,0100109106,Công ty A,01,,1,,,active,x\n");
    let (_dir, f) = ingest_one("si_units_20200608.csv", csv.as_bytes());
    assert_eq!((f.refused, f.accepted), (None, 1));
}

#[test]
fn not_utf8_refuses_the_whole_file() {
    let mut bytes = format!("{UNITS_HEADER}\nU1,0100109106,Công ty A,01,,1,,,active\n").into_bytes();
    bytes.extend_from_slice(b"U2,0300588569,C\xf4ng ty B,79,,1,,,active\n"); // Latin-1 "ô"
    let (dir, f) = ingest_one("si_units_20200608.csv", &bytes);
    let why = f.refused.expect("refused");
    assert!(why.contains("UTF-8") && why.contains("line 3"), "{why}");
    assert!(!dir.path().join("lake/bronze/si_units/si_units_20200608.parquet").exists());
}

#[test]
fn not_parquet_refuses_the_file() {
    let (_dir, f) = ingest_one("si_units_20200608.parquet", b"this is not parquet");
    assert!(f.refused.expect("refused").contains("not Parquet"));
}

#[test]
fn empty_file_is_refused() {
    let (_dir, f) = ingest_one("si_units_20200608.csv", b"");
    assert!(f.refused.is_some());
}

#[test]
fn bom_any_column_order_and_unknown_columns() {
    let csv = "\u{feff}status,note,wage_region,province_code,name,unit_code\n\
               active,giữ lại,1,01,\"Công ty TNHH  An Bình, Hà Nội\",U1\n\
               closed,,2,79,CÔNG TY B,U2\n";
    let (dir, f) = ingest_one("si_units_20200608.csv", csv.as_bytes());
    assert_eq!((f.refused, f.rows, f.accepted, f.rejected), (None, 2, 2, 0));
    assert_eq!(f.absent_columns, ["tax_code", "ward_code", "officer_id", "registered_on"], "named, in contract order");
    let df = read_parquet(&dir.path().join("lake/bronze/si_units/si_units_20200608.parquet")).unwrap();
    let names = df.column("name").unwrap().str().unwrap();
    assert_eq!(names.get(0), Some("Công ty TNHH An Bình, Hà Nội"));
    let raw = df.column("name_raw").unwrap().str().unwrap();
    assert_eq!(raw.get(0), Some("Công ty TNHH  An Bình, Hà Nội"));
    assert_eq!(df.column("note").unwrap().str().unwrap().get(0), Some("giữ lại"));
    assert_eq!(df.column("wage_region").unwrap().dtype(), &DataType::Int64);
    assert_eq!(df.column("_source_line").unwrap().i64().unwrap().get(1), Some(3));
    assert_eq!(df.column("_extract_date").unwrap().dtype(), &DataType::Date);
    // Optional contract columns absent from the file are null, not missing.
    assert_eq!(df.column("tax_code").unwrap().null_count(), 2);
}

#[test]
fn rejects_carry_line_column_reason_and_raw_text() {
    let csv = format!(
        "{UNITS_HEADER}\n\
         U1,0100109106,A,01,,1,,,active\n\
         U2,0100109107,B,01,,1,,,active\n\
         U3,,C,99,,1,,,active\n\
         U4,,D,01,,1\n\
         U5,,E,01,,5,,,active\n\
         U6,,F,01,,1,,2020-02-30,active\n\
         U7,,\"multi\nline\",01,,1,,,open\n\
         U8,,G,01,,1,,,active\n"
    );
    let (dir, f) = ingest_one("si_units_20200608.csv", csv.as_bytes());
    assert_eq!((f.rows, f.accepted, f.rejected), (8, 2, 6));
    let rej = read_parquet(&dir.path().join("lake/rejects/si_units_20200608.parquet")).unwrap();
    let col = |n: &str| rej.column(n).unwrap().as_materialized_series().clone();
    let lines: Vec<i64> = col("line").i64().unwrap().into_no_null_iter().collect();
    let reason = col("reason");
    let reason = reason.str().unwrap();
    let reasons: Vec<&str> = (0..reason.len()).map(|i| reason.get(i).unwrap()).collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 8]);
    assert_eq!(
        reasons,
        ["bad_check_digit", "unknown_province", "malformed_row", "out_of_range", "bad_date", "unknown_enum"]
    );
    let columns = col("column");
    let columns = columns.str().unwrap();
    assert_eq!(columns.get(0), Some("tax_code"));
    assert_eq!(columns.get(2), None, "a malformed row has no column");
    assert_eq!(col("raw").str().unwrap().get(0), Some("U2,0100109107,B,01,,1,,,active"));
    assert_eq!(col("raw").str().unwrap().get(5), Some("U7,,\"multi\nline\",01,,1,,,open"));
    assert_eq!(col("dataset").str().unwrap().get(0), Some("si_units"));
    // The line after a two-line record is numbered by its physical line.
    let bronze = read_parquet(&dir.path().join("lake/bronze/si_units/si_units_20200608.parquet")).unwrap();
    let bl: Vec<i64> = bronze.column("_source_line").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(bl, vec![2, 10]);
}

/// Ingest validates a file in pieces side by side and writes row groups of
/// 256K rows: a file of many pieces and row groups keeps every row, reject
/// and line in the file's order, whichever piece a row fell in.
#[test]
fn a_file_of_many_pieces_keeps_every_row_and_reject_in_order() {
    let n = 300_000;
    // Bad rows at piece (16K) and batch (128K records read at once) edges too.
    let bad = |i: usize| i % 10_007 == 3 || [16_383, 16_384, 131_071, 131_072, n - 1].contains(&i);
    let mut csv = format!("{UNITS_HEADER}\n");
    for i in 0..n {
        let province = if bad(i) { "99" } else { "01" };
        csv.push_str(&format!("U{i},,Công ty {i},{province},,1,,,active\n"));
    }
    let (dir, f) = ingest_one("si_units_20200608.csv", csv.as_bytes());
    let bad_rows: Vec<usize> = (0..n).filter(|&i| bad(i)).collect();
    assert_eq!((f.refused.clone(), f.rows, f.rejected), (None, n as u64, bad_rows.len() as u64));
    // Row i is on physical line i + 2 (the header is line 1).
    let rej = read_parquet(&dir.path().join("lake/rejects/si_units_20200608.parquet")).unwrap();
    let lines: Vec<i64> = rej.column("line").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(lines, bad_rows.iter().map(|&i| i as i64 + 2).collect::<Vec<_>>());
    let bronze = read_parquet(&dir.path().join("lake/bronze/si_units/si_units_20200608.parquet")).unwrap();
    let good: Vec<usize> = (0..n).filter(|&i| !bad(i)).collect();
    let bl: Vec<i64> = bronze.column("_source_line").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(bl, good.iter().map(|&i| i as i64 + 2).collect::<Vec<_>>());
    let codes = bronze.column("unit_code").unwrap().str().unwrap().clone();
    assert!(good.iter().zip(codes.iter()).all(|(i, c)| c == Some(format!("U{i}").as_str())), "rows in the file's order");
    let path = dir.path().join("lake/bronze/si_units/si_units_20200608.parquet");
    let mut reader = ParquetReader::new(std::fs::File::open(&path).unwrap());
    let groups: Vec<usize> = reader.get_metadata().unwrap().row_groups.iter().map(|g| g.num_rows()).collect();
    assert_eq!(groups, [262_144, good.len() - 262_144], "row groups of 256K rows, the rest last");
    // A record deep in the file that is not UTF-8 still refuses it whole,
    // by its own line, though the pieces before it were valid.
    let mut bytes = csv.into_bytes();
    let at = bytes.windows(9).position(|w| w == b"\nU200000,").unwrap() + 1;
    bytes.insert(at + 1, 0xf4); // Latin-1 "ô"
    let (dir, f) = ingest_one("si_units_20200608.csv", &bytes);
    let why = f.refused.expect("refused");
    assert!(why.contains("UTF-8") && why.contains("line 200002"), "{why}");
    assert!(!dir.path().join("lake/bronze/si_units/si_units_20200608.parquet").exists());
}

#[test]
fn reject_lines_are_physical_lines_with_crlf_endings_and_blank_lines() {
    // Windows line endings, a blank line, a quoted field over two lines: the
    // bad rows are on physical lines 3, 6 and 9 (the header is line 1).
    let csv = format!(
        "{UNITS_HEADER}\r\n\
         U1,0100109106,A,01,,1,,,active\r\n\
         U2,,B,99,,1,,,active\r\n\
         \r\n\
         U3,,\"two\r\nlines\",01,,1,,,active\r\n\
         U4,,C,01,,5,,,active\r\n\
         U5,,D,01,,1,,,active\r\n\
         \r\n\
         U6,,E,99,,1,,,active\r\n"
    );
    let (dir, f) = ingest_one("si_units_20200608.csv", csv.as_bytes());
    assert_eq!((f.rows, f.accepted, f.rejected), (6, 3, 3));
    let rej = read_parquet(&dir.path().join("lake/rejects/si_units_20200608.parquet")).unwrap();
    let lines: Vec<i64> = rej.column("line").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(lines, vec![3, 7, 10]);
    let bronze = read_parquet(&dir.path().join("lake/bronze/si_units/si_units_20200608.parquet")).unwrap();
    let bl: Vec<i64> = bronze.column("_source_line").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(bl, vec![2, 5, 8]);
}

#[test]
fn parquet_extracts_are_validated_like_csv() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut df = df!(
        "unit_code" => ["U1", "U2"],
        "si_number" => ["0123456789", "0123456789"],
        "month" => ["2020-05", "2020-05"],
        "insured_wage" => [5_000_000i64, -1],
        "work_status" => ["working", "working"],
    )
    .unwrap();
    let file = std::fs::File::create(inbox.join("si_contributions_20200608.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
    let lake = Lake::new(dir.path().join("lake"));
    let report = run(&inbox, &lake);
    let f = &report.files[0];
    assert_eq!((f.refused.clone(), f.rows, f.accepted, f.rejected), (None, 2, 1, 1));
    let bronze = read_parquet(&lake.bronze_file("si_contributions", "si_contributions_20200608")).unwrap();
    assert_eq!(bronze.column("month").unwrap().dtype(), &DataType::Date);
    assert_eq!(bronze.column("insured_wage").unwrap().i64().unwrap().get(0), Some(5_000_000));
}

#[test]
fn files_not_named_like_extracts_are_ignored_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    std::fs::write(dir.path().join("unknown_dataset_20200608.csv"), "a\n1\n").unwrap();
    let report = run(dir.path(), &Lake::new(dir.path().join("lake")));
    assert!(report.files.is_empty());
    assert_eq!(report.ignored, vec!["notes.txt", "unknown_dataset_20200608.csv"]);
}

#[test]
fn an_ingested_file_is_skipped_and_a_changed_one_is_a_new_version() {
    let (_dir, inbox, lake) = inbox_and_lake();
    let file = inbox.join("si_units_20200608.csv");
    std::fs::write(&file, format!("{UNITS_HEADER}\nU1,,A,01,,1,,,active\n")).unwrap();
    let first = run(&inbox, &lake);
    assert_eq!((first.files[0].accepted, first.files[0].version, first.files[0].skipped.clone()), (1, 1, None));
    let again = run(&inbox, &lake);
    assert_eq!(again.files[0].skipped.as_deref(), Some("test-run"), "same content: skipped");
    assert_eq!(again.files[0].rows, 0);
    std::fs::write(&file, format!("{UNITS_HEADER}\nU1,,A,01,,1,,,active\nU2,,B,01,,2,,,active\n")).unwrap();
    let changed = run(&inbox, &lake);
    assert_eq!((changed.files[0].accepted, changed.files[0].version), (2, 2));
    assert!(lake.bronze_file("si_units", "si_units_20200608").exists(), "version 1 kept");
    let v2 = read_parquet(&lake.bronze_file("si_units", "si_units_20200608.v2")).unwrap();
    assert_eq!(v2.column("_extract_version").unwrap().i64().unwrap().get(0), Some(2));
    assert_eq!(Ledger::load(&lake.root).unwrap().entries.len(), 2);
}

/// Sets the file's modification time `ago` before now.
fn age(file: &Path, ago: std::time::Duration) {
    let f = std::fs::File::options().write(true).open(file).unwrap();
    f.set_modified(std::time::SystemTime::now() - ago).unwrap();
}

#[test]
fn an_unchanged_file_is_known_by_its_size_and_time_and_any_change_is_read_again() {
    let (_dir, inbox, lake) = inbox_and_lake();
    let file = inbox.join("si_units_20200608.csv");
    let hour = std::time::Duration::from_secs(3600);
    std::fs::write(&file, format!("{UNITS_HEADER}\nU1,,A,01,,1,,,active\n")).unwrap();
    age(&file, hour);
    let first = run(&inbox, &lake);
    assert!(first.files[0].hashed && first.files[0].skipped.is_none());
    let stamped = Ledger::load(&lake.root).unwrap().entries[0].modified_ns;
    assert!(stamped.is_some(), "a settled file's time is remembered");

    let again = run(&inbox, &lake);
    assert_eq!(again.files[0].skipped.as_deref(), Some("test-run"));
    assert!(!again.files[0].hashed, "same size and time: not read");
    assert_eq!(again.files[0].blake3, first.files[0].blake3);

    // The same content delivered again (a new time): read, skipped, restamped.
    age(&file, hour / 2);
    let copied = run(&inbox, &lake);
    assert!(copied.files[0].hashed && copied.files[0].skipped.is_some());
    // Of a size the ledger has had: hashed first and skipped, nothing loaded
    // (no second version, no temporary left).
    assert_eq!(names_in(&lake.root.join("bronze/si_units")), vec!["si_units_20200608.parquet"]);
    assert_eq!(names_in(&lake.rejects_dir()), vec!["si_units_20200608.parquet"]);
    let ledger = Ledger::load(&lake.root).unwrap();
    assert_eq!(ledger.entries.len(), 1);
    assert_ne!(ledger.entries[0].modified_ns, stamped, "the new time is remembered");
    assert!(!run(&inbox, &lake).files[0].hashed, "and the next run need not read it");

    // New content of the same size: the time moved, so it is read, and it is a new version.
    std::fs::write(&file, format!("{UNITS_HEADER}\nU2,,B,01,,1,,,active\n")).unwrap();
    age(&file, hour / 4);
    let changed = run(&inbox, &lake);
    assert!(changed.files[0].hashed);
    assert_eq!((changed.files[0].version, changed.files[0].accepted, changed.files[0].skipped.clone()), (2, 1, None));

    // A file written within the last seconds: its time is not trusted.
    std::fs::write(&file, format!("{UNITS_HEADER}\nU3,,C,01,,1,,,active\n")).unwrap();
    let fresh = run(&inbox, &lake);
    assert_eq!(fresh.files[0].version, 3);
    let ledger = Ledger::load(&lake.root).unwrap();
    assert_eq!(ledger.entries.last().unwrap().modified_ns, None, "too recent to remember");
    assert!(run(&inbox, &lake).files[0].hashed, "so it is read again next run");
}

/// Every file name in `dir` (hidden ones too), sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A CSV extract is hashed as it is read (read from disk once): the hash
/// and size reported and kept are the whole file's, for a file read to its
/// end and for one refused a few lines in (the rest is hashed after), and
/// a Parquet extract's too.
#[test]
fn the_content_hash_is_the_whole_files_whether_read_to_the_end_or_refused() {
    let (_dir, inbox, lake) = inbox_and_lake();
    // 300,000 rows (8.7 MB): more than one batch of records read before
    // they are validated (128 Ki), so that the refusal comes long before the
    // end of the file.
    let mut rows = Vec::new();
    for i in 0..300_000 {
        rows.extend_from_slice(format!("U{i:06},,Name,01,,1,,,active\n").as_bytes());
    }
    let good = [format!("{UNITS_HEADER}\n").as_bytes(), &rows].concat();
    let mut bad = good.clone();
    // The "N" of the second row's name: line 3.
    let at = UNITS_HEADER.len() + 1 + 29 + 9;
    assert_eq!(bad[at], b'N');
    bad[at] = 0xff;
    std::fs::write(inbox.join("si_units_20200608.csv"), &good).unwrap();
    std::fs::write(inbox.join("si_units_20200609.csv"), &bad).unwrap();
    let mut df = df!("unit_code" => ["P1"], "name" => ["A"], "province_code" => ["01"], "wage_region" => [1i64], "status" => ["active"]).unwrap();
    let parquet = inbox.join("si_units_20200610.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap()).finish(&mut df).unwrap();

    let report = run(&inbox, &lake);
    let by_name = |n: &str| report.files.iter().find(|f| f.file == n).unwrap();
    for name in ["si_units_20200608.csv", "si_units_20200609.csv", "si_units_20200610.parquet"] {
        let content = std::fs::read(inbox.join(name)).unwrap();
        let f = by_name(name);
        assert_eq!((f.blake3.clone(), f.bytes), (blake3::hash(&content).to_hex().to_string(), content.len() as u64), "{name}");
    }
    assert_eq!(by_name("si_units_20200608.csv").accepted, 300_000);
    assert!(by_name("si_units_20200609.csv").refused.as_deref().unwrap().contains("not UTF-8 at line 3"));
    assert_eq!(by_name("si_units_20200610.parquet").accepted, 1);
    let ledger = Ledger::load(&lake.root).unwrap();
    let kept: Vec<(&str, &str)> = ledger.entries.iter().map(|e| (e.file.as_str(), e.blake3.as_str())).collect();
    assert_eq!(kept, vec![("si_units_20200608.csv", by_name("si_units_20200608.csv").blake3.as_str()), ("si_units_20200610.parquet", by_name("si_units_20200610.parquet").blake3.as_str())]);
}

/// The benchmark's I/O floor reads the same rows ingest accounts for.
#[test]
fn scan_only_counts_the_rows_ingest_accounts_for() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let inbox = root.join("sample_data");
    let cfg = bhxh::pipeline::RunConfig::new(&inbox, dir.path().join("lake"), root.join("pipelines/reference"), "2020-06-08".parse().unwrap());
    let report = bhxh::pipeline::run_stages(&cfg, bhxh::pipeline::Stages::IngestOnly).unwrap();
    let scanned = bhxh::ingest::scan_only(&inbox, 2).unwrap();
    assert_eq!(scanned.len(), report.ingest.files.len());
    for ((name, rows, bytes), f) in scanned.iter().zip(&report.ingest.files) {
        assert_eq!((name, *rows, *bytes), (&f.file, f.rows, f.bytes), "{name}");
    }
}
