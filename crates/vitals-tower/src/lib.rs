//! A [`tower`](https://docs.rs/tower) layer that answers Kubernetes probe paths from a
//! [`vitals_core::Health`] registry and passes every other request to the inner service
//! untouched.
//!
//! - Paths: `/livez`, `/readyz`, `/startupz`, `/healthz` by default; add more with
//!   [`HealthLayer::route`] (the deployment guide probes `/`).
//! - `200` on `pass` and `warn`, `503` on `fail`; `GET` and `HEAD`; other methods get `405`
//!   with `Allow: GET, HEAD`. Responses carry `Cache-Control: no-store`.
//! - Body: terse by default (`{"status":"pass"}`); every check with `?verbose` or
//!   [`HealthLayer::verbose`]; `?exclude=NAME` (repeatable) as the Kubernetes apiserver does;
//!   `?timeout=2s` bounds the wait (checks report a timeout before the caller gives up).
//!   `Accept` picks `application/health+json` (default) or Kubernetes-style `text/plain`.
//! - The response body is [`ResponseBody`]: the inner body or the layer's bytes, with the inner
//!   body's `Data` type, so the layered service works unchanged in axum, bare hyper and
//!   tonic's `Server::builder().layer(..)`.
//! - Pass-through requests cost a path comparison: no allocation, no extra `.await`.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's: tower's contract allows `call` only after the service
//! is ready, so a probe waits wherever the inner service applies backpressure (a concurrency
//! limit or buffer **behind** this layer). Put `HealthLayer` **outside** such limits so probes
//! are answered even when the application is saturated, and outside load-shedding so they are
//! never shed; probes never consume the inner service's capacity, since they are answered here
//! and never call it.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use tower::{ServiceBuilder, ServiceExt};
//! use vitals_core::{Health, Probe};
//! use vitals_tower::HealthLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let health = Health::builder().build();
//! let app = ServiceBuilder::new()
//!     .layer(HealthLayer::new(health).route("/", Probe::All))
//!     .service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!     });
//!
//! let probe = app.clone().oneshot(Request::get("/readyz").body(Full::default()).unwrap()).await.unwrap();
//! assert_eq!(probe.status(), StatusCode::OK);
//! let other = app.oneshot(Request::get("/orders").body(Full::default()).unwrap()).await.unwrap();
//! assert_eq!(other.status(), StatusCode::OK);
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod body;
mod future;
mod request;

use std::{
    borrow::Cow,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use vitals_core::{Health, Probe};

pub use body::ResponseBody;
pub use future::ResponseFuture;

/// Answers probe paths from a [`Health`] registry; see the [crate docs](crate).
#[derive(Clone, Debug)]
#[must_use]
pub struct HealthLayer {
    health: Health,
    config: Arc<Config>,
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    routes: Vec<(Cow<'static, str>, Probe)>,
    pub(crate) verbose: bool,
}

impl Config {
    fn probe_for(&self, path: &str) -> Option<Probe> {
        self.routes
            .iter()
            .find(|(route, _)| route == path)
            .map(|(_, probe)| *probe)
    }
}

impl HealthLayer {
    /// Serves `/livez`, `/readyz`, `/startupz` and `/healthz` from `health`.
    pub fn new(health: Health) -> Self {
        let routes = [
            ("/livez", Probe::Liveness),
            ("/readyz", Probe::Readiness),
            ("/startupz", Probe::Startup),
            ("/healthz", Probe::All),
        ]
        .into_iter()
        .map(|(path, probe)| (Cow::Borrowed(path), probe))
        .collect();
        HealthLayer {
            health,
            config: Arc::new(Config {
                routes,
                verbose: false,
            }),
        }
    }

    /// Answers `path` with `probe` (replacing an existing route for that path). The deployment
    /// guide's probes use `.route("/", Probe::All)`.
    pub fn route(mut self, path: impl Into<Cow<'static, str>>, probe: Probe) -> Self {
        let path = path.into();
        let config = Arc::make_mut(&mut self.config);
        config.routes.retain(|(p, _)| *p != path);
        config.routes.push((path, probe));
        self
    }

    /// Stops answering `path`; requests to it pass through.
    pub fn without_route(mut self, path: &str) -> Self {
        Arc::make_mut(&mut self.config)
            .routes
            .retain(|(p, _)| p != path);
        self
    }

    /// Always include every check in bodies, as if each request said `?verbose`. Outputs are
    /// scrubbed of credentials either way; leave this off on endpoints the internet can reach.
    pub fn verbose(mut self, verbose: bool) -> Self {
        Arc::make_mut(&mut self.config).verbose = verbose;
        self
    }

    /// The paths answered, with their probes.
    pub fn routes(&self) -> impl Iterator<Item = (&str, Probe)> {
        self.config
            .routes
            .iter()
            .map(|(p, probe)| (p.as_ref(), *probe))
    }
}

impl<S> Layer<S> for HealthLayer {
    type Service = HealthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HealthService {
            inner,
            health: self.health.clone(),
            config: self.config.clone(),
        }
    }
}

/// The service made by [`HealthLayer`].
#[derive(Clone, Debug)]
pub struct HealthService<S> {
    inner: S,
    health: Health,
    config: Arc<Config>,
}

impl<S> HealthService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HealthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.config.probe_for(req.uri().path()) {
            None => ResponseFuture::inner(self.inner.call(req)),
            Some(probe) => {
                let (parts, _body) = req.into_parts();
                ResponseFuture::probe(request::answer(
                    self.health.clone(),
                    probe,
                    parts,
                    self.config.verbose,
                ))
            }
        }
    }
}
