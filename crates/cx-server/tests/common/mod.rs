//! Test helpers shared by the server's integration tests.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Each message's RCPT lines and data.
pub type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A one-connection-at-a-time SMTP sink: answers like a server and keeps
/// each message's envelope and data.
pub async fn smtp_sink() -> (u16, Inbox) {
    smtp_sink_with(Vec::new(), Duration::ZERO).await
}

/// A sink that refuses the addresses in `reject` with 550 (a bounce) and
/// waits `delay` before accepting each message (a slow server).
pub async fn smtp_sink_with(reject: Vec<String>, delay: Duration) -> (u16, Inbox) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let got: Inbox = Arc::default();
    let keep = got.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read);
            let _ = write.write_all(b"220 sink ready\r\n").await;
            let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        tokio::time::sleep(delay).await;
                        keep.lock()
                            .expect("lock")
                            .push((rcpt.clone(), data.clone()));
                        let _ = write.write_all(b"250 queued\r\n").await;
                    } else {
                        data.push_str(&line);
                    }
                    continue;
                }
                let reply: &[u8] = match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                    "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                    "RCPT" if reject.iter().any(|r| line.contains(r.as_str())) => {
                        b"550 5.1.1 no such mailbox\r\n"
                    }
                    "RCPT" => {
                        rcpt.push(line.trim().to_string());
                        b"250 ok\r\n"
                    }
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = write.write_all(reply).await;
            }
        }
    });
    (port, got)
}

/// The decoded text of a message's base64 parts, joined.
pub fn decoded(data: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut chunk = String::new();
    let mut in_body = false;
    for line in data.split("\r\n") {
        if line.is_empty() {
            in_body = true;
            continue;
        }
        if line.starts_with("--") || line.contains(':') {
            if !chunk.is_empty() {
                if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(&chunk) {
                    out.push_str(&String::from_utf8_lossy(&b));
                    out.push('\n');
                }
                chunk.clear();
            }
            in_body = false;
            continue;
        }
        if in_body {
            chunk.push_str(line.trim());
        }
    }
    if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(&chunk) {
        out.push_str(&String::from_utf8_lossy(&b));
    }
    out
}

/// The `To:` address of a message.
pub fn recipient(data: &str) -> String {
    data.split("\r\n")
        .find_map(|l| l.strip_prefix("To: "))
        .unwrap_or("")
        .to_string()
}

/// Waits until `f` gives a value (15 s at most).
pub async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..150 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
