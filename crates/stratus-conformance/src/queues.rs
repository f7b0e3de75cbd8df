//! The queue backend's cases: SQS's semantics with an injected clock.
//!
//! Ported from the intent of `stratus-store`'s `tests/it/queues.rs`,
//! without what is the SQLite store's own (the text of its receipt
//! handles, the handles of earlier builds).

use std::collections::BTreeMap;
use stratus_sqs::ServiceError;
use stratus_sqs::backend::{
    DEDUP_WINDOW_MS, HandleOutcome, NewQueueMessage, QueueBackend, QueueSettings, Redrive,
    StoreError,
};

/// A start time for the cases (14 November 2023).
pub const T0: i64 = 1_700_000_000_000;

fn settings(visibility_timeout_s: u32) -> QueueSettings {
    QueueSettings {
        visibility_timeout_s,
        delay_s: 0,
        retention_s: 345_600,
        content_based_dedup: false,
        redrive: None,
        attributes: BTreeMap::new(),
    }
}

fn message(body: &str) -> NewQueueMessage {
    NewQueueMessage {
        message_id: format!("id-{body}"),
        body: body.to_owned(),
        md5_of_body: format!("md5-{body}"),
        sender: "tester".to_owned(),
        ..NewQueueMessage::default()
    }
}

fn fifo_message(body: &str, group: &str) -> NewQueueMessage {
    NewQueueMessage {
        group_id: Some(group.to_owned()),
        dedup_id: Some(format!("dedup-{body}")),
        ..message(body)
    }
}

fn no_tags() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn create(backend: &dyn QueueBackend, name: &str, settings: &QueueSettings, now_ms: i64) {
    let fifo = name.ends_with(".fifo");
    let (queue, created) = backend
        .create_queue(name, fifo, settings, &no_tags(), now_ms)
        .await
        .expect("create a queue");
    assert!(created, "{name} is new");
    assert_eq!((queue.name.as_str(), queue.fifo), (name, fifo));
}

async fn send(backend: &dyn QueueBackend, queue: &str, messages: &[NewQueueMessage], now_ms: i64) {
    backend
        .send_messages(queue, messages, now_ms)
        .await
        .expect("send");
}

async fn bodies(backend: &dyn QueueBackend, queue: &str, max: usize, now_ms: i64) -> Vec<String> {
    backend
        .receive_messages(queue, max, None, now_ms)
        .await
        .expect("receive")
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect()
}

async fn handles(backend: &dyn QueueBackend, queue: &str, max: usize, now_ms: i64) -> Vec<String> {
    backend
        .receive_messages(queue, max, None, now_ms)
        .await
        .expect("receive")
        .messages
        .into_iter()
        .map(|m| m.receipt_handle)
        .collect()
}

fn not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound(_)))
}

/// A standard queue stores and gives back every field of a message; an
/// empty queue answers nothing; a missing queue is `NotFound`.
pub async fn standard_send_and_receive(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q", &settings(30), t0).await;
    assert!(bodies(backend, "q", 10, t0).await.is_empty());
    let full = NewQueueMessage {
        attributes: Some("{\"k\":1}".into()),
        md5_of_attributes: Some("md5-attributes".into()),
        trace_header: Some("Root=1-a".into()),
        ..message("a")
    };
    let sent = backend
        .send_messages("q", &[full, message("b")], t0)
        .await
        .expect("send");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].message_id.as_str(), sent[0].duplicate),
        ("id-a", false)
    );
    assert_eq!(sent[0].sequence_number, None);
    let got = backend
        .receive_messages("q", 10, None, t0 + 5)
        .await
        .expect("receive");
    assert_eq!((got.moved_to_dlq, got.dlq.as_deref()), (0, None));
    let got = got.messages;
    assert_eq!(got.len(), 2);
    let a = got.iter().find(|m| m.body == "a").expect("a received");
    assert_eq!(a.message_id, "id-a");
    assert_eq!(a.md5_of_body, "md5-a");
    assert_eq!(a.attributes.as_deref(), Some("{\"k\":1}"));
    assert_eq!(a.md5_of_attributes.as_deref(), Some("md5-attributes"));
    assert_eq!(a.sender, "tester");
    assert_eq!(a.sent_ms, t0);
    assert_eq!((a.receive_count, a.first_receive_ms), (1, t0 + 5));
    assert_eq!(a.trace_header.as_deref(), Some("Root=1-a"));
    assert_eq!(
        (a.group_id.as_deref(), a.sequence_number.as_deref()),
        (None, None)
    );
    assert_eq!(a.dead_letter_source, None);
    assert_ne!(got[0].receipt_handle, got[1].receipt_handle);
    let counts = backend.queue_counts("q", t0 + 5).await.expect("counts");
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (0, 2, 0)
    );
    assert!(not_found(
        backend.send_messages("nope", &[message("x")], t0).await
    ));
    assert!(not_found(
        backend.receive_messages("nope", 1, None, t0).await
    ));
    assert!(not_found(backend.queue_counts("nope", t0).await));
}

/// A received message is hidden for the visibility timeout, then comes
/// back with a new handle, its receive count up and its first receive
/// kept.
pub async fn visibility_timeout_hides_received_messages(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q", &settings(30), t0).await;
    send(backend, "q", &[message("a"), message("b")], t0).await;
    let first = backend
        .receive_messages("q", 1, None, t0)
        .await
        .expect("receive");
    assert_eq!(first.messages.len(), 1);
    let m = &first.messages[0];
    assert_eq!(m.receive_count, 1);
    // A standard queue promises no order: the other one is left.
    let other = if m.body == "a" { "b" } else { "a" };
    assert_eq!(bodies(backend, "q", 10, t0 + 1).await, vec![other]);
    assert!(bodies(backend, "q", 10, t0 + 29_999).await.is_empty());
    let counts = backend
        .queue_counts("q", t0 + 29_999)
        .await
        .expect("counts");
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (0, 2, 0)
    );
    assert_eq!(counts.oldest_sent_ms, Some(t0));
    let again = backend
        .receive_messages("q", 1, None, t0 + 30_000)
        .await
        .expect("receive");
    assert_eq!(again.messages[0].body, m.body);
    assert_eq!(again.messages[0].receive_count, 2);
    assert_eq!(again.messages[0].first_receive_ms, t0);
    assert_ne!(again.messages[0].receipt_handle, m.receipt_handle);
}

/// A receive's own visibility timeout overrides the queue's; a
/// visibility change moves it, by any handle of the message, until the
/// message is gone.
pub async fn receive_overrides_visibility_and_change_visibility_moves_it(
    backend: &dyn QueueBackend,
    t0: i64,
) {
    create(backend, "q", &settings(30), t0).await;
    send(backend, "q", &[message("a")], t0).await;
    let got = backend
        .receive_messages("q", 1, Some(5), t0)
        .await
        .expect("receive");
    assert!(bodies(backend, "q", 1, t0 + 4_999).await.is_empty());
    let handle = got.messages[0].receipt_handle.clone();
    assert_eq!(
        backend
            .change_visibility("q", &[(handle.clone(), 60)], t0 + 1_000)
            .await
            .expect("change"),
        vec![HandleOutcome::Done]
    );
    assert!(bodies(backend, "q", 1, t0 + 60_999).await.is_empty());
    assert_eq!(bodies(backend, "q", 1, t0 + 61_000).await, vec!["a"]);
    // Received again: the first handle still changes its visibility (a
    // standard queue); 0 makes it visible now.
    assert_eq!(
        backend
            .change_visibility("q", &[(handle.clone(), 0)], t0 + 61_001)
            .await
            .expect("change"),
        vec![HandleOutcome::Done]
    );
    assert_eq!(bodies(backend, "q", 1, t0 + 61_001).await, vec!["a"]);
    backend
        .delete_messages("q", std::slice::from_ref(&handle), t0 + 61_002)
        .await
        .expect("delete");
    assert_eq!(
        backend
            .change_visibility(
                "q",
                &[(handle, 10), ("garbage".to_string(), 10)],
                t0 + 61_003
            )
            .await
            .expect("change"),
        vec![HandleOutcome::Gone, HandleOutcome::InvalidHandle]
    );
}

/// The queue's delay holds a message back; a message's own delay
/// overrides it.
pub async fn delayed_messages_wait(backend: &dyn QueueBackend, t0: i64) {
    let mut s = settings(30);
    s.delay_s = 10;
    create(backend, "q", &s, t0).await;
    let mut now = message("now");
    now.delay_s = Some(0);
    let mut longer = message("longer");
    longer.delay_s = Some(20);
    send(backend, "q", &[message("later"), now, longer], t0).await;
    let counts = backend.queue_counts("q", t0).await.expect("counts");
    assert_eq!((counts.visible, counts.delayed), (1, 2));
    assert_eq!(bodies(backend, "q", 10, t0 + 9_999).await, vec!["now"]);
    assert_eq!(bodies(backend, "q", 10, t0 + 10_000).await, vec!["later"]);
    assert!(bodies(backend, "q", 10, t0 + 19_999).await.is_empty());
    assert_eq!(bodies(backend, "q", 10, t0 + 20_000).await, vec!["longer"]);
}

/// On a standard queue the handle of an earlier receive still deletes the
/// message, and deleting again is fine; a handle never issued for this
/// queue (another queue's, garbage) is invalid.
pub async fn delete_by_an_old_receipt_handle(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q", &settings(30), t0).await;
    create(backend, "other", &settings(30), t0).await;
    send(backend, "q", &[message("a")], t0).await;
    send(backend, "other", &[message("c")], t0).await;
    let old = handles(backend, "q", 1, t0).await;
    let new = handles(backend, "q", 1, t0 + 30_000).await;
    assert_eq!((old.len(), new.len()), (1, 1));
    assert_ne!(old, new);
    send(backend, "q", &[message("b")], t0 + 30_000).await;
    let foreign = handles(backend, "other", 1, t0).await;
    assert_eq!(foreign.len(), 1);
    assert_eq!(
        backend
            .delete_messages(
                "q",
                &[foreign[0].clone(), "garbage".to_string(), String::new()],
                t0 + 30_001
            )
            .await
            .expect("delete"),
        vec![HandleOutcome::InvalidHandle; 3]
    );
    assert_eq!(
        backend
            .delete_messages("q", &old, t0 + 30_001)
            .await
            .expect("delete"),
        vec![HandleOutcome::Done]
    );
    let both = [new.clone(), old.clone()].concat();
    assert_eq!(
        backend
            .delete_messages("q", &both, t0 + 30_002)
            .await
            .expect("delete"),
        vec![HandleOutcome::Done, HandleOutcome::Done]
    );
    // b comes back, a does not; the other queue's message is untouched.
    assert_eq!(bodies(backend, "q", 10, t0 + 100_000).await, vec!["b"]);
    assert_eq!(bodies(backend, "other", 10, t0 + 100_000).await, vec!["c"]);
    assert!(not_found(backend.delete_messages("nope", &old, t0).await));
}

/// A FIFO queue numbers its messages in growing sequence and gives back
/// the group and deduplication ids.
pub async fn fifo_send_and_receive(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q.fifo", &settings(30), t0).await;
    let sent = backend
        .send_messages(
            "q.fifo",
            &[fifo_message("a", "g1"), fifo_message("b", "g2")],
            t0,
        )
        .await
        .expect("send");
    let sequences: Vec<String> = sent
        .iter()
        .map(|s| s.sequence_number.clone().expect("a sequence number"))
        .collect();
    let later = backend
        .send_messages("q.fifo", &[fifo_message("c", "g1")], t0 + 1)
        .await
        .expect("send");
    let last = later[0].sequence_number.clone().expect("a sequence number");
    let numbers: Vec<u128> = sequences
        .iter()
        .chain(std::iter::once(&last))
        .map(|s| s.parse().expect("a decimal sequence number"))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let got = backend
        .receive_messages("q.fifo", 10, None, t0 + 2)
        .await
        .expect("receive")
        .messages;
    let a = got.iter().find(|m| m.body == "a").expect("a received");
    assert_eq!(a.group_id.as_deref(), Some("g1"));
    assert_eq!(a.dedup_id.as_deref(), Some("dedup-a"));
    assert_eq!(a.sequence_number.as_ref(), Some(&sequences[0]));
    assert!(got.iter().any(|m| m.body == "b"));
}

/// FIFO: in order within a group, and a group with a message in flight
/// gives nothing until that message is deleted or visible again.
pub async fn fifo_group_order_and_group_lock(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q.fifo", &settings(30), t0).await;
    send(
        backend,
        "q.fifo",
        &[
            fifo_message("a1", "a"),
            fifo_message("b1", "b"),
            fifo_message("a2", "a"),
            fifo_message("a3", "a"),
            fifo_message("b2", "b"),
        ],
        t0,
    )
    .await;
    let first = backend
        .receive_messages("q.fifo", 2, None, t0)
        .await
        .expect("receive");
    let first_bodies: Vec<&str> = first.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(first_bodies, vec!["a1", "a2"]);
    assert_eq!(
        bodies(backend, "q.fifo", 10, t0 + 1).await,
        vec!["b1", "b2"]
    );
    assert!(bodies(backend, "q.fifo", 10, t0 + 2).await.is_empty());
    let a1 = first.messages[0].receipt_handle.clone();
    backend
        .delete_messages("q.fifo", &[a1], t0 + 3)
        .await
        .expect("delete");
    assert!(
        bodies(backend, "q.fifo", 10, t0 + 3).await.is_empty(),
        "a2 in flight keeps group a locked"
    );
    let a2 = first.messages[1].receipt_handle.clone();
    backend
        .delete_messages("q.fifo", &[a2], t0 + 4)
        .await
        .expect("delete");
    assert_eq!(bodies(backend, "q.fifo", 10, t0 + 4).await, vec!["a3"]);
    assert_eq!(
        bodies(backend, "q.fifo", 10, t0 + 31_000).await,
        vec!["b1", "b2", "a3"]
    );
}

/// FIFO: a handle is good only for the receive in flight.
pub async fn fifo_handles_expire_with_their_receive(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q.fifo", &settings(30), t0).await;
    send(backend, "q.fifo", &[fifo_message("a", "g")], t0).await;
    let first = handles(backend, "q.fifo", 1, t0).await;
    let first_change = vec![(first[0].clone(), 5)];
    assert_eq!(
        backend
            .delete_messages("q.fifo", &first, t0 + 30_000)
            .await
            .expect("delete"),
        vec![HandleOutcome::Expired]
    );
    assert_eq!(
        backend
            .change_visibility("q.fifo", &first_change, t0 + 30_000)
            .await
            .expect("change"),
        vec![HandleOutcome::Expired]
    );
    let second = handles(backend, "q.fifo", 1, t0 + 30_000).await;
    assert_eq!(
        backend
            .delete_messages("q.fifo", &first, t0 + 30_001)
            .await
            .expect("delete"),
        vec![HandleOutcome::Expired]
    );
    assert_eq!(
        backend
            .change_visibility("q.fifo", &[(second[0].clone(), 100)], t0 + 30_001)
            .await
            .expect("change"),
        vec![HandleOutcome::Done]
    );
    assert_eq!(
        backend
            .delete_messages("q.fifo", &second, t0 + 129_000)
            .await
            .expect("delete"),
        vec![HandleOutcome::Done]
    );
    let counts = backend
        .queue_counts("q.fifo", t0 + 129_000)
        .await
        .expect("counts");
    assert_eq!((counts.visible, counts.in_flight), (0, 0));
}

/// FIFO: a deduplication id seen in the last five minutes answers the
/// original and stores nothing; after the window (swept or not) it is a
/// new message.
pub async fn fifo_deduplicates_within_five_minutes(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q.fifo", &settings(30), t0).await;
    let original = backend
        .send_messages("q.fifo", &[fifo_message("x", "g")], t0)
        .await
        .expect("send");
    assert!(!original[0].duplicate);
    let mut duplicate = fifo_message("x", "g");
    duplicate.message_id = "other".into();
    let dup = backend
        .send_messages(
            "q.fifo",
            std::slice::from_ref(&duplicate),
            t0 + DEDUP_WINDOW_MS - 1,
        )
        .await
        .expect("send");
    assert!(dup[0].duplicate);
    assert_eq!(dup[0].message_id, original[0].message_id);
    assert_eq!(dup[0].sequence_number, original[0].sequence_number);
    // Deduplicated even after the original was received and deleted.
    let got = handles(backend, "q.fifo", 1, t0 + 1).await;
    backend
        .delete_messages("q.fifo", &got, t0 + 2)
        .await
        .expect("delete");
    let again = backend
        .send_messages("q.fifo", std::slice::from_ref(&duplicate), t0 + 3)
        .await
        .expect("send");
    assert!(again[0].duplicate);
    let counts = backend
        .queue_counts("q.fifo", t0 + 3)
        .await
        .expect("counts");
    assert_eq!((counts.visible, counts.in_flight), (0, 0));
    let fresh = backend
        .send_messages(
            "q.fifo",
            std::slice::from_ref(&duplicate),
            t0 + DEDUP_WINDOW_MS,
        )
        .await
        .expect("send");
    assert!(!fresh[0].duplicate);
    assert_eq!(fresh[0].message_id, "other");
    backend
        .sweep_queues(t0 + DEDUP_WINDOW_MS)
        .await
        .expect("sweep");
    let after_sweep = backend
        .send_messages("q.fifo", &[duplicate], t0 + DEDUP_WINDOW_MS + 1)
        .await
        .expect("send");
    assert!(
        after_sweep[0].duplicate,
        "the new message's id is remembered"
    );
    assert_eq!(
        backend
            .queue_counts("q.fifo", t0 + DEDUP_WINDOW_MS + 1)
            .await
            .expect("counts")
            .visible,
        1
    );
}

async fn source_with_dlq(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "dlq", &settings(30), t0).await;
    let mut s = settings(1);
    s.redrive = Some(Redrive {
        dlq: "dlq".into(),
        max_receive_count: 2,
    });
    create(backend, "src", &s, t0).await;
}

/// A message received `maxReceiveCount` times moves to the DLQ at the
/// next receive, keeping its id, sent time and trace header, counting
/// receives afresh and naming its source.
pub async fn redrive_to_the_dlq_at_max_receive_count(backend: &dyn QueueBackend, t0: i64) {
    source_with_dlq(backend, t0).await;
    assert_eq!(
        backend.dead_letter_sources("dlq").await.expect("sources"),
        vec!["src"]
    );
    assert!(
        backend
            .dead_letter_sources("src")
            .await
            .expect("sources")
            .is_empty()
    );
    let poison = NewQueueMessage {
        trace_header: Some("Root=1-a".into()),
        ..message("poison")
    };
    send(backend, "src", &[poison, message("fine")], t0).await;
    assert_eq!(bodies(backend, "src", 1, t0).await, vec!["poison"]);
    let mut second = bodies(backend, "src", 10, t0 + 1_000).await;
    second.sort();
    assert_eq!(second, vec!["fine", "poison"]);
    let third = backend
        .receive_messages("src", 10, None, t0 + 2_000)
        .await
        .expect("receive");
    let left: Vec<&str> = third.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(left, vec!["fine"], "fine was received twice only");
    assert_eq!((third.moved_to_dlq, third.dlq.as_deref()), (1, Some("dlq")));
    let in_dlq = backend
        .receive_messages("dlq", 10, None, t0 + 2_000)
        .await
        .expect("receive the dlq");
    assert_eq!(in_dlq.messages.len(), 1);
    let moved = &in_dlq.messages[0];
    assert_eq!(moved.message_id, "id-poison");
    assert_eq!(moved.receive_count, 1);
    assert_eq!(moved.sent_ms, t0);
    assert_eq!(moved.trace_header.as_deref(), Some("Root=1-a"));
    assert_eq!(moved.dead_letter_source.as_deref(), Some("src"));
    let stats = backend.queue_stats(t0 + 2_000).await.expect("stats");
    let names: Vec<&str> = stats.iter().map(|(q, _)| q.name.as_str()).collect();
    assert_eq!(names, vec!["dlq", "src"]);
    let (src, counts) = &stats[1];
    assert_eq!(
        src.settings.redrive.as_ref().map(|r| r.dlq.as_str()),
        Some("dlq")
    );
    assert_eq!((counts.visible, counts.in_flight), (0, 1));
    assert_eq!(stats[0].1.in_flight, 1);
}

/// A redrive moves visible messages of a DLQ back to where each came
/// from (one without a source stays), or all to a destination, in chunks
/// that go on after the last one looked at.
pub async fn move_messages_back_and_to_a_destination(backend: &dyn QueueBackend, t0: i64) {
    source_with_dlq(backend, t0).await;
    create(backend, "elsewhere", &settings(30), t0).await;
    send(backend, "src", &[message("poison")], t0).await;
    for (n, at) in [t0, t0 + 1_000].into_iter().enumerate() {
        assert_eq!(bodies(backend, "src", 1, at).await.len(), 1, "receive {n}");
    }
    assert_eq!(
        backend
            .receive_messages("src", 1, None, t0 + 2_000)
            .await
            .expect("receive")
            .moved_to_dlq,
        1
    );
    assert_eq!(bodies(backend, "dlq", 1, t0 + 2_000).await, vec!["poison"]);
    send(backend, "dlq", &[message("direct")], t0 + 2_000).await;
    let until = backend.newest_message_id("dlq").await.expect("newest");
    assert!(until.is_some());
    assert_eq!(
        backend
            .newest_message_id("elsewhere")
            .await
            .expect("newest"),
        None
    );
    let none = backend
        .move_messages("dlq", None, 0, until, 100, t0 + 2_001)
        .await
        .expect("move");
    assert_eq!(none.moved, 0, "a message in flight stays");
    let moved = backend
        .move_messages("dlq", None, 0, until, 100, t0 + 40_000)
        .await
        .expect("move");
    assert_eq!(
        (moved.moved, moved.destinations.clone(), moved.last_id),
        (1, vec!["src".to_owned()], until)
    );
    let after = backend
        .move_messages("dlq", None, until.unwrap_or(0), until, 100, t0 + 40_000)
        .await
        .expect("move");
    assert_eq!((after.moved, after.last_id), (0, None));
    let back = backend
        .receive_messages("src", 1, None, t0 + 40_000)
        .await
        .expect("receive");
    assert_eq!(back.messages[0].body, "poison");
    assert_eq!(back.messages[0].receive_count, 1);
    assert_eq!(back.messages[0].dead_letter_source, None);
    // To a destination: everything visible moves, one chunk at a time.
    let until = backend.newest_message_id("dlq").await.expect("newest");
    let chunk = backend
        .move_messages("dlq", Some("elsewhere"), 0, until, 1, t0 + 40_001)
        .await
        .expect("move");
    assert_eq!(
        (chunk.moved, chunk.destinations.clone()),
        (1, vec!["elsewhere".to_owned()])
    );
    assert_eq!(
        bodies(backend, "elsewhere", 10, t0 + 40_002).await,
        vec!["direct"]
    );
    assert!(bodies(backend, "dlq", 10, t0 + 40_002).await.is_empty());
    assert!(not_found(
        backend
            .move_messages("dlq", Some("nope"), 0, None, 100, t0 + 40_000)
            .await
    ));
}

/// Deleting a batch and receiving the next is one call: one outcome per
/// handle, and the next messages.
pub async fn delete_and_receive_is_one_call(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q", &settings(30), t0).await;
    send(
        backend,
        "q",
        &[message("a"), message("b"), message("c")],
        t0,
    )
    .await;
    let received = backend
        .receive_messages("q", 2, None, t0)
        .await
        .expect("receive")
        .messages;
    assert_eq!(received.len(), 2);
    let first: Vec<String> = received.iter().map(|m| m.receipt_handle.clone()).collect();
    // A standard queue promises no order: the third is the one left.
    let last = ["a", "b", "c"]
        .into_iter()
        .find(|body| received.iter().all(|m| m.body != *body))
        .expect("one left");
    let mut batch = first.clone();
    batch.push("garbage".into());
    let (deleted, next) = backend
        .delete_and_receive("q", &batch, 10, Some(5), t0 + 1)
        .await
        .expect("delete and receive");
    assert_eq!(
        deleted,
        vec![
            HandleOutcome::Done,
            HandleOutcome::Done,
            HandleOutcome::InvalidHandle
        ]
    );
    let next_bodies: Vec<&str> = next.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(next_bodies, vec![last]);
    // The receive's own visibility timeout applies.
    assert!(bodies(backend, "q", 10, t0 + 5_000).await.is_empty());
    assert_eq!(bodies(backend, "q", 10, t0 + 5_001).await, vec![last]);
    let counts = backend.queue_counts("q", t0 + 5_001).await.expect("counts");
    assert_eq!((counts.visible, counts.in_flight), (0, 1));
    assert!(not_found(
        backend
            .delete_and_receive("nope", &first, 1, None, t0)
            .await
    ));
}

/// Queues list by prefix and sorted; creating an existing queue changes
/// nothing; a purge empties it; a deleted queue is gone with its
/// messages.
pub async fn purge_list_and_delete_queues(backend: &dyn QueueBackend, t0: i64) {
    for name in ["alps", "alpha", "beta"] {
        create(backend, name, &settings(30), t0).await;
    }
    let (existing, created) = backend
        .create_queue("alpha", false, &settings(99), &no_tags(), t0 + 1)
        .await
        .expect("create again");
    assert!(!created);
    assert_eq!(existing.settings.visibility_timeout_s, 30);
    assert_eq!(existing.created_ms, t0);
    assert_eq!(
        backend.list_queues("al").await.expect("list"),
        vec!["alpha", "alps"]
    );
    assert_eq!(backend.list_queues("").await.expect("list").len(), 3);
    send(backend, "beta", &[message("a"), message("b")], t0).await;
    assert_eq!(handles(backend, "beta", 1, t0).await.len(), 1);
    assert_eq!(backend.purge_queue("beta").await.expect("purge"), 2);
    let counts = backend.queue_counts("beta", t0).await.expect("counts");
    assert_eq!((counts.visible, counts.in_flight), (0, 0));
    assert_eq!(backend.purge_queue("beta").await.expect("purge"), 0);
    send(backend, "beta", &[message("c")], t0).await;
    backend.delete_queue("beta").await.expect("delete");
    assert!(backend.queue("beta").await.expect("read").is_none());
    assert!(not_found(backend.delete_queue("beta").await));
    assert!(not_found(backend.purge_queue("beta").await));
    assert!(not_found(
        backend.send_messages("beta", &[message("a")], t0).await
    ));
    // A new queue of that name starts empty.
    create(backend, "beta", &settings(30), t0 + 2).await;
    assert!(bodies(backend, "beta", 10, t0 + 2).await.is_empty());
}

/// Messages past the retention period are never delivered, and a sweep
/// removes them.
pub async fn retention_sweep_removes_old_messages(backend: &dyn QueueBackend, t0: i64) {
    let mut s = settings(30);
    s.retention_s = 60;
    create(backend, "q", &s, t0).await;
    send(backend, "q", &[message("old")], t0).await;
    send(backend, "q", &[message("new")], t0 + 30_000).await;
    assert_eq!(bodies(backend, "q", 10, t0 + 60_000).await, vec!["new"]);
    assert_eq!(backend.sweep_queues(t0 + 60_000).await.expect("sweep"), 1);
    assert_eq!(backend.sweep_queues(t0 + 60_000).await.expect("sweep"), 0);
    let counts = backend
        .queue_counts("q", t0 + 60_000)
        .await
        .expect("counts");
    assert_eq!((counts.visible, counts.in_flight), (0, 1));
    assert_eq!(counts.oldest_sent_ms, Some(t0 + 30_000));
    // An in-flight message expires too.
    assert_eq!(backend.sweep_queues(t0 + 90_000).await.expect("sweep"), 1);
    assert_eq!(
        backend
            .queue_counts("q", t0 + 90_000)
            .await
            .expect("counts")
            .in_flight,
        0
    );
}

/// Tags: set at creation, added and replaced up to a limit (over it,
/// nothing changes), removed, kept when the queue is created again,
/// deleted with the queue.
pub async fn tags_are_kept_per_queue_up_to_a_limit(backend: &dyn QueueBackend, t0: i64) {
    backend
        .create_queue("q", false, &settings(30), &tags(&[("team", "a")]), t0)
        .await
        .expect("create");
    assert_eq!(
        backend.queue_tags("q").await.expect("tags"),
        tags(&[("team", "a")])
    );
    assert!(
        backend
            .tag_queue("q", &tags(&[("team", "b"), ("env", "")]), 3)
            .await
            .expect("tag")
    );
    assert_eq!(
        backend.queue_tags("q").await.expect("tags"),
        tags(&[("env", ""), ("team", "b")])
    );
    assert!(
        !backend
            .tag_queue("q", &tags(&[("x", "1"), ("y", "2")]), 3)
            .await
            .expect("tag")
    );
    assert_eq!(backend.queue_tags("q").await.expect("tags").len(), 2);
    backend
        .untag_queue("q", &["team".into(), "absent".into()])
        .await
        .expect("untag");
    assert_eq!(
        backend.queue_tags("q").await.expect("tags"),
        tags(&[("env", "")])
    );
    backend
        .create_queue("q", false, &settings(30), &tags(&[("new", "1")]), t0)
        .await
        .expect("create again");
    assert_eq!(
        backend.queue_tags("q").await.expect("tags"),
        tags(&[("env", "")])
    );
    backend.delete_queue("q").await.expect("delete");
    assert!(not_found(backend.queue_tags("q").await));
    assert!(not_found(
        backend.tag_queue("q", &tags(&[("a", "b")]), 3).await
    ));
    assert!(not_found(backend.untag_queue("q", &["a".into()]).await));
    create(backend, "q", &settings(30), t0).await;
    assert!(backend.queue_tags("q").await.expect("tags").is_empty());
}

/// A settings change is computed from the queue inside the call: a
/// refusal changes nothing and comes back; a change is kept with its
/// time.
pub async fn settings_change_in_one_call_or_not_at_all(backend: &dyn QueueBackend, t0: i64) {
    create(backend, "q", &settings(30), t0).await;
    let refused = backend
        .update_queue_settings(
            "q",
            t0 + 1,
            Box::new(|_| Err(ServiceError::invalid("InvalidAttributeValue", "no"))),
        )
        .await
        .expect("update");
    let error = refused.expect_err("refused");
    assert_eq!(
        (error.code, error.message.as_str()),
        ("InvalidAttributeValue", "no")
    );
    let queue = backend.queue("q").await.expect("read").expect("the queue");
    assert_eq!(queue.modified_ms, t0);
    let changed = backend
        .update_queue_settings(
            "q",
            t0 + 2,
            Box::new(|queue| {
                let mut next = queue.settings.clone();
                next.visibility_timeout_s = 5;
                next.attributes.insert("Policy".into(), "{}".into());
                Ok(next)
            }),
        )
        .await
        .expect("update")
        .expect("changed");
    assert_eq!(changed.modified_ms, t0 + 2);
    let read = backend.queue("q").await.expect("read").expect("the queue");
    assert_eq!(read, changed);
    assert_eq!(read.settings.visibility_timeout_s, 5);
    assert_eq!(
        read.settings.attributes.get("Policy").map(String::as_str),
        Some("{}")
    );
    // The new visibility timeout applies to the next receive.
    send(backend, "q", &[message("a")], t0 + 3).await;
    assert_eq!(handles(backend, "q", 1, t0 + 3).await.len(), 1);
    assert_eq!(bodies(backend, "q", 1, t0 + 5_003).await, vec!["a"]);
    assert!(not_found(
        backend
            .update_queue_settings("nope", t0, Box::new(|queue| Ok(queue.settings.clone())))
            .await
    ));
}

/// Move-task documents: one running task per source queue; rewritten
/// while running, ended once; listed newest first; deleted with their
/// queue.
pub async fn move_tasks_one_per_queue_newest_first(backend: &dyn QueueBackend, t0: i64) {
    for name in ["dlq", "other"] {
        create(backend, name, &settings(30), t0).await;
    }
    assert!(
        backend
            .start_move_task("dlq", "t1", t0, "one")
            .await
            .expect("start")
    );
    assert!(
        !backend
            .start_move_task("dlq", "t2", t0 + 1, "two")
            .await
            .expect("start"),
        "one runs already"
    );
    assert!(
        backend
            .start_move_task("other", "t3", t0 + 1, "three")
            .await
            .expect("start")
    );
    assert_eq!(
        backend.running_move_tasks().await.expect("running"),
        vec!["one", "three"]
    );
    assert!(
        backend
            .update_move_task("t1", true, "one, 5 moved")
            .await
            .expect("update")
    );
    assert!(
        backend
            .update_move_task("t1", false, "one, done")
            .await
            .expect("update")
    );
    assert!(
        !backend
            .update_move_task("t1", false, "late")
            .await
            .expect("update"),
        "an ended task stays ended"
    );
    assert!(
        backend
            .start_move_task("dlq", "t2", t0 + 2, "two")
            .await
            .expect("start")
    );
    assert_eq!(
        backend.move_tasks("dlq", 10).await.expect("list"),
        vec!["two", "one, done"]
    );
    assert_eq!(
        backend.move_tasks("dlq", 1).await.expect("list"),
        vec!["two"]
    );
    assert_eq!(
        backend
            .move_task("dlq", "t1")
            .await
            .expect("read")
            .as_deref(),
        Some("one, done")
    );
    assert_eq!(backend.move_task("other", "t1").await.expect("read"), None);
    backend.delete_queue("dlq").await.expect("delete");
    assert!(
        !backend
            .update_move_task("t2", false, "gone")
            .await
            .expect("update")
    );
    assert_eq!(
        backend.running_move_tasks().await.expect("running"),
        vec!["three"]
    );
}
