//! The common causes of a failed attempt, phrased once for every probe crate.
use std::fmt;

use crate::{CheckError, scrub};

/// A cause that a driver's error text shows the same way whatever the backend: probe crates
/// recognise it in the driver's text and put its phrase before that text, so an operator reads
/// the same words for a refused Redis, MongoDB, S3 endpoint or HTTP upstream.
///
/// ```
/// use vitals_core::Cause;
///
/// let cause = Cause::recognise("io error: Connection refused (os error 111)");
/// assert_eq!(cause, Some(Cause::Refused));
/// let error = Cause::describe("PING", cause.map(Cause::phrase), "Connection refused (os error 111)");
/// assert_eq!(
///     error.message(),
///     "PING: connection refused: nothing listens at that address (Connection refused (os error 111))"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The server's certificate was not trusted.
    TlsCertificate,
    /// The server refused the credentials.
    Authentication,
    /// The host name did not resolve.
    DnsLookup,
    /// Nothing listens at the address.
    Refused,
    /// The driver gave up waiting.
    TimedOut,
}

impl Cause {
    /// The cause a driver's error text shows, if any (checked in this order: certificate,
    /// authentication, DNS, refused, timeout).
    pub fn recognise(text: &str) -> Option<Cause> {
        let lower = text.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        if has(&["certificate", "unknownissuer"]) {
            Some(Cause::TlsCertificate)
        } else if has(&[
            "wrongpass",
            "noauth",
            "invalid password",
            "authentication failed",
            "access denied",
            "access_refused",
            "authorization violation",
        ]) {
            Some(Cause::Authentication)
        } else if has(&[
            "failed to lookup",
            "name or service not known",
            "no record found",
            "dns",
            "lookup",
            "resolve",
        ]) {
            Some(Cause::DnsLookup)
        } else if has(&["refused"]) {
            Some(Cause::Refused)
        } else if has(&["timed out", "timeout"]) {
            Some(Cause::TimedOut)
        } else {
            None
        }
    }

    /// What the cause means, in words an operator acts on.
    pub fn phrase(self) -> &'static str {
        match self {
            Cause::TlsCertificate => "TLS certificate rejected",
            Cause::Authentication => "authentication failed: check the credentials",
            Cause::DnsLookup => "DNS lookup failed: the host name does not resolve (yet)",
            Cause::Refused => "connection refused: nothing listens at that address",
            Cause::TimedOut => "timed out",
        }
    }

    /// A transient failure reading `{context}: {hint} ({detail})`, or `{context}: {detail}`
    /// without a hint; `detail` (the driver's text) is scrubbed of credentials.
    pub fn describe(context: &str, hint: Option<&str>, detail: &str) -> CheckError {
        let detail = scrub(detail);
        CheckError::new(match hint {
            Some(hint) => format!("{context}: {hint} ({detail})"),
            None => format!("{context}: {detail}"),
        })
    }
}

impl Cause {
    /// [`Cause::describe`] for a driver's error value: the error and its chain of sources
    /// (as [`CheckError::from_error`] joins them) is the detail, and the cause is the one
    /// recognised in it.
    ///
    /// ```
    /// use vitals_core::Cause;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
    /// let error = Cause::describe_error("connect to db:5432", &io);
    /// assert_eq!(
    ///     error.message(),
    ///     "connect to db:5432: connection refused: nothing listens at that address (Connection refused)"
    /// );
    /// ```
    pub fn describe_error(context: &str, error: &(dyn std::error::Error + 'static)) -> CheckError {
        let chain = CheckError::from_error(error);
        let text = chain.message();
        Cause::describe(context, Cause::recognise(text).map(Cause::phrase), text)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.phrase())
    }
}
