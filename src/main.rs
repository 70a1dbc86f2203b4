//! The `bhxh` command line: parse, call the library, map outcomes to exit codes.

use anyhow::Result;
use bhxh::ingest::IngestReport;
use bhxh::generate::{self, GenerateOptions};
use bhxh::lake::lock::LockHeld;
use bhxh::pipeline::{self, RunConfig, Stages};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// jemalloc, as Polars itself ships with: glibc's malloc kept freed memory
/// in per-thread arenas (the link stage peaked 21% lower with
/// MALLOC_ARENA_MAX=2 at 4M people; see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at start (`_RJEM_MALLOC_CONF` in the
/// environment overrides them): a background thread returns freed pages to
/// the system on time. Without it, pages freed by threads that have exited
/// (the per-province workers) or gone idle wait for their arena's next
/// allocation: the 16M run peaked 769 MiB higher (8,035 against 7,266 MiB;
/// voluntary's pool 8,028 against 7,192 MB; see docs/benchmarks.md).
///
/// jemalloc's eager purge of allocations of 8 MiB and more (its default
/// `oversize_threshold`) is kept on purpose: `oversize_threshold:0` (big
/// buffers held ten seconds like the rest) made the run 7% faster at 16M
/// people and 8–9% at 1M, but peaked at 9,486 MiB at 16M, over the 8 GiB
/// goal; held one second, it gained nothing (docs/benchmarks.md,
/// seventeenth session). Purged only from 64 MiB, it faulted 55% fewer
/// pages at 1M but 21% fewer at 16M (a gain for 1M more than for 16M),
/// and peaked at 7,689 MiB at 16M (nineteenth session).
#[export_name = "_rjem_malloc_conf"]
#[allow(non_upper_case_globals)]
pub static malloc_conf: &u8 = &b"background_thread:true\0"[0];

/// Exit codes, documented in the README for cron and systemd.
mod exit {
    pub const OK: u8 = 0;
    /// An internal failure: I/O, a bug, bad reference data.
    pub const FAILURE: u8 = 1;
    // 2 is clap's code for a command-line usage error.
    /// The run completed, but inputs had rejects: rows in the rejects table,
    /// or a file refused whole (the rest was processed).
    pub const BAD_INPUT: u8 = 3;
    /// Another run holds the lake's lock; nothing was done.
    pub const LOCKED: u8 = 4;
    /// `bhxh verify` found personal data or a foreign row where it must not be.
    pub const VERIFY_FAILED: u8 = 5;
}

#[derive(Parser)]
#[command(name = "bhxh", version, about = "Nightly pipeline for Vietnam Social Security: registries in, coverage gaps, debt and due lists out")]
struct Cli {
    /// Print nothing on success (errors and warnings still go to stderr).
    #[arg(long, global = true)]
    quiet: bool,
    /// Log lines on stderr as human text or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// The nightly job: ingest the inbox, conform it into silver, link people,
    /// find coverage gaps, assess dues and debt.
    Run(RunArgs),
    /// The link stage alone, on the lake's silver (after a change of
    /// pipelines/linkage.toml; also what scripts/bench times).
    Link(RunArgs),
    /// The coverage stage alone, on the lake's silver and person links.
    Coverage(RunArgs),
    /// Recompute past weeks as they would have been reported: the nightly job
    /// as of each Monday from --from to --to (no later extract is read), then
    /// again as of the lake's published date if that is later.
    Backfill {
        /// First report day (a Monday, or the Monday after this date).
        #[arg(long)]
        from: NaiveDate,
        /// Last report day.
        #[arg(long)]
        to: NaiveDate,
        #[command(flatten)]
        run: RunArgs,
    },
    /// One stage alone on what the lake holds (after a rule change, or to
    /// time a stage's wall time and peak memory); publishes nothing.
    Stage {
        /// The stage.
        #[arg(value_enum)]
        stage: pipeline::Single,
        #[command(flatten)]
        run: RunArgs,
    },
    /// The benchmark's I/O floor: read every inbox extract once and count its
    /// rows (as many files at a time as ingest), nothing validated or written.
    Scan {
        /// Folder of input extracts.
        #[arg(long, default_value = "sample_data")]
        inbox: PathBuf,
        /// Files read in parallel.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Ingest only: inbox extracts into bronze Parquet and the rejects table.
    Ingest(RunArgs),
    /// Generate a synthetic country's extracts and the planted truth.
    Generate(GenerateArgs),
    /// Check that analyst tables hold no raw IDs or names and that every
    /// province's export folder holds only that province's rows.
    Verify {
        /// Root of the Parquet lake.
        #[arg(long, default_value = "lake")]
        lake: PathBuf,
        /// Root of the per-province exports (default: <lake>/exports).
        #[arg(long)]
        exports: Option<PathBuf>,
        /// Folder of reference tables.
        #[arg(long, default_value = "pipelines/reference")]
        reference: PathBuf,
    },
    /// Print the data dictionary (Markdown) generated from the code.
    Dictionary {
        /// Write it to docs/data-dictionary.md instead of stdout.
        #[arg(long)]
        write: bool,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Pipeline config; flags below override its fields.
    #[arg(long, default_value = "pipelines/nightly.toml")]
    config: PathBuf,
    /// Folder of input extracts (`<dataset>_<YYYYMMDD>.csv|.parquet`).
    #[arg(long)]
    inbox: Option<PathBuf>,
    /// Root of the Parquet lake.
    #[arg(long)]
    lake: Option<PathBuf>,
    /// The date the run is for (YYYY-MM-DD); extracts dated later are not used.
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Folder of reference tables (rates, provinces, ...).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Files ingested in parallel.
    #[arg(long)]
    threads: Option<usize>,
    /// Recompute every step, even one whose inputs are unchanged since it last
    /// ran (the nightly run reuses those: see docs/architecture.md).
    #[arg(long)]
    full: bool,
    /// Memory the run may use, in MiB (default 8192): voluntary runs beside
    /// coverage and assess when the lake's last whole run peaked at half of
    /// it or less; 0 runs every stage alone.
    #[arg(long, env = "BHXH_MEMORY_BUDGET_MIB")]
    memory_budget_mib: Option<u64>,
}

#[derive(Args)]
struct GenerateArgs {
    /// Output folder for the extracts; `truth/` is written inside it.
    #[arg(long)]
    out: PathBuf,
    /// People in the synthetic country (2,000: seconds; 16,000,000: national order).
    #[arg(long, default_value_t = 2000)]
    people: u64,
    /// Random seed: the same seed, size and date give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The extraction date (the dispatch's date by default).
    #[arg(long, default_value = "2020-06-08")]
    as_of: NaiveDate,
    /// Folder of reference tables.
    #[arg(long, default_value = "pipelines/reference")]
    reference: PathBuf,
}

impl RunArgs {
    fn config(&self) -> Result<RunConfig> {
        let mut cfg = RunConfig::load(&self.config)?;
        if let Some(v) = &self.inbox {
            cfg.inbox = v.clone();
        }
        if let Some(v) = &self.lake {
            cfg.lake = v.clone();
        }
        if let Some(v) = self.as_of {
            cfg.as_of = v;
        }
        if let Some(v) = &self.reference {
            cfg.reference = v.clone();
        }
        if let Some(v) = self.threads {
            cfg.threads = v;
        }
        cfg.full |= self.full;
        if let Some(v) = self.memory_budget_mib {
            cfg.memory_budget_mib = v;
        }
        Ok(cfg)
    }
}

fn print_ingest(report: &IngestReport) {
    println!("{:<34} {:>12} {:>12} {:>10}", "file", "rows", "accepted", "rejected");
    for f in &report.files {
        match (&f.refused, &f.skipped) {
            (Some(why), _) => println!("{:<34} REFUSED: {why}", f.file),
            (_, Some(run)) => println!("{:<34} skipped: already ingested by run {run}", f.file),
            _ => println!("{:<34} {:>12} {:>12} {:>10}", f.file, f.rows, f.accepted, f.rejected),
        }
        if !f.absent_columns.is_empty() {
            println!("{:<34} no column {}: unknown to every rule", "", f.absent_columns.join(", "));
        }
    }
    let (rows, accepted, rejected) = report.totals();
    println!("{:<34} {:>12} {:>12} {:>10}", "total", rows, accepted, rejected);
}

/// The link, coverage and voluntary stages' summary, with their seconds (read by scripts/bench).
fn print_assessed(
    link: Option<&bhxh::link::LinkReport>,
    coverage: Option<&bhxh::coverage::CoverageReport>,
    voluntary: Option<&bhxh::voluntary::VoluntaryReport>,
) {
    if let Some(l) = link {
        let methods: Vec<String> = l.by_method.iter().map(|(m, n)| format!("{m} {n}")).collect();
        let raised = if l.threshold_bits > 0.0 { format!("; thresholds +{:.2} bits for the population", l.threshold_bits) } else { String::new() };
        println!(
            "\nlink: {} tax-side people, {} BHXH people: {} matched ({}), {} ambiguous, {} unmatched; {} pairs compared{raised}  ({:.1} s)",
            l.tax_people, l.si_people, l.matched, methods.join(", "), l.ambiguous, l.unmatched, l.pairs_compared, l.seconds
        );
    }
    if let Some(c) = coverage {
        let reasons: Vec<String> = c.uninsured_by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!(
            "coverage: uninsured workers {} ({}), unregistered employers {}, under-declared wages {}, should have resumed {}; \
             worklists: {} items for {} officers ({} unassigned), {} export files  ({:.1} s)",
            c.uninsured_pairs, reasons.join(", "), c.unregistered_employers, c.under_declared_wages, c.should_have_resumed,
            c.worklist_items, c.officers_with_work, c.unassigned_items, c.export_files, c.seconds
        );
    }
    if let Some(v) = voluntary {
        let sources: Vec<String> = v.by_source.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!(
            "voluntary: {} prospects ({}), model {}; D08a-TS {} participants, {} VND; {} enrolled after listing  ({:.1} s)",
            v.prospects, sources.join(", "), v.model, v.d08a_participants, v.d08a_amount, v.enrolled_after_listing, v.seconds
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("BHXH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if cli.quiet { "warn" } else { "info" }));
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    match execute(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("bhxh: error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn execute(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Run(args) | Command::Ingest(args) => {
            let cfg = args.config()?;
            let ingest_only = matches!(cli.command, Command::Ingest(_));
            let stages = if ingest_only { Stages::IngestOnly } else { Stages::All };
            let report = match pipeline::run_stages(&cfg, stages) {
                Ok(r) => r,
                Err(e) if e.downcast_ref::<LockHeld>().is_some() => {
                    eprintln!("bhxh: {e:#}");
                    return Ok(exit::LOCKED);
                }
                Err(e) => return Err(e),
            };
            let ingest = if ingest_only {
                report.ingest
            } else {
                if !cli.quiet {
                    print_ingest(&report.ingest);
                    println!();
                    println!("{:<34} {:>12} {:>12} {:>10}", "silver table", "rows in", "rows out", "duplicates");
                    for t in &report.conform {
                        println!("{:<34} {:>12} {:>12} {:>10}", t.table, t.rows_in, t.rows_out, t.duplicates);
                    }
                    let a = &report.assess;
                    println!("\nunits assessed {}  notices {}  due {}  paid {}  debt {} VND", a.units, a.notices, a.total_due, a.total_paid, a.debt);
                    println!("delinquent {}  inspection candidates {}  suspended owing {}  make-up unpaid {}", a.delinquent, a.inspection_candidates, a.suspended_owing, a.makeup_unpaid);
                    print_assessed(report.link.as_ref(), report.coverage.as_ref(), report.voluntary.as_ref());
                    if let Some(p) = &report.publish {
                        println!(
                            "publish: report week {} ({} weeks of the year), collected that week {} VND; {} rows written, {} kept{}  ({:.1} s)",
                            p.report_week,
                            p.weeks,
                            p.collected_report_week,
                            p.rows_written,
                            p.rows_kept,
                            if p.reused { " (every week already published: none computed)" } else { "" },
                            p.seconds
                        );
                    }
                    if let Some(e) = &report.export {
                        println!("export: {} provinces, {} workbooks, {} list rows  ({:.1} s)", e.provinces, e.workbooks, e.rows, e.seconds);
                    }
                    println!("\nlake: {}  run: {}  ({:.1} s)", cfg.lake.display(), report.run_id, report.seconds);
                }
                report.ingest
            };
            if ingest_only && !cli.quiet {
                print_ingest(&ingest);
            }
            for f in ingest.refused() {
                eprintln!("bhxh: refused {}", f.refused.as_deref().unwrap_or_default());
            }
            let had_rejects = ingest.refused().next().is_some() || ingest.totals().2 > 0;
            Ok(if had_rejects { exit::BAD_INPUT } else { exit::OK })
        }
        Command::Backfill { from, to, run } => {
            let cfg = run.config()?;
            let reports = match pipeline::backfill(&cfg, *from, *to) {
                Ok(r) => r,
                Err(e) if e.downcast_ref::<LockHeld>().is_some() => {
                    eprintln!("bhxh: {e:#}");
                    return Ok(exit::LOCKED);
                }
                Err(e) => return Err(e),
            };
            let mut had_rejects = false;
            for r in &reports {
                had_rejects |= r.ingest.refused().next().is_some() || r.ingest.totals().2 > 0;
                if let (false, Some(p)) = (cli.quiet, &r.publish) {
                    println!(
                        "{}: report week {} collected {} VND  ({} rows written, {} kept; {:.1} s)",
                        r.run_id, p.report_week, p.collected_report_week, p.rows_written, p.rows_kept, r.seconds
                    );
                }
            }
            Ok(if had_rejects { exit::BAD_INPUT } else { exit::OK })
        }
        Command::Scan { inbox, threads } => {
            let t = std::time::Instant::now();
            let files = bhxh::ingest::scan_only(inbox, *threads)?;
            let secs = t.elapsed().as_secs_f64();
            if !cli.quiet {
                for (name, rows, bytes) in &files {
                    println!("{name:<34} {rows:>12} rows {bytes:>14} bytes");
                }
                let (rows, bytes) = files.iter().fold((0u64, 0u64), |(r, b), f| (r + f.1, b + f.2));
                println!(
                    "scan: {} files, {rows} rows, {bytes} bytes in {secs:.1} s ({:.0} rows/s)",
                    files.len(),
                    rows as f64 / secs.max(1e-9)
                );
            }
            Ok(exit::OK)
        }
        Command::Verify { lake, exports, reference } => {
            let reference = bhxh::reference::Reference::load(reference)?;
            let exports = exports.clone().unwrap_or_else(|| lake.join("exports"));
            let findings = bhxh::verify::run(lake, &exports, &reference)?;
            for f in &findings {
                eprintln!("bhxh verify: {}: {}", f.path.display(), f.problem);
            }
            if findings.is_empty() && !cli.quiet {
                println!("verify: no personal data in analyst tables, no foreign rows in province exports");
            }
            Ok(if findings.is_empty() { exit::OK } else { exit::VERIFY_FAILED })
        }
        Command::Link(args) | Command::Coverage(args) | Command::Stage { run: args, .. } => {
            let cfg = args.config()?;
            let stage = match &cli.command {
                Command::Link(_) => pipeline::Single::Link,
                Command::Coverage(_) => pipeline::Single::Coverage,
                Command::Stage { stage, .. } => *stage,
                _ => unreachable!("matched above"),
            };
            let r = match pipeline::run_single(&cfg, stage) {
                Ok(r) => r,
                Err(e) if e.downcast_ref::<LockHeld>().is_some() => {
                    eprintln!("bhxh: {e:#}");
                    return Ok(exit::LOCKED);
                }
                Err(e) => return Err(e),
            };
            if !cli.quiet {
                if let Some(c) = &r.conform {
                    let (i, o): (u64, u64) = c.iter().fold((0, 0), |(i, o), t| (i + t.rows_in, o + t.rows_out));
                    println!("conform: {} tables, {i} rows in, {o} rows out", c.len());
                }
                print_assessed(r.link.as_ref(), r.coverage.as_ref(), r.voluntary.as_ref());
                if let Some(a) = &r.assess {
                    println!("assess: units {} notices {} debt {} VND", a.units, a.notices, a.debt);
                }
                if let Some(p) = &r.publish {
                    println!("publish: report week {}, {} rows written, {} kept", p.report_week, p.rows_written, p.rows_kept);
                }
                if let Some(e) = &r.export {
                    println!("export: {} workbooks, {} list rows", e.workbooks, e.rows);
                }
                let per_s = if r.seconds > 0.0 { r.rows_in as f64 / r.seconds } else { 0.0 };
                println!("rows: {} in, {} out, {per_s:.0} in/s", r.rows_in, r.rows_out);
                println!("{stage:?}: {:.1} s", r.seconds);
            }
            Ok(exit::OK)
        }
        Command::Dictionary { write } => {
            let text = bhxh::dictionary::render();
            if *write {
                std::fs::write("docs/data-dictionary.md", text)?;
            } else {
                print!("{text}");
            }
            Ok(exit::OK)
        }
        Command::Generate(g) => {
            let summary = generate::generate(&GenerateOptions {
                out: g.out.clone(),
                people: g.people,
                seed: g.seed,
                as_of: g.as_of,
                reference_dir: g.reference.clone(),
            })?;
            if !cli.quiet {
                for (dataset, path, rows) in &summary.files {
                    println!("{dataset:<18} {rows:>12}  {}", path.display());
                }
                println!(
                    "bad rows planted: {}, duplicates: {}, noisy rows: {}",
                    summary.bad_rows, summary.duplicate_rows, summary.noisy_rows
                );
            }
            Ok(exit::OK)
        }
    }
}
