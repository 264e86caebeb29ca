//! A [`vitals_core::Check`] for PostgreSQL and MySQL/MariaDB, built on
//! [sqlx](https://docs.rs/sqlx).
//!
//! [`SqlCheck`] runs one query that says which server answered (`SELECT
//! current_setting('server_version')` on PostgreSQL, `SELECT VERSION()` on MySQL/MariaDB);
//! details carry the version, the endpoint and, for a pool, its size.
//!
//! - **With the application's pool** ([`SqlCheck::builder_for_pool`], a sqlx `PgPool` or
//!   `MySqlPool`), the check borrows a connection the way a request would. A pool that hands
//!   out no connection within the acquire timeout is reported as such (every connection busy,
//!   or none can be opened), apart from a server that takes a connection and then does not
//!   answer the query.
//! - **With a URL** ([`SqlCheck::builder`]), the check keeps one connection of its own, and
//!   only while attempts succeed with it ([`vitals_core::ReusedClient`]). It is not a sqlx
//!   pool on purpose: a pool retries a refused connection until its acquire timeout, so an
//!   operator would read "pool timed out" where the driver knows "connection refused".
//!
//! ```no_run
//! use std::time::Duration;
//! use vitals_sql::{SqlCheck, SqlTls};
//!
//! let check = SqlCheck::builder("postgres://app:secret@db.internal:5432/app")
//!     .tls(SqlTls::VerifyFull)
//!     .root_certificates_file("/etc/ssl/certs/rds-global-bundle.pem")
//!     .connect_timeout(Duration::from_secs(5))
//!     .build()
//!     .expect("a valid URL");
//! # let _ = check;
//! ```
//!
//! The builder has the vocabulary of every vitals probe crate: `builder(url)` or
//! `builder_for_pool(pool)`, then `name`, `component`, `secret`, `attempt_timeout` and
//! `build()`. `DATABASE_URL` is read by `vitals-env`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::{
    fmt,
    str::FromStr,
    time::{Duration, Instant},
};

use sqlx::{ConnectOptions, Connection as _};
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, ReusedClient, SettingsCheck,
    async_trait, scrub,
};

pub use sqlx;

/// The default bound of opening a connection (TCP, TLS, authentication).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default bound of the check's query on a connection.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The default bound of borrowing a connection from the application's pool.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The URL schemes the check accepts.
pub const SCHEMES: &[&str] = &[
    #[cfg(feature = "postgres")]
    "postgres",
    #[cfg(feature = "postgres")]
    "postgresql",
    #[cfg(feature = "mysql")]
    "mysql",
    #[cfg(feature = "mysql")]
    "mariadb",
];

/// Whether and how the check's own connection uses TLS (libpq's `sslmode` names). Unset, the
/// URL's `sslmode`/`ssl-mode` applies, else the driver's default (`prefer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlTls {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, without verification.
    Prefer,
    /// TLS required, the certificate not verified.
    Require,
    /// TLS required, the certificate verified against the trusted CAs.
    VerifyCa,
    /// TLS required, the certificate verified and issued for the host name.
    VerifyFull,
}

impl FromStr for SqlTls {
    type Err = InvalidConfig;

    /// `disable`, `prefer`, `require`, `verify-ca` or `verify-full` (MySQL's `disabled`,
    /// `preferred`, `required`, `verify_ca`, `verify_identity` too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" | "disabled" => Ok(SqlTls::Disable),
            "prefer" | "preferred" => Ok(SqlTls::Prefer),
            "require" | "required" => Ok(SqlTls::Require),
            "verify-ca" => Ok(SqlTls::VerifyCa),
            "verify-full" | "verify-identity" => Ok(SqlTls::VerifyFull),
            other => Err(InvalidConfig::new(format!(
                "unknown TLS mode {other:?}: expected disable, prefer, require, verify-ca or verify-full"
            ))),
        }
    }
}

/// The application's own sqlx pool.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SqlPool {
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A MySQL/MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for SqlPool {
    fn from(pool: sqlx::PgPool) -> Self {
        SqlPool::Postgres(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for SqlPool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        SqlPool::MySql(pool)
    }
}

/// The check's own connection options.
#[derive(Clone, Debug)]
enum Options {
    #[cfg(feature = "postgres")]
    Postgres(Box<sqlx::postgres::PgConnectOptions>),
    #[cfg(feature = "mysql")]
    MySql(Box<sqlx::mysql::MySqlConnectOptions>),
}

/// The check's own connection.
enum Connection {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlConnection),
}

/// Checks a PostgreSQL or MySQL/MariaDB server with one query.
pub struct SqlCheck {
    settings: CheckSettings,
    query_timeout: Duration,
    target: Target,
}

enum Target {
    Url {
        options: Options,
        endpoint: String,
        connect_timeout: Duration,
        connection: ReusedClient<Connection>,
    },
    Pool {
        pool: SqlPool,
        acquire_timeout: Duration,
    },
}

impl fmt::Debug for SqlCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Url { endpoint, .. } => endpoint.clone(),
            Target::Pool { .. } => "pool".to_owned(),
        };
        f.debug_struct("SqlCheck")
            .field("name", &self.settings.name())
            .field("target", &target)
            .finish_non_exhaustive()
    }
}

enum Source {
    Url(String),
    Pool(SqlPool),
}

/// Builds a [`SqlCheck`].
#[must_use = "call .build() to get the check"]
pub struct SqlCheckBuilder {
    source: Source,
    settings: CheckSettings,
    connect_timeout: Duration,
    query_timeout: Duration,
    acquire_timeout: Duration,
    tls: Option<SqlTls>,
    roots: vitals_tls::TrustRoots,
}

impl fmt::Debug for SqlCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url(url) => scrub(url),
            Source::Pool(_) => "pool".to_owned(),
        };
        f.debug_struct("SqlCheckBuilder")
            .field("source", &source)
            .field("settings", &self.settings)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl SqlCheck {
    /// A builder for a check of the server at `url` (`postgres://`, `postgresql://`,
    /// `mysql://` or `mariadb://`, as sqlx reads `DATABASE_URL`), with one connection of its
    /// own.
    pub fn builder(url: impl Into<String>) -> SqlCheckBuilder {
        SqlCheck::builder_from(Source::Url(url.into()))
    }

    /// A builder for a check of the application's own pool (`PgPool` or `MySqlPool`).
    pub fn builder_for_pool(pool: impl Into<SqlPool>) -> SqlCheckBuilder {
        SqlCheck::builder_from(Source::Pool(pool.into()))
    }

    fn builder_from(source: Source) -> SqlCheckBuilder {
        SqlCheckBuilder {
            source,
            settings: CheckSettings::new("database", "database"),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            tls: None,
            roots: vitals_tls::TrustRoots::default(),
        }
    }
}

impl SqlCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "database",
        component: "database",
        attempt_timeout: "the driver's bounds, connect or acquire timeout + query timeout",
        scrubbed: "the URL's password",
    }

    /// How long opening the check's own connection may take: TCP, TLS and authentication
    /// (default 10 s). Only for a check built from a URL.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the query may take on a connection (default 5 s).
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// How long borrowing a connection from the application's pool may take (default 5 s).
    /// Only for a check built from a pool.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// TLS for the check's own connection (overrides the URL's `sslmode`/`ssl-mode`).
    pub fn tls(mut self, tls: SqlTls) -> Self {
        self.tls = Some(tls);
        self
    }

    vitals_tls::trust_root_methods! {
        roots: roots,
        for: "the database's TLS (a private CA, RDS's bundle; sqlx adds them to its roots, so \
              `only_these_roots` is refused at build)",
    }

    /// Parses the URL and prepares the check (no connection is made yet).
    pub fn build(self) -> Result<SqlCheck, InvalidConfig> {
        let mut settings = self.settings;
        let target = match self.source {
            // sqlx keeps a pool's password to itself (no getter, never formatted here); the
            // registry still scrubs `user:password@` from any driver message, and
            // `.secret(password)` adds the bare password.
            Source::Pool(pool) => Target::Pool {
                pool,
                acquire_timeout: self.acquire_timeout,
            },
            Source::Url(url) => {
                let (options, endpoint, password) = parse_url(&url, self.tls, &self.roots)?;
                if let Some(password) = password {
                    settings.add_secret(password);
                }
                Target::Url {
                    options,
                    endpoint,
                    connect_timeout: self.connect_timeout,
                    connection: ReusedClient::new(),
                }
            }
        };
        Ok(SqlCheck {
            settings,
            query_timeout: self.query_timeout,
            target,
        })
    }
}

/// The connect options, `host:port` for messages and the password to scrub.
fn parse_url(
    url: &str,
    tls: Option<SqlTls>,
    roots: &vitals_tls::TrustRoots,
) -> Result<(Options, String, Option<String>), InvalidConfig> {
    let chain = roots.added_chain("sqlx").map_err(InvalidConfig::new)?;
    let invalid = |why: &str| {
        InvalidConfig::new(format!(
            "invalid database URL {:?}: {}; expected {}://user:password@host[:port]/database",
            scrub(url),
            scrub(why),
            SCHEMES.join("://, ")
        ))
    };
    let parsed = url::Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
    let scheme = parsed.scheme().to_ascii_lowercase();
    if !SCHEMES.contains(&scheme.as_str()) {
        return Err(invalid(&format!("unsupported scheme {scheme:?}")));
    }
    let password = parsed
        .password()
        .map(|p| {
            url::form_urlencoded::parse(format!("p={p}").as_bytes())
                .next()
                .map_or_else(|| p.to_owned(), |(_, v)| v.into_owned())
        })
        .filter(|p| !p.is_empty());
    let options = match scheme.as_str() {
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            use sqlx::postgres::{PgConnectOptions, PgSslMode};
            let mut options =
                PgConnectOptions::from_str(url.trim()).map_err(|e| invalid(&e.to_string()))?;
            if let Some(tls) = tls {
                options = options.ssl_mode(match tls {
                    SqlTls::Disable => PgSslMode::Disable,
                    SqlTls::Prefer => PgSslMode::Prefer,
                    SqlTls::Require => PgSslMode::Require,
                    SqlTls::VerifyCa => PgSslMode::VerifyCa,
                    SqlTls::VerifyFull => PgSslMode::VerifyFull,
                });
            }
            if let Some(chain) = &chain {
                options = options.ssl_root_cert_from_pem(chain.clone().into_bytes());
            }
            Options::Postgres(Box::new(options))
        }
        #[cfg(feature = "mysql")]
        _ => {
            use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
            // sqlx reads `mariadb://` as MySQL only through its `Any` driver.
            let mysql_url = match url.trim().split_once("://") {
                Some((_, rest)) => format!("mysql://{rest}"),
                None => url.trim().to_owned(),
            };
            let mut options =
                MySqlConnectOptions::from_str(&mysql_url).map_err(|e| invalid(&e.to_string()))?;
            if let Some(tls) = tls {
                options = options.ssl_mode(match tls {
                    SqlTls::Disable => MySqlSslMode::Disabled,
                    SqlTls::Prefer => MySqlSslMode::Preferred,
                    SqlTls::Require => MySqlSslMode::Required,
                    SqlTls::VerifyCa => MySqlSslMode::VerifyCa,
                    SqlTls::VerifyFull => MySqlSslMode::VerifyIdentity,
                });
            }
            if let Some(chain) = &chain {
                options = options.ssl_ca_from_pem(chain.clone().into_bytes());
            }
            Options::MySql(Box::new(options))
        }
        #[cfg(not(feature = "mysql"))]
        _ => unreachable!("SCHEMES lists only the enabled drivers"),
    };
    let endpoint = match &options {
        #[cfg(feature = "postgres")]
        Options::Postgres(o) => format!("{}:{}", o.get_host(), o.get_port()),
        #[cfg(feature = "mysql")]
        Options::MySql(o) => format!("{}:{}", o.get_host(), o.get_port()),
    };
    Ok((options, endpoint, password))
}

/// The driver's error, in words: the cause first when one is recognised.
fn describe(context: &str, error: &sqlx::Error) -> CheckError {
    let text = readable(error);
    let cause = match error {
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|code| matches!(&*code, "28P01" | "28000" | "1045")) =>
        {
            Some(Cause::Authentication)
        }
        sqlx::Error::Tls(_) => Cause::recognise(&text).or(Some(Cause::TlsCertificate)),
        _ => Cause::recognise(&text),
    };
    Cause::describe(context, cause.map(Cause::phrase), &text)
}

/// sqlx's Display with its sources (a TLS error's top line alone says only "error occurred
/// while attempting to establish a TLS connection").
fn readable(error: &sqlx::Error) -> String {
    CheckError::from_error(error).message().to_owned()
}

impl Options {
    async fn connect(&self) -> Result<Connection, sqlx::Error> {
        Ok(match self {
            #[cfg(feature = "postgres")]
            Options::Postgres(options) => Connection::Postgres(options.connect().await?),
            #[cfg(feature = "mysql")]
            Options::MySql(options) => Connection::MySql(options.connect().await?),
        })
    }
}

/// The query that says which server answered.
#[cfg(feature = "postgres")]
const POSTGRES_VERSION: &str = "SELECT current_setting('server_version')";
#[cfg(feature = "mysql")]
const MYSQL_VERSION: &str = "SELECT VERSION()";

impl Connection {
    async fn version(&mut self) -> Result<String, sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => sqlx::query_scalar(POSTGRES_VERSION).fetch_one(c).await,
            #[cfg(feature = "mysql")]
            Connection::MySql(c) => sqlx::query_scalar(MYSQL_VERSION).fetch_one(c).await,
        }
    }
}

impl SqlCheck {
    /// Runs the version query within the query timeout.
    async fn query<F>(&self, endpoint: &str, query: F) -> Result<Details, CheckError>
    where
        F: Future<Output = Result<String, sqlx::Error>>,
    {
        let started = Instant::now();
        match tokio::time::timeout(self.query_timeout, query).await {
            Ok(Ok(version)) => Ok(Details::new()
                .with("version", version)
                .with("endpoint", endpoint)
                .with("latency_ms", started.elapsed().as_millis())),
            Ok(Err(error)) => Err(describe(&format!("query on {endpoint}"), &error)),
            Err(_) => Err(CheckError::new(format!(
                "query on {endpoint}: no answer within {} ms (the query timeout): the server \
                 accepted the connection but does not answer",
                self.query_timeout.as_millis()
            ))),
        }
    }

    async fn check_url(
        &self,
        options: &Options,
        endpoint: &str,
        connect_timeout: Duration,
        connection: &ReusedClient<Connection>,
    ) -> Result<Details, CheckError> {
        let connect = || async {
            match tokio::time::timeout(connect_timeout, options.connect()).await {
                Ok(Ok(connection)) => Ok(connection),
                Ok(Err(error)) => Err(describe(&format!("connect to {endpoint}"), &error)),
                Err(_) => Err(CheckError::new(format!(
                    "connect to {endpoint}: timed out after {} ms (the connect timeout)",
                    connect_timeout.as_millis()
                ))),
            }
        };
        let mut lease = connection.lease(|_| true, connect).await?;
        let details = self.query(endpoint, lease.version()).await?;
        lease.keep();
        Ok(details)
    }

    async fn check_pool(
        &self,
        pool: &SqlPool,
        acquire_timeout: Duration,
    ) -> Result<Details, CheckError> {
        macro_rules! borrow_and_query {
            ($pool:expr, $query:expr) => {{
                let pool = $pool;
                let (size, idle, max) = (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                );
                let options = pool.connect_options();
                let endpoint = format!("{}:{}", options.get_host(), options.get_port());
                let mut connection = match tokio::time::timeout(acquire_timeout, pool.acquire())
                    .await
                {
                    Ok(Ok(connection)) => connection,
                    Ok(Err(error)) if !matches!(error, sqlx::Error::PoolTimedOut) => {
                        return Err(describe(
                            &format!("borrow a connection for {endpoint}"),
                            &error,
                        ));
                    }
                    _ => {
                        // The counts are those when the check asked. A full pool with nothing
                        // idle was busy. Otherwise the pool could not
                        // open a connection: one of the check's own (within the query
                        // timeout, which this attempt did not use) says what the driver sees.
                        let why = if idle > 0 {
                            // sqlx tests an idle connection before handing it out
                            // (`test_before_acquire`): the test query went unanswered.
                            "its idle connection did not answer the pool's test query: the \
                             server accepted the connection but does not answer"
                                .to_owned()
                        } else if size >= max && idle == 0 {
                            "every connection is in use".to_owned()
                        } else {
                            match tokio::time::timeout(self.query_timeout, options.connect()).await
                            {
                                Ok(Ok(connection)) => {
                                    let _ = connection.close().await;
                                    "a new connection opens now: the pool was slow to hand one out"
                                        .to_owned()
                                }
                                Ok(Err(error)) => {
                                    describe(&format!("connect to {endpoint}"), &error)
                                        .message()
                                        .to_owned()
                                }
                                Err(_) => format!(
                                    "connect to {endpoint}: timed out after {} ms",
                                    self.query_timeout.as_millis()
                                ),
                            }
                        };
                        return Err(CheckError::new(format!(
                            "the application's pool for {endpoint} handed out no connection \
                             within {} ms ({size} open, {idle} idle, at most {max}): {why}",
                            acquire_timeout.as_millis()
                        )));
                    }
                };
                let details = self
                    .query(
                        &endpoint,
                        sqlx::query_scalar($query).fetch_one(&mut *connection),
                    )
                    .await;
                if details.is_err() {
                    // A connection that failed the query must not serve the application next.
                    connection.close_on_drop();
                }
                details.map(|d| {
                    d.with("pool_size", size)
                        .with("pool_idle", idle)
                        .with("pool_max", max)
                })
            }};
        }
        match pool {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => borrow_and_query!(pool, POSTGRES_VERSION),
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => borrow_and_query!(pool, MYSQL_VERSION),
        }
    }
}

#[async_trait]
impl SettingsCheck for SqlCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(match &self.target {
            Target::Url {
                connect_timeout, ..
            } => *connect_timeout + self.query_timeout,
            Target::Pool {
                acquire_timeout, ..
            } => *acquire_timeout + self.query_timeout,
        })
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        match &self.target {
            Target::Url {
                options,
                endpoint,
                connect_timeout,
                connection,
            } => {
                self.check_url(options, endpoint, *connect_timeout, connection)
                    .await
            }
            Target::Pool {
                pool,
                acquire_timeout,
            } => self.check_pool(pool, *acquire_timeout).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_modes_read_both_spellings() {
        assert_eq!("verify-full".parse::<SqlTls>().unwrap(), SqlTls::VerifyFull);
        assert_eq!(
            "VERIFY_IDENTITY".parse::<SqlTls>().unwrap(),
            SqlTls::VerifyFull
        );
        assert_eq!("disabled".parse::<SqlTls>().unwrap(), SqlTls::Disable);
        let error = "tight".parse::<SqlTls>().unwrap_err().to_string();
        assert!(error.contains("verify-full"), "{error}");
    }

    #[test]
    fn a_bad_url_names_what_is_accepted_without_its_password() {
        let error = SqlCheck::builder("redis://u:hunter2@db:5432/x")
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains("postgres://"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
