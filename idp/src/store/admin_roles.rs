//! Administrative roles held by accounts (`admin::roles` gives them meaning).

use super::schema::admin_roles;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_roles)]
pub struct RoleRow {
    pub user_id: String,
    pub role: String,
    pub granted_at: i64,
}

/// Adds a role; false when the account held it already.
pub fn insert(conn: &mut AnyConnection, row: &RoleRow) -> StoreResult<bool> {
    let held = admin_roles::table
        .find((&row.user_id, &row.role))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if held {
        return Ok(false);
    }
    diesel::insert_into(admin_roles::table)
        .values(row)
        .execute(conn)?;
    Ok(true)
}

/// Removes a role; false when the account did not hold it.
pub fn delete(conn: &mut AnyConnection, user_id: &str, role: &str) -> StoreResult<bool> {
    Ok(diesel::delete(admin_roles::table.find((user_id, role))).execute(conn)? > 0)
}

/// The names of the roles an account holds, sorted.
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<String>> {
    Ok(admin_roles::table
        .filter(admin_roles::user_id.eq(user_id))
        .order(admin_roles::role)
        .select(admin_roles::role)
        .load(conn)?)
}
