//! Health metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`):
//! the application picks the exporter (Prometheus, OpenTelemetry, StatsD). Names follow the
//! Kubernetes component SLIs (`kubernetes_healthcheck`, `kubernetes_healthchecks_total`);
//! label values are bounded: check names and components, never error text or URLs.
//!
//! | metric | type | labels | unit | meaning |
//! |---|---|---|---|---|
//! | `vitals_healthcheck` | gauge | `name`, `component`, `critical` | | the check's latest status: 2 pass, 1 warn, 0 fail |
//! | `vitals_healthcheck_status` | gauge | `name`, `component`, `critical`, `status` | | 1 for the check's latest status (`pass`, `warn`, `fail`), 0 for the others: one series per status, as kube-state-metrics shapes a state, so `sum by (name) (vitals_healthcheck_status{status="fail"})` counts the replicas that see a check fail |
//! | `vitals_healthcheck_up` | gauge | `name`, `component`, `critical` | | 1 when the check's latest run succeeded, else 0: the dependency as this replica sees it, before flap damping, non-critical or fail-open; no series before the first run; what fleet uptime and fail-open read |
//! | `vitals_healthcheck_fail_open` | gauge | `name`, `component`, `critical` | | 1 while the check's latest run failed and is served as warn because every replica sees it fail ([`CheckOptions::shared`](crate::CheckOptions::shared)) |
//! | `vitals_healthchecks_total` | counter | `name`, `component`, `critical`, `status` | runs | completed runs by outcome (`pass`, `warn`, `fail`) |
//! | `vitals_healthcheck_duration_seconds` | histogram | `name`, `component`, `critical` | seconds | how long a run took, retries and delays included |
//! | `vitals_healthcheck_attempts_total` | counter | `name`, `component`, `critical` | attempts | attempts made; above the runs total, retries happened |
//! | `vitals_healthcheck_result_age_seconds` | gauge | `name`, `component`, `critical` | seconds | age of the result being served, as of the last run or [`Health::record_result_ages`](crate::Health::record_result_ages) |
//! | `vitals_probe_requests_total` | counter | `probe`, `status` | requests | probe answers (`readyz`, `livez`, `startupz`, `healthz`) by status (`pass`, `warn`, `fail`) |
//! | `vitals_probe_status` | gauge | `probe` | | what the probe answers now, 2 pass, 1 warn, 0 fail: the drain and the startup latch included, set after every run |
//!
//! Handles are registered when the registry is built: install the recorder first. A probe
//! answer then costs one atomic increment and no allocation.
use std::time::Duration;

use crate::{CheckStatus, Probe, Status};

/// The metric names, for dashboards and alert rules written against them.
pub mod names {
    /// Gauge: the check's latest status, 2 pass, 1 warn, 0 fail.
    pub const CHECK_STATUS: &str = "vitals_healthcheck";
    /// Gauge: 1 for the check's latest status, 0 for the others, one series per status.
    pub const CHECK_STATE: &str = "vitals_healthcheck_status";
    /// Gauge: 1 when the check's latest run succeeded, else 0.
    pub const CHECK_UP: &str = "vitals_healthcheck_up";
    /// Gauge: 1 while the check fails open.
    pub const CHECK_FAIL_OPEN: &str = "vitals_healthcheck_fail_open";
    /// Counter: completed runs by outcome.
    pub const CHECK_RUNS: &str = "vitals_healthchecks_total";
    /// Histogram: run duration in seconds.
    pub const CHECK_DURATION: &str = "vitals_healthcheck_duration_seconds";
    /// Counter: attempts made.
    pub const CHECK_ATTEMPTS: &str = "vitals_healthcheck_attempts_total";
    /// Gauge: age of the result being served, in seconds.
    pub const CHECK_RESULT_AGE: &str = "vitals_healthcheck_result_age_seconds";
    /// Counter: probe answers by probe and status.
    pub const PROBE_REQUESTS: &str = "vitals_probe_requests_total";
    /// Gauge: what the probe answers now, 2 pass, 1 warn, 0 fail.
    pub const PROBE_STATUS: &str = "vitals_probe_status";
}

const STATUSES: [Status; 3] = [Status::Pass, Status::Warn, Status::Fail];

fn probe_index(probe: Probe) -> usize {
    Probe::EVERY.iter().position(|p| *p == probe).unwrap_or(0)
}

/// A status as a gauge's value: 2 pass, 1 warn, 0 fail.
fn gauge_value(status: Status) -> f64 {
    match status {
        Status::Pass => 2.0,
        Status::Warn => 1.0,
        Status::Fail => 0.0,
    }
}

fn status_index(status: Status) -> usize {
    STATUSES.iter().position(|s| *s == status).unwrap_or(0)
}

/// The handles of one check's metrics.
pub(crate) struct CheckMetrics {
    status: ::metrics::Gauge,
    state: [::metrics::Gauge; 3],
    /// Registered at the first run: before it, no series (an exporter's initial 0 would read
    /// as a failed run in fleet uptime).
    up: std::sync::OnceLock<::metrics::Gauge>,
    labels: [(&'static str, String); 3],
    fail_open: ::metrics::Gauge,
    runs: [::metrics::Counter; 3],
    duration: ::metrics::Histogram,
    attempts: ::metrics::Counter,
    age: ::metrics::Gauge,
}

impl CheckMetrics {
    pub(crate) fn new(name: &str, component: &str, critical: bool) -> Self {
        let labels = [
            ("name", name.to_owned()),
            ("component", component.to_owned()),
            ("critical", critical.to_string()),
        ];
        let by_status = |status: Status| {
            let mut labels = labels.to_vec();
            labels.push(("status", status.as_str().to_owned()));
            labels
        };
        let runs =
            STATUSES.map(|status| ::metrics::counter!(names::CHECK_RUNS, &by_status(status)));
        let state =
            STATUSES.map(|status| ::metrics::gauge!(names::CHECK_STATE, &by_status(status)));
        CheckMetrics {
            status: ::metrics::gauge!(names::CHECK_STATUS, &labels),
            state,
            up: std::sync::OnceLock::new(),
            fail_open: ::metrics::gauge!(names::CHECK_FAIL_OPEN, &labels),
            runs,
            duration: ::metrics::histogram!(names::CHECK_DURATION, &labels),
            attempts: ::metrics::counter!(names::CHECK_ATTEMPTS, &labels),
            age: ::metrics::gauge!(names::CHECK_RESULT_AGE, &labels),
            labels,
        }
    }

    /// A run finished with `status` after `attempts` attempts in `duration`; the check
    /// itself succeeded (`up`) or not, and fails open or not.
    pub(crate) fn run(
        &self,
        status: CheckStatus,
        attempts: u32,
        duration: Duration,
        up: bool,
        fail_open: bool,
    ) {
        let Some(status) = status.overall() else {
            return;
        };
        self.up
            .get_or_init(|| ::metrics::gauge!(names::CHECK_UP, &self.labels))
            .set(if up { 1.0 } else { 0.0 });
        self.fail_open.set(if fail_open { 1.0 } else { 0.0 });
        self.status.set(gauge_value(status));
        for (gauge, each) in self.state.iter().zip(STATUSES) {
            gauge.set(if each == status { 1.0 } else { 0.0 });
        }
        self.runs[status_index(status)].increment(1);
        self.duration.record(duration.as_secs_f64());
        self.attempts.increment(u64::from(attempts));
        self.age.set(0.0);
    }

    /// The result being served is `age` old.
    pub(crate) fn age(&self, age: Duration) {
        self.age.set(age.as_secs_f64());
    }
}

/// The handles of the probe answer counters and status gauges.
pub(crate) struct ProbeMetrics {
    answers: [[::metrics::Counter; 3]; 4],
    status: [::metrics::Gauge; 4],
}

impl ProbeMetrics {
    pub(crate) fn new() -> Self {
        ProbeMetrics {
            status: Probe::EVERY
                .map(|probe| ::metrics::gauge!(names::PROBE_STATUS, "probe" => probe.name())),
            answers: Probe::EVERY.map(|probe| {
                STATUSES.map(|status| {
                    ::metrics::counter!(
                        names::PROBE_REQUESTS,
                        "probe" => probe.name(),
                        "status" => status.as_str()
                    )
                })
            }),
        }
    }

    /// `probe` was answered with `status`.
    pub(crate) fn answered(&self, probe: Probe, status: Status) {
        self.answers[probe_index(probe)][status_index(status)].increment(1);
    }

    /// `probe` answers `status` now.
    pub(crate) fn status(&self, probe: Probe, status: Status) {
        self.status[probe_index(probe)].set(gauge_value(status));
    }
}
