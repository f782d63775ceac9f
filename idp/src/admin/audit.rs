//! Reading the audit log: verify the chain, an account's events.

use super::users::{UserRef, find};
use super::{AdminResult, Context, invalid};
use crate::audit::{Filter, Kind};
use serde::Serialize;
use serde_json::Value;

/// One event as administrators see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    #[schema(value_type = Object)]
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
/// The most events one page of a search holds, and how many when not said.
pub const MAX_PAGE: i64 = 1000;
pub const DEFAULT_PAGE: i64 = 100;

/// A search of the log; every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The account the events are about (its id).
    pub user_id: Option<String>,
    /// An event kind's name (`client.created`).
    pub kind: Option<String>,
    /// At or after (Unix seconds).
    pub from: Option<i64>,
    /// Before (Unix seconds).
    pub until: Option<i64>,
    /// Only events after this sequence number: the previous page's `next_after`.
    pub after: Option<i64>,
    /// [default: 100, at most 1000]
    pub limit: Option<i64>,
}

/// One page of a search, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub events: Vec<EventView>,
    /// Give this as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

pub fn search(ctx: &Context, q: &Query) -> AdminResult<Page> {
    if let Some(k) = &q.kind
        && Kind::parse(k).is_none()
    {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        return Err(invalid(
            "kind",
            format!("unknown event kind {k} (known: {})", known.join(" ")),
        ));
    }
    if let (Some(from), Some(until)) = (q.from, q.until)
        && from > until
    {
        return Err(invalid("until", "must not be before from"));
    }
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid("limit", format!("between 1 and {MAX_PAGE}")));
    }
    let filter = Filter {
        user_id: q.user_id.clone(),
        kind: q.kind.clone(),
        from: q.from,
        until: q.until,
        after_seq: q.after,
    };
    // One more than asked tells whether there is a next page.
    let mut found = ctx
        .db
        .run(|c| crate::audit::search(c, &filter, limit + 1))?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let events: Vec<EventView> = found.iter().map(EventView::from).collect();
    let next_after = if more {
        events.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Page { events, next_after })
}

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
