//! The weekly report tables, declared once: the writers check their frames
//! against these and the data dictionary renders them.

use crate::lake::gold::{GoldColumn, GoldTable};

const fn c(name: &'static str, dtype: &'static str, doc: &'static str) -> GoldColumn {
    GoldColumn { name, dtype, doc }
}

/// The identity of a week, first in every weekly table.
macro_rules! week_columns {
    () => {
        [
            c("week", "string", "ISO week, e.g. `2020-W23` (Monday to Sunday)"),
            c("week_start", "date", "Monday of the week"),
            c("week_end", "date", "Sunday of the week: every figure is as of the end of this day"),
            c("report_date", "date", "The Monday after the week, when the report is sent"),
            c(
                "data_as_of",
                "date",
                "As-of date of the run that computed the row. Equal to report_date when the row was computed on its \
                 report day (the nightly run or a backfill); later when a run filled a week no earlier run had computed",
            ),
        ]
    };
}

/// The figures, in file order after the region columns.
macro_rules! figure_columns {
    () => {
        [
            c(
                "compulsory_month",
                "date",
                "Latest complete month at week_end (the compulsory figures' month): week_end's month when the \
                 Sunday is its last day, else the month before",
            ),
            c(
                "compulsory_participants",
                "int64",
                "People with a due declaration (working or stopped_paid) in compulsory_month, counted once in the region",
            ),
            c("compulsory_units", "int64", "Units with at least one due declaration in compulsory_month"),
            c(
                "voluntary_participants",
                "int64",
                "People whose voluntary BHXH enrolment covers week_end's month (paid_from ≤ month ≤ paid_through); \
                 region of the person (si_people), else of the agent",
            ),
            c("household_hi_members", "int64", "The same for household BHYT"),
            c(
                "uninsured_workers_found_week",
                "int64",
                "Uninsured workers (person × employer) first listed by a run dated in the week (worklist history)",
            ),
            c("uninsured_workers_found_ytd", "int64", "... first listed from 1 January of week_end's year to week_end"),
            c("unregistered_employers_found_week", "int64", "Unregistered employers first listed by a run dated in the week"),
            c("unregistered_employers_found_ytd", "int64", "... from 1 January to week_end"),
            c(
                "workers_developed_week",
                "int64",
                "Listed uninsured workers a run dated in the week first saw declared by their employer (developed)",
            ),
            c("workers_developed_ytd", "int64", "... from 1 January to week_end"),
            c(
                "employers_developed_week",
                "int64",
                "Listed unregistered employers a run dated in the week first saw with a unit declaring someone",
            ),
            c("employers_developed_ytd", "int64", "... from 1 January to week_end"),
            c(
                "collected_week",
                "int64",
                "Σ units' payments (si_payments, one per reference) with paid_on in the week, by the unit's province, VND",
            ),
            c("collected_ytd", "int64", "Σ of those with paid_on from 1 January of week_end's year to week_end, VND"),
            c(
                "debt",
                "int64",
                "Σ units' unpaid dues of the months before week_end's month, after payments up to week_end, VND \
                 (interest not included)",
            ),
            c("units_in_debt", "int64", "Units with debt > 0 at week_end"),
            c(
                "units_in_debt_3m",
                "int64",
                "Units whose oldest unpaid month is at least the inspection threshold (3) months before week_end's month",
            ),
            c("suspended_units", "int64", "Units inside a suspension of the pension-survivorship part in week_end's month"),
            c("conferences_week", "int64", "Conferences (§2.4) held in the week"),
            c("conference_attended_week", "int64", "Σ people who attended them"),
            c("conference_registrations_week", "int64", "Σ people who registered for voluntary BHXH at them"),
            c("conference_registrations_ytd", "int64", "... at conferences held from 1 January to week_end"),
            c("covid_reviews_week", "int64", "Covid labour reviews (§1.1, one per unit and month reviewed) done in the week"),
            c(
                "collection_target",
                "int64",
                "Decision 06/QĐ-BHXH collection target of week_end's year (plan_targets), VND; null when none",
            ),
            c(
                "collection_expected",
                "int64",
                "Straight-line expectation for week_end: target × days from 1 January to week_end ÷ days in the year, \
                 halves up, VND",
            ),
            c("collection_share", "float64", "collected_ytd ÷ collection_target (null without a target)"),
            c("compulsory_target", "int64", "Decision 06 compulsory participants target for the year end"),
            c(
                "compulsory_expected",
                "int64",
                "Straight line from the level at the end of the previous year (its December) to the target at the year \
                 end, at week_end, halves up",
            ),
            c("voluntary_target", "int64", "Decision 06 voluntary BHXH participants target"),
            c("voluntary_expected", "int64", "Straight line from the level on 31 December of the previous year to the target"),
            c("household_hi_target", "int64", "Decision 06 household BHYT members target"),
            c("household_hi_expected", "int64", "Straight line from the level on 31 December of the previous year to the target"),
        ]
    };
}

const fn concat<const A: usize, const B: usize, const C: usize, const N: usize>(
    a: [GoldColumn; A],
    b: [GoldColumn; B],
    z: [GoldColumn; C],
) -> [GoldColumn; N] {
    assert!(A + B + C == N);
    let mut out = [const { c("", "", "") }; N];
    let mut i = 0;
    while i < A {
        out[i] = c(a[i].name, a[i].dtype, a[i].doc);
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[A + j] = c(b[j].name, b[j].dtype, b[j].doc);
        j += 1;
    }
    let mut k = 0;
    while k < C {
        out[A + B + k] = c(z[k].name, z[k].dtype, z[k].doc);
        k += 1;
    }
    out
}

const N_WEEK: usize = 5;
const N_FIG: usize = 33;

static PROVINCE_WEEKLY_COLUMNS: [GoldColumn; N_WEEK + 3 + N_FIG] = concat(
    week_columns!(),
    [
        c("province_code", "string", "Province (2020 code); the Hive partition"),
        c("province_code_2025", "string", "The province it belongs to since the merger of 1 July 2025"),
        c("province_name", "string", "Province name (2020)"),
    ],
    figure_columns!(),
);

static PROVINCE_WEEKLY_2025_COLUMNS: [GoldColumn; N_WEEK + 3 + N_FIG] = concat(
    week_columns!(),
    [
        c("province_code", "string", "Province of the 1 July 2025 merger (34 codes); the Hive partition"),
        c("province_name", "string", "Province name (2025)"),
        c("provinces_2020", "string", "The 2020 provinces it merges, comma-separated 2-digit codes"),
    ],
    figure_columns!(),
);

static NATIONAL_WEEKLY_COLUMNS: [GoldColumn; N_WEEK + 1 + N_FIG] = concat(
    week_columns!(),
    [c("country", "string", "`VN`: the whole country (people counted once even when declared in two provinces)")],
    figure_columns!(),
);

pub const PROVINCE_WEEKLY: GoldTable = GoldTable {
    name: super::PROVINCE_WEEKLY,
    doc: "§5 The weekly report to BHXH Việt Nam: one row per province (2020) and ISO week, every province every \
          week (no activity is a row of zeros). A run reports the last week that ended before its as-of day: the \
          Monday run (or a backfill) replaces that week's rows; any run fills the weeks of that calendar year no \
          run has computed; rows already published are otherwise kept (see `data_as_of`; `bhxh backfill` \
          recomputes past weeks as they were). §4 plan vs target: the \
          `*_target` and `*_expected` columns, and `plan_vs_target`.",
    key: &["week"],
    columns: &PROVINCE_WEEKLY_COLUMNS,
};

pub const PROVINCE_WEEKLY_2025: GoldTable = GoldTable {
    name: super::PROVINCE_WEEKLY_2025,
    doc: "`province_weekly` for the 34 provinces of the 1 July 2025 merger, so the history stays comparable after \
          the reform: the same figures computed over each merged province (people counted once in it), targets \
          summed over its 2020 provinces.",
    key: &["week"],
    columns: &PROVINCE_WEEKLY_2025_COLUMNS,
};

/// Not partitioned: `gold/national_weekly/part-0.parquet`.
pub const NATIONAL_WEEKLY: GoldTable = GoldTable {
    name: super::NATIONAL_WEEKLY,
    doc: "`province_weekly` for the whole country, one row per week; one file, `gold/national_weekly/part-0.parquet` \
          (not partitioned).",
    key: &["week"],
    columns: &NATIONAL_WEEKLY_COLUMNS,
};

pub const PLAN_VS_TARGET: GoldTable = GoldTable {
    name: super::PLAN_VS_TARGET,
    doc: "§4 Decision 06/QĐ-BHXH plan against the actual, per province (2020), year, week and measure: the \
          `province_weekly` target columns in long form. Replaced whole from `province_weekly` by each run.",
    key: &["week", "measure"],
    columns: &[
        c("year", "int64", "Calendar year of week_end (the plan year)"),
        c("week", "string", "ISO week"),
        c("week_end", "date", "Sunday of the week"),
        c("province_code", "string", "Province (2020 code); the Hive partition"),
        c("province_code_2025", "string", "Its province since 1 July 2025"),
        c(
            "measure",
            "string",
            "`collection` (VND collected, year to date), `compulsory`, `voluntary` or `household_hi` (participants)",
        ),
        c("target", "int64", "The year's target (null: none in plan_targets)"),
        c("actual", "int64", "collected_ytd, compulsory_participants, voluntary_participants or household_hi_members"),
        c("expected", "int64", "Straight-line expectation at week_end (see province_weekly)"),
        c("share_of_target", "float64", "actual ÷ target"),
        c("gap_to_expected", "int64", "actual − expected (negative: behind plan)"),
    ],
};

pub const GOLD_TABLES: &[&GoldTable] = &[&PROVINCE_WEEKLY, &PROVINCE_WEEKLY_2025, &NATIONAL_WEEKLY, &PLAN_VS_TARGET];
