//! The planted bad rows: an extra row copied from a good row of the same
//! file with exactly one defect, in one column, of one reason class. Every
//! other column stays valid, so the ingest (which checks the field count
//! first, then the columns in contract order, then the cross-column rules)
//! reports exactly the planted reason and column.

use super::writer::{Ds, Row};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Reject reason codes: the contract's own, so the truth speaks the ingest's language.
pub(crate) use crate::contract::Reason;

use Reason::*;

/// Where each reason can be planted, per dataset: (reason, column).
/// `MalformedRow` applies to every dataset and has no column.
fn candidates(ds: Ds) -> &'static [(Reason, &'static str)] {
    match ds {
        Ds::TaxEmployers => &[
            (MissingRequired, "tax_code"),
            (MissingRequired, "name"),
            (MissingRequired, "province_code"),
            (MissingRequired, "status"),
            (BadCheckDigit, "tax_code"),
            (BadFormat, "ward_code"),
            (BadDate, "registered_on"),
            (BadDate, "status_since"),
            (UnknownEnum, "status"),
            (UnknownProvince, "province_code"),
            (OutOfRange, "employees_declared"),
        ],
        Ds::TaxWages => &[
            (MissingRequired, "employer_tax_code"),
            (MissingRequired, "full_name"),
            (MissingRequired, "month"),
            (MissingRequired, "taxable_income"),
            (BadCheckDigit, "employer_tax_code"),
            (BadFormat, "citizen_id"),
            (BadDate, "month"),
            (BadDate, "birth_date"),
            (NegativeMoney, "taxable_income"),
            (BadNumber, "taxable_income"),
            (UnknownEnum, "contract"),
        ],
        Ds::TaxHouseholds => &[
            (MissingRequired, "tax_code"),
            (MissingRequired, "owner_name"),
            (MissingRequired, "province_code"),
            (BadCheckDigit, "tax_code"),
            (BadFormat, "citizen_id"),
            (BadFormat, "ward_code"),
            (BadDate, "birth_date"),
            (BadDate, "registered_on"),
            (NegativeMoney, "monthly_revenue"),
            (UnknownEnum, "sex"),
            (UnknownEnum, "status"),
            (UnknownProvince, "province_code"),
        ],
        Ds::SiUnits => &[
            (MissingRequired, "unit_code"),
            (MissingRequired, "name"),
            (MissingRequired, "province_code"),
            (MissingRequired, "wage_region"),
            (MissingRequired, "status"),
            (BadCheckDigit, "tax_code"),
            (BadFormat, "unit_code"),
            (BadFormat, "ward_code"),
            (BadDate, "registered_on"),
            (UnknownEnum, "status"),
            (UnknownProvince, "province_code"),
            (OutOfRange, "wage_region"),
        ],
        Ds::SiPeople => &[
            (MissingRequired, "si_number"),
            (MissingRequired, "full_name"),
            (BadFormat, "si_number"),
            (BadFormat, "citizen_id"),
            (BadFormat, "ward_code"),
            (BadDate, "birth_date"),
            (BadDate, "pension_since"),
            (UnknownEnum, "sex"),
            (UnknownProvince, "province_code"),
            (OutOfRange, "contributed_months"),
        ],
        Ds::SiContributions => &[
            (MissingRequired, "unit_code"),
            (MissingRequired, "si_number"),
            (MissingRequired, "month"),
            (MissingRequired, "insured_wage"),
            (MissingRequired, "work_status"),
            (BadFormat, "unit_code"),
            (BadFormat, "si_number"),
            (BadDate, "month"),
            (NegativeMoney, "insured_wage"),
            (BadNumber, "insured_wage"),
            (UnknownEnum, "work_status"),
        ],
        Ds::SiSuspensions => &[
            (MissingRequired, "unit_code"),
            (MissingRequired, "from_month"),
            (MissingRequired, "to_month"),
            (BadFormat, "unit_code"),
            (BadDate, "from_month"),
            (BadDate, "to_month"),
            (Inconsistent, "to_month"),
        ],
        Ds::SiPayments => &[
            (MissingRequired, "unit_code"),
            (MissingRequired, "paid_on"),
            (MissingRequired, "amount"),
            (MissingRequired, "reference"),
            (BadFormat, "unit_code"),
            (BadDate, "paid_on"),
            (NegativeMoney, "amount"),
            (BadNumber, "amount"),
            (OutOfRange, "amount"),
        ],
        Ds::SiVoluntary => &[
            (MissingRequired, "si_number"),
            (MissingRequired, "scheme"),
            (MissingRequired, "payment_months"),
            (MissingRequired, "paid_from"),
            (MissingRequired, "paid_through"),
            (BadFormat, "si_number"),
            (BadDate, "paid_from"),
            (BadDate, "paid_through"),
            (NegativeMoney, "income_basis"),
            (UnknownEnum, "scheme"),
            (OutOfRange, "payment_months"),
            (OutOfRange, "member_order"),
            (Inconsistent, "paid_through"),
        ],
        Ds::Agents => &[
            (MissingRequired, "agent_code"),
            (MissingRequired, "province_code"),
            (BadFormat, "ward_code"),
            (UnknownEnum, "active"),
            (UnknownProvince, "province_code"),
        ],
        Ds::Officers => &[
            (MissingRequired, "officer_id"),
            (MissingRequired, "province_code"),
            (UnknownProvince, "province_code"),
            (OutOfRange, "weekly_capacity"),
        ],
        Ds::PlanTargets => &[
            (MissingRequired, "year"),
            (MissingRequired, "province_code"),
            (UnknownProvince, "province_code"),
            (OutOfRange, "year"),
            (NegativeMoney, "collection_target"),
        ],
        Ds::CovidReviews => &[
            (MissingRequired, "unit_code"),
            (MissingRequired, "month"),
            (BadFormat, "unit_code"),
            (BadDate, "month"),
            (BadDate, "reviewed_on"),
            (BadDate, "resume_month"),
            (OutOfRange, "continuing"),
            (OutOfRange, "terminated"),
        ],
        Ds::Conferences => &[
            (MissingRequired, "conference_id"),
            (MissingRequired, "province_code"),
            (MissingRequired, "held_on"),
            (BadFormat, "ward_code"),
            (BadDate, "held_on"),
            (UnknownProvince, "province_code"),
            (OutOfRange, "invited"),
            (Inconsistent, "attended"),
        ],
    }
}

/// The reason classes that apply to a dataset (each is planted at least once).
pub(crate) fn classes(ds: Ds) -> Vec<Reason> {
    let mut v = vec![MalformedRow];
    for (r, _) in candidates(ds) {
        if !v.contains(r) {
            v.push(*r);
        }
    }
    v
}

/// What the bad-row maker needs beyond the template row.
#[derive(Clone, Debug, Default)]
pub(crate) struct BadCtx {
    /// Two-digit codes that are not one of the 63 provinces.
    pub unknown_provinces: Vec<String>,
    /// Counter for fresh payment references (a bad payment row never reuses
    /// a good row's reference).
    pub fresh: u64,
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

fn year_of(v: &[u8]) -> String {
    let s = text(v);
    if s.len() >= 4 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        s[..4].to_string()
    } else {
        "2020".to_string()
    }
}

fn shift_month(v: &[u8], by: i32) -> Option<String> {
    let m: crate::month::Month = text(v).parse().ok()?;
    Some(m.add(by).to_string())
}

/// A copy of `template` with one defect of class `reason`, and the column
/// reported (empty for malformed rows). `strict` refuses mutations that
/// would look odd on this template (e.g. a member order on a voluntary BHXH
/// row); `None` means "try again on another row".
pub(crate) fn make(
    ds: Ds,
    reason: Reason,
    template: &Row,
    rng: &mut ChaCha8Rng,
    ctx: &mut BadCtx,
    strict: bool,
) -> Option<(Vec<Vec<u8>>, &'static str)> {
    let mut f = template.to_fields();
    if ds == Ds::SiPayments {
        // A bad payment never shares a reference with a good one.
        ctx.fresh += 1;
        f[ds.col("reference")] = format!("FTX{:011}", ctx.fresh).into_bytes();
    }
    if reason == MalformedRow {
        if rng.gen_bool(0.5) && f.len() > 1 {
            let k = rng.gen_range(0..f.len());
            f.remove(k);
        } else {
            f.push(b"x".to_vec());
        }
        return Some((f, ""));
    }
    let mut cols: Vec<&'static str> = candidates(ds).iter().filter(|(r, _)| *r == reason).map(|c| c.1).collect();
    cols.shuffle(rng);
    for col in cols {
        let k = ds.col(col);
        if let Some(v) = mutate(ds, reason, col, &f, rng, ctx, strict) {
            f[k] = v;
            return Some((f, col));
        }
    }
    None
}

fn mutate(
    ds: Ds,
    reason: Reason,
    col: &'static str,
    f: &[Vec<u8>],
    rng: &mut ChaCha8Rng,
    ctx: &BadCtx,
    strict: bool,
) -> Option<Vec<u8>> {
    let v = &f[ds.col(col)];
    let out: String = match reason {
        MalformedRow => unreachable!("handled by make"),
        MissingRequired => {
            if v.is_empty() {
                return None;
            }
            String::new()
        }
        // Money written with decimals, as a spreadsheet export might.
        BadNumber => {
            if v.is_empty() {
                return None;
            }
            format!("{}.000", text(v))
        }
        BadCheckDigit => {
            let s = text(v);
            let (head, branch) = s.split_once('-').map_or((s, None), |(h, b)| (h, Some(b)));
            if head.len() != 10 || crate::ids::check_tax_code(s).is_err() {
                return None;
            }
            let good = head.as_bytes()[9];
            let mut wrong = good;
            while wrong == good {
                wrong = b'0' + rng.gen_range(0..10u8);
            }
            let mut h = head.as_bytes().to_vec();
            h[9] = wrong;
            let mut out = String::from_utf8(h).expect("digits");
            if let Some(b) = branch {
                out.push('-');
                out.push_str(b);
            }
            out
        }
        BadFormat => match col {
            "si_number" => {
                if v.len() != 10 {
                    return None;
                }
                text(&v[1..]).to_string()
            }
            "citizen_id" => {
                let mut s: String = (0..11).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect();
                if v.len() == 12 {
                    s = text(&v[..11]).to_string();
                }
                s
            }
            "unit_code" => {
                let s = text(v).to_ascii_lowercase();
                if s == text(v) {
                    return None;
                }
                s
            }
            "ward_code" => {
                if v.len() == 5 {
                    text(&v[1..]).to_string()
                } else if strict {
                    return None;
                } else {
                    "1234".to_string()
                }
            }
            _ => return None,
        },
        BadDate => {
            let y = year_of(v);
            let is_month =
                matches!(col, "month" | "from_month" | "to_month" | "paid_from" | "paid_through" | "resume_month");
            if strict && v.is_empty() && !matches!(col, "birth_date") {
                return None;
            }
            if is_month {
                let bad = ["13", "00", "14"][rng.gen_range(0..3)];
                format!("{y}-{bad}")
            } else {
                let bad = ["02-30", "04-31", "06-31", "02-31", "13-01", "09-31"][rng.gen_range(0..6)];
                let y = if y == "2020" && col == "birth_date" { "1987".to_string() } else { y };
                format!("{y}-{bad}")
            }
        }
        NegativeMoney => {
            let s = text(v);
            if s.is_empty() {
                if strict {
                    return None;
                }
                "-150000".to_string()
            } else if s == "0" {
                "-1000".to_string()
            } else {
                format!("-{s}")
            }
        }
        UnknownEnum => {
            let choices: &[&str] = match col {
                "contract" => &["permanent", "seasonal"],
                "work_status" => &["sick", "maternity"],
                "status" => &["dissolved", "bankrupt"],
                "scheme" => &["pension", "compulsory"],
                "sex" => &["X", "Nam"],
                "active" => &["yes", "1"],
                _ => return None,
            };
            choices[rng.gen_range(0..choices.len())].to_string()
        }
        UnknownProvince => {
            if v.is_empty() || ctx.unknown_provinces.is_empty() {
                return None;
            }
            ctx.unknown_provinces[rng.gen_range(0..ctx.unknown_provinces.len())].clone()
        }
        OutOfRange => match col {
            "wage_region" => ["5", "0", "7"][rng.gen_range(0..3)].to_string(),
            "payment_months" => ["2", "4", "24"][rng.gen_range(0..3)].to_string(),
            "amount" => "0".to_string(),
            "member_order" => {
                if strict && v.is_empty() {
                    return None;
                }
                "0".to_string()
            }
            "year" => ["1999", "2101"][rng.gen_range(0..2)].to_string(),
            "employees_declared" | "weekly_capacity" | "continuing" | "terminated" | "invited"
            | "contributed_months" => "-1".to_string(),
            _ => return None,
        },
        Inconsistent => match (ds, col) {
            (Ds::SiSuspensions, "to_month") => {
                let from = &f[ds.col("from_month")];
                if rng.gen_bool(0.5) {
                    shift_month(from, -rng.gen_range(1..4))?
                } else {
                    shift_month(from, rng.gen_range(12..16))?
                }
            }
            (Ds::SiVoluntary, "paid_through") => shift_month(&f[ds.col("paid_from")], -rng.gen_range(1..4))?,
            (Ds::Conferences, "attended") => {
                let invited: i64 = text(&f[ds.col("invited")]).parse().ok()?;
                (invited + rng.gen_range(1..6)).to_string()
            }
            _ => return None,
        },
    };
    Some(out.into_bytes())
}
