//! Identifier newtypes, so an account id can never be passed as a survey id.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A survey.
    SurveyId
);
id!(
    /// A response to a survey.
    ResponseId
);
id!(
    /// A customer account (company or person buying from us).
    AccountId
);
id!(
    /// A contact (key person) at an account.
    ContactId
);
id!(
    /// A transaction (order, invoice line).
    TransactionId
);
id!(
    /// A user of cxscore.
    UserId
);
id!(
    /// A follow-up task.
    TaskId
);
