//! The domain model: surveys and their questions, responses, and what a team
//! knows about its customers — accounts, key people, transactions,
//! interactions, feedback, relationship assessments and follow-up tasks.
//!
//! These are plain values with validation; the store (`cx-store`) keeps them
//! and the importers (`cx-io`) build them from files.

pub mod customer;
pub mod ids;
pub mod survey;

pub use ids::*;
