//! Notifications to citizens (a locked factor, later one-time codes). A `Sender` delivers a
//! message; the development sender writes each message as a JSON file to an outbox
//! directory, which tests read. Message bodies never carry secrets.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub trait Sender: Send + Sync {
    fn send(&self, message: &Message) -> Result<(), String>;
}

/// Writes messages to `dir/<time>-<random>.json`.
pub struct Outbox {
    pub dir: PathBuf,
}

impl Sender for Outbox {
    fn send(&self, message: &Message) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("outbox {}: {e}", self.dir.display()))?;
        let name = format!("{}-{}.json", crate::now(), crate::crypto::random_id());
        let body = serde_json::to_vec_pretty(message).map_err(|e| e.to_string())?;
        std::fs::write(self.dir.join(name), body).map_err(|e| format!("outbox: {e}"))
    }
}

/// Used when no sender is configured: the message is dropped, and that is logged.
pub struct Nowhere;

impl Sender for Nowhere {
    fn send(&self, _message: &Message) -> Result<(), String> {
        tracing::warn!("a notification was not delivered: no sender is configured");
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Development sender: write messages to this directory.
    pub outbox_dir: Option<PathBuf>,
}

pub fn sender(config: &NotifyConfig) -> Box<dyn Sender> {
    match &config.outbox_dir {
        Some(dir) => Box::new(Outbox { dir: dir.clone() }),
        None => Box::new(Nowhere),
    }
}
