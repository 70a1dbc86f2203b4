//! Stage 3, assess (collection side): dues from the effective-dated rules,
//! the ledger of every unit, C12-TS notices, delinquent employers, the §3.2
//! suspension lists and the provinces' inspection lists.
//!
//! ```text
//! silver units, contributions, suspensions, payments
//!   └─► per unit: dues::UnitMonth (per person, fund, payer) ─► dues::schedule
//!       (suspension and make-up) ─► ledger::run (oldest first, interest)
//!   ─► gold dues, c12_notices, delinquent_employers, suspended_units_owing,
//!      makeup_unpaid  (lake/gold/<table>/province_code=NN/part-0.parquet)
//!   ─► exports/<as_of>/<province>/c12_notices.csv, inspection_list.csv
//! ```
//! The money rules are pure functions in [`dues`] and [`ledger`]; this module
//! only reads silver with Polars, groups the contribution rows by unit (a
//! counting sort on the unit index, no string sort), settles the units (512
//! to a task, the tasks side by side, their rows put back in unit order) and
//! writes the rows out. Every unit's monthly sums (`UnitMonth`) are kept for
//! the as-of month when the pipeline gives a [`MonthCache`], so the other
//! nights of the month settle from them without reading the contributions.
//! The conventions are in `docs/rules.md`.

pub mod dues;
pub mod export;
pub mod ledger;
pub mod tables;

use crate::ingest::days;
use crate::lake::{self, gold, Lake};
use crate::month::Month;
use crate::reference::Reference;
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use dues::{RuleBook, Suspension, UnitMonth, CELLS};
use ledger::Payment;
use crate::coverage::frame::MonthCache;
use polars::prelude::*;
use rayon::prelude::*;
use std::collections::HashMap;
use std::time::Instant;


/// Gold tables written by this stage.
pub const DUES: &str = "dues";
pub const C12_NOTICES: &str = "c12_notices";
pub const DELINQUENT_EMPLOYERS: &str = "delinquent_employers";
pub const SUSPENDED_UNITS_OWING: &str = "suspended_units_owing";
pub const MAKEUP_UNPAID: &str = "makeup_unpaid";
/// Silver: each province's debt at the end of each report week (see
/// [`crate::month::report_window`]), read by the publish stage.
pub const WEEKLY_DEBT: &str = "weekly_debt";

/// Silver tables this stage writes: (name, meaning, columns).
pub fn silver_tables() -> Vec<(&'static str, &'static str, &'static [(&'static str, &'static str, &'static str)])> {
    vec![(
        WEEKLY_DEBT,
        "Assess stage: each province's debt at the end of each week of the report window (the weeks of the \
         report week's calendar year up to it), the ledger of every unit cut at that Sunday: dues of the months \
         up to the Sunday's month, payments up to the Sunday. Only provinces and weeks with debt have rows.",
        &[
            ("as_of", "date", "As-of date of the assess run that wrote it (publish refuses another date's)"),
            ("province_code", "string", "Province of the unit (2020 code)"),
            ("week_end", "date", "The Sunday ending the ISO week"),
            ("debt", "int64", "Σ unpaid dues of the months before the Sunday's month, VND"),
            ("units_in_debt", "int64", "Units with debt > 0"),
            ("units_in_debt_3m", "int64", "Of those, units whose debt_months ≥ the inspection threshold (thresholds.csv)"),
        ],
    )]
}

/// What the stage did, for the run summary.
#[derive(Clone, Debug, Default)]
pub struct AssessReport {
    /// False when silver has no units or no contributions yet (nothing written).
    pub ran: bool,
    /// Units with a ledger (contributions or payments up to the as-of date).
    pub units: u64,
    /// Person-months with a due work status, up to the as-of month (from the
    /// first month the reference tables price: see `unpriced_contribution_rows`).
    pub contribution_rows: u64,
    /// Due contribution rows and payments of unit codes absent from silver units
    /// (no wage region or province: not assessed).
    pub orphan_contribution_rows: u64,
    pub orphan_payments: u64,
    /// Due contribution rows of months before the first month the reference
    /// tables price (`Reference::first_priced_month`): not assessed, and
    /// said in a warning, rather than stopping the run.
    pub unpriced_contribution_rows: u64,
    /// Units with a suspension whose periods add up to more months than a
    /// suspension may last (`covid_suspension_max_months`), and the months
    /// beyond the limit: those are not suspended (their pension part is due).
    pub suspension_units_over_limit: u64,
    pub suspension_months_over_limit: u64,
    /// C12-TS notices (unit-months).
    pub notices: u64,
    /// Σ dues fallen due up to the as-of month (make-ups included), Σ payments
    /// up to the as-of date.
    pub total_due: i64,
    pub total_paid: i64,
    /// Σ unpaid dues of months before the as-of month (the debt).
    pub debt: i64,
    /// Σ unpaid dues of the as-of month (not debt yet).
    pub current_unpaid: i64,
    pub interest_charged: i64,
    pub interest_paid: i64,
    pub interest_unpaid: i64,
    pub credit: i64,
    /// Σ suspended pension parts not yet fallen due at the as-of month's end.
    pub deferred: i64,
    pub delinquent: u64,
    pub inspection_candidates: u64,
    pub suspended_owing: u64,
    pub makeup_unpaid: u64,
    pub export_files: u64,
    /// The unit months kept for the as-of month: read back (1, 0) or
    /// computed (0, 1); (0, 0) when nothing is kept (`bhxh stage assess`).
    pub frames_reused: u32,
    pub frames_computed: u32,
    pub seconds: f64,
}

impl AssessReport {
    /// Adds what a task of [`settle`] counted: every field a unit's ledger
    /// touches. The fields set once per run are named and left, so a new
    /// field must be placed.
    fn add_settled(&mut self, t: &AssessReport) {
        let AssessReport {
            ran: _,
            units,
            contribution_rows: _,
            orphan_contribution_rows: _,
            orphan_payments: _,
            unpriced_contribution_rows: _,
            suspension_units_over_limit: _,
            suspension_months_over_limit: _,
            notices,
            total_due,
            total_paid,
            debt,
            current_unpaid,
            interest_charged,
            interest_paid,
            interest_unpaid,
            credit,
            deferred,
            delinquent,
            inspection_candidates,
            suspended_owing,
            makeup_unpaid,
            export_files: _,
            frames_reused: _,
            frames_computed: _,
            seconds: _,
        } = t;
        self.units += units;
        self.notices += notices;
        self.total_due += total_due;
        self.total_paid += total_paid;
        self.debt += debt;
        self.current_unpaid += current_unpaid;
        self.interest_charged += interest_charged;
        self.interest_paid += interest_paid;
        self.interest_unpaid += interest_unpaid;
        self.credit += credit;
        self.deferred += deferred;
        self.delinquent += delinquent;
        self.inspection_candidates += inspection_candidates;
        self.suspended_owing += suspended_owing;
        self.makeup_unpaid += makeup_unpaid;
    }
}

/// A unit from silver `units`.
#[derive(Clone, Debug)]
pub struct UnitInfo {
    pub code: String,
    pub name: Option<String>,
    pub tax_code: Option<String>,
    pub province: String,
    pub region: u8,
    pub officer: Option<String>,
}

/// Runs the stage for `as_of`: reads silver, writes the gold tables and the
/// per-province exports.
pub fn run(lake: &Lake, reference: &Reference, as_of: NaiveDate, cache: Option<MonthCache>) -> Result<AssessReport> {
    run_tuned(lake, reference, as_of, cache, Tuning::default())
}

/// How the work is cut: the outputs do not depend on it (tests cut it finely).
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Due contribution rows read per pass of the unit loop (default: 40 million).
    pub rows_per_pass: u64,
    /// Units settled per task; a pass's tasks run side by side (default: 512).
    pub units_per_task: usize,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning { rows_per_pass: ROWS_PER_PASS, units_per_task: UNITS_PER_TASK }
    }
}

/// The kept frame of every unit's monthly dues for the as-of month
/// (`_state/assess/unit_months/<YYYY-MM>.parquet`).
pub const UNIT_MONTHS: &str = "unit_months";

/// [`run`], with the work cut as `tuning` says. With `cache`, every unit's
/// monthly dues (the sum over its people of each month, the whole
/// contribution table's work) are kept for the as-of month under the
/// fingerprint of what they are computed from (contributions, units, the
/// rules), and read back on the next night of the same month instead of the
/// contributions; the ledgers are settled afresh every run.
pub fn run_tuned(lake: &Lake, reference: &Reference, as_of: NaiveDate, mut cache: Option<MonthCache>, tuning: Tuning) -> Result<AssessReport> {
    let start = Instant::now();
    let mut report = AssessReport::default();
    let (units_f, contrib_f) = (lake.silver_file("units"), lake.silver_file("contributions"));
    if !units_f.exists() || !contrib_f.exists() {
        tracing::warn!(stage = "assess", "silver units or contributions missing: nothing to assess");
        // Empty answers, not the answers of an earlier run.
        Outputs::default().write(lake, &[], as_of, &[], |_| Ok(()))?;
        report.export_files = export::run(lake, reference, as_of)?;
        return Ok(report);
    }
    report.ran = true;
    let units = read_units(lake)?;
    let index: HashMap<&str, u32> = units.iter().enumerate().map(|(i, u)| (u.code.as_str(), i as u32)).collect();
    let (suspensions, capped_units, capped_months) = read_suspensions(lake, &index, reference, Month::of_date(as_of))?;
    (report.suspension_units_over_limit, report.suspension_months_over_limit) = (capped_units, capped_months);
    if capped_months > 0 {
        tracing::warn!(
            stage = "assess",
            units = capped_units,
            months = capped_months,
            "suspension periods that follow one another add up to more months than a suspension may last (thresholds.csv covid_suspension_max_months): the months beyond are due"
        );
    }
    let (payments, orphan_payments) = read_payments(lake, &index, as_of)?;
    report.orphan_payments = orphan_payments;

    let mut out = Outputs::default();
    // The report window's week ends: the debt position at each, for province_weekly.
    let week_ends = crate::month::report_window(as_of);
    let ctx = UnitCtx { reference, as_of, units: &units, suspensions: &suspensions, payments: &payments, week_ends: &week_ends };
    let as_of_m = Month::of_date(as_of);

    let kept = match cache.as_mut() {
        Some(c) => c.kept_frame(UNIT_MONTHS, as_of_m)?,
        None => None,
    };
    let computed = kept.is_none();
    if let Some((df, counts)) = kept {
        let counts: KeptCounts = serde_json::from_value(counts).context("the kept unit months' counts")?;
        let months = unit_months_of(&df)?;
        let (by_unit, orphans) = group_rows_by_unit(df.column("unit_code")?.str()?, &index, units.len())?;
        if orphans > 0 {
            bail!("kept unit months name {orphans} rows of units absent from silver units");
        }
        drop(df);
        tracing::debug!(stage = "assess", rows = months.len(), seconds = start.elapsed().as_secs_f64(), "unit months read back");
        settle(&ctx, 0..units.len(), &Source::Months(&months), &by_unit, tuning.units_per_task, &mut out, &mut report)?;
        report.contribution_rows = counts.contribution_rows;
        report.orphan_contribution_rows = counts.orphan_contribution_rows;
        report.unpriced_contribution_rows = counts.unpriced_contribution_rows;
    } else {
        settle_from_contributions(lake, &ctx, &contrib_f, &index, tuning, &mut out, &mut report)?;
    }
    if report.orphan_contribution_rows > 0 || report.orphan_payments > 0 {
        tracing::warn!(
            stage = "assess",
            contribution_rows = report.orphan_contribution_rows,
            payments = report.orphan_payments,
            "rows of unit codes absent from silver units: not assessed"
        );
    }

    if report.unpriced_contribution_rows > 0 {
        tracing::warn!(
            stage = "assess",
            rows = report.unpriced_contribution_rows,
            first_priced_month = %reference.first_priced_month().map_or("none".into(), |m| m.to_string()),
            "due contribution rows of months the reference tables do not price: not assessed (extend pipelines/reference back to them)"
        );
    }
    tracing::debug!(stage = "assess", seconds = start.elapsed().as_secs_f64(), "units settled");
    let counts = KeptCounts {
        contribution_rows: report.contribution_rows,
        orphan_contribution_rows: report.orphan_contribution_rows,
        unpriced_contribution_rows: report.unpriced_contribution_rows,
    };
    out.write(lake, &units, as_of, &week_ends, |dues| {
        // The dues table holds every unit-month's sums: its first columns are the frame kept.
        if let (Some(c), true) = (cache.as_mut(), computed) {
            let mut names = vec!["unit_code".to_string(), "month".into(), "headcount".into(), "wage_fund".into(), "under_minimum".into()];
            names.extend((0..CELLS).map(dues::cell_name));
            let mut frame = dues.select(names)?;
            c.keep_frame(UNIT_MONTHS, as_of_m, &mut frame, serde_json::to_value(&counts)?)?;
        }
        Ok(())
    })?;
    tracing::debug!(stage = "assess", seconds = start.elapsed().as_secs_f64(), "gold written");
    report.export_files = export::run(lake, reference, as_of)?;
    if let Some(c) = &cache {
        (report.frames_reused, report.frames_computed) = (c.frames_reused, c.frames_computed);
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// The counts a kept frame of unit months carries (its rows do not say them).
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptCounts {
    contribution_rows: u64,
    orphan_contribution_rows: u64,
    #[serde(default)]
    unpriced_contribution_rows: u64,
}

/// Every unit's monthly dues from the due contribution rows up to the as-of
/// month, settled a range of units at a time (see [`Tuning::rows_per_pass`]).
fn settle_from_contributions(
    lake: &Lake,
    ctx: &UnitCtx,
    contrib_f: &std::path::Path,
    index: &HashMap<&str, u32>,
    tuning: Tuning,
    out: &mut Outputs,
    report: &mut AssessReport,
) -> Result<()> {
    let start = Instant::now();
    let units = ctx.units;
    // Due contributions up to the as-of month, in whatever order silver has,
    // read a range of units at a time: at 16M people the whole year's
    // (unit, month, wage) rows took 12 GB. Units keep their order, so the
    // outputs are those of a single pass.
    let as_of_m = Month::of_date(ctx.as_of);
    // The number of passes from the file's row count (all statuses and
    // months: an upper bound, read from the Parquet footer).
    let passes = (lake::parquet_rows(contrib_f)?.div_ceil(tuning.rows_per_pass.max(1)) as usize).clamp(1, units.len().max(1));
    let due = lake::scan_parquet(&[contrib_f.to_path_buf()])?
        .filter(col("month").lt_eq(lit(as_of_m.first_day())))
        .filter(
            dues::DUE_STATUSES.iter().map(|s| col("work_status").eq(lit(*s))).reduce(|a, b| a.or(b)).expect("statuses"),
        );
    // Months the reference tables do not price are counted and left out
    // (one row of 2017 stopped the whole run before).
    let first = ctx.reference.first_priced_month().context("the reference tables price no month")?;
    let before = col("month").lt(lit(first.first_day()));
    let unpriced = due.clone().filter(before.clone()).select([len()]).collect()?;
    report.unpriced_contribution_rows = unpriced.column("len")?.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0);
    let due = due.filter(before.not()).select([col("unit_code"), col("month"), col("insured_wage")]);
    // Pass `p` settles units[range(p)].
    let range = |pass: usize| units.len() * pass / passes..units.len() * (pass + 1) / passes;
    // Several passes: the due rows are split by pass once, in one streaming
    // pass over silver (a unit's rows go to its pass, the rows of unit codes
    // absent from silver units to none), and each pass reads its own part
    // (filtering the whole table for every pass read it once per pass).
    let split = if passes == 1 {
        None
    } else {
        let (mut codes, mut pass_of) = (Vec::with_capacity(units.len()), Vec::with_capacity(units.len()));
        for pass in 0..passes {
            let units = &units[range(pass)];
            codes.extend(units.iter().map(|u| u.code.as_str()));
            pass_of.extend(std::iter::repeat_n(pass as u32, units.len()));
        }
        let pass_of = DataFrame::new(codes.len(), vec![Column::new("unit_code".into(), codes), Column::new("pass".into(), pass_of)])?;
        let dir = lake::ScratchDir::new(lake.root.join("_state/assess/by_pass"))?;
        let by_pass = due.clone().join(pass_of.lazy(), [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Left));
        lake::sink_parquet_by(by_pass, "pass", dir.path())?;
        tracing::debug!(stage = "assess", passes, seconds = start.elapsed().as_secs_f64(), "silver split by pass");
        Some(dir)
    };
    // One pass reads every due row, orphans included; passes over ranges of
    // units leave the orphans out, so their rows are counted apart.
    let counted = match &split {
        None => None,
        Some(dir) => Some(lake::files_under(dir.path(), "parquet").iter().map(|f| lake::parquet_rows(f)).sum::<Result<u64>>()?),
    };
    let (mut read, mut assessed) = (0u64, 0u64);
    for pass in 0..passes {
        let part = match &split {
            None => due.clone(),
            Some(dir) => match lake::parquet_part(dir.path(), "pass", &pass.to_string())?.as_slice() {
                [] => due.clone().filter(lit(false)),
                files => lake::scan_parquet(files)?.select([col("unit_code"), col("month"), col("insured_wage")]),
            },
        };
        let contrib = part
            .collect_with_engine(Engine::Streaming)
            .map(|q| q.unwrap_single())
            .map_err(anyhow::Error::from)
            .context("reading silver contributions")?;
        tracing::debug!(stage = "assess", pass, rows = contrib.height(), seconds = start.elapsed().as_secs_f64(), "silver read");
        let days = contrib.column("month")?.date()?.physical().rechunk();
        let wages = contrib.column("insured_wage")?.i64()?.rechunk();
        let (days, wages) = (
            days.cont_slice().map_err(|_| anyhow::anyhow!("silver contributions has a null month"))?,
            wages.cont_slice().map_err(|_| anyhow::anyhow!("silver contributions has a null insured_wage"))?,
        );
        let (rows_by_unit, _) = group_rows_by_unit(contrib.column("unit_code")?.str()?, index, units.len())?;
        read += contrib.height() as u64;
        assessed += rows_by_unit.order.len() as u64;
        settle(ctx, range(pass), &Source::People { days, wages }, &rows_by_unit, tuning.units_per_task, out, report)?;
    }
    // Rows of unit codes absent from silver units were in no pass's units.
    report.contribution_rows = counted.unwrap_or(read);
    report.orphan_contribution_rows = report.contribution_rows - assessed;
    Ok(())
}

/// Units settled per task of [`settle`]: enough to outweigh a task's cost,
/// few enough that the tasks even out across the cores. An engineering
/// bound, not a business rule.
const UNITS_PER_TASK: usize = 512;

/// Where a unit's monthly dues come from.
enum Source<'a> {
    /// The due contribution rows (month as days since 1970, insured wage):
    /// summed person by person under the month's rules.
    People { days: &'a [i32], wages: &'a [i64] },
    /// Unit months kept by an earlier run under the same inputs.
    Months(&'a [UnitMonth]),
}

impl Source<'_> {
    /// The unit's months from its `rows`, sorted by month, into `s.months`.
    fn unit_months(&self, unit: &UnitInfo, rows: &[u32], book: &mut RuleBook, s: &mut Scratch) -> Result<()> {
        s.months.clear();
        match self {
            Source::Months(all) => {
                s.months.extend(rows.iter().map(|&r| all[r as usize].clone()));
                s.months.sort_by_key(|m| m.month);
            }
            Source::People { days, wages } => {
                s.days.clear();
                s.rules.clear();
                for &r in rows {
                    let day = days[r as usize];
                    let k = match s.days.binary_search(&day) {
                        Ok(k) => k,
                        Err(k) => {
                            let m = Month::of_date(date_of(day));
                            let rules = book.get(unit.region, m).with_context(|| format!("dues of unit {} for {m}", unit.code))?;
                            s.rules.insert(k, rules.clone());
                            s.days.insert(k, day);
                            s.months.insert(k, UnitMonth::new(m));
                            k
                        }
                    };
                    s.months[k].add_person(wages[r as usize], &s.rules[k]);
                }
            }
        }
        Ok(())
    }
}

/// A task's buffers for the current unit's months, kept sorted: day number,
/// sums, rules of the month.
#[derive(Default)]
struct Scratch {
    days: Vec<i32>,
    months: Vec<UnitMonth>,
    rules: Vec<dues::MonthRules>,
}

/// Schedules and settles the units of `range` (those with due rows or
/// payments), `per_task` units a task, the tasks side by side; their rows
/// are appended to `out` in unit order, as one task would have written them.
fn settle(
    ctx: &UnitCtx,
    range: std::ops::Range<usize>,
    source: &Source,
    by_unit: &RowsByUnit,
    per_task: usize,
    out: &mut Outputs,
    report: &mut AssessReport,
) -> Result<()> {
    let per_task = per_task.max(1);
    let tasks: Vec<(usize, usize)> = range.clone().step_by(per_task).map(|a| (a, (a + per_task).min(range.end))).collect();
    // A few tasks per core at a time, appended before the next ones run:
    // all of a pass's tasks held at once doubled the stage's peak (+540 MB
    // at 4M people).
    for batch in tasks.chunks(4 * rayon::current_num_threads().max(1)) {
        let done: Vec<Result<(Outputs, AssessReport)>> = batch
            .par_iter()
            .map(|&(a, b)| {
                let (mut o, mut r) = (Outputs::default(), AssessReport::default());
                let mut book = RuleBook::new(ctx.reference);
                let mut scratch = Scratch::default();
                for u in a..b {
                    let rows = by_unit.rows(u);
                    if rows.is_empty() && ctx.payments[u].is_empty() {
                        continue;
                    }
                    source.unit_months(&ctx.units[u], rows, &mut book, &mut scratch)?;
                    // A unit with payments but no due contributions gets a ledger too: its money is credit.
                    ctx.unit(u as u32, &scratch.months, &mut o, &mut r)?;
                }
                Ok((o, r))
            })
            .collect();
        for d in done {
            let (o, r) = d?;
            out.append(o);
            report.add_settled(&r);
        }
    }
    Ok(())
}

/// Unit months from a kept frame (the first columns of the dues table).
fn unit_months_of(df: &DataFrame) -> Result<Vec<UnitMonth>> {
    let month = df.column("month")?.date()?.physical().rechunk();
    let month = month.cont_slice().map_err(|_| anyhow::anyhow!("kept unit months: a null month"))?;
    let i64s = |name: &str| -> Result<Vec<i64>> {
        let c = df.column(name)?.i64()?;
        c.iter().map(|v| v.with_context(|| format!("kept unit months: a null {name}"))).collect()
    };
    let (headcount, wage_fund, under_minimum) = (i64s("headcount")?, i64s("wage_fund")?, i64s("under_minimum")?);
    let cells: Vec<Vec<i64>> = (0..CELLS).map(|i| i64s(&dues::cell_name(i))).collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(df.height());
    for r in 0..df.height() {
        let mut m = UnitMonth::new(month_of_days(month[r]));
        for (i, c) in cells.iter().enumerate() {
            m.amounts[i] = c[r];
        }
        m.headcount = u32::try_from(headcount[r]).context("kept unit months: headcount")?;
        m.wage_fund = wage_fund[r];
        m.under_minimum = u32::try_from(under_minimum[r]).context("kept unit months: under_minimum")?;
        out.push(m);
    }
    Ok(out)
}

/// Due contribution rows read per pass of the unit loop (unit, month, wage:
/// about 40 bytes each, so about 1.5 GB at a time); more rows are read a
/// range of units at a time. An engineering bound, not a business rule.
const ROWS_PER_PASS: u64 = 40_000_000;

/// Row numbers grouped by unit index (a counting sort: no string sort).
struct RowsByUnit {
    /// `start[u]..start[u + 1]` indexes `order` for unit `u`.
    start: Vec<usize>,
    order: Vec<u32>,
}

impl RowsByUnit {
    fn rows(&self, u: usize) -> &[u32] {
        &self.order[self.start[u]..self.start[u + 1]]
    }
}

/// Groups row numbers by the unit their code names; returns also how many
/// rows name no known unit.
fn group_rows_by_unit(codes: &StringChunked, index: &HashMap<&str, u32>, units: usize) -> Result<(RowsByUnit, u64)> {
    const NONE: u32 = u32::MAX;
    let mut row_unit: Vec<u32> = Vec::with_capacity(codes.len());
    let mut last: Option<(&str, u32)> = None;
    for code in codes.iter() {
        let Some(code) = code else { bail!("silver contributions has a null unit_code") };
        let u = match last {
            Some((c, u)) if c == code => u,
            _ => {
                let u = index.get(code).copied().unwrap_or(NONE);
                last = Some((code, u));
                u
            }
        };
        row_unit.push(u);
    }
    let mut start = vec![0usize; units + 1];
    let mut orphans = 0u64;
    for &u in &row_unit {
        if u == NONE {
            orphans += 1;
        } else {
            start[u as usize + 1] += 1;
        }
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; row_unit.len() - orphans as usize];
    for (row, &u) in row_unit.iter().enumerate() {
        if u != NONE {
            order[fill[u as usize]] = u32::try_from(row).context("more than 4 billion contribution rows")?;
            fill[u as usize] += 1;
        }
    }
    Ok((RowsByUnit { start, order }, orphans))
}

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(i64::from(day))
}

fn month_of_days(day: i32) -> Month {
    Month::of_date(date_of(day))
}

fn str_col<'a>(df: &'a DataFrame, name: &str) -> Result<Option<&'a StringChunked>> {
    match df.column(name) {
        Ok(c) => Ok(Some(c.str().map_err(|e| anyhow::anyhow!("column {name}: {e}"))?)),
        Err(_) => Ok(None),
    }
}

fn read_units(lake: &Lake) -> Result<Vec<UnitInfo>> {
    let df = lake::read_parquet(&lake.silver_file("units"))?;
    let code = str_col(&df, "unit_code")?.context("silver units has no unit_code")?;
    let province = str_col(&df, "province_code")?.context("silver units has no province_code")?;
    let region = df.column("wage_region")?.i64()?;
    let (name, tax, officer) = (str_col(&df, "name")?, str_col(&df, "tax_code")?, str_col(&df, "officer_id")?);
    let get = |c: Option<&StringChunked>, i: usize| c.and_then(|c| c.get(i)).map(str::to_string);
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (Some(c), Some(p), Some(r)) = (code.get(i), province.get(i), region.get(i)) else {
            bail!("silver units row {i}: null unit_code, province_code or wage_region");
        };
        out.push(UnitInfo {
            code: c.to_string(),
            name: get(name, i),
            tax_code: get(tax, i),
            province: p.to_string(),
            region: u8::try_from(r).context("wage_region")?,
            officer: get(officer, i),
        });
    }
    Ok(out)
}

/// Sorts a unit's suspension periods and holds each suspension to the months
/// it may last (`covid_suspension_max_months` of thresholds.csv at its first
/// month; for a suspension that starts before the table's first row, the
/// limit of the as-of month): see [`dues::cap_periods`]. Returns the months
/// taken back. The assess and publish stages both read periods through it.
pub fn hold_suspensions(periods: &mut Vec<Suspension>, reference: &Reference, as_of: Month) -> Result<u64> {
    const RULE: &str = "covid_suspension_max_months";
    periods.sort();
    dues::cap_periods(periods, |m| reference.threshold(RULE, m).or_else(|_| reference.threshold(RULE, as_of)))
}

/// Each unit's suspension periods, as held ([`hold_suspensions`]); also the
/// units and months the limit took back.
fn read_suspensions(lake: &Lake, index: &HashMap<&str, u32>, reference: &Reference, as_of: Month) -> Result<(Vec<Vec<Suspension>>, u64, u64)> {
    let mut out = vec![Vec::new(); index.len()];
    let f = lake.silver_file("suspensions");
    if !f.exists() {
        return Ok((out, 0, 0));
    }
    let df = lake::read_parquet(&f)?;
    let code = df.column("unit_code")?.str()?;
    let from = df.column("from_month")?.date()?.physical();
    let to = df.column("to_month")?.date()?.physical();
    for ((c, f), t) in code.iter().zip(from.iter()).zip(to.iter()) {
        let (Some(c), Some(f), Some(t)) = (c, f, t) else { continue };
        if let Some(&u) = index.get(c) {
            out[u as usize].push(Suspension { from: month_of_days(f), to: month_of_days(t) });
        }
    }
    let (mut units, mut months) = (0, 0);
    for v in &mut out {
        let removed = hold_suspensions(v, reference, as_of)?;
        if removed > 0 {
            (units, months) = (units + 1, months + removed);
        }
    }
    Ok((out, units, months))
}

/// Payments up to the as-of date, per unit, deduplicated and sorted.
fn read_payments(lake: &Lake, index: &HashMap<&str, u32>, as_of: NaiveDate) -> Result<(Vec<Vec<Payment>>, u64)> {
    let mut out: Vec<Vec<Payment>> = vec![Vec::new(); index.len()];
    let f = lake.silver_file("payments");
    if !f.exists() {
        return Ok((out, 0));
    }
    let df = lake::scan_parquet(&[f])?
        .filter(col("paid_on").lt_eq(lit(as_of)))
        .select([col("unit_code"), col("paid_on"), col("amount"), col("reference")])
        .collect()?;
    let code = df.column("unit_code")?.str()?;
    let on = df.column("paid_on")?.date()?.physical();
    let amount = df.column("amount")?.i64()?;
    let reference = df.column("reference")?.str()?;
    let mut orphans = 0;
    for (((c, d), a), r) in code.iter().zip(on.iter()).zip(amount.iter()).zip(reference.iter()) {
        let (Some(c), Some(d), Some(a), Some(r)) = (c, d, a, r) else {
            bail!("silver payments has a null required value");
        };
        match index.get(c) {
            Some(&u) => out[u as usize].push(Payment { paid_on: date_of(d), amount: a, reference: r.to_string() }),
            None => orphans += 1,
        }
    }
    for v in &mut out {
        *v = ledger::dedupe(std::mem::take(v));
    }
    Ok((out, orphans))
}

struct UnitCtx<'a> {
    reference: &'a Reference,
    as_of: NaiveDate,
    units: &'a [UnitInfo],
    suspensions: &'a [Vec<Suspension>],
    payments: &'a [Vec<Payment>],
    week_ends: &'a [NaiveDate],
}

impl UnitCtx<'_> {
    /// Schedules and settles one unit, and records its rows.
    fn unit(&self, u: u32, months: &[UnitMonth], out: &mut Outputs, report: &mut AssessReport) -> Result<()> {
        let as_of_m = Month::of_date(self.as_of);
        let payments = &self.payments[u as usize];
        let periods = &self.suspensions[u as usize];
        let first = months
            .first()
            .map(|m| m.month)
            .into_iter()
            .chain(payments.first().map(|p| Month::of_date(p.paid_on)))
            .min();
        let Some(first) = first else { return Ok(()) };
        let sched = dues::schedule(first, as_of_m, months, periods);
        let due: Vec<ledger::Due> =
            sched.iter().map(|s| ledger::Due { month: s.month, regular: s.regular, makeup: s.makeup }).collect();
        let reference = self.reference;
        let (lm, pos) = ledger::run(&due, payments, self.as_of, |m| reference.interest_annual(m))
            .with_context(|| format!("ledger of unit {}", self.units[u as usize].code))?;

        // dues: one row per unit-month with due contributions.
        for um in months {
            let s = &sched[first.until(um.month) as usize];
            out.dues.unit.push(u);
            out.dues.month.push(days(um.month.first_day()));
            out.dues.headcount.push(i64::from(um.headcount));
            out.dues.wage_fund.push(um.wage_fund);
            out.dues.under_minimum.push(i64::from(um.under_minimum));
            for (i, a) in um.amounts.iter().enumerate() {
                out.dues.cells[i].push(*a);
            }
            out.dues.assessed.push(um.assessed());
            out.dues.suspended.push(dues::suspending(periods, um.month).is_some());
            out.dues.pension_deferred.push(s.deferred_now);
        }
        // c12_notices: every month from the first to the as-of month.
        let mut k = 0;
        for (s, l) in sched.iter().zip(&lm) {
            while k < months.len() && months[k].month < s.month {
                k += 1;
            }
            let (headcount, wage_fund) = match months.get(k) {
                Some(um) if um.month == s.month => (i64::from(um.headcount), um.wage_fund),
                _ => (0, 0),
            };
            let c = &mut out.c12;
            c.unit.push(u);
            c.month.push(days(s.month.first_day()));
            c.headcount.push(headcount);
            c.wage_fund.push(wage_fund);
            c.brought_forward.push(l.brought_forward);
            c.due.push(l.due);
            c.makeup.push(l.makeup);
            c.paid.push(l.paid);
            c.interest.push(l.interest);
            c.carried_forward.push(l.carried_forward);
            c.deferred.push(s.deferred_balance);
            c.debt.push(l.debt);
            c.interest_unpaid.push(l.interest_unpaid);
            c.credit.push(l.credit);
            c.provisional.push(s.month == as_of_m);
        }
        // The position at the end of each report week: the ledger cut at that
        // Sunday (its month the last, payments up to that day).
        for (w, &sunday) in self.week_ends.iter().enumerate() {
            let m = Month::of_date(sunday);
            if m < first || sunday > self.as_of {
                continue;
            }
            let cut = &due[..=first.until(m) as usize];
            let (_, p) = ledger::run(cut, payments, sunday, |m| reference.interest_annual(m))
                .with_context(|| format!("ledger of unit {} at {sunday}", self.units[u as usize].code))?;
            if p.debt > 0 {
                let threshold = reference.threshold("inspection_debt_months", m)?;
                let acc = out.weekly.entry((u32::try_from(w).unwrap_or(u32::MAX), self.units[u as usize].province.clone())).or_default();
                acc[0] += p.debt;
                acc[1] += 1;
                acc[2] += i64::from(i64::from(p.debt_months) >= threshold);
            }
        }
        let deferred = sched.last().map_or(0, |s| s.deferred_balance);
        let suspension_now = dues::suspending(periods, as_of_m);
        if pos.debt > 0 {
            let threshold = self.reference.threshold("inspection_debt_months", as_of_m)?;
            let candidate = i64::from(pos.debt_months) >= threshold && suspension_now.is_none();
            let d = &mut out.delinquent;
            d.unit.push(u);
            d.debt.push(pos.debt);
            d.debt_months.push(i64::from(pos.debt_months));
            d.oldest.push(pos.oldest_unpaid.map(|m| days(m.first_day())));
            d.interest.push(pos.interest_unpaid);
            d.suspended.push(suspension_now.is_some());
            d.deferred.push(deferred);
            d.candidate.push(candidate);
            report.delinquent += 1;
            report.inspection_candidates += u64::from(candidate);
            if let Some(p) = suspension_now {
                let s = &mut out.suspended_owing;
                s.unit.push(u);
                s.from.push(days(p.from.first_day()));
                s.to.push(days(p.to.first_day()));
                s.makeup_month.push(days(p.makeup_month().first_day()));
                s.debt.push(pos.debt);
                s.debt_months.push(i64::from(pos.debt_months));
                s.interest.push(pos.interest_unpaid);
                s.deferred.push(deferred);
                report.suspended_owing += 1;
            }
        }
        for (m, unpaid) in &pos.makeup_unpaid {
            let Some(p) = periods.iter().filter(|p| p.makeup_month() == *m).min() else { continue };
            let x = &mut out.makeup;
            x.unit.push(u);
            x.from.push(days(p.from.first_day()));
            x.to.push(days(p.to.first_day()));
            x.makeup_month.push(days(m.first_day()));
            x.makeup_due.push(sched[first.until(*m) as usize].makeup);
            x.makeup_unpaid.push(*unpaid);
            x.overdue.push(*m < as_of_m);
            x.debt.push(pos.debt);
            x.debt_months.push(i64::from(pos.debt_months));
            report.makeup_unpaid += 1;
        }
        report.units += 1;
        report.notices += lm.len() as u64;
        report.total_due += pos.total_due;
        report.total_paid += pos.total_paid;
        report.debt += pos.debt;
        report.current_unpaid += pos.current_unpaid;
        report.interest_charged += pos.interest_charged;
        report.interest_paid += pos.interest_paid;
        report.interest_unpaid += pos.interest_unpaid;
        report.credit += pos.credit;
        report.deferred += deferred;
        Ok(())
    }
}

#[derive(Default)]
struct DuesCols {
    unit: Vec<u32>,
    month: Vec<i32>,
    headcount: Vec<i64>,
    wage_fund: Vec<i64>,
    under_minimum: Vec<i64>,
    cells: [Vec<i64>; CELLS],
    assessed: Vec<i64>,
    suspended: Vec<bool>,
    pension_deferred: Vec<i64>,
}

#[derive(Default)]
struct C12Cols {
    unit: Vec<u32>,
    month: Vec<i32>,
    headcount: Vec<i64>,
    wage_fund: Vec<i64>,
    brought_forward: Vec<i64>,
    due: Vec<i64>,
    makeup: Vec<i64>,
    paid: Vec<i64>,
    interest: Vec<i64>,
    carried_forward: Vec<i64>,
    deferred: Vec<i64>,
    debt: Vec<i64>,
    interest_unpaid: Vec<i64>,
    credit: Vec<i64>,
    provisional: Vec<bool>,
}

#[derive(Default)]
struct DelinquentCols {
    unit: Vec<u32>,
    debt: Vec<i64>,
    debt_months: Vec<i64>,
    oldest: Vec<Option<i32>>,
    interest: Vec<i64>,
    suspended: Vec<bool>,
    deferred: Vec<i64>,
    candidate: Vec<bool>,
}

#[derive(Default)]
struct SuspendedOwingCols {
    unit: Vec<u32>,
    from: Vec<i32>,
    to: Vec<i32>,
    makeup_month: Vec<i32>,
    debt: Vec<i64>,
    debt_months: Vec<i64>,
    interest: Vec<i64>,
    deferred: Vec<i64>,
}

#[derive(Default)]
struct MakeupCols {
    unit: Vec<u32>,
    from: Vec<i32>,
    to: Vec<i32>,
    makeup_month: Vec<i32>,
    makeup_due: Vec<i64>,
    makeup_unpaid: Vec<i64>,
    overdue: Vec<bool>,
    debt: Vec<i64>,
    debt_months: Vec<i64>,
}

/// `append(&mut self, other)` for a struct of column vectors: every field
/// named, so a new column cannot be left out.
macro_rules! appendable {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl $t {
            fn append(&mut self, o: $t) {
                let $t { $(mut $f),* } = o;
                $( self.$f.append(&mut $f); )*
            }
        }
    };
}

impl DuesCols {
    fn append(&mut self, o: DuesCols) {
        let DuesCols { mut unit, mut month, mut headcount, mut wage_fund, mut under_minimum, cells, mut assessed, mut suspended, mut pension_deferred } = o;
        self.unit.append(&mut unit);
        self.month.append(&mut month);
        self.headcount.append(&mut headcount);
        self.wage_fund.append(&mut wage_fund);
        self.under_minimum.append(&mut under_minimum);
        for (a, mut b) in self.cells.iter_mut().zip(cells) {
            a.append(&mut b);
        }
        self.assessed.append(&mut assessed);
        self.suspended.append(&mut suspended);
        self.pension_deferred.append(&mut pension_deferred);
    }
}

appendable!(C12Cols {
    unit, month, headcount, wage_fund, brought_forward, due, makeup, paid, interest, carried_forward, deferred, debt,
    interest_unpaid, credit, provisional,
});
appendable!(DelinquentCols { unit, debt, debt_months, oldest, interest, suspended, deferred, candidate });
appendable!(SuspendedOwingCols { unit, from, to, makeup_month, debt, debt_months, interest, deferred });
appendable!(MakeupCols { unit, from, to, makeup_month, makeup_due, makeup_unpaid, overdue, debt, debt_months });

impl Outputs {
    /// Appends a later range of units' rows (and adds its weekly sums).
    fn append(&mut self, o: Outputs) {
        let Outputs { dues, c12, delinquent, suspended_owing, makeup, weekly } = o;
        self.dues.append(dues);
        self.c12.append(c12);
        self.delinquent.append(delinquent);
        self.suspended_owing.append(suspended_owing);
        self.makeup.append(makeup);
        for (k, v) in weekly {
            let acc = self.weekly.entry(k).or_default();
            for (a, b) in acc.iter_mut().zip(v) {
                *a += b;
            }
        }
    }
}

#[derive(Default)]
struct Outputs {
    dues: DuesCols,
    c12: C12Cols,
    delinquent: DelinquentCols,
    suspended_owing: SuspendedOwingCols,
    makeup: MakeupCols,
    /// (report week index, province) → [debt, units in debt, units in debt ≥ threshold months].
    weekly: std::collections::BTreeMap<(u32, String), [i64; 3]>,
}

fn date_col(name: &str, v: Vec<i32>) -> Result<Column> {
    Ok(Int32Chunked::new(name.into(), v).into_series().cast(&DataType::Date)?.into_column())
}

fn opt_date_col(name: &str, v: Vec<Option<i32>>) -> Result<Column> {
    Ok(Int32Chunked::new(name.into(), v).into_series().cast(&DataType::Date)?.into_column())
}

fn i64_col(name: &str, v: Vec<i64>) -> Column {
    Column::new(name.into(), v)
}

fn bool_col(name: &str, v: Vec<bool>) -> Column {
    Column::new(name.into(), v)
}

/// The unit's identity columns, first in every gold table:
/// province_code, unit_code (+ name, tax_code, officer_id when `full`).
fn unit_cols(units: &[UnitInfo], idx: &[u32], full: bool) -> Vec<Column> {
    let at = |i: &u32| &units[*i as usize];
    let mut cols = vec![
        Column::new("province_code".into(), idx.iter().map(|i| at(i).province.as_str()).collect::<Vec<_>>()),
        Column::new("unit_code".into(), idx.iter().map(|i| at(i).code.as_str()).collect::<Vec<_>>()),
    ];
    if full {
        cols.push(Column::new("unit_name".into(), idx.iter().map(|i| at(i).name.as_deref()).collect::<Vec<_>>()));
        cols.push(Column::new("tax_code".into(), idx.iter().map(|i| at(i).tax_code.as_deref()).collect::<Vec<_>>()));
        cols.push(Column::new("officer_id".into(), idx.iter().map(|i| at(i).officer.as_deref()).collect::<Vec<_>>()));
    }
    cols
}

/// Checks a frame against its declared schema, then writes the gold table.
fn publish(root: &std::path::Path, table: &gold::GoldTable, df: DataFrame) -> Result<()> {
    let t = Instant::now();
    let rows = df.height();
    let parts = gold::publish(root, table, df, "assess")?;
    tracing::debug!(
        stage = "assess",
        table = table.name,
        rows,
        parts,
        seconds = t.elapsed().as_secs_f64(),
        "gold table"
    );
    Ok(())
}

impl Outputs {
    /// Writes the gold tables and silver `weekly_debt`; `keep` sees the dues
    /// table before it is published.
    fn write(self, lake: &Lake, units: &[UnitInfo], as_of: NaiveDate, week_ends: &[NaiveDate], keep: impl FnOnce(&DataFrame) -> Result<()>) -> Result<()> {
        let root = &lake.root;
        let as_of_day = days(as_of);

        // dues
        let d = self.dues;
        let n = d.unit.len();
        let mut cols = vec![date_col("month", d.month)?];
        cols.extend(unit_cols(units, &d.unit, false));
        cols.push(i64_col("headcount", d.headcount));
        cols.push(i64_col("wage_fund", d.wage_fund));
        cols.push(i64_col("under_minimum", d.under_minimum));
        for (i, c) in d.cells.into_iter().enumerate() {
            cols.push(i64_col(&dues::cell_name(i), c));
        }
        cols.push(i64_col("assessed", d.assessed));
        cols.push(bool_col("suspended", d.suspended));
        cols.push(i64_col("pension_deferred", d.pension_deferred));
        let df = DataFrame::new(n, cols)?;
        keep(&df)?;
        publish(root, &tables::DUES, df)?;

        // c12_notices
        let c = self.c12;
        let n = c.unit.len();
        let mut cols = vec![date_col("month", c.month)?];
        cols.extend(unit_cols(units, &c.unit, true));
        cols.extend([
            i64_col("headcount", c.headcount),
            i64_col("wage_fund", c.wage_fund),
            i64_col("brought_forward", c.brought_forward),
            i64_col("due", c.due),
            i64_col("makeup", c.makeup),
            i64_col("paid", c.paid),
            i64_col("interest", c.interest),
            i64_col("carried_forward", c.carried_forward),
            i64_col("deferred_pension_part", c.deferred),
            i64_col("debt", c.debt),
            i64_col("interest_unpaid", c.interest_unpaid),
            i64_col("credit", c.credit),
            bool_col("provisional", c.provisional),
        ]);
        publish(root, &tables::C12_NOTICES, DataFrame::new(n, cols)?)?;

        // delinquent_employers
        let d = self.delinquent;
        let n = d.unit.len();
        let mut cols = vec![date_col("as_of", vec![as_of_day; n])?];
        cols.extend(unit_cols(units, &d.unit, true));
        cols.extend([
            i64_col("debt", d.debt),
            i64_col("debt_months", d.debt_months),
            opt_date_col("oldest_unpaid_month", d.oldest)?,
            i64_col("interest", d.interest),
            bool_col("suspended", d.suspended),
            i64_col("deferred_pension_part", d.deferred),
            bool_col("inspection_candidate", d.candidate),
        ]);
        publish(root, &tables::DELINQUENT_EMPLOYERS, DataFrame::new(n, cols)?)?;

        // suspended_units_owing
        let s = self.suspended_owing;
        let n = s.unit.len();
        let mut cols = vec![date_col("as_of", vec![as_of_day; n])?];
        cols.extend(unit_cols(units, &s.unit, true));
        cols.extend([
            date_col("from_month", s.from)?,
            date_col("to_month", s.to)?,
            date_col("makeup_month", s.makeup_month)?,
            i64_col("debt", s.debt),
            i64_col("debt_months", s.debt_months),
            i64_col("interest", s.interest),
            i64_col("deferred_pension_part", s.deferred),
        ]);
        publish(root, &tables::SUSPENDED_UNITS_OWING, DataFrame::new(n, cols)?)?;

        // makeup_unpaid
        let x = self.makeup;
        let n = x.unit.len();
        let mut cols = vec![date_col("as_of", vec![as_of_day; n])?];
        cols.extend(unit_cols(units, &x.unit, true));
        cols.extend([
            date_col("from_month", x.from)?,
            date_col("to_month", x.to)?,
            date_col("makeup_month", x.makeup_month)?,
            i64_col("makeup_due", x.makeup_due),
            i64_col("makeup_unpaid", x.makeup_unpaid),
            bool_col("overdue", x.overdue),
            i64_col("debt", x.debt),
            i64_col("debt_months", x.debt_months),
        ]);
        publish(root, &tables::MAKEUP_UNPAID, DataFrame::new(n, cols)?)?;

        // silver/weekly_debt: the publish stage's debt figures per report week.
        let n = self.weekly.len();
        let (mut prov, mut end, mut debt, mut units_in_debt, mut over) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for ((w, p), [d, u, o]) in self.weekly {
            prov.push(p);
            end.push(days(week_ends[w as usize]));
            debt.push(d);
            units_in_debt.push(u);
            over.push(o);
        }
        let mut df = DataFrame::new(
            n,
            vec![
                date_col("as_of", vec![as_of_day; n])?,
                Column::new("province_code".into(), prov),
                date_col("week_end", end)?,
                i64_col("debt", debt),
                i64_col("units_in_debt", units_in_debt),
                i64_col("units_in_debt_3m", over),
            ],
        )?;
        lake::write_parquet(&lake.silver_file(WEEKLY_DEBT), &mut df)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_before_the_thresholds_first_row_is_held_to_the_as_of_months_limit() {
        let r = Reference::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap();
        let p = |a: &str, b: &str| Suspension { from: a.parse().unwrap(), to: b.parse().unwrap() };
        // One suspension of 15 months from 2017-06 (thresholds.csv starts in
        // 2018-01): held to the 12 of the as-of month, not an error.
        let mut v = vec![p("2018-01", "2018-08"), p("2017-06", "2017-12")];
        assert_eq!(hold_suspensions(&mut v, &r, "2020-06".parse().unwrap()).unwrap(), 3);
        assert_eq!(v, vec![p("2017-06", "2017-12"), p("2018-01", "2018-05")], "sorted, then held");
    }

    #[test]
    fn rows_are_grouped_by_unit_in_row_order_with_orphans_counted() {
        let codes = StringChunked::new("unit_code".into(), ["B", "A", "B", "X", "A", "A"]);
        let index: HashMap<&str, u32> = [("A", 0), ("B", 1), ("C", 2)].into_iter().collect();
        let (g, orphans) = group_rows_by_unit(&codes, &index, 3).unwrap();
        assert_eq!(g.rows(0), [1, 4, 5]);
        assert_eq!(g.rows(1), [0, 2]);
        assert!(g.rows(2).is_empty());
        assert_eq!(orphans, 1);
    }
}
