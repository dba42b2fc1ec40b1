//! `cxscore accounts score|relationship`, `cxscore tasks …` and
//! `cxscore webhook …`: the account scores and the close-the-loop workflow
//! from the command line, through the same functions as the server
//! (`cx_store::accounts`, `cx_server::followup`).

use std::io::Write;

use anyhow::{Context, anyhow};
use cx_core::account::scorecard::Scorecard;
use cx_core::period::Date;
use cx_server::followup::{self, LoopConfig, TaskUpdate, UpdateError};
use cx_store::accounts::{AccountScore, score_accounts};
use cx_store::followup::{FollowUpStore, StoredTask, TaskQuery};
use unicode_width::UnicodeWidthStr;

use crate::cli::{AccountsCommand, ActionsCommand, OutputFormat, TasksCommand, WebhookCommand};
use crate::{Failure, store_failure};

fn today() -> i32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i32)
        .unwrap_or(0)
}

fn as_of(text: Option<&str>) -> Result<i32, Failure> {
    match text {
        None => Ok(today()),
        Some(t) => Date::parse(t)
            .map(Date::days)
            .ok_or_else(|| Failure::bad_input(anyhow!("--as-of {t:?} is not a date (2026-06-30)"))),
    }
}

/// Prints rows as an aligned table (CJK-aware), CSV or — for JSON — `json`.
pub(crate) fn emit(
    format: OutputFormat,
    headers: &[&str],
    rows: &[Vec<String>],
    json: impl FnOnce() -> serde_json::Value,
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let result = match format {
        OutputFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json()).unwrap_or_default()
        ),
        OutputFormat::Csv => {
            let line = |cells: Vec<String>| {
                cells
                    .into_iter()
                    .map(|c| {
                        if c.contains([',', '"', '\n']) {
                            format!("\"{}\"", c.replace('"', "\"\""))
                        } else {
                            c
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut text = line(headers.iter().map(|h| h.to_string()).collect());
            for r in rows {
                text.push('\n');
                text.push_str(&line(r.clone()));
            }
            writeln!(out, "{text}")
        }
        OutputFormat::Table => {
            let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
            for r in rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.width());
                }
            }
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.width()))))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            let mut text = line(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
            for r in rows {
                text.push('\n');
                text.push_str(&line(r));
            }
            writeln!(out, "{text}")
        }
    };
    result.map_err(Failure::runtime)
}

pub(crate) fn f1(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.1}"))
}

/// Runs `cxscore accounts …`.
pub fn run_accounts(cmd: &AccountsCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        match cmd {
            AccountsCommand::Score {
                scorecard,
                save,
                as_of: day,
                tier,
                account,
            } => {
                let card = match scorecard {
                    Some(path) => {
                        let text = std::fs::read_to_string(path)
                            .with_context(|| format!("cannot read {}", path.display()))
                            .map_err(Failure::bad_input)?;
                        Scorecard::from_json(&text)
                            .map_err(|e| Failure::bad_input(anyhow!("{}: {e}", path.display())))?
                    }
                    None => followup::current_scorecard(&store)
                        .await
                        .map_err(store_failure)?,
                };
                if *save {
                    store
                        .set_setting(followup::SCORECARD_KEY, &card.to_json())
                        .await
                        .map_err(store_failure)?;
                    eprintln!("saved the scorecard: the app and API use it from now on");
                }
                let day = as_of(day.as_deref())?;
                let scores = score_accounts(&store, &card, day, None)
                    .await
                    .map_err(store_failure)?;
                if let Some(code) = account
                    && !scores.iter().any(|s| s.account.code == *code)
                {
                    return Err(Failure::bad_input(anyhow!("no account {code:?}")));
                }
                let scores: Vec<&AccountScore> = scores
                    .iter()
                    .filter(|s| tier.as_ref().is_none_or(|t| s.account.tier == *t))
                    .filter(|s| account.as_ref().is_none_or(|c| s.account.code == *c))
                    .collect();
                print_scores(&scores, format)
            }
            AccountsCommand::Relationship {
                account,
                as_of: day,
            } => {
                let day = as_of(day.as_deref())?;
                let card = followup::current_scorecard(&store)
                    .await
                    .map_err(store_failure)?;
                let scores = score_accounts(&store, &card, day, None)
                    .await
                    .map_err(store_failure)?;
                let chosen: Vec<&AccountScore> = scores
                    .iter()
                    .filter(|s| account.as_ref().is_none_or(|c| s.account.code == *c))
                    .collect();
                if let Some(code) = account
                    && chosen.is_empty()
                {
                    return Err(Failure::bad_input(anyhow!("no account {code:?}")));
                }
                print_relationships(&chosen, account.is_some(), format)
            }
        }
    })
}

fn print_scores(scores: &[&AccountScore], format: OutputFormat) -> Result<(), Failure> {
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|s| {
            vec![
                s.account.code.clone(),
                s.account.name.clone(),
                s.account.tier.clone(),
                f1(s.score.score),
                s.score.grade.as_str().to_string(),
                s.score.health.as_str().to_string(),
                format!("{:.0}%", 100.0 * s.score.coverage),
                f1(s.relationship.score),
                s.score
                    .reasons(3)
                    .iter()
                    .map(|c| format!("{} −{:.1}", c.component.as_str(), c.lost))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    emit(
        format,
        &[
            "account",
            "name",
            "tier",
            "score",
            "grade",
            "health",
            "coverage",
            "relationship",
            "points lost",
        ],
        &rows,
        || serde_json::to_value(scores).unwrap_or_default(),
    )
}

fn print_relationships(
    scores: &[&AccountScore],
    people: bool,
    format: OutputFormat,
) -> Result<(), Failure> {
    let dims = cx_core::model::customer::RELATIONSHIP_DIMENSIONS;
    if people && format != OutputFormat::Json {
        let s = scores[0];
        let mut headers = vec!["contact", "name", "role", "influence", "stance", "score"];
        headers.extend(dims);
        let rows: Vec<Vec<String>> = s
            .relationship
            .people
            .iter()
            .map(|p| {
                let mut row = vec![
                    p.code.clone(),
                    p.name.clone(),
                    p.role.map(|r| r.as_str().to_string()).unwrap_or_default(),
                    format!("{:.2}", p.influence),
                    p.stance.as_str().to_string(),
                    f1(p.score),
                ];
                row.extend(p.ratings.iter().zip(p.derived).map(|(r, d)| match r {
                    Some(v) => format!("{v:+}{}", if d { "*" } else { "" }),
                    None => String::new(),
                }));
                row
            })
            .collect();
        emit(format, &headers, &rows, || serde_json::Value::Null)?;
        if format == OutputFormat::Table {
            println!(
                "\n{} relationship score {} (* = derived from data)",
                s.account.code,
                f1(s.relationship.score)
            );
            for f in &s.relationship.flags {
                println!("! {}", f.message(false));
            }
        }
        return Ok(());
    }
    let mut headers = vec!["account", "name", "score", "assessed"];
    headers.extend(dims);
    headers.push("flags");
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|s| {
            let r = &s.relationship;
            let mut row = vec![
                s.account.code.clone(),
                s.account.name.clone(),
                f1(r.score),
                r.assessed.to_string(),
            ];
            row.extend(r.dimensions.iter().map(|d| f1(d.score)));
            row.push(
                r.flags
                    .iter()
                    .map(|f| f.message(false))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            row
        })
        .collect();
    emit(format, &headers, &rows, || {
        serde_json::Value::Array(
            scores
                .iter()
                .map(|s| serde_json::json!({"account": s.account, "relationship": s.relationship}))
                .collect(),
        )
    })
}

fn task_rows(tasks: &[StoredTask]) -> Vec<Vec<String>> {
    tasks
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.status.clone(),
                t.priority.clone(),
                t.account.clone().unwrap_or_default(),
                t.owner.clone().unwrap_or_default(),
                t.due.clone().unwrap_or_default(),
                if t.overdue {
                    "overdue".into()
                } else {
                    String::new()
                },
                t.title.clone(),
            ]
        })
        .collect()
}

const TASK_HEADERS: [&str; 8] = [
    "id", "status", "priority", "account", "owner", "due", "", "title",
];

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `cxscore tasks …`.
pub fn run_tasks(cmd: &TasksCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        match cmd {
            TasksCommand::List {
                status,
                owner,
                account,
                overdue,
            } => {
                let status = match status.as_str() {
                    "all" | "" => None,
                    "active" => Some("active".to_string()),
                    s => Some(
                        cx_core::account::rules::TaskStatus::parse(s)
                            .ok_or_else(|| {
                                Failure::bad_input(anyhow!(
                                    "--status {s:?}: use open, in_progress, waiting, resolved, active or all"
                                ))
                            })?
                            .as_str()
                            .to_string(),
                    ),
                };
                let q = TaskQuery {
                    status,
                    owner: owner.clone(),
                    account: account.clone(),
                    overdue: *overdue,
                    limit: 10_000,
                };
                let tasks = store.tasks(&q, now()).await.map_err(store_failure)?;
                emit(format, &TASK_HEADERS, &task_rows(&tasks), || {
                    serde_json::to_value(&tasks).unwrap_or_default()
                })
            }
            TasksCommand::Show { id } => {
                let view = followup::task_view(&store, *id)
                    .await
                    .map_err(store_failure)?
                    .ok_or_else(|| Failure::bad_input(anyhow!("no task {id}")))?;
                print_view(&view, format)
            }
            TasksCommand::Update {
                id,
                status,
                owner,
                note,
                resolution,
                resurvey,
                author,
                base_url,
            } => {
                let update = TaskUpdate {
                    status: status.clone(),
                    owner: owner.clone(),
                    note: note.clone(),
                    resolution: resolution.clone(),
                    resurvey: *resurvey,
                };
                let config = LoopConfig {
                    base_url: base_url.clone(),
                    ..LoopConfig::default()
                };
                let view = followup::update_task(&store, &config, *id, &update, author)
                    .await
                    .map_err(|e| match e {
                        UpdateError::Invalid(field, message) => {
                            Failure::bad_input(anyhow!("--{field}: {message}"))
                        }
                        UpdateError::Store(e) => store_failure(e),
                    })?;
                print_view(&view, format)
            }
            TasksCommand::Scan { max_age_days } => {
                let config = LoopConfig {
                    max_age_days: *max_age_days,
                    ..LoopConfig::default()
                };
                let rules = followup::current_rules(&store)
                    .await
                    .map_err(store_failure)?;
                let mut surveys = followup::SurveyCache::default();
                let (mut looked, mut opened) = (0, 0);
                loop {
                    let n = followup::process_responses(
                        &store,
                        &config,
                        &rules,
                        &mut surveys,
                        now(),
                        None,
                    )
                    .await
                    .map_err(store_failure)?;
                    looked += n.responses;
                    opened += n.opened;
                    if n.responses == 0 {
                        break;
                    }
                }
                let escalated = store
                    .escalate_overdue(now(), &config.base_url)
                    .await
                    .map_err(store_failure)?;
                let sweep = followup::score_sweep(&store, &config, &rules, now())
                    .await
                    .map_err(store_failure)?;
                let opened = opened + sweep.opened;
                match format {
                    OutputFormat::Json => println!(
                        "{}",
                        serde_json::json!({"responses": looked, "opened": opened, "score_drops": sweep.opened, "grade_changes": sweep.changed, "escalated": escalated.len()})
                    ),
                    _ => println!(
                        "looked at {looked} new responses, opened {opened} tasks ({} for a score drop), {} grade changes, escalated {} overdue (webhooks are delivered by cxscore serve)",
                        sweep.opened,
                        sweep.changed,
                        escalated.len()
                    ),
                }
                Ok(())
            }
            TasksCommand::Rules { file } => {
                if let Some(path) = file {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))
                        .map_err(Failure::bad_input)?;
                    let rules = cx_core::account::rules::rules_from_json(&text)
                        .map_err(|e| Failure::bad_input(anyhow!("{}: {e}", path.display())))?;
                    store
                        .set_setting(
                            followup::RULES_KEY,
                            &serde_json::to_string_pretty(&rules).unwrap_or_default(),
                        )
                        .await
                        .map_err(store_failure)?;
                }
                let rules = followup::current_rules(&store)
                    .await
                    .map_err(store_failure)?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rules).unwrap_or_default()
                );
                Ok(())
            }
            TasksCommand::Metrics => {
                let figures = followup::loop_figures(&store)
                    .await
                    .map_err(store_failure)?;
                let rows: Vec<Vec<String>> = figures
                    .iter()
                    .map(|f| {
                        vec![
                            f.team.clone(),
                            f.tasks.to_string(),
                            f.resolved.to_string(),
                            f.overdue.to_string(),
                            f1(f.median_response_hours),
                            f1(f.median_resolution_hours),
                            match (f.within_sla_pct, f.within_sla_ci95) {
                                (Some(p), Some([lo, hi])) => format!("{p:.1} [{lo:.1}, {hi:.1}]"),
                                _ => "—".into(),
                            },
                        ]
                    })
                    .collect();
                emit(
                    format,
                    &[
                        "team",
                        "tasks",
                        "resolved",
                        "overdue",
                        "response h (median)",
                        "resolution h (median)",
                        "within SLA % [95% CI]",
                    ],
                    &rows,
                    || serde_json::to_value(&figures).unwrap_or_default(),
                )
            }
        }
    })
}

fn print_view(view: &followup::TaskView, format: OutputFormat) -> Result<(), Failure> {
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(view).unwrap_or_default());
        return Ok(());
    }
    let t = &view.task;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "task {}  {}  {}", t.id, t.status, t.priority);
    let _ = writeln!(out, "  {}", t.title);
    for (k, v) in [
        ("account", t.account.clone()),
        ("contact", t.contact.clone()),
        ("owner", t.owner.clone()),
        ("team", t.team.clone()),
        ("created", Some(t.created_at.clone())),
        ("due", t.due.clone()),
        ("resolved", t.resolved_at.clone()),
        ("resolution", t.resolution.clone()),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "  {k}: {v}");
        }
    }
    if t.overdue {
        let _ = writeln!(out, "  OVERDUE");
    }
    if let Some(b) = view.nps_before {
        let after = view
            .nps_after
            .map_or("(not answered yet)".to_string(), |a| a.to_string());
        let _ = writeln!(out, "  NPS before → after: {b} → {after}");
    }
    for e in &view.history {
        let _ = writeln!(
            out,
            "  {} {} {} {}",
            e.at,
            e.author,
            e.status.as_deref().unwrap_or(""),
            e.note.as_deref().unwrap_or("")
        );
    }
    if let Some(link) = &view.resurvey_link {
        let _ = writeln!(out, "re-survey link (shown once): {link}");
    }
    Ok(())
}

/// Runs `cxscore webhook …`.
pub fn run_webhook(cmd: &WebhookCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        match cmd {
            WebhookCommand::Add {
                url,
                events,
                secret,
            } => {
                let events = cx_server::api_accounts::check_webhook(url, events)
                    .map_err(|(field, m)| Failure::bad_input(anyhow!("{field}: {m}")))?;
                let secret = secret
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(cx_server::auth::random_token);
                let id = store
                    .create_webhook(url.trim(), &secret, &events)
                    .await
                    .map_err(store_failure)?;
                match format {
                    OutputFormat::Json => println!(
                        "{}",
                        serde_json::json!({"id": id, "url": url.trim(), "events": events, "secret": secret})
                    ),
                    _ => println!(
                        "webhook {id} → {} ({events})\nsecret (shown once): {secret}",
                        url.trim()
                    ),
                }
                Ok(())
            }
            WebhookCommand::List => {
                let hooks = store.webhooks().await.map_err(store_failure)?;
                let rows: Vec<Vec<String>> = hooks
                    .iter()
                    .map(|h| {
                        vec![
                            h.id.to_string(),
                            h.url.clone(),
                            h.events.clone(),
                            h.created_at.clone(),
                        ]
                    })
                    .collect();
                emit(format, &["id", "url", "events", "created"], &rows, || {
                    serde_json::to_value(&hooks).unwrap_or_default()
                })
            }
            WebhookCommand::Remove { id } => {
                if store.delete_webhook(*id).await.map_err(store_failure)? {
                    println!("removed webhook {id}");
                    Ok(())
                } else {
                    Err(Failure::bad_input(anyhow!("no webhook {id}")))
                }
            }
            WebhookCommand::Redeliver { id, delivery } => {
                if store
                    .redeliver(*id, *delivery, now())
                    .await
                    .map_err(store_failure)?
                {
                    println!("delivery {delivery} queued again; cxscore serve sends it");
                    Ok(())
                } else {
                    Err(Failure::bad_input(anyhow!(
                        "no delivery {delivery} of webhook {id}"
                    )))
                }
            }
            WebhookCommand::Deliveries { id } => {
                let log = store.deliveries(*id, 200).await.map_err(store_failure)?;
                let rows: Vec<Vec<String>> = log
                    .iter()
                    .map(|d| {
                        vec![
                            d.id.to_string(),
                            d.event.clone(),
                            d.status.clone(),
                            d.attempts.to_string(),
                            d.last_code.map(|c| c.to_string()).unwrap_or_default(),
                            d.last_error.clone().unwrap_or_default(),
                            d.created_at.clone(),
                        ]
                    })
                    .collect();
                emit(
                    format,
                    &[
                        "id", "event", "status", "attempts", "code", "error", "queued",
                    ],
                    &rows,
                    || serde_json::to_value(&log).unwrap_or_default(),
                )
            }
        }
    })
}

pub(crate) fn api_failure(e: cx_server::error::ApiError) -> Failure {
    let text = e.message();
    let status = e.status_code();
    if status.is_client_error() {
        Failure::bad_input(anyhow!(text))
    } else {
        Failure::runtime(anyhow!(text))
    }
}

/// Runs `cxscore actions …`.
pub fn run_actions(cmd: &ActionsCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        match cmd {
            ActionsCommand::Add {
                title,
                survey,
                metric,
                filters,
                owner,
                since,
            } => {
                let new = cx_server::actions::NewAction {
                    title: title.clone(),
                    survey: survey.clone(),
                    metric: metric.clone(),
                    filters: filters.clone(),
                    owner: owner.clone(),
                    started_on: since.clone(),
                };
                let mut action = cx_server::actions::check(&store, &new, today())
                    .await
                    .map_err(api_failure)?;
                action.id = store.create_action(&action).await.map_err(store_failure)?;
                match format {
                    OutputFormat::Json => {
                        println!("{}", serde_json::to_string(&action).unwrap_or_default())
                    }
                    _ => println!(
                        "action {}: {} ({} of {}, since {})",
                        action.id, action.title, action.metric, action.survey, action.started_on
                    ),
                }
                Ok(())
            }
            ActionsCommand::List => {
                let views = cx_server::actions::views(&store, today())
                    .await
                    .map_err(api_failure)?;
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        let a = &v.action;
                        let e = v.effect.as_ref();
                        vec![
                            a.id.to_string(),
                            a.status.clone(),
                            a.title.clone(),
                            format!("{} {}", a.metric, a.filters.join(" "))
                                .trim()
                                .to_string(),
                            a.started_on.clone(),
                            f1(e.and_then(|e| e.before)),
                            f1(e.and_then(|e| e.since)),
                            e.and_then(|e| e.change)
                                .map_or("—".into(), |c| format!("{c:+.1}")),
                            e.and_then(|e| e.p_value)
                                .map_or("—".into(), |p| format!("{p:.3}")),
                            e.map_or(0, |e| e.n).to_string(),
                        ]
                    })
                    .collect();
                emit(
                    format,
                    &[
                        "id", "status", "action", "metric", "since", "before", "after", "change",
                        "p", "n",
                    ],
                    &rows,
                    || serde_json::to_value(&views).unwrap_or_default(),
                )
            }
            ActionsCommand::Done { id } => {
                if store
                    .set_action_status(*id, "done")
                    .await
                    .map_err(store_failure)?
                {
                    println!("action {id} done");
                    Ok(())
                } else {
                    Err(Failure::bad_input(anyhow!("no action {id}")))
                }
            }
        }
    })
}
