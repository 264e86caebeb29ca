//! grpc.health.v1 from the registry, in process: tonic-health's standard client against a
//! tonic server serving `GrpcHealth`, with a real Redis going down and up.
use std::{net::SocketAddr, time::Duration};

use tokio_stream::StreamExt;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use vitals_core::{Backoff, Check, CheckError, CheckOptions, Details, Health, async_trait};
use vitals_redis::RedisCheck;
use vitals_testkit::{
    RedisServer,
    grpc::{client, list, status, watch},
};
use vitals_tonic::GrpcHealth;

async fn serve(health: Health) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    serve_with(health.clone(), GrpcHealth::new(health)).await
}

async fn serve_with(health: Health, grpc: GrpcHealth) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = grpc.into_service();
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

/// On demand (no background interval), an open `Watch` is demand: with no probe asking, the
/// watcher still hears that a real Redis died and came back (gRFC A17 clients only Watch).
#[tokio::test]
async fn an_open_watch_keeps_on_demand_checks_running() {
    let mut redis = RedisServer::start();
    let check = RedisCheck::builder(redis.url())
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let health = Health::builder()
        .backoff(Backoff::none())
        .ttl(Duration::from_millis(200))
        .register_with(
            check,
            CheckOptions::new().run_budget(Duration::from_secs(2)),
        )
        .build();
    let (addr, _server) = serve(health.clone()).await;
    let mut client = client(addr).await;
    let mut watch = watch(&mut client, "").await;
    // The first run's pass, after "no result yet" (NOT_SERVING for a critical check) unless
    // that run ended before the stream's first message.
    let first = watch.next_status().await;
    if first == Some(ServingStatus::NotServing) {
        assert_eq!(watch.next_status().await, Some(ServingStatus::Serving));
    } else {
        assert_eq!(first, Some(ServingStatus::Serving));
    }
    redis.stop();
    assert_eq!(watch.next_status().await, Some(ServingStatus::NotServing));
    redis.restart();
    assert_eq!(watch.next_status().await, Some(ServingStatus::Serving));
}

/// Watch streams have a budget: one more is refused in words, Check keeps answering, and a
/// place comes back when a watcher leaves.
#[tokio::test]
async fn watchers_beyond_the_budget_are_refused_with_resource_exhausted() {
    let redis = RedisServer::start();
    let health = redis_health(&redis);
    let (addr, _server) = serve_with(
        health.clone(),
        GrpcHealth::new(health.clone()).max_watch_streams(3),
    )
    .await;
    let client = client(addr).await;
    first_result(&health).await;
    let request = || HealthCheckRequest {
        service: "redis".into(),
    };
    let mut watches = Vec::new();
    for _ in 0..3 {
        let mut stream = client.clone().watch(request()).await.unwrap().into_inner();
        stream.message().await.unwrap().unwrap();
        watches.push(stream);
    }
    let refused = client.clone().watch(request()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused
            .message()
            .contains("as many Watch streams open as it allows"),
        "{refused:?}"
    );
    assert_eq!(
        status(&mut client.clone(), "redis").await.unwrap(),
        ServingStatus::Serving
    );

    drop(watches.pop());
    // The server sees the stream's reset shortly after the client drops it.
    let accepted = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(response) = client.clone().watch(request()).await {
                break response.into_inner();
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a place comes back when a watcher leaves");
    drop(accepted);
}
