//! Group commit: submissions queue here; one task takes whatever has queued
//! (up to `max_batch`), commits it in one transaction and only then answers
//! each waiting request. Under load many submissions share one fsync; alone, a
//! submission commits at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cx_store::AnyStore;
use cx_store::server::{ServerStore, Submission, Submitted};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::stats::Stats;

type Reply = oneshot::Sender<Result<Submitted, String>>;

/// The queue in front of the database.
#[derive(Debug, Clone)]
pub struct Committer {
    queue: mpsc::Sender<(Submission, Reply)>,
}

impl Committer {
    /// Starts the committing task on the current Tokio runtime.
    pub fn start(
        store: AnyStore,
        max_batch: usize,
        stats: Arc<Stats>,
        wake: crate::followup::Wake,
    ) -> Committer {
        let (queue, mut rx) = mpsc::channel::<(Submission, Reply)>(max_batch.max(1) * 4);
        let max_batch = max_batch.max(1);
        tokio::spawn(async move {
            let mut jobs = Vec::with_capacity(max_batch);
            while rx.recv_many(&mut jobs, max_batch).await > 0 {
                let (subs, replies): (Vec<Submission>, Vec<Reply>) = jobs.drain(..).unzip();
                let results = commit(&store, &subs).await;
                stats.batches.fetch_add(1, Ordering::Relaxed);
                // The follow-up loop looks at what was just committed.
                wake.wake();
                for (result, reply) in results.into_iter().zip(replies) {
                    match &result {
                        Ok(Submitted::Stored(_)) => stats.stored.fetch_add(1, Ordering::Relaxed),
                        Ok(Submitted::Duplicate(_)) => {
                            stats.duplicates.fetch_add(1, Ordering::Relaxed)
                        }
                        Ok(Submitted::AlreadyAnswered) => {
                            stats.already_answered.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(_) => 0,
                    };
                    // The requester may have gone; what is committed stays.
                    let _ = reply.send(result);
                }
            }
        });
        Committer { queue }
    }

    /// Queues `submission` and waits until it is committed (or refused).
    pub async fn submit(&self, submission: Submission) -> Result<Submitted, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((submission, reply))
            .await
            .map_err(|_| ApiError::internal("commit", "the committer stopped"))?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(ApiError::internal("storing the response", e)),
            Err(_) => Err(ApiError::internal("commit", "the committer stopped")),
        }
    }
}

/// Commits a group; if the group fails, each submission alone, so that one
/// bad submission fails only itself.
async fn commit(store: &AnyStore, subs: &[Submission]) -> Vec<Result<Submitted, String>> {
    match store.submit(subs).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(e) if subs.len() == 1 => vec![Err(e.to_string())],
        Err(_) => {
            let mut out = Vec::with_capacity(subs.len());
            for s in subs {
                out.push(
                    store
                        .submit(std::slice::from_ref(s))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|mut v| v.pop().ok_or_else(|| "no outcome".to_string())),
                );
            }
            out
        }
    }
}
