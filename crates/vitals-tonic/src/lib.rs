//! `grpc.health.v1` answered from a [`vitals_core::Health`] registry.
//!
//! Every name has one meaning, the same in `Check`, `Watch` and `List`:
//!
//! | service | status of |
//! |---|---|
//! | `""` | the server as a whole: readiness |
//! | a service the server hosts ([`GrpcHealth::service`], [`GrpcHealth::named_service`]) | readiness: it can take traffic when the server can |
//! | `grpc.health.v1.Health` | liveness: the health service itself answers while the process lives |
//! | `readyz`/`readiness`, `livez`/`liveness`, `startupz`/`startup`, `healthz` | that probe (`healthz`: every check) |
//! | a check's name | that check alone |
//! | anything else | `NOT_FOUND` on `Check`, `SERVICE_UNKNOWN` on `Watch`; not in `List` |
//!
//! `pass` and `warn` are `SERVING`, `fail` is `NOT_SERVING`. A check skipped by configuration is
//! `SERVING`: it is known and, by the operator's choice, counts against nothing (as over HTTP).
//! Probe names win over hosted services, which win over check names.
//!
//! `Check` and `List` are idempotent and side-effect free: they wait for runs at most the
//! caller's deadline and the registry's answer bound, never change a run, and never latch the
//! startup probe (the registry latches it when a run leaves every startup check serving).
//! `List` reports every name at once, its probes concurrently. `Watch` is pushed by the
//! registry's own notifications (a run finished, the server drains): no task or timer per
//! watcher. On [`Health::drain`] a watcher is sent the draining status (readiness turns
//! `NOT_SERVING`) and its stream ends, so a graceful shutdown is not held open. In on-demand
//! mode results change only when probes run checks; use background mode for live watchers.
//! At most [`DEFAULT_MAX_WATCH_STREAMS`] `Watch` streams are open at once
//! ([`GrpcHealth::max_watch_streams`]); one more is refused with `RESOURCE_EXHAUSTED` and a
//! message, and `Check` keeps answering.
//!
//! ```no_run
//! use vitals_core::Health;
//! use vitals_tonic::GrpcHealth;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let health = Health::builder().build();
//! tonic::transport::Server::builder()
//!     .add_service(
//!         GrpcHealth::new(health.clone())
//!             .service("my.package.Orders")
//!             .into_service(),
//!     )
//!     .serve_with_shutdown("0.0.0.0:50051".parse()?, async move {
//!         let _ = tokio::signal::ctrl_c().await;
//!         health.drain(); // Watch streams say NOT_SERVING and end, so the shutdown completes
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

use std::{
    collections::HashMap,
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::{Stream, wrappers::WatchStream};
use tonic::{
    Request, Response, Status,
    codegen::{Body, BoxFuture, StdError},
    server::NamedService,
};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse,
    health_check_response::ServingStatus,
    health_server::{Health as HealthRpc, HealthServer},
};
use vitals_core::{CheckStatus, Demand, Health, Probe, Report, ReportOptions};

/// `grpc.health.v1.Health/List`'s request (not in tonic-health's generated types).
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct HealthListRequest {}

/// `grpc.health.v1.Health/List`'s response: every known service and its status.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthListResponse {
    /// Status per service name.
    #[prost(map = "string, message", tag = "1")]
    pub statuses: HashMap<String, HealthCheckResponse>,
}

/// The health service's own name, as `grpc.health.v1` clients ask for it.
pub const HEALTH_SERVICE_NAME: &str = "grpc.health.v1.Health";

/// The names every server answers for besides the probes' and the checks': `""` follows
/// readiness, the health service itself liveness.
const DEFAULT_SERVICES: [(&str, Probe); 2] = [
    ("", Probe::Readiness),
    (HEALTH_SERVICE_NAME, Probe::Liveness),
];

/// The probe a service name follows on a server that hosts no services of its own (as
/// `vitals-server`): `""`, `grpc.health.v1.Health`, or a probe's name or alias. `None` for any
/// other name: a check's name (that check alone), or an unknown one.
///
/// ```
/// use vitals_core::Probe;
/// assert_eq!(vitals_tonic::service_probe(""), Some(Probe::Readiness));
/// assert_eq!(vitals_tonic::service_probe("livez"), Some(Probe::Liveness));
/// assert_eq!(vitals_tonic::service_probe("grpc.health.v1.Health"), Some(Probe::Liveness));
/// assert_eq!(vitals_tonic::service_probe("mongo"), None);
/// ```
pub fn service_probe(service: &str) -> Option<Probe> {
    Probe::from_name(service).or_else(|| {
        DEFAULT_SERVICES
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, probe)| *probe)
    })
}

/// `Watch` streams open at once by default: a watcher holds a registry subscription and its last
/// status beside its HTTP/2 stream (not measured on its own; an event-stream viewer, the same
/// kind of state, costs about 1 KiB: BENCHMARKS.md), so a thousand fit well inside a 256 MiB pod.
pub const DEFAULT_MAX_WATCH_STREAMS: usize = 1000;

/// The gRPC health service of a registry.
#[derive(Clone, Debug)]
pub struct GrpcHealth {
    health: Health,
    /// Hosted services and the probe each follows, `""` and the health service included.
    services: Vec<(String, Probe)>,
    /// One permit per open `Watch` stream.
    watchers: Arc<Semaphore>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Probe(Probe),
    Check(String),
}

impl GrpcHealth {
    /// Serves `health`: `""` follows readiness, `grpc.health.v1.Health` liveness.
    #[must_use]
    pub fn new(health: Health) -> Self {
        GrpcHealth {
            health,
            services: DEFAULT_SERVICES
                .iter()
                .map(|(name, probe)| ((*name).to_owned(), *probe))
                .collect(),
            watchers: Arc::new(Semaphore::new(DEFAULT_MAX_WATCH_STREAMS)),
        }
    }

    /// At most `max` `Watch` streams open at once (default [`DEFAULT_MAX_WATCH_STREAMS`]);
    /// one more is refused with `RESOURCE_EXHAUSTED` and a message saying so.
    #[must_use]
    pub fn max_watch_streams(mut self, max: usize) -> Self {
        self.watchers = Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS)));
        self
    }

    /// Also answers for a service this server hosts (`my.package.Orders`): its status is
    /// readiness, so a client asking after it learns whether the server takes traffic.
    #[must_use]
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.services.push((name.into(), Probe::Readiness));
        self
    }

    /// Like [`GrpcHealth::service`], named by a tonic service type.
    #[must_use]
    pub fn named_service<S: NamedService>(self) -> Self {
        self.service(S::NAME)
    }

    /// The tower service to add to a tonic server: `Check`, `Watch` and `List`.
    #[must_use]
    pub fn into_service(self) -> GrpcHealthServer {
        let shared = Arc::new(self);
        GrpcHealthServer {
            inner: HealthServer::from_arc(shared.clone()),
            shared,
        }
    }

    /// The probe a service name follows: a probe's name or alias, or a hosted service.
    fn probe_named(&self, service: &str) -> Option<Probe> {
        Probe::from_name(service).or_else(|| {
            self.services
                .iter()
                .find(|(name, _)| name == service)
                .map(|(_, probe)| *probe)
        })
    }

    fn resolve(&self, service: &str) -> Option<Target> {
        if let Some(probe) = self.probe_named(service) {
            return Some(Target::Probe(probe));
        }
        self.health
            .has_check(service)
            .then(|| Target::Check(service.to_owned()))
    }

    /// The status of `service` when no check needs a run for it (fresh, background, skipped,
    /// or a fixed probe status), without a report: `None` when a run is needed or the name is
    /// unknown. Names mean what they mean to [`GrpcHealth::resolve`]; nothing is allocated.
    fn cached(&self, service: &str) -> Option<ServingStatus> {
        match self.probe_named(service) {
            Some(probe) => Some(serving(self.health.cached_status(probe)?.is_serving())),
            None => Some(check_status_serving(
                self.health.cached_check_status(service)?,
            )),
        }
    }

    /// The status of `target` for one `Check`: runs what is stale, waits at most the
    /// caller's deadline and the registry's answer bound.
    async fn status(&self, target: &Target, deadline: Option<Duration>) -> ServingStatus {
        let mut options = ReportOptions::new();
        if let Some(deadline) = deadline {
            options = options.wait_at_most(deadline);
        }
        match target {
            Target::Probe(probe) => probe_serving(&self.health.report(*probe, &options).await),
            Target::Check(name) => check_serving(
                &self
                    .health
                    .report(Probe::All, &options.only(name.clone()))
                    .await,
                name,
            ),
        }
    }

    /// The status of `target` from the latest results, for a watcher: runs nothing.
    fn latest(&self, target: &Target) -> ServingStatus {
        match target {
            Target::Probe(probe) => serving(self.health.latest_status(*probe).is_serving()),
            Target::Check(name) => self
                .health
                .latest_check_status(name)
                .map_or(ServingStatus::ServiceUnknown, check_status_serving),
        }
    }

    /// Every name and its status; the probes are reported concurrently, each bounded like a
    /// `Check`.
    async fn list(&self, deadline: Option<Duration>) -> HealthListResponse {
        let mut options = ReportOptions::new();
        if let Some(deadline) = deadline {
            options = options.wait_at_most(deadline);
        }
        let report = |probe| self.health.report(probe, &options);
        let (all, live, ready, startup) = tokio::join!(
            report(Probe::All),
            report(Probe::Liveness),
            report(Probe::Readiness),
            report(Probe::Startup)
        );
        let probe_status = |probe| {
            probe_serving(match probe {
                Probe::All => &all,
                Probe::Liveness => &live,
                Probe::Readiness => &ready,
                Probe::Startup => &startup,
            })
        };
        let mut statuses: HashMap<String, HealthCheckResponse> = all
            .checks
            .iter()
            .map(|c| (c.name.clone(), response(check_serving(&all, &c.name))))
            .collect();
        for (name, probe) in &self.services {
            statuses.insert(name.clone(), response(probe_status(*probe)));
        }
        for (name, probe) in Probe::NAMES {
            statuses.insert(name.to_owned(), response(probe_status(probe)));
        }
        HealthListResponse { statuses }
    }
}

fn serving(ok: bool) -> ServingStatus {
    if ok {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

fn probe_serving(report: &Report) -> ServingStatus {
    serving(report.status.is_serving())
}

/// One check's gRPC status in a report (unknown when the report has no such check).
fn check_serving(report: &Report, name: &str) -> ServingStatus {
    report
        .check(name)
        .map_or(ServingStatus::ServiceUnknown, |c| {
            check_status_serving(c.status)
        })
}

/// One check's gRPC status: skipped by configuration counts against nothing, so it serves.
fn check_status_serving(status: CheckStatus) -> ServingStatus {
    match status {
        CheckStatus::Fail => ServingStatus::NotServing,
        // Pass, warn, skipped (and any status added later that does not fail).
        _ => ServingStatus::Serving,
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

/// The caller's `grpc-timeout`, less a margin so checks report a timeout before the caller
/// gives up.
fn caller_budget<T>(request: &Request<T>) -> Option<Duration> {
    let raw = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    let value: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(value.saturating_mul(3600)),
        "M" => Duration::from_secs(value.saturating_mul(60)),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    };
    let margin = (timeout / 10).min(Duration::from_millis(200));
    Some(timeout.saturating_sub(margin).max(Duration::from_millis(1)))
}

type WatchResponses = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl HealthRpc for GrpcHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = &request.get_ref().service;
        // The fast path, as a terse HTTP probe's: a status the registry can give without a
        // run is answered without building a report or allocating.
        if let Some(status) = self.cached(service) {
            return Ok(Response::new(response(status)));
        }
        let budget = caller_budget(&request);
        let Some(target) = self.resolve(service) else {
            return Err(Status::not_found(format!("unknown service {service:?}")));
        };
        Ok(Response::new(response(self.status(&target, budget).await)))
    }

    type WatchStream = WatchResponses;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let Ok(permit) = self.watchers.clone().try_acquire_owned() else {
            return Err(Status::resource_exhausted(
                "this server has as many Watch streams open as it allows; \
                 try again later, or poll with Check",
            ));
        };
        let service = request.into_inner().service;
        Ok(Response::new(Box::pin(Watcher {
            _permit: permit,
            target: self.resolve(&service),
            // An open Watch is demand: on demand, its checks keep running while it is open
            // (gRFC A17 clients learn of failures only through Watch).
            _demand: self.health.demand(),
            this: self.clone(),
            changes: WatchStream::new(self.health.subscribe()),
            last: None,
            ended: false,
        })))
    }
}

/// One `Watch` stream: woken by the registry's report channel (every finished run, the drain),
/// it sends the target's status when it changed, and ends after the drain's status.
struct Watcher {
    /// The stream's place in the budget, given back when it ends.
    _permit: OwnedSemaphorePermit,
    target: Option<Target>,
    _demand: Demand,
    this: GrpcHealth,
    changes: WatchStream<Arc<Report>>,
    last: Option<ServingStatus>,
    ended: bool,
}

impl Stream for Watcher {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        while !this.ended {
            // The first poll yields the current report at once, then one item per change.
            match Pin::new(&mut this.changes).poll_next(cx) {
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
            let status = match &this.target {
                Some(target) => this.this.latest(target),
                None => ServingStatus::ServiceUnknown,
            };
            this.ended = this.this.health.is_draining();
            if this.last != Some(status) {
                this.last = Some(status);
                return Poll::Ready(Some(Ok(response(status))));
            }
        }
        Poll::Ready(None)
    }
}

/// The tower service of [`GrpcHealth::into_service`]: tonic-health's generated server plus
/// `List`.
#[derive(Clone, Debug)]
pub struct GrpcHealthServer {
    inner: HealthServer<GrpcHealth>,
    shared: Arc<GrpcHealth>,
}

impl NamedService for GrpcHealthServer {
    const NAME: &'static str = "grpc.health.v1.Health";
}

struct ListMethod(Arc<GrpcHealth>);

impl tonic::server::UnaryService<HealthListRequest> for ListMethod {
    type Response = HealthListResponse;
    type Future = BoxFuture<Response<HealthListResponse>, Status>;

    fn call(&mut self, request: Request<HealthListRequest>) -> Self::Future {
        let health = self.0.clone();
        let budget = caller_budget(&request);
        // Dropped with the call when the caller goes away: no work outlives it but the
        // shared runs it joined.
        Box::pin(async move { Ok(Response::new(health.list(budget).await)) })
    }
}

impl<B> tower_service::Service<http::Request<B>> for GrpcHealthServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::<http::Request<B>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() == "/grpc.health.v1.Health/List" {
            let method = ListMethod(self.shared.clone());
            return Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(method, request).await)
            });
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_leave_a_margin() {
        let request = |value: &str| {
            let mut r = Request::new(());
            r.metadata_mut()
                .insert("grpc-timeout", value.parse().unwrap());
            r
        };
        assert_eq!(
            caller_budget(&request("1S")),
            Some(Duration::from_millis(900))
        );
        assert_eq!(
            caller_budget(&request("10S")),
            Some(Duration::from_millis(9_800))
        );
        assert_eq!(
            caller_budget(&request("500m")),
            Some(Duration::from_millis(450))
        );
        assert_eq!(caller_budget(&request("bad")), None);
        assert_eq!(caller_budget(&Request::new(())), None);
    }
}
