//! vitals in an axum application: one `.layer(..)` on the Router.
//!
//! `cargo run --example axum`, then `curl -s 'localhost:5000/readyz?verbose'`.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use axum::{
    Router,
    extract::{ConnectInfo, Request},
    middleware::map_request,
    routing::get,
};
use vitals::{
    Check, CheckError, CheckOptions, Details, Health, async_trait,
    tower::{ClientAddr, HealthLayer},
};
use vitals_env::{EnvConfig, ListenError};

/// A check of the application's own: the scratch directory must be writable.
struct ScratchDir;

#[async_trait]
impl Check for ScratchDir {
    fn name(&self) -> &str {
        "scratch"
    }

    async fn check(&self) -> Result<Details, CheckError> {
        let dir = std::env::temp_dir();
        let probe = dir.join(format!("vitals-{}", std::process::id()));
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(Details::new().with("dir", dir.display()))
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let health = Health::builder()
        .register_with(
            ScratchDir,
            CheckOptions::new().run_budget(Duration::from_secs(2)),
        )
        .build();

    // `?verbose` details go to loopback callers only (the layer's default policy): the
    // outer `map_request` tells the layer who is calling, from axum's `ConnectInfo`.
    let app = Router::new()
        .route("/", get(|| async { "hello from axum\n" }))
        // axum's body can hold bytes: probes are answered in it (the response type stays axum's).
        .layer(HealthLayer::new(health).same_body())
        .layer(map_request(|mut request: Request| async move {
            if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
                let peer = *peer;
                request.extensions_mut().insert(ClientAddr(peer));
            }
            request
        }));

    // `PORT` (default 5000), read and validated by vitals-env as the server reads it; a port
    // that cannot be listened on is said in words, as the server says it.
    let config = EnvConfig::from_env().unwrap_or_else(|errors| errors.exit());
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .unwrap_or_else(|err| ListenError::new(address, err).exit());
    tracing::info!("listening on {}", listener.local_addr().unwrap());
    // TCP_NODELAY: small probe answers are not held back by Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await.expect("serve");
}
