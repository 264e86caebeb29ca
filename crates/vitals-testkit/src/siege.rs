//! Holding a server's front door: connections whose headers never end, status-page event
//! streams, gRPC `Watch` streams, and probes timed from new connections. Used by the abuse tests
//! and by `scripts/bench-front-door`; traffic goes only to the address given (loopback).
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Raises this process's soft file limit to its hard limit, and returns it: a siege holds
/// thousands of sockets.
pub fn raise_file_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    setrlimit(Resource::Nofile, limit).expect("raise the soft file limit to the hard one");
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The resident memory of process `pid`, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process runs");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// The file descriptors process `pid` has open.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// A connection that starts a request and never finishes its headers (slowloris).
pub async fn stalled(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"GET / HTTP/1.1\r\n").await?;
    Ok(stream)
}

/// Whether the server has closed `stream` (EOF or reset), reading whatever it sent first;
/// waits until `deadline` at most.
pub async fn closed_by(stream: &mut TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// What the server answered a request for an event stream.
#[derive(Debug)]
pub enum EventStream {
    /// `200`, and the first event arrived: the stream is open.
    Open(TcpStream),
    /// Another status, with the response head and what followed.
    Refused(u16, String),
}

/// Opens the status page's event stream at `path` (e.g. `/status/events`) and waits for its
/// first event.
pub async fn event_stream(addr: SocketAddr, path: &str) -> std::io::Result<EventStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: vitals\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        let Some((head, rest)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status != 200 {
            if rest.contains('\n') {
                return Ok(EventStream::Refused(status, text.into_owned()));
            }
            continue;
        }
        // Chunked: the first event ends with a blank line.
        if rest.contains("\n\n") {
            return Ok(EventStream::Open(stream));
        }
    }
}

/// One probe from a new connection (`Connection: close`): its status and how long the whole
/// exchange took, or `None` when it did not end within `limit`.
pub async fn probe(addr: SocketAddr, path: &str, limit: Duration) -> Option<(u16, Duration)> {
    let start = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: vitals\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.ok()?;
        String::from_utf8_lossy(&raw)
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
    };
    let status = tokio::time::timeout(limit, exchange).await.ok()??;
    Some((status, start.elapsed()))
}

/// A gRPC client on a connection of its own to `addr` (plain HTTP/2).
pub async fn grpc_client(
    addr: SocketAddr,
) -> Result<HealthClient<tonic::transport::Channel>, tonic::transport::Error> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .connect()
        .await?;
    Ok(HealthClient::new(channel))
}

/// A `Watch` of `service` on `client`'s connection: the stream once its first status arrived,
/// or the status the server refused it with.
pub async fn watch(
    client: &HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Result<tonic::Streaming<tonic_health::pb::HealthCheckResponse>, tonic::Status> {
    let mut stream = client
        .clone()
        .watch(HealthCheckRequest {
            service: service.into(),
        })
        .await?
        .into_inner();
    stream
        .message()
        .await?
        .ok_or_else(|| tonic::Status::unknown("the Watch stream ended before its first status"))?;
    Ok(stream)
}

/// The largest of `samples`.
pub fn slowest(samples: &[Duration]) -> Duration {
    samples.iter().copied().max().unwrap_or_default()
}
