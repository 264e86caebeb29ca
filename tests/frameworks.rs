//! The same layer, unchanged, on an axum Router, a bare hyper 1 server and a tonic server,
//! over real sockets.
use vitals_testkit::e2e as common;

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use common::http;
use http_body_util::Full;
use vitals::{
    Backoff, Health, Probe,
    tower::{DetailsPolicy, HealthLayer},
};
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

async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[tokio::test]
async fn axum_router_layer() {
    use axum::{Router, http::header, response::IntoResponse, routing::post};
    let (health, up) = health();
    let app = Router::new()
        .route(
            "/orders",
            post(|body: String| async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::HeaderName::from_static("x-app"), "1"),
                    ],
                    format!("{{\"got\":{}}}", body.len()),
                )
                    .into_response()
            }),
        )
        // An in-process server this test alone reaches: details for every caller.
        .layer(
            HealthLayer::new(health)
                .details(DetailsPolicy::Always)
                .route("/", Probe::All),
        );
    let (listener, addr) = listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let ready = http(addr, "GET", "/readyz", &[]).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (200, r#"{"status":"pass"}"#)
    );
    up.store(false, Ordering::SeqCst);
    assert_eq!(http(addr, "GET", "/", &[]).await.status, 503);
    let text = http(addr, "GET", "/readyz?verbose", &[("accept", "text/plain")]).await;
    assert_eq!(
        text.body,
        "[-]backend failed: backend down\nreadyz check failed\n"
    );

    let order = http(addr, "POST", "/orders", &[("content-length", "0")]).await;
    assert_eq!(order.status, 200);
    assert_eq!(order.header("x-app"), Some("1"));
    assert_eq!(order.header("content-type"), Some("application/json"));
    assert_eq!(order.body, r#"{"got":0}"#);
    assert_eq!(http(addr, "GET", "/missing", &[]).await.status, 404);
}

#[tokio::test]
async fn bare_hyper_service() {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo},
        server::conn::auto,
        service::TowerToHyperService,
    };
    use tower::{Layer, service_fn};

    let (health, up) = health();
    let inner = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
        let body = format!("inner saw {}", req.uri().path());
        Ok::<_, Infallible>(
            http::Response::builder()
                .status(418)
                .header("x-inner", "kept")
                .body(Full::new(Bytes::from(body)))
                .unwrap(),
        )
    });
    let svc = HealthLayer::new(health).layer(inner);
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = TowerToHyperService::new(svc.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });

    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);
    up.store(false, Ordering::SeqCst);
    assert_eq!(http(addr, "HEAD", "/readyz", &[]).await.status, 503);
    let other = http(addr, "GET", "/teapot", &[]).await;
    assert_eq!(
        (other.status, other.body.as_str()),
        (418, "inner saw /teapot")
    );
    assert_eq!(other.header("x-inner"), Some("kept"));
}

#[tokio::test]
async fn tonic_server_layer() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };

    let (health, up) = health();
    // A real gRPC service behind the layer: tonic-health's own reporter.
    let (reporter, grpc_health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("orders", tonic_health::ServingStatus::Serving)
        .await;
    let (listener, addr) = listener().await;
    let incoming = tokio_stream_from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(HealthLayer::new(health))
            .add_service(grpc_health)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });

    // HTTP/1.1 probes are answered by the layer.
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);
    up.store(false, Ordering::SeqCst);
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 503);

    // gRPC calls pass through untouched, trailers and all.
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let reply = client
        .check(HealthCheckRequest {
            service: "orders".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().status, ServingStatus::Serving as i32);
    let unknown = client
        .check(HealthCheckRequest {
            service: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

/// Accepted connections as the stream `serve_with_incoming` takes.
fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    tokio_stream::wrappers::TcpListenerStream::new(listener)
}
