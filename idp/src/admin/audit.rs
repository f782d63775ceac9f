//! Reading the audit log: search, verify the chain and its signed checkpoints, export it,
//! and count sign-ins over time.

use super::users::{UserRef, find};
use super::{AdminResult, Context, invalid};
use crate::audit::chain::{self, Break, Verified};
use crate::audit::{Filter, Kind, checkpoint, export};
use serde::Serialize;
use serde_json::Value;

/// One event as administrators see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Row id, the order of appending (pages of a search).
    pub id: i64,
    /// Place in the hash chain; absent until the event is sealed (within seconds).
    pub seq: Option<i64>,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    /// The client address the act came from.
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<&crate::audit::Event> for EventView {
    fn from(e: &crate::audit::Event) -> EventView {
        EventView {
            id: e.id,
            seq: e.seq,
            at: e.at,
            kind: e.kind.clone(),
            user_id: e.user_id.clone(),
            client_id: e.client_id.clone(),
            ip: e.ip.clone(),
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
    /// Only events after this row id: the previous page's `next_after`.
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
        after_id: q.after,
    };
    // One more than asked tells whether there is a next page.
    let mut found = ctx
        .db
        .run(|c| crate::audit::search(c, &filter, limit + 1))?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let events: Vec<EventView> = found.iter().map(EventView::from).collect();
    let next_after = if more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Page { events, next_after })
}

/// Recomputes the hash chain and checks every signed checkpoint: what is intact, or the
/// first event altered, removed or moved.
pub fn verify(ctx: &Context) -> AdminResult<Result<Verified, Break>> {
    Ok(ctx.db.run(chain::verify)?)
}

/// Seals what is pending and signs a checkpoint of the head at once (the CLI does this
/// before it verifies or exports, so that nothing just appended is left out).
pub fn seal(ctx: &Context, now: i64) -> AdminResult<chain::Sealed> {
    Ok(crate::audit::seal_pending(
        ctx.db,
        ctx.kek,
        &ctx.config.issuer,
        0,
        now,
    )?)
}

/// Writes the log as JSON lines, ending at a signed checkpoint; returns how many events.
pub fn export(
    ctx: &Context,
    range: export::Range,
    sink: &mut dyn FnMut(&export::Line) -> std::io::Result<()>,
) -> AdminResult<Result<i64, std::io::Error>> {
    if let (Some(from), Some(until)) = (range.from, range.until)
        && from > until
    {
        return Err(invalid("until", "must not be before from"));
    }
    Ok(ctx.db.run(|c| export::write(c, range, sink))?)
}

/// The public keys that sign checkpoints (a JWK set), retired ones included.
pub fn keys(ctx: &Context) -> AdminResult<serde_json::Value> {
    Ok(ctx.db.run(checkpoint::published)?.jwks().clone())
}

/// One signed checkpoint as administrators see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    /// The last event it covers.
    pub seq: i64,
    /// That event's hash.
    pub hash: String,
    pub at: i64,
    pub kid: String,
    /// Compact JWS (ES256, `typ` `audit-checkpoint+jwt`) over `{iss, seq, hash, iat}`.
    pub jws: String,
}

/// The newest checkpoints, newest first.
pub fn checkpoints(ctx: &Context, limit: i64) -> AdminResult<Vec<CheckpointView>> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid("limit", format!("between 1 and {MAX_PAGE}")));
    }
    let found = ctx.db.run(|c| checkpoint::latest(c, limit))?;
    Ok(found
        .into_iter()
        .map(|c| CheckpointView {
            seq: c.seq,
            hash: c.hash,
            at: c.at,
            kid: c.kid,
            jws: c.jws,
        })
        .collect())
}

/// Sign-ins over time: one interval of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// Start of the interval (Unix seconds).
    pub start: i64,
    /// Factors accepted.
    pub succeeded: i64,
    /// Factors refused.
    pub failed: i64,
    /// Factors locked after too many failures.
    pub locked: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Interval length in seconds.
    pub bucket: i64,
    /// Every interval from `from` to `until`, empty ones included.
    pub buckets: Vec<Bucket>,
}

/// The most intervals one request may ask for.
pub const MAX_BUCKETS: i64 = 1000;

/// Sign-in successes, failures and lockouts per interval.
pub fn stats(ctx: &Context, from: i64, until: i64, bucket: i64) -> AdminResult<Stats> {
    if bucket < 60 {
        return Err(invalid("bucket", "at least 60 seconds"));
    }
    if until <= from {
        return Err(invalid("until", "must be after from"));
    }
    // The database computes `at - from` for the events in range, so the span has to fit
    // in 64 bits as well.
    let Some(span) = until.checked_sub(from) else {
        return Err(invalid("until", "too far after from"));
    };
    let n = span / bucket + i64::from(span % bucket != 0);
    if n > MAX_BUCKETS {
        return Err(invalid(
            "bucket",
            format!("at most {MAX_BUCKETS} intervals; choose a longer one"),
        ));
    }
    let kinds = [Kind::SignedIn, Kind::SignInFailed, Kind::FactorLocked];
    let counts = ctx
        .db
        .run(|c| crate::audit::counts(c, &kinds, from, until, bucket))?;
    let mut buckets: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start: from + i * bucket,
            succeeded: 0,
            failed: 0,
            locked: 0,
        })
        .collect();
    for (i, kind, count) in counts {
        let Some(b) = usize::try_from(i).ok().and_then(|i| buckets.get_mut(i)) else {
            continue;
        };
        match kind {
            Kind::SignedIn => b.succeeded += count,
            Kind::SignInFailed => b.failed += count,
            Kind::FactorLocked => b.locked += count,
            _ => {}
        }
    }
    Ok(Stats { bucket, buckets })
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
