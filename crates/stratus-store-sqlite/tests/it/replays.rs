//! EventBridge's replays over SQLite, end to end: a cancelled replay ends
//! cancelled, and one cut by a restart resumes where it was.

use std::sync::Arc;
use std::time::Duration;
use stratus_engine::{Engine, EngineConfig};
use stratus_eventbridge::EventBridge;
use stratus_eventbridge::archives::{NewArchive, NewReplay, archive_arn};
use stratus_eventbridge::backend::ReplayRecord;
use stratus_eventbridge::bus::PutEventsEntry;
use stratus_service_kit::{Kit, ServicesConfig, now_ms};
use stratus_store_sqlite::SqliteBuses;
use stratus_store_sqlite::Store;

async fn start(dir: &std::path::Path) -> (Engine, EventBridge) {
    let store = Store::open(dir).expect("store");
    let engine = Engine::start(
        stratus_store_sqlite::engine_backends(&store),
        Vec::new(),
        EngineConfig::default(),
    )
    .await
    .expect("engine");
    let events = EventBridge::start(
        Kit::new(engine.clone(), ServicesConfig::default()),
        Arc::new(SqliteBuses::new(store)),
    );
    (engine, events)
}

async fn stop(engine: Engine, events: EventBridge) {
    events.shutdown().await;
    engine.shutdown(Duration::from_secs(1)).await;
}

/// Polls until the replay is in `state`.
async fn reaches(events: &EventBridge, name: &str, state: &str) -> ReplayRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let replay = events.describe_replay(name).await.expect("replay");
        if replay.state == state {
            return replay;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never reached {state}: {replay:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An archive of every event of the default bus, holding `n` of them.
async fn archive_of(events: &EventBridge, n: usize) -> String {
    events
        .create_archive(NewArchive {
            name: "a".into(),
            source_arn: stratus_core::function::bus_arn("default"),
            description: None,
            pattern: None,
            retention_days: 0,
        })
        .await
        .expect("archive");
    let entries: Vec<PutEventsEntry> = (0..n)
        .map(|i| PutEventsEntry {
            source: "shop".into(),
            detail_type: "Order".into(),
            detail: format!("{{\"n\": {i}}}"),
            ..PutEventsEntry::default()
        })
        .collect();
    for chunk in entries.chunks(10) {
        for result in events.put_events(chunk.to_vec()).await {
            result.expect("put");
        }
    }
    assert_eq!(
        events.describe_archive("a").await.expect("a").event_count,
        n as u64
    );
    archive_arn("a")
}

fn replay(name: &str, archive: &str) -> NewReplay {
    NewReplay {
        name: name.into(),
        description: None,
        source_arn: archive.into(),
        start_ms: 0,
        end_ms: now_ms() + 60_000,
        destination: stratus_core::function::bus_arn("default"),
        filter_arns: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_replay_ends_cancelled_and_a_finished_one_cannot_be() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, events) = start(dir.path()).await;
    let archive = archive_of(&events, 200).await;

    let started = events
        .start_replay(replay("slow", &archive))
        .await
        .expect("start");
    assert_eq!(started.state, "STARTING");
    let cancelled = events.cancel_replay("slow").await.expect("cancel");
    assert_eq!(cancelled.state, "CANCELLING");
    let ended = reaches(&events, "slow", "CANCELLED").await;
    assert!(ended.replay_end_ms.is_some(), "{ended:?}");

    events
        .start_replay(replay("fast", &archive))
        .await
        .expect("start");
    let done = reaches(&events, "fast", "COMPLETED").await;
    assert!(
        done.cursor > 0 && done.last_replayed_ms.is_some(),
        "{done:?}"
    );
    let e = events.cancel_replay("fast").await.expect_err("completed");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "IllegalStatusException",
            "Replay fast is not in a valid state for this operation."
        )
    );
    // Replayed events are not archived again.
    assert_eq!(
        events.describe_archive("a").await.expect("a").event_count,
        200
    );
    stop(engine, events).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_cut_by_a_restart_resumes_where_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, events) = start(dir.path()).await;
    archive_of(&events, 5).await;
    stop(engine, events).await;

    // As a crash leaves them: one replay midway, one being cancelled.
    let store = Store::open(dir.path()).expect("store");
    let archived = store
        .archived_events("a", 0, i64::MAX, 0, 10)
        .expect("archived");
    let record = |name: &str, state: &str| ReplayRecord {
        name: name.into(),
        archive: "a".into(),
        description: None,
        bus: "default".into(),
        filter_arns: Vec::new(),
        start_ms: 0,
        end_ms: i64::MAX,
        state: state.into(),
        state_reason: None,
        replay_start_ms: 1,
        replay_end_ms: None,
        last_replayed_ms: None,
        cursor: archived[1].seq,
    };
    store
        .create_event_replay(&record("midway", "RUNNING"))
        .expect("midway");
    store
        .create_event_replay(&record("cut", "CANCELLING"))
        .expect("cut");
    drop(store);

    let (engine, events) = start(dir.path()).await;
    let done = reaches(&events, "midway", "COMPLETED").await;
    assert_eq!(done.cursor, archived[4].seq);
    assert_eq!(done.last_replayed_ms, Some(archived[4].time_ms));
    reaches(&events, "cut", "CANCELLED").await;
    stop(engine, events).await;
}
