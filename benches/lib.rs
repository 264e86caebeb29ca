//! Shared fixtures for the benchmarks and the allocation test: the services compared.
#![forbid(unsafe_code)]

use std::{
    convert::Infallible,
    future::{Future, Ready, ready},
    pin::pin,
    task::{Context, Poll, Waker},
    time::Duration,
};

use bytes::Bytes;
use http::{
    HeaderValue, Request, Response, StatusCode,
    header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE},
};
use http_body::Body;
use http_body_util::{Empty, Full};
use hyper::body::Incoming;
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tower_http::validate_request::ValidateRequestHeaderLayer;
use vitals_core::{Check, CheckError, Details, Health, Probe, async_trait};

/// The inner application: answers every request with an empty 200 at once.
pub fn app(_req: Request<()>) -> Ready<Result<Response<Empty<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Empty::new())))
}

/// The inner application with a body that can hold bytes (`Full<Bytes>`, as axum's and tonic's
/// bodies can): what `HealthLayer::same_body` needs.
pub fn app_full(_req: Request<()>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::new()))))
}

/// The same answer for any request body type (hyper's `Incoming` in `passthrough-hyper`).
pub fn app_full_any<B>(_req: Request<B>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::new()))))
}

/// The peer of `HealthLayer` on a pass-through request: tower-http's own layer for answering
/// some requests itself (`ValidateRequestHeaderLayer::custom`), asked the same question
/// `HealthLayer` asks first — is the path's second byte one of the probe paths' second bytes
/// — and answering those with a static 200. It does no more than that: the least a layer that
/// answers by path costs (one path read, one enum future).
// The signature is tower-http's (`ValidateRequest` answers with `Err(Response)`).
#[allow(clippy::type_complexity, clippy::result_large_err)]
pub fn path_answering_peer<B>() -> ValidateRequestHeaderLayer<
    impl FnMut(&mut Request<B>) -> Result<(), Response<Full<Bytes>>> + Clone,
> {
    let mut second_bytes = [0u64; 4];
    for probe in Probe::EVERY {
        if let Some(&byte) = probe.path().as_bytes().get(1) {
            second_bytes[usize::from(byte >> 6)] |= 1 << (byte & 63);
        }
    }
    ValidateRequestHeaderLayer::custom(move |request: &mut Request<B>| {
        match request.uri().path().as_bytes().get(1) {
            Some(&byte) if second_bytes[usize::from(byte >> 6)] & (1 << (byte & 63)) != 0 => {
                Err(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }
            _ => Ok(()),
        }
    })
}

/// The baseline of a probe: a static 200 with the same headers a terse probe answer carries.
pub fn static_200(_req: Request<()>) -> Ready<Result<Response<Bytes>, Infallible>> {
    let mut response = Response::new(Bytes::from_static(br#"{"status":"pass"}"#));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/health+json"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(17usize));
    ready(Ok(response))
}

/// A check that passes at once.
#[derive(Debug)]
pub struct Instant(pub String);

#[async_trait]
impl Check for Instant {
    fn name(&self) -> &str {
        &self.0
    }

    async fn check(&self) -> Result<Details, CheckError> {
        Ok(Details::new())
    }
}

/// A check that answers after `delay`, or never (`None`): a slow or hung dependency.
#[derive(Debug)]
pub struct Sleepy(pub String, pub Option<Duration>);

#[async_trait]
impl Check for Sleepy {
    fn name(&self) -> &str {
        &self.0
    }

    async fn check(&self) -> Result<Details, CheckError> {
        match self.1 {
            Some(delay) => tokio::time::sleep(delay).await,
            None => std::future::pending().await,
        }
        Ok(Details::new())
    }
}

/// A registry of `checks` instant checks with the given cache TTL.
pub fn registry(checks: usize, ttl: Duration) -> Health {
    let mut builder = Health::builder().ttl(ttl);
    for i in 0..checks {
        builder = builder.register(Instant(format!("check-{i}")));
    }
    builder.build()
}

/// Runs every check of the readiness probe once so the cache is fresh.
pub fn warm(health: &Health) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(health.run(Probe::Readiness));
}

/// Polls a future that is expected to be ready at once (no runtime, a no-op waker).
#[inline(always)]
pub fn poll_now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future was expected to be ready at once"),
    }
}

/// Drives a service as a server does: `poll_ready` (expected ready at once), then `call`, then
/// the response future (expected ready at once).
// Inlined always: the harness must cost the same around every service it compares.
#[inline(always)]
pub fn serve<S, Req>(service: &mut S, request: Req) -> Result<S::Response, S::Error>
where
    S: tower::Service<Req>,
{
    poll_now(std::future::poll_fn(|cx| service.poll_ready(cx)))?;
    poll_now(service.call(request))
}

/// A GET request for `path`.
pub fn get(path: &str) -> Request<()> {
    Request::get(path).body(()).expect("a valid request")
}

/// One HTTP/1 connection to `service` through hyper's server, in this process over an
/// in-memory pipe: the client writes the same raw request bytes each time (built once) and
/// reads each response's head (every answer measured has an empty body), so nearly all the
/// work is the server's.
pub struct HyperConnection {
    client: DuplexStream,
    request: Vec<u8>,
    buffer: Vec<u8>,
    connection: tokio::task::JoinHandle<hyper::Result<()>>,
}

impl HyperConnection {
    /// Serves `service` on a new connection (spawned on the current runtime), to be sent
    /// `GET path` by [`get`](Self::get).
    pub fn start<S, B>(service: S, path: &str) -> Self
    where
        S: tower::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let connection = tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server), TowerToHyperService::new(service)),
        );
        HyperConnection {
            client,
            request: format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").into_bytes(),
            buffer: Vec::with_capacity(4096),
            connection,
        }
    }

    /// Sends the connection's `GET` and reads the response's head; panics unless it is a 200.
    pub async fn get(&mut self) {
        self.client
            .write_all(&self.request)
            .await
            .expect("the request is written");
        self.buffer.clear();
        let mut chunk = [0u8; 1024];
        while !self.buffer.ends_with(b"\r\n\r\n") {
            let read = self
                .client
                .read(&mut chunk)
                .await
                .expect("the response is read");
            assert!(read > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..read]);
        }
        assert!(
            self.buffer.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&self.buffer)
        );
    }

    /// Closes the connection and waits for the server's side to end cleanly.
    pub async fn close(self) {
        drop(self.client);
        self.connection
            .await
            .expect("the connection task ends")
            .expect("the connection ends cleanly");
    }
}
