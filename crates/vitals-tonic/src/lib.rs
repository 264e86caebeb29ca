//! `grpc.health.v1` answered from a [`vitals_core::Health`] registry.
//!
//! | service | answers |
//! |---|---|
//! | `""` | readiness overall |
//! | `livez`, `readyz`, `startupz`, `healthz` | that probe |
//! | a check's name | that check alone |
//! | anything else | `NOT_FOUND` on `Check`, `SERVICE_UNKNOWN` on `Watch` |
//!
//! `pass` and `warn` are `SERVING`, `fail` is `NOT_SERVING`, a check skipped by
//! `SKIP_HEALTH_CHECKS` is `UNKNOWN`. Probe names win over check names.
//!
//! ```no_run
//! use vitals_core::Health;
//! use vitals_tonic::GrpcHealth;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let health = Health::builder().build();
//! tonic::transport::Server::builder()
//!     .add_service(GrpcHealth::new(health.clone()).into_service())
//!     .serve_with_shutdown("0.0.0.0:50051".parse()?, async move {
//!         let _ = tokio::signal::ctrl_c().await;
//!         health.drain(); // Watch streams end, so the shutdown completes
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

use tokio_stream::{Stream, wrappers::ReceiverStream};
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
use vitals_core::{CheckStatus, Health, Probe, RunOptions};

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

/// The gRPC health service of a registry.
#[derive(Clone, Debug)]
pub struct GrpcHealth {
    health: Health,
    watch_interval: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Probe(Probe),
    Check(String),
}

impl GrpcHealth {
    /// Serves `health`.
    #[must_use]
    pub fn new(health: Health) -> Self {
        GrpcHealth {
            health,
            watch_interval: Duration::from_secs(1),
        }
    }

    /// How often an open `Watch` re-evaluates on-demand checks (default 1 s; results still
    /// come from the cache while fresh). Background results are pushed as they arrive.
    #[must_use]
    pub fn watch_interval(mut self, interval: Duration) -> Self {
        self.watch_interval = interval;
        self
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

    fn resolve(&self, service: &str) -> Option<Target> {
        let probe = match service {
            "" | "readyz" | "readiness" => Some(Probe::Readiness),
            "livez" | "liveness" => Some(Probe::Liveness),
            "startupz" | "startup" => Some(Probe::Startup),
            "healthz" => Some(Probe::All),
            _ => None,
        };
        match probe {
            Some(probe) => Some(Target::Probe(probe)),
            None if self.health.has_check(service) => Some(Target::Check(service.to_owned())),
            None => None,
        }
    }

    async fn status(&self, target: &Target, deadline: Option<Duration>) -> ServingStatus {
        let mut options = RunOptions::new();
        if let Some(deadline) = deadline {
            options = options.timeout(deadline);
        }
        match target {
            Target::Probe(probe) => serving(
                self.health
                    .report(*probe, &options)
                    .await
                    .status
                    .is_serving(),
            ),
            Target::Check(name) => {
                let report = self
                    .health
                    .report(Probe::All, &options.only(name.clone()))
                    .await;
                report
                    .checks
                    .first()
                    .map_or(ServingStatus::Unknown, |c| check_serving(c.status))
            }
        }
    }
}

fn serving(ok: bool) -> ServingStatus {
    if ok {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

/// One check's gRPC status: a skipped check is neither serving nor failing.
fn check_serving(status: CheckStatus) -> ServingStatus {
    match status {
        CheckStatus::Pass | CheckStatus::Warn => ServingStatus::Serving,
        CheckStatus::Fail => ServingStatus::NotServing,
        CheckStatus::Skipped => ServingStatus::Unknown,
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

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl HealthRpc for GrpcHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let budget = caller_budget(&request);
        let service = &request.get_ref().service;
        let Some(target) = self.resolve(service) else {
            return Err(Status::not_found(format!("unknown service {service:?}")));
        };
        Ok(Response::new(response(self.status(&target, budget).await)))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let service = request.into_inner().service;
        let this = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut reports = this.health.subscribe();
            let mut last = None;
            loop {
                let draining = this.health.is_draining();
                let status = match this.resolve(&service) {
                    Some(target) => this.status(&target, None).await,
                    None => ServingStatus::ServiceUnknown,
                };
                if last != Some(status) {
                    if tx.send(Ok(response(status))).await.is_err() {
                        return;
                    }
                    last = Some(status);
                }
                if draining {
                    // The server is shutting down: end the stream so shutdown can finish.
                    return;
                }
                tokio::select! {
                    _ = reports.changed() => {}
                    () = tokio::time::sleep(this.watch_interval) => {}
                    () = this.health.drained() => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

impl GrpcHealth {
    async fn list(&self) -> HealthListResponse {
        let mut statuses = HashMap::new();
        let all = self.health.check(Probe::All).await;
        for check in &all.checks {
            statuses.insert(check.name.clone(), response(check_serving(check.status)));
        }
        for (name, probe) in [
            ("livez", Probe::Liveness),
            ("readyz", Probe::Readiness),
            ("startupz", Probe::Startup),
            ("healthz", Probe::All),
        ] {
            let status = serving(self.health.check(probe).await.status.is_serving());
            statuses.insert(name.to_owned(), response(status));
        }
        let overall = statuses["readyz"];
        statuses.insert(String::new(), overall);
        HealthListResponse { statuses }
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

    fn call(&mut self, _request: Request<HealthListRequest>) -> Self::Future {
        let health = self.0.clone();
        Box::pin(async move { Ok(Response::new(health.list().await)) })
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
