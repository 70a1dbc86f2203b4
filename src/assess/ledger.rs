//! The ledger of one unit: dues arise month by month, payments settle the
//! oldest unpaid due first, late debt earns interest at the end of each month.
//!
//! Conventions (DOMAIN.md "Conventions", also `docs/rules.md`), all integer VND:
//!
//! * **Dues** of month M arise at the start of M and are due by its last day.
//!   A make-up (suspended pension parts falling due) is a due of its make-up
//!   month, settled after that month's own contributions: a unit paying its
//!   usual monthly amount settles its usual month, and the make-up it did not
//!   pay stays visible (the §3.2 list). Both are "month M" for debt age and
//!   interest, so the order changes no total.
//! * **Payments** (deduplicated by reference, first copy kept: [`dedupe`]) are
//!   applied in date order (then reference order) to the unpaid dues of the
//!   months up to and including the payment's month, oldest first; what is
//!   left settles unpaid interest; what is left then is **credit**, which
//!   settles later dues as they arise. Payments after the as-of date are not
//!   counted.
//! * **Interest**: at the end of each month N, the unpaid part of the dues of
//!   months before N is late debt and earns
//!   `round(late_debt × annual_bp(N) / 120_000)` (the annual rate in basis
//!   points valid in N, divided by 12 months and 10,000; halves up) —
//!   [`monthly_interest`]. The as-of month has not ended: it earns no interest,
//!   and its own due is not debt.
//! * **Balance**: `carried_forward = brought_forward + due + interest − paid`;
//!   it equals unpaid dues + unpaid interest − credit (negative = credit).
//! * **Debt at as-of** (month A): unpaid dues of the months before A.
//!   `debt_months` = A − the oldest month with an unpaid due (March unpaid at
//!   a June as-of is 3). Unpaid interest is reported beside the debt, not in it.

use crate::month::Month;
use crate::reference::Bp;
use anyhow::{bail, Result};
use chrono::NaiveDate;
use std::collections::{HashSet, VecDeque};

/// `round(late_debt × annual_bp / 120_000)`, halves up: one month of interest
/// at an annual rate given in basis points (10,000 × 12 months).
pub fn monthly_interest(late_debt: i64, annual_bp: Bp) -> i64 {
    debug_assert!(late_debt >= 0);
    let p = i128::from(late_debt) * i128::from(annual_bp);
    ((p + 60_000) / 120_000) as i64
}

/// Money received from a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    pub paid_on: NaiveDate,
    pub amount: i64,
    pub reference: String,
}

/// Keeps the first copy of each reference (a resent payment is the same
/// money) and sorts by date, then reference.
pub fn dedupe(payments: Vec<Payment>) -> Vec<Payment> {
    let mut seen = HashSet::new();
    let mut out: Vec<Payment> = payments.into_iter().filter(|p| seen.insert(p.reference.clone())).collect();
    out.sort_by(|a, b| (a.paid_on, &a.reference).cmp(&(b.paid_on, &b.reference)));
    out
}

/// What falls due in one month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub month: Month,
    /// The month's own contributions falling due now.
    pub regular: i64,
    /// Suspended pension parts of earlier months falling due now.
    pub makeup: i64,
}

/// One month of the ledger: the figures of the C12-TS notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerMonth {
    pub month: Month,
    pub brought_forward: i64,
    /// regular + makeup
    pub due: i64,
    pub makeup: i64,
    /// Payments received in the month (up to the as-of date for the as-of month).
    pub paid: i64,
    /// Interest charged for this month (0 for the as-of month).
    pub interest: i64,
    pub carried_forward: i64,
    /// Unpaid dues at the end of the month, this month's included.
    pub debt: i64,
    /// Unpaid dues of months before this one at the end of it (what earned `interest`).
    pub late_debt: i64,
    pub interest_unpaid: i64,
    pub credit: i64,
}

/// A unit's position at the as-of date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Unpaid dues of the months before the as-of month.
    pub debt: i64,
    /// The oldest month before the as-of month with an unpaid due.
    pub oldest_unpaid: Option<Month>,
    /// as-of month − oldest_unpaid (0 without debt).
    pub debt_months: i32,
    /// The as-of month's own due still unpaid (not debt yet).
    pub current_unpaid: i64,
    pub interest_unpaid: i64,
    /// All interest charged, and the part of it settled by payments.
    pub interest_charged: i64,
    pub interest_paid: i64,
    pub credit: i64,
    pub total_due: i64,
    pub total_paid: i64,
    /// Unpaid make-ups by make-up month (the as-of month's included).
    pub makeup_unpaid: Vec<(Month, i64)>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    month: Month,
    makeup: bool,
    unpaid: i64,
}

/// Settles buckets oldest first with up to `amount`; returns what is left.
fn settle(queue: &mut VecDeque<Bucket>, mut amount: i64) -> i64 {
    while amount > 0 {
        let Some(b) = queue.front_mut() else { break };
        let x = amount.min(b.unpaid);
        b.unpaid -= x;
        amount -= x;
        if b.unpaid == 0 {
            queue.pop_front();
        }
    }
    amount
}

/// Runs the ledger over `dues`, one entry per month, consecutive, ending at
/// the as-of month. `payments` must be deduplicated and sorted ([`dedupe`]);
/// none may fall before the first month (start the months earlier instead);
/// those after `as_of` are ignored. `annual_rate(N)` is the interest rate valid
/// in month N, in basis points a year.
pub fn run(
    dues: &[Due],
    payments: &[Payment],
    as_of: NaiveDate,
    annual_rate: impl Fn(Month) -> Result<Bp>,
) -> Result<(Vec<LedgerMonth>, Position)> {
    let as_of_m = Month::of_date(as_of);
    let mut pos = Position::default();
    let Some(first) = dues.first() else {
        if payments.iter().any(|p| p.paid_on <= as_of) {
            bail!("payments but no months to settle them in");
        }
        return Ok((Vec::new(), pos));
    };
    if dues.last().map(|d| d.month) != Some(as_of_m) {
        bail!("the ledger months must end at the as-of month {as_of_m}");
    }
    if let Some(p) = payments.first() {
        if Month::of_date(p.paid_on) < first.month {
            bail!("payment of {} before the first ledger month {}", p.paid_on, first.month);
        }
    }
    let mut queue: VecDeque<Bucket> = VecDeque::new();
    let (mut interest_unpaid, mut credit, mut balance) = (0i64, 0i64, 0i64);
    let mut out = Vec::with_capacity(dues.len());
    let mut k = 0;
    for (i, d) in dues.iter().enumerate() {
        let m = d.month;
        if i > 0 && dues[i - 1].month.next() != m {
            bail!("ledger months must be consecutive ({} then {m})", dues[i - 1].month);
        }
        let brought_forward = balance;
        // 1. The month's dues arise; credit settles them at once.
        for (amount, makeup) in [(d.regular, false), (d.makeup, true)] {
            if amount > 0 {
                queue.push_back(Bucket { month: m, makeup, unpaid: amount });
            }
        }
        let due = d.regular + d.makeup;
        credit = settle(&mut queue, credit);
        // 2. Payments received in the month: dues oldest first, then interest, then credit.
        let mut paid = 0;
        while k < payments.len() && Month::of_date(payments[k].paid_on) == m {
            let p = &payments[k];
            k += 1;
            if p.paid_on > as_of {
                continue;
            }
            paid += p.amount;
            let rest = settle(&mut queue, p.amount);
            let to_interest = rest.min(interest_unpaid);
            interest_unpaid -= to_interest;
            pos.interest_paid += to_interest;
            credit += rest - to_interest;
        }
        // 3. End of the month: interest on the dues of earlier months still unpaid.
        let debt: i64 = queue.iter().map(|b| b.unpaid).sum();
        let late_debt: i64 = queue.iter().filter(|b| b.month < m).map(|b| b.unpaid).sum();
        let interest = if m < as_of_m && late_debt > 0 { monthly_interest(late_debt, annual_rate(m)?) } else { 0 };
        interest_unpaid += interest;
        pos.interest_charged += interest;
        balance = brought_forward + due + interest - paid;
        debug_assert_eq!(balance, debt + interest_unpaid - credit, "balance identity in {m}");
        pos.total_due += due;
        pos.total_paid += paid;
        out.push(LedgerMonth {
            month: m,
            brought_forward,
            due,
            makeup: d.makeup,
            paid,
            interest,
            carried_forward: balance,
            debt,
            late_debt,
            interest_unpaid,
            credit,
        });
    }
    if k < payments.len() && payments[k..].iter().any(|p| p.paid_on <= as_of) {
        bail!("payments after the last ledger month but not after the as-of date");
    }
    pos.debt = queue.iter().filter(|b| b.month < as_of_m).map(|b| b.unpaid).sum();
    pos.current_unpaid = queue.iter().filter(|b| b.month == as_of_m).map(|b| b.unpaid).sum();
    pos.oldest_unpaid = queue.iter().find(|b| b.month < as_of_m).map(|b| b.month);
    pos.debt_months = pos.oldest_unpaid.map_or(0, |o| o.until(as_of_m));
    pos.interest_unpaid = interest_unpaid;
    pos.credit = credit;
    pos.makeup_unpaid = queue.iter().filter(|b| b.makeup).map(|b| (b.month, b.unpaid)).collect();
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Month {
        s.parse().unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        crate::month::parse_date(s).unwrap()
    }
    fn pay(on: &str, amount: i64, reference: &str) -> Payment {
        Payment { paid_on: d(on), amount, reference: reference.to_string() }
    }
    fn dues(first: &str, regular: &[i64]) -> Vec<Due> {
        regular.iter().enumerate().map(|(i, r)| Due { month: m(first).add(i as i32), regular: *r, makeup: 0 }).collect()
    }
    /// The shipped rate for 2019–2020: 9.96% a year.
    fn rate(_: Month) -> Result<Bp> {
        Ok(996)
    }
    fn row(l: &LedgerMonth) -> (i64, i64, i64, i64, i64) {
        (l.brought_forward, l.due, l.paid, l.interest, l.carried_forward)
    }

    #[test]
    fn interest_is_a_twelfth_of_the_annual_rate_rounded_half_up() {
        // 10,000,000 × 9.96% / 12 = 83,000 exactly.
        assert_eq!(monthly_interest(10_000_000, 996), 83_000);
        // 1,234,567 × 0.0996 / 12 = 10,246.9061 → 10,247
        assert_eq!(monthly_interest(1_234_567, 996), 10_247);
        // 100 × 6% / 12 = 0.5 → 1 (exactly half: up); 50 × 9.96% / 12 = 0.415 → 0.
        assert_eq!(monthly_interest(100, 600), 1);
        assert_eq!(monthly_interest(50, 996), 0);
        assert_eq!(monthly_interest(0, 996), 0);
    }

    #[test]
    fn duplicate_payments_are_kept_once() {
        let p = dedupe(vec![pay("2020-03-10", 100, "B"), pay("2020-02-10", 50, "A"), pay("2020-03-10", 100, "B")]);
        assert_eq!(p, vec![pay("2020-02-10", 50, "A"), pay("2020-03-10", 100, "B")]);
    }

    #[test]
    fn on_time_payer_has_no_debt_and_no_interest() {
        let due = dues("2020-01", &[1_000_000, 1_000_000, 1_000_000]);
        let p = [pay("2020-01-31", 1_000_000, "r1"), pay("2020-02-20", 1_000_000, "r2")];
        let (l, pos) = run(&due, &p, d("2020-03-15"), rate).unwrap();
        assert_eq!(row(&l[0]), (0, 1_000_000, 1_000_000, 0, 0));
        assert_eq!(row(&l[1]), (0, 1_000_000, 1_000_000, 0, 0));
        // March not yet paid: not debt at a March as-of.
        assert_eq!(row(&l[2]), (0, 1_000_000, 0, 0, 1_000_000));
        assert_eq!((pos.debt, pos.debt_months, pos.current_unpaid, pos.interest_unpaid), (0, 0, 1_000_000, 0));
    }

    #[test]
    fn late_partial_and_duplicate_payments_to_the_vnd() {
        // Dues 1,000,000 a month from 01/2020; as-of 2020-06-08.
        let due = dues("2020-01", &[1_000_000; 6]);
        let payments = dedupe(vec![
            pay("2020-01-20", 1_000_000, "A"), // January on time
            pay("2020-03-05", 600_000, "B"),   // partial, late: settles February first
            pay("2020-03-05", 600_000, "B"),   // the same transfer sent twice: kept once
            pay("2020-05-28", 2_500_000, "C"), // catches up Feb, Mar, Apr, May, then interest
            pay("2020-06-09", 9_999_999, "D"), // after the as-of date: not counted
        ]);
        let (l, pos) = run(&due, &payments, d("2020-06-08"), rate).unwrap();
        // Jan: due 1,000,000, paid 1,000,000 → 0.
        assert_eq!(row(&l[0]), (0, 1_000_000, 1_000_000, 0, 0));
        // Feb: due 1,000,000, nothing paid; February is not late at the end of February.
        assert_eq!(row(&l[1]), (0, 1_000_000, 0, 0, 1_000_000));
        // Mar: 600,000 settles Feb → Feb unpaid 400,000 is late at the end of March:
        // 400,000 × 996 / 120,000 = 3,320.
        assert_eq!(row(&l[2]), (1_000_000, 1_000_000, 600_000, 3_320, 1_403_320));
        assert_eq!((l[2].late_debt, l[2].debt), (400_000, 1_400_000));
        // Apr: late = Feb 400,000 + Mar 1,000,000 = 1,400,000 → 11,620.
        assert_eq!(row(&l[3]), (1_403_320, 1_000_000, 0, 11_620, 2_414_940));
        // May: 2,500,000 settles Feb 400,000 + Mar 1,000,000 + Apr 1,000,000 = 2,400,000,
        // then 100,000 of May; nothing is left for interest. May's 900,000 is not
        // late at the end of May: no interest.
        assert_eq!(row(&l[4]), (2_414_940, 1_000_000, 2_500_000, 0, 914_940));
        assert_eq!((l[4].debt, l[4].interest_unpaid, l[4].credit), (900_000, 14_940, 0));
        // Jun (as-of month): due 1,000,000; the 06-09 payment is after the as-of date.
        assert_eq!(row(&l[5]), (914_940, 1_000_000, 0, 0, 1_914_940));
        assert_eq!(pos.debt, 900_000); // May, unpaid
        assert_eq!(pos.oldest_unpaid, Some(m("2020-05")));
        assert_eq!(pos.debt_months, 1);
        assert_eq!(pos.interest_unpaid, 3_320 + 11_620);
        assert_eq!(pos.current_unpaid, 1_000_000);
        assert_eq!((pos.total_due, pos.total_paid), (6_000_000, 4_100_000));
    }

    #[test]
    fn leftover_settles_interest_then_becomes_credit_for_later_dues() {
        let due = dues("2020-01", &[1_000_000, 1_000_000, 1_000_000, 1_000_000]);
        // As-of 2020-04-30 (April is the as-of month). Nothing paid in Jan–Feb.
        let p = [pay("2020-03-10", 2_100_000, "a"), pay("2020-04-02", 2_000_000, "b")];
        let (l, pos) = run(&due, &p, d("2020-04-30"), rate).unwrap();
        // Feb: Jan 1,000,000 late at the end of Feb → 1,000,000 × 996 / 120,000 = 8,300.
        assert_eq!(row(&l[1]), (1_000_000, 1_000_000, 0, 8_300, 2_008_300));
        // March: Jan + Feb settled, March 100,000 settled; nothing late at the end of March.
        assert_eq!(row(&l[2]), (2_008_300, 1_000_000, 2_100_000, 0, 908_300));
        // April: 2,000,000 settles March 900,000 and April 1,000,000 (months up to
        // the payment's month), then interest 8,300; 91,700 stays as credit.
        assert_eq!(row(&l[3]), (908_300, 1_000_000, 2_000_000, 0, -91_700));
        assert_eq!((pos.debt, pos.interest_unpaid, pos.credit, pos.interest_paid), (0, 0, 91_700, 8_300));
        // Total due − total paid = debt + as-of month unpaid − interest paid − credit:
        // 4,000,000 − 4,100,000 = 0 + 0 − 8,300 − 91,700.
        assert_eq!(pos.total_due - pos.total_paid, pos.debt + pos.current_unpaid - pos.interest_paid - pos.credit);
    }

    #[test]
    fn credit_settles_dues_as_they_arise() {
        let due = dues("2020-01", &[1_000_000, 1_000_000, 1_000_000]);
        // Prepaid 2,500,000 in January: Jan settled, 1,500,000 credit,
        // Feb settled from credit when it arises, March gets the last 500,000.
        let (l, pos) =
            run(&due, &[pay("2020-01-05", 2_500_000, "x")], d("2020-04-01").pred_opt().unwrap(), rate).unwrap();
        assert_eq!(row(&l[0]), (0, 1_000_000, 2_500_000, 0, -1_500_000));
        assert_eq!(row(&l[1]), (-1_500_000, 1_000_000, 0, 0, -500_000));
        assert_eq!(row(&l[2]), (-500_000, 1_000_000, 0, 0, 500_000));
        assert_eq!((pos.debt, pos.current_unpaid, pos.credit), (0, 500_000, 0));
    }

    #[test]
    fn never_payer_debt_age_and_compound_free_interest() {
        // Dues from 03/2020, nothing paid; as-of 2020-06-08.
        let due = dues("2020-03", &[2_000_000, 2_000_000, 2_000_000, 2_000_000]);
        let (l, pos) = run(&due, &[], d("2020-06-08"), rate).unwrap();
        // End of Mar: nothing late. End of Apr: Mar 2,000,000 → 16,600.
        // End of May: Mar + Apr 4,000,000 → 33,200. June (as-of): no interest.
        assert_eq!(l.iter().map(|x| x.interest).collect::<Vec<_>>(), vec![0, 16_600, 33_200, 0]);
        // Interest is not charged on interest: late debt is dues only.
        assert_eq!(l[3].late_debt, 6_000_000);
        assert_eq!((pos.debt, pos.debt_months, pos.interest_unpaid), (6_000_000, 3, 49_800));
        assert_eq!(pos.oldest_unpaid, Some(m("2020-03")));
    }

    #[test]
    fn makeup_is_due_in_its_month_and_earns_interest_only_after_it() {
        // Suspended 03–04 (pension 1,100,000 a month deferred); others 500,000 a month.
        // Make-up 2,200,000 due in 05. As-of 2020-07-15; the unit pays its usual
        // monthly amount on time and nothing more.
        let due = vec![
            Due { month: m("2020-03"), regular: 500_000, makeup: 0 },
            Due { month: m("2020-04"), regular: 500_000, makeup: 0 },
            Due { month: m("2020-05"), regular: 1_600_000, makeup: 2_200_000 },
            Due { month: m("2020-06"), regular: 1_600_000, makeup: 0 },
            Due { month: m("2020-07"), regular: 1_600_000, makeup: 0 },
        ];
        let p = [
            pay("2020-03-25", 500_000, "1"),
            pay("2020-04-25", 500_000, "2"),
            // 1,600,000 in May settles May's own contributions first; the make-up
            // 2,200,000 stays unpaid, not late before the end of June.
            pay("2020-05-25", 1_600_000, "3"),
            // June: the oldest unpaid is the May make-up: 2,200,000 − 1,600,000 = 600,000 left;
            // June's own 1,600,000 unpaid.
            pay("2020-06-25", 1_600_000, "4"),
        ];
        let (l, pos) = run(&due, &p, d("2020-07-15"), rate).unwrap();
        assert_eq!((l[2].debt, l[2].late_debt, l[2].interest), (2_200_000, 0, 0), "not late in its own month");
        // End of June: May make-up 600,000 late → 600,000 × 996 / 120,000 = 4,980.
        assert_eq!((l[3].late_debt, l[3].interest), (600_000, 4_980));
        assert_eq!(pos.debt, 600_000 + 1_600_000); // May's make-up rest and June
        assert_eq!(pos.debt_months, 2);
        assert_eq!(pos.makeup_unpaid, vec![(m("2020-05"), 600_000)]);
        assert_eq!(pos.interest_unpaid, 4_980);
        // Without any payment the make-up stays unpaid and is reported.
        let (_, pos) = run(&due, &[], d("2020-07-15"), rate).unwrap();
        assert_eq!(pos.makeup_unpaid, vec![(m("2020-05"), 2_200_000)]);
        assert_eq!(pos.oldest_unpaid, Some(m("2020-03")));
    }

    #[test]
    fn rejects_months_that_do_not_end_at_as_of() {
        let due = dues("2020-01", &[1, 1]);
        assert!(run(&due, &[], d("2020-03-01"), rate).is_err());
        assert!(run(&due, &[pay("2019-12-31", 5, "e")], d("2020-02-01"), rate).is_err());
    }
}
