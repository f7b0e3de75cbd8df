//! The log and usage writer: one thread that commits records to the store in
//! batches, so invocations never wait on SQLite.

use std::sync::Mutex;
use std::thread::JoinHandle;
use stratus_store::{InvocationRecord, LogRecord, Store};
use tokio::sync::{mpsc, oneshot};

enum Message {
    Records(Vec<LogRecord>, Vec<InvocationRecord>),
    Flush(oneshot::Sender<()>),
}

/// Most records committed in one transaction.
const MAX_BATCH: usize = 4096;

/// Handle to the writer thread.
pub struct WriterHandle {
    tx: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

pub struct LogWriter;

impl LogWriter {
    /// Starts the writer thread.
    pub fn spawn(store: Store) -> WriterHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("stratus-log-writer".into())
            .spawn(move || run(store, rx))
            .ok();
        if thread.is_none() {
            tracing::error!("could not start the log writer thread; logs will not be kept");
        }
        WriterHandle {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(thread),
        }
    }
}

fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Message>) {
    while let Some(first) = rx.blocking_recv() {
        let mut logs = Vec::new();
        let mut invocations = Vec::new();
        let mut waiters = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Records(l, i) => {
                    logs.extend(l);
                    invocations.extend(i);
                }
                Message::Flush(done) => waiters.push(done),
            }
            if logs.len() + invocations.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !(logs.is_empty() && invocations.is_empty())
            && let Err(error) = store.append(&logs, &invocations)
        {
            tracing::error!(
                error = %crate::error_chain(&error),
                logs = logs.len(),
                invocations = invocations.len(),
                "failed to write log records"
            );
        }
        for done in waiters {
            let _ = done.send(());
        }
    }
}

impl WriterHandle {
    /// Queues records; never blocks.
    pub fn send(&self, logs: Vec<LogRecord>, invocations: Vec<InvocationRecord>) {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = guard.as_ref()
            && tx.send(Message::Records(logs, invocations)).is_err()
        {
            tracing::warn!("log writer has stopped; records dropped");
        }
    }

    /// Resolves once everything queued before the call is committed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        {
            let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            match guard.as_ref() {
                Some(tx) if tx.send(Message::Flush(done)).is_ok() => {}
                _ => return,
            }
        }
        let _ = wait.await;
    }

    /// Closes the queue and waits for the thread to commit what is left.
    pub fn close_and_join(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}
