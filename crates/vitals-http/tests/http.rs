//! HttpCheck against a real HTTP server on loopback and the fault proxy.
use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_http::HttpCheck;
use vitals_testkit::{Fault, FaultProxy};

/// A runner stand-in: `/ok` 200, `/fail` 500, `/auth` 200 only with Basic credentials.
async fn runner() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service =
                hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let status = match req.uri().path() {
                        "/ok" => StatusCode::OK,
                        "/fail" => StatusCode::INTERNAL_SERVER_ERROR,
                        "/auth"
                            if req
                                .headers()
                                .get("authorization")
                                .is_some_and(|v| v == "Basic cnVubmVyOnRvay1YeVo5") =>
                        {
                            StatusCode::OK
                        }
                        "/auth" => StatusCode::UNAUTHORIZED,
                        _ => StatusCode::NOT_FOUND,
                    };
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::from("{}")))
                            .unwrap(),
                    )
                });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn check(url: &str) -> HttpCheck {
    HttpCheck::builder(url).name("runner").build().unwrap()
}

#[tokio::test]
async fn a_200_passes_with_status_and_latency() {
    let addr = runner().await;
    let details = check(&format!("http://{addr}/ok")).check().await.unwrap();
    assert_eq!(details.fields()["status"], "200");
    assert!(details.fields().contains_key("latency_ms"));
}

#[tokio::test]
async fn a_500_fails_and_the_accepted_range_is_configurable() {
    let addr = runner().await;
    let err = check(&format!("http://{addr}/fail"))
        .check()
        .await
        .unwrap_err();
    assert!(err.message().contains("500"), "{}", err.message());
    let lenient = HttpCheck::builder(format!("http://{addr}/fail"))
        .expect_status(200..=599)
        .build()
        .unwrap();
    lenient.check().await.unwrap();
}

#[tokio::test]
async fn refused_fails() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = check(&format!("http://{addr}/ok"))
        .check()
        .await
        .unwrap_err();
    assert!(
        err.message().contains("connection refused"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_blackhole_fails_at_the_registry_timeout() {
    let addr = runner().await;
    let proxy = FaultProxy::start(addr).await;
    proxy.set(Fault::Blackhole);
    let health = Health::builder()
        .register_with(
            check(&format!("http://{}/ok", proxy.addr())),
            CheckOptions::new()
                .run_budget(Duration::from_millis(500))
                .backoff(Backoff::none()),
        )
        .build();
    let started = std::time::Instant::now();
    let report = health.run(Probe::Readiness).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(report.checks[0].status, CheckStatus::Fail);
    assert!(
        report.checks[0]
            .output
            .as_deref()
            .unwrap()
            .contains("timed out")
    );
}

#[tokio::test]
async fn url_credentials_are_sent_as_basic_auth_and_never_shown() {
    let addr = runner().await;
    let good = check(&format!("http://runner:tok-XyZ9@{addr}/auth"));
    good.check().await.unwrap();
    let bad = HttpCheck::builder(format!(
        "http://runner:wrong-tok-77@{addr}/auth?token=qs-secret-55"
    ))
    .name("runner")
    .build()
    .unwrap();
    let health = Health::builder()
        .register_with(bad, CheckOptions::new().backoff(Backoff::none()))
        .build();
    let report = health.run(Probe::All).await;
    assert_eq!(report.checks[0].status, CheckStatus::Fail);
    for out in [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
    ] {
        assert!(out.contains("401"), "{out}");
        for secret in ["wrong-tok-77", "qs-secret-55", "cnVubmVyOndyb25nLXRvay03Nw"] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
    }
}

#[test]
fn a_bad_url_is_refused_without_echoing_the_password() {
    let err = HttpCheck::builder("ftp://u:pw-1234@x").build().unwrap_err();
    assert!(err.to_string().contains("unsupported scheme"), "{err}");
    assert!(!err.to_string().contains("pw-1234"), "{err}");
    let ok = HttpCheck::builder("http://runner:8080/health")
        .name("custom_code")
        .component("custom_code")
        .build()
        .unwrap();
    assert_eq!((ok.name(), ok.component()), ("custom_code", "custom_code"));
}

/// A raw HTTP/1.1 peer that answers `200` with a declared 100 MB body, then sends `body_bytes`
/// of it and holds the connection open without finishing.
async fn endless_body(body_bytes: usize) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&vec![b'x'; body_bytes]).await;
                std::future::pending::<()>().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_body_is_read_within_the_timeout_and_the_size_cap_and_the_status_decides() {
    for body_bytes in [10, 1 << 20] {
        let addr = endless_body(body_bytes).await;
        let check = HttpCheck::builder(format!("http://{addr}/health"))
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        assert_eq!(check.attempt_timeout(), Some(Duration::from_millis(500)));
        let started = tokio::time::Instant::now();
        let details = check.check().await.unwrap();
        let took = started.elapsed();
        assert_eq!(details.fields()["status"], "200");
        if body_bytes > vitals_http::MAX_BODY_BYTES {
            // Cut at the size cap, long before the timeout.
            assert!(took < Duration::from_millis(500), "{body_bytes}: {took:?}");
        } else {
            // A body that never finishes is cut at the timeout.
            assert!(took >= Duration::from_millis(500), "{body_bytes}: {took:?}");
            assert!(took < Duration::from_secs(2), "{body_bytes}: {took:?}");
        }
    }
}
