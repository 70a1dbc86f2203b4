//! The weekly report end to end on a small hand-written inbox: every figure of
//! one province's row for one week computed by hand below, the 2025-province
//! and national roll-ups, a backfilled week equal to the week as first
//! computed, and the per-province workbooks read back with a real XLSX reader.
//!
//! Extracts dated 2020-06-01 (a Monday). Runs as of Wednesday 3 June (it
//! lists the uninsured worker and the unregistered employer: "found" that
//! week) and Monday 8 June, which reports 2020-W23 (1–7 June). Rates of 2020:
//! 32% in all; no wage reaches a ceiling.

use bhxh::export::{self, Cell, WEEKLY_REPORT_COLUMNS};
use bhxh::lake::gold;
use bhxh::pipeline::{self, RunConfig};
use bhxh::publish::{self, PROVINCE_WEEKLY};
use calamine::{open_workbook, Data, Reader, Xlsx};
use chrono::NaiveDate;
use polars::prelude::*;
use std::path::Path;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A1, A2 (Hà Nội 01); H1 (Hà Giang 02) and T1 (Tuyên Quang 08), merged into
/// Tuyên Quang (08) on 1 July 2025. P1 works at A1 and A2 in May (second
/// job); P5 at H1 and T1 (two provinces).
fn inbox(dir: &Path) {
    let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    w(
        "si_units_20200601.csv",
        "unit_code,tax_code,name,province_code,wage_region,officer_id,status\n\
         A1,0300588569,Công ty A1,01,1,CB01,active\n\
         A2,,Công ty A2,01,1,CB01,active\n\
         H1,,Công ty H1,02,3,CB02,active\n\
         T1,,Công ty T1,08,3,CB08,active\n",
    );
    let mut c = String::from("unit_code,si_number,month,insured_wage,work_status\n");
    for m in 1..=5 {
        c += &format!("A1,0100000001,2020-{m:02},5000000,working\n");
        c += &format!("A1,0100000002,2020-{m:02},10000000,working\n");
    }
    c += "A1,0100000003,2020-05,5000000,unpaid_leave\n";
    c += "A2,0100000001,2020-05,5000000,working\n";
    c += "A2,0100000004,2020-05,6000000,working\n";
    c += "H1,0100000005,2020-05,4000000,working\n";
    c += "T1,0100000005,2020-05,4000000,working\n";
    c += "T1,0100000006,2020-05,4000000,working\n";
    w("si_contributions_20200601.csv", &c);
    w(
        "si_people_20200601.csv",
        "si_number,citizen_id,full_name,birth_date,sex,province_code\n\
         0100000001,001085000001,Nguyễn Văn Một,1985-01-01,M,01\n\
         0100000002,001085000002,Trần Thị Hai,1985-02-02,F,01\n\
         0100000003,001085000003,Lê Văn Ba,1985-03-03,M,01\n\
         0100000004,001085000004,Phạm Thị Bốn,1985-04-04,F,01\n\
         0100000005,002085000005,Hoàng Văn Năm,1985-05-05,M,02\n\
         0100000006,008085000006,Vũ Thị Sáu,1985-06-06,F,08\n\
         0100000011,001070000011,Đỗ Văn Mười Một,1970-01-01,M,01\n\
         0100000012,001070000012,Bùi Thị Mười Hai,1970-02-02,F,01\n\
         0100000013,001070000013,Đặng Văn Mười Ba,1970-03-03,M,01\n",
    );
    // A2 suspends its pension part June–August.
    w("si_suspensions_20200601.csv", "unit_code,from_month,to_month,decision_no\nA2,2020-06,2020-08,QD-1\n");
    // R2 sent twice; R4 in 2020-W01 but in 2019; R5 on the as-of day.
    w(
        "si_payments_20200601.csv",
        "unit_code,paid_on,amount,reference\n\
         A1,2019-12-31,700000,R4\n\
         A1,2020-05-31,2000000,R3\n\
         A1,2020-06-01,1000000,R1\n\
         A1,2020-06-07,500000,R2\n\
         A1,2020-06-07,500000,R2\n\
         A1,2020-06-08,300000,R5\n",
    );
    w(
        "si_voluntary_20200601.csv",
        "si_number,scheme,agent_code,household_code,member_order,income_basis,support_group,payment_months,paid_from,paid_through\n\
         0100000011,voluntary_si,AG01,,,2000000,other,6,2020-01,2020-06\n\
         0100000012,voluntary_si,AG01,,,2000000,other,6,2019-07,2019-12\n\
         0100000013,household_hi,AG01,HH1,1,,,1,2020-06,2020-06\n",
    );
    w("agents_20200601.csv", "agent_code,name,organisation,province_code,ward_code,active\nAG01,Đại lý Một,Bưu điện,01,00001,true\n");
    w("officers_20200601.csv", "officer_id,name,province_code,office,weekly_capacity\nCB01,Cán bộ Một,01,Hà Nội,10\nCB02,Cán bộ Hai,02,Hà Giang,10\nCB08,Cán bộ Tám,08,Tuyên Quang,10\n");
    w(
        "conferences_20200601.csv",
        "conference_id,province_code,ward_code,held_on,place,invited,attended,registered\n\
         C1,01,00001,2020-06-02,Nhà văn hóa,50,40,10\n\
         C2,01,00001,2020-05-20,Nhà văn hóa,35,30,5\n\
         C3,01,00001,2020-06-08,Nhà văn hóa,20,20,7\n",
    );
    w(
        "covid_reviews_20200601.csv",
        "unit_code,month,reviewed_on,continuing,terminated,unpaid_leave,suspended_contract,stopped_paid,resume_month\n\
         A1,2020-05,2020-06-03,2,0,1,0,0,2020-06\n\
         A2,2020-04,2020-05-06,2,0,0,0,0,\n",
    );
    w(
        "plan_targets_20200601.csv",
        "year,province_code,collection_target,compulsory_target,voluntary_target,household_hi_target\n\
         2020,01,366000000,10,5,3\n\
         2020,02,100000000,2,1,1\n\
         2020,08,200000000,3,1,1\n",
    );
    // An unregistered employer in Hà Nội (no BHXH unit) with one worker on an
    // indefinite contract, unknown to BHXH: an uninsured worker.
    w(
        "tax_employers_20200601.csv",
        "tax_code,name,province_code,kind,status,employees_declared\n0100109106,Công ty Chưa Đăng Ký,01,enterprise,active,1\n",
    );
    let mut t = String::from("employer_tax_code,citizen_id,full_name,birth_date,month,taxable_income,contract\n");
    for m in 3..=5 {
        t += &format!("0100109106,001090000123,Ngô Văn Mười,1990-01-01,2020-{m:02},8000000,indefinite\n");
    }
    w("tax_wages_20200601.csv", &t);
}

fn cfg(inbox: &Path, lake: &Path, as_of: &str) -> RunConfig {
    RunConfig::new(inbox, lake, Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference"), d(as_of))
}

fn row(lake: &Path, table: &str, key: &str, week: &str) -> DataFrame {
    let df = if table == publish::NATIONAL_WEEKLY {
        bhxh::lake::read_parquet(&gold::table_dir(lake, table).join("part-0.parquet")).unwrap()
    } else {
        gold::read_partition(lake, table, key).unwrap()
    };
    let r = df.lazy().filter(col("week").eq(lit(week))).collect().unwrap();
    assert_eq!(r.height(), 1, "{table} {key} {week}");
    r
}

fn int(df: &DataFrame, c: &str) -> Option<i64> {
    df.column(c).unwrap().i64().unwrap().get(0)
}

fn date(df: &DataFrame, c: &str) -> NaiveDate {
    let v = df.column(c).unwrap().cast(&DataType::Int32).unwrap().i32().unwrap().get(0).unwrap();
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(v.into())
}

struct Lake {
    _dir: tempfile::TempDir,
    inbox: std::path::PathBuf,
    lake: std::path::PathBuf,
}

fn lake_after_two_runs() -> Lake {
    let dir = tempfile::tempdir().unwrap();
    let (inbox_dir, lake) = (dir.path().join("inbox"), dir.path().join("lake"));
    std::fs::create_dir_all(&inbox_dir).unwrap();
    inbox(&inbox_dir);
    pipeline::run(&cfg(&inbox_dir, &lake, "2020-06-03")).unwrap();
    pipeline::run(&cfg(&inbox_dir, &lake, "2020-06-08")).unwrap();
    Lake { _dir: dir, inbox: inbox_dir, lake }
}

#[test]
fn hanoi_week_23_every_figure_by_hand() {
    let l = lake_after_two_runs();
    let r = row(&l.lake, PROVINCE_WEEKLY, "01", "2020-W23");
    assert_eq!(date(&r, "week_start"), d("2020-06-01"));
    assert_eq!(date(&r, "week_end"), d("2020-06-07"));
    assert_eq!(date(&r, "report_date"), d("2020-06-08"));
    assert_eq!(date(&r, "data_as_of"), d("2020-06-08"));
    assert_eq!(r.column("province_code_2025").unwrap().str().unwrap().get(0), Some("01"));
    assert_eq!(r.column("province_name").unwrap().str().unwrap().get(0), Some("Hà Nội"));
    // May is the latest complete month on 7 June.
    assert_eq!(date(&r, "compulsory_month"), d("2020-05-01"));
    let want: &[(&str, Option<i64>)] = &[
        // P1, P2 at A1; P1 (again) and P4 at A2; P3 on unpaid leave does not count.
        ("compulsory_participants", Some(3)),
        ("compulsory_units", Some(2)),
        // 0100000011 covered Jan–Jun; 0100000012 only until December.
        ("voluntary_participants", Some(1)),
        ("household_hi_members", Some(1)),
        // Listed by the run of Wednesday 3 June.
        ("uninsured_workers_found_week", Some(1)),
        ("uninsured_workers_found_ytd", Some(1)),
        ("unregistered_employers_found_week", Some(1)),
        ("unregistered_employers_found_ytd", Some(1)),
        ("workers_developed_week", Some(0)),
        ("workers_developed_ytd", Some(0)),
        ("employers_developed_week", Some(0)),
        ("employers_developed_ytd", Some(0)),
        // R1 + R2 (once); R5 came on 8 June.
        ("collected_week", Some(1_500_000)),
        // R3 + R1 + R2; R4 was paid in 2019.
        ("collected_ytd", Some(3_500_000)),
        // A1: 5 × 32% × 15,000,000 = 24,000,000 due for January–May, paid
        // 700,000 + 2,000,000 + 1,000,000 + 500,000 = 4,200,000 by 7 June:
        // 19,800,000, January still partly unpaid (5 months). A2: May,
        // 32% × 11,000,000 = 3,520,000 (1 month).
        ("debt", Some(19_800_000 + 3_520_000)),
        ("units_in_debt", Some(2)),
        ("units_in_debt_3m", Some(1)),
        // A2 is suspended from June.
        ("suspended_units", Some(1)),
        // C1 on 2 June; C3 is on 8 June (next week); C2 in May counts for the year.
        ("conferences_week", Some(1)),
        ("conference_attended_week", Some(40)),
        ("conference_registrations_week", Some(10)),
        ("conference_registrations_ytd", Some(15)),
        ("covid_reviews_week", Some(1)),
        ("collection_target", Some(366_000_000)),
        // 7 June is day 159 of 366: 366,000,000 × 159 / 366.
        ("collection_expected", Some(159_000_000)),
        ("compulsory_target", Some(10)),
        // From 0 in December 2019: 10 × 159 / 366 = 4.34 → 4.
        ("compulsory_expected", Some(4)),
        ("voluntary_target", Some(5)),
        // From 1 (0100000012 covered December 2019): 1 + 4 × 159 / 366 = 2.74 → 3.
        ("voluntary_expected", Some(3)),
        ("household_hi_target", Some(3)),
        // 3 × 159 / 366 = 1.30 → 1.
        ("household_hi_expected", Some(1)),
    ];
    for (c, v) in want {
        assert_eq!(int(&r, c), *v, "{c}");
    }
    let share = r.column("collection_share").unwrap().f64().unwrap().get(0).unwrap();
    assert!((share - 3_500_000.0 / 366_000_000.0).abs() < 1e-12);
    // Every declared figure was checked above.
    let checked = want.len() + ["compulsory_month", "collection_share"].len();
    let declared = bhxh::publish::tables::PROVINCE_WEEKLY.columns.len() - 8;
    assert_eq!(checked, declared, "a figure of province_weekly is not checked here");

    // Week 1 of 2020 (30 December – 5 January): R4 is collected that week but
    // not in 2020's year to date. A week with nothing else is zeros, not missing.
    let w1 = row(&l.lake, PROVINCE_WEEKLY, "01", "2020-W01");
    assert_eq!((int(&w1, "collected_week"), int(&w1, "collected_ytd")), (Some(700_000), Some(0)));
    let quiet = row(&l.lake, PROVINCE_WEEKLY, "79", "2020-W23");
    assert_eq!((int(&quiet, "collected_week"), int(&quiet, "debt"), int(&quiet, "compulsory_participants")), (Some(0), Some(0), Some(0)));
    // The run of 3 June reported W22 and filled the weeks before; 8 June kept them.
    let w22 = row(&l.lake, PROVINCE_WEEKLY, "01", "2020-W22");
    assert_eq!(date(&w22, "data_as_of"), d("2020-06-03"));
    assert_eq!(int(&w22, "suspended_units"), Some(0));
    assert_eq!(int(&w22, "collected_week"), Some(2_000_000));
}

#[test]
fn roll_ups_count_people_once_and_add_money() {
    let l = lake_after_two_runs();
    let h = row(&l.lake, PROVINCE_WEEKLY, "02", "2020-W23");
    let t = row(&l.lake, PROVINCE_WEEKLY, "08", "2020-W23");
    assert_eq!((int(&h, "compulsory_participants"), int(&t, "compulsory_participants")), (Some(1), Some(2)));
    assert_eq!(h.column("province_code_2025").unwrap().str().unwrap().get(0), Some("08"));
    // Tuyên Quang of 2025 = Hà Giang + Tuyên Quang: P5 counted once.
    let m = row(&l.lake, publish::PROVINCE_WEEKLY_2025, "08", "2020-W23");
    assert_eq!(m.column("provinces_2020").unwrap().str().unwrap().get(0), Some("02,08"));
    assert_eq!(int(&m, "compulsory_participants"), Some(2));
    assert_eq!(int(&m, "compulsory_units"), Some(2));
    assert_eq!(int(&m, "debt"), Some(int(&h, "debt").unwrap() + int(&t, "debt").unwrap()));
    assert_eq!(int(&m, "collection_target"), Some(300_000_000));
    // The country: P1..P6 declared in May, P3 on leave: 5 people, 4 units.
    let n = row(&l.lake, publish::NATIONAL_WEEKLY, "", "2020-W23");
    assert_eq!((int(&n, "compulsory_participants"), int(&n, "compulsory_units")), (Some(5), Some(4)));
    let all = gold::read_partitioned(&l.lake, PROVINCE_WEEKLY).unwrap().unwrap();
    let w23 = all.lazy().filter(col("week").eq(lit("2020-W23"))).collect().unwrap();
    assert_eq!(w23.height(), 63, "every province, every week");
    for c in ["collected_week", "collected_ytd", "debt", "units_in_debt", "suspended_units", "conferences_week", "collection_target"] {
        let sum: i64 = w23.column(c).unwrap().i64().unwrap().iter().flatten().sum();
        assert_eq!(int(&n, c), Some(sum), "national {c} = Σ provinces");
    }
    // plan_vs_target: the same figures in long form.
    let p = gold::read_partition(&l.lake, publish::PLAN_VS_TARGET, "01").unwrap();
    let c = p.lazy().filter(col("week").eq(lit("2020-W23")).and(col("measure").eq(lit("collection")))).collect().unwrap();
    assert_eq!((int(&c, "target"), int(&c, "actual"), int(&c, "expected")), (Some(366_000_000), Some(3_500_000), Some(159_000_000)));
    assert_eq!(int(&c, "gap_to_expected"), Some(3_500_000 - 159_000_000));
}

#[test]
fn a_backfilled_week_equals_the_week_computed_on_its_day() {
    let l = lake_after_two_runs();
    let sent = gold::read_partitioned(&l.lake, PROVINCE_WEEKLY).unwrap().unwrap();
    let sent = sent.lazy().filter(col("week").eq(lit("2020-W23"))).collect().unwrap();
    // A late extract: a payment made on 5 June that BHXH learnt of on 10 June.
    std::fs::write(l.inbox.join("si_payments_20200610.csv"), "unit_code,paid_on,amount,reference\nA1,2020-06-05,4000000,R9\n").unwrap();
    // Wednesday's run has the same report week; it does not rewrite what Monday sent.
    pipeline::run(&cfg(&l.inbox, &l.lake, "2020-06-10")).unwrap();
    assert_eq!(int(&row(&l.lake, PROVINCE_WEEKLY, "01", "2020-W23"), "collected_week"), Some(1_500_000));
    pipeline::run(&cfg(&l.inbox, &l.lake, "2020-06-15")).unwrap();
    // W24 (8–14 June): R5 of 8 June; the year now includes the late R9.
    let w24 = row(&l.lake, PROVINCE_WEEKLY, "01", "2020-W24");
    assert_eq!((int(&w24, "collected_week"), int(&w24, "collected_ytd")), (Some(300_000), Some(3_500_000 + 4_000_000 + 300_000)));
    // W23 as sent stays in the archive...
    assert_eq!(int(&row(&l.lake, PROVINCE_WEEKLY, "01", "2020-W23"), "collected_week"), Some(1_500_000));
    // ...and backfilling it gives it again, the late payment left out; the
    // lake ends at its published date (15 June).
    let reports = pipeline::backfill(&cfg(&l.inbox, &l.lake, "2020-06-15"), d("2020-06-06"), d("2020-06-08")).unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(pipeline::published_as_of(&l.lake).unwrap(), Some(d("2020-06-15")));
    let again = gold::read_partitioned(&l.lake, PROVINCE_WEEKLY).unwrap().unwrap();
    let again = again.lazy().filter(col("week").eq(lit("2020-W23"))).collect().unwrap();
    assert!(sent.equals_missing(&again), "backfilled W23 differs from W23 as sent:\n{sent}\n{again}");
    // Replays from 1 June rebuild the worklist history Monday by Monday; the
    // nightly history (the worker first listed on Wednesday 3 June) is put
    // back before the run for the published date.
    pipeline::backfill(&cfg(&l.inbox, &l.lake, "2020-06-15"), d("2020-06-01"), d("2020-06-01")).unwrap();
    let h = bhxh::lake::read_parquet(&l.lake.join("silver/worklist_history.parquet")).unwrap();
    let h = h.lazy().filter(col("item_kind").eq(lit("uninsured_worker"))).collect().unwrap();
    assert_eq!(h.height(), 1);
    assert_eq!(date(&h, "first_listed_on"), d("2020-06-03"));
    assert!(!std::fs::read_dir(&l.lake).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".backfill")));
    // A lake built only on 15 June restates W23 with what it knows then.
    let fresh = tempfile::tempdir().unwrap();
    pipeline::run(&cfg(&l.inbox, fresh.path(), "2020-06-15")).unwrap();
    let r = row(fresh.path(), PROVINCE_WEEKLY, "01", "2020-W23");
    assert_eq!((int(&r, "collected_week"), date(&r, "data_as_of")), (Some(5_500_000), d("2020-06-15")));
}

/// A workbook cell as the CSV writes it.
fn cell_text(v: &Data, kind: Cell) -> String {
    let day = |serial: f64| (NaiveDate::from_ymd_opt(1899, 12, 30).unwrap() + chrono::Duration::days(serial as i64)).to_string();
    match (v, kind) {
        (Data::Empty, _) => String::new(),
        (Data::String(s), _) => s.clone(),
        (Data::Float(x), Cell::Share) => format!("{x:.4}"),
        (Data::Float(x), _) => format!("{}", *x as i64),
        (Data::Int(x), _) => x.to_string(),
        (Data::DateTime(t), Cell::Month) => day(t.as_f64())[..7].to_string(),
        (Data::DateTime(t), _) => day(t.as_f64()),
        (other, _) => panic!("unexpected cell {other:?}"),
    }
}

#[test]
fn workbooks_round_trip_and_hold_their_province_only() {
    let l = lake_after_two_runs();
    let dir = bhxh::assess::export::exports_dir(&l.lake, d("2020-06-08"));
    let lists = export::lists().unwrap();
    let mut checked_rows = 0;
    for p in std::fs::read_dir(&dir).unwrap() {
        let p = p.unwrap().path();
        let code = p.file_name().unwrap().to_str().unwrap().to_string();
        let mut wb: Xlsx<_> = open_workbook(p.join(export::workbook_name(&code, d("2020-06-08")))).unwrap();
        let names: Vec<String> = wb.sheet_names().to_vec();
        let mut want: Vec<String> = lists.iter().map(|l| l.sheet.to_string()).collect();
        want.push(export::legend::SHEET.to_string());
        assert_eq!(names, want, "one sheet per list, then the legend");
        for list in &lists {
            let range = wb.worksheet_range(list.sheet).unwrap();
            let mut rows = range.rows();
            let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
            assert_eq!(header, list.columns.iter().map(|c| c.0.to_string()).collect::<Vec<_>>(), "{code} {}", list.sheet);
            // Every cell equals the CSV's.
            let text = std::fs::read_to_string(p.join(list.file)).unwrap();
            let mut csv = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
            let province = list.columns.iter().position(|c| c.0 == "Mã tỉnh").unwrap();
            for (rec, xl) in csv.records().zip(rows) {
                let rec = rec.unwrap();
                for (i, (_, kind)) in list.columns.iter().enumerate() {
                    let got = cell_text(xl.get(i).unwrap_or(&Data::Empty), *kind);
                    assert_eq!(got, rec[i], "{code} {} column {}", list.sheet, list.columns[i].0);
                }
                assert_eq!(&rec[province], code, "{} row of another province in {code}", list.file);
                checked_rows += 1;
            }
        }
    }
    assert!(checked_rows > 50, "only {checked_rows} rows checked");

    // The Hà Nội report: Vietnamese headers, the week's money as a number.
    let mut wb: Xlsx<_> = open_workbook(dir.join("01").join(export::workbook_name("01", d("2020-06-08")))).unwrap();
    let r = wb.worksheet_range("Báo cáo tuần").unwrap();
    let header: Vec<String> = r.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    let col = header.iter().position(|h| h == "Số thu trong tuần (đồng)").unwrap();
    let last = r.rows().last().unwrap();
    assert_eq!(last[0], Data::String("2020-W23".into()));
    assert_eq!(last[col], Data::Float(1_500_000.0));
    assert_eq!(last[header.iter().position(|h| h == "Mã tỉnh").unwrap()], Data::String("01".into()));
    assert_eq!(r.rows().count(), 1 + bhxh::export::REPORT_WEEKS, "the last 12 weeks");
    assert_eq!(WEEKLY_REPORT_COLUMNS[0].1, "Tuần");
    let html = std::fs::read_to_string(dir.join("01").join(export::HTML_FILE)).unwrap();
    assert!(html.contains("Báo cáo tuần: Hà Nội (01)") && html.matches("<svg").count() == 2);
    assert!(html.contains("1.500.000"), "the week's collection in the summary");

    // Every cell shows as its column is declared: money as VND, dates as dates.
    let formats = cell_formats(&dir.join("01").join(export::workbook_name("01", d("2020-06-08"))));
    let mut checked = 0;
    for (i, list) in lists.iter().enumerate() {
        let Some(row) = formats.get(i).and_then(|s| s.get(&2)) else { continue };
        for (c, (h, kind)) in list.columns.iter().enumerate() {
            let Some(code) = row.get(&c) else { continue };
            let want = match kind {
                Cell::Vnd => "#,##0 \"₫\"",
                Cell::Int => "#,##0",
                Cell::Share => "0.0%",
                Cell::Date => "dd/mm/yyyy",
                Cell::Month => "mm/yyyy",
                Cell::Text => "General",
            };
            assert_eq!(code, want, "{} column {h}", list.sheet);
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} cells' formats checked");

    // And `bhxh verify`'s own check agrees.
    let reference = bhxh::reference::Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap();
    let findings = bhxh::verify::run(&l.lake, &l.lake.join("exports"), &reference).unwrap();
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn publish_alone_refuses_debt_cut_for_another_date() {
    let l = lake_after_two_runs();
    let later = cfg(&l.inbox, &l.lake, "2020-06-15");
    let err = pipeline::run_single(&later, pipeline::Single::Publish).unwrap_err();
    assert!(format!("{err:#}").contains("run the assess stage for this date first"), "{err:#}");
    pipeline::run_single(&later, pipeline::Single::Assess).unwrap();
    let r = pipeline::run_single(&later, pipeline::Single::Publish).unwrap();
    assert_eq!(r.publish.unwrap().report_week, "2020-W24");
    assert_eq!(int(&row(&l.lake, PROVINCE_WEEKLY, "01", "2020-W24"), "debt"), Some(19_800_000 + 3_520_000 - 300_000));
}

#[test]
fn a_list_that_differs_from_its_declaration_stops_export_at_the_first_province() {
    let l = lake_after_two_runs();
    let dir = bhxh::assess::export::exports_dir(&l.lake, d("2020-06-08"));
    let list = &export::lists().unwrap()[1];
    // Two provinces' copies of one list have their last column renamed;
    // every workbook is removed.
    for code in ["08", "01"] {
        let path = dir.join(code).join(list.file);
        let text = std::fs::read_to_string(&path).unwrap();
        let (head, rest) = text.split_once('\n').unwrap();
        let head = head.rsplit_once(',').unwrap().0;
        std::fs::write(&path, format!("{head},Cột lạ\n{rest}")).unwrap();
    }
    for p in std::fs::read_dir(&dir).unwrap() {
        let p = p.unwrap().path();
        let code = p.file_name().unwrap().to_str().unwrap().to_string();
        let _ = std::fs::remove_file(p.join(export::workbook_name(&code, d("2020-06-08"))));
    }
    let err = pipeline::run_single(&cfg(&l.inbox, &l.lake, "2020-06-08"), pipeline::Single::Export).unwrap_err();
    let msg = format!("{err:#}");
    // Provinces are written in parallel: the error is still the first province's, by code.
    assert!(msg.contains("province 01") && msg.contains(&dir.join("01").join(list.file).display().to_string()), "{msg}");
    assert!(msg.contains("differs from the declared columns") && !msg.contains("province 08"), "{msg}");
    // The other provinces were written all the same.
    assert!(dir.join("04").join(export::workbook_name("04", d("2020-06-08"))).exists());
    assert!(!dir.join("08").join(export::workbook_name("08", d("2020-06-08"))).exists());

    // A list whose rows are not as wide as its header is reported with its path.
    std::fs::write(dir.join("01").join(list.file), std::fs::read(dir.join("04").join(list.file)).unwrap()).unwrap();
    let header: Vec<&str> = list.columns.iter().map(|c| c.0).collect();
    std::fs::write(dir.join("02").join(list.file), format!("{}\nx,y\n", header.join(","))).unwrap();
    let err = pipeline::run_single(&cfg(&l.inbox, &l.lake, "2020-06-08"), pipeline::Single::Export).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("province 02") && msg.contains(&dir.join("02").join(list.file).display().to_string()), "{msg}");
    assert!(msg.contains("fields"), "the CSV reader's own words: {msg}");
}

/// The number format of every cell of a workbook: per sheet (in order), row
/// (1-based) → column (0-based) → format code (`General` when none), read
/// from the workbook's XML.
fn cell_formats(path: &Path) -> Vec<std::collections::BTreeMap<u32, std::collections::BTreeMap<usize, String>>> {
    use std::collections::BTreeMap;
    use std::io::Read;
    let mut zip = ::zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut read = |name: &str| -> Option<String> {
        let mut s = String::new();
        zip.by_name(name).ok()?.read_to_string(&mut s).unwrap();
        Some(s)
    };
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let v = &tag[at..at + tag[at..].find('"')?];
        Some(v.replace("&quot;", "\"").replace("&amp;", "&"))
    };
    let styles = read("xl/styles.xml").unwrap();
    let codes: BTreeMap<String, String> = styles
        .split("<numFmt ")
        .skip(1)
        .filter_map(|t| Some((attr(&format!(" {t}"), "numFmtId")?, attr(&format!(" {t}"), "formatCode")?)))
        .collect();
    let xfs_part = &styles[styles.find("<cellXfs").unwrap()..styles.find("</cellXfs>").unwrap()];
    let xfs: Vec<String> = xfs_part
        .split("<xf ")
        .skip(1)
        .map(|t| {
            let id = attr(&format!(" {t}"), "numFmtId").unwrap_or_else(|| "0".into());
            codes.get(&id).cloned().unwrap_or_else(|| if id == "0" { "General".into() } else { format!("builtin {id}") })
        })
        .collect();
    let mut out = Vec::new();
    for n in 1.. {
        let Some(sheet) = read(&format!("xl/worksheets/sheet{n}.xml")) else { break };
        let mut cells: BTreeMap<u32, BTreeMap<usize, String>> = BTreeMap::new();
        for t in sheet.split("<c ").skip(1) {
            let t = format!(" {}", &t[..t.find('>').unwrap()]);
            let r = attr(&t, "r").unwrap();
            let letters: String = r.chars().take_while(|c| c.is_ascii_uppercase()).collect();
            let row: u32 = r[letters.len()..].parse().unwrap();
            let col = letters.bytes().fold(0usize, |a, b| a * 26 + (b - b'A' + 1) as usize) - 1;
            let s: usize = attr(&t, "s").map_or(0, |s| s.parse().unwrap());
            cells.entry(row).or_default().insert(col, xfs[s].clone());
        }
        out.push(cells);
    }
    out
}
