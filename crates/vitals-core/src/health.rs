//! The registry's public face: reports per probe, the cached fast path, drain and startup.
//! Every rule lives in the engine ([`crate::engine`]), "the status of a probe now" included
//! (`Engine::probe_status`, `Engine::latest_report`); this module only asks it.
use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::sync::watch;

use crate::{
    CheckStatus, CheckTiming, Probe, Report, ReportOptions, Scrubber, Status,
    engine::{Demand, Engine, Pending},
    entry::Entry,
    history::{RunRecord, Transition},
};

/// The registry of checks: runs them, caches their results and reports.
///
/// Cheap to clone (an `Arc`). See the [crate docs](crate) for the modes.
#[derive(Clone)]
pub struct Health {
    pub(crate) engine: Arc<Engine>,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.check_names().collect();
        f.debug_struct("Health")
            .field("checks", &names)
            .field("draining", &self.is_draining())
            .field("started", &self.is_started())
            .finish()
    }
}

impl Health {
    /// Runs the checks of `probe` that need a run, waits for them however long they take, and
    /// reports. Request handlers use [`Health::report`], which answers within a bound.
    pub async fn run(&self, probe: Probe) -> Report {
        self.report(probe, &ReportOptions::new().wait_for_runs())
            .await
    }

    /// Reports `probe`: results still fresh are reused; a stale on-demand check gets one
    /// shared run (started here or joined), waited for at most the registry's
    /// [`answer_within`](crate::HealthBuilder::answer_within) and the caller's deadline, after
    /// which the latest result answers (stale-while-revalidate). What the caller asks never
    /// changes what another caller sees.
    pub async fn report(&self, probe: Probe, options: &ReportOptions) -> Report {
        let engine = &self.engine;
        if engine.fixed(probe).is_some() {
            let report = engine.latest_report(probe, options);
            engine.probe_metrics.answered(probe, report.status);
            return self.with_exclusions(report, options);
        }

        // Start every needed run first so they proceed concurrently, then collect.
        let until = options.wait_until(engine.answer_within);
        let pending: Vec<(usize, Pending)> = engine
            .selected(probe, options)
            .map(|index| (index, engine.result(index)))
            .collect();
        let mut checks = Vec::with_capacity(pending.len());
        for (index, pending) in pending {
            let (outcome, provenance) = pending.resolve(until).await;
            checks.push(engine.entries[index].report(outcome.as_deref(), provenance));
        }
        let report = Report::from_checks(probe, checks);
        engine.probe_metrics.answered(probe, report.status);
        self.with_exclusions(report, options)
    }

    /// Notes which of the caller's exclusions left a check of the report's probe out, and
    /// which named none.
    fn with_exclusions(&self, mut report: Report, options: &ReportOptions) -> Report {
        for name in options.exclusions() {
            let known = self
                .engine
                .entries
                .iter()
                .any(|e| e.probes.contains(report.probe) && e.name == *name);
            let list = if known {
                &mut report.excluded
            } else {
                &mut report.unmatched_exclusions
            };
            if !list.contains(name) {
                list.push(name.clone());
            }
        }
        report
    }

    /// The status of `probe` from the latest results, running nothing and waiting for nothing:
    /// what a watcher is told after each change ([`Health::subscribe`]). On demand, results
    /// are as fresh as the last probe made them.
    pub fn latest_status(&self, probe: Probe) -> Status {
        self.engine
            .probe_status(probe, false)
            .expect("without freshness required, every check has a status")
    }

    /// The overall status of `probe` when it can be answered without running any check — every
    /// check's result is fresh, in the background, skipped, or the probe is latched or
    /// draining — else `None`. Allocates nothing.
    ///
    /// Public for probe handlers other than vitals-tower's (an HTTP framework's own handler, a
    /// custom protocol): answer a terse probe with it, and call [`Health::report`] only when it
    /// says `None`. Like a report, it counts as an answered probe in the metrics.
    pub fn cached_status(&self, probe: Probe) -> Option<Status> {
        let engine = &self.engine;
        let status = engine.probe_status(probe, true)?;
        engine.probe_metrics.answered(probe, status);
        Some(status)
    }

    /// The status of the check called `name` when it can be answered without running it —
    /// its result is fresh, it runs in the background, or it is skipped — else `None` (also
    /// for an unknown name). Allocates nothing: the fast path of a gRPC `Check` for a check.
    pub fn cached_check_status(&self, name: &str) -> Option<CheckStatus> {
        self.engine.check_status(name, true)
    }

    /// The status of the check called `name` from its latest result (unknown while it has
    /// none), running nothing; `None` for an unknown name. What a watcher of one check is told.
    pub fn latest_check_status(&self, name: &str) -> Option<CheckStatus> {
        self.engine.check_status(name, false)
    }

    /// Every check's history (recent runs, status changes, uptime over 1 h, 24 h, 7 d and
    /// 30 d) and its status now, from memory: runs nothing. For status pages.
    pub fn history(&self) -> Vec<CheckHistory> {
        let now = SystemTime::now();
        self.engine
            .entries
            .iter()
            .map(|entry| check_history(entry, now))
            .collect()
    }

    /// [`Health::history`] of the check called `name` alone; `None` for an unknown name.
    pub fn check_history(&self, name: &str) -> Option<CheckHistory> {
        let entry = self.engine.entries.iter().find(|e| e.name == name)?;
        Some(check_history(entry, SystemTime::now()))
    }

    /// The latest reading of the fleet given to [`HealthBuilder::fleet`](crate::HealthBuilder::fleet)
    /// (`None`: none given), for status pages: reads nothing.
    pub fn fleet(&self) -> Option<Arc<crate::FleetView>> {
        self.engine.fleet.as_ref().map(crate::Fleet::latest)
    }

    /// Standing demand for fresh results, for a long-lived watcher of
    /// [`Health::subscribe`] (a gRPC `Watch`): while the guard lives, on-demand checks are
    /// run whenever their result expires, as if probed at their TTL, so the watcher hears of a
    /// change without anyone probing. One task serves every watcher. Needs a tokio runtime.
    pub fn demand(&self) -> Demand {
        self.engine.demand()
    }

    /// `probe`'s report now, from the latest results, running nothing: what a probe would
    /// answer but for a run it would start, so readiness fails while draining and startup
    /// passes once latched, as [`Health::report`] says. For status pages and badges.
    pub fn latest(&self, probe: Probe) -> Report {
        self.engine.latest_report(probe, &ReportOptions::new())
    }

    /// Readiness fails from now on, at once and without running checks, so load balancers
    /// stop sending traffic before the server stops. Call on SIGTERM.
    pub fn drain(&self) {
        // Subscribers (gRPC Watch) see readiness turn at once.
        if self.engine.drain() {
            tracing::info!("vitals: draining; readiness now fails");
        }
    }

    /// Resolves once [`Health::drain`] has been called: long-lived watchers (gRPC `Watch`
    /// streams) end on it so a graceful shutdown is not held open.
    pub async fn drained(&self) {
        self.engine.drained().await;
    }

    /// Whether [`Health::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.engine.is_draining()
    }

    /// Whether the startup probe has latched: set by the engine when a run leaves every
    /// startup check serving, never by a caller.
    pub fn is_started(&self) -> bool {
        self.engine.is_started()
    }

    /// A channel of reports over every check, updated after each completed run.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Report>> {
        self.engine.subscribe()
    }

    /// Whether a check called `name` is registered.
    pub fn has_check(&self, name: &str) -> bool {
        self.engine.entries.iter().any(|e| e.name == name)
    }

    /// The names of the registered checks, skipped ones included.
    pub fn check_names(&self) -> impl Iterator<Item = &str> {
        self.engine.entries.iter().map(|e| e.name.as_str())
    }

    /// The names of the checks `probe` includes.
    pub fn probe_check_names(&self, probe: Probe) -> impl Iterator<Item = &str> {
        self.engine
            .entries
            .iter()
            .filter(move |e| e.probes.contains(probe))
            .map(|e| e.name.as_str())
    }

    /// How each check is timed (see [`crate::timing`]), with its name and component: what an
    /// application logs at startup, and warns about when a set budget cannot hold every
    /// planned attempt ([`CheckTiming::fits`]).
    pub fn timings(&self) -> impl Iterator<Item = (&str, &str, CheckTiming)> {
        self.engine
            .entries
            .iter()
            .filter(|e| e.skipped_by.is_none())
            .map(|e| (e.name.as_str(), e.component.as_str(), e.timing))
    }

    /// Sets each check's result-age gauge (`vitals_healthcheck_result_age_seconds`, feature
    /// `metrics`) to the age of its latest result: call it just before an exporter renders.
    pub fn record_result_ages(&self) {
        for entry in &self.engine.entries {
            if let Some(last) = &entry.lock().last {
                entry.metrics.age(last.finished.elapsed());
            }
        }
    }

    /// The scrubber applied to every output, for callers that print their own messages.
    pub fn scrubber(&self) -> &Scrubber {
        &self.engine.scrubber
    }
}

/// One check's history and status now ([`Health::history`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckHistory {
    /// The check's name.
    pub name: String,
    /// Its component.
    pub component: String,
    /// Whether its failure fails the probes.
    pub critical: bool,
    /// Why it is skipped, if it is.
    pub skipped_by: Option<String>,
    /// Its status from its latest result (unknown counts as failed or warn).
    pub status: CheckStatus,
    /// When its status last changed.
    pub since: Option<SystemTime>,
    /// The output of its latest run that did not pass.
    pub last_error: Option<Arc<str>>,
    /// Uptime over 1 h, 24 h, 7 d and 30 d: the share of runs in which the check succeeded
    /// (`None`: no run).
    pub uptime: [(&'static str, Option<f64>); 4],
    /// Its recent runs, oldest first.
    pub runs: Vec<RunRecord>,
    /// Its recent status changes, oldest first.
    pub transitions: Vec<Transition>,
    /// `Some(n)`: its latest run failed and is served as warn because all `n` replicas see
    /// it fail ([`CheckOptions::shared`](crate::CheckOptions::shared)).
    pub fail_open: Option<usize>,
    /// Its timing.
    pub timing: CheckTiming,
    /// Background mode's period (`None`: on demand).
    pub interval: Option<Duration>,
}

/// One check's history and its status now, from memory.
fn check_history(entry: &Entry, now: SystemTime) -> CheckHistory {
    let status = entry
        .status_at(tokio::time::Instant::now(), false)
        .unwrap_or(CheckStatus::Fail);
    let fail_open = entry.lock().last.as_ref().and_then(|last| last.fail_open);
    let history = entry.history();
    let (runs, transitions) = history.snapshot();
    let uptime = crate::history::UPTIME_WINDOWS
        .map(|(window, length)| (window, history.uptime(now, length)));
    drop(history);
    CheckHistory {
        name: entry.name.clone(),
        component: entry.component.clone(),
        critical: entry.critical,
        skipped_by: entry.skipped_by.clone(),
        status,
        since: transitions.last().map(|t| t.at),
        last_error: runs
            .iter()
            .rev()
            .find(|r| r.status != CheckStatus::Pass)
            .and_then(|r| r.output.clone()),
        uptime,
        runs,
        transitions,
        fail_open,
        timing: entry.timing,
        interval: entry.interval,
    }
}
