//! Dues, ledger and debt on a generated country (generate → run), checked
//! against the generator's planted truth (`truth/delinquent_employers.csv`).
//!
//! The truth's `planted_debt` = max(0, due_before_asof_month − paid_total) is
//! a simplified oracle: it ignores where leftover money goes. The ledger's
//! exact relation is, per unit (see docs/rules.md §4):
//!
//!     debt = max(0, due_before_asof_month − paid_total + interest_paid)
//!
//! because payments settle dues (oldest first, the as-of month's own due
//! included) before interest and credit; so `debt == planted_debt` whenever
//! the unit never had money left for interest (`interest_paid == 0`), and is
//! larger by exactly the interest it paid otherwise. The test checks the
//! exact relation for every unit, and the generator's own dues and payments
//! (`due_before_asof_month`, `paid_total`) against the C12-TS notices.

use bhxh::assess::{self, export};
use bhxh::generate::{generate, GenerateOptions};
use bhxh::lake::gold;
use bhxh::month::Month;
use bhxh::pipeline::{self, RunConfig};
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/reference")
}

fn truth(inbox: &Path, name: &str) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(inbox.join("truth").join(format!("{name}.csv"))).unwrap();
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

fn strs(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c).unwrap().str().unwrap().iter().map(|x| x.unwrap_or_default().to_string()).collect()
}
fn ints(df: &DataFrame, c: &str) -> Vec<i64> {
    df.column(c).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().iter().map(|x| x.unwrap()).collect()
}
fn bools(df: &DataFrame, c: &str) -> Vec<bool> {
    df.column(c).unwrap().bool().unwrap().iter().map(|x| x.unwrap()).collect()
}
fn months(df: &DataFrame, c: &str) -> Vec<Month> {
    df.column(c)
        .unwrap()
        .date()
        .unwrap()
        .physical()
        .iter()
        .map(|d| {
            Month::of_date(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(d.unwrap().into()))
        })
        .collect()
}

/// Per unit, from its C12-TS notices.
#[derive(Default, Debug)]
struct Notices {
    due_before: i64,
    paid: i64,
    interest_charged: i64,
    interest_unpaid: i64,
    first_due_month: Option<Month>,
}

/// At the dispatch's date: suspensions run on past the as-of month, so their
/// make-ups are not due yet.
#[test]
fn planted_debt_is_found_to_the_vnd_at_the_dispatch_date() {
    check(NaiveDate::from_ymd_opt(2020, 6, 8).unwrap(), 6000, 4, false);
}

/// Six months later most suspensions have ended: make-ups have fallen due
/// (and some are still unpaid), and are part of the planted dues.
#[test]
fn planted_debt_with_makeups_fallen_due() {
    check(NaiveDate::from_ymd_opt(2020, 12, 8).unwrap(), 6000, 5, true);
}

fn check(as_of: NaiveDate, people: u64, seed: u64, makeups_due: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = (dir.path().join("inbox"), dir.path().join("lake"));
    let opts = GenerateOptions { out: inbox.clone(), people, seed, as_of, reference_dir: reference_dir() };
    generate(&opts).unwrap();
    let report = pipeline::run(&RunConfig::new(&inbox, &lake, reference_dir(), as_of)).unwrap();
    let rep = &report.assess;
    let a = Month::of_date(as_of);

    // --- our C12-TS notices, summed per unit
    let c12 = gold::read_partitioned(&lake, assess::C12_NOTICES).unwrap().unwrap();
    let mut notices: BTreeMap<String, Notices> = BTreeMap::new();
    let (units, ms) = (strs(&c12, "unit_code"), months(&c12, "month"));
    let (due, paid, interest, iu) =
        (ints(&c12, "due"), ints(&c12, "paid"), ints(&c12, "interest"), ints(&c12, "interest_unpaid"));
    let (bf, cf, debt, credit) =
        (ints(&c12, "brought_forward"), ints(&c12, "carried_forward"), ints(&c12, "debt"), ints(&c12, "credit"));
    for k in 0..c12.height() {
        assert_eq!(cf[k], bf[k] + due[k] + interest[k] - paid[k], "C12 balance of {} {}", units[k], ms[k]);
        assert_eq!(cf[k], debt[k] + iu[k] - credit[k], "C12 composition of {} {}", units[k], ms[k]);
        let n = notices.entry(units[k].clone()).or_default();
        if ms[k] < a {
            n.due_before += due[k];
        }
        if due[k] > 0 && n.first_due_month.is_none() {
            n.first_due_month = Some(ms[k]);
        }
        n.paid += paid[k];
        n.interest_charged += interest[k];
        if ms[k] == a {
            n.interest_unpaid = iu[k];
        }
    }

    // --- delinquent_employers
    let del = gold::read_partitioned(&lake, assess::DELINQUENT_EMPLOYERS).unwrap().unwrap();
    let ours: HashMap<String, usize> = strs(&del, "unit_code").into_iter().enumerate().map(|(i, u)| (u, i)).collect();
    let (d_debt, d_months, d_int) = (ints(&del, "debt"), ints(&del, "debt_months"), ints(&del, "interest"));
    let (d_susp, d_cand) = (bools(&del, "suspended"), bools(&del, "inspection_candidate"));

    let rows = truth(&inbox, "delinquent_employers");
    let planted: Vec<_> = rows.iter().filter(|r| r["planted_debt"] != "0").collect();
    assert!(planted.len() >= 20, "a useful number of planted delinquent units: {}", planted.len());
    for habit in ["late", "partial", "never", "stopped"] {
        assert!(planted.iter().any(|r| r["habit"] == habit), "a planted {habit} unit");
    }
    assert!(planted.iter().any(|r| r["suspended_at_asof"] == "true"), "a planted unit inside a suspension");

    let (mut exact, mut sum_planted) = (0, 0i64);
    for r in &rows {
        let unit = &r["unit_code"];
        let n = notices.get(unit).unwrap_or_else(|| panic!("{unit}: no C12-TS notices"));
        let due_before: i64 = r["due_before_asof_month"].parse().unwrap();
        let paid_total: i64 = r["paid_total"].parse().unwrap();
        let planted_debt: i64 = r["planted_debt"].parse().unwrap();
        // The dues engine and the generator agree to the VND on what fell due before the
        // as-of month (suspensions and make-ups included), and on the money received
        // (a resent payment counted once).
        assert_eq!(n.due_before, due_before, "{unit}: dues before the as-of month");
        assert_eq!(n.paid, paid_total, "{unit}: payments up to the as-of date");
        let interest_paid = n.interest_charged - n.interest_unpaid;
        let expected = (due_before - paid_total + interest_paid).max(0);
        let got = ours.get(unit).map_or(0, |&i| d_debt[i]);
        assert_eq!(got, expected, "{unit} ({}): debt = max(0, due − paid + interest paid {interest_paid})", r["habit"]);
        if interest_paid == 0 {
            assert_eq!(got, planted_debt, "{unit}: no interest paid, so exactly the planted debt");
            exact += 1;
        }
        sum_planted += planted_debt;
        if let Some(&i) = ours.get(unit) {
            assert_eq!(d_susp[i], r["suspended_at_asof"] == "true", "{unit}: suspended at as-of");
            assert_eq!(d_int[i], n.interest_unpaid, "{unit}: interest beside the debt");
            // A unit that never paid owes since its first due month.
            if r["habit"] == "never" {
                assert_eq!(d_months[i], i64::from(n.first_due_month.unwrap().until(a)), "{unit}: debt age");
            }
        }
    }
    eprintln!(
        "truth rows {}, planted delinquent {}, exact {exact}, ours {}, candidates {}",
        rows.len(),
        planted.len(),
        ours.len(),
        d_cand.iter().filter(|c| **c).count()
    );
    assert!(exact * 10 >= rows.len() * 9, "the simplified oracle is exact for most units: {exact}/{}", rows.len());

    // Every delinquent unit we list is a planted one (no false positives).
    let planted_units: BTreeSet<&String> = planted.iter().map(|r| &r["unit_code"]).collect();
    let listed: BTreeSet<&String> = ours.keys().collect();
    assert_eq!(listed, planted_units, "delinquent units = planted delinquent units");

    // No unit inside a suspension is an inspection candidate; candidates are 3 months or more.
    for i in 0..del.height() {
        assert_eq!(d_cand[i], d_months[i] >= 3 && !d_susp[i], "candidate rule, row {i}");
    }
    assert!(d_cand.iter().any(|c| *c), "some inspection candidates");
    assert!(
        d_susp.iter().zip(&d_months).any(|(s, m)| *s && *m >= 3),
        "a suspended unit with old debt, not a candidate"
    );

    // Across the whole lake: total due − total paid = total debt (all before the as-of
    // month; this data has no payment beyond dues, so no interest paid, no credit, and
    // nothing of the as-of month's dues settled)...
    let total_due_before: i64 = notices.values().map(|n| n.due_before).sum();
    let total_paid: i64 = notices.values().map(|n| n.paid).sum();
    let total_debt: i64 = d_debt.iter().sum();
    assert_eq!((rep.interest_paid, rep.credit), (0, 0));
    assert_eq!(total_due_before - total_paid, total_debt, "Σ due − Σ paid = Σ debt");
    assert_eq!(total_debt, sum_planted, "Σ debt = Σ planted debt");
    assert_eq!(total_debt, rep.debt);
    // ...and the general identity, with the as-of month's dues.
    assert_eq!(rep.total_due - rep.total_paid, rep.debt + rep.current_unpaid - rep.interest_paid - rep.credit);

    // Make-ups that fell due before the as-of month are in the dues above.
    let makeup = ints(&c12, "makeup");
    let makeups_before: i64 = (0..c12.height()).filter(|&k| ms[k] < a).map(|k| makeup[k]).sum();
    assert_eq!(makeups_before > 0, makeups_due, "make-ups due before the as-of month: {makeups_before}");

    // §3.2 lists agree with delinquent_employers.
    let owing = gold::read_partitioned(&lake, assess::SUSPENDED_UNITS_OWING).unwrap().unwrap();
    let suspended_listed: BTreeSet<String> = ours.iter().filter(|(_, &i)| d_susp[i]).map(|(u, _)| u.clone()).collect();
    assert_eq!(strs(&owing, "unit_code").into_iter().collect::<BTreeSet<_>>(), suspended_listed);

    // --- exports: the debt rows of a province's inspection list = its candidates
    // (the coverage stage adds rows for uninsured workers and unregistered
    // employers, without a debt).
    let ex = export::exports_dir(&lake, as_of);
    let provinces = strs(&del, "province_code");
    let codes = strs(&del, "unit_code");
    for p in bhxh::reference::Reference::load(&reference_dir()).unwrap().provinces {
        let text = std::fs::read_to_string(ex.join(&p.code).join("inspection_list.csv")).unwrap();
        assert!(text.starts_with('\u{feff}'));
        let mut rdr = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let got: BTreeSet<String> = rdr
            .records()
            .map(|r| r.unwrap())
            .filter(|r| !r[6].is_empty())
            .map(|r| {
                assert_eq!(&r[0], p.code.as_str(), "province column of province {}", p.code);
                r[1].to_string()
            })
            .collect();
        let want: BTreeSet<String> =
            (0..del.height()).filter(|&i| d_cand[i] && provinces[i] == p.code).map(|i| codes[i].clone()).collect();
        assert_eq!(got, want, "inspection list of province {}", p.code);
    }
    // bhxh verify: no personal data in gold, no foreign row in a province's folder.
    let reference = bhxh::reference::Reference::load(&reference_dir()).unwrap();
    assert_eq!(bhxh::verify::run(&lake, &lake.join("exports"), &reference).unwrap(), vec![]);

    // Every code in every province's lists has its meaning in the workbook's
    // legend sheet.
    use bhxh::export::legend;
    let mut seen = BTreeSet::new();
    for p in &reference.provinces {
        for (file, header) in legend::code_columns() {
            let text = std::fs::read_to_string(ex.join(&p.code).join(file)).unwrap();
            let mut rdr = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
            let at = rdr.headers().unwrap().iter().position(|h| h == header).unwrap_or_else(|| panic!("{file}: {header}"));
            for r in rdr.records() {
                for code in r.unwrap()[at].split(legend::SEPARATORS).filter(|c| !c.is_empty()) {
                    assert!(legend::meaning(file, header, code).is_some(), "{file} {header}: {code} has no meaning in the legend");
                    seen.insert((file, header, code.to_string()));
                }
            }
        }
    }
    assert!(seen.len() >= 25, "the generated country shows most codes: {seen:?}");
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(ex.join("01").join(bhxh::export::workbook_name("01", as_of))).unwrap();
    assert_eq!(wb.sheet_names().last().map(String::as_str), Some(legend::SHEET));
    let sheet = wb.worksheet_range(legend::SHEET).unwrap();
    assert_eq!(sheet.height(), legend::LEGEND.len() + 1, "the header and one row per code");
}
