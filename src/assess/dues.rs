//! Dues rules: what a unit owes for one person and month, by fund and payer,
//! and how a Covid suspension moves the pension-survivorship part.
//!
//! Pure functions over small structs; every rate and ceiling comes from
//! [`Reference`]. The conventions (DOMAIN.md "Conventions", also
//! `docs/rules.md`):
//!
//! * For each person, unit, month, fund and payer:
//!   `round(capped_wage × rate)` to the VND, halves up ([`apply_bp`]).
//!   A unit's monthly due is the sum of those roundings (never the rounding
//!   of a sum).
//! * `capped_wage = min(insured_wage, ceiling(fund, region, month))`: 20 ×
//!   base salary for the BHXH funds and BHYT, 20 × the regional minimum wage
//!   of the unit's region for BHTN (the multiples and bases are reference data).
//! * A wage below the regional minimum is charged as declared; it is counted
//!   as under-declared ([`UnitMonth::under_minimum`]).
//! * Only `working` and `stopped_paid` months owe anything ([`is_due_status`]).
//! * Inside a suspension period (`from_month..=to_month`) the pension-survivorship
//!   part (both payers) is not due; the sum of those parts falls due in full
//!   in the month after `to_month` (the make-up month). See [`schedule`].

use crate::month::Month;
use crate::reference::{apply_bp, Bp, Fund, Payer, Reference};
use anyhow::Result;
use std::collections::HashMap;

/// Fund × payer pairs, in `Fund::ALL × Payer::ALL` order.
pub const CELLS: usize = Fund::ALL.len() * Payer::ALL.len();

/// Amounts (or rates) per fund and payer, indexed by [`cell_index`].
pub type Amounts = [i64; CELLS];

/// Position of a (fund, payer) pair in [`Amounts`].
pub fn cell_index(fund: Fund, payer: Payer) -> usize {
    let f = Fund::ALL.iter().position(|x| *x == fund).expect("fund in ALL");
    let p = Payer::ALL.iter().position(|x| *x == payer).expect("payer in ALL");
    f * Payer::ALL.len() + p
}

/// The (fund, payer) pair at a position of [`Amounts`].
pub fn cell_at(i: usize) -> (Fund, Payer) {
    (Fund::ALL[i / Payer::ALL.len()], Payer::ALL[i % Payer::ALL.len()])
}

/// `<fund>_<payer>`: the column name of a cell in the `dues` table.
pub fn cell_name(i: usize) -> String {
    let (f, p) = cell_at(i);
    let payer = match p {
        Payer::Employer => "employer",
        Payer::Employee => "employee",
    };
    format!("{}_{payer}", f.as_str())
}

/// Contributions are due for these work statuses only (`unpaid_leave` and
/// `suspended_contract` months owe nothing).
pub const DUE_STATUSES: [&str; 2] = ["working", "stopped_paid"];

pub fn is_due_status(work_status: &str) -> bool {
    DUE_STATUSES.contains(&work_status)
}

/// One cell of the rules: the rate and the wage ceiling of a fund and payer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub fund: Fund,
    pub payer: Payer,
    pub bp: Bp,
    pub ceiling: i64,
}

/// The rules valid in one month for a unit of one wage region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthRules {
    pub month: Month,
    pub region: u8,
    /// The regional minimum wage (floor of the insured wage, not enforced:
    /// a lower wage is charged as declared and flagged).
    pub min_wage: i64,
    pub cells: [Cell; CELLS],
}

impl MonthRules {
    pub fn from_reference(r: &Reference, region: u8, month: Month) -> Result<MonthRules> {
        let mut cells = [Cell { fund: Fund::PensionSurvivorship, payer: Payer::Employer, bp: 0, ceiling: 0 }; CELLS];
        for (i, cell) in cells.iter_mut().enumerate() {
            let (fund, payer) = cell_at(i);
            *cell = Cell { fund, payer, bp: r.rate(fund, payer, month)?, ceiling: r.ceiling(fund, region, month)? };
        }
        Ok(MonthRules { month, region, min_wage: r.min_wage(region, month)?, cells })
    }
}

/// What one person owes in one month, by fund and payer: each cell
/// `round(min(wage, ceiling) × rate)`, halves up.
pub fn person_dues(insured_wage: i64, rules: &MonthRules) -> Amounts {
    let mut out = [0; CELLS];
    for (a, c) in out.iter_mut().zip(&rules.cells) {
        *a = apply_bp(insured_wage.min(c.ceiling), c.bp);
    }
    out
}

/// The pension-survivorship part (employer and employee) of some amounts.
pub fn pension_part(a: &Amounts) -> i64 {
    Payer::ALL.iter().map(|p| a[cell_index(Fund::PensionSurvivorship, *p)]).sum()
}

/// Rules by (region, month), computed once each.
pub struct RuleBook<'r> {
    reference: &'r Reference,
    cache: HashMap<(u8, Month), MonthRules>,
}

impl<'r> RuleBook<'r> {
    pub fn new(reference: &'r Reference) -> RuleBook<'r> {
        RuleBook { reference, cache: HashMap::new() }
    }
    pub fn get(&mut self, region: u8, month: Month) -> Result<&MonthRules> {
        if !self.cache.contains_key(&(region, month)) {
            let rules = MonthRules::from_reference(self.reference, region, month)?;
            self.cache.insert((region, month), rules);
        }
        Ok(&self.cache[&(region, month)])
    }
}

/// A unit's assessed contributions for one month: the sum over its people
/// with a due work status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitMonth {
    pub month: Month,
    /// Σ per person of the rounded amount, by fund and payer.
    pub amounts: Amounts,
    /// People with a due contribution this month.
    pub headcount: u32,
    /// Σ declared insured wages of those people (before any ceiling).
    pub wage_fund: i64,
    /// Of those, people declared below the regional minimum wage.
    pub under_minimum: u32,
}

impl UnitMonth {
    pub fn new(month: Month) -> UnitMonth {
        UnitMonth { month, amounts: [0; CELLS], headcount: 0, wage_fund: 0, under_minimum: 0 }
    }
    /// Adds one person's due month (the caller has checked the work status).
    pub fn add_person(&mut self, insured_wage: i64, rules: &MonthRules) {
        debug_assert_eq!(rules.month, self.month);
        let a = person_dues(insured_wage, rules);
        for (acc, x) in self.amounts.iter_mut().zip(a) {
            *acc += x;
        }
        self.headcount += 1;
        self.wage_fund += insured_wage;
        if insured_wage < rules.min_wage {
            self.under_minimum += 1;
        }
    }
    /// All funds and payers: the due of the month when no suspension applies.
    pub fn assessed(&self) -> i64 {
        self.amounts.iter().sum()
    }
    pub fn pension(&self) -> i64 {
        pension_part(&self.amounts)
    }
}

/// A Covid suspension of the pension-survivorship part, months inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Suspension {
    pub from: Month,
    pub to: Month,
}

impl Suspension {
    pub fn contains(&self, m: Month) -> bool {
        self.from <= m && m <= self.to
    }
    /// The month the suspended amount falls due in full.
    pub fn makeup_month(&self) -> Month {
        self.to.next()
    }
}

/// Holds a unit's periods (sorted) to the months a suspension may last. A
/// suspension is a run of periods whose months follow one another without
/// a gap (back to back or overlapping: an extension, or one decision split
/// over rows); the contract checks one row, not a run. Each run may suspend
/// at most `max_months(its first month)` months, counted in calendar order
/// over the union of its periods. A period that would go beyond the limit
/// ends with its last allowed month (its make-up month moves with it); one
/// that adds no month (beyond the limit, or inside an earlier period, which
/// holds those months anyway) is dropped. A new suspension after a gap
/// starts a new count. Returns the months no longer suspended.
pub fn cap_periods(periods: &mut Vec<Suspension>, max_months: impl Fn(Month) -> Result<i64>) -> Result<u64> {
    // The last month asked for by the run so far, its limit and the months it
    // has used; the last month held by the periods kept.
    let (mut asked, mut limit, mut used, mut held, mut removed) = (None::<Month>, 0i64, 0i64, None::<Month>, 0u64);
    let mut kept = Vec::with_capacity(periods.len());
    for p in periods.drain(..) {
        if asked.is_none_or(|a| p.from > a.next()) {
            (limit, used) = (max_months(p.from)?, 0);
        }
        asked = asked.max(Some(p.to));
        // The months of p not already held by an earlier period.
        let start = held.map_or(p.from, |h| p.from.max(h.next()));
        let new = if start <= p.to { i64::from(start.until(p.to)) + 1 } else { 0 };
        let allowed = (limit - used).clamp(0, new);
        removed += (new - allowed) as u64;
        if allowed > 0 {
            let to = start.add(allowed as i32 - 1);
            kept.push(Suspension { from: p.from, to });
            (used, held) = (used + allowed, Some(to));
        }
    }
    *periods = kept;
    Ok(removed)
}

/// The period that suspends month `m`, if any (the earliest-starting one
/// when periods overlap, which the contract does not forbid).
pub fn suspending(periods: &[Suspension], m: Month) -> Option<Suspension> {
    periods.iter().filter(|p| p.contains(m)).min().copied()
}

/// One month of a unit's schedule after suspensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub month: Month,
    /// The month's own contributions that fall due this month: assessed,
    /// minus the pension part when the month is suspended.
    pub regular: i64,
    /// The pension part of this month not due now (suspended).
    pub deferred_now: i64,
    /// Suspended pension parts of earlier months falling due this month.
    pub makeup: i64,
    /// Suspended pension parts accumulated and not yet fallen due, at the
    /// end of the month (`deferred_pension_part` of the C12-TS notice).
    pub deferred_balance: i64,
}

impl Scheduled {
    /// What falls due this month.
    pub fn due(&self) -> i64 {
        self.regular + self.makeup
    }
}

/// The unit's schedule for every month `first..=last` (dense: months without
/// contributions appear with zero regular due, so make-up months and later
/// months are always present). `months` must be sorted by month; those
/// outside `first..=last` are ignored. A make-up falling after `last` stays in
/// `deferred_balance`.
pub fn schedule(first: Month, last: Month, months: &[UnitMonth], periods: &[Suspension]) -> Vec<Scheduled> {
    let mut out: Vec<Scheduled> = first
        .through(last)
        .map(|month| Scheduled { month, regular: 0, deferred_now: 0, makeup: 0, deferred_balance: 0 })
        .collect();
    // Deferred amounts by make-up month.
    let mut pending: Vec<(Month, i64)> = Vec::new();
    let mut k = 0;
    for s in out.iter_mut() {
        let m = s.month;
        while k < months.len() && months[k].month < m {
            k += 1;
        }
        if k < months.len() && months[k].month == m {
            let um = &months[k];
            match suspending(periods, m) {
                Some(p) => {
                    s.regular = um.assessed() - um.pension();
                    s.deferred_now = um.pension();
                    if s.deferred_now > 0 {
                        match pending.iter_mut().find(|(mm, _)| *mm == p.makeup_month()) {
                            Some(e) => e.1 += s.deferred_now,
                            None => pending.push((p.makeup_month(), s.deferred_now)),
                        }
                    }
                }
                None => s.regular = um.assessed(),
            }
        }
        s.makeup = pending.iter().filter(|(mm, _)| *mm == m).map(|(_, a)| a).sum();
        pending.retain(|(mm, _)| *mm != m);
        s.deferred_balance = pending.iter().map(|(_, a)| a).sum();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn reference() -> Reference {
        Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap()
    }
    fn m(s: &str) -> Month {
        s.parse().unwrap()
    }
    fn cell(a: &Amounts, f: Fund, p: Payer) -> i64 {
        a[cell_index(f, p)]
    }
    use Fund::*;
    use Payer::*;

    #[test]
    fn cells_round_trip() {
        for i in 0..CELLS {
            let (f, p) = cell_at(i);
            assert_eq!(cell_index(f, p), i);
        }
        assert_eq!(cell_name(cell_index(Unemployment, Employee)), "unemployment_employee");
    }

    #[test]
    fn wage_above_both_ceilings_is_capped_per_fund() {
        let r = reference();
        // 06/2020, region I: base salary 1,490,000 → BHXH/BHYT ceiling 29,800,000;
        // minimum wage 4,420,000 → BHTN ceiling 88,400,000.
        let rules = MonthRules::from_reference(&r, 1, m("2020-06")).unwrap();
        let a = person_dues(100_000_000, &rules);
        assert_eq!(cell(&a, PensionSurvivorship, Employer), 4_172_000); // 29,800,000 × 14%
        assert_eq!(cell(&a, PensionSurvivorship, Employee), 2_384_000); // × 8%
        assert_eq!(cell(&a, SicknessMaternity, Employer), 894_000); // × 3%
        assert_eq!(cell(&a, SicknessMaternity, Employee), 0);
        assert_eq!(cell(&a, OccupationalAccident, Employer), 149_000); // × 0.5%
        assert_eq!(cell(&a, Health, Employer), 894_000); // × 3%
        assert_eq!(cell(&a, Health, Employee), 447_000); // × 1.5%
        assert_eq!(cell(&a, Unemployment, Employer), 884_000); // 88,400,000 × 1%
        assert_eq!(cell(&a, Unemployment, Employee), 884_000);
        assert_eq!(a.iter().sum::<i64>(), 4_172_000 + 2_384_000 + 894_000 + 149_000 + 894_000 + 447_000 + 884_000 * 2);
        assert_eq!(pension_part(&a), 6_556_000);
    }

    #[test]
    fn wage_between_the_ceilings_caps_bhxh_only() {
        let r = reference();
        // Region IV, 06/2020: BHTN ceiling 20 × 3,070,000 = 61,400,000; BHXH 29,800,000.
        let rules = MonthRules::from_reference(&r, 4, m("2020-06")).unwrap();
        let a = person_dues(40_000_000, &rules);
        assert_eq!(cell(&a, Health, Employee), 447_000); // capped: 29,800,000 × 1.5%
        assert_eq!(cell(&a, Unemployment, Employee), 400_000); // not capped: 40,000,000 × 1%
                                                               // Region IV BHTN cap reached above 61,400,000.
        assert_eq!(cell(&person_dues(70_000_000, &rules), Unemployment, Employer), 614_000);
    }

    #[test]
    fn wage_below_minimum_is_charged_as_declared_and_flagged() {
        let r = reference();
        let rules = MonthRules::from_reference(&r, 1, m("2020-06")).unwrap();
        // 3,333,333 < region I minimum 4,420,000.
        let mut um = UnitMonth::new(m("2020-06"));
        um.add_person(3_333_333, &rules);
        let a = um.amounts;
        // 3,333,333 × 14%  = 466,666.62  → 466,667
        assert_eq!(cell(&a, PensionSurvivorship, Employer), 466_667);
        // 3,333,333 × 8%   = 266,666.64  → 266,667
        assert_eq!(cell(&a, PensionSurvivorship, Employee), 266_667);
        // 3,333,333 × 3%   =  99,999.99  → 100,000
        assert_eq!(cell(&a, SicknessMaternity, Employer), 100_000);
        // 3,333,333 × 0.5% =  16,666.665 → 16,667
        assert_eq!(cell(&a, OccupationalAccident, Employer), 16_667);
        // 3,333,333 × 3% → 100,000; × 1.5% = 49,999.995 → 50,000
        assert_eq!(cell(&a, Health, Employer), 100_000);
        assert_eq!(cell(&a, Health, Employee), 50_000);
        // 3,333,333 × 1%   =  33,333.33  → 33,333 (each payer)
        assert_eq!(cell(&a, Unemployment, Employer), 33_333);
        assert_eq!(cell(&a, Unemployment, Employee), 33_333);
        assert_eq!(um.assessed(), 466_667 + 266_667 + 100_000 + 16_667 + 100_000 + 50_000 + 33_333 + 33_333);
        assert_eq!((um.headcount, um.wage_fund, um.under_minimum), (1, 3_333_333, 1));
    }

    #[test]
    fn rounding_is_per_person_then_summed() {
        let r = reference();
        let rules = MonthRules::from_reference(&r, 1, m("2020-06")).unwrap();
        // Two people at 4,420,100: occupational accident 0.5% = 22,100.5 → 22,101 each,
        // so the unit owes 44,202 — not round(8,840,200 × 0.5%) = 44,201.
        let mut um = UnitMonth::new(m("2020-06"));
        um.add_person(4_420_100, &rules);
        um.add_person(4_420_100, &rules);
        assert_eq!(cell(&um.amounts, OccupationalAccident, Employer), 44_202);
        assert_eq!(um.under_minimum, 0);
    }

    #[test]
    fn rate_changes_apply_in_the_month_they_are_valid() {
        let r = reference();
        let wage = 10_000_000;
        // 06/2021: occupational accident 0.5% → 50,000; employer BHTN 1% → 100,000.
        let jun = person_dues(wage, &MonthRules::from_reference(&r, 2, m("2021-06")).unwrap());
        assert_eq!(cell(&jun, OccupationalAccident, Employer), 50_000);
        assert_eq!(cell(&jun, Unemployment, Employer), 100_000);
        assert_eq!(jun.iter().sum::<i64>(), 3_200_000); // 32%
                                                        // 07/2021: occupational accident 0% (NQ 68).
        let jul = person_dues(wage, &MonthRules::from_reference(&r, 2, m("2021-07")).unwrap());
        assert_eq!(cell(&jul, OccupationalAccident, Employer), 0);
        assert_eq!(jul.iter().sum::<i64>(), 3_150_000); // 31.5%
                                                        // 10/2021: employer BHTN 0% too (NQ 116); the employee keeps 1%.
        let oct = person_dues(wage, &MonthRules::from_reference(&r, 2, m("2021-10")).unwrap());
        assert_eq!(cell(&oct, Unemployment, Employer), 0);
        assert_eq!(cell(&oct, Unemployment, Employee), 100_000);
        assert_eq!(oct.iter().sum::<i64>(), 3_050_000); // 30.5%
                                                        // Base salary 1,490,000 → 1,800,000 from 07/2023: the BHXH ceiling moves
                                                        // from 29,800,000 to 36,000,000 for a 50,000,000 wage.
        let jun23 = person_dues(50_000_000, &MonthRules::from_reference(&r, 1, m("2023-06")).unwrap());
        let jul23 = person_dues(50_000_000, &MonthRules::from_reference(&r, 1, m("2023-07")).unwrap());
        assert_eq!(cell(&jun23, PensionSurvivorship, Employer), 4_172_000); // 29,800,000 × 14%
        assert_eq!(cell(&jul23, PensionSurvivorship, Employer), 5_040_000); // 36,000,000 × 14%
    }

    fn um(month: &str, assessed_other: i64, pension: i64) -> UnitMonth {
        let mut u = UnitMonth::new(m(month));
        u.amounts[cell_index(PensionSurvivorship, Employer)] = pension;
        u.amounts[cell_index(Health, Employer)] = assessed_other;
        u
    }

    #[test]
    fn suspension_defers_the_pension_part_to_the_month_after() {
        let r = reference();
        let wage = 5_000_000;
        // 5,000,000 in region I, 2020: pension 14% + 8% = 700,000 + 400,000 = 1,100,000;
        // the others 3% + 0.5% + 3% + 1.5% + 1% + 1% = 10% = 500,000.
        let mut months = Vec::new();
        for s in ["2020-03", "2020-04", "2020-05", "2020-06", "2020-07"] {
            let rules = MonthRules::from_reference(&r, 1, m(s)).unwrap();
            let mut u = UnitMonth::new(m(s));
            u.add_person(wage, &rules);
            assert_eq!((u.assessed(), u.pension()), (1_600_000, 1_100_000));
            months.push(u);
        }
        let periods = [Suspension { from: m("2020-04"), to: m("2020-05") }];
        let s = schedule(m("2020-03"), m("2020-07"), &months, &periods);
        let row = |i: usize| (s[i].regular, s[i].deferred_now, s[i].makeup, s[i].deferred_balance, s[i].due());
        assert_eq!(row(0), (1_600_000, 0, 0, 0, 1_600_000)); // 03: outside, all due
        assert_eq!(row(1), (500_000, 1_100_000, 0, 1_100_000, 500_000)); // 04: others only
        assert_eq!(row(2), (500_000, 1_100_000, 0, 2_200_000, 500_000)); // 05: others only
        assert_eq!(row(3), (1_600_000, 0, 2_200_000, 0, 3_800_000)); // 06: make-up 2 × 1,100,000
        assert_eq!(row(4), (1_600_000, 0, 0, 0, 1_600_000));
    }

    #[test]
    fn schedule_is_dense_and_keeps_a_late_makeup_deferred() {
        // Contributions only in 04; suspended 04–06; the schedule ends in 06:
        // the make-up month 07 is after the end, so the amount stays deferred.
        let months = [um("2020-04", 300, 2_200)];
        let periods = [Suspension { from: m("2020-04"), to: m("2020-06") }];
        let s = schedule(m("2020-03"), m("2020-06"), &months, &periods);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].due(), 0);
        assert_eq!((s[1].regular, s[1].deferred_now, s[1].deferred_balance), (300, 2_200, 2_200));
        assert_eq!((s[2].due(), s[2].deferred_balance), (0, 2_200));
        assert_eq!((s[3].due(), s[3].deferred_balance), (0, 2_200));
        // One month longer: the make-up falls due in 07 even without contributions.
        let s = schedule(m("2020-03"), m("2020-07"), &months, &periods);
        assert_eq!((s[4].regular, s[4].makeup, s[4].deferred_balance), (0, 2_200, 0));
    }

    #[test]
    fn a_units_periods_together_are_held_to_the_months_it_may_suspend() {
        let p = |a: &str, b: &str| Suspension { from: m(a), to: m(b) };
        let cap = |mut v: Vec<Suspension>, max: i64| {
            v.sort();
            let removed = cap_periods(&mut v, |_| Ok(max)).unwrap();
            (v, removed)
        };
        // 8 + 8 months back to back (an extension): the second keeps 4.
        assert_eq!(cap(vec![p("2020-04", "2020-11"), p("2020-12", "2021-07")], 12), (vec![p("2020-04", "2020-11"), p("2020-12", "2021-03")], 4));
        // A period right after the limit is dropped ...
        assert_eq!(cap(vec![p("2020-01", "2020-12"), p("2021-01", "2021-03")], 12), (vec![p("2020-01", "2020-12")], 3));
        // ... but a new suspension after a gap starts a new count.
        assert_eq!(cap(vec![p("2020-01", "2020-12"), p("2021-06", "2021-08")], 12), (vec![p("2020-01", "2020-12"), p("2021-06", "2021-08")], 0));
        // Overlapping periods count their union: 01–08 and 05–12 are 12 months.
        assert_eq!(cap(vec![p("2020-01", "2020-08"), p("2020-05", "2020-12")], 12).1, 0);
        // 01–08 and 05–2021-02: the union is 14 months; the second ends in 12.
        assert_eq!(cap(vec![p("2020-01", "2020-08"), p("2020-05", "2021-02")], 12), (vec![p("2020-01", "2020-08"), p("2020-05", "2020-12")], 2));
        // A period inside an earlier one adds nothing and is dropped; so is
        // one that only overlaps after the limit is reached.
        assert_eq!(cap(vec![p("2020-01", "2020-12"), p("2020-03", "2020-05")], 12), (vec![p("2020-01", "2020-12")], 0));
        assert_eq!(cap(vec![p("2020-01", "2020-12"), p("2020-06", "2021-03")], 12), (vec![p("2020-01", "2020-12")], 3));
        // The limit is read at the first month of each suspension (run).
        let limit = |from: Month| Ok(if from < m("2021-01") { 6 } else { 12 });
        let mut v = vec![p("2020-07", "2020-12"), p("2021-01", "2021-06")];
        assert_eq!((cap_periods(&mut v, limit).unwrap(), v), (6, vec![p("2020-07", "2020-12")]));
        let mut v = vec![p("2020-07", "2020-12"), p("2021-03", "2021-12")];
        assert_eq!((cap_periods(&mut v, limit).unwrap(), v), (0, vec![p("2020-07", "2020-12"), p("2021-03", "2021-12")]));
    }

    #[test]
    fn months_beyond_the_limit_are_due_and_the_makeup_moves_to_the_end_of_the_allowed_months() {
        let r = reference();
        // 5,000,000 in region I: 1,600,000 a month, 1,100,000 of it the pension part.
        let months: Vec<UnitMonth> = m("2020-04")
            .through(m("2021-06"))
            .map(|mm| {
                let rules = MonthRules::from_reference(&r, 1, mm).unwrap();
                let mut u = UnitMonth::new(mm);
                u.add_person(5_000_000, &rules);
                u
            })
            .collect();
        // 2020-04..2020-11 and 2020-12..2021-07: 16 months asked, 12 allowed.
        let mut periods = vec![Suspension { from: m("2020-04"), to: m("2020-11") }, Suspension { from: m("2020-12"), to: m("2021-07") }];
        assert_eq!(cap_periods(&mut periods, |mm| r.threshold("covid_suspension_max_months", mm)).unwrap(), 4);
        let s = schedule(m("2020-04"), m("2021-06"), &months, &periods);
        let at = |x: &str| &s[m("2020-04").until(m(x)) as usize];
        let own = |x: &str| &months[m("2020-04").until(m(x)) as usize];
        // The pension part is 22% of 5,000,000 in every month here.
        assert!(months.iter().all(|u| u.pension() == 1_100_000));
        // 2020-12 (the first period's make-up month) is itself suspended.
        assert_eq!((at("2020-12").regular, at("2020-12").makeup), (own("2020-12").assessed() - 1_100_000, 8 * 1_100_000));
        // 2021-03 is the 12th suspended month; 2021-04 owes all of itself and the 4 months' make-up.
        assert_eq!((at("2021-03").regular, at("2021-03").deferred_balance), (own("2021-03").assessed() - 1_100_000, 4 * 1_100_000));
        assert_eq!((at("2021-04").regular, at("2021-04").makeup, at("2021-04").deferred_now), (own("2021-04").assessed(), 4 * 1_100_000, 0));
        assert_eq!((at("2021-05").due(), at("2021-05").deferred_balance), (own("2021-05").assessed(), 0));
    }

    #[test]
    fn due_statuses() {
        assert!(is_due_status("working") && is_due_status("stopped_paid"));
        assert!(!is_due_status("unpaid_leave") && !is_due_status("suspended_contract"));
    }
}
