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
use http_body_util::{Empty, Full};
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
