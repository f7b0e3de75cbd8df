//! EventBridge's state in the embedded SQLite store: [`SqliteBuses`]
//! implements [`BusBackend`], each operation one call of the store (its
//! rules, transactions and group commit are there) on the blocking pool.
//! A schedule tick and everything it queues stay one transaction
//! ([`Store::fire_schedule_ticks`]).

use async_trait::async_trait;
use stratus_eventbridge::backend::{
    ApiDestinationRecord, ArchiveRecord, ArchivedEvent, BusBackend, BusRecord, BusRoutes,
    ConnectionRecord, EventDelivery, NewEventDelivery, NewRule, PolicyChange, ReplayRecord,
    RuleRecord, ScheduleKey, ScheduleState, ScheduleTick, StoreError, TagOwner, TargetRecord,
};

sqlite_backend! {
    /// EventBridge's buses, rules, archives, replays, connections, outbox and
    /// schedules in the embedded SQLite store; cheap to clone.
    SqliteBuses
}

#[async_trait]
impl BusBackend for SqliteBuses {
    async fn create_bus(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[(String, String)],
        now_ms: i64,
    ) -> Result<BusRecord, StoreError> {
        let (name, description, tags) = (
            name.to_string(),
            description.map(str::to_string),
            tags.to_vec(),
        );
        self.run("creating an event bus", move |store| {
            store.create_event_bus(&name, description.as_deref(), &tags, now_ms)
        })
        .await
    }

    async fn delete_bus(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.run("deleting an event bus", move |store| {
            store.delete_event_bus(&name)
        })
        .await
    }

    async fn bus(&self, name: &str) -> Result<Option<BusRecord>, StoreError> {
        let name = name.to_string();
        self.run("reading an event bus", move |store| store.event_bus(&name))
            .await
    }

    async fn buses(&self, prefix: &str) -> Result<Vec<BusRecord>, StoreError> {
        let prefix = prefix.to_string();
        self.run("listing event buses", move |store| {
            store.event_buses(&prefix)
        })
        .await
    }

    async fn update_bus_policy(
        &self,
        name: &str,
        now_ms: i64,
        change: PolicyChange,
    ) -> Result<(), StoreError> {
        let name = name.to_string();
        self.run("changing a bus's policy", move |store| {
            store.update_event_bus_policy(&name, now_ms, change)
        })
        .await
    }

    async fn routes(&self, bus: &str) -> Result<Option<BusRoutes>, StoreError> {
        let bus = bus.to_string();
        self.run("reading an event bus's rules", move |store| {
            store.event_routes(&bus)
        })
        .await
    }

    async fn put_rule(
        &self,
        rule: &NewRule,
        tags: &[(String, String)],
        now_ms: i64,
    ) -> Result<RuleRecord, StoreError> {
        let (rule, tags) = (rule.clone(), tags.to_vec());
        self.run("putting a rule", move |store| {
            store.put_event_rule(&rule, &tags, now_ms)
        })
        .await
    }

    async fn rule(&self, bus: &str, name: &str) -> Result<Option<RuleRecord>, StoreError> {
        let (bus, name) = (bus.to_string(), name.to_string());
        self.run("reading a rule", move |store| store.event_rule(&bus, &name))
            .await
    }

    async fn rules(&self, bus: &str, prefix: &str) -> Result<Vec<RuleRecord>, StoreError> {
        let (bus, prefix) = (bus.to_string(), prefix.to_string());
        self.run("listing rules", move |store| {
            store.event_rules(&bus, &prefix)
        })
        .await
    }

    async fn rule_names_by_target(&self, bus: &str, arn: &str) -> Result<Vec<String>, StoreError> {
        let (bus, arn) = (bus.to_string(), arn.to_string());
        self.run("listing rules by target", move |store| {
            store.event_rules_by_target(&bus, &arn)
        })
        .await
    }

    async fn schedule_rules(&self) -> Result<Vec<RuleRecord>, StoreError> {
        self.run("listing scheduled rules", move |store| {
            store.event_schedule_rules()
        })
        .await
    }

    async fn delete_rule(&self, bus: &str, name: &str, force: bool) -> Result<bool, StoreError> {
        let (bus, name) = (bus.to_string(), name.to_string());
        self.run("deleting a rule", move |store| {
            store.delete_event_rule(&bus, &name, force)
        })
        .await
    }

    async fn set_rule_enabled(
        &self,
        bus: &str,
        name: &str,
        enabled: bool,
    ) -> Result<bool, StoreError> {
        let (bus, name) = (bus.to_string(), name.to_string());
        self.run("enabling or disabling a rule", move |store| {
            store.set_event_rule_enabled(&bus, &name, enabled)
        })
        .await
    }

    async fn put_targets(
        &self,
        bus: &str,
        rule: &str,
        targets: &[TargetRecord],
        max_targets: usize,
    ) -> Result<(), StoreError> {
        let (bus, rule, targets) = (bus.to_string(), rule.to_string(), targets.to_vec());
        self.run("putting targets", move |store| {
            store.put_event_targets(&bus, &rule, &targets, max_targets)
        })
        .await
    }

    async fn remove_targets(
        &self,
        bus: &str,
        rule: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let (bus, rule, ids) = (bus.to_string(), rule.to_string(), ids.to_vec());
        self.run("removing targets", move |store| {
            store.remove_event_targets(&bus, &rule, &ids)
        })
        .await
    }

    async fn targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetRecord>, StoreError> {
        let (bus, rule) = (bus.to_string(), rule.to_string());
        self.run("listing targets", move |store| {
            store.event_targets(&bus, &rule)
        })
        .await
    }

    async fn tag(&self, owner: TagOwner<'_>, tags: &[(String, String)]) -> Result<(), StoreError> {
        let (owner, tags) = (
            (owner.0.to_string(), owner.1.map(str::to_string)),
            tags.to_vec(),
        );
        self.run("tagging", move |store| {
            store.tag_event_resource((&owner.0, owner.1.as_deref()), &tags)
        })
        .await
    }

    async fn untag(&self, owner: TagOwner<'_>, keys: &[String]) -> Result<(), StoreError> {
        let (owner, keys) = (
            (owner.0.to_string(), owner.1.map(str::to_string)),
            keys.to_vec(),
        );
        self.run("untagging", move |store| {
            store.untag_event_resource((&owner.0, owner.1.as_deref()), &keys)
        })
        .await
    }

    async fn tags(&self, owner: TagOwner<'_>) -> Result<Vec<(String, String)>, StoreError> {
        let owner = (owner.0.to_string(), owner.1.map(str::to_string));
        self.run("listing tags", move |store| {
            store.event_resource_tags((&owner.0, owner.1.as_deref()))
        })
        .await
    }

    async fn create_archive(&self, archive: &ArchiveRecord) -> Result<(), StoreError> {
        let archive = archive.clone();
        self.run("creating an archive", move |store| {
            store.create_event_archive(&archive)
        })
        .await
    }

    async fn archive(&self, name: &str) -> Result<Option<ArchiveRecord>, StoreError> {
        let name = name.to_string();
        self.run("reading an archive", move |store| {
            store.event_archive(&name)
        })
        .await
    }

    async fn archives(
        &self,
        prefix: &str,
        bus: Option<&str>,
    ) -> Result<Vec<ArchiveRecord>, StoreError> {
        let (prefix, bus) = (prefix.to_string(), bus.map(str::to_string));
        self.run("listing archives", move |store| {
            store.event_archives(&prefix, bus.as_deref())
        })
        .await
    }

    async fn update_archive(
        &self,
        name: &str,
        description: Option<&str>,
        pattern: Option<&str>,
        retention_days: Option<u32>,
    ) -> Result<bool, StoreError> {
        let (name, description, pattern) = (
            name.to_string(),
            description.map(str::to_string),
            pattern.map(str::to_string),
        );
        self.run("updating an archive", move |store| {
            store.update_event_archive(
                &name,
                description.as_deref(),
                pattern.as_deref(),
                retention_days,
            )
        })
        .await
    }

    async fn delete_archive(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.run("deleting an archive", move |store| {
            store.delete_event_archive(&name)
        })
        .await
    }

    async fn archive_event(
        &self,
        archives: &[(String, Option<i64>)],
        time_ms: i64,
        event: &str,
    ) -> Result<(), StoreError> {
        let (archives, event) = (archives.to_vec(), event.to_string());
        self.run("archiving an event", move |store| {
            store.archive_event(&archives, time_ms, &event)
        })
        .await
    }

    async fn archived_events(
        &self,
        archive: &str,
        from_ms: i64,
        to_ms: i64,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ArchivedEvent>, StoreError> {
        let archive = archive.to_string();
        self.run("reading archived events", move |store| {
            store.archived_events(&archive, from_ms, to_ms, after_seq, limit)
        })
        .await
    }

    async fn prune_archived_events(&self, now_ms: i64) -> Result<usize, StoreError> {
        self.run("pruning archived events", move |store| {
            store.prune_archived_events(now_ms)
        })
        .await
    }

    async fn create_replay(&self, replay: &ReplayRecord) -> Result<(), StoreError> {
        let replay = replay.clone();
        self.run("creating a replay", move |store| {
            store.create_event_replay(&replay)
        })
        .await
    }

    async fn replay(&self, name: &str) -> Result<Option<ReplayRecord>, StoreError> {
        let name = name.to_string();
        self.run("reading a replay", move |store| store.event_replay(&name))
            .await
    }

    async fn replays(&self, prefix: &str) -> Result<Vec<ReplayRecord>, StoreError> {
        let prefix = prefix.to_string();
        self.run("listing replays", move |store| store.event_replays(&prefix))
            .await
    }

    async fn advance_replay(
        &self,
        name: &str,
        cursor: i64,
        last_replayed_ms: i64,
    ) -> Result<(), StoreError> {
        let name = name.to_string();
        self.run("recording a replay's progress", move |store| {
            store.advance_event_replay(&name, cursor, last_replayed_ms)
        })
        .await
    }

    async fn set_replay_state(
        &self,
        name: &str,
        from: &[&str],
        state: &str,
        reason: Option<&str>,
        end_ms: Option<i64>,
    ) -> Result<Option<(ReplayRecord, bool)>, StoreError> {
        let (name, from, state, reason) = (
            name.to_string(),
            from.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            state.to_string(),
            reason.map(str::to_string),
        );
        self.run("changing a replay's state", move |store| {
            store.set_event_replay_state(
                &name,
                &from.iter().map(String::as_str).collect::<Vec<_>>(),
                &state,
                reason.as_deref(),
                end_ms,
            )
        })
        .await
    }

    async fn create_connection(&self, connection: &ConnectionRecord) -> Result<(), StoreError> {
        let connection = connection.clone();
        self.run("creating a connection", move |store| {
            store.create_event_connection(&connection)
        })
        .await
    }

    async fn connection(&self, name: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        let name = name.to_string();
        self.run("reading a connection", move |store| {
            store.event_connection(&name)
        })
        .await
    }

    async fn connections(&self, prefix: &str) -> Result<Vec<ConnectionRecord>, StoreError> {
        let prefix = prefix.to_string();
        self.run("listing connections", move |store| {
            store.event_connections(&prefix)
        })
        .await
    }

    async fn delete_connection(&self, name: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        let name = name.to_string();
        self.run("deleting a connection", move |store| {
            store.delete_event_connection(&name)
        })
        .await
    }

    async fn create_api_destination(
        &self,
        destination: &ApiDestinationRecord,
    ) -> Result<(), StoreError> {
        let destination = destination.clone();
        self.run("creating an API destination", move |store| {
            store.create_event_api_destination(&destination)
        })
        .await
    }

    async fn api_destination(
        &self,
        name: &str,
    ) -> Result<Option<ApiDestinationRecord>, StoreError> {
        let name = name.to_string();
        self.run("reading an API destination", move |store| {
            store.event_api_destination(&name)
        })
        .await
    }

    async fn api_destinations(
        &self,
        prefix: &str,
        connection_arn: Option<&str>,
    ) -> Result<Vec<ApiDestinationRecord>, StoreError> {
        let (prefix, connection_arn) = (prefix.to_string(), connection_arn.map(str::to_string));
        self.run("listing API destinations", move |store| {
            store.event_api_destinations(&prefix, connection_arn.as_deref())
        })
        .await
    }

    async fn delete_api_destination(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.run("deleting an API destination", move |store| {
            store.delete_event_api_destination(&name)
        })
        .await
    }

    async fn enqueue_deliveries(
        &self,
        deliveries: &[NewEventDelivery],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let deliveries = deliveries.to_vec();
        self.run("queuing deliveries", move |store| {
            store.enqueue_event_deliveries(&deliveries, now_ms)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<EventDelivery>, StoreError> {
        self.run("claiming deliveries", move |store| {
            store.claim_event_deliveries(now_ms, limit, lease_ms)
        })
        .await
    }

    async fn complete_delivery(&self, id: i64) -> Result<(), StoreError> {
        self.run("completing a delivery", move |store| {
            store.complete_event_delivery(id)
        })
        .await
    }

    async fn retry_delivery(&self, id: i64, due_ms: i64) -> Result<(), StoreError> {
        self.run("rescheduling a delivery", move |store| {
            store.retry_event_delivery(id, due_ms)
        })
        .await
    }

    async fn next_delivery_ms(&self) -> Result<Option<i64>, StoreError> {
        self.run("reading the next delivery", move |store| {
            store.next_event_delivery_ms()
        })
        .await
    }

    async fn sync_schedules(
        &self,
        schedules: &[ScheduleKey],
        now_ms: i64,
    ) -> Result<Vec<ScheduleState>, StoreError> {
        let schedules = schedules.to_vec();
        self.run("syncing schedules", move |store| {
            store.sync_schedules(&schedules, now_ms)
        })
        .await
    }

    async fn fire_schedule_ticks(
        &self,
        ticks: &[ScheduleTick],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let ticks = ticks.to_vec();
        self.run("firing schedule ticks", move |store| {
            store.fire_schedule_ticks(&ticks, now_ms)
        })
        .await
    }
}
