use std::{
    collections::BTreeMap,
    fmt::{self, Write as _},
    time::{Duration, SystemTime},
};

use serde::Serialize;

use crate::{Details, Probe};

/// Overall status, as in `application/health+json`. Probes answer 200 on `Pass` and `Warn`,
/// 503 on `Fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy but degraded (a non-critical check fails, or a critical one is flapping).
    Warn,
    /// Unhealthy.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// Whether a probe should succeed: `Pass` and `Warn`.
    pub fn is_serving(self) -> bool {
        self != Status::Fail
    }

    /// The status fold, the one rule every probe answer uses: the worst of the checks'
    /// statuses, skipped ones left out (they count against nothing), `Pass` for none.
    pub fn worst_of(statuses: impl IntoIterator<Item = CheckStatus>) -> Status {
        statuses
            .into_iter()
            .filter_map(CheckStatus::overall)
            .max()
            .unwrap_or(Status::Pass)
    }
}

impl From<Status> for CheckStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pass => CheckStatus::Pass,
            Status::Warn => CheckStatus::Warn,
            Status::Fail => CheckStatus::Fail,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's status: an overall [`Status`], or skipped by configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckStatus {
    /// Passed.
    Pass,
    /// Degraded, or failing but not (yet) counted as a failure.
    Warn,
    /// Failed.
    Fail,
    /// Not run: skipped by configuration ([`Skip`](crate::Skip)). Never counted as passing.
    Skipped,
}

impl CheckStatus {
    /// `pass`, `warn`, `fail` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Skipped => "skipped",
        }
    }

    /// The overall status this contributes; `None` for skipped checks.
    pub fn overall(self) -> Option<Status> {
        match self {
            CheckStatus::Pass => Some(Status::Pass),
            CheckStatus::Warn => Some(Status::Warn),
            CheckStatus::Fail => Some(Status::Fail),
            CheckStatus::Skipped => None,
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a result in a report came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Provenance {
    /// Run for this request (or a concurrent one it joined).
    Fresh,
    /// Reused from the cache, younger than the TTL.
    Cached,
    /// The latest result of a background check.
    Background,
    /// Startup already latched: not run again.
    Latched,
    /// Not run: the service is draining.
    Draining,
    /// The latest result, served while a new run is in progress (stale-while-revalidate):
    /// the caller did not wait for the run to end. See the report's `age` and `progress`.
    Refreshing,
    /// The latest result of an on-demand check, older than its TTL, read by something that
    /// starts no run (the status page, a subscriber): the next probe runs the check.
    Stale,
    /// No result yet (a run may be in progress: see `progress`).
    Pending,
    /// Not run: skipped by configuration.
    Skipped,
}

/// One check's entry in a [`Report`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CheckReport {
    /// The check's name.
    pub name: String,
    /// Its component (`mongo`, `redis`, `storage`, `custom_code`, …).
    pub component: String,
    /// Its status.
    pub status: CheckStatus,
    /// Whether failing fails the probe.
    pub critical: bool,
    /// A human-readable message, already scrubbed of credentials.
    pub output: Option<String>,
    /// Facts the check observed, already scrubbed.
    pub details: Details,
    /// How long the last run took, retries and sleeps included.
    pub duration: Duration,
    /// Attempts in the last run.
    pub attempts: u32,
    /// When the last run finished.
    pub checked_at: Option<SystemTime>,
    /// How old the result was when the report was made.
    pub age: Duration,
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// When the check last passed.
    pub last_success: Option<SystemTime>,
    /// Where the result came from.
    pub provenance: Provenance,
    /// The run in progress, if any.
    pub progress: Option<RunProgress>,
}

/// A run of a check that is in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunProgress {
    /// The attempt under way (1-based).
    pub attempt: u32,
    /// The attempts the schedule plans (retries + 1).
    pub planned_attempts: u32,
    /// The error of the previous attempt, scrubbed.
    pub last_error: Option<String>,
}

impl RunProgress {
    /// `running: attempt 1 of 4` or `retrying: attempt 2 of 4`, without the last error (for
    /// a line that already shows it).
    fn attempt_only(&self) -> String {
        let verb = if self.attempt > 1 {
            "retrying"
        } else {
            "running"
        };
        format!(
            "{verb}: attempt {} of {}",
            self.attempt, self.planned_attempts
        )
    }
}

impl fmt::Display for RunProgress {
    /// `running: attempt 1 of 4`, or `retrying: attempt 2 of 4, last error: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.attempt_only())?;
        if let Some(error) = &self.last_error {
            write!(f, ", last error: {error}")?;
        }
        Ok(())
    }
}

/// The result of a probe: overall status and one entry per check.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// The overall status: the worst of the checks (skipped ones don't count).
    pub status: Status,
    /// The probe this report answers.
    pub probe: Probe,
    /// A note on the whole report (draining, startup latched).
    pub output: Option<String>,
    /// The checks, in registration order.
    pub checks: Vec<CheckReport>,
    /// Checks of this probe left out by the caller (`?exclude=NAME`): not run, not counted.
    pub excluded: Vec<String>,
    /// Exclusions that name no check of this probe (a typo, a removed check): the caller is
    /// told, as the Kubernetes apiserver does.
    pub unmatched_exclusions: Vec<String>,
}

impl Report {
    /// Builds a report whose status is the worst of `checks`.
    pub fn from_checks(probe: Probe, checks: Vec<CheckReport>) -> Self {
        let status = Status::worst_of(checks.iter().map(|c| c.status));
        Report {
            status,
            probe,
            output: None,
            checks,
            excluded: Vec::new(),
            unmatched_exclusions: Vec::new(),
        }
    }

    /// The entry of the check called `name`.
    pub fn check(&self, name: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The warning about exclusions that matched no check, if any:
    /// `some health checks cannot be excluded: no matches for "bogus"`.
    pub fn exclusion_warning(&self) -> Option<String> {
        (!self.unmatched_exclusions.is_empty()).then(|| {
            let quoted: Vec<String> = self
                .unmatched_exclusions
                .iter()
                .map(|name| format!("{name:?}"))
                .collect();
            format!(
                "some health checks cannot be excluded: no matches for {}",
                quoted.join(",")
            )
        })
    }

    /// `application/health+json` (IETF draft `draft-inadarei-api-health-check`). Terse gives
    /// only `{"status": …}`; verbose adds `notes` (an exclusion that matched nothing),
    /// `excluded` (the checks left out) and every check under `checks`, keyed by name, with
    /// `componentId`, `status`, `time`, `output`, `observedValue` (duration, `ms`) and the
    /// extension fields `attempts`, `consecutiveFailures`, `lastSuccess`, `ageMs`, `critical`,
    /// `source`, `progress` (a run in progress) and `details`.
    pub fn to_health_json(&self, verbose: bool) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Entry<'a> {
            component_id: &'a str,
            status: CheckStatus,
            #[serde(skip_serializing_if = "Option::is_none")]
            time: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            output: Option<&'a str>,
            observed_value: u128,
            observed_unit: &'static str,
            attempts: u32,
            consecutive_failures: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            last_success: Option<String>,
            age_ms: u128,
            critical: bool,
            source: Provenance,
            #[serde(skip_serializing_if = "Option::is_none")]
            progress: Option<String>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            details: &'a BTreeMap<String, String>,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            status: Status,
            #[serde(skip_serializing_if = "Option::is_none")]
            output: Option<&'a str>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            notes: Vec<String>,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            excluded: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            checks: Option<BTreeMap<&'a str, [Entry<'a>; 1]>>,
        }
        let rfc3339 = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
        let checks = verbose.then(|| {
            self.checks
                .iter()
                .map(|c| {
                    let entry = Entry {
                        component_id: &c.component,
                        status: c.status,
                        time: c.checked_at.map(rfc3339),
                        output: c.output.as_deref(),
                        observed_value: c.duration.as_millis(),
                        observed_unit: "ms",
                        attempts: c.attempts,
                        consecutive_failures: c.consecutive_failures,
                        last_success: c.last_success.map(rfc3339),
                        age_ms: c.age.as_millis(),
                        critical: c.critical,
                        source: c.provenance,
                        progress: c.progress.as_ref().map(ToString::to_string),
                        details: &c.details.fields,
                    };
                    (c.name.as_str(), [entry])
                })
                .collect()
        });
        let body = Body {
            status: self.status,
            output: if verbose {
                self.output.as_deref()
            } else {
                None
            },
            notes: if verbose {
                self.exclusion_warning().into_iter().collect()
            } else {
                Vec::new()
            },
            excluded: if verbose { &self.excluded } else { &[] },
            checks,
        };
        serde_json::to_string(&body).expect("a report always serialises")
    }

    /// Kubernetes-style text, as the apiserver's `/readyz?verbose` prints it:
    /// `[+]redis ok`, `[-]mongo failed: <output>`, `[~]cache warn: …`, `[ ]s3 skipped`,
    /// `[+]etcd excluded: ok`, an exclusion that matched nothing as `warn: …`, then
    /// `readyz check passed` or `readyz check failed`. Terse gives `ok` or the failure line.
    pub fn to_text(&self, verbose: bool) -> String {
        let verdict = if self.status.is_serving() {
            "passed"
        } else {
            "failed"
        };
        if !verbose {
            return if self.status.is_serving() {
                "ok\n".to_owned()
            } else {
                self.probe.failed_line().to_owned()
            };
        }
        let mut out = String::new();
        for c in &self.checks {
            let (mark, word) = match c.status {
                CheckStatus::Pass => ('+', "ok"),
                CheckStatus::Warn => ('~', "warn"),
                CheckStatus::Fail => ('-', "failed"),
                CheckStatus::Skipped => (' ', "skipped"),
            };
            let _ = write!(out, "[{mark}]{} {word}", c.name);
            let shown = c
                .output
                .as_deref()
                .filter(|_| c.status != CheckStatus::Pass);
            if let Some(output) = shown {
                let _ = write!(out, ": {}", output.replace('\n', " "));
            }
            if let Some(progress) = &c.progress {
                // Each error once on the line: the run's last error is left out when the
                // result shown is that same error.
                let repeated = match (shown, progress.last_error.as_deref()) {
                    (Some(output), Some(error)) => output.contains(error),
                    _ => false,
                };
                if repeated {
                    let _ = write!(out, " ({})", progress.attempt_only());
                } else {
                    let _ = write!(out, " ({progress})");
                }
            }
            out.push('\n');
        }
        for name in &self.excluded {
            let _ = writeln!(out, "[+]{name} excluded: ok");
        }
        if let Some(warning) = self.exclusion_warning() {
            let _ = writeln!(out, "warn: {warning}");
        }
        if let Some(note) = &self.output {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(out, "{} check {verdict}", self.probe);
        out
    }
}
