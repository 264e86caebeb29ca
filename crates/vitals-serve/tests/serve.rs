//! `serve` over real sockets on loopback: each request carries the client's address, stalled
//! and idle connections end at their bounds, and shutdown drains or says it could not.
use std::{
    convert::Infallible, future::IntoFuture as _, net::SocketAddr, sync::Arc, time::Duration,
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::{Notify, oneshot},
};
use tower::service_fn;
use vitals_serve::{Limits, NotDrained};
use vitals_tower::ClientAddr;

type Handle = tokio::task::JoinHandle<Result<(), NotDrained>>;

struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    handle: Handle,
    /// Told when a `/hang` request is in the app.
    hanging: Arc<Notify>,
}

/// Serves an app answering the client's address (`/hang` never answers) with `limits`.
async fn start(limits: Limits, drain: Duration) -> Server {
    let listener = vitals_serve::listen(Some([127, 0, 0, 1].into()), 0).unwrap();
    let addr = listener.local_addr().unwrap();
    let hanging = Arc::new(Notify::new());
    let told = hanging.clone();
    let app = service_fn(move |request: Request<hyper::body::Incoming>| {
        let told = told.clone();
        async move {
            if request.uri().path() == "/hang" {
                told.notify_one();
                std::future::pending::<()>().await;
            }
            let peer = request.extensions().get::<ClientAddr>().map(|c| c.0);
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!("{peer:?}")))))
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        vitals_serve::serve(listener, app)
            .limits(limits)
            .drain(drain)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    Server {
        addr,
        stop,
        handle: server,
        hanging,
    }
}

async fn get(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(limit, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn requests_carry_the_clients_address_and_idle_connections_end() {
    let mut limits = Limits::default();
    limits.idle_timeout = Duration::from_millis(300);
    let Server {
        addr, stop, handle, ..
    } = start(limits, Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    let answer = get(&mut stream, "/").await;
    assert!(answer.ends_with(&format!("Some({local})")), "{answer}");
    // Kept alive, then closed once idle for the idle timeout.
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await);
    stop.send(()).unwrap();
    assert_eq!(handle.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn a_connection_without_a_request_ends_at_the_header_read_timeout() {
    let mut limits = Limits::default();
    limits.header_read_timeout = Duration::from_millis(300);
    let server = start(limits, Duration::from_secs(1)).await;
    let addr = server.addr;
    let started = tokio::time::Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn at_the_connection_bound_the_oldest_idle_connection_makes_room() {
    let mut limits = Limits::default();
    limits.max_connections = vitals_serve::MaxConnections::Fixed(2);
    let server = start(limits, Duration::from_secs(1)).await;
    let addr = server.addr;
    let mut oldest = TcpStream::connect(addr).await.unwrap();
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // The hanging request is in flight before the third connection arrives.
    server.hanging.notified().await;
    let mut probe = TcpStream::connect(addr).await.unwrap();
    let answer = get(&mut probe, "/").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed_within(&mut oldest, Duration::from_secs(3)).await);
    let mut buf = [0u8; 1];
    assert!(
        matches!(busy.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the busy connection stays"
    );
}

#[tokio::test]
async fn shutdown_says_when_in_flight_requests_outlast_the_drain() {
    let server = start(Limits::default(), Duration::from_millis(200)).await;
    let mut hanging = TcpStream::connect(server.addr).await.unwrap();
    hanging
        .write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    server.hanging.notified().await;
    server.stop.send(()).unwrap();
    let result = server.handle.await.unwrap();
    assert_eq!(result, Err(NotDrained(Duration::from_millis(200))));
    assert_eq!(
        result.unwrap_err().to_string(),
        "in-flight requests did not finish within 200 ms of the shutdown signal"
    );
}

/// A connection that never sends a byte does not hold a graceful shutdown for its header
/// read timeout: it ends with the listener.
#[tokio::test]
async fn a_silent_connection_ends_at_shutdown() {
    let server = start(Limits::default(), Duration::from_secs(30)).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // The server has accepted it once a request on another connection is answered after it.
    let mut other = TcpStream::connect(server.addr).await.unwrap();
    get(&mut other, "/").await;
    drop(other);
    let started = tokio::time::Instant::now();
    server.stop.send(()).unwrap();
    assert_eq!(server.handle.await.unwrap(), Ok(()));
    assert!(closed_within(&mut silent, Duration::from_secs(1)).await);
    assert!(
        started.elapsed() < vitals_serve::DEFAULT_HEADER_READ_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
}
