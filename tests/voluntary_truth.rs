//! The voluntary stage on a generated country (generate → run), checked
//! against the generator's planted truth:
//! - `truth/voluntary_prospects.csv`: the top decile of scores holds at least
//!   3× the planted good prospects of a random decile (lift ≥ 3);
//!   pensioners, voluntary participants and people outside working age never
//!   appear; every row carries reasons and an active agent of its province.
//! - `truth/d08a_due.csv`: every planted due participant is on the right
//!   agent's D08a-TS list with the planted amount, to the VND, and nobody else.
//! - a second run a week later, after a listed prospect enrolled, reports
//!   the enrolment against the agent's week of listing.

use bhxh::generate::{generate, GenerateOptions};
use bhxh::lake::gold;
use bhxh::person_key::PersonKeyer;
use bhxh::pipeline::{self, RunConfig};
use bhxh::reference::Reference;
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use std::collections::{HashMap, HashSet};
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

fn strs(df: &DataFrame, c: &str) -> Vec<Option<String>> {
    df.column(c).unwrap().str().unwrap().iter().map(|x| x.map(str::to_string)).collect()
}
fn ints(df: &DataFrame, c: &str) -> Vec<Option<i64>> {
    df.column(c).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().iter().collect()
}

const AS_OF: &str = "2020-06-08";

struct World {
    _dir: tempfile::TempDir,
    inbox: PathBuf,
    lake: PathBuf,
}

fn build(people: u64, seed: u64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let lake = dir.path().join("lake");
    generate(&GenerateOptions {
        out: inbox.clone(),
        people,
        seed,
        as_of: AS_OF.parse().unwrap(),
        reference_dir: reference_dir(),
    })
    .unwrap();
    World { _dir: dir, inbox, lake }
}

fn run(w: &World, as_of: &str) -> pipeline::RunReport {
    run_with(w, as_of, None)
}

fn run_with(w: &World, as_of: &str, scoring: Option<PathBuf>) -> pipeline::RunReport {
    let mut cfg = RunConfig { threads: 1, ..RunConfig::new(&w.inbox, &w.lake, reference_dir(), as_of.parse().unwrap()) };
    if let Some(s) = scoring {
        cfg.scoring = s;
    }
    pipeline::run(&cfg).unwrap()
}

/// person_key → truth person_id, through every identifier the person has.
fn keys_to_people(w: &World) -> (HashMap<String, String>, HashMap<String, HashMap<String, String>>) {
    let keyer = PersonKeyer::from_env().unwrap();
    let mut by_key = HashMap::new();
    let mut people = HashMap::new();
    for p in truth(&w.inbox, "people") {
        let id = p["person_id"].clone();
        if !p["si_number"].is_empty() {
            by_key.insert(keyer.si(&p["si_number"]), id.clone());
        }
        if !p["person_tax_code"].is_empty() {
            by_key.insert(keyer.tax(&format!("pit:{}", p["person_tax_code"])), id.clone());
        }
        for c in ["cccd", "cmnd"] {
            if !p[c].is_empty() {
                by_key.insert(keyer.tax(&format!("cid:{}", p[c])), id.clone());
            }
        }
        people.insert(id, p);
    }
    (by_key, people)
}

#[test]
fn prospects_lift_exclusions_d08a_and_results_against_the_planted_truth() {
    let w = build(40_000, 11);
    let report = run(&w, AS_OF);
    let v = report.voluntary.expect("voluntary stage ran");
    assert!(v.prospects > 1000, "{v:?}");
    assert_eq!(v.model, "defaults", "no outcomes yet: documented defaults");

    // ---------------------------------------------------------- prospects
    let df = gold::read_partitioned(&w.lake, "voluntary_prospects").unwrap().unwrap();
    let (keys, scores, reasons) = (strs(&df, "person_key"), ints(&df, "score"), strs(&df, "reasons"));
    let (agents, provinces, ages) = (strs(&df, "agent_code"), strs(&df, "province_code"), ints(&df, "age"));
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), df.height(), "one row per person");
    assert!(scores.iter().all(|s| s.is_some_and(|s| (0..=100).contains(&s))));
    assert!(reasons.iter().all(|r| r.as_deref().is_some_and(|r| !r.is_empty())), "every row carries reasons");
    assert!(ages.iter().flatten().all(|a| *a >= 15));

    let (by_key, people) = keys_to_people(&w);
    let planted: HashMap<String, bool> =
        truth(&w.inbox, "voluntary_prospects").into_iter().map(|r| (r["person_id"].clone(), r["good_prospect"] == "true")).collect();
    let reference = Reference::load(&reference_dir()).unwrap();
    let as_of: NaiveDate = AS_OF.parse().unwrap();
    let (mut mapped, mut unknown_age) = (0, 0);
    let age_at = |b: NaiveDate| (as_of.year() - b.year()) * 12 + as_of.month() as i32 - b.month() as i32 - i32::from(as_of.day() < b.day());
    for (i, k) in keys.iter().enumerate() {
        let Some(id) = k.as_ref().and_then(|k| by_key.get(k)) else { continue };
        mapped += 1;
        let p = &people[id];
        assert!(!["pensioner", "voluntary"].contains(&p["role"].as_str()), "{} is a {}", id, p["role"]);
        let b: NaiveDate = p["birth_date"].parse().unwrap();
        let ret = reference.retirement_age_months(p["sex"] == "F", b.year()).unwrap() as i32;
        if ages[i].is_some() {
            let a = age_at(b);
            assert!(a >= 15 * 12 && a < ret, "{id} aged {a} months");
        } else {
            // No source showed a birth date (planted noise): only a CCCD's
            // birth year can exclude them, and a CMND carries none. Kept, few.
            unknown_age += 1;
        }
    }
    assert!(unknown_age * 50 < df.height(), "{unknown_age} prospects of unknown age");
    assert!(mapped as f64 > 0.95 * df.height() as f64, "{mapped} of {} prospects traced to the truth", df.height());
    // Lift: top decile by score over the pool's rate (the expected rate of a random decile).
    let mut order: Vec<usize> = (0..df.height()).collect();
    order.sort_by(|a, b| scores[*b].cmp(&scores[*a]).then(keys[*a].cmp(&keys[*b])));
    let good = |i: &usize| keys[*i].as_ref().and_then(|k| by_key.get(k)).is_some_and(|id| planted.get(id) == Some(&true));
    let decile = order.len() / 10;
    let top = order[..decile].iter().filter(|i| good(i)).count() as f64 / decile as f64;
    let all = order.iter().filter(|i| good(i)).count() as f64 / order.len() as f64;
    let lift = top / all;
    eprintln!("lift {lift:.2}: top decile {top:.3}, pool {all:.3}");
    assert!(lift >= 3.0, "lift {lift:.2} (top decile {top:.3}, pool {all:.3})");

    // Market traders and craft-village businesses (dispatch §2.1): a prospect
    // listed from such a household business carries the feature.
    let mut named: HashMap<String, (bool, bool)> = HashMap::new();
    for e in std::fs::read_dir(&w.inbox).unwrap().flatten() {
        if !e.file_name().to_string_lossy().starts_with("tax_households_") {
            continue;
        }
        let mut r = csv::Reader::from_path(e.path()).unwrap();
        let h = r.headers().unwrap().clone();
        let at = |n: &str| h.iter().position(|c| c == n).unwrap();
        let (tc, mk, cv) = (at("tax_code"), at("market"), at("craft_village"));
        for row in r.records().flatten() {
            named.insert(format!("pit:{}", &row[tc]), (!row[mk].trim().is_empty(), !row[cv].trim().is_empty()));
        }
    }
    let history = bhxh::lake::read_parquet(&w.lake.join("silver/prospect_history.parquet")).unwrap();
    let (refs, sources) = (strs(&history, "person_ref"), strs(&history, "source"));
    let flag = |c: &str| -> Vec<Option<f64>> { history.column(c).unwrap().f64().unwrap().iter().collect() };
    let (fm, fv) = (flag("f_market_trader"), flag("f_craft_village"));
    let (mut traders, mut villagers, mut neither) = (0, 0, 0);
    for i in 0..history.height() {
        if sources[i].as_deref() != Some("household_business") {
            continue;
        }
        let Some(&(m, v)) = refs[i].as_ref().and_then(|r| named.get(r)) else { continue };
        if m {
            assert_eq!(fm[i], Some(1.0), "{:?} trades at a market", refs[i]);
            traders += 1;
        }
        if v {
            assert_eq!(fv[i], Some(1.0), "{:?} is in a craft village", refs[i]);
            villagers += 1;
        }
        if !m && !v && fm[i] == Some(0.0) && fv[i] == Some(0.0) {
            neither += 1;
        }
    }
    assert!(traders > 10 && villagers > 10 && neither > 10, "traders {traders}, craft villages {villagers}, neither {neither}");
    let reason_codes: HashSet<&str> = reasons.iter().flatten().flat_map(|r| r.split(',')).collect();
    assert!(reason_codes.contains("market_trader") || reason_codes.contains("craft_village"), "{reason_codes:?}");

    // Agents: active, of the prospect's province, ranked from 1 without gaps.
    let ag = gold::read_partitioned(&w.lake, "agent_targets").unwrap().unwrap();
    let agent_info: HashMap<String, (String, bool)> = strs(&ag, "agent_code")
        .into_iter()
        .zip(strs(&ag, "province_code"))
        .zip(ag.column("active").unwrap().bool().unwrap().iter())
        .map(|((a, p), act)| (a.unwrap(), (p.unwrap(), act.unwrap())))
        .collect();
    let ranks = ints(&df, "agent_rank");
    let mut per_agent: HashMap<&str, Vec<i64>> = HashMap::new();
    for i in 0..df.height() {
        let Some(a) = agents[i].as_deref() else { continue };
        let (prov, active) = &agent_info[a];
        assert!(*active, "prospect assigned to inactive agent {a}");
        assert_eq!(Some(prov), provinces[i].as_ref());
        per_agent.entry(a).or_default().push(ranks[i].unwrap());
    }
    for (a, mut r) in per_agent {
        r.sort();
        assert_eq!(r, (1..=r.len() as i64).collect::<Vec<_>>(), "ranks of {a}");
    }

    // ---------------------------------------------------------- D08a-TS
    let due = gold::read_partitioned(&w.lake, "d08a_due").unwrap().unwrap();
    let (si, scheme, agent, prov, amount) =
        (strs(&due, "si_number"), strs(&due, "scheme"), strs(&due, "agent_code"), strs(&due, "province_code"), ints(&due, "amount_due"));
    let got: HashMap<(String, String), (Option<String>, String, Option<i64>)> = (0..due.height())
        .map(|i| ((si[i].clone().unwrap(), scheme[i].clone().unwrap()), (agent[i].clone(), prov[i].clone().unwrap(), amount[i])))
        .collect();
    let planted_due = truth(&w.inbox, "d08a_due");
    assert!(planted_due.len() > 500);
    assert_eq!(got.len(), planted_due.len(), "exactly the planted participants");
    for t in &planted_due {
        let (a, p, amt) = got.get(&(t["si_number"].clone(), t["scheme"].clone())).unwrap_or_else(|| panic!("{t:?} missing"));
        assert_eq!(amt.map(|x| x.to_string()).as_deref(), Some(t["amount_due"].as_str()), "{t:?}");
        assert_eq!(p, &t["province_code"], "{t:?}");
        let a = a.as_deref().expect("every province has an active agent");
        if t["agent_active"] == "true" {
            assert_eq!(a, t["agent_code"], "{t:?}");
        } else {
            assert!(agent_info[a].1 && agent_info[a].0 == t["province_code"], "{t:?} given to {a}");
        }
    }
    // The per-province export holds the same lists, with a BOM.
    let one = &planted_due[0];
    let csv_path = w.lake.join("exports").join(AS_OF).join(&one["province_code"]).join("d08a_due.csv");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert!(text.lines().any(|l| l.contains(&one["si_number"]) && l.contains(&format!(",{},", one["amount_due"]))));

    // ---------------------------------------------------------- results a week later
    // The best-ranked prospect BHXH knows enrols; the next run reports it.
    let (pk, pagent) = order
        .iter()
        .find_map(|i| {
            let id = by_key.get(keys[*i].as_ref()?)?;
            let s = &people[id]["si_number"];
            (!s.is_empty() && keys[*i].as_deref() == Some(&PersonKeyer::from_env().unwrap().si(s)))
                .then(|| ((s.clone(), keys[*i].clone().unwrap()), agents[*i].clone()))
        })
        .unwrap();
    let (new_si, new_key) = pk;
    std::fs::write(
        w.inbox.join("si_voluntary_20200615.csv"),
        format!("si_number,scheme,agent_code,household_code,member_order,income_basis,support_group,payment_months,paid_from,paid_through\n{new_si},voluntary_si,{},,,1000000,other,1,2020-06,2020-06\n", pagent.clone().unwrap()),
    )
    .unwrap();
    // With the fit allowed on any outcome, the second run fits the weights.
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/scoring.toml")).unwrap();
    let eager = w.lake.parent().unwrap().join("scoring-eager.toml");
    std::fs::write(&eager, shipped.replace("min_outcomes = 200", "min_outcomes = 1").replace("min_age_days = 28", "min_age_days = 0")).unwrap();
    let second = run_with(&w, "2020-06-15", Some(eager)).voluntary.unwrap();
    assert_eq!(second.enrolled_after_listing, 1, "{second:?}");
    assert_eq!(second.model, "fitted");
    let fit = second.fit.clone().unwrap();
    assert_eq!(fit.positives, 1);
    assert!(fit.observations as u64 >= v.prospects);
    assert!(fit.log_loss.is_finite() && (0.0..=1.0).contains(&fit.auc), "{fit:?}");
    let df2 = gold::read_partitioned(&w.lake, "voluntary_prospects").unwrap().unwrap();
    assert!(!strs(&df2, "person_key").contains(&Some(new_key)), "an enrolled person is no longer a prospect");
    let weekly = gold::read_partitioned(&w.lake, "agent_weekly_results").unwrap().unwrap();
    let (wa, ww, we) = (strs(&weekly, "agent_code"), strs(&weekly, "week"), ints(&weekly, "enrolled"));
    let hit: Vec<usize> = (0..weekly.height()).filter(|i| wa[*i] == pagent && ww[*i].as_deref() == Some("2020-W24")).collect();
    assert_eq!(hit.len(), 1);
    assert_eq!(we[hit[0]], Some(1), "listed in 2020-W24, enrolled since");
    let targets = gold::read_partitioned(&w.lake, "agent_targets").unwrap().unwrap();
    let (ta, tw) = (strs(&targets, "agent_code"), ints(&targets, "enrolled_week"));
    let k = ta.iter().position(|a| *a == pagent).unwrap();
    assert_eq!(tw[k], Some(1), "enrolment seen in the as-of week");
}
