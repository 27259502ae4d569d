//! Porchlight's library: the domain, the document rules, the DynamoDB store, mail, HTML
//! views and configuration that every Lambda function and the local stack share.

pub mod clock;
pub mod domain;
pub mod ids;
pub mod money;
pub mod rules;
pub mod store;
