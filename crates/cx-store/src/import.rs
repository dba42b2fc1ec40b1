//! Imports: a file's rows → column mapping → validation → the store in
//! batches, each batch one transaction (an interrupted import leaves the
//! database as it was before the unfinished batch), with a report of what was
//! read, imported, duplicate, updated and rejected. `cxscore import` and
//! `POST /api/v1/imports/{kind}` both run [`import_file`].

use std::collections::{HashMap, HashSet};
use std::path::Path;

use cx_core::model::{AccountId, ContactId, SurveyId};
use cx_io::ScanOptions;
use cx_io::import::{ImportKind, Record, Rejection, RowReader, map_columns};
use cx_io::table::TableSource;
use serde::Serialize;
use thiserror::Error;

use crate::{
    AnyStore, InsertCounts, KeyedFeedback, KeyedTransaction, NewResponse, Store, StoreError,
};

/// Rows validated before they are written in one transaction.
pub const BATCH: usize = 20_000;

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
    /// Whether rows were written (false when `strict` refused the file).
    pub written: bool,
    /// Each refused row: line, column, value, reason.
    pub rejections: Vec<RejectionOut>,
}

/// A rejection as reported.
#[derive(Debug, Serialize)]
pub struct RejectionOut {
    /// Line (or row) in the file.
    pub line: u64,
    /// Column.
    pub column: String,
    /// The value refused.
    pub value: String,
    /// Why.
    pub reason: String,
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

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The survey responses answer.
    pub survey: Option<String>,
    /// `COLUMN=FIELD` mappings.
    pub overrides: Vec<(String, String)>,
    /// Import nothing unless every row is valid.
    pub strict: bool,
    /// Assessment ratings are on 1–5 (else −2…+2).
    pub assessment_one_to_five: bool,
    /// Encoding and reading options.
    pub scan: ScanOptions,
}

/// Why an import could not run.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The caller's file or options.
    #[error("{0}")]
    BadInput(String),
    /// Reading the file.
    #[error(transparent)]
    Io(#[from] cx_io::IoError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// Whether the caller can fix it (bad file, unknown survey, bad mapping).
    pub fn is_bad_input(&self) -> bool {
        match self {
            ImportError::BadInput(_) => true,
            ImportError::Io(e) => e.is_bad_input(),
            ImportError::Store(e) => matches!(
                e,
                StoreError::NotFound(_) | StoreError::Invalid(_) | StoreError::Conflict(_)
            ),
        }
    }
}

/// Imports `path` as `kind` into `store`; `progress` gets bytes read.
pub async fn import_file(
    store: &AnyStore,
    kind: ImportKind,
    path: &Path,
    options: &ImportOptions,
    progress: std::sync::Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<ImportReport, ImportError> {
    if kind == ImportKind::Responses && options.survey.is_none() {
        return Err(ImportError::BadInput(
            "importing responses needs a survey (--survey ID)".into(),
        ));
    }
    let source = TableSource::open(path, &options.scan)?;
    let survey = match &options.survey {
        Some(id) if kind == ImportKind::Responses => Some(store.survey(id).await?),
        _ => None,
    };
    let definition = survey.as_ref().map(|s| &s.definition);
    let mapping = map_columns(kind, &source.header, &options.overrides, definition)
        .map_err(|e| ImportError::BadInput(format!("{}: {e}", path.display())))?;
    let mut reader = RowReader::new(kind, mapping, source.header.clone(), definition);
    reader.assessment_one_to_five = options.assessment_one_to_five;
    // Rows of a CSV export run 40 bytes and more: room for the occurrence
    // counts of that many rows at once (bounded for a huge file).
    let file_len = std::fs::metadata(path).map_or(0, |m| m.len());
    reader.expect_rows((file_len / 40).min(1 << 24) as usize);
    // A big import of transactions builds the index by account once at the
    // end (a conservative guess of the rows: 64 bytes each).
    let deferred =
        kind == ImportKind::Transactions && store.defer_transaction_index(file_len / 64).await?;
    let imported = read_and_store(
        store,
        source,
        reader,
        survey.as_ref().map(|s| s.id),
        options,
        progress,
    )
    .await;
    if deferred {
        let restored = store.restore_transaction_index().await;
        if imported.is_ok() {
            restored?;
        }
    }
    imported
}

/// Reads `source` on a thread of its own and stores its rows batch by batch.
async fn read_and_store(
    store: &AnyStore,
    source: TableSource,
    reader: RowReader,
    survey: Option<SurveyId>,
    options: &ImportOptions,
    progress: std::sync::Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<ImportReport, ImportError> {
    let mut job = Job {
        store,
        survey,
        report: ImportReport::default(),
        looked_up: HashSet::new(),
        accounts: HashMap::new(),
        writing: Default::default(),
        last_committed: None,
    };

    // The file is read and every row validated on its own thread; records
    // come over a bounded channel in chunks (one message per row would cost a
    // context switch each), and this task writes them batch by batch.
    // The channel holds a whole batch, so the next batch is read while this
    // one is written.
    type Chunk = Vec<(u64, Result<Record, Rejection>)>;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(BATCH / 1024 + 2);
    // Emptied chunks go back to the reader to be filled again: fresh memory
    // costs the kernel a page fault and a zeroed page per 4 KiB.
    let (recycle, mut recycled) = tokio::sync::mpsc::unbounded_channel::<Chunk>();
    let reading = {
        let scan = options.scan.clone();
        let mut reader = reader;
        std::thread::spawn(move || {
            let mut chunk = Vec::with_capacity(1024);
            let result = source.for_each_row(&scan, &|b| progress(b), &mut |line, row| {
                chunk.push((line, reader.read(line, row)));
                chunk.len() < 1024 || {
                    let next = recycled
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(1024));
                    tx.blocking_send(std::mem::replace(&mut chunk, next))
                        .is_ok()
                }
            });
            if !chunk.is_empty() {
                let _ = tx.blocking_send(chunk);
            }
            result
        })
    };
    let mut pending = Vec::with_capacity(BATCH);
    while let Some(mut rows) = rx.recv().await {
        for (line, read) in rows.drain(..) {
            job.report.read += 1;
            match read {
                Ok(record) => pending.push((line, record)),
                Err(rejection) => job.reject(rejection),
            }
            if !options.strict && pending.len() >= BATCH {
                job.store_batch(&mut pending, false).await?;
            }
        }
        let _ = recycle.send(rows);
    }
    reading
        .join()
        .map_err(|_| ImportError::BadInput("the file reader stopped unexpectedly".into()))??;
    if options.strict && job.report.rejected > 0 {
        return Ok(job.report);
    }
    // Strict imports write everything in one transaction: all or nothing.
    job.store_batch(&mut pending, options.strict).await?;
    job.finish_writes(0).await?;
    // With strict, an unknown account or contact code found only now still writes nothing.
    job.report.written = !(options.strict && job.report.rejected > 0);
    Ok(job.report)
}

pub(crate) struct Job<'a> {
    store: &'a AnyStore,
    survey: Option<SurveyId>,
    report: ImportReport,
    /// Transactions' customers looked up so far, and the accounts found: each
    /// customer is looked up once per import, not once per batch.
    looked_up: HashSet<String>,
    accounts: HashMap<String, AccountId>,
    /// PostgreSQL: batches of transactions still being written, oldest first,
    /// and the news that the last of them committed.
    writing: std::collections::VecDeque<tokio::task::JoinHandle<Result<InsertCounts, StoreError>>>,
    last_committed: Option<tokio::sync::oneshot::Receiver<()>>,
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

    /// Waits for the batches being written until at most `keep` are left.
    async fn finish_writes(&mut self, keep: usize) -> Result<(), ImportError> {
        while self.writing.len() > keep {
            let Some(write) = self.writing.pop_front() else {
                break;
            };
            let counts = write
                .await
                .map_err(|e| {
                    ImportError::BadInput(format!("a batch's write stopped unexpectedly: {e}"))
                })?
                .map_err(ImportError::Store)?;
            self.add(counts);
        }
        Ok(())
    }

    /// Resolves codes to ids (rejecting rows whose account or contact is unknown) and stores.
    /// With `strict`, a batch in which any code is unknown writes nothing.
    /// Empties `batch` (its memory is kept for the next one).
    async fn store_batch(
        &mut self,
        batch: &mut Vec<(u64, Record)>,
        strict: bool,
    ) -> Result<(), ImportError> {
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
        for (line, record) in batch.drain(..) {
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
        let fail = ImportError::Store;
        if !accounts.is_empty() {
            let c = store.insert_accounts(&accounts).await.map_err(fail)?;
            self.add(c);
        }
        if !transactions.is_empty() {
            let mut new: Vec<String> = transactions
                .iter()
                .filter(|k| !self.looked_up.contains(&k.transaction.customer))
                .map(|k| k.transaction.customer.clone())
                .collect();
            new.sort_unstable();
            new.dedup();
            if !new.is_empty() {
                self.accounts
                    .extend(store.account_ids(&new).await.map_err(fail)?);
                self.looked_up.extend(new);
            }
            if let (AnyStore::Postgres(pg), false) = (store, strict) {
                // Written on a task of its own while the next batch is read:
                // PostgreSQL's work is most of an import's time, and two
                // batches in the server at once keep two of its processes busy.
                // Each commits after the one before it, so the batches stored
                // are still the file's first ones.
                let accounts: HashMap<String, AccountId> = transactions
                    .iter()
                    .filter_map(|k| self.accounts.get_key_value(&k.transaction.customer))
                    .map(|(code, id)| (code.clone(), *id))
                    .collect();
                let (committed, next) = tokio::sync::oneshot::channel();
                let previous = self.last_committed.replace(next);
                let pg = pg.clone();
                self.writing.push_back(tokio::spawn(async move {
                    let done = pg
                        .insert_transactions_after(transactions, &accounts, previous)
                        .await;
                    if done.is_ok() {
                        let _ = committed.send(());
                    }
                    done
                }));
                self.finish_writes(2).await?;
            } else {
                let c = store
                    .insert_linked_transactions(transactions, &self.accounts)
                    .await
                    .map_err(fail)?;
                self.add(c);
            }
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
                .ok_or_else(|| ImportError::BadInput("responses need a survey".into()))?;
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
