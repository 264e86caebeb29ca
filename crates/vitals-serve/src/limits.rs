//! The bounds of every phase of a connection, and how many connections there may be.
use std::time::Duration;

/// How long a new connection may take to send its first request's headers. The kubelet and Prometheus send theirs at once; no probe waits longer than
/// its `timeoutSeconds` (1 s by default, rarely above 10).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a keep-alive connection is kept with no request in flight: longer than
/// Prometheus' default scrape interval (1 min), so a scraper's connection is reused; nginx's
/// `keepalive_timeout` is 75 s too.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a response may wait for a client that does not read it before the connection ends.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 keep-alive: a ping after this long without a frame, and the connection ends when its
/// answer takes as long (a `Watch` stream's dead peer is found within 40 s).
pub const DEFAULT_HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Concurrent HTTP/2 streams per connection (nginx's `http2_max_concurrent_streams` is 128).
pub const DEFAULT_HTTP2_MAX_STREAMS: u32 = 128;
/// Request header bytes (the start line included): the kubelet and Prometheus send under
/// 1 KiB. Requests with more are answered 431 and the connection closes.
pub const DEFAULT_MAX_HEADER_BYTES: u32 = 16 * 1024;
/// The smallest header bound hyper's HTTP/1 read buffer accepts.
pub const MIN_MAX_HEADER_BYTES: u32 = 8 * 1024;
/// Memory counted per connection when the connection bound is derived from the memory limit:
/// a measured connection takes about 20 KiB (BENCHMARKS.md); this leaves room for its requests.
pub const CONNECTION_MEMORY: u64 = 64 * 1024;
/// The connection bound when neither the file limit nor a memory limit bounds the process.
pub const UNBOUNDED_MAX_CONNECTIONS: usize = 16_384;

/// How many connections may be open at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MaxConnections {
    /// Derived from the process's file limit and memory limit when serving starts
    /// ([`MaxConnections::resolve`]).
    #[default]
    Auto,
    /// This many.
    Fixed(usize),
}

/// A resolved connection bound and the reason for it, in words for the startup log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionBound {
    /// At most this many connections are open at once.
    pub max: usize,
    /// Why this many, e.g. "an eighth of the file limit 4096 kept for the checks' clients".
    pub reason: String,
}

impl MaxConnections {
    /// The bound now: `Fixed` as given; `Auto` from the soft file limit, less an eighth (at
    /// least 32) kept for the listener, logs and the checks' own clients, and from the memory
    /// limit of the process's cgroup (half of it, at [`CONNECTION_MEMORY`] a connection).
    pub fn resolve(self) -> ConnectionBound {
        match self {
            MaxConnections::Fixed(max) => ConnectionBound {
                max,
                reason: "as configured".to_owned(),
            },
            MaxConnections::Auto => derive(file_limit(), memory_limit()),
        }
    }
}

fn derive(files: Option<u64>, memory: Option<u64>) -> ConnectionBound {
    let by_files = files.map(|files| {
        let kept = (files / 8).max(32);
        (files.saturating_sub(kept).max(1), files, kept)
    });
    let by_memory = memory.map(|memory| ((memory / 2 / CONNECTION_MEMORY).max(1), memory));
    match (by_files, by_memory) {
        (Some((max, files, kept)), memory) if memory.is_none_or(|(m, _)| max <= m) => {
            ConnectionBound {
                max: usize::try_from(max).unwrap_or(usize::MAX),
                reason: format!(
                    "the file limit {files} less {kept} kept for the listener, logs and the checks' clients"
                ),
            }
        }
        (_, Some((max, memory))) => ConnectionBound {
            max: usize::try_from(max).unwrap_or(usize::MAX),
            reason: format!(
                "half the memory limit of {} MiB at {} KiB a connection",
                memory / (1024 * 1024),
                CONNECTION_MEMORY / 1024
            ),
        },
        _ => ConnectionBound {
            max: UNBOUNDED_MAX_CONNECTIONS,
            reason: "neither a file limit nor a memory limit bounds the process".to_owned(),
        },
    }
}

/// The soft `RLIMIT_NOFILE`, `None` when unlimited.
fn file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// The memory limit of the process's cgroup (v2, then v1), `None` when there is none.
fn memory_limit() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok())
    .and_then(|text| text.trim().parse::<u64>().ok())
    // cgroup v1 writes "no limit" as a number near 2^63.
    .filter(|&limit| limit < 1 << 60)
}

/// Every bound of a served connection. The defaults are sized for the kubelet and Prometheus,
/// the callers a health server exists for; each is a `HEALTH_*` variable in `vitals-env`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// A new connection's first request headers must arrive within this (HTTP/1 also bounds
    /// each later request's headers by it, once their first byte arrives).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed after this.
    pub idle_timeout: Duration,
    /// A connection whose response the client has not read for this long is closed.
    pub send_timeout: Duration,
    /// HTTP/2 ping interval, and how long its answer may take.
    pub http2_keep_alive: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub http2_max_streams: u32,
    /// Request header bytes, at least [`MIN_MAX_HEADER_BYTES`].
    pub max_header_bytes: u32,
    /// Open connections; at the bound, idle or stalled connections are shed first.
    pub max_connections: MaxConnections,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            http2_keep_alive: DEFAULT_HTTP2_KEEP_ALIVE,
            http2_max_streams: DEFAULT_HTTP2_MAX_STREAMS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_connections: MaxConnections::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_limit_bounds_connections_less_an_eighth_kept() {
        let bound = derive(Some(4096), None);
        assert_eq!(bound.max, 3584);
        assert!(bound.reason.contains("file limit 4096"), "{}", bound.reason);
        assert_eq!(derive(Some(100), None).max, 68, "at least 32 are kept");
    }

    #[test]
    fn a_memory_limit_bounds_connections_when_it_is_tighter() {
        let bound = derive(Some(1_048_576), Some(256 * 1024 * 1024));
        assert_eq!(bound.max, 2048);
        assert!(bound.reason.contains("256 MiB"), "{}", bound.reason);
        assert_eq!(derive(Some(4096), Some(256 * 1024 * 1024)).max, 2048);
        assert_eq!(derive(Some(1024), Some(256 * 1024 * 1024)).max, 896);
    }

    #[test]
    fn no_limit_at_all_gives_the_documented_bound() {
        assert_eq!(derive(None, None).max, UNBOUNDED_MAX_CONNECTIONS);
    }
}
