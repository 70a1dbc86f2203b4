//! The incremental nightly run: after a new day's extracts arrive, a step
//! whose inputs did not change is kept (conform per silver table, link), and
//! everything the run publishes is byte for byte what a full rebuild
//! (`--full`) of the same lake writes.

use bhxh::generate::{generate, GenerateOptions};
use bhxh::pipeline::{self, RunConfig, RunReport};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 6, d).unwrap()
}

/// A run; a `full` rebuild also runs its stages one after another (a
/// memory budget of 0), so that the comparisons below also check that
/// voluntary beside coverage and assess writes what it writes alone.
fn run(inbox: &Path, lake: &Path, as_of: NaiveDate, full: bool) -> RunReport {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
    let mut cfg = RunConfig::new(inbox, lake, reference, as_of);
    cfg.full = full;
    if full {
        cfg.memory_budget_mib = 0;
    }
    pipeline::run(&cfg).unwrap()
}

/// Every file of the lake's tables and exports, with its bytes (run
/// bookkeeping — manifests, ledger, memo, lock — left out).
fn outputs(lake: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![lake.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(lake).unwrap().to_path_buf();
            if rel.to_string_lossy().starts_with(['.', '_']) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (p, q) = (e.path(), to.join(e.file_name()));
        if p.is_dir() {
            copy_dir(&p, &q);
        } else {
            std::fs::copy(&p, &q).unwrap();
        }
    }
}

fn assert_same(incremental: &Path, full: &Path, when: &str) {
    let (a, b) = (outputs(incremental), outputs(full));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{when}: the same files");
    assert!(a.keys().any(|p| p.starts_with("gold")) && a.keys().any(|p| p.starts_with("exports")));
    for (p, bytes) in &a {
        assert!(b[p] == *bytes, "{when}: {} differs from the full rebuild", p.display());
    }
}

/// Coverage month answers (uninsured months, under-declared wages): (read
/// back, computed, window folds read back whole).
fn months(r: &RunReport) -> (u32, u32, u32) {
    let c = r.coverage.as_ref().unwrap();
    (c.months_reused, c.months_computed, c.windows_reused)
}

/// Both month rules look back 12 months (pipelines/coverage.toml).
const WINDOW: u32 = 2 * 12;

/// The voluntary stage's frames kept for the as-of month: (reused, computed).
fn frames(r: &RunReport) -> (u32, u32) {
    let v = r.voluntary.as_ref().unwrap();
    (v.frames_reused, v.frames_computed)
}

/// The coverage stage's frames kept for the as-of month: (reused, computed).
fn coverage_frames(r: &RunReport) -> (u32, u32) {
    let c = r.coverage.as_ref().unwrap();
    (c.frames_reused, c.frames_computed)
}

/// The listed workers' identities from the whole wage table, the head
/// offices without a unit with their recent wages, the under-declared rows
/// and the reviewed units' declarations by month (src/coverage).
const COVERAGE_FRAMES: u32 = 4;

/// The assess stage's unit months kept for the as-of month (every unit's
/// monthly dues, summed from the whole contribution table): (reused, computed).
fn unit_months(r: &RunReport) -> (u32, u32) {
    (r.assess.frames_reused, r.assess.frames_computed)
}

/// Free workers, people needed, due months, links, last compulsory month,
/// wage facts, people held (src/voluntary/mod.rs, `load`), and the pool
/// before the day's ages (`pool_base`).
const FRAMES: u32 = 8;

/// What a night that finds the pool kept reads back: the pool, and the
/// frames the rest of the stage reads (people needed, links, people held).
const NIGHT_FRAMES: u32 = 4;

fn reused(r: &RunReport) -> Vec<String> {
    let mut v: Vec<String> = r.conform.iter().filter(|t| t.skipped).map(|t| t.table.clone()).collect();
    if r.link.as_ref().is_some_and(|l| l.skipped) {
        v.push("link".into());
    }
    v
}

/// The first data line of an extract, as fields, with the header.
fn first_row(file: &Path) -> (csv::StringRecord, csv::StringRecord) {
    let mut r = csv::Reader::from_path(file).unwrap();
    let header = r.headers().unwrap().clone();
    let row = r.records().next().unwrap().unwrap();
    (header, row)
}

fn write_extract(file: &Path, header: &csv::StringRecord, rows: &[csv::StringRecord]) {
    let mut w = csv::Writer::from_path(file).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn a_new_days_extracts_recompute_only_what_they_touch_and_match_a_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake, rebuilt) = (dir.path().join("inbox"), dir.path().join("lake"), dir.path().join("rebuilt"));
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
    generate(&GenerateOptions { out: inbox.clone(), people: 3_000, seed: 11, as_of: date(8), reference_dir: reference }).unwrap();
    std::fs::remove_dir_all(inbox.join("truth")).unwrap();

    let first = run(&inbox, &lake, date(8), false);
    assert!(reused(&first).is_empty(), "a new lake has nothing to reuse");
    assert!(!first.side_by_side, "a new lake has no run's peak memory to go by");
    assert_eq!(months(&first), (0, WINDOW, 0), "every month computed once");
    assert_eq!(frames(&first), (0, FRAMES));
    assert_eq!(coverage_frames(&first), (0, COVERAGE_FRAMES));
    assert_eq!(unit_months(&first), (0, 1));

    // The same inputs the next night: every silver table and the links are kept.
    let again = run(&inbox, &lake, date(8), false);
    assert!(again.side_by_side, "the last run peaked far below half the default budget");
    assert_eq!(again.conform.iter().filter(|t| !t.skipped).count(), 0, "no extract changed");
    assert!(again.link.as_ref().unwrap().skipped);
    // The uninsured window's fold read back; the under-declared rows kept
    // whole, so their months and fold are not read at all.
    assert_eq!(months(&again), (0, 0, 1), "no month read or computed");
    assert_eq!(frames(&again), (NIGHT_FRAMES, 0), "voluntary's frames and pool kept");
    assert_eq!(coverage_frames(&again), (COVERAGE_FRAMES, 0), "the same month and inputs: every frame kept");
    assert_eq!(unit_months(&again), (1, 0), "assess's unit months kept");
    assert_eq!(
        again.conform.iter().map(|t| (t.table.clone(), t.rows_out)).collect::<Vec<_>>(),
        first.conform.iter().map(|t| (t.table.clone(), t.rows_out)).collect::<Vec<_>>(),
        "a kept table reports the rows it has"
    );

    // 9 June: one day's payments arrive (a new payment, and a resend of an old one).
    let (header, old) = first_row(&inbox.join("si_payments_20200608.csv"));
    let i = header.iter().position(|h| h == "reference").unwrap();
    let mut new: Vec<String> = old.iter().map(str::to_string).collect();
    new[i] = format!("{}-0609", new[i]);
    write_extract(&inbox.join("si_payments_20200609.csv"), &header, &[csv::StringRecord::from(new), old]);
    copy_dir(&lake, &rebuilt);
    let inc = run(&inbox, &lake, date(9), false);
    let full = run(&inbox, &rebuilt, date(9), true);
    assert!(inc.side_by_side && !full.side_by_side);
    let kept = reused(&inc);
    assert!(!kept.contains(&"payments".to_string()), "payments changed: {kept:?}");
    assert!(kept.contains(&"wages".to_string()) && kept.contains(&"contributions".to_string()) && kept.contains(&"link".to_string()));
    assert_eq!(kept.len(), inc.conform.len(), "every other silver table and the links kept: {kept:?}");
    assert!(reused(&full).is_empty(), "--full recomputes everything");
    assert_eq!(months(&inc), (0, 0, 1), "payments feed no month rule");
    assert_eq!(months(&full), (0, WINDOW, 0), "--full computes every month");
    assert_eq!(frames(&inc), (NIGHT_FRAMES, 0), "the same month, and payments feed no frame and not the pool");
    assert_eq!(frames(&full), (0, FRAMES), "--full computes every frame");
    assert_eq!((coverage_frames(&inc), coverage_frames(&full)), ((COVERAGE_FRAMES, 0), (0, COVERAGE_FRAMES)), "payments feed no coverage frame");
    assert_eq!((unit_months(&inc), unit_months(&full)), ((1, 0), (0, 1)), "payments are settled afresh, the dues kept");
    // Tuesday: Monday's runs published every week of the window.
    assert!(!again.publish.as_ref().unwrap().reused, "the report day's run computes its weeks, even all published");
    assert!(inc.publish.as_ref().unwrap().reused, "a mid-week night keeps every published week");
    assert!(!full.publish.as_ref().unwrap().reused, "--full computes the weeks all the same");
    let (p, q) = (inc.publish.as_ref().unwrap(), full.publish.as_ref().unwrap());
    assert_eq!(
        (p.rows_written, p.rows_kept, p.collected_report_week),
        (q.rows_written, q.rows_kept, q.collected_report_week),
        "reused or computed, the run reports what is published"
    );
    assert_eq!(inc.conform.iter().find(|t| t.table == "payments").unwrap().rows_out, first.conform.iter().find(|t| t.table == "payments").unwrap().rows_out + 1);
    assert_same(&lake, &rebuilt, "after a day's payments");

    // 10 June: the tax authority corrects one wage row: the wages and the
    // links are recomputed, the BHXH tables are not.
    let (header, row) = first_row(&inbox.join("tax_wages_20200608.csv"));
    let i = header.iter().position(|h| h == "taxable_income").unwrap();
    let mut fixed: Vec<String> = row.iter().map(str::to_string).collect();
    fixed[i] = (fixed[i].parse::<i64>().unwrap() + 1_000_000).to_string();
    write_extract(&inbox.join("tax_wages_20200610.csv"), &header, &[csv::StringRecord::from(fixed)]);
    let inc = run(&inbox, &lake, date(10), false);
    let full = run(&inbox, &rebuilt, date(10), true);
    let kept = reused(&inc);
    assert!(!kept.contains(&"wages".to_string()) && !kept.contains(&"link".to_string()), "{kept:?}");
    assert!(kept.contains(&"people".to_string()) && kept.contains(&"payments".to_string()), "{kept:?}");
    assert_eq!(months(&inc), (0, WINDOW, 0), "the wages changed: every month again");
    assert_eq!(frames(&inc), (0, FRAMES), "the wages changed: every frame again");
    assert_eq!(coverage_frames(&inc), (0, COVERAGE_FRAMES), "the wages changed: every coverage frame again");
    assert_eq!(unit_months(&inc), (1, 0), "dues are not computed from the tax wages: kept");
    assert!(reused(&full).is_empty());
    assert_same(&lake, &rebuilt, "after a wage correction");

    // A silver table replaced behind the memo's back is not trusted.
    let people = lake.join("silver/people.parquet");
    let bytes = std::fs::read(&people).unwrap();
    std::fs::remove_file(&people).unwrap();
    std::fs::write(&people, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&people).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    let after = run(&inbox, &lake, date(10), false);
    assert!(!reused(&after).contains(&"people".to_string()), "a touched table is conformed again");
    assert!(reused(&after).contains(&"link".to_string()), "its content fingerprint is the same: the links stand");
    assert_same(&lake, &rebuilt, "after a touched table");

    // 11 June: a unit's COVID review is corrected. The reviews feed one
    // coverage frame (the reviewed units' declarations), kept under their
    // fingerprint: that frame alone is computed again.
    let (header, row) = first_row(&inbox.join("covid_reviews_20200608.csv"));
    let i = header.iter().position(|h| h == "continuing").unwrap();
    let mut fixed: Vec<String> = row.iter().map(str::to_string).collect();
    fixed[i] = (fixed[i].parse::<i64>().unwrap_or(0) + 1).to_string();
    write_extract(&inbox.join("covid_reviews_20200611.csv"), &header, &[csv::StringRecord::from(fixed)]);
    let inc = run(&inbox, &lake, date(11), false);
    // The rebuild the night's lake is compared with below.
    run(&inbox, &rebuilt, date(11), true);
    assert!(!reused(&inc).contains(&"covid_reviews".to_string()));
    assert_eq!(months(&inc), (0, 0, 1), "the reviews feed no month rule");
    assert_eq!(coverage_frames(&inc), (COVERAGE_FRAMES - 1, 1), "only the reviewed units' declarations again");
    assert_same(&lake, &rebuilt, "after a corrected review");

    // 1 July: the window moves on by one month. Only the new month of each
    // rule is computed; the month that left the window is forgotten.
    let july = NaiveDate::from_ymd_opt(2020, 7, 1).unwrap();
    let inc = run(&inbox, &lake, july, false);
    let full = run(&inbox, &rebuilt, july, true);
    assert_eq!(months(&inc), (WINDOW - 2, 2, 0), "one new month per rule, the others read back");
    assert!(!inc.publish.as_ref().unwrap().reused, "weeks 24 to 26 are new");
    assert_eq!(months(&full), (0, WINDOW, 0));
    assert_eq!(frames(&inc), (0, FRAMES), "a new month: every frame computed");
    assert_eq!(coverage_frames(&inc), (0, COVERAGE_FRAMES));
    assert_eq!(unit_months(&inc), (0, 1), "a new month: the dues summed again");
    let files = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(lake.join("_state").join(dir)).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    for part in ["uninsured", "under_declared"] {
        assert_eq!(files(&format!("coverage/{part}")).len(), 12, "{part}: only the window's months are kept");
        assert!(!lake.join("_state/coverage").join(part).join("2019-06.parquet").exists());
        assert_eq!(files(&format!("coverage/{part}-window")), ["2020-06.parquet"], "{part}: only the latest window's fold is kept");
    }
    assert_eq!(files("voluntary/wage_facts"), ["2020-07.parquet"], "only the as-of month's frames are kept");
    assert_eq!(files("voluntary/pool_base"), ["2020-07.parquet"], "and its pool");
    assert_eq!(files("coverage/identities"), ["2020-07.parquet"]);
    assert_eq!(files("assess/unit_months"), ["2020-07.parquet"]);
    assert_same(&lake, &rebuilt, "a new month");

    // The manifest says what was reused.
    let runs: Vec<PathBuf> = std::fs::read_dir(lake.join("_runs")).unwrap().flatten().map(|e| e.path()).collect();
    let newest = runs.iter().max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap()).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(newest).unwrap()).unwrap();
    assert!(manifest["reused"].as_array().unwrap().iter().any(|s| s == "conform/payments"));
    assert!(manifest["peak_rss_mib"].as_u64().is_some_and(|p| p > 0), "a whole run records its peak memory");

    // A mid-week night with one region missing at one level computes the
    // weeks again and fills the region back (the rest is kept as published).
    let again = run(&inbox, &lake, july, false);
    assert!(again.publish.as_ref().unwrap().reused, "nothing is missing");
    let merged = lake.join("gold/province_weekly_2025");
    let gone = std::fs::read_dir(&merged).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).min().unwrap();
    std::fs::remove_dir_all(&gone).unwrap();
    let filled = run(&inbox, &lake, july, false);
    assert!(!filled.publish.as_ref().unwrap().reused, "a missing region is computed");
    assert!(gone.exists(), "{} is written again", gone.display());
    assert!(run(&inbox, &lake, july, false).publish.as_ref().unwrap().reused);

    // A weekly table an older build wrote, without its schema version in
    // the files' footers, is written again once, with it.
    let national = lake.join("gold/national_weekly/part-0.parquet");
    let mut old = bhxh::lake::read_parquet(&national).unwrap();
    bhxh::lake::write_parquet(&national, &mut old).unwrap();
    let version = |f: &Path| bhxh::lake::parquet_metadata(f).unwrap().into_iter().find(|kv| kv.0 == "bhxh:schema_version").map(|kv| kv.1);
    assert_eq!(version(&national), None);
    assert!(!run(&inbox, &lake, july, false).publish.as_ref().unwrap().reused, "a table without its schema version is written again");
    let published: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(lake.join("_published.json")).unwrap()).unwrap();
    assert_eq!(version(&national), Some(published["schema_versions"]["national_weekly"].as_u64().unwrap().to_string()));
    assert!(run(&inbox, &lake, july, false).publish.as_ref().unwrap().reused);
}

/// Items of the worklist history checked for development in a run.
fn checked(r: &RunReport) -> u64 {
    r.coverage.as_ref().unwrap().history_checked
}

/// The worklist history's development check: a night whose coverage inputs
/// and as-of month are the last run's checks only the items listed since
/// that run (the others were checked against the same declarations), and
/// writes what a full rebuild writes; a rerun of the same date checks all.
#[test]
fn a_night_with_the_same_coverage_inputs_checks_only_the_items_listed_since() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake, rebuilt) = (dir.path().join("inbox"), dir.path().join("lake"), dir.path().join("rebuilt"));
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
    generate(&GenerateOptions { out: inbox.clone(), people: 3_000, seed: 12, as_of: date(8), reference_dir: reference }).unwrap();
    std::fs::remove_dir_all(inbox.join("truth")).unwrap();

    let first = run(&inbox, &lake, date(8), false);
    assert_eq!(checked(&first), 0, "nothing was listed before the first run");
    let second = run(&inbox, &lake, date(9), false);
    let listed = first.coverage.as_ref().unwrap().history_items;
    assert!(listed > 0);
    assert_eq!(checked(&second), listed, "the items listed on the 8th are checked on the 9th");

    copy_dir(&lake, &rebuilt);
    let inc = run(&inbox, &lake, date(10), false);
    let full = run(&inbox, &rebuilt, date(10), true);
    assert!(checked(&full) > 0);
    assert!(checked(&inc) < checked(&full), "only the items listed since the 9th: {} of {}", checked(&inc), checked(&full));
    assert_eq!(inc.coverage.as_ref().unwrap().developed_items, full.coverage.as_ref().unwrap().developed_items);
    assert_same(&lake, &rebuilt, "a night with the same coverage inputs");

    // The same date again: the items developed on the 10th are pending again
    // (a run recomputes everything from its date on), so all are checked.
    let again = run(&inbox, &lake, date(10), false);
    assert_eq!(checked(&again), checked(&full));
    assert_same(&lake, &rebuilt, "a rerun of the same date");
}
