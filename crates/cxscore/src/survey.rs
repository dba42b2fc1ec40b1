//! `cxscore survey create|list|show`.

use std::io::Write;

use anyhow::Context;
use cx_core::model::survey::SurveyDefinition;
use cx_store::Store;
use unicode_width::UnicodeWidthStr;

use crate::cli::{OutputFormat, SurveyCommand};
use crate::{Failure, block_on, store_failure};

/// Runs a survey subcommand.
pub fn run(cmd: &SurveyCommand, db: &str, format: OutputFormat) -> Result<(), Failure> {
    block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let mut out = std::io::stdout().lock();
        match cmd {
            SurveyCommand::Create { file } => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("{}", file.display()))
                    .map_err(Failure::bad_input)?;
                let definition: SurveyDefinition = serde_json::from_str(&text)
                    .with_context(|| {
                        format!("{}: not a survey definition (SPEC §4)", file.display())
                    })
                    .map_err(Failure::bad_input)?;
                if let Err(problems) = definition.validate() {
                    return Err(Failure::bad_input(anyhow::anyhow!(
                        "{}: {}",
                        file.display(),
                        problems.join("; ")
                    )));
                }
                let id = store
                    .create_survey(&definition)
                    .await
                    .map_err(store_failure)?;
                match format {
                    OutputFormat::Json => writeln!(
                        out,
                        "{}",
                        serde_json::json!({"id": id.0, "slug": definition.slug})
                    ),
                    _ => writeln!(out, "created survey {id} ({})", definition.slug),
                }
                .map_err(Failure::runtime)
            }
            SurveyCommand::List => {
                let surveys = store.surveys().await.map_err(store_failure)?;
                match format {
                    OutputFormat::Json => {
                        let list: Vec<_> = surveys
                            .iter()
                            .map(|s| {
                                serde_json::json!({"id": s.id.0, "slug": s.definition.slug, "title": s.definition.title,
                                "anonymous": s.definition.anonymous, "questions": s.definition.questions.len(), "responses": s.responses})
                            })
                            .collect();
                        writeln!(out, "{}", serde_json::Value::Array(list))
                    }
                    _ => {
                        let rows: Vec<[String; 5]> = surveys
                            .iter()
                            .map(|s| {
                                [
                                    s.id.to_string(),
                                    s.definition.slug.clone(),
                                    s.definition.title.get("zh").to_string(),
                                    s.definition.questions.len().to_string(),
                                    s.responses.to_string(),
                                ]
                            })
                            .collect();
                        write_rows(&mut out, ["id", "slug", "title", "questions", "responses"], &rows)
                    }
                }
                .map_err(Failure::runtime)
            }
            SurveyCommand::Show { id } => {
                let s = store.survey(id).await.map_err(store_failure)?;
                let text = serde_json::to_string_pretty(&s.definition).map_err(Failure::runtime)?;
                writeln!(out, "{text}").map_err(Failure::runtime)
            }
            SurveyCommand::Invite {
                id,
                contacts,
                quiet_days,
                base_url,
            } => {
                let survey = store.survey(id).await.map_err(store_failure)?;
                let codes = crate::serve::contact_codes(contacts).map_err(Failure::bad_input)?;
                let results =
                    cx_server::api::invite_in(&store, base_url, &survey, &codes, *quiet_days)
                        .await
                        .map_err(|e| Failure::runtime(anyhow::anyhow!(e.message)))?;
                let invited = results.iter().filter(|r| r.link.is_some()).count();
                for r in results.iter().filter(|r| r.link.is_none()) {
                    eprintln!(
                        "warning: {}: {}",
                        r.contact,
                        r.skipped.as_deref().unwrap_or("not invited")
                    );
                }
                match format {
                    OutputFormat::Json => {
                        let list: Vec<_> = results
                            .iter()
                            .map(|r| serde_json::json!({"contact": r.contact, "link": r.link, "skipped": r.skipped}))
                            .collect();
                        writeln!(out, "{}", serde_json::Value::Array(list))
                    }
                    _ => writeln!(out, "contact,link").and_then(|_| {
                        results
                            .iter()
                            .filter_map(|r| r.link.as_ref().map(|l| (r, l)))
                            .try_for_each(|(r, l)| writeln!(out, "{},{l}", r.contact))
                    }),
                }
                .map_err(Failure::runtime)?;
                eprintln!(
                    "{invited} invitations for survey {} ({} skipped)",
                    survey.definition.slug,
                    results.len() - invited
                );
                Ok(())
            }
        }
    })
}

/// An aligned table (CJK counts two columns).
pub fn write_rows<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = header.map(|h| h.width());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.width());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < N {
                s.push_str(&" ".repeat(widths[i] - c.width() + 2));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
