//! Accounts as a whole: the relationship with their key people
//! (`relationship.rs`), the composite customer score against the company's
//! scorecard (`scorecard.rs`), and the close-the-loop rules that turn a signal
//! into a follow-up task with an owner and a deadline (`rules.rs`).

pub mod relationship;
pub mod rules;
pub mod scorecard;
