//! The server's own front door, attacked from this test process: a child server with its file
//! limit lowered to 4096 (`prlimit`), held by thousands of connections whose headers never end
//! and by event and `Watch` streams beyond their budgets. Probes from new connections must keep
//! answering at once, memory and the log stay bounded, and stalled connections are dropped
//! within the documented header timeout; after the attack the memory comes back. Defaults
//! throughout: what a user runs.
use crate::common;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use common::{server_binary, spawn_example};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    process::{Child, Command},
    sync::mpsc::UnboundedReceiver,
};
use vitals_testkit::siege::{self, EventStream};

/// The file limit of the server under attack (the "done when").
const FILE_LIMIT: u32 = 4096;
const STALLED: usize = 5000;
const EVENT_STREAMS: usize = 1500;
const WATCH_STREAMS: usize = 1500;
/// A probe from a new connection answers within this, under attack.
const PROBE_BOUND: Duration = Duration::from_secs(1);
/// The manifests' memory limit is 256 MiB; the server stays well under it.
const RSS_BOUND_KIB: u64 = 200 * 1024;

async fn start(env: &[(&str, &str)]) -> (Child, SocketAddr, UnboundedReceiver<String>) {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={FILE_LIMIT}:{FILE_LIMIT}"))
        .arg("--")
        .arg(server_binary());
    spawn_example(cmd, "vitals-server", env).await
}

/// Probes `/livez` and `/readyz` `rounds` times from new connections, `pace` apart; returns the
/// slowest. Each must answer 200 within the bound.
async fn probes_answer(addr: SocketAddr, rounds: usize, pace: Duration) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        for path in ["/livez", "/readyz"] {
            let (status, took) = siege::probe(addr, path, Duration::from_secs(5))
                .await
                .unwrap_or_else(|| panic!("{path} from a new connection got no answer in 5 s"));
            assert_eq!(status, 200, "{path}");
            samples.push(took);
        }
        tokio::time::sleep(pace).await;
    }
    let slowest = siege::slowest(&samples);
    assert!(
        slowest < PROBE_BOUND,
        "the slowest probe under attack took {slowest:?}"
    );
    slowest
}

fn drain_log(log: &mut UnboundedReceiver<String>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(line) = log.try_recv() {
        lines.push(line);
    }
    lines
}

/// What the server sends before it closes the connection, which it must do within `limit`
/// (a reset after the answer counts as closing).
async fn answer_then_close(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: Duration,
) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("the server did not answer and close within {limit:?}"))
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Opens `count` stalled connections; those the machine refuses (none expected) are counted.
async fn stall(addr: SocketAddr, count: usize) -> Vec<(TcpStream, tokio::time::Instant)> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let stream = siege::stalled(addr)
            .await
            .expect("connect and send a partial header");
        held.push((stream, tokio::time::Instant::now()));
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_while_thousands_of_stalled_connections_and_event_streams_hold_the_door() {
    let ours = siege::raise_file_limit();
    assert!(
        ours > (STALLED + EVENT_STREAMS + 500) as u64,
        "this test holds {} sockets; its file limit is {ours}",
        STALLED + EVENT_STREAMS
    );
    let (child, addr, mut log) = start(&[]).await;
    let pid = child.id().unwrap();
    let before = siege::rss_kib(pid);
    probes_answer(addr, 1, Duration::ZERO).await;
    drain_log(&mut log);
    let attack_start = Instant::now();

    // 1 500 viewers ask for live events: the budget (1 000) is open, the rest refused in words.
    let mut streams = Vec::new();
    let mut refused = 0;
    for _ in 0..EVENT_STREAMS {
        match siege::event_stream(addr, "/status/events").await.unwrap() {
            EventStream::Open(stream) => streams.push(stream),
            EventStream::Refused(status, text) => {
                assert_eq!(status, 503, "{text}");
                assert!(text.contains("retry-after: 30"), "{text}");
                assert!(text.contains("as many live viewers as it allows"), "{text}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        (streams.len(), refused),
        (
            vitals_tower::DEFAULT_MAX_EVENT_STREAMS,
            EVENT_STREAMS - vitals_tower::DEFAULT_MAX_EVENT_STREAMS
        )
    );

    // 5 000 connections whose headers never end: more than the file limit allows.
    let mut stalled = stall(addr, STALLED).await;
    let slowest = probes_answer(addr, 10, Duration::from_millis(300)).await;
    let rss = siege::rss_kib(pid);
    assert!(
        rss < RSS_BOUND_KIB,
        "RSS {rss} KiB under attack (before: {before} KiB)"
    );

    // Every stalled connection is closed within the header read timeout of its start (shed
    // earlier at the connection bound, or timed out).
    let header_timeout = vitals_serve::DEFAULT_HEADER_READ_TIMEOUT;
    let slack = Duration::from_secs(2);
    for (stream, opened) in &mut stalled {
        assert!(
            siege::closed_by(stream, *opened + header_timeout + slack).await,
            "a stalled connection outlived the header read timeout ({header_timeout:?})"
        );
    }
    // The event streams, busy, were not shed for them.
    for stream in &mut streams {
        let mut buf = [0u8; 1024];
        match stream.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("an event stream was closed during the attack: {other:?}"),
        }
    }
    let attack = attack_start.elapsed();
    let lines = drain_log(&mut log);
    let per_second = lines.len() as f64 / attack.as_secs_f64();
    assert!(
        per_second < 20.0,
        "{} log lines in {attack:?}:\n{}",
        lines.len(),
        lines.join("\n")
    );
    eprintln!(
        "front door: slowest probe {slowest:?} under attack, RSS {before} KiB -> {rss} KiB, \
         {} log lines in {attack:?}",
        lines.len()
    );

    // After the attack: the viewers leave, a probe answers at once, the budget is free again.
    drop(stalled);
    drop(streams);
    probes_answer(addr, 1, Duration::ZERO).await;
    assert!(matches!(
        siege::event_stream(addr, "/status/events").await.unwrap(),
        EventStream::Open(_)
    ));
    // The memory comes back: jemalloc's background thread purges freed pages (10 s decay).
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut after = siege::rss_kib(pid);
    while after > before + (rss - before) / 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = siege::rss_kib(pid);
    }
    assert!(
        after <= before + (rss - before) / 3,
        "RSS {after} KiB 40 s after the attack (before {before} KiB, under attack {rss} KiB)"
    );
    eprintln!("front door: RSS after the attack {after} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_grpc_check_answer_while_watch_streams_and_stalled_connections_hold_the_door() {
    siege::raise_file_limit();
    let (child, addr, mut log) = start(&[]).await;
    let pid = child.id().unwrap();
    drain_log(&mut log);
    let attack_start = Instant::now();

    // 1 500 Watch streams over 15 connections of 100 (under HTTP/2's 128 per connection).
    let mut clients = Vec::new();
    for _ in 0..WATCH_STREAMS / 100 {
        clients.push(siege::grpc_client(addr).await.expect("connect"));
    }
    let mut watches = Vec::new();
    let mut refused = Vec::new();
    for i in 0..WATCH_STREAMS {
        match siege::watch(&clients[i / 100], "readyz").await {
            Ok(stream) => watches.push(stream),
            Err(status) => refused.push(status),
        }
    }
    assert_eq!(watches.len(), vitals_tonic::DEFAULT_MAX_WATCH_STREAMS);
    assert_eq!(
        refused.len(),
        WATCH_STREAMS - vitals_tonic::DEFAULT_MAX_WATCH_STREAMS
    );
    for status in &refused {
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        assert!(
            status
                .message()
                .contains("as many Watch streams open as it allows"),
            "{status:?}"
        );
    }

    let stalled = stall(addr, STALLED).await;
    probes_answer(addr, 5, Duration::from_millis(300)).await;
    // gRPC Check from a new connection, as the kubelet's gRPC probe makes one.
    let started = Instant::now();
    let mut client = tokio::time::timeout(PROBE_BOUND, siege::grpc_client(addr))
        .await
        .expect("a new gRPC connection within the bound")
        .expect("connect");
    let status = vitals_testkit::grpc::status(&mut client, "readyz")
        .await
        .unwrap();
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    assert!(started.elapsed() < PROBE_BOUND, "{:?}", started.elapsed());
    let rss = siege::rss_kib(pid);
    assert!(rss < RSS_BOUND_KIB, "RSS {rss} KiB under attack");
    let lines = drain_log(&mut log);
    let per_second = lines.len() as f64 / attack_start.elapsed().as_secs_f64();
    assert!(per_second < 20.0, "{}", lines.join("\n"));
    drop(stalled);
    drop(watches);
    probes_answer(addr, 1, Duration::ZERO).await;
}

/// A client that sends requests and never reads the answers is closed after the send timeout;
/// probes from others answer meanwhile.
#[tokio::test]
async fn a_client_that_never_reads_is_closed_after_the_send_timeout() {
    let (_child, addr, _log) = start(&[("HEALTH_SEND_TIMEOUT_MS", "1000")]).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive window: the server's writes block soon.
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let request = b"GET /status HTTP/1.1\r\nHost: vitals\r\nAccept: text/html\r\n\r\n";
        while writer.write_all(request).await.is_ok() {}
    });
    probes_answer(addr, 3, Duration::from_millis(500)).await;
    // Not reading on purpose, past the send timeout.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut sink = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the connection was still open after reading {} bytes",
        sink.len()
    );
    writing.abort();
}

/// A header that never ends is refused at the header bound (431), not buffered.
#[tokio::test]
async fn an_endless_header_is_refused_at_the_header_bound() {
    let (_child, addr, _log) = start(&[]).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sent = tokio::spawn(async move {
        let mut sent = 0usize;
        if writer
            .write_all(b"GET /livez HTTP/1.1\r\nHost: vitals\r\nX-Endless: ")
            .await
            .is_err()
        {
            return sent;
        }
        let chunk = [b'a'; 1024];
        while writer.write_all(&chunk).await.is_ok() {
            sent += chunk.len();
            if sent > 64 << 20 {
                break;
            }
        }
        sent
    });
    let text = answer_then_close(&mut reader, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 431"), "{text:?}");
    let sent = sent.await.unwrap();
    assert!(
        sent < 16 << 20,
        "the server read {sent} bytes of one header"
    );
    probes_answer(addr, 1, Duration::ZERO).await;
}

/// A body sent to a probe path is never read: the answer comes, and the connection closes
/// instead of waiting for the rest.
#[tokio::test]
async fn a_body_on_a_probe_path_is_not_read() {
    let (_child, addr, _log) = start(&[]).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /livez HTTP/1.1\r\nHost: vitals\r\nContent-Length: 1000000000\r\n\r\nxxxx",
        )
        .await
        .unwrap();
    let text = answer_then_close(&mut stream, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 "), "{text:?}");
}

/// HTTP/2: the server tells each client its stream bound (`HEALTH_HTTP2_MAX_STREAMS`) in its
/// SETTINGS.
#[tokio::test]
async fn http2_connections_are_told_the_stream_bound() {
    let (_child, addr, _log) = start(&[("HEALTH_HTTP2_MAX_STREAMS", "7")]).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let request = http::Request::get(format!("http://{addr}/livez"))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    // The server's SETTINGS come before its first answer.
    let response = tokio::select! {
        response = response => response.unwrap(),
        ended = &mut connection => panic!("the connection ended first: {ended:?}"),
    };
    assert_eq!(response.status(), 200);
    assert_eq!(connection.max_concurrent_send_streams(), 7);
}

/// With the connection bound set above the file limit (a misconfiguration), `accept` fails with
/// EMFILE: the server backs off, sheds an idle connection for each failure, says so once when
/// the episode starts and once with its count when it is over, and probes still get in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_errors_back_off_and_are_told_once_per_episode() {
    siege::raise_file_limit();
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=256:256").arg("--").arg(server_binary());
    let (_child, addr, mut log) = spawn_example(
        cmd,
        "vitals-server",
        &[("HEALTH_MAX_CONNECTIONS", "100000")],
    )
    .await;
    drain_log(&mut log);
    let stalled = stall(addr, 600).await;
    let slowest = probes_answer(addr, 5, Duration::from_millis(200)).await;
    drop(stalled);
    // The episode is over one quiet second after the last failure.
    let over = common::wait_for_log(&mut log, "over: the process's file limit is reached").await;
    let lines = drain_log(&mut log);
    let started: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("file limit is reached") && !l.contains("over:"))
        .collect();
    assert!(
        started.len() <= 1,
        "one line when it starts, not one per failure: {lines:#?}"
    );
    let count: u64 = over
        .split("over: ")
        .nth(1)
        .and_then(|rest| rest.rsplit_once(" times in").map(|(head, _)| head))
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("a count in {over:?}"));
    assert!(count >= 1, "{over}");
    eprintln!("EMFILE episode: {over}; slowest probe {slowest:?}");
}
