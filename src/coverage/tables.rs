//! The gold tables of the coverage stage: names, grain and columns, declared
//! once. Every frame is checked against its declaration before it is
//! published (`lake::gold::GoldTable::check`), and the data dictionary
//! renders them.

use crate::lake::gold::{GoldColumn, GoldTable};

const fn c(name: &'static str, dtype: &'static str, doc: &'static str) -> GoldColumn {
    GoldColumn { name, dtype, doc }
}

pub const UNINSURED_WORKERS: GoldTable = GoldTable {
    name: "uninsured_workers",
    doc: "Person × employer pairs with wages under a compulsory contract and no due contribution from that employer in the lookback months (DOMAIN \"Uninsured months\"); second jobs declared elsewhere are listed with `months_uninsured` = 0.",
    key: &["employer_tax_code", "person_key"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the unit's province, else the employer's (tax registry), else the person's (si_people)"),
        c("employer_tax_code", "string", "The employer's 10-digit head-office tax code"),
        c("unit_code", "string", "The unit registered under the tax code the wages come from, else the head office's (null: no unit)"),
        c("person_key", "string", "Keyed hash of the person (see README, `BHXH_PERSON_KEY`)"),
        c("months_uninsured", "int64", "Uninsured months in the lookback (0 for `declared_elsewhere`)"),
        c("months_declared_elsewhere", "int64", "Months with wages here and a due contribution at another employer's unit"),
        c("last_month", "date", "Last uninsured month (for `declared_elsewhere`: last month declared elsewhere)"),
        c("avg_taxable_income", "int64", "Average monthly taxable income from this employer over those months, VND"),
        c("reason", "string", "`no_si_record` (no si_people row linked; ambiguous links included), `not_declared_by_employer` (linked, not declared by this employer) or `declared_elsewhere` (a second job)"),
        c("match_method", "string", "How the tax-side person was linked: `citizen_id`, `name_birth`, `probabilistic`, `ambiguous` or `unmatched`"),
        c("officer_id", "string", "Officer whose worklist carries the unit (or unregistered employer)"),
    ],
};

pub const UNREGISTERED_EMPLOYERS: GoldTable = GoldTable {
    name: "unregistered_employers",
    doc: "Head offices in the tax registry with no BHXH unit under their tax code or a branch's, and with employees: tax_wages in the recent months (whatever the registry's status: a suspended, closed or absent employer still paying wages is listed), or, for active ones, employees_declared > 0; `priority` 1 = the biggest gap of the province.",
    key: &["tax_code"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the employer's province in the tax registry"),
        c("tax_code", "string", "10-digit head-office tax code"),
        c("employees_in_tax", "int64", "Distinct people with tax_wages rows (any contract) from the employer or its branches in the recent months"),
        c("wage_fund_3m", "int64", "Their taxable income in those months, VND"),
        c("wage_months", "int64", "The months counted for employees_in_tax and wage_fund_3m: unregistered.recent_months of pipelines/coverage.toml (3)"),
        c("employees_declared", "int64", "Employees in the last income-tax finalisation (registry)"),
        c("estimated_monthly_contributions", "int64", "Contributions the gap leaves uncollected per month, VND: wage_fund / months × total compulsory rate (declared-only: employees_declared × the minimum wage of the province's rural_region, provinces.csv, × rate)"),
        c("priority_score", "int64", "estimated_monthly_contributions × the priority weight (pipelines/coverage.toml)"),
        c("priority", "int64", "Rank in the province, 1 = biggest gap"),
        c("officer_id", "string", "Officer the employer is assigned to (balanced over the province's officers)"),
        c("tax_status", "string", "The employer's status in the tax registry (`active`, `suspended`, `closed`, `absent`)"),
    ],
};

pub const UNDER_DECLARED_WAGES: GoldTable = GoldTable {
    name: "under_declared_wages",
    doc: "Due declarations in the lookback months with an insured wage below the regional minimum wage, or below the configured share (50%) of the person's taxable income from the same employer that month.",
    key: &["unit_code", "person_key", "month"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the unit's province"),
        c("unit_code", "string", "Declaring unit"),
        c("person_key", "string", "Keyed hash of the person"),
        c("month", "date", "Month declared"),
        c("insured_wage", "int64", "Declared insured wage, VND"),
        c("taxable_income", "int64", "The person's taxable income that month from the unit's employer (head and branches), VND; null when none"),
        c("min_wage", "int64", "Regional minimum wage of the unit's region that month, VND"),
        c("rule", "string", "`below_min_wage`, else `below_income_share`"),
    ],
};

pub const COVID_REVIEW_MONITOR: GoldTable = GoldTable {
    name: "covid_review_monitor",
    doc: "§1.1 Covid labour reviews per unit and month, beside the unit's declarations that month and its pre-Covid due headcount.",
    key: &["unit_code", "month"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the unit's province"),
        c("unit_code", "string", "Reviewed unit"),
        c("month", "date", "Month reviewed"),
        c("reviewed_on", "date", "Date of the review"),
        c("continuing", "int64", "Workers continuing (review)"),
        c("terminated", "int64", "Workers terminated (review)"),
        c("unpaid_leave", "int64", "Workers on unpaid leave (review)"),
        c("suspended_contract", "int64", "Workers with suspended contracts (review)"),
        c("stopped_paid", "int64", "Workers stopped with pay (review)"),
        c("resume_month", "date", "Month the unit agreed to resume full contributions"),
        c("declared_due", "int64", "People declared that month with a due status"),
        c("declared_out", "int64", "People declared that month as out (unpaid leave, suspended contract)"),
        c("pre_covid_headcount", "int64", "People declared with a due status in the pre-Covid month (pipelines/coverage.toml)"),
        c("officer_id", "string", "The unit's managing officer"),
    ],
};

pub const SHOULD_HAVE_RESUMED: GoldTable = GoldTable {
    name: "should_have_resumed",
    doc: "Units whose latest Covid review reports everyone back (or whose agreed resume month has passed) while their latest declarations have not come back to the review's workforce: workers still on unpaid leave or suspended contracts, or fewer people declared than the review counts.",
    key: &["unit_code"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the unit's province"),
        c("unit_code", "string", "Unit"),
        c("review_month", "date", "Month of the latest review"),
        c("review_all_back", "bool", "The latest review reports every worker continuing"),
        c("resume_month", "date", "Agreed resume month (latest review)"),
        c("declared_month", "date", "Latest month with declarations (≤ as-of month)"),
        c("declared_due", "int64", "People declared that month with a due status"),
        c("declared_out", "int64", "People still declared out that month"),
        c("pre_covid_headcount", "int64", "Due headcount in the pre-Covid month"),
        c("estimated_monthly_contributions", "int64", "Contributions the missing workers (workers_missing) leave uncollected per month, VND"),
        c("priority_score", "int64", "estimated_monthly_contributions × the priority weight"),
        c("officer_id", "string", "Officer whose worklist carries the unit"),
        c("review_headcount", "int64", "The latest review's workforce: continuing + unpaid_leave + suspended_contract + stopped_paid (everyone not terminated)"),
        c("workers_missing", "int64", "max(declared_out, review_headcount − declared_due): workers the declarations have not brought back"),
    ],
};

pub const OFFICER_WORKLISTS: GoldTable = GoldTable {
    name: "officer_worklists",
    doc: "Each officer's weekly worklist: items ordered by priority and cut at the officer's weekly capacity, the rest carried to the next weeks. No identities (the exported lists carry them).",
    key: &["officer_id", "rank", "item_kind", "item_key"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the item's province"),
        c("officer_id", "string", "Assigned officer (null: the province has no officer)"),
        c("week", "string", "ISO week the item is planned for, e.g. `2020-W24`"),
        c("week_start", "date", "Monday of that week"),
        c("rank", "int64", "Position in the officer's list, 1 = first"),
        c("item_kind", "string", "`unregistered_employer`, `uninsured_workers` or `should_have_resumed`"),
        c("item_key", "string", "Employer tax code (unregistered_employer) or unit code"),
        c("unit_code", "string", "Unit (null for unregistered employers)"),
        c("employer_tax_code", "string", "Employer's head-office tax code"),
        c("workers", "int64", "Uninsured workers (uninsured_workers), employees in tax (unregistered_employer) or workers still out (should_have_resumed)"),
        c("priority_score", "int64", "Estimated monthly contributions uncollected × priority weight, VND"),
        c("assigned_by", "string", "`unit_officer` (the unit's own officer), `balanced` (least loaded in the province) or `unassigned`"),
    ],
};

pub const WORKLIST_RESULTS: GoldTable = GoldTable {
    name: "worklist_results",
    doc: "Weekly results per officer: what was first listed in each ISO week and how much of it has since been developed (appeared in contributions).",
    key: &["officer_id", "week"],
    columns: &[
        c("as_of", "date", "The run's as-of date (results as known then)"),
        c("province_code", "string", "Partition"),
        c("officer_id", "string", "Officer the items were listed for"),
        c("week", "string", "ISO week the items were first listed in"),
        c("employers_listed", "int64", "Unregistered employers first listed that week"),
        c("employers_developed", "int64", "... of which a unit has since declared someone"),
        c("workers_listed", "int64", "Uninsured workers first listed that week"),
        c("workers_developed", "int64", "... of which the employer has since declared the worker"),
        c("units_listed", "int64", "Units with uninsured workers first listed that week"),
        c("units_developed", "int64", "... of which at least one listed worker has since been declared"),
        c("resume_listed", "int64", "Should-have-resumed units first listed that week"),
        c("resume_developed", "int64", "... of which a month's declarations since show nobody out and at least the workforce of the latest review up to that month"),
    ],
};

pub const WORKLIST_RESULTS_MONTHLY: GoldTable = GoldTable {
    name: "worklist_results_monthly",
    doc: "Monthly results per officer (DOMAIN §1: per-officer worklists and monthly results): in each calendar month, what was first listed for the officer and what the officer's items developed (whenever they were listed).",
    key: &["officer_id", "month"],
    columns: &[
        c("as_of", "date", "The run's as-of date (results as known then)"),
        c("province_code", "string", "Partition"),
        c("officer_id", "string", "Officer the items were listed for"),
        c("month", "date", "Calendar month (first day)"),
        c("employers_listed", "int64", "Unregistered employers first listed in the month"),
        c("employers_developed", "int64", "Unregistered employers first seen developed (a unit declared someone) by a run of the month"),
        c("workers_listed", "int64", "Uninsured workers first listed in the month"),
        c("workers_developed", "int64", "Uninsured workers first seen declared by their employer by a run of the month"),
        c("units_listed", "int64", "Units with uninsured workers first listed in the month"),
        c("units_developed", "int64", "Units first seen declaring one of their listed workers by a run of the month"),
        c("resume_listed", "int64", "Should-have-resumed units first listed in the month"),
        c("resume_developed", "int64", "Should-have-resumed units first seen back to their review's workforce by a run of the month"),
    ],
};

pub const GOLD_TABLES: &[&GoldTable] =
    &[&UNINSURED_WORKERS, &UNREGISTERED_EMPLOYERS, &UNDER_DECLARED_WAGES, &COVID_REVIEW_MONITOR, &SHOULD_HAVE_RESUMED, &OFFICER_WORKLISTS, &WORKLIST_RESULTS, &WORKLIST_RESULTS_MONTHLY];


#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_columns_and_province_is_declared() {
        for t in super::GOLD_TABLES {
            assert!(t.columns.iter().any(|c| c.name == "province_code"), "{}", t.name);
            for k in t.key {
                assert!(t.columns.iter().any(|c| c.name == *k), "{}: key {k}", t.name);
            }
        }
    }
}
