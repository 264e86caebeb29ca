//! Serve a tower service over HTTP/1.1 and HTTP/2 so that its health probes survive its own
//! traffic: what a server that mounts `vitals_tower::HealthLayer` needs besides the layer.
//!
//! A hand-written accept loop around hyper has no bound at all: a client that never finishes
//! its headers holds a connection (and a file descriptor, and about 20 KiB) for ever, a few
//! thousand of them exhaust the file limit, `accept` then fails at once in a loop that logs
//! every failure, and the kubelet's next probe, from a new connection, waits in the backlog
//! until it times out. [`serve`] is that loop with the bounds Go's `net/http` and nginx have:
//!
//! - **every phase is bounded** ([`Limits`]): the first request's headers within
//!   [`DEFAULT_HEADER_READ_TIMEOUT`], an idle keep-alive connection for
//!   [`DEFAULT_IDLE_TIMEOUT`], a response the client does not read for
//!   [`DEFAULT_SEND_TIMEOUT`], HTTP/2 keep-alive pings, concurrent streams and header bytes;
//! - **connections are bounded** ([`MaxConnections`], derived from the file and memory limits):
//!   at the bound a new connection is still accepted, and room is made by shedding the oldest
//!   connection with no request in flight (stalled or idle), else the oldest long-lived stream,
//!   so a probe from a new connection is answered;
//! - **accept errors back off** (5 ms doubling to 1 s, as Go's `net/http`), told apart
//!   (`EMFILE`, `ENFILE`, `ENOBUFS`/`ENOMEM`; a client that left is no error), and logged once
//!   per episode with its count and duration, never once per attempt;
//! - every request carries the client's address as [`vitals_tower::ClientAddr`], so the layer's
//!   details policy (loopback by default) works unchanged; `TCP_NODELAY` is set.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use tower::{Layer as _, service_fn};
//! use vitals_core::Health;
//! use vitals_tower::HealthLayer;
//!
//! # #[tokio::main] async fn main() {
//! let health = Health::builder().build();
//! let app = service_fn(|_: Request<hyper::body::Incoming>| async {
//!     Ok::<_, Infallible>(Response::new(String::from("hello\n")))
//! });
//! let app = HealthLayer::new(health).layer(app);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await.unwrap();
//! vitals_serve::serve(listener, app)
//!     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await
//!     .unwrap();
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connections;
mod episode;
mod limits;
mod track;

use std::{
    error::Error as StdError,
    fmt,
    future::{Future, IntoFuture},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower_service::Service;

use connections::{Clock, Connections, Shed};
use episode::{AcceptFailure, Episode};
pub use limits::{
    CONNECTION_MEMORY, ConnectionBound, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_KEEP_ALIVE,
    DEFAULT_HTTP2_MAX_STREAMS, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_SEND_TIMEOUT, Limits, MIN_MAX_HEADER_BYTES, MaxConnections, UNBOUNDED_MAX_CONNECTIONS,
};
use track::{Tracked, WatchedIo};

/// After the shutdown signal, how long in-flight requests may take by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

/// The first and the longest wait after a failed `accept` (Go's `net/http`).
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_secs(1));

/// Serves `service` on `listener` until the future [`Serve::with_graceful_shutdown`] gives
/// ends (for ever without one). Await the returned [`Serve`]. It logs the connection bound and
/// then `listening on ADDRESS` (at info) when it starts.
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S> {
    Serve {
        listener,
        service,
        limits: Limits::default(),
        shutdown: None,
        drain: DEFAULT_DRAIN,
    }
}

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A server being configured; see [`serve`]. Await it to run it.
#[must_use = "a server does nothing until awaited"]
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: Option<Signal>,
    drain: Duration,
}

impl<S> fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("limits", &self.limits)
            .field("drain", &self.drain)
            .finish_non_exhaustive()
    }
}

impl<S> Serve<S> {
    /// Every bound at once (`vitals_env::EnvConfig::serve` reads them from the environment).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// When `signal` ends: stop accepting, let in-flight requests finish for the drain time
    /// ([`DEFAULT_DRAIN`]), then return.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// How long in-flight requests may take after the shutdown signal.
    pub fn drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }
}

/// In-flight requests outlasted the drain time after the shutdown signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotDrained(pub Duration);

impl fmt::Display for NotDrained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let within = if self.0.subsec_millis() == 0 {
            format!("{} s", self.0.as_secs())
        } else {
            format!("{} ms", self.0.as_millis())
        };
        write!(
            f,
            "in-flight requests did not finish within {within} of the shutdown signal"
        )
    }
}

impl StdError for NotDrained {}

type BoxError = Box<dyn StdError + Send + Sync>;

impl<S, B> IntoFuture for Serve<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Output = Result<(), NotDrained>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<(), NotDrained>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let Serve {
                listener,
                service,
                limits,
                shutdown,
                drain,
            } = self;
            let limits = Arc::new(limits);
            let bound = limits.max_connections.resolve();
            tracing::info!(
                max_connections = bound.max,
                header_read_timeout_ms = limits.header_read_timeout.as_millis() as u64,
                idle_timeout_ms = limits.idle_timeout.as_millis() as u64,
                "connections: at most {} ({}); beyond, the oldest idle or stalled ones are closed for new ones",
                bound.max,
                bound.reason
            );
            if let Ok(local) = listener.local_addr() {
                tracing::info!("listening on {local}");
            }
            let builder = Arc::new(connection_builder(&limits));
            let clock = Clock::new();
            let connections = Arc::new(Connections::new(clock));
            let graceful = GracefulShutdown::new();
            let stopping = tokio::sync::watch::Sender::new(false);
            let mut max = bound.max;
            let mut shutdown = shutdown.unwrap_or_else(|| Box::pin(std::future::pending()));
            let mut accept_trouble = Episode::new();
            let mut at_bound = Episode::new();
            let mut backoff = Duration::ZERO;
            loop {
                let quiet_at = [accept_trouble.quiet_at(), at_bound.quiet_at()]
                    .into_iter()
                    .flatten()
                    .min();
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = sleep_until(quiet_at) => {
                        accept_trouble.end_if_quiet();
                        at_bound.end_if_quiet();
                        continue;
                    }
                    () = &mut shutdown => break,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        let failure = AcceptFailure::of(&error);
                        if failure == AcceptFailure::ClientGone {
                            tracing::debug!("{}: {error}", failure.words());
                            continue;
                        }
                        if matches!(
                            failure,
                            AcceptFailure::FileLimit | AcceptFailure::SystemFiles
                        ) {
                            // The files ran out below the bound (other files, a bound set too
                            // high): the bound learns the real capacity, less a sixteenth, and
                            // idle connections go down to it, so the accepts that follow (a probe
                            // waiting in the backlog among them) find room.
                            let open = connections.len();
                            let learned = open.saturating_sub(open / 16 + 1).max(1);
                            if learned < max {
                                max = learned;
                                tracing::warn!(
                                    "the connection bound is now {max}: {open} connections used every file"
                                );
                            }
                            while connections.len() > max && connections.shed(false).is_some() {}
                        }
                        accept_trouble.event(failure.words(), || error.to_string());
                        backoff = (backoff * 2).clamp(ACCEPT_BACKOFF.0, ACCEPT_BACKOFF.1);
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => continue,
                            () = &mut shutdown => break,
                        }
                    }
                };
                accept_trouble.end_if_quiet();
                backoff = Duration::ZERO;
                let open = connections.len();
                if open >= max {
                    let shed = connections.shed(true);
                    at_bound.event(
                        "the connection bound is reached: the oldest idle or stalled connections are shed for new ones",
                        || {
                            let shed = shed.map_or("none could be", Shed::words);
                            format!("{open} open, bound {max}; shed: {shed}")
                        },
                    );
                } else {
                    at_bound.end_if_quiet();
                }
                // Probe answers are small and HTTP/2 multiplexes them: without TCP_NODELAY,
                // Nagle's algorithm and delayed ACKs hold them back.
                let _ = stream.set_nodelay(true);
                let connection = connections.open();
                let service = service.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let mut stopping = stopping.subscribe();
                let connections = connections.clone();
                let limits = limits.clone();
                tokio::spawn(async move {
                    // No buffers until the client sends something: a connection that only
                    // connects costs its socket and this task, not hyper's 16 KiB.
                    let spoke = tokio::select! {
                        readable = stream.readable() => readable.is_ok(),
                        () = connection.shed.notified() => false,
                        _ = connection.outstay(&limits) => false,
                        _ = stopping.wait_for(|stopping| *stopping) => false,
                    };
                    if spoke {
                        let io = TokioIo::new(WatchedIo::new(stream, connection.clone()));
                        let service = TowerToHyperService::new(Tracked::new(
                            service,
                            connection.clone(),
                            peer,
                        ));
                        let serving = watcher.watch(
                            builder
                                .serve_connection_with_upgrades(io, service)
                                .into_owned(),
                        );
                        tokio::select! {
                            result = serving => if let Err(error) = result {
                                tracing::debug!("connection from {peer} ended: {error}");
                            },
                            () = connection.shed.notified() => {
                                tracing::debug!("connection from {peer} shed at the connection bound");
                            }
                            why = connection.outstay(&limits) => {
                                tracing::debug!("connection from {peer} closed: {}", why.words());
                            }
                        }
                    }
                    connections.close(&connection);
                });
            }
            drop(listener);
            // Connections that never spoke end now; the others finish their requests.
            stopping.send_replace(true);
            match tokio::time::timeout(drain, graceful.shutdown()).await {
                Ok(()) => Ok(()),
                Err(_) => Err(NotDrained(drain)),
            }
        })
    }
}

/// Sleeps until `at`, for ever when `None`.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn connection_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    let header_bytes = limits.max_header_bytes.max(MIN_MAX_HEADER_BYTES) as usize;
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // The read buffer holds the headers: its size is the header bound (431 beyond).
        .max_buf_size(header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keep_alive)
        .keep_alive_timeout(limits.http2_keep_alive)
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(header_bytes as u32);
    builder
}

/// Listening on an address failed: the address tried, and the system's error.
#[derive(Debug)]
pub struct ListenFailed {
    /// The address that could not be listened on.
    pub address: SocketAddr,
    /// Why.
    pub error: std::io::Error,
}

impl fmt::Display for ListenFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on {}: {}", self.address, self.error)
    }
}

impl StdError for ListenFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

/// Listens on `address`, or (`None`) on every interface with one dual-stack socket (IPv6, and
/// IPv4 as mapped addresses: the kubelet probes the pod's IP, whichever family the cluster
/// uses), falling back to IPv4 only where the kernel has no IPv6. Call it inside a tokio
/// runtime.
pub fn listen(address: Option<IpAddr>, port: u16) -> Result<TcpListener, ListenFailed> {
    let bind = |addr: SocketAddr, dual_stack: bool| -> std::io::Result<TcpListener> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )?;
        if dual_stack {
            socket.set_only_v6(false)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    };
    let failed = |address| move |error| ListenFailed { address, error };
    match address {
        Some(ip) => {
            let addr = SocketAddr::new(ip, port);
            bind(addr, false).map_err(failed(addr))
        }
        None => {
            let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
            bind(any6, true).or_else(|error| {
                use std::io::ErrorKind::{AddrInUse, PermissionDenied};
                if matches!(error.kind(), AddrInUse | PermissionDenied) {
                    return Err(failed(any6)(error));
                }
                tracing::warn!("no IPv6 ({error}): listening on IPv4 only");
                let any4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
                bind(any4, false).map_err(failed(any4))
            })
        }
    }
}
