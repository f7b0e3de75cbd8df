//! Conformance suites of the backend traits: what every backend must do,
//! written against the trait, so that the SQLite backend and the ones to
//! come run the same cases.
//!
//! - [`queues`]: SQS's [`QueueBackend`](stratus_sqs::QueueBackend), one
//!   `pub async fn` per case, each taking a fresh backend and the time it
//!   starts at (`t0`, ms since the epoch; the cases move the clock
//!   forward themselves, never sleeping). [`queue_tests!`] makes one test
//!   per case in a backend's integration tests.
//! - [`topics`]: SNS's [`TopicBackend`](stratus_sns::TopicBackend), the
//!   same way; [`topic_tests!`] makes its tests.
//! - [`buses`]: EventBridge's [`BusBackend`](stratus_eventbridge::BusBackend),
//!   the same way (the
//!   schedule cases also count the async invocations a tick queued, through
//!   [`buses::Invocations`]); [`bus_tests!`] makes its tests.
//! - [`engine`]: the engine's four backends (functions and artifacts,
//!   telemetry, the async queue, keys), each case taking the whole
//!   [`EngineBackends`](stratus_engine::backend::EngineBackends) so that
//!   it can span traits (a function key removed with its function);
//!   [`engine_tests!`] makes its tests.
//!
//! The cases panic on a failed check (they are tests).

pub mod buses;
pub mod engine;
pub mod queues;
pub mod topics;

/// One `#[tokio::test]` per queue case, each on a fresh backend from
/// `$fresh`: an `async fn() -> (Guard, Backend)` where `Backend:
/// QueueBackend` and `Guard` keeps what it needs alive (a temp dir, a
/// database) until the case ends. The caller depends on `tokio`.
#[macro_export]
macro_rules! queue_tests {
    ($fresh:path) => {
        $crate::queue_tests!(@cases $fresh;
            standard_send_and_receive,
            visibility_timeout_hides_received_messages,
            receive_overrides_visibility_and_change_visibility_moves_it,
            delayed_messages_wait,
            delete_by_an_old_receipt_handle,
            fifo_send_and_receive,
            fifo_group_order_and_group_lock,
            fifo_handles_expire_with_their_receive,
            fifo_deduplicates_within_five_minutes,
            redrive_to_the_dlq_at_max_receive_count,
            move_messages_back_and_to_a_destination,
            delete_and_receive_is_one_call,
            purge_list_and_delete_queues,
            retention_sweep_removes_old_messages,
            tags_are_kept_per_queue_up_to_a_limit,
            settings_change_in_one_call_or_not_at_all,
            move_tasks_one_per_queue_newest_first,
        );
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (guard, backend) = $fresh().await;
                $crate::queues::$case(&backend, $crate::queues::T0).await;
                drop(guard);
            }
        )*
    };
}

/// One `#[tokio::test]` per topic case, each on a fresh backend from
/// `$fresh`: an `async fn() -> (Guard, Backend)` where `Backend:
/// TopicBackend` and `Guard` keeps what it needs alive until the case
/// ends. The caller depends on `tokio`.
#[macro_export]
macro_rules! topic_tests {
    ($fresh:path) => {
        $crate::topic_tests!(@cases $fresh;
            create_list_and_delete_topics_with_paging,
            topic_attributes_change_in_one_call_or_not_at_all,
            tags_are_kept_per_topic,
            subscribe_and_unsubscribe,
            list_subscriptions_by_page_and_topic,
            subscription_attributes_are_replaced,
            confirmation_tokens_find_their_subscription,
            fifo_dedup_window_of_publications,
            http_outbox_claim_with_lease,
            http_outbox_complete_retry_and_drop,
            local_outbox_newest_first_n,
        );
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (guard, backend) = $fresh().await;
                $crate::topics::$case(&backend, $crate::topics::T0).await;
                drop(guard);
            }
        )*
    };
}

/// One `#[tokio::test]` per bus case, each on a fresh backend from
/// `$fresh`: an `async fn() -> (Guard, Backend)` where `Backend:
/// BusBackend` and `Guard: buses::Invocations` keeps what it needs alive
/// (a temp dir, a database) until the case ends and counts the async
/// invocations queued. The caller depends on `tokio`.
#[macro_export]
macro_rules! bus_tests {
    ($fresh:path) => {
        $crate::bus_tests!(@cases $fresh;
            default_and_custom_buses,
            rules_with_patterns_enable_and_disable,
            targets_put_remove_list_and_rule_names,
            tags_of_buses_and_rules,
            permissions_change_the_policy_in_one_call,
            archive_events_with_retention_and_pruning,
            replay_progress_and_states,
            connections_and_api_destinations,
            outbox_lease_complete_and_retry,
        );
        $crate::bus_tests!(@probed $fresh;
            schedule_ticks_fire_once_with_their_async_rows,
            missed_ticks_fire_once,
            rule_ticks_queue_their_deliveries_while_enabled,
        );
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (guard, backend) = $fresh().await;
                $crate::buses::$case(&backend, $crate::buses::T0).await;
                drop(guard);
            }
        )*
    };
    (@probed $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (guard, backend) = $fresh().await;
                $crate::buses::$case(&backend, &guard, $crate::buses::T0).await;
                drop(guard);
            }
        )*
    };
}

/// One `#[tokio::test]` per engine case, each on fresh backends from
/// `$fresh`: an `async fn() -> (Guard, EngineBackends)` where `Guard`
/// keeps what the backends need alive (a temp dir, a database) until the
/// case ends. The caller depends on `tokio`.
#[macro_export]
macro_rules! engine_tests {
    ($fresh:path) => {
        $crate::engine_tests!(@cases $fresh;
            logs_read_back_per_function_in_pages,
            stats_sum_the_invocations_since_a_time,
            prune_removes_old_rows_and_keeps_new_ones,
        );
        $crate::async_queue_tests!(@cases $fresh, |b: &stratus_engine::backend::EngineBackends| b.async_queue.clone());
        $crate::function_tests!(@cases $fresh, |b: &stratus_engine::backend::EngineBackends| b.functions.clone());
        $crate::key_tests!(@cases $fresh, |b: &stratus_engine::backend::EngineBackends| (b.functions.clone(), b.keys.clone()));
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (guard, backends) = $fresh().await;
                $crate::engine::$case(&backends, $crate::engine::T0).await;
                drop(guard);
            }
        )*
    };
}

/// One `#[tokio::test]` per case of the access keys
/// ([`KeyBackend`](stratus_engine::backend::KeyBackend)), which need
/// functions too: `$fresh` is an `async fn() -> (Guard, (Functions, Keys))`
/// where `Functions: FunctionBackend` and `Keys: KeyBackend` share their
/// state. [`engine_tests!`] runs them too.
#[macro_export]
macro_rules! key_tests {
    ($fresh:path) => {
        $crate::key_tests!(@cases $fresh, |pair| pair);
    };
    (@cases $fresh:path, $pick:expr) => {
        $crate::key_tests!(@each $fresh, $pick;
            admin_key_is_created_once,
            function_keys_need_their_function_and_are_stable,
            a_removed_functions_key_is_gone,
        );
    };
    (@each $fresh:path, $pick:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (guard, made) = $fresh().await;
                #[allow(clippy::redundant_closure_call)]
                let (functions, keys) = ($pick)(&made);
                $crate::engine::$case(&*functions, &*keys, $crate::engine::T0).await;
                drop(guard);
            }
        )*
    };
}

/// One `#[tokio::test]` per case of the functions' backend
/// ([`FunctionBackend`](stratus_engine::backend::FunctionBackend)), each on
/// a fresh backend from `$fresh`: an `async fn() -> (Guard, Functions)`
/// where `Functions: FunctionBackend`. [`engine_tests!`] runs them too.
#[macro_export]
macro_rules! function_tests {
    ($fresh:path) => {
        $crate::function_tests!(@cases $fresh, |f| f);
    };
    (@cases $fresh:path, $pick:expr) => {
        $crate::async_queue_tests!(@each $fresh, $pick;
            artifacts_are_kept_under_a_checked_hash,
            first_deploy_creates_version_one_and_a_same_deploy_keeps_it,
            changed_config_makes_a_new_version_and_keeps_the_old,
            functions_left_out_of_a_deploy_are_removed,
            failed_deploys_change_nothing,
            remove_a_function_and_a_service,
        );
    };
}

/// One `#[tokio::test]` per case of the async queue
/// ([`AsyncQueueBackend`](stratus_engine::backend::AsyncQueueBackend)), each
/// on a fresh queue from `$fresh`: an `async fn() -> (Guard, Queue)` where
/// `Queue: AsyncQueueBackend`. [`engine_tests!`] runs them too; a backend
/// that implements this trait first runs them alone.
#[macro_export]
macro_rules! async_queue_tests {
    ($fresh:path) => {
        $crate::async_queue_tests!(@cases $fresh, |q| q);
    };
    (@cases $fresh:path, $pick:expr) => {
        $crate::async_queue_tests!(@each $fresh, $pick;
            claimed_events_are_leased_until_the_lease_ends,
            complete_deletes_and_retry_reschedules,
            failed_events_are_kept_and_never_claimed,
            events_past_their_max_age_expire_on_claim,
            released_leases_are_claimable_at_once,
            claim_honours_its_limit_and_age_order,
        );
    };
    (@each $fresh:path, $pick:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (guard, made) = $fresh().await;
                #[allow(clippy::redundant_closure_call)]
                let queue = ($pick)(&made);
                $crate::engine::$case(&*queue, $crate::engine::T0).await;
                drop(guard);
            }
        )*
    };
}
