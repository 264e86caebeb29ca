use std::{
    fmt,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::{sync::watch, time::Instant};
use tracing::Instrument as _;
use vitals_retry::{Backoff, Classification, Retry};

use crate::{
    Check, CheckError, CheckOptions, CheckReport, CheckStatus, Details, HealthConfig, Probe,
    Probes, Provenance, Report, Scrubber, Severity, Skip, Status,
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TTL: Duration = Duration::from_secs(1);

/// A check changed status. Passed to the hooks of [`HealthBuilder::on_status_change`].
#[derive(Clone, Debug, PartialEq)]
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

type Listener = Box<dyn Fn(&StatusChange) + Send + Sync>;

/// What one probe request asks of [`Health::check_with`].
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct RunOptions {
    exclude: Vec<String>,
    only: Option<String>,
    deadline: Option<Instant>,
}

impl RunOptions {
    /// No exclusions, no caller deadline.
    pub fn new() -> Self {
        RunOptions::default()
    }

    /// Leaves the check called `name` out of this report (`?exclude=name`).
    pub fn exclude(mut self, name: impl Into<String>) -> Self {
        self.exclude.push(name.into());
        self
    }

    /// The caller gives up at `deadline` (`grpc-timeout`, `?timeout=`): runs started for this
    /// request get no more time than that, and waiting stops there with a timeout result.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Like [`RunOptions::deadline`], as a duration from now.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.deadline(Instant::now() + timeout)
    }

    /// Runs and reports only the check called `name` (`/readyz/NAME`, a gRPC service name).
    pub fn only(mut self, name: impl Into<String>) -> Self {
        self.only = Some(name.into());
        self
    }

    fn excludes(&self, name: &str) -> bool {
        self.exclude.iter().any(|e| e == name) || self.only.as_deref().is_some_and(|o| o != name)
    }
}

/// The registry of checks: runs them, caches their results and reports.
///
/// Cheap to clone (an `Arc`). See the [crate docs](crate) for the modes.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.inner.entries.iter().map(|e| e.name.as_str()).collect();
        f.debug_struct("Health")
            .field("checks", &names)
            .field("draining", &self.is_draining())
            .field("started", &self.inner.started.load(Ordering::Acquire))
            .finish()
    }
}

struct Inner {
    entries: Vec<Entry>,
    draining: AtomicBool,
    drained: watch::Sender<bool>,
    started: AtomicBool,
    reports: watch::Sender<Arc<Report>>,
    listeners: Vec<Listener>,
    scrubber: Scrubber,
}

struct Entry {
    name: String,
    component: String,
    check: Arc<dyn Check>,
    timeout: Duration,
    attempt_timeout: Option<Duration>,
    backoff: Backoff,
    critical: bool,
    probes: Probes,
    failure_threshold: u32,
    interval: Option<Duration>,
    ttl: Duration,
    skipped_by: Option<String>,
    state: Mutex<EntryState>,
}

#[derive(Default)]
struct EntryState {
    last: Option<Arc<Outcome>>,
    flight: Option<watch::Receiver<Option<Arc<Outcome>>>>,
    consecutive_failures: u32,
    last_success: Option<SystemTime>,
}

/// One completed run of a check.
#[derive(Debug)]
struct Outcome {
    status: CheckStatus,
    output: Option<String>,
    details: Details,
    duration: Duration,
    attempts: u32,
    finished: Instant,
    finished_wall: SystemTime,
    consecutive_failures: u32,
    last_success: Option<SystemTime>,
}

impl Entry {
    /// The status of a check with no result yet: unknown counts against a critical check.
    fn pending_status(&self) -> CheckStatus {
        if self.critical {
            CheckStatus::Fail
        } else {
            CheckStatus::Warn
        }
    }

    /// Whether an on-demand result may still be served from the cache.
    fn is_fresh(&self, outcome: &Outcome) -> bool {
        outcome.finished.elapsed() < self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EntryState> {
        // A panic never happens while the lock is held; recover rather than propagate.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Builds a [`Health`] registry.
///
/// ```
/// use std::time::Duration;
/// use vitals_core::{async_trait, Check, CheckError, CheckOptions, Details, Health, Probe, Status};
///
/// struct Always;
/// #[async_trait]
/// impl Check for Always {
///     fn name(&self) -> &str { "always" }
///     async fn check(&self) -> Result<Details, CheckError> { Ok(Details::new()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let health = Health::builder()
///     .ttl(Duration::from_secs(2))
///     .check(Always)
///     .check_with(Always2, CheckOptions::new().non_critical())
///     .build();
/// let report = health.check(Probe::Readiness).await;
/// assert_eq!(report.status, Status::Pass);
/// # }
/// # struct Always2;
/// # #[async_trait]
/// # impl Check for Always2 {
/// #     fn name(&self) -> &str { "always2" }
/// #     async fn check(&self) -> Result<Details, CheckError> { Ok(Details::new()) }
/// # }
/// ```
#[must_use = "call .build() to get the registry"]
pub struct HealthBuilder {
    checks: Vec<(Arc<dyn Check>, CheckOptions)>,
    timeout: Duration,
    ttl: Duration,
    backoff: Backoff,
    interval: Option<Duration>,
    skip: Skip,
    listeners: Vec<Listener>,
    scrubber: Scrubber,
}

impl fmt::Debug for HealthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthBuilder")
            .field("checks", &self.checks.len())
            .field("timeout", &self.timeout)
            .field("ttl", &self.ttl)
            .field("backoff", &self.backoff)
            .field("skip", &self.skip)
            .finish_non_exhaustive()
    }
}

impl Health {
    /// A builder with the defaults: 10 s budget per run, 1 s cache TTL, the guide's backoff
    /// (3 retries, ~1 s, ~2 s, ~4 s, max 10 s), on-demand mode, nothing skipped.
    pub fn builder() -> HealthBuilder {
        HealthBuilder {
            checks: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            ttl: DEFAULT_TTL,
            backoff: Backoff::default(),
            interval: None,
            skip: Skip::none(),
            listeners: Vec::new(),
            scrubber: Scrubber::new(),
        }
    }
}

impl HealthBuilder {
    /// Registers a check with default options.
    pub fn check(self, check: impl Check) -> Self {
        self.check_with(check, CheckOptions::new())
    }

    /// Registers a check with its own options.
    pub fn check_with(mut self, check: impl Check, options: CheckOptions) -> Self {
        self.checks.push((Arc::new(check), options));
        self
    }

    /// Registers a shared check.
    pub fn check_arc(mut self, check: Arc<dyn Check>, options: CheckOptions) -> Self {
        self.checks.push((check, options));
        self
    }

    /// The default budget of one run of a check (all attempts and sleeps).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The default cache TTL of on-demand checks.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The default retry schedule.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Background mode for every check without its own setting: each runs every `interval`
    /// and probes only read results. Requires a tokio runtime at [`build`](Self::build).
    pub fn background(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Components whose checks are reported as skipped instead of run.
    pub fn skip(mut self, skip: Skip) -> Self {
        self.skip = skip;
        self
    }

    /// Applies the environment's settings: backoff and skip list.
    pub fn config(self, config: &HealthConfig) -> Self {
        self.backoff(config.backoff).skip(config.skip.clone())
    }

    /// Also scrubs this exact string from every output.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.scrubber.add(secret.into());
        self
    }

    /// Calls `hook` whenever a check's status changes (and for its first result).
    pub fn on_status_change(
        mut self,
        hook: impl Fn(&StatusChange) + Send + Sync + 'static,
    ) -> Self {
        self.listeners.push(Box::new(hook));
        self
    }

    /// Builds the registry.
    ///
    /// # Panics
    ///
    /// If two checks share a name, or if background checks are registered and no tokio
    /// runtime is running.
    pub fn build(mut self) -> Health {
        let mut entries: Vec<Entry> = Vec::with_capacity(self.checks.len());
        for (check, options) in self.checks {
            let name = check.name().to_owned();
            assert!(
                entries.iter().all(|e| e.name != name),
                "vitals: two checks are named {name:?}; check names must be unique"
            );
            for secret in check.secrets() {
                self.scrubber.add(secret);
            }
            let component = check.component().to_owned();
            let skipped_by = self
                .skip
                .skips(&component)
                .then(|| format!("skipped by SKIP_HEALTH_CHECKS={}", self.skip));
            entries.push(Entry {
                name,
                component,
                timeout: options.timeout.unwrap_or(self.timeout),
                attempt_timeout: options.attempt_timeout,
                backoff: options.backoff.unwrap_or(self.backoff),
                critical: options.severity == Severity::Critical,
                probes: options.probes,
                failure_threshold: options.failure_threshold.max(1),
                interval: options.interval.or(self.interval),
                ttl: options.ttl.unwrap_or(self.ttl),
                skipped_by,
                check,
                state: Mutex::new(EntryState::default()),
            });
        }
        let (reports, _) = watch::channel(Arc::new(Report::from_checks(Probe::All, Vec::new())));
        let inner = Arc::new(Inner {
            entries,
            draining: AtomicBool::new(false),
            drained: watch::channel(false).0,
            started: AtomicBool::new(false),
            reports,
            listeners: self.listeners,
            scrubber: self.scrubber,
        });
        inner.publish();
        for (index, entry) in inner.entries.iter().enumerate() {
            if let (Some(interval), None) = (entry.interval, &entry.skipped_by) {
                tokio::spawn(background_loop(Arc::downgrade(&inner), index, interval));
            }
        }
        Health { inner }
    }
}

async fn background_loop(inner: Weak<Inner>, index: usize, interval: Duration) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        run_entry(strong, index, None).await;
        // Hold no strong reference while sleeping, so dropping the registry ends the loop.
        tokio::time::sleep(interval).await;
    }
}

impl Health {
    /// Runs (or reads from cache) the checks of `probe` and reports.
    pub async fn check(&self, probe: Probe) -> Report {
        self.check_with(probe, &RunOptions::new()).await
    }

    /// Like [`Health::check`], with exclusions and a caller deadline.
    pub async fn check_with(&self, probe: Probe, options: &RunOptions) -> Report {
        let inner = &self.inner;
        if probe == Probe::Readiness && self.is_draining() {
            let mut report = self.read(probe, options, Provenance::Draining);
            report.status = Status::Fail;
            report.output = Some("draining: the service is shutting down".to_owned());
            return report;
        }
        if probe == Probe::Startup && inner.started.load(Ordering::Acquire) {
            let mut report = self.read(probe, options, Provenance::Latched);
            report.status = Status::Pass;
            report.output =
                Some("startup complete; checks are no longer run for this probe".to_owned());
            return report;
        }

        // Start every needed run first so they proceed concurrently, then collect.
        let pending: Vec<(usize, Pending)> = inner
            .selected(probe, options)
            .map(|index| (index, inner.clone().result(index, options.deadline)))
            .collect();
        let mut checks = Vec::with_capacity(pending.len());
        for (index, pending) in pending {
            let (outcome, provenance) = pending.resolve(options.deadline).await;
            checks.push(inner.check_report(index, outcome.as_deref(), provenance));
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
        if probe == Probe::Startup && inner.started.load(Ordering::Acquire) {
            return Some(Status::Pass);
        }
        let mut worst = Status::Pass;
        for entry in inner.entries.iter().filter(|e| e.probes.contains(probe)) {
            if entry.skipped_by.is_some() {
                continue;
            }
            let state = entry.lock();
            let status = match (&state.last, entry.interval) {
                (Some(last), Some(_)) => last.status,
                (None, Some(_)) => entry.pending_status(),
                (Some(last), None) if entry.is_fresh(last) => last.status,
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
            .map(|index| {
                let last = inner.entries[index].lock().last.clone();
                let provenance = if last.is_some() {
                    provenance
                } else {
                    Provenance::Pending
                };
                inner.check_report(index, last.as_deref(), provenance)
            })
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

    /// The scrubber applied to every output, for callers that print their own messages.
    pub fn scrubber(&self) -> &Scrubber {
        &self.inner.scrubber
    }
}

/// A result that is ready, or a run to wait for.
enum Pending {
    Ready(Option<Arc<Outcome>>, Provenance),
    Flight(watch::Receiver<Option<Arc<Outcome>>>),
}

impl Pending {
    async fn resolve(self, deadline: Option<Instant>) -> (Option<Arc<Outcome>>, Provenance) {
        let mut rx = match self {
            Pending::Ready(outcome, provenance) => return (outcome, provenance),
            Pending::Flight(rx) => rx,
        };
        let wait = rx.wait_for(Option::is_some);
        let result = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, wait).await {
                Ok(result) => result.map(|v| v.clone()),
                Err(_) => {
                    let elapsed = Outcome::failed("no result before the caller's deadline");
                    return (Some(Arc::new(elapsed)), Provenance::Fresh);
                }
            },
            None => wait.await.map(|v| v.clone()),
        };
        match result {
            Ok(outcome) => (outcome, Provenance::Fresh),
            // The run's task ended without a result (runtime shutting down).
            Err(_) => (
                Some(Arc::new(Outcome::failed("check run was aborted"))),
                Provenance::Fresh,
            ),
        }
    }
}

impl Outcome {
    fn failed(message: &str) -> Outcome {
        Outcome {
            status: CheckStatus::Fail,
            output: Some(message.to_owned()),
            details: Details::new(),
            duration: Duration::ZERO,
            attempts: 0,
            finished: Instant::now(),
            finished_wall: SystemTime::now(),
            consecutive_failures: 0,
            last_success: None,
        }
    }
}

impl Inner {
    fn selected<'a>(
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

    /// The cached result of check `index`, or a run of it, started here or joined.
    fn result(self: Arc<Self>, index: usize, deadline: Option<Instant>) -> Pending {
        let entry = &self.entries[index];
        if entry.skipped_by.is_some() {
            return Pending::Ready(None, Provenance::Skipped);
        }
        let mut state = entry.lock();
        if entry.interval.is_some() {
            let provenance = if state.last.is_some() {
                Provenance::Background
            } else {
                Provenance::Pending
            };
            return Pending::Ready(state.last.clone(), provenance);
        }
        if let Some(last) = state.last.as_ref().filter(|last| entry.is_fresh(last)) {
            return Pending::Ready(Some(last.clone()), Provenance::Cached);
        }
        if let Some(flight) = &state.flight {
            return Pending::Flight(flight.clone());
        }
        let (tx, rx) = watch::channel(None);
        state.flight = Some(rx.clone());
        drop(state);
        // A task of its own: the run completes, and is shared, even if this caller goes away.
        let inner = self.clone();
        tokio::spawn(async move {
            let outcome = run_entry(inner, index, deadline).await;
            let _ = tx.send(Some(outcome));
        });
        Pending::Flight(rx)
    }

    fn check_report(
        &self,
        index: usize,
        outcome: Option<&Outcome>,
        provenance: Provenance,
    ) -> CheckReport {
        let entry = &self.entries[index];
        let mut report = CheckReport {
            name: entry.name.clone(),
            component: entry.component.clone(),
            status: CheckStatus::Fail,
            critical: entry.critical,
            output: None,
            details: Details::new(),
            duration: Duration::ZERO,
            attempts: 0,
            checked_at: None,
            age: Duration::ZERO,
            consecutive_failures: 0,
            last_success: None,
            provenance,
        };
        if let Some(reason) = &entry.skipped_by {
            report.status = CheckStatus::Skipped;
            report.output = Some(reason.clone());
            report.provenance = Provenance::Skipped;
            return report;
        }
        match outcome {
            Some(o) => {
                report.status = o.status;
                report.output = o.output.clone();
                report.details = o.details.clone();
                report.duration = o.duration;
                report.attempts = o.attempts;
                report.checked_at = Some(o.finished_wall);
                report.age = o.finished.elapsed();
                report.consecutive_failures = o.consecutive_failures;
                report.last_success = o.last_success;
            }
            None => {
                report.status = entry.pending_status();
                report.output = Some("no result yet".to_owned());
                report.provenance = Provenance::Pending;
            }
        }
        report
    }

    /// Publishes a report of every check's latest result to subscribers.
    fn publish(&self) {
        let checks = (0..self.entries.len())
            .map(|index| {
                let entry = &self.entries[index];
                let last = entry.lock().last.clone();
                let provenance = match (&last, entry.interval) {
                    (None, _) => Provenance::Pending,
                    (Some(_), Some(_)) => Provenance::Background,
                    (Some(_), None) => Provenance::Cached,
                };
                self.check_report(index, last.as_deref(), provenance)
            })
            .collect();
        self.reports
            .send_replace(Arc::new(Report::from_checks(Probe::All, checks)));
    }
}

/// Runs check `index` once: attempts with retries inside its budget, then records the outcome.
async fn run_entry(
    inner: Arc<Inner>,
    index: usize,
    caller_deadline: Option<Instant>,
) -> Arc<Outcome> {
    let entry = &inner.entries[index];
    let span =
        tracing::info_span!("vitals.check", check = %entry.name, component = %entry.component);
    let started = Instant::now();
    let budget_end = match caller_deadline {
        Some(deadline) => deadline.min(started + entry.timeout),
        None => started + entry.timeout,
    };
    let result = Retry::new(entry.backoff)
        .classify(|e: &CheckError| {
            if e.is_permanent() {
                Classification::Permanent
            } else {
                Classification::Transient
            }
        })
        .deadline(budget_end)
        .run(|_attempt| attempt(entry, budget_end))
        .instrument(span.clone())
        .await;
    let duration = started.elapsed();

    let (ok, attempts, message, details) = match result {
        Ok(done) => (true, done.attempts, None, done.value),
        Err(failed) => {
            let (message, details) = failed.error.into_parts();
            (false, failed.attempts, Some(message), details)
        }
    };
    let scrub = |s: &str| inner.scrubber.scrub(s);
    let details = details.map_strings(scrub);
    let warning = details.warning.clone();

    let mut state = entry.lock();
    let previous = state.last.as_ref().map(|l| l.status);
    let now_wall = SystemTime::now();
    if ok {
        state.consecutive_failures = 0;
        state.last_success = Some(now_wall);
    } else {
        state.consecutive_failures += 1;
    }
    let status = match (ok, &warning) {
        (true, None) => CheckStatus::Pass,
        (true, Some(_)) => CheckStatus::Warn,
        (false, _) if entry.critical && state.consecutive_failures >= entry.failure_threshold => {
            CheckStatus::Fail
        }
        (false, _) => CheckStatus::Warn,
    };
    let output = match (&message, warning) {
        (Some(message), _) if status == CheckStatus::Warn && entry.critical => Some(format!(
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
    });
    state.last = Some(outcome.clone());
    state.flight = None;
    drop(state);

    span.in_scope(|| {
        let output = outcome.output.as_deref().unwrap_or("");
        match status {
            CheckStatus::Pass => tracing::debug!(attempts, ?duration, "check passed"),
            CheckStatus::Warn => tracing::warn!(attempts, ?duration, output, "check degraded"),
            _ => tracing::warn!(attempts, ?duration, output, "check failed"),
        }
    });
    if previous != Some(status) {
        let change = StatusChange {
            check: entry.name.clone(),
            component: entry.component.clone(),
            from: previous,
            to: status,
            output: outcome.output.clone(),
        };
        span.in_scope(|| {
            tracing::info!(from = ?previous.map(CheckStatus::as_str), to = status.as_str(), "check status changed")
        });
        for listener in &inner.listeners {
            listener(&change);
        }
    }
    inner.publish();
    outcome
}

/// One attempt, in a task of its own so a panic is caught and a hang can be cut off.
async fn attempt(entry: &Entry, budget_end: Instant) -> Result<Details, CheckError> {
    let cut_at = match entry.attempt_timeout {
        Some(limit) => budget_end.min(Instant::now() + limit),
        None => budget_end,
    };
    let attempt_started = Instant::now();
    let check = entry.check.clone();
    let mut task = tokio::spawn(async move { check.check().await });
    match tokio::time::timeout_at(cut_at, &mut task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) if join_error.is_panic() => {
            let panic = join_error.into_panic();
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Err(CheckError::new(format!("check panicked: {message}")))
        }
        Ok(Err(_cancelled)) => Err(CheckError::new("check was cancelled")),
        Err(_elapsed) => {
            task.abort();
            Err(CheckError::new(format!(
                "timed out after {}",
                humantime::format_duration(round_ms(attempt_started.elapsed()))
            )))
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
