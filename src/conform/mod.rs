//! Stage 2, conform: bronze extracts into silver entities, one row per
//! natural key, with stable keys and lineage.
//!
//! Several extracts of the same dataset (nightly deliveries) are stacked; for
//! each natural key the newest extract wins, and within an extract the last
//! line — except payments, where the first copy of a reference is the money
//! that arrived (a resend is the same money, kept once). Kept rows stay in
//! extract and line order, so a rerun on the same inputs writes the same table.

use crate::contract::{self, Dataset};
use crate::lake::ledger::Ledger;
use crate::lake::memo::{Fingerprint, Memo};
use crate::lake::{self, Lake};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use std::time::Instant;

/// A silver table and the bronze dataset it conforms.
pub struct SilverTable {
    pub name: &'static str,
    pub dataset: &'static str,
    /// Which copy of a duplicated key survives.
    pub keep: Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The newest extract, last line: the latest word on the entity.
    Latest,
    /// The first copy: a resent record is the same event.
    First,
}

pub const SILVER: &[SilverTable] = &[
    SilverTable { name: "employers", dataset: "tax_employers", keep: Keep::Latest },
    SilverTable { name: "wages", dataset: "tax_wages", keep: Keep::Latest },
    SilverTable { name: "households", dataset: "tax_households", keep: Keep::Latest },
    SilverTable { name: "units", dataset: "si_units", keep: Keep::Latest },
    SilverTable { name: "people", dataset: "si_people", keep: Keep::Latest },
    SilverTable { name: "contributions", dataset: "si_contributions", keep: Keep::Latest },
    SilverTable { name: "suspensions", dataset: "si_suspensions", keep: Keep::Latest },
    SilverTable { name: "payments", dataset: "si_payments", keep: Keep::First },
    SilverTable { name: "enrolments", dataset: "si_voluntary", keep: Keep::Latest },
    SilverTable { name: "agents", dataset: "agents", keep: Keep::Latest },
    SilverTable { name: "officers", dataset: "officers", keep: Keep::Latest },
    SilverTable { name: "plan_targets", dataset: "plan_targets", keep: Keep::Latest },
    SilverTable { name: "covid_reviews", dataset: "covid_reviews", keep: Keep::Latest },
    SilverTable { name: "conferences", dataset: "conferences", keep: Keep::Latest },
];

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TableReport {
    pub table: String,
    pub rows_in: u64,
    pub rows_out: u64,
    /// rows_in − rows_out: copies of a key already kept.
    pub duplicates: u64,
    pub seconds: f64,
    /// Its extracts were the same as when this table was last conformed:
    /// kept as it was (the counts are that run's).
    #[serde(default)]
    pub skipped: bool,
}

/// Conforms every dataset that has bronze files, using only extracts dated
/// on or before `as_of` (a run for a past date sees what existed then).
///
/// With a `memo` (the nightly run), a table whose extracts are the ones it
/// was last conformed from (same names, same content hashes in the ingest
/// ledger) is kept as it is.
pub fn run(lake: &Lake, as_of: NaiveDate, progress: &indicatif::ProgressBar, mut memo: Option<&mut Memo>) -> Result<Vec<TableReport>> {
    let ledger = Ledger::load(&lake.root)?;
    let mut reports = Vec::new();
    for t in SILVER {
        progress.set_message(t.name);
        progress.inc(1);
        let step = format!("conform/{}", t.name);
        let target = lake.silver_file(t.name);
        let files = bronze_in_order(lake, t.dataset, as_of)?;
        if files.is_empty() {
            // Nothing dated up to as_of: a silver table left by a run for a
            // later date must not leak into this one.
            if target.exists() {
                std::fs::remove_file(&target).with_context(|| format!("removing {}", target.display()))?;
            }
            if let Some(m) = memo.as_deref_mut() {
                m.forget(&step)?;
            }
            continue;
        }
        let fingerprint = fingerprint(t, &files, &ledger)?;
        if let Some(e) = memo.as_deref().and_then(|m| m.fresh(&step, &fingerprint)) {
            if let Ok(mut r) = serde_json::from_value::<TableReport>(e.report.clone()) {
                r.skipped = true;
                r.seconds = 0.0;
                reports.push(r);
                continue;
            }
        }
        let start = Instant::now();
        let ds = contract::dataset(t.dataset).expect("silver tables name contract datasets");
        let bronze = lake::scan_parquet(&files)?;
        let rows_in = count(bronze.clone())?;
        let rows_out = lake::sink_parquet(conform_table(bronze, ds, t.keep)?, &target)?;
        let report = TableReport {
            table: t.name.to_string(),
            rows_in,
            rows_out,
            duplicates: rows_in - rows_out,
            seconds: start.elapsed().as_secs_f64(),
            skipped: false,
        };
        tracing::debug!(stage = "conform", table = t.name, seconds = report.seconds, peak_mib = crate::pipeline::peak_rss_mib(), "table written");
        if let Some(m) = memo.as_deref_mut() {
            m.record(&step, &fingerprint, &[target], serde_json::to_value(&report)?)?;
        }
        reports.push(report);
    }
    Ok(reports)
}

/// What a silver table is made of: its rule (which copy survives) and its
/// extracts in order, each by name and content hash (from the ingest ledger;
/// a bronze file the ledger does not know is hashed itself).
fn fingerprint(t: &SilverTable, files: &[std::path::PathBuf], ledger: &Ledger) -> Result<String> {
    let mut f = Fingerprint::new("conform");
    f.add("table", t.name.as_bytes()).add("keep", format!("{:?}", t.keep).as_bytes());
    for p in files {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let known = ledger.entries.iter().rev().find(|e| e.dataset == t.dataset && e.extract == stem);
        let hash = match known {
            Some(e) => e.blake3.clone(),
            None => crate::lake::ledger::hash_file(p)?.0,
        };
        f.add("extract", stem.as_bytes()).add("blake3", hash.as_bytes());
    }
    Ok(f.finish())
}

/// The fingerprint a silver table was last conformed with (`None` when no
/// run recorded one): what the stages reading it put in their own.
pub fn table_fingerprint<'a>(memo: &'a Memo, table: &str) -> Option<&'a str> {
    memo.fingerprint(&format!("conform/{table}"))
}

/// Adds each silver table's conform fingerprint to `f` (a table that is
/// absent counts as such); false when a table's origin is unknown (written
/// outside a run), when nothing that depends on it can be kept.
pub fn add_silver(f: &mut Fingerprint, lake: &Lake, memo: &Memo, tables: &[&str]) -> bool {
    for t in tables {
        match (table_fingerprint(memo, t), lake.silver_file(t).exists()) {
            (Some(fp), true) => f.add(t, fp.as_bytes()),
            (_, false) => f.add(t, b"\0absent"),
            (None, true) => return false,
        };
    }
    true
}

fn count(lf: LazyFrame) -> Result<u64> {
    let df = lf.select([len().alias("n")]).collect()?;
    Ok(df.column("n")?.u32()?.get(0).unwrap_or(0) as u64)
}

/// One row per natural key, with derived stable keys.
///
/// `bronze` must list the extracts oldest first (see [`bronze_in_order`]),
/// each in line order, so "last" is the newest extract's last line. The kept
/// rows stay in that order: no sort, so the table streams through in bounded
/// memory.
pub fn conform_table(bronze: LazyFrame, ds: &Dataset, keep: Keep) -> Result<LazyFrame> {
    // Decide on the key columns alone which rows are dropped, then stream the
    // whole rows through an anti join on those rows' numbers: the wide rows
    // are never all held at once, and the join's table holds only the
    // duplicates (0.5% of the wages).
    let indexed = bronze.with_row_index("_row", None);
    let t = Instant::now();
    let dropped = dropped_rows(indexed.clone(), ds, keep)?;
    tracing::debug!(stage = "conform", table = ds.name, dropped = dropped.height(), seconds = t.elapsed().as_secs_f64(), peak_mib = crate::pipeline::peak_rss_mib(), "duplicates found");
    let kept = if dropped.height() == 0 {
        indexed
    } else {
        let mut args = JoinArgs::new(JoinType::Anti);
        args.maintain_order = MaintainOrderJoin::Left;
        indexed.join(dropped.lazy(), [col("_row")], [col("_row")], args)
    };
    Ok(with_stable_keys(kept.drop(cols(["_row"])), ds))
}

/// The row numbers (`_row`) of the rows deduplication drops, in order.
///
/// Exact, in two streaming passes over the key columns and 8 bytes a row:
/// 1. a 64-bit hash of every row's key (equal keys hash alike, nulls too),
///    sorted to find the hashes seen more than once;
/// 2. the rows carrying such a hash — every copy of every repeated key, and
///    the rare row whose different key shares a hash — deduplicated on the
///    keys themselves ([`dropped_among`]).
///
/// A row whose hash no other row has has a key no other row has: it stays.
/// (Deduplicating the whole table on its string keys took 16 GB at 4M
/// people; one month at a time read the key columns twelve times.)
///
/// A derived key column (`person_ref`) is not built for every row: the
/// hash takes [`identity_hash`] in its place, equal for equal references,
/// and only the candidates of the second pass are given their references.
fn dropped_rows(indexed: LazyFrame, ds: &Dataset, keep: Keep) -> Result<DataFrame> {
    let key: Vec<PlSmallStr> = ds.key.iter().map(|k| PlSmallStr::from(*k)).collect();
    let hashed: Vec<Expr> = key.iter().map(|k| if k == "person_ref" { identity_hash() } else { col(k.clone()) }).collect();
    let hashes = indexed.clone().select([key_hash(hashed.clone())]).collect_with_engine(Engine::Streaming)?.unwrap_single();
    let hashes = hashes.into_columns().pop().context("the key hash column")?.take_materialized_series();
    let mut h: Vec<u64> = Vec::with_capacity(hashes.len());
    let ca = hashes.u64()?.clone();
    drop(hashes);
    for chunk in ca.downcast_into_iter() {
        h.extend_from_slice(chunk.values());
    }
    let repeated = repeated_values(h);
    if repeated.is_empty() {
        return Ok(DataFrame::new(0, vec![Column::new("_row".into(), Vec::<IdxSize>::new())])?);
    }
    let repeated = lit(Series::new("".into(), repeated)).implode(false);
    let mut key_and_row: Vec<Expr> =
        key.iter().map(|k| if k == "person_ref" { person_ref() } else { col(k.clone()) }).collect();
    key_and_row.push(col("_row"));
    let candidates = indexed
        .with_column(key_hash(hashed))
        .filter(col("_key_hash").is_in(repeated, false))
        .select(key_and_row)
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    dropped_among(candidates, &key, keep)
}

/// A tax-side person's reference: the best identifier the row carries.
fn person_ref() -> Expr {
    coalesce(&[
        concat_str([lit("pit:"), col("person_tax_code")], "", false),
        concat_str([lit("cid:"), col("citizen_id")], "", false),
        concat_str([lit("name:"), col("full_name").str().to_lowercase(), lit("|"), col("birth_date").cast(DataType::String)], "", false),
        concat_str([lit("name:"), col("full_name").str().to_lowercase()], "", false),
    ])
    .alias("person_ref")
}

/// A stand-in for [`person_ref`] in the key hash, without building a
/// string a row: the hash of the person tax code, else of the citizen ID
/// (with another seed, as `pit:` and `cid:` differ), else one constant for
/// every row identified by its name. Equal references hash alike; rows
/// that share a hash only by this coarseness are told apart by their
/// references among the candidates.
fn identity_hash() -> Expr {
    map_multiple(
        |cols: &mut [Column]| {
            let seeded = |seed: u64| foldhash::quality::SeedableRandomState::with_seed(seed, foldhash::SharedSeed::global_fixed());
            let (pit, cid) = (cols[0].as_materialized_series().str()?, cols[1].as_materialized_series().str()?);
            let (mut hp, mut hc) = (Vec::with_capacity(pit.len()), Vec::with_capacity(cid.len()));
            cols[0].vec_hash(seeded(1), &mut hp)?;
            cols[1].vec_hash(seeded(2), &mut hc)?;
            let h: Vec<u64> = pit
                .iter()
                .zip(cid.iter())
                .zip(hp.into_iter().zip(hc))
                .map(|((p, c), (hp, hc))| match (p, c) {
                    (Some(_), _) => hp,
                    (None, Some(_)) => hc,
                    (None, None) => 0,
                })
                .collect();
            Ok(Column::new("_identity".into(), h))
        },
        [col("person_tax_code"), col("citizen_id")],
        |_: &Schema, _: &[Field]| Ok(Field::new("_identity".into(), DataType::UInt64)),
    )
    .alias("_identity")
}

/// Each row's key hashed to a `u64` (`_key_hash`), the same in every batch
/// and every pass (a fixed seed).
fn key_hash(exprs: Vec<Expr>) -> Expr {
    map_multiple(
        |cols: &mut [Column]| {
            let state = foldhash::quality::SeedableRandomState::fixed();
            let mut h = Vec::with_capacity(cols.first().map_or(0, |c| c.len()));
            if let Some((first, rest)) = cols.split_first() {
                first.vec_hash(state.clone(), &mut h)?;
                for c in rest {
                    c.vec_hash_combine(state.clone(), &mut h)?;
                }
            }
            Ok(Column::new("_key_hash".into(), h))
        },
        exprs,
        |_: &Schema, _: &[Field]| Ok(Field::new("_key_hash".into(), DataType::UInt64)),
    )
    .alias("_key_hash")
}

/// The values that occur more than once in `v`, each once, ascending.
fn repeated_values(mut v: Vec<u64>) -> Vec<u64> {
    use rayon::slice::ParallelSliceMut;
    v.par_sort_unstable();
    let mut out = Vec::new();
    for w in v.windows(2) {
        if w[0] == w[1] && out.last() != Some(&w[0]) {
            out.push(w[0]);
        }
    }
    out
}

/// Of `candidates` (key columns and `_row`, every row of each key they
/// hold), the row numbers that are not the key's survivor (the last or
/// first row of the key by `_row`), in order.
fn dropped_among(candidates: DataFrame, key: &[PlSmallStr], keep: Keep) -> Result<DataFrame> {
    let strategy = match keep {
        Keep::Latest => UniqueKeepStrategy::Last,
        Keep::First => UniqueKeepStrategy::First,
    };
    let candidates = candidates.lazy().sort(["_row"], SortMultipleOptions::default());
    let survivors = candidates.clone().unique_stable(Some(cols(key.to_vec())), strategy).select([col("_row")]);
    let mut args = JoinArgs::new(JoinType::Anti);
    args.maintain_order = MaintainOrderJoin::Left;
    // Streaming: when most keys repeat (an extract sent twice whole), the
    // candidates are most of the table.
    Ok(candidates
        .select([col("_row")])
        .join(survivors, [col("_row")], [col("_row")], args)
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(df: &DataFrame) -> Vec<IdxSize> {
        df.column("_row").unwrap().idx().unwrap().into_no_null_iter().collect()
    }

    #[test]
    fn repeated_values_are_each_listed_once() {
        assert_eq!(repeated_values(vec![5, 1, 5, 3, 1, 5, 9, u64::MAX, u64::MAX]), vec![1, 5, u64::MAX]);
        assert!(repeated_values(vec![3, 2, 1]).is_empty());
        assert!(repeated_values(Vec::new()).is_empty());
    }

    /// Wage rows `(employer, citizen_id, month)`, no person tax code, the
    /// name and birth date fixed, with their row numbers.
    fn wages(rows: &[(&str, Option<&str>, i32)]) -> LazyFrame {
        wage_rows(rows).with_row_index("_row", None)
    }

    fn wage_rows(rows: &[(&str, Option<&str>, i32)]) -> LazyFrame {
        let n = rows.len();
        df!(
            "employer_tax_code" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "person_tax_code" => vec![None::<&str>; n],
            "citizen_id" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "full_name" => vec!["Nguyễn Văn An"; n],
            "birth_date" => vec![7000; n],
            "month" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "line" => (0..n as i64).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_columns([col("birth_date").cast(DataType::Date), col("month").cast(DataType::Date)])
    }

    /// The wage key is the employer, the month and the person by the best
    /// identifier the row carries: a later extract that corrects the name
    /// or the ID of a person with a tax code replaces the month's row
    /// (the old key kept both, and the month's income counted twice).
    #[test]
    fn a_corrected_name_or_id_replaces_the_months_wage_row() {
        let ds = contract::dataset("tax_wages").unwrap();
        let rows = df!(
            "employer_tax_code" => ["0100000001"; 8],
            "person_tax_code" => [Some("8000000001"), Some("8000000001"), Some("8000000002"), None, None, None, None, None],
            "citizen_id" => [Some("001"), Some("002"), Some("001"), Some("003"), Some("003"), None, None, None],
            "full_name" => ["Nguyen Van An", "Nguyễn Văn An", "Nguyễn Văn An", "Lê Thị Hoa", "Lê Thị Hòa", "Trần Bình", "TRẦN BÌNH", "Phạm An"],
            "birth_date" => [7000; 8],
            "month" => [18_000; 8],
        )
        .unwrap()
        .lazy()
        .with_columns([col("birth_date").cast(DataType::Date), col("month").cast(DataType::Date)]);
        // 0 → 1: the same person tax code, name and ID corrected; 2: another
        // person tax code; 3 → 4: the same citizen ID, no tax code; 5 → 6:
        // no ID at all, the same name in another case and birth date; 7: no
        // ID and another name (its key hash is the same as 5's and 6's).
        let kept = conform_table(rows, ds, Keep::Latest).unwrap().collect().unwrap();
        let refs: Vec<_> = kept.column("person_ref").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect();
        assert_eq!(refs, ["pit:8000000001", "pit:8000000002", "cid:003", "name:trần bình|1989-03-02", "name:phạm an|1989-03-02"]);
        let names: Vec<_> = kept.column("full_name").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect();
        assert_eq!(names, ["Nguyễn Văn An", "Nguyễn Văn An", "Lê Thị Hòa", "TRẦN BÌNH", "Phạm An"], "the newest row of each person");
    }

    #[test]
    fn every_copy_of_a_key_but_its_survivor_is_dropped_nulls_alike_months_apart() {
        let ds = contract::dataset("tax_wages").unwrap();
        let lf = wages(&[
            ("0100000001", Some("001")), // 0
            ("0100000001", Some("001")), // 1: same key as 0
            ("0100000001", None),        // 2
            ("0100000002", Some("001")), // 3
            ("0100000001", None),        // 4: same key as 2 (nulls equal)
            ("0100000001", Some("001")), // 5: same key as 0 and 1
        ]
        .iter()
        .map(|&(e, c)| (e, c, 18_000))
        .chain([("0100000001", Some("001"), 18_031)]) // 6: another month, its own key
        .collect::<Vec<_>>());
        assert_eq!(rows_of(&dropped_rows(lf.clone(), ds, Keep::Latest).unwrap()), vec![0, 1, 2]);
        assert_eq!(rows_of(&dropped_rows(lf, ds, Keep::First).unwrap()), vec![1, 4, 5]);
    }

    #[test]
    fn nothing_is_dropped_when_every_key_is_unique() {
        let ds = contract::dataset("tax_wages").unwrap();
        let lf = wages(&[("0100000001", Some("001"), 18_000), ("0100000001", Some("002"), 18_000), ("0100000001", Some("001"), 18_031)]);
        assert!(rows_of(&dropped_rows(lf, ds, Keep::Latest).unwrap()).is_empty());
    }

    /// A column an older extract lacks is a constant null (`Column::Scalar`)
    /// in that file's batches: as a key column it must hash like the nulls
    /// another extract carries, or the copies of a key would not meet; and
    /// the person_ref derived from it must be that of a real null.
    #[test]
    fn a_missing_key_column_hashes_like_real_nulls() {
        let older = df!("k" => ["a"]).unwrap().lazy().with_column(lit(NULL).cast(DataType::String).alias("n"));
        let newer = df!("k" => ["a"], "n" => [None::<&str>]).unwrap().lazy();
        let h = concat([older, newer], UnionArgs::default()).unwrap().select([key_hash(vec![col("k"), col("n")])]).collect().unwrap();
        let h: Vec<_> = h.column("_key_hash").unwrap().u64().unwrap().into_no_null_iter().collect();
        assert_eq!(h[0], h[1]);
        let ds = contract::dataset("tax_wages").unwrap();
        let older = wage_rows(&[("0100000001", Some("001"), 18_000)]).with_column(lit(NULL).cast(DataType::String).alias("citizen_id"));
        let newer = wage_rows(&[("0100000001", None, 18_000)]);
        let both = concat([older, newer], UnionArgs::default()).unwrap().with_row_index("_row", None);
        assert_eq!(rows_of(&dropped_rows(both, ds, Keep::Latest).unwrap()), vec![0]);
    }

    /// A hash two different keys share brings both in as candidates; the
    /// keys themselves decide, so neither is dropped.
    #[test]
    fn candidates_with_different_keys_are_all_kept() {
        let key: Vec<PlSmallStr> = vec!["k".into()];
        let candidates = df!("k" => ["a", "b", "a", "c"], "_row" => [9 as IdxSize, 3, 4, 7]).unwrap();
        assert_eq!(rows_of(&dropped_among(candidates.clone(), &key, Keep::Latest).unwrap()), vec![4]);
        assert_eq!(rows_of(&dropped_among(candidates, &key, Keep::First).unwrap()), vec![9]);
        let distinct = df!("k" => ["a", "b"], "_row" => [1 as IdxSize, 2]).unwrap();
        assert!(rows_of(&dropped_among(distinct, &key, Keep::Latest).unwrap()).is_empty());
    }
}

/// The bronze files of a dataset dated on or before `as_of`, oldest extract
/// first: by extraction date, then version (`.v2` after the first content).
pub fn bronze_in_order(lake: &Lake, dataset: &str, as_of: NaiveDate) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<(NaiveDate, u32, std::path::PathBuf)> = Vec::new();
    for path in lake.bronze_files(dataset)? {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let (base, version) = match stem.rsplit_once(".v") {
            Some((b, v)) if v.parse::<u32>().is_ok() => (b, v.parse().unwrap_or(1)),
            _ => (stem, 1),
        };
        let date = base.rsplit_once('_').and_then(|(_, d)| NaiveDate::parse_from_str(d, "%Y%m%d").ok());
        match date {
            Some(d) if d <= as_of => files.push((d, version, path)),
            Some(_) => {}
            None => anyhow::bail!("bronze file {} is not named <dataset>_<YYYYMMDD>[.vN].parquet", path.display()),
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, _, p)| p).collect())
}

/// Keys later stages join on: the head office of any tax code (branches
/// belong to their head office's 10-digit code), and for tax-side people a
/// `person_ref` from the best identifier they carry.
fn with_stable_keys(lf: LazyFrame, ds: &Dataset) -> LazyFrame {
    let head = |c: &str, alias: &str| col(c).str().slice(lit(0), lit(10)).alias(alias);
    match ds.name {
        "tax_employers" => lf.with_columns([
            head("tax_code", "head_tax_code"),
            col("tax_code").str().len_bytes().gt(lit(10)).alias("is_branch"),
        ]),
        "si_units" => lf.with_column(head("tax_code", "head_tax_code")),
        "tax_wages" => lf.with_columns([head("employer_tax_code", "employer_head_tax_code"), person_ref()]),
        _ => lf,
    }
}
