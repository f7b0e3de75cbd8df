//! Schedule expressions (`events: - schedule: ...`): AWS's `rate(...)`,
//! six-field `cron(...)` and one-time `at(...)` syntax, evaluated in an
//! IANA time zone. Pure: callers pass the instants (milliseconds since the
//! Unix epoch, UTC); nothing here reads a clock.
//!
//! # Syntax
//!
//! - `rate(N unit)` with `unit` one of `minute`, `hour`, `day` when `N` is
//!   1 and `minutes`, `hours`, `days` otherwise (AWS insists on the
//!   number agreeing). As a Stratus extension for tests and benchmarks,
//!   `rate(N second)` / `rate(N seconds)` (at least 1 second) is accepted
//!   too; AWS has no such unit. Rate ticks are `anchor + k * period`,
//!   `k >= 1`, where the anchor is when the schedule was created
//!   ([`Schedule::next_after_anchored`]).
//! - `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, AWS's
//!   flavour of Quartz cron: `,` lists, `-` ranges (wrapping, as in
//!   `FRI-MON`), `*` any, `/` increments (`0/15`, `*/5`, `10-40/10`);
//!   `?` in exactly one of day-of-month and day-of-week; in day-of-month
//!   `L` (last day), `LW` (last weekday) and `15W` (weekday nearest the
//!   15th, within the month); in day-of-week `L` alone (Saturday),
//!   `5L` (last Thursday) and `3#2` (second Tuesday). Months are 1-12 or
//!   `JAN`-`DEC`, weekdays 1-7 or `SUN`-`SAT` with 1 = Sunday, years
//!   1970-2199. Names are case-insensitive.
//! - `at(yyyy-mm-ddThh:mm:ss)`: once, at that local time.
//!
//! # Time zones
//!
//! `cron` and `at` are evaluated in local time of the schedule's time zone
//! (UTC by default). A local time skipped by a daylight-saving change fires
//! at the first instant after the gap (so every skipped time of one gap
//! fires once, together); a local time that occurs twice fires once, at its
//! first occurrence.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use std::fmt;

/// The first year a cron expression may name.
pub const MIN_YEAR: i32 = 1970;
/// The last year a cron expression may name.
pub const MAX_YEAR: i32 = 2199;

/// Why an expression or a time zone was refused. The message names the
/// expression and says what is wrong with it, e.g.
/// `cron(0 2 * * * *): exactly one of day-of-month and day-of-week must be ?`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is malformed.
    #[error("{expression}: {reason}")]
    Syntax {
        /// The expression as written.
        expression: String,
        /// What is wrong.
        reason: String,
    },
    /// The time zone is not an IANA name.
    #[error("unknown time zone {0}")]
    UnknownTimeZone(String),
}

/// A parsed schedule expression with its time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    expression: String,
    tz: Tz,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Rate { period_ms: i64 },
    Cron(Box<Cron>),
    At(NaiveDateTime),
}

impl Schedule {
    /// Parses `rate(...)`, `cron(...)` or `at(...)`; `timezone` is an IANA
    /// name such as `Europe/Paris` (default UTC).
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => name
                .trim()
                .parse::<Tz>()
                .map_err(|_| ScheduleError::UnknownTimeZone(name.to_string()))?,
        };
        let text = expression.trim();
        let err = |reason: String| ScheduleError::Syntax {
            expression: text.to_string(),
            reason,
        };
        let kind = if let Some(body) = inner(text, "rate") {
            parse_rate(body).map_err(err)?
        } else if let Some(body) = inner(text, "cron") {
            Kind::Cron(Box::new(Cron::parse(body).map_err(err)?))
        } else if let Some(body) = inner(text, "at") {
            Kind::At(
                NaiveDateTime::parse_from_str(body.trim(), "%Y-%m-%dT%H:%M:%S").map_err(|_| {
                    err("expected at(yyyy-mm-ddThh:mm:ss), e.g. at(2030-01-31T08:00:00)".into())
                })?,
            )
        } else if text.is_empty() {
            return Err(err(
                "empty schedule; expected rate(...), cron(...) or at(...)".into(),
            ));
        } else {
            return Err(err("expected rate(...), cron(...) or at(...)".into()));
        };
        Ok(Schedule {
            expression: text.to_string(),
            tz,
            kind,
        })
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone's IANA name.
    pub fn timezone(&self) -> &str {
        self.tz.name()
    }

    /// The period of a `rate(...)` schedule, in milliseconds.
    pub fn period_ms(&self) -> Option<i64> {
        match self.kind {
            Kind::Rate { period_ms } => Some(period_ms),
            _ => None,
        }
    }

    /// Whether it fires at most once (`at(...)`).
    pub fn is_one_time(&self) -> bool {
        matches!(self.kind, Kind::At(_))
    }

    /// The first tick strictly after `after_ms`; rates are anchored at the
    /// Unix epoch here (see [`Schedule::next_after_anchored`]). `None` when
    /// there is none (a one-time schedule in the past, a cron whose years
    /// are over or whose dates never occur, such as February 30).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        self.next_after_anchored(0, after_ms)
    }

    /// The first tick strictly after `after_ms` for a schedule created at
    /// `anchor_ms`: rate ticks are `anchor_ms + k * period` with `k >= 1`;
    /// cron and one-time ticks do not depend on the anchor.
    pub fn next_after_anchored(&self, anchor_ms: i64, after_ms: i64) -> Option<i64> {
        match &self.kind {
            Kind::Rate { period_ms } => {
                let k = if after_ms < anchor_ms {
                    1
                } else {
                    (after_ms - anchor_ms).div_euclid(*period_ms) + 1
                };
                anchor_ms.checked_add(k.checked_mul(*period_ms)?)
            }
            Kind::Cron(cron) => cron.next_after(self.tz, after_ms),
            Kind::At(at) => resolve(self.tz, *at).filter(|&t| t > after_ms),
        }
    }

    /// The ticks in `(after_ms, until_ms]`: how many there are (counting
    /// stops at `limit`) and the latest. `None` when there is none.
    pub fn ticks_between(
        &self,
        anchor_ms: i64,
        after_ms: i64,
        until_ms: i64,
        limit: u64,
    ) -> Option<(u64, i64)> {
        let first = self.next_after_anchored(anchor_ms, after_ms)?;
        if first > until_ms {
            return None;
        }
        if let Kind::Rate { period_ms } = self.kind {
            let count = (until_ms - first) / period_ms + 1;
            let latest = first + (count - 1) * period_ms;
            return Some((u64::try_from(count).unwrap_or(u64::MAX).min(limit), latest));
        }
        // Cron: count from the start, up to `limit`.
        let mut count = 1u64;
        let mut latest = first;
        while count < limit {
            match self.next_after_anchored(anchor_ms, latest) {
                Some(t) if t <= until_ms => {
                    count += 1;
                    latest = t;
                }
                _ => return Some((count, latest)),
            }
        }
        // Too many to count: find the latest by searching back from the end
        // in growing windows.
        let mut window = 3_600_000i64;
        loop {
            let start = until_ms.saturating_sub(window).max(latest);
            if let Some(mut t) = self.next_after_anchored(anchor_ms, start)
                && t <= until_ms
            {
                while let Some(n) = self.next_after_anchored(anchor_ms, t) {
                    if n > until_ms {
                        break;
                    }
                    t = n;
                }
                return Some((limit, t));
            }
            if start == latest {
                return Some((limit, latest));
            }
            window = window.saturating_mul(2);
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// The text between `name(` and the final `)`.
fn inner<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(name)?;
    let rest = rest.trim_start().strip_prefix('(')?;
    rest.strip_suffix(')')
}

fn parse_rate(body: &str) -> Result<Kind, String> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected rate(value unit), e.g. rate(5 minutes)".into());
    };
    let n: i64 = match value.parse::<i64>() {
        Ok(n) if n > 0 && value.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return Err(format!("the value must be a positive integer, not {value}")),
    };
    let (unit_ms, plural) = match unit.to_ascii_lowercase().as_str() {
        "second" => (1_000, false),
        "seconds" => (1_000, true),
        "minute" => (60_000, false),
        "minutes" => (60_000, true),
        "hour" => (3_600_000, false),
        "hours" => (3_600_000, true),
        "day" => (86_400_000, false),
        "days" => (86_400_000, true),
        _ => {
            return Err(format!(
                "unknown unit {unit} (expected minutes, hours or days; seconds as a Stratus extension)"
            ));
        }
    };
    if n == 1 && plural {
        return Err("use the singular unit with 1".into());
    }
    if n != 1 && !plural {
        return Err(format!("use the plural unit with {n}"));
    }
    let period_ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("the value {n} is too large"))?;
    Ok(Kind::Rate { period_ms })
}

/// The UTC instant of a local time: the first occurrence when it occurs
/// twice, the first instant after the gap when it is skipped.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.timestamp_millis()),
        LocalResult::Ambiguous(a, b) => Some(a.timestamp_millis().min(b.timestamp_millis())),
        LocalResult::None => {
            // In a gap: the first valid local minute after it is where the
            // clock jumped to; gaps are whole minutes and at most a day
            // (Samoa, 2011).
            let mut probe = local;
            for _ in 0..(2 * 24 * 60) {
                probe = probe.checked_add_signed(chrono::TimeDelta::minutes(1))?;
                match tz.from_local_datetime(&probe) {
                    LocalResult::Single(t) => return Some(t.timestamp_millis()),
                    LocalResult::Ambiguous(a, _) => return Some(a.timestamp_millis()),
                    LocalResult::None => {}
                }
            }
            None
        }
    }
}

// ---------------------------------------------------------------- cron

/// A bit set of small values (up to 256).
#[derive(Clone, PartialEq, Eq, Default)]
struct Bits([u64; 4]);

impl Bits {
    fn set(&mut self, v: u32) {
        self.0[(v / 64) as usize] |= 1 << (v % 64);
    }
    fn has(&self, v: u32) -> bool {
        v < 256 && self.0[(v / 64) as usize] & (1 << (v % 64)) != 0
    }
    fn values(&self, lo: u32, hi: u32) -> impl Iterator<Item = u32> + '_ {
        (lo..=hi).filter(|&v| self.has(v))
    }
}

impl fmt::Debug for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values(0, 255)).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DaySpec {
    /// `?`: the other day field decides.
    Unspecified,
    /// Day-of-month values (1-31).
    MonthDays(Bits),
    /// `L`.
    LastDay,
    /// `LW`.
    LastWeekday,
    /// `15W`.
    NearestWeekday(u32),
    /// Day-of-week values (1-7, 1 = Sunday).
    WeekDays(Bits),
    /// `5L`: the last such weekday of the month.
    LastOf(u32),
    /// `3#2`: the n-th such weekday of the month.
    Nth(u32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cron {
    minutes: Bits,
    hours: Bits,
    dom: DaySpec,
    months: Bits,
    dow: DaySpec,
    years: Bits,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    lo: u32,
    hi: u32,
    names: &'static [&'static str],
}

const MINUTES: Field = Field {
    name: "minutes",
    lo: 0,
    hi: 59,
    names: &[],
};
const HOURS: Field = Field {
    name: "hours",
    lo: 0,
    hi: 23,
    names: &[],
};
const DOM: Field = Field {
    name: "day-of-month",
    lo: 1,
    hi: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    lo: 1,
    hi: 12,
    names: &MONTHS,
};
const DOW: Field = Field {
    name: "day-of-week",
    lo: 1,
    hi: 7,
    names: &WEEKDAYS,
};
// Years are stored as offsets from MIN_YEAR so that they fit the bit set.
const YEAR: Field = Field {
    name: "year",
    lo: MIN_YEAR as u32,
    hi: MAX_YEAR as u32,
    names: &[],
};

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.lo + i as u32);
        }
        let v: u32 = match text.parse() {
            Ok(v) if text.bytes().all(|b| b.is_ascii_digit()) => v,
            _ => {
                let names = if self.names.is_empty() {
                    String::new()
                } else {
                    format!(" or {}-{}", self.names[0], self.names[self.names.len() - 1])
                };
                return Err(format!(
                    "{}: invalid value {text} (expected {}-{}{names})",
                    self.name, self.lo, self.hi
                ));
            }
        };
        if v < self.lo || v > self.hi {
            return Err(format!(
                "{}: {v} is out of range {}-{}",
                self.name, self.lo, self.hi
            ));
        }
        Ok(v)
    }

    /// Parses `,` `-` `*` `/` syntax into values offset by `base`.
    fn parse(&self, text: &str, base: u32) -> Result<Bits, String> {
        let mut bits = Bits::default();
        for item in text.split(',') {
            if item.is_empty() {
                return Err(format!("{}: empty item in {text}", self.name));
            }
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => {
                    let step: u32 = match step.parse() {
                        Ok(s) if s > 0 && step.bytes().all(|b| b.is_ascii_digit()) => s,
                        _ => {
                            return Err(format!(
                                "{}: invalid increment {step} in {item}",
                                self.name
                            ));
                        }
                    };
                    (range, Some(step))
                }
                None => (item, None),
            };
            let (start, end) = if range == "*" {
                (self.lo, self.hi)
            } else if let Some((a, b)) = range.split_once('-') {
                (self.value(a)?, self.value(b)?)
            } else {
                let a = self.value(range)?;
                (a, if step.is_some() { self.hi } else { a })
            };
            let step = step.unwrap_or(1);
            // Walk from start to end, wrapping past the maximum.
            let span = self.hi - self.lo + 1;
            let length = if end >= start {
                end - start
            } else {
                end + span - start
            };
            let mut offset = 0;
            while offset <= length {
                let v = self.lo + (start - self.lo + offset) % span;
                bits.set(v - base);
                offset += step;
            }
        }
        Ok(bits)
    }
}

impl Cron {
    fn parse(body: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "expected 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                fields.len()
            ));
        }
        let minutes = MINUTES.parse(fields[0], 0)?;
        let hours = HOURS.parse(fields[1], 0)?;
        let dom = parse_dom(fields[2])?;
        let months = MONTH.parse(fields[3], 0)?;
        let dow = parse_dow(fields[4])?;
        let years = YEAR.parse(fields[5], MIN_YEAR as u32)?;
        let dom_any = dom == DaySpec::Unspecified;
        let dow_any = dow == DaySpec::Unspecified;
        if dom_any == dow_any {
            return Err("exactly one of day-of-month and day-of-week must be ?".into());
        }
        Ok(Cron {
            minutes,
            hours,
            dom,
            months,
            dow,
            years,
        })
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let spec = if self.dom == DaySpec::Unspecified {
            &self.dow
        } else {
            &self.dom
        };
        let day = date.day();
        let last = last_day(date.year(), date.month());
        let weekday = date.weekday().num_days_from_sunday() + 1;
        match spec {
            DaySpec::Unspecified => false,
            DaySpec::MonthDays(bits) => bits.has(day),
            DaySpec::LastDay => day == last,
            DaySpec::LastWeekday => {
                let last_date = date.with_day(last);
                last_date.is_some_and(|d| nearest_weekday(d, last) == day)
            }
            DaySpec::NearestWeekday(n) => {
                *n <= last
                    && date
                        .with_day(*n)
                        .is_some_and(|d| nearest_weekday(d, last) == day)
            }
            DaySpec::WeekDays(bits) => bits.has(weekday),
            DaySpec::LastOf(w) => weekday == *w && day + 7 > last,
            DaySpec::Nth(w, n) => weekday == *w && (day - 1) / 7 + 1 == *n,
        }
    }

    fn next_after(&self, tz: Tz, after_ms: i64) -> Option<i64> {
        let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?;
        let local = after.with_timezone(&tz).naive_local();
        // A day earlier, so that no local time that maps after `after` is
        // missed around offset changes.
        let mut date = local.date().checked_sub_days(Days::new(1))?;
        loop {
            let year = date.year();
            if year > MAX_YEAR {
                return None;
            }
            if year < MIN_YEAR || !self.years.has((year - MIN_YEAR) as u32) {
                date = NaiveDate::from_ymd_opt(year + 1, 1, 1)?;
                continue;
            }
            if !self.months.has(date.month()) {
                date = first_of_next_month(date)?;
                continue;
            }
            if self.day_matches(date) {
                // Within a day without an offset change local times resolve
                // in order, so the first one after `after` is the next tick;
                // around a change, the earliest of the day is.
                let steady = steady_day(tz, date);
                let mut best: Option<i64> = None;
                'day: for h in self.hours.values(0, 23) {
                    for m in self.minutes.values(0, 59) {
                        let time = NaiveTime::from_hms_opt(h, m, 0)?;
                        if let Some(t) = resolve(tz, date.and_time(time))
                            && t > after_ms
                        {
                            best = Some(best.map_or(t, |b| b.min(t)));
                            if steady {
                                break 'day;
                            }
                        }
                    }
                }
                if best.is_some() {
                    return best;
                }
            }
            date = date.checked_add_days(Days::new(1))?;
        }
    }
}

fn parse_dom(text: &str) -> Result<DaySpec, String> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "?" => return Ok(DaySpec::Unspecified),
        "L" => return Ok(DaySpec::LastDay),
        "LW" => return Ok(DaySpec::LastWeekday),
        _ => {}
    }
    if let Some(day) = upper.strip_suffix('W') {
        let n = DOM
            .value(day)
            .map_err(|e| format!("{e} (W takes a single day, e.g. 15W)"))?;
        return Ok(DaySpec::NearestWeekday(n));
    }
    if upper.contains('L') || upper.contains('#') || upper.contains('?') {
        return Err(format!(
            "day-of-month: invalid value {text} (L, LW, 15W or values with , - * /)"
        ));
    }
    Ok(DaySpec::MonthDays(DOM.parse(text, 0)?))
}

fn parse_dow(text: &str) -> Result<DaySpec, String> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "?" => return Ok(DaySpec::Unspecified),
        "L" => {
            let mut bits = Bits::default();
            bits.set(7);
            return Ok(DaySpec::WeekDays(bits));
        }
        _ => {}
    }
    if let Some((day, nth)) = upper.split_once('#') {
        let w = DOW.value(day)?;
        let n: u32 = match nth.parse::<u32>() {
            Ok(n @ 1..=5) if nth.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(format!(
                    "day-of-week: invalid occurrence {nth} in {text} (expected 1-5)"
                ));
            }
        };
        return Ok(DaySpec::Nth(w, n));
    }
    if let Some(day) = upper.strip_suffix('L') {
        return Ok(DaySpec::LastOf(DOW.value(day)?));
    }
    if upper.contains('?') {
        return Err(format!("day-of-week: invalid value {text}"));
    }
    Ok(DaySpec::WeekDays(DOW.parse(text, 0)?))
}

/// Whether the UTC offset is the same all through the local `date`.
fn steady_day(tz: Tz, date: NaiveDate) -> bool {
    let offset_at = |d: NaiveDate| {
        let t = resolve(tz, d.and_time(NaiveTime::MIN))?;
        let utc = DateTime::<Utc>::from_timestamp_millis(t)?;
        Some(tz.offset_from_utc_datetime(&utc.naive_utc()).fix())
    };
    let start = offset_at(date);
    let end = date.succ_opt().and_then(offset_at);
    start.is_some() && start == end
}

fn last_day(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    }
}

/// The weekday nearest `date` (its day of month) within its month.
fn nearest_weekday(date: NaiveDate, last: u32) -> u32 {
    let day = date.day();
    match date.weekday() {
        chrono::Weekday::Sat if day == 1 => 3,
        chrono::Weekday::Sat => day - 1,
        chrono::Weekday::Sun if day == last => day - 2,
        chrono::Weekday::Sun => day + 1,
        _ => day,
    }
}
