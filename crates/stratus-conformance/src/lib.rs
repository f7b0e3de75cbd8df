//! Conformance suites of the backend traits: what every backend must do,
//! written against the trait, so that the SQLite backend and the ones to
//! come run the same cases.
//!
//! - [`queues`]: SQS's [`QueueBackend`](stratus_sqs::QueueBackend), one
//!   `pub async fn` per case, each taking a fresh backend and the time it
//!   starts at (`t0`, ms since the epoch; the cases move the clock
//!   forward themselves, never sleeping). [`queue_tests!`] makes one test
//!   per case in a backend's integration tests.
//!
//! The cases panic on a failed check (they are tests).

pub mod queues;

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
