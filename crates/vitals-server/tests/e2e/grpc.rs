//! grpc.health.v1 through the server process: its real checks, the caller's deadline while a
//! backend is blackholed, and the official Python client.
use crate::common;

use std::time::Duration;

use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use vitals_testkit::grpc::{client, list, status, status_within, watch};
use vitals_tonic::{HealthListRequest, HealthListResponse};

/// The main job speaks grpc.health.v1 on its one port, from the same registry as HTTP, with
/// one meaning per name in Check, Watch and List, and drains like HTTP.
#[tokio::test]
async fn the_server_serves_grpc_health_from_its_real_checks() {
    let mut mongo = vitals_testkit::MongoServer::start();
    let proxy = vitals_testkit::FaultProxy::start(mongo.addr()).await;
    let uri = format!("mongodb://{}/?directConnection=true", proxy.addr());
    let (mut child, addr, mut log) = common::start_server(&[
        ("MONGO_URI", &uri),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "500"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
        ("REDIS_URI", "redis://127.0.0.1:1"),
        ("SKIP_HEALTH_CHECKS", "redis"),
        ("SHUTDOWN_DELAY_MS", "1000"),
    ])
    .await;
    let mut client = client(addr).await;
    let started = std::time::Instant::now();
    while status(&mut client, "").await.unwrap() != ServingStatus::Serving {
        assert!(started.elapsed() < Duration::from_secs(20), "never serving");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names = [
        "",
        "readyz",
        "readiness",
        "livez",
        "liveness",
        "startupz",
        "startup",
        "healthz",
        "grpc.health.v1.Health",
        "mongo",
        // Skipped by SKIP_HEALTH_CHECKS: known, counts against nothing.
        "redis",
    ];
    for name in names {
        assert_eq!(
            status(&mut client, name).await.unwrap(),
            ServingStatus::Serving,
            "{name:?}"
        );
    }
    let unknown = status(&mut client, "vitals.example.Echo")
        .await
        .unwrap_err();
    assert_eq!(
        unknown.code(),
        tonic::Code::NotFound,
        "the server hosts no Echo"
    );
    let list = list(addr).await;
    for name in names {
        assert_eq!(
            list.statuses.get(name).map(|s| s.status),
            Some(ServingStatus::Serving as i32),
            "{name:?} in {list:?}"
        );
    }
    assert_eq!(list.statuses.len(), names.len(), "{list:?}");

    // Watch is pushed as MongoDB goes down and comes back (at the proxy's stable address).
    let mut watch = watch(&mut client, "").await;
    assert_eq!(watch.next_status().await, Some(ServingStatus::Serving));
    mongo.stop();
    assert_eq!(watch.next_status().await, Some(ServingStatus::NotServing));
    assert_eq!(
        status(&mut client, "mongo").await.unwrap(),
        ServingStatus::NotServing
    );
    let again = vitals_testkit::MongoServer::start();
    proxy.set_upstream(again.addr());
    assert_eq!(watch.next_status().await, Some(ServingStatus::Serving));

    // SIGTERM: the watcher is told NOT_SERVING and its stream ends; Check keeps answering
    // during the shutdown delay (readiness failing, liveness not); then the process exits.
    common::sigterm(&child);
    common::wait_for_log(&mut log, "readiness fails now").await;
    assert_eq!(watch.next_status().await, Some(ServingStatus::NotServing));
    assert_eq!(watch.next_status().await, None, "the stream ends on drain");
    assert_eq!(
        status(&mut client, "readyz").await.unwrap(),
        ServingStatus::NotServing
    );
    assert_eq!(
        status(&mut client, "livez").await.unwrap(),
        ServingStatus::Serving
    );
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    drop(mongo);
}

/// `List` with a short deadline answers within it (from the latest results) instead of
/// running every probe one after another past the caller's deadline.
#[tokio::test]
async fn list_answers_within_the_callers_deadline_while_a_backend_is_blackholed() {
    let mongo = vitals_testkit::MongoServer::start();
    let proxy = vitals_testkit::FaultProxy::start(mongo.addr()).await;
    proxy.set(vitals_testkit::Fault::Blackhole);
    let uri = format!("mongodb://{}/?directConnection=true", proxy.addr());
    let (mut child, addr, _log) = common::start_server(&[
        ("MONGO_URI", &uri),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "3000"),
        ("HEALTH_CHECK_INTERVAL_MS", "0"),
    ])
    .await;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    for _ in 0..3 {
        grpc.ready().await.unwrap();
        let mut request = tonic::Request::new(HealthListRequest {});
        request.set_timeout(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let reply = grpc
            .unary(
                request,
                http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/List"),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .expect("an answer, not DEADLINE_EXCEEDED");
        assert!(started.elapsed() < Duration::from_millis(200));
        let list: HealthListResponse = reply.into_inner();
        assert_eq!(
            list.statuses["mongo"].status,
            ServingStatus::NotServing as i32,
            "no result yet counts against a critical check"
        );
        assert_eq!(list.statuses["livez"].status, ServingStatus::Serving as i32);
    }
    let mut client = client(addr).await;
    assert_eq!(
        status_within(&mut client, "livez", Duration::from_millis(100))
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    child.kill().await.unwrap();
}

/// The official Python client (grpcio-health-checking, pinned in scripts/test-requirements.txt)
/// against the main server: the names, Watch and List as a non-Rust peer sees them.
#[tokio::test]
async fn the_official_python_client_agrees() {
    let (mut child, addr, _log) = common::start_server(&[
        ("REDIS_URI", "redis://127.0.0.1:1"),
        ("SKIP_HEALTH_CHECKS", "redis"),
    ])
    .await;
    let services = [
        "",
        "readyz",
        "livez",
        "startupz",
        "grpc.health.v1.Health",
        "redis",
        "nope",
    ];
    let out = tokio::process::Command::new(vitals_testkit::require_binary("vitals-test-python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/support/grpc_health_client.py"
        ))
        .arg(addr.to_string())
        .args(services)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for service in &services[..6] {
        assert_eq!(seen["check"][service], "SERVING", "{service:?}: {seen}");
    }
    assert_eq!(seen["check"]["nope"], "NOT_FOUND", "{seen}");
    assert_eq!(seen["watch"], "SERVING", "{seen}");
    for name in [
        "",
        "readyz",
        "readiness",
        "livez",
        "healthz",
        "grpc.health.v1.Health",
        "redis",
    ] {
        assert_eq!(seen["list"][name], "SERVING", "{name:?}: {seen}");
    }
    child.kill().await.unwrap();
}
