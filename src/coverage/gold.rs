//! Gold tables: `gold/<table>/province_code=NN/part-0.parquet` (Hive
//! partitioning; the partition column lives in the path, not in the files).
//!
//! A table is written whole into `gold/.<table>.tmp-<pid>/` and then swapped
//! in for the previous version (rename the old folder aside, rename the new
//! one into place, remove the old), so a reader never sees a half-written
//! table. A killed run leaves only `.…tmp-…` folders, which the next run
//! sweeps (`lake::remove_stale_temporaries`). Rows without a province go to
//! `province_code=__HIVE_DEFAULT_PARTITION__` (the Hive convention); an empty
//! table is one empty file there, so readers still see its schema.
//!
//! This is a private helper of the coverage stage until the shared one
//! (`lake::gold`) lands from the dues branch.

use crate::lake::{self, Lake};
use anyhow::{Context, Result};
use polars::prelude::*;
use std::fs;
use std::path::PathBuf;

pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

pub fn table_dir(lake: &Lake, table: &str) -> PathBuf {
    lake.root.join("gold").join(table)
}

/// Writes `df` (which must have a `province_code` string column) as a
/// Hive-partitioned gold table, replacing the previous version atomically.
pub fn write_partitioned(lake: &Lake, table: &str, df: &DataFrame) -> Result<()> {
    let gold = lake.root.join("gold");
    fs::create_dir_all(&gold).with_context(|| format!("creating {}", gold.display()))?;
    let pid = std::process::id();
    let tmp = gold.join(format!(".{table}.tmp-{pid}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir_all(&tmp)?;
    let df = df
        .clone()
        .lazy()
        .with_column(col("province_code").fill_null(lit(DEFAULT_PARTITION)))
        .collect()?;
    let parts = if df.height() == 0 {
        vec![df.clone()]
    } else {
        df.partition_by_stable(["province_code"], true)?
    };
    for part in parts {
        let prov = match part.height() {
            0 => DEFAULT_PARTITION.to_string(),
            _ => part.column("province_code")?.str()?.get(0).unwrap_or(DEFAULT_PARTITION).to_string(),
        };
        let mut data = part.drop("province_code")?;
        let file = tmp.join(format!("province_code={prov}")).join("part-0.parquet");
        lake::write_parquet(&file, &mut data)?;
    }
    let target = gold.join(table);
    let old = gold.join(format!(".{table}.old.tmp-{pid}"));
    if target.exists() {
        fs::rename(&target, &old).with_context(|| format!("moving aside {}", target.display()))?;
    }
    fs::rename(&tmp, &target).with_context(|| format!("publishing {}", target.display()))?;
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Reads a gold table back whole, with `province_code` from the paths (for
/// tests and later stages).
pub fn read_partitioned(lake: &Lake, table: &str) -> Result<DataFrame> {
    let dir = table_dir(lake, table);
    let mut frames = Vec::new();
    let mut parts: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    parts.sort();
    for p in parts {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let Some(prov) = name.strip_prefix("province_code=") else { continue };
        let df = lake::read_parquet(&p.join("part-0.parquet"))?;
        let n = df.height();
        let prov_col: Option<&str> = (prov != DEFAULT_PARTITION).then_some(prov);
        let mut df = df;
        df.with_column(Column::new("province_code".into(), vec![prov_col; n]))?;
        frames.push(df);
    }
    let mut out = frames.pop().context("gold table without partitions")?;
    for f in frames.iter().rev() {
        let mut f = f.clone();
        f.vstack_mut(&out)?;
        out = f;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_by_province_and_replaces_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let df = df!("province_code" => [Some("01"), Some("79"), None, Some("01")], "x" => [1i64, 2, 3, 4]).unwrap();
        write_partitioned(&lake, "t", &df).unwrap();
        let t = dir.path().join("gold/t");
        assert!(t.join("province_code=01/part-0.parquet").exists());
        assert!(t.join("province_code=79/part-0.parquet").exists());
        assert!(t.join(format!("province_code={DEFAULT_PARTITION}/part-0.parquet")).exists());
        let p01 = lake::read_parquet(&t.join("province_code=01/part-0.parquet")).unwrap();
        assert_eq!(p01.get_column_names(), ["x"], "the partition key lives in the path");
        assert_eq!(p01.height(), 2);
        let back = read_partitioned(&lake, "t").unwrap();
        assert_eq!(back.height(), 4);
        // A new version replaces the old whole: no stale province survives.
        let df2 = df!("province_code" => ["48"], "x" => [9i64]).unwrap();
        write_partitioned(&lake, "t", &df2).unwrap();
        let names: Vec<_> = fs::read_dir(&t).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["province_code=48"]);
        assert_eq!(fs::read_dir(dir.path().join("gold")).unwrap().count(), 1, "no temporaries left");
        // An empty table keeps its schema.
        write_partitioned(&lake, "t", &df2.head(Some(0))).unwrap();
        assert_eq!(read_partitioned(&lake, "t").unwrap().height(), 0);
    }
}
