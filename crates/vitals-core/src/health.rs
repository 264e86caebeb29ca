//! The registry's public face: reports per probe, the cached fast path, drain and startup.
use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

use crate::{
    CheckTiming, Probe, Provenance, Report, RunOptions, Scrubber, Status, entry::Entry,
    flight::Pending, metrics::ProbeMetrics, run::Listener,
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
    pub(crate) probe_metrics: ProbeMetrics,
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
        if let Some(fixed) = self.fixed(probe) {
            let mut report = self.read(probe, options, fixed.provenance);
            report.status = fixed.status;
            report.output = Some(fixed.note.to_owned());
            inner.probe_metrics.answered(probe, report.status);
            return self.with_exclusions(report, options);
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
        inner.probe_metrics.answered(probe, report.status);
        self.with_exclusions(report, options)
    }

    /// Notes which of the caller's exclusions left a check of the report's probe out, and
    /// which named none.
    fn with_exclusions(&self, mut report: Report, options: &RunOptions) -> Report {
        for name in options.exclusions() {
            let known = self
                .inner
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

    /// The status of `probe` that no check result can change: readiness while draining, and
    /// startup once latched.
    fn fixed(&self, probe: Probe) -> Option<Fixed> {
        match probe {
            Probe::Readiness if self.is_draining() => Some(Fixed {
                status: Status::Fail,
                provenance: Provenance::Draining,
                note: "draining: the service is shutting down",
            }),
            Probe::Startup if self.is_started() => Some(Fixed {
                status: Status::Pass,
                provenance: Provenance::Latched,
                note: "startup complete; checks are no longer run for this probe",
            }),
            _ => None,
        }
    }

    /// The status of `probe` from the latest results, running nothing and waiting for nothing:
    /// what a watcher is told after each change ([`Health::subscribe`]). On demand, results
    /// are as fresh as the last probe made them.
    pub fn latest_status(&self, probe: Probe) -> Status {
        if let Some(fixed) = self.fixed(probe) {
            return fixed.status;
        }
        self.inner.latest_status(probe)
    }

    /// The overall status of `probe` when it can be answered without running any check — every
    /// check's result is fresh, in the background, skipped, or the probe is latched or
    /// draining — else `None`. Allocates nothing.
    ///
    /// Public for probe handlers other than vitals-tower's (an HTTP framework's own handler, a
    /// custom protocol): answer a terse probe with it, and call [`Health::report`] only when it
    /// says `None`. Like a report, it counts as an answered probe in the metrics.
    pub fn cached_status(&self, probe: Probe) -> Option<Status> {
        let inner = &self.inner;
        if let Some(fixed) = self.fixed(probe) {
            inner.probe_metrics.answered(probe, fixed.status);
            return Some(fixed.status);
        }
        let worst = inner.worst_status(probe, true)?;
        inner.probe_metrics.answered(probe, worst);
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
            // Subscribers (gRPC Watch) see readiness turn at once.
            self.inner.publish();
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

    /// Whether the startup probe has latched: set by the engine when a run leaves every
    /// startup check serving, never by a caller.
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

    /// Sets each check's result-age gauge (`vitals_healthcheck_result_age_seconds`, feature
    /// `metrics`) to the age of its latest result: call it just before an exporter renders.
    pub fn record_result_ages(&self) {
        for entry in &self.inner.entries {
            if let Some(last) = &entry.lock().last {
                entry.metrics.age(last.finished.elapsed());
            }
        }
    }

    /// The scrubber applied to every output, for callers that print their own messages.
    pub fn scrubber(&self) -> &Scrubber {
        &self.inner.scrubber
    }
}

/// A probe status fixed by the registry's state rather than by check results.
struct Fixed {
    status: Status,
    provenance: Provenance,
    note: &'static str,
}

impl Inner {
    /// The worst served status of `probe`'s checks' latest results (unknown for none yet).
    fn latest_status(&self, probe: Probe) -> Status {
        self.worst_status(probe, false)
            .expect("without freshness required, every check has a status")
    }

    /// The worst served status of `probe`'s checks (skipped ones left out, none yet counted as
    /// unknown). With `fresh_only`, `None` as soon as an on-demand check needs a run: its
    /// result is missing or older than its TTL. Reads the clock once and allocates nothing:
    /// the hot path of a terse probe.
    fn worst_status(&self, probe: Probe, fresh_only: bool) -> Option<Status> {
        let now = Instant::now();
        let mut worst = Status::Pass;
        for entry in self.entries.iter().filter(|e| e.probes.contains(probe)) {
            if entry.skipped_by.is_some() {
                continue;
            }
            let on_demand = fresh_only && entry.interval.is_none();
            let state = entry.lock();
            let status = match &state.last {
                None if on_demand => return None,
                None => entry.unknown_status(),
                Some(last) => {
                    let age = now.saturating_duration_since(last.finished);
                    if on_demand && age >= entry.ttl {
                        return None;
                    }
                    entry.served_status_at(last, age)
                }
            };
            if let Some(status) = status.overall() {
                worst = worst.max(status);
            }
        }
        Some(worst)
    }

    /// Latches the startup probe once every startup check's latest result serves. Called by
    /// the engine after each run (and at build), so no caller ever decides it.
    pub(crate) fn latch_startup(&self) {
        if !self.started.load(Ordering::Acquire) && self.latest_status(Probe::Startup).is_serving()
        {
            self.started.store(true, Ordering::Release);
        }
    }

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
