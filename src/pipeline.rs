//! The nightly job: the stages in order, with what each reported.

use crate::assess::{self, AssessReport};
use crate::conform::{self, TableReport};
use crate::ingest::{self, IngestReport};
use crate::lake::Lake;
use crate::reference::Reference;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `pipelines/nightly.toml`: what the nightly job reads and where it writes.
/// Command-line flags override each field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub inbox: PathBuf,
    pub lake: PathBuf,
    pub reference: PathBuf,
    pub as_of: NaiveDate,
    pub threads: usize,
}

impl RunConfig {
    pub fn load(path: &Path) -> Result<RunConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

#[derive(Debug)]
pub struct RunReport {
    pub ingest: IngestReport,
    pub conform: Vec<TableReport>,
    pub assess: AssessReport,
    pub seconds: f64,
}

/// Runs ingest, conform, then assess.
pub fn run(cfg: &RunConfig) -> Result<RunReport> {
    let start = Instant::now();
    let reference = Reference::load(&cfg.reference)?;
    let lake = Lake::new(&cfg.lake);
    let ingest = ingest::run(&cfg.inbox, &lake, &reference, cfg.threads)?;
    for f in &ingest.files {
        match &f.refused {
            Some(why) => tracing::error!(stage = "ingest", file = %f.file, "refused: {why}"),
            None => tracing::info!(
                stage = "ingest", file = %f.file, rows = f.rows, accepted = f.accepted,
                rejected = f.rejected, seconds = f.seconds, "ingested"
            ),
        }
    }
    for name in &ingest.ignored {
        tracing::warn!(stage = "ingest", file = %name, "not named <dataset>_<YYYYMMDD>.csv|.parquet: ignored");
    }
    let conform = conform::run(&lake, cfg.as_of)?;
    for t in &conform {
        tracing::info!(
            stage = "conform", table = %t.table, rows_in = t.rows_in, rows_out = t.rows_out,
            duplicates = t.duplicates, seconds = t.seconds, "conformed"
        );
    }
    let assess = assess::run(&lake, &reference, cfg.as_of)?;
    tracing::info!(
        stage = "assess", units = assess.units, notices = assess.notices, due = assess.total_due,
        paid = assess.total_paid, debt = assess.debt, delinquent = assess.delinquent,
        candidates = assess.inspection_candidates, seconds = assess.seconds, "assessed"
    );
    Ok(RunReport { ingest, conform, assess, seconds: start.elapsed().as_secs_f64() })
}
