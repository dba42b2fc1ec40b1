//! `cxscore import KIND FILE`: read → map columns → validate each row →
//! store in batches, each batch one database transaction (so an interrupted
//! import leaves the database as it was before the unfinished batch) →
//! report read / imported / duplicate / rejected with reasons.

use std::io::Write;

use anyhow::anyhow;
use cx_io::ScanOptions;
use cx_io::import::ImportKind;
use cx_store::import::{ImportOptions, ImportReport, import_file};

use crate::cli::{ImportArgs, OutputFormat};
use crate::progress::Progress;
use crate::{Failure, block_on, store_failure};

/// Rejections printed on the terminal (all of them go to `--errors FILE`).
const SHOWN: usize = 20;

/// Runs `cxscore import`.
pub fn run(args: &ImportArgs, db: &str, format: OutputFormat) -> Result<(), Failure> {
    let kind = ImportKind::parse(&args.kind).ok_or_else(|| {
        Failure::bad_input(anyhow!(
            "unknown kind {:?}: use responses, accounts, contacts, transactions, feedback or assessments",
            args.kind
        ))
    })?;
    if kind == ImportKind::Responses && args.survey.is_none() {
        return Err(Failure::bad_input(anyhow!(
            "importing responses needs --survey ID (see `cxscore survey list`)"
        )));
    }
    let encoding = crate::encoding_flag(&args.encoding)?;
    let one_to_five = match args.assessment_scale.as_str() {
        "-2..2" | "-2..+2" | "pm2" => false,
        "1-5" | "1..5" => true,
        other => {
            return Err(Failure::bad_input(anyhow!(
                "--assessment-scale {other:?}: use -2..2 or 1-5"
            )));
        }
    };
    let mut overrides = Vec::new();
    for m in &args.map {
        let (src, dest) = m
            .split_once('=')
            .ok_or_else(|| Failure::bad_input(anyhow!("--map {m:?}: write it as COLUMN=FIELD")))?;
        overrides.push((src.trim().to_string(), dest.trim().to_string()));
    }
    let options = ImportOptions {
        survey: args.survey.clone(),
        overrides,
        strict: args.strict,
        assessment_one_to_five: one_to_five,
        scan: ScanOptions {
            encoding,
            ..ScanOptions::default()
        },
    };
    let progress = std::sync::Arc::new(Progress::from_bytes(
        std::slice::from_ref(&args.file),
        4 << 20,
    ));
    let report = block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let p = progress.clone();
        import_file(
            &store,
            kind,
            &args.file,
            &options,
            std::sync::Arc::new(move |b| p.advance(b)),
        )
        .await
        .map_err(|e| {
            if e.is_bad_input() {
                Failure::bad_input(e)
            } else {
                Failure::runtime(e)
            }
        })
    });
    progress.finish();
    let report = report?;
    print_report(&report, format, args, report.written).map_err(Failure::runtime)?;
    if !report.written {
        return Err(Failure::bad_input(anyhow!(
            "--strict: {} row(s) rejected, nothing imported",
            report.rejected
        )));
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn print_report(
    report: &ImportReport,
    format: OutputFormat,
    args: &ImportArgs,
    written: bool,
) -> std::io::Result<()> {
    if let Some(path) = &args.errors {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(f, "line,column,value,reason")?;
        for r in &report.rejections {
            writeln!(
                f,
                "{},{},{},{}",
                r.line,
                csv_field(&r.column),
                csv_field(&r.value),
                csv_field(&r.reason)
            )?;
        }
    }
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)
        }
        OutputFormat::Csv => {
            writeln!(out, "read,imported,duplicate,rejected")?;
            writeln!(
                out,
                "{},{},{},{}",
                report.read, report.imported, report.duplicate, report.rejected
            )
        }
        OutputFormat::Table => {
            writeln!(
                out,
                "{}: read {}, imported {}, duplicate {}, rejected {}{}{}",
                args.file.display(),
                report.read,
                report.imported,
                report.duplicate,
                report.rejected,
                if report.updated > 0 {
                    format!(", updated {}", report.updated)
                } else {
                    String::new()
                },
                if written {
                    ""
                } else {
                    " (nothing imported: --strict)"
                }
            )?;
            for r in report.rejections.iter().take(SHOWN) {
                writeln!(
                    out,
                    "  line {}: column {:?} = {:?}: {}",
                    r.line, r.column, r.value, r.reason
                )?;
            }
            if report.unlinked > 0 {
                writeln!(
                    out,
                    "  {} response(s) name an account or contact that is not stored: kept unlinked (import accounts and contacts first to link them)",
                    report.unlinked
                )?;
            }
            if report.rejections.len() > SHOWN {
                match &args.errors {
                    Some(p) => writeln!(
                        out,
                        "  … all {} rejected rows are in {}",
                        report.rejections.len(),
                        p.display()
                    )?,
                    None => writeln!(
                        out,
                        "  … {} more; --errors FILE lists them all",
                        report.rejections.len() - SHOWN
                    )?,
                }
            }
            Ok(())
        }
    }
}
