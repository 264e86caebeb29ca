//! The status page's body: bytes, or Server-Sent Events pushed by the registry.
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, watch};
use vitals_core::{CheckStatus, Health, Report};

use super::render;

type Changed = Pin<
    Box<
        dyn Future<
                Output = (
                    watch::Receiver<Arc<Report>>,
                    Result<(), watch::error::RecvError>,
                ),
            > + Send,
    >,
>;

/// The body of a [`StatusPage`](super::StatusPage) answer.
pub struct StatusBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    /// The first event is the state now; each later one follows a published report in which
    /// a status changed (the overall one, or a check's): a run that changes nothing sends
    /// nothing. One subscription per viewer, no timer.
    Events {
        health: Health,
        trusted: bool,
        /// The page's base path when the viewer is the page itself: each event then also
        /// carries the page's parts, rendered, so the page redraws without fetching.
        page: Option<String>,
        first: bool,
        sent: Vec<CheckStatus>,
        next: Option<Changed>,
        /// The stream's place in the page's budget, given back when the viewer leaves.
        _permit: OwnedSemaphorePermit,
    },
}

impl std::fmt::Debug for StatusBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Full(_) => "full",
            Kind::Events { .. } => "events",
        };
        f.debug_struct("StatusBody").field("kind", &kind).finish()
    }
}

fn wait(mut receiver: watch::Receiver<Arc<Report>>) -> Changed {
    Box::pin(async move {
        let changed = receiver.changed().await;
        (receiver, changed)
    })
}

impl StatusBody {
    pub(crate) fn full(bytes: Bytes) -> Self {
        StatusBody {
            kind: Kind::Full(Some(bytes)),
        }
    }

    pub(crate) fn events(
        health: Health,
        trusted: bool,
        page: Option<String>,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        let mut receiver = health.subscribe();
        receiver.mark_unchanged();
        let sent = statuses(&receiver.borrow());
        StatusBody {
            kind: Kind::Events {
                health,
                trusted,
                page,
                first: true,
                sent,
                next: Some(wait(receiver)),
                _permit: permit,
            },
        }
    }
}

/// What a viewer is told of: the overall status, then each check's.
fn statuses(report: &Report) -> Vec<CheckStatus> {
    std::iter::once(CheckStatus::from(report.status))
        .chain(report.checks.iter().map(|c| c.status))
        .collect()
}

fn event(health: &Health, trusted: bool, page: Option<&str>) -> Bytes {
    let snapshot = render::Snapshot::take(health, trusted);
    let mut data = render::json(&snapshot);
    if let Some(base) = page {
        data["page"] = render::page_parts(&snapshot, base);
    }
    Bytes::from(format!("event: status\ndata: {data}\n\n"))
}

impl Body for StatusBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Events {
                health,
                trusted,
                page,
                first,
                sent,
                next,
                ..
            } => {
                if std::mem::take(first) {
                    let frame = event(health, *trusted, page.as_deref());
                    return Poll::Ready(Some(Ok(Frame::data(frame))));
                }
                loop {
                    let Some(waiting) = next else {
                        return Poll::Ready(None);
                    };
                    match waiting.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        // The registry is gone: the stream ends.
                        Poll::Ready((_, Err(_))) => {
                            *next = None;
                            return Poll::Ready(None);
                        }
                        Poll::Ready((mut receiver, Ok(()))) => {
                            let now = statuses(&receiver.borrow_and_update());
                            // Draining: the last event, then the end, so a graceful shutdown
                            // is not held open by viewers.
                            let draining = health.is_draining();
                            if now == *sent && !draining {
                                *next = Some(wait(receiver));
                                continue;
                            }
                            *sent = now;
                            let frame = event(health, *trusted, page.as_deref());
                            *next = (!draining).then(|| wait(receiver));
                            return Poll::Ready(Some(Ok(Frame::data(frame))));
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Events { .. } => SizeHint::default(),
        }
    }
}
