//! The coverage stage on a hand-written country: each uninsured reason code,
//! branches, pensioners and short contracts, under-declared wages, an
//! unregistered employer, a unit that should have resumed, officers'
//! worklists and exports, and a later run that reports a worker developed.

fn read_partitioned(lake: &Lake, table: &str) -> polars::prelude::DataFrame {
    bhxh::lake::gold::read_partitioned(&lake.root, table).unwrap().unwrap_or_default()
}
use bhxh::ids::make_tax_code;
use bhxh::lake::{read_parquet, Lake};
use bhxh::person_key::PersonKeyer;
use bhxh::pipeline::{self, RunConfig};
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn tax_code(seed: u32) -> String {
    (seed..)
        .find_map(|k| {
            let d: Vec<u8> = format!("{k:09}").bytes().map(|c| c - b'0').collect();
            make_tax_code(&d.try_into().unwrap())
        })
        .unwrap()
}

struct Country {
    e1: String,
    e2: String,
    e3: String,
    pit_nosi: String,
    pit_unreg: String,
}

fn write(inbox: &Path, name: &str, text: &str) {
    std::fs::write(inbox.join(name), text).unwrap();
}

/// Adds lines to an extract the base country already has.
fn append(inbox: &Path, name: &str, text: &str) {
    let p = inbox.join(name);
    let s = std::fs::read_to_string(&p).unwrap() + text;
    std::fs::write(p, s).unwrap();
}

/// The extracts of 2020-06-08 (tax months 2019-06 … 2020-05).
fn country(inbox: &Path) -> Country {
    std::fs::create_dir_all(inbox).unwrap();
    let c = Country {
        e1: "0100109106".into(),
        e2: "0300588569".into(),
        e3: tax_code(10_200_000),
        pit_nosi: tax_code(812_345_000),
        pit_unreg: tax_code(812_346_000),
    };
    let (e1, e2, e3) = (&c.e1, &c.e2, &c.e3);
    write(
        inbox,
        "tax_employers_20200608.csv",
        &format!(
            "tax_code,name,province_code,status,employees_declared\n\
             {e1},Công ty Một,01,active,20\n\
             {e1}-001,Chi nhánh Một,01,active,\n\
             {e2},Công ty Hai,79,active,5\n\
             {e3},Công ty Ba Không Đăng Ký,01,active,3\n"
        ),
    );
    write(
        inbox,
        "si_units_20200608.csv",
        &format!(
            "unit_code,tax_code,name,province_code,wage_region,officer_id,status\n\
             U1,{e1},Công ty Một,01,1,CB01001,active\n\
             U2,{e2},Công ty Hai,79,1,,active\n"
        ),
    );
    write(
        inbox,
        "officers_20200608.csv",
        "officer_id,name,province_code,weekly_capacity\n\
         CB01001,Trần Thị Quản,01,2\n\
         CB01002,Lê Văn Lý,01,1\n\
         CB79001,Phạm Văn Nam,79,5\n",
    );
    // 600 unrelated people around the cases, so that names and employers have
    // realistic frequencies (the linkage weighs a shared name by its rarity).
    let filler: String = (0..600).map(|i| format!("02{i:08},,Người Thứ {i},1970-01-01,M,02,\n")).collect();
    write(
        inbox,
        "si_people_20200608.csv",
        &("si_number,citizen_id,full_name,birth_date,sex,province_code,pension_since\n\
         0100000001,001090000001,Nguyễn Văn An,1990-01-01,M,01,\n\
         0100000002,001191000002,Trần Thị Bình,1991-02-02,F,01,\n\
         0100000003,001092000003,Lê Văn Cường,1992-03-03,M,01,\n\
         0100000004,001093000004,Phạm Văn Dũng,1993-04-04,M,01,\n\
         0100000005,001155000005,Hoàng Thị Em,1955-05-05,F,01,2015-06-01\n\
         0100000006,001094000006,Vũ Văn Giang,1994-06-06,M,01,\n\
         0100000007,001195000007,Đặng Thị Hà,1995-07-07,F,01,\n\
         0100000008,001096000008,Bùi Thị Lan,1996-08-08,F,01,\n\
         0100000009,001197000009,Đỗ Thị Mai,1997-09-09,F,79,\n"
            .to_string()
            + &filler),
    );
    let months = ["2020-03", "2020-04", "2020-05"];
    let mut wages = String::from("employer_tax_code,person_tax_code,citizen_id,full_name,birth_date,month,taxable_income,contract\n");
    let mut contrib = String::from("unit_code,si_number,month,insured_wage,work_status\n");
    let lan_nfd: String = "BÙI THỊ LAN".nfd().collect();
    for m in months {
        // Insured at U1, declared below the regional minimum wage.
        wages += &format!("{e1},,001090000001,Nguyễn Văn An,1990-01-01,{m},9000000,indefinite\n");
        contrib += &format!("U1,0100000001,{m},3000000,working\n");
        // Known to BHXH, never declared by E1.
        wages += &format!("{e1},,001191000002,Trần Thị Bình,1991-02-02,{m},8000000,fixed\n");
        // Second job: declared at U2 (E2), also paid by E1.
        wages += &format!("{e1},,001092000003,Lê Văn Cường,1992-03-03,{m},3000000,fixed\n");
        wages += &format!("{e2},,001092000003,Lê Văn Cường,1992-03-03,{m},10000000,indefinite\n");
        contrib += &format!("U2,0100000003,{m},10000000,working\n");
        // Paid under the branch code, declared by the head office's unit.
        wages += &format!("{e1}-001,,001093000004,Phạm Văn Dũng,1993-04-04,{m},7000000,indefinite\n");
        contrib += &format!("U1,0100000004,{m},7000000,working\n");
        // A pensioner still working, and a short contract: never uninsured.
        wages += &format!("{e1},,001155000005,Hoàng Thị Em,1955-05-05,{m},6000000,indefinite\n");
        wages += &format!("{e1},,,Khúc Văn Thời,1988-01-01,{m},2000000,short\n");
        // Not in si_people at all.
        wages += &format!("{e1},{},,Ngô Văn Khải,1989-10-10,{m},6500000,indefinite\n", c.pit_nosi);
        // Declared in March and April only.
        wages += &format!("{e1},,001094000006,Vũ Văn Giang,1994-06-06,{m},6000000,fixed\n");
        // On unpaid leave in May: nothing due that month.
        wages += &format!("{e1},,001195000007,Đặng Thị Hà,1995-07-07,{m},6000000,indefinite\n");
        contrib += &format!(
            "U1,0100000007,{m},6000000,{}\n",
            if m == "2020-05" { "unpaid_leave" } else { "working" }
        );
        // NFD upper-case name and the old CMND: still the same person, declared.
        wages += &format!("{e1},,123456788,{lan_nfd},1996-08-08,{m},24000000,indefinite\n");
        contrib += &format!("U1,0100000008,{m},6000000,working\n");
        // An unregistered employer's worker.
        wages += &format!("{e3},{},,Lý Văn Phúc,1985-05-15,{m},5000000,indefinite\n", c.pit_unreg);
    }
    for m in ["2020-03", "2020-04"] {
        contrib += &format!("U1,0100000006,{m},6000000,working\n");
    }
    // U2 says everyone is back in June, but Mai is still on unpaid leave.
    contrib += "U2,0100000009,2020-01,5000000,working\n";
    contrib += "U2,0100000009,2020-06,5000000,unpaid_leave\n";
    contrib += "U2,0100000003,2020-06,10000000,working\n";
    write(inbox, "tax_wages_20200608.csv", &wages);
    write(inbox, "si_contributions_20200608.csv", &contrib);
    write(
        inbox,
        "covid_reviews_20200608.csv",
        "unit_code,month,reviewed_on,continuing,terminated,unpaid_leave,suspended_contract,stopped_paid,resume_month\n\
         U2,2020-04,2020-04-20,1,0,1,0,0,2020-06\n\
         U2,2020-06,2020-06-05,2,0,0,0,0,2020-06\n",
    );
    c
}

fn config(dir: &Path, as_of: &str) -> RunConfig {
    let cfg = RunConfig::new(dir.join("inbox"), dir.join("lake"), repo("pipelines/reference"), as_of.parse().unwrap());
    assert_eq!(cfg.linkage, repo("pipelines/linkage.toml"));
    RunConfig { threads: 1, ..cfg }
}

fn col_str(df: &DataFrame, c: &str) -> Vec<Option<String>> {
    df.column(c).unwrap().str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
}
fn col_i64(df: &DataFrame, c: &str) -> Vec<Option<i64>> {
    df.column(c).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().iter().collect()
}

#[test]
fn reason_codes_worklists_exports_and_development() {
    let dir = tempfile::tempdir().unwrap();
    let c = country(&dir.path().join("inbox"));
    let report = pipeline::run(&config(dir.path(), "2020-06-08")).unwrap();
    let lake = Lake::new(dir.path().join("lake"));
    let link = report.link.expect("linked");
    assert_eq!(link.ambiguous, 0);

    // --- uninsured_workers: one row per person × employer, by reason.
    let k = PersonKeyer::demo();
    let gold = read_partitioned(&lake, "uninsured_workers");
    let (keys, heads, reasons, months, last, method) = (
        col_str(&gold, "person_key"),
        col_str(&gold, "employer_tax_code"),
        col_str(&gold, "reason"),
        col_i64(&gold, "months_uninsured"),
        col_str(&gold.clone().lazy().with_column(col("last_month").cast(DataType::String)).collect().unwrap(), "last_month"),
        col_str(&gold, "match_method"),
    );
    let mut got: HashMap<(String, String), (String, i64, String, String)> = HashMap::new();
    for i in 0..gold.height() {
        got.insert(
            (keys[i].clone().unwrap(), heads[i].clone().unwrap()),
            (reasons[i].clone().unwrap(), months[i].unwrap(), last[i].clone().unwrap(), method[i].clone().unwrap()),
        );
    }
    let row = |key: String, head: &str| got.get(&(key, head.to_string())).cloned();
    let e1 = c.e1.as_str();
    assert_eq!(row(k.si("0100000002"), e1), Some(("not_declared_by_employer".into(), 3, "2020-05-01".into(), "citizen_id".into())));
    assert_eq!(row(k.tax(&format!("pit:{}", c.pit_nosi)), e1), Some(("no_si_record".into(), 3, "2020-05-01".into(), "unmatched".into())));
    assert_eq!(row(k.si("0100000003"), e1), Some(("declared_elsewhere".into(), 0, "2020-05-01".into(), "citizen_id".into())));
    assert_eq!(row(k.si("0100000006"), e1), Some(("not_declared_by_employer".into(), 1, "2020-05-01".into(), "citizen_id".into())));
    assert_eq!(row(k.si("0100000007"), e1).map(|r| (r.0, r.1)), Some(("not_declared_by_employer".into(), 1)));
    assert_eq!(row(k.tax(&format!("pit:{}", c.pit_unreg)), &c.e3).map(|r| r.0), Some("no_si_record".into()));
    for (who, why) in [("0100000001", "insured"), ("0100000004", "branch of the declaring head"), ("0100000005", "pensioner"), ("0100000008", "NFD name with CMND, declared")] {
        assert!(row(k.si(who), e1).is_none(), "{who} ({why}) is not uninsured");
    }
    assert!(row(k.si("0100000003"), &c.e2).is_none(), "declared by its own employer");
    assert_eq!(gold.height(), 6, "no short-contract worker, no extra row");
    let units = col_str(&gold, "unit_code");
    let provinces = col_str(&gold, "province_code");
    for i in 0..gold.height() {
        let e3 = heads[i].as_deref() == Some(c.e3.as_str());
        assert_eq!(units[i].as_deref(), if e3 { None } else { Some("U1") });
        assert_eq!(provinces[i].as_deref(), Some("01"));
    }
    // No raw identity in gold.
    for name in gold.get_column_names() {
        assert!(!["citizen_id", "full_name", "si_number", "person_ref"].contains(&name.as_str()));
    }

    // --- unregistered_employers: E3 only (E1, E2 have units).
    let unreg = read_partitioned(&lake, "unregistered_employers");
    assert_eq!(col_str(&unreg, "tax_code"), [Some(c.e3.clone())]);
    assert_eq!(col_i64(&unreg, "employees_in_tax"), [Some(1)]);
    assert_eq!(col_i64(&unreg, "wage_fund_3m"), [Some(15_000_000)]);
    assert_eq!(col_i64(&unreg, "wage_months"), [Some(3)], "coverage.toml's recent_months");
    assert_eq!(col_i64(&unreg, "priority"), [Some(1)]);
    // 15,000,000 / 3 months × 32% (2020 rates).
    assert_eq!(col_i64(&unreg, "estimated_monthly_contributions"), [Some(1_600_000)]);

    // --- under_declared_wages: An below the minimum wage, Lan below half her income.
    let under = read_partitioned(&lake, "under_declared_wages");
    let mut rules: Vec<(String, String, i64)> = (0..under.height())
        .map(|i| (col_str(&under, "person_key")[i].clone().unwrap(), col_str(&under, "rule")[i].clone().unwrap(), col_i64(&under, "insured_wage")[i].unwrap()))
        .collect();
    rules.sort();
    let mut expect: Vec<(String, String, i64)> = Vec::new();
    for _ in 0..3 {
        expect.push((k.si("0100000001"), "below_min_wage".into(), 3_000_000));
        expect.push((k.si("0100000008"), "below_income_share".into(), 6_000_000));
    }
    expect.sort();
    assert_eq!(rules, expect);

    // --- covid: U2 reports everyone back in June while Mai is still on leave.
    let resume = read_partitioned(&lake, "should_have_resumed");
    assert_eq!(col_str(&resume, "unit_code"), [Some("U2".to_string())]);
    assert_eq!(col_i64(&resume, "declared_out"), [Some(1)]);
    assert_eq!(col_i64(&resume, "pre_covid_headcount"), [Some(1)]);
    let monitor = read_partitioned(&lake, "covid_review_monitor");
    assert_eq!(monitor.height(), 2);

    // --- worklists: U1 to its own officer; E3 balanced to the idle officer;
    // U2 (no officer) to the only officer of province 79.
    let plan = read_partitioned(&lake, "officer_worklists");
    let (kind, key, officer, by, week) = (
        col_str(&plan, "item_kind"),
        col_str(&plan, "item_key"),
        col_str(&plan, "officer_id"),
        col_str(&plan, "assigned_by"),
        col_str(&plan, "week"),
    );
    let items: Vec<(String, String, String, String, String)> = (0..plan.height())
        .map(|i| (kind[i].clone().unwrap(), key[i].clone().unwrap(), officer[i].clone().unwrap(), by[i].clone().unwrap(), week[i].clone().unwrap()))
        .collect();
    assert!(items.contains(&("uninsured_workers".into(), "U1".into(), "CB01001".into(), "unit_officer".into(), "2020-W24".into())));
    assert!(items.contains(&("unregistered_employer".into(), c.e3.clone(), "CB01002".into(), "balanced".into(), "2020-W24".into())));
    assert!(items.contains(&("should_have_resumed".into(), "U2".into(), "CB79001".into(), "balanced".into(), "2020-W24".into())));
    assert_eq!(items.len(), 3);
    let officers = col_str(&gold, "officer_id");
    for i in 0..gold.height() {
        let e3 = heads[i].as_deref() == Some(c.e3.as_str());
        assert_eq!(officers[i].as_deref(), Some(if e3 { "CB01002" } else { "CB01001" }));
    }

    // --- exports: identities, per province, UTF-8 with BOM.
    let p01 = std::fs::read(dir.path().join("lake/exports/2020-06-08/01/officer_worklists.csv")).unwrap();
    assert!(p01.starts_with("\u{FEFF}".as_bytes()));
    let text = String::from_utf8(p01).unwrap();
    assert!(text.contains("Trần Thị Bình") && text.contains("001191000002") && text.contains(&c.pit_nosi));
    assert!(!text.contains("U2"), "province 01's file holds province 01's rows only");
    let p79 = std::fs::read_to_string(dir.path().join("lake/exports/2020-06-08/79/officer_worklists.csv")).unwrap();
    assert!(p79.contains("U2") && !p79.contains("Trần Thị Bình"));
    let p02 = std::fs::read_to_string(dir.path().join("lake/exports/2020-06-08/02/officer_worklists.csv")).unwrap();
    assert_eq!(p02.lines().count(), 1, "a province with nothing this week gets the header only");
    let inspection = std::fs::read_to_string(dir.path().join("lake/exports/2020-06-08/01/inspection_list.csv")).unwrap();
    let e3_line = inspection.lines().find(|l| l.contains(c.e3.as_str())).expect("E3 on the inspection list");
    assert!(e3_line.contains("1 lao động có thu nhập trong dữ liệu thuế 3 tháng gần nhất, tổng thu nhập chịu thuế 15.000.000 đồng"), "{e3_line}");
    // U1: uninsured workers and, in the same row, An's declarations below
    // the minimum wage and Lan's 6,000,000 a month against 24,000,000.
    let u1_lines: Vec<&str> = inspection.lines().filter(|l| l.contains(",U1,")).collect();
    assert_eq!(u1_lines.len(), 1, "{inspection}");
    assert!(u1_lines[0].contains("uninsured_workers") && u1_lines[0].contains("under_declared_wages"), "{}", u1_lines[0]);
    assert!(
        u1_lines[0].contains(
            "2 lao động đóng BHXH thấp hơn tiền lương thực tế: 3 lượt khai tiền lương đóng BHXH thấp hơn mức lương tối thiểu vùng; \
             3 lượt khai tiền lương đóng BHXH tổng 18.000.000 đồng so với thu nhập chịu thuế 72.000.000 đồng"
        ),
        "{}",
        u1_lines[0]
    );

    // --- a month later E1 declares Bình: the next run reports her developed.
    let inbox = dir.path().join("inbox");
    write(&inbox, "si_contributions_20200708.csv", "unit_code,si_number,month,insured_wage,work_status\nU1,0100000002,2020-07,8000000,working\n");
    pipeline::run(&config(dir.path(), "2020-07-08")).unwrap();
    let results = read_partitioned(&lake, "worklist_results");
    let wk = col_str(&results, "week");
    let off = col_str(&results, "officer_id");
    let i = (0..results.height()).find(|&i| wk[i].as_deref() == Some("2020-W24") && off[i].as_deref() == Some("CB01001")).expect("W24 results kept");
    assert_eq!(col_i64(&results, "workers_listed")[i], Some(4));
    assert_eq!(col_i64(&results, "workers_developed")[i], Some(1));
    assert_eq!(col_i64(&results, "units_developed")[i], Some(1));
    // The same by calendar month: listed in June, developed by July's run.
    let monthly = read_partitioned(&lake, "worklist_results_monthly");
    let (mo, moff) = (col_str(&monthly.clone().lazy().with_column(col("month").cast(DataType::String)).collect().unwrap(), "month"), col_str(&monthly, "officer_id"));
    let of = |month: &str, c: &str| {
        let i = (0..monthly.height()).find(|&i| mo[i].as_deref() == Some(month) && moff[i].as_deref() == Some("CB01001")).expect("CB01001's month");
        col_i64(&monthly, c)[i]
    };
    assert_eq!((of("2020-06-01", "workers_listed"), of("2020-06-01", "workers_developed")), (Some(4), Some(0)));
    assert_eq!((of("2020-07-01", "workers_developed"), of("2020-07-01", "units_developed")), (Some(1), Some(1)));
    let history = read_parquet(&lake.silver_file("worklist_history")).unwrap();
    let first: Vec<Option<i32>> = history.column("first_listed_on").unwrap().cast(&DataType::Int32).unwrap().i32().unwrap().iter().collect();
    let june = (NaiveDate::from_ymd_opt(2020, 6, 8).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
    assert!(first.iter().filter(|d| **d == Some(june)).count() >= 7, "first listings of June are kept");
}

/// A second job declared at a unit that si_units holds without a tax code,
/// or at a unit si_units does not hold, still covers the person's month:
/// the employer that did not declare them lists them as declared
/// elsewhere, never as uninsured.
#[test]
fn a_declaration_at_a_unit_without_a_tax_code_is_declared_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let c = country(&inbox);
    append(&inbox, "si_units_20200608.csv", "U3,,Hộ Kinh Doanh Ba,01,1,,active\n");
    append(
        &inbox,
        "si_people_20200608.csv",
        "0100000010,001098000010,Trịnh Văn Sơn,1998-10-10,M,01,\n0100000011,001099000011,Quách Văn Tài,1999-11-11,M,01,\n",
    );
    let e1 = c.e1.as_str();
    for m in ["2020-03", "2020-04", "2020-05"] {
        append(
            &inbox,
            "tax_wages_20200608.csv",
            &format!(
                "{e1},,001098000010,Trịnh Văn Sơn,1998-10-10,{m},4000000,fixed\n{e1},,001099000011,Quách Văn Tài,1999-11-11,{m},4000000,fixed\n"
            ),
        );
        // Sơn at U3 (no tax code); Tài at U9 (not in si_units) in March only.
        append(&inbox, "si_contributions_20200608.csv", &format!("U3,0100000010,{m},5000000,working\n"));
        if m == "2020-03" {
            append(&inbox, "si_contributions_20200608.csv", &format!("U9,0100000011,{m},5000000,working\n"));
        }
    }
    pipeline::run(&config(dir.path(), "2020-06-08")).unwrap();
    let lake = Lake::new(dir.path().join("lake"));
    let gold = read_partitioned(&lake, "uninsured_workers");
    let k = PersonKeyer::demo();
    let (keys, heads, reasons, months, elsewhere) = (
        col_str(&gold, "person_key"),
        col_str(&gold, "employer_tax_code"),
        col_str(&gold, "reason"),
        col_i64(&gold, "months_uninsured"),
        col_i64(&gold, "months_declared_elsewhere"),
    );
    let row = |si: &str| {
        (0..gold.height())
            .find(|&i| keys[i].as_deref() == Some(k.si(si).as_str()) && heads[i].as_deref() == Some(e1))
            .map(|i| (reasons[i].clone().unwrap(), months[i].unwrap(), elsewhere[i].unwrap()))
    };
    assert_eq!(row("0100000010"), Some(("declared_elsewhere".into(), 0, 3)), "declared at U3 every month");
    assert_eq!(row("0100000011"), Some(("not_declared_by_employer".into(), 2, 1)), "declared at U9 in March only");
    // The cases of the base country are unchanged.
    assert_eq!(row("0100000003"), Some(("declared_elsewhere".into(), 0, 3)));
}

/// A branch registered as its own unit, with a worker it pays and never
/// declares: the worker is uninsured at the branch's unit, and the
/// inspection list names that unit with the branch's own tax code (the
/// registration's), not the head office's.
#[test]
fn a_branch_units_uninsured_worker_is_inspected_under_the_branchs_tax_code() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let c = country(&inbox);
    let e1 = c.e1.as_str();
    append(&inbox, "si_units_20200608.csv", &format!("U4,{e1}-001,Chi nhánh Một,01,1,CB01001,active\n"));
    append(&inbox, "si_people_20200608.csv", "0100000012,001090000012,Cao Văn Vinh,1990-12-12,M,01,\n");
    for m in ["2020-03", "2020-04", "2020-05"] {
        append(&inbox, "tax_wages_20200608.csv", &format!("{e1}-001,,001090000012,Cao Văn Vinh,1990-12-12,{m},7500000,indefinite\n"));
    }
    pipeline::run(&config(dir.path(), "2020-06-08")).unwrap();
    let gold = read_partitioned(&Lake::new(dir.path().join("lake")), "uninsured_workers");
    let k = PersonKeyer::demo();
    let i = (0..gold.height()).find(|&i| col_str(&gold, "person_key")[i].as_deref() == Some(k.si("0100000012").as_str())).expect("Vinh is uninsured");
    assert_eq!(col_str(&gold, "unit_code")[i].as_deref(), Some("U4"));
    assert_eq!(col_str(&gold, "employer_tax_code")[i].as_deref(), Some(e1), "the gold row groups by head office");
    assert_eq!(col_i64(&gold, "months_uninsured")[i], Some(3));

    let list = std::fs::read_to_string(dir.path().join("lake/exports/2020-06-08/01/inspection_list.csv")).unwrap();
    let mut rdr = csv::ReaderBuilder::new().from_reader(list.trim_start_matches('\u{FEFF}').as_bytes());
    let header = rdr.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let tax_of = |unit: &str| rows.iter().find(|r| &r[at("Mã đơn vị")] == unit).map(|r| r[at("Mã số thuế")].to_string());
    assert_eq!(tax_of("U4"), Some(format!("{e1}-001")));
    assert_eq!(tax_of("U1"), Some(e1.to_string()));
}

/// A unit whose review says its 3 workers are back, and which declares 1 with
/// nobody out: it has dropped 2 from its declarations and should have
/// resumed. Its worklist item is developed only when the declarations reach
/// the review's 3, not in a month with 2.
#[test]
fn a_unit_that_declares_fewer_than_its_review_counts_back_should_have_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    country(&inbox);
    append(&inbox, "si_units_20200608.csv", "U5,,Công ty Năm,79,1,CB79001,active\n");
    append(&inbox, "si_contributions_20200608.csv", "U5,0200000001,2020-05,6000000,working\nU5,0200000001,2020-06,6000000,working\n");
    append(&inbox, "covid_reviews_20200608.csv", "U5,2020-06,2020-06-05,3,0,0,0,0,2020-06\n");
    pipeline::run(&config(dir.path(), "2020-06-08")).unwrap();
    let lake = Lake::new(dir.path().join("lake"));
    let resume = read_partitioned(&lake, "should_have_resumed");
    let i = (0..resume.height()).find(|&i| col_str(&resume, "unit_code")[i].as_deref() == Some("U5")).expect("U5 should have resumed");
    let at = |c: &str| col_i64(&resume, c)[i];
    assert_eq!((at("review_headcount"), at("declared_due"), at("declared_out"), at("workers_missing")), (Some(3), Some(1), Some(0), Some(2)));
    // 2 workers at the unit's average due wage, 6,000,000, × 32% (2020 rates).
    assert_eq!(at("estimated_monthly_contributions"), Some(3_840_000));
    let u2 = (0..resume.height()).find(|&i| col_str(&resume, "unit_code")[i].as_deref() == Some("U2")).unwrap();
    assert_eq!(col_i64(&resume, "workers_missing")[u2], Some(1), "U2: Mai still out, 2 reviewed, 1 declared due");

    let developed = |lake: &Lake| {
        let h = read_parquet(&lake.silver_file("worklist_history")).unwrap();
        let (kind, key) = (col_str(&h, "item_kind"), col_str(&h, "item_key"));
        let on = col_str(&h.clone().lazy().with_column(col("developed_on").cast(DataType::String)).collect().unwrap(), "developed_on");
        let i = (0..h.height()).find(|&i| kind[i].as_deref() == Some("should_have_resumed") && key[i].as_deref() == Some("U5")).expect("U5 listed");
        on[i].clone()
    };
    assert_eq!(developed(&lake), None);
    // July: 2 of the 3 declared, nobody out: not yet back.
    write(&inbox, "si_contributions_20200708.csv", "unit_code,si_number,month,insured_wage,work_status\nU5,0200000001,2020-07,6000000,working\nU5,0200000002,2020-07,6000000,working\n");
    pipeline::run(&config(dir.path(), "2020-07-08")).unwrap();
    assert_eq!(developed(&lake), None, "2 declared of the review's 3");
    // August: all 3.
    write(
        &inbox,
        "si_contributions_20200810.csv",
        "unit_code,si_number,month,insured_wage,work_status\nU5,0200000001,2020-08,6000000,working\nU5,0200000002,2020-08,6000000,working\nU5,0200000003,2020-08,6000000,working\n",
    );
    pipeline::run(&config(dir.path(), "2020-08-10")).unwrap();
    assert_eq!(developed(&lake).as_deref(), Some("2020-08-10"));
}

/// An employer the tax registry lists as absent from its address, still
/// paying wages and with no BHXH unit, is an unregistered employer all the
/// same: listed with its status, given an officer, and so is its worker. One
/// that is closed with employees declared but no wages is not listed.
#[test]
fn an_absent_employer_still_paying_wages_is_listed_and_its_worker_has_an_officer() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    country(&inbox);
    let (e4, e5) = (tax_code(10_400_000), tax_code(10_500_000));
    append(&inbox, "tax_employers_20200608.csv", &format!("{e4},Công ty Bốn Vắng Mặt,01,absent,2\n{e5},Công ty Năm Đã Đóng,01,closed,7\n"));
    let pit = tax_code(812_347_000);
    for m in ["2020-03", "2020-04", "2020-05"] {
        append(&inbox, "tax_wages_20200608.csv", &format!("{e4},{pit},,Mạc Văn Quang,1987-07-07,{m},7000000,indefinite\n"));
    }
    pipeline::run(&config(dir.path(), "2020-06-08")).unwrap();
    let lake = Lake::new(dir.path().join("lake"));
    let unreg = read_partitioned(&lake, "unregistered_employers");
    let codes = col_str(&unreg, "tax_code");
    let i = (0..unreg.height()).find(|&i| codes[i].as_deref() == Some(e4.as_str())).expect("the absent employer is listed");
    assert_eq!(col_str(&unreg, "tax_status")[i].as_deref(), Some("absent"));
    assert_eq!((col_i64(&unreg, "employees_in_tax")[i], col_i64(&unreg, "wage_fund_3m")[i]), (Some(1), Some(21_000_000)));
    let officer = col_str(&unreg, "officer_id")[i].clone();
    assert!(officer.is_some(), "balanced to an officer of province 01");
    assert!(!codes.contains(&Some(e5.clone())), "closed, no wages: not listed on its declared employees");
    let active = (0..unreg.height()).find(|&i| codes[i].as_deref() == Some(tax_code(10_200_000).as_str())).unwrap();
    assert_eq!(col_str(&unreg, "tax_status")[active].as_deref(), Some("active"));
    let gold = read_partitioned(&lake, "uninsured_workers");
    let k = PersonKeyer::demo();
    let w = (0..gold.height()).find(|&i| col_str(&gold, "person_key")[i].as_deref() == Some(k.tax(&format!("pit:{pit}")).as_str())).expect("Quang is uninsured");
    assert_eq!(col_str(&gold, "officer_id")[w], officer, "the worker goes with the employer's item");
    let inspection = std::fs::read_to_string(dir.path().join("lake/exports/2020-06-08/01/inspection_list.csv")).unwrap();
    let line = inspection.lines().find(|l| l.contains(e4.as_str())).expect("on the inspection list");
    assert!(line.contains("tổng thu nhập chịu thuế 21.000.000 đồng (trong dữ liệu thuế: không hoạt động tại địa chỉ đã đăng ký)"), "{line}");
}

/// `rules_in_force` of the lake's latest run manifest (run ids sort by time).
fn rules_in_force(lake: &Path) -> serde_json::Value {
    let mut files: Vec<_> = std::fs::read_dir(lake.join("_runs")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(files.last().unwrap()).unwrap()).unwrap();
    doc["rules_in_force"].clone()
}

/// The linkage rules are dated too: an amendment to linkage.toml applies
/// from its month on, the night that enters that month links everyone
/// again (the links are otherwise kept while their inputs are unchanged),
/// the manifest names the edition, and the night equals a rebuild.
#[test]
fn a_linkage_amendment_applies_from_its_month_and_the_night_that_enters_it_links_again() {
    let dir = tempfile::tempdir().unwrap();
    country(&dir.path().join("inbox"));
    let rules = dir.path().join("linkage.toml");
    let shipped = std::fs::read_to_string(repo("pipelines/linkage.toml")).unwrap();
    // From July no pair is evidence enough for a link or a review.
    std::fs::write(&rules, shipped + "\n[[amendment]]\nvalid_from = \"2020-07\"\nsource = \"test\"\n[amendment.decision]\nmatch_weight = 200.0\nreview_weight = 150.0\n").unwrap();
    let cfg = |lake: &str, as_of: &str| RunConfig { linkage: rules.clone(), lake: dir.path().join(lake), ..config(dir.path(), as_of) };
    let edition = |lake: &str| {
        let e = &rules_in_force(&dir.path().join(lake))["linkage.toml"];
        assert_eq!(e["blake3"].as_str().unwrap(), blake3::hash(&std::fs::read(&rules).unwrap()).to_hex().as_str());
        e["valid_from"].as_str().unwrap().to_string()
    };
    let link = |r: &pipeline::RunReport| r.link.clone().expect("the link stage ran");
    let reasons = |lake: &str| {
        let mut r = col_str(&read_partitioned(&Lake::new(dir.path().join(lake)), "uninsured_workers"), "reason");
        r.sort();
        r
    };

    // June, twice: the first edition; the second night keeps the links.
    let june = link(&pipeline::run(&cfg("lake", "2020-06-08")).unwrap());
    assert!(!june.skipped && june.matched > 0, "{june:?}");
    assert_eq!(edition("lake"), "2018-01");
    let again = link(&pipeline::run(&cfg("lake", "2020-06-09")).unwrap());
    assert!(again.skipped, "same inputs, same edition: kept");
    // An amendment for a later year, written ahead: nothing in force changes.
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, text + "\n[[amendment]]\nvalid_from = \"2099-01\"\nsource = \"test\"\n[amendment.decision]\nmargin = 7.0\n").unwrap();
    let ahead = link(&pipeline::run(&cfg("lake", "2020-06-10")).unwrap());
    assert!(ahead.skipped, "an amendment not yet in force links nobody again");
    assert_eq!(edition("lake"), "2018-01");
    assert!(reasons("lake").contains(&Some("not_declared_by_employer".into())));

    // July, the same lake and inbox: the amendment is in force, so the
    // night links again and nobody is linked.
    let july = link(&pipeline::run(&cfg("lake", "2020-07-08")).unwrap());
    assert!(!july.skipped, "the night that enters the amendment's month links again");
    assert_eq!((july.matched, july.ambiguous, july.unmatched), (0, 0, june.tax_people), "{july:?}");
    assert_eq!(edition("lake"), "2020-07");
    let status = col_str(&read_parquet(&Lake::new(dir.path().join("lake")).silver_file("person_links")).unwrap(), "status");
    assert!(status.iter().all(|s| s.as_deref() == Some("unmatched")), "{status:?}");
    // Without a link, every uninsured worker has no BHXH record.
    let night = reasons("lake");
    assert!(!night.is_empty() && night.iter().all(|r| r.as_deref() == Some("no_si_record")), "{night:?}");

    // A rebuild in July from the same inbox links and lists the same.
    pipeline::run(&RunConfig { full: true, ..cfg("rebuilt", "2020-07-08") }).unwrap();
    let links = |lake: &str| std::fs::read(Lake::new(dir.path().join(lake)).silver_file("person_links")).unwrap();
    assert!(links("rebuilt") == links("lake"), "person_links of the night and of the rebuild differ");
    assert_eq!(reasons("rebuilt"), night);
}

/// The coverage rules are dated (src/editions.rs): an amendment to
/// coverage.toml applies from its month on, the manifest names the edition
/// a run applied, and a nightly run that crosses the amendment recomputes
/// what the old edition had computed, so that it equals a rebuild.
#[test]
fn a_coverage_amendment_applies_from_its_month_and_a_nightly_run_that_crosses_it_equals_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    country(&dir.path().join("inbox"));
    let rules = dir.path().join("coverage.toml");
    let shipped = std::fs::read_to_string(repo("pipelines/coverage.toml")).unwrap();
    std::fs::write(
        &rules,
        shipped
            + "\n[[amendment]]\nvalid_from = \"2020-07\"\nsource = \"test\"\n\
               [amendment.unregistered]\nrecent_months = 2\n\
               [amendment.under_declared]\nincome_share_percent = 20\n",
    )
    .unwrap();
    let scoring = dir.path().join("scoring.toml");
    let shipped = std::fs::read_to_string(repo("pipelines/scoring.toml")).unwrap();
    std::fs::write(&scoring, shipped + "\n[[amendment]]\nvalid_from = \"2020-07\"\nsource = \"test\"\n[amendment.model.weights]\nstable_income = 2.0\n").unwrap();
    let cfg = |lake: &str, as_of: &str| RunConfig { coverage: rules.clone(), scoring: scoring.clone(), lake: dir.path().join(lake), ..config(dir.path(), as_of) };
    let under = |lake: &str| {
        let df = read_partitioned(&Lake::new(dir.path().join(lake)), "under_declared_wages");
        let mut rows: Vec<(String, String, i64)> = (0..df.height())
            .map(|i| (col_str(&df, "person_key")[i].clone().unwrap(), col_str(&df, "rule")[i].clone().unwrap(), col_i64(&df, "month")[i].unwrap_or(0)))
            .collect();
        rows.sort();
        rows
    };
    let edition = |lake: &str| {
        let e = rules_in_force(&dir.path().join(lake));
        assert_eq!(e["coverage.toml"]["blake3"].as_str().unwrap(), blake3::hash(&std::fs::read(&rules).unwrap()).to_hex().as_str());
        (e["coverage.toml"]["valid_from"].as_str().unwrap().to_string(), e["scoring.toml"]["valid_from"].as_str().unwrap().to_string())
    };
    let k = PersonKeyer::demo();

    // June: the first edition (Lan's 25% is below 50%).
    pipeline::run(&cfg("lake", "2020-06-08")).unwrap();
    assert_eq!(edition("lake"), ("2018-01".into(), "2018-01".into()));
    let june = under("lake");
    assert_eq!(june.iter().filter(|r| r.0 == k.si("0100000008")).count(), 3, "{june:?}");
    let unreg = read_partitioned(&Lake::new(dir.path().join("lake")), "unregistered_employers");
    assert_eq!(col_i64(&unreg, "wage_months"), [Some(3)]);

    // July, the same lake: the amendment (25% is not below 20%).
    pipeline::run(&cfg("lake", "2020-07-08")).unwrap();
    assert_eq!(edition("lake"), ("2020-07".into(), "2020-07".into()));
    let july = under("lake");
    assert_eq!(july.iter().filter(|r| r.0 == k.si("0100000008")).count(), 0, "{july:?}");
    assert_eq!(july.iter().filter(|r| r.0 == k.si("0100000001")).count(), 3, "An is still below the minimum wage");
    let unreg = read_partitioned(&Lake::new(dir.path().join("lake")), "unregistered_employers");
    assert_eq!(col_i64(&unreg, "wage_months"), [Some(2)]);

    // A rebuild in July from the same inbox gives the same answers.
    pipeline::run(&RunConfig { full: true, ..cfg("rebuilt", "2020-07-08") }).unwrap();
    assert_eq!(under("rebuilt"), july);
    let rebuilt = read_partitioned(&Lake::new(dir.path().join("rebuilt")), "unregistered_employers");
    assert_eq!(col_i64(&rebuilt, "wage_fund_3m"), col_i64(&unreg, "wage_fund_3m"));

    // Before the first edition there are no rules: the run says so.
    let err = format!("{:#}", pipeline::run(&cfg("early", "2017-12-08")).unwrap_err());
    assert!(err.contains("no edition in force in 2017-12"), "{err}");
}
