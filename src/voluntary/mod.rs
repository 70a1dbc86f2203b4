//! Stage 5, voluntary (DOMAIN §2.1–2.5): voluntary BHXH prospects scored
//! with reasons and assigned to collection agents, agent targets and results,
//! D08a-TS due lists, conference results, agent and commune rankings.
//!
//! Reads silver (people, contributions, wages, households, enrolments,
//! agents, conferences, and the link stage's `person_links`), keeps
//! `silver/prospect_history` (who was listed when, with the features at
//! listing, and when they enrolled) so a later run reports results and can
//! fit the model, and publishes the gold tables of [`tables`] plus, per
//! province, `exports/<as_of>/<province_code>/d08a_due.csv` and
//! `voluntary_prospects.csv` (with identities, for the agents).
//! Rules: `pipelines/scoring.toml` and docs/rules.md.

pub mod d08a;
pub mod score;
pub mod tables;

pub use score::ScoringConfig;

use crate::coverage::frame::{self, date_column, days, floats, ints, MonthCache};
use crate::lake::{self, gold::GoldTable, Lake};
use crate::month::Month;
use crate::person_key::PersonKeyer;
use crate::reference::{Reference, Scheme, SupportGroup};
use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use score::{Model, FEATURES};
use rayon::prelude::*;
use std::collections::BTreeMap;
// Maps keyed by codes and references from the agencies' own files (no
// untrusted input to flood them): a fast hash, not the default SipHash.
use foldhash::{HashMap, HashMapExt, HashSet};
use std::time::Instant;

/// Codes, references and names held in the stage's maps. Up to 24 bytes are
/// kept inline, so the millions of si_numbers, references, place codes and
/// most names cost no allocation of their own (at 16M people the stage's
/// peak fell from 9.4 to 8.0 GiB when `String`s were replaced by these).
type Text = compact_str::CompactString;

/// A prospect's features, in the order of [`FEATURES`].
type Features = [f64; FEATURES.len()];

/// A column as optional [`Text`]s.
fn texts(df: &DataFrame, name: &str) -> Result<Vec<Option<Text>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(Text::from)).collect())
}

#[derive(Clone, Debug, Default)]
pub struct VoluntaryReport {
    /// Candidates found before the exclusions.
    pub candidates: u64,
    /// Excluded, by reason.
    pub excluded: Vec<(String, u64)>,
    pub prospects: u64,
    pub by_source: Vec<(String, u64)>,
    pub unassigned: u64,
    /// `defaults` or `fitted`.
    pub model: String,
    pub fit: Option<score::FitReport>,
    pub history: u64,
    pub enrolled_after_listing: u64,
    pub d08a_participants: u64,
    pub d08a_amount: i64,
    /// Due participants whose enrolment lacks income_basis / member_order.
    pub d08a_incomplete: u64,
    pub conferences: u64,
    pub export_files: u64,
    /// Frames read back from the month cache, and computed (see [`run`]).
    pub frames_reused: u32,
    pub frames_computed: u32,
    pub seconds: f64,
}

/// Silver tables this stage writes: (name, meaning, columns).
pub fn silver_tables() -> Vec<(&'static str, &'static str, &'static [(&'static str, &'static str, &'static str)])> {
    vec![("prospect_history", HISTORY_DOC, HISTORY_COLUMNS)]
}

/// The export files of this stage: (path pattern, meaning, columns).
pub fn exports() -> Vec<(&'static str, &'static str, &'static [(&'static str, &'static str, &'static str)])> {
    vec![
        ("exports/<as_of>/<province_code>/d08a_due.csv (in the lake)", D08A_EXPORT_DOC, D08A_EXPORT_COLUMNS),
        ("exports/<as_of>/<province_code>/voluntary_prospects.csv (in the lake)", PROSPECT_EXPORT_DOC, PROSPECT_EXPORT_COLUMNS),
    ]
}

const HISTORY_DOC: &str = "Voluntary stage: every person ever listed as a prospect, with the features at their first listing and the run that first saw them enrolled in voluntary BHXH; the outcomes the scoring model is fitted on.";
const HISTORY_COLUMNS: &[(&str, &str, &str)] = &[
    ("person_key", "string", "Keyed hash of the person"),
    ("si_number", "string", "BHXH number when known"),
    ("person_ref", "string", "Tax-side reference when the person came from tax data"),
    ("province_code", "string", "Province at the last listing"),
    ("agent_code", "string", "Agent at the last listing"),
    ("source", "string", "Source at the first listing"),
    ("first_listed", "date", "As-of date of the first run that listed the person"),
    ("last_listed", "date", "As-of date of the latest run that listed the person"),
    ("score_first", "int64", "Score at the first listing"),
    ("enrolled_seen", "date", "As-of date of the first run that found a voluntary BHXH enrolment starting on or after the month first listed (null: not yet)"),
    ("f_<feature>", "float64", "One column per scoring feature (pipelines/scoring.toml), its value at the first listing"),
];

const D08A_EXPORT_DOC: &str = "Each agent's D08a-TS list for month L, one file per province, sorted by agent then BHXH number: the `d08a_due` rows with the participant's name and birth date.";
pub(crate) const D08A_EXPORT_COLUMNS: &[(&str, &str, &str)] = &[
    ("Mã tỉnh", "string", "province_code"),
    ("Tháng", "month", "month L, `YYYY-MM`"),
    ("Mã đại lý", "string", "agent_code"),
    ("Mã số BHXH", "string", "si_number"),
    ("Họ và tên", "string", "full_name (si_people)"),
    ("Ngày sinh", "date", "birth_date"),
    ("Loại", "string", "scheme"),
    ("Mã hộ gia đình", "string", "household_code"),
    ("Thứ tự thành viên", "int64", "member_order"),
    ("Mức thu nhập", "vnd", "income_basis"),
    ("Nhóm hỗ trợ", "string", "support_group"),
    ("Phương thức đóng (tháng)", "int64", "payment_months"),
    ("Đã đóng đến tháng", "month", "paid_through, `YYYY-MM`"),
    ("Từ tháng", "month", "period_from"),
    ("Đến tháng", "month", "period_to"),
    ("Số tiền phải đóng", "vnd", "amount_due"),
    ("Tình trạng", "string", "status: renew / lapsed"),
];

const PROSPECT_EXPORT_DOC: &str = "Each agent's prospect list, one file per province, sorted by agent then rank: the `voluntary_prospects` rows with the person's identity as the sources show it.";
pub(crate) const PROSPECT_EXPORT_COLUMNS: &[(&str, &str, &str)] = &[
    ("Mã tỉnh", "string", "province_code"),
    ("Mã đại lý", "string", "agent_code"),
    ("Thứ tự", "int64", "agent_rank"),
    ("Họ và tên", "string", "full name (si_people, else the tax source)"),
    ("Ngày sinh", "date", "birth date"),
    ("Mã số BHXH", "string", "si_number when known"),
    ("Số CCCD/CMND", "string", "citizen ID when known"),
    ("Mã xã", "string", "ward_code"),
    ("Nguồn", "string", "source"),
    ("Điểm", "int64", "score"),
    ("Lý do", "string", "reasons"),
];

// ------------------------------------------------------------------ sources

const SRC_HB: u8 = 1;
const SRC_STOPPED: u8 = 2;
const SRC_FREE: u8 = 4;
const SRC_HH: u8 = 8;
const SOURCES: [(u8, &str); 4] = [
    (SRC_HB, "household_business"),
    (SRC_STOPPED, "stopped_contributing"),
    (SRC_FREE, "free_worker"),
    (SRC_HH, "household_hi_only"),
];

/// The `source_<name>` feature of each of [`SOURCES`], in its order.
const SOURCE_FEATURES: [usize; 4] = [
    feature_index("source_household_business"),
    feature_index("source_stopped_contributing"),
    feature_index("source_free_worker"),
    feature_index("source_household_hi_only"),
];

#[derive(Clone, Debug, Default)]
struct SiPerson {
    birth: Option<NaiveDate>,
    female: Option<bool>,
    province: Option<Text>,
    ward: Option<Text>,
    household: Option<Text>,
    pensioner: bool,
    contributed: i64,
    name: Option<Text>,
    citizen_id: Option<Text>,
}

#[derive(Clone, Debug, Default)]
struct TaxPerson {
    months: i64,
    total: i64,
    last_compulsory: Option<Month>,
    birth: Option<NaiveDate>,
    citizen_id: Option<Text>,
    name: Option<Text>,
    /// (province, ward) of the payer of most income.
    place: Option<(Option<Text>, Option<Text>)>,
}

#[derive(Clone, Debug)]
struct Enrolment {
    si: Text,
    scheme: Scheme,
    agent: Option<Text>,
    household: Option<Text>,
    member_order: Option<i64>,
    income_basis: Option<i64>,
    support: Option<SupportGroup>,
    payment_months: i64,
    paid_from: Month,
    paid_through: Month,
}

#[derive(Clone, Debug)]
struct Agent {
    code: Text,
    province: Text,
    ward: Option<Text>,
    active: bool,
}

/// Everything the stage reads, in memory. `tax`, `refs_of`, `contrib` and
/// `households` are emptied once the pool is built, and `link` once the
/// outcomes are recorded (see [`run`]): read them before, never after.
struct Data {
    people: HashMap<Text, SiPerson>,
    /// si_number → (due months declared in the extracts, last due month).
    contrib: HashMap<Text, (i64, Month)>,
    /// person_ref → matched si_number.
    link: HashMap<Text, Text>,
    /// si_number → its matched person_refs.
    refs_of: HashMap<Text, Vec<Text>>,
    tax: HashMap<Text, TaxPerson>,
    /// Household businesses: (person_ref, status, revenue, birth, female, province, ward, name, citizen_id).
    households: Vec<HouseholdBiz>,
    enrolments: Vec<Enrolment>,
    agents: Vec<Agent>,
    /// (province, ward, held_on, invited, attended, registered)
    conferences: Vec<(Text, Option<Text>, NaiveDate, i64, i64, i64)>,
}

#[derive(Clone, Debug)]
struct HouseholdBiz {
    person_ref: Text,
    active: bool,
    revenue: Option<i64>,
    birth: Option<NaiveDate>,
    female: Option<bool>,
    province: Option<Text>,
    ward: Option<Text>,
    name: Option<Text>,
    citizen_id: Option<Text>,
    /// The business trades at a market (`market` named), or is in a craft
    /// village (`craft_village` named): the two groups dispatch §2.1 names.
    market: bool,
    craft_village: bool,
}

fn parse_scheme(s: &str) -> Option<Scheme> {
    match s {
        "voluntary_si" => Some(Scheme::VoluntarySi),
        "household_hi" => Some(Scheme::HouseholdHi),
        _ => None,
    }
}

fn scheme_code(s: Scheme) -> &'static str {
    match s {
        Scheme::VoluntarySi => "voluntary_si",
        Scheme::HouseholdHi => "household_hi",
    }
}

fn parse_support(s: &str) -> Option<SupportGroup> {
    match s {
        "poor" => Some(SupportGroup::Poor),
        "near_poor" => Some(SupportGroup::NearPoor),
        "other" => Some(SupportGroup::Other),
        _ => None,
    }
}

fn support_code(s: SupportGroup) -> &'static str {
    match s {
        SupportGroup::Poor => "poor",
        SupportGroup::NearPoor => "near_poor",
        SupportGroup::Other => "other",
    }
}

/// Sex from a 12-digit CCCD's 4th digit (even: male, odd: female).
fn female_from_cccd(cid: &str) -> Option<bool> {
    if cid.len() == 12 && cid.bytes().all(|b| b.is_ascii_digit()) {
        Some((cid.as_bytes()[3] - b'0') % 2 == 1)
    } else {
        None
    }
}

fn sex_female(s: Option<&str>) -> Option<bool> {
    match s {
        Some("F") => Some(true),
        Some("M") => Some(false),
        _ => None,
    }
}

/// Birth year from a 12-digit CCCD: 4th digit century and sex (0/1: 1900s,
/// 2/3: 2000s, ...), 5th–6th the year within the century.
pub fn birth_year_from_cccd(cid: &str) -> Option<i32> {
    if cid.len() != 12 || !cid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let b = cid.as_bytes();
    let century = 1900 + 100 * i32::from((b[3] - b'0') / 2);
    Some(century + i32::from(b[4] - b'0') * 10 + i32::from(b[5] - b'0'))
}

/// Whole months of age at `as_of`.
pub fn age_months(birth: NaiveDate, as_of: NaiveDate) -> i32 {
    (as_of.year() - birth.year()) * 12 + as_of.month() as i32 - birth.month() as i32 - i32::from(as_of.day() < birth.day())
}

/// Why a person cannot be a voluntary BHXH prospect, if they cannot.
/// `age_months`: the youngest and oldest the person can be at the as-of date,
/// in whole months (equal when the birth date is known; a birth year alone
/// gives a range; None: nothing known, kept). Only a certain exclusion counts.
pub fn exclusion(
    pensioner: bool,
    voluntary_si: bool,
    compulsory_now: bool,
    compulsory_wages: bool,
    age_months: Option<(i32, i32)>,
    retirement_months: Option<u32>,
    min_age_years: u32,
) -> Option<&'static str> {
    if pensioner {
        return Some("pensioner");
    }
    if voluntary_si {
        return Some("in_voluntary_si");
    }
    if compulsory_now {
        return Some("in_compulsory_si");
    }
    if compulsory_wages {
        return Some("compulsory_wages");
    }
    if let Some((youngest, oldest)) = age_months {
        if oldest < (min_age_years * 12) as i32 {
            return Some("under_min_age");
        }
        if retirement_months.is_some_and(|r| youngest >= r as i32) {
            return Some("past_retirement_age");
        }
    }
    None
}

/// Logs how long a part of the stage took (debug level) and starts the next.
fn lap(what: &str, t: &mut Instant) {
    tracing::debug!(stage = "voluntary", part = what, seconds = t.elapsed().as_secs_f64(), "part done");
    *t = Instant::now();
}

/// A one-column frame of keys, for semi-joins.
fn key_frame<S: AsRef<str>>(name: &str, keys: &[S]) -> Result<LazyFrame> {
    let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
    Ok(DataFrame::new(keys.len(), vec![Column::new(name.into(), keys)])?.lazy())
}

/// Only the rows of `lf` whose `on` is among `keys`.
fn only(lf: LazyFrame, on: &str, keys: &LazyFrame) -> LazyFrame {
    lf.join(keys.clone(), [col(on)], [col(on)], JoinArgs::new(JoinType::Semi))
}

/// A frame `load` reads: through the cache when there is one (kept for the
/// as-of month under the fingerprint of the stage's inputs), else computed.
fn kept(cache: &mut Option<MonthCache>, part: &str, m: Month, compute: impl FnOnce() -> Result<DataFrame>) -> Result<DataFrame> {
    match cache {
        Some(c) => c.frame(part, m, compute),
        None => compute(),
    }
}

/// Reads what the stage needs. Only the people it can use are held: the
/// candidates (household business owners, people who stopped contributing,
/// free workers, household-HI-only people) and everyone with an enrolment,
/// with their links and wage facts. Everyone else (the great majority, who
/// contribute through an employer) is left in the Parquet: at 4 million
/// people holding them all took 5.3 GB.
///
/// What depends only on the silver tables and the as-of month (the scans of
/// wages, contributions, links and people, most of the stage's time) is read
/// through `cache`: the next night in the same month reads it back.
///
/// With `for_pool` false (the pool is kept), what only the pool is built
/// from (household businesses, free workers' income, due months, wage facts,
/// employers' places) is neither read nor held.
fn load(lake: &Lake, cfg: &ScoringConfig, asof_m: Month, cache: &mut Option<MonthCache>, for_pool: bool) -> Result<Data> {
    let mut d = Data {
        people: HashMap::new(),
        contrib: HashMap::new(),
        link: HashMap::new(),
        refs_of: HashMap::new(),
        tax: HashMap::new(),
        households: Vec::new(),
        enrolments: Vec::new(),
        agents: Vec::new(),
        conferences: Vec::new(),
    };
    let to_date = |x: Option<i32>| x.map(frame::from_days);
    let to_month = |x: Option<i32>| x.map(frame::month_of);
    let mut t = Instant::now();
    let now_from = asof_m.add(1 - cfg.pool.compulsory_now_months as i32);

    if let (true, Some(lf)) = (for_pool, frame::silver(lake, "households")?) {
        let df = lf
            .select([
                col("tax_code"), col("status"), col("monthly_revenue"), col("birth_date"), col("sex"), col("province_code"), col("ward_code"),
                col("owner_name"), col("citizen_id"), col("market"), col("craft_village"),
            ])
            .sort(["tax_code"], Default::default())
            .collect_with_engine(Engine::Streaming)?.unwrap_single();
        let (tc, st, rev, b, sex, p, w, nm, cid) = (
            texts(&df, "tax_code")?, texts(&df, "status")?, ints(&df, "monthly_revenue")?, days(&df, "birth_date")?, texts(&df, "sex")?,
            texts(&df, "province_code")?, texts(&df, "ward_code")?, texts(&df, "owner_name")?, texts(&df, "citizen_id")?,
        );
        let named = |c: &str| -> Result<Vec<bool>> { Ok(texts(&df, c)?.iter().map(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty())).collect()) };
        let (market, village) = (named("market")?, named("craft_village")?);
        for i in 0..df.height() {
            let Some(t) = tc[i].as_deref() else { continue };
            d.households.push(HouseholdBiz {
                person_ref: crate::link::household_person_ref(t).into(),
                // A household business without a status counts as active.
                active: st[i].as_ref().is_none_or(|s| cfg.pool.household_statuses.iter().any(|h| h == s)),
                revenue: rev[i],
                birth: to_date(b[i]),
                female: sex_female(sex[i].as_deref()).or_else(|| cid[i].as_deref().and_then(female_from_cccd)),
                province: p[i].clone(),
                ward: w[i].clone(),
                name: nm[i].clone(),
                citizen_id: cid[i].clone(),
                market: market[i],
                craft_village: village[i],
            });
        }
    }
    lap("households", &mut t);

    if let Some(lf) = frame::silver(lake, "enrolments")? {
        let df = lf
            .select([
                col("si_number"), col("scheme"), col("agent_code"), col("household_code"), col("member_order"), col("income_basis"),
                col("support_group"), col("payment_months"), col("paid_from"), col("paid_through"),
            ])
            .sort(["si_number", "scheme", "paid_from"], Default::default())
            .collect_with_engine(Engine::Streaming)?.unwrap_single();
        let (si, sc, ag, hh, mo, ib) = (texts(&df, "si_number")?, texts(&df, "scheme")?, texts(&df, "agent_code")?, texts(&df, "household_code")?, ints(&df, "member_order")?, ints(&df, "income_basis")?);
        let (sg, pm, pf, pt) = (texts(&df, "support_group")?, ints(&df, "payment_months")?, days(&df, "paid_from")?, days(&df, "paid_through")?);
        for i in 0..df.height() {
            let (Some(s), Some(scheme), Some(from), Some(through)) =
                (si[i].clone(), sc[i].as_deref().and_then(parse_scheme), to_month(pf[i]), to_month(pt[i]))
            else {
                continue;
            };
            d.enrolments.push(Enrolment {
                si: s,
                scheme,
                agent: ag[i].clone().filter(|a| !a.is_empty()),
                household: hh[i].clone(),
                member_order: mo[i],
                income_basis: ib[i],
                support: sg[i].as_deref().and_then(parse_support),
                payment_months: pm[i].unwrap_or(1),
                paid_from: from,
                paid_through: through,
            });
        }
    }
    lap("enrolments", &mut t);

    // Free workers: non-compulsory income in the window.
    let window = match frame::silver(lake, "wages")? {
        Some(lf) => {
            let lo = frame::to_days(asof_m.add(-(cfg.pool.income_months as i32)).first_day());
            let hi = frame::to_days(asof_m.prev().first_day());
            let m = col("month").cast(DataType::Int32);
            Some(lf.filter(m.clone().gt_eq(lit(lo)).and(m.lt_eq(lit(hi)))))
        }
        None => None,
    };
    let comp = col("contract").is_in(frame::str_list(&cfg.pool.compulsory_contracts), false).fill_null(lit(false));
    if let (true, Some(window)) = (for_pool, &window) {
        let free = kept(cache, "free_workers", asof_m, || {
            Ok(window
                .clone()
                .filter(comp.clone().not())
                .group_by([col("person_ref"), col("month")])
                .agg([col("taxable_income").sum()])
                .group_by([col("person_ref")])
                .agg([len().cast(DataType::Int64).alias("months"), col("taxable_income").sum().cast(DataType::Int64).alias("total")])
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single())
        })?;
        let (r, n, t) = (texts(&free, "person_ref")?, ints(&free, "months")?, ints(&free, "total")?);
        for i in 0..free.height() {
            if let Some(r) = r[i].clone() {
                d.tax.insert(r, TaxPerson { months: n[i].unwrap_or(0), total: t[i].unwrap_or(0), ..Default::default() });
            }
        }
    }
    lap("free workers", &mut t);

    // Due declarations and matched links, read lazily: each is filtered to
    // the people the stage holds before it is collected (at 16M people the
    // whole of either is 13 to 16 million rows).
    let due = frame::silver(lake, "contributions")?
        .map(|lf| lf.filter(col("work_status").is_in(frame::str_list(&cfg.pool.due_statuses), false)).select([col("si_number"), col("month")]));
    let links = frame::silver(lake, "person_links")?.map(|lf| lf.filter(col("status").eq(lit("matched"))).select([col("person_ref"), col("si_number")]));

    // The tax-side references the pool starts from, and the BHXH people it
    // can reach: those who stopped, household-HI-only people, the links of
    // the references, and (for D08a, conferences and rankings) everyone
    // enrolled.
    let mut start_list: Vec<Text> = d.households.iter().map(|h| h.person_ref.clone()).collect();
    start_list.extend(d.tax.keys().cloned());
    let start_refs = key_frame("person_ref", &start_list)?;
    let mut need: Vec<LazyFrame> = vec![key_frame("si_number", &d.enrolments.iter().map(|e| e.si.as_str()).collect::<Vec<_>>())?];
    if let Some(due) = &due {
        // Stopped: no due month since `now_from`.
        let stopped = due
            .clone()
            .group_by([col("si_number")])
            .agg([col("month").max().alias("last_due")])
            .filter(col("last_due").lt(lit(now_from.first_day())))
            .select([col("si_number")]);
        need.push(stopped);
    }
    if let Some(l) = &links {
        need.push(only(l.clone(), "person_ref", &start_refs).select([col("si_number")]));
    }
    let need_si = kept(cache, "people_needed", asof_m, || {
        Ok(concat(need, UnionArgs::default())?.unique(None, UniqueKeepStrategy::Any).collect_with_engine(Engine::Streaming)?.unwrap_single())
    })?
    .lazy();
    lap("people needed", &mut t);

    // Due months and the last due month of the people held (numbers only).
    if let (true, Some(due)) = (for_pool, due) {
        let df = kept(cache, "due_months", asof_m, || {
            Ok(only(due, "si_number", &need_si)
                .group_by([col("si_number")])
                .agg([len().cast(DataType::Int64).alias("due_months"), col("month").max().alias("last_due")])
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single())
        })?;
        let (si, n, last) = (texts(&df, "si_number")?, ints(&df, "due_months")?, days(&df, "last_due")?);
        d.contrib.reserve(df.height());
        for i in 0..df.height() {
            if let (Some(s), Some(l)) = (si[i].clone(), to_month(last[i])) {
                d.contrib.insert(s, (n[i].unwrap_or(0), l));
            }
        }
    }

    // Links of the people held: every reference of their si_numbers.
    if let Some(l) = links {
        let df = kept(cache, "links_held", asof_m, || Ok(only(l, "si_number", &need_si).collect_with_engine(Engine::Streaming)?.unwrap_single()))?;
        let (r, s) = (texts(&df, "person_ref")?, texts(&df, "si_number")?);
        d.link.reserve(df.height());
        for i in 0..df.height() {
            if let (Some(r), Some(s)) = (r[i].clone(), s[i].clone()) {
                if for_pool {
                    d.refs_of.entry(s.clone()).or_default().push(r.clone());
                }
                d.link.insert(r, s);
            }
        }
        for v in d.refs_of.values_mut() {
            v.sort();
        }
    }
    // The references whose wage facts the pool reads: those it starts from
    // and every reference of a candidate's si_number (who stopped, who is
    // household-HI only, who a starting reference links to). The people held
    // only because they are enrolled are not candidates, and the pool never
    // reads their wage facts.
    let held_refs = {
        let mut cand_si: HashSet<&str> = start_list.iter().filter_map(|r| d.link.get(r).map(Text::as_str)).collect();
        cand_si.extend(d.contrib.iter().filter(|(_, (_, last))| *last < now_from).map(|(s, _)| s.as_str()));
        cand_si.extend(d.enrolments.iter().filter(|e| e.scheme == Scheme::HouseholdHi).map(|e| e.si.as_str()));
        let mut refs = start_list;
        refs.extend(cand_si.into_iter().filter_map(|s| d.refs_of.get(s)).flatten().cloned());
        refs.sort_unstable();
        refs.dedup();
        key_frame("person_ref", &refs)?
    };
    lap("due months and links held", &mut t);

    let mut places: HashMap<Text, (Option<Text>, Option<Text>)> = HashMap::new();
    if let (true, Some(lf)) = (for_pool, frame::silver(lake, "employers")?) {
        let df = lf.select([col("tax_code"), col("province_code"), col("ward_code")]).collect_with_engine(Engine::Streaming)?.unwrap_single();
        let (c, p, w) = (texts(&df, "tax_code")?, texts(&df, "province_code")?, texts(&df, "ward_code")?);
        for i in 0..df.height() {
            if let Some(c) = c[i].clone() {
                places.insert(c, (p[i].clone(), w[i].clone()));
            }
        }
    }

    // Wage facts of the references held: last compulsory month, identity and
    // the place of the payer of most income.
    if let (true, Some(window)) = (for_pool, window) {
        let window = only(window, "person_ref", &held_refs);
        let compulsory = kept(cache, "last_compulsory", asof_m, || {
            Ok(window.clone().filter(comp).group_by([col("person_ref")]).agg([col("month").max().alias("last")]).collect_with_engine(Engine::Streaming)?.unwrap_single())
        })?;
        let (r, l) = (texts(&compulsory, "person_ref")?, days(&compulsory, "last")?);
        for i in 0..compulsory.height() {
            if let Some(r) = r[i].clone() {
                d.tax.entry(r).or_default().last_compulsory = to_month(l[i]);
            }
        }
        let info = kept(cache, "wage_facts", asof_m, || {
            let df = window
                .group_by([col("person_ref"), col("employer_tax_code")])
                .agg([
                    col("taxable_income").sum().cast(DataType::Int64).alias("income"),
                    col("birth_date").drop_nulls().first().alias("birth_date"),
                    col("citizen_id").drop_nulls().first().alias("citizen_id"),
                    col("full_name").first().alias("full_name"),
                ])
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single();
            // Ordered by number where the crate's string sort is slow (see crate::order).
            crate::order::sorted(df, &["person_ref", "employer_tax_code"], false)
        })?;
        let (r, e, inc, b, c, nm) = (texts(&info, "person_ref")?, texts(&info, "employer_tax_code")?, ints(&info, "income")?, days(&info, "birth_date")?, texts(&info, "citizen_id")?, texts(&info, "full_name")?);
        // Sorted by reference: the payer of most income is found in each
        // reference's run of rows (the first of equals).
        let mut best: Option<(&str, i64)> = None;
        for i in 0..info.height() {
            let Some(r) = r[i].as_deref() else { continue };
            let Some(tp) = d.tax.get_mut(r) else { continue };
            tp.birth = tp.birth.or(to_date(b[i]));
            tp.citizen_id = tp.citizen_id.take().or(c[i].clone());
            tp.name = tp.name.take().or(nm[i].clone());
            let x = inc[i].unwrap_or(0);
            if best.is_none_or(|(br, bx)| br != r || x > bx) {
                best = Some((r, x));
                tp.place = e[i].as_ref().and_then(|e| places.get(e.as_str()).or_else(|| places.get(&e[..e.len().min(10)]))).cloned();
            }
        }
    }

    lap("wage facts", &mut t);

    // The people held, read after the wage facts so that the two are not
    // in memory at their largest together.
    if let Some(lf) = frame::silver(lake, "people")? {
        let df = kept(cache, "people_held", asof_m, || {
            Ok(only(
                lf.select([
                    col("si_number"), col("birth_date"), col("sex"), col("province_code"), col("ward_code"),
                    col("household_code"), col("pension_since"), col("contributed_months"), col("full_name"), col("citizen_id"),
                ]),
                "si_number",
                &need_si,
            )
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single())
        })?;
        // Read in place, column by column (copying every column into vectors
        // first would hold each string twice while the map is built).
        let text = |name: &str| -> Result<StringChunked> { Ok(df.column(name)?.cast(&DataType::String)?.str()?.rechunk().into_owned()) };
        let (si, sex, prov, ward, hh, name, cid) =
            (text("si_number")?, text("sex")?, text("province_code")?, text("ward_code")?, text("household_code")?, text("full_name")?, text("citizen_id")?);
        let (birth, pension, contributed) = (days(&df, "birth_date")?, days(&df, "pension_since")?, ints(&df, "contributed_months")?);
        let owned = |c: &StringChunked, i: usize| c.get(i).map(Text::from);
        d.people.reserve(df.height());
        for i in 0..df.height() {
            let Some(s) = si.get(i) else { continue };
            d.people.insert(Text::from(s), SiPerson {
                birth: to_date(birth[i]),
                female: sex_female(sex.get(i)).or_else(|| cid.get(i).and_then(female_from_cccd)),
                province: owned(&prov, i),
                ward: owned(&ward, i),
                household: owned(&hh, i),
                pensioner: pension[i].is_some(),
                contributed: contributed[i].unwrap_or(0),
                name: owned(&name, i),
                citizen_id: owned(&cid, i),
            });
        }
    }
    lap("people", &mut t);

    if let Some(lf) = frame::silver(lake, "agents")? {
        let df = lf.select([col("agent_code"), col("province_code"), col("ward_code"), col("active")]).sort(["agent_code"], Default::default()).collect()?;
        let (c, p, w, a) = (texts(&df, "agent_code")?, texts(&df, "province_code")?, texts(&df, "ward_code")?, frame::bools(&df, "active")?);
        for i in 0..df.height() {
            if let (Some(code), Some(prov)) = (c[i].clone(), p[i].clone()) {
                // No `active` value: the agent is taken as active.
                d.agents.push(Agent { code, province: prov, ward: w[i].clone(), active: a[i].unwrap_or(true) });
            }
        }
    }

    if let Some(lf) = frame::silver(lake, "conferences")? {
        let df = lf
            .select([col("province_code"), col("ward_code"), col("held_on"), col("invited"), col("attended"), col("registered")])
            .collect_with_engine(Engine::Streaming)?.unwrap_single();
        let (p, w, h, inv, att, reg) = (texts(&df, "province_code")?, texts(&df, "ward_code")?, days(&df, "held_on")?, ints(&df, "invited")?, ints(&df, "attended")?, ints(&df, "registered")?);
        for i in 0..df.height() {
            if let (Some(p), Some(h)) = (p[i].clone(), to_date(h[i])) {
                d.conferences.push((p, w[i].clone(), h, inv[i].unwrap_or(0), att[i].unwrap_or(0), reg[i].unwrap_or(0)));
            }
        }
    }
    tracing::debug!(
        stage = "voluntary", people = d.people.len(), references = d.tax.len(), links = d.link.len(), due = d.contrib.len(),
        households = d.households.len(), enrolments = d.enrolments.len(), "held"
    );
    Ok(d)
}

// ------------------------------------------------------------------ pool

#[derive(Clone, Debug, Default)]
struct Cand {
    si: Option<Text>,
    refs: Vec<Text>,
    sources: u8,
    revenue: Option<i64>,
    market: bool,
    craft_village: bool,
    birth: Option<NaiveDate>,
    female: Option<bool>,
    province: Option<Text>,
    ward: Option<Text>,
    name: Option<Text>,
    citizen_id: Option<Text>,
}

/// A scored prospect.
#[derive(Clone, Debug)]
struct Prospect {
    key: String,
    si: Option<Text>,
    person_ref: Option<Text>,
    source: &'static str,
    province: Option<Text>,
    ward: Option<Text>,
    age: Option<i64>,
    x: Features,
    score: i64,
    reasons: String,
    agent: Option<usize>,
    assigned_by: &'static str,
    rank: i64,
    name: Option<Text>,
    birth: Option<NaiveDate>,
    citizen_id: Option<Text>,
}

/// Where feature `name` sits in [`FEATURES`]; a name that is not there
/// fails the build (every call is evaluated at compile time through [`feature!`]).
const fn feature_index(name: &str) -> usize {
    let mut i = 0;
    while i < FEATURES.len() {
        let (a, b) = (FEATURES[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("unknown feature")
}

/// Sets feature `$name` of `$x`, its position found at compile time (the
/// pool sets a dozen per candidate, for millions of candidates).
macro_rules! feature {
    ($x:expr, $name:literal, $v:expr) => {{
        const I: usize = feature_index($name);
        $x[I] = $v;
    }};
}

/// Household BHYT standing per household code: (latest paid_through, its payment_months).
fn household_standing(d: &Data) -> HashMap<&str, (Month, i64)> {
    let mut out: HashMap<&str, (Month, i64)> = HashMap::new();
    for e in &d.enrolments {
        if e.scheme != Scheme::HouseholdHi {
            continue;
        }
        if let Some(h) = &e.household {
            let cur = out.entry(h.as_str()).or_insert((e.paid_through, e.payment_months));
            if e.paid_through > cur.0 {
                *cur = (e.paid_through, e.payment_months);
            }
        }
    }
    out
}

fn pool_base(
    d: &Data,
    cfg: &ScoringConfig,
    reference: &Reference,
    keyer: &PersonKeyer,
    asof_m: Month,
) -> PoolBase {
    let now_from = asof_m.add(1 - cfg.pool.compulsory_now_months as i32);
    let wage_from = asof_m.add(-(cfg.pool.compulsory_wage_months as i32));
    // The candidates' rows, each under its candidate's key ("si:" and the
    // si_number when the person is linked, else "ref:" and the person_ref)
    // and its place in the sources, sorted: a candidate's rows come together,
    // candidates in key order and each one's rows in the order the sources
    // are read below. Built and judged in runs of candidates on both cores;
    // a map of the candidates (a BTreeMap at first) held them all at once,
    // and building it alone was a single-threaded 2.4 s at 4M people.
    let households: Vec<&HouseholdBiz> = d.households.iter().filter(|h| h.active).collect();
    let stopped: Vec<&Text> = d.contrib.iter().filter(|(_, (_, last))| *last < now_from).map(|(si, _)| si).collect();
    let free: Vec<&Text> = d.tax.iter().filter(|(_, t)| t.months != 0).map(|(r, _)| r).collect();
    let household_hi: Vec<&Text> = d.enrolments.iter().filter(|e| e.scheme == Scheme::HouseholdHi).map(|e| &e.si).collect();
    let key_of = |si: Option<&Text>, r: &Text| match si {
        Some(s) => compact_str::format_compact!("si:{s}"),
        None => compact_str::format_compact!("ref:{r}"),
    };
    let mut rows: Vec<(Text, u64)> = Vec::with_capacity(households.len() + stopped.len() + free.len() + household_hi.len());
    rows.extend(households.iter().enumerate().map(|(i, h)| (key_of(d.link.get(&h.person_ref), &h.person_ref), i as u64)));
    rows.extend(stopped.iter().enumerate().map(|(i, si)| (key_of(Some(si), si), 1 << 32 | i as u64)));
    rows.extend(free.iter().enumerate().map(|(i, r)| (key_of(d.link.get(*r), r), 2 << 32 | i as u64)));
    rows.extend(household_hi.iter().enumerate().map(|(i, si)| (key_of(Some(si), si), 3 << 32 | i as u64)));
    rows.par_sort_unstable();
    // One candidate from its rows.
    let gather = |rows: &[(Text, u64)]| {
        let mut c = Cand::default();
        for &(_, row) in rows {
            let i = (row & 0xFFFF_FFFF) as usize;
            match row >> 32 {
                0 => {
                    let h = households[i];
                    c.si = d.link.get(&h.person_ref).cloned();
                    c.sources |= SRC_HB;
                    c.revenue = c.revenue.max(h.revenue);
                    c.market |= h.market;
                    c.craft_village |= h.craft_village;
                    c.refs.push(h.person_ref.clone());
                    c.birth = c.birth.or(h.birth);
                    c.female = c.female.or(h.female);
                    if c.province.is_none() {
                        c.province = h.province.clone();
                        c.ward = h.ward.clone();
                    }
                    c.name = c.name.take().or(h.name.clone());
                    c.citizen_id = c.citizen_id.take().or(h.citizen_id.clone());
                }
                1 => {
                    c.si = Some(stopped[i].clone());
                    c.sources |= SRC_STOPPED;
                }
                2 => {
                    let r = free[i];
                    c.si = d.link.get(r).cloned();
                    c.sources |= SRC_FREE;
                    c.refs.push(r.clone());
                }
                _ => {
                    c.si = Some(household_hi[i].clone());
                    c.sources |= SRC_HH;
                }
            }
        }
        c
    };
    let voluntary: HashSet<&str> = d.enrolments.iter().filter(|e| e.scheme == Scheme::VoluntarySi).map(|e| e.si.as_str()).collect();
    let hh_of_si: HashMap<&str, &str> =
        d.enrolments.iter().filter_map(|e| e.household.as_deref().map(|h| (e.si.as_str(), h))).collect();
    let standing = household_standing(d);
    let conf_from = asof_m.add(1 - cfg.features.conference_months as i32);
    let mut registrations: HashMap<(&str, &str), i64> = HashMap::new();
    for (p, w, held, _, _, reg) in &d.conferences {
        let m = Month::of_date(*held);
        if let Some(w) = w {
            if m >= conf_from && m <= asof_m {
                *registrations.entry((p.as_str(), w.as_str())).or_default() += reg;
            }
        }
    }
    let f = &cfg.features;
    let mut excluded: BTreeMap<String, u64> = BTreeMap::new();
    // Sized once, for every candidate (the excluded ones' room is never
    // touched, so never resident), rather than grown by doubling, which
    // copies the prospects (2.4M of about 450 bytes at 16M people) while the
    // old buffer is still held; the pool is the stage's peak.
    let candidates = rows.chunk_by(|a, b| a.0 == b.0).count();
    let mut out = Vec::with_capacity(candidates);
    let mut basis = Vec::with_capacity(candidates);
    // A candidate judged: kept with its age basis, or excluded and why.
    let judge = |mut c: Cand| -> Option<Result<(Prospect, AgeBasis), &'static str>> {
        // Everything the person's si_number links to.
        let person = c.si.as_ref().and_then(|s| d.people.get(s));
        if let Some(s) = &c.si {
            for r in d.refs_of.get(s).into_iter().flatten() {
                if !c.refs.contains(r) {
                    c.refs.push(r.clone());
                }
            }
        }
        // In name order: the first is the person's `person_ref`, whatever the
        // order the sources were read in (a rerun gives the same rows).
        c.refs.sort();
        c.refs.dedup();
        let taxes: Vec<&TaxPerson> = c.refs.iter().filter_map(|r| d.tax.get(r)).collect();
        let birth = person.and_then(|p| p.birth).or(c.birth).or_else(|| taxes.iter().find_map(|t| t.birth));
        let female = person.and_then(|p| p.female).or(c.female).or_else(|| {
            taxes.iter().find_map(|t| t.citizen_id.as_deref().and_then(female_from_cccd))
        });
        // No birth date: the birth year a CCCD carries gives an age range (see `finish_pool`).
        let cccd_year = person
            .and_then(|p| p.citizen_id.as_deref())
            .or(c.citizen_id.as_deref())
            .or_else(|| taxes.iter().find_map(|t| t.citizen_id.as_deref()))
            .and_then(birth_year_from_cccd);
        let birth_year = birth.map(|b| b.year()).or(cccd_year);
        // Unknown sex: the later (men's) retirement age, so nobody is dropped on a guess.
        let retirement = birth_year.and_then(|y| reference.retirement_age_months(female.unwrap_or(false), y).ok());
        let si_contrib = c.si.as_ref().and_then(|s| d.contrib.get(s));
        let why = exclusion(
            person.is_some_and(|p| p.pensioner),
            c.si.as_deref().is_some_and(|s| voluntary.contains(s)),
            si_contrib.is_some_and(|(_, last)| *last >= now_from),
            // Compulsory-contract wages in the recent months that no declaration
            // covers (after the last due month): an employee, the coverage
            // stage's case.
            taxes.iter().any(|t| {
                t.last_compulsory.is_some_and(|m| m >= wage_from && si_contrib.is_none_or(|(_, last)| m > *last))
            }),
            // The ages are the day's: `finish_pool` judges them.
            None,
            retirement,
            cfg.pool.min_age_years,
        );
        if let Some(why) = why {
            return Some(Err(why));
        }
        let source_at = SOURCES.iter().position(|(b, _)| c.sources & b != 0).expect("a candidate has a source");
        let source = SOURCES[source_at].1;
        let mut x: Features = [0.0; FEATURES.len()];
        let months = taxes.iter().map(|t| t.months).max().unwrap_or(0);
        let total: i64 = taxes.iter().map(|t| t.total).sum();
        if months > 0 {
            let avg = total / months;
            feature!(x, "income_level", (avg as f64 / f.income_full_vnd as f64).min(1.0));
            feature!(x, "income_stability", (months as f64 / cfg.pool.income_months as f64).min(1.0));
            let stable = months >= i64::from(f.stable_min_months) && avg >= f.stable_min_income_vnd;
            feature!(x, "stable_income", if stable { 1.0 } else { 0.0 });
        }
        let prior = person.map_or(0, |p| p.contributed) + si_contrib.map_or(0, |(n, _)| *n);
        if (f.near_pension_min_months..=f.near_pension_max_months).contains(&prior) {
            feature!(x, "prior_10_19_years", 1.0);
        }
        feature!(x, "prior_months", (prior as f64 / f.prior_full_months as f64).min(1.0));
        if let Some(rev) = c.revenue {
            if rev >= f.revenue_min_vnd {
                feature!(x, "business_revenue", 1.0);
            }
            feature!(x, "revenue_level", (rev as f64 / f.revenue_full_vnd as f64).min(1.0));
        }
        if c.market {
            feature!(x, "market_trader", 1.0);
        }
        if c.craft_village {
            feature!(x, "craft_village", 1.0);
        }
        let household = c.si.as_deref().and_then(|s| person.and_then(|p| p.household.as_deref()).or(hh_of_si.get(s).copied()));
        if let Some((through, pm)) = household.and_then(|h| standing.get(h)) {
            if *through >= asof_m {
                feature!(x, "household_covered", 1.0);
                if *pm >= i64::from(f.household_min_payment_months) {
                    feature!(x, "household_pays_ahead", 1.0);
                }
            }
        }
        let tax_place = taxes.iter().find_map(|t| t.place.clone());
        let province = person.and_then(|p| p.province.clone()).or(c.province.clone()).or_else(|| tax_place.as_ref().and_then(|p| p.0.clone()));
        let ward = person.and_then(|p| p.ward.clone()).or(c.ward.clone()).or_else(|| tax_place.as_ref().and_then(|p| p.1.clone()));
        if let (Some(p), Some(w)) = (&province, &ward) {
            let reg = registrations.get(&(p.as_str(), w.as_str())).copied().unwrap_or(0);
            feature!(x, "commune_registrations", (reg as f64 / f.conference_full as f64).min(1.0));
        }
        x[SOURCE_FEATURES[source_at]] = 1.0;
        let person_ref = c.refs.first().cloned();
        let key = match (&c.si, &person_ref) {
            (Some(s), _) => keyer.si(s),
            (None, Some(r)) => keyer.tax(r),
            _ => return None,
        };
        let prospect = Prospect {
            key,
            si: c.si.clone(),
            person_ref,
            source,
            province,
            ward,
            age: None,
            x,
            score: 0,
            reasons: String::new(),
            agent: None,
            assigned_by: "unassigned",
            rank: 0,
            name: person.and_then(|p| p.name.clone()).or(c.name.clone()).or_else(|| taxes.iter().find_map(|t| t.name.clone())),
            birth,
            citizen_id: person.and_then(|p| p.citizen_id.clone()).or(c.citizen_id.clone()).or_else(|| taxes.iter().find_map(|t| t.citizen_id.clone())),
        };
        Some(Ok((prospect, AgeBasis { cccd_year, retirement })))
    };
    // Runs of candidates judged in parallel, kept in key order.
    const RUN: usize = 1 << 15;
    let mut groups = rows.chunk_by(|a, b| a.0 == b.0).peekable();
    while groups.peek().is_some() {
        let run: Vec<&[(Text, u64)]> = groups.by_ref().take(RUN).collect();
        let judged: Vec<_> = run.into_par_iter().map(|g| judge(gather(g))).collect();
        for j in judged {
            match j {
                Some(Ok((p, b))) => {
                    out.push(p);
                    basis.push(b);
                }
                Some(Err(why)) => *excluded.entry(why.into()).or_default() += 1,
                None => {}
            }
        }
    }
    PoolBase { pool: out, basis, candidates: candidates as u64, excluded }
}

/// The pool before the day's ages are judged (see [`finish_pool`]): what
/// depends on the as-of month only, kept between the nights of a month.
struct PoolBase {
    /// The prospects, `age` unset and the `prime_age` feature 0.
    pool: Vec<Prospect>,
    /// Each prospect's [`AgeBasis`], in the pool's order.
    basis: Vec<AgeBasis>,
    /// Candidates before any exclusion.
    candidates: u64,
    /// Candidates excluded, by reason (none by age yet).
    excluded: BTreeMap<String, u64>,
}

/// The frames `load` keeps for the month (see [`kept`]).
const FRAMES: [&str; 7] = ["free_workers", "people_needed", "due_months", "links_held", "last_compulsory", "wage_facts", "people_held"];

/// The kept pool before the day's ages (a frame of the cache, under the pool's key).
const POOL_BASE: &str = "pool_base";

/// The pool base as a frame: one row per prospect, a column per feature.
fn pool_base_frame(pool: &[Prospect], basis: &[AgeBasis]) -> Result<DataFrame> {
    let text = |f: fn(&Prospect) -> Option<&str>| pool.iter().map(f).collect::<Vec<_>>();
    let mut cols = vec![
        Column::new("key".into(), pool.iter().map(|p| p.key.as_str()).collect::<Vec<_>>()),
        Column::new("si_number".into(), text(|p| p.si.as_deref())),
        Column::new("person_ref".into(), text(|p| p.person_ref.as_deref())),
        Column::new("source".into(), pool.iter().map(|p| p.source).collect::<Vec<_>>()),
        Column::new("province_code".into(), text(|p| p.province.as_deref())),
        Column::new("ward_code".into(), text(|p| p.ward.as_deref())),
        Column::new("name".into(), text(|p| p.name.as_deref())),
        Column::new("citizen_id".into(), text(|p| p.citizen_id.as_deref())),
        date_column("birth_date", pool.iter().map(|p| p.birth).collect())?,
        Column::new("cccd_year".into(), basis.iter().map(|b| b.cccd_year).collect::<Vec<_>>()),
        Column::new("retirement_months".into(), basis.iter().map(|b| b.retirement.map(i64::from)).collect::<Vec<_>>()),
    ];
    for (j, name) in FEATURES.iter().enumerate() {
        cols.push(Column::new(format!("x_{name}").into(), pool.iter().map(|p| p.x[j]).collect::<Vec<f64>>()));
    }
    Ok(DataFrame::new(pool.len(), cols)?)
}

/// Writes the pool base to `file`, a batch of prospects at a time (the
/// pool is the stage's peak: it is never copied whole into a frame).
fn write_pool_base(file: &std::path::Path, pool: &[Prospect], basis: &[AgeBasis]) -> Result<()> {
    const BATCH: usize = 1 << 17;
    let first = pool_base_frame(&pool[..pool.len().min(BATCH)], &basis[..basis.len().min(BATCH)])?;
    let mut out = lake::ParquetFile::create(file, first.schema())?;
    out.write(&first)?;
    drop(first);
    for (p, b) in pool.chunks(BATCH).zip(basis.chunks(BATCH)).skip(1) {
        out.write(&pool_base_frame(p, b)?)?;
    }
    out.commit()
}

/// The pool base read back: the frame [`write_pool_base`] wrote and the
/// counts kept beside it.
fn read_pool_base(df: &DataFrame, kept: &serde_json::Value) -> Result<PoolBase> {
    let (key, si, pr, src) = (texts(df, "key")?, texts(df, "si_number")?, texts(df, "person_ref")?, texts(df, "source")?);
    let (prov, ward, name, cid) = (texts(df, "province_code")?, texts(df, "ward_code")?, texts(df, "name")?, texts(df, "citizen_id")?);
    let (birth, cccd, retirement) = (days(df, "birth_date")?, ints(df, "cccd_year")?, ints(df, "retirement_months")?);
    let xs: Vec<Vec<Option<f64>>> = FEATURES.iter().map(|n| floats(df, &format!("x_{n}"))).collect::<Result<_>>()?;
    let (mut pool, mut basis) = (Vec::with_capacity(df.height()), Vec::with_capacity(df.height()));
    for i in 0..df.height() {
        let mut x: Features = [0.0; FEATURES.len()];
        for (j, v) in xs.iter().enumerate() {
            x[j] = v[i].unwrap_or(0.0);
        }
        let source = SOURCES.iter().map(|s| s.1).find(|s| src[i].as_deref() == Some(*s));
        let (Some(key), Some(source)) = (key[i].as_deref(), source) else { anyhow::bail!("kept pool: row {i} has no key or an unknown source") };
        pool.push(Prospect {
            key: key.to_string(),
            si: si[i].clone(),
            person_ref: pr[i].clone(),
            source,
            province: prov[i].clone(),
            ward: ward[i].clone(),
            age: None,
            x,
            score: 0,
            reasons: String::new(),
            agent: None,
            assigned_by: "unassigned",
            rank: 0,
            name: name[i].clone(),
            birth: birth[i].map(frame::from_days),
            citizen_id: cid[i].clone(),
        });
        basis.push(AgeBasis { cccd_year: cccd[i].and_then(|y| i32::try_from(y).ok()), retirement: retirement[i].and_then(|r| u32::try_from(r).ok()) });
    }
    let candidates = kept.get("candidates").and_then(serde_json::Value::as_u64).context("kept pool: no candidate count")?;
    let excluded = serde_json::from_value(kept.get("excluded").cloned().context("kept pool: no exclusion counts")?)?;
    Ok(PoolBase { pool, basis, candidates, excluded })
}

/// What the day's age of a prospect is judged by, beside its birth date.
#[derive(Clone, Copy, Debug)]
struct AgeBasis {
    /// The birth year a CCCD carries (for a person without a birth date).
    cccd_year: Option<i32>,
    /// The retirement age for the person's sex and birth year, in months.
    retirement: Option<u32>,
}

/// The pool as of the day: each prospect's age at `as_of`, the exclusions by
/// age (too young, past retirement age) and the `prime_age` feature, in
/// place (the pool is the stage's peak). Everything else of the pool depends
/// on the as-of month only, and is kept between the nights of a month.
fn finish_pool(pool: &mut Vec<Prospect>, basis: &[AgeBasis], cfg: &ScoringConfig, as_of: NaiveDate, excluded: &mut BTreeMap<String, u64>) {
    let f = &cfg.features;
    let mut i = 0;
    pool.retain_mut(|p| {
        let b = basis[i];
        i += 1;
        let age_m = p.birth.map(|b| age_months(b, as_of));
        let age_range = match (age_m, b.cccd_year) {
            (Some(a), _) => Some((a, a)),
            (None, Some(y)) => NaiveDate::from_ymd_opt(y, 12, 31)
                .zip(NaiveDate::from_ymd_opt(y, 1, 1))
                .map(|(youngest, oldest)| (age_months(youngest, as_of), age_months(oldest, as_of))),
            _ => None,
        };
        if let Some(why) = exclusion(false, false, false, false, age_range, b.retirement, cfg.pool.min_age_years) {
            *excluded.entry(why.into()).or_default() += 1;
            return false;
        }
        let age = age_m.map(|a| i64::from(a / 12));
        if age.is_some_and(|a| a >= i64::from(f.prime_age_from) && a <= i64::from(f.prime_age_to)) {
            feature!(p.x, "prime_age", 1.0);
        }
        p.age = age;
        true
    });
}

// ------------------------------------------------------------------ agents

/// Active agents by ward and by province, with their loads.
struct AgentIndex<'a> {
    agents: &'a [Agent],
    by_code: HashMap<&'a str, usize>,
    by_ward: HashMap<(&'a str, &'a str), Vec<usize>>,
    by_province: HashMap<&'a str, Vec<usize>>,
    load: Vec<u64>,
}

impl<'a> AgentIndex<'a> {
    fn new(agents: &'a [Agent]) -> Self {
        let mut ix = AgentIndex { agents, by_code: HashMap::new(), by_ward: HashMap::new(), by_province: HashMap::new(), load: vec![0; agents.len()] };
        for (i, a) in agents.iter().enumerate() {
            ix.by_code.insert(a.code.as_str(), i);
            if !a.active {
                continue;
            }
            ix.by_province.entry(a.province.as_str()).or_default().push(i);
            if let Some(w) = &a.ward {
                ix.by_ward.entry((a.province.as_str(), w.as_str())).or_default().push(i);
            }
        }
        ix
    }

    fn least_loaded(&self, among: &[usize]) -> Option<usize> {
        among.iter().copied().min_by_key(|i| (self.load[*i], &self.agents[*i].code))
    }

    /// An active agent of the ward, else the province's least-loaded one.
    fn assign(&mut self, province: Option<&str>, ward: Option<&str>) -> (Option<usize>, &'static str) {
        let pick = match (province, ward) {
            (Some(p), Some(w)) => self.by_ward.get(&(p, w)).and_then(|v| self.least_loaded(v)).map(|i| (i, "ward_agent")),
            _ => None,
        }
        .or_else(|| province.and_then(|p| self.by_province.get(p)).and_then(|v| self.least_loaded(v)).map(|i| (i, "least_loaded")));
        match pick {
            Some((i, how)) => {
                self.load[i] += 1;
                (Some(i), how)
            }
            None => (None, "unassigned"),
        }
    }
}

// ------------------------------------------------------------------ history

#[derive(Clone, Debug)]
struct History {
    si: Option<Text>,
    person_ref: Option<Text>,
    province: Option<Text>,
    agent: Option<Text>,
    source: Text,
    first_listed: NaiveDate,
    last_listed: NaiveDate,
    score_first: i64,
    enrolled_seen: Option<NaiveDate>,
    x: Features,
}

fn load_history(lake: &Lake) -> Result<BTreeMap<String, History>> {
    let mut out = BTreeMap::new();
    let path = lake.silver_file("prospect_history");
    if !path.exists() {
        return Ok(out);
    }
    let df = lake::read_parquet(&path)?;
    let (key, si, r, p, a, s) = (texts(&df, "person_key")?, texts(&df, "si_number")?, texts(&df, "person_ref")?, texts(&df, "province_code")?, texts(&df, "agent_code")?, texts(&df, "source")?);
    let (first, last, sc, en) = (days(&df, "first_listed")?, days(&df, "last_listed")?, ints(&df, "score_first")?, days(&df, "enrolled_seen")?);
    let mut fx: Vec<Vec<Option<f64>>> = Vec::new();
    for f in FEATURES {
        // A feature added after a row was written reads as 0.
        fx.push(if df.column(&format!("f_{f}")).is_ok() { floats(&df, &format!("f_{f}"))? } else { vec![None; df.height()] });
    }
    for i in 0..df.height() {
        let (Some(k), Some(first), Some(last)) = (key[i].clone(), first[i], last[i]) else { continue };
        out.insert(k.to_string(), History {
            si: si[i].clone(),
            person_ref: r[i].clone(),
            province: p[i].clone(),
            agent: a[i].clone(),
            source: s[i].clone().unwrap_or_default(),
            first_listed: frame::from_days(first),
            last_listed: frame::from_days(last),
            score_first: sc[i].unwrap_or(0),
            enrolled_seen: en[i].map(frame::from_days),
            x: std::array::from_fn(|j| fx[j][i].unwrap_or(0.0)),
        });
    }
    Ok(out)
}

fn write_history(lake: &Lake, h: &BTreeMap<String, History>) -> Result<()> {
    let v: Vec<(&String, &History)> = h.iter().collect();
    let mut cols = vec![
        Column::new("person_key".into(), v.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>()),
        Column::new("si_number".into(), v.iter().map(|(_, r)| r.si.as_deref()).collect::<Vec<_>>()),
        Column::new("person_ref".into(), v.iter().map(|(_, r)| r.person_ref.as_deref()).collect::<Vec<_>>()),
        Column::new("province_code".into(), v.iter().map(|(_, r)| r.province.as_deref()).collect::<Vec<_>>()),
        Column::new("agent_code".into(), v.iter().map(|(_, r)| r.agent.as_deref()).collect::<Vec<_>>()),
        Column::new("source".into(), v.iter().map(|(_, r)| r.source.as_str()).collect::<Vec<_>>()),
        date_column("first_listed", v.iter().map(|(_, r)| Some(r.first_listed)).collect())?,
        date_column("last_listed", v.iter().map(|(_, r)| Some(r.last_listed)).collect())?,
        Column::new("score_first".into(), v.iter().map(|(_, r)| r.score_first).collect::<Vec<_>>()),
        date_column("enrolled_seen", v.iter().map(|(_, r)| r.enrolled_seen).collect())?,
    ];
    for (j, f) in FEATURES.iter().enumerate() {
        cols.push(Column::new(format!("f_{f}").into(), v.iter().map(|(_, r)| r.x[j]).collect::<Vec<_>>()));
    }
    let mut df = DataFrame::new(v.len(), cols)?;
    lake::write_parquet(&lake.silver_file("prospect_history"), &mut df)
}

// ------------------------------------------------------------------ run

use crate::month::iso_week;

fn ceil_pct(n: u64, pct: u32) -> i64 {
    ((n * u64::from(pct)).div_ceil(100)) as i64
}

/// Competition ranks (1, 1, 3) of `values`, largest first.
fn ranks(values: &[i64]) -> Vec<i64> {
    values.iter().map(|v| 1 + values.iter().filter(|w| *w > v).count() as i64).collect()
}

/// A participant on the D08a-TS list of month L, with the agent who collects.
struct DueRow<'a> {
    e: &'a Enrolment,
    province: Option<Text>,
    agent: Option<usize>,
    agent_code: Option<Text>,
    how: &'static str,
    amount: Option<i64>,
    /// The next payment period: first and last month.
    period: (Month, Month),
}

/// Runs the voluntary stage: outcomes of earlier listings, the model, the
/// scored and assigned pool, D08a-TS, agents' targets and results,
/// conferences, rankings, then the exports.
/// With a `cache` (the nightly run), the frames it reads are kept for the
/// as-of month (see [`load`]); `bhxh stage voluntary` reads everything.
///
/// `pool_key` names what the pool reads beyond the cache's inputs (see
/// `pipeline::voluntary_pool_key`); with it, the pool before the day's ages
/// is kept for the month like the frames, and a night that finds it kept
/// (and every frame) reads it back instead of what it is built from.
pub fn run(
    lake: &Lake,
    cfg: &ScoringConfig,
    reference: &Reference,
    keyer: &PersonKeyer,
    as_of: NaiveDate,
    mut cache: Option<MonthCache>,
    pool_key: Option<&str>,
) -> Result<VoluntaryReport> {
    let start = Instant::now();
    let asof_m = Month::of_date(as_of);
    let mut report = VoluntaryReport::default();
    let mut kept_base = None;
    if let (Some(c), Some(key)) = (cache.as_mut(), pool_key) {
        if c.all_kept(&FRAMES, asof_m) {
            if let Some((df, kept)) = c.kept_frame_keyed(POOL_BASE, asof_m, key)? {
                kept_base = Some(read_pool_base(&df, &kept)?);
            }
        }
    }
    let mut d = load(lake, cfg, asof_m, &mut cache, kept_base.is_none())?;
    let mut t = Instant::now();
    let base = match kept_base {
        Some(b) => b,
        None => {
            let b = pool_base(&d, cfg, reference, keyer, asof_m);
            // What only the pool is built from, freed before the rest of the
            // stage (the links once the outcomes are recorded); the history is
            // read after the pool is built, so that the two are not in memory
            // together with everything the pool is built from.
            (d.tax, d.refs_of, d.contrib, d.households) = Default::default();
            if let (Some(c), Some(key)) = (cache.as_mut(), pool_key) {
                let kept = serde_json::json!({ "candidates": b.candidates, "excluded": b.excluded });
                c.keep_frame_written(POOL_BASE, asof_m, key, kept, |file| write_pool_base(file, &b.pool, &b.basis))?;
            }
            b
        }
    };
    if let Some(c) = cache.take() {
        (report.frames_reused, report.frames_computed) = (c.frames_reused, c.frames_computed);
    }
    let PoolBase { mut pool, basis, candidates, mut excluded } = base;
    finish_pool(&mut pool, &basis, cfg, as_of, &mut excluded);
    drop(basis);
    report.candidates = candidates;
    report.excluded = excluded.into_iter().collect();
    lap("pool", &mut t);
    let mut history = load_history(lake)?;
    record_outcomes(&mut history, &d, as_of);
    d.link = Default::default();
    let model = choose_model(cfg, &history, as_of, &mut report);
    lap("history and model", &mut t);
    let ix = score_and_assign(&mut pool, &model, cfg, &d, &mut report);
    record_listings(&mut history, &pool, &d, as_of, &mut report);
    publish_prospects(lake, &pool, &d, &history, as_of)?;
    lap("prospects", &mut t);
    let due = d08a_list(&d, cfg, reference, asof_m, &mut report);
    publish_d08a(lake, &due, asof_m, &mut report)?;
    publish_agent_results(lake, cfg, &d, &ix, &pool, &due, &history, as_of)?;
    let first = first_periods(&d);
    publish_conferences(lake, &d, &ix, &first, asof_m, &mut report)?;
    publish_rankings(lake, &d, &ix, &first, as_of)?;
    write_history(lake, &history)?;
    lap("d08a, agents, conferences, rankings, history", &mut t);
    write_exports(lake, reference, &d, &pool, &due, as_of, &mut report)?;
    lap("exports", &mut t);
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Marks the listed people who have since enrolled in voluntary BHXH (an
/// enrolment starting in or after the month they were first listed).
fn record_outcomes(history: &mut BTreeMap<String, History>, d: &Data, as_of: NaiveDate) {
    let voluntary_from: HashMap<&str, Month> = {
        let mut m: HashMap<&str, Month> = HashMap::new();
        for e in d.enrolments.iter().filter(|e| e.scheme == Scheme::VoluntarySi) {
            let v = m.entry(e.si.as_str()).or_insert(e.paid_from);
            *v = (*v).max(e.paid_from);
        }
        m
    };
    for h in history.values_mut() {
        if h.enrolled_seen.is_some() {
            continue;
        }
        let si = h.si.clone().or_else(|| h.person_ref.as_ref().and_then(|r| d.link.get(r).cloned()));
        if let Some(latest) = si.as_deref().and_then(|s| voluntary_from.get(s)) {
            if *latest >= Month::of_date(h.first_listed) {
                h.enrolled_seen = Some(as_of);
            }
        }
    }
}

/// The documented default weights, or weights fitted on the outcomes when
/// enough listings are old enough and both outcomes are frequent enough.
fn choose_model(cfg: &ScoringConfig, history: &BTreeMap<String, History>, as_of: NaiveDate, report: &mut VoluntaryReport) -> Model {
    let mut model: Model = cfg.default_model();
    if cfg.fit.enabled {
        let cutoff = as_of - chrono::Duration::days(cfg.fit.min_age_days);
        let rows: Vec<(Vec<f64>, bool)> =
            history.values().filter(|h| h.first_listed <= cutoff).map(|h| (h.x.to_vec(), h.enrolled_seen.is_some())).collect();
        let pos = rows.iter().filter(|r| r.1).count();
        if pos >= cfg.fit.min_outcomes && rows.len() - pos >= cfg.fit.min_outcomes {
            model = score::fit(&rows, &cfg.fit);
        }
    }
    report.model = if model.fitted.is_some() { "fitted".into() } else { "defaults".into() };
    report.fit = model.fitted.clone();
    model

}

/// Scores the pool with reasons, ranks it, and assigns each prospect to an agent.
fn score_and_assign<'a>(pool: &mut [Prospect], model: &Model, cfg: &ScoringConfig, d: &'a Data, report: &mut VoluntaryReport) -> AgentIndex<'a> {
    for p in pool.iter_mut() {
        p.score = model.score(&p.x);
        let r = model.reasons(&p.x, cfg.model.max_reasons);
        p.reasons = if r.is_empty() { format!("source_{}", p.source) } else { r.join(",") };
    }
    // Person keys are unique in the pool, so no two prospects compare equal
    // and an unstable sort gives the one order; in place, on every core (a
    // stable sort moved the 450-byte prospects through a buffer of half the pool).
    pool.par_sort_unstable_by(|a, b| b.score.cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
    let mut ix = AgentIndex::new(&d.agents);
    let mut next_rank: HashMap<usize, i64> = HashMap::new();
    for p in pool.iter_mut() {
        let (agent, how) = ix.assign(p.province.as_deref(), p.ward.as_deref());
        p.agent = agent;
        p.assigned_by = how;
        if let Some(a) = agent {
            let r = next_rank.entry(a).or_insert(0);
            *r += 1;
            p.rank = *r;
        }
        if p.province.is_none() {
            p.province = agent.map(|a| d.agents[a].province.clone());
        }
    }
    report.prospects = pool.len() as u64;
    report.unassigned = pool.iter().filter(|p| p.agent.is_none()).count() as u64;
    let mut by_source: BTreeMap<&str, u64> = BTreeMap::new();
    for p in pool.iter() {
        *by_source.entry(p.source).or_default() += 1;
    }
    report.by_source = by_source.into_iter().map(|(k, v)| (k.to_string(), v)).collect();

    ix
}

/// Adds this run's listings to the prospect history.
fn record_listings(history: &mut BTreeMap<String, History>, pool: &[Prospect], d: &Data, as_of: NaiveDate, report: &mut VoluntaryReport) {
    for p in pool {
        let agent = p.agent.map(|a| d.agents[a].code.clone());
        match history.get_mut(&p.key) {
            Some(h) => {
                h.last_listed = h.last_listed.max(as_of);
                h.agent = agent;
                h.province = p.province.clone();
                h.si = h.si.take().or(p.si.clone());
            }
            None => {
                history.insert(p.key.clone(), History {
                    si: p.si.clone(),
                    person_ref: p.person_ref.clone(),
                    province: p.province.clone(),
                    agent,
                    source: p.source.into(),
                    first_listed: as_of,
                    last_listed: as_of,
                    score_first: p.score,
                    enrolled_seen: None,
                    x: p.x,
                });
            }
        }
    }
    report.history = history.len() as u64;
    report.enrolled_after_listing = history.values().filter(|h| h.enrolled_seen.is_some()).count() as u64;
}

/// The columns borrow the prospects' strings (copies of 2.4 M prospects'
/// strings were a gigabyte at 16M people).
fn publish_prospects(lake: &Lake, pool: &[Prospect], d: &Data, history: &BTreeMap<String, History>, as_of: NaiveDate) -> Result<()> {
    let first_listed: HashMap<&str, NaiveDate> = history.iter().map(|(k, h)| (k.as_str(), h.first_listed)).collect();

    publish(lake, &tables::VOLUNTARY_PROSPECTS, DataFrame::new(pool.len(), vec![
        date_column("as_of", vec![Some(as_of); pool.len()])?,
        Column::new("province_code".into(), pool.iter().map(|p| p.province.as_deref()).collect::<Vec<_>>()),
        Column::new("ward_code".into(), pool.iter().map(|p| p.ward.as_deref()).collect::<Vec<_>>()),
        Column::new("person_key".into(), pool.iter().map(|p| p.key.as_str()).collect::<Vec<_>>()),
        Column::new("source".into(), pool.iter().map(|p| p.source).collect::<Vec<_>>()),
        Column::new("score".into(), pool.iter().map(|p| p.score).collect::<Vec<_>>()),
        Column::new("reasons".into(), pool.iter().map(|p| p.reasons.as_str()).collect::<Vec<_>>()),
        Column::new("agent_code".into(), pool.iter().map(|p| p.agent.map(|a| d.agents[a].code.as_str())).collect::<Vec<_>>()),
        Column::new("agent_rank".into(), pool.iter().map(|p| p.agent.map(|_| p.rank)).collect::<Vec<_>>()),
        Column::new("assigned_by".into(), pool.iter().map(|p| p.assigned_by).collect::<Vec<_>>()),
        Column::new("age".into(), pool.iter().map(|p| p.age).collect::<Vec<_>>()),
        date_column("first_listed", pool.iter().map(|p| first_listed.get(p.key.as_str()).copied()).collect())?,
    ])?)?;

    Ok(())
}

/// DOMAIN "D08a-TS list for month L": each person's latest enrolment per
/// scheme that is due, its collecting agent and its amount.
fn d08a_list<'a>(d: &'a Data, cfg: &ScoringConfig, reference: &Reference, asof_m: Month, report: &mut VoluntaryReport) -> Vec<DueRow<'a>> {
    let l = asof_m.next();
    let mut latest: BTreeMap<(&str, &'static str), &Enrolment> = BTreeMap::new();
    for e in &d.enrolments {
        let k = (e.si.as_str(), scheme_code(e.scheme));
        match latest.get(&k) {
            Some(cur) if (cur.paid_through, cur.paid_from) >= (e.paid_through, e.paid_from) => {}
            _ => {
                latest.insert(k, e);
            }
        }
    }
    let mut dix = AgentIndex::new(&d.agents);
    let mut due: Vec<DueRow> = Vec::new();
    for e in latest.values() {
        if !d08a::is_due(e.paid_through, l, cfg.d08a.max_lapse_months) {
            continue;
        }
        let person = d.people.get(&e.si);
        let own = e.agent.as_deref().and_then(|a| dix.by_code.get(a).copied()).filter(|i| d.agents[*i].active);
        let (agent, how) = match own {
            Some(i) => {
                dix.load[i] += 1;
                (Some(i), "enrolment")
            }
            None => {
                let prov = person.and_then(|p| p.province.clone())
                    .or_else(|| e.agent.as_deref().and_then(|a| dix.by_code.get(a)).map(|i| d.agents[*i].province.clone()));
                dix.assign(prov.as_deref(), person.and_then(|p| p.ward.as_deref()))
            }
        };
        let province = person.and_then(|p| p.province.clone()).or_else(|| agent.map(|a| d.agents[a].province.clone()));
        let terms = d08a::Terms {
            scheme: e.scheme,
            income_basis: e.income_basis,
            support_group: e.support,
            member_order: e.member_order.map(|m| m as u32),
            payment_months: e.payment_months.max(1) as u32,
            paid_through: e.paid_through,
        };
        let amount = d08a::amount_due(reference, &terms).ok();
        if amount.is_none() {
            report.d08a_incomplete += 1;
        }
        let period = d08a::next_period(e.paid_through, e.payment_months.max(1) as u32);
        let agent_code = agent.map(|a| d.agents[a].code.clone());
        due.push(DueRow { e, province, agent, agent_code, how, amount, period });
    }
    due
}

fn publish_d08a(lake: &Lake, due: &[DueRow], asof_m: Month, report: &mut VoluntaryReport) -> Result<()> {
    let l = asof_m.next();
    report.d08a_participants = due.len() as u64;
    report.d08a_amount = due.iter().filter_map(|r| r.amount).sum();
    let n = due.len();
    publish(lake, &tables::D08A_DUE, DataFrame::new(n, vec![
        date_column("month", vec![Some(l.first_day()); n])?,
        Column::new("province_code".into(), due.iter().map(|r| r.province.as_deref()).collect::<Vec<_>>()),
        Column::new("agent_code".into(), due.iter().map(|r| r.agent_code.as_deref()).collect::<Vec<_>>()),
        Column::new("si_number".into(), due.iter().map(|r| r.e.si.as_str()).collect::<Vec<_>>()),
        Column::new("scheme".into(), due.iter().map(|r| scheme_code(r.e.scheme)).collect::<Vec<_>>()),
        Column::new("household_code".into(), due.iter().map(|r| r.e.household.as_deref()).collect::<Vec<_>>()),
        Column::new("member_order".into(), due.iter().map(|r| r.e.member_order).collect::<Vec<_>>()),
        Column::new("support_group".into(), due.iter().map(|r| r.e.support.map(support_code)).collect::<Vec<_>>()),
        Column::new("income_basis".into(), due.iter().map(|r| r.e.income_basis).collect::<Vec<_>>()),
        Column::new("payment_months".into(), due.iter().map(|r| r.e.payment_months).collect::<Vec<_>>()),
        date_column("paid_through", due.iter().map(|r| Some(r.e.paid_through.first_day())).collect())?,
        date_column("period_from", due.iter().map(|r| Some(r.period.0.first_day())).collect())?,
        date_column("period_to", due.iter().map(|r| Some(r.period.1.first_day())).collect())?,
        Column::new("amount_due".into(), due.iter().map(|r| r.amount).collect::<Vec<_>>()),
        Column::new("status".into(), due.iter().map(|r| if r.e.paid_through == l { "renew" } else { "lapsed" }).collect::<Vec<_>>()),
        Column::new("assigned_by".into(), due.iter().map(|r| r.how).collect::<Vec<_>>()),
    ])?)?;

    Ok(())
}

/// Agents' targets (a share of their prospects) and their weekly results.
#[allow(clippy::too_many_arguments)]
fn publish_agent_results(
    lake: &Lake,
    cfg: &ScoringConfig,
    d: &Data,
    ix: &AgentIndex,
    pool: &[Prospect],
    due: &[DueRow],
    history: &BTreeMap<String, History>,
    as_of: NaiveDate,
) -> Result<()> {
    let asof_m = Month::of_date(as_of);
    let mut prospects_of = vec![0u64; d.agents.len()];
    for p in pool {
        if let Some(a) = p.agent {
            prospects_of[a] += 1;
        }
    }
    let mut d08a_of = vec![(0i64, 0i64); d.agents.len()];
    for r in due {
        if let Some(a) = r.agent {
            d08a_of[a].0 += 1;
            d08a_of[a].1 += r.amount.unwrap_or(0);
        }
    }
    let week = iso_week(as_of);
    let quarter = |m: Month| (m.year(), (m.month() - 1) / 3);
    let mut res: HashMap<&str, [i64; 5]> = HashMap::new();
    let mut weekly: BTreeMap<(&str, String), (i64, i64)> = BTreeMap::new();
    for h in history.values() {
        let Some(a) = h.agent.as_deref() else { continue };
        let r = res.entry(a).or_default();
        r[0] += 1;
        if let Some(e) = h.enrolled_seen {
            r[1] += 1;
            r[2] += i64::from(iso_week(e) == week);
            r[3] += i64::from(Month::of_date(e) == asof_m);
            r[4] += i64::from(quarter(Month::of_date(e)) == quarter(asof_m));
        }
        let w = weekly.entry((a, iso_week(h.first_listed))).or_default();
        w.0 += 1;
        w.1 += i64::from(h.enrolled_seen.is_some());
    }
    let pct = &cfg.targets;
    let na = d.agents.len();
    let r_of = |a: &Agent, k: usize| res.get(a.code.as_str()).map_or(0, |r| r[k]);
    publish(lake, &tables::AGENT_TARGETS, DataFrame::new(na, vec![
        date_column("as_of", vec![Some(as_of); na])?,
        Column::new("province_code".into(), d.agents.iter().map(|a| a.province.as_str()).collect::<Vec<_>>()),
        Column::new("agent_code".into(), d.agents.iter().map(|a| a.code.as_str()).collect::<Vec<_>>()),
        Column::new("ward_code".into(), d.agents.iter().map(|a| a.ward.as_deref()).collect::<Vec<_>>()),
        Column::new("active".into(), d.agents.iter().map(|a| a.active).collect::<Vec<_>>()),
        Column::new("prospects".into(), prospects_of.iter().map(|n| *n as i64).collect::<Vec<_>>()),
        Column::new("weekly_target".into(), prospects_of.iter().map(|n| ceil_pct(*n, pct.weekly_percent)).collect::<Vec<_>>()),
        Column::new("monthly_target".into(), prospects_of.iter().map(|n| ceil_pct(*n, pct.monthly_percent)).collect::<Vec<_>>()),
        Column::new("quarterly_target".into(), prospects_of.iter().map(|n| ceil_pct(*n, pct.quarterly_percent)).collect::<Vec<_>>()),
        Column::new("listed_total".into(), d.agents.iter().map(|a| r_of(a, 0)).collect::<Vec<_>>()),
        Column::new("enrolled_total".into(), d.agents.iter().map(|a| r_of(a, 1)).collect::<Vec<_>>()),
        Column::new("enrolled_week".into(), d.agents.iter().map(|a| r_of(a, 2)).collect::<Vec<_>>()),
        Column::new("enrolled_month".into(), d.agents.iter().map(|a| r_of(a, 3)).collect::<Vec<_>>()),
        Column::new("enrolled_quarter".into(), d.agents.iter().map(|a| r_of(a, 4)).collect::<Vec<_>>()),
        Column::new("d08a_participants".into(), d08a_of.iter().map(|x| x.0).collect::<Vec<_>>()),
        Column::new("d08a_amount".into(), d08a_of.iter().map(|x| x.1).collect::<Vec<_>>()),
    ])?)?;
    let wk: Vec<(&(&str, String), &(i64, i64))> = weekly.iter().filter(|((a, _), _)| ix.by_code.contains_key(a)).collect();
    let prov_of = |a: &str| ix.by_code.get(a).map(|i| d.agents[*i].province.as_str());
    let target_of = |a: &str| ix.by_code.get(a).map_or(0, |i| ceil_pct(prospects_of[*i], pct.weekly_percent));
    publish(lake, &tables::AGENT_WEEKLY_RESULTS, DataFrame::new(wk.len(), vec![
        date_column("as_of", vec![Some(as_of); wk.len()])?,
        Column::new("province_code".into(), wk.iter().map(|((a, _), _)| prov_of(a)).collect::<Vec<_>>()),
        Column::new("agent_code".into(), wk.iter().map(|((a, _), _)| a.to_string()).collect::<Vec<_>>()),
        Column::new("week".into(), wk.iter().map(|((_, w), _)| w.clone()).collect::<Vec<_>>()),
        Column::new("listed".into(), wk.iter().map(|(_, v)| v.0).collect::<Vec<_>>()),
        Column::new("enrolled".into(), wk.iter().map(|(_, v)| v.1).collect::<Vec<_>>()),
        Column::new("weekly_target".into(), wk.iter().map(|((a, _), _)| target_of(a)).collect::<Vec<_>>()),
    ])?)?;

    Ok(())
}

/// Each person's first enrolment per scheme: the new participants.
fn first_periods(d: &Data) -> BTreeMap<(&str, &'static str), &Enrolment> {
    let mut first: BTreeMap<(&str, &'static str), &Enrolment> = BTreeMap::new();
    for e in &d.enrolments {
        let k = (e.si.as_str(), scheme_code(e.scheme));
        match first.get(&k) {
            Some(cur) if cur.paid_from <= e.paid_from => {}
            _ => {
                first.insert(k, e);
            }
        }
    }

    first
}

/// §2.4 conference results per province, month and agent.
fn publish_conferences(
    lake: &Lake,
    d: &Data,
    ix: &AgentIndex,
    first: &BTreeMap<(&str, &'static str), &Enrolment>,
    asof_m: Month,
    report: &mut VoluntaryReport,
) -> Result<()> {
    let mut new_vol_ward: HashMap<(&str, &str, Month), i64> = HashMap::new();
    for e in first.values().filter(|e| e.scheme == Scheme::VoluntarySi) {
        if let Some(p) = d.people.get(&e.si) {
            if let (Some(pr), Some(w)) = (p.province.as_deref(), p.ward.as_deref()) {
                *new_vol_ward.entry((pr, w, e.paid_from)).or_default() += 1;
            }
        }
    }
    let mut conf: BTreeMap<(Text, Month, Option<Text>), ([i64; 4], HashSet<Text>)> = BTreeMap::new();
    for (p, w, held, inv, att, reg) in &d.conferences {
        let m = Month::of_date(*held);
        if m > asof_m {
            continue;
        }
        let agent = w.as_deref().and_then(|w| ix.by_ward.get(&(p.as_str(), w))).and_then(|v| v.first()).map(|i| d.agents[*i].code.clone());
        let e = conf.entry((p.clone(), m, agent)).or_default();
        e.0[0] += 1;
        e.0[1] += inv;
        e.0[2] += att;
        e.0[3] += reg;
        if let Some(w) = w {
            e.1.insert(w.clone());
        }
        report.conferences += 1;
    }
    let conf: Vec<_> = conf.into_iter().collect();
    let enrolled_of = |p: &str, m: Month, wards: &HashSet<Text>, reg: i64| -> i64 {
        let n: i64 = wards.iter().map(|w| (0..3).map(|k| new_vol_ward.get(&(p, w.as_str(), m.add(k))).copied().unwrap_or(0)).sum::<i64>()).sum();
        n.min(reg)
    };
    publish(lake, &tables::CONFERENCE_RESULTS, DataFrame::new(conf.len(), vec![
        Column::new("province_code".into(), conf.iter().map(|((p, _, _), _)| p.as_str()).collect::<Vec<_>>()),
        date_column("month", conf.iter().map(|((_, m, _), _)| Some(m.first_day())).collect())?,
        Column::new("agent_code".into(), conf.iter().map(|((_, _, a), _)| a.as_deref()).collect::<Vec<_>>()),
        Column::new("conferences".into(), conf.iter().map(|(_, (c, _))| c[0]).collect::<Vec<_>>()),
        Column::new("invited".into(), conf.iter().map(|(_, (c, _))| c[1]).collect::<Vec<_>>()),
        Column::new("attended".into(), conf.iter().map(|(_, (c, _))| c[2]).collect::<Vec<_>>()),
        Column::new("registered".into(), conf.iter().map(|(_, (c, _))| c[3]).collect::<Vec<_>>()),
        Column::new("registrations_enrolled".into(), conf.iter().map(|((p, m, _), (c, w))| enrolled_of(p, *m, w, c[3])).collect::<Vec<_>>()),
    ])?)?;

    Ok(())
}

/// §2.2 agent and commune rankings by participants developed.
fn publish_rankings(lake: &Lake, d: &Data, ix: &AgentIndex, first: &BTreeMap<(&str, &'static str), &Enrolment>, as_of: NaiveDate) -> Result<()> {
    let asof_m = Month::of_date(as_of);
    let rank_periods = [
        ("month", asof_m),
        ("quarter", Month::new(asof_m.year(), (asof_m.month() - 1) / 3 * 3 + 1).expect("month")),
        ("year", Month::new(asof_m.year(), 1).expect("month")),
    ];
    for (table, by_agent) in [(&tables::AGENT_RANKINGS, true), (&tables::COMMUNE_RANKINGS, false)] {
        // (period, province, agent or ward) → (voluntary, household)
        let mut counts: BTreeMap<(&str, Month, Text, Text), (i64, i64)> = BTreeMap::new();
        for e in first.values() {
            for (name, from) in rank_periods {
                if e.paid_from < from || e.paid_from > asof_m {
                    continue;
                }
                let person = d.people.get(&e.si);
                let who = if by_agent {
                    e.agent.as_ref().map(|a| (ix.by_code.get(a.as_str()).map(|i| d.agents[*i].province.clone()).or_else(|| person.and_then(|p| p.province.clone())), a.clone()))
                } else {
                    person.and_then(|p| p.ward.clone().map(|w| (p.province.clone(), w)))
                };
                let Some((Some(prov), id)) = who else { continue };
                let c = counts.entry((name, from, prov, id)).or_default();
                match e.scheme {
                    Scheme::VoluntarySi => c.0 += 1,
                    Scheme::HouseholdHi => c.1 += 1,
                }
            }
        }
        let rows: Vec<_> = counts.into_iter().collect();
        let mut rank = vec![0i64; rows.len()];
        let mut groups: BTreeMap<(&str, &Text), Vec<usize>> = BTreeMap::new();
        for (i, ((p, _, prov, _), _)) in rows.iter().enumerate() {
            groups.entry((p, prov)).or_default().push(i);
        }
        for idx in groups.values() {
            let dev: Vec<i64> = idx.iter().map(|i| rows[*i].1 .0 + rows[*i].1 .1).collect();
            for (k, r) in ranks(&dev).into_iter().enumerate() {
                rank[idx[k]] = r;
            }
        }
        let n = rows.len();
        publish(lake, table, DataFrame::new(n, vec![
            date_column("as_of", vec![Some(as_of); n])?,
            Column::new("province_code".into(), rows.iter().map(|((_, _, p, _), _)| p.as_str()).collect::<Vec<_>>()),
            Column::new("period".into(), rows.iter().map(|((p, _, _, _), _)| *p).collect::<Vec<_>>()),
            date_column("period_start", rows.iter().map(|((_, m, _, _), _)| Some(m.first_day())).collect())?,
            Column::new(if by_agent { "agent_code" } else { "ward_code" }.into(), rows.iter().map(|((_, _, _, id), _)| id.as_str()).collect::<Vec<_>>()),
            Column::new("new_voluntary".into(), rows.iter().map(|(_, c)| c.0).collect::<Vec<_>>()),
            Column::new("new_household".into(), rows.iter().map(|(_, c)| c.1).collect::<Vec<_>>()),
            Column::new("developed".into(), rows.iter().map(|(_, c)| c.0 + c.1).collect::<Vec<_>>()),
            Column::new("rank".into(), rank),
        ])?)?;
    }

    Ok(())
}

/// The agents' lists with identities, one folder per province.
fn write_exports(
    lake: &Lake,
    reference: &Reference,
    d: &Data,
    pool: &[Prospect],
    due: &[DueRow],
    as_of: NaiveDate,
    report: &mut VoluntaryReport,
) -> Result<()> {
    let dir = crate::coverage::export_dir(lake, as_of);
    // Rows are made one province at a time, as its files are written (all
    // provinces' rows at once took 1.7 GB at 16M people).
    let mut d08a_of: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut order: Vec<usize> = (0..due.len()).collect();
    order.sort_by(|a, b| (&due[*a].agent_code, &due[*a].e.si).cmp(&(&due[*b].agent_code, &due[*b].e.si)));
    for i in order {
        if let Some(prov) = due[i].province.as_deref() {
            d08a_of.entry(prov).or_default().push(i);
        }
    }
    let mut prospects_of: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut porder: Vec<usize> = (0..pool.len()).collect();
    porder.sort_by(|a, b| (pool[*a].agent.map(|i| &d.agents[i].code), pool[*a].rank, &pool[*a].key).cmp(&(pool[*b].agent.map(|i| &d.agents[i].code), pool[*b].rank, &pool[*b].key)));
    for i in porder {
        if let Some(prov) = pool[i].province.as_deref() {
            prospects_of.entry(prov).or_default().push(i);
        }
    }
    let opt = |x: Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
    let l = Month::of_date(as_of).next();
    let text = |x: Option<&str>| x.unwrap_or_default().to_string();
    let d08a_row = |r: &DueRow| {
        let person = d.people.get(&r.e.si);
        vec![
            text(r.province.as_deref()),
            l.to_string(),
            text(r.agent_code.as_deref()),
            r.e.si.to_string(),
            text(person.and_then(|p| p.name.as_deref())),
            person.and_then(|p| p.birth).map(|b| b.to_string()).unwrap_or_default(),
            scheme_code(r.e.scheme).to_string(),
            text(r.e.household.as_deref()),
            opt(r.e.member_order),
            opt(r.e.income_basis),
            r.e.support.map(support_code).unwrap_or_default().to_string(),
            r.e.payment_months.to_string(),
            r.e.paid_through.to_string(),
            r.period.0.to_string(),
            r.period.1.to_string(),
            opt(r.amount),
            if r.e.paid_through == l { "renew" } else { "lapsed" }.to_string(),
        ]
    };
    let prospect_row = |p: &Prospect| {
        vec![
            text(p.province.as_deref()),
            text(p.agent.map(|a| d.agents[a].code.as_str())),
            if p.agent.is_some() { p.rank.to_string() } else { String::new() },
            text(p.name.as_deref()),
            p.birth.map(|b| b.to_string()).unwrap_or_default(),
            text(p.si.as_deref()),
            text(p.citizen_id.as_deref()),
            text(p.ward.as_deref()),
            p.source.to_string(),
            p.score.to_string(),
            p.reasons.clone(),
        ]
    };
    let d08a_header: Vec<&str> = D08A_EXPORT_COLUMNS.iter().map(|c| c.0).collect();
    let prospect_header: Vec<&str> = PROSPECT_EXPORT_COLUMNS.iter().map(|c| c.0).collect();
    // Provinces side by side: two provinces' rows held at once, not one.
    let weight = |p: &crate::reference::Province| {
        [d08a_of.get(p.code.as_str()), prospects_of.get(p.code.as_str())].into_iter().flatten().map(|v| v.len() as u64).sum()
    };
    let files = crate::lake::for_each_side_by_side("voluntary", &reference.provinces, weight, |p| {
        let pdir = dir.join(&p.code);
        let rows: Vec<Vec<String>> = d08a_of.get(p.code.as_str()).into_iter().flatten().map(|&i| d08a_row(&due[i])).collect();
        write_csv(&pdir.join("d08a_due.csv"), &d08a_header, &rows)?;
        let rows: Vec<Vec<String>> = prospects_of.get(p.code.as_str()).into_iter().flatten().map(|&i| prospect_row(&pool[i])).collect();
        write_csv(&pdir.join("voluntary_prospects.csv"), &prospect_header, &rows)?;
        Ok(2)
    })?;
    report.export_files += files.iter().sum::<u64>();
    Ok(())
}

/// Checks a frame against its declaration and publishes it as a gold table;
/// rows without a province are left out with a warning.
fn publish(lake: &Lake, table: &GoldTable, df: DataFrame) -> Result<()> {
    crate::lake::gold::publish(&lake.root, table, df, "voluntary")?;
    Ok(())
}

use crate::lake::write_csv;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_sets_its_own_feature() {
        for ((_, name), i) in SOURCES.iter().zip(SOURCE_FEATURES) {
            assert_eq!(FEATURES[i], format!("source_{name}"));
        }
        assert_eq!(feature_index(FEATURES[0]), 0);
        assert_eq!(feature_index("commune_registrations"), FEATURES.iter().position(|f| *f == "commune_registrations").unwrap());
    }

    #[test]
    fn exclusions_pensioner_enrolled_and_age() {
        let ret = Some(60 * 12);
        let ok = exclusion(false, false, false, false, Some((360, 360)), ret, 15);
        assert_eq!(ok, None);
        assert_eq!(exclusion(true, false, false, false, Some((360, 360)), ret, 15), Some("pensioner"));
        assert_eq!(exclusion(false, true, false, false, Some((360, 360)), ret, 15), Some("in_voluntary_si"));
        assert_eq!(exclusion(false, false, true, false, Some((360, 360)), ret, 15), Some("in_compulsory_si"));
        assert_eq!(exclusion(false, false, false, true, Some((360, 360)), ret, 15), Some("compulsory_wages"));
        assert_eq!(exclusion(false, false, false, false, Some((179, 179)), ret, 15), Some("under_min_age"));
        assert_eq!(exclusion(false, false, false, false, Some((180, 180)), ret, 15), None);
        assert_eq!(exclusion(false, false, false, false, Some((720, 720)), ret, 15), Some("past_retirement_age"));
        assert_eq!(exclusion(false, false, false, false, Some((719, 719)), ret, 15), None);
        assert_eq!(exclusion(false, false, false, false, None, ret, 15), None, "no birth date: kept");
    }

    fn prospect(key: &str, birth: Option<NaiveDate>) -> Prospect {
        let mut x: Features = [0.0; FEATURES.len()];
        x[0] = 0.1 + 0.2; // not a round binary fraction: read back exactly all the same
        x[SOURCE_FEATURES[2]] = 1.0;
        Prospect {
            key: key.into(),
            si: Some("0123456789".into()),
            person_ref: None,
            source: SOURCES[2].1,
            province: Some("01".into()),
            ward: None,
            age: None,
            x,
            score: 0,
            reasons: String::new(),
            agent: None,
            assigned_by: "unassigned",
            rank: 0,
            name: Some("Nguyễn Văn A".into()),
            birth,
            citizen_id: None,
        }
    }

    fn scoring() -> ScoringConfig {
        ScoringConfig::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/scoring.toml"), "2020-06".parse().unwrap()).unwrap().rules
    }

    #[test]
    fn the_kept_pool_is_judged_by_the_days_age() {
        let cfg = scoring();
        let day = |d: u32| NaiveDate::from_ymd_opt(2020, 6, d).unwrap();
        let finish = |as_of: NaiveDate| {
            let mut pool = vec![
                // 15 on 9 June 2005 + 15 years: too young the day before.
                prospect("a", NaiveDate::from_ymd_opt(2005, 6, 9)),
                // 20 on 9 June: prime age from that day.
                prospect("b", NaiveDate::from_ymd_opt(2000, 6, 9)),
                // 60 (the retirement age given below) on 9 June.
                prospect("c", NaiveDate::from_ymd_opt(1960, 6, 9)),
                // A CCCD's birth year only: 2005 may still be 14 in June 2020.
                prospect("d", None),
            ];
            let basis = [
                AgeBasis { cccd_year: None, retirement: Some(720) },
                AgeBasis { cccd_year: None, retirement: Some(720) },
                AgeBasis { cccd_year: None, retirement: Some(720) },
                AgeBasis { cccd_year: Some(2005), retirement: Some(720) },
            ];
            let mut excluded = BTreeMap::from([("pensioner".to_string(), 2)]);
            finish_pool(&mut pool, &basis, &cfg, as_of, &mut excluded);
            (pool, excluded)
        };
        let prime = feature_index("prime_age");
        let (pool, excluded) = finish(day(8));
        let kept: Vec<(&str, Option<i64>, f64)> = pool.iter().map(|p| (p.key.as_str(), p.age, p.x[prime])).collect();
        assert_eq!(kept, [("b", Some(19), 0.0), ("c", Some(59), 0.0), ("d", None, 0.0)]);
        assert_eq!(excluded, BTreeMap::from([("pensioner".to_string(), 2), ("under_min_age".to_string(), 1)]));
        let (pool, excluded) = finish(day(9));
        let kept: Vec<(&str, Option<i64>, f64)> = pool.iter().map(|p| (p.key.as_str(), p.age, p.x[prime])).collect();
        assert_eq!(kept, [("a", Some(15), 0.0), ("b", Some(20), 1.0), ("d", None, 0.0)]);
        assert_eq!(excluded, BTreeMap::from([("past_retirement_age".to_string(), 1), ("pensioner".to_string(), 2)]));
    }

    #[test]
    fn the_pool_base_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pool_base.parquet");
        let pool = vec![prospect("a", NaiveDate::from_ymd_opt(1990, 2, 28)), prospect("b", None)];
        let basis = vec![AgeBasis { cccd_year: None, retirement: Some(720) }, AgeBasis { cccd_year: Some(1985), retirement: None }];
        write_pool_base(&file, &pool, &basis).unwrap();
        let kept = serde_json::json!({ "candidates": 7, "excluded": { "pensioner": 5 } });
        let back = read_pool_base(&crate::lake::read_parquet(&file).unwrap(), &kept).unwrap();
        assert_eq!(back.candidates, 7);
        assert_eq!(back.excluded, BTreeMap::from([("pensioner".to_string(), 5)]));
        let show = |p: &[Prospect]| format!("{p:?}");
        assert_eq!(show(&back.pool), show(&pool));
        assert_eq!(format!("{:?}", back.basis), format!("{basis:?}"));
        // An empty pool is a frame with no rows.
        write_pool_base(&file, &[], &[]).unwrap();
        assert!(read_pool_base(&crate::lake::read_parquet(&file).unwrap(), &kept).unwrap().pool.is_empty());
    }

    #[test]
    fn retirement_age_from_the_reference_table() {
        let r = Reference::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap();
        let as_of = NaiveDate::from_ymd_opt(2020, 6, 8).unwrap();
        // A man born 1958-06-08 is 62 years 0 months: past the table's 60.
        let b = NaiveDate::from_ymd_opt(1958, 6, 8).unwrap();
        let ret = r.retirement_age_months(false, 1958).ok();
        assert_eq!(exclusion(false, false, false, false, Some((age_months(b, as_of), age_months(b, as_of))), ret, 15), Some("past_retirement_age"));
        // Born a day later in 1965 (55 years): in working age.
        let b = NaiveDate::from_ymd_opt(1965, 6, 9).unwrap();
        assert_eq!(age_months(b, as_of), 54 * 12 + 11);
        let ret = r.retirement_age_months(false, 1965).ok();
        assert_eq!(exclusion(false, false, false, false, Some((age_months(b, as_of), age_months(b, as_of))), ret, 15), None);
    }

    #[test]
    fn a_birth_year_alone_excludes_only_when_certain() {
        // CCCD 025207761173: 4th digit 2 = a man born in the 2000s, year 07.
        assert_eq!(birth_year_from_cccd("025207761173"), Some(2007));
        assert_eq!(birth_year_from_cccd("001185000001"), Some(1985));
        assert_eq!(birth_year_from_cccd("001385000001"), Some(2085));
        assert_eq!(birth_year_from_cccd("123456789"), None);
        // Born some day of 2005, as of 2020-06-08: 14 or 15 years old: kept.
        let as_of = NaiveDate::from_ymd_opt(2020, 6, 8).unwrap();
        let range = |y| (age_months(NaiveDate::from_ymd_opt(y, 12, 31).unwrap(), as_of), age_months(NaiveDate::from_ymd_opt(y, 1, 1).unwrap(), as_of));
        assert_eq!(exclusion(false, false, false, false, Some(range(2005)), Some(720), 15), None);
        // Born in 2006: at most 14: excluded.
        assert_eq!(exclusion(false, false, false, false, Some(range(2006)), Some(720), 15), Some("under_min_age"));
        // Born in 1959, retirement at 60 years: at least 60 years 5 months: excluded.
        assert_eq!(exclusion(false, false, false, false, Some(range(1959)), Some(720), 15), Some("past_retirement_age"));
        assert_eq!(exclusion(false, false, false, false, Some(range(1960)), Some(720), 15), None, "59 or 60: kept");
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(ranks(&[5, 3, 5, 1]), vec![1, 3, 1, 4]);
        assert_eq!(ceil_pct(7, 20), 2);
        assert_eq!(ceil_pct(0, 20), 0);
    }
}
