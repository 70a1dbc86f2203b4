//! The gold tables of the voluntary stage, declared once: checked before
//! publishing and rendered in the data dictionary.

use crate::lake::gold::{GoldColumn, GoldTable};

const fn c(name: &'static str, dtype: &'static str, doc: &'static str) -> GoldColumn {
    GoldColumn { name, dtype, doc }
}

pub const VOLUNTARY_PROSPECTS: GoldTable = GoldTable {
    name: "voluntary_prospects",
    doc: "§2.1/§2.3 People outside any scheme who could join voluntary BHXH, scored 0–100 with their top reason codes, each assigned to a collection agent and ranked in that agent's list. Pool, exclusions, features and weights: docs/rules.md and `pipelines/scoring.toml`.",
    key: &["agent_code", "agent_rank", "person_key"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the person's province (si_people, else the household business, else the main payer of their income)"),
        c("ward_code", "string", "The person's ward/commune"),
        c("person_key", "string", "Keyed hash of the person (`si:` when BHXH knows them, else `tax:` person_ref)"),
        c("source", "string", "`household_business`, `stopped_contributing`, `free_worker` or `household_hi_only` (the first that applies, in this order)"),
        c("score", "int64", "0–100: the model's probability of joining, in percent"),
        c("reasons", "string", "Top reason codes (features with the largest positive contributions), comma-separated, strongest first"),
        c("agent_code", "string", "Assigned collection agent (null: the province has no active agent)"),
        c("agent_rank", "int64", "Position in the agent's list, 1 = highest score"),
        c("assigned_by", "string", "`ward_agent` (an active agent serving the person's ward), `least_loaded` (the province's least-loaded active agent) or `unassigned`"),
        c("age", "int64", "Whole years at the as-of date (null: no birth date)"),
        c("first_listed", "date", "As-of date of the first run that listed the person (prospect history)"),
    ],
};

pub const D08A_DUE: GoldTable = GoldTable {
    name: "d08a_due",
    doc: "§2.5 D08a-TS list for month L (the month after the as-of month): voluntary BHXH and household BHYT participants whose coverage ends in L or lapsed by at most `d08a.max_lapse_months`, with the amount due for their next period (DOMAIN convention, to the VND).",
    key: &["agent_code", "si_number", "scheme"],
    columns: &[
        c("month", "date", "L, the list's month"),
        c("province_code", "string", "Partition: the participant's province (si_people), else the agent's"),
        c("agent_code", "string", "The collecting agent: the enrolment's agent when active, else an active agent of the ward, else the province's least-loaded active agent"),
        c("si_number", "string", "Participant's social insurance number"),
        c("scheme", "string", "`voluntary_si` or `household_hi`"),
        c("household_code", "string", "Household (household_hi)"),
        c("member_order", "int64", "Order in the household (household_hi)"),
        c("support_group", "string", "State support group (voluntary_si; null counts as `other`)"),
        c("income_basis", "int64", "Chosen monthly income basis, VND (voluntary_si)"),
        c("payment_months", "int64", "Months paid at a time (1, 3, 6, 12)"),
        c("paid_through", "date", "Last month covered so far"),
        c("period_from", "date", "First month of the next period (paid_through + 1)"),
        c("period_to", "date", "Last month of the next period"),
        c("amount_due", "int64", "Amount for the next period, VND (null: the enrolment lacks income_basis or member_order)"),
        c("status", "string", "`renew` (coverage ends in L) or `lapsed` (paid_through before L)"),
        c("assigned_by", "string", "`enrolment` (the agent on the enrolment), `ward_agent`, `least_loaded` or `unassigned`"),
    ],
};

pub const AGENT_TARGETS: GoldTable = GoldTable {
    name: "agent_targets",
    doc: "§2.3 Every collection agent's list size, targets (a configured share of the list) and results so far: prospects who enrolled in voluntary BHXH after being listed (from the prospect history).",
    key: &["agent_code"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition: the agent's province"),
        c("agent_code", "string", "Agent"),
        c("ward_code", "string", "Commune the agent serves"),
        c("active", "bool", "Active agent"),
        c("prospects", "int64", "Prospects on the agent's list this run"),
        c("weekly_target", "int64", "ceil(prospects × targets.weekly_percent / 100)"),
        c("monthly_target", "int64", "ceil(prospects × targets.monthly_percent / 100)"),
        c("quarterly_target", "int64", "ceil(prospects × targets.quarterly_percent / 100)"),
        c("listed_total", "int64", "People ever listed for this agent (history)"),
        c("enrolled_total", "int64", "... of whom enrolled in voluntary BHXH after being listed"),
        c("enrolled_week", "int64", "Enrolments first seen in the as-of date's ISO week"),
        c("enrolled_month", "int64", "... in the as-of month"),
        c("enrolled_quarter", "int64", "... in the as-of quarter"),
        c("d08a_participants", "int64", "Participants on the agent's D08a-TS list"),
        c("d08a_amount", "int64", "Their amount due, VND"),
    ],
};

pub const AGENT_WEEKLY_RESULTS: GoldTable = GoldTable {
    name: "agent_weekly_results",
    doc: "§2.3 Week by week: prospects first listed for each agent in an ISO week, and how many of them have enrolled since.",
    key: &["agent_code", "week"],
    columns: &[
        c("as_of", "date", "The run's as-of date (results as known then)"),
        c("province_code", "string", "Partition: the agent's province"),
        c("agent_code", "string", "Agent"),
        c("week", "string", "ISO week the prospects were first listed, e.g. `2020-W24`"),
        c("listed", "int64", "Prospects first listed that week"),
        c("enrolled", "int64", "... of whom have enrolled in voluntary BHXH since"),
        c("weekly_target", "int64", "The agent's current weekly target"),
    ],
};

pub const CONFERENCE_RESULTS: GoldTable = GoldTable {
    name: "conference_results",
    doc: "§2.4 Customer conferences per province, month and agent (the active agent serving the conference's commune): held, invited, attended, registered, and registrations that became enrolments (estimated: new voluntary BHXH participants of that commune whose first period starts in the conference month or the two after, capped at the registrations).",
    key: &["month", "agent_code"],
    columns: &[
        c("province_code", "string", "Partition"),
        c("month", "date", "Month held"),
        c("agent_code", "string", "Agent serving the conference's commune (null: none active)"),
        c("conferences", "int64", "Conferences held"),
        c("invited", "int64", "People invited"),
        c("attended", "int64", "People attending"),
        c("registered", "int64", "People who signed up"),
        c("registrations_enrolled", "int64", "Registrations that became enrolments (estimate, see above)"),
    ],
};

pub const AGENT_RANKINGS: GoldTable = GoldTable {
    name: "agent_rankings",
    doc: "§2.2 Agents ranked within their province by participants developed: people whose first voluntary BHXH or household BHYT period starts in the period, credited to the agent on that first enrolment.",
    key: &["period", "rank", "agent_code"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition"),
        c("period", "string", "`month` (the as-of month), `quarter` or `year` (to date)"),
        c("period_start", "date", "First month of the period"),
        c("agent_code", "string", "Agent"),
        c("new_voluntary", "int64", "New voluntary BHXH participants"),
        c("new_household", "int64", "New household BHYT members"),
        c("developed", "int64", "new_voluntary + new_household"),
        c("rank", "int64", "1 = most developed in the province (ties share a rank)"),
    ],
};

pub const COMMUNE_RANKINGS: GoldTable = GoldTable {
    name: "commune_rankings",
    doc: "§2.2 Communes (wards) ranked within their province by participants developed, as in `agent_rankings`, by the participant's ward (si_people).",
    key: &["period", "rank", "ward_code"],
    columns: &[
        c("as_of", "date", "The run's as-of date"),
        c("province_code", "string", "Partition"),
        c("period", "string", "`month`, `quarter` or `year` (to date)"),
        c("period_start", "date", "First month of the period"),
        c("ward_code", "string", "Ward/commune"),
        c("new_voluntary", "int64", "New voluntary BHXH participants"),
        c("new_household", "int64", "New household BHYT members"),
        c("developed", "int64", "new_voluntary + new_household"),
        c("rank", "int64", "1 = most developed in the province (ties share a rank)"),
    ],
};

pub const GOLD_TABLES: &[&GoldTable] =
    &[&VOLUNTARY_PROSPECTS, &D08A_DUE, &AGENT_TARGETS, &AGENT_WEEKLY_RESULTS, &CONFERENCE_RESULTS, &AGENT_RANKINGS, &COMMUNE_RANKINGS];

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
