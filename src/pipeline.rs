//! The nightly job: the stages in order under the lake's lock, with what each
//! reported, recorded in a run manifest.

use crate::assess::{self, AssessReport};
use crate::conform::{self, TableReport};
use crate::coverage::{self, CoverageConfig, CoverageReport};
use crate::ingest::{self, IngestReport};
use crate::lake::ledger::{hash_file, Ledger};
use crate::lake::lock::LakeLock;
use crate::coverage::frame::MonthCache;
use crate::editions::InForce;
use crate::lake::memo::{Fingerprint, Memo};
use crate::lake::remote::{is_remote, Remote};
use crate::lake::Lake;
use crate::link::{self, LinkReport};
use crate::month::Month;
use crate::person_key::PersonKeyer;
use crate::reference::Reference;
use crate::export::{self, ExportReport};
use crate::publish::{self, PublishReport};
use crate::voluntary::{self, ScoringConfig, VoluntaryReport};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// `pipelines/nightly.toml`: what the nightly job reads and where it writes.
/// Command-line flags override each field.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub inbox: PathBuf,
    pub lake: PathBuf,
    pub reference: PathBuf,
    pub as_of: NaiveDate,
    pub threads: usize,
    /// Person linkage weights and thresholds.
    #[serde(default = "default_linkage")]
    pub linkage: PathBuf,
    /// Coverage rules (lookback, income share, priorities, capacity).
    #[serde(default = "default_coverage")]
    pub coverage: PathBuf,
    /// Voluntary stage: prospect pool, scoring model, targets, D08a-TS.
    #[serde(default = "default_scoring")]
    pub scoring: PathBuf,
    /// For a lake or inbox on object storage: the local working folder that
    /// mirrors it (default: `~/.cache/bhxh/<hash of the URLs>`).
    #[serde(default)]
    pub work_dir: Option<PathBuf>,
    /// A remote lock older than this many hours is taken over (a crashed run
    /// on another machine cannot be asked whether it is alive).
    #[serde(default = "default_lock_ttl_hours")]
    pub lock_ttl_hours: i64,
    /// Recompute every step; by default a step whose inputs, rules and code
    /// are those it last ran with is kept as it is (see [`crate::lake::memo`]).
    #[serde(default)]
    pub full: bool,
    /// Memory the run may use, in MiB: voluntary runs beside coverage and
    /// assess when the lake's last whole run peaked at half of it or less
    /// (see [`side_by_side`]); 0 runs every stage alone.
    #[serde(default = "default_memory_budget_mib")]
    pub memory_budget_mib: u64,
}

fn default_linkage() -> PathBuf {
    "pipelines/linkage.toml".into()
}
fn default_coverage() -> PathBuf {
    "pipelines/coverage.toml".into()
}
fn default_scoring() -> PathBuf {
    "pipelines/scoring.toml".into()
}
fn default_lock_ttl_hours() -> i64 {
    12
}
fn default_memory_budget_mib() -> u64 {
    8192
}

impl RunConfig {
    /// A config with the defaults for everything but the locations and date.
    pub fn new(inbox: impl Into<PathBuf>, lake: impl Into<PathBuf>, reference: impl Into<PathBuf>, as_of: NaiveDate) -> RunConfig {
        let (lake, reference): (PathBuf, PathBuf) = (lake.into(), reference.into());
        // The rule files sit beside the reference folder.
        let pipelines = reference.parent().map(Path::to_path_buf).unwrap_or_default();
        RunConfig {
            inbox: inbox.into(),
            linkage: pipelines.join("linkage.toml"),
            coverage: pipelines.join("coverage.toml"),
            scoring: pipelines.join("scoring.toml"),
            lake,
            reference,
            as_of,
            threads: 2,
            work_dir: None,
            lock_ttl_hours: default_lock_ttl_hours(),
            full: false,
            memory_budget_mib: default_memory_budget_mib(),
        }
    }

    pub fn load(path: &Path) -> Result<RunConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Which stages a run goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stages {
    IngestOnly,
    All,
}

#[derive(Debug)]
pub struct RunReport {
    pub run_id: String,
    pub ingest: IngestReport,
    pub conform: Vec<TableReport>,
    pub assess: AssessReport,
    pub link: Option<LinkReport>,
    pub coverage: Option<CoverageReport>,
    pub voluntary: Option<VoluntaryReport>,
    pub publish: Option<PublishReport>,
    pub export: Option<ExportReport>,
    /// Whether voluntary ran beside coverage and assess (see [`side_by_side`]).
    pub side_by_side: bool,
    pub seconds: f64,
}

/// A run's identity: its UTC start time and process id.
pub fn new_run_id() -> String {
    format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id())
}

/// Runs all stages (ingest, conform, then assess).
pub fn run(cfg: &RunConfig) -> Result<RunReport> {
    run_stages(cfg, Stages::All)
}

/// Runs the stages under the lake's lock and writes `_runs/<run_id>.json`,
/// whatever the outcome. A lake or inbox on object storage is mirrored in a
/// local working folder (see [`crate::lake::remote`]).
pub fn run_stages(cfg: &RunConfig, stages: Stages) -> Result<RunReport> {
    restrict_new_files();
    let run_id = new_run_id();
    if !is_remote(&cfg.lake) && !is_remote(&cfg.inbox) {
        return run_local(cfg, stages, &run_id);
    }
    let work = cfg.work_dir.clone().unwrap_or_else(|| default_work_dir(cfg));
    let mut local = cfg.clone();
    if is_remote(&cfg.inbox) {
        let inbox = Remote::open(&cfg.inbox)?;
        local.inbox = work.join("inbox");
        let n = inbox.pull(&local.inbox, &[""])?;
        tracing::info!(stage = "sync", inbox = %inbox.url(), downloaded = n, "inbox pulled");
    }
    if !is_remote(&cfg.lake) {
        return run_local(&local, stages, &run_id);
    }
    let remote = Remote::open(&cfg.lake)?;
    let _lock = remote.lock(&run_id, cfg.lock_ttl_hours)?;
    local.lake = work.join("lake");
    let n = remote.pull(&local.lake, &["_ledger", "bronze", "rejects"])?;
    tracing::info!(stage = "sync", lake = %remote.url(), downloaded = n, "lake pulled");
    let result = run_local(&local, stages, &run_id);
    // A failed run leaves only its manifest; a good one publishes its tables,
    // `_published.json` last.
    let n = match &result {
        Ok(_) => remote.push(&local.lake, &[], &[PUBLISHED], &["silver", "gold"])?,
        Err(_) => remote.push(&local.lake, &["_runs"], &[], &[])?,
    };
    tracing::info!(stage = "sync", lake = %remote.url(), uploaded = n, "lake pushed");
    result
}

/// Personal data stays with its owner: everything the run creates (lake,
/// exports, manifests) is owner read/write, group read, nothing for others
/// (files 0640, folders 0750), whatever the caller's umask.
fn restrict_new_files() {
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o027);
    }
}

fn default_work_dir(cfg: &RunConfig) -> PathBuf {
    let key = blake3::hash(format!("{}|{}", cfg.lake.display(), cfg.inbox.display()).as_bytes()).to_hex();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/bhxh").join(&key.as_str()[..16])
}

/// The file readers follow: the run whose tables are complete, and those tables.
pub const PUBLISHED: &str = "_published.json";

fn run_local(cfg: &RunConfig, stages: Stages, run_id: &str) -> Result<RunReport> {
    let start = Instant::now();
    let started = chrono::Utc::now().to_rfc3339();
    let run_id = run_id.to_string();
    let lake = Lake::new(&cfg.lake);
    let _lock = LakeLock::acquire(&lake.root, &run_id)?;
    let stale = crate::lake::remove_stale_temporaries(&lake.root)?;
    if stale > 0 {
        tracing::warn!("removed {stale} temporary files left by an interrupted run");
    }
    let result = stages_in_order(cfg, &lake, &run_id, stages);
    let manifest = Manifest {
        run_id: run_id.clone(),
        as_of: cfg.as_of,
        started,
        finished: chrono::Utc::now().to_rfc3339(),
        seconds: start.elapsed().as_secs_f64(),
        outcome: match &result {
            Ok((ingest, ..)) if ingest.refused().next().is_some() => "bad_input".into(),
            Ok(_) => "ok".into(),
            Err(e) => format!("failed: {e:#}"),
        },
        code_version: env!("CARGO_PKG_VERSION").into(),
        reference_blake3: reference_hash(&cfg.reference).unwrap_or_default(),
        config: cfg.clone(),
        rules_in_force: rules_in_force(cfg),
        inputs: result.as_ref().map(|(i, ..)| i.files.iter().map(ManifestInput::from).collect()).unwrap_or_default(),
        conform: result
            .as_ref()
            .map(|(_, c, _)| c.iter().map(|t| (t.table.clone(), t.rows_out)).collect())
            .unwrap_or_default(),
        // Only a whole run that finished has a whole run's peak.
        peak_rss_mib: if stages == Stages::All && result.is_ok() { peak_rss_mib() } else { None },
        reused: result
            .as_ref()
            .map(|(_, c, (_, link, ..))| {
                let tables = c.iter().filter(|t| t.skipped).map(|t| format!("conform/{}", t.table));
                tables.chain(link.iter().filter(|l| l.skipped).map(|_| "link".to_string())).collect()
            })
            .unwrap_or_default(),
    };
    manifest.write(&lake)?;
    let (ingest, conform, (assess, link, coverage, voluntary, publish, export, side_by_side)) = result?;
    if stages == Stages::All {
        publish_manifest(&lake, &run_id, cfg.as_of)?;
    }
    Ok(RunReport { run_id, ingest, conform, assess, link, coverage, voluntary, publish, export, side_by_side, seconds: start.elapsed().as_secs_f64() })
}

/// A rules file's edition applied by a run (in the run manifest).
#[derive(Debug, Serialize)]
pub struct RulesInForce {
    pub valid_from: String,
    pub blake3: String,
}

/// Each rules file's edition in force at the run's as-of month (a file that
/// does not load is left out: the run has failed on it already).
fn rules_in_force(cfg: &RunConfig) -> BTreeMap<String, RulesInForce> {
    let m = Month::of_date(cfg.as_of);
    let linkage = link::LinkConfig::load(&cfg.linkage, m).ok().map(|e| (e.valid_from, &cfg.linkage));
    let coverage = CoverageConfig::load(&cfg.coverage, m).ok().map(|e| (e.valid_from, &cfg.coverage));
    let scoring = ScoringConfig::load(&cfg.scoring, m).ok().map(|e| (e.valid_from, &cfg.scoring));
    [("linkage.toml", linkage), ("coverage.toml", coverage), ("scoring.toml", scoring)]
        .into_iter()
        .filter_map(|(k, v)| {
            let (from, path) = v?;
            Some((k.to_string(), RulesInForce { valid_from: from.to_string(), blake3: hash_file(path).ok()?.0 }))
        })
        .collect()
}

/// Writes `_published.json` after every table of the run is in place: the run,
/// its as-of date, each gold table's schema version, and each published
/// file with its size and BLAKE3 hash. A reader that needs tables from one
/// consistent run reads this first.
fn publish_manifest(lake: &Lake, run_id: &str, as_of: NaiveDate) -> Result<()> {
    let mut tables = Vec::new();
    for layer in ["silver", "gold"] {
        let mut stack = vec![lake.root.join(layer)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries {
                let path = entry?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if name.starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let (blake3, bytes) = hash_file(&path)?;
                    let rel = path.strip_prefix(&lake.root)?.to_string_lossy().replace('\\', "/");
                    tables.push(serde_json::json!({ "path": rel, "bytes": bytes, "blake3": blake3 }));
                }
            }
        }
    }
    tables.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    // Each gold table's schema version (docs/gold-schema-versions.csv).
    let versions: serde_json::Map<String, serde_json::Value> =
        crate::dictionary::gold_tables().iter().map(|t| (t.name.to_string(), t.version().into())).collect();
    let doc = serde_json::json!({
        "run_id": run_id,
        "as_of": as_of,
        "published": chrono::Utc::now().to_rfc3339(),
        "schema_versions": versions,
        "files": tables,
    });
    crate::lake::write_file(&lake.root.join(PUBLISHED), &serde_json::to_vec_pretty(&doc)?)?;
    Ok(())
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (cron,
/// systemd, tests), so logs never fill with redraws.
fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar
}

/// What the stages after conform reported.
type Assessed = (
    AssessReport,
    Option<LinkReport>,
    Option<CoverageReport>,
    Option<VoluntaryReport>,
    Option<PublishReport>,
    Option<ExportReport>,
    // Whether voluntary ran beside coverage and assess.
    bool,
);

fn stages_in_order(
    cfg: &RunConfig,
    lake: &Lake,
    run_id: &str,
    stages: Stages,
) -> Result<(IngestReport, Vec<TableReport>, Assessed)> {
    let reference = Reference::load(&cfg.reference)?;
    let link_cfg = link::LinkConfig::load(&cfg.linkage, Month::of_date(cfg.as_of))?;
    let coverage_cfg = CoverageConfig::load(&cfg.coverage, Month::of_date(cfg.as_of))?;
    let scoring_cfg = ScoringConfig::load(&cfg.scoring, Month::of_date(cfg.as_of))?;
    for (file, e) in [
        ("linkage.toml", (link_cfg.valid_from, &link_cfg.source)),
        ("coverage.toml", (coverage_cfg.valid_from, &coverage_cfg.source)),
        ("scoring.toml", (scoring_cfg.valid_from, &scoring_cfg.source)),
    ] {
        tracing::info!(rules = file, valid_from = %e.0, source = %e.1, "rules in force");
    }
    let mut ledger = Ledger::load(&lake.root)?;
    let t = Instant::now();
    let files = ingest::scan_inbox(&cfg.inbox).map(|(x, _)| x.len() as u64).unwrap_or(0);
    let bar = progress(files, "ingest");
    let ingest = ingest::run(&cfg.inbox, lake, &reference, cfg.threads, &mut ledger, run_id, &bar)?;
    bar.finish_and_clear();
    for f in &ingest.files {
        if let Some(why) = &f.refused {
            tracing::error!(stage = "ingest", file = %f.file, "refused: {why}");
        } else if let Some(earlier) = &f.skipped {
            tracing::info!(stage = "ingest", file = %f.file, ingested_by = %earlier, "skipped: already ingested");
        } else {
            tracing::debug!(
                stage = "ingest", file = %f.file, rows = f.rows, accepted = f.accepted,
                rejected = f.rejected, seconds = f.seconds, "ingested"
            );
            if !f.absent_columns.is_empty() {
                tracing::warn!(
                    stage = "ingest", file = %f.file, absent = %f.absent_columns.join(","),
                    "optional columns absent from the header: their values are unknown to every rule"
                );
            }
        }
    }
    for name in &ingest.ignored {
        tracing::warn!(stage = "ingest", file = %name, "not named <dataset>_<YYYYMMDD>.csv|.parquet: ignored");
    }
    let (rows, accepted, rejected) = ingest.totals();
    tracing::info!(
        stage = "ingest", files = ingest.files.len(), skipped = ingest.skipped().count(),
        refused = ingest.refused().count(), rows_in = rows, rows_out = accepted, rejects = rejected,
        seconds = t.elapsed().as_secs_f64(), "stage done"
    );
    if stages == Stages::IngestOnly {
        return Ok((ingest, Vec::new(), (AssessReport::default(), None, None, None, None, None, false)));
    }
    let t = Instant::now();
    let mut memo = Memo::load(&lake.root, !cfg.full)?;
    let bar = progress(conform::SILVER.len() as u64, "conform");
    let conform = conform::run(lake, cfg.as_of, &bar, Some(&mut memo))?;
    bar.finish_and_clear();
    tracing::info!(
        stage = "conform", tables = conform.len(), reused = conform.iter().filter(|t| t.skipped).count(),
        rows_in = conform.iter().map(|t| t.rows_in).sum::<u64>(),
        rows_out = conform.iter().map(|t| t.rows_out).sum::<u64>(),
        duplicates = conform.iter().map(|t| t.duplicates).sum::<u64>(),
        seconds = t.elapsed().as_secs_f64(), "stage done"
    );
    let keyer = PersonKeyer::from_env()?;
    let t = Instant::now();
    let link = link_unless_unchanged(lake, &link_cfg, &keyer, &mut memo)?;
    tracing::info!(
        stage = "link", reused = link.skipped, tax_people = link.tax_people, si_people = link.si_people, matched = link.matched,
        ambiguous = link.ambiguous, unmatched = link.unmatched, pairs = link.pairs_compared,
        seconds = t.elapsed().as_secs_f64(), "stage done"
    );
    // The kept steps' fingerprints are taken before any of the stages below
    // records into the memo (none of them reads another's steps).
    let months = coverage_month_inputs(cfg, &memo, &coverage_cfg.digest)?;
    let unit_months = assess_inputs(cfg, &memo)?;
    let frames = voluntary_inputs(lake, &memo, &scoring_cfg.digest)?;
    let pool_key = voluntary_pool_key(cfg, lake, &memo, &keyer)?;
    let memo = Mutex::new(memo);
    let coverage_and_assess = || -> Result<(CoverageReport, AssessReport)> {
        let t = Instant::now();
        let months = months.map(|inputs| MonthCache::new(&memo, &lake.root, "coverage", inputs));
        let coverage = coverage::run(lake, &coverage_cfg.rules, &reference, &keyer, cfg.as_of, months)?;
        tracing::info!(
            stage = "coverage", uninsured = coverage.uninsured_pairs, unregistered = coverage.unregistered_employers,
            under_declared = coverage.under_declared_wages, should_have_resumed = coverage.should_have_resumed,
            worklist_items = coverage.worklist_items, months_reused = coverage.months_reused,
            months_computed = coverage.months_computed, windows_reused = coverage.windows_reused,
            frames_reused = coverage.frames_reused, frames_computed = coverage.frames_computed, seconds = t.elapsed().as_secs_f64(), "stage done"
        );
        // After coverage: the inspection list reads the coverage gold tables.
        let unit_months = unit_months.map(|inputs| MonthCache::new(&memo, &lake.root, "assess", inputs));
        let assess = assess::run(lake, &reference, cfg.as_of, unit_months)?;
        tracing::info!(
            stage = "assess", units = assess.units, notices = assess.notices, due = assess.total_due,
            paid = assess.total_paid, debt = assess.debt, delinquent = assess.delinquent,
            candidates = assess.inspection_candidates, frames_reused = assess.frames_reused,
            frames_computed = assess.frames_computed, seconds = assess.seconds, "stage done"
        );
        Ok((coverage, assess))
    };
    // Voluntary reads silver tables and the links only, and writes tables of
    // its own: nothing coverage or assess read or write.
    let voluntary = || -> Result<VoluntaryReport> {
        let frames = frames.map(|inputs| MonthCache::new(&memo, &lake.root, "voluntary", inputs));
        let v = voluntary::run(lake, &scoring_cfg.rules, &reference, &keyer, cfg.as_of, frames, pool_key.as_deref())?;
        tracing::info!(
            stage = "voluntary", prospects = v.prospects, model = %v.model, d08a = v.d08a_participants,
            d08a_vnd = v.d08a_amount, enrolled_after_listing = v.enrolled_after_listing, frames_reused = v.frames_reused,
            frames_computed = v.frames_computed, seconds = v.seconds, "stage done"
        );
        Ok(v)
    };
    let last_peak = last_peak_mib(lake);
    let beside = side_by_side(last_peak, cfg.memory_budget_mib);
    tracing::info!(
        last_peak_mib = last_peak, memory_budget_mib = cfg.memory_budget_mib,
        "{}",
        if beside { "voluntary runs beside coverage and assess" } else { "coverage, assess and voluntary run one after another" }
    );
    let (done, v) = if beside {
        std::thread::scope(|s| {
            let v = s.spawn(voluntary);
            let done = coverage_and_assess();
            (done, v.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        })
    } else {
        let done = coverage_and_assess()?;
        (Ok(done), voluntary())
    };
    // The first error in stage order.
    let (coverage, assess) = done?;
    let v = v?;
    let p = publish::run(lake, &reference, cfg.as_of, !cfg.full)?;
    tracing::info!(
        stage = "publish", report_week = %p.report_week, weeks = p.weeks, rows_written = p.rows_written,
        rows_kept = p.rows_kept, collected_report_week = p.collected_report_week, reused = p.reused, seconds = p.seconds, "stage done"
    );
    let e = export::run(lake, &reference, cfg.as_of)?;
    tracing::info!(
        stage = "export", provinces = e.provinces, workbooks = e.workbooks, rows = e.rows, seconds = e.seconds,
        "stage done"
    );
    Ok((ingest, conform, (assess, Some(link), Some(coverage), Some(v), Some(p), Some(e), beside)))
}

/// Whether voluntary runs beside coverage and assess: when the lake's last
/// whole run peaked at no more than half `budget_mib` (each side's peak is
/// at most a whole run's, so the two together stay within the budget). A
/// lake with no such run (a new one), or a budget of 0, runs them one after
/// another.
pub fn side_by_side(last_peak_mib: Option<u64>, budget_mib: u64) -> bool {
    last_peak_mib.and_then(|p| p.checked_mul(2)).is_some_and(|twice| budget_mib > 0 && twice <= budget_mib)
}

/// The peak resident memory of the lake's latest run of every stage that
/// recorded one (`peak_rss_mib` in `_runs/<run_id>.json`; run ids sort in
/// time order). Runs of some stages only, and unreadable manifests, are
/// passed over.
pub fn last_peak_mib(lake: &Lake) -> Option<u64> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(lake.root.join("_runs"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    runs.sort();
    runs.iter().rev().find_map(|p| {
        let text = std::fs::read_to_string(p).ok()?;
        serde_json::from_str::<serde_json::Value>(&text).ok()?.get("peak_rss_mib")?.as_u64()
    })
}

/// This process's peak resident memory so far, in MiB (Linux reports KiB).
pub(crate) fn peak_rss_mib() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; it is read only on success.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    ok.then(|| unsafe { usage.assume_init() }.ru_maxrss.max(0) as u64 / 1024)
}

/// Silver tables the coverage stage's month rules read (besides the link
/// stage's tables).
const COVERAGE_MONTH_INPUTS: [&str; 3] = ["wages", "contributions", "units"];

/// The fingerprint of what the coverage stage's month answers depend on:
/// its rules (the edition in force, by its digest), the reference tables, the
/// silver tables they read and the links. `None` when a table's origin is
/// unknown (written outside a run): then every month is computed and
/// nothing is kept.
fn coverage_month_inputs(cfg: &RunConfig, memo: &Memo, edition: &str) -> Result<Option<String>> {
    let mut f = Fingerprint::new("coverage/months");
    f.add("coverage.toml edition", edition.as_bytes());
    f.add_dir("reference", &cfg.reference)?;
    for t in COVERAGE_MONTH_INPUTS {
        let Some(fp) = conform::table_fingerprint(memo, t) else { return Ok(None) };
        f.add(t, fp.as_bytes());
    }
    let Some(fp) = memo.fingerprint("link") else { return Ok(None) };
    f.add("link", fp.as_bytes());
    Ok(Some(f.finish()))
}

/// Silver tables every unit's monthly dues are computed from (besides the
/// reference tables, which hold the rates, caps and minimum wages).
const ASSESS_UNIT_MONTH_INPUTS: [&str; 2] = ["contributions", "units"];

/// The fingerprint of what the assess stage's kept unit months depend on:
/// the reference tables and the silver tables they are summed from (by
/// their conform fingerprints, which carry the code's). `None` when a
/// table's origin is unknown: then nothing is kept.
fn assess_inputs(cfg: &RunConfig, memo: &Memo) -> Result<Option<String>> {
    let mut f = Fingerprint::new("assess/unit_months");
    f.add_dir("reference", &cfg.reference)?;
    for t in ASSESS_UNIT_MONTH_INPUTS {
        let Some(fp) = conform::table_fingerprint(memo, t) else { return Ok(None) };
        f.add(t, fp.as_bytes());
    }
    Ok(Some(f.finish()))
}

/// Silver tables the voluntary stage's kept frames are computed from
/// (besides the link stage's `person_links`). The employers' places are read
/// afresh every night and are not among them.
const VOLUNTARY_CACHED_INPUTS: [&str; 5] = ["wages", "contributions", "households", "enrolments", "people"];

/// The fingerprint of what the voluntary stage's kept frames depend on: its
/// rules (the edition in force, by its digest) and the silver tables and links it reads (a table that is absent
/// counts as such). `None` when a table's origin is unknown: then nothing is
/// kept.
fn voluntary_inputs(lake: &Lake, memo: &Memo, edition: &str) -> Result<Option<String>> {
    let mut f = Fingerprint::new("voluntary/frames");
    f.add("scoring.toml edition", edition.as_bytes());
    if !conform::add_silver(&mut f, lake, memo, &VOLUNTARY_CACHED_INPUTS) {
        return Ok(None);
    }
    let Some(fp) = memo.fingerprint("link") else { return Ok(None) };
    f.add("link", fp.as_bytes());
    Ok(Some(f.finish()))
}

/// Silver tables the voluntary stage's kept pool reads besides its frames'
/// inputs (conference registrations by commune; the employers' places).
const VOLUNTARY_POOL_INPUTS: [&str; 2] = ["conferences", "employers"];

/// What the voluntary stage's kept pool depends on beyond its frames'
/// inputs (which the cache's fingerprint carries): the reference tables
/// (retirement ages), the conferences and employers tables, and the person
/// key. `None` when a table's origin is unknown: then no pool is kept.
fn voluntary_pool_key(cfg: &RunConfig, lake: &Lake, memo: &Memo, keyer: &PersonKeyer) -> Result<Option<String>> {
    let mut f = Fingerprint::new("voluntary/pool");
    f.add_dir("reference", &cfg.reference)?;
    // The key's identity without the key: a keyed hash of a fixed text.
    f.add("person_key", keyer.si("\0fingerprint").as_bytes());
    Ok(conform::add_silver(&mut f, lake, memo, &VOLUNTARY_POOL_INPUTS).then(|| f.finish()))
}

/// Silver tables the link stage reads.
const LINK_INPUTS: [&str; 6] = ["people", "contributions", "units", "wages", "employers", "households"];

/// The link stage, or what it wrote last time when its silver inputs (by
/// their conform fingerprints), its rules (the edition in force, by its
/// digest: a night that enters an amendment's month links again, a comment
/// or an amendment not yet in force changes nothing) and the person key are
/// the same.
fn link_unless_unchanged(
    lake: &Lake,
    link_cfg: &InForce<link::LinkConfig>,
    keyer: &PersonKeyer,
    memo: &mut Memo,
) -> Result<LinkReport> {
    let mut f = Fingerprint::new("link");
    f.add("linkage.toml edition", link_cfg.digest.as_bytes());
    // The key's identity without the key: a keyed hash of a fixed text.
    f.add("person_key", keyer.si("\0fingerprint").as_bytes());
    let mut known = true;
    for t in LINK_INPUTS {
        match (conform::table_fingerprint(memo, t), lake.silver_file(t).exists()) {
            (Some(fp), true) => f.add(t, fp.as_bytes()),
            (_, false) => f.add(t, b"\0absent"),
            // A table no run recorded (written by `bhxh stage conform`): unknown.
            (None, true) => {
                known = false;
                f.add(t, b"\0unknown")
            }
        };
    }
    let fingerprint = f.finish();
    if known {
        if let Some(r) = memo.fresh("link", &fingerprint).and_then(|e| serde_json::from_value::<LinkReport>(e.report.clone()).ok()) {
            return Ok(LinkReport { skipped: true, seconds: 0.0, ..r });
        }
    }
    let report = link::run(lake, &link_cfg.rules, keyer)?;
    if known {
        let outputs = [lake.silver_file("person_links"), lake.silver_file("clerical_review")];
        memo.record("link", &fingerprint, &outputs, serde_json::to_value(&report)?)?;
    } else {
        memo.forget("link")?;
    }
    Ok(report)
}

/// The Mondays from `from` (or the Monday after it) to `to`: the report days
/// of the weeks a backfill recomputes.
pub fn backfill_mondays(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    use chrono::Datelike;
    let mut d = from + chrono::Duration::days(i64::from((7 - from.weekday().num_days_from_monday()) % 7));
    let mut out = Vec::new();
    while d <= to {
        out.push(d);
        d += chrono::Duration::days(7);
    }
    out
}

/// Silver tables that accumulate across runs (first listed, developed,
/// enrolled): what a backfill's replays rewrite.
const HISTORY_TABLES: [&str; 2] = ["worklist_history", "prospect_history"];

/// A private folder inside the lake for a backfill's saved tables (a
/// dot-folder: readers and `_published.json` skip it).
fn tempfile_dir(lake: &Path) -> Result<PathBuf> {
    let d = lake.join(format!(".backfill-{}", std::process::id()));
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    Ok(d)
}

/// The as-of date of the lake's published run (`_published.json`), if any.
pub fn published_as_of(lake: &Path) -> Result<Option<NaiveDate>> {
    let f = lake.join(PUBLISHED);
    if !f.exists() {
        return Ok(None);
    }
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&f)?).with_context(|| format!("reading {}", f.display()))?;
    Ok(doc.get("as_of").and_then(|v| v.as_str()).and_then(crate::month::parse_date))
}

/// Recomputes the weeks whose report day (Monday) lies in `from..=to`, oldest
/// first, each by the whole nightly job as of that Monday: conform sees only
/// extracts dated up to it and every figure is cut at the week's Sunday, so
/// each week comes out as it would have been sent. The week's rows in the
/// weekly tables are replaced; the lists of that day are written to
/// `exports/<monday>/`. When the lake had been published for a later date,
/// the job is then run again for that date, so the answer tables end current
/// (the weekly rows just backfilled are kept), after putting back the
/// worklist and prospect histories of the nightly runs. Found and developed
/// in a backfilled week count what the Monday replays list: an item a
/// mid-week run listed moves to the next Monday's week. Local lakes only.
pub fn backfill(cfg: &RunConfig, from: NaiveDate, to: NaiveDate) -> Result<Vec<RunReport>> {
    if is_remote(&cfg.lake) {
        anyhow::bail!("bhxh backfill runs on a local lake; {} is remote", cfg.lake.display());
    }
    let mondays = backfill_mondays(from, to);
    if mondays.is_empty() {
        anyhow::bail!("no Monday between {from} and {to}: nothing to backfill");
    }
    let latest = published_as_of(&cfg.lake)?;
    // The replays rebuild the history tables as of each Monday; the nightly
    // history is put back before the final run for the published date.
    let kept = tempfile_dir(&cfg.lake)?;
    for t in HISTORY_TABLES {
        let f = Lake::new(&cfg.lake).silver_file(t);
        if f.exists() {
            std::fs::copy(&f, kept.join(format!("{t}.parquet"))).with_context(|| format!("keeping {}", f.display()))?;
        }
    }
    let mut reports = Vec::new();
    for m in &mondays {
        let mut c = cfg.clone();
        c.as_of = *m;
        tracing::info!(stage = "backfill", as_of = %m, week = %crate::month::iso_week(crate::month::report_sunday(*m)), "recomputing");
        reports.push(run(&c)?);
    }
    if let Some(latest) = latest.filter(|l| *l > *mondays.last().expect("not empty")) {
        let mut c = cfg.clone();
        c.as_of = latest;
        for t in HISTORY_TABLES {
            let saved = kept.join(format!("{t}.parquet"));
            if saved.exists() {
                let f = Lake::new(&cfg.lake).silver_file(t);
                crate::lake::write_file(&f, &std::fs::read(&saved)?).with_context(|| format!("restoring {}", f.display()))?;
            }
        }
        tracing::info!(stage = "backfill", as_of = %latest, "back to the published date, with the nightly history");
        reports.push(run(&c)?);
    }
    std::fs::remove_dir_all(&kept).ok();
    Ok(reports)
}

/// A stage after ingest, run alone on what the lake holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Single {
    Conform,
    Link,
    Coverage,
    Assess,
    Voluntary,
    Publish,
    Export,
}

impl Single {
    /// The lake tables the stage reads (`silver/<t>`, `gold/<t>`): the
    /// benchmark's rows in. Conform reads bronze: its own report counts them.
    pub fn inputs(self) -> &'static [&'static str] {
        match self {
            Single::Conform => &[],
            Single::Link => &["silver/people", "silver/contributions", "silver/units", "silver/wages", "silver/employers", "silver/households"],
            Single::Coverage => &[
                "silver/wages", "silver/person_links", "silver/clerical_review", "silver/people", "silver/contributions",
                "silver/units", "silver/employers", "silver/officers", "silver/covid_reviews", "silver/worklist_history",
            ],
            Single::Assess => &["silver/units", "silver/contributions", "silver/suspensions", "silver/payments", "gold/uninsured_workers"],
            Single::Voluntary => &[
                "silver/people", "silver/contributions", "silver/person_links", "silver/employers", "silver/wages",
                "silver/households", "silver/enrolments", "silver/agents", "silver/conferences", "silver/prospect_history",
            ],
            Single::Publish => &[
                "silver/units", "silver/worklist_history", "silver/payments", "silver/weekly_debt", "silver/suspensions",
                "silver/conferences", "silver/covid_reviews", "silver/contributions", "silver/enrolments", "silver/people",
                "silver/agents", "silver/plan_targets",
            ],
            Single::Export => &["gold/province_weekly"],
        }
    }
}

/// Rows of the Parquet files of a lake table (`silver/<t>` or a gold folder),
/// from the files' metadata.
fn table_rows(lake: &Lake, table: &str) -> Result<u64> {
    let file = lake.root.join(format!("{table}.parquet"));
    let files = if file.exists() { vec![file] } else { crate::lake::files_under(&lake.root.join(table), "parquet") };
    let mut n = 0;
    for f in files {
        n += crate::lake::parquet_rows(&f)?;
    }
    Ok(n)
}

/// What [`run_single`] reported: the one stage's report.
#[derive(Debug, Default)]
pub struct SingleReport {
    pub conform: Option<Vec<TableReport>>,
    pub link: Option<LinkReport>,
    pub coverage: Option<CoverageReport>,
    pub assess: Option<AssessReport>,
    pub voluntary: Option<VoluntaryReport>,
    pub publish: Option<PublishReport>,
    pub export: Option<ExportReport>,
    pub seconds: f64,
    /// Rows of the tables the stage read ([`Single::inputs`]; for conform, its
    /// bronze rows).
    pub rows_in: u64,
    /// Rows of the silver and gold files the stage wrote (for export, the
    /// rows of the lists it wrote).
    pub rows_out: u64,
}

/// Runs one stage alone under the lake's lock (local lakes only): to link
/// again after `pipelines/linkage.toml` changed, or to time one stage's wall
/// time and peak memory (`scripts/bench`). Each stage reads what the earlier
/// ones left in the lake; nothing is published (`_published.json` is left
/// as it was).
pub fn run_single(cfg: &RunConfig, stage: Single) -> Result<SingleReport> {
    restrict_new_files();
    if is_remote(&cfg.lake) {
        anyhow::bail!("a single stage runs on a local lake only; use bhxh run for {}", cfg.lake.display());
    }
    let lake = Lake::new(&cfg.lake);
    let _lock = LakeLock::acquire(&lake.root, &new_run_id())?;
    let keyer = PersonKeyer::from_env()?;
    let reference = Reference::load(&cfg.reference)?;
    let mut r = SingleReport::default();
    for table in stage.inputs() {
        r.rows_in += table_rows(&lake, table)?;
    }
    // The stage's outputs: the silver and gold files it created or rewrote.
    let snapshot = || -> std::collections::HashMap<PathBuf, Option<std::time::SystemTime>> {
        ["silver", "gold"]
            .iter()
            .flat_map(|layer| crate::lake::files_under(&lake.root.join(layer), "parquet"))
            .map(|f| {
                let modified = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
                (f, modified)
            })
            .collect()
    };
    let before = snapshot();
    let t = Instant::now();
    match stage {
        Single::Conform => r.conform = Some(conform::run(&lake, cfg.as_of, &ProgressBar::hidden(), None)?),
        Single::Link => r.link = Some(link::run(&lake, &link::LinkConfig::load(&cfg.linkage, Month::of_date(cfg.as_of))?.rules, &keyer)?),
        Single::Coverage => {
            r.coverage = Some(coverage::run(&lake, &CoverageConfig::load(&cfg.coverage, Month::of_date(cfg.as_of))?.rules, &reference, &keyer, cfg.as_of, None)?)
        }
        Single::Assess => r.assess = Some(assess::run(&lake, &reference, cfg.as_of, None)?),
        Single::Voluntary => {
            r.voluntary = Some(voluntary::run(&lake, &ScoringConfig::load(&cfg.scoring, Month::of_date(cfg.as_of))?.rules, &reference, &keyer, cfg.as_of, None, None)?)
        }
        Single::Publish => r.publish = Some(publish::run(&lake, &reference, cfg.as_of, false)?),
        Single::Export => r.export = Some(export::run(&lake, &reference, cfg.as_of)?),
    }
    r.seconds = t.elapsed().as_secs_f64();
    if let Some(c) = &r.conform {
        r.rows_in = c.iter().map(|t| t.rows_in).sum();
    }
    for (f, modified) in snapshot() {
        if before.get(&f) != Some(&modified) {
            r.rows_out += crate::lake::parquet_rows(&f)?;
        }
    }
    if let Some(e) = &r.export {
        // Export writes lists, not tables: its rows out are the list rows.
        r.rows_out += e.rows;
    }
    tracing::info!(
        stage = %format!("{stage:?}").to_lowercase(), rows_in = r.rows_in, rows_out = r.rows_out,
        seconds = r.seconds, "stage done"
    );
    Ok(r)
}

/// BLAKE3 over the reference tables (names and contents, in name order):
/// which version of the rules a run used.
fn reference_hash(dir: &Path) -> Result<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "csv"));
    files.sort();
    let mut h = blake3::Hasher::new();
    for f in files {
        h.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        h.update(hash_file(&f)?.0.as_bytes());
    }
    Ok(h.finalize().to_hex().to_string())
}

/// `_runs/<run_id>.json`: what a run read, with which code and rules, what it
/// wrote and how it ended.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub as_of: NaiveDate,
    pub started: String,
    pub finished: String,
    pub seconds: f64,
    /// `ok`, `bad_input` (a file was refused) or `failed: <error>`.
    pub outcome: String,
    pub code_version: String,
    pub reference_blake3: String,
    pub config: RunConfig,
    /// Rules file → the edition applied (see [`crate::editions`]): the month
    /// it took effect and the BLAKE3 of the file it was read from.
    pub rules_in_force: BTreeMap<String, RulesInForce>,
    pub inputs: Vec<ManifestInput>,
    /// Silver table → rows.
    pub conform: Vec<(String, u64)>,
    /// Steps kept from an earlier run because their inputs, rules and code
    /// were unchanged (`conform/<table>`, `link`); empty with `--full`.
    pub reused: Vec<String>,
    /// The process's peak resident memory at the end of a run of every
    /// stage that finished (absent for other runs, and for a failed one,
    /// which may have stopped before the stages that need the most): the
    /// next run's measure of whether stages fit beside one another (see
    /// [`side_by_side`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ManifestInput {
    pub file: String,
    pub dataset: String,
    pub blake3: String,
    pub bytes: u64,
    pub version: u32,
    pub status: String,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Optional contract columns the file did not have (see
    /// [`ingest::FileReport::absent_columns`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absent_columns: Vec<String>,
}

impl From<&ingest::FileReport> for ManifestInput {
    fn from(f: &ingest::FileReport) -> Self {
        let status = match (&f.refused, &f.skipped) {
            (Some(why), _) => format!("refused: {why}"),
            (_, Some(run)) => format!("skipped: ingested by {run}"),
            _ => "ingested".into(),
        };
        ManifestInput {
            file: f.file.clone(),
            dataset: f.dataset.clone(),
            blake3: f.blake3.clone(),
            bytes: f.bytes,
            version: f.version,
            status,
            rows: f.rows,
            accepted: f.accepted,
            rejected: f.rejected,
            absent_columns: f.absent_columns.clone(),
        }
    }
}

impl Manifest {
    fn write(&self, lake: &Lake) -> Result<()> {
        let dir = lake.root.join("_runs");
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(format!("{}.json", self.run_id));
        crate::lake::write_file(&target, &serde_json::to_vec_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_go_side_by_side_only_when_twice_the_last_peak_fits_the_budget() {
        assert!(side_by_side(Some(4096), 8192), "exactly half");
        assert!(!side_by_side(Some(4097), 8192));
        assert!(!side_by_side(None, 8192), "no run to go by");
        assert!(!side_by_side(Some(0), 0), "a budget of 0 runs every stage alone");
        assert!(!side_by_side(Some(u64::MAX), u64::MAX), "no overflow");
    }

    #[test]
    fn the_last_peak_is_the_latest_whole_runs() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        assert_eq!(last_peak_mib(&lake), None, "no _runs folder");
        let runs = dir.path().join("_runs");
        std::fs::create_dir_all(&runs).unwrap();
        let write = |id: &str, text: &str| std::fs::write(runs.join(format!("{id}.json")), text).unwrap();
        write("20200608T010000.000Z-1", r#"{"run_id": "a", "peak_rss_mib": 900}"#);
        write("20200609T010000.000Z-2", r#"{"run_id": "b", "peak_rss_mib": 1200}"#);
        assert_eq!(last_peak_mib(&lake), Some(1200));
        // Later: a run of ingest alone (no peak), an unreadable manifest and
        // a file that is no manifest are passed over.
        write("20200610T010000.000Z-3", r#"{"run_id": "c"}"#);
        write("20200611T010000.000Z-4", "{not json");
        std::fs::write(runs.join("20200612T010000.000Z-5.json.tmp"), r#"{"peak_rss_mib": 1}"#).unwrap();
        assert_eq!(last_peak_mib(&lake), Some(1200));
        write("20200613T010000.000Z-6", r#"{"run_id": "d", "peak_rss_mib": 700}"#);
        assert_eq!(last_peak_mib(&lake), Some(700), "the latest, not the largest");
    }

    #[test]
    fn a_failed_run_records_no_peak() {
        let dir = tempfile::tempdir().unwrap();
        let (inbox, lake) = (dir.path().join("inbox"), dir.path().join("lake"));
        std::fs::create_dir_all(&inbox).unwrap();
        let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
        let mut cfg = RunConfig::new(&inbox, &lake, reference, NaiveDate::from_ymd_opt(2020, 6, 8).unwrap());
        cfg.coverage = dir.path().join("missing.toml");
        assert!(run(&cfg).is_err());
        let runs: Vec<PathBuf> = std::fs::read_dir(lake.join("_runs")).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(runs.len(), 1);
        let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&runs[0]).unwrap()).unwrap();
        assert!(manifest["outcome"].as_str().unwrap().starts_with("failed"));
        assert!(manifest.get("peak_rss_mib").is_none(), "it may have stopped before the stages that need the most");
        assert_eq!(last_peak_mib(&Lake::new(&lake)), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        assert!(peak_rss_mib().is_some_and(|p| p > 0));
    }
}
