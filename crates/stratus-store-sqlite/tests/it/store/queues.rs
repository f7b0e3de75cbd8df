//! Queues (SQS semantics) in the store, with an injected clock.

use std::collections::BTreeMap;

use stratus_sqs::backend::{
    DEDUP_WINDOW_MS, HandleOutcome, NewQueueMessage, QueueSettings, Redrive,
};
use stratus_store_sqlite::Store;

use super::store;

const T0: i64 = 1_700_000_000_000;

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
        md5_of_body: "md5".to_owned(),
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

fn bodies(store: &Store, queue: &str, max: usize, now_ms: i64) -> Vec<String> {
    store
        .receive_messages(queue, max, None, now_ms)
        .expect("receive")
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect()
}

#[test]
fn visibility_timeout_hides_received_messages_until_it_ends() {
    let (_dir, store) = store();
    store
        .create_queue("q", false, &settings(30), T0)
        .expect("create");
    store
        .send_messages("q", &[message("a"), message("b")], T0)
        .expect("send");
    let first = store.receive_messages("q", 1, None, T0).expect("receive");
    assert_eq!(first.messages.len(), 1);
    let m = &first.messages[0];
    assert_eq!((m.body.as_str(), m.receive_count), ("a", 1));
    assert_eq!(bodies(&store, "q", 10, T0 + 1), vec!["b"]);
    assert!(bodies(&store, "q", 10, T0 + 29_999).is_empty());
    let counts = store.queue_counts("q", T0 + 29_999).expect("counts");
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (0, 2, 0)
    );
    assert_eq!(counts.oldest_sent_ms, Some(T0));

    // Visible again at 30 s, with a new handle.
    let again = store
        .receive_messages("q", 1, None, T0 + 30_000)
        .expect("receive");
    assert_eq!(again.messages[0].body, "a");
    assert_eq!(again.messages[0].receive_count, 2);
    assert_eq!(again.messages[0].first_receive_ms, T0);
    assert_ne!(again.messages[0].receipt_handle, m.receipt_handle);
    // A handle never issued (a later receive, another token, another
    // queue's) is invalid, and so is garbage.
    let forged = forge(&again.messages[0].receipt_handle, |parts| {
        parts[3] = "3".into();
    });
    let other_token = forge(&again.messages[0].receipt_handle, |parts| {
        parts[4] = "00000000000000aa".into();
    });
    let other_queue = forge(&again.messages[0].receipt_handle, |parts| {
        parts[1] = "999".into();
    });
    assert_eq!(
        store
            .delete_messages(
                "q",
                &[&forged, &other_token, &other_queue, "garbage"],
                T0 + 30_001
            )
            .expect("delete"),
        vec![HandleOutcome::InvalidHandle; 4]
    );
    // As on SQS, the first receive's handle still deletes the message.
    assert_eq!(
        store
            .delete_messages("q", &[m.receipt_handle.as_str()], T0 + 30_001)
            .expect("delete"),
        vec![HandleOutcome::Done]
    );
    // Deleting again, by either handle, is fine: the message is gone.
    let handle = again.messages[0].receipt_handle.as_str();
    assert_eq!(
        store
            .delete_messages("q", &[handle, m.receipt_handle.as_str()], T0 + 30_002)
            .expect("delete"),
        vec![HandleOutcome::Done, HandleOutcome::Done]
    );
    assert_eq!(bodies(&store, "q", 10, T0 + 100_000), vec!["b"]);
}

/// `handle` with some of its parts (`stratus`, queue, row, receive, token)
/// changed.
fn forge(handle: &str, change: impl FnOnce(&mut Vec<String>)) -> String {
    let text = String::from_utf8(hex_decode(handle)).expect("a text handle");
    let mut parts: Vec<String> = text.split(':').map(str::to_string).collect();
    assert_eq!(parts.len(), 5, "{text}");
    change(&mut parts);
    hex_encode(parts.join(":").as_bytes())
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_receive_overrides_the_visibility_timeout_and_change_visibility_moves_it() {
    let (_dir, store) = store();
    store
        .create_queue("q", false, &settings(30), T0)
        .expect("create");
    store.send_messages("q", &[message("a")], T0).expect("send");
    let got = store
        .receive_messages("q", 1, Some(5), T0)
        .expect("receive");
    assert!(bodies(&store, "q", 1, T0 + 4_999).is_empty());
    let handle = got.messages[0].receipt_handle.as_str();
    assert_eq!(
        store
            .change_visibility("q", &[(handle, 60)], T0 + 1_000)
            .expect("change"),
        vec![HandleOutcome::Done]
    );
    assert!(bodies(&store, "q", 1, T0 + 60_999).is_empty());
    assert_eq!(bodies(&store, "q", 1, T0 + 61_000), vec!["a"]);
    // Received again (for 30 s): the first handle still changes the
    // message's visibility, as on SQS; 0 makes it visible now.
    assert_eq!(
        store
            .change_visibility("q", &[(handle, 0)], T0 + 61_001)
            .expect("change"),
        vec![HandleOutcome::Done]
    );
    assert_eq!(bodies(&store, "q", 1, T0 + 61_001), vec!["a"]);
    // Once deleted, the message is gone for a visibility change.
    store
        .delete_messages("q", &[handle], T0 + 61_002)
        .expect("delete");
    assert_eq!(
        store
            .change_visibility("q", &[(handle, 10), ("garbage", 10)], T0 + 61_003)
            .expect("change"),
        vec![HandleOutcome::Gone, HandleOutcome::InvalidHandle]
    );
}

#[test]
fn fifo_handles_expire_with_their_receive() {
    let (_dir, store) = store();
    store
        .create_queue("q.fifo", true, &settings(30), T0)
        .expect("create");
    store
        .send_messages("q.fifo", &[fifo_message("a", "g")], T0)
        .expect("send");
    let first = store
        .receive_messages("q.fifo", 1, None, T0)
        .expect("receive")
        .messages[0]
        .receipt_handle
        .clone();
    // Visible again at 30 s: the handle has expired, for a delete and for
    // a visibility change.
    assert_eq!(
        store
            .delete_messages("q.fifo", &[first.as_str()], T0 + 30_000)
            .expect("delete"),
        vec![HandleOutcome::Expired]
    );
    assert_eq!(
        store
            .change_visibility("q.fifo", &[(first.as_str(), 5)], T0 + 30_000)
            .expect("change"),
        vec![HandleOutcome::Expired]
    );
    let second = store
        .receive_messages("q.fifo", 1, None, T0 + 30_000)
        .expect("receive")
        .messages[0]
        .receipt_handle
        .clone();
    assert_eq!(
        store
            .delete_messages("q.fifo", &[first.as_str()], T0 + 30_001)
            .expect("delete"),
        vec![HandleOutcome::Expired]
    );
    assert_eq!(
        store
            .change_visibility("q.fifo", &[(second.as_str(), 100)], T0 + 30_001)
            .expect("change"),
        vec![HandleOutcome::Done]
    );
    assert_eq!(
        store
            .delete_messages("q.fifo", &[second.as_str()], T0 + 129_000)
            .expect("delete"),
        vec![HandleOutcome::Done]
    );
    assert_eq!(store.queue_counts("q.fifo", T0).expect("counts").visible, 0);
}

#[test]
fn a_handle_of_an_earlier_build_names_the_latest_receive() {
    let (_dir, store) = store();
    store
        .create_queue("q", false, &settings(30), T0)
        .expect("create");
    store.send_messages("q", &[message("a")], T0).expect("send");
    let handle = store
        .receive_messages("q", 1, None, T0)
        .expect("receive")
        .messages[0]
        .receipt_handle
        .clone();
    // `stratus:QUEUE:ROW:TOKEN`, without the receive.
    let text = String::from_utf8(hex_decode(&handle)).expect("text");
    let parts: Vec<&str> = text.split(':').collect();
    let legacy = hex_encode(format!("stratus:{}:{}:{}", parts[1], parts[2], parts[4]).as_bytes());
    assert_eq!(
        store
            .change_visibility("q", &[(legacy.as_str(), 0)], T0 + 1)
            .expect("change"),
        vec![HandleOutcome::Done]
    );
    assert_eq!(
        store
            .delete_messages("q", &[legacy.as_str()], T0 + 2)
            .expect("delete"),
        vec![HandleOutcome::Done]
    );
    assert!(bodies(&store, "q", 10, T0 + 3).is_empty());
}

#[test]
fn delayed_messages_wait() {
    let (_dir, store) = store();
    let mut s = settings(30);
    s.delay_s = 10;
    store.create_queue("q", false, &s, T0).expect("create");
    let mut now = message("now");
    now.delay_s = Some(0);
    store
        .send_messages("q", &[message("later"), now], T0)
        .expect("send");
    let counts = store.queue_counts("q", T0).expect("counts");
    assert_eq!((counts.visible, counts.delayed), (1, 1));
    assert_eq!(bodies(&store, "q", 10, T0 + 9_999), vec!["now"]);
    assert_eq!(bodies(&store, "q", 10, T0 + 10_000), vec!["later"]);
}

#[test]
fn fifo_keeps_order_within_a_group_and_locks_a_group_in_flight() {
    let (_dir, store) = store();
    store
        .create_queue("q.fifo", true, &settings(30), T0)
        .expect("create");
    let sent = store
        .send_messages(
            "q.fifo",
            &[
                fifo_message("a1", "a"),
                fifo_message("b1", "b"),
                fifo_message("a2", "a"),
                fifo_message("a3", "a"),
                fifo_message("b2", "b"),
            ],
            T0,
        )
        .expect("send");
    let sequences: Vec<String> = sent
        .iter()
        .filter_map(|s| s.sequence_number.clone())
        .collect();
    assert_eq!(sequences.len(), 5);
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");

    // Group a's first two, then group b is next; a is locked while a1/a2 are in flight.
    let first = store
        .receive_messages("q.fifo", 2, None, T0)
        .expect("receive");
    let first_bodies: Vec<&str> = first.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(first_bodies, vec!["a1", "a2"]);
    assert_eq!(bodies(&store, "q.fifo", 10, T0 + 1), vec!["b1", "b2"]);
    assert!(bodies(&store, "q.fifo", 10, T0 + 2).is_empty());
    // Deleting a1 leaves a2 in flight: a stays locked.
    let a1 = first.messages[0].receipt_handle.as_str();
    store
        .delete_messages("q.fifo", &[a1], T0 + 3)
        .expect("delete");
    assert!(bodies(&store, "q.fifo", 10, T0 + 3).is_empty());
    let a2 = first.messages[1].receipt_handle.as_str();
    store
        .delete_messages("q.fifo", &[a2], T0 + 4)
        .expect("delete");
    assert_eq!(bodies(&store, "q.fifo", 10, T0 + 4), vec!["a3"]);
    // b1 and b2 come back in order when their visibility ends.
    let again = bodies(&store, "q.fifo", 10, T0 + 31_000);
    assert_eq!(again, vec!["b1", "b2", "a3"]);
}

#[test]
fn fifo_deduplicates_within_five_minutes() {
    let (_dir, store) = store();
    store
        .create_queue("q.fifo", true, &settings(30), T0)
        .expect("create");
    let original = store
        .send_messages("q.fifo", &[fifo_message("x", "g")], T0)
        .expect("send");
    let mut duplicate = fifo_message("x", "g");
    duplicate.message_id = "other".into();
    let dup = store
        .send_messages("q.fifo", &[duplicate.clone()], T0 + DEDUP_WINDOW_MS - 1)
        .expect("send");
    assert!(dup[0].duplicate);
    assert_eq!(dup[0].message_id, original[0].message_id);
    assert_eq!(dup[0].sequence_number, original[0].sequence_number);
    assert_eq!(store.queue_counts("q.fifo", T0).expect("counts").visible, 1);
    // Past the window (swept or not) it is a new message.
    let fresh = store
        .send_messages("q.fifo", &[duplicate], T0 + DEDUP_WINDOW_MS)
        .expect("send");
    assert!(!fresh[0].duplicate);
    assert_eq!(fresh[0].message_id, "other");
    store.sweep_queues(T0 + DEDUP_WINDOW_MS).expect("sweep");
    assert_eq!(
        store
            .queue_counts("q.fifo", T0 + DEDUP_WINDOW_MS)
            .expect("counts")
            .visible,
        2
    );
}

#[test]
fn messages_move_to_the_dlq_after_max_receive_count_and_redrive_back() {
    let (_dir, store) = store();
    store
        .create_queue("dlq", false, &settings(30), T0)
        .expect("create dlq");
    let mut s = settings(1);
    s.redrive = Some(Redrive {
        dlq: "dlq".into(),
        max_receive_count: 2,
    });
    store
        .create_queue("src", false, &s, T0)
        .expect("create src");
    assert_eq!(
        store.dead_letter_sources("dlq").expect("sources"),
        vec!["src"]
    );
    let poison = NewQueueMessage {
        trace_header: Some("Root=1-a".into()),
        ..message("poison")
    };
    store.send_messages("src", &[poison], T0).expect("send");
    assert_eq!(bodies(&store, "src", 1, T0), vec!["poison"]);
    assert_eq!(bodies(&store, "src", 1, T0 + 1_000), vec!["poison"]);
    let third = store
        .receive_messages("src", 1, None, T0 + 2_000)
        .expect("receive");
    assert!(third.messages.is_empty());
    assert_eq!((third.moved_to_dlq, third.dlq.as_deref()), (1, Some("dlq")));
    let in_dlq = store
        .receive_messages("dlq", 1, None, T0 + 2_000)
        .expect("receive dlq");
    assert_eq!(in_dlq.messages[0].message_id, "id-poison");
    assert_eq!(in_dlq.messages[0].receive_count, 1);
    assert_eq!(in_dlq.messages[0].sent_ms, T0);
    assert_eq!(in_dlq.messages[0].trace_header.as_deref(), Some("Root=1-a"));
    assert_eq!(
        in_dlq.messages[0].dead_letter_source.as_deref(),
        Some("src")
    );
    // A message sent to the DLQ itself has no source to go back to.
    store
        .send_messages("dlq", &[message("direct")], T0 + 2_000)
        .expect("send to the dlq");
    let until = store.newest_message_id("dlq").expect("newest");
    assert!(until.is_some());

    // Redrive back to the source once it is visible in the DLQ again.
    let none = store
        .move_messages("dlq", None, 0, until, 100, T0 + 2_001)
        .expect("move");
    assert_eq!(none.moved, 0, "in flight messages stay");
    let moved = store
        .move_messages("dlq", None, 0, until, 100, T0 + 40_000)
        .expect("move");
    assert_eq!(
        (moved.moved, moved.destinations.clone(), moved.last_id),
        (1, vec!["src".to_owned()], until)
    );
    // Going on after the last one looked at finds nothing more.
    let after = store
        .move_messages("dlq", None, until.unwrap_or(0), until, 100, T0 + 40_000)
        .expect("move");
    assert_eq!((after.moved, after.last_id), (0, None));
    let back = store
        .receive_messages("src", 1, None, T0 + 40_000)
        .expect("receive");
    assert_eq!(back.messages[0].receive_count, 1);
    assert_eq!(back.messages[0].trace_header.as_deref(), Some("Root=1-a"));
    assert_eq!(back.messages[0].dead_letter_source, None);
    assert_eq!(
        bodies(&store, "dlq", 10, T0 + 40_000),
        vec!["direct"],
        "a message without a source stays"
    );
    // A missing destination is NotFound.
    assert!(matches!(
        store.move_messages("dlq", Some("nope"), 0, None, 100, T0 + 40_000),
        Err(stratus_store_sqlite::StoreError::NotFound(_))
    ));
}

#[test]
fn retention_removes_old_messages() {
    let (_dir, store) = store();
    let mut s = settings(30);
    s.retention_s = 60;
    store.create_queue("q", false, &s, T0).expect("create");
    store
        .send_messages("q", &[message("old")], T0)
        .expect("send");
    store
        .send_messages("q", &[message("new")], T0 + 30_000)
        .expect("send");
    // Not delivered once expired, even before a sweep.
    assert_eq!(bodies(&store, "q", 10, T0 + 60_000), vec!["new"]);
    assert_eq!(store.sweep_queues(T0 + 60_000).expect("sweep"), 1);
    assert_eq!(
        store
            .queue_counts("q", T0 + 60_000)
            .expect("counts")
            .in_flight,
        1
    );
}

#[test]
fn queues_list_purge_and_delete() {
    let (_dir, store) = store();
    for name in ["alpha", "alps", "beta"] {
        store
            .create_queue(name, false, &settings(30), T0)
            .expect("create");
    }
    let (_, created) = store
        .create_queue("alpha", false, &settings(99), T0)
        .expect("again");
    assert!(!created);
    assert_eq!(
        store.list_queues("al").expect("list"),
        vec!["alpha", "alps"]
    );
    store
        .send_messages("beta", &[message("a"), message("b")], T0)
        .expect("send");
    assert_eq!(store.purge_queue("beta").expect("purge"), 2);
    store.delete_queue("beta").expect("delete");
    assert!(store.queue("beta").expect("read").is_none());
    assert!(matches!(
        store.send_messages("beta", &[message("a")], T0),
        Err(stratus_store_sqlite::StoreError::NotFound(_))
    ));
}

#[test]
fn tags_are_kept_per_queue_up_to_a_limit() {
    let (_dir, store) = store();
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    store
        .create_queue_tagged("q", false, &settings(30), &tags(&[("team", "a")]), T0)
        .expect("create");
    assert!(
        store
            .tag_queue("q", &tags(&[("team", "b"), ("env", "")]), 3)
            .expect("tag")
    );
    assert_eq!(
        store.queue_tags("q").expect("tags"),
        tags(&[("env", ""), ("team", "b")])
    );
    // Over the limit: nothing changes.
    assert!(
        !store
            .tag_queue("q", &tags(&[("x", "1"), ("y", "2")]), 3)
            .expect("tag")
    );
    assert_eq!(store.queue_tags("q").expect("tags").len(), 2);
    store
        .untag_queue("q", &["team".into(), "absent".into()])
        .expect("untag");
    assert_eq!(store.queue_tags("q").expect("tags"), tags(&[("env", "")]));
    // An existing queue keeps its tags when created again.
    store
        .create_queue_tagged("q", false, &settings(30), &tags(&[("new", "1")]), T0)
        .expect("create again");
    assert_eq!(store.queue_tags("q").expect("tags"), tags(&[("env", "")]));
    // Deleted with the queue; a new queue of that name starts untagged.
    store.delete_queue("q").expect("delete");
    assert!(matches!(
        store.queue_tags("q"),
        Err(stratus_store_sqlite::StoreError::NotFound(_))
    ));
    store
        .create_queue("q", false, &settings(30), T0)
        .expect("create");
    assert!(store.queue_tags("q").expect("tags").is_empty());
}

#[test]
fn settings_change_in_one_transaction_or_not_at_all() {
    let (_dir, store) = store();
    store
        .create_queue("q", false, &settings(30), T0)
        .expect("create");
    let refused = store
        .update_queue_settings("q", T0 + 1, |_| Err::<QueueSettings, &str>("no"))
        .expect("update");
    assert_eq!(refused, Err("no"));
    assert_eq!(
        store.queue("q").expect("read").map(|q| q.modified_ms),
        Some(T0)
    );
    let changed = store
        .update_queue_settings("q", T0 + 2, |queue| {
            let mut next = queue.settings.clone();
            next.attributes.insert("Policy".into(), "{}".into());
            Ok::<_, ()>(next)
        })
        .expect("update")
        .expect("changed");
    assert_eq!(changed.modified_ms, T0 + 2);
    assert_eq!(
        changed
            .settings
            .attributes
            .get("Policy")
            .map(String::as_str),
        Some("{}")
    );
}

#[test]
fn one_move_task_runs_per_queue_and_tasks_list_newest_first() {
    let (_dir, store) = store();
    for name in ["dlq", "other"] {
        store
            .create_queue(name, false, &settings(30), T0)
            .expect("create");
    }
    assert!(
        store
            .start_move_task("dlq", "t1", T0, "one")
            .expect("start")
    );
    assert!(
        !store
            .start_move_task("dlq", "t2", T0 + 1, "two")
            .expect("start"),
        "one runs already"
    );
    assert!(
        store
            .start_move_task("other", "t3", T0 + 1, "three")
            .expect("start")
    );
    assert_eq!(
        store.running_move_tasks().expect("running"),
        vec!["one", "three"]
    );
    assert!(
        store
            .update_move_task("t1", true, "one, 5 moved")
            .expect("update")
    );
    assert!(
        store
            .update_move_task("t1", false, "one, done")
            .expect("update")
    );
    assert!(
        !store.update_move_task("t1", false, "late").expect("update"),
        "an ended task stays ended"
    );
    assert!(
        store
            .start_move_task("dlq", "t2", T0 + 2, "two")
            .expect("start")
    );
    assert_eq!(
        store.move_tasks("dlq", 10).expect("list"),
        vec!["two", "one, done"]
    );
    assert_eq!(store.move_tasks("dlq", 1).expect("list"), vec!["two"]);
    assert_eq!(
        store.move_task("dlq", "t1").expect("read").as_deref(),
        Some("one, done")
    );
    assert_eq!(store.move_task("other", "t1").expect("read"), None);
    // Deleted with their queue.
    store.delete_queue("dlq").expect("delete");
    assert!(!store.update_move_task("t2", false, "gone").expect("update"));
    assert_eq!(store.running_move_tasks().expect("running"), vec!["three"]);
}

#[test]
#[ignore = "timing probe, run by hand"]
fn probe_throughput() {
    let (_dir, store) = store();
    store
        .create_queue("q", false, &settings(30), T0)
        .expect("create");
    let started = std::time::Instant::now();
    let n = 10_000;
    for i in 0..n / 10 {
        let batch: Vec<NewQueueMessage> = (0..10).map(|j| message(&format!("{i}-{j}"))).collect();
        store.send_messages("q", &batch, T0).expect("send");
    }
    let sent = started.elapsed();
    let started = std::time::Instant::now();
    let mut done = 0;
    loop {
        let got = store
            .receive_messages("q", 10, None, T0 + 1)
            .expect("receive");
        if got.messages.is_empty() {
            break;
        }
        let handles: Vec<&str> = got
            .messages
            .iter()
            .map(|m| m.receipt_handle.as_str())
            .collect();
        store
            .delete_messages("q", &handles, T0 + 1)
            .expect("delete");
        done += handles.len();
    }
    assert_eq!(done, n);
    eprintln!(
        "send {n}: {sent:?}; receive+delete: {:?}",
        started.elapsed()
    );
}
