//! Registering checks and the registry's defaults; `build` resolves each check's timing once
//! and hands the result to the engine. The builder only collects options.
use std::{
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use vitals_retry::Backoff;

use crate::{
    Check, CheckOptions, CheckTiming, Fleet, Health, Probes, Scrubber, Severity, Skip,
    engine::{Engine, EngineConfig, Listener, StatusChange},
    entry::{Entry, EntryState},
    history::History,
    metrics::CheckMetrics,
    timing::{DEFAULT_ANSWER_WITHIN, DEFAULT_ATTEMPT_TIMEOUT},
};

/// How long an on-demand result is reused by default ([`HealthBuilder::ttl`]): one run per
/// check per second, however many callers probe.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

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
///     .register(Always)
///     .register_with(Always2, CheckOptions::new().non_critical())
///     .build();
/// let report = health.run(Probe::Readiness).await;
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
    budget: Option<Duration>,
    attempt_timeout: Duration,
    ttl: Duration,
    max_age: Option<Duration>,
    answer_within: Duration,
    backoff: Backoff,
    interval: Option<Duration>,
    skip: Skip,
    listeners: Vec<Listener>,
    scrubber: Scrubber,
    jitter_seed: Option<u64>,
    fleet: Option<Fleet>,
}

impl fmt::Debug for HealthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthBuilder")
            .field("checks", &self.checks.len())
            .field("budget", &self.budget)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("ttl", &self.ttl)
            .field("answer_within", &self.answer_within)
            .field("backoff", &self.backoff)
            .field("skip", &self.skip)
            .finish_non_exhaustive()
    }
}

impl Health {
    /// A builder with the defaults: the guide's backoff (3 retries, ~1 s, ~2 s, ~4 s, max
    /// 10 s), each attempt bounded by the check's driver timeout (else 10 s), a run budget
    /// that fits every attempt, on-demand mode with a 1 s cache TTL, probe requests answered
    /// within 250 ms, nothing skipped. See [`crate::timing`].
    pub fn builder() -> HealthBuilder {
        HealthBuilder {
            checks: Vec::new(),
            budget: None,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            ttl: DEFAULT_TTL,
            max_age: None,
            answer_within: DEFAULT_ANSWER_WITHIN,
            backoff: Backoff::default(),
            interval: None,
            skip: Skip::none(),
            listeners: Vec::new(),
            scrubber: Scrubber::new(),
            jitter_seed: None,
            fleet: None,
        }
    }
}

/// A registered check as the registry will run, time and probe it: what
/// [`HealthBuilder::plan`] resolves without building anything.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PlannedCheck {
    /// The check's name.
    pub name: String,
    /// Its component.
    pub component: String,
    /// Whether its failure fails the probes (else they warn).
    pub critical: bool,
    /// Why it is reported as skipped, if it is.
    pub skipped_by: Option<String>,
    /// Which probes include it.
    pub probes: Probes,
    /// Its timing under the one rule.
    pub timing: CheckTiming,
    /// Its retry schedule.
    pub backoff: Backoff,
    /// Background mode's period, or `None` on demand.
    pub interval: Option<Duration>,
    /// On demand, how long a result is reused.
    pub ttl: Duration,
}

impl HealthBuilder {
    /// Every registered check as the registry would run, time and probe it, resolved by the
    /// same rule as [`build`](HealthBuilder::build) but without building: nothing runs and no
    /// runtime is needed. For tools that reason about a configuration (a manifest linter, a
    /// startup summary).
    pub fn plan(&self) -> Vec<PlannedCheck> {
        self.checks
            .iter()
            .map(|(check, options)| self.resolve(check.as_ref(), options))
            .collect()
    }

    /// How long a probe request waits for a run before it answers from the latest result.
    pub fn answer_bound(&self) -> Duration {
        self.answer_within
    }

    fn resolve(&self, check: &dyn Check, options: &CheckOptions) -> PlannedCheck {
        let component = check.component().to_owned();
        let skipped_by = self
            .skip
            .skips(&component)
            .then(|| format!("skipped by {}", self.skip.reason()));
        let backoff = options.backoff.unwrap_or(self.backoff);
        let interval = options.interval.or(self.interval);
        let ttl = options.ttl.unwrap_or(self.ttl);
        let timing = CheckTiming::resolve(
            check.attempt_timeout(),
            options.attempt_timeout,
            self.attempt_timeout,
            options.run_budget.or(self.budget),
            &backoff,
            interval.unwrap_or(ttl),
            options.max_age.or(self.max_age),
        );
        PlannedCheck {
            name: check.name().to_owned(),
            component,
            critical: options.severity == Severity::Critical,
            skipped_by,
            probes: options.probes,
            timing,
            backoff,
            interval,
            ttl,
        }
    }

    /// Registers a check with default options.
    pub fn register(self, check: impl Check) -> Self {
        self.register_with(check, CheckOptions::new())
    }

    /// Registers a check with its own options.
    pub fn register_with(self, check: impl Check, options: CheckOptions) -> Self {
        self.register_arc(Arc::new(check), options)
    }

    /// Registers a shared check.
    pub fn register_arc(mut self, check: Arc<dyn Check>, options: CheckOptions) -> Self {
        self.checks.push((check, options));
        self
    }

    /// The budget of one run of every check without its own (all attempts and delays).
    /// Unset, each check's budget is derived so that every planned attempt fits.
    pub fn run_budget(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Where an attempt is cut when neither the check (a driver timeout) nor its options say
    /// (default 10 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// The default cache TTL of on-demand checks.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// A result older than this counts as failed (default: the check's refresh period — TTL
    /// or interval — plus its run budget).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// How long a probe request waits for a run before it answers from the latest result
    /// (default 250 ms: well under kubelet's 1 s `timeoutSeconds`).
    pub fn answer_within(mut self, wait: Duration) -> Self {
        self.answer_within = wait;
        self
    }

    /// The default retry schedule.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Background mode for every check without its own setting: each runs every `interval`
    /// and probes only read results. Requires a tokio runtime at [`build`](Self::build).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Components whose checks are reported as skipped (`skipped by {reason}`) instead of run.
    pub fn skip(mut self, skip: Skip) -> Self {
        self.skip = skip;
        self
    }

    /// Also scrubs this exact string from every output.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.scrubber.add(secret.into());
        self
    }

    /// What every replica sees, as a fleet-wide source keeps reading it (vitals-prometheus):
    /// checks registered [`shared`](CheckOptions::shared) fail open while a fresh reading says
    /// every replica sees them fail, and [`Health::fleet`] hands the reading to status pages.
    pub fn fleet(mut self, fleet: Fleet) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// Seeds the retry jitter, so a test sees the same delays every time.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
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
        for (check, options) in &self.checks {
            let name = check.name().to_owned();
            assert!(
                entries.iter().all(|e| e.name != name),
                "vitals: two checks are named {name:?}; check names must be unique"
            );
            for secret in check.secrets() {
                self.scrubber.add(secret);
            }
            let planned = self.resolve(check.as_ref(), options);
            entries.push(Entry {
                metrics: CheckMetrics::new(&name, &planned.component, planned.critical),
                name,
                component: planned.component,
                timing: planned.timing,
                backoff: planned.backoff,
                critical: planned.critical,
                shared: options.shared,
                probes: options.probes,
                failure_threshold: options.failure_threshold.max(1),
                interval: planned.interval,
                ttl: planned.ttl,
                skipped_by: planned.skipped_by,
                check: check.clone(),
                state: Mutex::new(EntryState::default()),
                history: Mutex::new(History::default()),
            });
        }
        let engine = Engine::start(EngineConfig {
            entries,
            listeners: self.listeners,
            scrubber: self.scrubber,
            answer_within: self.answer_within,
            jitter_seed: self.jitter_seed,
            fleet: self.fleet,
        });
        Health { engine }
    }
}
