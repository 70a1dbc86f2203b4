//! si_contributions, the dues they create, and the person-level truth
//! (people, uninsured workers, under-declared wages, voluntary prospects),
//! all from the same monthly plans.

use super::idents::Idents;
use super::people_files::{business, Out};
use super::plan::{Plan, Status, TAX_MONTHS, WINDOW};
use super::truth::TruthWriter;
use super::world::{flag, Role, World, NONE};
use super::writer::{Ds, Planted, Row};
use crate::reference::apply_bp;
use anyhow::Result;
use std::path::Path;

/// What the contributions pass hands to the unit-level files.
pub(crate) struct Ledger {
    /// Per unit and window month: dues other than the pension-survivorship part.
    pub other: Vec<[i64; WINDOW]>,
    /// Per unit and window month: the pension-survivorship part (both payers).
    pub pension: Vec<[i64; WINDOW]>,
    /// Per unit: index into `reviews`, or NONE.
    pub review_idx: Vec<u32>,
    /// Affected units, per window month: workers by status (4) and terminated.
    pub reviews: Vec<[[u32; 5]; WINDOW]>,
    /// Declared with a due contribution in the as-of month, by the unit's province.
    pub insured_now: Vec<u64>,
    /// Per head office: (distinct people with wages in the last 3 complete months, wage fund).
    pub last3: Vec<(u32, i64)>,
    pub truth_rows: Vec<(&'static str, u64)>,
}

impl Ledger {
    /// Dues per unit and window month following the DOMAIN conventions:
    /// the pension part is not due inside a suspension, and the suspended
    /// amount falls due in full in the month after the suspension ends.
    pub fn dues(&self, w: &World) -> Vec<[i64; WINDOW]> {
        let mut out = vec![[0i64; WINDOW]; w.units.len()];
        for (u, unit) in w.units.iter().enumerate() {
            let mut deferred = 0;
            for (t, due) in out[u].iter_mut().enumerate() {
                let m = w.month(t);
                *due = self.other[u][t];
                if unit.suspended_in(m) {
                    deferred += self.pension[u][t];
                } else {
                    *due += self.pension[u][t];
                }
                if unit.susp.is_some_and(|(_, to)| m == to.next()) {
                    *due += deferred;
                }
            }
        }
        out
    }
}

/// A person's months at one head office without its declaration.
struct PairMonths {
    head: u32,
    /// The entity (head or branch) the wages come from.
    entity: u32,
    uninsured: u32,
    elsewhere: u32,
    last_uninsured: usize,
    last_elsewhere: usize,
}

/// Writes si_contributions and the person-level truth files.
pub(crate) fn run(w: &World, ids: &Idents, out: &Out, truth_dir: &Path) -> Result<(Planted, Ledger)> {
    let mut dw = out.writer(w, Ds::SiContributions, super::people_files::estimate(w, Ds::SiContributions))?;
    let nu = w.units.len();
    let mut review_idx = vec![NONE; nu];
    let mut n_rev = 0;
    for (u, unit) in w.units.iter().enumerate() {
        if unit.affected {
            review_idx[u] = n_rev;
            n_rev += 1;
        }
    }
    let mut led = Ledger {
        other: vec![[0; WINDOW]; nu],
        pension: vec![[0; WINDOW]; nu],
        review_idx,
        reviews: vec![[[0; 5]; WINDOW]; n_rev as usize],
        insured_now: vec![0; w.provinces.len()],
        last3: vec![(0, 0); w.employers.len()],
        truth_rows: Vec::new(),
    };
    let mut people = TruthWriter::create(
        truth_dir,
        "people",
        &[
            "person_id",
            "role",
            "si_number",
            "person_tax_code",
            "cccd",
            "cmnd",
            "full_name",
            "birth_date",
            "sex",
            "province_code",
            "ward_code",
        ],
    )?;
    let mut uninsured = TruthWriter::create(
        truth_dir,
        "uninsured_workers",
        &["person_id", "employer_tax_code", "unit_code", "months_uninsured", "last_month", "reason"],
    )?;
    let mut under = TruthWriter::create(
        truth_dir,
        "under_declared_wages",
        &["unit_code", "si_number", "month", "insured_wage", "taxable_income", "rule"],
    )?;
    let mut prospects =
        TruthWriter::create(truth_dir, "voluntary_prospects", &["person_id", "source", "good_prospect"])?;

    let months: Vec<_> = (0..WINDOW).map(|t| w.month(t)).collect();
    let mut plan = Plan::default();
    let mut row = Row::default();
    let mut heads: Vec<PairMonths> = Vec::new();
    for i in 0..w.people.len() {
        let p = &w.people[i];
        w.plan_person(i, &mut plan);
        let id = ids.ident(w, i);

        // --- si_contributions and dues
        let mut due_head = [NONE; WINDOW];
        for c in &plan.contrib {
            let unit = &w.units[c.unit as usize];
            let t = c.t as usize;
            row.clear();
            row.str(&unit.code);
            row.str(&id.si_number);
            row.month(months[t]);
            row.int(c.wage);
            row.str(c.status.code());
            dw.write(&row, None)?;
            if c.status.due() {
                due_head[t] = w.employers[unit.employer as usize].head;
                let (mut pension, mut other) = (0, 0);
                for cell in &w.rates[t] {
                    let capped = c.wage.min(cell.ceiling[unit.region as usize - 1]);
                    let a = apply_bp(capped, cell.bp);
                    if cell.pension {
                        pension += a;
                    } else {
                        other += a;
                    }
                }
                led.pension[c.unit as usize][t] += pension;
                led.other[c.unit as usize][t] += other;
                if t == WINDOW - 1 {
                    led.insured_now[w.employers[unit.employer as usize].province as usize] += 1;
                }
            }
            let r = led.review_idx[c.unit as usize];
            if r != NONE {
                let k = Status::ALL.iter().position(|s| *s == c.status).expect("status");
                led.reviews[r as usize][t][k] += 1;
            }
        }
        if p.role == Role::Former && (p.stop as usize) < WINDOW - 1 {
            let u = w.contrib_unit(p.employer);
            let r = led.review_idx[u as usize];
            if r != NONE {
                led.reviews[r as usize][p.stop as usize + 1][4] += 1;
            }
        }

        // --- unregistered employers: people and wage fund of the last 3 complete months
        let mut seen: Vec<u32> = Vec::new();
        for tr in &plan.tax {
            if tr.t as usize >= TAX_MONTHS - 3 {
                let h = w.employers[tr.employer as usize].head;
                led.last3[h as usize].1 += tr.income;
                if !seen.contains(&h) {
                    seen.push(h);
                    led.last3[h as usize].0 += 1;
                }
            }
        }

        // --- uninsured workers (DOMAIN "Uninsured months"): per head office,
        // months with compulsory wages and no due declaration by any unit of
        // that employer; months declared at another unit are "elsewhere".
        heads.clear();
        if p.role != Role::Pensioner {
            for tr in &plan.tax {
                if !tr.contract.compulsory() {
                    continue;
                }
                let t = tr.t as usize;
                let h = w.employers[tr.employer as usize].head;
                if due_head[t] == h {
                    continue;
                }
                let k = match heads.iter().position(|x| x.head == h) {
                    Some(k) => k,
                    None => {
                        heads.push(PairMonths {
                            head: h,
                            entity: tr.employer,
                            uninsured: 0,
                            elsewhere: 0,
                            last_uninsured: 0,
                            last_elsewhere: 0,
                        });
                        heads.len() - 1
                    }
                };
                let e = &mut heads[k];
                if due_head[t] == NONE {
                    e.uninsured += 1;
                    e.last_uninsured = e.last_uninsured.max(t);
                } else {
                    e.elsewhere += 1;
                    e.last_elsewhere = e.last_elsewhere.max(t);
                }
            }
        }
        for e in &heads {
            let unit = w.contrib_unit(e.entity);
            let (reason, months_uninsured, last) = if e.uninsured == 0 {
                // Declared at another unit (a second job): listed, never counted.
                ("declared_elsewhere", 0, e.last_elsewhere)
            } else if p.has(flag::IN_SI) {
                ("not_declared_by_employer", e.uninsured, e.last_uninsured)
            } else {
                ("no_si_record", e.uninsured, e.last_uninsured)
            };
            uninsured.record(&[
                &i.to_string(),
                &w.employers[e.head as usize].code,
                if unit == NONE { "" } else { &w.units[unit as usize].code },
                &months_uninsured.to_string(),
                &months[last].to_string(),
                reason,
            ])?;
        }

        // --- under-declared wages (tax months, due declarations)
        for c in &plan.contrib {
            let t = c.t as usize;
            if t >= TAX_MONTHS || !c.status.due() {
                continue;
            }
            let unit = &w.units[c.unit as usize];
            let h = w.employers[unit.employer as usize].head;
            let taxable: Option<i64> = plan
                .tax
                .iter()
                .filter(|tr| tr.t as usize == t && w.employers[tr.employer as usize].head == h)
                .map(|tr| tr.income)
                .reduce(|a, b| a + b);
            let rule = if c.wage < w.min_wage[t][unit.region as usize - 1] {
                "below_min_wage"
            } else if taxable.is_some_and(|x| c.wage * 2 < x) {
                "below_income_share"
            } else {
                continue;
            };
            under.record(&[
                &unit.code,
                &id.si_number,
                &months[t].to_string(),
                &c.wage.to_string(),
                &taxable.map(|x| x.to_string()).unwrap_or_default(),
                rule,
            ])?;
        }

        // --- voluntary prospects
        let age = w.age(p);
        let working_age = w.working_age(p);
        let prospect: Option<(&str, bool)> = match p.role {
            Role::Owner if !p.has(flag::VOLUNTARY_SI) && working_age => {
                let b = business(w, i);
                Some((
                    "household_business",
                    b.status == "active" && b.revenue >= 20_000_000 && (25..=50).contains(&age),
                ))
            }
            Role::Former if !p.has(flag::WAGES_AFTER_STOP) && working_age => {
                let total = p.contributed as usize + plan.contrib.iter().filter(|c| c.status.due()).count();
                Some(("stopped_contributing", (120..=239).contains(&total)))
            }
            Role::Free if working_age => {
                let mut by_month = [0i64; TAX_MONTHS];
                for tr in &plan.tax {
                    by_month[tr.t as usize] += tr.income;
                }
                let active = by_month.iter().filter(|x| **x > 0).count();
                let avg = by_month.iter().sum::<i64>() / active.max(1) as i64;
                Some(("free_worker", active >= 9 && avg >= 5_000_000 && (20..=55).contains(&age)))
            }
            Role::HhMember if working_age && p.other != NONE => {
                let h = &w.households[p.other as usize];
                Some((
                    "household_hi_only",
                    (20..=50).contains(&age) && h.paid_through >= w.asof_m && h.payment_months >= 12,
                ))
            }
            _ => None,
        };
        if let Some((source, good)) = prospect {
            prospects.record(&[&i.to_string(), source, if good { "true" } else { "false" }])?;
        }

        // --- people
        people.record(&[
            &i.to_string(),
            p.role.code(),
            if p.has(flag::IN_SI) { &id.si_number } else { "" },
            id.tax_code.as_deref().unwrap_or(""),
            id.cccd.as_deref().unwrap_or(""),
            id.cmnd.as_deref().unwrap_or(""),
            &id.name,
            &id.birth.to_string(),
            if p.female() { "F" } else { "M" },
            &w.provinces[p.province as usize].code,
            &format!("{:05}", w.ward_code(p.ward)),
        ])?;
    }
    for t in [people, uninsured, under, prospects] {
        led.truth_rows.push(t.finish()?);
    }
    Ok((dw.finish()?, led))
}
