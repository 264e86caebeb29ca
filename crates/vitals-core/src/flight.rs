//! Single-flight: however many callers need a check's result, one run happens, in a task of
//! its own, with the check's own budget. Callers only wait for it, each until its own bound.
use std::sync::Arc;

use tokio::{sync::watch, time::Instant};

use crate::{
    Provenance,
    entry::{Flight, Outcome},
    health::Inner,
    run::run_entry,
};

/// A result that is ready, or a run to wait for (with the result it will replace).
pub(crate) enum Pending {
    Ready(Option<Arc<Outcome>>, Provenance),
    Running {
        flight: Flight,
        latest: Option<Arc<Outcome>>,
    },
}

impl Inner {
    /// The result of check `index` a report can use now, or the run to wait for, started here
    /// or joined. The caller's deadline plays no part: the run is the same for everyone.
    pub(crate) fn result(self: &Arc<Self>, index: usize) -> Pending {
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
        let inner = self.clone();
        tokio::spawn(async move {
            let outcome = run_entry(&inner, index).await;
            let _ = tx.send(Some(outcome));
        });
        Pending::Running { flight: rx, latest }
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
