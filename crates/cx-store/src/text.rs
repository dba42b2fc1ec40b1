//! Text analysis of what is stored: every open-text answer and feedback item
//! is analysed (cx-text) when it is stored; `reanalyze` does it again for
//! rows stored before (or analysed by an older model), in pages, each page
//! one transaction, so it can be stopped and run again.

use cx_core::model::survey::QuestionKind;

use crate::{Store, StoreError, TextColumns, common::analyze_text};

/// Rows per page.
const PAGE: i64 = 2_000;

/// What `reanalyze` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReanalyzeReport {
    /// Open-text answers analysed.
    pub answers: u64,
    /// Feedback items analysed.
    pub feedback: u64,
}

/// Analyse every stored open-text answer and feedback item again.
/// `progress` is called with the running total after each page.
pub async fn reanalyze<S: Store>(
    store: &S,
    progress: &dyn Fn(u64),
) -> Result<ReanalyzeReport, StoreError> {
    let mut report = ReanalyzeReport::default();
    for survey in store.surveys().await? {
        let text_questions: Vec<String> = survey
            .definition
            .questions
            .iter()
            .filter(|q| q.kind == QuestionKind::Text)
            .map(|q| q.id.clone())
            .collect();
        for question in text_questions {
            let mut after = 0;
            loop {
                let page = store
                    .text_answers(survey.id, &question, after, PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.0;
                let rows: Vec<(i64, TextColumns)> = page
                    .iter()
                    .map(|(id, text)| (*id, analyze_text(text)))
                    .collect();
                store.set_answer_analyses(&question, &rows).await?;
                report.answers += rows.len() as u64;
                progress(report.answers + report.feedback);
            }
        }
    }
    let mut after = 0;
    loop {
        let page = store.feedback_texts(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        let rows: Vec<(i64, TextColumns)> = page
            .iter()
            .map(|(id, text)| (*id, analyze_text(text)))
            .collect();
        store.set_feedback_analyses(&rows).await?;
        report.feedback += rows.len() as u64;
        progress(report.answers + report.feedback);
    }
    Ok(report)
}
