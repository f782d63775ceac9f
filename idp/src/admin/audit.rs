//! Reading the audit log: verify the chain, an account's events.

use super::users::{UserRef, find};
use super::{AdminResult, Context};
use serde::Serialize;
use serde_json::Value;

/// One event as administrators see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub detail: Value,
}

impl From<&crate::audit::Event> for EventView {
    fn from(e: &crate::audit::Event) -> EventView {
        EventView {
            seq: e.seq,
            at: e.at,
            kind: e.kind.clone(),
            user_id: e.user_id.clone(),
            client_id: e.client_id.clone(),
            detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
        }
    }
}

pub const MAX_EVENTS: i64 = 10_000;

/// Recomputes the hash chain: the number of events, or where it is broken.
pub fn verify(ctx: &Context) -> AdminResult<Result<i64, String>> {
    Ok(ctx.db.run(crate::audit::verify)?)
}

/// The newest events of one account, newest first (at most `MAX_EVENTS`).
pub fn of_user(ctx: &Context, who: UserRef, limit: i64) -> AdminResult<Vec<EventView>> {
    ctx.db.run(|c| {
        Ok((|| {
            let user = find(c, who)?;
            let events = crate::audit::of_user(c, &user.id, limit.clamp(1, MAX_EVENTS))?;
            Ok(events.iter().map(EventView::from).collect())
        })())
    })?
}
