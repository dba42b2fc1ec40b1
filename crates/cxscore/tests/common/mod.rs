//! Helpers shared by the command-line tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
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
