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
//! The methods answer [`StoreError`] and take and return the records
//! defined here ([`BusRecord`], [`RuleRecord`], [`TargetRecord`], ...):
//! the backend depends on this crate, never the other way.

use async_trait::async_trait;
pub use stratus_core::StoreError;
pub use stratus_engine::records::NewAsyncEvent;

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

// The records a bus backend stores and returns.

/// A stored event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusRecord {
    /// Its name.
    pub name: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
    /// When it last changed (ms since the epoch): its creation or its
    /// policy.
    pub modified_ms: i64,
    /// Its resource policy (JSON text), if any.
    pub policy: Option<String>,
}

/// A rule to create or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    /// The bus's name.
    pub bus: String,
    /// The rule's name.
    pub name: String,
    /// The event pattern (JSON text).
    pub pattern: Option<String>,
    /// The schedule expression.
    pub schedule: Option<String>,
    /// Whether it is `ENABLED`.
    pub enabled: bool,
    /// Its description.
    pub description: Option<String>,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    /// The bus's name.
    pub bus: String,
    /// The rule's name.
    pub name: String,
    /// The event pattern (JSON text).
    pub pattern: Option<String>,
    /// The schedule expression.
    pub schedule: Option<String>,
    /// Whether it is `ENABLED`.
    pub enabled: bool,
    /// Its description.
    pub description: Option<String>,
    /// When it was first created (ms since the epoch).
    pub created_ms: i64,
}

/// A target of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetRecord {
    /// Its id, unique within the rule.
    pub id: String,
    /// The ARN of the function, queue, topic, bus or API destination.
    pub arn: String,
    /// Constant JSON input.
    pub input: Option<String>,
    /// A JSON path into the event.
    pub input_path: Option<String>,
    /// An input transformer (JSON text with `InputPathsMap`, `InputTemplate`).
    pub input_transformer: Option<String>,
    /// The target's other parameters (a JSON object: `SqsParameters`,
    /// `HttpParameters`, `RetryPolicy`, …), kept as given.
    pub params: Option<String>,
}

/// The tags of a bus (`rule` None) or of a rule.
pub type TagOwner<'a> = (&'a str, Option<&'a str>);

/// An archive of an event bus (EventBridge): the events of its bus that
/// match its pattern, kept `retention_days` (0: forever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRecord {
    /// Its name, unique among archives.
    pub name: String,
    /// The bus whose events it keeps.
    pub bus: String,
    /// Its description.
    pub description: Option<String>,
    /// The event pattern (JSON text); every event of the bus when None.
    pub pattern: Option<String>,
    /// Days an event is kept; 0 keeps it forever.
    pub retention_days: u32,
    /// `ENABLED` (the only state Stratus has).
    pub state: String,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
    /// How many events it holds (read only).
    pub event_count: u64,
    /// The size of those events in bytes (read only).
    pub size_bytes: u64,
}

/// An archived event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedEvent {
    /// Its position in the archives, increasing with arrival.
    pub seq: i64,
    /// The event's `time` (ms since the epoch).
    pub time_ms: i64,
    /// The event, as JSON text.
    pub event: String,
}

/// A replay of an archive's events onto its bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRecord {
    /// Its name, unique among replays.
    pub name: String,
    /// The archive replayed.
    pub archive: String,
    /// Its description.
    pub description: Option<String>,
    /// The bus the events are replayed to.
    pub bus: String,
    /// The ARNs of the rules replayed to (every rule of the bus when empty).
    pub filter_arns: Vec<String>,
    /// The first event time replayed (ms, inclusive).
    pub start_ms: i64,
    /// The last event time replayed (ms, exclusive).
    pub end_ms: i64,
    /// `STARTING`, `RUNNING`, `CANCELLING`, `COMPLETED`, `CANCELLED` or
    /// `FAILED`.
    pub state: String,
    /// Why it is in that state, if it says.
    pub state_reason: Option<String>,
    /// When it started (ms).
    pub replay_start_ms: i64,
    /// When it ended (ms).
    pub replay_end_ms: Option<i64>,
    /// The time of the last event replayed (ms).
    pub last_replayed_ms: Option<i64>,
    /// The `seq` of the last archived event replayed (0 before the first).
    pub cursor: i64,
}

/// A connection of API destinations: how to authorize with an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// Its name, unique among connections.
    pub name: String,
    /// The id in its ARN.
    pub id: String,
    /// Its description.
    pub description: Option<String>,
    /// `API_KEY`, `BASIC` or `OAUTH_CLIENT_CREDENTIALS`.
    pub auth_type: String,
    /// `AuthParameters` as given (JSON text, secrets included).
    pub auth: String,
    /// `AUTHORIZED`, `AUTHORIZING`, …
    pub state: String,
    /// When it was created (ms).
    pub created_ms: i64,
    /// When it last changed (ms).
    pub modified_ms: i64,
    /// When it was last authorized (ms).
    pub authorized_ms: Option<i64>,
}

/// An API destination: an HTTP endpoint rules deliver to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiDestinationRecord {
    /// Its name, unique among API destinations.
    pub name: String,
    /// The id in its ARN.
    pub id: String,
    /// Its description.
    pub description: Option<String>,
    /// The ARN of its connection.
    pub connection_arn: String,
    /// The URL events go to.
    pub endpoint: String,
    /// The HTTP method.
    pub method: String,
    /// `InvocationRateLimitPerSecond`, if given.
    pub rate_limit: Option<u32>,
    /// When it was created (ms).
    pub created_ms: i64,
    /// When it last changed (ms).
    pub modified_ms: i64,
}

/// A delivery of a rule's target waiting in the bus's outbox: the targets
/// that are not functions (queues, topics, buses, API destinations) of a
/// schedule's tick, and every delivery to an API destination, retried until
/// it succeeds or runs out of attempts or age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEventDelivery {
    /// The target's ARN.
    pub target: String,
    /// What it gets (the rendered input).
    pub payload: String,
    /// The event's `detail-type`.
    pub kind: String,
    /// The event's `source`.
    pub source: String,
    /// The event's id.
    pub event_id: Option<String>,
    /// The target's parameters (JSON text: `SqsParameters`,
    /// `HttpParameters`, …), if any.
    pub params: Option<String>,
    /// The rule's ARN (logs, metrics).
    pub rule: String,
    /// Attempts at most (first included).
    pub max_attempts: u32,
    /// How long it may be retried (ms after it was queued).
    pub max_age_ms: i64,
}

/// A delivery claimed from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDelivery {
    /// Its id in the outbox.
    pub id: i64,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When it was queued (ms).
    pub created_ms: i64,
    /// What to deliver.
    pub delivery: NewEventDelivery,
}

/// A schedule the scheduler follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleKey {
    /// The stable key of the schedule.
    pub key: String,
    /// The function it invokes (a rule's schedule: the rule's ARN).
    pub function: String,
    /// The expression, for display.
    pub expression: String,
}

/// The stored state of one schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleState {
    /// The stable key of the schedule.
    pub key: String,
    /// The function it invokes (a rule's schedule: the rule's ARN).
    pub function: String,
    /// The expression, for display.
    pub expression: String,
    /// When the schedule was first seen (ms): rate ticks are
    /// `anchor + k * period`, and no tick before it fires.
    pub anchor_ms: i64,
    /// The last tick fired (ms), or the anchor if none has.
    pub last_tick_ms: i64,
    /// How many ticks have fired.
    pub fired: u64,
}

/// A tick to fire, with what it enqueues: asynchronous invocations (a
/// manifest schedule's function, a rule's function targets) and outbox
/// deliveries (a rule's other targets).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleTick {
    /// The schedule's key.
    pub key: String,
    /// The tick (ms since the epoch).
    pub tick_ms: i64,
    /// The invocations to enqueue.
    pub events: Vec<NewAsyncEvent>,
    /// The deliveries to queue in the bus's outbox.
    pub deliveries: Vec<NewEventDelivery>,
    /// For a rule's schedule, the rule (bus, name): the tick fires only if
    /// the rule still exists, enabled, with a schedule.
    pub rule: Option<(String, String)>,
}
