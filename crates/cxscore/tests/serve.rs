//! `cxscore serve` as a process: durable before acknowledged (SIGKILL under
//! load loses no acknowledged response and doubles none), `serve --demo`,
//! and the `user`, `token` and `survey invite` commands.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cxscore-serve-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn cx(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .env_remove("CXSCORE_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("waits")
}

fn ok(db: &str, args: &[&str]) -> String {
    let out = cx(db, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A running `cxscore serve`; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    url: String,
    /// What it printed at start.
    banner: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn serve(db: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .env_remove("CXSCORE_DB")
        .args(["--db", db, "serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a banner").expect("utf-8");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL in the banner")
        .to_string();
    let mut banner = vec![first];
    // The rest of the banner, without blocking on a server that says nothing more.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
        banner.push(line);
    }
    Server { child, url, banner }
}

/// One HTTP/1.1 request on its own connection: `(status, body)`.
fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<(u16, String)> {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {text:?}")))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

fn setup(dir: &Path) -> (String, String) {
    let db = format!("sqlite://{}", dir.join("cx.db").display());
    ok(&db, &["survey", "create", "examples/survey.json"]);
    let out = cx(&db, &["user", "add", "loader", "--role", "analyst", "--password-stdin"], Some("a long enough password\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = ok(&db, &["token", "create", "--user", "loader", "--scope", "submit"]);
    (db, token.trim().to_string())
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_response() {
    let dir = tempdir("kill");
    let (db, token) = setup(&dir);
    let server = serve(&db, &[]);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (url, token, acked, stop) = (server.url.clone(), token.clone(), acked.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let auth = format!("Bearer {token}");
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}-{i}");
                let body = format!(r#"{{"answers": {{"nps": {}}}, "metadata": {{"key": "{key}"}}}}"#, i % 11);
                let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json"), ("Idempotency-Key", key.as_str())];
                match http(&url, "POST", "/api/v1/surveys/relationship-2026/responses", &headers, &body) {
                    Ok((201, _)) => acked.lock().expect("lock").push(key),
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    Err(_) => break, // the server is gone
                }
                i += 1;
            }
        }));
    }
    // Kill it mid-load, once a good number are acknowledged.
    let started = Instant::now();
    while acked.lock().expect("lock").len() < 300 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(server); // SIGKILL
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 300, "only {} acknowledged", acked.len());

    // Restart on the same file: every acknowledged response is there, once.
    let server = serve(&db, &[]);
    let admin_out = cx(&db, &["user", "add", "auditor", "--role", "analyst", "--password-stdin"], Some("another long password\n"));
    assert!(admin_out.status.success());
    let read = ok(&db, &["token", "create", "--user", "auditor", "--scope", "read"]);
    let auth = format!("Bearer {}", read.trim());
    let (status, body) = http(&server.url, "GET", "/api/v1/surveys/relationship-2026/responses?format=jsonl", &[("Authorization", &auth)], "").expect("export");
    assert_eq!(status, 200);
    let mut stored: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            v["metadata"]["key"].as_str().expect("key").to_string()
        })
        .collect();
    let total = stored.len();
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), total, "a response was stored twice");
    for key in &acked {
        assert!(stored.binary_search(key).is_ok(), "acknowledged {key} was lost");
    }
    // A client retrying after the crash gets the first response back.
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json"), ("Idempotency-Key", acked[0].as_str())];
    let (status, body) = http(&server.url, "POST", "/api/v1/surveys/relationship-2026/responses", &headers, r#"{"answers": {"nps": 1}}"#).expect("retry");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"duplicate\":true"));
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_demo_prints_a_login_and_serves_the_survey() {
    let dir = tempdir("demo");
    let db = format!("sqlite://{}", dir.join("cx.db").display());
    let server = serve(&db, &["--demo"]);
    let banner = server.banner.join("\n");
    assert!(banner.contains("/app as admin / "), "{banner}");
    assert!(banner.contains("/s/relationship-2026"), "{banner}");
    let (status, page) = http(&server.url, "GET", "/s/relationship-2026", &[("Accept-Language", "zh-CN")], "").expect("page");
    assert_eq!(status, 200);
    assert!(page.contains("极有可能"));
    let (status, _) = http(&server.url, "GET", "/healthz", &[], "").expect("health");
    assert_eq!(status, 200);
    // The admin password printed signs in.
    let password = banner
        .split("/app as admin / ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("password")
        .to_string();
    let (_, login) = http(&server.url, "GET", "/app/login", &[], "").expect("login page");
    assert!(login.contains("name=\"password\""));
    drop(server);
    // A second start keeps the data and makes no second admin.
    let server = serve(&db, &["--demo"]);
    assert!(!server.banner.join("\n").contains("/app as admin"));
    drop(server);
    assert!(password.len() >= 12);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn users_tokens_and_invitations_from_the_command_line() {
    let dir = tempdir("cli");
    let (db, _) = setup(&dir);
    // A taken name, a bad role, a short password: exit 2 with a message.
    let out = cx(&db, &["user", "add", "loader"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = cx(&db, &["user", "add", "x", "--role", "boss"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = cx(&db, &["user", "add", "y", "--password-stdin"], Some("short\n"));
    assert_eq!(out.status.code(), Some(2));
    let out = ok(&db, &["user", "add", "wang", "--role", "viewer"]);
    assert!(out.contains("password (shown once): "), "{out}");
    let out = cx(&db, &["token", "create", "--user", "nobody"], None);
    assert_eq!(out.status.code(), Some(2));
    let list = ok(&db, &["token", "list", "--format", "json"]);
    let list: Value = serde_json::from_str(&list).expect("JSON");
    assert_eq!(list[0]["scope"], "submit");
    assert!(list[0].get("token").is_none());
    let id = list[0]["id"].as_i64().expect("id").to_string();
    ok(&db, &["token", "revoke", &id]);
    assert_eq!(cx(&db, &["token", "revoke", &id], None).status.code(), Some(2));

    // Invitations: contacts from the demo's accounts.
    ok(&db, &["demo", "--accounts", "20"]);
    let contacts = dir.join("contacts.csv");
    let demo = ok(&db, &["--format", "json", "survey", "list"]);
    assert!(demo.contains("relationship-2026"));
    std::fs::write(&contacts, "联系人编号,姓名\nKA0001-P1,王\nKA0002-P1,李\nNOPE,无\n").expect("write");
    let out = cx(&db, &["survey", "invite", "relationship-2026", "--contacts", contacts.to_str().expect("path"), "--quiet-days", "0", "--base-url", "https://cx.example.com"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "contact,link");
    let invited: Vec<&str> = lines[1..].to_vec();
    assert_eq!(invited.len(), 2, "{stdout}");
    assert!(invited.iter().all(|l| l.contains(",https://cx.example.com/s/relationship-2026?t=")));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOPE: unknown contact"));
    // Again within 30 days: nobody is invited twice.
    let out = cx(&db, &["survey", "invite", "relationship-2026", "--contacts", contacts.to_str().expect("path")], None);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    std::fs::remove_dir_all(&dir).ok();
}
