//! The binary against real HTTP and gRPC health servers, healthy and unhealthy.
use std::{
    net::SocketAddr,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::Layer;
use vitals_core::{Backoff, Health};
use vitals_testkit::Toggle;

fn health() -> (Health, Arc<AtomicBool>) {
    let (check, up) = Toggle::new("backend");
    let health = Health::builder()
        .ttl(Duration::ZERO)
        .backoff(Backoff::none())
        .check(check)
        .build();
    (health, up)
}

async fn http_server(health: Health) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::from("app"),
        )))
    });
    let service = vitals_tower::HealthLayer::new(health).layer(app);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn grpc_server(health: Health) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(vitals_tonic::GrpcHealth::new(health).into_service())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    addr
}

/// Runs the binary off the async runtime and returns its exit code and stderr.
async fn probe(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_vitals-probe"))
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn http_probes_exit_zero_when_serving_and_one_when_not() {
    let (health, up) = health();
    let addr = http_server(health).await;
    let url = format!("http://{addr}/readyz");
    assert_eq!(probe(vec![url.clone()]).await, (0, String::new()));
    up.store(false, Ordering::SeqCst);
    let (code, stderr) = probe(vec![url.clone()]).await;
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
}

#[tokio::test]
async fn grpc_probes_exit_zero_when_serving_and_one_when_not() {
    let (health, up) = health();
    let addr = grpc_server(health).await;
    let url = format!("grpc://{addr}");
    assert_eq!(probe(vec![url.clone()]).await.0, 0);
    assert_eq!(
        probe(vec![url.clone(), "--service".into(), "backend".into()])
            .await
            .0,
        0
    );
    up.store(false, Ordering::SeqCst);
    let (code, stderr) = probe(vec![url.clone(), "--service".into(), "backend".into()]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("NOT_SERVING"), "{stderr}");
    let (code, stderr) = probe(vec![url, "--service".into(), "nope".into()]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("NotFound"), "{stderr}");
}

#[tokio::test]
async fn unreachable_and_silent_endpoints_fail_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = listener.local_addr().unwrap();
    let (code, stderr) = probe(vec![
        format!("http://{silent}/readyz"),
        "--timeout".into(),
        "300ms".into(),
    ])
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no answer within 300ms"), "{stderr}");
    drop(listener);
    let (code, _) = probe(vec![
        format!("grpc://{silent}"),
        "--timeout".into(),
        "2s".into(),
    ])
    .await;
    assert_eq!(code, 1);
    assert_eq!(probe(vec!["--bogus".into()]).await.0, 2);
}
