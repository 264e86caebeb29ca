//! The registry's public face: reports per probe, the cached fast path, drain and startup.
use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::watch;

use crate::{
    CheckTiming, Probe, Provenance, Report, RunOptions, Scrubber, Status, entry::Entry,
    flight::Pending, run::Listener,
};

/// The registry of checks: runs them, caches their results and reports.
///
/// Cheap to clone (an `Arc`). See the [crate docs](crate) for the modes.
#[derive(Clone)]
pub struct Health {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) entries: Vec<Entry>,
    pub(crate) draining: AtomicBool,
    pub(crate) drained: watch::Sender<bool>,
    pub(crate) started: AtomicBool,
    pub(crate) reports: watch::Sender<Arc<Report>>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) scrubber: Scrubber,
    pub(crate) answer_within: Duration,
    pub(crate) jitter_seed: Option<u64>,
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
    pub async fn check(&self, probe: Probe) -> Report {
        self.report(probe, &RunOptions::new().wait_for_runs()).await
    }

    /// Reports `probe`: results still fresh are reused; a stale on-demand check gets one
    /// shared run (started here or joined), waited for at most the registry's
    /// [`answer_within`](crate::HealthBuilder::answer_within) and the caller's deadline, after
    /// which the latest result answers (stale-while-revalidate). What the caller asks never
    /// changes what another caller sees.
    pub async fn report(&self, probe: Probe, options: &RunOptions) -> Report {
        let inner = &self.inner;
        if probe == Probe::Readiness && self.is_draining() {
            let mut report = self.read(probe, options, Provenance::Draining);
            report.status = Status::Fail;
            report.output = Some("draining: the service is shutting down".to_owned());
            return report;
        }
        if probe == Probe::Startup && self.is_started() {
            let mut report = self.read(probe, options, Provenance::Latched);
            report.status = Status::Pass;
            report.output =
                Some("startup complete; checks are no longer run for this probe".to_owned());
            return report;
        }

        // Start every needed run first so they proceed concurrently, then collect.
        let until = options.wait_until(inner.answer_within);
        let pending: Vec<(usize, Pending)> = inner
            .selected(probe, options)
            .map(|index| (index, inner.result(index)))
            .collect();
        let mut checks = Vec::with_capacity(pending.len());
        for (index, pending) in pending {
            let (outcome, provenance) = pending.resolve(until).await;
            checks.push(inner.entries[index].report(outcome.as_deref(), provenance));
        }
        let report = Report::from_checks(probe, checks);
        if probe == Probe::Startup && report.status.is_serving() {
            inner.started.store(true, Ordering::Release);
        }
        report
    }

    /// The overall status of `probe` when it can be answered without running any check — every
    /// check's result is fresh, in the background, skipped, or the probe is latched or
    /// draining — else `None`. Allocates nothing: the fast path of a terse probe.
    pub fn cached_status(&self, probe: Probe) -> Option<Status> {
        let inner = &self.inner;
        if probe == Probe::Readiness && self.is_draining() {
            return Some(Status::Fail);
        }
        if probe == Probe::Startup && self.is_started() {
            return Some(Status::Pass);
        }
        let mut worst = Status::Pass;
        for entry in inner.entries.iter().filter(|e| e.probes.contains(probe)) {
            if entry.skipped_by.is_some() {
                continue;
            }
            let state = entry.lock();
            let status = match (&state.last, entry.interval) {
                (Some(last), Some(_)) => entry.served_status(last),
                (None, Some(_)) => entry.unknown_status(),
                (Some(last), None) if entry.is_fresh(last) => entry.served_status(last),
                _ => return None,
            };
            if let Some(status) = status.overall() {
                worst = worst.max(status);
            }
        }
        if probe == Probe::Startup && worst.is_serving() {
            inner.started.store(true, Ordering::Release);
        }
        Some(worst)
    }

    /// The latest results of `probe`'s checks without running anything.
    pub fn latest(&self, probe: Probe) -> Report {
        self.read(probe, &RunOptions::new(), Provenance::Cached)
    }

    fn read(&self, probe: Probe, options: &RunOptions, provenance: Provenance) -> Report {
        let inner = &self.inner;
        let checks = inner
            .selected(probe, options)
            .map(|index| inner.entries[index].latest_report(|_| provenance))
            .collect();
        Report::from_checks(probe, checks)
    }

    /// Readiness fails from now on, at once and without running checks, so load balancers
    /// stop sending traffic before the server stops. Call on SIGTERM.
    pub fn drain(&self) {
        if !self.inner.draining.swap(true, Ordering::AcqRel) {
            tracing::info!("vitals: draining; readiness now fails");
            self.inner.drained.send_replace(true);
        }
    }

    /// Resolves once [`Health::drain`] has been called: long-lived watchers (gRPC `Watch`
    /// streams) end on it so a graceful shutdown is not held open.
    pub async fn drained(&self) {
        let mut rx = self.inner.drained.subscribe();
        let _ = rx.wait_for(|drained| *drained).await;
    }

    /// Whether [`Health::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Whether the startup probe has latched.
    pub fn is_started(&self) -> bool {
        self.inner.started.load(Ordering::Acquire)
    }

    /// A channel of reports over every check, updated after each completed run.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Report>> {
        self.inner.reports.subscribe()
    }

    /// Whether a check called `name` is registered.
    pub fn has_check(&self, name: &str) -> bool {
        self.inner.entries.iter().any(|e| e.name == name)
    }

    /// The names of the registered checks, skipped ones included.
    pub fn check_names(&self) -> impl Iterator<Item = &str> {
        self.inner.entries.iter().map(|e| e.name.as_str())
    }

    /// The names of the checks `probe` includes.
    pub fn probe_check_names(&self, probe: Probe) -> impl Iterator<Item = &str> {
        self.inner
            .entries
            .iter()
            .filter(move |e| e.probes.contains(probe))
            .map(|e| e.name.as_str())
    }

    /// How each check is timed (see [`crate::timing`]), with its name and component: what an
    /// application logs at startup, and warns about when a set budget cannot hold every
    /// planned attempt ([`CheckTiming::fits`]).
    pub fn timings(&self) -> impl Iterator<Item = (&str, &str, CheckTiming)> {
        self.inner
            .entries
            .iter()
            .filter(|e| e.skipped_by.is_none())
            .map(|e| (e.name.as_str(), e.component.as_str(), e.timing))
    }

    /// The scrubber applied to every output, for callers that print their own messages.
    pub fn scrubber(&self) -> &Scrubber {
        &self.inner.scrubber
    }
}

impl Inner {
    pub(crate) fn selected<'a>(
        &'a self,
        probe: Probe,
        options: &'a RunOptions,
    ) -> impl Iterator<Item = usize> + 'a {
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.probes.contains(probe) && !options.excludes(&e.name))
            .map(|(index, _)| index)
    }
}
