//! The log and usage writer: one thread that commits records to the
//! telemetry backend in batches, so invocations never wait on it.

use crate::backend::TelemetryBackend;
use crate::records::{InvocationRecord, LogRecord};
use std::sync::Arc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

enum Message {
    Records(Vec<LogRecord>, Vec<InvocationRecord>),
    Flush(oneshot::Sender<()>),
}

/// Most records committed in one transaction.
const MAX_BATCH: usize = 8192;
/// How long the writer waits for more records before committing a batch.
/// Each commit is an fsync; lingering turns a burst of invocations into one
/// commit. A flush (a reader wanting its own writes) ends the wait at once.
const LINGER: Duration = Duration::from_millis(20);

/// Handle to the writer thread.
pub struct WriterHandle {
    tx: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

pub struct LogWriter;

impl LogWriter {
    /// Starts the writer thread.
    /// Starts the writer thread; it runs the backend's futures on the
    /// current Tokio runtime.
    pub fn spawn(backend: Arc<dyn TelemetryBackend>) -> WriterHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Handle::current();
        let thread = std::thread::Builder::new()
            .name("stratus-log-writer".into())
            .spawn(move || run(&runtime, backend, rx))
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

#[derive(Default)]
struct Batch {
    logs: Vec<LogRecord>,
    invocations: Vec<InvocationRecord>,
    waiters: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn add(&mut self, message: Message) {
        match message {
            Message::Records(logs, invocations) => {
                self.logs.extend(logs);
                self.invocations.extend(invocations);
            }
            Message::Flush(done) => self.waiters.push(done),
        }
    }

    fn len(&self) -> usize {
        self.logs.len() + self.invocations.len()
    }

    fn commit(self, runtime: &tokio::runtime::Handle, backend: &dyn TelemetryBackend) {
        let (logs, invocations) = (self.logs.len(), self.invocations.len());
        if logs + invocations > 0
            && let Err(error) = runtime.block_on(backend.append(self.logs, self.invocations))
        {
            tracing::error!(
                error = %crate::error_chain(&error),
                logs,
                invocations,
                "failed to write log records"
            );
        }
        for done in self.waiters {
            let _ = done.send(());
        }
    }
}

fn run(
    runtime: &tokio::runtime::Handle,
    backend: Arc<dyn TelemetryBackend>,
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Batch::default();
        batch.add(first);
        let deadline = Instant::now() + LINGER;
        while batch.len() < MAX_BATCH && batch.waiters.is_empty() {
            match rx.try_recv() {
                Ok(message) => batch.add(message),
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => break,
            }
        }
        batch.commit(runtime, backend.as_ref());
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
