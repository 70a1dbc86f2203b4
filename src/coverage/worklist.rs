//! Officer worklists (DOMAIN §1, §1.2) and their results week by week.
//!
//! Items: every unregistered employer, every unit with uninsured workers, and
//! every "should have resumed" unit. Each goes to the unit's own officer when
//! it has one; otherwise (unregistered employers, units without an officer)
//! to the province's officer with the least work for their capacity
//! (items ÷ weekly_capacity, then fewer items, then officer id), biggest
//! items first. Each officer's items are ordered by `priority_score` and cut
//! at their `weekly_capacity`: week 1 is the ISO week of the as-of date, the
//! rest carried to the following weeks.
//!
//! History (`silver/worklist_history`): every item and every uninsured worker
//! is kept with the date it was first listed. A later run marks it
//! *developed* when it appears in due contributions for a month on or after
//! its listing month: the worker declared by a unit of the employer, the
//! unregistered employer declaring anyone, the should-have-resumed unit
//! declaring nobody out. A rerun for a date drops what was first listed on or
//! after that date and recomputes it, so reruns and backfills are idempotent.

use super::covid::ResumeRow;
use super::employers::EmployerRow;
use super::frame::{self, date_column, days, from_days, month_of, strs};
use super::uninsured::WorkerRow;
use super::{lap, load_officers, Ctx};
use crate::month::Month;
use crate::lake::gold::GoldTable;
use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::BTreeMap;
// Keyed by the agencies' own codes and references (no untrusted input to
// flood them): a fast hash, not the default SipHash.
use foldhash::{HashMap, HashMapExt};

pub const HISTORY_DOC: &str = "Every worklist item and uninsured worker ever listed, with when it was first and last listed and when it was developed; the basis of `worklist_results`.";

pub const HISTORY_COLUMNS: &[(&str, &str, &str)] = &[
    ("item_kind", "string", "Worklist kinds, plus `uninsured_worker` (one person × employer)"),
    ("item_key", "string", "Tax code, unit code, or `<employer head>|<person_ref>`"),
    ("province_code", "string", "Province"),
    ("officer_id", "string", "Officer it was last listed for"),
    ("employer_tax_code", "string", "Employer head tax code"),
    ("unit_code", "string", "Unit"),
    ("person_ref", "string", "Tax-side person (uninsured_worker)"),
    ("first_listed_on", "date", "As-of date of the first run that listed it"),
    ("week", "string", "ISO week of first_listed_on"),
    ("last_listed_on", "date", "As-of date of the last run that listed it"),
    ("developed_on", "date", "As-of date of the first run that saw it developed"),
    ("developed_month", "date", "The contribution month that developed it"),
];

pub const EXPORT_DOC: &str = "One file per province and run (UTF-8 with BOM), rows in plan order: one row per item, and for units with uninsured workers one row per worker, with their identities as the tax sources show them.";

/// (header, type, meaning); the type tells the XLSX export how to show the
/// cell (see [`crate::export::Cell`]).
pub const EXPORT_COLUMNS: &[(&str, &str, &str)] = &[
    ("Ngày dữ liệu", "date", "`as_of`: the run's as-of date"),
    ("Mã tỉnh", "string", "`province_code`: the folder's province"),
    ("Mã cán bộ", "string", "`officer_id`"),
    ("Tên cán bộ", "string", "`officer_name`"),
    ("Tuần", "string", "`week`: ISO week planned"),
    ("Từ ngày", "date", "`week_start`: Monday of that week"),
    ("Thứ tự", "int64", "`rank`: position in the officer's list"),
    ("Loại việc", "string", "`item_kind`, as in officer_worklists"),
    ("Mã đơn vị", "string", "`unit_code`"),
    ("Tên đơn vị", "string", "`unit_name`"),
    ("Mã số thuế", "string", "`employer_tax_code`"),
    ("Tên doanh nghiệp", "string", "`employer_name`"),
    ("Điểm ưu tiên (đồng/tháng)", "vnd", "`priority_score`: estimated monthly contributions uncollected × priority weight"),
    ("Số lao động", "int64", "`workers`"),
    ("Họ và tên", "string", "`full_name`: worker's name (tax source)"),
    ("Số CCCD/CMND", "string", "`citizen_id`: worker's CMND/CCCD (tax source)"),
    ("Mã số thuế cá nhân", "string", "`person_tax_code`"),
    ("Ngày sinh", "date", "`birth_date`"),
    ("Mã số BHXH", "string", "`si_number`: linked BHXH number, if any"),
    ("Số tháng chưa tham gia", "int64", "`months_uninsured`"),
    ("Tháng gần nhất", "month", "`last_month`"),
    ("Thu nhập chịu thuế bình quân", "vnd", "`avg_taxable_income`"),
    ("Lý do", "string", "`reason`: uninsured reason code"),
    ("Cách đối chiếu", "string", "`match_method`"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    UnregisteredEmployer,
    UninsuredWorkers,
    ShouldHaveResumed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UnregisteredEmployer => "unregistered_employer",
            Kind::UninsuredWorkers => "uninsured_workers",
            Kind::ShouldHaveResumed => "should_have_resumed",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub kind: Kind,
    pub key: String,
    pub province: Option<String>,
    pub unit_code: Option<String>,
    pub employer: Option<String>,
    pub workers: i64,
    pub score: i64,
    pub officer: Option<String>,
    pub assigned_by: &'static str,
    pub week: u32,
    pub rank: u32,
}

pub(crate) struct Plan {
    pub items: Vec<Item>,
    /// Monday of the as-of date's ISO week (week index 0).
    pub monday: NaiveDate,
    pub officer_names: HashMap<String, Option<String>>,
}

use crate::month::iso_week;

use crate::month::monday_of;

/// Builds the items, assigns officers, cuts the weekly lists, and writes the
/// officers back into the rows of the gold tables.
pub(crate) fn plan(ctx: &Ctx, workers: &mut [WorkerRow], unregistered: &mut [EmployerRow], resume: &mut [ResumeRow]) -> Result<Plan> {
    let mut items: Vec<Item> = Vec::new();
    let item = |kind, key: &str, province: Option<String>, unit_code: Option<String>, employer: Option<String>, workers, score| Item {
        kind,
        key: key.to_string(),
        province,
        unit_code,
        employer,
        workers,
        score,
        officer: None,
        assigned_by: "unassigned",
        week: 0,
        rank: 0,
    };
    for e in unregistered.iter() {
        items.push(item(Kind::UnregisteredEmployer, &e.tax_code, e.province.clone(), None, Some(e.tax_code.clone()), e.employees_in_tax, e.score));
    }
    let mut by_unit: BTreeMap<&str, (i64, i64, Option<String>, String)> = BTreeMap::new();
    for w in workers.iter().filter(|w| w.is_uninsured()) {
        if let Some(u) = &w.unit_code {
            let e = by_unit.entry(u.as_str()).or_insert((0, 0, w.province.clone(), w.employer_head.clone()));
            e.0 += 1;
            e.1 += w.avg_income;
        }
    }
    for (unit, (n, wages, province, head)) in &by_unit {
        let score = (ctx.contributions_on(*wages) as f64 * ctx.cfg.priority.uninsured_workers).round() as i64;
        items.push(item(Kind::UninsuredWorkers, unit, province.clone(), Some(unit.to_string()), Some(head.clone()), *n, score));
    }
    for r in resume.iter() {
        let head = ctx.units.get(&r.unit_code).and_then(|u| u.tax_code.as_deref().map(|t| crate::ids::tax_head(t).to_string()));
        items.push(item(Kind::ShouldHaveResumed, &r.unit_code, r.province.clone(), Some(r.unit_code.clone()), head, r.workers_missing, r.score));
    }

    // Officers, their capacity and load.
    let officers = load_officers(ctx.lake, ctx.cfg.worklist.default_weekly_capacity)?;
    let mut capacity: HashMap<String, u32> = officers.iter().map(|o| (o.id.clone(), o.capacity)).collect();
    let officer_names: HashMap<String, Option<String>> = officers.iter().map(|o| (o.id.clone(), o.name.clone())).collect();
    let mut by_province: HashMap<&str, Vec<&str>> = HashMap::new();
    for o in &officers {
        by_province.entry(o.province.as_str()).or_default().push(o.id.as_str());
    }
    let mut load: HashMap<String, u32> = HashMap::new();
    for it in items.iter_mut() {
        let own = it.unit_code.as_deref().and_then(|u| ctx.units.get(u)).and_then(|u| u.officer.clone());
        if let Some(o) = own {
            *load.entry(o.clone()).or_default() += 1;
            capacity.entry(o.clone()).or_insert(ctx.cfg.worklist.default_weekly_capacity);
            it.officer = Some(o);
            it.assigned_by = "unit_officer";
        }
    }
    let mut order: Vec<usize> = (0..items.len()).filter(|&i| items[i].officer.is_none()).collect();
    order.sort_by(|&a, &b| items[b].score.cmp(&items[a].score).then(items[a].kind.cmp(&items[b].kind)).then(items[a].key.cmp(&items[b].key)));
    for i in order {
        let Some(cands) = items[i].province.as_deref().and_then(|p| by_province.get(p)) else { continue };
        let best = cands
            .iter()
            .min_by(|a, b| {
                let (la, lb) = (load.get(**a).copied().unwrap_or(0), load.get(**b).copied().unwrap_or(0));
                let (ca, cb) = (capacity[**a].max(1) as u64, capacity[**b].max(1) as u64);
                // (la + 1) / ca  vs  (lb + 1) / cb, exactly.
                ((la as u64 + 1) * cb).cmp(&((lb as u64 + 1) * ca)).then(la.cmp(&lb)).then(a.cmp(b))
            })
            .map(|s| s.to_string());
        if let Some(o) = best {
            *load.entry(o.clone()).or_default() += 1;
            items[i].officer = Some(o);
            items[i].assigned_by = "balanced";
        }
    }
    // Weekly lists: per officer by priority, cut at capacity.
    items.sort_by(|a, b| {
        a.officer.cmp(&b.officer).then(b.score.cmp(&a.score)).then(a.kind.cmp(&b.kind)).then(a.key.cmp(&b.key))
    });
    let mut k = 0u32;
    for i in 0..items.len() {
        if i > 0 && items[i].officer != items[i - 1].officer {
            k = 0;
        }
        let cap = items[i].officer.as_ref().map_or(ctx.cfg.worklist.default_weekly_capacity, |o| capacity[o]).max(1);
        items[i].rank = k + 1;
        items[i].week = k / cap;
        k += 1;
    }
    // Officers back into the rows.
    let index: HashMap<(Kind, &str), Option<String>> = items.iter().map(|i| ((i.kind, i.key.as_str()), i.officer.clone())).collect();
    for e in unregistered.iter_mut() {
        e.officer = index.get(&(Kind::UnregisteredEmployer, e.tax_code.as_str())).cloned().flatten();
    }
    for r in resume.iter_mut() {
        r.officer = index.get(&(Kind::ShouldHaveResumed, r.unit_code.as_str())).cloned().flatten();
    }
    for w in workers.iter_mut() {
        w.officer = match &w.unit_code {
            Some(u) => index
                .get(&(Kind::UninsuredWorkers, u.as_str()))
                .cloned()
                .flatten()
                .or_else(|| ctx.units.get(u).and_then(|x| x.officer.clone())),
            None => index.get(&(Kind::UnregisteredEmployer, w.employer_head.as_str())).cloned().flatten(),
        };
    }
    Ok(Plan { items, monday: monday_of(ctx.as_of), officer_names })
}

pub(crate) struct Published {
    pub officers_with_work: u64,
    pub history_items: u64,
    pub developed_items: u64,
    pub history_checked: u64,
    pub export_files: u64,
}

pub(crate) fn publish(
    ctx: &Ctx,
    plan: &Plan,
    workers: &[WorkerRow],
) -> Result<Published> {
    let week_start = |w: u32| plan.monday + chrono::Duration::days(7 * w as i64);
    let n = plan.items.len();
    let it = &plan.items;
    let df = DataFrame::new(
        n,
        vec![
            date_column("as_of", vec![Some(ctx.as_of); n])?,
            Column::new("province_code".into(), it.iter().map(|i| i.province.clone()).collect::<Vec<_>>()),
            Column::new("officer_id".into(), it.iter().map(|i| i.officer.clone()).collect::<Vec<_>>()),
            Column::new("week".into(), it.iter().map(|i| iso_week(week_start(i.week))).collect::<Vec<_>>()),
            date_column("week_start", it.iter().map(|i| Some(week_start(i.week))).collect())?,
            Column::new("rank".into(), it.iter().map(|i| i.rank as i64).collect::<Vec<_>>()),
            Column::new("item_kind".into(), it.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>()),
            Column::new("item_key".into(), it.iter().map(|i| i.key.clone()).collect::<Vec<_>>()),
            Column::new("unit_code".into(), it.iter().map(|i| i.unit_code.clone()).collect::<Vec<_>>()),
            Column::new("employer_tax_code".into(), it.iter().map(|i| i.employer.clone()).collect::<Vec<_>>()),
            Column::new("workers".into(), it.iter().map(|i| i.workers).collect::<Vec<_>>()),
            Column::new("priority_score".into(), it.iter().map(|i| i.score).collect::<Vec<_>>()),
            Column::new("assigned_by".into(), it.iter().map(|i| i.assigned_by).collect::<Vec<_>>()),
        ],
    )?;
    super::publish(ctx.lake, &super::tables::OFFICER_WORKLISTS, df)?;
    let mut t = std::time::Instant::now();
    let mut officers: Vec<&str> = it.iter().filter_map(|i| i.officer.as_deref()).collect();
    officers.sort();
    officers.dedup();

    let (history, checked) = update_history(ctx, plan, workers)?;
    lap("worklist history", &mut t);
    let developed = history.iter().filter(|h| h.developed_on.is_some()).count() as u64;
    write_history(ctx, &history)?;
    if let Some(c) = &ctx.months {
        // Recorded once the history is written: a run stopped before
        // leaves the last record, whose history file no longer matches.
        c.borrow_mut().record_done(DEVELOPED_CHECK, ctx.asof_m, ctx.as_of, &[ctx.lake.silver_file("worklist_history")])?;
    }
    super::publish(ctx.lake, &super::tables::WORKLIST_RESULTS, results_frame(ctx, &history)?)?;
    super::publish(ctx.lake, &super::tables::WORKLIST_RESULTS_MONTHLY, monthly_results_frame(ctx, &history)?)?;
    lap("worklist results", &mut t);
    let files = export(ctx, plan, workers)?;
    lap("worklist exports", &mut t);
    Ok(Published { officers_with_work: officers.len() as u64, history_items: history.len() as u64, developed_items: developed, history_checked: checked, export_files: files })
}

// ------------------------------------------------------------------ history

#[derive(Clone, Debug)]
struct HistoryRow {
    kind: String,
    key: String,
    province: Option<String>,
    officer: Option<String>,
    employer: Option<String>,
    unit_code: Option<String>,
    person_ref: Option<String>,
    first_listed_on: NaiveDate,
    week: String,
    last_listed_on: NaiveDate,
    developed_on: Option<NaiveDate>,
    developed_month: Option<Month>,
}

fn load_history(ctx: &Ctx) -> Result<Vec<HistoryRow>> {
    let Some(lf) = frame::silver(ctx.lake, "worklist_history")? else { return Ok(Vec::new()) };
    let df = lf.collect()?;
    let (kind, key, prov, off, emp, unit, pref) = (
        strs(&df, "item_kind")?,
        strs(&df, "item_key")?,
        strs(&df, "province_code")?,
        strs(&df, "officer_id")?,
        strs(&df, "employer_tax_code")?,
        strs(&df, "unit_code")?,
        strs(&df, "person_ref")?,
    );
    let (first, week, last, dev_on, dev_m) =
        (days(&df, "first_listed_on")?, strs(&df, "week")?, days(&df, "last_listed_on")?, days(&df, "developed_on")?, days(&df, "developed_month")?);
    let mut rows = Vec::new();
    for i in 0..df.height() {
        let (Some(kind), Some(key), Some(first)) = (kind[i].clone(), key[i].clone(), first[i].map(from_days)) else { continue };
        // A run for as_of recomputes everything from as_of on.
        if first >= ctx.as_of {
            continue;
        }
        let developed_on = dev_on[i].map(from_days).filter(|d| *d < ctx.as_of);
        rows.push(HistoryRow {
            kind,
            key,
            province: prov[i].clone(),
            officer: off[i].clone(),
            employer: emp[i].clone(),
            unit_code: unit[i].clone(),
            person_ref: pref[i].clone(),
            first_listed_on: first,
            week: week[i].clone().unwrap_or_else(|| iso_week(first)),
            last_listed_on: last[i].map(from_days).unwrap_or(first).min(ctx.as_of),
            developed_on,
            developed_month: developed_on.and(dev_m[i].map(month_of)),
        });
    }
    Ok(rows)
}

/// The history after this run's listings and development check, and the items checked.
fn update_history(ctx: &Ctx, plan: &Plan, workers: &[WorkerRow]) -> Result<(Vec<HistoryRow>, u64)> {
    let mut t = std::time::Instant::now();
    let mut rows = load_history(ctx)?;
    lap("history read", &mut t);
    let mut at: HashMap<(String, String), usize> = rows.iter().enumerate().map(|(i, r)| ((r.kind.clone(), r.key.clone()), i)).collect();
    let mut listed = |kind: &str, key: String, province: Option<String>, officer: Option<String>, employer: Option<String>, unit: Option<String>, pref: Option<String>| {
        match at.get(&(kind.to_string(), key.clone())) {
            Some(&i) => {
                rows[i].last_listed_on = ctx.as_of;
                rows[i].officer = officer;
            }
            None => {
                at.insert((kind.to_string(), key.clone()), rows.len());
                rows.push(HistoryRow {
                    kind: kind.to_string(),
                    key,
                    province,
                    officer,
                    employer,
                    unit_code: unit,
                    person_ref: pref,
                    first_listed_on: ctx.as_of,
                    week: iso_week(ctx.as_of),
                    last_listed_on: ctx.as_of,
                    developed_on: None,
                    developed_month: None,
                });
            }
        }
    };
    for i in &plan.items {
        listed(i.kind.as_str(), i.key.clone(), i.province.clone(), i.officer.clone(), i.employer.clone(), i.unit_code.clone(), None);
    }
    for w in workers.iter().filter(|w| w.is_uninsured()) {
        listed(
            "uninsured_worker",
            format!("{}|{}", w.employer_head, w.person_ref),
            w.province.clone(),
            w.officer.clone(),
            Some(w.employer_head.clone()),
            w.unit_code.clone(),
            Some(w.person_ref.clone()),
        );
    }
    lap("history listed", &mut t);
    let checked = mark_developed(ctx, &mut rows)?;
    lap("development check", &mut t);
    rows.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.key.cmp(&b.key)));
    Ok((rows, checked))
}

/// The memo's record of the development check (see [`mark_developed`]).
const DEVELOPED_CHECK: &str = "developed_check";

/// Marks pending items listed before this run's date that contributions now show.
///
/// An item is checked against the declarations from its listing month on,
/// and against nothing else of the day. So an item a run left pending under
/// the same inputs (the coverage rules and reference tables, contributions,
/// units and links, the as-of month) cannot have developed since: when the
/// memo holds such a run, dated before this one, with the history it wrote
/// untouched, only the items listed since are checked. A unit's item still
/// follows its workers' (a worker listed since may develop it).
/// Returns how many items were checked against the declarations.
fn mark_developed(ctx: &Ctx, rows: &mut [HistoryRow]) -> Result<u64> {
    let pending: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].developed_on.is_none() && rows[i].first_listed_on < ctx.as_of).collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let checked_on = ctx.months.as_ref().and_then(|c| c.borrow().done_on(DEVELOPED_CHECK, ctx.asof_m)).filter(|d| *d < ctx.as_of);
    let to_check: Vec<usize> = pending.iter().copied().filter(|&i| checked_on.is_none_or(|d| rows[i].first_listed_on >= d)).collect();
    tracing::debug!(stage = "coverage", pending = pending.len(), checked = to_check.len(), since = ?checked_on, "development check");
    let mut found: HashMap<usize, Month> = HashMap::new();
    if !to_check.is_empty() {
        find_developed(ctx, rows, &to_check, &mut found)?;
    }
    for (i, m) in &found {
        rows[*i].developed_on = Some(ctx.as_of);
        rows[*i].developed_month = Some(*m);
    }
    // Units with uninsured workers: developed with their first developed worker.
    let mut unit_dev: HashMap<String, Month> = HashMap::new();
    for r in rows.iter().filter(|r| r.kind == "uninsured_worker") {
        if let (Some(u), Some(m)) = (&r.unit_code, r.developed_month) {
            let e = unit_dev.entry(u.clone()).or_insert(m);
            *e = (*e).min(m);
        }
    }
    for i in pending {
        if rows[i].kind == Kind::UninsuredWorkers.as_str() {
            if let Some(m) = unit_dev.get(&rows[i].key) {
                rows[i].developed_on = Some(ctx.as_of);
                rows[i].developed_month = Some(*m);
            }
        }
    }
    Ok(to_check.len() as u64)
}

/// The items of `to_check` that declarations show developed, with the month.
fn find_developed(ctx: &Ctx, rows: &[HistoryRow], to_check: &[usize], found: &mut HashMap<usize, Month>) -> Result<()> {
    let Some(due) = super::uninsured::due_declarations(ctx)? else { return Ok(()) };
    let listing = |i: usize| Some(Month::of_date(rows[i].first_listed_on).first_day());
    // Only declarations from the earliest listing on can develop an item:
    // the rest of the table is left out before the joins.
    let since_first = |rows_of: &[usize]| rows_of.iter().filter_map(|&i| listing(i)).min();
    let due_from = |from: Option<NaiveDate>| match from {
        Some(d) => due.clone().filter(col("month").gt_eq(lit(d))),
        None => due.clone(),
    };
    // Workers: their current link, declared by a unit of the employer.
    let mut t = std::time::Instant::now();
    let w: Vec<usize> = to_check.iter().copied().filter(|&i| rows[i].kind == "uninsured_worker").collect();
    if let (false, Some(links)) = (w.is_empty(), frame::silver(ctx.lake, "person_links")?) {
        let q = DataFrame::new(
            w.len(),
            vec![
                Column::new("row".into(), w.iter().map(|&i| i as i64).collect::<Vec<_>>()),
                Column::new("person_ref".into(), w.iter().map(|&i| rows[i].person_ref.clone()).collect::<Vec<_>>()),
                Column::new("head".into(), w.iter().map(|&i| rows[i].employer.clone()).collect::<Vec<_>>()),
                date_column("since", w.iter().map(|&i| listing(i)).collect())?,
            ],
        )?;
        let df = q
            .lazy()
            .join(
                links.filter(col("status").eq(lit("matched"))).select([col("person_ref"), col("si_number")]),
                [col("person_ref")],
                [col("person_ref")],
                JoinArgs::new(JoinType::Inner),
            )
            .join(due_from(since_first(&w)), [col("si_number"), col("head")], [col("si_number"), col("head_tax_code")], JoinArgs::new(JoinType::Inner))
            .filter(col("month").gt_eq(col("since")))
            .group_by([col("row")])
            .agg([col("month").min()])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        collect_found(&df, found)?;
    }
    lap("developed workers", &mut t);
    // Unregistered employers: any unit of theirs declaring anyone.
    let e: Vec<usize> = to_check.iter().copied().filter(|&i| rows[i].kind == Kind::UnregisteredEmployer.as_str()).collect();
    if !e.is_empty() {
        let q = DataFrame::new(
            e.len(),
            vec![
                Column::new("row".into(), e.iter().map(|&i| i as i64).collect::<Vec<_>>()),
                Column::new("head".into(), e.iter().map(|&i| rows[i].key.clone()).collect::<Vec<_>>()),
                date_column("since", e.iter().map(|&i| listing(i)).collect())?,
            ],
        )?;
        let df = q
            .lazy()
            .join(due_from(since_first(&e)), [col("head")], [col("head_tax_code")], JoinArgs::new(JoinType::Inner))
            .filter(col("month").gt_eq(col("since")))
            .group_by([col("row")])
            .agg([col("month").min()])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        collect_found(&df, found)?;
    }
    lap("developed employers", &mut t);
    // Should-have-resumed units: a month since with declarations, nobody out,
    // and at least the workforce of the latest review up to that month.
    let r: Vec<usize> = to_check.iter().copied().filter(|&i| rows[i].kind == Kind::ShouldHaveResumed.as_str()).collect();
    if !r.is_empty() {
        let q = DataFrame::new(
            r.len(),
            vec![
                Column::new("row".into(), r.iter().map(|&i| i as i64).collect::<Vec<_>>()),
                Column::new("unit_code".into(), r.iter().map(|&i| rows[i].key.clone()).collect::<Vec<_>>()),
                date_column("since", r.iter().map(|&i| listing(i)).collect())?,
            ],
        )?;
        if let Some(um) = super::covid::unit_months(ctx, q.clone().lazy())? {
            let workforce = super::covid::review_workforces(ctx, q.clone().lazy())?;
            let df = q
                .lazy()
                .join(um, [col("unit_code")], [col("unit_code")], JoinArgs::new(JoinType::Inner))
                .filter(col("month").gt_eq(col("since")).and(col("declared_out").eq(lit(0i64))).and(col("declared_due").gt(lit(0i64))))
                .select([col("row"), col("unit_code"), col("month"), col("declared_due")])
                .sort(["row", "month"], Default::default())
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single();
            let (row, unit, month, due) = (frame::ints(&df, "row")?, strs(&df, "unit_code")?, days(&df, "month")?, frame::ints(&df, "declared_due")?);
            for i in 0..df.height() {
                let (Some(r), Some(u), Some(m), Some(d)) = (row[i], unit[i].as_deref(), month[i], due[i]) else { continue };
                let m = month_of(m);
                // The latest review up to the month (none: nothing to reach).
                let expected = workforce.get(u).and_then(|v| v.iter().rev().find(|(rm, _)| *rm <= m)).map_or(0, |x| x.1);
                if d >= expected {
                    found.entry(r as usize).or_insert(m);
                }
            }
        }
    }
    lap("developed units", &mut t);
    Ok(())
}

fn collect_found(df: &DataFrame, found: &mut HashMap<usize, Month>) -> Result<()> {
    let rows = frame::ints(df, "row")?;
    let months = days(df, "month")?;
    for (r, m) in rows.iter().zip(months) {
        if let (Some(r), Some(m)) = (r, m) {
            found.insert(*r as usize, month_of(m));
        }
    }
    Ok(())
}

fn write_history(ctx: &Ctx, rows: &[HistoryRow]) -> Result<()> {
    let n = rows.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("item_kind".into(), rows.iter().map(|r| r.kind.clone()).collect::<Vec<_>>()),
            Column::new("item_key".into(), rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>()),
            Column::new("province_code".into(), rows.iter().map(|r| r.province.clone()).collect::<Vec<_>>()),
            Column::new("officer_id".into(), rows.iter().map(|r| r.officer.clone()).collect::<Vec<_>>()),
            Column::new("employer_tax_code".into(), rows.iter().map(|r| r.employer.clone()).collect::<Vec<_>>()),
            Column::new("unit_code".into(), rows.iter().map(|r| r.unit_code.clone()).collect::<Vec<_>>()),
            Column::new("person_ref".into(), rows.iter().map(|r| r.person_ref.clone()).collect::<Vec<_>>()),
            date_column("first_listed_on", rows.iter().map(|r| Some(r.first_listed_on)).collect())?,
            Column::new("week".into(), rows.iter().map(|r| r.week.clone()).collect::<Vec<_>>()),
            date_column("last_listed_on", rows.iter().map(|r| Some(r.last_listed_on)).collect())?,
            date_column("developed_on", rows.iter().map(|r| r.developed_on).collect())?,
            date_column("developed_month", rows.iter().map(|r| r.developed_month.map(|m| m.first_day())).collect())?,
        ],
    )?;
    crate::lake::write_parquet(&ctx.lake.silver_file("worklist_history"), &mut df)
}

/// A history row's place in the results' counts: [listed, developed] pairs
/// for employers, workers, units and should-have-resumed units.
fn result_slot(kind: &str) -> Option<usize> {
    match kind {
        "unregistered_employer" => Some(0),
        "uninsured_worker" => Some(2),
        "uninsured_workers" => Some(4),
        "should_have_resumed" => Some(6),
        _ => None,
    }
}

/// Per officer and calendar month: the items first listed in the month, and
/// the items first seen developed by a run of the month (listed whenever).
fn monthly_results_frame(ctx: &Ctx, rows: &[HistoryRow]) -> Result<DataFrame> {
    let mut agg: BTreeMap<(Option<String>, Option<String>, Month), [i64; 8]> = BTreeMap::new();
    for r in rows {
        let Some(k) = result_slot(&r.kind) else { continue };
        agg.entry((r.province.clone(), r.officer.clone(), Month::of_date(r.first_listed_on))).or_default()[k] += 1;
        if let Some(d) = r.developed_on {
            agg.entry((r.province.clone(), r.officer.clone(), Month::of_date(d))).or_default()[k + 1] += 1;
        }
    }
    counts_frame(ctx, &super::tables::WORKLIST_RESULTS_MONTHLY, agg, |m| date_column("month", m.iter().map(|m| Some(m.first_day())).collect()))
}

fn results_frame(ctx: &Ctx, rows: &[HistoryRow]) -> Result<DataFrame> {
    // (province, officer, week) → [listed, developed] per kind.
    let mut agg: BTreeMap<(Option<String>, Option<String>, String), [i64; 8]> = BTreeMap::new();
    for r in rows {
        let Some(k) = result_slot(&r.kind) else { continue };
        let e = agg.entry((r.province.clone(), r.officer.clone(), r.week.clone())).or_default();
        e[k] += 1;
        if r.developed_on.is_some() {
            e[k + 1] += 1;
        }
    }
    counts_frame(ctx, &super::tables::WORKLIST_RESULTS, agg, |w| Ok(Column::new("week".into(), w)))
}

/// A results table from its counts per (province, officer, period): the
/// run's date, the key (`period` makes the period's column from the
/// periods, in key order), then the counts in the table's column order.
fn counts_frame<P>(
    ctx: &Ctx,
    table: &GoldTable,
    agg: BTreeMap<(Option<String>, Option<String>, P), [i64; 8]>,
    period: impl FnOnce(Vec<P>) -> Result<Column>,
) -> Result<DataFrame> {
    let n = agg.len();
    let (mut province, mut officer, mut periods, mut vals) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for ((p, o, k), v) in agg {
        province.push(p);
        officer.push(o);
        periods.push(k);
        vals.push(v);
    }
    let mut cols = vec![
        date_column("as_of", vec![Some(ctx.as_of); n])?,
        Column::new("province_code".into(), province),
        Column::new("officer_id".into(), officer),
        period(periods)?,
    ];
    for (j, c) in table.columns[4..].iter().enumerate() {
        cols.push(Column::new(c.name.into(), vals.iter().map(|v| v[j]).collect::<Vec<_>>()));
    }
    Ok(DataFrame::new(n, cols)?)
}

// ------------------------------------------------------------------ exports

/// How the tax sources show a person: (full_name, citizen_id, person_tax_code, birth_date).
type Identity = (Option<String>, Option<String>, Option<String>, Option<NaiveDate>);

/// The identities of the people `refs` from the wage table (a scan of the
/// whole table), kept between nights through the stage's month cache for the
/// same silver tables and the same people.
fn identities(ctx: &Ctx, refs: &[&str]) -> Result<HashMap<String, Identity>> {
    let mut out = HashMap::new();
    let Some(wages) = frame::silver(ctx.lake, "wages")? else { return Ok(out) };
    let compute = || -> Result<DataFrame> {
        let q = DataFrame::new(refs.len(), vec![Column::new("person_ref".into(), refs.iter().map(|s| s.to_string()).collect::<Vec<_>>())])?;
        // The listed people's wage rows, streamed out of the whole table (read
        // whole on the in-memory engine, the wage columns took 13 GB at 16M
        // people); then the latest month's identity, ties in name order so that
        // the choice does not depend on the order rows arrive in.
        let rows = wages
            .select([col("person_ref"), col("full_name"), col("citizen_id"), col("person_tax_code"), col("birth_date"), col("month")])
            .join(q.lazy(), [col("person_ref")], [col("person_ref")], JoinArgs::new(JoinType::Semi))
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        Ok(rows
            .lazy()
            .sort(
                ["person_ref", "month", "full_name", "citizen_id", "person_tax_code", "birth_date"],
                SortMultipleOptions::default().with_order_descending_multi([false, true, false, false, false, false]).with_nulls_last(true),
            )
            .group_by_stable([col("person_ref")])
            .agg([col("full_name").first(), col("citizen_id").first(), col("person_tax_code").first(), col("birth_date").first()])
            .collect()?)
    };
    let df = match &ctx.months {
        Some(cache) => {
            // The people, in a canonical order, name the frame.
            let mut people = refs.to_vec();
            people.sort_unstable();
            people.dedup();
            let mut h = blake3::Hasher::new();
            for r in people {
                h.update(r.as_bytes()).update(b"\n");
            }
            let key = h.finalize().to_hex();
            cache.borrow_mut().frame_for("identities", ctx.asof_m, key.as_str(), compute)?
        }
        None => compute()?,
    };
    let (p, n, c, t, b) = (strs(&df, "person_ref")?, strs(&df, "full_name")?, strs(&df, "citizen_id")?, strs(&df, "person_tax_code")?, days(&df, "birth_date")?);
    for i in 0..df.height() {
        if let Some(r) = &p[i] {
            out.insert(r.clone(), (n[i].clone(), c[i].clone(), t[i].clone(), b[i].map(from_days)));
        }
    }
    Ok(out)
}

fn export(ctx: &Ctx, plan: &Plan, workers: &[WorkerRow]) -> Result<u64> {
    let refs: Vec<&str> = workers.iter().filter(|w| w.is_uninsured()).map(|w| w.person_ref.as_str()).collect();
    let mut t = std::time::Instant::now();
    let ids = identities(ctx, &refs)?;
    lap("identities", &mut t);
    let mut by_unit: HashMap<&str, Vec<&WorkerRow>> = HashMap::new();
    for w in workers.iter().filter(|w| w.is_uninsured()) {
        if let Some(u) = &w.unit_code {
            by_unit.entry(u.as_str()).or_default().push(w);
        }
    }
    for v in by_unit.values_mut() {
        v.sort_by(|a, b| b.months_uninsured.cmp(&a.months_uninsured).then(b.avg_income.cmp(&a.avg_income)).then(a.person_key.cmp(&b.person_key)));
    }
    let mut by_province: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for it in &plan.items {
        if let Some(p) = it.province.as_deref() {
            by_province.entry(p).or_default().push(it);
        }
    }
    let dir = super::export_dir(ctx.lake, ctx.as_of);
    let header: Vec<&str> = EXPORT_COLUMNS.iter().map(|c| c.0).collect();
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    // Every province gets its file (a header only when it has nothing this
    // run); the provinces are written side by side.
    let mut provinces: Vec<&str> = ctx.reference.provinces.iter().map(|p| p.code.as_str()).collect();
    provinces.extend(by_province.keys().filter(|p| ctx.reference.province(p).is_none()));
    // The closure runs on several threads: it sees the tables, not the context (its month cache).
    let (as_of, units, employers) = (ctx.as_of, &ctx.units, &ctx.employers);
    let weight = |prov: &&str| by_province.get(prov).map_or(0, |v| v.len() as u64);
    let files = crate::lake::for_each_side_by_side("coverage", &provinces, weight, |&prov| {
        let mut items = by_province.get(prov).cloned().unwrap_or_default();
        items.sort_by(|a, b| a.officer.cmp(&b.officer).then(a.rank.cmp(&b.rank)));
        let mut rows: Vec<Vec<String>> = Vec::new();
        for it in items {
            let week = plan.monday + chrono::Duration::days(7 * it.week as i64);
            let unit = it.unit_code.as_deref().and_then(|u| units.get(u));
            let employer_name = it.employer.as_deref().and_then(|e| employers.get(e, None)).and_then(|e| e.name.clone());
            let base = vec![
                as_of.to_string(),
                prov.to_string(),
                opt(&it.officer),
                it.officer.as_ref().and_then(|o| plan.officer_names.get(o).cloned().flatten()).unwrap_or_default(),
                iso_week(week),
                week.to_string(),
                it.rank.to_string(),
                it.kind.as_str().to_string(),
                opt(&it.unit_code),
                unit.and_then(|u| u.name.clone()).unwrap_or_default(),
                opt(&it.employer),
                employer_name.unwrap_or_default(),
                it.score.to_string(),
                it.workers.to_string(),
            ];
            match it.kind {
                Kind::UninsuredWorkers => {
                    for wr in by_unit.get(it.key.as_str()).map(|v| v.as_slice()).unwrap_or_default() {
                        let (name, cid, ptc, birth) = ids.get(&wr.person_ref).cloned().unwrap_or_default();
                        let mut rec = base.clone();
                        rec.extend([
                            name.unwrap_or_default(),
                            cid.unwrap_or_default(),
                            ptc.unwrap_or_default(),
                            birth.map(|d| d.to_string()).unwrap_or_default(),
                            opt(&wr.si_number),
                            wr.months_uninsured.to_string(),
                            wr.last_month.to_string(),
                            wr.avg_income.to_string(),
                            wr.reason.to_string(),
                            wr.match_method.clone(),
                        ]);
                        rows.push(rec);
                    }
                }
                Kind::UnregisteredEmployer | Kind::ShouldHaveResumed => {
                    let mut rec = base;
                    rec.extend(std::iter::repeat_n(String::new(), 10));
                    rows.push(rec);
                }
            }
        }
        write_csv(&dir.join(prov).join("officer_worklists.csv"), &header, &rows)?;
        Ok(1u64)
    })?;
    Ok(files.iter().sum())
}

use crate::lake::write_csv;
