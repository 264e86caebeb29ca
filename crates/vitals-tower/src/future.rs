use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;
use vitals_core::{Probe, Status};

use crate::{ResponseBody, request::Format};

/// A probe answer being computed (checks may run).
pub(crate) type ProbeAnswer = Pin<Box<dyn Future<Output = Response<Bytes>> + Send>>;

pin_project! {
    /// The response future of [`HealthService`](crate::HealthService).
    ///
    /// `F` is the inner service's future; `W` the future used when a pass-through request
    /// arrived while the inner service was not ready (it waits for readiness, then calls).
    pub struct ResponseFuture<F, W> {
        #[pin]
        kind: Kind<F, W>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, W> {
        Inner { #[pin] future: F },
        Waiting { future: Pin<Box<W>> },
        Probe { answer: ProbeAnswer },
        Terse { status: Status, probe: Probe, format: Format, head: bool },
        Ready { response: Option<Box<Response<Bytes>>> },
    }
}

/// A probe answer: from the cache at once (terse), known at once (405, 400), or after checks.
pub(crate) enum Answer {
    Terse {
        status: Status,
        probe: Probe,
        format: Format,
        head: bool,
    },
    Now(Response<Bytes>),
    Later(ProbeAnswer),
}

impl<F, W> ResponseFuture<F, W> {
    pub(crate) fn inner(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn waiting(future: W) -> Self {
        ResponseFuture {
            kind: Kind::Waiting {
                future: Box::pin(future),
            },
        }
    }

    pub(crate) fn probe(answer: Answer) -> Self {
        let kind = match answer {
            Answer::Terse {
                status,
                probe,
                format,
                head,
            } => Kind::Terse {
                status,
                probe,
                format,
                head,
            },
            Answer::Later(answer) => Kind::Probe { answer },
            Answer::Now(response) => Kind::Ready {
                response: Some(Box::new(response)),
            },
        };
        ResponseFuture { kind }
    }
}

impl<F, W> fmt::Debug for ResponseFuture<F, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Waiting { .. } => "waiting for the inner service",
            Kind::Probe { .. } => "probe",
            Kind::Terse { .. } => "terse probe",
            Kind::Ready { .. } => "ready",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}

impl<F, W, B, E> Future for ResponseFuture<F, W>
where
    F: Future<Output = Result<Response<B>, E>>,
    W: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match self.project().kind.project() {
            KindProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                return Poll::Ready(Ok(response.map(ResponseBody::inner)));
            }
            KindProj::Waiting { future } => {
                let response = ready!(future.as_mut().poll(cx))?;
                return Poll::Ready(Ok(response.map(ResponseBody::inner)));
            }
            KindProj::Probe { answer } => ready!(answer.as_mut().poll(cx)),
            KindProj::Terse {
                status,
                probe,
                format,
                head,
            } => crate::request::terse(*status, *probe, *format, *head),
            KindProj::Ready { response } => *response
                .take()
                .expect("ResponseFuture polled after completion"),
        };
        Poll::Ready(Ok(response.map(ResponseBody::full)))
    }
}
