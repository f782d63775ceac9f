//! The hash chain. Each sealed event's hash covers its place (`seq`), its content and the
//! previous event's hash, so altering, removing or moving one breaks the chain from there
//! on. Sealing is the only writer of the chain's head (`audit_head`): requests never wait
//! for it, and instances sealing at once queue behind its row lock.

use super::Event;
use super::checkpoint::{self, Checkpoint};
use crate::crypto;
use crate::keys::kek::Kek;
use crate::store::schema::{audit_checkpoints, audit_events, audit_head};
use crate::store::{AnyConnection, StoreResult};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// At most this many events are sealed in one transaction.
pub const BATCH: i64 = 1000;

/// What an event's hash covers, in this order. Each part is length-prefixed, so that no
/// two different events hash the same input. The client address was added later: events
/// without one hash as they always did.
pub fn hash_of(prev: &str, seq: i64, e: &Event) -> String {
    let mut h = Sha256::new();
    let seq = seq.to_string();
    let at = e.at.to_string();
    let mut parts = vec![
        prev,
        seq.as_str(),
        at.as_str(),
        e.kind.as_str(),
        e.user_id.as_deref().unwrap_or(""),
        e.client_id.as_deref().unwrap_or(""),
        e.detail.as_str(),
    ];
    if let Some(ip) = &e.ip {
        parts.push(ip);
    }
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    crypto::hex(&h.finalize())
}

crate::store::fixed::statement! {
    /// Gives event `id` its place in the chain.
    fn place(conn, seq: i64 as BigInt, prev_hash: str as Text, hash: str as Text, id: i64 as BigInt) =
        "UPDATE audit_events SET seq = " seq ", prev_hash = " prev_hash ", hash = " hash
        " WHERE id = " id;
}

/// What one round of sealing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sealed {
    pub events: usize,
    /// The sequence number a new signed checkpoint covers.
    pub checkpoint: Option<i64>,
}

/// Gives up to `BATCH` pending events their place in the chain, in the order of their row
/// ids, and signs a checkpoint of the new head when the last one is older than
/// `checkpoint_every` seconds. Runs in the caller's transaction.
pub fn seal(
    conn: &mut AnyConnection,
    kek: &Kek,
    issuer: &str,
    checkpoint_every: i64,
    now: i64,
) -> StoreResult<Sealed> {
    // The head's row lock (the write lock on SQLite) lines up sealers, not requests.
    diesel::update(audit_head::table.find(1))
        .set(audit_head::seq.eq(audit_head::seq))
        .execute(conn)?;
    let (mut seq, mut prev): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let pending: Vec<Event> = audit_events::table
        .filter(audit_events::seq.is_null())
        .order(audit_events::id)
        .limit(BATCH)
        .select(Event::as_select())
        .load(conn)?;
    for e in &pending {
        seq += 1;
        let hash = hash_of(&prev, seq, e);
        place(conn, &seq, &prev, &hash, &e.id)?;
        prev = hash;
    }
    if !pending.is_empty() {
        diesel::update(audit_head::table.find(1))
            .set((audit_head::seq.eq(seq), audit_head::hash.eq(&prev)))
            .execute(conn)?;
    }
    let last: Option<(i64, i64)> = audit_checkpoints::table
        .order(audit_checkpoints::seq.desc())
        .select((audit_checkpoints::seq, audit_checkpoints::at))
        .first(conn)
        .optional()?;
    let due = match last {
        None => seq > 0,
        Some((covered, at)) => seq > covered && now - at >= checkpoint_every,
    };
    let checkpoint = if due {
        checkpoint::sign(conn, kek, issuer, seq, &prev, now)?;
        Some(seq)
    } else {
        None
    };
    Ok(Sealed {
        events: pending.len(),
        checkpoint,
    })
}

/// Where the chain breaks: the first event found altered, removed or moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// Its content (or its hash) is not what was sealed.
    Altered(i64),
    /// The chain jumps over these sequence numbers.
    Missing { from: i64, to: i64 },
    /// The event sealed at `was` now stands at `at`.
    Moved { at: i64, was: i64 },
    /// The chain ends before events that the head or a signed checkpoint covers.
    Truncated { ends_at: i64, covered: i64 },
    /// A checkpoint whose signature does not verify, or that names another hash than the
    /// chain has at its place.
    Checkpoint(i64),
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Altered(seq) => write!(f, "event {seq} was altered"),
            Break::Missing { from, to } if from == to => write!(f, "event {from} is missing"),
            Break::Missing { from, to } => write!(f, "events {from} to {to} are missing"),
            Break::Moved { at, was } => {
                write!(f, "event {was} was moved to position {at} (reordered)")
            }
            Break::Truncated { ends_at, covered } => write!(
                f,
                "the log ends at event {ends_at}, but event {covered} was sealed: events after \
                 {ends_at} were removed"
            ),
            Break::Checkpoint(seq) => {
                write!(f, "the signed checkpoint at event {seq} is not valid")
            }
        }
    }
}

/// What a verification found intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Sealed events, all chained.
    pub events: i64,
    /// Events appended but not sealed yet.
    pub pending: i64,
    /// Signed checkpoints, all valid.
    pub checkpoints: i64,
}

/// Walks a chain in sequence order and tells the first break. Events come in order of
/// `seq`; `lookup` finds a sealed event by its hash (to tell a moved event from an
/// altered one).
pub struct Walker {
    prev: String,
    next: i64,
}

impl Walker {
    /// Starting at the chain's beginning.
    pub fn new() -> Walker {
        Walker::from(GENESIS.to_string(), 1)
    }

    /// Starting after the event sealed at `next - 1` with hash `prev` (a partial export).
    pub fn from(prev: String, next: i64) -> Walker {
        Walker { prev, next }
    }

    /// The hash the chain has reached, and the sequence number of the next event.
    pub fn head(&self) -> (&str, i64) {
        (&self.prev, self.next)
    }

    pub fn step(
        &mut self,
        e: &Event,
        lookup: &mut dyn FnMut(&str) -> Option<i64>,
    ) -> Result<(), Break> {
        let seq = e.seq.unwrap_or(0);
        let stored = e.hash.as_deref().unwrap_or("");
        let linked = e.prev_hash.as_deref() == Some(self.prev.as_str());
        if seq == self.next && linked && hash_of(&self.prev, seq, e) == stored {
            self.prev = stored.to_string();
            self.next += 1;
            return Ok(());
        }
        if seq > self.next {
            // Removed, unless the event itself was renumbered into the gap's end.
            return Err(Break::Missing {
                from: self.next,
                to: seq - 1,
            });
        }
        let at = self.next;
        if linked {
            return Err(Break::Altered(at));
        }
        let own_prev = e.prev_hash.as_deref().unwrap_or("");
        // Intact where it stands, but the previous event's hash does not lead to it: the
        // previous event was rewritten together with its hash.
        if hash_of(own_prev, at, e) == stored {
            return Err(Break::Altered(at - 1));
        }
        // Sealed elsewhere: its predecessor tells where, or (when that one is gone too)
        // its own hash does, tried over the places after this one.
        let predecessor = lookup(own_prev);
        let sealed_at = |w: &i64| hash_of(own_prev, *w, e) == stored;
        let was = predecessor
            .map(|p| p + 1)
            .filter(sealed_at)
            .or_else(|| (at + 1..=at + BATCH).find(sealed_at));
        Err(match was {
            // Its predecessor is gone and it was renumbered down over the gap.
            Some(w) if predecessor.is_none() && w > at => Break::Missing {
                from: at,
                to: w - 1,
            },
            Some(w) => Break::Moved { at, was: w },
            None => Break::Altered(at),
        })
    }
}

impl Default for Walker {
    fn default() -> Walker {
        Walker::new()
    }
}

/// Recomputes the whole chain, then checks the head and every signed checkpoint against it.
pub fn verify(conn: &mut AnyConnection) -> StoreResult<Result<Verified, Break>> {
    let mut walker = Walker::new();
    let mut after = 0i64;
    loop {
        let batch: Vec<Event> = audit_events::table
            .filter(audit_events::seq.gt(after))
            .order(audit_events::seq)
            .limit(BATCH)
            .select(Event::as_select())
            .load(conn)?;
        let Some(last) = batch.last().and_then(|e| e.seq) else {
            break;
        };
        for e in &batch {
            let mut lookup = |hash: &str| by_hash(conn, hash);
            if let Err(b) = walker.step(e, &mut lookup) {
                return Ok(Err(b));
            }
        }
        after = last;
    }
    let (hash, next) = walker.head();
    let ends_at = next - 1;
    let (head_seq, head_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    if head_seq > ends_at {
        return Ok(Err(Break::Truncated {
            ends_at,
            covered: head_seq,
        }));
    }
    if head_seq != ends_at || head_hash != hash {
        return Ok(Err(Break::Altered(head_seq.max(1))));
    }
    let keys = checkpoint::published(conn)?;
    let checkpoints: Vec<Checkpoint> = audit_checkpoints::table
        .order(audit_checkpoints::seq)
        .select(Checkpoint::as_select())
        .load(conn)?;
    for cp in &checkpoints {
        if cp.seq > ends_at {
            return Ok(Err(Break::Truncated {
                ends_at,
                covered: cp.seq,
            }));
        }
        let at_place: Option<Option<String>> = audit_events::table
            .filter(audit_events::seq.eq(cp.seq))
            .select(audit_events::hash)
            .first(conn)
            .optional()?;
        if !keys.verifies(cp) || at_place.flatten().as_deref() != Some(cp.hash.as_str()) {
            return Ok(Err(Break::Checkpoint(cp.seq)));
        }
    }
    let pending: i64 = audit_events::table
        .filter(audit_events::seq.is_null())
        .count()
        .get_result(conn)?;
    Ok(Ok(Verified {
        events: ends_at,
        pending,
        checkpoints: checkpoints.len() as i64,
    }))
}

fn by_hash(conn: &mut AnyConnection, hash: &str) -> Option<i64> {
    audit_events::table
        .filter(audit_events::hash.eq(hash))
        .select(audit_events::seq)
        .first::<Option<i64>>(conn)
        .ok()
        .flatten()
}
