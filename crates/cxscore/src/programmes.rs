//! `cxscore programme …`: survey programmes from the command line — create
//! from a file, list, show waves and response rates, pause and resume,
//! coupon pools, rewards, the message log, links and printable QR sheets,
//! the contact rules, and one round of the scheduler.

use anyhow::{Context, anyhow};
use cx_core::programme::ContactRules;
use cx_server::programmes::{self, Rates, SendConfig};
use cx_store::followup::FollowUpStore;
use cx_store::programmes::ProgrammeStore;

use crate::accounts::{api_failure, emit, f1, now};
use crate::cli::{OutputFormat, ProgrammeCommand};
use crate::{Failure, store_failure};

fn rate_cells(r: &Rates) -> Vec<String> {
    let rr = &r.response_rate;
    vec![
        r.group.clone(),
        r.funnel.invited.to_string(),
        r.funnel.sent.to_string(),
        r.funnel.failed.to_string(),
        r.funnel.opened.to_string(),
        r.funnel.completed.to_string(),
        f1(rr.percent),
        rr.interval
            .map_or_else(|| "—".into(), |i| format!("{:.1}–{:.1}", i.lo, i.hi)),
        f1(r.nps),
        if r.small_sample { "small sample" } else { "" }.into(),
    ]
}

const RATE_HEADERS: [&str; 10] = [
    "group", "invited", "sent", "failed", "opened", "answered", "rate %", "95% CI", "NPS", "",
];

/// Runs `cxscore programme …`.
pub fn run(cmd: &ProgrammeCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        match cmd {
            ProgrammeCommand::Create { file, replace } => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))
                    .map_err(Failure::bad_input)?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| Failure::bad_input(anyhow!("{}: {e}", file.display())))?;
                let p = programmes::save(&store, &value, *replace)
                    .await
                    .map_err(|e| {
                        Failure::bad_input(anyhow!("{}: {}", file.display(), e.message()))
                    })?;
                let def = programmes::definition(&p).map_err(|e| Failure::runtime(anyhow!(e)))?;
                println!(
                    "programme {} ({}): survey {}, {}, by {}; `cxscore serve` sends its waves",
                    p.slug,
                    p.name,
                    p.survey,
                    def.cadence_text(),
                    def.channel.as_str()
                );
                Ok(())
            }
            ProgrammeCommand::List => {
                let mut rows = Vec::new();
                let mut views = Vec::new();
                for p in store.programmes().await.map_err(store_failure)? {
                    if let Some(v) = programmes::view(&store, &p.slug, "all")
                        .await
                        .map_err(api_failure)?
                    {
                        rows.push(vec![
                            v.slug.clone(),
                            v.name.clone(),
                            v.survey.clone(),
                            v.status.clone(),
                            v.cadence.clone(),
                            v.channel.clone(),
                            v.waves.len().to_string(),
                            v.totals.funnel.sent.to_string(),
                            f1(v.totals.response_rate.percent),
                        ]);
                        views.push(v);
                    }
                }
                emit(
                    format,
                    &[
                        "slug", "name", "survey", "status", "cadence", "channel", "waves", "sent",
                        "rate %",
                    ],
                    &rows,
                    || serde_json::to_value(&views).unwrap_or_default(),
                )
            }
            ProgrammeCommand::Show { slug, by } => {
                let v = programmes::view(&store, slug, by)
                    .await
                    .map_err(api_failure)?
                    .ok_or_else(|| {
                        Failure::bad_input(anyhow!(
                            "no programme {slug:?} (cxscore programme list)"
                        ))
                    })?;
                if format != OutputFormat::Table {
                    let rows: Vec<Vec<String>> = v.segments.iter().map(rate_cells).collect();
                    return emit(format, &RATE_HEADERS, &rows, || {
                        serde_json::to_value(&v).unwrap_or_default()
                    });
                }
                println!(
                    "{} — {} ({}): survey {}, {}, by {}",
                    v.slug, v.name, v.status, v.survey, v.cadence, v.channel
                );
                let waves: Vec<Vec<String>> = v
                    .waves
                    .iter()
                    .map(|w| {
                        let left = &w.draw["left_out"];
                        let n = |k: &str| left[k].as_u64().unwrap_or(0).to_string();
                        vec![
                            w.label.clone(),
                            w.draw["audience"].to_string(),
                            w.draw["invited"].to_string(),
                            n("suppressed"),
                            n("unreachable"),
                            n("fatigue"),
                            n("account_cap"),
                            n("not_sampled"),
                            f1(w.rates.response_rate.percent),
                            f1(w.previous_response_rate),
                        ]
                    })
                    .collect();
                println!("\nwaves");
                emit(
                    format,
                    &[
                        "wave",
                        "audience",
                        "invited",
                        "unsubscribed",
                        "no address",
                        "asked recently",
                        "account cap",
                        "not drawn",
                        "rate %",
                        "previous %",
                    ],
                    &waves,
                    || serde_json::Value::Null,
                )?;
                println!("\nresponse rates by {by} (rate = answered / sent)");
                let mut rows: Vec<Vec<String>> = v.segments.iter().map(rate_cells).collect();
                rows.push(rate_cells(&v.totals));
                emit(format, &RATE_HEADERS, &rows, || serde_json::Value::Null)?;
                if let Some((codes, given)) = v.coupons {
                    println!(
                        "\ncoupons: {given} of {codes} given; {} rewards in all",
                        v.rewards
                    );
                }
                Ok(())
            }
            ProgrammeCommand::Pause { slug } | ProgrammeCommand::Resume { slug } => {
                let status = if matches!(cmd, ProgrammeCommand::Pause { .. }) {
                    "paused"
                } else {
                    "active"
                };
                if store
                    .set_programme_status(slug, status)
                    .await
                    .map_err(store_failure)?
                {
                    println!("programme {slug}: {status}");
                    Ok(())
                } else {
                    Err(Failure::bad_input(anyhow!("no programme {slug:?}")))
                }
            }
            ProgrammeCommand::Coupons { pool, file } => {
                let text = read_codes(file)?;
                let codes = programmes::coupon_codes(&text);
                if codes.is_empty() {
                    return Err(Failure::bad_input(anyhow!("{}: no codes", file.display())));
                }
                let n = store
                    .add_coupons(pool, &codes)
                    .await
                    .map_err(store_failure)?;
                println!(
                    "pool {pool}: {} new code(s), {} already there",
                    n.inserted, n.duplicate
                );
                Ok(())
            }
            ProgrammeCommand::Rewards { slug } => {
                let p = find(&store, slug).await?;
                let rewards = store.rewards(p).await.map_err(store_failure)?;
                let rows: Vec<Vec<String>> = rewards
                    .iter()
                    .map(|r| {
                        vec![
                            r.given_at.clone(),
                            r.wave.clone(),
                            r.contact.clone(),
                            r.name.clone(),
                            r.kind.clone(),
                            r.code.clone().unwrap_or_default(),
                            r.points.map(|p| p.to_string()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                emit(
                    format,
                    &["given", "wave", "contact", "name", "kind", "code", "points"],
                    &rows,
                    || serde_json::to_value(&rewards).unwrap_or_default(),
                )
            }
            ProgrammeCommand::Messages { slug } => {
                let p = find(&store, slug).await?;
                let log = store.messages(p, 10_000).await.map_err(store_failure)?;
                let rows: Vec<Vec<String>> = log
                    .iter()
                    .map(|m| {
                        vec![
                            m.id.to_string(),
                            m.wave.clone(),
                            m.contact.clone(),
                            m.kind.clone(),
                            m.channel.clone(),
                            m.status.clone(),
                            m.attempts.to_string(),
                            m.sent_at.clone().unwrap_or_default(),
                            m.reason.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                emit(
                    format,
                    &[
                        "id", "wave", "contact", "kind", "channel", "status", "attempts", "sent",
                        "reason",
                    ],
                    &rows,
                    || serde_json::to_value(&log).unwrap_or_default(),
                )
            }
            ProgrammeCommand::Links {
                slug,
                wave,
                base_url,
                out,
            } => {
                let (def, label, lines) =
                    programmes::sheet(&store, base_url, slug, wave.as_deref())
                        .await
                        .map_err(store_failure)?
                        .ok_or_else(|| Failure::bad_input(anyhow!("no programme {slug:?}")))?;
                if label.is_empty() {
                    return Err(Failure::bad_input(anyhow!(
                        "programme {slug} has no wave yet{}",
                        wave.as_deref()
                            .map(|w| format!(" called {w:?}"))
                            .unwrap_or_default()
                    )));
                }
                if let Some(out) = out {
                    let html = programmes::sheet_html(&def.name, &label, &lines);
                    std::fs::write(out, html)
                        .with_context(|| format!("writing {}", out.display()))
                        .map_err(Failure::runtime)?;
                    eprintln!(
                        "wrote {} ({} people, wave {label})",
                        out.display(),
                        lines.len()
                    );
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = lines
                    .iter()
                    .map(|l| {
                        vec![
                            l.contact.clone(),
                            l.name.clone(),
                            l.account.clone(),
                            l.phone.clone().unwrap_or_default(),
                            if l.answered { "answered" } else { "" }.into(),
                            l.link.clone(),
                        ]
                    })
                    .collect();
                emit(
                    format,
                    &["contact", "name", "account", "phone", "", "link"],
                    &rows,
                    || serde_json::to_value(&lines).unwrap_or_default(),
                )
            }
            ProgrammeCommand::Rules {
                min_days,
                account_cap,
                quiet,
                time_zone,
            } => {
                let mut rules = programmes::contact_rules(&store)
                    .await
                    .map_err(store_failure)?;
                let changed = min_days.is_some()
                    || account_cap.is_some()
                    || quiet.is_some()
                    || time_zone.is_some();
                if let Some(d) = min_days {
                    rules.min_days_between = *d;
                }
                if let Some(c) = account_cap {
                    rules.account_cap = *c;
                }
                if let Some(q) = quiet {
                    let (s, e) = q
                        .split_once('-')
                        .and_then(|(s, e)| {
                            Some((s.trim().parse::<u32>().ok()?, e.trim().parse::<u32>().ok()?))
                        })
                        .filter(|(s, e)| *s < 24 && *e < 24)
                        .ok_or_else(|| {
                            Failure::bad_input(anyhow!(
                                "--quiet {q:?}: write START-END in hours, e.g. 21-8"
                            ))
                        })?;
                    rules.quiet_start = s;
                    rules.quiet_end = e;
                }
                if let Some(tz) = time_zone {
                    if programmes::tz_offset(tz, now()).is_none() {
                        return Err(Failure::bad_input(anyhow!(
                            "--time-zone {tz:?}: unknown; use a name such as Asia/Shanghai or an offset such as +08:00"
                        )));
                    }
                    rules.default_time_zone = tz.clone();
                }
                if changed {
                    store
                        .set_setting(programmes::RULES_KEY, &rules.to_json())
                        .await
                        .map_err(store_failure)?;
                }
                print_rules(&rules, format);
                Ok(())
            }
            ProgrammeCommand::Run {
                smtp,
                mail_from,
                base_url,
            } => {
                let smtp = match (smtp, mail_from) {
                    (Some(url), Some(from)) => Some(
                        cx_server::mail::SmtpConfig::parse(url, from)
                            .map_err(|e| Failure::bad_input(anyhow!(e)))?,
                    ),
                    _ => None,
                };
                let config = SendConfig {
                    base_url: base_url.clone(),
                    smtp,
                };
                let at = now();
                // `serve` may be sending now: only claims older than ten minutes
                // (far beyond any SMTP timeout) are from a process that stopped.
                let interrupted = store
                    .recover_interrupted(at - 600)
                    .await
                    .map_err(store_failure)?;
                let planned = programmes::plan_due(&store, at)
                    .await
                    .map_err(store_failure)?;
                let reminders = programmes::queue_reminders(&store, at)
                    .await
                    .map_err(store_failure)?;
                let rewards = programmes::grant_rewards(&store, at)
                    .await
                    .map_err(store_failure)?;
                let sent = programmes::send_due(&store, &config, &programmes::client(), at)
                    .await
                    .map_err(store_failure)?;
                if format == OutputFormat::Json {
                    println!(
                        "{}",
                        serde_json::json!({"waves": planned, "reminders": reminders, "rewards": rewards,
                            "sent": sent, "interrupted": interrupted})
                    );
                } else {
                    for w in &planned {
                        println!("wave {} of {}: {} invited", w.wave, w.programme, w.invited);
                    }
                    println!(
                        "{} reminder(s) queued, {} reward(s) given; sent {}, failed {}, skipped {}, waiting for the end of quiet hours {}",
                        reminders, rewards, sent.sent, sent.failed, sent.skipped, sent.deferred
                    );
                }
                Ok(())
            }
        }
    })
}

async fn find(store: &cx_store::AnyStore, slug: &str) -> Result<i64, Failure> {
    Ok(store
        .programme(slug)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| {
            Failure::bad_input(anyhow!("no programme {slug:?} (cxscore programme list)"))
        })?
        .id)
}

fn print_rules(rules: &ContactRules, format: OutputFormat) {
    if format == OutputFormat::Json {
        println!("{}", rules.to_json());
        return;
    }
    println!(
        "never ask a person twice within {} days (any programme or survey)\nat most {} people of one account per wave{}\nquiet hours {:02}:00–{:02}:00 in each person's time zone (default {})",
        rules.min_days_between,
        rules.account_cap,
        if rules.account_cap == 0 {
            " (no cap)"
        } else {
            ""
        },
        rules.quiet_start,
        rules.quiet_end,
        rules.default_time_zone
    );
}

/// A file of codes as text: UTF-8 (with or without BOM) or, as Excel saves
/// on Chinese Windows, GB18030/GBK.
fn read_codes(file: &std::path::Path) -> Result<String, Failure> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("reading {}", file.display()))
        .map_err(Failure::bad_input)?;
    let body = bytes
        .strip_prefix(cx_io::encoding::UTF8_BOM)
        .unwrap_or(&bytes);
    match std::str::from_utf8(body) {
        Ok(t) => Ok(t.to_string()),
        Err(_) => match cx_io::encoding::decode_gb18030(body) {
            (t, false) => Ok(t),
            (_, true) => Err(Failure::bad_input(anyhow!(
                "{}: neither UTF-8 nor GB18030 text",
                file.display()
            ))),
        },
    }
}
