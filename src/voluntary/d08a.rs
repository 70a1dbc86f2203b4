//! D08a-TS due lists (DOMAIN §2.5, "D08a-TS list for month L"): who must pay
//! in month L (the month after the as-of month) and how much, to the VND.
//!
//! Pure functions over the reference tables; every rate, share, poverty line
//! and base salary is the one valid in each month of the period.

use crate::month::Month;
use crate::reference::{Reference, Scheme, SupportGroup};
use anyhow::{bail, Result};

/// `round(amount × a_bp × b_bp / 10⁸)`, halves up: one rounding for a
/// product of two percentages (e.g. support share × 22% × poverty line).
pub fn apply_bp2(amount: i64, a_bp: u32, b_bp: u32) -> i64 {
    let p = i128::from(amount) * i128::from(a_bp) * i128::from(b_bp);
    let d: i128 = 100_000_000;
    let q = (p.abs() + d / 2) / d;
    (if p < 0 { -q } else { q }) as i64
}

/// The payment terms of one enrolment (its latest row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    pub scheme: Scheme,
    /// voluntary_si: chosen monthly income basis, VND.
    pub income_basis: Option<i64>,
    /// voluntary_si: state support group (null counts as `other`).
    pub support_group: Option<SupportGroup>,
    /// household_hi: order in the household, 1 = first member.
    pub member_order: Option<u32>,
    pub payment_months: u32,
    pub paid_through: Month,
}

/// Whether a participant is on the D08a-TS list of month `l`: coverage ends
/// in `l` (must renew) or lapsed by at most `max_lapse` months
/// (`l − max_lapse ≤ paid_through ≤ l`).
pub fn is_due(paid_through: Month, l: Month, max_lapse: u32) -> bool {
    paid_through <= l && paid_through >= l.add(-(max_lapse as i32))
}

/// The next payment period: from the month after `paid_through`, for
/// `payment_months` months (first and last month, inclusive).
pub fn next_period(paid_through: Month, payment_months: u32) -> (Month, Month) {
    let from = paid_through.next();
    (from, from.add(payment_months as i32 - 1))
}

/// The rule (thresholds.csv) bounding the voluntary income basis from above,
/// in base salaries.
pub const INCOME_MAX_RULE: &str = "voluntary_income_max_base_salaries";

/// The income basis month `m` is charged on: the chosen basis, within that
/// month's bounds (DOMAIN: from the rural poverty line up to 20 × the base
/// salary). A basis the poverty line has overtaken (1,000,000 chosen in
/// 2020, the line 1,500,000 from 2022-01) is charged at the line; one over
/// the ceiling, or a nonsensical one in the extract (0, 500,000,000), at
/// the nearer bound, never as given.
pub fn charged_basis(r: &Reference, income_basis: i64, m: Month) -> Result<i64> {
    let lo = r.poverty_line(m)?;
    let hi = r.threshold(INCOME_MAX_RULE, m)? * r.base_salary(m)?;
    Ok(income_basis.clamp(lo, hi.max(lo)))
}

/// One month of voluntary BHXH: `round(rate × basis) −
/// round(support_share × rate × poverty_line)`, the basis
/// [`charged_basis`].
pub fn voluntary_month(r: &Reference, income_basis: i64, group: SupportGroup, m: Month) -> Result<i64> {
    let rate = r.scheme_rate(Scheme::VoluntarySi, m)?;
    let gross = crate::reference::apply_bp(charged_basis(r, income_basis, m)?, rate);
    let support = apply_bp2(r.poverty_line(m)?, rate, r.support_share(group, m)?);
    Ok(gross - support)
}

/// One month of household BHYT: `round(rate × base_salary × member_share)`.
pub fn household_month(r: &Reference, member_order: u32, m: Month) -> Result<i64> {
    let rate = r.scheme_rate(Scheme::HouseholdHi, m)?;
    Ok(apply_bp2(r.base_salary(m)?, rate, r.household_share(member_order, m)?))
}

/// The amount due for the next period of `t`, summed month by month.
pub fn amount_due(r: &Reference, t: &Terms) -> Result<i64> {
    if t.payment_months == 0 {
        bail!("payment_months must be at least 1");
    }
    let (from, to) = next_period(t.paid_through, t.payment_months);
    let mut total = 0;
    for m in from.through(to) {
        total += match t.scheme {
            Scheme::VoluntarySi => {
                let Some(basis) = t.income_basis else { bail!("voluntary_si enrolment without income_basis") };
                voluntary_month(r, basis, t.support_group.unwrap_or(SupportGroup::Other), m)?
            }
            Scheme::HouseholdHi => {
                let Some(order) = t.member_order else { bail!("household_hi enrolment without member_order") };
                household_month(r, order, m)?
            }
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn shipped() -> Reference {
        Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap()
    }
    fn m(s: &str) -> Month {
        s.parse().unwrap()
    }
    fn vol(basis: i64, g: SupportGroup, pm: u32, through: &str) -> Terms {
        Terms { scheme: Scheme::VoluntarySi, income_basis: Some(basis), support_group: Some(g), member_order: None, payment_months: pm, paid_through: m(through) }
    }
    fn hh(order: u32, pm: u32, through: &str) -> Terms {
        Terms { scheme: Scheme::HouseholdHi, income_basis: None, support_group: None, member_order: Some(order), payment_months: pm, paid_through: m(through) }
    }

    #[test]
    fn list_month_window() {
        let l = m("2020-07");
        assert!(is_due(m("2020-07"), l, 3), "coverage ends in L: renew");
        assert!(is_due(m("2020-04"), l, 3), "lapsed 3 months");
        assert!(!is_due(m("2020-03"), l, 3), "lapsed 4 months");
        assert!(!is_due(m("2020-08"), l, 3), "paid ahead");
        assert!(!is_due(m("2020-06"), l, 0));
        assert_eq!(next_period(m("2020-07"), 3), (m("2020-08"), m("2020-10")));
        assert_eq!(next_period(m("2020-12"), 12), (m("2021-01"), m("2021-12")));
    }

    #[test]
    fn voluntary_each_support_group_by_hand() {
        let r = shipped();
        // 2020: poverty line 700,000; 22% of it = 154,000.
        // income 1,000,000 → 220,000 a month.
        // poor 30%: 154,000 × 0.30 = 46,200 → 173,800 a month.
        assert_eq!(amount_due(&r, &vol(1_000_000, SupportGroup::Poor, 1, "2020-07")).unwrap(), 173_800);
        // near-poor 25%: 38,500 → 181,500; × 3 months.
        assert_eq!(amount_due(&r, &vol(1_000_000, SupportGroup::NearPoor, 3, "2020-07")).unwrap(), 3 * 181_500);
        // other 10%: 15,400 → 204,600; × 6.
        assert_eq!(amount_due(&r, &vol(1_000_000, SupportGroup::Other, 6, "2020-06")).unwrap(), 6 * 204_600);
        // A missing group counts as `other`.
        let mut t = vol(1_000_000, SupportGroup::Other, 1, "2020-07");
        t.support_group = None;
        assert_eq!(amount_due(&r, &t).unwrap(), 204_600);
        // Halves up: 22% × 1,234,567 = 271,604.74 → 271,605; − 15,400.
        assert_eq!(amount_due(&r, &vol(1_234_567, SupportGroup::Other, 1, "2020-07")).unwrap(), 271_605 - 15_400);
    }

    #[test]
    fn voluntary_poverty_line_change_inside_the_period() {
        let r = shipped();
        // Paid through 2021-09, 6 months: 2021-10 .. 2022-03. The poverty line is
        // 700,000 through 2021-12 and 1,500,000 from 2022-01 (22% = 330,000).
        // Income basis 1,500,000: 330,000 a month.
        // poor: 2021 months support 46,200, 2022 months 99,000.
        let want = 3 * (330_000 - 46_200) + 3 * (330_000 - 99_000);
        assert_eq!(amount_due(&r, &vol(1_500_000, SupportGroup::Poor, 6, "2021-09")).unwrap(), want);
        // near-poor: 38,500 then 82,500.
        let want = 3 * (330_000 - 38_500) + 3 * (330_000 - 82_500);
        assert_eq!(amount_due(&r, &vol(1_500_000, SupportGroup::NearPoor, 6, "2021-09")).unwrap(), want);
        // other: 15,400 then 33,000.
        let want = 3 * (330_000 - 15_400) + 3 * (330_000 - 33_000);
        assert_eq!(amount_due(&r, &vol(1_500_000, SupportGroup::Other, 6, "2021-09")).unwrap(), want);
    }

    #[test]
    fn the_income_basis_is_charged_within_its_bounds_each_month() {
        let r = shipped();
        // 2020: the poverty line 700,000 (22% = 154,000), the ceiling 20 ×
        // 1,490,000 = 29,800,000 (22% = 6,556,000); `other` support 15,400.
        assert_eq!(amount_due(&r, &vol(0, SupportGroup::Other, 3, "2020-07")).unwrap(), 3 * (154_000 - 15_400), "0: at the line");
        assert_eq!(amount_due(&r, &vol(700_000, SupportGroup::Other, 1, "2020-07")).unwrap(), 154_000 - 15_400, "the line itself");
        assert_eq!(amount_due(&r, &vol(29_800_000, SupportGroup::Other, 1, "2020-07")).unwrap(), 6_556_000 - 15_400, "the ceiling itself");
        assert_eq!(amount_due(&r, &vol(500_000_000, SupportGroup::Other, 1, "2020-07")).unwrap(), 6_556_000 - 15_400, "over: at the ceiling");
        // 1,000,000 chosen in 2020, paid through 2021-10 for 6 months: two
        // months of 2021 on 1,000,000 (220,000 − 15,400), four of 2022 on
        // the new line 1,500,000 (330,000 − 33,000).
        assert_eq!(amount_due(&r, &vol(1_000_000, SupportGroup::Other, 6, "2021-10")).unwrap(), 2 * (220_000 - 15_400) + 4 * (330_000 - 33_000));
        // The ceiling follows the base salary: 1,800,000 from 2023-07 (20 × = 36,000,000, 22% = 7,920,000).
        assert_eq!(amount_due(&r, &vol(40_000_000, SupportGroup::Other, 1, "2023-06")).unwrap(), 7_920_000 - 33_000);
    }

    #[test]
    fn household_each_member_order_by_hand() {
        let r = shipped();
        // 4.5% × 1,490,000 = 67,050 for the first member.
        let one = [(1, 67_050), (2, 46_935), (3, 40_230), (4, 33_525), (5, 26_820), (6, 26_820), (9, 26_820)];
        for (order, monthly) in one {
            assert_eq!(amount_due(&r, &hh(order, 1, "2020-07")).unwrap(), monthly, "member {order}");
            assert_eq!(amount_due(&r, &hh(order, 12, "2020-07")).unwrap(), 12 * monthly, "member {order}, 12 months");
        }
    }

    #[test]
    fn household_base_salary_change_inside_the_period() {
        let r = shipped();
        // Paid through 2023-03, 6 months: 2023-04 .. 2023-09. Base salary
        // 1,490,000 through 2023-06, 1,800,000 from 2023-07 (4.5% = 81,000).
        assert_eq!(amount_due(&r, &hh(1, 6, "2023-03")).unwrap(), 3 * 67_050 + 3 * 81_000);
        // 2nd member 70%: 46,935 then 56,700.
        assert_eq!(amount_due(&r, &hh(2, 6, "2023-03")).unwrap(), 3 * 46_935 + 3 * 56_700);
        // 3rd 60%: 40,230 then 48,600; 4th 50%: 33,525 then 40,500; 5th 40%: 26,820 then 32,400.
        assert_eq!(amount_due(&r, &hh(3, 6, "2023-03")).unwrap(), 3 * 40_230 + 3 * 48_600);
        assert_eq!(amount_due(&r, &hh(4, 6, "2023-03")).unwrap(), 3 * 33_525 + 3 * 40_500);
        assert_eq!(amount_due(&r, &hh(5, 6, "2023-03")).unwrap(), 3 * 26_820 + 3 * 32_400);
    }

    #[test]
    fn incomplete_terms_are_refused_not_guessed() {
        let r = shipped();
        let mut t = vol(1_000_000, SupportGroup::Other, 1, "2020-07");
        t.income_basis = None;
        assert!(amount_due(&r, &t).is_err());
        let mut t = hh(1, 1, "2020-07");
        t.member_order = None;
        assert!(amount_due(&r, &t).is_err());
    }

    #[test]
    fn double_percentage_rounds_once_half_up() {
        // 700,000 × 22% × 30% = 46,200 exactly.
        assert_eq!(apply_bp2(700_000, 2_200, 3_000), 46_200);
        // 1,001 × 4.5% × 70% = 31.5315 → 32.
        assert_eq!(apply_bp2(1_001, 450, 7_000), 32);
        assert_eq!(apply_bp2(1_000, 450, 5_000), 23, "22.5 rounds half up");
    }
}
