//! What the incremental nightly run remembers: for each step that can be
//! skipped (a silver table of conform, the link stage), the fingerprint of
//! everything it read and the files it wrote.
//!
//! A step is skipped only when its fingerprint is the one recorded *and*
//! every output file is still the one it wrote (same size and modification
//! time): a file replaced by anything else — another run, a restore, a hand —
//! makes the step run again. The fingerprint covers the code (the running
//! executable's BLAKE3), the rules the step reads and its inputs (the content
//! hashes of the extracts, through the ingest ledger, or the fingerprints of
//! the silver tables it reads), so a skipped step would have written exactly
//! what is there. `bhxh run --full` ignores what is remembered (and records
//! afresh).
//!
//! Kept in `<lake>/_state/memo.json`, written atomically after the outputs
//! are in place: a run killed in between leaves an entry whose outputs no
//! longer match, which only costs a recomputation.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub fingerprint: String,
    pub outputs: Vec<Output>,
    /// What the step reported when it ran (repeated when it is skipped).
    #[serde(default)]
    pub report: serde_json::Value,
}

/// A file a step wrote, as it was when the step finished.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Output {
    /// Relative to the lake root.
    pub path: String,
    pub bytes: u64,
    pub modified_ns: i64,
}

#[derive(Debug, Default)]
pub struct Memo {
    path: PathBuf,
    root: PathBuf,
    entries: BTreeMap<String, Entry>,
    /// False for `--full`: nothing is fresh, everything is recorded.
    trust: bool,
}

impl Memo {
    /// The lake's memo; with `trust` false (a full rebuild) no step is fresh.
    pub fn load(lake_root: &Path, trust: bool) -> Result<Memo> {
        let path = lake_root.join("_state").join("memo.json");
        let entries = if path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            // An unreadable memo is only a lost shortcut: start afresh.
            serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!("{}: {e}; every step runs", path.display());
                BTreeMap::new()
            })
        } else {
            BTreeMap::new()
        };
        Ok(Memo { path, root: lake_root.to_path_buf(), entries, trust })
    }

    /// The recorded entry of `step` when its fingerprint is `fingerprint` and
    /// its outputs are untouched since.
    pub fn fresh(&self, step: &str, fingerprint: &str) -> Option<&Entry> {
        if !self.trust {
            return None;
        }
        let e = self.entries.get(step)?;
        if e.fingerprint != fingerprint {
            return None;
        }
        for o in &e.outputs {
            let now = stat(&self.root.join(&o.path)).map(|s| (s.bytes, s.modified_ns));
            if now != Some((o.bytes, o.modified_ns)) {
                return None;
            }
        }
        Some(e)
    }

    /// The fingerprint `step` last ran with, whether or not it is fresh.
    pub fn fingerprint(&self, step: &str) -> Option<&str> {
        self.entries.get(step).map(|e| e.fingerprint.as_str())
    }

    /// Records that `step` ran with `fingerprint` and wrote `outputs`
    /// (absolute paths inside the lake), and saves the memo.
    pub fn record(&mut self, step: &str, fingerprint: &str, outputs: &[PathBuf], report: serde_json::Value) -> Result<()> {
        let mut out = Vec::with_capacity(outputs.len());
        for p in outputs {
            let mut o = stat(p).with_context(|| format!("{}: output of {step} missing", p.display()))?;
            o.path = p.strip_prefix(&self.root).unwrap_or(p).to_string_lossy().replace('\\', "/");
            out.push(o);
        }
        self.entries.insert(step.to_string(), Entry { fingerprint: fingerprint.to_string(), outputs: out, report });
        self.save()
    }

    /// The steps recorded under `prefix` (`coverage/uninsured/`, say).
    pub fn steps_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.entries.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }

    /// Forgets `step` (its outputs were removed), and saves the memo.
    pub fn forget(&mut self, step: &str) -> Result<()> {
        if self.entries.remove(step).is_some() {
            self.save()?;
        }
        Ok(())
    }

    fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        super::write_file(&self.path, &serde_json::to_vec_pretty(&self.entries)?)
    }
}

fn stat(p: &Path) -> Option<Output> {
    let m = std::fs::metadata(p).ok()?;
    let modified = m.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(Output { path: String::new(), bytes: m.len(), modified_ns: modified.as_nanos() as i64 })
}

/// Builds a fingerprint from labelled parts, in order.
pub struct Fingerprint(blake3::Hasher);

impl Fingerprint {
    /// A fingerprint for `step`, starting from the code that computes it.
    pub fn new(step: &str) -> Fingerprint {
        let mut h = blake3::Hasher::new();
        h.update(code_hash().as_bytes());
        let mut f = Fingerprint(h);
        f.add("step", step.as_bytes());
        f
    }

    /// Adds a labelled part (length-prefixed, so parts cannot run together).
    pub fn add(&mut self, label: &str, bytes: &[u8]) -> &mut Self {
        for part in [label.as_bytes(), bytes] {
            self.0.update(&(part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
        self
    }

    /// Adds a file's content (or its absence).
    pub fn add_file(&mut self, label: &str, path: &Path) -> Result<&mut Self> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(self.add(label, &bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(self.add(label, b"\0absent")),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Adds every file of a folder, by name, in name order.
    pub fn add_dir(&mut self, label: &str, dir: &Path) -> Result<&mut Self> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
        };
        files.sort();
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            self.add_file(&format!("{label}/{name}"), &f)?;
        }
        Ok(self)
    }

    pub fn finish(&self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

/// BLAKE3 of the running executable: any rebuild changes every fingerprint,
/// so a new version of a rule in code never reuses an old answer.
fn code_hash() -> &'static str {
    static CODE: OnceLock<String> = OnceLock::new();
    CODE.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| super::ledger::hash_file(&p).ok())
            .map(|(h, _)| h)
            // No executable to read: nothing can be trusted across runs.
            .unwrap_or_else(|| format!("unknown-{}", std::process::id()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_only_with_the_same_fingerprint_and_untouched_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("silver/t.parquet");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(&out, b"one").unwrap();
        let mut m = Memo::load(dir.path(), true).unwrap();
        assert!(m.fresh("conform/t", "f1").is_none(), "nothing recorded yet");
        m.record("conform/t", "f1", &[out.clone()], serde_json::json!({"rows": 1})).unwrap();
        let m = Memo::load(dir.path(), true).unwrap();
        assert_eq!(m.fresh("conform/t", "f1").unwrap().report["rows"], 1);
        assert!(m.fresh("conform/t", "f2").is_none(), "another fingerprint");
        assert!(Memo::load(dir.path(), false).unwrap().fresh("conform/t", "f1").is_none(), "--full trusts nothing");
        // The output replaced (other size): not fresh any more.
        std::fs::write(&out, b"other content").unwrap();
        assert!(Memo::load(dir.path(), true).unwrap().fresh("conform/t", "f1").is_none());
        std::fs::remove_file(&out).unwrap();
        assert!(Memo::load(dir.path(), true).unwrap().fresh("conform/t", "f1").is_none(), "output gone");
    }

    #[test]
    fn fingerprint_parts_cannot_run_together() {
        let a = Fingerprint::new("s").add("x", b"ab").add("y", b"c").finish();
        let b = Fingerprint::new("s").add("x", b"a").add("y", b"bc").finish();
        assert_ne!(a, b);
        assert_eq!(a, Fingerprint::new("s").add("x", b"ab").add("y", b"c").finish());
        assert_ne!(a, Fingerprint::new("t").add("x", b"ab").add("y", b"c").finish());
    }
}
