//! What one probe request asks of the registry.
use std::time::Duration;

use tokio::time::Instant;

/// What one probe request asks of [`Health::report`](crate::Health::report).
///
/// Nothing here changes what another caller sees: a deadline bounds only this caller's wait,
/// exclusions only this report.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ReportOptions {
    exclude: Vec<String>,
    only: Option<String>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) wait_for_runs: bool,
}

impl ReportOptions {
    /// No exclusions, no caller deadline; waits for runs at most the registry's
    /// [`answer_within`](crate::HealthBuilder::answer_within).
    pub fn new() -> Self {
        ReportOptions::default()
    }

    /// Leaves the check called `name` out of this report (`?exclude=name`).
    pub fn exclude(mut self, name: impl Into<String>) -> Self {
        self.exclude.push(name.into());
        self
    }

    /// The caller gives up at `deadline` (`grpc-timeout`, `?timeout=`). It bounds only this
    /// caller's wait: runs keep their own budget, and a check whose run is still going is
    /// reported from its latest result (or as pending). Nothing about the cut is recorded.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Like [`ReportOptions::deadline`], as a duration from now: this caller waits at most
    /// `wait`.
    pub fn wait_at_most(self, wait: Duration) -> Self {
        self.deadline(Instant::now() + wait)
    }

    /// Runs and reports only the check called `name` (`/readyz/NAME`, a gRPC service name).
    pub fn only(mut self, name: impl Into<String>) -> Self {
        self.only = Some(name.into());
        self
    }

    /// Waits for the runs this report needs however long they take (up to the deadline, if
    /// any), instead of answering from the latest result after `answer_within`. For programs
    /// that want a fresh answer (a CLI, a test), not for probe handlers.
    pub fn wait_for_runs(mut self) -> Self {
        self.wait_for_runs = true;
        self
    }

    /// The names this caller excluded (`?exclude=`), in the order given.
    pub(crate) fn exclusions(&self) -> &[String] {
        &self.exclude
    }

    pub(crate) fn excludes(&self, name: &str) -> bool {
        self.exclude.iter().any(|e| e == name) || self.only.as_deref().is_some_and(|o| o != name)
    }

    /// Until when this caller waits for runs, given the registry's answer bound.
    pub(crate) fn wait_until(&self, answer_within: Duration) -> Option<Instant> {
        if self.wait_for_runs {
            return self.deadline;
        }
        let bound = Instant::now() + answer_within;
        Some(self.deadline.map_or(bound, |d| d.min(bound)))
    }
}
