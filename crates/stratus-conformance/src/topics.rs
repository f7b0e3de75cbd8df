//! The topic backend's cases: SNS's state with an injected clock.
//!
//! Ported from the intent of `stratus-store`'s topic tests, at the level
//! of [`TopicBackend`]'s operations: topics and their paging, changes in
//! one call, tags, subscriptions and their paging, confirmation tokens,
//! the FIFO deduplication window of publications, the HTTP outbox (claim
//! with a lease, completion, retry, drop) and the local outbox.

use std::collections::BTreeMap;
use stratus_sns::ServiceError;
use stratus_sns::backend::{
    Dedup, NewOutboxMessage, NewSubscription, NewTopicDelivery, OutboxKind, StoreError,
    TopicBackend,
};

/// A start time for the cases (14 November 2023).
pub const T0: i64 = 1_700_000_000_000;

/// A FIFO topic's deduplication window in the cases (SNS's 5 minutes).
const WINDOW_MS: i64 = 5 * 60 * 1000;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn create(backend: &dyn TopicBackend, name: &str, now_ms: i64) {
    let fifo = name.ends_with(".fifo");
    let (topic, created) = backend
        .create_topic(name, fifo, &map(&[]), &map(&[]), now_ms)
        .await
        .expect("create a topic");
    assert!(created, "topic {name} is new");
    assert_eq!(topic.name, name);
    assert_eq!(topic.fifo, fifo);
}

fn subscription(topic: &str, arn: &str, protocol: &str, endpoint: &str) -> NewSubscription {
    NewSubscription {
        arn: arn.to_owned(),
        topic: topic.to_owned(),
        protocol: protocol.to_owned(),
        endpoint: endpoint.to_owned(),
        attributes: BTreeMap::new(),
        token: None,
    }
}

async fn subscribe(backend: &dyn TopicBackend, new: &NewSubscription, now_ms: i64) {
    let (record, created) = backend.subscribe(new, now_ms).await.expect("subscribe");
    assert!(created, "subscription {} is new", new.arn);
    assert_eq!(record.arn, new.arn);
}

fn delivery(subscription_arn: &str, body: &str) -> NewTopicDelivery {
    NewTopicDelivery {
        subscription_arn: subscription_arn.to_owned(),
        url: format!("http://example.com/{subscription_arn}"),
        headers: vec![("x-amz-sns-message-type".into(), "Notification".into())],
        body: body.to_owned(),
    }
}

fn outbox(topic: &str, body: &str) -> NewOutboxMessage {
    NewOutboxMessage {
        topic: topic.to_owned(),
        subscription_arn: format!("{topic}:sub"),
        protocol: "email".to_owned(),
        endpoint: "someone@example.com".to_owned(),
        kind: OutboxKind::Notification,
        message_id: format!("id-{body}"),
        subject: Some("subject".to_owned()),
        body: body.to_owned(),
    }
}

async fn publish(
    backend: &dyn TopicBackend,
    topic: &str,
    deliveries: &[NewTopicDelivery],
    now_ms: i64,
) {
    let earlier = backend
        .commit_publication(topic, None, deliveries, &[], now_ms)
        .await
        .expect("commit a publication");
    assert_eq!(earlier, None);
}

async fn pending(backend: &dyn TopicBackend) -> u64 {
    backend
        .pending_deliveries()
        .await
        .expect("count pending deliveries")
}

/// CreateTopic is idempotent (an existing topic comes back unchanged),
/// topics list in name order by pages, and a deleted topic is gone.
pub async fn create_list_and_delete_topics_with_paging(backend: &dyn TopicBackend, t0: i64) {
    for name in ["delta", "alpha", "echo", "charlie", "bravo"] {
        create(backend, name, t0).await;
    }
    let (again, created) = backend
        .create_topic(
            "alpha",
            false,
            &map(&[("DisplayName", "other")]),
            &map(&[("k", "v")]),
            t0 + 1,
        )
        .await
        .expect("create an existing topic");
    assert!(!created);
    assert!(
        again.attributes.is_empty(),
        "an existing topic is unchanged"
    );
    assert!(again.tags.is_empty());
    assert_eq!(again.created_ms, t0);

    let names = |page: Vec<stratus_sns::backend::TopicRecord>| {
        page.into_iter().map(|t| t.name).collect::<Vec<_>>()
    };
    let first = backend.list_topics(None, 2).await.expect("list topics");
    assert_eq!(names(first), ["alpha", "bravo"]);
    let second = backend
        .list_topics(Some("bravo"), 2)
        .await
        .expect("list topics");
    assert_eq!(names(second), ["charlie", "delta"]);
    let last = backend
        .list_topics(Some("delta"), 2)
        .await
        .expect("list topics");
    assert_eq!(names(last), ["echo"]);
    let none = backend
        .list_topics(Some("echo"), 2)
        .await
        .expect("list topics");
    assert!(none.is_empty());

    assert!(backend.delete_topic("charlie").await.expect("delete"));
    assert!(!backend.delete_topic("charlie").await.expect("delete again"));
    assert_eq!(backend.topic("charlie").await.expect("read"), None);
    let all = backend.list_topics(None, 100).await.expect("list topics");
    assert_eq!(names(all), ["alpha", "bravo", "delta", "echo"]);

    create(backend, "fifo.fifo", t0).await;
    let fifo = backend.topic("fifo.fifo").await.expect("read");
    assert!(fifo.is_some_and(|t| t.fifo));
}

/// A topic's attributes change in one call; a refused change changes
/// nothing; an absent topic is None.
pub async fn topic_attributes_change_in_one_call_or_not_at_all(
    backend: &dyn TopicBackend,
    t0: i64,
) {
    let (topic, _) = backend
        .create_topic(
            "news",
            false,
            &map(&[("DisplayName", "News")]),
            &map(&[]),
            t0,
        )
        .await
        .expect("create a topic");
    assert_eq!(topic.attributes, map(&[("DisplayName", "News")]));

    let changed = backend
        .update_topic(
            "news",
            Box::new(|topic| {
                topic
                    .attributes
                    .insert("DeliveryPolicy".into(), "{}".into());
                topic.attributes.remove("DisplayName");
                Ok(())
            }),
        )
        .await
        .expect("change a topic");
    assert!(matches!(changed, Some(Ok(()))));
    let topic = backend.topic("news").await.expect("read").expect("exists");
    assert_eq!(topic.attributes, map(&[("DeliveryPolicy", "{}")]));

    let refused = backend
        .update_topic(
            "news",
            Box::new(|topic| {
                topic.attributes.insert("Policy".into(), "half-done".into());
                Err(ServiceError::invalid("InvalidParameter", "refused"))
            }),
        )
        .await
        .expect("refuse a change");
    assert!(matches!(refused, Some(Err(e)) if e.message == "refused"));
    let topic = backend.topic("news").await.expect("read").expect("exists");
    assert_eq!(
        topic.attributes,
        map(&[("DeliveryPolicy", "{}")]),
        "a refused change changes nothing"
    );

    let absent = backend
        .update_topic("absent", Box::new(|_| Ok(())))
        .await
        .expect("change an absent topic");
    assert!(absent.is_none());
}

/// Tags are kept per topic, set at creation and changed in one call.
pub async fn tags_are_kept_per_topic(backend: &dyn TopicBackend, t0: i64) {
    let (topic, _) = backend
        .create_topic(
            "a",
            false,
            &map(&[]),
            &map(&[("team", "x"), ("env", "dev")]),
            t0,
        )
        .await
        .expect("create a topic");
    assert_eq!(topic.tags, map(&[("env", "dev"), ("team", "x")]));
    create(backend, "b", t0).await;

    let changed = backend
        .update_topic(
            "a",
            Box::new(|topic| {
                topic.tags.insert("env".into(), "prod".into());
                topic.tags.remove("team");
                Ok(())
            }),
        )
        .await
        .expect("tag a topic");
    assert!(matches!(changed, Some(Ok(()))));
    let a = backend.topic("a").await.expect("read").expect("exists");
    assert_eq!(a.tags, map(&[("env", "prod")]));
    let b = backend.topic("b").await.expect("read").expect("exists");
    assert!(b.tags.is_empty(), "tags are per topic");

    backend.delete_topic("a").await.expect("delete");
    create(backend, "a", t0 + 1).await;
    let a = backend.topic("a").await.expect("read").expect("exists");
    assert!(a.tags.is_empty(), "a deleted topic's tags are gone");
}

/// Subscribe is idempotent per protocol and endpoint and needs its topic;
/// a topic's subscriptions come with it, oldest first; unsubscribing
/// twice is fine; a deleted topic's subscriptions are gone.
pub async fn subscribe_and_unsubscribe(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "t", t0).await;
    subscribe(backend, &subscription("t", "t:2", "sqs", "arn:q1"), t0).await;
    subscribe(
        backend,
        &subscription("t", "t:1", "lambda", "arn:f"),
        t0 + 1,
    )
    .await;

    let (existing, created) = backend
        .subscribe(&subscription("t", "t:3", "sqs", "arn:q1"), t0 + 2)
        .await
        .expect("subscribe again");
    assert!(!created);
    assert_eq!(existing.arn, "t:2", "the same protocol and endpoint");

    let missing = backend
        .subscribe(&subscription("absent", "absent:1", "sqs", "arn:q1"), t0)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let (topic, subscriptions) = backend
        .topic_with_subscriptions("t")
        .await
        .expect("read a topic")
        .expect("exists");
    assert_eq!(topic.name, "t");
    let arns: Vec<_> = subscriptions.iter().map(|s| s.arn.as_str()).collect();
    assert_eq!(arns, ["t:2", "t:1"], "oldest first");
    assert_eq!(subscriptions[0].created_ms, t0);
    assert_eq!(subscriptions[0].endpoint, "arn:q1");
    assert!(
        backend
            .topic_with_subscriptions("absent")
            .await
            .expect("read")
            .is_none()
    );

    let one = backend.subscription("t:1").await.expect("read");
    assert_eq!(one.map(|s| s.protocol), Some("lambda".to_owned()));
    assert!(backend.unsubscribe("t:1").await.expect("unsubscribe"));
    assert!(!backend.unsubscribe("t:1").await.expect("unsubscribe again"));
    assert_eq!(backend.subscription("t:1").await.expect("read"), None);

    backend.delete_topic("t").await.expect("delete the topic");
    assert_eq!(backend.subscription("t:2").await.expect("read"), None);
    create(backend, "t", t0 + 3).await;
    let (_, subscriptions) = backend
        .topic_with_subscriptions("t")
        .await
        .expect("read")
        .expect("exists");
    assert!(subscriptions.is_empty());
}

/// Subscriptions list in ARN order by pages, of every topic or of one;
/// an absent topic's listing is None.
pub async fn list_subscriptions_by_page_and_topic(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "a", t0).await;
    create(backend, "b", t0).await;
    for (topic, arn, endpoint) in [
        ("a", "a:3", "q3"),
        ("b", "b:1", "q1"),
        ("a", "a:1", "q1"),
        ("a", "a:2", "q2"),
    ] {
        subscribe(backend, &subscription(topic, arn, "sqs", endpoint), t0).await;
    }
    let arns = |page: Option<Vec<stratus_sns::backend::SubscriptionRecord>>| {
        page.expect("a listing")
            .into_iter()
            .map(|s| s.arn)
            .collect::<Vec<_>>()
    };
    let all = backend
        .list_subscriptions(None, None, 10)
        .await
        .expect("list");
    assert_eq!(arns(all), ["a:1", "a:2", "a:3", "b:1"]);
    let page = backend
        .list_subscriptions(None, Some("a:2"), 2)
        .await
        .expect("list");
    assert_eq!(arns(page), ["a:3", "b:1"]);
    let of_a = backend
        .list_subscriptions(Some("a"), None, 2)
        .await
        .expect("list");
    assert_eq!(arns(of_a), ["a:1", "a:2"]);
    let rest = backend
        .list_subscriptions(Some("a"), Some("a:2"), 2)
        .await
        .expect("list");
    assert_eq!(arns(rest), ["a:3"]);
    let empty = backend
        .list_subscriptions(Some("b"), Some("b:1"), 2)
        .await
        .expect("list");
    assert!(arns(empty).is_empty());
    let absent = backend
        .list_subscriptions(Some("absent"), None, 10)
        .await
        .expect("list");
    assert!(absent.is_none());
}

/// A subscription's attributes are replaced as a whole; an absent
/// subscription is NotFound.
pub async fn subscription_attributes_are_replaced(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "t", t0).await;
    let mut new = subscription("t", "t:1", "sqs", "q");
    new.attributes = map(&[("RawMessageDelivery", "true")]);
    subscribe(backend, &new, t0).await;
    let read = backend.subscription("t:1").await.expect("read");
    assert_eq!(
        read.map(|s| s.attributes),
        Some(map(&[("RawMessageDelivery", "true")]))
    );

    let policy = map(&[("FilterPolicy", r#"{"a":["b"]}"#)]);
    backend
        .set_subscription_attributes("t:1", &policy)
        .await
        .expect("set attributes");
    let read = backend.subscription("t:1").await.expect("read");
    assert_eq!(read.map(|s| s.attributes), Some(policy.clone()));

    let absent = backend.set_subscription_attributes("t:9", &policy).await;
    assert!(matches!(absent, Err(StoreError::NotFound(_))), "{absent:?}");
}

/// A confirmation token finds its subscription, and nothing else does.
pub async fn confirmation_tokens_find_their_subscription(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "t", t0).await;
    let mut http = subscription("t", "t:1", "https", "https://example.com/hook");
    http.token = Some("0a1b2c".to_owned());
    subscribe(backend, &http, t0).await;
    subscribe(backend, &subscription("t", "t:2", "sqs", "q"), t0).await;

    let found = backend
        .subscription_by_token("0a1b2c")
        .await
        .expect("read by token")
        .expect("found");
    assert_eq!(found.arn, "t:1");
    assert_eq!(found.token.as_deref(), Some("0a1b2c"));
    assert_eq!(
        backend.subscription_by_token("ffff").await.expect("read"),
        None
    );
    backend.unsubscribe("t:1").await.expect("unsubscribe");
    assert_eq!(
        backend.subscription_by_token("0a1b2c").await.expect("read"),
        None,
        "an unsubscribed subscription's token is gone"
    );
}

/// A FIFO publication's deduplication id holds for its window: a second
/// publication with it writes nothing and answers the first's message id;
/// after the window it is free again; windows are per topic.
pub async fn fifo_dedup_window_of_publications(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "t.fifo", t0).await;
    create(backend, "u.fifo", t0).await;
    let first = Dedup {
        id: "d1",
        message_id: "m1",
        expires_ms: t0 + WINDOW_MS,
    };
    let earlier = backend
        .commit_publication("t.fifo", Some(first), &[delivery("t:1", "one")], &[], t0)
        .await
        .expect("commit");
    assert_eq!(earlier, None);
    assert_eq!(pending(backend).await, 1);
    assert_eq!(
        backend
            .topic_duplicate("t.fifo", "d1", t0 + WINDOW_MS - 1)
            .await
            .expect("read the window"),
        Some("m1".to_owned())
    );
    assert_eq!(
        backend
            .topic_duplicate("u.fifo", "d1", t0 + 1)
            .await
            .expect("read the window"),
        None,
        "windows are per topic"
    );

    let second = Dedup {
        id: "d1",
        message_id: "m2",
        expires_ms: t0 + 1000 + WINDOW_MS,
    };
    let earlier = backend
        .commit_publication(
            "t.fifo",
            Some(second),
            &[delivery("t:1", "two")],
            &[outbox("t.fifo", "two")],
            t0 + 1000,
        )
        .await
        .expect("commit a duplicate");
    assert_eq!(earlier, Some("m1".to_owned()));
    assert_eq!(pending(backend).await, 1, "a duplicate writes nothing");
    assert!(
        backend
            .local_outbox(None, 10)
            .await
            .expect("read the local outbox")
            .is_empty()
    );

    assert_eq!(
        backend
            .topic_duplicate("t.fifo", "d1", t0 + WINDOW_MS)
            .await
            .expect("read the window"),
        None,
        "the window is over"
    );
    let third = Dedup {
        id: "d1",
        message_id: "m3",
        expires_ms: t0 + 2 * WINDOW_MS,
    };
    let earlier = backend
        .commit_publication(
            "t.fifo",
            Some(third),
            &[delivery("t:1", "three")],
            &[],
            t0 + WINDOW_MS,
        )
        .await
        .expect("commit after the window");
    assert_eq!(earlier, None);
    assert_eq!(pending(backend).await, 2);
    assert_eq!(
        backend
            .topic_duplicate("t.fifo", "d1", t0 + WINDOW_MS + 1)
            .await
            .expect("read the window"),
        Some("m3".to_owned())
    );

    backend.delete_topic("t.fifo").await.expect("delete");
    create(backend, "t.fifo", t0 + WINDOW_MS + 2).await;
    assert_eq!(
        backend
            .topic_duplicate("t.fifo", "d1", t0 + WINDOW_MS + 3)
            .await
            .expect("read the window"),
        None,
        "a deleted topic's window is gone"
    );
}

/// Due HTTP deliveries are claimed oldest first, up to the limit, each
/// leased: hidden from other claims until the lease ends, then claimed
/// again if it was neither completed nor retried.
pub async fn http_outbox_claim_with_lease(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "t", t0).await;
    subscribe(backend, &subscription("t", "t:1", "https", "https://h"), t0).await;
    publish(
        backend,
        "t",
        &[delivery("t:1", "one"), delivery("t:1", "two")],
        t0,
    )
    .await;
    publish(backend, "t", &[delivery("t:1", "three")], t0 + 10).await;
    assert_eq!(pending(backend).await, 3);

    assert!(
        backend
            .claim_deliveries(t0 - 1, 10, 1000)
            .await
            .expect("claim")
            .is_empty(),
        "nothing is due before it was committed"
    );
    let first = backend
        .claim_deliveries(t0 + 10, 2, 1000)
        .await
        .expect("claim");
    let bodies: Vec<_> = first.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two"], "oldest first, up to the limit");
    assert!(first.iter().all(|d| d.attempts == 0));
    assert_eq!(first[0].subscription_arn, "t:1");
    assert_eq!(first[0].url, "http://example.com/t:1");
    assert_eq!(
        first[0].headers,
        vec![(
            "x-amz-sns-message-type".to_owned(),
            "Notification".to_owned()
        )]
    );
    assert_eq!(first[0].created_ms, t0);

    let second = backend
        .claim_deliveries(t0 + 10, 10, 1000)
        .await
        .expect("claim");
    let bodies: Vec<_> = second.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, ["three"], "leased deliveries are not claimed again");
    assert!(
        backend
            .claim_deliveries(t0 + 1009, 10, 1000)
            .await
            .expect("claim")
            .is_empty(),
        "within the lease"
    );
    let again = backend
        .claim_deliveries(t0 + 1010, 10, 1000)
        .await
        .expect("claim");
    let mut bodies: Vec<_> = again.iter().map(|d| d.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, ["one", "three", "two"], "after the lease");
    assert!(
        again.iter().all(|d| d.attempts == 0),
        "a lease is no attempt"
    );
    assert_eq!(pending(backend).await, 3, "leased deliveries still wait");
}

/// A completed delivery is gone; a retried one counts an attempt and is
/// due again at its time; a dropped one is gone; unsubscribing and
/// deleting the topic take pending deliveries with them.
pub async fn http_outbox_complete_retry_and_drop(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "t", t0).await;
    subscribe(backend, &subscription("t", "t:1", "https", "https://h"), t0).await;
    publish(
        backend,
        "t",
        &[
            delivery("t:1", "done"),
            delivery("t:1", "retried"),
            delivery("t:1", "dropped"),
        ],
        t0,
    )
    .await;
    let claimed = backend
        .claim_deliveries(t0, 10, 60_000)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    let id = |body: &str| {
        claimed
            .iter()
            .find(|d| d.body == body)
            .map(|d| d.id)
            .expect("claimed")
    };
    backend
        .complete_delivery(id("done"))
        .await
        .expect("complete");
    backend
        .retry_delivery(id("retried"), t0 + 500)
        .await
        .expect("retry");
    backend.drop_delivery(id("dropped")).await.expect("drop");
    assert_eq!(pending(backend).await, 1);

    assert!(
        backend
            .claim_deliveries(t0 + 499, 10, 60_000)
            .await
            .expect("claim")
            .is_empty(),
        "not due before its retry time"
    );
    let retried = backend
        .claim_deliveries(t0 + 500, 10, 60_000)
        .await
        .expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].body, "retried");
    assert_eq!(retried[0].attempts, 1);
    backend
        .retry_delivery(retried[0].id, t0 + 700)
        .await
        .expect("retry again");
    let retried = backend
        .claim_deliveries(t0 + 700, 10, 60_000)
        .await
        .expect("claim");
    assert_eq!(retried.first().map(|d| d.attempts), Some(2));

    subscribe(backend, &subscription("t", "t:2", "http", "http://h2"), t0).await;
    publish(backend, "t", &[delivery("t:2", "other")], t0 + 800).await;
    assert_eq!(pending(backend).await, 2);
    backend.unsubscribe("t:2").await.expect("unsubscribe");
    assert_eq!(
        pending(backend).await,
        1,
        "unsubscribing drops its deliveries"
    );
    backend.delete_topic("t").await.expect("delete");
    assert_eq!(
        pending(backend).await,
        0,
        "deleting the topic drops the rest"
    );
}

/// The local outbox answers its newest messages (of one topic if asked),
/// oldest first, as they were recorded; a text message to a phone number
/// has no topic.
pub async fn local_outbox_newest_first_n(backend: &dyn TopicBackend, t0: i64) {
    create(backend, "a", t0).await;
    create(backend, "b", t0).await;
    for (i, (topic, body)) in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("a", "a3")]
        .into_iter()
        .enumerate()
    {
        let earlier = backend
            .commit_publication(topic, None, &[], &[outbox(topic, body)], t0 + i as i64)
            .await
            .expect("commit");
        assert_eq!(earlier, None);
    }
    let mut text = outbox("", "sms1");
    text.subscription_arn = String::new();
    text.protocol = "sms".to_owned();
    text.endpoint = "+15555550100".to_owned();
    text.subject = None;
    backend
        .commit_publication("", None, &[], &[text.clone()], t0 + 10)
        .await
        .expect("record a text message");
    assert_eq!(pending(backend).await, 0, "no HTTP deliveries");

    let bodies = |messages: Vec<stratus_sns::backend::OutboxMessage>| {
        messages
            .into_iter()
            .map(|m| m.message.body)
            .collect::<Vec<_>>()
    };
    let newest = backend.local_outbox(None, 2).await.expect("read");
    assert_eq!(bodies(newest), ["a3", "sms1"], "the newest, oldest first");
    let of_a = backend.local_outbox(Some("a"), 2).await.expect("read");
    assert_eq!(bodies(of_a), ["a2", "a3"]);
    let of_b = backend.local_outbox(Some("b"), 10).await.expect("read");
    assert_eq!(bodies(of_b), ["b1"]);

    let all = backend.local_outbox(None, 100).await.expect("read");
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids grow");
    let last = all.last().expect("a message");
    assert_eq!(last.message, text, "kept as recorded");
    assert_eq!(last.created_ms, t0 + 10);
    let first = &all[0];
    assert_eq!(first.message.kind, OutboxKind::Notification);
    assert_eq!(first.message.subject.as_deref(), Some("subject"));
    assert_eq!(first.created_ms, t0);
}
