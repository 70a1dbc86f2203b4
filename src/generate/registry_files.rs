//! The registry and office extracts: tax_employers, si_units,
//! si_suspensions, si_payments, agents, officers, plan_targets,
//! covid_reviews, conferences; and the unit-level truth.

use super::contrib::Ledger;
use super::names::{full_name, BRANDS, INDUSTRIES, PLACES, STREETS};
use super::people_files::{Enrolled, Out};
use super::plan::WINDOW;
use super::rng::{kind, round_to, stream};
use super::truth::TruthWriter;
use super::world::{date, days, EmpClass, EmpKind, EmpStatus, Habit, World, NONE};
use super::writer::{Ds, Planted, Row};
use crate::month::Month;
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use rand::Rng;
use std::path::Path;

/// Registered name of employer entity `e` (a branch is named after its head).
pub(crate) fn employer_name(w: &World, e: u32) -> String {
    let emp = &w.employers[e as usize];
    let ind = INDUSTRIES[emp.industry as usize].1;
    let brand = BRANDS[emp.brand as usize];
    match emp.kind {
        EmpKind::Branch => {
            format!("Chi nhánh {} tại {}", employer_name(w, emp.head), w.provinces[emp.province as usize].name)
        }
        EmpKind::Enterprise => match e % 6 {
            0 | 3 => format!("Công ty Cổ phần {ind} {brand}"),
            1 => format!("Công ty TNHH MTV {ind} {brand}"),
            _ => format!("Công ty TNHH {ind} {brand}"),
        },
        EmpKind::Cooperative => format!("Hợp tác xã {ind} {brand}"),
        EmpKind::HouseholdBusiness => format!("Hộ kinh doanh {brand}"),
        EmpKind::Other => format!("Doanh nghiệp tư nhân {brand}"),
    }
}

fn ward_str(w: &World, ward: u16) -> String {
    format!("{:05}", w.ward_code(ward))
}

pub(crate) fn tax_employers(w: &World, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::TaxEmployers, w.employers.len() as u64)?;
    let mut row = Row::default();
    for (e, emp) in w.employers.iter().enumerate() {
        let mut rng = stream(w.seed, kind::EMPLOYER, e as u64);
        let prov = &w.provinces[emp.province as usize];
        let address = if emp.kind != EmpKind::HouseholdBusiness && emp.industry < 3 && rng.gen_bool(0.5) {
            format!(
                "Lô {}{}, KCN {}, {}",
                (b'A' + rng.gen_range(0..8u8)) as char,
                rng.gen_range(1..40),
                PLACES[rng.gen_range(0..PLACES.len())],
                prov.name
            )
        } else {
            format!("Số {} đường {}, {}", rng.gen_range(1..400), STREETS[rng.gen_range(0..STREETS.len())], prov.name)
        };
        let declared: Option<i64> = match (emp.class, emp.status) {
            (EmpClass::Dormant, EmpStatus::Active) => Some(0),
            (EmpClass::Dormant, EmpStatus::Absent) => None,
            (EmpClass::Dormant, _) => Some(rng.gen_range(0..20)),
            _ => Some((emp.headcount as f64 * rng.gen_range(0.85..1.1)).round() as i64),
        };
        row.clear();
        row.str(&emp.code);
        row.str(&employer_name(w, e as u32));
        row.str(&prov.code);
        row.str(&ward_str(w, emp.ward));
        row.str(&address);
        row.str(emp.kind.code());
        row.str(INDUSTRIES[emp.industry as usize].0);
        row.date(date(emp.registered_on));
        row.str(emp.status.code());
        row.date(date(emp.status_since));
        row.opt_int(declared);
        dw.write(&row, None)?;
    }
    dw.finish()
}

pub(crate) fn si_units(w: &World, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::SiUnits, w.units.len() as u64)?;
    let mut row = Row::default();
    for u in &w.units {
        let emp = &w.employers[u.employer as usize];
        row.clear();
        row.str(&u.code);
        row.str(&emp.code);
        row.str(&employer_name(w, u.employer));
        row.str(&w.provinces[emp.province as usize].code);
        row.str(&ward_str(w, emp.ward));
        row.int(u.region as i64);
        row.opt_str((u.officer != NONE).then(|| w.officers[u.officer as usize].id.as_str()));
        row.date(date(u.registered_on));
        row.str(if u.closed { "closed" } else { "active" });
        dw.write(&row, None)?;
    }
    dw.finish()
}

pub(crate) fn si_suspensions(w: &World, out: &Out) -> Result<Planted> {
    let n = w.units.iter().filter(|u| u.susp.is_some()).count() as u64;
    let mut dw = out.writer(w, Ds::SiSuspensions, n)?;
    let mut row = Row::default();
    let mut k = 0;
    for u in &w.units {
        if let Some((from, to)) = u.susp {
            k += 1;
            row.clear();
            row.str(&u.code);
            row.month(from);
            row.month(to);
            row.str(&format!("{}/QĐ-BHXH", 100 + k));
            dw.write(&row, None)?;
        }
    }
    dw.finish()
}

fn day_in(rng: &mut impl Rng, m: Month, lo: u32, hi: u32) -> NaiveDate {
    let last = m.last_day();
    let d = rng.gen_range(lo..=hi);
    let first = m.first_day();
    let x = first + chrono::Duration::days(d as i64 - 1);
    x.min(last)
}

/// si_payments from the dues, by payment habit, and truth/delinquent_employers.csv.
pub(crate) fn si_payments(
    w: &World,
    dues: &[[i64; WINDOW]],
    out: &Out,
    truth_dir: &Path,
) -> Result<(Planted, (&'static str, u64))> {
    let mut pays: Vec<(NaiveDate, u32, i64)> = Vec::new();
    let mut paid = vec![0i64; w.units.len()];
    for (u, unit) in w.units.iter().enumerate() {
        if unit.workers == 0 || unit.closed {
            continue;
        }
        let mut rng = stream(w.seed, kind::PAYMENT, u as u64);
        let stop = rng.gen_range(2..=10usize);
        for (t, &due) in dues[u].iter().enumerate() {
            if due <= 0 {
                continue;
            }
            let m = w.month(t);
            let (when, amount) = match unit.habit {
                Habit::OnTime => (day_in(&mut rng, m, 15, 28), due),
                Habit::Stopped if t < stop => (day_in(&mut rng, m, 15, 28), due),
                Habit::Stopped | Habit::Never => continue,
                Habit::Late => {
                    let lag = rng.gen_range(1..=2);
                    (day_in(&mut rng, m.add(lag), 1, 28), due)
                }
                Habit::Partial => {
                    (day_in(&mut rng, m, 15, 28), round_to(due as f64 * rng.gen_range(0.5..0.9), 1000).max(1000))
                }
            };
            if when <= w.as_of && amount > 0 {
                pays.push((when, u as u32, amount));
                paid[u] += amount;
            }
        }
    }
    pays.sort();
    let mut dw = out.writer(w, Ds::SiPayments, pays.len() as u64)?;
    let mut row = Row::default();
    for (seq, (when, u, amount)) in pays.iter().enumerate() {
        row.clear();
        row.str(&w.units[*u as usize].code);
        row.date(*when);
        row.int(*amount);
        row.str(&format!("FT{}{:08}", when.format("%y%m%d"), seq + 1));
        dw.write(&row, None)?;
    }
    let planted = dw.finish()?;

    let mut t = TruthWriter::create(
        truth_dir,
        "delinquent_employers",
        &["unit_code", "habit", "suspended_at_asof", "due_before_asof_month", "paid_total", "planted_debt"],
    )?;
    for (u, unit) in w.units.iter().enumerate() {
        if unit.workers == 0 || unit.closed || (unit.habit == Habit::OnTime && unit.susp.is_none()) {
            continue;
        }
        let due: i64 = dues[u][..WINDOW - 1].iter().sum();
        t.record(&[
            &unit.code,
            unit.habit.code(),
            if unit.suspended_in(w.asof_m) { "true" } else { "false" },
            &due.to_string(),
            &paid[u].to_string(),
            &(due - paid[u]).max(0).to_string(),
        ])?;
    }
    Ok((planted, t.finish()?))
}

pub(crate) fn officers(w: &World, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::Officers, w.officers.len() as u64)?;
    let mut row = Row::default();
    for o in &w.officers {
        row.clear();
        row.str(&o.id);
        row.str(&full_name(o.name, o.female));
        row.str(&w.provinces[o.province as usize].code);
        row.str(&o.office);
        row.int(o.capacity as i64);
        dw.write(&row, None)?;
    }
    dw.finish()
}

pub(crate) fn agents(w: &World, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::Agents, w.agents.len() as u64)?;
    let mut row = Row::default();
    for a in &w.agents {
        row.clear();
        row.str(&a.code);
        row.str(&full_name(a.name, a.female));
        row.str(&a.organisation);
        row.str(&w.provinces[a.province as usize].code);
        row.str(&ward_str(w, a.ward));
        row.str(if a.active { "true" } else { "false" });
        dw.write(&row, None)?;
    }
    dw.finish()
}

/// Decision 06/QĐ-BHXH targets for the as-of year, set from what the
/// generated province actually owes and counts (targets 0–10% above).
pub(crate) fn plan_targets(
    w: &World,
    dues: &[[i64; WINDOW]],
    led: &Ledger,
    en: &Enrolled,
    out: &Out,
) -> Result<Planted> {
    let np = w.provinces.len();
    let mut yearly = vec![0f64; np];
    for (u, unit) in w.units.iter().enumerate() {
        let prov = w.employers[unit.employer as usize].province as usize;
        yearly[prov] += dues[u].iter().sum::<i64>() as f64 / WINDOW as f64 * 12.0;
    }
    let mut dw = out.writer(w, Ds::PlanTargets, np as u64)?;
    let mut row = Row::default();
    for (k, prov) in w.provinces.iter().enumerate() {
        let mut rng = stream(w.seed, kind::TARGET, k as u64);
        let collection =
            (yearly[k] + 12.0 * (en.voluntary_vnd[k] + en.household_vnd[k]) as f64) * rng.gen_range(1.0..1.1);
        row.clear();
        row.int(w.as_of.year() as i64);
        row.str(&prov.code);
        row.int(round_to(collection, 1_000_000));
        row.int((led.insured_now[k] as f64 * rng.gen_range(1.02..1.08)).round() as i64);
        row.int((en.voluntary[k] as f64 * rng.gen_range(1.05..1.3)).round() as i64);
        row.int((en.household[k] as f64 * rng.gen_range(1.0..1.1)).round() as i64);
        dw.write(&row, None)?;
    }
    dw.finish()
}

/// Monthly §1.1 reviews of the affected units from the first Covid month,
/// with the worker counts the declarations show; "stuck" units report
/// everyone back in their last review while their declarations do not
/// (truth/should_have_resumed.csv).
pub(crate) fn covid_reviews(
    w: &World,
    led: &Ledger,
    out: &Out,
    truth_dir: &Path,
) -> Result<(Planted, (&'static str, u64))> {
    let n = led.reviews.len() as u64 * (WINDOW - w.covid_t0) as u64;
    let mut dw = out.writer(w, Ds::CovidReviews, n)?;
    let mut stuck = TruthWriter::create(
        truth_dir,
        "should_have_resumed",
        &["unit_code", "month", "resume_month", "reported_continuing", "declared_not_working"],
    )?;
    let mut row = Row::default();
    for (u, unit) in w.units.iter().enumerate() {
        let r = led.review_idx[u];
        if r == NONE {
            continue;
        }
        let mut rng = stream(w.seed, kind::UNIT, (2 << 40) | u as u64);
        let resume = match unit.susp {
            Some((_, to)) => to.next(),
            None if unit.stuck => w.month((w.covid_t0 + 3).min(WINDOW - 1)),
            None => w.month(w.covid_t0 + 4),
        };
        for t in w.covid_t0..WINDOW {
            let m = w.month(t);
            let c = led.reviews[r as usize][t];
            let total = c[0] + c[1] + c[2] + c[3];
            if total == 0 && c[4] == 0 {
                continue;
            }
            let last_day = if t == WINDOW - 1 { w.as_of } else { m.last_day() };
            let lo = days(m.first_day());
            let reviewed_on = date(rng.gen_range(lo..=days(last_day).max(lo)));
            let report_all_back = unit.stuck && t == WINDOW - 1;
            let (working, stopped, leave, susp) =
                if report_all_back { (total, 0, 0, 0) } else { (c[0], c[1], c[2], c[3]) };
            row.clear();
            row.str(&unit.code);
            row.month(m);
            row.date(reviewed_on);
            row.int(working as i64);
            row.int(c[4] as i64);
            row.int(leave as i64);
            row.int(susp as i64);
            row.int(stopped as i64);
            row.month(resume);
            dw.write(&row, None)?;
            if report_all_back && c[2] + c[3] > 0 {
                stuck.record(&[
                    &unit.code,
                    &m.to_string(),
                    &resume.to_string(),
                    &total.to_string(),
                    &(c[2] + c[3]).to_string(),
                ])?;
            }
        }
    }
    Ok((dw.finish()?, stuck.finish()?))
}

pub(crate) fn conferences(w: &World, out: &Out) -> Result<Planted> {
    let mut dw = out.writer(w, Ds::Conferences, w.provinces.len() as u64 * WINDOW as u64 * 2)?;
    let mut row = Row::default();
    for (k, prov) in w.provinces.iter().enumerate() {
        let mut rng = stream(w.seed, kind::OFFICE, (2 << 20) | k as u64);
        let per_month = 1 + (prov.pop / 3_000_000) as u32;
        for t in 0..WINDOW {
            let m = w.month(t);
            let last = if t == WINDOW - 1 { w.as_of } else { m.last_day() };
            let count = rng.gen_range(0..=per_month + 1);
            let mut dates: Vec<NaiveDate> =
                (0..count).map(|_| date(rng.gen_range(days(m.first_day())..=days(last)))).collect();
            dates.sort();
            for (s, held_on) in dates.into_iter().enumerate() {
                let ward = (prov.ward_start + rng.gen_range(0..prov.wards)) as u16;
                let place = PLACES[rng.gen_range(0..PLACES.len())];
                let place = match rng.gen_range(0..4) {
                    0 => format!("Nhà văn hóa thôn {place}"),
                    1 => format!("Hội trường UBND xã {place}"),
                    2 => format!("Nhà văn hóa khu phố {}", rng.gen_range(1..12)),
                    _ => format!("Bưu điện huyện {place}"),
                };
                let invited = rng.gen_range(30..=150i64);
                let attended = (invited as f64 * rng.gen_range(0.5..0.95)).round() as i64;
                let registered = (attended as f64 * rng.gen_range(0.05..0.4)).round() as i64;
                row.clear();
                row.str(&format!("HN{}{}{:02}", prov.code, m.to_string().replace('-', ""), s + 1));
                row.str(&prov.code);
                row.str(&ward_str(w, ward));
                row.date(held_on);
                row.str(&place);
                row.int(invited);
                row.int(attended);
                row.int(registered);
                dw.write(&row, None)?;
            }
        }
    }
    dw.finish()
}

/// truth/unregistered_employers.csv: active head offices with wages in the
/// last 3 complete months and no unit under their code or a branch's.
pub(crate) fn unregistered(w: &World, led: &Ledger, truth_dir: &Path) -> Result<(&'static str, u64)> {
    let mut has_unit = vec![false; w.employers.len()];
    for u in &w.units {
        has_unit[w.employers[u.employer as usize].head as usize] = true;
    }
    let mut t = TruthWriter::create(
        truth_dir,
        "unregistered_employers",
        &["tax_code", "province_code", "employees_in_tax", "wage_fund_3m"],
    )?;
    for (e, emp) in w.employers.iter().enumerate() {
        let (people, fund) = led.last3[e];
        if emp.head as usize != e || has_unit[e] || emp.status != EmpStatus::Active || people == 0 {
            continue;
        }
        t.record(&[&emp.code, &w.provinces[emp.province as usize].code, &people.to_string(), &fund.to_string()])?;
    }
    t.finish()
}
