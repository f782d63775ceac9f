//! The audit log as JSON lines, for auditors and third parties: one line per sealed event
//! (with the exact stored detail, so that hashes can be recomputed) and one per signed
//! checkpoint, in chain order. An export always ends at a checkpoint, so that every event
//! in it is covered by a signature; `verify` checks one against the published audit keys
//! without the database.

use super::Event;
use super::chain::{Break, Walker};
use super::checkpoint::{Checkpoint, PublishedKeys};
use crate::store::schema::{audit_checkpoints, audit_events};
use crate::store::{AnyConnection, StoreResult};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Event {
        seq: i64,
        at: i64,
        kind: String,
        user_id: Option<String>,
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// The stored JSON text, byte for byte (the hash covers it).
        detail: String,
        prev_hash: String,
        hash: String,
    },
    Checkpoint {
        seq: i64,
        hash: String,
        at: i64,
        kid: String,
        jws: String,
    },
}

impl Line {
    fn of_event(e: Event) -> Line {
        Line::Event {
            seq: e.seq.unwrap_or(0),
            at: e.at,
            kind: e.kind,
            user_id: e.user_id,
            client_id: e.client_id,
            ip: e.ip,
            detail: e.detail,
            prev_hash: e.prev_hash.unwrap_or_default(),
            hash: e.hash.unwrap_or_default(),
        }
    }
}

/// Which part of the log: events appended at or after `from` and before `until` (Unix
/// seconds), extended to the next checkpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// Writes the range's lines to `sink`, a batch at a time; returns how many events.
pub fn write(
    conn: &mut AnyConnection,
    range: Range,
    sink: &mut dyn FnMut(&Line) -> std::io::Result<()>,
) -> StoreResult<Result<i64, std::io::Error>> {
    let sealed = || audit_events::table.filter(audit_events::seq.is_not_null());
    let first: Option<Option<i64>> = match range.from {
        Some(t) => sealed()
            .filter(audit_events::at.ge(t))
            .select(diesel::dsl::min(audit_events::seq))
            .first(conn)
            .optional()?,
        None => Some(Some(1)),
    };
    let last_wanted: Option<Option<i64>> = match range.until {
        Some(t) => sealed()
            .filter(audit_events::at.lt(t))
            .select(diesel::dsl::max(audit_events::seq))
            .first(conn)
            .optional()?,
        None => Some(Some(i64::MAX)),
    };
    let (Some(Some(first)), Some(Some(last_wanted))) = (first, last_wanted) else {
        return Ok(Ok(0));
    };
    // The first checkpoint at or after the last event wanted, else the last checkpoint.
    let end: Option<i64> = audit_checkpoints::table
        .filter(audit_checkpoints::seq.ge(last_wanted))
        .select(diesel::dsl::min(audit_checkpoints::seq))
        .first::<Option<i64>>(conn)?
        .or(audit_checkpoints::table
            .select(diesel::dsl::max(audit_checkpoints::seq))
            .first::<Option<i64>>(conn)?);
    let Some(end) = end.filter(|&e| e >= first) else {
        return Ok(Ok(0));
    };
    let checkpoints: Vec<Checkpoint> = audit_checkpoints::table
        .filter(audit_checkpoints::seq.between(first, end))
        .order(audit_checkpoints::seq)
        .select(Checkpoint::as_select())
        .load(conn)?;
    let mut checkpoints = checkpoints.into_iter().peekable();
    let mut after = first - 1;
    let mut written = 0;
    while after < end {
        let batch: Vec<Event> = audit_events::table
            .filter(audit_events::seq.gt(after))
            .filter(audit_events::seq.le(end))
            .order(audit_events::seq)
            .limit(super::chain::BATCH)
            .select(Event::as_select())
            .load(conn)?;
        let Some(last) = batch.last().and_then(|e| e.seq) else {
            break;
        };
        for e in batch {
            let seq = e.seq.unwrap_or(0);
            if let Err(io) = sink(&Line::of_event(e)) {
                return Ok(Err(io));
            }
            written += 1;
            while let Some(cp) = checkpoints.next_if(|cp| cp.seq <= seq) {
                let line = Line::Checkpoint {
                    seq: cp.seq,
                    hash: cp.hash,
                    at: cp.at,
                    kid: cp.kid,
                    jws: cp.jws,
                };
                if let Err(io) = sink(&line) {
                    return Ok(Err(io));
                }
            }
        }
        after = last;
    }
    Ok(Ok(written))
}

/// What a verified export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub first: i64,
    pub last: i64,
    pub checkpoints: usize,
}

/// Why an export does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A line that is not an export line.
    Unreadable {
        line: usize,
        reason: String,
    },
    Chain(Break),
    /// Events after the last valid checkpoint (or all of them): not covered by a signature.
    Uncovered {
        from: i64,
        to: i64,
    },
    Empty,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Unreadable { line, reason } => write!(f, "line {line}: {reason}"),
            Refused::Chain(b) => b.fmt(f),
            Refused::Uncovered { from, to } => write!(
                f,
                "events {from} to {to} are not covered by a signed checkpoint"
            ),
            Refused::Empty => f.write_str("the export holds no events"),
        }
    }
}

/// Verifies an export: the chain is unbroken from its first event, every checkpoint's
/// signature verifies under `keys` and names the hash the chain has at its place, and the
/// last event is covered by one.
pub fn verify(text: &str, keys: &PublishedKeys) -> Result<Verified, Refused> {
    let mut walker: Option<Walker> = None;
    let mut hashes: HashMap<String, i64> = HashMap::new();
    let mut at_seq: HashMap<i64, String> = HashMap::new();
    let (mut first, mut last, mut covered, mut checkpoints) = (0, 0, 0, 0);
    for (n, raw) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line: Line = serde_json::from_str(raw).map_err(|e| Refused::Unreadable {
            line: n + 1,
            reason: e.to_string(),
        })?;
        match line {
            Line::Event {
                seq,
                at,
                kind,
                user_id,
                client_id,
                ip,
                detail,
                prev_hash,
                hash,
            } => {
                let w = walker.get_or_insert_with(|| {
                    first = seq;
                    if seq == 1 {
                        Walker::new()
                    } else {
                        Walker::from(prev_hash.clone(), seq)
                    }
                });
                let e = Event {
                    id: 0,
                    seq: Some(seq),
                    at,
                    kind,
                    user_id,
                    client_id,
                    ip,
                    detail,
                    prev_hash: Some(prev_hash),
                    hash: Some(hash.clone()),
                };
                let mut lookup = |h: &str| hashes.get(h).copied();
                w.step(&e, &mut lookup).map_err(Refused::Chain)?;
                hashes.insert(hash.clone(), seq);
                at_seq.insert(seq, hash);
                last = seq;
            }
            Line::Checkpoint {
                seq,
                hash,
                at,
                kid,
                jws,
            } => {
                let cp = Checkpoint {
                    seq,
                    hash,
                    at,
                    kid,
                    jws,
                };
                if !keys.verifies(&cp) || at_seq.get(&seq) != Some(&cp.hash) {
                    return Err(Refused::Chain(Break::Checkpoint(seq)));
                }
                covered = covered.max(seq);
                checkpoints += 1;
            }
        }
    }
    if walker.is_none() {
        return Err(Refused::Empty);
    }
    if covered < last {
        return Err(Refused::Uncovered {
            from: covered.max(first - 1) + 1,
            to: last,
        });
    }
    Ok(Verified {
        first,
        last,
        checkpoints,
    })
}
