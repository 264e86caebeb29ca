//! vitals in an axum application: one `.layer(..)` on the Router.
//!
//! `cargo run --example axum`, then `curl -s 'localhost:5000/readyz?verbose'`.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use axum::{Router, routing::get};
use vitals::{Check, CheckError, CheckOptions, Details, Health, async_trait, tower::HealthLayer};
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

    // `?verbose` details go to loopback callers only (the layer's default policy):
    // `vitals::serve` gives each request the client's address (`ClientAddr`; handlers read it
    // with `Extension<ClientAddr>`).
    let app = Router::new()
        .route("/", get(|| async { "hello from axum\n" }))
        // axum's body can hold bytes: probes are answered in it (the response type stays axum's).
        .layer(HealthLayer::new(health).same_body());

    // `PORT` (default 5000), read and validated by vitals-env as the server reads it; a port
    // that cannot be listened on is said in words, as the server says it.
    let config = EnvConfig::from_env().unwrap_or_else(|errors| errors.exit());
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .unwrap_or_else(|err| ListenError::new(address, err).exit());
    // `vitals::serve` instead of `axum::serve`: the same accept loop, plus header, idle and send
    // timeouts, HTTP/2 bounds, a connection bound that sheds stalled and idle connections
    // first, and accept errors backed off (axum's serve has no timeouts), so no client can make
    // a probe from a new connection wait.
    vitals::serve::serve(listener, app)
        .limits(config.serve.clone())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("in-flight requests finish");
}
