//! A status page for people, served from the registry that answers the probes: every check's
//! status, since when, its last error, uptime over 1 h / 24 h / 7 d / 30 d, a latency
//! sparkline and a bar of recent runs, and the timing in force; live updates as Server-Sent
//! Events; SVG badges.
//!
//! Mounted under a base path (default `/status`):
//!
//! | path | answer |
//! |---|---|
//! | `{base}` | the page (`Accept: text/html`), or the same data as JSON |
//! | `{base}/events` | `text/event-stream`: the JSON again each time a status changes (with `?page`, also the page's parts, rendered, which is how the page updates itself); at most [`DEFAULT_MAX_EVENT_STREAMS`] open at once ([`StatusPage::max_event_streams`]), beyond which `503` with `Retry-After` |
//! | `{base}/page.css`, `{base}/page.js` | the page's stylesheet and script |
//! | `{base}/badge.svg` | the overall (readiness) status as an SVG badge |
//! | `{base}/badge/{check}.svg` | one check's status; `?uptime=24h` (`1h`, `7d`, `30d`) its uptime |
//!
//! The page is server-rendered (`page.html`, `page.css` and `page.js` beside this module; one
//! renderer for the page and its live updates) and asks nothing of any other origin: its
//! Content-Security-Policy allows only its own stylesheet and script, no inline code. It reads
//! well without JavaScript.
//! Outputs and errors go only to callers the details policy admits (loopback or the token by
//! default); others see statuses only; with [`DetailsPolicy::Never`] the page and its events
//! answer 404 (badges, being terse, stay).
//!
//! ```
//! use vitals_core::Health;
//! use vitals_tower::StatusPage;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let health = Health::builder().build();
//! let page = StatusPage::new(health).path("/status");
//! // axum: Router::new().route_service("/status", page.clone()).route_service("/status/{*rest}", page)
//! # let _ = page;
//! # }
//! ```
mod badge;
mod body;
mod colour;
mod render;

use std::{
    convert::Infallible,
    future::{Ready, ready},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header, request::Parts};
use tokio::sync::Semaphore;
use tower_service::Service;
use vitals_core::Health;

use crate::{DetailsPolicy, details::Details};

pub use body::StatusBody;

/// Event streams open at once by default: each viewer holds one (measured at about 1 KiB of
/// the server's memory beside its connection's; BENCHMARKS.md), so a thousand fit well inside a
/// 256 MiB pod together with the server's connections.
pub const DEFAULT_MAX_EVENT_STREAMS: usize = 1000;

/// What a refused viewer is asked to wait before trying again.
const EVENTS_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The status page service; see the [module docs](self).
#[derive(Clone, Debug)]
#[must_use]
pub struct StatusPage {
    health: Health,
    shared: Arc<Shared>,
    /// One permit per open event stream.
    streams: Arc<Semaphore>,
}

#[derive(Clone, Debug)]
struct Shared {
    base: String,
    details: Details,
}

impl StatusPage {
    /// The page of `health`, at `/status`, details for loopback callers.
    pub fn new(health: Health) -> Self {
        StatusPage {
            health,
            shared: Arc::new(Shared {
                base: "/status".to_owned(),
                details: Details::default(),
            }),
            streams: Arc::new(Semaphore::new(DEFAULT_MAX_EVENT_STREAMS)),
        }
    }

    /// At most `max` event streams open at once (default [`DEFAULT_MAX_EVENT_STREAMS`]); a
    /// viewer beyond is answered `503 Service Unavailable` with `Retry-After` and a sentence,
    /// and the page itself still loads (without live updates).
    pub fn max_event_streams(mut self, max: usize) -> Self {
        self.streams = Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS)));
        self
    }

    /// Serves under `base` (`/status` by default; no trailing slash).
    pub fn path(mut self, base: impl Into<String>) -> Self {
        let base = base.into();
        Arc::make_mut(&mut self.shared).base = base.trim_end_matches('/').to_owned();
        self
    }

    /// Who sees outputs and errors (as for the probes' `?verbose`).
    pub fn details(mut self, policy: DetailsPolicy) -> Self {
        Arc::make_mut(&mut self.shared).details.policy = policy;
        self
    }

    /// With [`DetailsPolicy::Local`], requests carrying `Authorization: Bearer <token>` also
    /// see outputs.
    pub fn details_token(mut self, token: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).details.token = Some(token.into());
        self
    }

    fn answer(&self, request: &Parts) -> Response<StatusBody> {
        if request.method != Method::GET && request.method != Method::HEAD {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        }
        let path = request.uri.path();
        let Some(rest) = path.strip_prefix(self.shared.base.as_str()) else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let query = request.uri.query().unwrap_or("");
        if let Some(badge) = rest.strip_prefix("/badge") {
            return svg(match badge {
                ".svg" => badge::overall(&self.health),
                _ => match badge.strip_prefix('/').and_then(|b| b.strip_suffix(".svg")) {
                    Some(name) => match badge::check(&self.health, name, query) {
                        Some(svg) => svg,
                        None => return plain(StatusCode::NOT_FOUND, "no such check\n"),
                    },
                    None => return plain(StatusCode::NOT_FOUND, "not found\n"),
                },
            });
        }
        if self.shared.details.policy == DetailsPolicy::Never {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        }
        let trusted = self.shared.details.allowed(request);
        match rest {
            "" | "/" => {
                let html = request
                    .headers
                    .get_all(header::ACCEPT)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| v.contains("text/html"));
                let snapshot = render::Snapshot::take(&self.health, trusted);
                if html {
                    let mut response = full(
                        "text/html; charset=utf-8",
                        render::html(&snapshot, &self.shared.base),
                    );
                    // Nothing on the page may come from, or go to, another origin, and no
                    // inline code runs: its stylesheet and script are the files below.
                    response.headers_mut().insert(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(
                            "default-src 'none'; style-src 'self'; script-src 'self'; \
                             connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                             form-action 'none'; frame-ancestors 'none'",
                        ),
                    );
                    response
                } else {
                    full("application/json", render::json(&snapshot).to_string())
                }
            }
            "/page.css" => full("text/css; charset=utf-8", colour::stylesheet()),
            "/page.js" => full(
                "text/javascript; charset=utf-8",
                include_str!("page.js").to_owned(),
            ),
            "/events" => {
                let Ok(permit) = self.streams.clone().try_acquire_owned() else {
                    return too_many_viewers();
                };
                let page = query
                    .split('&')
                    .any(|pair| pair == "page")
                    .then(|| self.shared.base.clone());
                let body = StatusBody::events(self.health.clone(), trusted, page, permit);
                let mut response = Response::new(body);
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            _ => plain(StatusCode::NOT_FOUND, "not found\n"),
        }
    }
}

fn full(content_type: &'static str, body: String) -> Response<StatusBody> {
    let mut response = Response::new(StatusBody::full(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `503` with `Retry-After`: every event stream the page allows is open.
fn too_many_viewers() -> Response<StatusBody> {
    let mut response = full(
        "text/plain; charset=utf-8",
        "the status page has as many live viewers as it allows; \
         try again later (the page itself loads, without live updates)\n"
            .to_owned(),
    );
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(EVENTS_RETRY_AFTER.as_secs()),
    );
    response
}

fn svg(body: String) -> Response<StatusBody> {
    full("image/svg+xml", body)
}

fn plain(status: StatusCode, text: &'static str) -> Response<StatusBody> {
    let mut response = full("text/plain; charset=utf-8", text.to_owned());
    *response.status_mut() = status;
    response
}

impl<B> Service<Request<B>> for StatusPage {
    type Response = Response<StatusBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<StatusBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, _body) = request.into_parts();
        ready(Ok(self.answer(&parts)))
    }
}
