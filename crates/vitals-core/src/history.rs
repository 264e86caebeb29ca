//! Each check's history, in fixed memory: the last [`RECENT_RUNS`] runs, hourly roll-ups for
//! [`HOURS_KEPT`] hours (30 days), and the last [`TRANSITIONS_KEPT`] status changes. Recorded
//! when a run ends (never on a probe's path); read for status pages.
use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::CheckStatus;

/// Runs kept per check, newest last.
pub const RECENT_RUNS: usize = 100;

/// Hourly roll-ups kept per check: 30 days.
pub const HOURS_KEPT: usize = 30 * 24;

/// Status changes kept per check.
pub const TRANSITIONS_KEPT: usize = 50;

/// The longest output kept per run, in bytes (cut at a character boundary).
pub const OUTPUT_KEPT: usize = 256;

/// One finished run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunRecord {
    /// When it ended.
    pub at: SystemTime,
    /// Its status.
    pub status: CheckStatus,
    /// How long it took, retries included.
    pub duration: Duration,
    /// Its attempts.
    pub attempts: u32,
    /// Its output (scrubbed; at most [`OUTPUT_KEPT`] bytes).
    pub output: Option<Arc<str>>,
}

/// One hour's runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct HourRollup {
    /// Hours since the Unix epoch.
    hour: u64,
    /// Runs that ended in that hour.
    runs: u32,
    /// Of those, the ones whose check succeeded (a failure of a non-critical check, served
    /// as warn, counts as down: uptime is the dependency's).
    up: u32,
    /// Their total duration, in milliseconds.
    total_ms: u64,
}

/// A status change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// When the run that changed it ended.
    pub at: SystemTime,
    /// The status before (`None`: the first result).
    pub from: Option<CheckStatus>,
    /// The status after.
    pub to: CheckStatus,
}

/// The windows a status page shows uptime over: 1 h, 24 h, 7 d, 30 d.
pub const UPTIME_WINDOWS: [(&str, Duration); 4] = [
    ("1h", Duration::from_secs(3_600)),
    ("24h", Duration::from_secs(86_400)),
    ("7d", Duration::from_secs(7 * 86_400)),
    ("30d", Duration::from_secs(30 * 86_400)),
];

/// A check's history: fixed capacity, allocated once.
#[derive(Debug)]
pub(crate) struct History {
    recent: VecDeque<RunRecord>,
    /// Indexed by `hour % HOURS_KEPT`; a slot holding another hour is stale.
    hours: Box<[HourRollup]>,
    transitions: VecDeque<Transition>,
}

impl Default for History {
    fn default() -> Self {
        History {
            recent: VecDeque::with_capacity(RECENT_RUNS),
            hours: vec![HourRollup::default(); HOURS_KEPT].into_boxed_slice(),
            transitions: VecDeque::with_capacity(TRANSITIONS_KEPT),
        }
    }
}

fn hour_of(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 3_600)
}

impl History {
    pub(crate) fn record(
        &mut self,
        at: SystemTime,
        status: CheckStatus,
        succeeded: bool,
        duration: Duration,
        attempts: u32,
        output: Option<&str>,
    ) {
        let previous = self.recent.back().map(|r| r.status);
        if previous != Some(status) {
            if self.transitions.len() == TRANSITIONS_KEPT {
                self.transitions.pop_front();
            }
            self.transitions.push_back(Transition {
                at,
                from: previous,
                to: status,
            });
        }
        if self.recent.len() == RECENT_RUNS {
            self.recent.pop_front();
        }
        let output = output.map(|text| {
            let mut end = text.len().min(OUTPUT_KEPT);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Arc::from(&text[..end])
        });
        self.recent.push_back(RunRecord {
            at,
            status,
            duration,
            attempts,
            output,
        });
        let hour = hour_of(at);
        let slot = &mut self.hours[(hour % HOURS_KEPT as u64) as usize];
        if slot.hour != hour {
            *slot = HourRollup {
                hour,
                ..HourRollup::default()
            };
        }
        slot.runs += 1;
        slot.up += u32::from(succeeded);
        slot.total_ms += duration.as_millis() as u64;
    }

    /// The share of runs whose check succeeded over `window` before `now`, counted by whole
    /// hours (the current one included); `None` without a run in it.
    pub(crate) fn uptime(&self, now: SystemTime, window: Duration) -> Option<f64> {
        let newest = hour_of(now);
        let hours = (window.as_secs() / 3_600).max(1);
        let oldest = newest.saturating_sub(hours - 1);
        let (runs, up) = self
            .hours
            .iter()
            .filter(|h| h.runs > 0 && h.hour >= oldest && h.hour <= newest)
            .fold((0u64, 0u64), |(r, u), h| {
                (r + u64::from(h.runs), u + u64::from(h.up))
            });
        (runs > 0).then(|| up as f64 / runs as f64)
    }

    pub(crate) fn snapshot(&self) -> (Vec<RunRecord>, Vec<Transition>) {
        (
            self.recent.iter().cloned().collect(),
            self.transitions.iter().copied().collect(),
        )
    }

    /// The hourly roll-ups that hold runs, oldest first.
    #[cfg(test)]
    fn rollups(&self) -> Vec<HourRollup> {
        let mut out: Vec<HourRollup> = self.hours.iter().filter(|h| h.runs > 0).copied().collect();
        out.sort_by_key(|h| h.hour);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: u64, secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 * 3_600 + hours * 3_600 + secs)
    }

    #[test]
    fn keeps_fixed_numbers_of_runs_hours_and_transitions() {
        let mut history = History::default();
        for i in 0..1_000u64 {
            let status = if i % 10 == 0 {
                CheckStatus::Fail
            } else {
                CheckStatus::Pass
            };
            let ok = status == CheckStatus::Pass;
            history.record(at(i, 0), status, ok, Duration::from_millis(5), 1, Some("x"));
        }
        let (recent, transitions) = history.snapshot();
        assert_eq!(recent.len(), RECENT_RUNS);
        assert_eq!(recent.last().unwrap().at, at(999, 0));
        assert_eq!(transitions.len(), TRANSITIONS_KEPT);
        // One run per hour for 1 000 hours: only the last 720 hours are kept.
        assert_eq!(history.rollups().len(), HOURS_KEPT);
        assert_eq!(
            history.rollups()[0].hour,
            hour_of(at(1_000 - HOURS_KEPT as u64, 0))
        );
    }

    #[test]
    fn uptime_counts_successful_runs_by_window() {
        let mut history = History::default();
        // 30 days ago: failures only; this hour: 3 passes, a warning (up) and a failure.
        for s in 0..4 {
            history.record(at(0, s), CheckStatus::Fail, false, Duration::ZERO, 1, None);
        }
        let now_hour = 29 * 24;
        for (i, status) in [
            CheckStatus::Pass,
            CheckStatus::Pass,
            CheckStatus::Warn,
            CheckStatus::Pass,
            CheckStatus::Fail,
        ]
        .into_iter()
        .enumerate()
        {
            let up = status != CheckStatus::Fail;
            history.record(at(now_hour, i as u64), status, up, Duration::ZERO, 1, None);
        }
        let now = at(now_hour, 100);
        assert_eq!(history.uptime(now, UPTIME_WINDOWS[0].1), Some(0.8));
        assert_eq!(history.uptime(now, UPTIME_WINDOWS[3].1), Some(4.0 / 9.0));
        assert_eq!(
            history.uptime(at(now_hour + 48, 0), UPTIME_WINDOWS[0].1),
            None
        );
    }

    #[test]
    fn long_outputs_are_cut_at_a_character_boundary() {
        let mut history = History::default();
        let long = "é".repeat(OUTPUT_KEPT);
        history.record(
            at(0, 0),
            CheckStatus::Fail,
            false,
            Duration::ZERO,
            1,
            Some(&long),
        );
        let kept = history.snapshot().0[0].output.clone().unwrap();
        assert!(kept.len() <= OUTPUT_KEPT && long.starts_with(&*kept));
    }
}
