//! One run of one check: attempts with retries inside its budget, each attempt in a task of its
//! own (a panic is caught, a hang is cut after the driver's own timeout). The run reports its
//! progress on the check's own entry and hands its result back; the engine records it.
//!
//! Architecture invariant: nothing here reads or changes the registry's shared state; a run is
//! the same whoever started it.
use std::time::Duration;

use tokio::time::Instant;
use tracing::{Instrument as _, Span, field};
use vitals_retry::{Classification, Retry, Rng};

use crate::{
    CheckError, Details, RunProgress, Scrubber,
    entry::{Entry, round_ms},
};

/// A run that has ended, for the engine to record.
pub(crate) struct FinishedRun {
    pub(crate) result: Result<Details, CheckError>,
    pub(crate) attempts: u32,
    pub(crate) duration: Duration,
    /// The run's `vitals.check` span, for the fields known once it is recorded.
    pub(crate) span: Span,
}

/// Runs `entry`'s check once with its own budget. `index` and `jitter_seed` make a seeded
/// registry's delays repeatable per check and run.
pub(crate) async fn run_check(
    entry: &Entry,
    scrubber: &Scrubber,
    jitter_seed: Option<u64>,
    index: usize,
) -> FinishedRun {
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
        match jitter_seed {
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
                let message = scrubber.scrub(error.message());
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
    FinishedRun {
        result,
        attempts,
        duration,
        span,
    }
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
