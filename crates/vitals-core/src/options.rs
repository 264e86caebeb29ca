use std::{fmt, time::Duration};

use vitals_retry::Backoff;

/// A Kubernetes probe, or every check at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// `startupProbe`: latches once every startup check has passed.
    Startup,
    /// `livenessProbe`: restart the container when it fails. Keep dependency checks out.
    Liveness,
    /// `readinessProbe`: stop sending traffic when it fails; fails at once while draining.
    Readiness,
    /// Every registered check (`/healthz`, and `/` as the deployment guide probes it).
    All,
}

impl Probe {
    /// Every probe, in the order the HTTP layer serves them.
    pub const EVERY: [Probe; 4] = [
        Probe::Liveness,
        Probe::Readiness,
        Probe::Startup,
        Probe::All,
    ];

    /// The conventional name: `startupz`, `livez`, `readyz`, `healthz`.
    pub fn name(self) -> &'static str {
        match self {
            Probe::Startup => "startupz",
            Probe::Liveness => "livez",
            Probe::Readiness => "readyz",
            Probe::All => "healthz",
        }
    }

    /// The conventional path: `/startupz`, `/livez`, `/readyz`, `/healthz`.
    pub fn path(self) -> &'static str {
        match self {
            Probe::Startup => "/startupz",
            Probe::Liveness => "/livez",
            Probe::Readiness => "/readyz",
            Probe::All => "/healthz",
        }
    }

    /// The probe a name means: the conventional one (`readyz`) or the probe's own word
    /// (`readiness`, `liveness`, `startup`), as gRPC services name them.
    ///
    /// ```
    /// use vitals_core::Probe;
    /// assert_eq!(Probe::from_name("readiness"), Some(Probe::Readiness));
    /// assert_eq!(Probe::from_name("livez"), Some(Probe::Liveness));
    /// assert_eq!(Probe::from_name("mongo"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Probe> {
        Probe::NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, probe)| *probe)
    }

    /// Every name a probe answers to ([`Probe::from_name`]), conventional names and words.
    pub const NAMES: [(&'static str, Probe); 7] = [
        ("readyz", Probe::Readiness),
        ("readiness", Probe::Readiness),
        ("livez", Probe::Liveness),
        ("liveness", Probe::Liveness),
        ("startupz", Probe::Startup),
        ("startup", Probe::Startup),
        ("healthz", Probe::All),
    ];

    /// The terse text answer when the probe fails: `readyz check failed`, as the Kubernetes
    /// apiserver words it (a static string: the fast path allocates nothing).
    pub fn failed_line(self) -> &'static str {
        match self {
            Probe::Startup => "startupz check failed\n",
            Probe::Liveness => "livez check failed\n",
            Probe::Readiness => "readyz check failed\n",
            Probe::All => "healthz check failed\n",
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which probes include a check. The default is startup and readiness: a dependency that is
/// down should take the pod out of the load balancer, not restart it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Probes {
    startup: bool,
    liveness: bool,
    readiness: bool,
}

impl Probes {
    /// Startup and readiness.
    pub const DEFAULT: Probes = Probes {
        startup: true,
        liveness: false,
        readiness: true,
    };
    /// Startup, liveness and readiness (what the guide's single `/` probe does).
    pub const ALL: Probes = Probes {
        startup: true,
        liveness: true,
        readiness: true,
    };
    /// Only `/healthz` and `/`.
    pub const NONE: Probes = Probes {
        startup: false,
        liveness: false,
        readiness: false,
    };

    /// Includes or leaves out the startup probe.
    #[must_use]
    pub const fn startup(mut self, on: bool) -> Self {
        self.startup = on;
        self
    }

    /// Includes or leaves out the liveness probe.
    #[must_use]
    pub const fn liveness(mut self, on: bool) -> Self {
        self.liveness = on;
        self
    }

    /// Includes or leaves out the readiness probe.
    #[must_use]
    pub const fn readiness(mut self, on: bool) -> Self {
        self.readiness = on;
        self
    }

    /// Whether `probe` includes the check. [`Probe::All`] includes every check.
    pub fn contains(self, probe: Probe) -> bool {
        match probe {
            Probe::Startup => self.startup,
            Probe::Liveness => self.liveness,
            Probe::Readiness => self.readiness,
            Probe::All => true,
        }
    }
}

impl Default for Probes {
    fn default() -> Self {
        Probes::DEFAULT
    }
}

/// What a failing check does to the overall status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Failing makes the probe fail (503).
    #[default]
    Critical,
    /// Failing makes the probe warn (still 200): a cache that "can be safely restarted".
    NonCritical,
}

/// How one check is run: set per check at registration; unset fields take the registry's
/// defaults.
///
/// ```
/// use std::time::Duration;
/// use vitals_core::{CheckOptions, Probes};
///
/// let options = CheckOptions::new()
///     .run_budget(Duration::from_secs(3))
///     .non_critical()
///     .probes(Probes::DEFAULT.liveness(true))
///     .failure_threshold(3);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct CheckOptions {
    pub(crate) run_budget: Option<Duration>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) severity: Severity,
    pub(crate) probes: Probes,
    pub(crate) failure_threshold: u32,
    pub(crate) interval: Option<Duration>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) shared: bool,
}

impl CheckOptions {
    /// Registry defaults, critical, startup + readiness, fail on the first failed run.
    pub fn new() -> Self {
        CheckOptions {
            failure_threshold: 1,
            ..CheckOptions::default()
        }
    }

    /// The budget of one run: every attempt and every backoff sleep fit inside it. Unset, it
    /// is derived so that every planned attempt fits (see [`crate::timing`]).
    pub fn run_budget(mut self, budget: Duration) -> Self {
        self.run_budget = Some(budget);
        self
    }

    /// Cuts each single attempt at this (and always at the time left in the budget), so a
    /// blackholed dependency still leaves time for retries. Unset, an attempt is cut shortly
    /// after the check's own driver timeout ([`Check::attempt_timeout`](crate::Check::attempt_timeout)),
    /// else at the registry's default.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The retry schedule between failed attempts ([`Backoff::none`] disables retries).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Critical (the default) or not.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Shorthand for `severity(Severity::NonCritical)`: failing only warns.
    pub fn non_critical(self) -> Self {
        self.severity(Severity::NonCritical)
    }

    /// A dependency every replica shares (one database for the fleet): when it fails here and
    /// a fresh reading of the registry's [`Fleet`](crate::Fleet) says every replica sees it
    /// fail, the run is recorded as `warn` ("fail-open") instead of `fail`, so readiness does
    /// not take the whole fleet out of the Service at once. Without a fleet, without a fresh
    /// reading, or while another replica sees it pass, it fails as any critical check does.
    /// See [`crate::fleet`](crate::Fleet).
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// Which probes include the check.
    pub fn probes(mut self, probes: Probes) -> Self {
        self.probes = probes;
        self
    }

    /// Flap damping: report `fail` only after this many consecutive failed runs (`warn`
    /// before that). At least 1.
    pub fn failure_threshold(mut self, runs: u32) -> Self {
        self.failure_threshold = runs.max(1);
        self
    }

    /// Background mode for this check: run it every `interval` on a task of its own; probes
    /// only read the latest result and never wait.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// A result older than this counts as failed (default: the refresh period plus the run
    /// budget, the longest a working registry takes to replace a result).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// On-demand mode (the default): a probe reuses the last result while it is younger than
    /// `ttl`, else runs the check once however many probes wait.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}
