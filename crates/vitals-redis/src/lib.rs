//! A [`vitals_core::Check`] for Redis and Amazon ElastiCache, built on
//! [fred](https://docs.rs/fred).
//!
//! [`RedisCheck`] sends `PING`; for a cluster it also reads `CLUSTER INFO` and fails unless
//! `cluster_state:ok`. Details carry the server version (and cluster state).
//!
//! Built from a URL, the check keeps one connection only while attempts succeed with it and
//! connects afresh after any failed or cut-off attempt ([`vitals_core::ReusedClient`]), so a Redis restart is seen as a failure and then a pass without restarting
//! the application, and a Redis that is down is not hammered by a reconnect loop: the
//! registry's retries decide when to try again. Built from the application's own fred client
//! or pool, it pings that (and fred's reconnect policy applies).
//!
//! ```no_run
//! use std::time::Duration;
//! use vitals_redis::RedisCheck;
//!
//! let check = RedisCheck::builder("rediss://:password@my-cache.abc123.use1.cache.amazonaws.com:6379")
//!     .connect_timeout(Duration::from_secs(60))
//!     .command_timeout(Duration::from_secs(2))
//!     .accept_invalid_certs(true) // ElastiCache's self-signed certificates
//!     .build()
//!     .expect("a valid URL");
//! # let _ = check;
//! ```
//!
//! The builder has the vocabulary of every vitals probe crate: `builder(url)` or
//! `builder_for_client(client)`, then `name`, `component`, `secret`, `attempt_timeout` and
//! `build()`. The deployment guide's `REDIS_*` variables are read by `vitals-env`.
#![forbid(unsafe_code)]

mod tls;

use std::{fmt, time::Duration};

use fred::{
    prelude::{Builder, ClientLike, ClusterInterface, Config, Error, ErrorKind},
    types::{InfoKind, config::TlsConfig},
};
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, ReusedClient, SettingsCheck,
    async_trait, scrub, timing::attempt_grace,
};

pub use fred;

/// The deployment guide's default connect timeout for a standalone server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// The default bound of the commands of one check (`PING`, `INFO`, `CLUSTER INFO`).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(5_000);

/// Checks a Redis server or cluster with `PING` (and `CLUSTER INFO`).
pub struct RedisCheck {
    settings: CheckSettings,
    target: Target,
}

enum Target {
    Url {
        config: Box<Config>,
        /// `host:port` of the first server, for messages (never the credentials).
        endpoint: String,
        connect_timeout: Duration,
        command_timeout: Duration,
        connection: ReusedClient<fred::prelude::Client>,
    },
    Client(fred::prelude::Client),
    Pool(fred::prelude::Pool),
}

impl fmt::Debug for RedisCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Url { endpoint, .. } => endpoint.clone(),
            Target::Client(_) => "client".to_owned(),
            Target::Pool(_) => "pool".to_owned(),
        };
        f.debug_struct("RedisCheck")
            .field("name", &self.settings.name())
            .field("target", &target)
            .finish_non_exhaustive()
    }
}

/// What the check talks to.
enum Source {
    Url(String),
    Client(fred::prelude::Client),
    Pool(fred::prelude::Pool),
}

/// Builds a [`RedisCheck`].
#[must_use = "call .build() to get the check"]
pub struct RedisCheckBuilder {
    source: Source,
    settings: CheckSettings,
    connect_timeout: Duration,
    command_timeout: Duration,
    accept_invalid_certs: bool,
    roots: vitals_tls::TrustRoots,
}

impl fmt::Debug for RedisCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url(url) => scrub(url),
            Source::Client(_) => "client".to_owned(),
            Source::Pool(_) => "pool".to_owned(),
        };
        f.debug_struct("RedisCheckBuilder")
            .field("source", &source)
            .field("settings", &self.settings)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish_non_exhaustive()
    }
}

impl RedisCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "redis",
        component: "redis",
        attempt_timeout: "the driver's own bounds, connect timeout + command timeout, for a URL; the registry's default for a client or pool",
        scrubbed: "the URL's password",
    }

    /// How long connecting (TCP, TLS handshake, `AUTH`) may take (default 10 s). Only for a
    /// check built from a URL: a client keeps its own settings.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the check's commands on a connection (`PING`, `INFO`, `CLUSTER INFO`) may
    /// take together (default 5 s), apart from connecting. Only for a check built from a URL.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Accept any TLS certificate (ElastiCache's self-signed ones). Logs a warning once.
    /// Only for a check built from a URL.
    pub fn accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    vitals_tls::trust_root_methods! {
        roots: roots,
        for: "`rediss://` (only for a check built from a URL)",
    }

    /// Parses the URL and prepares the check (no connection is made yet).
    pub fn build(self) -> Result<RedisCheck, InvalidConfig> {
        let mut settings = self.settings;
        let target = match self.source {
            Source::Client(client) => {
                if let Some(password) = &client.client_config().password {
                    settings.add_secret(password.clone());
                }
                Target::Client(client)
            }
            Source::Pool(pool) => {
                if let Some(password) = pool
                    .clients()
                    .first()
                    .and_then(|c| c.client_config().password.clone())
                {
                    settings.add_secret(password);
                }
                Target::Pool(pool)
            }
            Source::Url(url) => {
                let config = parse_url(&url, self.accept_invalid_certs, &self.roots)?;
                if let Some(password) = &config.password {
                    settings.add_secret(password.clone());
                }
                let endpoint = config
                    .server
                    .hosts()
                    .first()
                    .map(|s| format!("{}:{}", s.host, s.port))
                    .unwrap_or_default();
                Target::Url {
                    config: Box::new(config),
                    endpoint,
                    connect_timeout: self.connect_timeout,
                    command_timeout: self.command_timeout,
                    connection: ReusedClient::with_discard(close),
                }
            }
        };
        Ok(RedisCheck { settings, target })
    }
}

/// A fred configuration from a URL, with the TLS settings given.
fn parse_url(
    url: &str,
    accept_invalid_certs: bool,
    roots: &vitals_tls::TrustRoots,
) -> Result<Config, InvalidConfig> {
    const SCHEMES: &[&str] = &[
        "redis",
        "rediss",
        "redis-cluster",
        "rediss-cluster",
        "valkey",
        "valkeys",
        "valkey-cluster",
        "valkeys-cluster",
    ];
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !scheme.as_deref().is_some_and(|s| SCHEMES.contains(&s)) {
        return Err(InvalidConfig::new(format!(
            "invalid Redis URL {:?}: expected a URL starting with {}://",
            scrub(url),
            SCHEMES.join("://, ")
        )));
    }
    let invalid = |why: &str| {
        InvalidConfig::new(format!(
            "invalid Redis URL {:?}: {}; expected redis://[:password@]host[:port][/db], \
             rediss://… for TLS, or redis-cluster://host:port?node=host:port…",
            scrub(url),
            scrub(why)
        ))
    };
    // The URL's syntax first, in words (fred would name `url`'s error variants).
    url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    let mut config = Config::from_url(url).map_err(|e| invalid(e.details()))?;
    if config.tls.is_some() {
        let client_config = if accept_invalid_certs {
            tls::accept_any()
        } else {
            roots.client_config().map_err(InvalidConfig::new)?
        };
        config.tls = Some(TlsConfig::from(client_config));
    }
    Ok(config)
}

impl RedisCheck {
    /// A builder for a check of the server at `url` (`redis://`, `rediss://`,
    /// `redis-cluster://`, …). The check connects itself and keeps its connection only while
    /// attempts succeed.
    pub fn builder(url: impl Into<String>) -> RedisCheckBuilder {
        RedisCheck::builder_from(Source::Url(url.into()))
    }

    /// A builder for a check of the application's own client (its reconnect policy applies).
    pub fn builder_for_client(client: fred::prelude::Client) -> RedisCheckBuilder {
        RedisCheck::builder_from(Source::Client(client))
    }

    /// A builder for a check of every connection of the application's own pool.
    pub fn builder_for_pool(pool: fred::prelude::Pool) -> RedisCheckBuilder {
        RedisCheck::builder_from(Source::Pool(pool))
    }

    fn builder_from(source: Source) -> RedisCheckBuilder {
        RedisCheckBuilder {
            source,
            settings: CheckSettings::new("redis", "redis"),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            accept_invalid_certs: false,
            roots: vitals_tls::TrustRoots::default(),
        }
    }
}

/// Sends `PING`, reads the server version, and for a cluster checks `cluster_state`.
async fn probe(client: &fred::prelude::Client) -> Result<Details, CheckError> {
    let pong: String = client
        .ping(None)
        .await
        .map_err(|e| describe("PING failed", &e))?;
    let mut details = Details::new().with("ping", pong);
    if let Ok(info) = client.info::<String>(Some(InfoKind::Server)).await {
        if let Some(version) = info_field(&info, "redis_version") {
            details = details.with("version", version);
        }
        if let Some(mode) = info_field(&info, "redis_mode") {
            details = details.with("mode", mode);
        }
    }
    if client.is_clustered() {
        let info: String = client
            .cluster_info()
            .await
            .map_err(|e| describe("CLUSTER INFO failed", &e))?;
        let state = info_field(&info, "cluster_state").unwrap_or("unknown");
        details = details.with("cluster_state", state);
        if let Some(nodes) = info_field(&info, "cluster_known_nodes") {
            details = details.with("cluster_known_nodes", nodes);
        }
        if state != "ok" {
            return Err(
                CheckError::new(format!("cluster_state is {state}, not ok")).with_details(details)
            );
        }
    }
    Ok(details)
}

fn info_field<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// A message that says what went wrong in words an operator acts on.
fn describe(context: &str, error: &Error) -> CheckError {
    let details = error.details();
    let cause = match error.kind() {
        ErrorKind::Auth => Some(Cause::Authentication),
        ErrorKind::Timeout => Cause::recognise(details).or(Some(Cause::TimedOut)),
        _ => Cause::recognise(details),
    };
    let hint = cause.map(|cause| match cause {
        Cause::TlsCertificate => {
            "TLS certificate rejected: trust its CA, or for ElastiCache's self-signed certificates \
             accept invalid certificates"
        }
        other => other.phrase(),
    });
    Cause::describe(context, hint, &readable(details))
}

/// fred reports an I/O error as its Rust `Debug` text (`Os { code: 111, kind: ConnectionRefused,
/// message: "Connection refused" }`, `Custom { kind: InvalidData, error:
/// InvalidCertificate(UnknownIssuer) }`); people read `Connection refused (os error 111)` and
/// `invalid certificate: unknown issuer`.
fn readable(details: &str) -> std::borrow::Cow<'_, str> {
    let field = |rest: &str, name: &str| -> Option<String> {
        let (_, value) = rest.split_once(&format!("{name}: "))?;
        Some(value.trim_end_matches([' ', '}']).to_owned())
    };
    if let Some(rest) = details.strip_prefix("Os {") {
        let first = |v: String| {
            v.split([',', '}'])
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        if let (Some(message), Some(code)) = (
            field(rest, "message").map(first),
            field(rest, "code").map(first),
        ) {
            return format!("{} (os error {code})", message.trim_matches('"')).into();
        }
    } else if let Some(rest) = details.strip_prefix("Custom {")
        && let Some(error) = field(rest, "error")
    {
        return words(&error).into();
    }
    details.into()
}

/// `InvalidCertificate(UnknownIssuer)` → `invalid certificate: unknown issuer`.
fn words(debug: &str) -> String {
    let mut out = String::new();
    for (i, part) in debug
        .split(['(', ')', '{', '}', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push_str(": ");
        }
        for (j, c) in part.chars().enumerate() {
            if c.is_uppercase() && j > 0 {
                out.push(' ');
            }
            out.extend(c.to_lowercase());
        }
    }
    out
}

impl RedisCheck {
    async fn check_url(
        &self,
        config: &Config,
        endpoint: &str,
        (connect_timeout, command_timeout): (Duration, Duration),
        connection: &ReusedClient<fred::prelude::Client>,
    ) -> Result<Details, CheckError> {
        let connect = || async {
            let client = Builder::from_config(config.clone())
                .with_connection_config(|c| {
                    c.connection_timeout = connect_timeout;
                    c.internal_command_timeout = connect_timeout;
                    c.max_command_attempts = 1;
                })
                .with_performance_config(|p| p.default_command_timeout = command_timeout)
                .build()
                .map_err(|e| describe("invalid Redis configuration", &e))?;
            let context = format!("connect to {endpoint}");
            match tokio::time::timeout(connect_timeout, client.init()).await {
                Ok(Ok(_task)) => Ok(client),
                Ok(Err(error)) => {
                    close(client);
                    Err(describe(&context, &error))
                }
                Err(_) => {
                    close(client);
                    Err(CheckError::new(format!(
                        "{context}: timed out after {} ms (the connect timeout)",
                        connect_timeout.as_millis()
                    )))
                }
            }
        };
        // A client is reused only after a successful attempt: after any failure, or an attempt
        // the registry cut off, the next one connects afresh.
        let client = connection.lease(|c| c.is_connected(), connect).await?;
        // fred bounds each command by `command_timeout` and says so; this outer bound, a
        // grace later, only catches the commands together.
        let commands_bound = command_timeout + attempt_grace(command_timeout);
        match tokio::time::timeout(commands_bound, probe(&client)).await {
            Ok(Ok(details)) => {
                client.keep();
                Ok(details.with("endpoint", endpoint))
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err(CheckError::new(format!(
                "PING to {endpoint}: no answer within {} ms (the command timeout)",
                commands_bound.as_millis()
            ))),
        }
    }
}

/// Closes a client in the background; a dead connection must not delay the check.
fn close(client: fred::prelude::Client) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), client.quit()).await;
        });
    }
}

#[async_trait]
impl SettingsCheck for RedisCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        match &self.target {
            // Connecting and the commands are each bounded; an attempt may need both. The
            // registry adds its grace (the one grace of the timing rule) before it cuts.
            Target::Url {
                connect_timeout,
                command_timeout,
                ..
            } => Some(*connect_timeout + *command_timeout),
            Target::Client(_) | Target::Pool(_) => None,
        }
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        match &self.target {
            Target::Url {
                config,
                endpoint,
                connect_timeout,
                command_timeout,
                connection,
            } => {
                self.check_url(
                    config,
                    endpoint,
                    (*connect_timeout, *command_timeout),
                    connection,
                )
                .await
            }
            Target::Client(client) => probe(client).await,
            Target::Pool(pool) => {
                let mut details = Details::new();
                let mut up = 0;
                for client in pool.clients() {
                    match probe(client).await {
                        Ok(d) => {
                            up += 1;
                            details = d;
                        }
                        Err(e) if up == 0 && pool.size() == 1 => return Err(e),
                        Err(e) => {
                            return Err(CheckError::new(format!(
                                "{} of {} pool connections answered; next: {e}",
                                up,
                                pool.size()
                            )));
                        }
                    }
                }
                Ok(details.with("pool_size", pool.size()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn io_errors_read_as_text_not_debug() {
        assert_eq!(
            readable(r#"Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }"#),
            "Connection refused (os error 111)"
        );
        assert_eq!(
            readable("Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }"),
            "invalid certificate: unknown issuer"
        );
        assert_eq!(
            readable("WRONGPASS invalid password"),
            "WRONGPASS invalid password"
        );
    }
}
