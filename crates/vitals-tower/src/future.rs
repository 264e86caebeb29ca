use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;
use tower_service::Service;
use vitals_core::{Probe, Status};

use crate::{
    AnswerBody, Wrapped,
    answer::{Format, terse},
};

/// A probe answer being computed (checks may run).
pub(crate) type ProbeAnswer = Pin<Box<dyn Future<Output = Response<Bytes>> + Send>>;

pin_project! {
    /// The response future of [`HealthService`](crate::HealthService) wrapping `S`, for
    /// requests of type `Req`, with bodies carried as `M` says ([`Wrapped`] or
    /// [`SameBody`](crate::SameBody)).
    pub struct ResponseFuture<S, Req, M = Wrapped>
    where
        S: Service<Req>,
    {
        #[pin]
        kind: Kind<S, Req>,
        mode: PhantomData<fn() -> M>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, Req>
    where
        S: Service<Req>,
    {
        // A pass-through request, called on the inner service.
        Inner { #[pin] future: S::Future },
        // A pass-through request that arrived while the inner service was not ready: it waits
        // on the service that holds the pending readiness, then is called (boxed: rare, and
        // the common variants stay small).
        Waiting { waiting: Option<Box<(S, Req)>> },
        // A probe answer: from the cache (rendered when polled), known at once (405, 400), or
        // after checks.
        Terse { status: Status, probe: Probe, format: Format, head: bool },
        Ready { response: Option<Box<Response<Bytes>>> },
        Later { answer: ProbeAnswer },
    }
}

impl<S: Service<Req>, Req, M> ResponseFuture<S, Req, M> {
    #[inline]
    pub(crate) fn inner(future: S::Future) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future },
            mode: PhantomData,
        }
    }

    pub(crate) fn waiting(service: S, request: Req) -> Self {
        ResponseFuture {
            kind: Kind::Waiting {
                waiting: Some(Box::new((service, request))),
            },
            mode: PhantomData,
        }
    }

    pub(crate) fn terse(status: Status, probe: Probe, format: Format, head: bool) -> Self {
        ResponseFuture {
            kind: Kind::Terse {
                status,
                probe,
                format,
                head,
            },
            mode: PhantomData,
        }
    }

    pub(crate) fn ready(response: Response<Bytes>) -> Self {
        ResponseFuture {
            kind: Kind::Ready {
                response: Some(Box::new(response)),
            },
            mode: PhantomData,
        }
    }

    pub(crate) fn later(answer: ProbeAnswer) -> Self {
        ResponseFuture {
            kind: Kind::Later { answer },
            mode: PhantomData,
        }
    }
}

impl<S: Service<Req>, Req, M> fmt::Debug for ResponseFuture<S, Req, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Waiting { .. } => "waiting for the inner service",
            Kind::Terse { .. } => "terse probe",
            Kind::Ready { .. } => "ready",
            Kind::Later { .. } => "probe",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}

impl<S, Req, B, M> Future for ResponseFuture<S, Req, M>
where
    S: Service<Req, Response = Response<B>>,
    M: AnswerBody<B>,
{
    type Output = Result<Response<M::Body>, S::Error>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The pass-through arm inline and alone: everything else is rarer and out of line.
        if let KindProj::Inner { future } = self.as_mut().project().kind.project() {
            let response = ready!(future.poll(cx))?;
            return Poll::Ready(Ok(response.map(M::inner)));
        }
        self.poll_other(cx)
    }
}

impl<S, Req, B, M> ResponseFuture<S, Req, M>
where
    S: Service<Req, Response = Response<B>>,
    M: AnswerBody<B>,
{
    /// Every arm but the pass-through one: waiting for the inner service, and probe answers.
    #[cold]
    #[inline(never)]
    fn poll_other(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Response<M::Body>, S::Error>> {
        let response = match self.as_mut().project().kind.project() {
            KindProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                return Poll::Ready(Ok(response.map(M::inner)));
            }
            KindProj::Waiting { waiting } => {
                let (service, _) = &mut **waiting
                    .as_mut()
                    .expect("ResponseFuture polled after completion");
                ready!(service.poll_ready(cx))?;
                let (mut service, request) = *waiting.take().expect("checked above");
                let future = service.call(request);
                self.as_mut().project().kind.set(Kind::Inner { future });
                return self.poll(cx);
            }
            KindProj::Terse {
                status,
                probe,
                format,
                head,
            } => terse(*status, *probe, *format, *head),
            KindProj::Ready { response } => *response
                .take()
                .expect("ResponseFuture polled after completion"),
            KindProj::Later { answer } => ready!(answer.as_mut().poll(cx)),
        };
        Poll::Ready(Ok(response.map(M::answer)))
    }
}
