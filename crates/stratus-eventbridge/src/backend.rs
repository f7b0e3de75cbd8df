//! The seam between EventBridge's semantics and where its state is kept.
//!
//! [`BusBackend`] has one async method per operation EventBridge needs
//! from its state: buses and their policies, rules, targets, tags,
//! archives and archived events, replays, connections and API
//! destinations, the outbox of target deliveries (claimed with a lease,
//! completed or retried), and the schedules (the set followed, and ticks
//! fired). A tick and everything it queues (the functions' async
//! invocations, the outbox rows of a rule's targets) are one call,
//! [`BusBackend::fire_schedule_ticks`], so that a backend makes them one
//! transaction and a tick fires once.
//!
//! Clocks are passed in (`now_ms`, milliseconds since the epoch) where an
//! operation depends on time, so the conformance suite
//! (`stratus-conformance`) drives any backend without sleeping.
//!
//! `stratus-store-sqlite` implements it over the embedded SQLite store;
//! the binary and test harnesses build it and hand it to
//! [`crate::EventBridge::start`]. This crate never names a backend.
//!
//! For now the methods answer [`StoreError`] and take and return the
//! store's types ([`BusRecord`], [`RuleRecord`], [`TargetRecord`], ...),
//! re-exported from `stratus-store`; moving them out of the store is the
//! next step, not this one.

use async_trait::async_trait;
pub use stratus_store::{
    ApiDestinationRecord, ArchiveRecord, ArchivedEvent, BusRecord, ConnectionRecord, EventDelivery,
    NewAsyncEvent, NewEventDelivery, NewRule, ReplayRecord, RuleRecord, ScheduleKey, ScheduleState,
    ScheduleTick, StoreError, TagOwner, TargetRecord,
};

/// A rule with its targets.
pub type Route = (RuleRecord, Vec<TargetRecord>);

/// A bus's enabled routes and its archives, read together.
pub type BusRoutes = (Vec<Route>, Vec<ArchiveRecord>);

/// A change of a bus's policy, computed from the policy as it is inside
/// the backend's transaction (`None`: no policy): the new policy (`None`
/// removes it), or an error that changes nothing and is handed back.
pub type PolicyChange =
    Box<dyn FnOnce(Option<&str>) -> Result<Option<String>, StoreError> + Send + 'static>;

/// Where EventBridge's buses, rules, targets, archives, replays,
/// connections, API destinations, outbox and schedules are kept.
///
/// Every write that returns `Ok` is durable.
#[async_trait]
pub trait BusBackend: Send + Sync + 'static {
    // Buses and permissions.

    /// Creates bus `name` with `tags`; [`StoreError::Conflict`] if it
    /// exists.
    async fn create_bus(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[(String, String)],
        now_ms: i64,
    ) -> Result<BusRecord, StoreError>;

    /// Deletes bus `name` with its rules, their targets and every tag;
    /// false if there was none. The caller refuses `default`.
    async fn delete_bus(&self, name: &str) -> Result<bool, StoreError>;

    /// Bus `name`, if any.
    async fn bus(&self, name: &str) -> Result<Option<BusRecord>, StoreError>;

    /// The buses whose names start with `prefix`, by name.
    async fn buses(&self, prefix: &str) -> Result<Vec<BusRecord>, StoreError>;

    /// Replaces the policy of bus `name` by what `change` makes of it, in
    /// one transaction; [`StoreError::NotFound`] if the bus does not exist.
    async fn update_bus_policy(
        &self,
        name: &str,
        now_ms: i64,
        change: PolicyChange,
    ) -> Result<(), StoreError>;

    /// The enabled pattern rules of bus `bus` with their targets, and its
    /// enabled archives, for PutEvents; `None` if the bus does not exist.
    async fn routes(&self, bus: &str) -> Result<Option<BusRoutes>, StoreError>;

    // Rules.

    /// Creates or replaces a rule (its targets stay) and adds `tags`;
    /// [`StoreError::NotFound`] if the bus does not exist.
    async fn put_rule(
        &self,
        rule: &NewRule,
        tags: &[(String, String)],
        now_ms: i64,
    ) -> Result<RuleRecord, StoreError>;

    /// Rule `name` of bus `bus`.
    async fn rule(&self, bus: &str, name: &str) -> Result<Option<RuleRecord>, StoreError>;

    /// The rules of bus `bus` whose names start with `prefix`, by name.
    async fn rules(&self, bus: &str, prefix: &str) -> Result<Vec<RuleRecord>, StoreError>;

    /// The names of the rules of bus `bus` with a target of ARN `arn`, by
    /// name; [`StoreError::NotFound`] if the bus does not exist.
    async fn rule_names_by_target(&self, bus: &str, arn: &str) -> Result<Vec<String>, StoreError>;

    /// The enabled rules with a schedule expression, of every bus, by bus
    /// and name.
    async fn schedule_rules(&self) -> Result<Vec<RuleRecord>, StoreError>;

    /// Deletes a rule with its tags; false if there was none. A rule with
    /// targets is refused with [`StoreError::Conflict`] unless `force`.
    async fn delete_rule(&self, bus: &str, name: &str, force: bool) -> Result<bool, StoreError>;

    /// Enables or disables a rule; false if it does not exist.
    async fn set_rule_enabled(
        &self,
        bus: &str,
        name: &str,
        enabled: bool,
    ) -> Result<bool, StoreError>;

    // Targets.

    /// Adds or replaces (by id) targets of a rule, refusing with
    /// [`StoreError::Invalid`] more than `max_targets` in all;
    /// [`StoreError::NotFound`] if the rule does not exist.
    async fn put_targets(
        &self,
        bus: &str,
        rule: &str,
        targets: &[TargetRecord],
        max_targets: usize,
    ) -> Result<(), StoreError>;

    /// Removes targets of a rule by id; returns the ids that existed.
    /// [`StoreError::NotFound`] if the rule does not exist.
    async fn remove_targets(
        &self,
        bus: &str,
        rule: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError>;

    /// The targets of a rule, by id.
    async fn targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetRecord>, StoreError>;

    // Tags of buses and rules.

    /// Adds or replaces tags of a bus (`(bus, None)`) or a rule;
    /// [`StoreError::NotFound`] if it does not exist.
    async fn tag(&self, owner: TagOwner<'_>, tags: &[(String, String)]) -> Result<(), StoreError>;

    /// Removes tags of a bus or rule.
    async fn untag(&self, owner: TagOwner<'_>, keys: &[String]) -> Result<(), StoreError>;

    /// The tags of a bus or rule, by key.
    async fn tags(&self, owner: TagOwner<'_>) -> Result<Vec<(String, String)>, StoreError>;

    // Archives and archived events.

    /// Creates an archive; [`StoreError::Conflict`] if it exists,
    /// [`StoreError::NotFound`] if its bus does not.
    async fn create_archive(&self, archive: &ArchiveRecord) -> Result<(), StoreError>;

    /// Archive `name`, with its event count and size.
    async fn archive(&self, name: &str) -> Result<Option<ArchiveRecord>, StoreError>;

    /// The archives starting with `prefix`, of bus `bus` if given.
    async fn archives(
        &self,
        prefix: &str,
        bus: Option<&str>,
    ) -> Result<Vec<ArchiveRecord>, StoreError>;

    /// Changes what is given of an archive; false if it does not exist.
    async fn update_archive(
        &self,
        name: &str,
        description: Option<&str>,
        pattern: Option<&str>,
        retention_days: Option<u32>,
    ) -> Result<bool, StoreError>;

    /// Deletes an archive with its events; false if it did not exist.
    async fn delete_archive(&self, name: &str) -> Result<bool, StoreError>;

    /// Archives `event` (at `time_ms`) in each of `archives`: (name,
    /// expiry in ms or `None` to keep it forever).
    async fn archive_event(
        &self,
        archives: &[(String, Option<i64>)],
        time_ms: i64,
        event: &str,
    ) -> Result<(), StoreError>;

    /// Up to `limit` events of an archive with a time in
    /// `[from_ms, to_ms)` and a sequence number after `after_seq`, by it.
    async fn archived_events(
        &self,
        archive: &str,
        from_ms: i64,
        to_ms: i64,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ArchivedEvent>, StoreError>;

    /// Removes the archived events whose retention ended by `now_ms`;
    /// returns how many.
    async fn prune_archived_events(&self, now_ms: i64) -> Result<usize, StoreError>;

    // Replays.

    /// Creates a replay; [`StoreError::Conflict`] if it exists.
    async fn create_replay(&self, replay: &ReplayRecord) -> Result<(), StoreError>;

    /// Replay `name`.
    async fn replay(&self, name: &str) -> Result<Option<ReplayRecord>, StoreError>;

    /// The replays starting with `prefix`.
    async fn replays(&self, prefix: &str) -> Result<Vec<ReplayRecord>, StoreError>;

    /// Records a replay's progress: the last sequence number replayed and
    /// the time of that event.
    async fn advance_replay(
        &self,
        name: &str,
        cursor: i64,
        last_replayed_ms: i64,
    ) -> Result<(), StoreError>;

    /// Moves replay `name` to `state` if it is in one of `from`; returns
    /// the replay as it is afterwards and whether it moved, or `None` if
    /// it does not exist. `end_ms` sets its end.
    async fn set_replay_state(
        &self,
        name: &str,
        from: &[&str],
        state: &str,
        reason: Option<&str>,
        end_ms: Option<i64>,
    ) -> Result<Option<(ReplayRecord, bool)>, StoreError>;

    // Connections and API destinations.

    /// Creates a connection; [`StoreError::Conflict`] if it exists.
    async fn create_connection(&self, connection: &ConnectionRecord) -> Result<(), StoreError>;

    /// Connection `name`.
    async fn connection(&self, name: &str) -> Result<Option<ConnectionRecord>, StoreError>;

    /// The connections starting with `prefix`.
    async fn connections(&self, prefix: &str) -> Result<Vec<ConnectionRecord>, StoreError>;

    /// Deletes a connection; returns it, or `None` if it did not exist.
    async fn delete_connection(&self, name: &str) -> Result<Option<ConnectionRecord>, StoreError>;

    /// Creates an API destination; [`StoreError::Conflict`] if it exists.
    async fn create_api_destination(
        &self,
        destination: &ApiDestinationRecord,
    ) -> Result<(), StoreError>;

    /// API destination `name`.
    async fn api_destination(&self, name: &str)
    -> Result<Option<ApiDestinationRecord>, StoreError>;

    /// The API destinations starting with `prefix`, of connection
    /// `connection_arn` if given.
    async fn api_destinations(
        &self,
        prefix: &str,
        connection_arn: Option<&str>,
    ) -> Result<Vec<ApiDestinationRecord>, StoreError>;

    /// Deletes an API destination; false if it did not exist.
    async fn delete_api_destination(&self, name: &str) -> Result<bool, StoreError>;

    // The outbox of target deliveries.

    /// Queues deliveries, due now.
    async fn enqueue_deliveries(
        &self,
        deliveries: &[NewEventDelivery],
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` due deliveries, oldest first, each leased for
    /// `lease_ms` (after which it is claimed again).
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<EventDelivery>, StoreError>;

    /// Removes a delivery (done, or given up).
    async fn complete_delivery(&self, id: i64) -> Result<(), StoreError>;

    /// Counts an attempt of a delivery and makes it due again at `due_ms`.
    async fn retry_delivery(&self, id: i64, due_ms: i64) -> Result<(), StoreError>;

    /// When the next delivery is due (or its lease ends), if any is
    /// queued.
    async fn next_delivery_ms(&self) -> Result<Option<i64>, StoreError>;

    // Schedules.

    /// Makes the schedules followed exactly `schedules`: new ones start at
    /// `now_ms` (no past tick fires), gone ones are forgotten. Returns the
    /// state of each, in the order given.
    async fn sync_schedules(
        &self,
        schedules: &[ScheduleKey],
        now_ms: i64,
    ) -> Result<Vec<ScheduleState>, StoreError>;

    /// Fires ticks in one transaction: each fires only if it is after its
    /// schedule's last tick (and, for a rule's, while the rule exists,
    /// enabled, with a schedule), queuing its async invocations and outbox
    /// deliveries with it. Returns, per tick, whether it fired.
    async fn fire_schedule_ticks(
        &self,
        ticks: &[ScheduleTick],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError>;
}
