//! SQS's [`QueueBackend`] over the embedded store.

use async_trait::async_trait;
use std::collections::BTreeMap;
use stratus_sqs::ServiceError;
use stratus_sqs::backend::{
    HandleOutcome, MoveOutcome, NewQueueMessage, QueueBackend, QueueCounts, QueueInfo,
    QueueSettings, ReceiveOutcome, SendOutcome, SettingsChange, StoreError,
};

sqlite_backend! {
    /// SQS's queues in the embedded SQLite store; cheap to clone.
    SqliteQueues
}

#[async_trait]
impl QueueBackend for SqliteQueues {
    async fn create_queue(
        &self,
        name: &str,
        fifo: bool,
        settings: &QueueSettings,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<(QueueInfo, bool), StoreError> {
        let (name, settings, tags) = (name.to_string(), settings.clone(), tags.clone());
        self.run("creating a queue", move |store| {
            store.create_queue_tagged(&name, fifo, &settings, &tags, now_ms)
        })
        .await
    }

    async fn queue(&self, name: &str) -> Result<Option<QueueInfo>, StoreError> {
        let name = name.to_string();
        self.run("reading a queue", move |store| store.queue(&name))
            .await
    }

    async fn list_queues(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let prefix = prefix.to_string();
        self.run("listing queues", move |store| store.list_queues(&prefix))
            .await
    }

    async fn delete_queue(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.run("deleting a queue", move |store| store.delete_queue(&name))
            .await
    }

    async fn update_queue_settings(
        &self,
        name: &str,
        now_ms: i64,
        change: SettingsChange,
    ) -> Result<Result<QueueInfo, ServiceError>, StoreError> {
        let name = name.to_string();
        self.run("changing a queue", move |store| {
            store.update_queue_settings(&name, now_ms, change)
        })
        .await
    }

    async fn queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let name = name.to_string();
        self.run("reading queue tags", move |store| store.queue_tags(&name))
            .await
    }

    async fn tag_queue(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
        max_tags: usize,
    ) -> Result<bool, StoreError> {
        let (name, tags) = (name.to_string(), tags.clone());
        self.run("tagging a queue", move |store| {
            store.tag_queue(&name, &tags, max_tags)
        })
        .await
    }

    async fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), StoreError> {
        let (name, keys) = (name.to_string(), keys.to_vec());
        self.run("untagging a queue", move |store| {
            store.untag_queue(&name, &keys)
        })
        .await
    }

    async fn send_messages(
        &self,
        name: &str,
        messages: &[NewQueueMessage],
        now_ms: i64,
    ) -> Result<Vec<SendOutcome>, StoreError> {
        let (name, messages) = (name.to_string(), messages.to_vec());
        self.run("sending messages", move |store| {
            store.send_messages(&name, &messages, now_ms)
        })
        .await
    }

    async fn receive_messages(
        &self,
        name: &str,
        max: usize,
        visibility_timeout_s: Option<u32>,
        now_ms: i64,
    ) -> Result<ReceiveOutcome, StoreError> {
        let name = name.to_string();
        self.run("receiving messages", move |store| {
            store.receive_messages(&name, max, visibility_timeout_s, now_ms)
        })
        .await
    }

    async fn delete_and_receive(
        &self,
        name: &str,
        handles: &[String],
        max: usize,
        visibility_timeout_s: Option<u32>,
        now_ms: i64,
    ) -> Result<(Vec<HandleOutcome>, ReceiveOutcome), StoreError> {
        let (name, handles) = (name.to_string(), handles.to_vec());
        self.run("deleting and receiving messages", move |store| {
            let handles: Vec<&str> = handles.iter().map(String::as_str).collect();
            store.delete_and_receive(&name, &handles, max, visibility_timeout_s, now_ms)
        })
        .await
    }

    async fn delete_messages(
        &self,
        name: &str,
        handles: &[String],
        now_ms: i64,
    ) -> Result<Vec<HandleOutcome>, StoreError> {
        let (name, handles) = (name.to_string(), handles.to_vec());
        self.run("deleting messages", move |store| {
            let handles: Vec<&str> = handles.iter().map(String::as_str).collect();
            store.delete_messages(&name, &handles, now_ms)
        })
        .await
    }

    async fn change_visibility(
        &self,
        name: &str,
        entries: &[(String, u32)],
        now_ms: i64,
    ) -> Result<Vec<HandleOutcome>, StoreError> {
        let (name, entries) = (name.to_string(), entries.to_vec());
        self.run("changing visibility", move |store| {
            let entries: Vec<(&str, u32)> = entries
                .iter()
                .map(|(handle, secs)| (handle.as_str(), *secs))
                .collect();
            store.change_visibility(&name, &entries, now_ms)
        })
        .await
    }

    async fn purge_queue(&self, name: &str) -> Result<u64, StoreError> {
        let name = name.to_string();
        self.run("purging a queue", move |store| store.purge_queue(&name))
            .await
    }

    async fn queue_counts(&self, name: &str, now_ms: i64) -> Result<QueueCounts, StoreError> {
        let name = name.to_string();
        self.run("counting a queue's messages", move |store| {
            store.queue_counts(&name, now_ms)
        })
        .await
    }

    async fn queue_stats(&self, now_ms: i64) -> Result<Vec<(QueueInfo, QueueCounts)>, StoreError> {
        self.run("reading queue statistics", move |store| {
            store.queue_stats(now_ms)
        })
        .await
    }

    async fn dead_letter_sources(&self, dlq: &str) -> Result<Vec<String>, StoreError> {
        let dlq = dlq.to_string();
        self.run("listing dead-letter sources", move |store| {
            store.dead_letter_sources(&dlq)
        })
        .await
    }

    async fn newest_message_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let name = name.to_string();
        self.run("reading a queue's newest message", move |store| {
            store.newest_message_id(&name)
        })
        .await
    }

    async fn move_messages(
        &self,
        from: &str,
        to: Option<&str>,
        after_id: i64,
        until_id: Option<i64>,
        limit: usize,
        now_ms: i64,
    ) -> Result<MoveOutcome, StoreError> {
        let (from, to) = (from.to_string(), to.map(str::to_string));
        self.run("moving messages", move |store| {
            store.move_messages(&from, to.as_deref(), after_id, until_id, limit, now_ms)
        })
        .await
    }

    async fn start_move_task(
        &self,
        source: &str,
        task_id: &str,
        started_ms: i64,
        document: &str,
    ) -> Result<bool, StoreError> {
        let (source, task_id, document) = (
            source.to_string(),
            task_id.to_string(),
            document.to_string(),
        );
        self.run("starting a move task", move |store| {
            store.start_move_task(&source, &task_id, started_ms, &document)
        })
        .await
    }

    async fn update_move_task(
        &self,
        task_id: &str,
        running: bool,
        document: &str,
    ) -> Result<bool, StoreError> {
        let (task_id, document) = (task_id.to_string(), document.to_string());
        self.run("saving a move task", move |store| {
            store.update_move_task(&task_id, running, &document)
        })
        .await
    }

    async fn move_tasks(&self, source: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let source = source.to_string();
        self.run("listing move tasks", move |store| {
            store.move_tasks(&source, limit)
        })
        .await
    }

    async fn move_task(&self, source: &str, task_id: &str) -> Result<Option<String>, StoreError> {
        let (source, task_id) = (source.to_string(), task_id.to_string());
        self.run("reading a move task", move |store| {
            store.move_task(&source, &task_id)
        })
        .await
    }

    async fn running_move_tasks(&self) -> Result<Vec<String>, StoreError> {
        self.run("reading running move tasks", |store| {
            store.running_move_tasks()
        })
        .await
    }

    async fn sweep_queues(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.run("sweeping expired messages", move |store| {
            store.sweep_queues(now_ms)
        })
        .await
    }
}
