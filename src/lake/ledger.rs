//! The ingest ledger: every input file ingested, by name and content hash.
//!
//! `<lake>/_ledger/ingested.jsonl`, one JSON object per line. A file whose
//! name and BLAKE3 hash are already there is skipped; a file with a known
//! name but new content is a new version of that extract, written beside the
//! old one (`<extract>.v2.parquet`), never over it. The ledger is rewritten
//! whole (temporary file, then rename) after each ingest.
//!
//! Each entry also remembers the file's size and modification time (ns) when
//! its content was last hashed. A file whose name, size and modification time
//! are all unchanged is known without reading it again (as `git status` and
//! `rsync` do): hashing a 16M-people inbox takes longer than the rest of a
//! quiet night's ingest. Any write to the file moves its modification time;
//! a time less than two seconds before the hash is not remembered, in case
//! the file was still being written within the file system's clock step.
//! A file at a size the ledger has never had under its name cannot be known
//! content: ingest hashes a CSV extract as it loads it ([`Ledger::knows_size`]).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerEntry {
    pub file: String,
    pub dataset: String,
    /// The extract's name in the lake (`tax_wages_20200608`, `…​.v2`).
    pub extract: String,
    pub version: u32,
    pub blake3: String,
    pub bytes: u64,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub ingested_at: String,
    pub run_id: String,
    /// The file's modification time (ns since 1970) when this content was
    /// last hashed; absent in ledgers written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ns: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    path: PathBuf,
    pub entries: Vec<LedgerEntry>,
}

impl Ledger {
    pub fn load(lake_root: &Path) -> Result<Ledger> {
        let path = lake_root.join("_ledger").join("ingested.jsonl");
        let mut entries = Vec::new();
        if path.exists() {
            let f = fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            for (i, line) in BufReader::new(f).lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                entries.push(
                    serde_json::from_str(&line).with_context(|| format!("{} line {}", path.display(), i + 1))?,
                );
            }
        }
        Ok(Ledger { path, entries })
    }

    /// The entry for this exact file content, if it was ingested before.
    pub fn find(&self, file: &str, blake3: &str) -> Option<&LedgerEntry> {
        self.entries.iter().find(|e| e.file == file && e.blake3 == blake3)
    }

    /// The entry of `file` known without reading it: same size and
    /// modification time as when its content was hashed.
    pub fn find_unchanged(&self, file: &str, stamp: &Stamp) -> Option<&LedgerEntry> {
        let ns = stamp.modified_ns?;
        self.entries.iter().rev().find(|e| e.file == file && e.bytes == stamp.bytes && e.modified_ns == Some(ns))
    }

    /// Whether `file` was ingested at `bytes` bytes: only then can its
    /// content be one the ledger knows (the same content has the same size).
    pub fn knows_size(&self, file: &str, bytes: u64) -> bool {
        self.entries.iter().any(|e| e.file == file && e.bytes == bytes)
    }

    /// Remembers that `file` with content `blake3` now has `stamp` (a copy of
    /// the same content, say), so the next run need not read it.
    pub fn restamp(&mut self, file: &str, blake3: &str, stamp: &Stamp) {
        if stamp.modified_ns.is_none() {
            return;
        }
        if let Some(e) = self.entries.iter_mut().rev().find(|e| e.file == file && e.blake3 == blake3) {
            e.modified_ns = stamp.modified_ns;
        }
    }

    /// The version a new content of `file` gets: 1, or one more than the last.
    pub fn next_version(&self, file: &str) -> u32 {
        self.entries.iter().filter(|e| e.file == file).map(|e| e.version).max().unwrap_or(0) + 1
    }

    pub fn record(&mut self, entry: LedgerEntry) {
        self.entries.push(entry);
    }

    pub fn save(&self) -> Result<()> {
        let dir = self.path.parent().expect("ledger has a folder");
        fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".ingested.jsonl.tmp-{}", std::process::id()));
        let mut f = std::io::BufWriter::new(fs::File::create(&tmp)?);
        for e in &self.entries {
            serde_json::to_writer(&mut f, e)?;
            f.write_all(b"\n")?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, &self.path).with_context(|| format!("writing {}", self.path.display()))
    }
}

/// A file's size and modification time, as the ledger remembers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamp {
    pub bytes: u64,
    /// `None` when the time is unknown or too recent to trust (see the module doc).
    pub modified_ns: Option<i64>,
}

impl Stamp {
    /// The file's stamp now.
    pub fn of(path: &Path) -> Result<Stamp> {
        let m = fs::metadata(path).with_context(|| format!("reading the size of {}", path.display()))?;
        let modified = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let settled = modified.filter(|t| now.saturating_sub(*t) >= std::time::Duration::from_secs(2));
        Ok(Stamp { bytes: m.len(), modified_ns: settled.and_then(|t| i64::try_from(t.as_nanos()).ok()) })
    }
}

/// BLAKE3 of a file's content (hex) and its size in bytes.
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    let bytes = hash_rest(f, &mut hasher)?;
    Ok((hasher.finalize().to_hex().to_string(), bytes))
}

/// Feeds `hasher` what is left of `r`; returns the bytes read.
pub fn hash_rest(mut r: impl Read, hasher: &mut blake3::Hasher) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(bytes)
}
