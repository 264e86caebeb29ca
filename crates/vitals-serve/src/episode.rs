//! Trouble told once per episode: a line when it starts, one a minute while it lasts, and one
//! with the count and the duration when it ends; never a line per event.
use std::time::Duration;

use tokio::time::Instant;

/// How often a lasting episode is told again.
const REMINDER: Duration = Duration::from_secs(60);
/// An episode is over after this long without an event (not at the first success, which
/// would start a new episode, and two lines, at every failure that follows one success).
pub(crate) const QUIET: Duration = Duration::from_secs(1);

/// Why `accept` failed, told apart because each asks for something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptFailure {
    /// `EMFILE`: this process's file limit.
    FileLimit,
    /// `ENFILE`: the system's file table.
    SystemFiles,
    /// `ENOBUFS`, `ENOMEM`: the kernel's memory for sockets.
    KernelMemory,
    /// `ECONNABORTED` and the like: one client left before it was accepted. Not an episode.
    ClientGone,
    /// Anything else.
    Other,
}

impl AcceptFailure {
    pub(crate) fn of(error: &std::io::Error) -> Self {
        use rustix::io::Errno;
        let Some(code) = error.raw_os_error() else {
            return AcceptFailure::Other;
        };
        match Errno::from_raw_os_error(code) {
            Errno::MFILE => AcceptFailure::FileLimit,
            Errno::NFILE => AcceptFailure::SystemFiles,
            Errno::NOBUFS | Errno::NOMEM => AcceptFailure::KernelMemory,
            // accept(2): these are the new connection's own errors; accept again at once.
            Errno::CONNABORTED
            | Errno::CONNRESET
            | Errno::PROTO
            | Errno::PERM
            | Errno::NETDOWN
            | Errno::NOPROTOOPT
            | Errno::HOSTDOWN
            | Errno::NONET
            | Errno::HOSTUNREACH
            | Errno::OPNOTSUPP
            | Errno::NETUNREACH
            | Errno::TIMEDOUT => AcceptFailure::ClientGone,
            _ => AcceptFailure::Other,
        }
    }

    /// What it means, for the log.
    pub(crate) fn words(self) -> &'static str {
        match self {
            AcceptFailure::FileLimit => {
                "the process's file limit is reached (EMFILE): new connections wait in the backlog; shedding idle connections and retrying with backoff"
            }
            AcceptFailure::SystemFiles => {
                "the system's file table is full (ENFILE): new connections wait in the backlog; retrying with backoff"
            }
            AcceptFailure::KernelMemory => {
                "the kernel has no memory for new sockets (ENOBUFS/ENOMEM): retrying with backoff"
            }
            AcceptFailure::ClientGone => "a client left before it was accepted",
            AcceptFailure::Other => "accepting connections fails: retrying with backoff",
        }
    }
}

/// One kind of trouble that comes and goes.
#[derive(Debug)]
pub(crate) struct Episode {
    what: String,
    started: Option<Instant>,
    count: u64,
    told: Instant,
    last: Instant,
}

impl Episode {
    pub(crate) fn new() -> Self {
        Episode {
            what: String::new(),
            started: None,
            count: 0,
            told: Instant::now(),
            last: Instant::now(),
        }
    }

    /// When the episode is over unless another event comes; `None` when none is on.
    pub(crate) fn quiet_at(&self) -> Option<Instant> {
        self.started.map(|_| self.last + QUIET)
    }

    /// Ends the episode when it has been quiet long enough.
    pub(crate) fn end_if_quiet(&mut self) {
        if self.quiet_at().is_some_and(|at| Instant::now() >= at) {
            self.end();
        }
    }

    #[cfg(test)]
    fn is_on(&self) -> bool {
        self.started.is_some()
    }

    /// One more event; `what` says what it is when an episode starts (or changes kind).
    pub(crate) fn event(&mut self, what: &str, detail: impl FnOnce() -> String) {
        let now = Instant::now();
        if self.started.is_some() && self.what != what {
            self.end();
        }
        self.last = now;
        match self.started {
            None => {
                self.what = what.to_owned();
                self.started = Some(now);
                self.count = 1;
                self.told = now;
                tracing::warn!("{what} ({})", detail());
            }
            Some(started) => {
                self.count += 1;
                if now - self.told >= REMINDER {
                    self.told = now;
                    tracing::warn!(
                        "still: {} ({} times in {} s)",
                        self.what,
                        self.count,
                        (now - started).as_secs()
                    );
                }
            }
        }
    }

    /// The episode is over (no-op when none is on).
    pub(crate) fn end(&mut self) {
        if let Some(started) = self.started.take() {
            tracing::info!(
                "over: {} ({} times in {} ms)",
                self.what,
                self.count,
                (self.last - started).as_millis()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_told_apart() {
        let of = |errno: rustix::io::Errno| {
            AcceptFailure::of(&std::io::Error::from_raw_os_error(errno.raw_os_error()))
        };
        use rustix::io::Errno;
        assert_eq!(of(Errno::MFILE), AcceptFailure::FileLimit);
        assert_eq!(of(Errno::NFILE), AcceptFailure::SystemFiles);
        assert_eq!(of(Errno::NOBUFS), AcceptFailure::KernelMemory);
        assert_eq!(of(Errno::NOMEM), AcceptFailure::KernelMemory);
        assert_eq!(of(Errno::CONNABORTED), AcceptFailure::ClientGone);
        assert_eq!(of(Errno::INVAL), AcceptFailure::Other);
    }

    #[tokio::test(start_paused = true)]
    async fn an_episode_counts_and_ends_once() {
        let mut episode = Episode::new();
        assert!(!episode.is_on());
        for _ in 0..1000 {
            episode.event("file limit", || "EMFILE".to_owned());
            tokio::time::advance(Duration::from_millis(5)).await;
        }
        assert!(episode.is_on());
        assert_eq!(episode.count, 1000);
        episode.end_if_quiet();
        assert!(episode.is_on(), "not yet quiet: still on");
        tokio::time::advance(QUIET).await;
        episode.end_if_quiet();
        assert!(!episode.is_on());
        episode.event("kernel memory", String::new);
        assert_eq!(episode.count, 1, "a new episode counts from one");
        episode.event("file limit", String::new);
        assert_eq!(
            (episode.what.as_str(), episode.count),
            ("file limit", 1),
            "another kind ends the episode and starts its own"
        );
    }
}
