//! Group commit for SQLite. Connections commit with `synchronous = NORMAL`: a commit writes
//! its pages to the write-ahead log without waiting for the disk, so the write lock is held
//! for microseconds instead of an fsync. Before its answer leaves, every request that wrote
//! waits here until the log is on disk: one request at a time calls fsync on the log file,
//! covering every commit made before that fsync began, and all of them go on. Under load
//! many commits share one fsync; alone, a request pays one fsync, as with
//! `synchronous = FULL`. (SQLite itself orders the log's and the database file's syncs
//! during checkpoints, which `NORMAL` keeps.)

use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

pub struct GroupSync {
    wal: PathBuf,
    state: Mutex<State>,
    synced: Condvar,
}

#[derive(Default)]
struct State {
    /// Tickets handed out: a ticket is taken after its commit.
    taken: u64,
    /// Every ticket up to this one is on disk.
    durable: u64,
    /// An fsync is under way.
    syncing: bool,
}

impl GroupSync {
    /// For the SQLite database at `db_path` (its log is `<db_path>-wal`).
    pub fn new(db_path: &std::path::Path) -> Self {
        GroupSync {
            wal: PathBuf::from(format!("{}-wal", db_path.display())),
            state: Mutex::new(State::default()),
            synced: Condvar::new(),
        }
    }

    /// Returns once every commit made before this call is on disk.
    pub fn wait_durable(&self) -> std::io::Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.taken += 1;
        let ticket = s.taken;
        loop {
            if s.durable >= ticket {
                return Ok(());
            }
            if s.syncing {
                s = self.synced.wait(s).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // This request syncs for everyone who took a ticket so far.
            s.syncing = true;
            let upto = s.taken;
            drop(s);
            let result = self.fsync();
            s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.syncing = false;
            self.synced.notify_all();
            match result {
                Ok(()) => s.durable = s.durable.max(upto),
                // The others try again themselves; this one reports the failure.
                Err(e) => return Err(e),
            }
        }
    }

    /// Returns once no fsync is under way (at once when none is). A batch about to commit
    /// waits here so that the requests arriving meanwhile join it: they would wait for
    /// this fsync to end anyway before their own could begin.
    pub fn wait_idle(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while s.syncing {
            s = self.synced.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Whether an fsync is under way.
    pub fn busy(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).syncing
    }

    /// fsync of the log, opened anew so that a log SQLite recreated is the one synced. No
    /// log means it was checkpointed into the database file, which SQLite synced.
    fn fsync(&self) -> std::io::Result<()> {
        match std::fs::File::open(&self.wal) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_waiters_all_return_and_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.sqlite");
        std::fs::write(format!("{}-wal", db.display()), b"log").unwrap();
        let sync = Arc::new(GroupSync::new(&db));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let sync = sync.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        sync.wait_durable().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = sync.state.lock().unwrap();
        assert_eq!((s.taken, s.durable), (320, 320));
    }
}
