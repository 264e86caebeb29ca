//! One run of a check: attempts with retries inside its budget, then the outcome recorded,
//! logged, announced to hooks and published to subscribers.
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::time::Instant;
use tracing::{Instrument as _, field};
use vitals_retry::{Classification, Retry, Rng};

use crate::{
    CheckError, CheckStatus, Details, Probe, Provenance, Report, RunProgress,
    entry::{Entry, Outcome, round_ms},
    health::Inner,
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

/// Runs check `index` once with its own budget and records the outcome. Nothing a caller
/// carries reaches here: every run is the same whoever started it.
pub(crate) async fn run_entry(inner: &Arc<Inner>, index: usize) -> Arc<Outcome> {
    let entry = &inner.entries[index];
    let span = tracing::info_span!(
        "vitals.check",
        check = %entry.name,
        component = %entry.component,
        attempts = field::Empty,
        outcome = field::Empty,
        duration_ms = field::Empty,
    );
    let started = Instant::now();
    let budget_end = started + entry.timing.budget;
    let rng = {
        let mut state = entry.lock();
        state.progress = Some(RunProgress {
            attempt: 1,
            planned_attempts: entry.timing.planned_attempts,
            last_error: None,
        });
        state.runs += 1;
        match inner.jitter_seed {
            Some(seed) => Rng::seeded(seed ^ ((index as u64) << 32) ^ state.runs),
            None => Rng::new(),
        }
    };
    let result = Retry::new(entry.backoff)
        .rng(rng)
        .classify(|e: &CheckError| {
            if e.is_permanent() {
                Classification::Permanent
            } else {
                Classification::Transient
            }
        })
        .deadline(budget_end)
        .run(|number| async move {
            let failed_at = {
                let mut state = entry.lock();
                if let Some(progress) = state.progress.as_mut() {
                    progress.attempt = number;
                }
                state.attempt_failed_at.take()
            };
            if let Some(failed_at) = failed_at {
                let delay_ms = failed_at.elapsed().as_millis() as u64;
                tracing::debug!(
                    attempt = number,
                    delay_ms,
                    "retrying after the backoff delay"
                );
            }
            let span = tracing::debug_span!("vitals.attempt", attempt = number);
            let result = attempt(entry, budget_end).instrument(span.clone()).await;
            if let Err(error) = &result {
                let message = inner.scrubber.scrub(error.message());
                span.in_scope(|| tracing::debug!(error = %message, "attempt failed"));
                let mut state = entry.lock();
                state.attempt_failed_at = Some(Instant::now());
                if let Some(progress) = state.progress.as_mut() {
                    progress.last_error = Some(message);
                }
            }
            result
        })
        .instrument(span.clone())
        .await;
    let duration = started.elapsed();
    let (attempts, result) = match result {
        Ok(done) => (done.attempts, Ok(done.value)),
        Err(failed) => (failed.attempts, Err(failed.error)),
    };
    let outcome = record(inner, entry, result, attempts, duration);
    entry.metrics.run(outcome.status, attempts, duration);
    span.record("attempts", attempts);
    span.record("outcome", outcome.status.as_str());
    span.record("duration_ms", duration.as_millis() as u64);
    span.in_scope(|| {
        let output = outcome.output.as_deref().unwrap_or("");
        // Formatted only when a subscriber wants the event.
        let duration = humantime::format_duration(round_ms(duration));
        // Every run at debug; at info and above only the status change (in `record`), so the
        // logs stay quiet while nothing changes.
        match outcome.status {
            CheckStatus::Pass => tracing::debug!(attempts, %duration, "check passed"),
            CheckStatus::Warn => tracing::debug!(attempts, %duration, output, "check degraded"),
            _ => tracing::debug!(attempts, %duration, output, "check failed"),
        }
    });
    inner.latch_startup();
    inner.publish();
    outcome
}

/// Stores a finished run as the check's latest result and tells hooks about a status change.
fn record(
    inner: &Inner,
    entry: &Entry,
    result: Result<Details, CheckError>,
    attempts: u32,
    duration: Duration,
) -> Arc<Outcome> {
    let scrub = |s: &str| inner.scrubber.scrub(s);
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
    let status = match (&message, &warning) {
        (None, None) => CheckStatus::Pass,
        (None, Some(_)) => CheckStatus::Warn,
        (Some(_), _) if entry.critical && !damped => CheckStatus::Fail,
        (Some(_), _) => CheckStatus::Warn,
    };
    let output = match (&message, warning) {
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
    });
    state.last = Some(outcome.clone());
    state.flight = None;
    state.progress = None;
    state.attempt_failed_at = None;
    drop(state);

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
        for listener in &inner.listeners {
            listener(&change);
        }
    }
    outcome
}

/// One attempt, in a task of its own so a panic is caught and a hang can be cut off. The cut
/// comes after the driver's own timeout (see [`crate::timing`]), so its error surfaces first.
async fn attempt(entry: &Entry, budget_end: Instant) -> Result<Details, CheckError> {
    let attempt_started = Instant::now();
    let cut_at = budget_end.min(attempt_started + entry.timing.attempt_timeout);
    let check = entry.check.clone();
    // The check's own events belong to this attempt's span.
    let mut task = tokio::spawn(async move { check.check().await }.in_current_span());
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
            // Dropping the attempt's future lets a check discard a connection it had in use
            // (see `ReusedClient`), so the next attempt starts from a fresh one.
            task.abort();
            let elapsed = humantime::format_duration(round_ms(attempt_started.elapsed()));
            Err(CheckError::new(match entry.timing.driver_timeout {
                Some(driver) if cut_at < budget_end => format!(
                    "timed out after {elapsed}: no answer and no error from the driver within \
                     its own timeout of {}",
                    humantime::format_duration(round_ms(driver))
                ),
                Some(_) => format!(
                    "timed out after {elapsed}: the run's budget ended before the driver's own \
                     timeout"
                ),
                None => format!("timed out after {elapsed}"),
            }))
        }
    }
}

impl Inner {
    /// Publishes a report of every check's latest result to subscribers.
    pub(crate) fn publish(&self) {
        let checks = self
            .entries
            .iter()
            .map(|entry| {
                entry.latest_report(|has_result| match (has_result, entry.interval) {
                    (false, _) => Provenance::Pending,
                    (true, Some(_)) => Provenance::Background,
                    (true, None) => Provenance::Cached,
                })
            })
            .collect();
        self.reports
            .send_replace(Arc::new(Report::from_checks(Probe::All, checks)));
    }
}
