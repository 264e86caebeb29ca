//! `host:port` as configured: a name or an address, with `[…]` around an IPv6 address.
use std::fmt;

use vitals_core::InvalidConfig;

/// A host and port to resolve and connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The name or address, without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Endpoint {
    /// `host:port`, `[v6]:port`, or without the port when `default_port` is given.
    pub(crate) fn parse(raw: &str, default_port: Option<u16>) -> Result<Endpoint, InvalidConfig> {
        let raw = raw.trim();
        let invalid = |why: &str| {
            let expected = if default_port.is_some() {
                "host, host:port or [IPv6]:port"
            } else {
                "host:port or [IPv6]:port"
            };
            InvalidConfig::new(format!(
                "invalid endpoint {raw:?}: {why}; expected {expected}"
            ))
        };
        if raw.contains(['/', ' ', '@', '?', '#']) {
            return Err(invalid("no valid host"));
        }
        let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid("no closing bracket"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(invalid("text after the bracket")),
            }
        } else {
            match raw.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(invalid("an IPv6 address needs brackets"));
                }
                Some((host, port)) => (host, Some(port)),
                None => (raw, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no valid host"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("the port is not a number from 1 to 65535"))?,
            None => default_port.ok_or_else(|| invalid("no port"))?,
        };
        Ok(Endpoint {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn parses_names_addresses_and_defaults() {
        let e = Endpoint::parse("db.internal:5432", None).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("db.internal", 5432));
        let e = Endpoint::parse("[::1]:443", None).unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.to_string()),
            ("::1", 443, "[::1]:443".to_owned())
        );
        assert_eq!(Endpoint::parse("example.com", Some(443)).unwrap().port, 443);
    }

    #[test]
    fn refuses_what_it_cannot_read_in_words() {
        for (raw, why) in [
            ("db.internal", "no port"),
            ("db:0", "the port is not a number from 1 to 65535"),
            ("db:http", "the port is not a number from 1 to 65535"),
            ("::1:443", "an IPv6 address needs brackets"),
            ("https://x:1", "no valid host"),
            (":80", "no valid host"),
        ] {
            let error = Endpoint::parse(raw, None).unwrap_err().to_string();
            assert!(error.contains(why), "{raw}: {error}");
            assert!(error.contains("expected host:port"), "{error}");
        }
    }
}
