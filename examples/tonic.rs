//! vitals in a tonic gRPC server: `grpc.health.v1` from the registry (for Kubernetes' native
//! gRPC probes) and the HTTP probe layer on the same port, beside a real gRPC service.
//!
//! `cargo run --features tonic --example tonic` (`PORT`, default 5000); probe with
//! `vitals-probe grpc://127.0.0.1:5000` or `curl --http1.1 localhost:5000/readyz`. SIGTERM drains: readiness fails, `Watch` streams
//! say so and end, the server keeps answering for `SHUTDOWN_DELAY_MS` (default 5000), then
//! in-flight calls finish and the process exits. `Check("vitals.example.Echo")` follows
//! readiness (see `vitals_core::Probe::NAMES` and vitals-tonic's docs).

use std::{
    convert::Infallible,
    task::{Context, Poll},
};

use tonic::{
    Request, Response, Status,
    codegen::{Body, BoxFuture, StdError},
    server::{NamedService, UnaryService},
};

use tower::Layer as _;
use vitals::{Health, tonic::GrpcHealth, tower::HealthLayer};
use vitals_env::{EnvConfig, ListenError};

/// The example's own gRPC message, `vitals.example.EchoMessage { string text = 1; }`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoMessage {
    /// The text echoed back.
    #[prost(string, tag = "1")]
    pub text: String,
}

/// `vitals.example.Echo/Say`: a unary gRPC service written against tonic's server API.
#[derive(Clone, Debug, Default)]
pub struct EchoServer;

impl NamedService for EchoServer {
    const NAME: &'static str = "vitals.example.Echo";
}

struct Say;

impl UnaryService<EchoMessage> for Say {
    type Response = EchoMessage;
    type Future = BoxFuture<Response<EchoMessage>, Status>;

    fn call(&mut self, request: Request<EchoMessage>) -> Self::Future {
        let text = format!("echo: {}", request.into_inner().text);
        Box::pin(async move { Ok(Response::new(EchoMessage { text })) })
    }
}

impl<B> tower::Service<http::Request<B>> for EchoServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() == "/vitals.example.Echo/Say" {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(Say, request).await)
            } else {
                Ok(Status::unimplemented("no such method").into_http())
            }
        })
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let health = Health::builder().build();
    // Like vitals-server: after SIGTERM, readiness fails at once and the server keeps
    // answering this long, so load balancers and the kubelet see it before the port closes.
    // `SHUTDOWN_DELAY_MS` and `PORT`, read and validated by vitals-env like every other variable.
    let config = EnvConfig::from_env().unwrap_or_else(|errors| errors.exit());
    let shutdown_delay = config.shutdown_delay;
    // All interfaces, IPv6 and (mapped) IPv4 on one socket where the kernel allows both (Linux
    // does by default): the kubelet probes the pod's IP, whichever family the cluster uses.
    let listener = vitals::serve::listen(None, config.port)
        .unwrap_or_else(|failed| ListenError::new(failed.address, failed.error).exit());

    // tonic's routes as one tower service, the probe layer around them (HTTP/1 probes are
    // answered before any gRPC routing), served by `vitals::serve`: HTTP/2 keep-alive pings and
    // a stream bound per connection, header and idle timeouts, a connection bound that sheds
    // stalled and idle connections first, accept errors backed off.
    let routes = tonic::service::Routes::new(
        GrpcHealth::new(health.clone())
            .named_service::<EchoServer>()
            .into_service(),
    )
    .add_service(EchoServer);
    let app = HealthLayer::new(health.clone()).layer(routes);
    let drain = health.clone();
    vitals::serve::serve(listener, app)
        .limits(config.serve.clone())
        .with_graceful_shutdown(async move {
            wait_for_signal().await;
            drain.drain();
            tracing::info!(
                delay_ms = shutdown_delay.as_millis() as u64,
                "shutting down: readiness fails, Watch streams end; the listener closes after the delay"
            );
            tokio::time::sleep(shutdown_delay).await;
        })
        .await
        .expect("in-flight calls finish");
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install a SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
