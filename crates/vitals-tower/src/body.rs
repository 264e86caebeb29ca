use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The response body of [`HealthService`](crate::HealthService): the inner service's body,
    /// untouched, or the bytes of a probe answer.
    ///
    /// Its `Data` is the inner body's (`Bytes` in axum, hyper and tonic), so the layered
    /// service fits wherever the inner one did.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        // Empty once sent. No `Option`: `Bytes`' own niche holds the tag, so the body is no
        // bigger than `Bytes` around a zero-sized inner body.
        Probe { bytes: Bytes },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn full(bytes: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Probe { bytes },
        }
    }

    /// Whether this body came from the inner service.
    pub fn is_inner(&self) -> bool {
        matches!(self.kind, Kind::Inner { .. })
    }
}

impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        ResponseBody::full(Bytes::new())
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Data: From<Bytes>,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Probe { bytes } => {
                let bytes = std::mem::take(bytes);
                Poll::Ready((!bytes.is_empty()).then(|| Ok(Frame::data(bytes.into()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Probe { bytes } => bytes.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Probe { bytes } => SizeHint::with_exact(bytes.len() as u64),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// How a [`HealthService`](crate::HealthService) carries the inner service's bodies and its
/// own answers: [`Wrapped`] (the default, any inner body) or [`SameBody`] (the inner body type
/// itself, for bodies that can hold bytes).
pub trait AnswerBody<B>: sealed::Sealed {
    /// The response body of the layered service.
    type Body;

    /// The inner service's body, carried.
    fn inner(body: B) -> Self::Body;

    /// A probe answer's bytes, carried.
    fn answer(bytes: Bytes) -> Self::Body;
}

/// Answers in [`ResponseBody`], around any inner body (hyper's `Incoming` too): the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wrapped;

/// Answers in the inner service's own body type (one that converts from [`Bytes`]: axum's
/// `Body`, tonic's `Body`, `Full<Bytes>`, `BoxBody`), so the layered service's response type
/// is the inner one and a pass-through response is handed on as it is
/// ([`HealthLayer::same_body`](crate::HealthLayer::same_body)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SameBody;

impl sealed::Sealed for Wrapped {}
impl sealed::Sealed for SameBody {}

impl<B> AnswerBody<B> for Wrapped {
    type Body = ResponseBody<B>;

    #[inline]
    fn inner(body: B) -> ResponseBody<B> {
        ResponseBody::inner(body)
    }

    fn answer(bytes: Bytes) -> ResponseBody<B> {
        ResponseBody::full(bytes)
    }
}

impl<B: From<Bytes>> AnswerBody<B> for SameBody {
    type Body = B;

    #[inline]
    fn inner(body: B) -> B {
        body
    }

    fn answer(bytes: Bytes) -> B {
        B::from(bytes)
    }
}
