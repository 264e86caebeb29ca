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
        .register(check)
        .build();
    (health, up)
}

async fn http_server(health: Health) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The application: redirects and failures for the kubelet-semantics tests.
    let app = tower::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
        let (status, location) = match req.uri().path() {
            "/moved" => (302, Some("/readyz")),
            "/moved-to-failure" => (301, Some("fail")),
            "/elsewhere" => (307, Some("http://elsewhere.invalid/readyz")),
            "/loop" => (302, Some("/loop")),
            "/not-modified" => (304, None),
            "/fail" => (500, None),
            _ => (200, None),
        };
        let mut response =
            http::Response::new(http_body_util::Full::new(bytes::Bytes::from("app")));
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        if let Some(location) = location {
            response
                .headers_mut()
                .insert("location", http::HeaderValue::from_static(location));
        }
        Ok::<_, std::convert::Infallible>(response)
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

/// As the kubelet: 200–399 is success; redirects to the same host are followed (the final
/// answer decides, at most 10), a redirect to another host is success without being followed.
#[tokio::test]
async fn http_answers_are_judged_as_the_kubelet_judges_them() {
    let (health, _up) = health();
    let addr = http_server(health).await;
    let url = |path: &str| format!("http://{addr}{path}");
    assert_eq!(probe(vec![url("/moved")]).await, (0, String::new()));
    assert_eq!(probe(vec![url("/not-modified")]).await.0, 0);
    // Another host: success, and no request leaves loopback (`.invalid` never resolves).
    assert_eq!(probe(vec![url("/elsewhere")]).await.0, 0);
    let (code, stderr) = probe(vec![url("/moved-to-failure")]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("500"), "{stderr}");
    let (code, stderr) = probe(vec![url("/loop")]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("stopped after 10 redirects"), "{stderr}");
}

/// `https://` skips certificate verification, as the kubelet's `scheme: HTTPS` does: a
/// self-signed server is probed.
#[tokio::test]
async fn https_probes_do_not_verify_the_certificate() {
    let (health, up) = health();
    let plain = http_server(health).await;
    let tls = vitals_testkit::TlsTerminator::start(plain);
    let url = format!("https://{}/readyz", tls.addr());
    assert_eq!(probe(vec![url.clone()]).await, (0, String::new()));
    up.store(false, Ordering::SeqCst);
    let (code, stderr) = probe(vec![url]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("503"), "{stderr}");
}

/// `--help` is an answer, not an error: stdout, exit 0. Bad usage stays exit 2 on stderr.
#[tokio::test]
async fn help_goes_to_stdout_and_exits_zero() {
    let out = tokio::task::spawn_blocking(|| {
        Command::new(env!("CARGO_BIN_EXE_vitals-probe"))
            .arg("--help")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("usage: vitals-probe"), "{stdout}");
    assert!(stdout.contains("200 to 399"), "{stdout}");
    assert!(out.stderr.is_empty());
    let (code, stderr) = probe(vec!["ftp://x".into()]).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("expected http://, https:// or grpc://"),
        "{stderr}"
    );
}
