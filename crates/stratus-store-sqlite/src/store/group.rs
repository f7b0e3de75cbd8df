//! Group commit: small writes that arrive together (queue sends, receives
//! and deletes from many connections and pollers) share one transaction and
//! one fsync. A thread takes every job waiting, runs each in its own
//! savepoint (a failing job rolls back alone), commits once, and only then
//! answers each caller — so an `Ok` is still durable when it returns.

use rusqlite::{Transaction, TransactionBehavior};
use std::sync::mpsc;
use std::sync::{Arc, Weak};

use crate::store::error::SqlContext;
use crate::store::{Inner, StoreError};

/// Jobs per transaction at most.
const MAX_GROUP: usize = 256;

/// Runs a job inside the group's transaction and returns what answers its
/// caller once the group's commit is known.
pub(crate) type Job = Box<dyn FnOnce(&Transaction<'_>) -> Reply + Send>;
/// Answers a caller with the commit's outcome.
pub(crate) type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Starts the group-commit thread for `inner`; it ends when the store is
/// dropped (the job channel closes).
pub(crate) fn spawn(inner: Weak<Inner>, jobs: mpsc::Receiver<Job>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("stratus-store-group".into())
        .spawn(move || {
            while let Ok(first) = jobs.recv() {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match jobs.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                let Some(inner) = inner.upgrade() else { return };
                run_group(&inner, group);
            }
        })
        .map(|_| ())
}

fn run_group(inner: &Arc<Inner>, group: Vec<Job>) {
    let mut conn = inner
        .writer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => {
            // Nothing ran; dropping the jobs tells each caller so.
            tracing::error!(%error, jobs = group.len(), "could not start a grouped transaction");
            drop(group);
            return;
        }
    };
    let mut replies = Vec::with_capacity(group.len());
    for job in group {
        // A panicking write must not take the thread (and every later
        // write) down: its savepoint is rolled back and its caller told.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&tx))) {
            Ok(reply) => replies.push(reply),
            Err(_) => {
                tracing::error!("a grouped write panicked; it was rolled back");
                let _ = tx.execute_batch("ROLLBACK TO grouped_job; RELEASE grouped_job");
            }
        }
    }
    let outcome = tx
        .commit()
        .map_err(|e| format!("committing grouped writes: {e}"));
    for reply in replies {
        reply(outcome.clone());
    }
}

/// Runs `f` in the next group's transaction (in a savepoint of its own) and
/// returns its result once the group committed. A dropped job (the group
/// could not start) answers `Internal`-like store errors.
pub(crate) fn run<T: Send + 'static>(
    sender: &mpsc::Sender<Job>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (answer, answered) = mpsc::sync_channel::<Result<T, StoreError>>(1);
    let job: Job = Box::new(move |tx| {
        let result = savepoint(tx, f);
        Box::new(move |committed: Result<(), String>| {
            let result = match committed {
                Ok(()) => result,
                Err(message) => Err(StoreError::Corrupt(message)),
            };
            let _ = answer.send(result);
        })
    });
    if sender.send(job).is_err() {
        return Err(StoreError::Corrupt("the store's writer has stopped".into()));
    }
    answered
        .recv()
        .unwrap_or_else(|_| Err(StoreError::Corrupt("the grouped write was not run".into())))
}

fn savepoint<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    tx.execute_batch("SAVEPOINT grouped_job")
        .sql("starting a grouped write")?;
    match f(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE grouped_job")
                .sql("finishing a grouped write")?;
            Ok(value)
        }
        Err(error) => {
            let _ = tx.execute_batch("ROLLBACK TO grouped_job; RELEASE grouped_job");
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, StoreError};

    #[test]
    fn writes_share_commits_and_fail_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store
            .grouped(|tx| {
                tx.execute_batch("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")
                    .map_err(|e| StoreError::Invalid(e.to_string()))
            })
            .expect("create");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store.grouped(move |tx| {
                        // Every other write fails (a duplicate) and must
                        // roll back alone.
                        tx.execute("INSERT INTO t (v) VALUES (?1)", [i % 4])
                            .map_err(|e| StoreError::Conflict(e.to_string()))
                    })
                })
            })
            .collect();
        let results: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("join"))
            .collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
        // A panicking write is rolled back and later writes still work.
        let panicked = store.grouped(|tx| -> Result<(), StoreError> {
            tx.execute("INSERT INTO t (v) VALUES (100)", [])
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            panic!("boom")
        });
        assert!(panicked.is_err());
        let count: i64 = store
            .grouped(|tx| {
                tx.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
                    .map_err(|e| StoreError::Invalid(e.to_string()))
            })
            .expect("count");
        assert_eq!(count, 4, "the failed and the panicked writes left nothing");
    }
}
