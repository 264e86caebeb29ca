//! vitals on a bare hyper 1 server: the layer wraps a `service_fn`, `vitals::serve` (hyper-util
//! with every connection phase bounded) serves it.
//!
//! `cargo run --example hyper`, then `curl -i localhost:5000/livez`.

use std::{
    convert::Infallible,
    net::{Ipv4Addr, SocketAddr},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::{Layer, service_fn};
use vitals::{Health, tower::HealthLayer};
use vitals_env::{EnvConfig, ListenError};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let health = Health::builder().build();
    let app = service_fn(|req: Request<hyper::body::Incoming>| async move {
        let body = format!("hello from hyper: {}\n", req.uri().path());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    });
    // The app's body can hold bytes (`Full<Bytes>`): probes are answered in it, and the
    // layered service's response type is the app's own.
    let service = HealthLayer::new(health).same_body().layer(app);

    // `PORT` (default 5000), read and validated by vitals-env as the server reads it; a port
    // that cannot be listened on is said in words, as the server says it.
    let config = EnvConfig::from_env().unwrap_or_else(|errors| errors.exit());
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .unwrap_or_else(|err| ListenError::new(address, err).exit());
    // Instead of a hand-written accept loop: header, idle and send timeouts, HTTP/2 bounds, a
    // connection bound that sheds stalled and idle connections first, and accept errors
    // backed off, so no client can make a probe from a new connection wait. The bounds are
    // the `HEALTH_*` variables vitals-env reads (defaults sized for the kubelet and Prometheus).
    vitals::serve::serve(listener, service)
        .limits(config.serve.clone())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("in-flight requests finish");
}
