//! What each person does, month by month: wages in the tax data and
//! declarations at BHXH units. `plan_person` is the single source of both
//! files and of the planted truth, so they agree by construction.

use super::rng::{kind, stream};
use super::world::{flag, Role, World, NONE};
use rand::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contract {
    Indefinite,
    Fixed,
    Short,
    None,
}
impl Contract {
    pub fn code(self) -> &'static str {
        match self {
            Contract::Indefinite => "indefinite",
            Contract::Fixed => "fixed",
            Contract::Short => "short",
            Contract::None => "none",
        }
    }
    /// Falls under compulsory insurance.
    pub fn compulsory(self) -> bool {
        matches!(self, Contract::Indefinite | Contract::Fixed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Working,
    StoppedPaid,
    UnpaidLeave,
    SuspendedContract,
}
impl Status {
    pub const ALL: [Status; 4] = [Status::Working, Status::StoppedPaid, Status::UnpaidLeave, Status::SuspendedContract];
    pub fn code(self) -> &'static str {
        match self {
            Status::Working => "working",
            Status::StoppedPaid => "stopped_paid",
            Status::UnpaidLeave => "unpaid_leave",
            Status::SuspendedContract => "suspended_contract",
        }
    }
    /// Contributions are due for this month.
    pub fn due(self) -> bool {
        matches!(self, Status::Working | Status::StoppedPaid)
    }
}

/// A tax_wages row: window month index 0..=11.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaxRow {
    pub t: u8,
    pub employer: u32,
    pub income: i64,
    pub contract: Contract,
}

/// A si_contributions row: window month index 0..=12.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ContribRow {
    pub t: u8,
    pub unit: u32,
    pub wage: i64,
    pub status: Status,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    pub tax: Vec<TaxRow>,
    pub contrib: Vec<ContribRow>,
}

/// Tax months are the 12 before the as-of month; declarations run through it.
pub(crate) const TAX_MONTHS: usize = 12;
pub(crate) const WINDOW: usize = 13;

impl World<'_> {
    fn tet_month(&self) -> Option<usize> {
        (0..TAX_MONTHS).find(|&t| self.month(t).month() == 1)
    }

    /// Declared insured wage of employee `p` at a unit of `region` in window month `t`.
    fn insured_wage(&self, i: usize, region: u8, t: usize) -> i64 {
        let p = &self.people[i];
        let r = region as usize - 1;
        if p.has(flag::UNDER_MIN) {
            if p.has(flag::MIN_FORGOT) {
                // The window-start minimum, never raised when the new one applies.
                self.min_wage[0][r]
            } else {
                p.insured_k as i64 * 1000
            }
        } else if p.has(flag::UNDER_SHARE) {
            p.insured_k as i64 * 1000
        } else {
            (p.insured_k as i64 * 1000).max(self.min_wage[t][r])
        }
    }

    fn monthly_income(&self, rng: &mut impl Rng, gross_k: u32, t: usize, bonus: bool) -> i64 {
        let mut x = gross_k as f64 * 1000.0 * rng.gen_range(0.97..1.05);
        if bonus && Some(t) == self.tet_month() {
            x *= rng.gen_range(1.15..1.3);
        }
        x.round() as i64
    }

    /// Fills `plan` with person `i`'s rows.
    pub(crate) fn plan_person(&self, i: usize, plan: &mut Plan) {
        plan.tax.clear();
        plan.contrib.clear();
        let p = &self.people[i];
        let mut rng = stream(self.seed, kind::PLAN, i as u64);
        let bonus = p.has(flag::BONUS);
        let contract = if p.has(flag::FIXED) { Contract::Fixed } else { Contract::Indefinite };
        match p.role {
            Role::Insured | Role::SecondJob | Role::Former => {
                let unit = self.contrib_unit(p.employer);
                let u = &self.units[unit as usize];
                // Covid: in an affected unit a worker keeps working or goes on
                // paid stop / unpaid leave / contract suspension in the peak months.
                let state = if u.affected && p.role != Role::SecondJob {
                    let x: f64 = rng.gen();
                    if x < 0.55 {
                        Status::Working
                    } else if x < 0.70 {
                        Status::StoppedPaid
                    } else if x < 0.90 {
                        Status::UnpaidLeave
                    } else {
                        Status::SuspendedContract
                    }
                } else {
                    Status::Working
                };
                let early = rng.gen_bool(0.3);
                let late = rng.gen_bool(0.3);
                let last = if p.role == Role::Former { p.stop as usize } else { WINDOW - 1 };
                for t in p.start as usize..=last {
                    let x: f64 = rng.gen();
                    let off = state != Status::Working && t >= self.covid_t0 && {
                        let k = t - self.covid_t0;
                        let base = match k {
                            0 => early,
                            1 | 2 => true,
                            3 => late,
                            _ => false,
                        };
                        base || (u.stuck && t == WINDOW - 1 && k >= 1)
                    };
                    let status = if off {
                        state
                    } else if p.role == Role::SecondJob {
                        Status::Working
                    } else if x < 0.002 {
                        Status::UnpaidLeave
                    } else if x < 0.004 {
                        Status::StoppedPaid
                    } else {
                        Status::Working
                    };
                    let wage = self.insured_wage(i, u.region, t);
                    plan.contrib.push(ContribRow { t: t as u8, unit, wage, status });
                    if t < TAX_MONTHS && status.due() {
                        let mut income = self.monthly_income(&mut rng, p.wage_k, t, bonus);
                        if status == Status::StoppedPaid {
                            income = (income as f64 * rng.gen_range(0.5..0.8)).round() as i64;
                        }
                        plan.tax.push(TaxRow { t: t as u8, employer: p.employer, income, contract });
                    }
                }
                if p.role == Role::Former && p.has(flag::WAGES_AFTER_STOP) {
                    for t in p.stop as usize + 1..TAX_MONTHS {
                        let income = self.monthly_income(&mut rng, p.wage_k, t, bonus);
                        plan.tax.push(TaxRow { t: t as u8, employer: p.employer, income, contract });
                    }
                }
                if p.role == Role::SecondJob && p.other != NONE {
                    let first = if rng.gen_bool(0.6) { 0 } else { rng.gen_range(1..TAX_MONTHS) };
                    let gross = rng.gen_range(2_500..7_000u32);
                    for t in first..TAX_MONTHS {
                        let income = self.monthly_income(&mut rng, gross, t, false);
                        plan.tax.push(TaxRow { t: t as u8, employer: p.other, income, contract: Contract::Fixed });
                    }
                }
            }
            Role::Uninsured => {
                for t in p.start as usize..TAX_MONTHS {
                    let income = self.monthly_income(&mut rng, p.wage_k, t, bonus);
                    plan.tax.push(TaxRow { t: t as u8, employer: p.employer, income, contract });
                }
            }
            Role::Pensioner if p.has(flag::WORKING) => {
                for t in 0..TAX_MONTHS {
                    let income = self.monthly_income(&mut rng, p.wage_k, t, false);
                    plan.tax.push(TaxRow { t: t as u8, employer: p.employer, income, contract: Contract::Fixed });
                }
            }
            Role::Free => {
                let stable = p.has(flag::GOOD);
                let (share, lo, hi) = if stable { (0.93, 5_500_000, 14_000_000) } else { (0.4, 800_000, 6_000_000) };
                self.casual_income(i, NONE, 4, share, lo, hi, &mut rng, plan);
            }
            _ => {}
        }
        if p.has(flag::SIDE) {
            // Side income of an insured employee (fees withheld at source).
            let main_head = self.employers[p.employer as usize].head;
            self.casual_income(i, main_head, 2, 0.6, 500_000, 5_000_000, &mut rng, plan);
        }
    }

    /// Income from 1–`max_payers` payers (distinct heads other than
    /// `exclude`) under short or no contracts: in a month (with probability
    /// `share`) `lo..hi` VND split among some of the payers, in rotation.
    #[allow(clippy::too_many_arguments)]
    fn casual_income(
        &self,
        i: usize,
        exclude: u32,
        max_payers: usize,
        share: f64,
        lo: i64,
        hi: i64,
        rng: &mut impl Rng,
        plan: &mut Plan,
    ) {
        let mut frng = stream(self.seed, kind::PLAN, (1 << 40) | i as u64);
        let k = frng.gen_range(1..=max_payers);
        let mut clients: Vec<(u32, Contract)> = Vec::with_capacity(k);
        for _ in 0..k * 3 {
            if clients.len() == k {
                break;
            }
            let h = self.random_any_head(&mut frng);
            if h != exclude && !clients.iter().any(|c| c.0 == h) {
                let c = if frng.gen_bool(0.55) { Contract::Short } else { Contract::None };
                clients.push((h, c));
            }
        }
        if clients.is_empty() {
            return;
        }
        let months: Vec<(usize, usize, i64)> = (0..TAX_MONTHS)
            .filter_map(|t| {
                if !rng.gen_bool(share) {
                    return None;
                }
                let total = rng.gen_range(lo..hi);
                let n = rng.gen_range(1..=clients.len());
                Some((t, n, total))
            })
            .collect();
        // Rows grouped by payer, then month.
        for (c, (h, contract)) in clients.iter().enumerate() {
            for &(t, n, total) in &months {
                let slot = (c + clients.len() - t % clients.len()) % clients.len();
                if slot < n {
                    let amount = total / n as i64 + (t as i64 * 137 + c as i64 * 911) % 1000;
                    plan.tax.push(TaxRow { t: t as u8, employer: *h, income: amount, contract: *contract });
                }
            }
        }
    }
}
