//! The fleet: what every replica of the service sees, as a fleet-wide source last said.
//!
//! One replica's registry knows only its own results. A source that sees every replica
//! (Prometheus scraping each one's `/metrics`, read by vitals-prometheus) publishes what it
//! read into a [`Fleet`]; the registry reads it for two things only:
//!
//! - **fail-open** for checks marked [`shared`](crate::CheckOptions::shared): when a shared
//!   critical check fails here *and* a fresh reading says every replica (at least
//!   [`MIN_REPLICAS`]) sees it fail, the run is recorded as `warn` instead of `fail`, saying so,
//!   so a dependency every replica shares cannot empty the Service. Without a fresh reading,
//!   or when other replicas see the check pass, the check fails as it always does.
//! - **status pages**: [`Health::fleet`](crate::Health::fleet) hands the latest reading to a
//!   page, which shows it beside this replica's own history.
//!
//! The reading happens in the background on its own budget (the source's task), never on a
//! probe's path; a probe only compares a timestamp.
use std::{
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use tokio::time::Instant;

use crate::CheckStatus;

/// The fewest replicas a reading must show seeing a check before their agreement counts as
/// "the whole fleet": one replica alone cannot tell its own fault from a shared one.
pub const MIN_REPLICAS: usize = 2;

/// The latest reading of the fleet, shared by the source that writes it and the registries
/// and pages that read it. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use vitals_core::{CheckStatus, Fleet, FleetCheck, FleetReplica};
///
/// let fleet = Fleet::new("Prometheus at http://prometheus:9090", Duration::from_secs(45));
/// fleet.read(vec![FleetCheck::new("mongo", vec![
///     FleetReplica::new("10.0.0.1:5000", Some(CheckStatus::Fail), Some(false)),
///     FleetReplica::new("10.0.0.2:5000", Some(CheckStatus::Fail), Some(false)),
/// ])]);
/// let view = fleet.latest();
/// assert!(view.is_fresh());
/// assert_eq!(view.check("mongo").unwrap().every_replica_failing(), Some(2));
/// ```
#[derive(Clone, Debug)]
pub struct Fleet {
    inner: Arc<RwLock<Arc<FleetView>>>,
}

/// A [`Fleet`] that is not kept alive by this handle ([`Fleet::downgrade`]).
#[derive(Clone, Debug)]
pub struct WeakFleet {
    inner: std::sync::Weak<RwLock<Arc<FleetView>>>,
}

impl WeakFleet {
    /// The fleet, while anyone else holds it.
    pub fn upgrade(&self) -> Option<Fleet> {
        self.inner.upgrade().map(|inner| Fleet { inner })
    }
}

/// One reading of the fleet ([`Fleet::latest`]): the last good one, and why the latest
/// attempt failed if it did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FleetView {
    /// Where the reading comes from, for people ("Prometheus at http://…").
    pub source: String,
    /// When the last good reading was taken (`None`: none yet).
    pub read_at: Option<SystemTime>,
    /// Each check the source saw, in the order it listed them.
    pub checks: Vec<FleetCheck>,
    /// Why the latest reading failed, when it did: `checks` are then the last good reading's.
    pub problem: Option<String>,
    /// How old a reading may be and still decide fail-open.
    pub fresh_within: Duration,
    read_instant: Option<Instant>,
}

/// One check across the fleet.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FleetCheck {
    /// The check's name.
    pub name: String,
    /// Every replica that reports the check, ordered by name.
    pub replicas: Vec<FleetReplica>,
    /// Uptime over the windows of [`crate::history::UPTIME_WINDOWS`] across every replica
    /// and restart: the share of readings in which a replica's latest run succeeded.
    pub uptime: [(&'static str, Option<f64>); 4],
    /// The median and 99th percentile of run durations over the last hour, fleet-wide.
    pub latency: Option<(Duration, Duration)>,
    /// The fleet's state over the last hour, as its changes, oldest first: `Pass` while every
    /// replica's run succeeded, `Warn` while some failed, `Fail` while all did.
    pub timeline: Vec<(SystemTime, CheckStatus)>,
}

/// One replica's view of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetReplica {
    /// The replica, as the source names it (Prometheus' `instance`, or a pod name).
    pub name: String,
    /// The status that replica serves for the check (`None`: not reported).
    pub status: Option<CheckStatus>,
    /// Whether the check's latest run on that replica succeeded (`None`: not reported):
    /// the dependency as that replica sees it, before damping, non-critical or fail-open.
    pub up: Option<bool>,
}

impl FleetReplica {
    /// A replica's view.
    pub fn new(name: impl Into<String>, status: Option<CheckStatus>, up: Option<bool>) -> Self {
        FleetReplica {
            name: name.into(),
            status,
            up,
        }
    }
}

impl FleetCheck {
    /// A check seen by `replicas`, without history.
    pub fn new(name: impl Into<String>, mut replicas: Vec<FleetReplica>) -> Self {
        replicas.sort_by(|a, b| a.name.cmp(&b.name));
        FleetCheck {
            name: name.into(),
            replicas,
            uptime: crate::history::UPTIME_WINDOWS.map(|(window, _)| (window, None)),
            latency: None,
            timeline: Vec::new(),
        }
    }

    /// With uptime per window (in the order of [`crate::history::UPTIME_WINDOWS`]).
    #[must_use]
    pub fn with_uptime(mut self, uptime: [Option<f64>; 4]) -> Self {
        for ((_, slot), value) in self.uptime.iter_mut().zip(uptime) {
            *slot = value;
        }
        self
    }

    /// With the median and 99th percentile run durations.
    #[must_use]
    pub fn with_latency(mut self, latency: Option<(Duration, Duration)>) -> Self {
        self.latency = latency;
        self
    }

    /// With the fleet's state over time; kept only where it changes.
    #[must_use]
    pub fn with_timeline(
        mut self,
        states: impl IntoIterator<Item = (SystemTime, CheckStatus)>,
    ) -> Self {
        self.timeline.clear();
        for (at, status) in states {
            if self.timeline.last().map(|(_, s)| *s) != Some(status) {
                self.timeline.push((at, status));
            }
        }
        self
    }

    /// How many replicas serve `status`.
    pub fn serving(&self, status: CheckStatus) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.status == Some(status))
            .count()
    }

    /// `Some(n)` when every one of the `n` replicas that report the check (at least
    /// [`MIN_REPLICAS`]) sees its latest run fail; else `None`.
    pub fn every_replica_failing(&self) -> Option<usize> {
        let reporting: Vec<bool> = self.replicas.iter().filter_map(|r| r.up).collect();
        (reporting.len() >= MIN_REPLICAS && reporting.iter().all(|up| !up))
            .then_some(reporting.len())
    }
}

impl FleetView {
    /// Whether the last good reading is younger than [`FleetView::fresh_within`].
    pub fn is_fresh(&self) -> bool {
        self.read_instant
            .is_some_and(|at| at.elapsed() < self.fresh_within)
    }

    /// The check called `name`, if the reading has it.
    pub fn check(&self, name: &str) -> Option<&FleetCheck> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl Fleet {
    /// A fleet read from `source` (named for people), whose readings decide fail-open for
    /// `fresh_within` after they are taken. Empty until the first [`Fleet::read`].
    pub fn new(source: impl Into<String>, fresh_within: Duration) -> Fleet {
        Fleet {
            inner: Arc::new(RwLock::new(Arc::new(FleetView {
                source: source.into(),
                read_at: None,
                checks: Vec::new(),
                problem: Some("not read yet".to_owned()),
                fresh_within,
                read_instant: None,
            }))),
        }
    }

    /// A handle that does not keep the fleet alive: a source's task holds one, and ends once
    /// nobody reads the fleet any more.
    pub fn downgrade(&self) -> WeakFleet {
        WeakFleet {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// A good reading, taken now.
    pub fn read(&self, checks: Vec<FleetCheck>) {
        self.replace(|view| FleetView {
            checks,
            read_at: Some(SystemTime::now()),
            read_instant: Some(Instant::now()),
            problem: None,
            ..view.clone()
        });
    }

    /// A failed reading: the last good one stays (and ages out of freshness), with why.
    pub fn failed(&self, problem: impl Into<String>) {
        let problem = problem.into();
        self.replace(|view| FleetView {
            problem: Some(problem),
            ..view.clone()
        });
    }

    /// The latest reading.
    pub fn latest(&self) -> Arc<FleetView> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, next: impl FnOnce(&FleetView) -> FleetView) {
        let mut slot = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Arc::new(next(&slot));
    }

    /// `Some(n)`: a fresh reading says every one of `n` replicas sees the check called `name`
    /// fail, so a shared check fails open.
    pub(crate) fn fails_everywhere(&self, name: &str) -> Option<usize> {
        let view = self.latest();
        if !view.is_fresh() {
            return None;
        }
        view.check(name)?.every_replica_failing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(name: &str, up: Option<bool>) -> FleetReplica {
        let status = up.map(|up| {
            if up {
                CheckStatus::Pass
            } else {
                CheckStatus::Fail
            }
        });
        FleetReplica::new(name, status, up)
    }

    #[test]
    fn the_whole_fleet_is_at_least_two_replicas_all_failing() {
        let check = |replicas| FleetCheck::new("mongo", replicas);
        assert_eq!(
            check(vec![replica("a", Some(false)), replica("b", Some(false))])
                .every_replica_failing(),
            Some(2)
        );
        // One replica passing: that one's problem is not the fleet's.
        assert_eq!(
            check(vec![
                replica("a", Some(false)),
                replica("b", Some(true)),
                replica("c", Some(false))
            ])
            .every_replica_failing(),
            None
        );
        // One replica alone cannot tell.
        assert_eq!(
            check(vec![replica("a", Some(false))]).every_replica_failing(),
            None
        );
        // A replica that does not report the check is not counted either way.
        assert_eq!(
            check(vec![
                replica("a", Some(false)),
                replica("b", None),
                replica("c", Some(false))
            ])
            .every_replica_failing(),
            Some(2)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reading_decides_only_while_fresh_and_a_failed_one_keeps_the_last() {
        let fleet = Fleet::new("test", Duration::from_secs(30));
        assert_eq!(fleet.fails_everywhere("mongo"), None, "nothing read yet");
        fleet.read(vec![FleetCheck::new(
            "mongo",
            vec![replica("a", Some(false)), replica("b", Some(false))],
        )]);
        assert_eq!(fleet.fails_everywhere("mongo"), Some(2));
        tokio::time::advance(Duration::from_secs(20)).await;
        fleet.failed("Prometheus did not answer");
        let view = fleet.latest();
        assert_eq!(view.problem.as_deref(), Some("Prometheus did not answer"));
        assert_eq!(view.checks.len(), 1, "the last good reading stays");
        assert_eq!(fleet.fails_everywhere("mongo"), Some(2), "still fresh");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(fleet.fails_everywhere("mongo"), None, "too old to decide");
    }
}
