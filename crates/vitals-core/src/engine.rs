//! The registry's shared state and every rule that reads or changes it: single flight (one run
//! per check however many callers ask), recording a finished run, publishing to subscribers,
//! the startup latch, which checks a probe selects, the status fold, provenance, and the
//! background scheduler.
//!
//! Architecture invariant: only this module changes the shared state, and nothing a caller
//! carries (its deadline, its exclusions) reaches a run or a recorded result. [`crate::Health`]
//! is a thin face over [`Engine`]; a run ([`crate::run`]) runs one check and hands its result
//! back here.
use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::{sync::watch, time::Instant};

use crate::{
    CheckError, CheckStatus, Details, Fleet, Probe, Provenance, Report, ReportOptions, Scrubber,
    Status,
    entry::{Entry, Flight, Outcome, round_ms},
    metrics::ProbeMetrics,
    run::{FinishedRun, run_check},
};

/// A check changed status. Passed to the hooks of
/// [`HealthBuilder::on_status_change`](crate::HealthBuilder::on_status_change).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StatusChange {
    /// The check's name.
    pub check: String,
    /// Its component.
    pub component: String,
    /// The previous status; `None` for the first result.
    pub from: Option<CheckStatus>,
    /// The new status.
    pub to: CheckStatus,
    /// The new result's message, scrubbed.
    pub output: Option<String>,
}

pub(crate) type Listener = Box<dyn Fn(&StatusChange) + Send + Sync>;

/// The shared state of a registry.
pub(crate) struct Engine {
    pub(crate) entries: Vec<Entry>,
    draining: AtomicBool,
    drained: watch::Sender<bool>,
    started: AtomicBool,
    reports: watch::Sender<Arc<Report>>,
    listeners: Vec<Listener>,
    pub(crate) scrubber: Scrubber,
    pub(crate) answer_within: Duration,
    jitter_seed: Option<u64>,
    /// What every replica sees: decides fail-open for shared checks, read by status pages.
    pub(crate) fleet: Option<Fleet>,
    pub(crate) probe_metrics: ProbeMetrics,
    /// Open watchers ([`Demand`]): while any, on-demand checks are run as if probed.
    demand: AtomicUsize,
    /// Whether the one task that serves the demand is running.
    demand_task: AtomicBool,
}

/// Standing demand for fresh results, held by a long-lived watcher (a gRPC `Watch` stream):
/// while any `Demand` lives, every on-demand check is run whenever its result expires, as if
/// a probe asked at its TTL, so watchers hear of a change without anyone probing. One task
/// serves every watcher; dropping the last `Demand` ends it. Background checks run anyway.
#[derive(Debug)]
#[must_use = "the demand lasts as long as the guard"]
pub struct Demand {
    engine: Weak<Engine>,
}

impl Drop for Demand {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.upgrade() {
            engine.demand.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("checks", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// What the builder resolved, for [`Engine::start`].
pub(crate) struct EngineConfig {
    pub(crate) entries: Vec<Entry>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) scrubber: Scrubber,
    pub(crate) answer_within: Duration,
    pub(crate) jitter_seed: Option<u64>,
    pub(crate) fleet: Option<Fleet>,
}

/// A result that is ready, or a run to wait for (with the result it will replace).
pub(crate) enum Pending {
    Ready(Option<Arc<Outcome>>, Provenance),
    Running {
        flight: Flight,
        latest: Option<Arc<Outcome>>,
    },
}

impl Engine {
    /// The engine of a registry, with its first report published, the startup latch checked
    /// and each background check's scheduler started.
    ///
    /// # Panics
    ///
    /// If a background check is registered and no tokio runtime is running.
    pub(crate) fn start(config: EngineConfig) -> Arc<Engine> {
        let (reports, _) = watch::channel(Arc::new(Report::from_checks(Probe::All, Vec::new())));
        let engine = Arc::new(Engine {
            entries: config.entries,
            draining: AtomicBool::new(false),
            drained: watch::channel(false).0,
            started: AtomicBool::new(false),
            reports,
            listeners: config.listeners,
            scrubber: config.scrubber,
            answer_within: config.answer_within,
            jitter_seed: config.jitter_seed,
            fleet: config.fleet,
            probe_metrics: ProbeMetrics::new(),
            demand: AtomicUsize::new(0),
            demand_task: AtomicBool::new(false),
        });
        engine.latch_startup();
        engine.publish();
        for (index, entry) in engine.entries.iter().enumerate() {
            if let (Some(interval), None) = (entry.interval, &entry.skipped_by) {
                tokio::spawn(scheduler(Arc::downgrade(&engine), index, interval));
            }
        }
        engine
    }

    // --- single flight -----------------------------------------------------------------

    /// The result of check `index` a report can use now, or the run to wait for, started here
    /// or joined. The caller's deadline plays no part: the run is the same for everyone.
    pub(crate) fn result(self: &Arc<Self>, index: usize) -> Pending {
        let entry = &self.entries[index];
        if entry.skipped_by.is_some() {
            return Pending::Ready(None, Provenance::Skipped);
        }
        let mut state = entry.lock();
        if entry.interval.is_some() || state.last.as_ref().is_some_and(|l| entry.is_fresh(l)) {
            let provenance = entry.provenance(state.last.as_deref(), state.flight.is_some());
            return Pending::Ready(state.last.clone(), provenance);
        }
        let latest = state.last.clone();
        if let Some(flight) = &state.flight {
            return Pending::Running {
                flight: flight.clone(),
                latest,
            };
        }
        let (tx, rx) = watch::channel(None);
        state.flight = Some(rx.clone());
        drop(state);
        // A task of its own: the run completes, and is shared, even if this caller goes away.
        let engine = self.clone();
        tokio::spawn(async move {
            let outcome = engine.run(index).await;
            let _ = tx.send(Some(outcome));
        });
        Pending::Running { flight: rx, latest }
    }

    // --- a run, recorded ---------------------------------------------------------------

    /// Runs check `index` once with its own budget, records the outcome, and tells hooks,
    /// subscribers and the startup latch. Nothing a caller carries reaches here.
    async fn run(&self, index: usize) -> Arc<Outcome> {
        let entry = &self.entries[index];
        let run = run_check(entry, &self.scrubber, self.jitter_seed, index).await;
        let FinishedRun {
            result,
            attempts,
            duration,
            span,
        } = run;
        let outcome = self.record(entry, result, attempts, duration);
        entry.metrics.run(
            outcome.status,
            attempts,
            duration,
            outcome.consecutive_failures == 0,
            outcome.fail_open.is_some(),
        );
        span.record("attempts", attempts);
        span.record("outcome", outcome.status.as_str());
        span.record("duration_ms", duration.as_millis() as u64);
        span.in_scope(|| {
            let output = outcome.output.as_deref().unwrap_or("");
            // Formatted only when a subscriber wants the event.
            let duration = humantime::format_duration(round_ms(duration));
            // Every run at debug; at info and above only the status change (in `record`), so
            // the logs stay quiet while nothing changes.
            match outcome.status {
                CheckStatus::Pass => tracing::debug!(attempts, %duration, "check passed"),
                CheckStatus::Warn => {
                    tracing::debug!(attempts, %duration, output, "check degraded")
                }
                _ => tracing::debug!(attempts, %duration, output, "check failed"),
            }
        });
        self.latch_startup();
        self.publish();
        outcome
    }

    /// Stores a finished run as the check's latest result and tells hooks about a status change.
    fn record(
        &self,
        entry: &Entry,
        result: Result<Details, CheckError>,
        attempts: u32,
        duration: Duration,
    ) -> Arc<Outcome> {
        let scrub = |s: &str| self.scrubber.scrub(s);
        let (message, details) = match result {
            Ok(details) => (None, details),
            Err(error) => {
                let (message, details) = error.into_parts();
                (Some(message), details)
            }
        };
        let details = details.map_strings(scrub);
        let warning = details.warning.clone();

        let mut state = entry.lock();
        let previous = state.last.as_ref().map(|l| l.status);
        let now_wall = SystemTime::now();
        if message.is_none() {
            state.consecutive_failures = 0;
            state.last_success = Some(now_wall);
        } else {
            state.consecutive_failures += 1;
        }
        let damped = state.consecutive_failures < entry.failure_threshold;
        let mut status = match (&message, &warning) {
            (None, None) => CheckStatus::Pass,
            (None, Some(_)) => CheckStatus::Warn,
            (Some(_), _) if entry.critical && !damped => CheckStatus::Fail,
            (Some(_), _) => CheckStatus::Warn,
        };
        // Fail-open: a shared dependency that a fresh fleet reading shows failing everywhere
        // is not this replica's fault; failing readiness would only empty the Service.
        let fail_open = (status == CheckStatus::Fail && entry.shared)
            .then(|| self.fleet.as_ref()?.fails_everywhere(&entry.name))
            .flatten();
        if fail_open.is_some() {
            status = CheckStatus::Warn;
        }
        let output = match (&message, warning) {
            (Some(message), _) if let Some(replicas) = fail_open => Some(format!(
                "fail-open: the whole fleet ({replicas} of {replicas} replicas) sees {} failing, \
                 so readiness stays ready: {}",
                entry.name,
                scrub(message)
            )),
            (Some(message), _) if entry.critical && damped => Some(format!(
                "{} (failure {} of {} before fail)",
                scrub(message),
                state.consecutive_failures,
                entry.failure_threshold
            )),
            (Some(message), _) => Some(scrub(message)),
            (None, warning) => warning,
        };
        let outcome = Arc::new(Outcome {
            status,
            output,
            details,
            duration,
            attempts,
            finished: Instant::now(),
            finished_wall: now_wall,
            consecutive_failures: state.consecutive_failures,
            last_success: state.last_success,
            fail_open,
        });
        state.last = Some(outcome.clone());
        state.flight = None;
        state.progress = None;
        state.attempt_failed_at = None;
        drop(state);
        entry.history().record(
            now_wall,
            status,
            outcome.consecutive_failures == 0,
            duration,
            attempts,
            outcome.output.as_deref(),
        );

        if previous != Some(status) {
            let change = StatusChange {
                check: entry.name.clone(),
                component: entry.component.clone(),
                from: previous,
                to: status,
                output: outcome.output.clone(),
            };
            let from = previous.map_or("none", CheckStatus::as_str);
            match (status, outcome.output.as_deref()) {
                (CheckStatus::Pass, _) | (_, None) => tracing::info!(
                    check = %entry.name,
                    from,
                    to = status.as_str(),
                    "check status changed"
                ),
                (_, Some(output)) => tracing::warn!(
                    check = %entry.name,
                    from,
                    to = status.as_str(),
                    output,
                    "check status changed"
                ),
            }
            for listener in &self.listeners {
                listener(&change);
            }
        }
        outcome
    }

    // --- publishing, the latch, draining -------------------------------------------------

    /// Publishes a report of every check's latest result to subscribers, and each probe's
    /// status now to the metrics: called after every run, the latch and the drain, so a
    /// watcher, the status page and a scrape read what a probe would answer.
    pub(crate) fn publish(&self) {
        let report = self.latest_report(Probe::All, &ReportOptions::new());
        self.reports.send_replace(Arc::new(report));
        for probe in Probe::EVERY {
            self.probe_metrics.status(
                probe,
                self.probe_status(probe, false).unwrap_or(Status::Fail),
            );
        }
    }

    /// A channel of reports over every check, updated after each completed run.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Report>> {
        self.reports.subscribe()
    }

    /// Latches the startup probe once every startup check's latest result serves. Called after
    /// each run (and at start), so no caller ever decides it.
    fn latch_startup(&self) {
        if !self.started.load(Ordering::Acquire)
            && self
                .worst_status(Probe::Startup, false)
                .is_some_and(Status::is_serving)
        {
            self.started.store(true, Ordering::Release);
        }
    }

    /// The status of `probe` that no check result can change: readiness while draining, and
    /// startup once latched.
    pub(crate) fn fixed(&self, probe: Probe) -> Option<Fixed> {
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

    /// **The status of `probe` now**: the drain or the latch where one fixes it, else the fold
    /// of its checks' latest results (skipped ones left out). With `fresh_only`, `None` as
    /// soon as an on-demand check needs a run. Every surface reads this, or a report built by
    /// the same rules ([`Engine::latest_report`], `Health::report`). Allocates nothing.
    pub(crate) fn probe_status(&self, probe: Probe, fresh_only: bool) -> Option<Status> {
        match self.fixed(probe) {
            Some(fixed) => Some(fixed.status),
            None => self.worst_status(probe, fresh_only),
        }
    }

    /// `probe`'s report from the latest results, running nothing: what a probe would answer
    /// but for a run it would start, the drain and the latch included.
    pub(crate) fn latest_report(&self, probe: Probe, options: &ReportOptions) -> Report {
        let checks = self
            .selected(probe, options)
            .map(|index| self.entries[index].latest_report())
            .collect();
        let report = Report::from_checks(probe, checks);
        match self.fixed(probe) {
            Some(fixed) => fixed.apply(report),
            None => report,
        }
    }

    /// Whether the startup probe has latched.
    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Readiness fails from now on; subscribers hear it at once. `false` if already draining.
    pub(crate) fn drain(&self) -> bool {
        if self.draining.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.drained.send_replace(true);
        self.publish();
        true
    }

    /// Whether [`Engine::drain`] was called.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Resolves once the engine drains.
    pub(crate) async fn drained(&self) {
        let mut rx = self.drained.subscribe();
        let _ = rx.wait_for(|drained| *drained).await;
    }

    // --- selection and the status fold --------------------------------------------------

    /// The indexes of `probe`'s checks that `options` leaves in.
    pub(crate) fn selected<'a>(
        &'a self,
        probe: Probe,
        options: &'a ReportOptions,
    ) -> impl Iterator<Item = usize> + 'a {
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.probes.contains(probe) && !options.excludes(&e.name))
            .map(|(index, _)| index)
    }

    /// The fold ([`Status::worst_of`]) of `probe`'s checks' served statuses (none yet counted
    /// as unknown), without the drain or the latch. With `fresh_only`, `None` as soon as an
    /// on-demand check needs a run: its result is missing or older than its TTL. Reads the
    /// clock once and allocates nothing: the hot path of a terse probe.
    fn worst_status(&self, probe: Probe, fresh_only: bool) -> Option<Status> {
        let now = Instant::now();
        let mut complete = true;
        let worst = Status::worst_of(
            self.entries
                .iter()
                .filter(|e| e.probes.contains(probe))
                .map_while(|e| {
                    let status = e.status_at(now, fresh_only);
                    complete &= status.is_some();
                    status
                }),
        );
        complete.then_some(worst)
    }

    /// Registers a standing demand; the first one starts the task that serves them all.
    pub(crate) fn demand(self: &Arc<Self>) -> Demand {
        self.demand.fetch_add(1, Ordering::AcqRel);
        let on_demand = self
            .entries
            .iter()
            .any(|e| e.interval.is_none() && e.skipped_by.is_none());
        if on_demand
            && self
                .demand_task
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            tokio::spawn(serve_demand(Arc::downgrade(self)));
        }
        Demand {
            engine: Arc::downgrade(self),
        }
    }

    /// The served status of the check called `name`: skipped, or from its latest result. With
    /// `fresh_only`, `None` when an on-demand check needs a run. `None` for an unknown name.
    /// Reads the clock once and allocates nothing, as [`Engine::worst_status`].
    pub(crate) fn check_status(&self, name: &str, fresh_only: bool) -> Option<CheckStatus> {
        self.entries
            .iter()
            .find(|e| e.name == name)?
            .status_at(Instant::now(), fresh_only)
    }
}

/// A probe status fixed by the registry's state rather than by check results.
pub(crate) struct Fixed {
    pub(crate) status: Status,
    pub(crate) provenance: Provenance,
    pub(crate) note: &'static str,
}

impl Fixed {
    /// `report` with its status fixed: every check labelled with why it did not decide.
    pub(crate) fn apply(&self, mut report: Report) -> Report {
        report.status = self.status;
        report.output = Some(self.note.to_owned());
        for check in &mut report.checks {
            if check.provenance != Provenance::Skipped {
                check.provenance = self.provenance;
            }
        }
        report
    }
}

impl Pending {
    /// Waits for the run until `until` (forever if `None`). A caller that stops waiting gets
    /// the latest result (or none) marked as refreshing; its give-up is not recorded anywhere.
    pub(crate) async fn resolve(
        self,
        until: Option<Instant>,
    ) -> (Option<Arc<Outcome>>, Provenance) {
        let (mut flight, latest) = match self {
            Pending::Ready(outcome, provenance) => return (outcome, provenance),
            Pending::Running { flight, latest } => (flight, latest),
        };
        let wait = flight.wait_for(Option::is_some);
        let done = match until {
            Some(until) => tokio::time::timeout_at(until, wait).await.ok(),
            None => Some(wait.await),
        };
        match done {
            Some(Ok(outcome)) => (outcome.clone(), Provenance::Fresh),
            // Still running (or its task ended with the runtime): answer from what there is.
            _ => {
                let provenance = if latest.is_some() {
                    Provenance::Refreshing
                } else {
                    Provenance::Pending
                };
                (latest, provenance)
            }
        }
    }
}

/// Runs a background check every `interval` after its previous run ended, until the registry
/// is dropped.
async fn scheduler(engine: Weak<Engine>, index: usize, interval: Duration) {
    loop {
        let Some(strong) = engine.upgrade() else {
            return;
        };
        strong.run(index).await;
        drop(strong);
        // Hold no strong reference while sleeping, so dropping the registry ends the loop.
        tokio::time::sleep(interval).await;
    }
}

/// While demand stands, starts (or joins) a run of every on-demand check whose result is
/// stale, then sleeps the shortest TTL: the rate a probe at the TTL would cause, for any
/// number of watchers. Ends when the last [`Demand`] is dropped or the registry is.
async fn serve_demand(engine: Weak<Engine>) {
    loop {
        let Some(strong) = engine.upgrade() else {
            return;
        };
        if strong.demand.load(Ordering::Acquire) == 0 {
            strong.demand_task.store(false, Ordering::Release);
            // A watcher that came between the check and the store finds no task: take it on.
            if strong.demand.load(Ordering::Acquire) == 0
                || strong
                    .demand_task
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                return;
            }
        }
        let mut period: Option<Duration> = None;
        for (index, entry) in strong.entries.iter().enumerate() {
            if entry.interval.is_some() || entry.skipped_by.is_some() {
                continue;
            }
            // Single flight: a fresh result is reused, a run in progress is joined.
            drop(strong.result(index));
            period = Some(period.map_or(entry.ttl, |p| p.min(entry.ttl)));
        }
        drop(strong);
        // Never spin: at least a millisecond between passes, whatever the TTL.
        let period = period.unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(period.max(Duration::from_millis(1))).await;
    }
}
