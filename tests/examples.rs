//! The framework examples, started as processes and probed.
use vitals_testkit::e2e as common;

use std::time::Duration;

use common::{example, http, output_within, start_example};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// An example whose port is taken says so in the server's words (vitals-env's `ListenError`,
/// the sentence vitals-server's own test pins) and exits 1: no panic, no OS error number.
#[tokio::test]
async fn the_examples_say_a_taken_port_as_the_server_does() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let sentence = |address: &str| {
        format!(
            "cannot listen on {address} (PORT={port}): address already in use; another process \
             listens on that port: choose another with PORT"
        )
    };
    // axum and hyper listen on loopback; tonic on every interface, IPv6 and IPv4 on one
    // socket (IPv4 alone where the machine has no IPv6), which the loopback listener blocks.
    for (name, addresses) in [
        ("axum", vec![format!("127.0.0.1:{port}")]),
        ("hyper", vec![format!("127.0.0.1:{port}")]),
        (
            "tonic",
            vec![format!("[::]:{port}"), format!("0.0.0.0:{port}")],
        ),
    ] {
        let mut command = tokio::process::Command::new(example(name));
        command.env_clear().env("PORT", port.to_string());
        let out = output_within(&mut command, Duration::from_secs(30)).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let last = stderr.trim_end().lines().last().unwrap_or_default();
        assert!(
            addresses.iter().any(|address| last == sentence(address)),
            "{name}: {stderr}"
        );
    }
    drop(taken);
}

#[tokio::test]
async fn the_axum_example_answers_probes_and_its_routes() {
    let (mut child, addr, _log) = start_example("axum", &[]).await;
    let ready = http(addr, "GET", "/readyz?verbose", &[("accept", "text/plain")]).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (200, "[+]scratch ok\nreadyz check passed\n")
    );
    let root = http(addr, "GET", "/", &[]).await;
    assert_eq!(root.body, "hello from axum\n");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_hyper_example_answers_probes_and_passes_the_rest_through() {
    let (mut child, addr, _log) = start_example("hyper", &[]).await;
    assert_eq!(http(addr, "GET", "/livez", &[]).await.status, 200);
    let other = http(addr, "GET", "/orders/7", &[]).await;
    assert_eq!(other.body, "hello from hyper: /orders/7\n");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_tonic_example_serves_grpc_health_http_probes_and_its_service() {
    let (mut child, addr, mut log) = start_example("tonic", &[("SHUTDOWN_DELAY_MS", "1000")]).await;
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);

    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    let reply = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().status, ServingStatus::Serving as i32);
    // The server's own gRPC service is known to the health service, and follows readiness.
    let echo = HealthCheckRequest {
        service: "vitals.example.Echo".into(),
    };
    let reply = health.check(echo.clone()).await.unwrap();
    assert_eq!(reply.into_inner().status, ServingStatus::Serving as i32);

    #[derive(Clone, PartialEq, prost::Message)]
    struct EchoMessage {
        #[prost(string, tag = "1")]
        text: String,
    }
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let echoed: EchoMessage = grpc
        .unary(
            tonic::Request::new(EchoMessage { text: "hi".into() }),
            http::uri::PathAndQuery::from_static("/vitals.example.Echo/Say"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(echoed.text, "echo: hi");

    // An open Watch ends when SIGTERM drains the server, and the process exits cleanly.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(watch.message().await.unwrap().is_some());
    common::sigterm(&child);
    common::wait_for_log(&mut log, "shutting down").await;
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        let mut last = None;
        while let Ok(Some(message)) = watch.message().await {
            last = Some(message.status);
        }
        last
    })
    .await
    .expect("the Watch stream ends");
    assert_eq!(drained, Some(ServingStatus::NotServing as i32));
    // The server keeps answering during the shutdown delay, readiness failing.
    let reply = health.check(echo).await.unwrap();
    assert_eq!(reply.into_inner().status, ServingStatus::NotServing as i32);
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// Each probe crate's example, run as a process against the machine's services (or a loopback
/// server of the test's own): the verbose report on stdout, the exit status from the result.
#[tokio::test]
async fn each_probe_crates_example_checks_its_target_once() {
    use time::OffsetDateTime;
    use vitals_testkit::{TestCa, TlsServer};

    let run = |name: &str, args: Vec<String>, env: Vec<(&str, String)>| {
        let mut command = tokio::process::Command::new(common::example(name));
        command.args(args).envs(env);
        async move {
            let out = output_within(&mut command, Duration::from_secs(60)).await;
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }
    };
    for (name, target, line) in [
        (
            "database",
            "postgres://postgres@127.0.0.1:5432/test",
            "[+]database ok",
        ),
        (
            "database",
            "mysql://root@127.0.0.1:3306/test",
            "[+]database ok",
        ),
        (
            "rabbitmq",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "[+]amqp ok",
        ),
        ("nats", "nats://127.0.0.1:4222", "[+]nats ok"),
        ("disk", "/", "[+]disk ok"),
    ] {
        let (code, stdout) = run(name, vec![target.to_owned()], vec![]).await;
        assert_eq!(code, Some(0), "{name} {target}: {stdout}");
        assert!(stdout.starts_with(line), "{name}: {stdout}");
    }

    // A certificate from a test CA, trusted through SSL_CERT_FILE (the system's roots).
    let ca = TestCa::new();
    let now = OffsetDateTime::now_utc();
    let (cert, key) = ca.issue(
        &["localhost"],
        now - time::Duration::days(1),
        now + time::Duration::days(90),
    );
    let tls = TlsServer::start(&cert, &key).await;
    let target = format!("localhost:{}", tls.addr().port());
    let trusted = vec![("SSL_CERT_FILE", ca.ca_path().display().to_string())];
    let (code, stdout) = run("certificate", vec![target.clone()], trusted).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("[+]certificate ok"), "{stdout}");

    // An upstream gRPC server: tonic-health's own.
    let (_reporter, service) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let (code, stdout) = run("grpc_upstream", vec![format!("http://{addr}")], vec![]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("[+]grpc ok"), "{stdout}");

    // A target it cannot read: status 2.
    let (code, _) = run("database", vec!["redis://x".to_owned()], vec![]).await;
    assert_eq!(code, Some(2));
}

/// Each framework example serves through `vitals::serve` with the `HEALTH_*` bounds: a client
/// whose headers never end is closed at the header read timeout, and a probe from a new
/// connection answers meanwhile.
#[tokio::test]
async fn the_examples_close_a_stalled_connection_at_the_header_read_timeout() {
    let timeout = Duration::from_millis(500);
    for name in ["axum", "hyper", "tonic"] {
        let (mut child, addr, _log) = start_example(
            name,
            &[(
                "HEALTH_HEADER_READ_TIMEOUT_MS",
                &timeout.as_millis().to_string(),
            )],
        )
        .await;
        let mut stalled = vitals_testkit::siege::stalled(addr).await.unwrap();
        let opened = tokio::time::Instant::now();
        let (status, _) = vitals_testkit::siege::probe(addr, "/livez", Duration::from_secs(5))
            .await
            .expect("a probe answers beside the stalled connection");
        assert_eq!(status, 200, "{name}");
        assert!(
            vitals_testkit::siege::closed_by(&mut stalled, opened + timeout * 4).await,
            "{name}: the stalled connection outlived {:?}",
            timeout * 4
        );
        assert!(
            opened.elapsed() >= timeout,
            "{name}: closed before the header read timeout"
        );
        child.kill().await.unwrap();
    }
}
