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
//!   `?timeout=2s` bounds this caller's wait, never a check's run. A probe waits for a run
//!   at most the registry's `answer_within` (250 ms) and then answers from the latest result
//!   (see `vitals_core::timing`).
//!   `Accept` picks `application/health+json` (default) or Kubernetes-style `text/plain`.
//! - The response body is [`ResponseBody`]: the inner body or the layer's bytes, with the inner
//!   body's `Data` type, so the layered service works unchanged in axum, bare hyper and
//!   tonic's `Server::builder().layer(..)`.
//! - `/readyz/NAME` (any route's path, then a check's name) answers for that one check, as the
//!   Kubernetes apiserver serves `/readyz/etcd`; a name the probe has no check of passes
//!   through. An `exclude` that names no check is reported (`warn: …` in verbose bodies).
//! - Pass-through requests cost one byte comparison per route: no allocation, no extra
//!   `.await`.
//!
//! # Backpressure
//!
//! Probes never wait on the inner service and never use its capacity. `poll_ready` polls the
//! inner service but is always ready itself: a probe is answered here even while the inner
//! service applies backpressure (a concurrency limit, a full buffer), so a saturated
//! application is not restarted by its liveness probe, and readiness answers before the
//! kubelet's timeout. Pass-through requests keep the inner service's backpressure: when it was
//! ready they are passed straight to it (no allocation); when it was not, the request waits in
//! its response future on a clone of the inner service (`S: Clone`) until it is. A flood of
//! probes costs CPU time like any request, but no inner capacity, and answered from the cache
//! (terse probes) it allocates no more than a static 200.
//!
//! What this means for tower's backpressure layers:
//!
//! - Put `HealthLayer` **outermost**, and `LoadShed`, `ConcurrencyLimit`, `RateLimit` or
//!   `Buffer` inside it (between it and the application). They then limit application
//!   requests only: a shed or queued application never delays or fails a probe.
//! - `LoadShed` *outside* `HealthLayer` never sheds: `HealthService` is always ready, so the
//!   overload shows up as pass-through requests waiting in their response futures instead.
//! - `ConcurrencyLimit` or `RateLimit` *outside* counts probes against the limit, so a
//!   saturated application delays its own probes past the kubelet's timeout: what this layer
//!   exists to prevent.
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
#![cfg_attr(docsrs, feature(doc_cfg))]

mod answer;
mod body;
mod details;
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

use request::Target;

pub use body::ResponseBody;
pub use details::{ClientAddr, DetailsPolicy};
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
    pub(crate) details: details::Details,
}

impl Config {
    /// The probe a path asks for: a route (`/readyz`), or one check of a route's probe
    /// (`/readyz/NAME`, as the Kubernetes apiserver serves `/readyz/etcd`). Any other path,
    /// including `/readyz/NAME` for a name the probe has no check of, is not a probe's.
    ///
    /// One pass over the routes; a route's second byte is compared before anything else, so
    /// a pass-through path usually costs one byte comparison per route.
    #[inline]
    fn target(&self, path: &str, health: &Health) -> Option<Target> {
        let path = path.as_bytes();
        // A path under a route (`/readyz/NAME`) is a check's only if no route is the path.
        let mut under = None;
        for (route, probe) in &self.routes {
            let route = route.as_bytes();
            if path.get(1) != route.get(1) || !path.starts_with(route) {
                continue;
            }
            if path.len() == route.len() {
                return Some(Target {
                    probe: *probe,
                    check: None,
                });
            }
            if route.len() > 1 && path[route.len()] == b'/' && under.is_none() {
                under = Some((route.len(), *probe));
            }
        }
        let (len, probe) = under?;
        self.check_target(&path[len + 1..], probe, health)
    }

    /// `/readyz/NAME`, for a check of that probe; else not a probe path.
    #[cold]
    fn check_target(&self, name: &[u8], probe: Probe, health: &Health) -> Option<Target> {
        let name = std::str::from_utf8(name).ok()?;
        (!name.is_empty() && health.probe_check_names(probe).any(|check| check == name)).then(
            || Target {
                probe,
                check: Some(name.to_owned()),
            },
        )
    }
}

impl HealthLayer {
    /// Serves `/livez`, `/readyz`, `/startupz` and `/healthz` from `health`.
    pub fn new(health: Health) -> Self {
        let routes = Probe::EVERY
            .into_iter()
            .map(|probe| (Cow::Borrowed(probe.path()), probe))
            .collect();
        HealthLayer {
            health,
            config: Arc::new(Config {
                routes,
                verbose: false,
                details: details::Details::default(),
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

    /// Always include every check in bodies, as if each request said `?verbose`, for the
    /// callers the [details policy](Self::details) admits. Outputs are scrubbed of credentials
    /// either way.
    pub fn verbose(mut self, verbose: bool) -> Self {
        Arc::make_mut(&mut self.config).verbose = verbose;
        self
    }

    /// Who sees details (default [`DetailsPolicy::Local`]: loopback callers, known by the
    /// [`ClientAddr`] extension, and callers with the [token](Self::details_token)). Others
    /// get the terse answer with the same status code.
    pub fn details(mut self, policy: DetailsPolicy) -> Self {
        Arc::make_mut(&mut self.config).details.policy = policy;
        self
    }

    /// Under [`DetailsPolicy::Local`], also show details to requests carrying
    /// `Authorization: Bearer <token>` (a dashboard, a debugging session through an ingress).
    pub fn details_token(mut self, token: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).details.token = Some(token.into());
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
            inner_ready: false,
        }
    }
}

/// The service made by [`HealthLayer`].
#[derive(Debug)]
pub struct HealthService<S> {
    inner: S,
    health: Health,
    config: Arc<Config>,
    /// Whether the last `poll_ready` found the inner service ready.
    inner_ready: bool,
}

impl<S: Clone> Clone for HealthService<S> {
    fn clone(&self) -> Self {
        HealthService {
            inner: self.inner.clone(),
            health: self.health.clone(),
            config: self.config.clone(),
            // Readiness is per instance: a clone has reserved nothing yet.
            inner_ready: false,
        }
    }
}

impl<S> HealthService<S> {
    /// Answers the default probe paths from `health` in front of `inner`; the same as
    /// `HealthLayer::new(health).layer(inner)`.
    pub fn new(inner: S, health: Health) -> Self {
        HealthLayer::new(health).layer(inner)
    }

    /// A layer that wraps services in a `HealthService` (tower-http's `Service::layer`).
    pub fn layer(health: Health) -> HealthLayer {
        HealthLayer::new(health)
    }

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
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Always ready for probes; remember whether a pass-through may call the inner service
        // directly. A broken inner service is reported as it is.
        self.inner_ready = match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => false,
        };
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let ready = std::mem::take(&mut self.inner_ready);
        match self.config.target(req.uri().path(), &self.health) {
            None if ready => ResponseFuture::inner(self.inner.call(req)),
            None => {
                // The inner service holds the pending readiness (a queued permit, a buffer
                // slot): the request takes it along and waits; a fresh clone stays here.
                let fresh = self.inner.clone();
                ResponseFuture::waiting(std::mem::replace(&mut self.inner, fresh), req)
            }
            Some(target) => {
                // Release whatever poll_ready reserved in the inner service: a probe uses none
                // of its capacity, and must not keep a permit or a queued place from others.
                let fresh = self.inner.clone();
                drop(std::mem::replace(&mut self.inner, fresh));
                let (parts, _body) = req.into_parts();
                request::answer(self.health.clone(), target, parts, &self.config)
            }
        }
    }
}
