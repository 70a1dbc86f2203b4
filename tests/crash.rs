//! Kill -9 at many points of a run: what is published stays whole and
//! readable, and the next run completes with outputs identical to a run that
//! was never interrupted.

use bhxh::generate::{generate, GenerateOptions};
use bhxh::lake::ledger::Ledger;
use bhxh::lake::read_parquet;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn bhxh_run(bin: &Path, inbox: &Path, lake: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(["--quiet", "run", "--inbox", inbox.to_str().unwrap(), "--lake", lake.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Every published (non-temporary) file of the lake, with its bytes.
fn published(lake: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![lake.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('.') || name == "_lock" || name == "_runs" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(lake).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn assert_whole_and_readable(lake: &Path, when: &str) {
    for (rel, _) in published(lake) {
        let path = lake.join(&rel);
        if rel.extension().is_some_and(|e| e == "parquet") {
            read_parquet(&path).unwrap_or_else(|e| panic!("{when}: {} unreadable: {e:#}", rel.display()));
        }
    }
    Ledger::load(lake).unwrap_or_else(|e| panic!("{when}: ledger unreadable: {e:#}"));
    if lake.join("_published.json").exists() {
        let text = std::fs::read_to_string(lake.join("_published.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{when}: _published.json: {e}"));
    }
}

#[test]
fn sigkill_at_twenty_points_leaves_whole_tables_and_the_next_run_matches_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    // One copy of the binary for the whole test, so a rebuild meanwhile cannot mix versions.
    let bin = dir.path().join("bhxh");
    std::fs::copy(env!("CARGO_BIN_EXE_bhxh"), &bin).unwrap();
    let inbox = dir.path().join("inbox");
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
    let as_of = NaiveDate::from_ymd_opt(2020, 6, 8).unwrap();
    generate(&GenerateOptions { out: inbox.clone(), people: 40_000, seed: 5, as_of, reference_dir: reference }).unwrap();
    std::fs::remove_dir_all(inbox.join("truth")).unwrap();

    // The uninterrupted run: the outputs every interrupted one must end with.
    let clean = dir.path().join("clean");
    let start = Instant::now();
    let status = bhxh_run(&bin, &inbox, &clean).status().unwrap();
    let full = start.elapsed();
    assert_eq!(status.code(), Some(3), "the generated inbox has rejects");
    let expected: BTreeMap<PathBuf, Vec<u8>> = published(&clean)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("_ledger") && !p.starts_with("_state") && p.as_os_str() != "_published.json")
        .collect();
    assert!(expected.keys().any(|p| p.starts_with("silver")) && expected.keys().any(|p| p.starts_with("bronze")));

    let points = 20;
    let mut killed_midway = 0;
    for i in 0..points {
        let lake = dir.path().join(format!("lake-{i}"));
        // Kill points spread over the run, ingest through the last stage
        // (the machine's speed varies, so a few may land after the end).
        let delay = full.mul_f64(0.9 * i as f64 / points as f64);
        let mut child = bhxh_run(&bin, &inbox, &lake).spawn().unwrap();
        std::thread::sleep(delay);
        let finished_first = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if !finished_first {
            killed_midway += 1;
        }
        let when = format!("kill {i} at {delay:?}");
        assert_whole_and_readable(&lake, &when);

        let next = bhxh_run(&bin, &inbox, &lake).stderr(Stdio::piped()).output().unwrap();
        assert!(
            matches!(next.status.code(), Some(0 | 3)),
            "{when}: the next run fails: {:?}\n{}",
            next.status,
            String::from_utf8_lossy(&next.stderr)
        );
        assert_whole_and_readable(&lake, &when);
        let got: BTreeMap<PathBuf, Vec<u8>> =
            published(&lake).into_iter().filter(|(p, _)| expected.contains_key(p)).collect();
        assert_eq!(got.len(), expected.len(), "{when}: tables missing after the next run");
        for (p, bytes) in &expected {
            assert!(got[p] == *bytes, "{when}: {} differs from the uninterrupted run", p.display());
        }
        assert!(!lake.join("_lock").exists(), "{when}: lock released");
    }
    assert!(killed_midway >= points / 2, "most kills landed inside the run ({killed_midway}/{points}); run took {full:?}");
}
