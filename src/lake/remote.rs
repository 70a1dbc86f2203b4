//! Lakes and inboxes on S3-compatible object storage (`s3://bucket/prefix`).
//!
//! The stages work on local files; a remote lake is mirrored in a local
//! working folder. A run on `s3://…`:
//! 1. takes the remote lock `_lock` with a create-only put (two runs on two
//!    machines cannot both get it; a lock older than its time-to-live, or left
//!    by a dead process on this host, is taken over);
//! 2. pulls what the stages read (the ledger, bronze, rejects) into the mirror;
//! 3. runs the stages locally, under the local lock too;
//! 4. if the stages succeeded, pushes every file that changed, table files
//!    first, and writes `_published.json` last: a reader who follows it sees
//!    only whole tables (each object put is atomic; the manifest names the
//!    complete set). If they failed, only the run manifest is pushed, and the
//!    published tables stay as they were.
//!
//! Credentials and endpoint come from the usual AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`).

use super::lock::{alive, LockHeld, LockOwner};
use anyhow::{anyhow, bail, Context, Result};
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Is this lake or inbox location an object-store URL?
pub fn is_remote(location: &Path) -> bool {
    location.to_str().is_some_and(|s| s.starts_with("s3://"))
}

pub struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    rt: tokio::runtime::Runtime,
}

/// What was last exchanged with the remote, per key: its e-tag there and
/// the local content hash, so unchanged files are neither pulled nor pushed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SyncState {
    objects: BTreeMap<String, (String, String)>,
}

impl Remote {
    pub fn open(location: &Path) -> Result<Remote> {
        let url = location.to_str().ok_or_else(|| anyhow!("not a URL: {}", location.display()))?.to_string();
        let rest = url.strip_prefix("s3://").ok_or_else(|| anyhow!("only s3:// URLs are supported: {url}"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .with_context(|| format!("configuring object storage for {url}"))?;
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        Ok(Remote { url: url.clone(), store: Arc::new(store), prefix: ObjPath::from(prefix.trim_matches('/')), rt })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn key(&self, rel: &str) -> ObjPath {
        if self.prefix.as_ref().is_empty() {
            ObjPath::from(rel)
        } else {
            ObjPath::from(format!("{}/{rel}", self.prefix.as_ref()))
        }
    }

    fn rel<'a>(&self, key: &'a ObjPath) -> &'a str {
        let k = key.as_ref();
        if self.prefix.as_ref().is_empty() {
            k
        } else {
            k.strip_prefix(self.prefix.as_ref()).map(|r| r.trim_start_matches('/')).unwrap_or(k)
        }
    }

    /// (relative key, e-tag, size) of every object under `sub` (`""`: all).
    pub fn list(&self, sub: &str) -> Result<Vec<(String, String, u64)>> {
        let prefix = if sub.is_empty() { self.prefix.clone() } else { self.key(sub) };
        let metas: Vec<_> = self.rt.block_on(self.store.list(Some(&prefix)).try_collect::<Vec<_>>())?;
        Ok(metas
            .into_iter()
            .map(|m| (self.rel(&m.location).to_string(), m.e_tag.unwrap_or_default(), m.size))
            .collect())
    }

    pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        match self.rt.block_on(async { self.store.get(&self.key(rel)).await?.bytes().await }) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<String> {
        let r = self.rt.block_on(self.store.put(&self.key(rel), PutPayload::from(bytes)))?;
        Ok(r.e_tag.unwrap_or_default())
    }

    pub fn delete(&self, rel: &str) -> Result<()> {
        match self.rt.block_on(self.store.delete(&self.key(rel))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates `rel` only if it does not exist; `false` if it does.
    fn create(&self, rel: &str, bytes: Vec<u8>) -> Result<bool> {
        let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.rt.block_on(self.store.put_opts(&self.key(rel), PutPayload::from(bytes), opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the remote lake's lock. A lock of a dead process on this host,
    /// or older than `ttl_hours`, is taken over.
    pub fn lock(&self, run_id: &str, ttl_hours: i64) -> Result<RemoteLock<'_>> {
        let me = LockOwner::me(run_id);
        for _ in 0..2 {
            if self.create("_lock", serde_json::to_vec(&me)?)? {
                return Ok(RemoteLock { remote: self });
            }
            let owner: Option<LockOwner> = self.get("_lock")?.and_then(|b| serde_json::from_slice(&b).ok());
            let stale = match &owner {
                None => true,
                Some(o) if o.host == me.host && !alive(o.pid) => true,
                Some(o) => chrono::DateTime::parse_from_rfc3339(&o.started)
                    .map(|t| chrono::Utc::now().signed_duration_since(t).num_hours() >= ttl_hours)
                    .unwrap_or(true),
            };
            match owner {
                Some(owner) if !stale => {
                    return Err(LockHeld { path: PathBuf::from(format!("{}/_lock", self.url)), owner }.into())
                }
                _ => {
                    tracing::warn!("taking over a stale lock at {}/_lock", self.url);
                    self.delete("_lock")?;
                }
            }
        }
        bail!("could not take the lock {}/_lock (another run raced for it)", self.url)
    }

    fn state_path(local: &Path) -> PathBuf {
        local.join(".sync").join("state.json")
    }

    fn load_state(local: &Path) -> SyncState {
        fs::read(Self::state_path(local)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    fn save_state(local: &Path, state: &SyncState) -> Result<()> {
        let p = Self::state_path(local);
        fs::create_dir_all(p.parent().expect("has parent"))?;
        fs::write(&p, serde_json::to_vec(state)?)?;
        Ok(())
    }

    /// Downloads every object under the `subs` folders that is new or changed
    /// since the last exchange into `local`. Returns the number downloaded.
    pub fn pull(&self, local: &Path, subs: &[&str]) -> Result<usize> {
        let mut state = Self::load_state(local);
        let mut n = 0;
        for sub in subs {
            for (rel, etag, _) in self.list(sub)? {
                if rel == "_lock" || state.objects.get(&rel).is_some_and(|(e, _)| *e == etag) && local.join(&rel).exists() {
                    continue;
                }
                let bytes = self.get(&rel)?.ok_or_else(|| anyhow!("{} vanished while pulling", rel))?;
                let path = local.join(&rel);
                fs::create_dir_all(path.parent().expect("object has a folder"))?;
                fs::write(&path, &bytes)?;
                state.objects.insert(rel, (etag, blake3::hash(&bytes).to_hex().to_string()));
                n += 1;
            }
        }
        Self::save_state(local, &state)?;
        Ok(n)
    }

    /// Uploads the files under `local` (only those under the `only` folders
    /// when it is not empty; never the lock, sync state or temporaries) whose
    /// content changed since the last exchange, the `last` files after all
    /// others; then deletes remote objects under the `owned` folders that no
    /// longer exist locally (a partition a run no longer writes).
    pub fn push(&self, local: &Path, only: &[&str], last: &[&str], owned: &[&str]) -> Result<usize> {
        let mut state = Self::load_state(local);
        let mut files = Vec::new();
        let mut stack = vec![local.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir)? {
                let path = entry?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                if name.starts_with('.') || name == "_lock" {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(local)?.to_string_lossy().replace('\\', "/");
                    files.push(rel);
                }
            }
        }
        if !only.is_empty() {
            files.retain(|rel| only.iter().any(|o| rel.starts_with(&format!("{o}/")) || rel == o));
        }
        files.sort_by_key(|rel| (last.contains(&rel.as_str()), rel.clone()));
        let mut n = 0;
        for rel in &files {
            let bytes = fs::read(local.join(rel))?;
            let hash = blake3::hash(&bytes).to_hex().to_string();
            if state.objects.get(rel).is_some_and(|(_, h)| *h == hash) {
                continue;
            }
            let etag = self.put(rel, bytes)?;
            state.objects.insert(rel.clone(), (etag, hash));
            n += 1;
        }
        for sub in owned {
            for (rel, _, _) in self.list(sub)? {
                if !files.contains(&rel) {
                    self.delete(&rel)?;
                    state.objects.remove(&rel);
                }
            }
        }
        Self::save_state(local, &state)?;
        Ok(n)
    }
}

/// Held while the run lives; deletes the remote lock when dropped.
pub struct RemoteLock<'a> {
    remote: &'a Remote,
}

impl Drop for RemoteLock<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.remote.delete("_lock") {
            tracing::error!("could not release {}/_lock: {e:#}", self.remote.url);
        }
    }
}
