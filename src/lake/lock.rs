//! One run at a time: a lock file in the lake.
//!
//! `<lake>/_lock` is created with `create_new` (atomic on every local file
//! system) and holds the owner's host, pid and start time. A second run finds
//! it and stops with [`LockHeld`]. A lock whose owner is gone (same host, no
//! such process) is stale: it is taken over, and the takeover is logged.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockOwner {
    pub host: String,
    pub pid: u32,
    pub started: String,
    pub run_id: String,
}

/// Another live run holds the lake.
#[derive(Debug, thiserror::Error)]
#[error("the lake {} is locked by run {} (pid {} on {}, started {})", .path.display(), .owner.run_id, .owner.pid, .owner.host, .owner.started)]
pub struct LockHeld {
    pub path: PathBuf,
    pub owner: LockOwner,
}

impl LockOwner {
    /// This process, starting run `run_id` now.
    pub fn me(run_id: &str) -> LockOwner {
        LockOwner {
            host: hostname(),
            pid: std::process::id(),
            started: chrono::Utc::now().to_rfc3339(),
            run_id: run_id.to_string(),
        }
    }
}

/// Held while the run lives; removes the lock file when dropped.
#[derive(Debug)]
pub struct LakeLock {
    path: PathBuf,
}

pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether a process of this host is alive (Linux: `/proc/<pid>` exists;
/// elsewhere assumed alive, the safe answer).
pub(crate) fn alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

impl LakeLock {
    /// Takes the lake's lock, or fails with [`LockHeld`] (downcastable).
    pub fn acquire(lake_root: &Path, run_id: &str) -> Result<LakeLock> {
        fs::create_dir_all(lake_root).with_context(|| format!("creating {}", lake_root.display()))?;
        let path = lake_root.join("_lock");
        let me = LockOwner::me(run_id);
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(serde_json::to_string(&me)?.as_bytes())?;
                    f.sync_all()?;
                    return Ok(LakeLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    match serde_json::from_str::<LockOwner>(&text) {
                        Ok(owner) if owner.host != me.host || alive(owner.pid) => {
                            return Err(LockHeld { path, owner }.into());
                        }
                        Ok(owner) => tracing::warn!(
                            "taking over a stale lock of run {} (pid {} is gone)", owner.run_id, owner.pid
                        ),
                        // A crash between create and write leaves an empty or torn file.
                        Err(_) => tracing::warn!("taking over an unreadable lock file {}", path.display()),
                    }
                    fs::remove_file(&path).with_context(|| format!("removing stale {}", path.display()))?;
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
        anyhow::bail!("could not take the lock {} (another run raced for it)", path.display())
    }
}

impl Drop for LakeLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let first = LakeLock::acquire(dir.path(), "run-1").unwrap();
        let err = LakeLock::acquire(dir.path(), "run-2").unwrap_err();
        let held = err.downcast_ref::<LockHeld>().expect("LockHeld");
        assert_eq!(held.owner.run_id, "run-1");
        drop(first);
        LakeLock::acquire(dir.path(), "run-3").expect("free again after release");
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A pid far above pid_max stands for a process that no longer exists.
        let dead = LockOwner { host: hostname(), pid: 4_000_000_000, started: "earlier".into(), run_id: "crashed".into() };
        fs::write(dir.path().join("_lock"), serde_json::to_string(&dead).unwrap()).unwrap();
        let lock = LakeLock::acquire(dir.path(), "next").expect("stale lock taken over");
        let now: LockOwner = serde_json::from_str(&fs::read_to_string(dir.path().join("_lock")).unwrap()).unwrap();
        assert_eq!(now.run_id, "next");
        drop(lock);
        // A torn lock file (crash between create and write) is stale too.
        fs::write(dir.path().join("_lock"), "").unwrap();
        LakeLock::acquire(dir.path(), "after-torn").expect("torn lock taken over");
    }

    #[test]
    fn a_lock_held_from_another_host_is_respected() {
        let dir = tempfile::tempdir().unwrap();
        let other = LockOwner { host: "another-host".into(), pid: 1, started: "x".into(), run_id: "remote".into() };
        fs::write(dir.path().join("_lock"), serde_json::to_string(&other).unwrap()).unwrap();
        assert!(LakeLock::acquire(dir.path(), "me").unwrap_err().downcast_ref::<LockHeld>().is_some());
    }
}
