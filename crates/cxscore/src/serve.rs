//! `cxscore serve`, `cxscore user`, `cxscore token`.

use std::io::{BufRead, Write};

use anyhow::{Context, anyhow};
use cx_server::auth::{Role, Scope, hash_password, hash_secret, random_token};
use cx_store::Store;
use cx_store::server::ServerStore;

use crate::cli::{OutputFormat, ServeArgs, TokenCommand, UserCommand};
use crate::{Failure, store_failure};

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: &ServeArgs, db: &str) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::runtime)?;
    runtime.block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let mut admin_password = None;
        if args.demo {
            if store.surveys().await.map_err(store_failure)?.is_empty() {
                eprintln!("loading the demo data set into {} …", cx_store::redact(db));
                crate::demo::fill(&store, crate::demo::generate(240, 2026))
                    .await
                    .map_err(store_failure)?;
                crate::demo::seed_tasks(&store, 2026)
                    .await
                    .map_err(store_failure)?;
            }
            if store.user_count().await.map_err(store_failure)? == 0 {
                let password = random_token()[..16].to_string();
                let hash = hash_password(&password).map_err(|e| Failure::runtime(anyhow!(e)))?;
                store
                    .create_user("admin", &hash, "admin")
                    .await
                    .map_err(store_failure)?;
                admin_password = Some(password);
            }
        }
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))
            .map_err(Failure::runtime)?;
        let local = listener.local_addr().map_err(Failure::runtime)?;
        let base_url = args
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}"));
        let smtp = match &args.smtp {
            Some(url) => Some(
                cx_server::mail::SmtpConfig::parse(url, args.mail_from.as_deref().unwrap_or(""))
                    .map_err(|e| Failure::bad_input(anyhow!(e)))?,
            ),
            None => None,
        };
        let config = cx_server::Config {
            public_rate_per_minute: args.rate_limit,
            max_batch: args.batch as usize,
            secure_cookies: args.secure_cookies,
            base_url: base_url.clone(),
            smtp,
            webhook_retry_secs: args.retry_secs,
            ..cx_server::Config::default()
        };
        let no_users = store.user_count().await.map_err(store_failure)? == 0;
        let state = cx_server::AppState::new(store, config);
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "cxscore serving {base_url} (database {})",
                cx_store::redact(db)
            );
            if let Some(p) = &admin_password {
                let _ = writeln!(out, "sign in at {base_url}/app as admin / {p}");
            } else if no_users {
                let _ = writeln!(out, "no users yet: cxscore user add NAME --role admin");
            }
            if args.demo {
                let _ = writeln!(out, "a survey page: {base_url}/s/relationship-2026");
            }
            let _ = out.flush();
        }
        cx_server::serve(listener, state)
            .await
            .context("server stopped")
            .map_err(Failure::runtime)
    })
}

/// Runs `cxscore user …`.
pub fn run_user(cmd: &UserCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    match cmd {
        UserCommand::Add {
            username,
            role,
            password_stdin,
        } => {
            let role = Role::parse(role).ok_or_else(|| {
                Failure::bad_input(anyhow!("--role {role:?}: use admin, analyst or viewer"))
            })?;
            let username = username.trim();
            if username.is_empty() || username.len() > 64 || username.contains(char::is_whitespace)
            {
                return Err(Failure::bad_input(anyhow!(
                    "user name {username:?}: 1 to 64 characters without spaces"
                )));
            }
            let (password, generated) = if *password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(Failure::runtime)?;
                let p = line.trim_end_matches(['\r', '\n']).to_string();
                if p.chars().count() < 10 {
                    return Err(Failure::bad_input(anyhow!(
                        "the password must have at least 10 characters"
                    )));
                }
                (p, false)
            } else {
                (random_token()[..16].to_string(), true)
            };
            let hash = hash_password(&password).map_err(|e| Failure::runtime(anyhow!(e)))?;
            crate::block_on(async {
                let store = cx_store::open(db).await.map_err(store_failure)?;
                let id = store
                    .create_user(username, &hash, role.as_str())
                    .await
                    .map_err(store_failure)?;
                let mut out = std::io::stdout().lock();
                match format {
                    OutputFormat::Json => writeln!(
                        out,
                        "{}",
                        serde_json::json!({"id": id, "username": username, "role": role.as_str(),
                            "password": if generated { Some(&password) } else { None }})
                    ),
                    _ if generated => writeln!(
                        out,
                        "added {} {username}; password (shown once): {password}",
                        role.as_str()
                    ),
                    _ => writeln!(out, "added {} {username}", role.as_str()),
                }
                .map_err(Failure::runtime)
            })
        }
    }
}

/// Runs `cxscore token …`.
pub fn run_token(cmd: &TokenCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let mut out = std::io::stdout().lock();
        match cmd {
            TokenCommand::Create { user, scope } => {
                Scope::parse(scope).map_err(|e| Failure::bad_input(anyhow!(e)))?;
                let u = store
                    .user_by_name(user)
                    .await
                    .map_err(store_failure)?
                    .ok_or_else(|| {
                        Failure::bad_input(anyhow!(
                            "no user {user:?}; add one with cxscore user add {user}"
                        ))
                    })?;
                let token = random_token();
                let id = store
                    .create_token(u.id, &hash_secret(&token), scope)
                    .await
                    .map_err(store_failure)?;
                match format {
                    OutputFormat::Json => writeln!(
                        out,
                        "{}",
                        serde_json::json!({"id": id, "token": token, "scope": scope, "user": user})
                    ),
                    _ => writeln!(out, "{token}"),
                }
                .map_err(Failure::runtime)
            }
            TokenCommand::List => {
                let tokens = store.tokens().await.map_err(store_failure)?;
                match format {
                    OutputFormat::Json => {
                        let list: Vec<_> = tokens
                            .iter()
                            .map(|t| {
                                serde_json::json!({"id": t.id, "user": t.username, "scope": t.scope,
                                "created_at": t.created_at, "revoked_at": t.revoked_at})
                            })
                            .collect();
                        writeln!(out, "{}", serde_json::Value::Array(list))
                    }
                    _ => {
                        let rows: Vec<[String; 5]> = tokens
                            .iter()
                            .map(|t| {
                                [
                                    t.id.to_string(),
                                    t.username.clone(),
                                    t.scope.clone(),
                                    t.created_at.clone(),
                                    t.revoked_at.clone().unwrap_or_default(),
                                ]
                            })
                            .collect();
                        crate::survey::write_rows(
                            &mut out,
                            ["id", "user", "scope", "created", "revoked"],
                            &rows,
                        )
                    }
                }
                .map_err(Failure::runtime)
            }
            TokenCommand::Revoke { id } => {
                if store.revoke_token(*id).await.map_err(store_failure)? {
                    writeln!(out, "revoked token {id}").map_err(Failure::runtime)
                } else {
                    Err(Failure::bad_input(anyhow!("no active token {id}")))
                }
            }
        }
    })
}

/// Contact codes from a file: the `contact_id` / `contact` / `联系人编号` column
/// of a CSV, or the first column, or one code per line.
pub fn contact_codes(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let text = String::from_utf8(bytes).or_else(|e| {
        let (t, _, bad) = encoding_rs::GB18030.decode(e.as_bytes());
        if bad {
            Err(anyhow!("{}: neither UTF-8 nor GBK", path.display()))
        } else {
            Ok(t.into_owned())
        }
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(first) = lines.next() else {
        anyhow::bail!("{}: no contacts", path.display());
    };
    let split = |l: &str| -> Vec<String> {
        l.split([',', '\t'])
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect()
    };
    let head = split(first);
    let column = head.iter().position(|h| {
        let h = h.to_lowercase();
        h == "contact_id" || h == "contact" || h == "联系人编号" || h == "联系人id"
    });
    let mut codes = Vec::new();
    let (col, skip_first) = match column {
        Some(c) => (c, true),
        None => (0, false),
    };
    if !skip_first {
        codes.push(head[0].clone());
    }
    for (i, line) in lines.enumerate() {
        let cells = split(line);
        let code = cells.get(col).cloned().unwrap_or_default();
        if code.is_empty() {
            anyhow::bail!("{}: line {}: no contact code", path.display(), i + 2);
        }
        codes.push(code);
    }
    codes.sort();
    codes.dedup();
    Ok(codes)
}
