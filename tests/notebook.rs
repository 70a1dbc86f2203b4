//! The lake as analysts open it: runs the pipeline on the committed sample and
//! checks it with `tests/notebook_check.py` in Polars, DuckDB and pyarrow.
//!
//! `.ci/run` installs those into a virtual environment and points
//! `BHXH_NOTEBOOK_PYTHON` at it, so in CI this test always runs. Elsewhere it
//! uses `python3` if that has the three packages, and otherwise says it was
//! skipped (it cannot pass or fail without them).

use bhxh::pipeline::{self, RunConfig};
use std::path::Path;
use std::process::Command;

#[test]
fn the_sample_lake_opens_in_polars_duckdb_and_pyarrow() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let required = std::env::var("BHXH_NOTEBOOK_PYTHON").ok();
    let python = required.clone().unwrap_or_else(|| "python3".into());
    let has_modules = Command::new(&python)
        .args(["-c", "import polars, duckdb, pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_modules {
        assert!(required.is_none(), "BHXH_NOTEBOOK_PYTHON={python} lacks polars/duckdb/pyarrow");
        eprintln!("skipped: no Python with polars, duckdb and pyarrow (run .ci/run to set one up)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let mut cfg = RunConfig::load(&root.join("pipelines/nightly.toml")).unwrap();
    cfg.inbox = root.join("sample_data");
    cfg.lake = lake.clone();
    cfg.reference = root.join("pipelines/reference");
    pipeline::run(&cfg).unwrap();
    let out = Command::new(&python).arg(root.join("tests/notebook_check.py")).arg(&lake).output().unwrap();
    assert!(
        out.status.success(),
        "notebook check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
