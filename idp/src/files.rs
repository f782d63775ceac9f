//! Files that hold citizens' data or keys (the SQLite database and its WAL, the outbox,
//! key files): created readable by the owner only, whatever the process's umask, because
//! a umask of 022 would otherwise leave them world-readable.

use std::io::Write;
use std::path::Path;

/// Owner read and write, nothing for group and others.
pub const PRIVATE: u32 = 0o600;

/// Creates the file with mode 0600 if it does not exist (the mode is given at creation,
/// so there is no moment when it is readable by others), and narrows an existing one.
pub fn ensure_private(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(PRIVATE);
    }
    opts.open(path)?;
    restrict(path)
}

/// Sets mode 0600 on an existing file.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes a new file with mode 0600; fails if it exists.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(PRIVATE);
    }
    opts.open(path)?.write_all(bytes)
}

/// Creates a directory (and its parents) with mode 0700 where it is created.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// Whether group or others may read or write the file (always false off Unix).
pub fn readable_by_others(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o077 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_created_and_narrowed_to_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        ensure_private(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let old = dir.path().join("old");
        std::fs::write(&old, b"x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_private(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"x", "contents are kept");
        let w = dir.path().join("w");
        write_new_private(&w, b"k").unwrap();
        assert_eq!(mode(&w), 0o600);
        assert!(!readable_by_others(&std::fs::metadata(&w).unwrap()));
    }
}
