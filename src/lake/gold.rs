//! Gold tables: Hive-partitioned by province, published whole.
//!
//! ```text
//! <lake>/gold/<table>/province_code=NN/part-0.parquet
//! ```
//! The partition column is in the folder name only (the Hive convention:
//! Polars `scan_parquet(hive_partitioning)`, pyarrow and Spark add it back);
//! [`read_partitioned`] restores it as a String column.
//!
//! Rows without a province are published under
//! `province_code=__HIVE_DEFAULT_PARTITION__/`, Hive's name for a null
//! partition value (Polars, pyarrow and DuckDB read it back as null); they
//! belong to no province's lists. A table without rows is one empty file
//! there, so that readers find its columns rather than no file at all.
//!
//! A table is written into `<lake>/gold/.<table>.tmp-<pid>/`, then swapped
//! in with two renames (old table aside as `.<table>.tmp-old-<pid>`, new
//! table in, old removed; leftovers of a crash are swept as temporaries), so a
//! reader sees the previous table or the new one, never half of either.
//!
//! Every file of a table carries the table's name and schema version in its
//! footer (`bhxh:table`, `bhxh:schema_version`). The versions are data:
//! `docs/gold-schema-versions.csv`, built in, holds one row per table and
//! version with the signature of its columns, so a change of a table's
//! columns is a new row there (a test refuses columns no row records).

use super::write_parquet_with_metadata;
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

pub const PARTITION: &str = "province_code";

/// The partition folder's value for rows without a province (Hive's null).
pub const NO_PROVINCE: &str = "__HIVE_DEFAULT_PARTITION__";

/// The gold schemas' changelog (`docs/gold-schema-versions.csv`): table,
/// version, columns (their signature), since (the date of the change),
/// change (what changed, for the analysts).
pub const SCHEMA_VERSIONS: &str = include_str!("../../docs/gold-schema-versions.csv");

/// One row of [`SCHEMA_VERSIONS`].
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaVersion {
    pub table: String,
    pub version: u32,
    pub columns: String,
    pub since: String,
    pub change: String,
}

/// The rows of [`SCHEMA_VERSIONS`], in file order.
pub fn schema_versions() -> Result<Vec<SchemaVersion>> {
    let mut r = csv::Reader::from_reader(SCHEMA_VERSIONS.as_bytes());
    r.deserialize().map(|row| row.context("docs/gold-schema-versions.csv")).collect()
}

/// [`schema_versions`], parsed once. The file is built in, and a test
/// parses it, so a build whose file does not parse is not shipped.
static VERSIONS: std::sync::LazyLock<Vec<SchemaVersion>> =
    std::sync::LazyLock::new(|| schema_versions().expect("docs/gold-schema-versions.csv, built in, parses"));

/// A published gold table's schema: the promise to analysts, declared once.
/// Writers check their frames against it ([`GoldTable::check`]) and the data
/// dictionary is rendered from it.
#[derive(Debug)]
pub struct GoldTable {
    pub name: &'static str,
    /// What one row is, and what the table is for.
    pub doc: &'static str,
    /// Columns in file order, `province_code` included (it lives in the folder name).
    pub columns: &'static [GoldColumn],
    /// Unique within a province: the sort order of the files.
    pub key: &'static [&'static str],
}

#[derive(Debug)]
pub struct GoldColumn {
    pub name: &'static str,
    /// Parquet logical type: `string`, `int64`, `int32`, `date`, `bool`.
    pub dtype: &'static str,
    pub doc: &'static str,
}

fn dtype_name(d: &DataType) -> &'static str {
    match d {
        DataType::String => "string",
        DataType::Int64 => "int64",
        DataType::Int32 => "int32",
        DataType::Date => "date",
        DataType::Boolean => "bool",
        DataType::Float64 => "float64",
        _ => "other",
    }
}

impl GoldTable {
    /// The signature of the declared columns: the first 16 hex digits of
    /// the BLAKE3 of each column's `name:type`, one per line, in order.
    /// Any change of a name, a type or the order changes it.
    pub fn signature(&self) -> String {
        let mut h = blake3::Hasher::new();
        for c in self.columns {
            h.update(format!("{}:{}\n", c.name, c.dtype).as_bytes());
        }
        h.finalize().to_hex()[..16].to_string()
    }

    /// The table's schema version: the latest of the changelog's rows for
    /// its name and [`GoldTable::signature`] (columns that came back to an
    /// earlier form are a new version). 0 when no row records these columns
    /// (a build that changed them without a new version; a test refuses it).
    pub fn version(&self) -> u32 {
        let sig = self.signature();
        VERSIONS.iter().filter(|v| v.table == self.name && v.columns == sig).map(|v| v.version).max().unwrap_or(0)
    }

    /// The key-value metadata of each of the table's files.
    pub fn file_metadata(&self) -> Vec<(String, String)> {
        vec![("bhxh:table".into(), self.name.into()), ("bhxh:schema_version".into(), self.version().to_string())]
    }

    /// Refuses a frame whose column names, order or types differ from the declaration.
    pub fn check(&self, df: &DataFrame) -> Result<()> {
        let got: Vec<(String, &str)> =
            df.columns().iter().map(|c| (c.name().to_string(), dtype_name(c.dtype()))).collect();
        let want: Vec<(String, &str)> = self.columns.iter().map(|c| (c.name.to_string(), c.dtype)).collect();
        if got != want {
            bail!(
                "gold table {} does not match its declared schema:\n  wrote    {got:?}\n  declared {want:?}",
                self.name
            );
        }
        Ok(())
    }
}

/// `<lake>/gold`
pub fn gold_root(lake_root: &Path) -> PathBuf {
    lake_root.join("gold")
}

/// `<lake>/gold/<table>`
pub fn table_dir(lake_root: &Path, table: &str) -> PathBuf {
    gold_root(lake_root).join(table)
}

/// The folder of one province's rows of `table`.
pub fn partition_dir(lake_root: &Path, table: &str, province: &str) -> PathBuf {
    table_dir(lake_root, table).join(format!("{PARTITION}={province}"))
}

/// Writes `df` as gold table `table`, one folder per `province_code`, and
/// publishes it atomically. Rows are sorted by `province_code`, then by every
/// other column in schema order (put the key columns first), so the same
/// data always gives the same files. Returns the number of partitions.
pub fn write_partitioned(lake_root: &Path, table: &str, df: DataFrame) -> Result<usize> {
    let by: Vec<String> =
        df.get_column_names().into_iter().filter(|c| c.as_str() != PARTITION).map(|c| c.to_string()).collect();
    let by: Vec<&str> = by.iter().map(String::as_str).collect();
    write_partitioned_by(lake_root, table, df, &by)
}

/// [`write_partitioned`], sorting by `province_code` then `key` only: cheaper
/// on wide tables, and as deterministic when `key` is unique per province.
pub fn write_partitioned_by(lake_root: &Path, table: &str, df: DataFrame, key: &[&str]) -> Result<usize> {
    write_folders(lake_root, table, df, key, &[])
}

/// Writes `df` as the declared gold `table` (sorted by its key), each file
/// with the table's name and schema version in its footer; not checked
/// against the declaration (see [`publish`]).
pub fn write_table(lake_root: &Path, table: &GoldTable, df: DataFrame) -> Result<usize> {
    write_folders(lake_root, table.name, df, table.key, &table.file_metadata())
}

/// Writes `df` as the declared gold `table` in one file, not partitioned
/// (`gold/<table>/part-0.parquet`), with the table's name and schema
/// version in its footer.
pub fn write_single(lake_root: &Path, table: &GoldTable, df: &mut DataFrame) -> Result<()> {
    write_parquet_with_metadata(&table_dir(lake_root, table.name).join("part-0.parquet"), df, &table.file_metadata())
}

/// Whether every file of the published `table` names it and its current
/// schema version in its footer. A table kept from night to night rather
/// than rewritten (the weekly archive) may have been written by an older
/// build: then it is rewritten once.
pub fn is_current(lake_root: &Path, table: &GoldTable) -> Result<bool> {
    let want = table.file_metadata();
    for f in super::files_under(&table_dir(lake_root, table.name), "parquet") {
        let meta = super::parquet_metadata(&f)?;
        if !want.iter().all(|kv| meta.contains(kv)) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn write_folders(lake_root: &Path, table: &str, df: DataFrame, key: &[&str], metadata: &[(String, String)]) -> Result<usize> {
    if df.column(PARTITION).is_err() {
        bail!("gold table {table} has no {PARTITION} column");
    }
    let mut by: Vec<PlSmallStr> = vec![PARTITION.into()];
    by.extend(key.iter().map(|k| PlSmallStr::from(*k)));
    let sorted = df.sort(by, SortMultipleOptions::default().with_maintain_order(true).with_nulls_last(true))?;

    let root = gold_root(lake_root);
    let target = root.join(table);
    let tmp = root.join(format!(".{table}.tmp-{}", std::process::id()));
    let old = root.join(format!(".{table}.tmp-old-{}", std::process::id()));
    for p in [&tmp, &old] {
        if p.exists() {
            fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let write = || -> Result<usize> {
        if sorted.height() == 0 {
            // The columns, for readers (a folder without files reads as an error).
            let mut empty = sorted.drop(PARTITION)?;
            write_parquet_with_metadata(&tmp.join(format!("{PARTITION}={NO_PROVINCE}")).join("part-0.parquet"), &mut empty, metadata)?;
            return Ok(0);
        }
        let parts = sorted.partition_by_stable([PARTITION], true)?;
        // Provinces side by side, the largest first (each file is small: the
        // writer has little to share out within one); the first error in
        // province order wins.
        super::for_each_side_by_side("gold", &parts, |part| part.height() as u64, |part| {
            let code = part.column(PARTITION)?.str()?.get(0).unwrap_or(NO_PROVINCE).to_string();
            if code != NO_PROVINCE && (code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric())) {
                bail!("gold table {table}: {PARTITION} {code:?} cannot name a folder");
            }
            let mut data = part.drop(PARTITION)?;
            write_parquet_with_metadata(&tmp.join(format!("{PARTITION}={code}")).join("part-0.parquet"), &mut data, metadata)
        })?;
        Ok(parts.len())
    };
    let n = match write() {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if target.exists() {
        fs::rename(&target, &old).with_context(|| format!("moving aside {}", target.display()))?;
    }
    fs::rename(&tmp, &target).with_context(|| format!("publishing {}", target.display()))?;
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(n)
}

/// Checks `df` against the table's declaration and publishes it, sorted by
/// the declared key. Rows without a province are published with a null
/// `province_code` (see the module's note) and a warning naming `stage`:
/// they are in the table, in no province's lists. Returns the partitions.
pub fn publish(lake_root: &Path, table: &GoldTable, df: DataFrame, stage: &str) -> Result<usize> {
    table.check(&df)?;
    let missing = df.column(PARTITION)?.null_count();
    if missing > 0 {
        tracing::warn!(stage, table = table.name, rows = missing, "rows without a province: published with a null province_code, in no province's lists");
    }
    write_table(lake_root, table, df)
}

/// The province codes a gold table has partitions for, sorted (not the
/// partition of rows without a province).
pub fn partitions(lake_root: &Path, table: &str) -> Result<Vec<String>> {
    let dir = table_dir(lake_root, table);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = e?.file_name();
        if let Some(code) = name.to_str().and_then(|n| n.strip_prefix(&format!("{PARTITION}="))) {
            if code != NO_PROVINCE {
                out.push(code.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one province of a gold table, with its `province_code` column first.
pub fn read_partition(lake_root: &Path, table: &str, province: &str) -> Result<DataFrame> {
    read_folder(lake_root, table, Some(province))
}

/// One partition's rows, `province` None for the rows without a province.
fn read_folder(lake_root: &Path, table: &str, province: Option<&str>) -> Result<DataFrame> {
    let dir = partition_dir(lake_root, table, province.unwrap_or(NO_PROVINCE));
    // Plain file reads (a scan would add the Hive column itself, typed by guess).
    let mut df: Option<DataFrame> = None;
    for f in super::parquet_files(&dir)? {
        let part = super::read_parquet(&f)?;
        match &mut df {
            None => df = Some(part),
            Some(acc) => {
                acc.vstack_mut(&part)?;
            }
        }
    }
    let Some(mut df) = df else { bail!("{} has no Parquet file", dir.display()) };
    let code = Column::new(PARTITION.into(), vec![province; df.height()]).cast(&DataType::String)?;
    df.insert_column(0, code)?;
    Ok(df)
}

/// Reads a whole gold table (every province, and the rows without one),
/// `province_code` first; `None` when the table has no partitions.
pub fn read_partitioned(lake_root: &Path, table: &str) -> Result<Option<DataFrame>> {
    let mut out: Option<DataFrame> = None;
    let mut folders: Vec<Option<String>> = partitions(lake_root, table)?.into_iter().map(Some).collect();
    if partition_dir(lake_root, table, NO_PROVINCE).exists() {
        folders.push(None);
    }
    for p in folders {
        let df = read_folder(lake_root, table, p.as_deref())?;
        match &mut out {
            None => out = Some(df),
            Some(acc) => {
                acc.vstack_mut(&df)?;
            }
        }
    }
    if let Some(df) = &mut out {
        df.rechunk_mut();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of a published table, the empty one of a table without
    /// rows included, names the table and its schema version in its footer.
    #[test]
    fn a_published_tables_files_carry_its_name_and_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let t = crate::coverage::tables::UNREGISTERED_EMPLOYERS;
        assert!(t.version() >= 1, "the shipped columns have a version");
        let want = vec![("bhxh:table".to_string(), t.name.to_string()), ("bhxh:schema_version".to_string(), t.version().to_string())];
        let columns: Vec<Column> = t
            .columns
            .iter()
            .map(|c| {
                let dtype = match c.dtype {
                    "string" => DataType::String,
                    "int64" => DataType::Int64,
                    "int32" => DataType::Int32,
                    "date" => DataType::Date,
                    "bool" => DataType::Boolean,
                    _ => DataType::Float64,
                };
                Column::full_null(c.name.into(), 2, &dtype)
            })
            .collect();
        let mut df = DataFrame::new(2, columns).unwrap();
        df.with_column(Column::new(PARTITION.into(), ["01", "79"])).unwrap();
        publish(dir.path(), &t, df.clone(), "test").unwrap();
        let files = super::super::files_under(&table_dir(dir.path(), t.name), "parquet");
        assert_eq!(files.len(), 2);
        for f in &files {
            let meta = super::super::parquet_metadata(f).unwrap();
            for kv in &want {
                assert!(meta.contains(kv), "{}: {meta:?}", f.display());
            }
        }
        publish(dir.path(), &t, df.head(Some(0)), "test").unwrap();
        let files = super::super::files_under(&table_dir(dir.path(), t.name), "parquet");
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(super::super::parquet_metadata(&files[0]).unwrap().contains(&want[1]));
        // A table written by name only (a scratch table) carries none.
        write_partitioned(dir.path(), "t", df!("province_code" => ["01"], "x" => [1i64]).unwrap()).unwrap();
        let f = super::super::files_under(&table_dir(dir.path(), "t"), "parquet");
        assert!(!super::super::parquet_metadata(&f[0]).unwrap().iter().any(|kv| kv.0.starts_with("bhxh:")));
    }

    #[test]
    fn partitions_by_province_sorted_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let df = df!(
            "province_code" => ["79", "01", "79", "01"],
            "unit_code" => ["B", "Z", "A", "C"],
            "debt" => [3i64, 1, 2, 4],
        )
        .unwrap();
        assert_eq!(write_partitioned(dir.path(), "t", df).unwrap(), 2);
        assert_eq!(partitions(dir.path(), "t").unwrap(), vec!["01", "79"]);
        let hcm = read_partition(dir.path(), "t", "79").unwrap();
        assert_eq!(hcm.column("unit_code").unwrap().str().unwrap().iter().flatten().collect::<Vec<_>>(), ["A", "B"]);
        // The file itself carries no partition column (Hive convention).
        let raw = super::super::read_parquet(&dir.path().join("gold/t/province_code=79/part-0.parquet")).unwrap();
        assert!(raw.column("province_code").is_err());
        let all = read_partitioned(dir.path(), "t").unwrap().unwrap();
        assert_eq!(all.height(), 4);
        assert_eq!(all.get_column_names()[0].as_str(), "province_code");

        // Rewritten with one province only: the other disappears, no temp folder is left.
        let df = df!("province_code" => ["01"], "unit_code" => ["Z"], "debt" => [9i64]).unwrap();
        write_partitioned(dir.path(), "t", df).unwrap();
        assert_eq!(partitions(dir.path(), "t").unwrap(), vec!["01"]);
        let left: Vec<_> = fs::read_dir(dir.path().join("gold")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("t")]);
    }

    #[test]
    fn rows_without_a_province_are_published_as_null_and_an_empty_table_keeps_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let df = df!(
            "province_code" => [Some("79"), None, Some("01")],
            "unit_code" => ["B", "Z", "A"],
            "debt" => [3i64, 1, 2],
        )
        .unwrap();
        assert_eq!(write_partitioned(dir.path(), "t", df).unwrap(), 3);
        assert_eq!(partitions(dir.path(), "t").unwrap(), vec!["01", "79"], "no province is no province's partition");
        assert!(dir.path().join("gold/t/province_code=__HIVE_DEFAULT_PARTITION__/part-0.parquet").exists());
        let all = read_partitioned(dir.path(), "t").unwrap().unwrap();
        assert_eq!(all.height(), 3);
        assert_eq!(all.column("province_code").unwrap().dtype(), &DataType::String);
        assert_eq!(all.column("province_code").unwrap().null_count(), 1);
        assert_eq!(all.column("unit_code").unwrap().str().unwrap().get(2), Some("Z"));

        // No rows: one empty file with the columns, where Hive readers look.
        let empty = df!("province_code" => Vec::<&str>::new(), "unit_code" => Vec::<&str>::new(), "debt" => Vec::<i64>::new()).unwrap();
        assert_eq!(write_partitioned(dir.path(), "t", empty).unwrap(), 0);
        assert!(partitions(dir.path(), "t").unwrap().is_empty());
        let raw = super::super::read_parquet(&dir.path().join("gold/t/province_code=__HIVE_DEFAULT_PARTITION__/part-0.parquet")).unwrap();
        assert_eq!((raw.height(), raw.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>()), (0, vec!["unit_code", "debt"]));
        let back = read_partitioned(dir.path(), "t").unwrap().unwrap();
        assert_eq!((back.height(), back.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>()), (0, vec!["province_code", "unit_code", "debt"]));
    }

    #[test]
    fn refuses_a_table_without_province() {
        let dir = tempfile::tempdir().unwrap();
        let df = df!("unit_code" => ["A"]).unwrap();
        assert!(write_partitioned(dir.path(), "t", df).is_err());
    }
}
