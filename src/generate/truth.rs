//! The planted answers: `truth/*.csv` and `truth/summary.json`.

use super::writer::Planted;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// A truth CSV file and its row count.
pub(crate) struct TruthWriter {
    name: &'static str,
    out: csv::Writer<BufWriter<File>>,
    rows: u64,
}

impl TruthWriter {
    pub fn create(dir: &Path, name: &'static str, header: &[&str]) -> Result<TruthWriter> {
        let path = dir.join(format!("{name}.csv"));
        let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(BufWriter::with_capacity(1 << 18, f));
        out.write_record(header)?;
        Ok(TruthWriter { name, out, rows: 0 })
    }
    pub fn record(&mut self, fields: &[&str]) -> Result<()> {
        self.out.write_record(fields)?;
        self.rows += 1;
        Ok(())
    }
    pub fn finish(mut self) -> Result<(&'static str, u64)> {
        self.out.flush()?;
        Ok((self.name, self.rows))
    }
}

/// bad_rows.csv, duplicates.csv and noise.csv from what the writers planted.
pub(crate) fn planted_files(dir: &Path, planted: &[Planted]) -> Result<Vec<(&'static str, u64)>> {
    let mut bad = TruthWriter::create(dir, "bad_rows", &["dataset", "file", "line", "reason", "column"])?;
    let mut dups = TruthWriter::create(dir, "duplicates", &["dataset", "file", "line", "original_line"])?;
    let mut noise = TruthWriter::create(dir, "noise", &["dataset", "file", "line", "kind"])?;
    for p in planted {
        let ds = p.ds.expect("dataset").name();
        let mut b = p.bad.clone();
        b.sort_by_key(|x| x.0);
        for (line, reason, column) in b {
            bad.record(&[ds, &p.file, &line.to_string(), reason.code(), column])?;
        }
        for (line, orig) in &p.dups {
            dups.record(&[ds, &p.file, &line.to_string(), &orig.to_string()])?;
        }
        for (line, kind) in &p.noise {
            noise.record(&[ds, &p.file, &line.to_string(), kind.code()])?;
        }
    }
    Ok(vec![bad.finish()?, dups.finish()?, noise.finish()?])
}
