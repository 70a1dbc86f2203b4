//! The assess stage end to end on a small hand-written inbox (ingest →
//! conform → assess): gold tables and per-province exports, every figure
//! computed by hand below. As-of 2020-06-08; rates of 2020 (32% in all);
//! interest 9.96% a year, i.e. round(late × 996 / 120,000) a month.

use bhxh::assess::{self, export, Tuning};
use bhxh::coverage::frame::MonthCache;
use bhxh::lake::memo::Memo;
use bhxh::lake::{gold, Lake};
use bhxh::pipeline::{self, RunConfig};
use bhxh::reference::Reference;
use chrono::NaiveDate;
use polars::prelude::*;
use std::path::Path;

fn reference() -> Reference {
    Reference::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")).unwrap()
}

const AS_OF: &str = "2020-06-08";

/// U1 (Hà Nội 01, region I): two people, 01–06, never pays.
/// U2 (HCM 79, region I): one person, suspended 03–08 (inside at as-of), never pays.
/// U3 (HCM 79, region II): one person, suspended 02–03, pays its usual amount
///     through April (one transfer sent twice) and nothing of the make-up.
/// U4 (Hà Nội 01): only unpaid leave; pays 500,000: credit.
/// U9: a payment from a unit code BHXH does not know.
fn inbox(dir: &Path) {
    let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    w(
        "si_units_20200608.csv",
        "unit_code,name,province_code,wage_region,officer_id,status\n\
         U1,Công ty Một,01,1,CB01001,active\n\
         U2,Công ty Hai,79,1,CB79001,active\n\
         U3,Công ty Ba,79,2,CB79002,active\n\
         U4,Công ty Bốn,01,1,CB01001,active\n",
    );
    let mut c = String::from("unit_code,si_number,month,insured_wage,work_status\n");
    for m in 1..=6 {
        c += &format!("U1,0100000001,2020-{m:02},5000000,working\n");
        c += &format!("U1,0100000002,2020-{m:02},40000000,{}\n", if m == 3 { "stopped_paid" } else { "working" });
        c += &format!("U2,0100000003,2020-{m:02},5000000,working\n");
        c += &format!("U3,0100000004,2020-{m:02},10000000,working\n");
    }
    c += "U4,0100000005,2020-05,6000000,unpaid_leave\n";
    // A month after the as-of month is not assessed.
    c += "U1,0100000001,2020-07,5000000,working\n";
    w("si_contributions_20200608.csv", &c);
    w(
        "si_suspensions_20200608.csv",
        "unit_code,from_month,to_month,decision_no\nU2,2020-03,2020-08,QD-2\nU3,2020-02,2020-03,QD-3\n",
    );
    w(
        "si_payments_20200608.csv",
        "unit_code,paid_on,amount,reference\n\
         U3,2020-01-25,3200000,P1\n\
         U3,2020-02-25,1000000,P2\n\
         U3,2020-03-25,1000000,P3\n\
         U3,2020-03-25,1000000,P3\n\
         U3,2020-04-25,3200000,P4\n\
         U3,2020-06-09,9000000,P5\n\
         U4,2020-05-10,500000,P6\n\
         U9,2020-05-10,700000,P7\n",
    );
}

/// The nightly job (ingest → conform → assess) on the hand-written inbox.
fn run() -> (tempfile::TempDir, assess::AssessReport) {
    let dir = tempfile::tempdir().unwrap();
    let inbox_dir = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox_dir).unwrap();
    inbox(&inbox_dir);
    let reference_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference");
    let cfg = RunConfig {
        threads: 1,
        ..RunConfig::new(inbox_dir, dir.path().join("lake"), reference_dir, AS_OF.parse().unwrap())
    };
    let report = pipeline::run(&cfg).unwrap();
    assert!(report.ingest.files.iter().all(|f| f.refused.is_none() && f.rejected == 0), "{:?}", report.ingest.files);
    (dir, report.assess)
}

fn row(df: &DataFrame, unit: &str) -> DataFrame {
    df.clone().lazy().filter(col("unit_code").eq(lit(unit.to_string()))).collect().unwrap().clone()
}
fn i(df: &DataFrame, c: &str) -> Vec<i64> {
    df.column(c).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().iter().map(|x| x.unwrap()).collect()
}
fn b(df: &DataFrame, c: &str) -> Vec<bool> {
    df.column(c).unwrap().bool().unwrap().iter().map(|x| x.unwrap()).collect()
}
fn s(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c).unwrap().str().unwrap().iter().map(|x| x.unwrap_or("").to_string()).collect()
}

// Monthly dues, by hand (2020, no ceiling reached unless said):
// U1: 5,000,000 × 32% = 1,600,000; 40,000,000: BHXH and BHYT capped at 20 × 1,490,000 = 29,800,000:
//     14% 4,172,000 + 8% 2,384,000 + 3% 894,000 + 0.5% 149,000 + 3% 894,000 + 1.5% 447,000,
//     BHTN not capped (20 × 4,420,000 = 88,400,000): 1% + 1% of 40,000,000 = 800,000 → 9,740,000.
const U1_MONTH: i64 = 1_600_000 + 9_740_000;
// U2, U3: pension part 22%, other funds 10%.
const U2_PENSION: i64 = 1_100_000; // 5,000,000 × 22%
const U2_OTHER: i64 = 500_000; // 5,000,000 × 10%
const U3_PENSION: i64 = 2_200_000; // 10,000,000 × 22%
const U3_OTHER: i64 = 1_000_000;

#[test]
fn gold_tables_and_exports_match_the_hand_ledger() {
    let (dir, rep) = run();
    let root = dir.path().join("lake");

    // --- dues: U1 in June: pension employer 700,000 + 4,172,000; BHTN employee 50,000 + 400,000.
    let dues = gold::read_partitioned(&root, assess::DUES).unwrap().unwrap();
    let u1 = row(&dues, "U1");
    assert_eq!(u1.height(), 6, "01–06 only: 07 is after the as-of month");
    assert_eq!(i(&u1, "pension_survivorship_employer")[5], 4_872_000);
    assert_eq!(i(&u1, "unemployment_employee")[5], 450_000);
    assert_eq!(i(&u1, "assessed"), vec![U1_MONTH; 6]);
    assert_eq!(i(&u1, "headcount"), vec![2; 6]);
    assert_eq!(i(&u1, "wage_fund")[2], 45_000_000, "stopped_paid is due");
    let u2 = row(&dues, "U2");
    assert_eq!(b(&u2, "suspended"), vec![false, false, true, true, true, true]);
    assert_eq!(i(&u2, "pension_deferred"), vec![0, 0, U2_PENSION, U2_PENSION, U2_PENSION, U2_PENSION]);
    assert_eq!(row(&dues, "U4").height(), 0, "unpaid leave owes nothing");

    // --- c12_notices
    let c12 = gold::read_partitioned(&root, assess::C12_NOTICES).unwrap().unwrap();
    // U1 never pays. Interest: end Feb 11,340,000 × 996 / 120,000 = 94,122; end Mar 2 × → 188,244;
    // end Apr 282,366; end May 376,488; none for June (the as-of month).
    let u1 = row(&c12, "U1");
    assert_eq!(i(&u1, "interest"), vec![0, 94_122, 188_244, 282_366, 376_488, 0]);
    let interest_u1 = 94_122 + 188_244 + 282_366 + 376_488;
    assert_eq!(i(&u1, "brought_forward")[5], 5 * U1_MONTH + interest_u1);
    assert_eq!(i(&u1, "carried_forward")[5], 6 * U1_MONTH + interest_u1);
    assert_eq!(b(&u1, "provisional"), vec![false, false, false, false, false, true]);
    // U2: due 1,600,000 in 01–02, then 500,000; deferred grows by 1,100,000 a month from 03.
    let u2 = row(&c12, "U2");
    let u2_month = U2_PENSION + U2_OTHER;
    assert_eq!(i(&u2, "due"), vec![u2_month, u2_month, U2_OTHER, U2_OTHER, U2_OTHER, U2_OTHER]);
    assert_eq!(i(&u2, "deferred_pension_part"), vec![0, 0, 1_100_000, 2_200_000, 3_300_000, 4_400_000]);
    // U3: suspended 02–03, make-up 2 × 2,200,000 = 4,400,000 due in April.
    let u3 = row(&c12, "U3");
    let u3_month = U3_PENSION + U3_OTHER;
    assert_eq!(i(&u3, "due"), vec![u3_month, U3_OTHER, U3_OTHER, u3_month + 4_400_000, u3_month, u3_month]);
    assert_eq!(i(&u3, "makeup")[3], 4_400_000);
    assert_eq!(i(&u3, "deferred_pension_part"), vec![0, 2_200_000, 4_400_000, 0, 0, 0]);
    // Paid: P3 sent twice counts once; P5 (06-09) is after the as-of date.
    assert_eq!(i(&u3, "paid"), vec![3_200_000, 1_000_000, 1_000_000, 3_200_000, 0, 0]);
    // April's payment settles April's own 3,200,000; the make-up 4,400,000 is late at the end
    // of May, with May's 3,200,000 not yet: 4,400,000 × 996 / 120,000 = 36,520.
    assert_eq!(i(&u3, "interest"), vec![0, 0, 0, 0, 36_520, 0]);
    // U4: payment only: two notices (May, June), 500,000 of credit.
    let u4 = row(&c12, "U4");
    assert_eq!(i(&u4, "carried_forward"), vec![-500_000, -500_000]);
    assert_eq!(i(&u4, "credit"), vec![500_000, 500_000]);
    // Balance identity on every notice.
    let (bf, due, int, paid, cf) =
        (i(&c12, "brought_forward"), i(&c12, "due"), i(&c12, "interest"), i(&c12, "paid"), i(&c12, "carried_forward"));
    let (debt, iu, cr) = (i(&c12, "debt"), i(&c12, "interest_unpaid"), i(&c12, "credit"));
    for k in 0..c12.height() {
        assert_eq!(cf[k], bf[k] + due[k] + int[k] - paid[k]);
        assert_eq!(cf[k], debt[k] + iu[k] - cr[k]);
    }

    // --- delinquent_employers
    let del = gold::read_partitioned(&root, assess::DELINQUENT_EMPLOYERS).unwrap().unwrap();
    assert_eq!(s(&del, "unit_code"), ["U1", "U2", "U3"], "sorted by province, then unit");
    assert_eq!(s(&del, "province_code"), ["01", "79", "79"]);
    // U2 debt: 1,600,000 × 2 + 500,000 × 3 = 4,700,000 (June is not debt yet).
    // U3 debt: make-up 4,400,000 + May 3,200,000; oldest unpaid April → 2 months.
    assert_eq!(i(&del, "debt"), vec![5 * U1_MONTH, 4_700_000, 4_400_000 + 3_200_000]);
    assert_eq!(i(&del, "debt_months"), vec![5, 5, 2]);
    // U2 interest: 1,600,000 → 13,280; 3,200,000 → 26,560; 3,700,000 → 30,710; 4,200,000 → 34,860.
    assert_eq!(i(&del, "interest"), vec![interest_u1, 13_280 + 26_560 + 30_710 + 34_860, 36_520]);
    assert_eq!(b(&del, "suspended"), vec![false, true, false]);
    assert_eq!(b(&del, "inspection_candidate"), vec![true, false, false], "U2 is suspended, U3 owes 2 months");
    assert_eq!(s(&del, "officer_id"), ["CB01001", "CB79001", "CB79002"]);
    assert_eq!(s(&del, "unit_name")[0], "Công ty Một");

    // --- §3.2 lists
    let so = gold::read_partitioned(&root, assess::SUSPENDED_UNITS_OWING).unwrap().unwrap();
    assert_eq!(
        (s(&so, "unit_code"), i(&so, "debt"), i(&so, "deferred_pension_part")),
        (vec!["U2".into()], vec![4_700_000], vec![4_400_000])
    );
    let mk = gold::read_partitioned(&root, assess::MAKEUP_UNPAID).unwrap().unwrap();
    assert_eq!(s(&mk, "unit_code"), ["U3"]);
    assert_eq!(
        (i(&mk, "makeup_due"), i(&mk, "makeup_unpaid"), b(&mk, "overdue")),
        (vec![4_400_000], vec![4_400_000], vec![true])
    );

    // --- report totals: due − paid = debt + unpaid of the as-of month − interest paid − credit.
    assert_eq!(rep.orphan_payments, 1);
    assert_eq!(rep.total_due, 6 * U1_MONTH + (2 * u2_month + 4 * U2_OTHER) + (4 * u3_month + 2 * U3_OTHER + 4_400_000));
    assert_eq!(rep.total_paid, 3_200_000 + 1_000_000 + 1_000_000 + 3_200_000 + 500_000);
    assert_eq!(rep.current_unpaid, U1_MONTH + U2_OTHER + u3_month);
    assert_eq!(rep.total_due - rep.total_paid, rep.debt + rep.current_unpaid - rep.interest_paid - rep.credit);
    assert_eq!((rep.delinquent, rep.inspection_candidates, rep.suspended_owing, rep.makeup_unpaid), (3, 1, 1, 1));

    // --- exports: every province has both files; a province holds its own rows only.
    let ex = export::exports_dir(&root, AS_OF.parse().unwrap());
    let read = |p: &str, f: &str| std::fs::read_to_string(ex.join(p).join(f)).unwrap();
    let hn = read("01", "inspection_list.csv");
    assert!(hn.starts_with("\u{feff}Mã tỉnh,Mã đơn vị,"), "BOM and Vietnamese headers");
    let lines: Vec<&str> = hn.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with("01,U1,,Công ty Một,CB01001,debt,56700000,5,2020-01,941220,,"), "{}", lines[1]);
    assert!(lines[1].contains("Nợ 56.700.000 đồng"), "{}", lines[1]);
    assert_eq!(read("79", "inspection_list.csv").lines().count(), 1, "U2 suspended, U3 under 3 months");
    let c12_hn = read("01", "c12_notices.csv");
    let rows: Vec<&str> = c12_hn.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "U1 and U4, May and June: {rows:?}");
    assert!(rows.iter().all(|r| r.starts_with("2020-05,01,U") || r.starts_with("2020-06,01,U")));
    assert!(rows.iter().all(|r| r.contains(",U1,") || r.contains(",U4,")));
    assert!(rows[1].ends_with(",có"), "June is provisional: {}", rows[1]);
    assert_eq!(read("31", "c12_notices.csv").lines().count(), 1, "a province without units: header only");
    assert_eq!(rep.export_files, 2 * 63);
}

#[test]
fn rerun_gives_identical_gold_files_even_from_unsorted_silver() {
    let (dir, _) = run();
    let root = dir.path().join("lake");
    let lake = Lake::new(&root);
    let files: Vec<_> = [assess::C12_NOTICES, assess::DUES, assess::DELINQUENT_EMPLOYERS]
        .iter()
        .map(|t| gold::table_dir(&root, t).join("province_code=79/part-0.parquet"))
        .collect();
    let first: Vec<_> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    // Silver contributions rewritten month by month, units interleaved: same answers.
    let silver = lake.silver_file("contributions");
    let mut df = bhxh::lake::read_parquet(&silver)
        .unwrap()
        .sort(["month", "si_number"], SortMultipleOptions::default().with_order_descending_multi([true, false]))
        .unwrap();
    bhxh::lake::write_parquet(&silver, &mut df).unwrap();
    let as_of: NaiveDate = AS_OF.parse().unwrap();
    assess::run(&lake, &reference(), as_of, None).unwrap();
    for (f, bytes) in files.iter().zip(&first) {
        assert!(std::fs::read(f).unwrap() == *bytes, "{} changed", f.display());
    }
}

/// Every file under `dir`, with its bytes.
fn tree(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn reading_the_contributions_a_range_of_units_at_a_time_changes_nothing() {
    // The passes read the rows split by pass (one streaming pass over silver).
    let (dir, _) = run();
    let root = dir.path().join("lake");
    let lake = Lake::new(&root);
    // One more row, of a unit silver units does not have: counted once, in whichever pass.
    let silver = lake.silver_file("contributions");
    let mut df = bhxh::lake::read_parquet(&silver).unwrap();
    let mut orphan = df.head(Some(1));
    orphan.with_column(Column::new("unit_code".into(), ["U0"])).unwrap();
    df.vstack_mut(&orphan).unwrap();
    bhxh::lake::write_parquet(&silver, &mut df).unwrap();
    let as_of: NaiveDate = AS_OF.parse().unwrap();

    let one = assess::run(&lake, &reference(), as_of, None).unwrap();
    let (gold_one, exports_one) = (tree(&root.join("gold")), tree(&root.join("exports")));
    // Five rows a pass: one unit per pass (the passes never outnumber the units).
    let many = assess::run_tuned(&lake, &reference(), as_of, None, Tuning { rows_per_pass: 5, units_per_task: 1 }).unwrap();
    assert_eq!(one.contribution_rows, many.contribution_rows);
    assert_eq!((one.orphan_contribution_rows, many.orphan_contribution_rows), (1, 1));
    assert!(!root.join("_state/assess/by_pass").exists(), "the rows split by pass are scratch");
    assert_eq!(settled(&one), settled(&many));
    assert!(!gold_one.is_empty() && !exports_one.is_empty());
    assert!(tree(&root.join("gold")) == gold_one, "gold files differ");
    assert!(tree(&root.join("exports")) == exports_one, "export files differ");
    // One pass, one unit a task: the tasks' rows and counts put together in unit order.
    let tasks = assess::run_tuned(&lake, &reference(), as_of, None, Tuning { rows_per_pass: u64::MAX, units_per_task: 1 }).unwrap();
    assert!(tasks.units > 1, "more than one task");
    assert_eq!(settled(&one), settled(&tasks));
    assert!(tree(&root.join("gold")) == gold_one && tree(&root.join("exports")) == exports_one, "one unit a task: files differ");
}

/// Every count and sum of a run but its timing.
fn settled(r: &assess::AssessReport) -> String {
    format!("{:?}", assess::AssessReport { seconds: 0.0, ..r.clone() })
}

#[test]
fn unit_months_kept_for_the_month_give_the_same_answers_as_the_contributions() {
    let (dir, _) = run();
    let root = dir.path().join("lake");
    let lake = Lake::new(&root);
    let as_of: NaiveDate = AS_OF.parse().unwrap();
    let month = bhxh::month::Month::of_date(as_of);
    let memo = std::sync::Mutex::new(Memo::load(&root, true).unwrap());

    let plain = assess::run(&lake, &reference(), as_of, None).unwrap();
    let (gold, exports) = (tree(&root.join("gold")), tree(&root.join("exports")));
    let first = assess::run(&lake, &reference(), as_of, Some(MonthCache::new(&memo, &root, "assess", "inputs".into()))).unwrap();
    assert_eq!((first.frames_reused, first.frames_computed), (0, 1));
    let kept = root.join("_state/assess/unit_months").join(format!("{}.parquet", month.first_day().format("%Y-%m")));
    assert!(kept.exists(), "{} kept", kept.display());
    // Another night of the month: read back, the same files and figures, the orphan rows' count included.
    let again = assess::run(&lake, &reference(), as_of, Some(MonthCache::new(&memo, &root, "assess", "inputs".into()))).unwrap();
    assert_eq!((again.frames_reused, again.frames_computed), (1, 0));
    let plain_counts = assess::AssessReport { frames_reused: 0, frames_computed: 0, ..plain.clone() };
    assert_eq!(settled(&assess::AssessReport { frames_reused: 0, frames_computed: 0, ..again.clone() }), settled(&plain_counts));
    assert!(tree(&root.join("gold")) == gold && tree(&root.join("exports")) == exports, "read back: files differ");
    // Other inputs (a new contributions extract, say): computed again, and only the latest kept.
    let other = assess::run(&lake, &reference(), as_of, Some(MonthCache::new(&memo, &root, "assess", "other".into()))).unwrap();
    assert_eq!((other.frames_reused, other.frames_computed), (0, 1));
    assert!(tree(&root.join("gold")) == gold, "computed again: files differ");
    let next = bhxh::month::Month::of_date(as_of).next();
    let later = assess::run(&lake, &reference(), next.first_day(), Some(MonthCache::new(&memo, &root, "assess", "other".into()))).unwrap();
    assert_eq!((later.frames_reused, later.frames_computed), (0, 1), "a new month: computed");
    assert!(!kept.exists(), "the earlier month's frame is forgotten");
}

#[test]
fn a_declaration_before_the_reference_tables_is_counted_and_left_out() {
    // One row of 2017-12, a month the rate tables (from 2018-01) do not price:
    // it stopped the whole run with an error before.
    let (dir, before) = run();
    let root = dir.path().join("lake");
    let lake = Lake::new(&root);
    let (gold, exports) = (tree(&root.join("gold")), tree(&root.join("exports")));
    let reference = reference();
    let first = reference.first_priced_month().unwrap();
    assert_eq!(first.to_string(), "2018-01");
    let silver = lake.silver_file("contributions");
    let mut df = bhxh::lake::read_parquet(&silver).unwrap();
    let mut old = df.head(Some(1));
    let day = (NaiveDate::from_ymd_opt(2017, 12, 1).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
    old.with_column(Column::new("month".into(), [day]).cast(&DataType::Date).unwrap()).unwrap();
    df.vstack_mut(&old).unwrap();
    bhxh::lake::write_parquet(&silver, &mut df).unwrap();
    let as_of: NaiveDate = AS_OF.parse().unwrap();
    for tuning in [Tuning { rows_per_pass: u64::MAX, units_per_task: 1 }, Tuning { rows_per_pass: 5, units_per_task: 1 }] {
        let after = assess::run_tuned(&lake, &reference, as_of, None, tuning).unwrap();
        assert_eq!(after.unpriced_contribution_rows, 1);
        assert_eq!(after.contribution_rows, before.contribution_rows);
        // Every other count and sum as without the row.
        let same = |r: &assess::AssessReport| {
            settled(&assess::AssessReport { unpriced_contribution_rows: 0, frames_reused: 0, frames_computed: 0, ..r.clone() })
        };
        assert_eq!(same(&after), same(&before));
        assert!(tree(&root.join("gold")) == gold, "gold files differ");
        assert!(tree(&root.join("exports")) == exports, "export files differ");
    }
}

#[test]
fn a_suspension_with_its_extension_is_held_to_twelve_months() {
    // U2 is suspended 2020-03..2020-08. Another row, 2019-05..2020-02 (10
    // months, right before it: one suspension), leaves it 2 more:
    // 2020-03..2020-04. The first row's pension parts of 2020-01..02 are made
    // up in 2020-03; the second's of 03..04 in 2020-05; 05–08 are due in
    // their month.
    let (dir, before) = run();
    assert_eq!((before.suspension_units_over_limit, before.suspension_months_over_limit), (0, 0));
    let root = dir.path().join("lake");
    let lake = Lake::new(&root);
    let as_of: NaiveDate = AS_OF.parse().unwrap();
    let suspended_in_june = |root: &Path| {
        let weekly = gold::read_partitioned(root, bhxh::publish::PROVINCE_WEEKLY).unwrap().unwrap();
        let june = weekly.lazy().filter(col("province_code").eq(lit("79")).and(col("week_end").eq(lit(NaiveDate::from_ymd_opt(2020, 6, 7).unwrap())))).collect().unwrap();
        i(&june, "suspended_units")
    };
    assert_eq!(suspended_in_june(&root), vec![1], "U2 (U3's suspension ended in March)");
    let silver = lake.silver_file("suspensions");
    let mut df = bhxh::lake::read_parquet(&silver).unwrap();
    let u2 = df.clone().lazy().filter(col("unit_code").eq(lit("U2"))).collect().unwrap();
    let day = |y, m| (NaiveDate::from_ymd_opt(y, m, 1).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
    let mut early = u2.head(Some(1));
    early.with_column(Column::new("from_month".into(), [day(2019, 5)]).cast(&DataType::Date).unwrap()).unwrap();
    early.with_column(Column::new("to_month".into(), [day(2020, 2)]).cast(&DataType::Date).unwrap()).unwrap();
    df.vstack_mut(&early).unwrap();
    bhxh::lake::write_parquet(&silver, &mut df).unwrap();

    let after = assess::run(&lake, &reference(), as_of, None).unwrap();
    assert_eq!((after.suspension_units_over_limit, after.suspension_months_over_limit), (1, 4));
    let dues = gold::read_partitioned(&root, assess::DUES).unwrap().unwrap();
    let u2 = row(&dues, "U2");
    assert_eq!(b(&u2, "suspended"), vec![true, true, true, true, false, false]);
    assert_eq!(i(&u2, "pension_deferred"), vec![U2_PENSION, U2_PENSION, U2_PENSION, U2_PENSION, 0, 0]);
    let c12 = row(&gold::read_partitioned(&root, assess::C12_NOTICES).unwrap().unwrap(), "U2");
    assert_eq!(i(&c12, "makeup"), vec![0, 0, 2 * U2_PENSION, 0, 2 * U2_PENSION, 0]);
    let (p, o) = (U2_PENSION, U2_OTHER);
    assert_eq!(i(&c12, "due"), vec![o, o, o + 2 * p, o, p + o + 2 * p, p + o]);
    let owing = gold::read_partitioned(&root, assess::SUSPENDED_UNITS_OWING).unwrap();
    assert!(owing.is_none_or(|o| row(&o, "U2").height() == 0), "U2 is no longer suspended in June");
    // The weekly report counts suspended units from the same held periods.
    bhxh::publish::run(&lake, &reference(), as_of, false).unwrap();
    assert_eq!(suspended_in_june(&root), vec![0]);
}
