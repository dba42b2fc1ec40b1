//! Helpers shared by the command-line tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Each accepted message: its RCPT line and its data.
pub type Inbox = Arc<Mutex<Vec<(String, String)>>>;

/// An SMTP sink on a thread, one connection at a time.
pub fn smtp_sink() -> (u16, Inbox) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got: Inbox = Arc::default();
    let keep = got.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { break };
            let mut lines = BufReader::new(socket.try_clone().expect("clone"));
            let _ = socket.write_all(b"220 sink\r\n");
            let (mut rcpt, mut data, mut in_data) = (String::new(), String::new(), false);
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        keep.lock()
                            .expect("lock")
                            .push((rcpt.clone(), data.clone()));
                        data.clear();
                        let _ = socket.write_all(b"250 queued\r\n");
                    } else {
                        data.push_str(&line);
                    }
                    continue;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "RCPT" => {
                        rcpt = line.trim().to_string();
                        b"250 ok\r\n"
                    }
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        let _ = socket.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = socket.write_all(reply);
            }
        }
    });
    (port, got)
}

/// The text of a message's base64 parts.
pub fn decoded(data: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut chunk = String::new();
    let flush = |chunk: &mut String, out: &mut String| {
        if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(chunk.as_bytes()) {
            out.push_str(&String::from_utf8_lossy(&b));
            out.push('\n');
        }
        chunk.clear();
    };
    let mut in_body = false;
    for line in data.split("\r\n") {
        if line.is_empty() {
            in_body = true;
        } else if line.starts_with("--") || line.contains(':') {
            flush(&mut chunk, &mut out);
            in_body = false;
        } else if in_body {
            chunk.push_str(line.trim());
        }
    }
    flush(&mut chunk, &mut out);
    out
}

/// The repository's root (the commands run there).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs cxscore on `db` (no database or SMTP server from the environment).
pub fn cx(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxscore"))
        .current_dir(root())
        .env_remove("CXSCORE_DB")
        .env_remove("CXSCORE_SMTP")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("runs")
}

/// Runs cxscore; its standard output, after checking it succeeded.
pub fn ok(db: &str, args: &[&str]) -> String {
    let out = cx(db, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs cxscore with `--format json` and reads its output.
pub fn json(db: &str, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&ok(db, &all)).expect("JSON")
}

/// Checks cxscore refuses with exit 2 and says `needle`, without a panic.
pub fn refused(db: &str, args: &[&str], needle: &str) {
    let out = cx(db, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}
