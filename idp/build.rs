//! The migrations are embedded (`store::SQLITE_MIGRATIONS`): a migration added to
//! `migrations/` rebuilds the crate, not only a changed one.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
