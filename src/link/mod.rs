//! Stage 3, link: tax-side people (tax_wages, tax_households) to BHXH's people
//! (si_people), Fellegi–Sunter style.
//!
//! 1. Normalise: names are stored NFC single-spaced by ingest; here they are
//!    diacritics-folded and lower-cased for comparison (`ids::fold_name`).
//! 2. Block: candidate pairs share a cheap key (citizen ID, folded name + birth
//!    date, ...; `pipelines/linkage.toml`), so the work is near-linear.
//! 3. Compare: citizen ID, name, birth date, sex, province and employer, each
//!    at a level with an m/u weight; the match weight is their sum.
//! 4. Decide: `matched` (with the method and the fields that agreed),
//!    `ambiguous` (to `silver/clerical_review`, never guessed) or `unmatched`.
//!
//! Writes `silver/person_links.parquet` (one row per tax-side `person_ref`,
//! with the evidence) and `silver/clerical_review.parquet`.

pub mod config;
mod interner;
pub mod model;

pub use config::LinkConfig;
pub use model::{Decision, Field, Level, Method, Model, Status};

use crate::lake::{self, Lake};
use crate::order;
use crate::person_key::PersonKeyer;
use anyhow::Result;
use itertools::izip;
use polars::prelude::*;
use std::path::Path;
use std::time::Instant;

/// The `person_ref` of a household business owner: the household's tax code is
/// the owner's personal tax code, as for tax_wages' `pit:` references.
pub fn household_person_ref(tax_code: &str) -> String {
    format!("pit:{tax_code}")
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct LinkReport {
    pub tax_people: u64,
    pub si_people: u64,
    pub matched: u64,
    pub ambiguous: u64,
    pub unmatched: u64,
    /// Matched by method: citizen_id, name_birth, probabilistic.
    pub by_method: Vec<(String, u64)>,
    pub pairs_compared: u64,
    pub blocks_skipped: u64,
    /// Bits `match_weight` and `review_weight` rose by for this many BHXH
    /// people (`reference_population` in pipelines/linkage.toml).
    #[serde(default)]
    pub threshold_bits: f64,
    pub seconds: f64,
    /// Its inputs were unchanged: the links of the last run were kept (the
    /// counts are that run's).
    #[serde(default)]
    pub skipped: bool,
}

/// Columns of `silver/person_links` (name, type, meaning), for the dictionary.
pub const PERSON_LINKS_COLUMNS: &[(&str, &str, &str)] = &[
    ("person_ref", "string", "Tax-side person (conform's `person_ref`; households: `pit:<tax_code>`)"),
    ("source", "string", "`wages`, `households` or `wages+households`"),
    ("status", "string", "`matched`, `ambiguous` (see clerical_review) or `unmatched`"),
    ("si_number", "string", "The linked BHXH person (matched only)"),
    ("person_key", "string", "Keyed hash of the linked si_number, else of the person_ref"),
    ("method", "string", "Matched only: `citizen_id`, `name_birth` or `probabilistic`"),
    ("match_weight", "float64", "Best candidate's match weight, bits (null: no candidate)"),
    ("runner_up_weight", "float64", "Second-best candidate's match weight, bits"),
    ("candidates", "int64", "Candidate pairs compared (after blocking)"),
    ("best_candidate", "string", "si_number of the best candidate, whatever the status"),
    ("review_reason", "string", "Ambiguous only: `close_runner_up` or `below_match_weight`"),
    ("cmp_citizen_id", "string", "Best candidate's level: exact, disagree, other_type (CMND vs CCCD), missing"),
    ("cmp_name", "string", "exact (folded), fuzzy (one edit apart), disagree"),
    ("cmp_birth_date", "string", "exact, year_only, same_year, disagree, missing"),
    ("cmp_sex", "string", "agree, disagree, missing"),
    ("cmp_province", "string", "agree, disagree, missing"),
    ("cmp_employer", "string", "agree (declared by a unit of one of the person's employers), disagree, missing"),
    ("agreed", "string", "Comma-separated fields that agreed"),
];

/// Columns of `silver/clerical_review`.
pub const CLERICAL_REVIEW_COLUMNS: &[(&str, &str, &str)] = &[
    ("person_ref", "string", "Tax-side person to decide"),
    ("review_reason", "string", "`close_runner_up` or `below_match_weight`"),
    ("rank", "int64", "Candidate rank, 1 = best"),
    ("si_number", "string", "Candidate BHXH person"),
    ("match_weight", "float64", "Candidate's match weight, bits"),
    ("cmp_citizen_id", "string", "Level of each field, as in person_links"),
    ("cmp_name", "string", ""),
    ("cmp_birth_date", "string", ""),
    ("cmp_sex", "string", ""),
    ("cmp_province", "string", ""),
    ("cmp_employer", "string", ""),
    ("agreed", "string", "Fields that agreed"),
    ("tax_full_name", "string", "How the tax sources showed the person (variants joined by ` | `)"),
    ("tax_citizen_id", "string", ""),
    ("tax_birth_date", "string", ""),
    ("si_full_name", "string", "How si_people shows the candidate"),
    ("si_citizen_id", "string", ""),
    ("si_birth_date", "date", ""),
    ("si_province_code", "string", ""),
];

fn scan(lake: &Lake, table: &str) -> Result<Option<LazyFrame>> {
    let f = lake.silver_file(table);
    Ok(if f.exists() { Some(lake::scan_parquet(&[f])?) } else { None })
}

/// Builds the model from silver: si_people and their employers, tax wages and
/// households. The queries run on Polars' streaming engine: the wage rows
/// are reduced to distinct (person, way shown, employer) without holding the
/// whole table (at 4 million people: half the memory, and faster).
pub fn load_model(lake: &Lake) -> Result<Model> {
    load_model_tuned(lake, WAGE_ROWS_PER_PASS)
}

/// Wage rows above which the employers of the tax-side people are read in
/// passes: at 16M people (168M wage rows) their distinct (person, employer)
/// rows took 4.6 GB beside the model, the stage's peak. An engineering
/// bound, not a business rule.
const WAGE_ROWS_PER_PASS: u64 = 100_000_000;

/// The rows of the people of pass `pass` of `passes`, by the last character
/// of `person_ref` (its first byte modulo `passes`; pass 0 also takes every
/// other character, and rows without a reference), so that every person is
/// in exactly one pass.
fn people_of_pass(pass: usize, passes: usize) -> Expr {
    let last = col("person_ref").str().slice(lit(-1), lit(1));
    let chars_of = |k: usize| -> Vec<String> {
        (1u8..128).filter(|b| *b as usize % passes == k).map(|b| (b as char).to_string()).collect()
    };
    if pass == 0 {
        let others: Vec<String> = (1..passes).flat_map(chars_of).collect();
        last.is_in(crate::coverage::frame::str_list(&others), false).fill_null(lit(false)).not()
    } else {
        last.is_in(crate::coverage::frame::str_list(&chars_of(pass)), false).fill_null(lit(false))
    }
}

/// [`load_model`], reading the tax-side people's employers in passes above
/// `wage_rows_per_pass` wage rows (the model is the same).
pub fn load_model_tuned(lake: &Lake, wage_rows_per_pass: u64) -> Result<Model> {
    let mut m = Model::new();
    let mut t = Instant::now();
    let mut lap = |part: &str| {
        tracing::debug!(stage = "link", part, seconds = t.elapsed().as_secs_f64(), "load part done");
        t = Instant::now();
    };
    if let Some(people) = scan(lake, "people")? {
        let df = people
            .select([
                col("si_number"),
                col("citizen_id"),
                col("full_name"),
                col("birth_date").cast(DataType::Int32),
                col("sex"),
                col("province_code"),
            ])
            // By the number: si_numbers are ten digits (ingest refuses any
            // other), so it is their string order, and a numeric sort does
            // not compare 14M strings byte by byte (at 16M people that was
            // this part's largest cost). A key that did not parse would
            // only cost the interner its in-order shortcut.
            .sort_by_exprs([col("si_number").cast(DataType::UInt64)], Default::default())
            .collect_with_engine(Engine::Streaming)?.unwrap_single();
        let (si, cid, name, dob, sex, prov) = (
            df.column("si_number")?.str()?,
            df.column("citizen_id")?.str()?,
            df.column("full_name")?.str()?,
            df.column("birth_date")?.i32()?,
            df.column("sex")?.str()?,
            df.column("province_code")?.str()?,
        );
        m.reserve_si(df.height());
        for (s, c, n, d, x, p) in izip!(si.iter(), cid.iter(), name.iter(), dob.iter(), sex.iter(), prov.iter()) {
            let (Some(s), Some(n)) = (s, n) else { continue };
            m.add_si(s, c, n, d, x, p);
        }
        lap("si_people");
    }
    if let (Some(c), Some(u)) = (scan(lake, "contributions")?, scan(lake, "units")?) {
        let df = c
            .select([col("si_number"), col("unit_code")])
            .unique(None, UniqueKeepStrategy::Any)
            .join(
                u.select([col("unit_code"), col("head_tax_code")]),
                [col("unit_code")],
                [col("unit_code")],
                JoinArgs::new(JoinType::Inner),
            )
            .select([col("si_number"), col("head_tax_code")])
            .filter(col("head_tax_code").is_not_null())
            .unique(None, UniqueKeepStrategy::Any)
            .collect_with_engine(Engine::Streaming)?.unwrap_single();
        let df = order::sorted(df, &["si_number", "head_tax_code"], false)?;
        let (si, head) = (df.column("si_number")?.str()?, df.column("head_tax_code")?.str()?);
        for (s, h) in si.iter().zip(head.iter()) {
            if let (Some(s), Some(h)) = (s, h) {
                m.add_si_employer(s, h);
            }
        }
        lap("si_employers");
    }
    if let Some(wages) = scan(lake, "wages")? {
        // The distinct ways each person was shown, then (a second query, so
        // that the two are never in memory together: at 16M people the
        // combined rows were the stage's peak) the distinct employers.
        let df = wages
            .clone()
            .select([col("person_ref"), col("citizen_id"), col("full_name"), col("birth_date").cast(DataType::Int32)])
            .unique(None, UniqueKeepStrategy::Any)
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        let df = order::sorted(df, &["person_ref", "citizen_id", "full_name", "birth_date"], true)?;
        lap("wage_variants query");
        let (pref, cid, name, dob) =
            (df.column("person_ref")?.str()?, df.column("citizen_id")?.str()?, df.column("full_name")?.str()?, df.column("birth_date")?.i32()?);
        for (p, c, n, d) in izip!(pref.iter(), cid.iter(), name.iter(), dob.iter()) {
            let (Some(p), Some(n)) = (p, n) else { continue };
            m.add_tax_variant(p, model::FROM_WAGES, c, n, d);
        }
        drop(df);
        lap("wage_variants");
        // Employers' provinces: a branch's own when the registry has the
        // branch, else its head office's. In passes over shares of the
        // people at the largest sizes, each sorted, so that a person's rows
        // come together and in the same order.
        let emp_prov = |key: &str| {
            scan(lake, "employers").map(|e| {
                e.map(|e| e.select([col("tax_code").alias(key), col("province_code").alias(format!("{key}_province"))]))
            })
        };
        let passes = lake::parquet_rows(&lake.silver_file("wages"))?.div_ceil(wage_rows_per_pass.max(1)).max(1) as usize;
        for pass in 0..passes {
            let rows = wages.clone().filter(col("full_name").is_not_null());
            let rows = if passes == 1 { rows } else { rows.filter(people_of_pass(pass, passes)) }
                .select([col("person_ref"), col("employer_tax_code"), col("employer_head_tax_code")])
                .unique(None, UniqueKeepStrategy::Any);
            let rows = if let (Some(exact), Some(head)) = (emp_prov("employer_tax_code")?, emp_prov("employer_head_tax_code")?) {
                rows.join(exact, [col("employer_tax_code")], [col("employer_tax_code")], JoinArgs::new(JoinType::Left))
                    .join(head, [col("employer_head_tax_code")], [col("employer_head_tax_code")], JoinArgs::new(JoinType::Left))
                    .with_column(
                        coalesce(&[col("employer_tax_code_province"), col("employer_head_tax_code_province")]).alias("province_code"),
                    )
            } else {
                rows.with_column(lit(NULL).cast(DataType::String).alias("province_code"))
            };
            let df = rows
                .select([col("person_ref"), col("employer_head_tax_code"), col("province_code")])
                .filter(col("employer_head_tax_code").is_not_null())
                .unique(None, UniqueKeepStrategy::Any)
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single();
            let df = order::sorted(df, &["person_ref", "employer_head_tax_code", "province_code"], true)?;
            lap("wage_employers query");
            m.rewind_sorted_lookups();
            let (pref, head, prov) = (df.column("person_ref")?.str()?, df.column("employer_head_tax_code")?.str()?, df.column("province_code")?.str()?);
            for (p, h, v) in izip!(pref.iter(), head.iter(), prov.iter()) {
                if let (Some(p), Some(h)) = (p, h) {
                    m.add_tax_employer(p, h, v);
                }
            }
            lap("wage_employers");
        }
    }
    if let Some(hh) = scan(lake, "households")? {
        let df = hh
            .select([
                col("tax_code"),
                col("citizen_id"),
                col("owner_name"),
                col("birth_date").cast(DataType::Int32),
                col("sex"),
                col("province_code"),
            ])
            .collect_with_engine(Engine::Streaming)?.unwrap_single();
        let df = order::sorted(df, &["tax_code"], false)?;
        let (tax, cid, name, dob, sex, prov) = (
            df.column("tax_code")?.str()?,
            df.column("citizen_id")?.str()?,
            df.column("owner_name")?.str()?,
            df.column("birth_date")?.i32()?,
            df.column("sex")?.str()?,
            df.column("province_code")?.str()?,
        );
        for (t, c, n, d, x, p) in izip!(tax.iter(), cid.iter(), name.iter(), dob.iter(), sex.iter(), prov.iter()) {
            let (Some(t), Some(n)) = (t, n) else { continue };
            let pref = household_person_ref(t);
            m.add_tax_variant(&pref, model::FROM_HOUSEHOLDS, c, n, d);
            m.add_tax_facts(&pref, model::FROM_HOUSEHOLDS, x, p);
        }
        lap("households");
    }
    Ok(m)
}

/// Runs the linkage over silver and writes the link and clerical-review tables.
pub fn run(lake: &Lake, cfg: &LinkConfig, keyer: &PersonKeyer) -> Result<LinkReport> {
    run_tuned(lake, cfg, keyer, WAGE_ROWS_PER_PASS)
}

/// [`run`], reading the employers in passes above `wage_rows_per_pass` wage
/// rows (for tests: the tables are the same).
pub fn run_tuned(lake: &Lake, cfg: &LinkConfig, keyer: &PersonKeyer, wage_rows_per_pass: u64) -> Result<LinkReport> {
    let start = Instant::now();
    let model = load_model_tuned(lake, wage_rows_per_pass)?;
    let loaded = start.elapsed().as_secs_f64();
    let (decisions, stats) = model.link(cfg);
    let linked = start.elapsed().as_secs_f64();
    write_links(&lake.silver_file("person_links"), &model, &decisions, keyer)?;
    let mut review = review_frame(&model, &decisions)?;
    lake::write_parquet(&lake.silver_file("clerical_review"), &mut review)?;
    tracing::debug!(
        stage = "link", load_seconds = loaded, compare_seconds = linked - loaded,
        write_seconds = start.elapsed().as_secs_f64() - linked, "link timings"
    );
    let mut report = LinkReport {
        tax_people: model.tax_len() as u64,
        si_people: model.si_len() as u64,
        pairs_compared: stats.pairs_compared,
        blocks_skipped: stats.blocks_skipped,
        threshold_bits: stats.threshold_bits,
        ..Default::default()
    };
    let mut by_method = [0u64; 3];
    for d in &decisions {
        match d.status {
            Status::Matched => {
                report.matched += 1;
                by_method[d.method.map_or(2, |m| m as usize)] += 1;
            }
            Status::Ambiguous => report.ambiguous += 1,
            Status::Unmatched => report.unmatched += 1,
        }
    }
    report.by_method = [Method::CitizenId, Method::NameBirth, Method::Probabilistic]
        .iter()
        .map(|m| (m.as_str().to_string(), by_method[*m as usize]))
        .collect();
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

fn date_column(name: &str, v: Vec<Option<i32>>) -> Result<Column> {
    Ok(Int32Chunked::new(name.into(), v).into_series().cast(&DataType::Date)?.into_column())
}

/// Rows of `person_links` built and written at a time: the frame of all
/// rows beside the model took a quarter of the stage's peak at 4M people.
const LINK_ROWS_PER_BATCH: usize = 1 << 20;

/// Writes `person_links` in `person_ref` order, a batch of rows at a time.
fn write_links(target: &Path, m: &Model, decisions: &[Decision], keyer: &PersonKeyer) -> Result<()> {
    let mut order: Vec<usize> = (0..decisions.len()).collect();
    order.sort_by(|a, b| m.tax_key(*a).cmp(m.tax_key(*b)));
    let mut file: Option<lake::ParquetFile> = None;
    for rows in order.chunks(LINK_ROWS_PER_BATCH) {
        let df = links_frame(m, decisions, keyer, rows)?;
        let f = match &mut file {
            Some(f) => f,
            None => file.insert(lake::ParquetFile::create(target, df.schema())?),
        };
        f.write(&df)?;
    }
    match file {
        Some(f) => f.commit(),
        None => lake::write_parquet(target, &mut links_frame(m, decisions, keyer, &[])?),
    }
}

/// The `person_links` rows of the tax-side people `order`.
fn links_frame(m: &Model, decisions: &[Decision], keyer: &PersonKeyer, order: &[usize]) -> Result<DataFrame> {
    let n = order.len();
    let mut pref = Vec::with_capacity(n);
    let mut source = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut si = Vec::with_capacity(n);
    let mut key = Vec::with_capacity(n);
    let mut method = Vec::with_capacity(n);
    let mut weight = Vec::with_capacity(n);
    let mut runner = Vec::with_capacity(n);
    let mut cands = Vec::with_capacity(n);
    let mut best = Vec::with_capacity(n);
    let mut reason = Vec::with_capacity(n);
    let mut levels: Vec<Vec<Option<&str>>> = vec![Vec::with_capacity(n); 6];
    let mut agreed = Vec::with_capacity(n);
    for &i in order {
        let d = &decisions[i];
        let r = m.tax_key(i);
        pref.push(r);
        source.push(m.tax_source(i));
        status.push(d.status.as_str());
        let linked = d.si().map(|s| m.si_key(s));
        si.push(linked);
        key.push(match linked {
            Some(s) => keyer.si(s),
            None => keyer.tax(r),
        });
        method.push(d.method.map(Method::as_str));
        weight.push(d.best.map(|b| b.1.weight));
        runner.push(d.runner_up);
        cands.push(d.candidates as i64);
        best.push(d.best.map(|b| m.si_key(b.0)));
        reason.push(d.review_reason);
        for (k, f) in Field::ALL.iter().enumerate() {
            levels[k].push(d.best.map(|b| b.1.level(*f).as_str()));
        }
        agreed.push(d.best.map(|b| b.1.agreed()).unwrap_or_default());
    }
    let mut cols = vec![
        Column::new("person_ref".into(), pref),
        Column::new("source".into(), source),
        Column::new("status".into(), status),
        Column::new("si_number".into(), si),
        Column::new("person_key".into(), key),
        Column::new("method".into(), method),
        Column::new("match_weight".into(), weight),
        Column::new("runner_up_weight".into(), runner),
        Column::new("candidates".into(), cands),
        Column::new("best_candidate".into(), best),
        Column::new("review_reason".into(), reason),
    ];
    for (k, f) in Field::ALL.iter().enumerate() {
        cols.push(Column::new(format!("cmp_{}", f.as_str()).into(), std::mem::take(&mut levels[k])));
    }
    cols.push(Column::new("agreed".into(), agreed));
    Ok(DataFrame::new(n, cols)?)
}

fn review_frame(m: &Model, decisions: &[Decision]) -> Result<DataFrame> {
    let mut order: Vec<usize> = (0..decisions.len()).filter(|&i| decisions[i].status == Status::Ambiguous).collect();
    order.sort_by(|a, b| m.tax_key(*a).cmp(m.tax_key(*b)));
    let mut pref = Vec::new();
    let mut reason = Vec::new();
    let mut rank = Vec::new();
    let mut si = Vec::new();
    let mut weight = Vec::new();
    let mut levels: Vec<Vec<&str>> = vec![Vec::new(); 6];
    let mut agreed = Vec::new();
    let (mut t_name, mut t_cid, mut t_dob) = (Vec::new(), Vec::new(), Vec::new());
    let (mut s_name, mut s_cid, mut s_dob, mut s_prov) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    for i in order {
        let d = &decisions[i];
        let shown = m.tax_shown(i);
        let join = |f: &dyn Fn(&(String, Option<String>, Option<i32>)) -> String| {
            let mut v: Vec<String> = shown.iter().map(f).collect();
            v.dedup();
            v.join(" | ")
        };
        let tn = join(&|s| s.0.clone());
        let tc = join(&|s| s.1.clone().unwrap_or_default());
        let td = join(&|s| s.2.map(|d| (epoch + chrono::Duration::days(d as i64)).to_string()).unwrap_or_default());
        for (k, (s, c)) in d.review.iter().enumerate() {
            pref.push(m.tax_key(i).to_string());
            reason.push(d.review_reason.unwrap_or_default());
            rank.push(k as i64 + 1);
            si.push(m.si_key(*s).to_string());
            weight.push(c.weight);
            for (j, f) in Field::ALL.iter().enumerate() {
                levels[j].push(c.level(*f).as_str());
            }
            agreed.push(c.agreed());
            t_name.push(tn.clone());
            t_cid.push(tc.clone());
            t_dob.push(td.clone());
            let (n, cid, dob, prov) = m.si_shown(*s);
            s_name.push(n);
            s_cid.push(cid);
            s_dob.push(dob);
            s_prov.push(prov.map(|p| format!("{p:02}")));
        }
    }
    let n = pref.len();
    let mut cols = vec![
        Column::new("person_ref".into(), pref),
        Column::new("review_reason".into(), reason),
        Column::new("rank".into(), rank),
        Column::new("si_number".into(), si),
        Column::new("match_weight".into(), weight),
    ];
    for (k, f) in Field::ALL.iter().enumerate() {
        cols.push(Column::new(format!("cmp_{}", f.as_str()).into(), std::mem::take(&mut levels[k])));
    }
    cols.push(Column::new("agreed".into(), agreed));
    cols.push(Column::new("tax_full_name".into(), t_name));
    cols.push(Column::new("tax_citizen_id".into(), t_cid));
    cols.push(Column::new("tax_birth_date".into(), t_dob));
    cols.push(Column::new("si_full_name".into(), s_name));
    cols.push(Column::new("si_citizen_id".into(), s_cid));
    cols.push(date_column("si_birth_date", s_dob)?);
    cols.push(Column::new("si_province_code".into(), s_prov));
    Ok(DataFrame::new(n, cols)?)
}
