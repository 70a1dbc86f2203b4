//! The whole front of the pipeline (generate → ingest → conform) checked
//! against the generator's planted truth.

use bhxh::generate::{generate, GenerateOptions};
use bhxh::lake::{parquet_files, read_parquet, scan_parquet};
use bhxh::pipeline::{self, RunConfig, RunReport};
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

struct World {
    _dir: tempfile::TempDir,
    inbox: PathBuf,
    lake: PathBuf,
    report: RunReport,
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 6, 8).unwrap()
}

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")
}

fn world(people: u64, seed: u64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let lake = dir.path().join("lake");
    generate(&GenerateOptions { out: inbox.clone(), people, seed, as_of: as_of(), reference_dir: reference_dir() }).unwrap();
    let cfg = RunConfig::new(&inbox, &lake, reference_dir(), as_of());
    let report = pipeline::run(&cfg).unwrap();
    World { _dir: dir, inbox, lake, report }
}

fn truth(w: &World, file: &str) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(w.inbox.join("truth").join(file)).unwrap();
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    let s = df.column(col).unwrap().cast(&DataType::String).unwrap();
    let ca = s.str().unwrap().clone();
    (0..ca.len()).map(|i| ca.get(i).map(str::to_string)).collect()
}

#[test]
fn every_planted_bad_row_is_rejected_with_its_reason_and_nothing_else_is() {
    let w = world(2000, 11);
    let rejects = scan_parquet(&parquet_files(&w.lake.join("rejects")).unwrap()).unwrap().collect().unwrap();
    let got: BTreeSet<(String, i64, String, String)> = strings(&rejects, "file")
        .into_iter()
        .zip(strings(&rejects, "line"))
        .zip(strings(&rejects, "reason"))
        .zip(strings(&rejects, "column"))
        .map(|(((f, l), r), c)| (f.unwrap(), l.unwrap().parse().unwrap(), r.unwrap(), c.unwrap_or_default()))
        .collect();
    let planted: BTreeSet<(String, i64, String, String)> = truth(&w, "bad_rows.csv")
        .into_iter()
        .map(|r| (r["file"].clone(), r["line"].parse().unwrap(), r["reason"].clone(), r["column"].clone()))
        .collect();
    let missed: Vec<_> = planted.difference(&got).take(10).collect();
    let extra: Vec<_> = got.difference(&planted).take(10).collect();
    assert!(missed.is_empty() && extra.is_empty(), "planted but not rejected so: {missed:#?}\nrejected but not planted: {extra:#?}");
    // Every reason class the generator knows is exercised.
    let reasons: BTreeSet<&str> = planted.iter().map(|r| r.2.as_str()).collect();
    for r in bhxh::contract::Reason::ALL.map(|r| r.code()) {
        assert!(reasons.contains(r), "no planted {r}");
    }
}

#[test]
fn rows_reconcile_per_file_and_duplicates_are_removed_once() {
    let w = world(2000, 12);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.inbox.join("truth/summary.json")).unwrap()).unwrap();
    assert_eq!(w.report.ingest.files.len(), 14, "all 14 datasets ingested");
    for f in &w.report.ingest.files {
        assert!(f.refused.is_none(), "{f:?}");
        assert_eq!(f.rows, f.accepted + f.rejected, "{}", f.file);
        let written = summary["datasets"][&f.dataset]["rows"].as_u64().unwrap_or_else(|| panic!("summary for {}", f.dataset));
        assert_eq!(f.rows, written, "{}: every written row read", f.file);
    }
    let mut planted: BTreeMap<String, u64> = BTreeMap::new();
    let dups = truth(&w, "duplicates.csv");
    for d in &dups {
        *planted.entry(d["dataset"].clone()).or_default() += 1;
    }
    assert!(planted.get("si_payments").copied().unwrap_or(0) > 0, "a resent payment is planted");
    for t in &w.report.conform {
        let dataset = bhxh::conform::SILVER.iter().find(|s| s.name == t.table).unwrap().dataset;
        assert_eq!(t.duplicates, planted.get(dataset).copied().unwrap_or(0), "{}", t.table);
    }
    // Of each planted pair exactly one line survives in silver.
    let payments = read_parquet(&w.lake.join("silver/payments.parquet")).unwrap();
    let lines: BTreeSet<i64> = strings(&payments, "_source_line").into_iter().map(|l| l.unwrap().parse().unwrap()).collect();
    for d in dups.iter().filter(|d| d["dataset"] == "si_payments") {
        let (a, b): (i64, i64) = (d["line"].parse().unwrap(), d["original_line"].parse().unwrap());
        assert!(lines.contains(&a) ^ lines.contains(&b), "payment lines {a}/{b}: exactly one kept");
    }
}

#[test]
fn noisy_names_are_accepted_and_stored_nfc_with_raw_kept() {
    let w = world(2000, 13);
    let noise = truth(&w, "noise.csv");
    assert!(noise.iter().any(|n| n["kind"] == "nfd_name"), "NFD names planted");
    let people = scan_parquet(&parquet_files(&w.lake.join("bronze/si_people")).unwrap()).unwrap().collect().unwrap();
    let names = strings(&people, "full_name");
    let raws = strings(&people, "full_name_raw");
    let mut nfd_seen = 0;
    for (n, r) in names.iter().zip(&raws) {
        let (n, r) = (n.as_ref().unwrap(), r.as_ref().unwrap());
        assert_eq!(*n, n.nfc().collect::<String>(), "stored NFC");
        assert!(!n.contains("  ") && n.trim() == n, "single spaces, trimmed: {n:?}");
        if *r != r.nfc().collect::<String>() {
            nfd_seen += 1;
            assert_eq!(*n, bhxh::ids::normalize_name(r));
        }
    }
    assert!(nfd_seen > 0, "an NFD raw name reached bronze");
}

#[test]
fn a_rerun_on_the_same_inbox_writes_the_same_silver() {
    let w = world(2000, 14);
    let before = std::fs::read(w.lake.join("silver/contributions.parquet")).unwrap();
    let cfg = RunConfig { threads: 1, ..RunConfig::new(&w.inbox, &w.lake, reference_dir(), as_of()) };
    let again = pipeline::run(&cfg).unwrap();
    assert_eq!(again.conform.len(), w.report.conform.len());
    for (a, b) in again.conform.iter().zip(&w.report.conform) {
        assert_eq!((a.rows_in, a.rows_out), (b.rows_in, b.rows_out), "{}", a.table);
    }
    assert_eq!(before, std::fs::read(w.lake.join("silver/contributions.parquet")).unwrap(), "byte-identical");
}

#[test]
fn a_past_as_of_does_not_see_later_extracts() {
    let w = world(2000, 15);
    let cfg = RunConfig::new(&w.inbox, &w.lake, reference_dir(), NaiveDate::from_ymd_opt(2020, 6, 7).unwrap());
    let past = pipeline::run(&cfg).unwrap();
    assert!(past.conform.iter().all(|t| t.rows_out == 0), "extracts of 2020-06-08 are after a 2020-06-07 run");
}
