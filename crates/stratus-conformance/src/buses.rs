//! EventBridge's [`BusBackend`]: one `pub async fn` per case, each taking a
//! fresh backend and the time it starts at (`t0`); the schedule cases also
//! take an [`Invocations`] probe that counts the async invocations queued,
//! since a tick and what it queues are one call.

use std::collections::BTreeSet;
use stratus_eventbridge::backend::{
    ApiDestinationRecord, ArchiveRecord, BusBackend, ConnectionRecord, NewAsyncEvent,
    NewEventDelivery, NewRule, ReplayRecord, ScheduleKey, ScheduleTick, StoreError, TargetRecord,
};

/// The start time of every case: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

/// Counts what a backend's schedule ticks queued for the functions.
pub trait Invocations {
    /// The async invocations queued (pending) now.
    fn queued_invocations(&self) -> u64;
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rule(bus: &str, name: &str, pattern: Option<&str>, schedule: Option<&str>) -> NewRule {
    NewRule {
        bus: bus.into(),
        name: name.into(),
        pattern: pattern.map(str::to_string),
        schedule: schedule.map(str::to_string),
        enabled: true,
        description: None,
    }
}

fn target(id: &str, arn: &str) -> TargetRecord {
    TargetRecord {
        id: id.into(),
        arn: arn.into(),
        ..TargetRecord::default()
    }
}

fn delivery(target: &str, payload: &str) -> NewEventDelivery {
    NewEventDelivery {
        target: target.into(),
        payload: payload.into(),
        kind: "api-destination".into(),
        source: "bus".into(),
        event_id: None,
        params: None,
        rule: "r".into(),
        max_attempts: 3,
        max_age_ms: 86_400_000,
    }
}

fn archive(name: &str, bus: &str, retention_days: u32, t0: i64) -> ArchiveRecord {
    ArchiveRecord {
        name: name.into(),
        bus: bus.into(),
        description: None,
        pattern: None,
        retention_days,
        state: "ENABLED".into(),
        created_ms: t0,
        event_count: 0,
        size_bytes: 0,
    }
}

fn async_event(id: &str) -> NewAsyncEvent {
    NewAsyncEvent {
        request_id: id.into(),
        function: "f".into(),
        qualifier: None,
        payload: b"{}".to_vec(),
        headers: Vec::new(),
        max_attempts: 3,
        max_age_ms: 21_600_000,
    }
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound(_)))
}

/// The default bus exists with a creation time; a custom bus is created
/// at the time given, once, listed by prefix and deleted.
pub async fn default_and_custom_buses(b: &impl BusBackend, t0: i64) {
    let default = b.bus("default").await.expect("read").expect("default bus");
    assert!(default.created_ms > 1_600_000_000_000, "{default:?}");
    assert_eq!(default.modified_ms, default.created_ms);

    let orders = b
        .create_bus("orders", Some("the orders"), &tags(&[("team", "a")]), t0)
        .await
        .expect("create");
    assert_eq!(
        (
            orders.name.as_str(),
            orders.created_ms,
            orders.description.as_deref()
        ),
        ("orders", t0, Some("the orders"))
    );
    assert!(is_conflict(b.create_bus("orders", None, &[], t0 + 1).await));
    assert_eq!(b.bus("orders").await.expect("read"), Some(orders.clone()));
    let names: Vec<String> = b
        .buses("")
        .await
        .expect("list")
        .into_iter()
        .map(|x| x.name)
        .collect();
    assert_eq!(names, ["default", "orders"]);
    let names: Vec<String> = b
        .buses("ord")
        .await
        .expect("list")
        .into_iter()
        .map(|x| x.name)
        .collect();
    assert_eq!(names, ["orders"]);
    assert_eq!(
        b.tags(("orders", None)).await.expect("tags"),
        tags(&[("team", "a")])
    );

    assert!(b.delete_bus("orders").await.expect("delete"));
    assert!(!b.delete_bus("orders").await.expect("delete again"));
    assert_eq!(b.bus("orders").await.expect("read"), None);
    assert!(b.routes("orders").await.expect("routes").is_none());
}

/// Rules with patterns: put (replacing keeps targets), read, listed by
/// prefix, enabled and disabled, routed only while enabled.
pub async fn rules_with_patterns_enable_and_disable(b: &impl BusBackend, t0: i64) {
    let pattern = r#"{"source":["shop"]}"#;
    assert!(is_not_found(
        b.put_rule(&rule("nobus", "r", Some(pattern), None), &[], t0)
            .await
    ));
    let put = b
        .put_rule(&rule("default", "orders", Some(pattern), None), &[], t0)
        .await
        .expect("put");
    assert_eq!((put.pattern.as_deref(), put.enabled), (Some(pattern), true));
    b.put_rule(&rule("default", "other", Some(pattern), None), &[], t0)
        .await
        .expect("put other");
    b.put_targets(
        "default",
        "orders",
        &[target("t1", "arn:aws:sqs:us-east-1:000000000000:q")],
        5,
    )
    .await
    .expect("targets");
    let read = b
        .rule("default", "orders")
        .await
        .expect("read")
        .expect("rule");
    assert_eq!(read.pattern.as_deref(), Some(pattern));
    assert_eq!(b.rule("default", "none").await.expect("read"), None);
    let names: Vec<String> = b
        .rules("default", "ord")
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["orders"]);

    let (routes, archives) = b.routes("default").await.expect("routes").expect("bus");
    assert!(archives.is_empty());
    let routed: BTreeSet<&str> = routes.iter().map(|(r, _)| r.name.as_str()).collect();
    assert_eq!(routed, BTreeSet::from(["orders", "other"]));
    let (_, targets) = routes
        .iter()
        .find(|(r, _)| r.name == "orders")
        .expect("orders");
    assert_eq!(targets.len(), 1);

    assert!(
        b.set_rule_enabled("default", "orders", false)
            .await
            .expect("disable")
    );
    assert!(
        !b.rule("default", "orders")
            .await
            .expect("read")
            .expect("rule")
            .enabled
    );
    let (routes, _) = b.routes("default").await.expect("routes").expect("bus");
    assert!(routes.iter().all(|(r, _)| r.name != "orders"), "{routes:?}");
    assert!(
        b.set_rule_enabled("default", "orders", true)
            .await
            .expect("enable")
    );
    assert!(
        !b.set_rule_enabled("default", "none", true)
            .await
            .expect("missing")
    );

    // Replacing a rule keeps its targets.
    let replaced = r#"{"source":["store"]}"#;
    b.put_rule(
        &rule("default", "orders", Some(replaced), None),
        &[],
        t0 + 1,
    )
    .await
    .expect("replace");
    assert_eq!(
        b.rule("default", "orders")
            .await
            .expect("read")
            .expect("rule")
            .pattern
            .as_deref(),
        Some(replaced)
    );
    assert_eq!(
        b.targets("default", "orders").await.expect("targets").len(),
        1
    );
}

/// Targets put (replaced by id, up to a limit), removed, listed; the
/// rules naming a target; a rule with targets deleted only by force.
pub async fn targets_put_remove_list_and_rule_names(b: &impl BusBackend, t0: i64) {
    let (q1, q2) = (
        "arn:aws:sqs:us-east-1:000000000000:q1",
        "arn:aws:sqs:us-east-1:000000000000:q2",
    );
    assert!(is_not_found(
        b.put_targets("default", "none", &[target("t", q1)], 5)
            .await
    ));
    b.put_rule(
        &rule("default", "a", Some(r#"{"source":["x"]}"#), None),
        &[],
        t0,
    )
    .await
    .expect("a");
    b.put_rule(
        &rule("default", "b", Some(r#"{"source":["x"]}"#), None),
        &[],
        t0,
    )
    .await
    .expect("b");
    b.put_targets("default", "a", &[target("t2", q2), target("t1", q1)], 2)
        .await
        .expect("put");
    b.put_targets("default", "b", &[target("t1", q1)], 2)
        .await
        .expect("put b");
    let ids: Vec<String> = b
        .targets("default", "a")
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["t1", "t2"]);
    // Replacing by id does not count twice; a third one is over the limit.
    b.put_targets("default", "a", &[target("t1", q2)], 2)
        .await
        .expect("replace");
    assert_eq!(b.targets("default", "a").await.expect("list")[0].arn, q2);
    assert!(matches!(
        b.put_targets("default", "a", &[target("t3", q1)], 2).await,
        Err(StoreError::Invalid(_))
    ));

    assert_eq!(
        b.rule_names_by_target("default", q1)
            .await
            .expect("by target"),
        ["b"]
    );
    assert_eq!(
        b.rule_names_by_target("default", q2)
            .await
            .expect("by target"),
        ["a"]
    );
    assert!(is_not_found(b.rule_names_by_target("nobus", q1).await));

    let removed = b
        .remove_targets("default", "a", &["t1".to_string(), "zz".to_string()])
        .await
        .expect("remove");
    assert_eq!(removed, ["t1"]);
    assert!(is_conflict(b.delete_rule("default", "a", false).await));
    assert!(b.delete_rule("default", "a", true).await.expect("force"));
    assert!(!b.delete_rule("default", "a", true).await.expect("again"));
    assert!(b.targets("default", "a").await.expect("list").is_empty());
    assert!(is_conflict(b.delete_rule("default", "b", false).await));
    b.remove_targets("default", "b", &["t1".to_string()])
        .await
        .expect("remove");
    assert!(b.delete_rule("default", "b", false).await.expect("empty"));
}

/// Tags of buses and rules: added, replaced, removed; a missing owner is
/// not found.
pub async fn tags_of_buses_and_rules(b: &impl BusBackend, t0: i64) {
    b.create_bus("tagged", None, &[], t0).await.expect("bus");
    b.put_rule(
        &rule("tagged", "r", Some(r#"{"source":["x"]}"#), None),
        &tags(&[("k", "0")]),
        t0,
    )
    .await
    .expect("rule");
    b.tag(("tagged", None), &tags(&[("b", "2"), ("a", "1")]))
        .await
        .expect("tag");
    b.tag(("tagged", None), &tags(&[("a", "3")]))
        .await
        .expect("retag");
    assert_eq!(
        b.tags(("tagged", None)).await.expect("tags"),
        tags(&[("a", "3"), ("b", "2")])
    );
    assert_eq!(
        b.tags(("tagged", Some("r"))).await.expect("rule tags"),
        tags(&[("k", "0")])
    );
    b.untag(("tagged", None), &["a".to_string()])
        .await
        .expect("untag");
    assert_eq!(
        b.tags(("tagged", None)).await.expect("tags"),
        tags(&[("b", "2")])
    );
    assert!(is_not_found(
        b.tag(("nobus", None), &tags(&[("a", "1")])).await
    ));
    assert!(is_not_found(b.tags(("tagged", Some("none"))).await));
    assert!(is_not_found(
        b.untag(("nobus", None), &["a".to_string()]).await
    ));
}

/// A bus's policy changed in one call: set, kept when the change refuses,
/// removed; a missing bus is not found.
pub async fn permissions_change_the_policy_in_one_call(b: &impl BusBackend, t0: i64) {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"a"}]}"#.to_string();
    let set = policy.clone();
    b.update_bus_policy(
        "default",
        t0,
        Box::new(move |current| {
            assert_eq!(current, None);
            Ok(Some(set))
        }),
    )
    .await
    .expect("set");
    assert_eq!(
        b.bus("default")
            .await
            .expect("read")
            .expect("bus")
            .policy
            .as_deref(),
        Some(policy.as_str())
    );
    let seen = policy.clone();
    let refused = b
        .update_bus_policy(
            "default",
            t0 + 1,
            Box::new(move |current| {
                assert_eq!(current, Some(seen.as_str()));
                Err(StoreError::NotFound("no such statement".into()))
            }),
        )
        .await;
    assert!(is_not_found(refused));
    assert_eq!(
        b.bus("default")
            .await
            .expect("read")
            .expect("bus")
            .policy
            .as_deref(),
        Some(policy.as_str())
    );
    b.update_bus_policy("default", t0 + 2, Box::new(|_| Ok(None)))
        .await
        .expect("remove");
    assert_eq!(
        b.bus("default").await.expect("read").expect("bus").policy,
        None
    );
    assert!(is_not_found(
        b.update_bus_policy("nobus", t0, Box::new(|_| Ok(None)))
            .await
    ));
}

/// Archives: created once on an existing bus, events archived with their
/// expiry, counted, read by time window and cursor, pruned when their
/// retention ends; updated, listed by bus, deleted.
pub async fn archive_events_with_retention_and_pruning(b: &impl BusBackend, t0: i64) {
    let day = 86_400_000;
    assert!(is_not_found(
        b.create_archive(&archive("x", "nobus", 0, t0)).await
    ));
    b.create_archive(&archive("keep", "default", 0, t0))
        .await
        .expect("keep");
    b.create_archive(&archive("short", "default", 1, t0))
        .await
        .expect("short");
    assert!(is_conflict(
        b.create_archive(&archive("keep", "default", 0, t0)).await
    ));
    let (_, archives) = b.routes("default").await.expect("routes").expect("bus");
    assert_eq!(archives.len(), 2);

    for i in 0..3 {
        let both = [
            ("keep".to_string(), None),
            ("short".to_string(), Some(t0 + i * 1000 + day)),
        ];
        b.archive_event(&both, t0 + i * 1000, &format!("{{\"n\":{i}}}"))
            .await
            .expect("archive");
    }
    b.archive_event(&[], t0, "{}").await.expect("nowhere");
    let keep = b.archive("keep").await.expect("read").expect("keep");
    assert_eq!(keep.event_count, 3);
    assert!(keep.size_bytes > 0);

    let all = b
        .archived_events("keep", t0, t0 + 3000, 0, 10)
        .await
        .expect("all");
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(all[1].event, "{\"n\":1}");
    // The window is [from, to); the cursor and the limit page through it.
    let window = b
        .archived_events("keep", t0 + 1000, t0 + 2000, 0, 10)
        .await
        .expect("window");
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].time_ms, t0 + 1000);
    let page = b
        .archived_events("keep", t0, t0 + 3000, all[0].seq, 1)
        .await
        .expect("page");
    assert_eq!(page, all[1..2]);

    assert_eq!(
        b.prune_archived_events(t0 + day - 1).await.expect("prune"),
        0
    );
    assert_eq!(
        b.prune_archived_events(t0 + day + 1000)
            .await
            .expect("prune"),
        2
    );
    assert_eq!(
        b.archive("short")
            .await
            .expect("read")
            .expect("short")
            .event_count,
        1
    );
    assert_eq!(
        b.archive("keep")
            .await
            .expect("read")
            .expect("keep")
            .event_count,
        3
    );

    assert!(
        b.update_archive("short", Some("d"), None, Some(7))
            .await
            .expect("update")
    );
    let short = b.archive("short").await.expect("read").expect("short");
    assert_eq!(
        (short.description.as_deref(), short.retention_days),
        (Some("d"), 7)
    );
    assert!(
        !b.update_archive("none", None, None, Some(1))
            .await
            .expect("missing")
    );
    let names: Vec<String> = b
        .archives("", Some("default"))
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["keep", "short"]);
    assert!(
        b.archives("", Some("other"))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(b.archives("sh", None).await.expect("list").len(), 1);
    assert!(b.delete_archive("short").await.expect("delete"));
    assert!(!b.delete_archive("short").await.expect("again"));
    assert_eq!(b.archive("short").await.expect("read"), None);
}

fn replay(name: &str, t0: i64) -> ReplayRecord {
    ReplayRecord {
        name: name.into(),
        archive: "a".into(),
        description: None,
        bus: "default".into(),
        filter_arns: Vec::new(),
        start_ms: t0 - 60_000,
        end_ms: t0,
        state: "STARTING".into(),
        state_reason: None,
        replay_start_ms: t0,
        replay_end_ms: None,
        last_replayed_ms: None,
        cursor: 0,
    }
}

/// Replays: created once, moved between states only from the states
/// named, their progress recorded.
pub async fn replay_progress_and_states(b: &impl BusBackend, t0: i64) {
    b.create_archive(&archive("a", "default", 0, t0))
        .await
        .expect("archive");
    b.create_replay(&replay("r1", t0)).await.expect("create");
    b.create_replay(&replay("r2", t0)).await.expect("create r2");
    assert!(is_conflict(b.create_replay(&replay("r1", t0)).await));
    assert_eq!(b.replay("r1").await.expect("read"), Some(replay("r1", t0)));
    assert_eq!(b.replay("none").await.expect("read"), None);

    let (running, moved) = b
        .set_replay_state("r1", &["STARTING"], "RUNNING", None, None)
        .await
        .expect("run")
        .expect("replay");
    assert!(moved);
    assert_eq!(running.state, "RUNNING");
    let (same, moved) = b
        .set_replay_state("r1", &["STARTING"], "CANCELLING", None, None)
        .await
        .expect("not from running")
        .expect("replay");
    assert!(!moved);
    assert_eq!(same.state, "RUNNING");
    assert_eq!(
        b.set_replay_state("none", &["STARTING"], "RUNNING", None, None)
            .await
            .expect("missing"),
        None
    );

    b.advance_replay("r1", 7, t0 - 1000).await.expect("advance");
    let midway = b.replay("r1").await.expect("read").expect("r1");
    assert_eq!(
        (midway.cursor, midway.last_replayed_ms),
        (7, Some(t0 - 1000))
    );
    let (done, moved) = b
        .set_replay_state("r1", &["RUNNING"], "COMPLETED", None, Some(t0 + 5000))
        .await
        .expect("complete")
        .expect("replay");
    assert!(moved);
    assert_eq!(
        (done.state.as_str(), done.replay_end_ms, done.cursor),
        ("COMPLETED", Some(t0 + 5000), 7)
    );
    let names: Vec<String> = b
        .replays("r")
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["r1", "r2"]);
    assert_eq!(b.replays("r2").await.expect("list").len(), 1);
}

/// Connections and API destinations: created once, read, listed (API
/// destinations by connection too), deleted.
pub async fn connections_and_api_destinations(b: &impl BusBackend, t0: i64) {
    let connection = |name: &str| ConnectionRecord {
        name: name.into(),
        id: format!("{name}-id"),
        description: None,
        auth_type: "API_KEY".into(),
        auth: r#"{"ApiKeyName":"k","ApiKeyValue":"v"}"#.into(),
        state: "AUTHORIZED".into(),
        created_ms: t0,
        modified_ms: t0,
        authorized_ms: Some(t0),
    };
    let destination = |name: &str, connection_arn: &str| ApiDestinationRecord {
        name: name.into(),
        id: format!("{name}-id"),
        description: None,
        connection_arn: connection_arn.into(),
        endpoint: "https://example.com/hook".into(),
        method: "POST".into(),
        rate_limit: Some(10),
        created_ms: t0,
        modified_ms: t0,
    };
    b.create_connection(&connection("c1")).await.expect("c1");
    b.create_connection(&connection("c2")).await.expect("c2");
    assert!(is_conflict(b.create_connection(&connection("c1")).await));
    assert_eq!(
        b.connection("c1").await.expect("read"),
        Some(connection("c1"))
    );
    assert_eq!(b.connection("none").await.expect("read"), None);
    assert_eq!(b.connections("c").await.expect("list").len(), 2);
    assert_eq!(b.connections("c2").await.expect("list"), [connection("c2")]);

    let (arn1, arn2) = ("arn:c1", "arn:c2");
    b.create_api_destination(&destination("d1", arn1))
        .await
        .expect("d1");
    b.create_api_destination(&destination("d2", arn2))
        .await
        .expect("d2");
    assert!(is_conflict(
        b.create_api_destination(&destination("d1", arn1)).await
    ));
    assert_eq!(
        b.api_destination("d1").await.expect("read"),
        Some(destination("d1", arn1))
    );
    assert_eq!(b.api_destinations("d", None).await.expect("list").len(), 2);
    assert_eq!(
        b.api_destinations("", Some(arn2)).await.expect("list"),
        [destination("d2", arn2)]
    );
    assert!(b.delete_api_destination("d1").await.expect("delete"));
    assert!(!b.delete_api_destination("d1").await.expect("again"));
    assert_eq!(b.api_destination("d1").await.expect("read"), None);

    assert_eq!(
        b.delete_connection("c1").await.expect("delete"),
        Some(connection("c1"))
    );
    assert_eq!(b.delete_connection("c1").await.expect("again"), None);
    assert_eq!(b.connections("").await.expect("list"), [connection("c2")]);
}

/// The outbox: deliveries claimed oldest first under a lease (not claimed
/// again until it ends), completed, or retried at a later time with the
/// attempt counted.
pub async fn outbox_lease_complete_and_retry(b: &impl BusBackend, t0: i64) {
    assert_eq!(b.next_delivery_ms().await.expect("next"), None);
    assert!(
        b.claim_deliveries(t0, 10, 1000)
            .await
            .expect("claim")
            .is_empty()
    );
    b.enqueue_deliveries(&[delivery("a", "1"), delivery("b", "2")], t0)
        .await
        .expect("enqueue");
    b.enqueue_deliveries(&[delivery("c", "3")], t0 + 10)
        .await
        .expect("enqueue c");
    assert_eq!(b.next_delivery_ms().await.expect("next"), Some(t0));

    let first = b.claim_deliveries(t0 + 10, 2, 30_000).await.expect("claim");
    let targets: Vec<&str> = first.iter().map(|d| d.delivery.target.as_str()).collect();
    assert_eq!(targets, ["a", "b"]);
    assert_eq!(first[0].delivery, delivery("a", "1"));
    assert_eq!(first[0].created_ms, t0);
    // Leased: only the third is claimable until the lease ends.
    let second = b
        .claim_deliveries(t0 + 20, 10, 30_000)
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].delivery.target, "c");
    assert!(
        b.claim_deliveries(t0 + 30, 10, 30_000)
            .await
            .expect("claim")
            .is_empty()
    );

    b.complete_delivery(first[0].id).await.expect("complete");
    b.retry_delivery(first[1].id, t0 + 60_000)
        .await
        .expect("retry");
    // c's lease ends at t0 + 30_020: claimed again then, b not before t0 + 60_000.
    assert_eq!(b.next_delivery_ms().await.expect("next"), Some(t0 + 30_020));
    let again = b
        .claim_deliveries(t0 + 30_020, 10, 30_000)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, second[0].id);
    b.complete_delivery(again[0].id).await.expect("complete c");
    assert_eq!(b.next_delivery_ms().await.expect("next"), Some(t0 + 60_000));
    let retried = b
        .claim_deliveries(t0 + 60_000, 10, 30_000)
        .await
        .expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, first[1].id);
    assert_eq!(retried[0].attempts, first[1].attempts + 1);
    b.complete_delivery(retried[0].id)
        .await
        .expect("complete b");
    assert_eq!(b.next_delivery_ms().await.expect("next"), None);
}

fn key(k: &str) -> ScheduleKey {
    ScheduleKey {
        key: k.into(),
        function: "f".into(),
        expression: "rate(1 minute)".into(),
    }
}

fn tick(key: &str, tick_ms: i64, id: &str) -> ScheduleTick {
    ScheduleTick {
        key: key.into(),
        tick_ms,
        events: vec![async_event(id)],
        ..ScheduleTick::default()
    }
}

/// Schedule ticks fire exactly once, each with its async invocation; the
/// anchor, an earlier tick and an unknown schedule never fire; a
/// schedule no longer followed is forgotten.
pub async fn schedule_ticks_fire_once_with_their_async_rows(
    b: &impl BusBackend,
    q: &impl Invocations,
    t0: i64,
) {
    let states = b
        .sync_schedules(&[key("a"), key("b")], t0)
        .await
        .expect("sync");
    assert_eq!(states.len(), 2);
    assert_eq!(
        (
            states[0].key.as_str(),
            states[0].anchor_ms,
            states[0].last_tick_ms,
            states[0].fired
        ),
        ("a", t0, t0, 0)
    );
    let before = q.queued_invocations();

    assert_eq!(
        b.fire_schedule_ticks(&[tick("a", t0, "anchor")], t0)
            .await
            .expect("anchor"),
        [false]
    );
    let fired = b
        .fire_schedule_ticks(
            &[
                tick("a", t0 + 60_000, "a1"),
                tick("b", t0 + 60_000, "b1"),
                tick("nope", t0 + 60_000, "n"),
            ],
            t0 + 60_000,
        )
        .await
        .expect("fire");
    assert_eq!(fired, [true, true, false]);
    assert_eq!(q.queued_invocations(), before + 2);
    // The same tick again, or an earlier one, fires nothing and queues nothing.
    let again = b
        .fire_schedule_ticks(
            &[tick("a", t0 + 60_000, "a1"), tick("a", t0 + 30_000, "a0")],
            t0 + 61_000,
        )
        .await
        .expect("again");
    assert_eq!(again, [false, false]);
    assert_eq!(q.queued_invocations(), before + 2);
    assert_eq!(
        b.fire_schedule_ticks(&[], t0).await.expect("none"),
        Vec::<bool>::new()
    );

    // Re-syncing keeps the state; dropping a schedule forgets it.
    let states = b
        .sync_schedules(&[key("a")], t0 + 90_000)
        .await
        .expect("resync");
    assert_eq!(
        (states[0].anchor_ms, states[0].last_tick_ms, states[0].fired),
        (t0, t0 + 60_000, 1)
    );
    assert_eq!(
        b.fire_schedule_ticks(&[tick("b", t0 + 120_000, "b2")], t0 + 120_000)
            .await
            .expect("b gone"),
        [false]
    );
    let states = b
        .sync_schedules(&[key("a"), key("b")], t0 + 150_000)
        .await
        .expect("b back");
    assert_eq!(
        (states[1].anchor_ms, states[1].last_tick_ms, states[1].fired),
        (t0 + 150_000, t0 + 150_000, 0)
    );
    assert_eq!(q.queued_invocations(), before + 2);
}

/// Ticks missed while down: after a restart (the same schedules synced
/// later) the missed tick fires once, and never again.
pub async fn missed_ticks_fire_once(b: &impl BusBackend, q: &impl Invocations, t0: i64) {
    b.sync_schedules(&[key("m")], t0).await.expect("sync");
    assert_eq!(
        b.fire_schedule_ticks(&[tick("m", t0 + 60_000, "m1")], t0 + 60_000)
            .await
            .expect("m1"),
        [true]
    );
    let before = q.queued_invocations();
    // Down for five minutes; the restart syncs and fires the latest missed tick.
    let states = b
        .sync_schedules(&[key("m")], t0 + 400_000)
        .await
        .expect("restart");
    assert_eq!(states[0].last_tick_ms, t0 + 60_000);
    let missed = tick("m", t0 + 360_000, "missed");
    assert_eq!(
        b.fire_schedule_ticks(std::slice::from_ref(&missed), t0 + 400_000)
            .await
            .expect("missed"),
        [true]
    );
    assert_eq!(q.queued_invocations(), before + 1);
    // A second restart does not fire it again, nor anything before it.
    b.sync_schedules(&[key("m")], t0 + 401_000)
        .await
        .expect("restart again");
    let again = b
        .fire_schedule_ticks(&[missed, tick("m", t0 + 300_000, "older")], t0 + 401_000)
        .await
        .expect("again");
    assert_eq!(again, [false, false]);
    assert_eq!(q.queued_invocations(), before + 1);
    let states = b
        .sync_schedules(&[key("m")], t0 + 402_000)
        .await
        .expect("state");
    assert_eq!((states[0].last_tick_ms, states[0].fired), (t0 + 360_000, 2));
}

/// A rule's tick queues its targets' outbox rows with it, only while the
/// rule exists, enabled, with a schedule; scheduled rules are listed.
pub async fn rule_ticks_queue_their_deliveries_while_enabled(
    b: &impl BusBackend,
    q: &impl Invocations,
    t0: i64,
) {
    b.put_rule(
        &rule("default", "every", None, Some("rate(1 minute)")),
        &[],
        t0,
    )
    .await
    .expect("rule");
    b.put_rule(
        &rule("default", "pattern", Some(r#"{"source":["x"]}"#), None),
        &[],
        t0,
    )
    .await
    .expect("pattern");
    let scheduled: Vec<String> = b
        .schedule_rules()
        .await
        .expect("scheduled")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(scheduled, ["every"]);
    let k = "rule:default/every";
    b.sync_schedules(&[key(k)], t0).await.expect("sync");
    let rule_tick = |tick_ms: i64, id: &str| ScheduleTick {
        key: k.into(),
        tick_ms,
        events: vec![async_event(id)],
        deliveries: vec![delivery("arn:dest", id)],
        rule: Some(("default".into(), "every".into())),
    };
    let before = q.queued_invocations();
    assert_eq!(
        b.fire_schedule_ticks(&[rule_tick(t0 + 60_000, "r1")], t0 + 60_000)
            .await
            .expect("fire"),
        [true]
    );
    assert_eq!(q.queued_invocations(), before + 1);
    let queued = b
        .claim_deliveries(t0 + 60_000, 10, 1000)
        .await
        .expect("claim");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].delivery, delivery("arn:dest", "r1"));
    b.complete_delivery(queued[0].id).await.expect("complete");

    b.set_rule_enabled("default", "every", false)
        .await
        .expect("disable");
    assert!(b.schedule_rules().await.expect("scheduled").is_empty());
    assert_eq!(
        b.fire_schedule_ticks(&[rule_tick(t0 + 120_000, "r2")], t0 + 120_000)
            .await
            .expect("disabled"),
        [false]
    );
    b.set_rule_enabled("default", "every", true)
        .await
        .expect("enable");
    assert!(
        b.delete_rule("default", "every", true)
            .await
            .expect("delete")
    );
    assert_eq!(
        b.fire_schedule_ticks(&[rule_tick(t0 + 180_000, "r3")], t0 + 180_000)
            .await
            .expect("deleted"),
        [false]
    );
    assert_eq!(q.queued_invocations(), before + 1);
    assert!(
        b.claim_deliveries(t0 + 180_000, 10, 1000)
            .await
            .expect("claim")
            .is_empty()
    );
}
