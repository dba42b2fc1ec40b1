//! Email notifications through SMTP: a small client (EHLO, optional STARTTLS
//! or implicit TLS through rustls, AUTH PLAIN, one message) and the text of
//! the notification mails. A subscription whose address is
//! `mailto:someone@example.com` receives the same events as a webhook, as
//! mail, through the same queue, retries and delivery log.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How to reach the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// No TLS (a relay on localhost or in the same network).
    Plain,
    /// Upgrade with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// An SMTP server and the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS.
    pub security: Security,
    /// AUTH PLAIN user and password.
    pub login: Option<(String, String)>,
    /// The From address.
    pub from: String,
}

impl SmtpConfig {
    /// Reads `smtp://[user:pass@]host[:port]` (plain, port 25),
    /// `smtp+starttls://…` (port 587) or `smtps://…` (port 465), and the sender.
    pub fn parse(url: &str, from: &str) -> Result<SmtpConfig, String> {
        let (security, rest, port) = if let Some(r) = url.strip_prefix("smtps://") {
            (Security::Tls, r, 465)
        } else if let Some(r) = url.strip_prefix("smtp+starttls://") {
            (Security::StartTls, r, 587)
        } else if let Some(r) = url.strip_prefix("smtp://") {
            (Security::Plain, r, 25)
        } else {
            return Err(format!(
                "--smtp {url:?}: use smtp://HOST[:PORT], smtp+starttls://… or smtps://…"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (login, hostport) = match rest.rsplit_once('@') {
            Some((cred, hp)) => {
                let (u, p) = cred.split_once(':').unwrap_or((cred, ""));
                let decode = |s: &str| {
                    form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                (Some((decode(u), decode(p))), hp)
            }
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>()
                    .map_err(|_| format!("--smtp {url:?}: {p:?} is not a port"))?,
            ),
            None => (hostport.to_string(), port),
        };
        if host.is_empty() {
            return Err(format!("--smtp {url:?} has no host"));
        }
        if !from.contains('@') || from.contains(['\r', '\n', '<', '>']) {
            return Err(format!("--mail-from {from:?} is not an email address"));
        }
        Ok(SmtpConfig {
            host,
            port,
            security,
            login,
            from: from.to_string(),
        })
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject (any language).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// An HTML alternative of the body.
    pub html: Option<String>,
    /// More headers (`List-Unsubscribe`, …); values are cleaned of line breaks.
    pub headers: Vec<(String, String)>,
}

impl Mail {
    /// A plain-text message.
    pub fn text(to: Vec<String>, subject: String, body: String) -> Mail {
        Mail {
            to,
            subject,
            body,
            html: None,
            headers: Vec::new(),
        }
    }
}

/// A base64 body split into 76-character lines.
fn base64_lines(text: &str) -> Vec<String> {
    STANDARD
        .encode(text.as_bytes())
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// `=?UTF-8?B?…?=` words when the text is not plain ASCII, each at most 75
/// characters (RFC 2047), folded onto continuation lines.
fn header_text(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() {
        return clean;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in clean.chars() {
        // 45 bytes of UTF-8 are 60 characters of base64: 72 with the markers.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// The message as sent after DATA (CRLF line ends, base64 body, final dot).
pub fn render(from: &str, mail: &Mail, date: &str, id: &str) -> String {
    let mut lines: Vec<String> = vec![
        format!("From: cxscore <{from}>"),
        format!("To: {}", mail.to.join(", ")),
        format!("Subject: {}", header_text(&mail.subject)),
        format!("Date: {date}"),
        format!("Message-ID: <{id}@cxscore>"),
        "MIME-Version: 1.0".into(),
    ];
    for (k, v) in &mail.headers {
        let clean = |t: &str| t.replace(['\r', '\n'], " ");
        lines.push(format!("{}: {}", clean(k).replace(':', ""), clean(v)));
    }
    match &mail.html {
        None => {
            lines.push("Content-Type: text/plain; charset=UTF-8".into());
            lines.push("Content-Transfer-Encoding: base64".into());
            lines.push(String::new());
            lines.extend(base64_lines(&mail.body));
        }
        Some(html) => {
            let boundary = format!("=_cxscore_{id}");
            lines.push(format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\""
            ));
            lines.push(String::new());
            for (kind, part) in [("plain", &mail.body), ("html", html)] {
                lines.push(format!("--{boundary}"));
                lines.push(format!("Content-Type: text/{kind}; charset=UTF-8"));
                lines.push("Content-Transfer-Encoding: base64".into());
                lines.push(String::new());
                lines.extend(base64_lines(part));
            }
            lines.push(format!("--{boundary}--"));
        }
    }
    lines.push(".".into());
    lines.join("\r\n") + "\r\n"
}

/// RFC 5322 date of a Unix time (UTC).
pub fn rfc5322_date(secs: i64) -> String {
    let date = cx_core::period::Date::from_days(secs.div_euclid(86_400) as i32);
    let (y, m, d) = date.ymd();
    let s = secs.rem_euclid(86_400);
    let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][(date.iso_weekday() - 1) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{day}, {d:02} {month} {y} {:02}:{:02}:{:02} +0000",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

struct Conn<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Reads a (possibly multi-line) reply; checks its code starts with `want`.
    async fn reply(&mut self, want: char) -> Result<String, String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(30), self.io.read_line(&mut line))
                .await
                .map_err(|_| "the SMTP server did not answer in 30 s".to_string())?
                .map_err(|e| format!("SMTP read: {e}"))?;
            if n == 0 {
                return Err("the SMTP server closed the connection".into());
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                break;
            }
        }
        if all.starts_with(want) {
            Ok(all)
        } else {
            Err(format!("SMTP: {}", all.trim_end()))
        }
    }

    async fn send(&mut self, line: &str, want: char) -> Result<String, String> {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| format!("SMTP write: {e}"))?;
        self.reply(want).await
    }
}

async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &SmtpConfig,
    mail: &Mail,
    message: &str,
    greeted: bool,
) -> Result<(), String> {
    if !greeted {
        conn.send("EHLO cxscore", '2').await?;
    }
    if let Some((user, password)) = &config.login {
        let token = STANDARD.encode(format!("\0{user}\0{password}"));
        conn.send(&format!("AUTH PLAIN {token}"), '2').await?;
    }
    conn.send(&format!("MAIL FROM:<{}>", config.from), '2')
        .await?;
    for to in &mail.to {
        conn.send(&format!("RCPT TO:<{to}>"), '2').await?;
    }
    conn.send("DATA", '3').await?;
    conn.io
        .get_mut()
        .write_all(message.as_bytes())
        .await
        .map_err(|e| format!("SMTP write: {e}"))?;
    conn.reply('2').await?;
    // The message is accepted; a failed QUIT changes nothing.
    let _ = conn.send("QUIT", '2').await;
    Ok(())
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Sends one message.
pub async fn send(config: &SmtpConfig, mail: &Mail, now: i64, id: &str) -> Result<(), String> {
    if mail.to.is_empty() {
        return Err("no recipient".into());
    }
    let message = render(&config.from, mail, &rfc5322_date(now), id);
    let tcp = tokio::time::timeout(
        Duration::from_secs(15),
        TcpStream::connect((config.host.as_str(), config.port)),
    )
    .await
    .map_err(|_| format!("cannot reach {}:{} in 15 s", config.host, config.port))?
    .map_err(|e| format!("cannot reach {}:{}: {e}", config.host, config.port))?;
    let server_name = rustls::pki_types::ServerName::try_from(config.host.clone())
        .map_err(|e| format!("TLS: {e}"))?;
    match config.security {
        Security::Plain => {
            let mut conn = Conn {
                io: BufReader::new(tcp),
            };
            conn.reply('2').await?;
            transaction(&mut conn, config, mail, &message, false).await
        }
        Security::Tls => {
            let tls = tls_connector()?
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            let mut conn = Conn {
                io: BufReader::new(tls),
            };
            conn.reply('2').await?;
            transaction(&mut conn, config, mail, &message, false).await
        }
        Security::StartTls => {
            let mut plain = Conn {
                io: BufReader::new(tcp),
            };
            plain.reply('2').await?;
            plain.send("EHLO cxscore", '2').await?;
            plain.send("STARTTLS", '2').await?;
            let tcp = plain.io.into_inner();
            let tls = tls_connector()?
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            let mut conn = Conn {
                io: BufReader::new(tls),
            };
            transaction(&mut conn, config, mail, &message, false).await
        }
    }
}

/// The mail of an event (`payload` is the webhook body), in Chinese and English.
pub fn event_mail(to: Vec<String>, event: &str, payload: &str) -> Mail {
    let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let task = &v["task"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let (zh, en) = match event {
        "task.created" => ("新的跟进任务", "New follow-up task"),
        "task.overdue" => ("跟进任务已逾期", "Follow-up task overdue"),
        "task.resolved" => ("跟进任务已解决", "Follow-up task resolved"),
        "score.changed" => ("客户评级变化", "Account grade changed"),
        "response.created" => ("新的回答", "New response"),
        _ => ("通知", "Notification"),
    };
    let subject_detail = if task.is_object() {
        format!("{} · {}", text(&task["title"]), text(&task["account_name"]))
    } else if event == "score.changed" {
        format!(
            "{} {} → {}",
            text(&v["account_name"]),
            text(&v["from"]),
            text(&v["to"])
        )
    } else {
        String::new()
    };
    let mut body = format!("{zh} / {en}\n\n");
    if task.is_object() {
        for (label, key) in [
            ("任务 Task", "title"),
            ("客户 Account", "account_name"),
            ("负责人 Owner", "owner"),
            ("优先级 Priority", "priority"),
            ("期限 Due", "due"),
            ("状态 Status", "status"),
            ("处理结果 Resolution", "resolution"),
        ] {
            let value = text(&task[key]);
            if !value.is_empty() {
                body.push_str(&format!("{label}: {value}\n"));
            }
        }
    } else if event == "score.changed" {
        body.push_str(&format!(
            "{}: {} → {} ({})\n",
            text(&v["account_name"]),
            text(&v["from"]),
            text(&v["to"]),
            v["score"]
                .as_f64()
                .map_or(String::new(), |s| format!("{s:.1}"))
        ));
    }
    let link = text(&v["app"]);
    let link = if link.is_empty() {
        text(&task["app"])
    } else {
        link
    };
    if !link.is_empty() {
        body.push_str(&format!("\n{link}\n"));
    }
    Mail::text(to, format!("[cxscore] {zh} / {en}: {subject_detail}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let c = SmtpConfig::parse("smtp://127.0.0.1:2525", "cx@example.com").expect("plain");
        assert_eq!(
            (c.host.as_str(), c.port, c.security),
            ("127.0.0.1", 2525, Security::Plain)
        );
        let c =
            SmtpConfig::parse("smtps://bot%40corp:p%3Ass@mail.corp.cn", "cx@corp.cn").expect("tls");
        assert_eq!((c.port, c.security), (465, Security::Tls));
        assert_eq!(c.login, Some(("bot@corp".into(), "p:ss".into())));
        let c = SmtpConfig::parse("smtp+starttls://mail.corp.cn", "cx@corp.cn").expect("starttls");
        assert_eq!((c.port, c.security), (587, Security::StartTls));
        assert!(SmtpConfig::parse("http://x", "cx@corp.cn").is_err());
        assert!(SmtpConfig::parse("smtp://x:port", "cx@corp.cn").is_err());
        assert!(SmtpConfig::parse("smtp://x", "not an address").is_err());
    }

    #[test]
    fn messages_encode_chinese_and_end_with_a_dot() {
        let mail = Mail::text(
            vec!["li@example.com".into()],
            "新任务".into(),
            "贬损者(NPS 2)\n".into(),
        );
        let m = render(
            "cx@example.com",
            &mail,
            "Tue, 01 Dec 2026 12:00:00 +0000",
            "1",
        );
        assert!(m.contains(&format!(
            "Subject: =?UTF-8?B?{}?=",
            STANDARD.encode("新任务")
        )));
        assert!(m.ends_with("\r\n.\r\n"));
        let long = header_text(&"新的跟进任务".repeat(8));
        assert!(
            long.split("\r\n ")
                .all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?"))
        );
        let decoded: Vec<u8> = long
            .split("\r\n ")
            .flat_map(|w| STANDARD.decode(&w[10..w.len() - 2]).expect("base64"))
            .collect();
        assert_eq!(
            String::from_utf8(decoded).expect("utf-8"),
            "新的跟进任务".repeat(8)
        );
        assert!(m.contains(&STANDARD.encode("贬损者(NPS 2)\n")));
        // Header injection through the subject is impossible.
        let evil = Mail {
            subject: "hi\r\nBcc: x@evil".into(),
            ..mail
        };
        assert!(!render("cx@example.com", &evil, "d", "1").contains("\r\nBcc:"));
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }
}
