//! `cxscore import KIND FILE`: read → map columns → validate each row →
//! store in batches, each batch one database transaction (so an interrupted
//! import leaves the database as it was before the unfinished batch) →
//! report read / imported / duplicate / rejected with reasons.

use std::io::Write;

use anyhow::anyhow;
use cx_core::model::{AccountId, ContactId, SurveyId};
use cx_io::import::{ImportKind, Record, Rejection, RowReader, map_columns};
use cx_io::table::TableSource;
use cx_io::{EncodingChoice, ScanOptions};
use cx_store::{AnyStore, InsertCounts, KeyedFeedback, KeyedTransaction, NewResponse, Store};
use serde::Serialize;

use crate::cli::{ImportArgs, OutputFormat};
use crate::progress::Progress;
use crate::{Failure, block_on, store_failure};

/// Rows validated before they are written in one transaction.
const BATCH: usize = 20_000;
/// Rejections printed on the terminal (all of them go to `--errors FILE`).
const SHOWN: usize = 20;

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Data rows read.
    pub read: u64,
    /// Rows stored.
    pub imported: u64,
    /// Rows already stored (nothing changed).
    pub duplicate: u64,
    /// Accounts already stored whose fields changed in this file: updated.
    pub updated: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Responses whose account or contact code is not (yet) stored: imported
    /// without the link, the code kept in their metadata.
    pub unlinked: u64,
    /// Each refused row: line, column, value, reason.
    pub rejections: Vec<RejectionOut>,
}

/// A rejection as printed.
#[derive(Debug, Serialize)]
pub struct RejectionOut {
    line: u64,
    column: String,
    value: String,
    reason: String,
}

impl From<Rejection> for RejectionOut {
    fn from(r: Rejection) -> Self {
        RejectionOut {
            line: r.line,
            column: r.column,
            value: r.value,
            reason: r.reason,
        }
    }
}

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
    let encoding = EncodingChoice::parse(&args.encoding).ok_or_else(|| {
        Failure::bad_input(anyhow!(
            "--encoding {:?}: use auto, utf-8 or gb18030",
            args.encoding
        ))
    })?;
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
    let options = ScanOptions {
        encoding,
        ..ScanOptions::default()
    };
    let source = TableSource::open(&args.file, &options).map_err(io_failure)?;

    let report = block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let survey = match &args.survey {
            Some(id) if kind == ImportKind::Responses => {
                Some(store.survey(id).await.map_err(store_failure)?)
            }
            _ => None,
        };
        let definition = survey.as_ref().map(|s| &s.definition);
        let mapping = map_columns(kind, &source.header, &overrides, definition)
            .map_err(|e| Failure::bad_input(anyhow!("{}: {e}", args.file.display())))?;
        let mut reader = RowReader::new(kind, mapping, source.header.clone(), definition);
        reader.assessment_one_to_five = one_to_five;
        let mut job = Job {
            store: &store,
            survey: survey.as_ref().map(|s| s.id),
            report: ImportReport::default(),
        };

        // The file is read on its own thread; rows come over a bounded channel.
        // Rows travel in chunks: one message per row would cost a context switch each.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<(u64, Vec<String>)>>(8);
        let progress = std::sync::Arc::new(Progress::from_bytes(
            std::slice::from_ref(&args.file),
            4 << 20,
        ));
        let reading = {
            let (source, options, progress) = (source.clone(), options.clone(), progress.clone());
            std::thread::spawn(move || {
                let mut chunk = Vec::with_capacity(1024);
                let result =
                    source.for_each_row(&options, &|b| progress.advance(b), &mut |line, row| {
                        chunk.push((line, row));
                        chunk.len() < 1024
                            || tx
                                .blocking_send(std::mem::replace(
                                    &mut chunk,
                                    Vec::with_capacity(1024),
                                ))
                                .is_ok()
                    });
                if !chunk.is_empty() {
                    let _ = tx.blocking_send(chunk);
                }
                result
            })
        };
        let mut pending = Vec::new();
        while let Some(rows) = rx.recv().await {
            for (line, row) in rows {
                job.report.read += 1;
                match reader.read(line, &row) {
                    Ok(record) => pending.push((line, record)),
                    Err(rejection) => job.reject(rejection),
                }
                if !args.strict && pending.len() >= BATCH {
                    job.store_batch(std::mem::take(&mut pending), false).await?;
                }
            }
        }
        progress.finish();
        reading
            .join()
            .map_err(|_| Failure::runtime(anyhow!("the file reader stopped unexpectedly")))?
            .map_err(io_failure)?;
        if args.strict && job.report.rejected > 0 {
            return Ok((job.report, false));
        }
        // Strict imports write everything in one transaction: all or nothing.
        job.store_batch(pending, args.strict).await?;
        if args.strict && job.report.rejected > 0 {
            // An unknown account or contact code, found only now: still nothing written.
            return Ok((job.report, false));
        }
        Ok::<_, Failure>((job.report, true))
    })?;
    let (report, written) = report;
    print_report(&report, format, args, written).map_err(Failure::runtime)?;
    if !written {
        return Err(Failure::bad_input(anyhow!(
            "--strict: {} row(s) rejected, nothing imported",
            report.rejected
        )));
    }
    Ok(())
}

struct Job<'a> {
    store: &'a AnyStore,
    survey: Option<SurveyId>,
    report: ImportReport,
}

impl Job<'_> {
    fn reject(&mut self, r: Rejection) {
        self.report.rejected += 1;
        self.report.rejections.push(r.into());
    }

    fn add(&mut self, c: InsertCounts) {
        self.report.imported += c.inserted;
        self.report.duplicate += c.duplicate;
        self.report.updated += c.updated;
    }

    /// Resolves codes to ids (rejecting rows whose account or contact is unknown) and stores.
    /// With `strict`, a batch in which any code is unknown writes nothing.
    async fn store_batch(
        &mut self,
        batch: Vec<(u64, Record)>,
        strict: bool,
    ) -> Result<(), Failure> {
        if batch.is_empty() {
            return Ok(());
        }
        let store = self.store;
        let mut accounts = Vec::new();
        let mut transactions = Vec::new();
        let mut feedback = Vec::new();
        let mut responses = Vec::new();
        let mut contacts = Vec::new();
        let mut assessments = Vec::new();
        for (line, record) in batch {
            match record {
                Record::Account(a) => accounts.push(a),
                Record::Transaction(key, transaction) => {
                    transactions.push(KeyedTransaction { key, transaction })
                }
                Record::Feedback(key, item) => feedback.push(KeyedFeedback { key, item }),
                Record::Response(r) => responses.push((line, r)),
                Record::Contact(c) => contacts.push((line, c)),
                Record::Assessment(a) => assessments.push((line, a)),
            }
        }
        let fail = store_failure;
        if !accounts.is_empty() {
            let c = store.insert_accounts(&accounts).await.map_err(fail)?;
            self.add(c);
        }
        if !transactions.is_empty() {
            let c = store
                .insert_transactions(&transactions)
                .await
                .map_err(fail)?;
            self.add(c);
        }
        if !feedback.is_empty() {
            let c = store.insert_feedback(&feedback).await.map_err(fail)?;
            self.add(c);
        }
        if !contacts.is_empty() {
            let codes: Vec<String> = contacts.iter().map(|(_, c)| c.account.clone()).collect();
            let ids = store.account_ids(&codes).await.map_err(fail)?;
            let mut ok: Vec<(AccountId, _)> = Vec::new();
            for (line, c) in contacts {
                match ids.get(&c.account) {
                    Some(id) => ok.push((*id, c)),
                    None => self.reject(Rejection {
                        line,
                        column: "account".into(),
                        value: c.account.clone(),
                        reason: "no such account; import accounts first".into(),
                    }),
                }
            }
            if strict && self.report.rejected > 0 {
                return Ok(());
            }
            let c = store.insert_contacts(&ok).await.map_err(fail)?;
            self.add(c);
        }
        if !assessments.is_empty() {
            let codes: Vec<String> = assessments.iter().map(|(_, a)| a.contact.clone()).collect();
            let ids = store.contact_ids(&codes).await.map_err(fail)?;
            let mut ok: Vec<(ContactId, _)> = Vec::new();
            for (line, a) in assessments {
                match ids.get(&a.contact) {
                    Some(id) => ok.push((*id, a)),
                    None => self.reject(Rejection {
                        line,
                        column: "contact".into(),
                        value: a.contact.clone(),
                        reason: "no such contact; import contacts first".into(),
                    }),
                }
            }
            if strict && self.report.rejected > 0 {
                return Ok(());
            }
            let c = store.insert_assessments(&ok).await.map_err(fail)?;
            self.add(c);
        }
        if !responses.is_empty() {
            let survey = self
                .survey
                .ok_or_else(|| Failure::bad_input(anyhow!("responses need --survey")))?;
            let account_codes: Vec<String> = responses
                .iter()
                .filter_map(|(_, r)| r.account.clone())
                .collect();
            let contact_codes: Vec<String> = responses
                .iter()
                .filter_map(|(_, r)| r.contact.clone())
                .collect();
            let account_ids = store.account_ids(&account_codes).await.map_err(fail)?;
            let contact_ids = store.contact_ids(&contact_codes).await.map_err(fail)?;
            let mut ok = Vec::new();
            for (_, r) in responses {
                // An account or contact we do not know is kept as text, unlinked,
                // rather than losing the answers; the report counts them.
                let mut r = *r;
                let account = r
                    .account
                    .as_ref()
                    .and_then(|code| account_ids.get(code).copied());
                if let (None, Some(code)) = (account, r.account.take()) {
                    r.metadata.insert("account".into(), code.into());
                    self.report.unlinked += 1;
                }
                let contact = r
                    .contact
                    .as_ref()
                    .and_then(|code| contact_ids.get(code).copied());
                if let (None, Some(code)) = (contact, r.contact.take()) {
                    r.metadata.insert("contact".into(), code.into());
                    self.report.unlinked += 1;
                }

                ok.push(NewResponse {
                    dedupe_key: r.dedupe_key,
                    submitted_at: r.submitted_at,
                    submitted_on: r.submitted_on,
                    channel: r.channel,
                    language: r.language,
                    account,
                    contact,
                    metadata: r.metadata,
                    answers: r.answers,
                });
            }
            let c = store.insert_responses(survey, &ok).await.map_err(fail)?;
            self.add(c);
        }
        Ok(())
    }
}

fn io_failure(e: cx_io::IoError) -> Failure {
    if e.is_bad_input() {
        Failure::bad_input(e)
    } else {
        Failure::runtime(e)
    }
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
