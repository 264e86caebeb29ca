//! The open connections: what phase each is in, which to shed at the bound, and when one has
//! outstayed its phase's timeout.
use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

use crate::Limits;

/// Milliseconds since the server started: timestamps fit an atomic.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn new() -> Self {
        Clock(Instant::now())
    }

    pub(crate) fn now(self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }

    fn at(self, millis: u64) -> Instant {
        self.0 + Duration::from_millis(millis)
    }
}

/// One open connection.
#[derive(Debug)]
pub(crate) struct Connection {
    id: u64,
    clock: Clock,
    /// Requests whose response has not been sent to its end.
    in_flight: AtomicU32,
    /// Whether a request has been read whole.
    served: AtomicBool,
    /// When the last request ended (or the connection was accepted).
    idle_since: AtomicU64,
    /// When the first of the requests in flight began.
    busy_since: AtomicU64,
    /// When a write found the client's receive window full, plus one; 0 while writes go.
    write_blocked_since: AtomicU64,
    /// Told when the connection is shed.
    pub(crate) shed: Notify,
}

impl Connection {
    pub(crate) fn begin(&self) {
        self.served.store(true, Relaxed);
        if self.in_flight.fetch_add(1, Relaxed) == 0 {
            self.busy_since.store(self.clock.now(), Relaxed);
        }
    }

    pub(crate) fn end(&self) {
        if self.in_flight.fetch_sub(1, Relaxed) == 1 {
            self.idle_since.store(self.clock.now(), Relaxed);
        }
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Relaxed) == 0
    }

    pub(crate) fn write_blocked(&self) {
        if self.write_blocked_since.load(Relaxed) == 0 {
            self.write_blocked_since
                .store(self.clock.now() + 1, Relaxed);
        }
    }

    pub(crate) fn write_went(&self) {
        if self.write_blocked_since.load(Relaxed) != 0 {
            self.write_blocked_since.store(0, Relaxed);
        }
    }

    /// Returns why the connection ends, when one of its phase's bounds has passed.
    pub(crate) async fn outstay(&self, limits: &Limits) -> Outstayed {
        let ms = |d: Duration| d.as_millis() as u64;
        let header = ms(limits.header_read_timeout);
        let idle = ms(limits.idle_timeout);
        let send = ms(limits.send_timeout);
        // State changes wake nobody: the next look is at most this far away.
        let look = header.min(idle).min(send).max(1);
        loop {
            let now = self.clock.now();
            let mut deadline = now + look;
            if self.is_idle() {
                let (bound, why) = if self.served.load(Relaxed) {
                    (idle, Outstayed::Idle)
                } else {
                    (header, Outstayed::NoRequest)
                };
                let due = self.idle_since.load(Relaxed) + bound;
                if now >= due {
                    return why;
                }
                deadline = deadline.min(due);
            }
            let blocked = self.write_blocked_since.load(Relaxed);
            if blocked != 0 {
                let due = blocked - 1 + send;
                if now >= due {
                    return Outstayed::NotReading;
                }
                deadline = deadline.min(due);
            }
            tokio::time::sleep_until(self.clock.at(deadline)).await;
        }
    }
}

/// Why a connection was closed by its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outstayed {
    NoRequest,
    Idle,
    NotReading,
}

impl Outstayed {
    pub(crate) fn words(self) -> &'static str {
        match self {
            Outstayed::NoRequest => "no request headers within the header read timeout",
            Outstayed::Idle => "idle for the idle timeout",
            Outstayed::NotReading => "the client did not read its response for the send timeout",
        }
    }
}

/// Which connection made room at the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shed {
    /// One with no request in flight: stalled in its headers, or idle.
    Idle,
    /// The one whose requests began longest ago (a long-lived stream).
    Oldest,
}

impl Shed {
    pub(crate) fn words(self) -> &'static str {
        match self {
            Shed::Idle => "the oldest idle or stalled connection",
            Shed::Oldest => "the oldest long-lived stream (none was idle)",
        }
    }
}

/// Every open connection, oldest first.
#[derive(Debug)]
pub(crate) struct Connections {
    clock: Clock,
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Connection>>>,
}

impl Connections {
    pub(crate) fn new(clock: Clock) -> Self {
        Connections {
            clock,
            next: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.open.lock().expect("not poisoned").len()
    }

    pub(crate) fn open(&self) -> Arc<Connection> {
        let now = self.clock.now();
        let connection = Arc::new(Connection {
            id: self.next.fetch_add(1, Relaxed),
            clock: self.clock,
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(now),
            busy_since: AtomicU64::new(now),
            write_blocked_since: AtomicU64::new(0),
            shed: Notify::new(),
        });
        self.open
            .lock()
            .expect("not poisoned")
            .insert(connection.id, connection.clone());
        connection
    }

    pub(crate) fn close(&self, connection: &Connection) {
        self.open
            .lock()
            .expect("not poisoned")
            .remove(&connection.id);
    }

    /// Ends one connection to make room: the oldest with no request in flight, else (with
    /// `busy_too`) the one whose requests began longest ago. Probes are short: the
    /// connections shed are stalled, idle, or long-lived streams.
    pub(crate) fn shed(&self, busy_too: bool) -> Option<Shed> {
        let mut open = self.open.lock().expect("not poisoned");
        let mut oldest_busy: Option<(u64, u64)> = None;
        let mut chosen = None;
        for (id, connection) in open.iter() {
            if connection.is_idle() {
                chosen = Some((*id, Shed::Idle));
                break;
            }
            let since = connection.busy_since.load(Relaxed);
            if oldest_busy.is_none_or(|(_, oldest)| since < oldest) {
                oldest_busy = Some((*id, since));
            }
        }
        let (id, shed) = match chosen {
            Some(chosen) => chosen,
            None if busy_too => (oldest_busy?.0, Shed::Oldest),
            None => return None,
        };
        let connection = open.remove(&id).expect("found above");
        connection.shed.notify_one();
        Some(shed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_oldest_idle_connection_is_shed_first_then_the_oldest_stream() {
        let connections = Connections::new(Clock::new());
        let stream = connections.open();
        stream.begin();
        tokio::time::advance(Duration::from_secs(1)).await;
        let probe = connections.open();
        probe.begin();
        let stalled = connections.open();
        let idle = connections.open();
        idle.begin();
        idle.end();
        assert_eq!(connections.shed(true), Some(Shed::Idle));
        assert_eq!(connections.len(), 3);
        assert!(stalled.is_idle());
        assert_eq!(connections.shed(true), Some(Shed::Idle));
        assert_eq!(connections.shed(false), None, "busy ones only when asked");
        assert_eq!(connections.shed(true), Some(Shed::Oldest));
        // The stream (busy for longer) went; the probe stays.
        let open = connections.open.lock().unwrap();
        assert_eq!(open.keys().copied().collect::<Vec<_>>(), vec![probe.id]);
    }

    #[tokio::test(start_paused = true)]
    async fn each_phase_outstays_its_own_bound() {
        let limits = Limits::default();
        let connections = Connections::new(Clock::new());
        let start = Instant::now();
        let stalled = connections.open();
        assert_eq!(stalled.outstay(&limits).await, Outstayed::NoRequest);
        assert_eq!(start.elapsed(), limits.header_read_timeout);

        let keep_alive = connections.open();
        keep_alive.begin();
        tokio::time::advance(Duration::from_secs(300)).await;
        keep_alive.end();
        let start = Instant::now();
        assert_eq!(keep_alive.outstay(&limits).await, Outstayed::Idle);
        assert_eq!(start.elapsed(), limits.idle_timeout);

        let not_reading = connections.open();
        not_reading.begin();
        not_reading.write_blocked();
        let start = Instant::now();
        assert_eq!(not_reading.outstay(&limits).await, Outstayed::NotReading);
        assert!(start.elapsed() <= limits.send_timeout + Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_is_read_stays_open() {
        let limits = Limits::default();
        let connections = Connections::new(Clock::new());
        let stream = connections.open();
        stream.begin();
        tokio::select! {
            why = stream.outstay(&limits) => panic!("closed: {why:?}"),
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
