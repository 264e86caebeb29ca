//! vitals on a bare hyper 1 server: the layer wraps a `service_fn`, hyper-util serves it.
//!
//! `cargo run --example hyper`, then `curl -i localhost:5000/livez`.

use std::{
    convert::Infallible,
    net::{Ipv4Addr, SocketAddr},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
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
    tracing::info!("listening on {}", listener.local_addr().unwrap());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                continue;
            }
        };
        // TCP_NODELAY: small probe answers are not held back by Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(err) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {err}");
            }
        });
    }
}
