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
//!   tonic's `Server::builder().layer(..)`. Where the inner body can hold bytes (axum's,
//!   `Full<Bytes>`), [`HealthLayer::same_body`] answers in it instead and the layered
//!   response type is the inner one.
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
pub mod status;

use std::{
    borrow::Cow,
    marker::PhantomData,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use vitals_core::{Health, Probe};

use request::Target;

pub use body::{AnswerBody, ResponseBody, SameBody, Wrapped};
pub use details::{ClientAddr, DetailsPolicy};
pub use future::ResponseFuture;
pub use status::{DEFAULT_MAX_EVENT_STREAMS, StatusBody, StatusPage};

/// Answers probe paths from a [`Health`] registry; see the [crate docs](crate). `M` says how
/// bodies are carried: [`Wrapped`] (default) or [`SameBody`] ([`HealthLayer::same_body`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct HealthLayer<M = Wrapped> {
    shared: Arc<Shared>,
    mode: PhantomData<fn() -> M>,
}

/// What a layer and every service it makes share, behind one `Arc`: a clone per request (as
/// hyper-util's and axum's adapters make) costs one reference count.
#[derive(Clone, Debug)]
pub(crate) struct Shared {
    pub(crate) health: Health,
    routes: Vec<(Cow<'static, str>, Probe)>,
    /// The routes' second bytes, as a 256-bit set: a path whose second byte is in none of them
    /// is no probe's (one load and a bit test for most pass-through requests).
    second_bytes: [u64; 4],
    pub(crate) verbose: bool,
    pub(crate) details: details::Details,
}

impl Shared {
    /// Recomputes [`Shared::second_bytes`] after the routes changed.
    fn index_routes(&mut self) {
        self.second_bytes = [0; 4];
        for (route, _) in &self.routes {
            if let Some(&byte) = route.as_bytes().get(1) {
                self.second_bytes[usize::from(byte >> 6)] |= 1 << (byte & 63);
            }
        }
    }

    /// The probe a path asks for: a route (`/readyz`), or one check of a route's probe
    /// (`/readyz/NAME`, as the Kubernetes apiserver serves `/readyz/etcd`). Any other path,
    /// including `/readyz/NAME` for a name the probe has no check of, is not a probe's.
    ///
    /// One pass over the routes; a route's second byte is compared before anything else, so
    /// a pass-through path usually costs one byte comparison per route.
    #[inline(always)]
    fn target(&self, path: &str) -> Option<Target> {
        let path = path.as_bytes();
        // Only a route (exact) can match a path this short or with a second byte no route
        // has; routes are at least one byte, so a longer path needs a route's second byte.
        if let Some(&byte) = path.get(1)
            && self.second_bytes[usize::from(byte >> 6)] & (1 << (byte & 63)) == 0
        {
            return None;
        }
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
        self.check_target(&path[len + 1..], probe)
    }

    /// `/readyz/NAME`, for a check of that probe; else not a probe path.
    #[cold]
    fn check_target(&self, name: &[u8], probe: Probe) -> Option<Target> {
        let name = std::str::from_utf8(name).ok()?;
        (!name.is_empty()
            && self
                .health
                .probe_check_names(probe)
                .any(|check| check == name))
        .then(|| Target {
            probe,
            check: Some(name.to_owned()),
        })
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
            shared: Arc::new({
                let mut shared = Shared {
                    health,
                    routes,
                    second_bytes: [0; 4],
                    verbose: false,
                    details: details::Details::default(),
                };
                shared.index_routes();
                shared
            }),
            mode: PhantomData,
        }
    }

    /// Answers probes in the inner service's own body type, so the layered service's response
    /// type is the inner one and pass-through responses are handed on as they are (no body
    /// wrapper: the cost of the layer on a pass-through request is the route comparison).
    /// For inner bodies that convert from [`Bytes`](bytes::Bytes): axum's `Body`, tonic's
    /// `Body`, `Full<Bytes>`, boxed bodies. Hyper's `Incoming` cannot hold bytes: keep the
    /// default there.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use bytes::Bytes;
    /// use http::{Request, Response};
    /// use http_body_util::Full;
    /// use tower::{Layer, Service, ServiceExt};
    /// use vitals_core::Health;
    /// use vitals_tower::HealthLayer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let app = tower::service_fn(|_req: Request<()>| async {
    ///     Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
    /// });
    /// let layered = HealthLayer::new(Health::builder().build()).same_body().layer(app);
    /// // The response type is the inner one: `Response<Full<Bytes>>`.
    /// let probe: Response<Full<Bytes>> =
    ///     layered.oneshot(Request::get("/readyz").body(()).unwrap()).await.unwrap();
    /// assert!(probe.status().is_success());
    /// # }
    /// ```
    pub fn same_body(self) -> HealthLayer<SameBody> {
        HealthLayer {
            shared: self.shared,
            mode: PhantomData,
        }
    }
}

impl<M> HealthLayer<M> {
    /// Answers `path` with `probe` (replacing an existing route for that path). The deployment
    /// guide's probes use `.route("/", Probe::All)`.
    pub fn route(mut self, path: impl Into<Cow<'static, str>>, probe: Probe) -> Self {
        let path = path.into();
        let shared = Arc::make_mut(&mut self.shared);
        shared.routes.retain(|(p, _)| *p != path);
        shared.routes.push((path, probe));
        shared.index_routes();
        self
    }

    /// Stops answering `path`; requests to it pass through.
    pub fn without_route(mut self, path: &str) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        shared.routes.retain(|(p, _)| p != path);
        shared.index_routes();
        self
    }

    /// Always include every check in bodies, as if each request said `?verbose`, for the
    /// callers the [details policy](Self::details) admits. Outputs are scrubbed of credentials
    /// either way.
    pub fn verbose(mut self, verbose: bool) -> Self {
        Arc::make_mut(&mut self.shared).verbose = verbose;
        self
    }

    /// Who sees details (default [`DetailsPolicy::Local`]: loopback callers, known by the
    /// [`ClientAddr`] extension, and callers with the [token](Self::details_token)). Others
    /// get the terse answer with the same status code.
    pub fn details(mut self, policy: DetailsPolicy) -> Self {
        Arc::make_mut(&mut self.shared).details.policy = policy;
        self
    }

    /// Under [`DetailsPolicy::Local`], also show details to requests carrying
    /// `Authorization: Bearer <token>` (a dashboard, a debugging session through an ingress).
    pub fn details_token(mut self, token: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).details.token = Some(token.into());
        self
    }

    /// The paths answered, with their probes.
    pub fn routes(&self) -> impl Iterator<Item = (&str, Probe)> {
        self.shared
            .routes
            .iter()
            .map(|(p, probe)| (p.as_ref(), *probe))
    }
}

impl<S, M> Layer<S> for HealthLayer<M> {
    type Service = HealthService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        HealthService {
            inner,
            shared: self.shared.clone(),
            inner_ready: false,
            mode: PhantomData,
        }
    }
}

/// The service made by [`HealthLayer`].
#[derive(Debug)]
pub struct HealthService<S, M = Wrapped> {
    inner: S,
    shared: Arc<Shared>,
    /// Whether the last `poll_ready` found the inner service ready.
    inner_ready: bool,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for HealthService<S, M> {
    fn clone(&self) -> Self {
        HealthService {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            // Readiness is per instance: a clone has reserved nothing yet.
            inner_ready: false,
            mode: PhantomData,
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
}

impl<S, M> HealthService<S, M> {
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

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for HealthService<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    M: AnswerBody<ResBody>,
{
    type Response = Response<M::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>, M>;

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
        match self.shared.target(req.uri().path()) {
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
                request::answer(target, parts, &self.shared)
            }
        }
    }
}
