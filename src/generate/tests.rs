//! End-to-end checks of the generator against the contract validators and
//! its own truth files (2,000 people, as-of 2020-06-08).

use super::badrows;
use super::writer::Ds;
use super::{generate, GenerateOptions, GenerateSummary};
use crate::contract::DATASETS;
use crate::ids::{check_citizen_id, check_tax_code, tax_head, CitizenId};
use crate::ingest::validate_row;
use crate::month::Month;
use crate::reference::{apply_bp, Fund, Payer, Reference};
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use unicode_normalization::is_nfc;

fn reference_dir() -> PathBuf {
    let local = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/reference"));
    if local.join("provinces.csv").exists() {
        local.to_path_buf()
    } else {
        PathBuf::from("/work/main/pipelines/reference")
    }
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 6, 8).expect("date")
}

/// A fresh directory for one run; directories left by earlier test
/// processes (the shared run is never removed) are swept after an hour.
fn scratch(name: &str) -> PathBuf {
    let tmp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let old = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if e.file_name().to_string_lossy().starts_with("bhxh-generate-test-")
                && old.is_some_and(|age| age.as_secs() > 3600)
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let d = tmp.join(format!("bhxh-generate-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(dir: &Path, people: u64, seed: u64) -> GenerateSummary {
    generate(&GenerateOptions { out: dir.to_path_buf(), people, seed, as_of: as_of(), reference_dir: reference_dir() })
        .expect("generate")
}

struct Run {
    dir: PathBuf,
    summary: GenerateSummary,
    reference: Reference,
}

/// One shared 2,000-people run for the read-only checks.
fn small() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("small");
        let summary = run(&dir, 2_000, 42);
        Run { dir, summary, reference: Reference::load(&reference_dir()).expect("reference") }
    })
}

/// (physical line, fields) of every data record, and the header.
fn records(path: &Path) -> (Vec<String>, Vec<(u64, Vec<String>)>) {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_path(path).expect("open");
    let mut out = Vec::new();
    let mut header = Vec::new();
    for rec in rdr.records() {
        let rec = rec.expect("csv record");
        let line = rec.position().expect("position").line();
        let fields: Vec<String> = rec.iter().map(str::to_string).collect();
        if line == 1 {
            header = fields;
        } else {
            out.push((line, fields));
        }
    }
    (header, out)
}

fn file(r: &Run, ds: &str) -> PathBuf {
    r.dir.join(format!("{ds}_20200608.csv"))
}

/// Truth file rows as maps.
fn truth(r: &Run, name: &str) -> Vec<HashMap<String, String>> {
    let (header, rows) = records(&r.dir.join("truth").join(format!("{name}.csv")));
    rows.into_iter().map(|(_, f)| header.iter().cloned().zip(f).collect()).collect()
}

/// (file, line) → (reason, column) of the planted bad rows.
type BadLines = HashMap<(String, u64), (String, String)>;

/// Lines of planted bad rows and duplicate copies, per file.
fn planted_lines(r: &Run) -> (BadLines, HashSet<(String, u64)>) {
    let bad = truth(r, "bad_rows")
        .into_iter()
        .map(|b| ((b["file"].clone(), b["line"].parse().unwrap()), (b["reason"].clone(), b["column"].clone())))
        .collect();
    let dups = truth(r, "duplicates").into_iter().map(|d| (d["file"].clone(), d["line"].parse().unwrap())).collect();
    (bad, dups)
}

/// Good rows (neither bad nor a duplicate copy) of a dataset, as maps.
fn good_rows(r: &Run, ds: &str) -> Vec<(u64, HashMap<String, String>)> {
    let (bad, dups) = planted_lines(r);
    let name = format!("{ds}_20200608.csv");
    let (header, rows) = records(&file(r, ds));
    rows.into_iter()
        .filter(|(line, _)| !bad.contains_key(&(name.clone(), *line)) && !dups.contains(&(name.clone(), *line)))
        .map(|(line, f)| (line, header.iter().cloned().zip(f).collect()))
        .collect()
}

#[test]
fn same_inputs_give_identical_bytes() {
    let (a, b, c) = (scratch("det-a"), scratch("det-b"), scratch("det-c"));
    run(&a, 2_000, 7);
    run(&b, 2_000, 7);
    run(&c, 2_000, 8);
    let list = |d: &Path| {
        let mut v: Vec<PathBuf> = Vec::new();
        for e in std::fs::read_dir(d).unwrap().chain(std::fs::read_dir(d.join("truth")).unwrap()) {
            let p = e.unwrap().path();
            if p.is_file() {
                v.push(p.strip_prefix(d).unwrap().to_path_buf());
            }
        }
        v.sort();
        v
    };
    assert_eq!(list(&a), list(&b));
    assert_eq!(list(&a).len(), 14 + 13);
    for f in list(&a) {
        assert!(std::fs::read(a.join(&f)).unwrap() == std::fs::read(b.join(&f)).unwrap(), "{} differs", f.display());
    }
    let tw = "tax_wages_20200608.csv";
    assert_ne!(std::fs::read(a.join(tw)).unwrap(), std::fs::read(c.join(tw)).unwrap(), "another seed, another country");
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Every row of every extract in `dir` passes the contract validators,
/// except the planted bad rows, which fail with the recorded reason and
/// column; every reason class that applies to a dataset is planted.
fn check_rows_as_planted(dir: &Path, tag: &str, reference: &Reference) {
    let (header, rows) = records(&dir.join("truth/bad_rows.csv"));
    assert_eq!(header, ["dataset", "file", "line", "reason", "column"]);
    let bad: BadLines =
        rows.into_iter().map(|(_, b)| ((b[1].clone(), b[2].parse().unwrap()), (b[3].clone(), b[4].clone()))).collect();
    let is_province = |c: &str| reference.is_province(c);
    for d in DATASETS {
        let ds = Ds::from_name(d.name).expect("generator knows the dataset");
        let name = format!("{}_{tag}.csv", d.name);
        let (header, rows) = records(&dir.join(&name));
        assert_eq!(header, ds.columns(), "{}: header in contract order", d.name);
        let map: Vec<Option<usize>> = d.columns.iter().map(|c| header.iter().position(|h| h == c.name)).collect();
        let mut seen = BTreeSet::new();
        let mut values = Vec::new();
        for (line, f) in &rows {
            let planted = bad.get(&(name.clone(), *line));
            if f.len() != header.len() {
                let p = planted.unwrap_or_else(|| panic!("{name}:{line} has {} fields and is not planted", f.len()));
                assert_eq!(p, &("malformed_row".to_string(), String::new()), "{name}:{line}");
                seen.insert("malformed_row".to_string());
                continue;
            }
            let res = validate_row(d, |i| map[i].map(|h| f[h].as_str()), &is_province, &mut values);
            match (planted, res) {
                (None, Ok(())) => {}
                (None, Err(e)) => {
                    panic!("{name}:{line} good row rejected: {} {:?} {}", e.reason.code(), e.column, e.message)
                }
                (Some(p), Ok(())) => panic!("{name}:{line} planted {p:?} but accepted: {f:?}"),
                (Some((reason, column)), Err(e)) => {
                    assert_eq!(
                        (e.reason.code(), e.column.unwrap_or("")),
                        (reason.as_str(), column.as_str()),
                        "{name}:{line} {}",
                        e.message
                    );
                    seen.insert(reason.clone());
                }
            }
        }
        let want: BTreeSet<String> = badrows::classes(ds).iter().map(|c| c.code().to_string()).collect();
        assert_eq!(seen, want, "{}: every applicable class planted", d.name);
        assert!(rows.len() > seen.len(), "{}: good rows too", d.name);
    }
}

#[test]
fn every_row_validates_as_planted() {
    let r = small();
    check_rows_as_planted(&r.dir, "20200608", &r.reference);
}

#[test]
fn other_as_of_dates_work_too() {
    let reference = Reference::load(&reference_dir()).unwrap();
    for (date, tag) in [("2021-01-15", "20210115"), ("2024-02-29", "20240229")] {
        let dir = scratch(tag);
        let as_of: NaiveDate = date.parse().unwrap();
        generate(&GenerateOptions { out: dir.clone(), people: 1_500, seed: 3, as_of, reference_dir: reference_dir() })
            .unwrap();
        check_rows_as_planted(&dir, tag, &reference);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn identities_are_valid_and_unique() {
    let r = small();
    let people = truth(r, "people");
    assert_eq!(people.len(), 2_000);
    let mut seen: HashMap<&str, HashSet<String>> = HashMap::new();
    for p in &people {
        let birth: NaiveDate = p["birth_date"].parse().unwrap();
        if !p["cccd"].is_empty() {
            match check_citizen_id(&p["cccd"], |c| r.reference.is_province(c)) {
                Some(CitizenId::Cccd { female, birth_year, .. }) => {
                    assert_eq!(birth_year, birth.year(), "{p:?}");
                    assert_eq!(female, p["sex"] == "F", "{p:?}");
                }
                other => panic!("bad CCCD {other:?} {p:?}"),
            }
        }
        assert!(!p["cccd"].is_empty() || !p["cmnd"].is_empty(), "everyone has a citizen ID");
        if !p["cmnd"].is_empty() {
            assert_eq!(check_citizen_id(&p["cmnd"], |_| true), Some(CitizenId::Cmnd));
        }
        if !p["person_tax_code"].is_empty() {
            assert!(check_tax_code(&p["person_tax_code"]).is_ok());
        }
        if !p["si_number"].is_empty() {
            assert!(crate::ids::is_si_number(&p["si_number"]));
        }
        assert!(is_nfc(&p["full_name"]) && crate::ids::normalize_name(&p["full_name"]) == p["full_name"]);
        for col in ["si_number", "person_tax_code", "cccd", "cmnd"] {
            if !p[col].is_empty() {
                assert!(seen.entry(col).or_default().insert(p[col].clone()), "duplicate {col} {}", p[col]);
            }
        }
    }
    let roles: HashSet<&str> = people.iter().map(|p| p["role"].as_str()).collect();
    assert_eq!(roles.len(), 9, "{roles:?}");
}

#[test]
fn natural_keys_are_unique_and_duplicates_exact() {
    let r = small();
    let (bad, dups) = planted_lines(r);
    for d in DATASETS {
        let name = format!("{}_20200608.csv", d.name);
        let (header, rows) = records(&file(r, d.name));
        let at = |c: &str| header.iter().position(|h| h == c).unwrap();
        let mut keys = HashSet::new();
        for (line, f) in &rows {
            if bad.contains_key(&(name.clone(), *line)) || dups.contains(&(name.clone(), *line)) {
                continue;
            }
            // A derived key column as conform derives it (person_ref: the
            // best identifier, the name as stored, in lower case).
            let key: Vec<String> = d
                .key
                .iter()
                .map(|&k| match k {
                    "person_ref" => {
                        let (pit, cid) = (&f[at("person_tax_code")], &f[at("citizen_id")]);
                        if !pit.is_empty() {
                            format!("pit:{pit}")
                        } else if !cid.is_empty() {
                            format!("cid:{cid}")
                        } else {
                            format!("name:{}|{}", crate::ids::normalized_name(&f[at("full_name")]).to_lowercase(), f[at("birth_date")])
                        }
                    }
                    k => f[at(k)].clone(),
                })
                .collect();
            assert!(keys.insert(key.join("|")), "{name}:{line} repeats key {key:?}");
        }
    }
    let mut per_ds: HashMap<String, usize> = HashMap::new();
    for d in truth(r, "duplicates") {
        let (_, rows) = records(&r.dir.join(&d["file"]));
        let by_line: HashMap<u64, &Vec<String>> = rows.iter().map(|(l, f)| (*l, f)).collect();
        let (l, o): (u64, u64) = (d["line"].parse().unwrap(), d["original_line"].parse().unwrap());
        assert!(o < l);
        assert_eq!(by_line[&l], by_line[&o], "{d:?}");
        *per_ds.entry(d["dataset"].clone()).or_default() += 1;
    }
    for ds in ["tax_wages", "si_contributions", "si_people"] {
        assert!(per_ds.get(ds).copied().unwrap_or(0) > 0, "{ds} has planted duplicates");
    }
}

#[test]
fn noise_is_where_the_truth_says() {
    let r = small();
    let mut noise: HashMap<(String, u64), String> = HashMap::new();
    let mut kinds = HashSet::new();
    for n in truth(r, "noise") {
        kinds.insert(n["kind"].clone());
        noise.insert((n["dataset"].clone(), n["line"].parse().unwrap()), n["kind"].clone());
    }
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    for (ds, name_col) in [("tax_wages", "full_name"), ("si_people", "full_name"), ("tax_households", "owner_name")] {
        for (line, row) in good_rows(r, ds) {
            let name = &row[name_col];
            match noise.get(&(ds.to_string(), line)).map(String::as_str) {
                None => {
                    assert!(
                        is_nfc(name) && !name.contains("  ") && name.to_uppercase() != *name,
                        "{ds}:{line} {name:?}"
                    );
                    assert!(!row["citizen_id"].is_empty() && !row["birth_date"].is_empty(), "{ds}:{line}");
                }
                Some("nfd_name") => assert!(!is_nfc(name), "{ds}:{line}"),
                Some("upper_name") => assert_eq!(&name.to_uppercase(), name),
                Some("double_space") => assert!(name.contains("  ")),
                Some("typo_name") => assert!(is_nfc(name) && !name.contains("  ")),
                Some("missing_citizen_id") => assert!(row["citizen_id"].is_empty()),
                Some("cmnd_not_cccd") => assert_eq!(row["citizen_id"].len(), 9),
                Some("missing_birth_date") => assert!(row["birth_date"].is_empty()),
                Some(k) => panic!("unknown kind {k}"),
            }
        }
    }
}

/// Head office of each unit, from si_units.
fn unit_heads(r: &Run) -> HashMap<String, String> {
    good_rows(r, "si_units")
        .into_iter()
        .map(|(_, u)| (u["unit_code"].clone(), tax_head(&u["tax_code"]).to_string()))
        .collect()
}

#[test]
fn uninsured_truth_follows_the_files() {
    let r = small();
    let people: HashMap<String, HashMap<String, String>> =
        truth(r, "people").into_iter().map(|p| (p["person_id"].clone(), p)).collect();
    let heads = unit_heads(r);
    // si_number → month → heads with a due contribution.
    let mut due: HashMap<String, HashMap<String, HashSet<String>>> = HashMap::new();
    for (_, c) in good_rows(r, "si_contributions") {
        if c["work_status"] == "working" || c["work_status"] == "stopped_paid" {
            due.entry(c["si_number"].clone())
                .or_default()
                .entry(c["month"].clone())
                .or_default()
                .insert(heads[&c["unit_code"]].clone());
        }
    }
    // person tax code → (head, month) with compulsory wages.
    let mut wages: HashMap<String, BTreeSet<(String, String)>> = HashMap::new();
    for (_, t) in good_rows(r, "tax_wages") {
        if !t["person_tax_code"].is_empty() && (t["contract"] == "indefinite" || t["contract"] == "fixed") {
            wages
                .entry(t["person_tax_code"].clone())
                .or_default()
                .insert((tax_head(&t["employer_tax_code"]).to_string(), t["month"].clone()));
        }
    }
    let rows = truth(r, "uninsured_workers");
    let reasons: HashSet<&str> = rows.iter().map(|u| u["reason"].as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    let mut checked = 0;
    for u in &rows {
        let p = &people[&u["person_id"]];
        assert_ne!(p["role"], "pensioner");
        assert_eq!(p["si_number"].is_empty(), u["reason"] == "no_si_record", "{u:?}");
        let months_due = due.get(&p["si_number"]);
        let due_at = |m: &str| months_due.and_then(|d| d.get(m));
        let head = &u["employer_tax_code"];
        let last = &u["last_month"];
        assert!(due_at(last).is_none_or(|h| !h.contains(head)), "{u:?}: declared by the employer in {last}");
        if u["reason"] == "declared_elsewhere" {
            assert_eq!(u["months_uninsured"], "0");
            assert!(due_at(last).is_some_and(|h| !h.is_empty()), "{u:?}");
        }
        if let Some(w) = wages.get(&p["person_tax_code"]) {
            // Recompute the uninsured months from the files.
            let months: Vec<&String> = w.iter().filter(|(h, _)| h == head).map(|(_, m)| m).collect();
            assert!(months.contains(&last), "{u:?}");
            let uninsured = months.iter().filter(|m| due_at(m).is_none()).count();
            assert_eq!(uninsured.to_string(), u["months_uninsured"], "{u:?}");
            checked += 1;
        }
    }
    assert!(checked > rows.len() / 2, "{checked} of {}", rows.len());
}

/// DOMAIN dues recomputed from the extracts and the reference tables.
fn dues_from_files(r: &Run) -> HashMap<String, HashMap<Month, i64>> {
    let region: HashMap<String, u8> = good_rows(r, "si_units")
        .into_iter()
        .map(|(_, u)| (u["unit_code"].clone(), u["wage_region"].parse().unwrap()))
        .collect();
    let susp: HashMap<String, (Month, Month)> = good_rows(r, "si_suspensions")
        .into_iter()
        .map(|(_, s)| (s["unit_code"].clone(), (s["from_month"].parse().unwrap(), s["to_month"].parse().unwrap())))
        .collect();
    let mut due: HashMap<String, HashMap<Month, i64>> = HashMap::new();
    let mut deferred: HashMap<String, i64> = HashMap::new();
    for (_, c) in good_rows(r, "si_contributions") {
        if c["work_status"] != "working" && c["work_status"] != "stopped_paid" {
            continue;
        }
        let m: Month = c["month"].parse().unwrap();
        let unit = &c["unit_code"];
        let wage: i64 = c["insured_wage"].parse().unwrap();
        let suspended = susp.get(unit).is_some_and(|(f, t)| *f <= m && m <= *t);
        for f in Fund::ALL {
            for p in Payer::ALL {
                let ceiling = r.reference.ceiling(f, region[unit], m).unwrap();
                let a = apply_bp(wage.min(ceiling), r.reference.rate(f, p, m).unwrap());
                if suspended && f == Fund::PensionSurvivorship {
                    *deferred.entry(unit.clone()).or_default() += a;
                } else {
                    *due.entry(unit.clone()).or_default().entry(m).or_default() += a;
                }
            }
        }
    }
    for (unit, amount) in deferred {
        *due.entry(unit.clone()).or_default().entry(susp[&unit].1.next()).or_default() += amount;
    }
    due
}

#[test]
fn delinquent_truth_follows_the_dues_convention() {
    let r = small();
    let dues = dues_from_files(r);
    let asof_m = Month::of_date(as_of());
    let mut paid: HashMap<String, i64> = HashMap::new();
    let mut refs = HashSet::new();
    let (_, all) = records(&file(r, "si_payments"));
    let (bad, _) = planted_lines(r);
    for (line, f) in all {
        if bad.contains_key(&("si_payments_20200608.csv".to_string(), line)) {
            continue;
        }
        if refs.insert(f[3].clone()) {
            *paid.entry(f[0].clone()).or_default() += f[2].parse::<i64>().unwrap();
        }
    }
    let rows = truth(r, "delinquent_employers");
    assert!(rows.iter().any(|d| d["suspended_at_asof"] == "true"));
    assert!(rows.iter().any(|d| d["planted_debt"] != "0"));
    for d in &rows {
        let unit = &d["unit_code"];
        let due: i64 = dues.get(unit).map_or(0, |m| m.iter().filter(|(k, _)| **k < asof_m).map(|(_, v)| v).sum());
        assert_eq!(due.to_string(), d["due_before_asof_month"], "{d:?}");
        assert_eq!(paid.get(unit).copied().unwrap_or(0).to_string(), d["paid_total"], "{d:?}");
    }
    // On-time units without a suspension pay exactly their dues, month by month.
    let listed: HashSet<&String> = rows.iter().map(|d| &d["unit_code"]).collect();
    for (unit, months) in &dues {
        if !listed.contains(unit) {
            let due: i64 = months.iter().filter(|(k, _)| **k < asof_m).map(|(_, v)| v).sum();
            assert!(paid.get(unit).copied().unwrap_or(0) >= due, "{unit} on time but in debt");
        }
    }
}

#[test]
fn under_declared_rows_break_their_rule() {
    let r = small();
    let region: HashMap<String, u8> = good_rows(r, "si_units")
        .into_iter()
        .map(|(_, u)| (u["unit_code"].clone(), u["wage_region"].parse().unwrap()))
        .collect();
    let rows = truth(r, "under_declared_wages");
    let rules: HashSet<&str> = rows.iter().map(|u| u["rule"].as_str()).collect();
    assert_eq!(rules.len(), 2);
    for u in &rows {
        let wage: i64 = u["insured_wage"].parse().unwrap();
        let m: Month = u["month"].parse().unwrap();
        let min = r.reference.min_wage(region[&u["unit_code"]], m).unwrap();
        match u["rule"].as_str() {
            "below_min_wage" => assert!(wage < min, "{u:?}"),
            _ => assert!(wage >= min && wage * 2 < u["taxable_income"].parse::<i64>().unwrap(), "{u:?}"),
        }
    }
}

#[test]
fn truth_files_are_populated_and_small_runs_are_small() {
    let r = small();
    let prospects = truth(r, "voluntary_prospects");
    for source in ["household_business", "stopped_contributing", "household_hi_only", "free_worker"] {
        let of: Vec<_> = prospects.iter().filter(|p| p["source"] == source).collect();
        assert!(of.iter().any(|p| p["good_prospect"] == "true"), "{source}");
        assert!(of.iter().any(|p| p["good_prospect"] == "false"), "{source}");
    }
    assert!(!truth(r, "unregistered_employers").is_empty());
    let units: HashSet<String> =
        good_rows(r, "si_units").into_iter().map(|(_, u)| tax_head(&u["tax_code"]).to_string()).collect();
    for e in truth(r, "unregistered_employers") {
        assert!(!units.contains(&e["tax_code"]));
    }
    let total: u64 = r.summary.files.iter().map(|(_, p, _)| std::fs::metadata(p).unwrap().len()).sum();
    assert!(total < 5_000_000, "{total} bytes");
    assert_eq!(r.summary.files.len(), 14);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.dir.join("truth/summary.json")).unwrap()).unwrap();
    assert_eq!(
        json["datasets"]["tax_wages"]["bad_rows"].as_u64().unwrap()
            + json["datasets"]["tax_wages"]["good_rows"].as_u64().unwrap()
            + json["datasets"]["tax_wages"]["duplicate_rows"].as_u64().unwrap(),
        json["datasets"]["tax_wages"]["rows"].as_u64().unwrap()
    );
}
