//! grpc.health.v1 from the registry, seen by tonic-health's standard client, with a real
//! Redis going down and up.
use crate::common;

use std::{net::SocketAddr, time::Duration};

use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use vitals_core::{Backoff, Check, CheckError, CheckOptions, Details, Health, async_trait};
use vitals_redis::RedisCheck;
use vitals_testkit::RedisServer;
use vitals_tonic::{GrpcHealth, HealthListRequest, HealthListResponse};

async fn serve(health: Health) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = GrpcHealth::new(health.clone()).into_service();
    let server = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move { health.drained().await },
            )
            .await
            .unwrap();
    });
    (addr, server)
}

async fn client(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

async fn status(
    client: &mut HealthClient<Channel>,
    service: &str,
) -> Result<ServingStatus, tonic::Status> {
    let reply = client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?;
    Ok(ServingStatus::try_from(reply.into_inner().status).unwrap())
}

fn redis_health(redis: &RedisServer) -> Health {
    let check = RedisCheck::builder(redis.url())
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    // Background mode: a watcher is pushed every finished run.
    Health::builder()
        .interval(Duration::from_millis(50))
        .backoff(Backoff::none())
        .register_with(
            check,
            CheckOptions::new().run_budget(Duration::from_secs(2)),
        )
        .build()
}

/// Waits for the first background run to end: until then the check is pending (NOT_SERVING).
async fn first_result(health: &Health) {
    let mut reports = health.subscribe();
    tokio::time::timeout(
        Duration::from_secs(10),
        reports.wait_for(|r| r.checks[0].attempts > 0),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn check_and_watch_follow_a_real_backend_down_and_up() {
    let mut redis = RedisServer::start();
    let health = redis_health(&redis);
    let (addr, server) = serve(health.clone()).await;
    let mut client = client(addr).await;

    first_result(&health).await;
    assert_eq!(
        status(&mut client, "").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        status(&mut client, "redis").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        status(&mut client, "livez").await.unwrap(),
        ServingStatus::Serving
    );
    let unknown = status(&mut client, "no-such-service").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    let mut watch = client
        .watch(HealthCheckRequest {
            service: "redis".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let next = |s: Option<Result<tonic_health::pb::HealthCheckResponse, tonic::Status>>| {
        ServingStatus::try_from(s.expect("stream open").unwrap().status).unwrap()
    };
    assert_eq!(next(watch.next().await), ServingStatus::Serving);

    redis.stop();
    let flipped = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .unwrap();
    assert_eq!(next(flipped), ServingStatus::NotServing);
    assert_eq!(
        status(&mut client, "").await.unwrap(),
        ServingStatus::NotServing
    );

    redis.restart();
    let back = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .unwrap();
    assert_eq!(next(back), ServingStatus::Serving);

    // An unknown service on Watch: SERVICE_UNKNOWN, and the stream stays open.
    let mut unknown = client
        .watch(HealthCheckRequest {
            service: "later".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next(unknown.next().await), ServingStatus::ServiceUnknown);

    // List names every service.
    let list = list(addr).await;
    for name in ["", "redis", "livez", "readyz", "startupz", "healthz"] {
        assert_eq!(
            list.statuses[name].status,
            ServingStatus::Serving as i32,
            "{name}"
        );
    }

    // Draining ends open streams and lets the server shut down.
    health.drain();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while watch.next().await.is_some() {}
        while unknown.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "watch streams must end on drain");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
}

async fn list(addr: SocketAddr) -> HealthListResponse {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/List");
    grpc.unary(
        tonic::Request::new(HealthListRequest {}),
        path,
        tonic_prost::ProstCodec::default(),
    )
    .await
    .unwrap()
    .into_inner()
}

struct Slow;

#[async_trait]
impl Check for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    async fn check(&self) -> Result<Details, CheckError> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(Details::new())
    }
}

#[tokio::test]
async fn the_callers_grpc_timeout_bounds_the_checks() {
    let health = Health::builder()
        .register_with(
            Slow,
            CheckOptions::new().run_budget(Duration::from_secs(60)),
        )
        .build();
    let (addr, _server) = serve(health).await;
    let mut client = client(addr).await;
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    request.set_timeout(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let reply = client
        .check(request)
        .await
        .expect("an answer, not DEADLINE_EXCEEDED");
    assert_eq!(reply.into_inner().status, ServingStatus::NotServing as i32);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// Once found, over gRPC: a `Check` whose `grpc-timeout` is 1 ms, arriving when the
/// cache has expired, made the shared run fail and every later caller see NOT_SERVING.
#[tokio::test]
async fn a_check_with_a_1ms_deadline_never_poisons_later_callers() {
    let redis = RedisServer::start();
    let proxy = vitals_testkit::FaultProxy::start(redis.addr()).await;
    let check = RedisCheck::builder(format!("redis://{}", proxy.addr()))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let retry_once = Backoff::builder()
        .retries(1)
        .initial_delay(Duration::from_millis(10))
        .build()
        .unwrap();
    let health = Health::builder()
        .ttl(Duration::from_millis(100))
        .register_with(check, CheckOptions::new().backoff(retry_once))
        .build();
    let (addr, _server) = serve(health.clone()).await;
    let mut client = client(addr).await;
    assert_eq!(
        status(&mut client, "").await.unwrap(),
        ServingStatus::Serving
    );
    for round in 0..3 {
        // The next run must reconnect, and every new connection is held 300 ms: the run takes
        // longer than the 1 ms caller is willing to wait.
        proxy.set(vitals_testkit::Fault::Delay(Duration::from_millis(300)));
        redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut hasty = tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        });
        hasty
            .metadata_mut()
            .insert("grpc-timeout", "1m".parse().unwrap());
        // The client gives up after 1 ms itself; either way its answer is no failure.
        if let Ok(reply) = client.check(hasty).await {
            assert_eq!(
                reply.into_inner().status,
                ServingStatus::Serving as i32,
                "round {round}"
            );
        }
        // It reached the server: it started the run that is now in progress.
        let started = tokio::time::Instant::now();
        while health.latest(vitals_core::Probe::Readiness).checks[0]
            .progress
            .is_none()
        {
            assert!(started.elapsed() < Duration::from_secs(1), "no run started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for service in ["", "redis", "readyz"] {
            assert_eq!(
                status(&mut client, service).await.unwrap(),
                ServingStatus::Serving,
                "round {round}: {service:?}"
            );
        }
        proxy.set(vitals_testkit::Fault::Pass);
    }
    let report = health.latest(vitals_core::Probe::Readiness);
    assert_eq!(report.checks[0].consecutive_failures, 0, "{report:?}");
}

/// A `Check` with a tonic client through `grpc-timeout`, as Kubernetes' gRPC probe sends it.
async fn status_within(
    client: &mut HealthClient<Channel>,
    service: &str,
    timeout: Duration,
) -> Result<ServingStatus, tonic::Status> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: service.into(),
    });
    request.set_timeout(timeout);
    let reply = client.check(request).await?;
    Ok(ServingStatus::try_from(reply.into_inner().status).unwrap())
}

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
    let mut watch = client
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut next = async || {
        let message = tokio::time::timeout(Duration::from_secs(20), watch.message())
            .await
            .expect("a Watch update within 20 s")
            .unwrap();
        message.map(|m| ServingStatus::try_from(m.status).unwrap())
    };
    assert_eq!(next().await, Some(ServingStatus::Serving));
    mongo.stop();
    assert_eq!(next().await, Some(ServingStatus::NotServing));
    assert_eq!(
        status(&mut client, "mongo").await.unwrap(),
        ServingStatus::NotServing
    );
    let again = vitals_testkit::MongoServer::start();
    proxy.set_upstream(again.addr());
    assert_eq!(next().await, Some(ServingStatus::Serving));

    // SIGTERM: the watcher is told NOT_SERVING and its stream ends; Check keeps answering
    // during the shutdown delay (readiness failing, liveness not); then the process exits.
    common::sigterm(&child);
    common::wait_for_log(&mut log, "readiness fails now").await;
    assert_eq!(next().await, Some(ServingStatus::NotServing));
    assert_eq!(next().await, None, "the stream ends on drain");
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

/// Many watchers cost no task or timer each: all of them are told of one change at once.
#[tokio::test]
async fn two_hundred_watchers_are_all_told_of_a_change() {
    let mut redis = RedisServer::start();
    let health = redis_health(&redis);
    let (addr, _server) = serve(health.clone()).await;
    let client = client(addr).await;
    first_result(&health).await;
    let mut watches = Vec::new();
    for _ in 0..200 {
        let mut stream = client
            .clone()
            .watch(HealthCheckRequest {
                service: "redis".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.status, ServingStatus::Serving as i32);
        watches.push(stream);
    }
    redis.stop();
    for stream in &mut watches {
        let changed = tokio::time::timeout(Duration::from_secs(20), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(changed.status, ServingStatus::NotServing as i32);
    }
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
