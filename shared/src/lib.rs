//! Porchlight's library: the domain, the document rules, the DynamoDB store, mail, HTML
//! views and configuration that every Lambda function and the local stack share.

pub mod api_keys;
pub mod auth;
pub mod client_links;
pub mod clock;
pub mod config;
pub mod context;
pub mod csv;
pub mod domain;
pub mod http;
pub mod ids;
pub mod lambda;
pub mod lead_export;
pub mod lead_form;
pub mod mail;
pub mod money;
pub mod payments;
pub mod portal;
pub mod request_scope;
pub mod rrule;
pub mod rules;
pub mod schedule;
pub mod store;
pub mod sweep;
pub mod tax;
pub mod templates;
pub mod views;
