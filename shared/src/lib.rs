//! Porchlight's library: the domain, the document rules, the DynamoDB store, mail, HTML
//! views and configuration that every Lambda function and the local stack share.

pub mod clock;
pub mod config;
pub mod context;
pub mod domain;
pub mod ids;
pub mod mail;
pub mod money;
pub mod portal;
pub mod rules;
pub mod store;
