//! Porchlight's local stack and operator tooling: what `template.yaml` declares, and
//! the table made from it against a DynamoDB engine.

pub mod cli;
pub mod demo_recurring;
pub mod key_commands;
pub mod local;
pub mod local_env;
pub mod qbo;
pub mod runtime_emulator;
pub mod settings_commands;
pub mod stack;
pub mod stripe_stub;
pub mod sweep_command;
pub mod table;
pub mod template;
