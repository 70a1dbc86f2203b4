//! The fourteen input datasets of `DATA_CONTRACT.md`, column by column.

use super::{Column, Dataset, Kind, RowRule};
use crate::ingest::ParsedRow;

const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    Column { name, kind, required: true, doc }
}
const fn opt(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    Column { name, kind, required: false, doc }
}

const MONEY: Kind = Kind::Money { min: 0 };
const COUNT: Kind = Kind::Int { min: 0, max: 10_000_000 };
const WARD: Kind = Kind::Digits(5);

pub static DATASETS: &[&Dataset] = &[
    &TAX_EMPLOYERS,
    &TAX_WAGES,
    &TAX_HOUSEHOLDS,
    &SI_UNITS,
    &SI_PEOPLE,
    &SI_CONTRIBUTIONS,
    &SI_SUSPENSIONS,
    &SI_PAYMENTS,
    &SI_VOLUNTARY,
    &AGENTS,
    &OFFICERS,
    &PLAN_TARGETS,
    &COVID_REVIEWS,
    &CONFERENCES,
];

/// The dataset of this name.
pub fn dataset(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().copied().find(|d| d.name == name)
}

pub static TAX_EMPLOYERS: Dataset = Dataset {
    name: "tax_employers",
    doc: "The tax authority's registry of employers.",
    columns: &[
        req("tax_code", Kind::TaxCode, "Tax code (MST): 10 digits with check digit, `-NNN` for a branch"),
        req("name", Kind::Name, "Registered name"),
        req("province_code", Kind::Province, "Province (2020 code)"),
        opt("ward_code", WARD, "Ward/commune code, 5 digits"),
        opt("address", Kind::Text, "Address"),
        opt("kind", Kind::Enum(&["enterprise", "branch", "cooperative", "household_business", "other"]), "Kind of employer"),
        opt("industry_code", Kind::Digits(4), "VSIC industry code, 4 digits"),
        opt("registered_on", Kind::Date, "Date of tax registration"),
        req("status", Kind::Enum(&["active", "suspended", "closed", "absent"]), "Status in the tax registry"),
        opt("status_since", Kind::Date, "Date the status took effect"),
        opt("employees_declared", COUNT, "Employees in the last income-tax finalisation"),
    ],
    key: &["tax_code"],
    rules: &[],
};

pub static TAX_WAGES: Dataset = Dataset {
    name: "tax_wages",
    doc: "Personal income tax withheld by employers: one row per person, employer and month.",
    columns: &[
        req("employer_tax_code", Kind::TaxCode, "Employer's tax code (branch codes allowed)"),
        opt("person_tax_code", Kind::PersonTaxCode, "Person's tax code, 10 digits"),
        opt("citizen_id", Kind::CitizenId, "CMND (9 digits) or CCCD (12 digits)"),
        req("full_name", Kind::Name, "Full name"),
        opt("birth_date", Kind::Date, "Date of birth"),
        req("month", Kind::Month, "Month of the income"),
        req("taxable_income", MONEY, "Taxable income in the month, VND"),
        opt("contract", Kind::Enum(&["indefinite", "fixed", "short", "none"]), "Labour contract type"),
    ],
    // The person by the best identifier the row carries (`person_ref`, which
    // conform derives), so that a corrected name or ID in a later extract
    // replaces the month's row instead of adding a second one.
    key: &["employer_tax_code", "month", "person_ref"],
    rules: &[],
};

pub static TAX_HOUSEHOLDS: Dataset = Dataset {
    name: "tax_households",
    doc: "Household businesses paying lump-sum tax.",
    columns: &[
        req("tax_code", Kind::TaxCode, "Household business tax code"),
        opt("citizen_id", Kind::CitizenId, "Owner's CMND/CCCD"),
        req("owner_name", Kind::Name, "Owner's full name"),
        opt("birth_date", Kind::Date, "Owner's date of birth"),
        opt("sex", Kind::Enum(&["M", "F"]), "Owner's sex"),
        req("province_code", Kind::Province, "Province (2020 code)"),
        opt("ward_code", WARD, "Ward/commune code"),
        opt("business_line", Kind::Text, "Line of business"),
        opt("market", Kind::Text, "Market name, if a trader"),
        opt("craft_village", Kind::Text, "Craft village, if any"),
        opt("monthly_revenue", MONEY, "Monthly revenue, VND"),
        opt("status", Kind::Enum(&["active", "suspended", "closed"]), "Status"),
        opt("registered_on", Kind::Date, "Date of registration"),
    ],
    key: &["tax_code"],
    rules: &[],
};

pub static SI_UNITS: Dataset = Dataset {
    name: "si_units",
    doc: "Employer units registered with BHXH.",
    columns: &[
        req("unit_code", Kind::UnitCode, "BHXH unit code"),
        opt("tax_code", Kind::TaxCode, "The unit's tax code"),
        req("name", Kind::Name, "Unit name"),
        req("province_code", Kind::Province, "Province (2020 code)"),
        opt("ward_code", WARD, "Ward/commune code"),
        req("wage_region", Kind::Int { min: 1, max: 4 }, "Minimum-wage region, 1–4"),
        opt("officer_id", Kind::Text, "Managing officer"),
        opt("registered_on", Kind::Date, "Date of registration with BHXH"),
        req("status", Kind::Enum(&["active", "closed"]), "Status"),
    ],
    key: &["unit_code"],
    rules: &[],
};

pub static SI_PEOPLE: Dataset = Dataset {
    name: "si_people",
    doc: "Everyone BHXH knows.",
    columns: &[
        req("si_number", Kind::SiNumber, "Social insurance number, 10 digits"),
        opt("citizen_id", Kind::CitizenId, "CMND/CCCD"),
        req("full_name", Kind::Name, "Full name"),
        opt("birth_date", Kind::Date, "Date of birth"),
        opt("sex", Kind::Enum(&["M", "F"]), "Sex"),
        opt("province_code", Kind::Province, "Province of residence"),
        opt("ward_code", WARD, "Ward/commune of residence"),
        opt("household_code", Kind::Text, "Household code"),
        opt("pension_since", Kind::Date, "Date the pension started (a pensioner)"),
        opt("contributed_months", COUNT, "Extension: months of contributions on record before the extract window"),
    ],
    key: &["si_number"],
    rules: &[],
};

pub static SI_CONTRIBUTIONS: Dataset = Dataset {
    name: "si_contributions",
    doc: "Monthly compulsory declarations: one row per unit, person and month.",
    columns: &[
        req("unit_code", Kind::UnitCode, "BHXH unit code"),
        req("si_number", Kind::SiNumber, "Social insurance number"),
        req("month", Kind::Month, "Month declared"),
        req("insured_wage", MONEY, "Insured wage, VND"),
        req(
            "work_status",
            Kind::Enum(&["working", "stopped_paid", "unpaid_leave", "suspended_contract"]),
            "Work status; contributions are due for working and stopped_paid",
        ),
    ],
    key: &["unit_code", "si_number", "month"],
    rules: &[],
};

fn suspension_span(r: &ParsedRow<'_>) -> Option<(&'static str, String)> {
    let (from, to) = (r.month("from_month")?, r.month("to_month")?);
    if to < from {
        Some(("to_month", format!("to_month {to} is before from_month {from}")))
    } else if from.until(to) > 11 {
        Some(("to_month", format!("{from}–{to} is longer than 12 months")))
    } else {
        None
    }
}

pub static SI_SUSPENSIONS: Dataset = Dataset {
    name: "si_suspensions",
    doc: "Covid-19 suspensions of the pension-survivorship part.",
    columns: &[
        req("unit_code", Kind::UnitCode, "BHXH unit code"),
        req("from_month", Kind::Month, "First suspended month"),
        req("to_month", Kind::Month, "Last suspended month (at most 11 months after from_month)"),
        opt("decision_no", Kind::Text, "Decision number"),
    ],
    key: &["unit_code", "from_month"],
    rules: &[suspension_span as RowRule],
};

pub static SI_PAYMENTS: Dataset = Dataset {
    name: "si_payments",
    doc: "Money received from units; a reference is unique (a resent payment is kept once).",
    columns: &[
        req("unit_code", Kind::UnitCode, "BHXH unit code"),
        req("paid_on", Kind::Date, "Date received"),
        req("amount", Kind::Money { min: 1 }, "Amount, VND, > 0"),
        req("reference", Kind::Text, "Bank reference, unique"),
    ],
    key: &["reference"],
    rules: &[],
};

fn voluntary_rules(r: &ParsedRow<'_>) -> Option<(&'static str, String)> {
    if let (Some(from), Some(through)) = (r.month("paid_from"), r.month("paid_through")) {
        if through < from {
            return Some(("paid_through", format!("paid_through {through} is before paid_from {from}")));
        }
    }
    None
}

pub static SI_VOLUNTARY: Dataset = Dataset {
    name: "si_voluntary",
    doc: "Voluntary BHXH and household BHYT enrolments.",
    columns: &[
        req("si_number", Kind::SiNumber, "Social insurance number"),
        req("scheme", Kind::Enum(&["voluntary_si", "household_hi"]), "Scheme"),
        opt("agent_code", Kind::Text, "Collection agent"),
        opt("household_code", Kind::Text, "Household code"),
        opt("member_order", Kind::Int { min: 1, max: 99 }, "Order in the household (household_hi)"),
        opt("income_basis", MONEY, "Chosen monthly income basis, VND (voluntary_si)"),
        opt("support_group", Kind::Enum(&["poor", "near_poor", "other"]), "State support group"),
        req("payment_months", Kind::IntOneOf(&[1, 3, 6, 12]), "Months paid at a time: 1, 3, 6 or 12"),
        req("paid_from", Kind::Month, "First month covered"),
        req("paid_through", Kind::Month, "Last month covered"),
    ],
    key: &["si_number", "scheme", "paid_from"],
    rules: &[voluntary_rules as RowRule],
};

pub static AGENTS: Dataset = Dataset {
    name: "agents",
    doc: "Collection agents.",
    columns: &[
        req("agent_code", Kind::Text, "Agent code"),
        opt("name", Kind::Name, "Agent name"),
        opt("organisation", Kind::Text, "Organisation (post office, commune)"),
        req("province_code", Kind::Province, "Province"),
        opt("ward_code", WARD, "Commune served"),
        opt("active", Kind::Bool, "Active"),
    ],
    key: &["agent_code"],
    rules: &[],
};

pub static OFFICERS: Dataset = Dataset {
    name: "officers",
    doc: "Managing officers (cán bộ chuyên quản).",
    columns: &[
        req("officer_id", Kind::Text, "Officer id"),
        opt("name", Kind::Name, "Officer name"),
        req("province_code", Kind::Province, "Province"),
        opt("office", Kind::Text, "Office"),
        opt("weekly_capacity", COUNT, "Units the officer can visit in a week"),
    ],
    key: &["officer_id"],
    rules: &[],
};

pub static PLAN_TARGETS: Dataset = Dataset {
    name: "plan_targets",
    doc: "Decision 06/QĐ-BHXH targets per province and year.",
    columns: &[
        req("year", Kind::Int { min: 2000, max: 2100 }, "Year"),
        req("province_code", Kind::Province, "Province"),
        opt("collection_target", MONEY, "Collection target, VND"),
        opt("compulsory_target", COUNT, "Compulsory participants target"),
        opt("voluntary_target", COUNT, "Voluntary BHXH participants target"),
        opt("household_hi_target", COUNT, "Household BHYT members target"),
    ],
    key: &["year", "province_code"],
    rules: &[],
};

pub static COVID_REVIEWS: Dataset = Dataset {
    name: "covid_reviews",
    doc: "§1.1 reviews of Covid-affected units: worker counts by situation.",
    columns: &[
        req("unit_code", Kind::UnitCode, "BHXH unit code"),
        req("month", Kind::Month, "Month reviewed"),
        opt("reviewed_on", Kind::Date, "Date of the review"),
        opt("continuing", COUNT, "Workers continuing"),
        opt("terminated", COUNT, "Workers terminated"),
        opt("unpaid_leave", COUNT, "Workers on unpaid leave"),
        opt("suspended_contract", COUNT, "Workers with suspended contracts"),
        opt("stopped_paid", COUNT, "Workers stopped with pay"),
        opt("resume_month", Kind::Month, "Month the unit agreed to resume full contributions"),
    ],
    key: &["unit_code", "month"],
    rules: &[],
};

fn conference_counts(r: &ParsedRow<'_>) -> Option<(&'static str, String)> {
    let (inv, att, reg) = (r.int("invited"), r.int("attended"), r.int("registered"));
    if let (Some(i), Some(a)) = (inv, att) {
        if a > i {
            return Some(("attended", format!("attended {a} > invited {i}")));
        }
    }
    if let (Some(a), Some(g)) = (att, reg) {
        if g > a {
            return Some(("registered", format!("registered {g} > attended {a}")));
        }
    }
    None
}

pub static CONFERENCES: Dataset = Dataset {
    name: "conferences",
    doc: "§2.4 customer conferences.",
    columns: &[
        req("conference_id", Kind::Text, "Conference id"),
        req("province_code", Kind::Province, "Province"),
        opt("ward_code", WARD, "Commune"),
        req("held_on", Kind::Date, "Date held"),
        opt("place", Kind::Text, "Place"),
        opt("invited", COUNT, "People invited"),
        opt("attended", COUNT, "People attending"),
        opt("registered", COUNT, "People who signed up for voluntary BHXH"),
    ],
    key: &["conference_id"],
    rules: &[conference_counts as RowRule],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::DERIVED_KEYS;
    use std::collections::HashSet;

    #[test]
    fn fourteen_datasets_with_unique_columns_and_valid_keys() {
        assert_eq!(DATASETS.len(), 14);
        for d in DATASETS {
            let names: HashSet<_> = d.columns.iter().map(|c| c.name).collect();
            assert_eq!(names.len(), d.columns.len(), "{}", d.name);
            for k in d.key {
                assert!(names.contains(k) || DERIVED_KEYS.contains(k), "{}: key column {k}", d.name);
            }
            assert!(dataset(d.name).is_some());
        }
    }
}
