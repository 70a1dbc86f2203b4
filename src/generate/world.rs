//! The synthetic country: provinces and wards, employers and their BHXH
//! units, officers, agents, households and people. Built once, in memory,
//! as compact structs; everything row-level (monthly wages, declarations,
//! noise) is derived from per-entity random streams when the files are
//! written, so the same person looks the same in every file.
//!
//! # Composition (shares of the `people` universe)
//! | role | share | what they are |
//! |---|---|---|
//! | insured | 60% | employees declared by their unit every month of the window (some join mid-window) |
//! | second_job | 3% | insured at their main unit, plus wages at a second employer that does not declare them (`declared_elsewhere`) |
//! | uninsured | 8% | indefinite/fixed contracts in tax_wages, never declared; half unknown to BHXH (`no_si_record`), half known from an earlier job (`not_declared_by_employer`); ~1 in 8 at an unregistered employer |
//! | free_worker | 6% | short/none contracts with 1–3 payers; some with stable income (good voluntary prospects) |
//! | household_owner | 5% | lump-sum household businesses (tax_households); 25% in household BHYT, 10% already in voluntary BHXH |
//! | voluntary | 4% | voluntary BHXH participants (si_voluntary) |
//! | household_member | 6% | household BHYT members, households of 1–6, children included |
//! | pensioner | 5% | `pension_since` set; 10% still draw wages (never uninsured) |
//! | former | 3% | contributions stop during the window; 30% keep drawing wages from the same employer (uninsured after the stop) |
//!
//! Registered employers: one per ~17 insured people, Pareto sizes (many with
//! 1–10 employees, a few with thousands), 20% of those with 30+ workers have
//! 1–3 branches (half with their own unit). Unregistered employers: ~5% of
//! the employers with workers (small firms). Dormant employers (no workers):
//! a quarter more, mostly suspended/closed/absent.

use super::names::{NameParts, Names, PLACES};
use super::rng::{kind, normal, stream, Perm, Table};
use crate::month::Month;
use crate::reference::{Fund, Payer, Reference};
use anyhow::{bail, Result};
use chrono::{Datelike, Months, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(crate) const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Role {
    Insured,
    SecondJob,
    Uninsured,
    Free,
    Owner,
    Voluntary,
    HhMember,
    Pensioner,
    Former,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Insured => "insured",
            Role::SecondJob => "second_job",
            Role::Uninsured => "uninsured",
            Role::Free => "free_worker",
            Role::Owner => "household_owner",
            Role::Voluntary => "voluntary",
            Role::HhMember => "household_member",
            Role::Pensioner => "pensioner",
            Role::Former => "former",
        }
    }
}

/// Shares of the population by role (see the module docs).
pub(crate) const COMPOSITION: [(Role, f64); 9] = [
    (Role::Insured, 0.60),
    (Role::SecondJob, 0.03),
    (Role::Uninsured, 0.08),
    (Role::Free, 0.06),
    (Role::Owner, 0.05),
    (Role::Voluntary, 0.04),
    (Role::HhMember, 0.06),
    (Role::Pensioner, 0.05),
    (Role::Former, 0.03),
];

/// Share of free workers and former workers planted as good voluntary
/// prospects (stable income; 10–19 years paid). Kept low, as in life, so a
/// score has room to show lift over a random pick.
pub(crate) const GOOD_SHARE: f64 = 0.15;

/// Person flags.
pub(crate) mod flag {
    pub const FEMALE: u32 = 1;
    /// Primary citizen ID is a 12-digit CCCD (else the old 9-digit CMND).
    pub const HAS_CCCD: u32 = 1 << 1;
    /// Has an old CMND number (shown instead of the CCCD by some sources).
    pub const HAS_CMND: u32 = 1 << 2;
    /// Has a personal tax code.
    pub const HAS_PTC: u32 = 1 << 3;
    /// Has a si_people record.
    pub const IN_SI: u32 = 1 << 4;
    /// Planted: insured wage below the regional minimum wage.
    pub const UNDER_MIN: u32 = 1 << 5;
    /// ... because the 2019 minimum was never raised for 2020.
    pub const MIN_FORGOT: u32 = 1 << 6;
    /// Planted: insured wage below half the taxable income.
    pub const UNDER_SHARE: u32 = 1 << 7;
    /// Former worker still paid by the same employer after the declarations stop.
    pub const WAGES_AFTER_STOP: u32 = 1 << 8;
    /// Household owner already in voluntary BHXH.
    pub const VOLUNTARY_SI: u32 = 1 << 9;
    /// Household owner in household BHYT.
    pub const HOUSEHOLD_HI: u32 = 1 << 10;
    /// Pensioner still drawing wages.
    pub const WORKING: u32 = 1 << 11;
    /// Planted as a likely joiner (stable income, working age...).
    pub const GOOD: u32 = 1 << 12;
    /// Fixed-term contract (else indefinite).
    pub const FIXED: u32 = 1 << 13;
    /// Gets a Tết bonus.
    pub const BONUS: u32 = 1 << 14;
    /// Insured employee with occasional side income (short/none contracts).
    pub const SIDE: u32 = 1 << 15;
}

/// One person, compactly. Everything else is derived from their streams.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub role: Role,
    pub flags: u32,
    pub province: u8,
    pub birth_province: u8,
    pub ward: u16,
    pub name: NameParts,
    /// First window month (index 0..=12) with activity.
    pub start: u8,
    /// Former workers: last window month with a declaration.
    pub stop: u8,
    /// Household member order (1-based).
    pub aux: u8,
    /// Birth date, days from the common era.
    pub birth: i32,
    pub cccd_serial: u32,
    /// Main employer entity (head or branch), or NONE.
    pub employer: u32,
    /// Second-job employer / household index / free-worker seed, or NONE.
    pub other: u32,
    /// Gross monthly wage, thousand VND.
    pub wage_k: u32,
    /// Declared insured wage, thousand VND.
    pub insured_k: u32,
    /// Months of contributions on record before the window.
    pub contributed: u16,
}

impl Person {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
    pub fn female(&self) -> bool {
        self.has(flag::FEMALE)
    }
    pub fn birth_date(&self) -> NaiveDate {
        date(self.birth)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmpKind {
    Enterprise,
    Branch,
    Cooperative,
    HouseholdBusiness,
    Other,
}
impl EmpKind {
    pub fn code(self) -> &'static str {
        match self {
            EmpKind::Enterprise => "enterprise",
            EmpKind::Branch => "branch",
            EmpKind::Cooperative => "cooperative",
            EmpKind::HouseholdBusiness => "household_business",
            EmpKind::Other => "other",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmpStatus {
    Active,
    Suspended,
    Closed,
    Absent,
}
impl EmpStatus {
    pub fn code(self) -> &'static str {
        match self {
            EmpStatus::Active => "active",
            EmpStatus::Suspended => "suspended",
            EmpStatus::Closed => "closed",
            EmpStatus::Absent => "absent",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmpClass {
    /// Has a BHXH unit (the head office does).
    Registered,
    /// Active with workers, no unit: the planted unregistered employers.
    Unregistered,
    /// No workers in the window.
    Dormant,
}

/// A tax-registry entity: a head office or a branch (`<head>-NNN`).
#[derive(Clone, Debug)]
pub(crate) struct Employer {
    pub code: String,
    pub head: u32,
    /// Head offices: number of branch entities that follow it.
    pub branches: u8,
    /// Head offices: share of the workers placed at the branches.
    pub branch_share: f32,
    pub province: u8,
    pub ward: u16,
    pub urban: bool,
    pub kind: EmpKind,
    pub status: EmpStatus,
    pub class: EmpClass,
    pub industry: u8,
    pub brand: u8,
    pub registered_on: i32,
    pub status_since: i32,
    /// Unit registered under exactly this tax code, or NONE.
    pub unit: u32,
    /// People whose main job is here (filled by the people pass).
    pub headcount: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Habit {
    OnTime,
    Late,
    Partial,
    Never,
    Stopped,
}
impl Habit {
    pub fn code(self) -> &'static str {
        match self {
            Habit::OnTime => "on_time",
            Habit::Late => "late",
            Habit::Partial => "partial",
            Habit::Never => "never",
            Habit::Stopped => "stopped",
        }
    }
}

/// A BHXH unit.
#[derive(Clone, Debug)]
pub(crate) struct Unit {
    pub code: String,
    pub employer: u32,
    pub region: u8,
    pub officer: u32,
    pub closed: bool,
    pub registered_on: i32,
    pub habit: Habit,
    /// Covid suspension of the pension-survivorship part (from, to).
    pub susp: Option<(Month, Month)>,
    /// Covid-affected: workers on leave / suspended contracts in the Covid months.
    pub affected: bool,
    /// Its last review says everyone is back, but the declarations say not.
    pub stuck: bool,
    /// People declared here at some point of the window.
    pub workers: u32,
}

impl Unit {
    pub fn suspended_in(&self, m: Month) -> bool {
        self.susp.is_some_and(|(f, t)| f <= m && m <= t)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Prov {
    pub code: String,
    pub name: String,
    pub pop: u64,
    pub urban_region: u8,
    pub rural_region: u8,
    pub ward_start: u32,
    pub wards: u32,
    pub urban_wards: u32,
    /// Huỳnh/Võ country rather than Hoàng/Vũ.
    pub south: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Household {
    pub province: u8,
    pub ward: u16,
    pub payment_months: u8,
    pub paid_through: Month,
    /// Earlier payment periods on record.
    pub priors: u8,
}

#[derive(Clone, Debug)]
pub(crate) struct Officer {
    pub id: String,
    pub province: u8,
    pub name: NameParts,
    pub female: bool,
    pub office: String,
    pub capacity: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Agent {
    pub code: String,
    pub province: u8,
    pub ward: u16,
    pub name: NameParts,
    pub female: bool,
    pub organisation: String,
    pub active: bool,
}

/// One (fund, payer) rate valid in a window month.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateCell {
    pub pension: bool,
    pub bp: u32,
    /// Ceiling by wage region 1–4.
    pub ceiling: [i64; 4],
}

pub(crate) struct World<'r> {
    pub r: &'r Reference,
    pub seed: u64,
    pub n: u64,
    pub as_of: NaiveDate,
    pub asof_m: Month,
    /// First month of the window (as-of month − 12).
    pub m0: Month,
    /// Window index of the first Covid month.
    pub covid_t0: usize,
    pub provinces: Vec<Prov>,
    pub ward_codes: Vec<u32>,
    pub unknown_provinces: Vec<String>,
    pub employers: Vec<Employer>,
    pub units: Vec<Unit>,
    pub officers: Vec<Officer>,
    pub agents: Vec<Agent>,
    /// Agents of each province: range into `agents`.
    pub prov_agents: Vec<(u32, u32)>,
    pub households: Vec<Household>,
    pub people: Vec<Person>,
    pub role_counts: [u64; 9],
    /// Registered heads (with workers), for random placement ∝ size.
    reg_heads: Vec<u32>,
    reg_table: Table,
    /// All heads with workers (registered or not), ∝ size.
    any_heads: Vec<u32>,
    any_table: Table,
    pub names: Names,
    /// Regional minimum wage by window month and region.
    pub min_wage: Vec<[i64; 4]>,
    /// Contribution rates by window month.
    pub rates: Vec<Vec<RateCell>>,
}

pub(crate) fn date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days).expect("date in range")
}
pub(crate) fn days(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// Employment concentration: the industrial provinces draw workers.
fn employment_bias(code: &str) -> f64 {
    match code {
        "74" => 4.0,
        "79" => 3.5,
        "27" => 3.0,
        "01" | "75" => 2.5,
        "31" | "48" => 1.8,
        "80" | "26" => 1.5,
        "33" | "77" => 1.4,
        "92" | "22" | "30" | "24" => 1.3,
        _ => 0.6,
    }
}

fn urban_share(code: &str) -> f64 {
    match code {
        "01" | "79" | "48" | "31" | "74" | "75" | "92" => 0.6,
        "27" | "22" | "77" | "56" => 0.45,
        _ => 0.25,
    }
}

fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut x = rng.gen_range(0..total);
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// Random date in `lo..=hi` (days).
fn day_between(rng: &mut impl Rng, lo: i32, hi: i32) -> i32 {
    if hi <= lo {
        lo
    } else {
        rng.gen_range(lo..=hi)
    }
}

struct PeopleCtx {
    slot_perm: Perm,
    /// Slot ranges per role (start, end).
    ranges: [(u64, u64); 9],
    emp_perm: Perm,
    emp_blocks: Table,
    unins_perm: Perm,
    unreg_blocks: Table,
    unreg_heads: Vec<u32>,
    hh_blocks: Table,
    pop_table: Table,
}

impl<'r> World<'r> {
    pub fn build(r: &'r Reference, seed: u64, n: u64, as_of: NaiveDate) -> Result<World<'r>> {
        if n == 0 {
            bail!("--people must be at least 1");
        }
        if n > 90_000_000 {
            bail!("--people above 90,000,000 would exhaust the synthetic identifier spaces");
        }
        let asof_m = Month::of_date(as_of);
        let m0 = asof_m.add(-12);
        let covid = Month::new(2020, 3).expect("month");
        // The Covid shock starts 2020-03 when the window holds it; otherwise
        // (other as-of dates) three months before the as-of month, so every
        // run exercises suspensions and reviews.
        let covid_t0 = if m0 <= covid && covid < asof_m { m0.until(covid) as usize } else { 9 };
        let mut rng = stream(seed, kind::WORLD, 0);

        // Provinces and wards (5-digit codes, increasing, unique nationally).
        let mut provinces = Vec::new();
        let mut ward_codes = Vec::new();
        let mut next_ward = 1u32;
        for p in &r.provinces {
            let wards = ((p.population_2019 / 12_000) as u32).clamp(30, 600);
            let urban_wards = ((wards as f64 * urban_share(&p.code)).ceil() as u32).max(1);
            let start = ward_codes.len() as u32;
            for _ in 0..wards {
                ward_codes.push(next_ward);
                next_ward += rng.gen_range(1..=3);
            }
            let code_num: u32 = p.code.parse().unwrap_or(0);
            provinces.push(Prov {
                code: p.code.clone(),
                name: p.name.clone(),
                pop: p.population_2019,
                urban_region: p.urban_region,
                rural_region: p.rural_region,
                ward_start: start,
                wards,
                urban_wards,
                south: code_num >= 45,
            });
        }
        if next_ward >= 100_000 || provinces.is_empty() {
            bail!("reference provinces give {} wards: cannot make 5-digit ward codes", ward_codes.len());
        }
        let unknown_provinces: Vec<String> =
            (0..100).map(|c| format!("{c:02}")).filter(|c| !r.is_province(c)).collect();

        let mut min_wage = Vec::new();
        let mut rates = Vec::new();
        for t in 0..13 {
            let m = m0.add(t);
            let mut mw = [0i64; 4];
            for (k, v) in mw.iter_mut().enumerate() {
                *v = r.min_wage(k as u8 + 1, m)?;
            }
            min_wage.push(mw);
            let mut cells = Vec::new();
            for f in Fund::ALL {
                for p in Payer::ALL {
                    let bp = r.rate(f, p, m)?;
                    if bp == 0 {
                        continue;
                    }
                    let mut ceiling = [0i64; 4];
                    for (k, c) in ceiling.iter_mut().enumerate() {
                        *c = r.ceiling(f, k as u8 + 1, m)?;
                    }
                    cells.push(RateCell { pension: f == Fund::PensionSurvivorship, bp, ceiling });
                }
            }
            rates.push(cells);
            // Fail early if a rule the files depend on is missing for a window month.
            r.base_salary(m)?;
            r.poverty_line(m)?;
        }

        let mut role_counts = [0u64; 9];
        for (k, (_, share)) in COMPOSITION.iter().enumerate() {
            role_counts[k] = (n as f64 * share).floor() as u64;
        }
        let assigned: u64 = role_counts.iter().sum();
        role_counts[0] += n - assigned;

        let mut w = World {
            r,
            seed,
            n,
            as_of,
            asof_m,
            m0,
            covid_t0,
            provinces,
            ward_codes,
            unknown_provinces,
            employers: Vec::new(),
            units: Vec::new(),
            officers: Vec::new(),
            agents: Vec::new(),
            prov_agents: Vec::new(),
            households: Vec::new(),
            people: Vec::new(),
            role_counts,
            reg_heads: Vec::new(),
            reg_table: Table::default(),
            any_heads: Vec::new(),
            any_table: Table::default(),
            names: Names::new(),
            min_wage,
            rates,
        };
        let ctx = w.build_employers(&mut rng)?;
        w.build_people(&ctx)?;
        w.mark_units();
        w.build_officers();
        w.build_agents();
        Ok(w)
    }

    pub fn month(&self, t: usize) -> Month {
        self.m0.add(t as i32)
    }

    pub fn ward_code(&self, ward: u16) -> u32 {
        self.ward_codes[ward as usize]
    }

    fn pick_ward(&self, rng: &mut impl Rng, prov: u8, urban: bool) -> u16 {
        let p = &self.provinces[prov as usize];
        let k = if urban { rng.gen_range(0..p.urban_wards) } else { rng.gen_range(0..p.wards) };
        (p.ward_start + k) as u16
    }

    pub fn region_of(&self, prov: u8, urban: bool) -> u8 {
        let p = &self.provinces[prov as usize];
        if urban {
            p.urban_region
        } else {
            p.rural_region
        }
    }

    /// The unit that declares the workers of employer entity `e`: its own
    /// unit, else its head office's.
    pub fn contrib_unit(&self, e: u32) -> u32 {
        let emp = &self.employers[e as usize];
        if emp.unit != NONE {
            emp.unit
        } else {
            self.employers[emp.head as usize].unit
        }
    }

    pub fn household_code(&self, h: u32) -> String {
        let hh = &self.households[h as usize];
        format!("HGD{}{:07}", self.provinces[hh.province as usize].code, h + 1)
    }

    // ---------------------------------------------------------------- employers

    fn new_tax_code(&self, prov: u8, counters: &mut [u32], blocks: &[Perm]) -> Result<String> {
        // Enterprise codes: a 2-digit tax-office prefix (01–63, the province's
        // rank in the reference table, so never the personal `8x` range),
        // a scrambled 6-digit block and a free digit, then the check digit.
        // The k-th code of a province is the (k mod 9)-th last digit with a
        // check digit in block k / 9 (a block of ten has at least nine).
        let k = counters[prov as usize];
        counters[prov as usize] += 1;
        let seq = k / 9;
        if seq >= 1_000_000 {
            bail!("too many employers in province {}", self.provinces[prov as usize].code);
        }
        let block = blocks[prov as usize].apply(seq as u64);
        let office = prov as u32 + 1;
        let mut digits = [0u8; 9];
        digits[0] = (office / 10) as u8;
        digits[1] = (office % 10) as u8;
        let mut b = block;
        for d in (2..8).rev() {
            digits[d] = (b % 10) as u8;
            b /= 10;
        }
        let mut nth = k % 9;
        for last in 0..10u8 {
            digits[8] = last;
            if let Some(c) = crate::ids::make_tax_code(&digits) {
                if nth == 0 {
                    return Ok(c);
                }
                nth -= 1;
            }
        }
        unreachable!("a block of ten prefixes has nine valid codes")
    }

    fn pick_emp_province(&self, rng: &mut impl Rng, t: &Table) -> u8 {
        t.pick(rng) as u8
    }

    fn build_employers(&mut self, rng: &mut ChaCha8Rng) -> Result<PeopleCtx> {
        let pop_table = Table::new(self.provinces.iter().map(|p| p.pop));
        let emp_prov_table =
            Table::new(self.provinces.iter().map(|p| (p.pop as f64 * employment_bias(&p.code)) as u64));
        let mut counters = vec![0u32; self.provinces.len()];
        let blocks: Vec<Perm> =
            (0..self.provinces.len()).map(|k| Perm::new(1_000_000, self.seed, 100 + k as u64)).collect();
        let industry_table = Table::new(super::names::INDUSTRIES.iter().map(|i| i.2));
        let brands = super::names::BRANDS.len();
        let reg_start = days(NaiveDate::from_ymd_opt(1995, 1, 1).expect("date"));
        let window_start = days(self.m0.first_day());
        let asof = days(self.as_of);

        let n_ins = self.role_counts[0] + self.role_counts[1];
        let n_unins = self.role_counts[2];

        // Registered employers: Pareto sizes scaled to exactly n_ins workers.
        let e_r = if n_ins == 0 { 0 } else { ((n_ins as f64 / 17.0).round() as u64).clamp(1, n_ins) };
        let cap = (n_ins as f64 / 150.0).max(40.0);
        let raw: Vec<f64> = (0..e_r)
            .map(|_| {
                let u: f64 = rng.gen_range(0.0..1.0);
                (1.0 - u).powf(-1.0 / 1.1).min(cap)
            })
            .collect();
        let extra = n_ins - e_r;
        let sum_ex: f64 = raw.iter().map(|x| x - 1.0).sum::<f64>().max(1e-9);
        let mut sizes: Vec<u64> = Vec::with_capacity(e_r as usize);
        let mut fracs: Vec<(f64, usize)> = Vec::with_capacity(e_r as usize);
        for (k, x) in raw.iter().enumerate() {
            let ideal = (x - 1.0) / sum_ex * extra as f64;
            sizes.push(1 + ideal.floor() as u64);
            fracs.push((ideal - ideal.floor(), k));
        }
        let mut short = n_ins - sizes.iter().sum::<u64>().min(n_ins);
        fracs.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
        for (_, k) in fracs.iter().cycle() {
            if short == 0 {
                break;
            }
            sizes[*k] += 1;
            short -= 1;
        }

        let mut reg_sizes = Vec::new();
        for size in sizes {
            let prov = self.pick_emp_province(rng, &emp_prov_table);
            let urban = rng.gen_bool(0.75);
            let ward = self.pick_ward(rng, prov, urban);
            let kind = weighted(
                rng,
                &[
                    (EmpKind::Enterprise, 88),
                    (EmpKind::Cooperative, 3),
                    (EmpKind::HouseholdBusiness, 5),
                    (EmpKind::Other, 4),
                ],
            );
            let registered_on = day_between(rng, reg_start, window_start - 400);
            let head = self.employers.len() as u32;
            let code = self.new_tax_code(prov, &mut counters, &blocks)?;
            let industry = industry_table.pick(rng) as u8;
            let brand = rng.gen_range(0..brands) as u8;
            let branches = if size >= 30 && rng.gen_bool(0.2) { rng.gen_range(1..=3u8) } else { 0 };
            let unit = self.units.len() as u32;
            self.units.push(self.new_unit(rng, head, self.region_of(prov, urban), registered_on, kind));
            self.employers.push(Employer {
                code: code.clone(),
                head,
                branches,
                branch_share: if branches > 0 { rng.gen_range(0.15..0.4) } else { 0.0 },
                province: prov,
                ward,
                urban,
                kind,
                status: EmpStatus::Active,
                class: EmpClass::Registered,
                industry,
                brand,
                registered_on,
                status_since: registered_on,
                unit,
                headcount: 0,
            });
            for b in 1..=branches {
                let bprov = if rng.gen_bool(0.5) { prov } else { self.pick_emp_province(rng, &emp_prov_table) };
                let burban = rng.gen_bool(0.7);
                let bward = self.pick_ward(rng, bprov, burban);
                let e = self.employers.len() as u32;
                let b_reg = day_between(rng, registered_on, window_start - 200);
                let bunit = if rng.gen_bool(0.5) {
                    let u = self.units.len() as u32;
                    self.units.push(self.new_unit(rng, e, self.region_of(bprov, burban), b_reg, EmpKind::Branch));
                    u
                } else {
                    NONE
                };
                self.employers.push(Employer {
                    code: format!("{code}-{b:03}"),
                    head,
                    branches: 0,
                    branch_share: 0.0,
                    province: bprov,
                    ward: bward,
                    urban: burban,
                    kind: EmpKind::Branch,
                    status: EmpStatus::Active,
                    class: EmpClass::Registered,
                    industry,
                    brand,
                    registered_on: b_reg,
                    status_since: b_reg,
                    unit: bunit,
                    headcount: 0,
                });
            }
            self.reg_heads.push(head);
            reg_sizes.push(size);
        }
        let emp_blocks = Table::new(reg_sizes.iter().copied());
        self.reg_table = Table::new(reg_sizes.iter().map(|s| s + 2));

        // Unregistered employers: ~5% of the employers with workers, small.
        let mut unreg_heads = Vec::new();
        let mut unreg_sizes = Vec::new();
        if n_unins > 0 {
            let target = ((e_r as f64 * 0.053).round() as u64).max(1);
            let budget = (n_unins * 2 / 5).max(1);
            let mut used = 0;
            for _ in 0..target {
                if used >= budget {
                    break;
                }
                let size = (1 + (-3.0 * (1.0 - rng.gen_range(0.0..1.0f64)).ln()) as u64).min(15).min(budget - used);
                used += size;
                let prov = self.pick_emp_province(rng, &emp_prov_table);
                let urban = rng.gen_bool(0.6);
                let registered_on = day_between(rng, reg_start + 3000, asof - 200);
                let code = self.new_tax_code(prov, &mut counters, &blocks)?;
                let e = self.employers.len() as u32;
                self.employers.push(Employer {
                    code,
                    head: e,
                    branches: 0,
                    branch_share: 0.0,
                    province: prov,
                    ward: self.pick_ward(rng, prov, urban),
                    urban,
                    kind: weighted(
                        rng,
                        &[(EmpKind::Enterprise, 70), (EmpKind::HouseholdBusiness, 20), (EmpKind::Other, 10)],
                    ),
                    status: EmpStatus::Active,
                    class: EmpClass::Unregistered,
                    industry: industry_table.pick(rng) as u8,
                    brand: rng.gen_range(0..brands) as u8,
                    registered_on,
                    status_since: registered_on,
                    unit: NONE,
                    headcount: 0,
                });
                unreg_heads.push(e);
                unreg_sizes.push(size);
            }
        }
        let unreg_blocks = Table::new(unreg_sizes.iter().copied());

        // Dormant employers: in the tax registry, no wages in the window.
        let dormant = ((self.employers.len() as f64) * 0.2).round() as u64 + 1;
        for _ in 0..dormant {
            let prov = self.pick_emp_province(rng, &emp_prov_table);
            let urban = rng.gen_bool(0.6);
            let status = weighted(
                rng,
                &[
                    (EmpStatus::Active, 30),
                    (EmpStatus::Suspended, 20),
                    (EmpStatus::Closed, 30),
                    (EmpStatus::Absent, 20),
                ],
            );
            let registered_on = day_between(rng, reg_start, asof - 400);
            let status_since = if status == EmpStatus::Active {
                registered_on
            } else {
                day_between(rng, registered_on.max(asof - 1500), window_start - 1)
            };
            let code = self.new_tax_code(prov, &mut counters, &blocks)?;
            let e = self.employers.len() as u32;
            let kind =
                weighted(rng, &[(EmpKind::Enterprise, 80), (EmpKind::HouseholdBusiness, 10), (EmpKind::Other, 10)]);
            let unit = if status == EmpStatus::Closed && rng.gen_bool(0.4) {
                let u = self.units.len() as u32;
                let mut unit = self.new_unit(rng, e, self.region_of(prov, urban), registered_on, kind);
                unit.closed = true;
                self.units.push(unit);
                u
            } else {
                NONE
            };
            self.employers.push(Employer {
                code,
                head: e,
                branches: 0,
                branch_share: 0.0,
                province: prov,
                ward: self.pick_ward(rng, prov, urban),
                urban,
                kind,
                status,
                class: EmpClass::Dormant,
                industry: industry_table.pick(rng) as u8,
                brand: rng.gen_range(0..brands) as u8,
                registered_on,
                status_since,
                unit,
                headcount: 0,
            });
        }

        self.any_heads = self.reg_heads.iter().chain(unreg_heads.iter()).copied().collect();
        self.any_table = Table::new(reg_sizes.iter().chain(unreg_sizes.iter()).map(|s| s + 3));

        // Households of household-BHYT members: sizes 1–6.
        let n_hh = self.role_counts[6];
        let mut hh_sizes = Vec::new();
        let mut placed = 0u64;
        while placed < n_hh {
            let size = weighted(rng, &[(1u64, 15), (2, 20), (3, 22), (4, 23), (5, 12), (6, 8)]).min(n_hh - placed);
            placed += size;
            hh_sizes.push(size);
            let h = self.households.len() as u32;
            let mut hr = stream(self.seed, kind::HOUSEHOLD, h as u64);
            let prov = pop_table.pick(&mut hr) as u8;
            let urban = hr.gen_bool(0.3);
            let ward = self.pick_ward(&mut hr, prov, urban);
            self.households.push(self.new_household(&mut hr, prov, ward));
        }
        let hh_blocks = Table::new(hh_sizes.iter().copied());

        let mut ranges = [(0u64, 0u64); 9];
        let mut start = 0;
        for (k, c) in self.role_counts.iter().enumerate() {
            ranges[k] = (start, start + c);
            start += c;
        }
        Ok(PeopleCtx {
            slot_perm: Perm::new(self.n, self.seed, 1),
            ranges,
            emp_perm: Perm::new(n_ins.max(1), self.seed, 2),
            emp_blocks,
            unins_perm: Perm::new(n_unins.max(1), self.seed, 3),
            unreg_blocks,
            unreg_heads,
            hh_blocks,
            pop_table,
        })
    }

    fn new_unit(&self, rng: &mut ChaCha8Rng, employer: u32, region: u8, emp_registered: i32, kind: EmpKind) -> Unit {
        let idx = self.units.len();
        let letter = match kind {
            EmpKind::Enterprise => 'A',
            EmpKind::Branch => 'B',
            EmpKind::Cooperative => 'C',
            EmpKind::HouseholdBusiness => 'D',
            EmpKind::Other => 'E',
        };
        let window_start = days(self.m0.first_day());
        Unit {
            code: format!("T{letter}{:07}", idx + 1),
            employer,
            region,
            officer: NONE,
            closed: false,
            registered_on: day_between(rng, emp_registered, (emp_registered + 700).min(window_start - 30)),
            habit: Habit::OnTime,
            susp: None,
            affected: false,
            stuck: false,
            workers: 0,
        }
    }

    /// Payment habit of a household (or of a voluntary participant): how many
    /// months at a time, and where its coverage stands at the as-of date.
    pub fn coverage(&self, rng: &mut impl Rng, household: bool) -> (u8, Month, u8) {
        let pm: u8 = if household {
            weighted(rng, &[(1u8, 5), (3, 30), (6, 35), (12, 30)])
        } else {
            weighted(rng, &[(1u8, 35), (3, 25), (6, 20), (12, 20)])
        };
        // L = the month after the as-of month (the D08a-TS list month).
        let l = self.asof_m.next();
        let cat = weighted(rng, &[(0u8, 20), (1, 30), (2, 15), (3, 35)]);
        let through = match cat {
            0 => l,                                            // coverage ends in L: must renew
            1 => l.add(-rng.gen_range(1..=3)),                 // lapsed 1–3 months
            2 => l.add(-rng.gen_range(4..=14)),                // lapsed longer
            _ if pm > 1 => l.add(rng.gen_range(1..pm as i32)), // paid ahead
            _ => l,
        };
        let priors = rng.gen_range(0..=3u8);
        (pm, through, priors)
    }

    fn new_household(&self, rng: &mut ChaCha8Rng, province: u8, ward: u16) -> Household {
        let (pm, through, priors) = self.coverage(rng, true);
        Household { province, ward, payment_months: pm, paid_through: through, priors }
    }

    // ------------------------------------------------------------------ people

    /// Birth date for an age in whole years at the as-of date.
    fn birth_for_age(&self, rng: &mut impl Rng, age: u32) -> i32 {
        let hi = self.as_of.checked_sub_months(Months::new(12 * age)).expect("date");
        let lo = self.as_of.checked_sub_months(Months::new(12 * (age + 1))).expect("date").succ_opt().expect("date");
        day_between(rng, days(lo), days(hi))
    }

    /// Age in whole years at the as-of date.
    pub fn age(&self, p: &Person) -> u32 {
        let b = p.birth_date();
        let mut a = self.as_of.year() - b.year();
        if (self.as_of.month(), self.as_of.day()) < (b.month(), b.day()) {
            a -= 1;
        }
        a.max(0) as u32
    }

    /// Retirement age in whole months for this person (reference table).
    pub fn retirement_months(&self, p: &Person) -> u32 {
        self.r.retirement_age_months(p.female(), p.birth_date().year()).unwrap_or(if p.female() { 660 } else { 720 })
    }

    /// Below retirement age at the as-of date.
    pub fn working_age(&self, p: &Person) -> bool {
        let b = p.birth_date();
        let months = (self.as_of.year() - b.year()) * 12 + self.as_of.month() as i32
            - b.month() as i32
            - i32::from(self.as_of.day() < b.day());
        months >= 15 * 12 && (months as u32) < self.retirement_months(p)
    }

    /// Pension start: the first day of the month after reaching retirement age.
    pub fn pension_since(&self, p: &Person) -> NaiveDate {
        let reach = p.birth_date().checked_add_months(Months::new(self.retirement_months(p))).expect("date");
        Month::of_date(reach).next().first_day()
    }

    fn work_age(&self, rng: &mut impl Rng, female: bool, lo: u32) -> u32 {
        let hi = if female { 54 } else { 59 };
        // Young-skewed: the sum of two uniforms folded towards the low end.
        let x: f64 = rng.gen::<f64>().min(rng.gen::<f64>() * 1.15);
        (lo + (x * (hi - lo + 1) as f64) as u32).min(hi)
    }

    fn gross_wage_k(&self, rng: &mut impl Rng, region: u8, factor: f64) -> u32 {
        let median = match region {
            1 => 8_500.0,
            2 => 7_000.0,
            3 => 6_000.0,
            _ => 5_500.0,
        } * factor;
        let mut w = median * (0.45 * normal(rng)).exp();
        if rng.gen_bool(0.03) {
            w *= 3.0; // managers and specialists: some above the insured-wage ceiling
        }
        let floor = self.min_wage.iter().map(|m| m[region as usize - 1]).max().unwrap_or(0) as f64 / 1000.0 * 1.08;
        w.clamp(floor, 300_000.0).round() as u32
    }

    /// Entity (head or one of its branches) a worker of head `h` is placed at.
    fn place_at(&self, rng: &mut impl Rng, h: u32) -> u32 {
        let head = &self.employers[h as usize];
        if head.branches > 0 && rng.gen_bool(head.branch_share as f64) {
            h + rng.gen_range(1..=head.branches as u32)
        } else {
            h
        }
    }

    fn random_reg_head(&self, rng: &mut impl Rng) -> u32 {
        self.reg_heads[self.reg_table.pick(rng)]
    }

    pub fn random_any_head(&self, rng: &mut impl Rng) -> u32 {
        self.any_heads[self.any_table.pick(rng)]
    }

    fn build_people(&mut self, ctx: &PeopleCtx) -> Result<()> {
        let mut people = Vec::with_capacity(self.n as usize);
        // CCCD serials: a counter per (birth province, sex, birth year),
        // scrambled by a bijection of 0..10^6, so CCCDs are unique.
        let mut cohorts = vec![0u32; self.provinces.len() * 2 * 256];
        for i in 0..self.n {
            let slot = ctx.slot_perm.apply(i);
            let role_k = ctx.ranges.iter().position(|(s, e)| *s <= slot && slot < *e).expect("slot in a range");
            let pos = slot - ctx.ranges[role_k].0;
            let mut p = self.make_person(i, COMPOSITION[role_k].0, pos, ctx);
            let year = p.birth_date().year();
            let ck =
                (p.birth_province as usize * 2 + usize::from(p.female())) * 256 + (year - 1850).clamp(0, 255) as usize;
            let c = cohorts[ck];
            cohorts[ck] += 1;
            if c >= 1_000_000 {
                bail!("more than a million people in one CCCD cohort");
            }
            p.cccd_serial = ((c as u64 * 7919 + (ck as u64 * 104_729) % 1_000_000) % 1_000_000) as u32;
            if p.employer != NONE {
                self.employers[p.employer as usize].headcount += 1;
                if matches!(p.role, Role::Insured | Role::SecondJob | Role::Former) {
                    let u = self.contrib_unit(p.employer);
                    self.units[u as usize].workers += 1;
                }
            }
            people.push(p);
        }
        self.people = people;
        Ok(())
    }

    fn make_person(&mut self, i: u64, role: Role, pos: u64, ctx: &PeopleCtx) -> Person {
        let mut rng = stream(self.seed, kind::PERSON, i);
        let mut flags = 0u32;
        let female = rng.gen_bool(match role {
            Role::Insured | Role::SecondJob => 0.47,
            Role::Owner => 0.58,
            Role::Pensioner => 0.52,
            _ => 0.5,
        });
        if female {
            flags |= flag::FEMALE;
        }
        let mut p = Person {
            role,
            flags,
            province: 0,
            birth_province: 0,
            ward: 0,
            name: NameParts::default(),
            start: 0,
            stop: 12,
            aux: 0,
            birth: 0,
            cccd_serial: 0,
            employer: NONE,
            other: NONE,
            wage_k: 0,
            insured_k: 0,
            contributed: 0,
        };
        let mut age;
        let region: u8;
        match role {
            Role::Insured | Role::SecondJob | Role::Former => {
                let h = if role == Role::Former {
                    self.random_reg_head(&mut rng)
                } else {
                    let q = ctx.emp_perm.apply(pos);
                    self.reg_heads[ctx.emp_blocks.locate(q)]
                };
                p.employer = self.place_at(&mut rng, h);
                let unit = self.contrib_unit(p.employer);
                region = self.units[unit as usize].region;
                let emp = &self.employers[p.employer as usize];
                p.province = if rng.gen_bool(0.9) { emp.province } else { ctx.pop_table.pick(&mut rng) as u8 };
                p.ward = if p.province == emp.province && rng.gen_bool(0.3) {
                    emp.ward
                } else {
                    let urban = rng.gen_bool(0.4);
                    self.pick_ward(&mut rng, p.province, urban)
                };
                age = self.work_age(&mut rng, female, if role == Role::Former { 25 } else { 18 });
                p.wage_k = self.gross_wage_k(&mut rng, region, 1.0);
                p.flags |= flag::IN_SI;
                if rng.gen_bool(0.92) {
                    p.flags |= flag::HAS_PTC;
                }
                if rng.gen_bool(0.3) {
                    p.flags |= flag::FIXED;
                }
                if role == Role::Insured && rng.gen_bool(0.08) {
                    p.start = rng.gen_range(1..=11);
                }
                if role == Role::Insured && rng.gen_bool(0.25) {
                    p.flags |= flag::SIDE;
                }
                if role == Role::SecondJob {
                    let mut h2 = self.random_any_head(&mut rng);
                    for _ in 0..8 {
                        if h2 != h {
                            break;
                        }
                        h2 = self.random_any_head(&mut rng);
                    }
                    if h2 != h {
                        p.other = self.place_at(&mut rng, h2);
                    }
                }
                if role == Role::Former {
                    p.stop = rng.gen_range(1..=10);
                    if rng.gen_bool(0.3) {
                        p.flags |= flag::WAGES_AFTER_STOP;
                    }
                }
                // Declared wage: usually 72–100% of the gross (allowances left out),
                // never under the minimum; a planted share under-declares.
                let x: f64 = rng.gen();
                if role == Role::Insured && x < 0.025 {
                    p.flags |= flag::UNDER_MIN;
                    if rng.gen_bool(0.5) {
                        p.flags |= flag::MIN_FORGOT;
                    } else {
                        let mw0 = self.min_wage[0][region as usize - 1] as f64 / 1000.0;
                        p.insured_k = (mw0 * rng.gen_range(0.6..0.92)).round() as u32;
                    }
                } else if role == Role::Insured && x < 0.045 {
                    p.flags |= flag::UNDER_SHARE;
                    p.wage_k = p.wage_k.max(rng.gen_range(12_000..25_000));
                    let mw_max = self.min_wage.iter().map(|m| m[region as usize - 1]).max().unwrap_or(0) / 1000;
                    p.insured_k = ((p.wage_k as f64 * rng.gen_range(0.25..0.42)) as u32).max(mw_max as u32 + 10);
                } else if rng.gen_bool(0.2) {
                    p.insured_k = p.wage_k;
                } else {
                    p.insured_k = ((p.wage_k as f64 * rng.gen_range(0.72..1.0)) / 10.0).round() as u32 * 10;
                }
                let years = age.saturating_sub(21) as f64;
                p.contributed = (years * 12.0 * rng.gen_range(0.3..0.9)) as u16;
                if role == Role::Former {
                    // 15% planted with 10–19 years paid: the best voluntary prospects.
                    if rng.gen_bool(GOOD_SHARE) {
                        p.flags |= flag::GOOD;
                        p.contributed = rng.gen_range(120..=226);
                        age = age.max(32);
                    } else if rng.gen_bool(0.5) {
                        p.contributed = rng.gen_range(6..=100);
                    } else {
                        p.contributed = rng.gen_range(245..=320);
                        age = age.max(42);
                    }
                }
            }
            Role::Uninsured => {
                let q = ctx.unins_perm.apply(pos);
                let h = if q < ctx.unreg_blocks.total() {
                    ctx.unreg_heads[ctx.unreg_blocks.locate(q)]
                } else {
                    self.random_reg_head(&mut rng)
                };
                p.employer = self.place_at(&mut rng, h);
                let emp = &self.employers[p.employer as usize];
                region = self.region_of(emp.province, emp.urban);
                p.province = if rng.gen_bool(0.9) { emp.province } else { ctx.pop_table.pick(&mut rng) as u8 };
                p.ward = {
                    let urban = rng.gen_bool(0.4);
                    self.pick_ward(&mut rng, p.province, urban)
                };
                age = self.work_age(&mut rng, female, 18);
                p.wage_k = self.gross_wage_k(&mut rng, region, 0.85);
                if rng.gen_bool(0.5) {
                    p.flags |= flag::IN_SI;
                    p.contributed = rng.gen_range(3..=120);
                }
                if rng.gen_bool(0.5) {
                    p.flags |= flag::FIXED;
                }
                if rng.gen_bool(0.75) {
                    p.flags |= flag::HAS_PTC;
                }
                if rng.gen_bool(0.4) {
                    p.start = rng.gen_range(1..=11);
                }
            }
            Role::Free => {
                p.province = ctx.pop_table.pick(&mut rng) as u8;
                p.ward = {
                    let urban = rng.gen_bool(0.4);
                    self.pick_ward(&mut rng, p.province, urban)
                };
                age = self.work_age(&mut rng, female, 18);
                if rng.gen_bool(GOOD_SHARE) {
                    p.flags |= flag::GOOD;
                    age = age.clamp(20, 55);
                }
                if rng.gen_bool(0.15) {
                    p.flags |= flag::IN_SI;
                    p.contributed = rng.gen_range(6..=100);
                }
                if rng.gen_bool(0.4) {
                    p.flags |= flag::HAS_PTC;
                }
                p.other = rng.gen();
            }
            Role::Owner => {
                p.province = ctx.pop_table.pick(&mut rng) as u8;
                p.ward = {
                    let urban = rng.gen_bool(0.5);
                    self.pick_ward(&mut rng, p.province, urban)
                };
                age = 25 + rng.gen_range(0..=41u32);
                p.flags |= flag::HAS_PTC;
                let x: f64 = rng.gen();
                if x < 0.10 {
                    p.flags |= flag::VOLUNTARY_SI | flag::IN_SI;
                    p.contributed = rng.gen_range(0..=60);
                } else if x < 0.35 {
                    p.flags |= flag::HOUSEHOLD_HI | flag::IN_SI;
                    let h = self.households.len() as u32;
                    let mut hr = stream(self.seed, kind::HOUSEHOLD, h as u64);
                    let hh = self.new_household(&mut hr, p.province, p.ward);
                    self.households.push(hh);
                    p.other = h;
                    p.aux = 1;
                }
            }
            Role::Voluntary => {
                p.province = ctx.pop_table.pick(&mut rng) as u8;
                p.ward = {
                    let urban = rng.gen_bool(0.3);
                    self.pick_ward(&mut rng, p.province, urban)
                };
                age = self.work_age(&mut rng, female, 22);
                p.flags |= flag::IN_SI;
                p.contributed = rng.gen_range(0..=200);
            }
            Role::HhMember => {
                let h = ctx.hh_blocks.locate(pos) as u32;
                let order = (pos - ctx.hh_blocks.start(h as usize)) as u8 + 1;
                let hh = &self.households[h as usize];
                p.other = h;
                p.aux = order;
                p.province = hh.province;
                p.ward = hh.ward;
                age = match order {
                    1 => rng.gen_range(28..=72),
                    2 => rng.gen_range(25..=70),
                    _ => {
                        let x: f64 = rng.gen();
                        if x < 0.55 {
                            rng.gen_range(2..=14)
                        } else if x < 0.75 {
                            rng.gen_range(15..=28)
                        } else {
                            rng.gen_range(60..=86)
                        }
                    }
                };
                p.flags |= flag::IN_SI;
                if (25..60).contains(&age) && rng.gen_bool(0.3) {
                    p.contributed = rng.gen_range(1..=60);
                }
            }
            Role::Pensioner => {
                p.province = ctx.pop_table.pick(&mut rng) as u8;
                p.ward = {
                    let urban = rng.gen_bool(0.4);
                    self.pick_ward(&mut rng, p.province, urban)
                };
                let base = if female { 56 } else { 61 };
                age = base + rng.gen_range(0..=26u32);
                p.flags |= flag::IN_SI;
                p.contributed = rng.gen_range(240..=420);
                if rng.gen_bool(0.1) {
                    p.flags |= flag::WORKING | flag::FIXED;
                    let h = self.random_reg_head(&mut rng);
                    p.employer = self.place_at(&mut rng, h);
                    let emp = &self.employers[p.employer as usize];
                    p.province = emp.province;
                    p.ward = {
                        let urban = rng.gen_bool(0.4);
                        self.pick_ward(&mut rng, p.province, urban)
                    };
                    p.wage_k = rng.gen_range(3_000..=10_000);
                    if rng.gen_bool(0.8) {
                        p.flags |= flag::HAS_PTC;
                    }
                }
            }
        }
        p.birth = self.birth_for_age(&mut rng, age);
        if role == Role::Pensioner && self.pension_since(&p) > self.as_of {
            // Born in a year with a later retirement age: make them older.
            p.birth = self.birth_for_age(&mut rng, age + 3);
        }
        // Birth province: migrants to the industrial provinces were born elsewhere.
        let stay = match self.provinces[p.province as usize].code.as_str() {
            "74" | "79" | "75" | "27" => 0.5,
            "01" | "48" | "31" => 0.7,
            _ => 0.9,
        };
        p.birth_province = if rng.gen_bool(stay) { p.province } else { ctx.pop_table.pick(&mut rng) as u8 };
        // Citizen IDs: children have a 12-digit personal ID only; 10% of the
        // adults still use the old 9-digit CMND; CCCD holders keep an old CMND.
        if age < 14 {
            p.flags |= flag::HAS_CCCD;
        } else {
            p.flags |= flag::HAS_CMND;
            if rng.gen_bool(0.9) {
                p.flags |= flag::HAS_CCCD;
            }
        }
        if rng.gen_bool(0.4) {
            p.flags |= flag::BONUS;
        }
        p.name = self.names.draw(&mut rng, female, self.provinces[p.province as usize].south);
        p
    }

    // ------------------------------------------------------------ unit marks

    /// Payment habits, Covid suspensions, affected and stuck units.
    fn mark_units(&mut self) {
        let asof_m = self.asof_m;
        let covid_m = self.month(self.covid_t0);
        let mut with_workers: Vec<u32> = Vec::new();
        for (k, u) in self.units.iter_mut().enumerate() {
            let mut rng = stream(self.seed, kind::UNIT, k as u64);
            u.habit = weighted(
                &mut rng,
                &[(Habit::OnTime, 75), (Habit::Late, 9), (Habit::Partial, 7), (Habit::Never, 3), (Habit::Stopped, 6)],
            );
            if u.workers > 0 && !u.closed {
                with_workers.push(k as u32);
            }
        }
        // ~5% of the units with workers suspend the pension part (at least one),
        // from 2020-03/04/05 for 3–12 months; ~8% more are affected without it.
        let mut rng = stream(self.seed, kind::UNIT, u64::MAX >> 17);
        let n_susp = ((with_workers.len() as f64 * 0.05).round() as usize).max(1).min(with_workers.len());
        let mut order = with_workers.clone();
        for k in (1..order.len()).rev() {
            let j = rng.gen_range(0..=k);
            order.swap(k, j);
        }
        for (j, &u) in order.iter().enumerate() {
            let unit = &mut self.units[u as usize];
            if j < n_susp {
                let from = covid_m.add(rng.gen_range(0..3)).min(asof_m);
                let to = from.add(rng.gen_range(2..12));
                unit.susp = Some((from, to));
                unit.affected = true;
            } else if j < n_susp + ((with_workers.len() as f64 * 0.08).round() as usize).max(1) {
                unit.affected = true;
                // A quarter of these say in their last review that everyone is back.
                unit.stuck = rng.gen_bool(0.25) || j == n_susp;
            }
        }
    }

    // ------------------------------------------------------ officers, agents

    fn build_officers(&mut self) {
        let mut per_prov = vec![0u32; self.provinces.len()];
        for u in &self.units {
            per_prov[self.employers[u.employer as usize].province as usize] += 1;
        }
        let mut first = vec![0u32; self.provinces.len()];
        for (k, prov) in self.provinces.iter().enumerate() {
            let mut rng = stream(self.seed, kind::OFFICE, k as u64);
            let count = ((per_prov[k] as f64 / 120.0).ceil().max(1.0) as u32 + u32::from(rng.gen_bool(0.3))).min(999);
            first[k] = self.officers.len() as u32;
            let city = matches!(prov.code.as_str(), "01" | "79" | "31" | "48" | "92");
            for s in 0..count {
                let female = rng.gen_bool(0.55);
                let office = if s == 0 {
                    format!("Phòng Quản lý thu, BHXH {} {}", if city { "thành phố" } else { "tỉnh" }, prov.name)
                } else {
                    let place = PLACES[rng.gen_range(0..PLACES.len())];
                    format!("BHXH {} {place}", if city { "quận" } else { "huyện" })
                };
                self.officers.push(Officer {
                    id: format!("CB{}{:03}", prov.code, s + 1),
                    province: k as u8,
                    name: self.names.draw(&mut rng, female, prov.south),
                    female,
                    office,
                    capacity: rng.gen_range(8..=35),
                });
            }
        }
        let ranges: Vec<(u32, u32)> = (0..self.provinces.len())
            .map(|k| (first[k], first.get(k + 1).copied().unwrap_or(self.officers.len() as u32)))
            .collect();
        for (k, u) in self.units.iter_mut().enumerate() {
            let prov = self.employers[u.employer as usize].province as usize;
            let (a, b) = ranges[prov];
            let mut rng = stream(self.seed, kind::UNIT, (1 << 40) | k as u64);
            u.officer = rng.gen_range(a..b);
        }
    }

    fn build_agents(&mut self) {
        let mut members = vec![0u64; self.provinces.len()];
        for p in &self.people {
            if matches!(p.role, Role::Voluntary | Role::HhMember | Role::Owner) {
                members[p.province as usize] += 1;
            }
        }
        for (k, prov) in self.provinces.iter().enumerate() {
            let mut rng = stream(self.seed, kind::OFFICE, (1 << 20) | k as u64);
            let count = ((members[k] as f64 / 60.0).round() as u32).clamp(2, prov.wards.max(2));
            let start = self.agents.len() as u32;
            for s in 0..count {
                let female = rng.gen_bool(0.6);
                let ward = (prov.ward_start + (s * prov.wards / count)) as u16;
                let place = PLACES[(self.ward_codes[ward as usize] as usize * 7 + s as usize) % PLACES.len()];
                let organisation = match weighted(&mut rng, &[(0u8, 60), (1, 25), (2, 8), (3, 7)]) {
                    0 => format!("Bưu điện huyện {place}"),
                    1 => format!("UBND xã {place}"),
                    2 => format!("Hội Liên hiệp Phụ nữ xã {place}"),
                    _ => format!("Hội Nông dân xã {place}"),
                };
                self.agents.push(Agent {
                    code: format!("DL{}{:04}", prov.code, s + 1),
                    province: k as u8,
                    ward,
                    name: self.names.draw(&mut rng, female, prov.south),
                    female,
                    organisation,
                    active: rng.gen_bool(0.9),
                });
            }
            self.prov_agents.push((start, self.agents.len() as u32));
        }
    }

    /// The agent serving a ward: agents split their province's wards in order.
    pub fn agent_for(&self, prov: u8, ward: u16) -> u32 {
        let (a, b) = self.prov_agents[prov as usize];
        let p = &self.provinces[prov as usize];
        let k = (ward as u32).saturating_sub(p.ward_start) * (b - a) / p.wards.max(1);
        a + k.min(b - a - 1)
    }
}
