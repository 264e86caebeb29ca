//! One registered check: its settings, its latest result, its run in progress, and the rules
//! that turn them into a report entry.
use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime},
};

use tokio::{sync::watch, time::Instant};
use vitals_retry::Backoff;

use crate::{
    Check, CheckReport, CheckStatus, CheckTiming, Details, Probes, Provenance, RunProgress,
    history::History, metrics::CheckMetrics,
};

pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) component: String,
    pub(crate) check: Arc<dyn Check>,
    pub(crate) timing: CheckTiming,
    pub(crate) backoff: Backoff,
    pub(crate) critical: bool,
    /// Fails open when the whole fleet sees it fail ([`crate::CheckOptions::shared`]).
    pub(crate) shared: bool,
    pub(crate) probes: Probes,
    pub(crate) failure_threshold: u32,
    /// `Some`: background mode. `None`: on demand, with `ttl`.
    pub(crate) interval: Option<Duration>,
    pub(crate) ttl: Duration,
    pub(crate) skipped_by: Option<String>,
    pub(crate) state: Mutex<EntryState>,
    /// Recorded when a run ends; a lock of its own, so probes never wait on it.
    pub(crate) history: Mutex<History>,
    pub(crate) metrics: CheckMetrics,
}

/// A run that is in progress: shared by every caller that waits for it.
pub(crate) type Flight = watch::Receiver<Option<Arc<Outcome>>>;

#[derive(Default)]
pub(crate) struct EntryState {
    pub(crate) last: Option<Arc<Outcome>>,
    pub(crate) flight: Option<Flight>,
    pub(crate) progress: Option<RunProgress>,
    /// When the run's last attempt failed: the start of the backoff delay, for its event.
    pub(crate) attempt_failed_at: Option<Instant>,
    pub(crate) consecutive_failures: u32,
    pub(crate) last_success: Option<SystemTime>,
    /// Completed runs, for seeding each run's jitter differently.
    pub(crate) runs: u64,
}

/// One completed run of a check.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: CheckStatus,
    pub(crate) output: Option<String>,
    pub(crate) details: Details,
    pub(crate) duration: Duration,
    pub(crate) attempts: u32,
    pub(crate) finished: Instant,
    pub(crate) finished_wall: SystemTime,
    pub(crate) consecutive_failures: u32,
    pub(crate) last_success: Option<SystemTime>,
    /// `Some(n)`: the run failed and was served as warn because all `n` replicas saw it fail.
    pub(crate) fail_open: Option<usize>,
}

impl Entry {
    /// The status of a check whose result is unknown (none yet, or too old): unknown counts
    /// against a critical check and warns for a non-critical one.
    pub(crate) fn unknown_status(&self) -> CheckStatus {
        if self.critical {
            CheckStatus::Fail
        } else {
            CheckStatus::Warn
        }
    }

    /// Whether an on-demand result may still be served without starting a run.
    pub(crate) fn is_fresh(&self, outcome: &Outcome) -> bool {
        outcome.finished.elapsed() < self.ttl
    }

    /// The status a result `age` old is served with: its own, unless it is older than the
    /// maximum age.
    pub(crate) fn served_status_at(&self, outcome: &Outcome, age: Duration) -> CheckStatus {
        if age > self.timing.max_age {
            self.unknown_status().max_severity(outcome.status)
        } else {
            outcome.status
        }
    }

    /// The status this check is served with at `now`, from its latest result (unknown while it
    /// has none; `Skipped` when skipped). With `fresh_only`, `None` when an on-demand check
    /// needs a run: its result is missing or older than its TTL. Allocates nothing.
    pub(crate) fn status_at(&self, now: Instant, fresh_only: bool) -> Option<CheckStatus> {
        if self.skipped_by.is_some() {
            return Some(CheckStatus::Skipped);
        }
        let on_demand = fresh_only && self.interval.is_none();
        let state = self.lock();
        match &state.last {
            None if on_demand => None,
            None => Some(self.unknown_status()),
            Some(last) => {
                let age = now.saturating_duration_since(last.finished);
                if on_demand && age >= self.ttl {
                    return None;
                }
                Some(self.served_status_at(last, age))
            }
        }
    }

    pub(crate) fn history(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, EntryState> {
        // A panic never happens while the lock is held; recover rather than propagate.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This check's entry in a report, from `outcome` (if any) and the run in progress.
    pub(crate) fn report(&self, outcome: Option<&Outcome>, provenance: Provenance) -> CheckReport {
        let progress = self.lock().progress.clone();
        self.report_with(outcome, progress, provenance)
    }

    /// This check's entry in a report of its latest result, read under one lock, with the
    /// provenance [`Entry::provenance`] gives it: what a reader that runs nothing sees.
    pub(crate) fn latest_report(&self) -> CheckReport {
        let (last, progress, running) = {
            let state = self.lock();
            (
                state.last.clone(),
                state.progress.clone(),
                state.flight.is_some(),
            )
        };
        let provenance = self.provenance(last.as_deref(), running);
        self.report_with(last.as_deref(), progress, provenance)
    }

    /// Where the latest result `last` comes from, for a reader that starts no run (`running`:
    /// one is in progress): the one place provenance is decided, so a probe, a subscriber and
    /// the status page label the same result alike. A result run for the caller itself is
    /// [`Provenance::Fresh`], decided where the caller waits.
    pub(crate) fn provenance(&self, last: Option<&Outcome>, running: bool) -> Provenance {
        match last {
            _ if self.skipped_by.is_some() => Provenance::Skipped,
            None => Provenance::Pending,
            Some(_) if self.interval.is_some() => Provenance::Background,
            Some(last) if self.is_fresh(last) => Provenance::Cached,
            Some(_) if running => Provenance::Refreshing,
            Some(_) => Provenance::Stale,
        }
    }

    fn report_with(
        &self,
        outcome: Option<&Outcome>,
        progress: Option<RunProgress>,
        provenance: Provenance,
    ) -> CheckReport {
        let mut report = CheckReport {
            name: self.name.clone(),
            component: self.component.clone(),
            status: self.unknown_status(),
            critical: self.critical,
            output: None,
            details: Details::new(),
            duration: Duration::ZERO,
            attempts: 0,
            checked_at: None,
            age: Duration::ZERO,
            consecutive_failures: 0,
            last_success: None,
            provenance,
            progress: None,
        };
        if let Some(reason) = &self.skipped_by {
            report.status = CheckStatus::Skipped;
            report.output = Some(reason.clone());
            report.provenance = Provenance::Skipped;
            return report;
        }
        let Some(o) = outcome else {
            // Before the first result, the first run's latest error is what there is to say.
            report.output = Some(
                match progress.as_ref().and_then(|p| p.last_error.as_deref()) {
                    Some(error) => format!("no result yet: {error}"),
                    None => "no result yet".to_owned(),
                },
            );
            report.progress = progress;
            report.provenance = Provenance::Pending;
            return report;
        };
        report.progress = progress;
        // Read the clock once: every rule below sees the same age.
        let age = o.finished.elapsed();
        report.status = self.served_status_at(o, age);
        report.output = o.output.clone();
        report.details = o.details.clone();
        report.duration = o.duration;
        report.attempts = o.attempts;
        report.checked_at = Some(o.finished_wall);
        report.age = age;
        report.consecutive_failures = o.consecutive_failures;
        report.last_success = o.last_success;
        if age > self.timing.max_age {
            let age = humantime::format_duration(round_s(report.age));
            let max = humantime::format_duration(round_s(self.timing.max_age));
            report.output = Some(match &o.output {
                Some(last) => format!("last result is {age} old (max {max}): {last}"),
                None => format!("last result ({}) is {age} old (max {max})", o.status),
            });
        }
        report
    }
}

impl CheckStatus {
    /// The more severe of two statuses.
    fn max_severity(self, other: CheckStatus) -> CheckStatus {
        match (self.overall(), other.overall()) {
            (Some(a), Some(b)) if b > a => other,
            _ => self,
        }
    }
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

pub(crate) fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
