//! The `bhxh` binary as cron runs it: exit codes, quiet mode, JSON logs, the
//! lock, and every bad-input class end to end through `bhxh run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A private copy of the binary, made once: a rebuild of the shared target
/// directory while the tests run cannot swap it under them. The copies of
/// earlier test runs (their processes gone) are removed first: a static is
/// never dropped, so each run leaves its 100 MB copy behind.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("bhxh-cli-test-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = tmp.join(format!("bhxh-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("bhxh");
        std::fs::copy(env!("CARGO_BIN_EXE_bhxh"), &bin).unwrap();
        bin
    })
}

fn bhxh(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("BHXH_LOG")
        .output()
        .unwrap()
}

fn copy_sample(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn truth_summary() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/truth/summary.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["run", "ingest", "scan", "link", "coverage", "stage", "backfill", "generate", "verify", "dictionary"] {
        let out = bhxh(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{sub}");
    }
}

#[test]
fn bad_inputs_end_to_end_exit_3_and_nothing_good_is_lost_then_a_rerun_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = (dir.path().join("inbox"), dir.path().join("lake"));
    copy_sample(&inbox);
    let out = bhxh(&["run", "--inbox", s(&inbox), "--lake", s(&lake)]);
    assert_eq!(out.status.code(), Some(3), "inputs had rejects: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = truth_summary();
    let datasets = summary["datasets"].as_object().unwrap();
    let mut planted_bad = 0;
    for (name, d) in datasets {
        // Per-dataset reconciliation line: rows, accepted, rejected.
        let line = stdout.lines().find(|l| l.starts_with(&format!("{name}_"))).unwrap_or_else(|| panic!("{name} line"));
        let n: Vec<u64> = line.split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
        let (rows, bad) = (d["rows"].as_u64().unwrap(), d["bad_rows"].as_u64().unwrap());
        assert_eq!(n, vec![rows, rows - bad, bad], "{name}: every bad row rejected, every good row accepted");
        planted_bad += bad;
    }
    assert!(planted_bad > 0);
    // Silver keeps every good row once: good − duplicates.
    for (table, dataset) in [("contributions", "si_contributions"), ("wages", "tax_wages"), ("payments", "si_payments")] {
        let df = bhxh::lake::read_parquet(&lake.join(format!("silver/{table}.parquet"))).unwrap();
        let d = &datasets[dataset];
        let good = d["rows"].as_u64().unwrap() - d["bad_rows"].as_u64().unwrap();
        assert_eq!(df.height() as u64, good - d["duplicate_rows"].as_u64().unwrap(), "{table}");
    }
    // The same inbox again: every file already ingested, nothing rejected.
    let again = bhxh(&["run", "--quiet", "--inbox", s(&inbox), "--lake", s(&lake)]);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(again.stdout.is_empty(), "--quiet prints nothing on success");
}

#[test]
fn a_refused_file_names_itself_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("si_payments_20200608.csv"), "unit_code,amount,reference\nU1,5,R1\n").unwrap();
    let out = bhxh(&["run", "--inbox", s(&inbox), "--lake", s(&dir.path().join("lake"))]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("si_payments_20200608.csv") && stderr.contains("paid_on"), "{stderr}");
}

#[test]
fn a_second_run_while_the_lock_is_held_exits_4_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake: PathBuf = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    // A live holder: this test process, on this host.
    let owner = bhxh::lake::lock::LockOwner {
        host: bhxh::lake::lock::hostname(),
        pid: std::process::id(),
        started: "now".into(),
        run_id: "the-first-run".into(),
    };
    std::fs::write(lake.join("_lock"), serde_json::to_string(&owner).unwrap()).unwrap();
    let out = bhxh(&["run", "--lake", s(&lake)]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the-first-run"));
    assert!(!lake.join("bronze").exists(), "nothing was done");
}

#[test]
fn json_logs_are_one_object_per_line_with_a_summary_per_stage() {
    let dir = tempfile::tempdir().unwrap();
    let out = bhxh(&["run", "--log-format", "json", "--lake", s(&dir.path().join("lake"))]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let stages: Vec<&str> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "stage done")
        .map(|l| l["fields"]["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["ingest", "conform", "link", "coverage", "assess", "voluntary", "publish", "export"]);
    let manifest = std::fs::read_dir(dir.path().join("lake/_runs")).unwrap().count();
    assert_eq!(manifest, 1, "a run manifest");
}

#[test]
fn two_concurrent_runs_one_is_refused_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = (dir.path().join("inbox"), dir.path().join("lake"));
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
    let as_of = chrono::NaiveDate::from_ymd_opt(2020, 6, 8).unwrap();
    bhxh::generate::generate(&bhxh::generate::GenerateOptions {
        out: inbox.clone(),
        people: 40_000,
        seed: 3,
        as_of,
        reference_dir: reference,
    })
    .unwrap();
    let mut first = Command::new(binary())
        .args(["--quiet", "run", "--inbox", s(&inbox), "--lake", s(&lake)])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .spawn()
        .unwrap();
    // Wait until the first run holds the lock, then start the second.
    let start = std::time::Instant::now();
    while !lake.join("_lock").exists() {
        assert!(start.elapsed().as_secs() < 30, "the first run never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second = bhxh(&["run", "--inbox", s(&inbox), "--lake", s(&lake)]);
    let first_status = first.wait().unwrap();
    assert_eq!(second.status.code(), Some(4), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stderr).contains("locked by run"));
    assert_eq!(first_status.code(), Some(3), "the first run completes (its inputs have rejects)");
}
