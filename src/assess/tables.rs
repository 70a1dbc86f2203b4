//! The gold tables of the assess stage: names, grain and columns, declared
//! once. `Outputs::write` checks every frame against these before
//! publishing, and the data dictionary renders them.

use crate::lake::gold::{GoldColumn, GoldTable};

const fn c(name: &'static str, dtype: &'static str, doc: &'static str) -> GoldColumn {
    GoldColumn { name, dtype, doc }
}

const PROVINCE: GoldColumn = c("province_code", "string", "Province of the unit (2020 code); the Hive partition");
const UNIT: GoldColumn = c("unit_code", "string", "BHXH unit code");
const UNIT_NAME: GoldColumn = c("unit_name", "string", "Unit name (silver units)");
const TAX_CODE: GoldColumn = c("tax_code", "string", "Unit's tax code");
const OFFICER: GoldColumn = c("officer_id", "string", "Managing officer");
const AS_OF: GoldColumn = c("as_of", "date", "The run's as-of date");
const DEBT: GoldColumn =
    c("debt", "int64", "Unpaid dues of the months before the as-of month, VND (interest not included)");
const DEBT_MONTHS: GoldColumn =
    c("debt_months", "int64", "As-of month − oldest month with an unpaid due (March unpaid at a June as-of is 3)");
const INTEREST: GoldColumn = c("interest", "int64", "Late-payment interest charged and not yet paid, VND");
const DEFERRED: GoldColumn =
    c("deferred_pension_part", "int64", "Suspended pension-survivorship parts accumulated and not yet fallen due, VND");
const FROM: GoldColumn = c("from_month", "date", "First suspended month");
const TO: GoldColumn = c("to_month", "date", "Last suspended month");
const MAKEUP_MONTH: GoldColumn =
    c("makeup_month", "date", "Month the suspended amount falls due in full (to_month + 1)");

pub const DUES: GoldTable = GoldTable {
    name: super::DUES,
    doc: "One row per unit and month with due declarations (working, stopped_paid), up to the as-of month: \
          the amounts by fund and payer, each the sum over people of round(min(wage, ceiling) × rate), halves up.",
    key: &["unit_code", "month"],
    columns: &[
        c("month", "date", "Month assessed"),
        PROVINCE,
        UNIT,
        c("headcount", "int64", "People with a due declaration"),
        c("wage_fund", "int64", "Σ declared insured wages of those people (before ceilings), VND"),
        c("under_minimum", "int64", "Of those, people declared below the regional minimum wage (charged as declared)"),
        c("pension_survivorship_employer", "int64", "VND, at the rate of the month, before any suspension"),
        c("pension_survivorship_employee", "int64", "VND"),
        c("sickness_maternity_employer", "int64", "VND"),
        c("sickness_maternity_employee", "int64", "VND"),
        c("occupational_accident_employer", "int64", "VND"),
        c("occupational_accident_employee", "int64", "VND"),
        c("health_employer", "int64", "VND"),
        c("health_employee", "int64", "VND"),
        c("unemployment_employer", "int64", "VND"),
        c("unemployment_employee", "int64", "VND"),
        c("assessed", "int64", "Σ of the ten amounts, VND"),
        c("suspended", "bool", "The month is inside a suspension of the pension-survivorship part"),
        c("pension_deferred", "int64", "Pension-survivorship part of this month not due now (suspended), VND"),
    ],
};

pub const C12_NOTICES: GoldTable = GoldTable {
    name: super::C12_NOTICES,
    doc: "C12-TS payment-result notice: one row per unit and month, from the unit's first month (first due or \
          payment) to the as-of month. carried_forward = brought_forward + due + interest − paid = debt + \
          interest_unpaid − credit.",
    key: &["unit_code", "month"],
    columns: &[
        c("month", "date", "Notice month"),
        PROVINCE,
        UNIT,
        UNIT_NAME,
        TAX_CODE,
        OFFICER,
        c("headcount", "int64", "People with a due declaration this month"),
        c("wage_fund", "int64", "Σ their declared insured wages, VND"),
        c("brought_forward", "int64", "Balance at the end of the previous month (negative: credit), VND"),
        c(
            "due",
            "int64",
            "Falling due this month: the month's contributions (pension part excluded when suspended) + makeup",
        ),
        c("makeup", "int64", "Part of due: suspended pension parts falling due this month"),
        c("paid", "int64", "Payments received this month (as-of month: up to the as-of date), VND"),
        c(
            "interest",
            "int64",
            "Interest charged for this month: round(late debt × annual rate / 12), 0 for the as-of month",
        ),
        c("carried_forward", "int64", "Balance at the end of the month, VND"),
        DEFERRED,
        c("debt", "int64", "Unpaid dues at the end of the month (this month's included), VND"),
        c("interest_unpaid", "int64", "Interest charged and not yet paid, VND"),
        c("credit", "int64", "Money paid beyond dues and interest, kept for later dues, VND"),
        c("provisional", "bool", "The as-of month: not ended, payments up to the as-of date only"),
    ],
};

pub const DELINQUENT_EMPLOYERS: GoldTable = GoldTable {
    name: super::DELINQUENT_EMPLOYERS,
    doc: "Units with debt at the as-of date. Inspection candidates (§3.3): debt of 3 months or more and not \
          inside a suspension.",
    key: &["unit_code"],
    columns: &[
        AS_OF,
        PROVINCE,
        UNIT,
        UNIT_NAME,
        TAX_CODE,
        OFFICER,
        DEBT,
        DEBT_MONTHS,
        c("oldest_unpaid_month", "date", "Oldest month before the as-of month with an unpaid due"),
        INTEREST,
        c("suspended", "bool", "The as-of month is inside one of the unit's suspension periods"),
        DEFERRED,
        c("inspection_candidate", "bool", "debt_months ≥ 3 and not suspended"),
    ],
};

pub const SUSPENDED_UNITS_OWING: GoldTable = GoldTable {
    name: super::SUSPENDED_UNITS_OWING,
    doc: "§3.2: units inside a suspension at the as-of date that still owe the other funds (debt > 0).",
    key: &["unit_code"],
    columns: &[
        AS_OF,
        PROVINCE,
        UNIT,
        UNIT_NAME,
        TAX_CODE,
        OFFICER,
        FROM,
        TO,
        MAKEUP_MONTH,
        DEBT,
        DEBT_MONTHS,
        INTEREST,
        DEFERRED,
    ],
};

pub const MAKEUP_UNPAID: GoldTable = GoldTable {
    name: super::MAKEUP_UNPAID,
    doc: "§3.2: units whose suspension has ended (make-up month ≤ as-of month) with the make-up still unpaid; \
          one row per make-up month.",
    key: &["unit_code", "makeup_month"],
    columns: &[
        AS_OF,
        PROVINCE,
        UNIT,
        UNIT_NAME,
        TAX_CODE,
        OFFICER,
        FROM,
        TO,
        MAKEUP_MONTH,
        c("makeup_due", "int64", "Suspended amount that fell due in the make-up month, VND"),
        c("makeup_unpaid", "int64", "Part of it still unpaid, VND"),
        c("overdue", "bool", "The make-up month has ended (it is before the as-of month)"),
        DEBT,
        DEBT_MONTHS,
    ],
};

/// Every gold table of the stage, in dictionary order.
pub const GOLD_TABLES: &[&GoldTable] =
    &[&DUES, &C12_NOTICES, &DELINQUENT_EMPLOYERS, &SUSPENDED_UNITS_OWING, &MAKEUP_UNPAID];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::dues::{cell_name, CELLS};

    #[test]
    fn dues_declares_the_ten_fund_payer_columns_in_cell_order() {
        for i in 0..CELLS {
            assert_eq!(DUES.columns[6 + i].name, cell_name(i));
        }
        assert_eq!(DUES.columns[6 + CELLS].name, "assessed");
    }

    #[test]
    fn keys_are_declared_columns() {
        for t in GOLD_TABLES {
            for k in t.key {
                assert!(t.columns.iter().any(|c| c.name == *k), "{}: key {k}", t.name);
            }
        }
    }
}
