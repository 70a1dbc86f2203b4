//! A lake and an inbox on S3-compatible object storage, against a real S3
//! server (moto's server mode) started on 127.0.0.1 for the test.
//!
//! `.ci/run` installs moto into its virtual environment and sets
//! `BHXH_S3_SERVER` to its `moto_server`, so in CI this test always runs.
//! Elsewhere it uses `moto_server` from PATH if there is one, and otherwise
//! says it was skipped.

use bhxh::lake::lock::{LockHeld, LockOwner};
use bhxh::lake::remote::Remote;
use bhxh::pipeline::{self, RunConfig};
use chrono::NaiveDate;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(binary: &str) -> Option<(Server, u16)> {
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let server = Server(child);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((server, port));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// S3 CreateBucket is a bare `PUT /<bucket>`; moto accepts it unsigned.
fn create_bucket(port: u16, bucket: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "create bucket: {reply}");
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn config(inbox: impl Into<PathBuf>, lake: impl Into<PathBuf>, work: Option<PathBuf>) -> RunConfig {
    let as_of = NaiveDate::from_ymd_opt(2020, 6, 8).unwrap();
    RunConfig { work_dir: work, ..RunConfig::new(inbox, lake, root().join("pipelines/reference"), as_of) }
}

#[test]
fn a_run_on_s3_writes_the_same_tables_as_a_local_run_and_keeps_its_guarantees() {
    let required = std::env::var("BHXH_S3_SERVER").ok();
    let binary = required.clone().unwrap_or_else(|| "moto_server".into());
    let Some((_server, port)) = start_server(&binary) else {
        assert!(required.is_none(), "BHXH_S3_SERVER={binary} did not start");
        eprintln!("skipped: no moto_server (run .ci/run to set one up)");
        return;
    };
    create_bucket(port, "bhxh-lake");
    // The only test in this binary, so setting the process environment is safe.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".to_string()),
    ] {
        std::env::set_var(k, v);
    }
    let tmp = tempfile::tempdir().unwrap();

    // The sample goes to the remote inbox.
    let inbox_url = PathBuf::from("s3://bhxh-lake/inbox");
    let inbox = Remote::open(&inbox_url).unwrap();
    let staged = tmp.path().join("staged-inbox");
    std::fs::create_dir_all(&staged).unwrap();
    for e in std::fs::read_dir(root().join("sample_data")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, staged.join(p.file_name().unwrap())).unwrap();
        }
    }
    assert_eq!(inbox.push(&staged, &[], &[], &[]).unwrap(), 14);

    // One run on S3, one run locally on the same extracts.
    let lake_url = PathBuf::from("s3://bhxh-lake/lake");
    let remote_run = pipeline::run(&config(&inbox_url, &lake_url, Some(tmp.path().join("work")))).unwrap();
    let local_lake = tmp.path().join("local-lake");
    let local_run = pipeline::run(&config(root().join("sample_data"), &local_lake, None)).unwrap();
    assert_eq!(remote_run.ingest.totals(), local_run.ingest.totals());

    let lake = Remote::open(&lake_url).unwrap();
    let keys: Vec<String> = lake.list("silver").unwrap().into_iter().map(|(k, _, _)| k).collect();
    // Every silver table the local run wrote (conform's 14, then the later stages').
    let mut local_keys: Vec<String> = std::fs::read_dir(local_lake.join("silver"))
        .unwrap()
        .map(|e| format!("silver/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    local_keys.sort();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, local_keys);
    assert!(keys.len() >= 14, "{keys:?}");
    for key in &keys {
        let remote = lake.get(key).unwrap().unwrap();
        let local = std::fs::read(local_lake.join(key)).unwrap();
        assert!(remote == local, "{key}: the S3 table differs from the local one");
    }
    let published: serde_json::Value = serde_json::from_slice(&lake.get("_published.json").unwrap().unwrap()).unwrap();
    assert_eq!(published["run_id"], remote_run.run_id);
    assert!(lake.get("_lock").unwrap().is_none(), "the lock is released");
    assert!(lake.get(&format!("_runs/{}.json", remote_run.run_id)).unwrap().is_some(), "run manifest pushed");

    // The next night, from a fresh machine (empty working folder): the ledger
    // on S3 says every file was ingested, so all are skipped.
    let again = pipeline::run(&config(&inbox_url, &lake_url, Some(tmp.path().join("work2")))).unwrap();
    assert_eq!(again.ingest.skipped().count(), 14);
    for key in &keys {
        assert!(lake.get(key).unwrap().unwrap() == std::fs::read(local_lake.join(key)).unwrap(), "{key} unchanged");
    }

    // A run that fails leaves the published tables and manifest as they were.
    let before = lake.get("_published.json").unwrap().unwrap();
    let mut broken = config(&inbox_url, &lake_url, Some(tmp.path().join("work3")));
    broken.reference = tmp.path().join("no-such-reference");
    assert!(pipeline::run(&broken).is_err());
    assert_eq!(lake.get("_published.json").unwrap().unwrap(), before);
    for key in &keys {
        assert!(lake.get(key).unwrap().unwrap() == std::fs::read(local_lake.join(key)).unwrap(), "{key} intact");
    }
    assert!(lake.get("_lock").unwrap().is_none(), "released after a failure too");

    // A live lock held by another machine stops the run at once.
    let other = LockOwner {
        host: "another-machine".into(),
        pid: 1,
        started: chrono::Utc::now().to_rfc3339(),
        run_id: "theirs".into(),
    };
    lake.put("_lock", serde_json::to_vec(&other).unwrap()).unwrap();
    let err = pipeline::run(&config(&inbox_url, &lake_url, Some(tmp.path().join("work4")))).unwrap_err();
    assert_eq!(err.downcast_ref::<LockHeld>().expect("LockHeld").owner.run_id, "theirs");
    assert!(lake.get("_lock").unwrap().is_some(), "their lock is left alone");
}
