//! The person-level extracts: tax_wages, si_people, tax_households,
//! si_voluntary (written together on one thread).

use super::badrows::BadCtx;
use super::idents::{show, Idents};
use super::names::{BUSINESS_LINES, CRAFT_LINES, CRAFT_VILLAGES, MARKETS, PLACES};
use super::plan::Plan;
use super::rng::{kind, normal, round_to, stream};
use super::world::{date, days, flag, Role, World, NONE};
use super::writer::{DatasetWriter, Ds, Planted, Row};
use crate::month::Month;
use crate::reference::{apply_bp, Scheme, SupportGroup};
use anyhow::Result;
use chrono::NaiveDate;
use rand::Rng;
use std::path::Path;

/// Noise rates per row (tax_wages: per person and employer, all the rows of
/// the pair carry it).
pub(crate) const NOISE_TAX: f64 = 0.03;
pub(crate) const NOISE_SI: f64 = 0.04;
pub(crate) const NOISE_HOUSEHOLDS: f64 = 0.05;

pub(crate) struct Out<'a> {
    pub dir: &'a Path,
    pub tag: &'a str,
    pub ctx: BadCtx,
}

impl Out<'_> {
    pub fn writer(&self, w: &World, ds: Ds, expected: u64) -> Result<DatasetWriter> {
        DatasetWriter::create(self.dir, ds, self.tag, w.seed, expected, self.ctx.clone())
    }
}

/// Expected row counts (for spreading the planted bad rows).
pub(crate) fn estimate(w: &World, ds: Ds) -> u64 {
    let c = |k: usize| w.role_counts[k] as f64;
    let e = match ds {
        Ds::TaxWages => c(0) * 11.5 + c(1) * 20.0 + c(2) * 9.6 + c(3) * 12.0 + c(7) * 1.2 + c(8) * 6.5,
        Ds::SiContributions => c(0) * 12.6 + c(1) * 13.0 + c(8) * 6.5,
        Ds::SiPeople => w.people.iter().filter(|p| p.has(flag::IN_SI)).count() as f64,
        Ds::TaxHouseholds => c(4),
        Ds::SiVoluntary => (c(5) + c(6) + c(4) * 0.35) * 2.5,
        _ => 100.0,
    };
    e as u64
}

fn sex(female: bool) -> &'static str {
    if female {
        "F"
    } else {
        "M"
    }
}

pub(crate) fn tax_wages(w: &World, ids: &Idents, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::TaxWages, estimate(w, Ds::TaxWages))?;
    let mut plan = Plan::default();
    let mut row = Row::default();
    let months: Vec<Month> = (0..13).map(|t| w.month(t)).collect();
    for i in 0..w.people.len() {
        w.plan_person(i, &mut plan);
        if plan.tax.is_empty() {
            continue;
        }
        let id = ids.ident(w, i);
        let mut nrng = stream(w.seed, kind::NOISE_TAX, i as u64);
        let mut current = NONE;
        let mut shown = show(&id, &mut nrng, 0.0);
        for tr in &plan.tax {
            if tr.employer != current {
                // Each employer's payroll software shows the person its own way.
                current = tr.employer;
                shown = show(&id, &mut nrng, NOISE_TAX);
            }
            row.clear();
            row.str(&w.employers[tr.employer as usize].code);
            row.opt_str(id.tax_code.as_deref());
            row.opt_str(shown.citizen_id.as_deref());
            row.str(&shown.name);
            row.opt_date(shown.birth);
            row.month(months[tr.t as usize]);
            row.int(tr.income);
            row.str(tr.contract.code());
            dw.write(&row, shown.noise)?;
        }
    }
    dw.finish()
}

pub(crate) fn si_people(w: &World, ids: &Idents, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::SiPeople, estimate(w, Ds::SiPeople))?;
    let mut row = Row::default();
    for (i, p) in w.people.iter().enumerate() {
        if !p.has(flag::IN_SI) {
            continue;
        }
        let id = ids.ident(w, i);
        let mut nrng = stream(w.seed, kind::NOISE_SI, i as u64);
        let shown = show(&id, &mut nrng, NOISE_SI);
        row.clear();
        row.str(&id.si_number);
        row.opt_str(shown.citizen_id.as_deref());
        row.str(&shown.name);
        row.opt_date(shown.birth);
        row.str(sex(p.female()));
        row.str(&w.provinces[p.province as usize].code);
        row.str(&format!("{:05}", w.ward_code(p.ward)));
        let household = (p.role == Role::HhMember || p.has(flag::HOUSEHOLD_HI)) && p.other != NONE;
        row.opt_str(household.then(|| w.household_code(p.other)).as_deref());
        row.opt_date((p.role == Role::Pensioner).then(|| w.pension_since(p)));
        row.int(p.contributed as i64);
        dw.write(&row, shown.noise)?;
    }
    dw.finish()
}

/// A household business, drawn from the owner's stream.
pub(crate) struct Business {
    pub line: String,
    pub market: Option<String>,
    pub village: Option<String>,
    pub revenue: i64,
    pub status: &'static str,
    pub registered_on: NaiveDate,
}

pub(crate) fn business(w: &World, i: usize) -> Business {
    let p = &w.people[i];
    let mut rng = stream(w.seed, kind::OWNER, i as u64);
    let prov = &w.provinces[p.province as usize];
    let villages: Vec<&str> = CRAFT_VILLAGES.iter().filter(|v| v.0 == prov.code).map(|v| v.1).collect();
    let x: f64 = rng.gen();
    let village_share = if villages.is_empty() { 0.06 } else { 0.3 };
    let place = PLACES[rng.gen_range(0..PLACES.len())];
    let (line, market, village) = if x < village_share {
        let v = if villages.is_empty() {
            format!("Làng nghề {place}")
        } else {
            villages[rng.gen_range(0..villages.len())].to_string()
        };
        (CRAFT_LINES[rng.gen_range(0..CRAFT_LINES.len())].to_string(), None, Some(v))
    } else if x < village_share + 0.4 {
        let markets: Vec<&str> = MARKETS.iter().filter(|m| m.0 == prov.code).map(|m| m.1).collect();
        let m = if !markets.is_empty() && rng.gen_bool(0.5) {
            markets[rng.gen_range(0..markets.len())].to_string()
        } else {
            format!("Chợ {place}")
        };
        (BUSINESS_LINES[rng.gen_range(0..7)].to_string(), Some(m), None)
    } else {
        (BUSINESS_LINES[rng.gen_range(0..BUSINESS_LINES.len())].to_string(), None, None)
    };
    let revenue = round_to(15_000_000.0 * (0.8 * normal(&mut rng)).exp(), 100_000).clamp(1_000_000, 2_000_000_000);
    let status = match rng.gen_range(0..100) {
        0..=87 => "active",
        88..=93 => "suspended",
        _ => "closed",
    };
    let lo = days(NaiveDate::from_ymd_opt(2005, 1, 1).expect("date"));
    let registered_on = date(rng.gen_range(lo..days(w.as_of) - 30));
    Business { line, market, village, revenue, status, registered_on }
}

pub(crate) fn tax_households(w: &World, ids: &Idents, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::TaxHouseholds, estimate(w, Ds::TaxHouseholds))?;
    let mut row = Row::default();
    for (i, p) in w.people.iter().enumerate() {
        if p.role != Role::Owner {
            continue;
        }
        let id = ids.ident(w, i);
        let b = business(w, i);
        let mut nrng = stream(w.seed, kind::NOISE_SI, (1 << 40) | i as u64);
        let shown = show(&id, &mut nrng, NOISE_HOUSEHOLDS);
        row.clear();
        row.str(id.tax_code.as_deref().expect("owners have a tax code"));
        row.opt_str(shown.citizen_id.as_deref());
        row.str(&shown.name);
        row.opt_date(shown.birth);
        row.str(sex(p.female()));
        row.str(&w.provinces[p.province as usize].code);
        row.str(&format!("{:05}", w.ward_code(p.ward)));
        row.str(&b.line);
        row.opt_str(b.market.as_deref());
        row.opt_str(b.village.as_deref());
        row.int(b.revenue);
        row.str(b.status);
        row.date(b.registered_on);
        dw.write(&row, shown.noise)?;
    }
    dw.finish()
}

/// A voluntary BHXH participant's enrolment.
pub(crate) struct Voluntary {
    pub payment_months: u8,
    pub paid_through: Month,
    pub priors: u8,
    pub income_basis: i64,
    pub support: SupportGroup,
}

pub(crate) fn voluntary(w: &World, i: usize) -> Voluntary {
    let mut rng = stream(w.seed, kind::VOLUNTARY, i as u64);
    let (pm, through, priors) = w.coverage(&mut rng, false);
    let poverty = w.r.poverty_line(w.asof_m).unwrap_or(700_000);
    let income_basis = match rng.gen_range(0..100) {
        0..=44 => poverty,
        45..=79 => round_to(rng.gen_range(1_000_000.0..2_000_000.0), 50_000),
        80..=94 => round_to(rng.gen_range(2_000_000.0..5_000_000.0), 50_000),
        _ => round_to(rng.gen_range(5_000_000.0..10_000_000.0), 50_000),
    };
    let support = match rng.gen_range(0..100) {
        0..=4 => SupportGroup::Poor,
        5..=16 => SupportGroup::NearPoor,
        _ => SupportGroup::Other,
    };
    Voluntary { payment_months: pm, paid_through: through, priors, income_basis, support }
}

fn support_code(s: SupportGroup) -> &'static str {
    match s {
        SupportGroup::Poor => "poor",
        SupportGroup::NearPoor => "near_poor",
        SupportGroup::Other => "other",
    }
}

/// Participants per province, for the plan targets: (voluntary count,
/// household members, monthly voluntary amount, monthly household amount).
#[derive(Clone, Debug, Default)]
pub(crate) struct Enrolled {
    pub voluntary: Vec<u64>,
    pub household: Vec<u64>,
    pub voluntary_vnd: Vec<i64>,
    pub household_vnd: Vec<i64>,
    /// The truth file this pass writes (`d08a_due`) and its row count.
    pub truth: Vec<(&'static str, u64)>,
}

/// truth/d08a_due.csv: the amount of the next period, month by month, with
/// the generator's own arithmetic (independent of `voluntary::d08a`).
fn planted_due(w: &World, scheme: Scheme, through: Month, pm: i32, basis: i64, support: SupportGroup, order: u32) -> Result<i64> {
    let mut total = 0;
    for k in 1..=pm {
        let m = through.add(k);
        let rate = w.r.scheme_rate(scheme, m)?;
        total += match scheme {
            Scheme::VoluntarySi => {
                apply_bp(basis, rate) - apply_bp(apply_bp(w.r.poverty_line(m)?, rate), w.r.support_share(support, m)?)
            }
            Scheme::HouseholdHi => apply_bp(apply_bp(w.r.base_salary(m)?, rate), w.r.household_share(order, m)?),
        };
    }
    Ok(total)
}

pub(crate) fn si_voluntary(w: &World, ids: &Idents, out: &Out, truth_dir: &Path) -> Result<(Planted, Enrolled)> {
    let mut dw = out.writer(w, Ds::SiVoluntary, estimate(w, Ds::SiVoluntary))?;
    let np = w.provinces.len();
    let mut en = Enrolled {
        voluntary: vec![0; np],
        household: vec![0; np],
        voluntary_vnd: vec![0; np],
        household_vnd: vec![0; np],
        truth: Vec::new(),
    };
    let mut due = super::truth::TruthWriter::create(
        truth_dir,
        "d08a_due",
        &["si_number", "scheme", "agent_code", "agent_active", "province_code", "paid_through", "payment_months", "amount_due"],
    )?;
    // The D08a-TS list month: the month after the as-of month.
    let l = w.asof_m.next();
    let m = w.asof_m;
    let rate_v = w.r.scheme_rate(Scheme::VoluntarySi, m)?;
    let rate_h = w.r.scheme_rate(Scheme::HouseholdHi, m)?;
    let poverty = w.r.poverty_line(m)?;
    let base = w.r.base_salary(m)?;
    let mut row = Row::default();
    for (i, p) in w.people.iter().enumerate() {
        let vol = p.role == Role::Voluntary || p.has(flag::VOLUNTARY_SI);
        let hh = (p.role == Role::HhMember || p.has(flag::HOUSEHOLD_HI)) && p.other != NONE;
        if !vol && !hh {
            continue;
        }
        let si = ids.ident(w, i).si_number;
        let agent_rec = &w.agents[w.agent_for(p.province, p.ward) as usize];
        let agent = &agent_rec.code;
        let mut plant_due = |scheme: Scheme, through: Month, pm: i32, amount: i64| -> Result<()> {
            if through <= l && through >= l.add(-3) {
                due.record(&[
                    &si,
                    if scheme == Scheme::VoluntarySi { "voluntary_si" } else { "household_hi" },
                    agent,
                    if agent_rec.active { "true" } else { "false" },
                    &w.provinces[p.province as usize].code,
                    &through.to_string(),
                    &pm.to_string(),
                    &amount.to_string(),
                ])?;
            }
            Ok(())
        };
        let prov = p.province as usize;
        if vol {
            let v = voluntary(w, i);
            en.voluntary[prov] += 1;
            en.voluntary_vnd[prov] += apply_bp(v.income_basis, rate_v)
                - apply_bp(apply_bp(poverty, rate_v), w.r.support_share(v.support, m)?);
            let pm = v.payment_months as i32;
            let amount = planted_due(w, Scheme::VoluntarySi, v.paid_through, pm, v.income_basis, v.support, 0)?;
            plant_due(Scheme::VoluntarySi, v.paid_through, pm, amount)?;
            for k in (0..=v.priors as i32).rev() {
                let through = v.paid_through.add(-k * pm);
                row.clear();
                row.str(&si);
                row.str("voluntary_si");
                row.str(agent);
                row.empty();
                row.empty();
                row.int(v.income_basis);
                row.str(support_code(v.support));
                row.int(pm as i64);
                row.month(through.add(1 - pm));
                row.month(through);
                dw.write(&row, None)?;
            }
        } else {
            let h = &w.households[p.other as usize];
            en.household[prov] += 1;
            en.household_vnd[prov] += apply_bp(apply_bp(base, rate_h), w.r.household_share(p.aux as u32, m)?);
            let code = w.household_code(p.other);
            let pm = h.payment_months as i32;
            let amount = planted_due(w, Scheme::HouseholdHi, h.paid_through, pm, 0, SupportGroup::Other, p.aux as u32)?;
            plant_due(Scheme::HouseholdHi, h.paid_through, pm, amount)?;
            for k in (0..=h.priors as i32).rev() {
                let through = h.paid_through.add(-k * pm);
                row.clear();
                row.str(&si);
                row.str("household_hi");
                row.str(agent);
                row.str(&code);
                row.int(p.aux as i64);
                row.empty();
                row.empty();
                row.int(pm as i64);
                row.month(through.add(1 - pm));
                row.month(through);
                dw.write(&row, None)?;
            }
        }
    }
    en.truth.push(due.finish()?);
    Ok((dw.finish()?, en))
}
