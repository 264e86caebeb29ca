//! Who may see a probe's details (every check's status, output, endpoints, versions).
use std::net::SocketAddr;

use http::{header::AUTHORIZATION, request::Parts};

/// Who gets details (`?verbose`, [`HealthLayer::verbose`](crate::HealthLayer::verbose)).
/// Everyone else gets the terse answer, with the same status code: probes work for all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DetailsPolicy {
    /// Requests from a loopback address (what `kubectl port-forward` and a `curl` run inside
    /// the pod produce), or carrying the configured token. The default: port 5000 is often
    /// also the application's public port.
    #[default]
    Local,
    /// Every request (a port only trusted networks reach).
    Always,
    /// No request, whatever its address or token.
    Never,
}

/// The address of the client that sent a request, as the server accepted the connection.
///
/// Insert it into each request's extensions so [`DetailsPolicy::Local`] can tell loopback
/// callers from others; without it a request counts as remote. With hyper-util, per
/// connection: `req.extensions_mut().insert(ClientAddr(peer))`; with axum, copy it from
/// `ConnectInfo<SocketAddr>` in a `map_request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// The policy and the token that also admits a caller.
#[derive(Clone, Debug, Default)]
pub(crate) struct Details {
    pub(crate) policy: DetailsPolicy,
    pub(crate) token: Option<String>,
}

impl Details {
    /// Whether the request may see details.
    pub(crate) fn allowed(&self, parts: &Parts) -> bool {
        match self.policy {
            DetailsPolicy::Always => true,
            DetailsPolicy::Never => false,
            DetailsPolicy::Local => {
                let loopback = parts
                    .extensions
                    .get::<ClientAddr>()
                    .is_some_and(|ClientAddr(addr)| is_loopback(addr));
                loopback || self.token_matches(parts)
            }
        }
    }

    fn token_matches(&self, parts: &Parts) -> bool {
        let Some(token) = &self.token else {
            return false;
        };
        parts
            .headers
            .get_all(AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok()?.strip_prefix("Bearer "))
            .any(|given| same(given.trim().as_bytes(), token.as_bytes()))
    }
}

/// `127.0.0.0/8`, `::1`, and IPv4 loopback seen through a dual-stack socket
/// (`::ffff:127.0.0.1`).
fn is_loopback(addr: &SocketAddr) -> bool {
    match addr {
        SocketAddr::V4(v4) => v4.ip().is_loopback(),
        SocketAddr::V6(v6) => {
            v6.ip().is_loopback() || v6.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Compares without stopping at the first difference, so timing tells nothing of the token.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_in_every_form_is_local() {
        for addr in [
            "127.0.0.1:1",
            "127.9.9.9:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback(&addr.parse().unwrap()), "{addr}");
        }
        for addr in [
            "10.0.0.1:1",
            "[::ffff:10.0.0.1]:1",
            "[fe80::1]:1",
            "0.0.0.0:1",
        ] {
            assert!(!is_loopback(&addr.parse().unwrap()), "{addr}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abd", b"abc") && !same(b"ab", b"abc") && !same(b"", b"abc"));
    }
}
