//! What a connection is doing, told by its requests and its writes.
use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower_service::Service;
use vitals_tower::ClientAddr;

use crate::connections::Connection;

/// A request in flight on its connection, until its response body has been sent (or dropped).
#[derive(Debug)]
struct InFlight(Arc<Connection>);

impl InFlight {
    fn begin(connection: &Arc<Connection>) -> Self {
        connection.begin();
        InFlight(connection.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The application's service on one connection: each request carries the client's address
/// ([`ClientAddr`]) and counts as in flight until its response is sent.
#[derive(Clone, Debug)]
pub(crate) struct Tracked<S> {
    inner: S,
    connection: Arc<Connection>,
    peer: SocketAddr,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, connection: Arc<Connection>, peer: SocketAddr) -> Self {
        Tracked {
            inner,
            connection,
            peer,
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Tracked<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<TrackedBody<ResBody>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        request.extensions_mut().insert(ClientAddr(self.peer));
        let in_flight = InFlight::begin(&self.connection);
        TrackedFuture {
            inner: self.inner.call(request),
            in_flight: Some(in_flight),
        }
    }
}

pin_project! {
    /// The response future of [`Tracked`].
    #[derive(Debug)]
    pub(crate) struct TrackedFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F, B, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let in_flight = this.in_flight.take();
        Poll::Ready(Ok(response.map(|inner| TrackedBody { inner, in_flight })))
    }
}

pin_project! {
    /// A response body; its request is in flight until it ends or is dropped.
    #[derive(Debug)]
    pub(crate) struct TrackedBody<B> {
        #[pin]
        inner: B,
        in_flight: Option<InFlight>,
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if frame.is_none() {
            this.in_flight.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// A connection's socket, telling when the client stops reading (a write finds its
    /// window full) and when it reads again.
    #[derive(Debug)]
    pub(crate) struct WatchedIo<T> {
        #[pin]
        inner: T,
        connection: Arc<Connection>,
    }
}

impl<T> WatchedIo<T> {
    pub(crate) fn new(inner: T, connection: Arc<Connection>) -> Self {
        WatchedIo { inner, connection }
    }

    fn told<R>(connection: &Connection, poll: Poll<R>) -> Poll<R> {
        match poll {
            Poll::Pending => connection.write_blocked(),
            Poll::Ready(_) => connection.write_went(),
        }
        poll
    }
}

impl<T: AsyncRead> AsyncRead for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        Self::told(this.connection, this.inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        Self::told(this.connection, this.inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}
