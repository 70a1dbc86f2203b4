//! Stage 4a, coverage (DOMAIN §1, §1.1, §1.2): who should be insured and is
//! not, and who should act on it.
//!
//! From silver (with `person_links` from the link stage) it publishes the gold
//! tables `uninsured_workers`, `unregistered_employers`,
//! `under_declared_wages`, `covid_review_monitor`, `should_have_resumed`,
//! `officer_worklists`, `worklist_results` (by ISO week) and
//! `worklist_results_monthly` (by calendar month); keeps the worklist history in
//! `silver/worklist_history`; and exports each province's worklists, with the
//! identities, to `<lake>/exports/<as_of>/<province_code>/officer_worklists.csv`.
//! Rules are in `pipelines/coverage.toml`.

pub mod config;
mod covid;
mod employers;
pub mod evidence;
pub mod frame;
mod month_parts;
pub mod tables;
mod under_declared;
mod uninsured;
mod worklist;

pub use config::CoverageConfig;

use crate::lake::gold::GoldTable;
use crate::lake::Lake;
use crate::month::Month;
use crate::person_key::PersonKeyer;
use crate::reference::{Fund, Payer, Reference};
use anyhow::Result;
use chrono::NaiveDate;
use frame::{ints, strs, MonthCache};
use std::cell::RefCell;
use polars::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// Silver tables this stage writes: (name, meaning, columns).
pub fn silver_tables() -> Vec<(&'static str, &'static str, &'static [(&'static str, &'static str, &'static str)])> {
    vec![("worklist_history", worklist::HISTORY_DOC, worklist::HISTORY_COLUMNS)]
}

/// The officers' worklist export columns: (header, type, meaning).
pub fn export_columns() -> &'static [(&'static str, &'static str, &'static str)] {
    worklist::EXPORT_COLUMNS
}

/// The export files of this stage: (path pattern, meaning, columns).
pub fn exports() -> Vec<(&'static str, &'static str, &'static [(&'static str, &'static str, &'static str)])> {
    vec![("exports/<as_of>/<province_code>/officer_worklists.csv (in the lake)", worklist::EXPORT_DOC, worklist::EXPORT_COLUMNS)]
}

#[derive(Clone, Debug, Default)]
pub struct CoverageReport {
    pub uninsured_pairs: u64,
    pub uninsured_by_reason: Vec<(String, u64)>,
    pub unregistered_employers: u64,
    pub under_declared_wages: u64,
    pub covid_reviews: u64,
    pub should_have_resumed: u64,
    pub worklist_items: u64,
    pub unassigned_items: u64,
    pub officers_with_work: u64,
    pub history_items: u64,
    pub developed_items: u64,
    /// Items of the history checked against the declarations for development
    /// (the pending ones; only those listed since the last run's check when
    /// its inputs are unchanged: see `worklist::mark_developed`).
    pub history_checked: u64,
    pub export_files: u64,
    /// Month answers (uninsured months, under-declared wages) read back from
    /// an earlier run, and computed.
    pub months_reused: u32,
    pub months_computed: u32,
    /// Window folds (all of a rule's months, combined) read back whole: their
    /// months are then neither read nor computed.
    pub windows_reused: u32,
    /// Frames kept for the as-of month (the listed workers' identities, the
    /// head offices without a unit, the under-declared rows, the reviewed
    /// units' declarations; see [`Ctx::kept`]) read back, and computed.
    pub frames_reused: u32,
    pub frames_computed: u32,
    pub seconds: f64,
}

/// What every part of the stage needs.
pub(crate) struct Ctx<'a> {
    pub lake: &'a Lake,
    pub cfg: &'a CoverageConfig,
    pub reference: &'a Reference,
    pub keyer: &'a PersonKeyer,
    pub as_of: NaiveDate,
    pub asof_m: Month,
    /// Total compulsory rate (all funds, both payers) of the as-of month, bp.
    pub total_rate_bp: u32,
    pub units: Units,
    pub employers: Employers,
    /// Month answers kept between runs (the nightly run's; none for a
    /// single stage or a test).
    pub months: Option<RefCell<MonthCache<'a>>>,
    /// The months the rules compute, split from the bulk tables once
    /// (see [`month_parts`]); none when fewer than a few months are computed.
    pub parts: Option<month_parts::MonthParts>,
}

impl Ctx<'_> {
    /// Estimated monthly contributions on a monthly wage bill, whole VND.
    pub fn contributions_on(&self, wage_bill: i64) -> i64 {
        crate::reference::apply_bp(wage_bill, self.total_rate_bp)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Unit {
    pub code: String,
    pub name: Option<String>,
    pub tax_code: Option<String>,
    pub province: Option<String>,
    pub officer: Option<String>,
    pub active: bool,
    /// Minimum-wage region 1–4.
    pub wage_region: Option<u8>,
}

/// si_units by code and by head tax code.
#[derive(Default)]
pub(crate) struct Units {
    pub list: Vec<Unit>,
    pub by_code: HashMap<String, usize>,
    /// Head tax code → units under it (the head's and its branches'), by code.
    pub by_head: HashMap<String, Vec<usize>>,
}

impl Units {
    fn load(lake: &Lake) -> Result<Units> {
        let mut u = Units::default();
        let Some(lf) = frame::silver(lake, "units")? else { return Ok(u) };
        let df = lf
            .select([
                col("unit_code"),
                col("name"),
                col("tax_code"),
                col("head_tax_code"),
                col("province_code"),
                col("officer_id"),
                col("status"),
                col("wage_region"),
            ])
            .sort(["unit_code"], Default::default())
            .collect()?;
        let (code, name, tax, head, prov, off, status) = (
            strs(&df, "unit_code")?,
            strs(&df, "name")?,
            strs(&df, "tax_code")?,
            strs(&df, "head_tax_code")?,
            strs(&df, "province_code")?,
            strs(&df, "officer_id")?,
            strs(&df, "status")?,
        );
        let region = ints(&df, "wage_region")?;
        for i in 0..df.height() {
            let Some(c) = code[i].clone() else { continue };
            let k = u.list.len();
            u.by_code.insert(c.clone(), k);
            if let Some(h) = &head[i] {
                u.by_head.entry(h.clone()).or_default().push(k);
            }
            u.list.push(Unit {
                code: c,
                name: name[i].clone(),
                tax_code: tax[i].clone(),
                province: prov[i].clone(),
                officer: off[i].clone().filter(|o| !o.is_empty()),
                active: status[i].as_deref() != Some("closed"),
                wage_region: region[i].and_then(|r| u8::try_from(r).ok()),
            });
        }
        Ok(u)
    }

    pub fn get(&self, code: &str) -> Option<&Unit> {
        self.by_code.get(code).map(|&k| &self.list[k])
    }

    /// The unit for wages paid under `tax_code` (head `head`): the unit
    /// registered under that exact code (a branch's own unit), else the head
    /// office's, else any unit of the employer; active ones first.
    pub fn for_employer(&self, head: &str, tax_code: Option<&str>) -> Option<&Unit> {
        let cands = self.by_head.get(head)?;
        let pick = |code: Option<&str>| {
            let mut v: Vec<&Unit> = cands.iter().map(|&k| &self.list[k]).filter(|u| code.is_none() || u.tax_code.as_deref() == code).collect();
            v.sort_by_key(|u| (!u.active, u.code.clone()));
            v.first().copied()
        };
        tax_code.and_then(|t| pick(Some(t))).or_else(|| pick(Some(head))).or_else(|| pick(None))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Employer {
    pub name: Option<String>,
    pub province: Option<String>,
}

/// tax_employers by tax code (heads and branches).
#[derive(Default)]
pub(crate) struct Employers {
    pub by_code: HashMap<String, Employer>,
}

impl Employers {
    fn load(lake: &Lake) -> Result<Employers> {
        let mut e = Employers::default();
        let Some(lf) = frame::silver(lake, "employers")? else { return Ok(e) };
        let df = lf.select([col("tax_code"), col("name"), col("province_code")]).collect()?;
        let (code, name, prov) = (strs(&df, "tax_code")?, strs(&df, "name")?, strs(&df, "province_code")?);
        for i in 0..df.height() {
            if let Some(c) = &code[i] {
                e.by_code.insert(c.clone(), Employer { name: name[i].clone(), province: prov[i].clone() });
            }
        }
        Ok(e)
    }

    /// The registry record of `tax_code`, else of its head office.
    pub fn get(&self, head: &str, tax_code: Option<&str>) -> Option<&Employer> {
        tax_code.and_then(|t| self.by_code.get(t)).or_else(|| self.by_code.get(head))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Officer {
    pub id: String,
    pub name: Option<String>,
    pub province: String,
    pub capacity: u32,
}

pub(crate) fn load_officers(lake: &Lake, default_capacity: u32) -> Result<Vec<Officer>> {
    let Some(lf) = frame::silver(lake, "officers")? else { return Ok(Vec::new()) };
    let df = lf
        .select([col("officer_id"), col("name"), col("province_code"), col("weekly_capacity")])
        .sort(["officer_id"], Default::default())
        .collect()?;
    let (id, name, prov, cap) = (strs(&df, "officer_id")?, strs(&df, "name")?, strs(&df, "province_code")?, ints(&df, "weekly_capacity")?);
    Ok((0..df.height())
        .filter_map(|i| {
            Some(Officer {
                id: id[i].clone()?,
                name: name[i].clone(),
                province: prov[i].clone()?,
                capacity: cap[i].filter(|c| *c > 0).map_or(default_capacity, |c| c as u32),
            })
        })
        .collect())
}

impl Ctx<'_> {
    /// Frame `part` of the as-of month: read back when a run kept it under
    /// the same month inputs (the rules, reference tables, wages,
    /// contributions, units and links) and the same silver `tables` besides,
    /// else computed (and kept). Computed every time without a cache (a
    /// single stage, a test) or when a table's origin is unknown. For the
    /// answers that depend on the as-of month only, not the day: a night
    /// whose extracts touch none of their inputs reads them back.
    pub(crate) fn kept(&self, part: &str, tables: &[&str], compute: impl FnOnce() -> Result<DataFrame>) -> Result<DataFrame> {
        let Some(cache) = &self.months else { return compute() };
        let Some(key) = cache.borrow().silver_key(tables) else { return compute() };
        // Not borrowed while computing: `compute` may keep month answers itself.
        if let Some((df, _)) = cache.borrow_mut().kept_frame_keyed(part, self.asof_m, &key)? {
            return Ok(df);
        }
        let mut df = compute()?;
        cache.borrow_mut().keep_frame_keyed(part, self.asof_m, &key, &mut df)?;
        Ok(df)
    }
}

/// Logs (at debug level) the seconds since `t` as the time of part `what`
/// of the stage, and restarts `t`.
pub(crate) fn lap(what: &str, t: &mut Instant) {
    tracing::debug!(stage = "coverage", part = what, seconds = t.elapsed().as_secs_f64(), "part done");
    *t = Instant::now();
}

/// Runs the coverage stage.
pub fn run(
    lake: &Lake,
    cfg: &CoverageConfig,
    reference: &Reference,
    keyer: &PersonKeyer,
    as_of: NaiveDate,
    months: Option<MonthCache>,
) -> Result<CoverageReport> {
    let start = Instant::now();
    let asof_m = Month::of_date(as_of);
    let mut total_rate_bp = 0;
    for f in Fund::ALL {
        for p in Payer::ALL {
            total_rate_bp += reference.rate(f, p, asof_m)?;
        }
    }
    let mut ctx = Ctx {
        lake,
        cfg,
        reference,
        keyer,
        as_of,
        asof_m,
        total_rate_bp,
        units: Units::load(lake)?,
        employers: Employers::load(lake)?,
        months: months.map(RefCell::new),
        parts: None,
    };
    let mut report = CoverageReport::default();

    let mut t = Instant::now();
    ctx.parts = month_parts::prepare(&ctx)?;
    if ctx.parts.is_some() {
        lap("months split", &mut t);
    }
    let mut workers = uninsured::compute(&ctx)?;
    lap("uninsured_workers", &mut t);
    let mut unregistered = employers::unregistered(&ctx)?;
    lap("unregistered_employers", &mut t);
    let under = under_declared::compute(&ctx)?;
    lap("under_declared_wages", &mut t);
    // The split's scratch folder goes before the rest of the stage.
    ctx.parts = None;
    let (monitor, mut resume) = covid::compute(&ctx)?;
    lap("covid", &mut t);
    let plan = worklist::plan(&ctx, &mut workers, &mut unregistered, &mut resume)?;
    lap("plan", &mut t);

    let under_rows = under.height() as u64;
    let monitor_rows = monitor.height() as u64;
    publish(lake, &tables::UNINSURED_WORKERS, uninsured::frame(&ctx, &workers)?)?;
    publish(lake, &tables::UNREGISTERED_EMPLOYERS, employers::frame(&ctx, &unregistered)?)?;
    publish(lake, &tables::UNDER_DECLARED_WAGES, under)?;
    publish(lake, &tables::COVID_REVIEW_MONITOR, monitor)?;
    publish(lake, &tables::SHOULD_HAVE_RESUMED, covid::resume_frame(&ctx, &resume)?)?;
    lap("gold", &mut t);
    let out = worklist::publish(&ctx, &plan, &workers)?;
    lap("worklists, history, exports", &mut t);

    report.uninsured_pairs = workers.len() as u64;
    let mut by_reason: Vec<(String, u64)> = Vec::new();
    for w in &workers {
        match by_reason.iter_mut().find(|r| r.0 == w.reason) {
            Some(r) => r.1 += 1,
            None => by_reason.push((w.reason.to_string(), 1)),
        }
    }
    by_reason.sort();
    report.uninsured_by_reason = by_reason;
    report.unregistered_employers = unregistered.len() as u64;
    report.under_declared_wages = under_rows;
    report.covid_reviews = monitor_rows;
    report.should_have_resumed = resume.len() as u64;
    report.worklist_items = plan.items.len() as u64;
    report.unassigned_items = plan.items.iter().filter(|i| i.officer.is_none()).count() as u64;
    report.officers_with_work = out.officers_with_work;
    report.history_items = out.history_items;
    report.developed_items = out.developed_items;
    report.history_checked = out.history_checked;
    report.export_files = out.export_files;
    if let Some(c) = &ctx.months {
        let c = c.borrow();
        (report.months_reused, report.months_computed, report.windows_reused) = (c.reused, c.computed, c.windows_reused);
        (report.frames_reused, report.frames_computed) = (c.frames_reused, c.frames_computed);
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Checks a frame against its declaration and publishes it as a gold table.
/// Rows without a province cannot be placed in a partition: they are left
/// out with a warning (the stages give every row a province when any source
/// has one).
pub(crate) fn publish(lake: &Lake, table: &GoldTable, df: DataFrame) -> Result<()> {
    crate::lake::gold::publish(&lake.root, table, df, "coverage")?;
    Ok(())
}

/// Where a run's exports go: `<lake>/exports/<as_of>/` (beside the dues stage's).
pub fn export_dir(lake: &Lake, as_of: NaiveDate) -> PathBuf {
    lake.root.join("exports").join(as_of.format("%Y-%m-%d").to_string())
}
