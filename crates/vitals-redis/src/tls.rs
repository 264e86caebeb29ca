//! TLS for Redis: the warning that opting out of
//! verification is for ElastiCache's self-signed certificates only.
use std::sync::Once;

use rustls::ClientConfig;

/// Any certificate accepted (vitals-tls), with one warning per process saying where that is
/// acceptable.
pub(crate) fn accept_any() -> ClientConfig {
    static WARN: Once = Once::new();
    WARN.call_once(|| {
        tracing::warn!(
            "Redis server certificates are not verified (invalid certificates accepted): \
             acceptable for ElastiCache's self-signed certificates inside a VPC, nowhere else"
        );
    });
    vitals_tls::accept_any()
}
