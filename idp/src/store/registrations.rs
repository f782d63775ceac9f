//! Registrations for face sign-in with an identity document, from the citizen's draft to
//! the clerk's decision.

use super::schema::{registration_evidence, registrations};
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

/// Where the citizen registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// On their own device, with a photo of their document.
    Online,
    /// In person, before a clerk who saw the document.
    ServiceCentre,
}

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The document was given; the live capture has not matched it yet.
    Draft,
    /// Waiting for a clerk.
    Pending,
    Approved,
    Rejected,
    /// The citizen cancelled it (or withdrew their consent) before a decision.
    Withdrawn,
}

macro_rules! stored_names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name),+
                }
            }

            pub fn parse(s: &str) -> Option<$ty> {
                Self::ALL.iter().copied().find(|v| v.name() == s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(s: String) -> Result<$ty, String> {
                <$ty>::parse(&s).ok_or_else(|| format!("unknown {}: {s}", stringify!($ty)))
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.name().to_string()
            }
        }
    };
}

stored_names!(Channel {
    Online => "online",
    ServiceCentre => "service_centre",
});

stored_names!(State {
    Draft => "draft",
    Pending => "pending",
    Approved => "approved",
    Rejected => "rejected",
    Withdrawn => "withdrawn",
});

/// The identity document a registration rests on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocumentDetails {
    /// `authenticators::document::DocumentKind` name.
    pub kind: String,
    pub number: String,
    /// ICAO code of the issuing state.
    pub country: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
    /// The holder's date of birth, `YYYY-MM-DD`.
    pub born: String,
    /// Read from the machine-readable zone with every check digit right.
    pub mrz_checked: bool,
}

impl TryFrom<String> for DocumentDetails {
    type Error = serde_json::Error;
    fn try_from(s: String) -> Result<DocumentDetails, serde_json::Error> {
        serde_json::from_str(&s)
    }
}

impl From<DocumentDetails> for String {
    fn from(d: DocumentDetails) -> String {
        serde_json::to_string(&d).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = registrations, treat_none_as_null = true)]
pub struct Registration {
    pub id: String,
    pub user_id: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub channel: Channel,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub state: State,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub document: DocumentDetails,
    /// Cosine of the document's portrait against the live face.
    pub match_score: Option<f32>,
    /// Live captures that did not match the document's portrait.
    pub attempts: i32,
    /// The language the citizen registered in (their notices use it).
    pub locale: String,
    pub created_at: i64,
    pub submitted_at: Option<i64>,
    pub decided_at: Option<i64>,
    /// The clerk's account id.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

/// What a clerk looks at and what becomes the factor, each sealed with the citizen's data
/// key; deleted once the registration is decided, cancelled or dropped.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = registration_evidence, treat_none_as_null = true)]
pub struct Evidence {
    pub registration_id: String,
    pub document_template: Vec<u8>,
    /// JPEG.
    pub document_image: Vec<u8>,
    pub live_template: Option<Vec<u8>>,
    /// JPEG of the live frame the template came from.
    pub face_image: Option<Vec<u8>>,
}

/// How long a draft (document given, no matching live capture yet) is kept.
pub const DRAFT_TTL: i64 = 30 * 60;

pub fn insert(conn: &mut AnyConnection, r: &Registration, e: &Evidence) -> StoreResult<()> {
    diesel::insert_into(registrations::table)
        .values(r.clone())
        .execute(conn)?;
    diesel::insert_into(registration_evidence::table)
        .values(e)
        .execute(conn)?;
    Ok(())
}

/// A registration decided as it was made (in person at a service centre): no evidence.
pub fn insert_decided(conn: &mut AnyConnection, r: &Registration) -> StoreResult<()> {
    diesel::insert_into(registrations::table)
        .values(r.clone())
        .execute(conn)?;
    Ok(())
}

pub fn evidence(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Evidence>> {
    unique!(
        registration_evidence::table
            .find(id)
            .select(Evidence::as_select()),
        conn
    )
}

pub fn save_evidence(conn: &mut AnyConnection, e: &Evidence) -> StoreResult<()> {
    diesel::update(registration_evidence::table.find(&e.registration_id))
        .set(e)
        .execute(conn)?;
    Ok(())
}

/// Destroys what the clerk looked at; returns whether there was any.
pub fn destroy_evidence(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(registration_evidence::table.find(id)).execute(conn)? > 0)
}

/// Writes every field of the registration back.
pub fn save(conn: &mut AnyConnection, r: &Registration) -> StoreResult<()> {
    diesel::update(registrations::table.find(&r.id))
        .set(r.clone())
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Registration>> {
    if !super::searchable(id) {
        return Ok(None);
    }
    unique!(
        registrations::table
            .find(id)
            .select(Registration::as_select()),
        conn
    )
}

/// The registration, with its row locked until the transaction ends (so that two clerks
/// deciding at once do not both decide).
pub fn lock(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Registration>> {
    if !super::searchable(id) {
        return Ok(None);
    }
    // The write lock of SQLite's immediate transactions serialises this already.
    let touched = diesel::update(registrations::table.find(id))
        .set(registrations::id.eq(id))
        .execute(conn)?;
    if touched == 0 {
        return Ok(None);
    }
    find(conn, id)
}

/// The citizen's newest registration in one of `states`.
pub fn latest_of(
    conn: &mut AnyConnection,
    user_id: &str,
    states: &[State],
) -> StoreResult<Option<Registration>> {
    let names: Vec<&str> = states.iter().map(|s| s.name()).collect();
    Ok(registrations::table
        .filter(registrations::user_id.eq(user_id))
        .filter(registrations::state.eq_any(names))
        .order(registrations::created_at.desc())
        .select(Registration::as_select())
        .first(conn)
        .optional()?)
}

/// The citizen's registrations but drafts, newest first.
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<Registration>> {
    Ok(registrations::table
        .filter(registrations::user_id.eq(user_id))
        .filter(registrations::state.ne(State::Draft.name()))
        .order(registrations::created_at.desc())
        .select(Registration::as_select())
        .load(conn)?)
}

/// Registrations in `state` (all but drafts when none is given), oldest submission first,
/// at most `limit`.
pub fn list(
    conn: &mut AnyConnection,
    state: Option<State>,
    limit: i64,
) -> StoreResult<Vec<Registration>> {
    let mut q = registrations::table.into_boxed();
    q = match state {
        Some(s) => q.filter(registrations::state.eq(s.name())),
        None => q.filter(registrations::state.ne(State::Draft.name())),
    };
    Ok(q.order((registrations::submitted_at, registrations::id))
        .limit(limit)
        .select(Registration::as_select())
        .load(conn)?)
}

/// Deletes the citizen's drafts and their evidence; returns how many.
pub fn delete_drafts(conn: &mut AnyConnection, user_id: &str) -> StoreResult<usize> {
    let ids: Vec<String> = registrations::table
        .filter(registrations::user_id.eq(user_id))
        .filter(registrations::state.eq(State::Draft.name()))
        .select(registrations::id)
        .load(conn)?;
    delete(conn, &ids)
}

/// Drafts older than `DRAFT_TTL` (housekeeping), with their evidence.
pub fn purge_drafts(conn: &mut AnyConnection, now: i64) -> StoreResult<usize> {
    let ids: Vec<String> = registrations::table
        .filter(registrations::state.eq(State::Draft.name()))
        .filter(registrations::created_at.lt(now - DRAFT_TTL))
        .select(registrations::id)
        .load(conn)?;
    delete(conn, &ids)
}

fn delete(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<usize> {
    // Explicitly: SQLite enforces the cascade only with foreign keys switched on.
    diesel::delete(
        registration_evidence::table.filter(registration_evidence::registration_id.eq_any(ids)),
    )
    .execute(conn)?;
    Ok(diesel::delete(registrations::table.filter(registrations::id.eq_any(ids))).execute(conn)?)
}
