//! Publish: the weekly report (dispatch §5) and plan vs target (§4).
//!
//! ```text
//! silver (contributions, payments, enrolments, suspensions, conferences,
//!         covid_reviews, plan_targets, worklist_history, weekly_debt)
//!   ─► gold/province_weekly, province_weekly_2025, national_weekly, plan_vs_target
//! ```
//! A run at as-of D computes every week of its report window
//! ([`crate::month::report_window`]): the weeks of the report week's calendar
//! year up to the last week that ended before D. Each figure is as of the end
//! of the week's Sunday: events dated after it are left out, and conform has
//! already left out extracts dated after D. The weekly tables are an archive:
//! the report day's run (the Monday) replaces its report week, every run
//! fills weeks no run has computed yet, and the rest is kept, so a week
//! reported on its Monday stays as it was sent; `data_as_of` tells which run
//! computed a row.

pub mod tables;

use crate::assess::dues::Suspension;
use crate::coverage::frame::{self, days, from_days, ints, strs};
use crate::lake::{self, gold, Lake};
use crate::month::{iso_week, monday_of, report_window, Month};
use crate::reference::Reference;
use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use tables::{NATIONAL_WEEKLY as NATIONAL_TABLE, PLAN_VS_TARGET as PLAN_TABLE};

pub const PROVINCE_WEEKLY: &str = "province_weekly";
pub const PROVINCE_WEEKLY_2025: &str = "province_weekly_2025";
pub const NATIONAL_WEEKLY: &str = "national_weekly";
pub const PLAN_VS_TARGET: &str = "plan_vs_target";

/// The figure columns of the weekly tables that are counts or sums, in file
/// order after `compulsory_month` (the plan columns come after them).
const FIGURES: [&str; 23] = [
    "compulsory_participants",
    "compulsory_units",
    "voluntary_participants",
    "household_hi_members",
    "uninsured_workers_found_week",
    "uninsured_workers_found_ytd",
    "unregistered_employers_found_week",
    "unregistered_employers_found_ytd",
    "workers_developed_week",
    "workers_developed_ytd",
    "employers_developed_week",
    "employers_developed_ytd",
    "collected_week",
    "collected_ytd",
    "debt",
    "units_in_debt",
    "units_in_debt_3m",
    "suspended_units",
    "conferences_week",
    "conference_attended_week",
    "conference_registrations_week",
    "conference_registrations_ytd",
    "covid_reviews_week",
];
const F_COMPULSORY: usize = 0;
const F_UNITS: usize = 1;
const F_VOLUNTARY: usize = 2;
const F_HOUSEHOLD: usize = 3;
const F_WORKERS_FOUND: usize = 4;
const F_EMPLOYERS_FOUND: usize = 6;
const F_WORKERS_DEV: usize = 8;
const F_EMPLOYERS_DEV: usize = 10;
const F_COLLECTED: usize = 12;
const F_DEBT: usize = 14;
const F_SUSPENDED: usize = 17;
const F_CONFERENCES: usize = 18;
const F_COVID: usize = 22;
/// Figures counted distinct per region (a person declared in two provinces is
/// one person nationally); the others are sums and roll up by addition.
const DISTINCT: [usize; 4] = [F_COMPULSORY, F_UNITS, F_VOLUNTARY, F_HOUSEHOLD];

/// The four Decision 06 measures: (name, plan_targets column, actual figure).
const MEASURES: [(&str, &str, usize); 4] = [
    ("collection", "collection_target", F_COLLECTED + 1),
    ("compulsory", "compulsory_target", F_COMPULSORY),
    ("voluntary", "voluntary_target", F_VOLUNTARY),
    ("household_hi", "household_hi_target", F_HOUSEHOLD),
];

type Figures = [i64; FIGURES.len()];

#[derive(Clone, Debug, Default)]
pub struct PublishReport {
    pub report_week: String,
    pub weeks: usize,
    /// Rows of province_weekly this run wrote (replaced or filled).
    pub rows_written: usize,
    /// Rows of province_weekly kept from earlier runs.
    pub rows_kept: usize,
    pub collected_report_week: i64,
    /// Every week of the window was published already and this run was not
    /// the report day's: nothing was computed (see [`run`]).
    pub reused: bool,
    pub seconds: f64,
}

/// The three levels of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Level {
    Province,
    Province2025,
    National,
}
const LEVELS: [Level; 3] = [Level::Province, Level::Province2025, Level::National];

/// The report window and what each level's regions are.
struct Ctx<'a> {
    lake: &'a Lake,
    reference: &'a Reference,
    as_of: NaiveDate,
    /// Sundays of the window, oldest first.
    sundays: Vec<NaiveDate>,
    /// 31 December of the year before the window: the plan's starting level.
    baseline: NaiveDate,
    /// unit_code → province (silver units).
    units: HashMap<String, String>,
}

impl Ctx<'_> {
    fn year(&self) -> i32 {
        self.sundays.last().map_or(self.as_of.year(), |s| s.year())
    }

    /// The evaluation dates: the window's Sundays, then the baseline (index K).
    fn eval_dates(&self) -> Vec<NaiveDate> {
        self.sundays.iter().copied().chain([self.baseline]).collect()
    }

    /// Index of the week (in the window) holding `d`, if any.
    fn week_of(&self, d: NaiveDate) -> Option<usize> {
        let first_monday = monday_of(*self.sundays.first()?);
        if d < first_monday || d > *self.sundays.last()? {
            return None;
        }
        Some(((d - first_monday).num_days() / 7) as usize)
    }

    /// First week whose year-to-date includes `d` (1 January of the year to the
    /// week's Sunday), if any.
    fn ytd_from(&self, d: NaiveDate) -> Option<usize> {
        if d.year() != self.year() || d > *self.sundays.last()? {
            return None;
        }
        self.sundays.iter().position(|s| *s >= d)
    }

    /// The region a 2020 province belongs to at `level`.
    fn region(&self, level: Level, province: &str) -> Option<String> {
        match level {
            Level::Province => Some(province.to_string()),
            Level::Province2025 => self.reference.province(province).map(|p| p.code_2025.clone()),
            Level::National => Some("VN".into()),
        }
    }

    /// Every region of a level, sorted.
    fn regions(&self, level: Level) -> Vec<String> {
        let set: std::collections::BTreeSet<String> =
            self.reference.provinces.iter().filter_map(|p| self.region(level, &p.code)).collect();
        set.into_iter().collect()
    }
}

/// The latest complete month at the end of day `d`.
fn complete_month(d: NaiveDate) -> Month {
    Month::of_date(d + chrono::Duration::days(1)).prev()
}

/// `baseline + (target − baseline) × elapsed ÷ total`, halves up.
pub fn straight_line(baseline: i64, target: i64, elapsed: i64, total: i64) -> i64 {
    let num = i128::from(target - baseline) * i128::from(elapsed);
    let den = i128::from(total);
    baseline + (2 * num + den).div_euclid(2 * den) as i64
}

/// Runs the stage for `as_of`. With `reuse`, a run that would only keep
/// what is published (not the report day's, and every week of the window
/// already there for every region: the nightly run from Tuesday to Sunday)
/// computes nothing; `bhxh run --full` computes every week all the same.
pub fn run(lake: &Lake, reference: &Reference, as_of: NaiveDate, reuse: bool) -> Result<PublishReport> {
    let start = Instant::now();
    let sundays = report_window(as_of);
    let year = sundays.last().map_or(as_of.year(), |s| s.year());
    let baseline = NaiveDate::from_ymd_opt(year - 1, 12, 31).context("baseline date")?;
    let units = unit_provinces(lake)?;
    let ctx = Ctx { lake, reference, as_of, sundays, baseline, units };
    let k = ctx.sundays.len();
    if reuse {
        if let Some(mut report) = nothing_to_add(&ctx)? {
            write_plan_vs_target(lake)?;
            report.seconds = start.elapsed().as_secs_f64();
            return Ok(report);
        }
    }

    // Sums at the 2020-province level, then rolled up.
    let mut t = Instant::now();
    let mut lap = |part: &str| {
        tracing::debug!(stage = "publish", part, seconds = t.elapsed().as_secs_f64(), "part done");
        t = Instant::now();
    };
    let mut sums: HashMap<String, Vec<Figures>> = HashMap::new();
    add_history(&ctx, &mut sums)?;
    add_payments(&ctx, &mut sums)?;
    add_debt(&ctx, &mut sums)?;
    add_suspensions(&ctx, &mut sums)?;
    add_conferences(&ctx, &mut sums)?;
    add_covid_reviews(&ctx, &mut sums)?;
    lap("sums");
    // Distinct counts, per level; index K is the baseline date.
    let distinct = distinct_counts(&ctx)?;
    lap("distinct counts");
    let targets = plan_targets(&ctx)?;

    let mut report = PublishReport { report_week: ctx.sundays.last().map(|s| iso_week(*s)).unwrap_or_default(), weeks: k, ..Default::default() };
    for level in LEVELS {
        let mut rows: Vec<Row> = Vec::new();
        for region in ctx.regions(level) {
            let mut figs = vec![[0i64; FIGURES.len()]; k + 1];
            for p in &reference.provinces {
                if ctx.region(level, &p.code).as_deref() != Some(region.as_str()) {
                    continue;
                }
                if let Some(v) = sums.get(&p.code) {
                    for (acc, x) in figs.iter_mut().zip(v) {
                        for (a, b) in acc.iter_mut().zip(x) {
                            *a += b;
                        }
                    }
                }
            }
            for (w, f) in figs.iter_mut().enumerate() {
                for i in DISTINCT {
                    f[i] = distinct.get(&(level, region.clone(), w, i)).copied().unwrap_or(0);
                }
            }
            let mut t = [None; 4];
            for p in &reference.provinces {
                if ctx.region(level, &p.code).as_deref() == Some(region.as_str()) {
                    if let Some(pt) = targets.get(&p.code) {
                        for (a, b) in t.iter_mut().zip(pt) {
                            if let Some(b) = b {
                                *a = Some(a.unwrap_or(0) + b);
                            }
                        }
                    }
                }
            }
            for w in 0..k {
                rows.push(Row { region: region.clone(), week: w, figures: figs[w], baseline: figs[k], targets: t });
            }
        }
        let df = weekly_frame(&ctx, level, &rows)?;
        let (written, kept, collected) = merge_and_write(&ctx, level, df)?;
        lap("level written");
        if level == Level::Province {
            // What is published for the report week (a run after Monday keeps
            // Monday's row, whatever it computed): the same on every path.
            (report.rows_written, report.rows_kept, report.collected_report_week) = (written, kept, collected);
        }
    }
    write_plan_vs_target(lake)?;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

struct Row {
    region: String,
    week: usize,
    figures: Figures,
    /// The distinct figures at the baseline date.
    baseline: Figures,
    targets: [Option<i64>; 4],
}

fn slot<'a>(sums: &'a mut HashMap<String, Vec<Figures>>, province: &str, weeks: usize) -> &'a mut Vec<Figures> {
    sums.entry(province.to_string()).or_insert_with(|| vec![[0; FIGURES.len()]; weeks])
}

/// Adds one event to the week holding `d` (`_week` figure `f`) and to every
/// year-to-date from it on (`f + 1`, when `ytd`).
fn add_event(ctx: &Ctx, sums: &mut HashMap<String, Vec<Figures>>, province: &str, d: NaiveDate, f: usize, x: i64, ytd: bool) {
    let k = ctx.sundays.len();
    let week = ctx.week_of(d);
    let from = if ytd { ctx.ytd_from(d) } else { None };
    if week.is_none() && from.is_none() {
        return;
    }
    let v = slot(sums, province, k);
    if let Some(w) = week {
        v[w][f] += x;
    }
    if let Some(w0) = from {
        for fig in &mut v[w0..] {
            fig[f + 1] += x;
        }
    }
}

/// Units' provinces (silver units).
fn unit_provinces(lake: &Lake) -> Result<HashMap<String, String>> {
    let Some(lf) = frame::silver(lake, "units")? else { return Ok(HashMap::new()) };
    let df = lf.select([col("unit_code"), col("province_code")]).collect()?;
    let (u, p) = (strs(&df, "unit_code")?, strs(&df, "province_code")?);
    Ok(u.into_iter().zip(p).filter_map(|(u, p)| Some((u?, p?))).collect())
}

/// Found and developed, from the coverage stage's worklist history.
fn add_history(ctx: &Ctx, sums: &mut HashMap<String, Vec<Figures>>) -> Result<()> {
    let Some(lf) = frame::silver(ctx.lake, "worklist_history")? else { return Ok(()) };
    let df = lf
        .filter(col("item_kind").eq(lit("uninsured_worker")).or(col("item_kind").eq(lit("unregistered_employer"))))
        .select([col("item_kind"), col("province_code"), col("first_listed_on"), col("developed_on")])
        .collect()?;
    let (kind, prov, first, dev) = (strs(&df, "item_kind")?, strs(&df, "province_code")?, days(&df, "first_listed_on")?, days(&df, "developed_on")?);
    for i in 0..df.height() {
        let (Some(kind), Some(prov)) = (&kind[i], &prov[i]) else { continue };
        let workers = kind == "uninsured_worker";
        if let Some(d) = first[i] {
            let f = if workers { F_WORKERS_FOUND } else { F_EMPLOYERS_FOUND };
            add_event(ctx, sums, prov, from_days(d), f, 1, true);
        }
        if let Some(d) = dev[i] {
            let f = if workers { F_WORKERS_DEV } else { F_EMPLOYERS_DEV };
            add_event(ctx, sums, prov, from_days(d), f, 1, true);
        }
    }
    Ok(())
}

/// Collected: payments by paid_on, in the unit's province.
fn add_payments(ctx: &Ctx, sums: &mut HashMap<String, Vec<Figures>>) -> Result<()> {
    let Some(lf) = frame::silver(ctx.lake, "payments")? else { return Ok(()) };
    let (Some(first), Some(last)) = (ctx.sundays.first(), ctx.sundays.last()) else { return Ok(()) };
    let from = monday_of(*first).min(NaiveDate::from_ymd_opt(ctx.year(), 1, 1).context("1 January")?);
    let df = lf
        .filter(col("paid_on").gt_eq(lit(from)).and(col("paid_on").lt_eq(lit(*last))))
        .group_by([col("unit_code"), col("paid_on")])
        .agg([col("amount").sum()])
        .collect()?;
    let (u, on, amount) = (strs(&df, "unit_code")?, days(&df, "paid_on")?, ints(&df, "amount")?);
    for i in 0..df.height() {
        let (Some(u), Some(on), Some(a)) = (&u[i], on[i], amount[i]) else { continue };
        let Some(p) = ctx.units.get(u) else { continue };
        add_event(ctx, sums, p, from_days(on), F_COLLECTED, a, true);
    }
    Ok(())
}

/// Debt at each week end, from the assess stage's silver/weekly_debt.
fn add_debt(ctx: &Ctx, sums: &mut HashMap<String, Vec<Figures>>) -> Result<()> {
    let f = ctx.lake.silver_file(crate::assess::WEEKLY_DEBT);
    if !f.exists() {
        return Ok(());
    }
    let df = lake::read_parquet(&f)?;
    // Debt cut for another as-of (`bhxh stage publish` after assess ran for
    // another date) would be silently wrong weeks: refuse it.
    let written_for = days(&df, "as_of")?.into_iter().flatten().next().map(from_days);
    if let Some(d) = written_for.filter(|d| *d != ctx.as_of) {
        anyhow::bail!("silver/{} was written by assess as of {d}, not {}: run the assess stage for this date first", crate::assess::WEEKLY_DEBT, ctx.as_of);
    }
    let (p, end) = (strs(&df, "province_code")?, days(&df, "week_end")?);
    let (debt, units, over) = (ints(&df, "debt")?, ints(&df, "units_in_debt")?, ints(&df, "units_in_debt_3m")?);
    let k = ctx.sundays.len();
    for i in 0..df.height() {
        let (Some(p), Some(end)) = (&p[i], end[i]) else { continue };
        let Some(w) = ctx.sundays.iter().position(|s| *s == from_days(end)) else { continue };
        let v = slot(sums, p, k);
        v[w][F_DEBT] += debt[i].unwrap_or(0);
        v[w][F_DEBT + 1] += units[i].unwrap_or(0);
        v[w][F_DEBT + 2] += over[i].unwrap_or(0);
    }
    Ok(())
}

/// Units inside a suspension in each week end's month: the periods as the
/// assess stage holds them (`assess::hold_suspensions`), so a month beyond
/// a suspension's limit is not counted here either.
fn add_suspensions(ctx: &Ctx, sums: &mut HashMap<String, Vec<Figures>>) -> Result<()> {
    let Some(lf) = frame::silver(ctx.lake, "suspensions")? else { return Ok(()) };
    let df = lf.select([col("unit_code"), col("from_month"), col("to_month")]).collect()?;
    let (u, from, to) = (strs(&df, "unit_code")?, days(&df, "from_month")?, days(&df, "to_month")?);
    let mut by_unit: HashMap<&str, Vec<Suspension>> = HashMap::new();
    for i in 0..df.height() {
        let (Some(u), Some(from), Some(to)) = (&u[i], from[i], to[i]) else { continue };
        by_unit.entry(u.as_str()).or_default().push(Suspension { from: Month::of_date(from_days(from)), to: Month::of_date(from_days(to)) });
    }
    let k = ctx.sundays.len();
    let as_of = Month::of_date(ctx.as_of);
    for (u, mut periods) in by_unit {
        let Some(p) = ctx.units.get(u) else { continue };
        crate::assess::hold_suspensions(&mut periods, ctx.reference, as_of)?;
        for (w, s) in ctx.sundays.iter().enumerate() {
            if crate::assess::dues::suspending(&periods, Month::of_date(*s)).is_some() {
                slot(sums, p, k)[w][F_SUSPENDED] += 1;
            }
        }
    }
    Ok(())
}

/// Conferences held in the week, by their province.
fn add_conferences(ctx: &Ctx, sums: &mut HashMap<String, Vec<Figures>>) -> Result<()> {
    let Some(lf) = frame::silver(ctx.lake, "conferences")? else { return Ok(()) };
    let df = lf.select([col("province_code"), col("held_on"), col("attended"), col("registered")]).collect()?;
    let (p, on, att, reg) = (strs(&df, "province_code")?, days(&df, "held_on")?, ints(&df, "attended")?, ints(&df, "registered")?);
    for i in 0..df.height() {
        let (Some(p), Some(on)) = (&p[i], on[i]) else { continue };
        let on = from_days(on);
        add_event(ctx, sums, p, on, F_CONFERENCES, 1, false);
        add_event(ctx, sums, p, on, F_CONFERENCES + 1, att[i].unwrap_or(0), false);
        add_event(ctx, sums, p, on, F_CONFERENCES + 2, reg[i].unwrap_or(0), true);
    }
    Ok(())
}

/// Covid reviews done in the week, by the unit's province.
fn add_covid_reviews(ctx: &Ctx, sums: &mut HashMap<String, Vec<Figures>>) -> Result<()> {
    let Some(lf) = frame::silver(ctx.lake, "covid_reviews")? else { return Ok(()) };
    let df = lf.select([col("unit_code"), col("reviewed_on")]).collect()?;
    let (u, on) = (strs(&df, "unit_code")?, days(&df, "reviewed_on")?);
    for i in 0..df.height() {
        let (Some(u), Some(on)) = (&u[i], on[i]) else { continue };
        let Some(p) = ctx.units.get(u) else { continue };
        add_event(ctx, sums, p, from_days(on), F_COVID, 1, false);
    }
    Ok(())
}

/// The provinces a month's rows can be counted in, numbered (below 256: a
/// province is the low byte of a counted pair), with each level's regions
/// (sorted) and every province's region number at each level.
struct Regions {
    /// (`province_code`, `prov`: the province's number), for a join.
    provinces: DataFrame,
    /// Per level: its regions, and per province number its region's position among them.
    levels: Vec<(Level, Vec<String>, Vec<Option<usize>>)>,
}

impl Regions {
    fn new(ctx: &Ctx) -> Result<Regions> {
        let codes: Vec<String> = ctx.reference.provinces.iter().map(|p| p.code.clone()).collect();
        anyhow::ensure!(codes.len() <= 256, "{} provinces: more than a byte numbers", codes.len());
        let provinces = DataFrame::new(
            codes.len(),
            vec![Column::new("province_code".into(), codes.clone()), Column::new("prov".into(), (0..codes.len() as u64).collect::<Vec<_>>())],
        )?;
        let levels = LEVELS
            .into_iter()
            .map(|level| {
                let regions = ctx.regions(level);
                let of: Vec<Option<usize>> =
                    codes.iter().map(|c| ctx.region(level, c).and_then(|r| regions.binary_search(&r).ok())).collect();
                (level, regions, of)
            })
            .collect();
        Ok(Regions { provinces, levels })
    }
}

/// Distinct ids per region at every level, from `pairs` (`id << 8 |
/// province number`, one per row counted): sorted and deduplicated once,
/// each id's provinces are read together and the id counted once in each
/// region they fall in, at each level. The counts are those of
/// `n_unique` grouped by region, level by level; the sort replaces a hash
/// table of the month's ids per level and figure (at 16M people 10M
/// entries each, read at random: the stage's largest part).
fn distinct_per_level(mut pairs: Vec<u64>, levels: &[(Level, Vec<String>, Vec<Option<usize>>)]) -> Vec<Vec<i64>> {
    use rayon::slice::ParallelSliceMut;
    pairs.par_sort_unstable();
    pairs.dedup();
    let mut counts: Vec<Vec<i64>> = levels.iter().map(|(_, regions, _)| vec![0; regions.len()]).collect();
    let mut seen: Vec<usize> = Vec::new();
    for same_id in pairs.chunk_by(|a, b| a >> 8 == b >> 8) {
        for ((_, _, of), counts) in levels.iter().zip(counts.iter_mut()) {
            seen.clear();
            seen.extend(same_id.iter().filter_map(|p| of.get((p & 0xff) as usize).copied().flatten()));
            seen.sort_unstable();
            seen.dedup();
            for &r in &seen {
                counts[r] += 1;
            }
        }
    }
    counts
}

/// The 2020 → 2025 province map as a frame (`province_code`, `region`).
fn region_map(ctx: &Ctx, level: Level) -> DataFrame {
    let (a, b): (Vec<String>, Vec<String>) = ctx
        .reference
        .provinces
        .iter()
        .filter_map(|p| Some((p.code.clone(), ctx.region(level, &p.code)?)))
        .unzip();
    DataFrame::new(a.len(), vec![Column::new("province_code".into(), a), Column::new("region".into(), b)]).expect("two equal columns")
}

/// Distinct people and units per level, region and evaluation date:
/// `(level, region, date index, figure) → count`.
fn distinct_counts(ctx: &Ctx) -> Result<HashMap<(Level, String, usize, usize), i64>> {
    let mut out = HashMap::new();
    let dates = ctx.eval_dates();
    let units = frame::silver(ctx.lake, "units")?.map(|u| u.select([col("unit_code"), col("province_code")]));

    // Compulsory: the latest complete month at each date.
    if let (Some(contrib), Some(units)) = (frame::silver(ctx.lake, "contributions")?, units.clone()) {
        let months: Vec<Month> = dates.iter().map(|d| complete_month(*d)).collect();
        let mut distinct = months.clone();
        distinct.sort();
        distinct.dedup();
        let due = crate::assess::dues::DUE_STATUSES.iter().map(|s| col("work_status").eq(lit(*s))).reduce(|a, b| a.or(b)).expect("statuses");
        // One month at a time: the distinct counts of a month need only that
        // month's declarations (with the whole window at once, on the
        // in-memory engine, the stage peaked at 10 GB at 16M people). The
        // silver table keeps its extracts' order, so a month's filter reads
        // all of it: the months' due declarations, with their units'
        // provinces, are split by month in one streaming pass first. At 4M
        // people a filter per month and level (18 reads of the table) took
        // 10.2 s; the split takes 1.3 s and the counts from it 5.4 s.
        // The parts hold numbers, not strings, for the counts to sort: the
        // si_number as the number it is (ten digits: ingest refuses any
        // other form, and a strict cast fails the stage rather than count a
        // null), the unit as its row in silver `units` (one row per
        // unit_code). At 4M people the counts took 8.5 s on strings, grouped
        // by row-encoded (region, value) keys; 6.1 s hashing numbers, level
        // by level; one sort for the three levels (`distinct_per_level`)
        // took the part from 12.1–13.5 to 8.8–9.2 s (the split included).
        let dir = lake::ScratchDir::new(ctx.lake.root.join("_state/publish/by_month"))?;
        let rows = contrib
            .filter(frame::month_in(&distinct).and(due))
            .select([col("unit_code"), col("si_number").strict_cast(DataType::UInt64), col("month")])
            .join(units.with_row_index("unit", None), [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Inner))
            .select([col("unit"), col("si_number"), col("month"), col("province_code")]);
        lake::sink_parquet_by(rows, "month", dir.path())?;
        let regions = Regions::new(ctx)?;
        for month in distinct {
            let files = lake::parquet_part(dir.path(), "month", &month.first_day().format("%Y-%m-%d").to_string())?;
            if files.is_empty() {
                continue;
            }
            // The month's rows as (id << 8 | province number) pairs, one
            // primitive column per figure; a province the reference does
            // not list is in no region, as before.
            let df = lake::scan_parquet(&files)?
                .join(regions.provinces.clone().lazy(), [col("province_code")], [col("province_code")], JoinArgs::new(JoinType::Inner))
                .select([
                    ((col("si_number").cast(DataType::UInt64) * lit(256u64)) + col("prov")).alias("person"),
                    ((col("unit").cast(DataType::UInt64) * lit(256u64)) + col("prov")).alias("unit"),
                ])
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single();
            for (figure, id) in [(F_COMPULSORY, "person"), (F_UNITS, "unit")] {
                let pairs: Vec<u64> = df.column(id)?.u64()?.iter().flatten().collect();
                let counts = distinct_per_level(pairs, &regions.levels);
                for ((level, names, _), counts) in regions.levels.iter().zip(counts) {
                    for (r, n) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                        for (w, wm) in months.iter().enumerate() {
                            if *wm == month {
                                out.insert((*level, names[r].clone(), w, figure), n);
                            }
                        }
                    }
                }
            }
        }
    }

    // Voluntary and household: enrolments covering the date's month, in the
    // person's province (si_people), else the agent's.
    if let Some(enrol) = frame::silver(ctx.lake, "enrolments")? {
        let mut lf = enrol.select([col("si_number"), col("scheme"), col("agent_code"), col("paid_from"), col("paid_through")]);
        lf = match frame::silver(ctx.lake, "people")? {
            Some(p) => lf.join(
                p.select([col("si_number"), col("province_code").alias("person_province")]),
                [col("si_number")],
                [col("si_number")],
                JoinArgs::new(JoinType::Left),
            ),
            None => lf.with_column(lit(NULL).cast(DataType::String).alias("person_province")),
        };
        lf = match frame::silver(ctx.lake, "agents")? {
            Some(a) => lf.join(
                a.select([col("agent_code"), col("province_code").alias("agent_province")]).unique(Some(cols(["agent_code"])), UniqueKeepStrategy::First),
                [col("agent_code")],
                [col("agent_code")],
                JoinArgs::new(JoinType::Left),
            ),
            None => lf.with_column(lit(NULL).cast(DataType::String).alias("agent_province")),
        };
        // Counted once per distinct month (the 24 dates fall in about 7),
        // then given to every date in it.
        let months: Vec<NaiveDate> = dates.iter().map(|d| Month::of_date(*d).first_day()).collect();
        let mut distinct = months.clone();
        distinct.sort();
        distinct.dedup();
        let eval = DataFrame::new(distinct.len(), vec![frame::date_column("eval_month", distinct.iter().map(|m| Some(*m)).collect())?])?;
        let lf = lf
            .with_column(coalesce(&[col("person_province"), col("agent_province")]).alias("province_code"))
            .cross_join(eval.lazy(), None)
            .filter(col("paid_from").lt_eq(col("eval_month")).and(col("paid_through").gt_eq(col("eval_month"))))
            .select([col("si_number"), col("scheme"), col("province_code"), col("eval_month")]);
        for level in LEVELS {
            let df = lf
                .clone()
                .join(region_map(ctx, level).lazy(), [col("province_code")], [col("province_code")], JoinArgs::new(JoinType::Inner))
                .group_by([col("region"), col("scheme"), col("eval_month")])
                .agg([col("si_number").n_unique().alias("people")])
                .collect()?;
            let (r, s, em, n) = (strs(&df, "region")?, strs(&df, "scheme")?, days(&df, "eval_month")?, ints(&df, "people")?);
            for i in 0..df.height() {
                let (Some(r), Some(s), Some(em)) = (&r[i], &s[i], em[i]) else { continue };
                let f = if s == "voluntary_si" { F_VOLUNTARY } else { F_HOUSEHOLD };
                for (date, m) in months.iter().enumerate() {
                    if *m == from_days(em) {
                        out.insert((level, r.clone(), date, f), n[i].unwrap_or(0));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The year's targets per 2020 province, in [`MEASURES`] order.
fn plan_targets(ctx: &Ctx) -> Result<HashMap<String, [Option<i64>; 4]>> {
    let Some(lf) = frame::silver(ctx.lake, "plan_targets")? else { return Ok(HashMap::new()) };
    let df = lf.filter(col("year").eq(lit(i64::from(ctx.year())))).collect()?;
    let p = strs(&df, "province_code")?;
    let cols: Vec<Vec<Option<i64>>> =
        MEASURES.iter().map(|(_, c, _)| if df.column(c).is_ok() { ints(&df, c) } else { Ok(vec![None; df.height()]) }).collect::<Result<_>>()?;
    let mut out = HashMap::new();
    for i in 0..df.height() {
        let Some(p) = &p[i] else { continue };
        out.insert(p.clone(), [cols[0][i], cols[1][i], cols[2][i], cols[3][i]]);
    }
    Ok(out)
}

fn weekly_frame(ctx: &Ctx, level: Level, rows: &[Row]) -> Result<DataFrame> {
    let n = rows.len();
    let sunday = |r: &Row| ctx.sundays[r.week];
    let mut cols = vec![
        Column::new("week".into(), rows.iter().map(|r| iso_week(sunday(r))).collect::<Vec<_>>()),
        frame::date_column("week_start", rows.iter().map(|r| Some(monday_of(sunday(r)))).collect())?,
        frame::date_column("week_end", rows.iter().map(|r| Some(sunday(r))).collect())?,
        frame::date_column("report_date", rows.iter().map(|r| Some(sunday(r) + chrono::Duration::days(1))).collect())?,
        frame::date_column("data_as_of", vec![Some(ctx.as_of); n])?,
    ];
    let prov = |r: &Row| ctx.reference.province(&r.region);
    match level {
        Level::Province => {
            cols.push(Column::new("province_code".into(), rows.iter().map(|r| r.region.clone()).collect::<Vec<_>>()));
            cols.push(Column::new("province_code_2025".into(), rows.iter().map(|r| prov(r).map(|p| p.code_2025.clone())).collect::<Vec<_>>()));
            cols.push(Column::new("province_name".into(), rows.iter().map(|r| prov(r).map(|p| p.name.clone())).collect::<Vec<_>>()));
        }
        Level::Province2025 => {
            let members = |code: &str| {
                let v: Vec<&str> = ctx.reference.provinces.iter().filter(|p| p.code_2025 == code).map(|p| p.code.as_str()).collect();
                v.join(",")
            };
            let name = |code: &str| ctx.reference.provinces.iter().find(|p| p.code_2025 == code).map(|p| p.name_2025.clone());
            cols.push(Column::new("province_code".into(), rows.iter().map(|r| r.region.clone()).collect::<Vec<_>>()));
            cols.push(Column::new("province_name".into(), rows.iter().map(|r| name(&r.region)).collect::<Vec<_>>()));
            cols.push(Column::new("provinces_2020".into(), rows.iter().map(|r| members(&r.region)).collect::<Vec<_>>()));
        }
        Level::National => cols.push(Column::new("country".into(), vec!["VN"; n])),
    }
    cols.push(frame::date_column("compulsory_month", rows.iter().map(|r| Some(complete_month(sunday(r)).first_day())).collect())?);
    for (i, name) in FIGURES.iter().enumerate() {
        cols.push(Column::new((*name).into(), rows.iter().map(|r| r.figures[i]).collect::<Vec<_>>()));
    }
    let days_in_year = |s: NaiveDate| i64::from(NaiveDate::from_ymd_opt(s.year(), 12, 31).map_or(365, |d| d.ordinal()));
    for (m, (name, _, actual)) in MEASURES.iter().enumerate() {
        let expected: Vec<Option<i64>> = rows
            .iter()
            .map(|r| {
                let s = sunday(r);
                let base = if *name == "collection" { 0 } else { r.baseline[*actual] };
                r.targets[m].map(|t| straight_line(base, t, i64::from(s.ordinal()), days_in_year(s)))
            })
            .collect();
        cols.push(Column::new(format!("{name}_target").into(), rows.iter().map(|r| r.targets[m]).collect::<Vec<_>>()));
        cols.push(Column::new(format!("{name}_expected").into(), expected));
        if *name == "collection" {
            let share: Vec<Option<f64>> = rows
                .iter()
                .map(|r| r.targets[m].filter(|t| *t > 0).map(|t| r.figures[*actual] as f64 / t as f64))
                .collect();
            cols.push(Column::new("collection_share".into(), share));
        }
    }
    Ok(DataFrame::new(n, cols)?)
}

fn table_of(level: Level) -> &'static gold::GoldTable {
    match level {
        Level::Province => &tables::PROVINCE_WEEKLY,
        Level::Province2025 => &tables::PROVINCE_WEEKLY_2025,
        Level::National => &NATIONAL_TABLE,
    }
}

/// The region key column of a level's table.
fn key_column(level: Level) -> &'static str {
    match level {
        Level::National => "country",
        _ => "province_code",
    }
}

/// The table as published, `None` when never written.
fn read_published(lake: &Lake, level: Level) -> Result<Option<DataFrame>> {
    let t = table_of(level);
    if level == Level::National {
        let f = gold::table_dir(&lake.root, t.name).join("part-0.parquet");
        return Ok(if f.exists() { Some(lake::read_parquet(&f)?) } else { None });
    }
    // The partition column comes back first; put it where the declaration has it.
    let Some(df) = gold::read_partitioned(&lake.root, t.name)? else { return Ok(None) };
    let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
    Ok(Some(df.select(names.iter().copied()).unwrap_or(df)))
}

/// Whether the run at `ctx.as_of` would only keep what is published: it is
/// not the report day's run (which replaces the report week), and every
/// level's table, of this version's schema, has a row for every region and
/// week of the window. Then the report of the run, read from
/// `province_weekly`; else `None` (the weeks must be computed).
fn nothing_to_add(ctx: &Ctx) -> Result<Option<PublishReport>> {
    if ctx.sundays.is_empty() || report_day(ctx) {
        return Ok(None);
    }
    let weeks: Vec<String> = ctx.sundays.iter().map(|s| iso_week(*s)).collect();
    let report_week = weeks.last().cloned().unwrap_or_default();
    let mut report = PublishReport { report_week: report_week.clone(), weeks: weeks.len(), reused: true, ..Default::default() };
    for level in LEVELS {
        let Some(old) = read_published(ctx.lake, level)? else { return Ok(None) };
        // Another schema, or files an older build wrote without their
        // schema version: written again.
        if table_of(level).check(&old).is_err() || !gold::is_current(&ctx.lake.root, table_of(level))? {
            return Ok(None);
        }
        let have: HashSet<(String, String)> = strs(&old, key_column(level))?
            .into_iter()
            .zip(strs(&old, "week")?)
            .filter_map(|(r, w)| Some((r?, w?)))
            .collect();
        for region in ctx.regions(level) {
            for w in &weeks {
                if !have.contains(&(region.clone(), w.clone())) {
                    return Ok(None);
                }
            }
        }
        if level == Level::Province {
            // Every published row is kept, as the computing run counts them.
            report.rows_kept = old.height();
            report.collected_report_week = collected_in(&old, &report_week)?;
        }
    }
    Ok(Some(report))
}

/// The report day's run: the Monday after the report week's Sunday.
fn report_day(ctx: &Ctx) -> bool {
    ctx.sundays.last().is_some_and(|s| *s + chrono::Duration::days(1) == ctx.as_of)
}

/// Merges the run's rows into the published table: the report week is
/// replaced, earlier weeks are added where the table has no row for the
/// region and week, every other published row is kept. Returns (rows written,
/// rows kept, `collected_week` of the report week as published).
fn merge_and_write(ctx: &Ctx, level: Level, new: DataFrame) -> Result<(usize, usize, i64)> {
    let t = table_of(level);
    t.check(&new)?;
    let key = key_column(level);
    let report = ctx.sundays.last().map(|s| iso_week(*s)).unwrap_or_default();
    // Only the report day's run (a Monday: the nightly run or a backfill)
    // replaces the report week; a run later in the week fills it if missing.
    let replace = report_day(ctx);
    let merged = match read_published(ctx.lake, level)? {
        Some(old) if t.check(&old).is_ok() => {
            let old = if replace { old.lazy().filter(col("week").neq(lit(report.clone()))) } else { old.lazy() };
            let fill = new
                .clone()
                .lazy()
                .join(old.clone().select([col(key), col("week")]), [col(key), col("week")], [col(key), col("week")], JoinArgs::new(JoinType::Anti));
            let kept = old.clone().collect()?.height();
            let df = concat([old, fill], UnionArgs::default())?.collect()?;
            let written = df.height() - kept;
            (df, written, kept)
        }
        Some(_) => {
            // An archive is never dropped silently: the weeks as sent cannot be recomputed.
            anyhow::bail!(
                "the published {} has another schema than this version declares; move {} aside (or convert it) and run again",
                t.name,
                gold::table_dir(&ctx.lake.root, t.name).display()
            );
        }
        None => {
            let n = new.height();
            (new, n, 0)
        }
    };
    let (df, written, kept) = merged;
    let df = df.sort([key, "week"], SortMultipleOptions::default())?;
    let collected = collected_in(&df, &report)?;
    if level == Level::National {
        let mut df = df;
        gold::write_single(&ctx.lake.root, t, &mut df)?;
    } else {
        gold::write_table(&ctx.lake.root, t, df)?;
    }
    Ok((written, kept, collected))
}

/// `collected_week` of `week`, summed over the table's regions.
fn collected_in(df: &DataFrame, week: &str) -> Result<i64> {
    Ok(df
        .clone()
        .lazy()
        .filter(col("week").eq(lit(week.to_string())))
        .select([col("collected_week").sum()])
        .collect()?
        .column("collected_week")?
        .i64()?
        .get(0)
        .unwrap_or(0))
}

/// `plan_vs_target`, in long form from the published `province_weekly`.
fn write_plan_vs_target(lake: &Lake) -> Result<()> {
    let Some(w) = gold::read_partitioned(&lake.root, PROVINCE_WEEKLY)? else { return Ok(()) };
    let mut parts = Vec::new();
    for (name, _, actual) in MEASURES {
        let actual = FIGURES[actual];
        parts.push(
            w.clone()
                .lazy()
                .select([
                    col("week_end").dt().year().cast(DataType::Int64).alias("year"),
                    col("week"),
                    col("week_end"),
                    col("province_code"),
                    col("province_code_2025"),
                    lit(name).alias("measure"),
                    col(format!("{name}_target")).alias("target"),
                    col(actual).alias("actual"),
                    col(format!("{name}_expected")).alias("expected"),
                    (col(actual).cast(DataType::Float64) / col(format!("{name}_target")).cast(DataType::Float64)).alias("share_of_target"),
                    (col(actual) - col(format!("{name}_expected"))).alias("gap_to_expected"),
                ]),
        );
    }
    let df = concat(parts, UnionArgs::default())?
        .with_column(
            when(col("target").gt(lit(0i64))).then(col("share_of_target")).otherwise(lit(NULL).cast(DataType::Float64)).alias("share_of_target"),
        )
        .collect()?;
    PLAN_TABLE.check(&df)?;
    gold::write_table(&lake.root, &PLAN_TABLE, df)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One person in two provinces of a region is one person there, and
    /// in each of two regions once; the largest ten-digit si_number keeps
    /// its province; a province without a region at a level is not
    /// counted there. The counts are those of distinct (region, id) pairs.
    #[test]
    fn distinct_per_level_counts_each_id_once_per_region() {
        let big = 9_999_999_999u64;
        // (id, province number)
        let rows = [(big, 0u64), (big, 1), (big, 2), (1, 0), (1, 0), (2, 2), (3, 1), (3, 2), (0, 3)];
        let levels = vec![
            // provinces 0 and 1 in region 0, 2 in region 1, 3 in region 2
            (Level::Province2025, vec!["a".to_string(), "b".to_string(), "c".to_string()], vec![Some(0), Some(0), Some(1), Some(2)]),
            (Level::National, vec!["VN".to_string()], vec![Some(0); 4]),
            // province 2 has no region at this level
            (Level::Province, vec!["p0".to_string(), "p1".to_string(), "p3".to_string()], vec![Some(0), Some(1), None, Some(2)]),
        ];
        let pairs: Vec<u64> = rows.iter().map(|&(id, p)| id * 256 + p).collect();
        let got = distinct_per_level(pairs, &levels);
        assert_eq!(got, vec![vec![3, 3, 1], vec![5], vec![2, 2, 1]]);
        for ((_, names, of), got) in levels.iter().zip(&got) {
            let mut want = vec![0i64; names.len()];
            let distinct: HashSet<(usize, u64)> = rows.iter().filter_map(|&(id, p)| Some((of[p as usize]?, id))).collect();
            for (r, _) in distinct {
                want[r] += 1;
            }
            assert_eq!(got, &want);
        }
    }

    #[test]
    fn straight_line_halves_up() {
        // 1,000,000 target, day 158 of 366: 431,693.98... → 431,694.
        assert_eq!(straight_line(0, 1_000_000, 158, 366), 431_694);
        // From 100 to 150 over half the year: 125.
        assert_eq!(straight_line(100, 150, 183, 366), 125);
        // Falling target: 100 → 90, a quarter through: 97.5 → 98 (halves up).
        assert_eq!(straight_line(100, 90, 1, 4), 98);
        assert_eq!(straight_line(0, 3, 1, 2), 2);
    }

    #[test]
    fn complete_month_at_a_sunday() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(complete_month(d(2020, 6, 7)).to_string(), "2020-05");
        assert_eq!(complete_month(d(2020, 5, 31)).to_string(), "2020-05");
        assert_eq!(complete_month(d(2019, 12, 31)).to_string(), "2019-12");
    }

    #[test]
    fn every_declared_figure_is_computed() {
        let declared: Vec<&str> = tables::PROVINCE_WEEKLY.columns.iter().map(|c| c.name).collect();
        for f in FIGURES {
            assert!(declared.contains(&f), "{f}");
        }
    }
}
