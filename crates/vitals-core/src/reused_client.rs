//! A driver client kept between attempts only while it works.
use std::{
    fmt,
    future::Future,
    ops::{Deref, DerefMut},
    sync::{Mutex, PoisonError},
};

/// A client (connection, pool) that a check reuses between attempts only after an attempt
/// that succeeded with it. After a failed attempt, or one the registry cut off (its future is
/// dropped), the client is discarded and the next attempt connects afresh: a check never gets
/// stuck on a broken connection, and a restarted server is reached again.
///
/// ```
/// use vitals_core::ReusedClient;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let clients: ReusedClient<String> = ReusedClient::new();
/// let lease = clients
///     .lease(|_| true, || async { Ok::<_, std::io::Error>("connection 1".to_owned()) })
///     .await
///     .unwrap();
/// assert_eq!(&*lease, "connection 1");
/// lease.keep(); // the attempt succeeded
///
/// let lease = clients.lease(|_| true, || async { Ok::<_, std::io::Error>("connection 2".to_owned()) }).await.unwrap();
/// assert_eq!(&*lease, "connection 1");
/// drop(lease); // failed or cut off: discarded
///
/// let lease = clients.lease(|_| true, || async { Ok::<_, std::io::Error>("connection 3".to_owned()) }).await.unwrap();
/// assert_eq!(&*lease, "connection 3");
/// # }
/// ```
pub struct ReusedClient<T> {
    slot: Mutex<Option<T>>,
    discard: fn(T),
}

impl<T> fmt::Debug for ReusedClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = self.lock().is_some();
        f.debug_struct("ReusedClient").field("kept", &kept).finish()
    }
}

impl<T> Default for ReusedClient<T> {
    fn default() -> Self {
        ReusedClient::new()
    }
}

impl<T> ReusedClient<T> {
    /// No client yet; a discarded client is dropped.
    pub const fn new() -> Self {
        ReusedClient::with_discard(drop)
    }

    /// No client yet; a discarded client is passed to `discard` (to close it in the
    /// background, say).
    pub const fn with_discard(discard: fn(T)) -> Self {
        ReusedClient {
            slot: Mutex::new(None),
            discard,
        }
    }

    /// Lends the kept client if `usable` accepts it, else discards it and lends a new one
    /// from `connect`. The lease returns the client only through [`ClientLease::keep`].
    pub async fn lease<E, Fut>(
        &self,
        usable: impl FnOnce(&T) -> bool,
        connect: impl FnOnce() -> Fut,
    ) -> Result<ClientLease<'_, T>, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let kept = self.lock().take();
        let client = match kept {
            Some(client) if usable(&client) => client,
            stale => {
                if let Some(stale) = stale {
                    (self.discard)(stale);
                }
                connect().await?
            }
        };
        Ok(ClientLease {
            home: self,
            client: Some(client),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<T>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A client lent by [`ReusedClient::lease`] for one attempt.
#[must_use = "call .keep() after a successful attempt, or the client is discarded"]
pub struct ClientLease<'a, T> {
    home: &'a ReusedClient<T>,
    client: Option<T>,
}

impl<T> ClientLease<'_, T> {
    /// The attempt succeeded: keep the client for the next one.
    pub fn keep(mut self) {
        if let Some(client) = self.client.take() {
            let replaced = self.home.lock().replace(client);
            if let Some(other) = replaced {
                (self.home.discard)(other);
            }
        }
    }
}

impl<T> Deref for ClientLease<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.client.as_ref().expect("present until kept or dropped")
    }
}

impl<T> DerefMut for ClientLease<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.client.as_mut().expect("present until kept or dropped")
    }
}

impl<T> Drop for ClientLease<'_, T> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            (self.home.discard)(client);
        }
    }
}

impl<T> fmt::Debug for ClientLease<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientLease").finish_non_exhaustive()
    }
}
