//! The deployment guide's environment profile, in one place.
//!
//! Every variable vitals reads is named, parsed, validated and documented here ([`VARIABLES`],
//! rendered as the README's table by [`markdown_table`]); nothing else in vitals reads the
//! environment. [`EnvConfig::from_env`] returns one typed configuration, or [`EnvErrors`]: one
//! [`EnvError`] per invalid variable, each naming the variable, quoting its value (credentials
//! scrubbed) and saying what is accepted. [`EnvConfig::health_builder`] registers the checks it configures:
//!
//! | check | added by | component | critical | feature |
//! |---|---|---|---|---|
//! | `mongo` | `MONGO_URI` | `mongo` | yes | `mongodb` |
//! | `redis` | `REDIS_URI` | `redis` | no, by default (`NON_CRITICAL_HEALTH_CHECKS`) | `redis` |
//! | `storage` | any `*_STORAGE_BUCKET` | `storage` | yes | `s3` |
//! | `custom_code` | `CUSTOM_CODE_RUNNER_URI` | `custom_code` | yes | `http` |
//! | `database` | `DATABASE_URL` | `database` | yes | `sql` |
//! | `amqp` | `AMQP_URL` | `amqp` | yes | `amqp` |
//! | `nats` | `NATS_URL` | `nats` | yes | `nats` |
//! | `certificate:host:port` | each of `TLS_CERTIFICATE_ENDPOINTS` | `certificate` | yes | `certificate` |
//! | `disk` | `DISK_SPACE_PATH` | `disk` | yes | `disk` |
//! | `sqs` | `SQS_QUEUES` | `sqs` | yes | `sqs` |
//! | `sns` | `SNS_TOPICS` | `sns` | yes | `sns` |
//! | `dynamodb` | `DYNAMODB_TABLES` | `dynamodb` | yes | `dynamodb` |
//! | `secrets` | `SECRETS_MANAGER_SECRETS` | `secrets` | yes | `secretsmanager` |
//! | `kms` | `KMS_KEYS` | `kms` | yes | `kms` |
//! | `kafka` | `KAFKA_BOOTSTRAP_SERVERS` | `kafka` | yes | `kafka` |
//!
//! **Features**: one per backend (the table's last column; `full` for all), none by default,
//! so a service compiles only the drivers of the checks it runs. A backend's variable set in a
//! build without its feature is refused at startup, naming the feature ([`variables::Feature`]).
//!
//! ```
//! # #[cfg(feature = "redis")] {
//! use vitals_env::EnvConfig;
//!
//! let env = [("HEALTH_CHECK_RETRIES", "5"), ("REDIS_URI", "redis://:secret@cache:6379")];
//! let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
//! let config = EnvConfig::from_lookup(lookup).unwrap();
//! assert_eq!(config.backoff.retries(), 5);
//! assert_eq!(config.check_names().collect::<Vec<_>>(), ["redis"]);
//!
//! let err = EnvConfig::from_lookup(|n| (n == "SKIP_HEALTH_CHECKS").then(|| "mongodb".into()))
//!     .unwrap_err();
//! assert_eq!(err.first().variable(), "SKIP_HEALTH_CHECKS");
//! assert!(err.to_string().contains("mongo, redis, storage, custom_code"));
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod listen;
mod parse;
pub mod variables;

use std::{fmt, net::IpAddr, sync::Arc, time::Duration};

use vitals_core::{Check, CheckOptions, Health, HealthBuilder, Skip};
use vitals_retry::Backoff;

pub use error::{EnvError, EnvErrors};
pub use listen::ListenError;
pub use parse::COMPONENTS;
pub use variables::{DefaultValue, VARIABLES, Variable, markdown_table};
pub use vitals_core::Components;
pub use vitals_tower::DetailsPolicy;

use parse::Reader;
use variables as var;

/// The deployment guide's lifecycle rule of the tmp bucket: objects expire after 7 days. The
/// deep storage check expects it, and deploy/terraform creates it (a test ties the two).
pub const TMP_EXPIRATION_DAYS: i32 = 7;

/// The method the static bucket's CORS rule must allow (the guide's browser downloads).
pub const STATIC_CORS_METHOD: &str = "GET";

/// The route the deployment guide probes, beside the probes' own paths, and the probe it
/// answers: every check. `vitals-server` serves it; `vitals-lint` accepts a probe of it.
pub const GUIDE_ROUTE: (&str, vitals_core::Probe) = ("/", vitals_core::Probe::All);

/// After `SHUTDOWN_DELAY_MS`, how long in-flight requests may take to finish: a pod's
/// `terminationGracePeriodSeconds` must hold both. `vitals-server` drains for this long;
/// `vitals-lint` checks the grace period against it.
pub const IN_FLIGHT_DRAIN: Duration = Duration::from_secs(30);

/// A boolean as every boolean variable spells it: `true`/`false`, `1`/`0`, `yes`/`no`,
/// `on`/`off`, any case, surrounding whitespace tolerated; `None` for anything else.
pub fn boolean(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Unset variables read their default from [`VARIABLES`], through the same parser: the
/// documented default is the only one.
const DEFAULTED: &str = "VARIABLES gives this variable a default";

/// The largest retry count accepted.
const MAX_RETRIES: u64 = 1_000;

/// Everything the environment configures, validated.
#[non_exhaustive]
pub struct EnvConfig {
    /// `PORT`.
    pub port: u16,
    /// `LISTEN_ADDRESS`: `None` listens on every interface, IPv6 and IPv4.
    pub listen_address: Option<IpAddr>,
    /// `HEALTH_CHECK_DETAILS`: who sees a probe's details (`?verbose`) and the status page's
    /// outputs, as vitals-tower's layer and page take it.
    pub details: DetailsPolicy,
    /// `HEALTH_CHECK_DETAILS_TOKEN` (kept out of `Debug`).
    pub details_token: Option<String>,
    /// `HEALTH_CHECK_RETRIES`, `HEALTH_CHECK_RETRY_DELAY_MS`, `HEALTH_CHECK_MAX_RETRY_DELAY_MS`.
    pub backoff: Backoff,
    /// `SKIP_HEALTH_CHECKS`.
    pub skip: Components,
    /// `NON_CRITICAL_HEALTH_CHECKS`.
    pub non_critical: Components,
    /// `HEALTH_CHECK_INTERVAL_MS`: `None` runs checks on demand.
    pub interval: Option<Duration>,
    /// `HEALTH_CHECK_CACHE_TTL_MS`.
    pub cache_ttl: Duration,
    /// `HEALTH_CHECK_TIMEOUT_MS`: every check's run budget (its attempts, retries and delays
    /// together; see `vitals_core::timing`); `None` derives each check's from its driver's
    /// bounds and the retry schedule. Named for what it bounds, not for the variable.
    pub run_budget: Option<Duration>,
    /// `HEALTH_CHECK_METRICS`.
    pub metrics: bool,
    /// `HEALTH_STATUS_PAGE`: the status page's path, `None` when off.
    pub status_page: Option<String>,
    /// `SHUTDOWN_DELAY_MS`.
    pub shutdown_delay: Duration,
    /// The bounds of the server's connections: `HEALTH_HEADER_READ_TIMEOUT_MS`,
    /// `HEALTH_IDLE_TIMEOUT_MS`, `HEALTH_SEND_TIMEOUT_MS`, `HEALTH_HTTP2_KEEPALIVE_MS`,
    /// `HEALTH_HTTP2_MAX_STREAMS`, `HEALTH_MAX_HEADER_BYTES`, `HEALTH_MAX_CONNECTIONS`.
    pub serve: vitals_serve::Limits,
    /// `HEALTH_MAX_EVENT_STREAMS`.
    pub max_event_streams: usize,
    /// `HEALTH_MAX_WATCH_STREAMS`.
    pub max_watch_streams: usize,
    checks: Vec<Arc<dyn Check>>,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` as set (the AWS SDK reads it; IRSA mounts it).
    pub web_identity_token_file: Option<String>,
    /// `HEALTH_PROMETHEUS_URL`, `_SELECTOR`, `_REPLICA_LABEL`, `_INTERVAL_MS`: the fleet's
    /// reader, `None` when off. Started by [`EnvConfig::spawn_fleet`].
    #[cfg(feature = "prometheus")]
    pub prometheus: Option<vitals_prometheus::PrometheusFleet>,
    /// `HEALTH_SHARED_CHECKS`: components that fail open when every replica fails them.
    pub shared: Components,
}

impl fmt::Debug for EnvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvConfig")
            .field("port", &self.port)
            .field("listen_address", &self.listen_address)
            .field("details", &self.details)
            .field("details_token", &self.details_token.as_ref().map(|_| "***"))
            .field("backoff", &self.backoff)
            .field("skip", &self.skip.to_string())
            .field("non_critical", &self.non_critical.to_string())
            .field("interval", &self.interval)
            .field("cache_ttl", &self.cache_ttl)
            .field("run_budget", &self.run_budget)
            .field("metrics", &self.metrics)
            .field("status_page", &self.status_page)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("serve", &self.serve)
            .field("max_event_streams", &self.max_event_streams)
            .field("max_watch_streams", &self.max_watch_streams)
            .field("shared", &self.shared.to_string())
            .field("checks", &self.check_names().collect::<Vec<_>>())
            .finish()
    }
}

impl EnvConfig {
    /// Reads and validates every variable from the process environment (a value that is not
    /// UTF-8 is decoded lossily, so the error can still quote it).
    pub fn from_env() -> Result<EnvConfig, EnvErrors> {
        EnvConfig::from_lookup(|name| {
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        })
    }

    /// Reads and validates every variable through `lookup` (tests, a config map). Every
    /// invalid value is reported, not only the first.
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<EnvConfig, EnvErrors> {
        // Read to the end: each variable found invalid is read again as unset (its default),
        // so the variables after it are validated too. Each variable is blamed at most once.
        let mut errors: Vec<EnvError> = Vec::new();
        loop {
            let read = EnvConfig::read(|name| {
                if errors.iter().any(|e| e.variable() == name) {
                    None
                } else {
                    lookup(name)
                }
            });
            match read {
                Ok(config) if errors.is_empty() => return Ok(config),
                Ok(_) => return Err(EnvErrors::new(errors)),
                Err(error) => {
                    let again = errors.iter().any(|e| e.variable() == error.variable());
                    errors.push(error);
                    if again {
                        return Err(EnvErrors::new(errors));
                    }
                }
            }
        }
    }

    /// One reading, stopping at the first invalid value.
    fn read(lookup: impl FnMut(&str) -> Option<String>) -> Result<EnvConfig, EnvError> {
        let mut env = Reader::new(lookup);
        refuse_left_out(VARIABLES, &mut env)?;
        let port = env
            .whole_number(&var::PORT, 0..=u16::MAX.into(), "a port number")?
            .map(|p| u16::try_from(p).expect("at most u16::MAX"))
            .expect(DEFAULTED);
        let listen_address = env.parsed(
            &var::LISTEN_ADDRESS,
            "an IP address such as 0.0.0.0, ::, 127.0.0.1 or ::1",
            |raw| raw.parse::<IpAddr>().ok(),
        )?;
        let details = env
            .parsed(&var::DETAILS, "local, always or never", |raw| {
                match raw.to_ascii_lowercase().as_str() {
                    "local" => Some(DetailsPolicy::Local),
                    "always" => Some(DetailsPolicy::Always),
                    "never" => Some(DetailsPolicy::Never),
                    _ => None,
                }
            })?
            .expect(DEFAULTED);
        let details_token = env.parsed(
            &var::DETAILS_TOKEN,
            "a token of at least 16 characters",
            |raw| (raw.len() >= 16).then(|| raw.to_owned()),
        )?;
        let backoff = backoff(&mut env)?;
        let skip = env.components(&var::SKIP)?;
        let non_critical = env.components(&var::NON_CRITICAL)?;
        let interval = env.millis(&var::INTERVAL, 0)?.filter(|i| !i.is_zero());
        let cache_ttl = env.millis(&var::CACHE_TTL, 1)?.expect(DEFAULTED);
        let run_budget = env.millis(&var::RUN_BUDGET, 1)?;
        let metrics = env.boolean(&var::METRICS)?.expect(DEFAULTED);
        let status_page = env
            .parsed(
                &var::STATUS_PAGE,
                "`off`, or a path such as /status (a slash, then letters, digits, `-`, `_`, `.` or `/`; not a probe's path)",
                |raw| {
                    if raw.eq_ignore_ascii_case("off") {
                        return Some(None);
                    }
                    let path = raw.trim_end_matches('/');
                    let valid = path.starts_with('/')
                        && path.len() > 1
                        && path[1..].bytes().all(|b| {
                            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/')
                        })
                        && !vitals_core::Probe::EVERY.iter().any(|p| {
                            path == p.path() || path.starts_with(&format!("{}/", p.path()))
                        });
                    valid.then(|| Some(path.to_owned()))
                },
            )?
            .expect(DEFAULTED);
        let shutdown_delay = env.millis(&var::SHUTDOWN_DELAY, 0)?.expect(DEFAULTED);
        let serve = serve_limits(&mut env)?;
        let streams = |env: &mut Reader<_>, variable| {
            env.whole_number(variable, 0..=MAX_STREAMS, "a whole number of streams")
                .map(|n| n.expect(DEFAULTED) as usize)
        };
        let max_event_streams = streams(&mut env, &var::MAX_EVENT_STREAMS)?;
        let max_watch_streams = streams(&mut env, &var::MAX_WATCH_STREAMS)?;
        let checks = checks(&mut env)?;
        let web_identity_token_file = env.raw_named(variables::AWS_WEB_IDENTITY_TOKEN_FILE);
        #[cfg(feature = "prometheus")]
        let prometheus = prometheus(&mut env)?;
        #[cfg(not(feature = "prometheus"))]
        let prometheus: Option<()> = None;
        let shared = env.components(&var::SHARED)?;
        if prometheus.is_none() && shared != Components::none() {
            return Err(EnvError::new(
                var::SHARED.name,
                env.raw(&var::SHARED).unwrap_or_default(),
                format!(
                    "it unset, or {} set as well: a shared check fails open only on Prometheus' \
                     view of every replica",
                    var::PROMETHEUS_URL.name
                ),
            ));
        }
        Ok(EnvConfig {
            port,
            listen_address,
            details,
            details_token,
            backoff,
            skip,
            non_critical,
            interval,
            cache_ttl,
            run_budget,
            metrics,
            status_page,
            shutdown_delay,
            serve,
            max_event_streams,
            max_watch_streams,
            checks,
            web_identity_token_file,
            #[cfg(feature = "prometheus")]
            prometheus,
            shared,
        })
    }

    /// The configured checks, skipped ones included, in the order the guide lists backends.
    pub fn checks(&self) -> &[Arc<dyn Check>] {
        &self.checks
    }

    /// The names of the configured checks, skipped ones included.
    pub fn check_names(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().map(|c| c.name())
    }

    /// A registry builder with the configured backoff, skip list, mode, TTL and budget, and
    /// every configured check (those of a `NON_CRITICAL_HEALTH_CHECKS` component non-critical).
    /// Add checks or hooks of your own, then build.
    pub fn health_builder(&self) -> HealthBuilder {
        let skip = Skip::of(self.skip.clone()).because(format!("{}={}", var::SKIP.name, self.skip));
        let mut builder = Health::builder()
            .backoff(self.backoff)
            .skip(skip)
            .ttl(self.cache_ttl);
        if let Some(interval) = self.interval {
            builder = builder.interval(interval);
        }
        if let Some(budget) = self.run_budget {
            builder = builder.run_budget(budget);
        }
        if let Some(token) = &self.details_token {
            builder = builder.secret(token.clone());
        }
        for check in &self.checks {
            let mut options = CheckOptions::new();
            if self.non_critical.contains(check.component()) {
                options = options.non_critical();
            }
            if self.shared.contains(check.component()) {
                options = options.shared();
            }
            builder = builder.register_arc(check.clone(), options);
        }
        builder
    }
}

impl EnvConfig {
    /// Starts reading the fleet from `HEALTH_PROMETHEUS_URL` in the background and returns
    /// what it keeps up to date, for [`HealthBuilder::fleet`]; `None` when the variable is
    /// unset (or the `prometheus` feature is off). Shared checks fail closed until a fleet is
    /// given and read.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, when the variable is set.
    pub fn spawn_fleet(&self) -> Option<vitals_core::Fleet> {
        #[cfg(feature = "prometheus")]
        return self
            .prometheus
            .clone()
            .map(vitals_prometheus::PrometheusFleet::spawn);
        #[cfg(not(feature = "prometheus"))]
        None
    }
}

/// The fleet's reader, when `HEALTH_PROMETHEUS_URL` is set.
#[cfg(feature = "prometheus")]
fn prometheus<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
) -> Result<Option<vitals_prometheus::PrometheusFleet>, EnvError> {
    let Some(mut reader) = env.parsed(
        &var::PROMETHEUS_URL,
        "a plain http:// URL of Prometheus, such as http://prometheus.monitoring:9090 (no credentials, no query)",
        |raw| vitals_prometheus::PrometheusFleet::new(raw).ok(),
    )?
    else {
        return Ok(None);
    };
    if let Some(selector) = env.parsed(
        &var::PROMETHEUS_SELECTOR,
        "label matchers as inside `{…}`, such as job=\"orders\" or namespace=\"shop\",pod=~\"orders-.*\"",
        |raw| {
            let balanced = raw.matches('"').count() % 2 == 0;
            let matcher = |m: &str| {
                m.split_once(['=', '!'])
                    .is_some_and(|(label, _)| is_label_name(label.trim()))
            };
            (balanced && !raw.contains(['{', '}']) && raw.split(',').all(matcher))
                .then(|| raw.to_owned())
        },
    )? {
        reader = reader.selector(selector);
    }
    let label = env
        .parsed(
            &var::PROMETHEUS_REPLICA_LABEL,
            "a Prometheus label name (letters, digits and `_`, not starting with a digit)",
            |raw| is_label_name(raw).then(|| raw.to_owned()),
        )?
        .expect(DEFAULTED);
    let interval = env
        .millis(&var::PROMETHEUS_INTERVAL, 100)?
        .expect(DEFAULTED);
    Ok(Some(reader.replica_label(label).interval(interval)))
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
#[cfg(feature = "prometheus")]
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A variable of a backend this build leaves out is refused when set: it would otherwise do
/// nothing, and a check the deployment asked for would silently be missing.
fn refuse_left_out<L: FnMut(&str) -> Option<String>>(
    variables: &[Variable],
    env: &mut Reader<L>,
) -> Result<(), EnvError> {
    for variable in variables {
        let Some(feature) = variable.feature.filter(|f| !f.enabled) else {
            continue;
        };
        if let Some(raw) = env.raw(variable) {
            return Err(EnvError::new(
                variable.name,
                vitals_core::scrub(&raw),
                format!(
                    "it unset: this build of vitals-env leaves out the `{}` feature, which reads \
                     it (add the feature to vitals-env in Cargo.toml)",
                    feature.name
                ),
            ));
        }
    }
    Ok(())
}

/// The most streams of one kind a variable may allow.
const MAX_STREAMS: u64 = 1_000_000;

/// The connection bounds.
fn serve_limits<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
) -> Result<vitals_serve::Limits, EnvError> {
    let mut limits = vitals_serve::Limits::default();
    limits.header_read_timeout = env.millis(&var::HEADER_READ_TIMEOUT, 1)?.expect(DEFAULTED);
    limits.idle_timeout = env.millis(&var::IDLE_TIMEOUT, 1)?.expect(DEFAULTED);
    limits.send_timeout = env.millis(&var::SEND_TIMEOUT, 1)?.expect(DEFAULTED);
    limits.http2_keep_alive = env.millis(&var::HTTP2_KEEPALIVE, 1)?.expect(DEFAULTED);
    limits.http2_max_streams = env
        .whole_number(
            &var::HTTP2_MAX_STREAMS,
            1..=10_000,
            "a whole number of streams",
        )?
        .expect(DEFAULTED) as u32;
    limits.max_header_bytes = env
        .whole_number(
            &var::MAX_HEADER_BYTES,
            u64::from(vitals_serve::MIN_MAX_HEADER_BYTES)..=1024 * 1024,
            "a whole number of bytes",
        )?
        .expect(DEFAULTED) as u32;
    limits.max_connections = env
        .parsed(
            &var::MAX_CONNECTIONS,
            "`auto`, or a whole number of connections from 1 to 1000000",
            |raw| {
                if raw.eq_ignore_ascii_case("auto") {
                    return Some(vitals_serve::MaxConnections::Auto);
                }
                parse::whole(raw)
                    .filter(|n| (1..=1_000_000).contains(n))
                    .map(|n| vitals_serve::MaxConnections::Fixed(n as usize))
            },
        )?
        .expect(DEFAULTED);
    Ok(limits)
}

/// The retry schedule; a maximum below the initial delay blames the variable that was set.
fn backoff<L: FnMut(&str) -> Option<String>>(env: &mut Reader<L>) -> Result<Backoff, EnvError> {
    const MILLISECONDS: &str = "a whole number of milliseconds";
    let retries = env
        .whole_number(&var::RETRIES, 0..=MAX_RETRIES, "a whole number of retries")?
        .expect(DEFAULTED) as u32;
    let ms = |v: Option<u64>| Duration::from_millis(v.expect(DEFAULTED));
    let initial = ms(env.whole_number(&var::RETRY_DELAY, 0..=86_400_000, MILLISECONDS)?);
    let max_set = env.raw(&var::MAX_RETRY_DELAY);
    let max = ms(env.whole_number(&var::MAX_RETRY_DELAY, 0..=86_400_000, MILLISECONDS)?);
    if max < initial {
        let initial_ms = initial.as_millis();
        let (delay, max_name) = (var::RETRY_DELAY.name, var::MAX_RETRY_DELAY.name);
        return Err(match max_set {
            Some(raw) => EnvError::new(
                max_name,
                raw,
                format!("milliseconds at least {delay} ({initial_ms})"),
            ),
            None => EnvError::new(
                delay,
                initial_ms.to_string(),
                format!(
                    "milliseconds at most {max_name} ({}, its default); raise {max_name} too",
                    max.as_millis()
                ),
            ),
        });
    }
    Backoff::builder()
        .retries(retries)
        .initial_delay(initial)
        .max_delay(max)
        .build()
        .map_err(|e| {
            EnvError::new(
                var::RETRY_DELAY.name,
                initial.as_millis().to_string(),
                e.to_string(),
            )
        })
}

/// The checks the variables configure, in the order the guide lists the backends; each
/// backend's only in a build with its feature (a variable of a backend left out is refused
/// before this, in [`EnvConfig::read`]).
fn checks<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
) -> Result<Vec<Arc<dyn Check>>, EnvError> {
    #[allow(unused_mut, reason = "a build without any backend adds nothing")]
    let mut checks: Vec<Arc<dyn Check>> = Vec::new();
    #[cfg(feature = "mongodb")]
    mongo(env, &mut checks)?;
    #[cfg(feature = "s3")]
    storage(env, &mut checks)?;
    #[cfg(feature = "http")]
    custom_code(env, &mut checks)?;
    #[cfg(feature = "redis")]
    redis(env, &mut checks)?;
    #[cfg(feature = "sql")]
    database(env, &mut checks)?;
    #[cfg(feature = "amqp")]
    amqp(env, &mut checks)?;
    #[cfg(feature = "nats")]
    nats(env, &mut checks)?;
    #[cfg(feature = "certificate")]
    certificates(env, &mut checks)?;
    #[cfg(feature = "disk")]
    disk(env, &mut checks)?;
    aws(env, &mut checks)?;
    #[cfg(feature = "kafka")]
    kafka(env, &mut checks)?;
    // Without any backend, the reader goes unused.
    let _ = env;
    Ok(checks)
}

/// `mongo`: `MONGO_URI` and its options.
#[cfg(feature = "mongodb")]
fn mongo<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let selection = env.millis(&var::MONGO_SERVER_SELECTION_TIMEOUT, 1)?;
    let documentdb = env
        .parsed(
            &var::MONGO_DOCUMENTDB,
            "auto, true or false",
            |raw| match raw.to_ascii_lowercase().as_str() {
                "auto" => Some(None),
                "true" => Some(Some(true)),
                "false" => Some(Some(false)),
                _ => None,
            },
        )?
        .flatten();
    let mongo = env.built(&var::MONGO_URI, "a MongoDB connection string", |uri| {
        let mut builder = vitals_mongodb::MongoCheck::builder(uri);
        if let Some(timeout) = selection {
            builder = builder.server_selection_timeout(timeout);
        }
        if let Some(documentdb) = documentdb {
            builder = builder.documentdb(documentdb);
        }
        builder.build()
    })?;
    checks.extend(mongo.map(|c| Arc::new(c) as Arc<dyn Check>));

    Ok(())
}

/// `storage`: the buckets and their options.
#[cfg(feature = "s3")]
fn storage<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let buckets: Vec<(&Variable, String)> =
        [var::TMP_BUCKET, var::CONNECTORS_BUCKET, var::STATIC_BUCKET]
            .iter()
            .filter_map(|v| env.raw(v).map(|raw| (v, raw)))
            .collect();
    let deep = env.boolean(&var::STORAGE_DEEP_CHECK)?.expect(DEFAULTED);
    let path_style = env.boolean(&var::S3_FORCE_PATH_STYLE)?;
    let aws_secrets = env.aws_secrets();
    if buckets.is_empty() {
        return Ok(());
    }
    let mut builder =
        vitals_s3::BucketCheck::builder(buckets.iter().map(|(_, b)| b.trim().to_owned()));
    if let Some(path_style) = path_style {
        builder = builder.force_path_style(path_style);
    }
    for secret in aws_secrets {
        builder = builder.secret(secret);
    }
    if deep {
        for (variable, bucket) in &buckets {
            if variable.name == var::TMP_BUCKET.name {
                builder = builder.expect_expiration_after(bucket.trim(), TMP_EXPIRATION_DAYS);
            } else if variable.name == var::STATIC_BUCKET.name {
                builder = builder.expect_cors_get(bucket.trim());
            }
        }
    }
    // vitals-s3's builder runs the naming rule; only when it refuses is the rule asked
    // again, bucket by bucket, which variable to blame (no parsing of its message).
    let check = builder.build().map_err(|e| {
        buckets
            .iter()
            .find_map(|(variable, raw)| {
                let why = vitals_s3::check_bucket_name(raw.trim()).err()?;
                Some(EnvError::new(
                    variable.name,
                    raw.clone(),
                    format!("an S3 bucket name: {why}"),
                ))
            })
            .unwrap_or_else(|| {
                EnvError::new(buckets[0].0.name, buckets[0].1.clone(), e.to_string())
            })
    })?;
    checks.push(Arc::new(check));

    Ok(())
}

/// `custom_code`: `CUSTOM_CODE_RUNNER_URI`.
#[cfg(feature = "http")]
fn custom_code<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let runner = env.built(&var::CUSTOM_CODE_RUNNER_URI, "an http(s) URL", |url| {
        vitals_http::HttpCheck::builder(url)
            .name("custom_code")
            .component("custom_code")
            .build()
    })?;
    checks.extend(runner.map(|c| Arc::new(c) as Arc<dyn Check>));

    Ok(())
}

/// `redis`: `REDIS_URI` and its options.
#[cfg(feature = "redis")]
fn redis<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let connect = env.millis(&var::REDIS_CONNECT_TIMEOUT, 1)?;
    let command = env.millis(&var::REDIS_COMMAND_TIMEOUT, 1)?;
    let insecure = env
        .boolean(&var::REDIS_DISABLE_TLS_VERIFICATION)?
        .expect(DEFAULTED);
    let redis = env.built(&var::REDIS_URI, "a Redis URL", |url| {
        let mut builder = vitals_redis::RedisCheck::builder(url).accept_invalid_certs(insecure);
        if let Some(timeout) = connect {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = command {
            builder = builder.command_timeout(timeout);
        }
        builder.build()
    })?;
    checks.extend(redis.map(|c| Arc::new(c) as Arc<dyn Check>));

    Ok(())
}

/// `database`: `DATABASE_URL`.
#[cfg(feature = "sql")]
fn database<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let database = env.built(&var::DATABASE_URL, "a database URL", |url| {
        vitals_sql::SqlCheck::builder(url).build()
    })?;
    checks.extend(database.map(|c| Arc::new(c) as Arc<dyn Check>));

    Ok(())
}

/// `amqp`: `AMQP_URL` and its queue.
#[cfg(feature = "amqp")]
fn amqp<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let queue = env.parsed(&var::AMQP_QUEUE, "a queue name", |raw| {
        (!raw.is_empty()).then(|| raw.to_owned())
    })?;
    let amqp = env.built(&var::AMQP_URL, "an AMQP URL", |url| {
        let mut builder = vitals_amqp::AmqpCheck::builder(url);
        if let Some(queue) = &queue {
            builder = builder.queue(queue);
        }
        builder.build()
    })?;
    checks.extend(amqp.map(|c| Arc::new(c) as Arc<dyn Check>));

    Ok(())
}

/// `nats`: `NATS_URL` and JetStream.
#[cfg(feature = "nats")]
fn nats<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let jetstream = env.boolean(&var::NATS_JETSTREAM)?.expect(DEFAULTED);
    let nats = env.built(&var::NATS_URL, "a NATS URL", |url| {
        vitals_nats::NatsCheck::builder(url)
            .jetstream(jetstream)
            .build()
    })?;
    checks.extend(nats.map(|c| Arc::new(c) as Arc<dyn Check>));

    Ok(())
}

/// `certificate:host:port`: each of `TLS_CERTIFICATE_ENDPOINTS`.
#[cfg(feature = "certificate")]
fn certificates<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let warn_days = env
        .whole_number(
            &var::TLS_CERTIFICATE_WARN_DAYS,
            0..=3650,
            "a whole number of days",
        )?
        .expect(DEFAULTED) as u32;
    let endpoints = env.built(
        &var::TLS_CERTIFICATE_ENDPOINTS,
        "a comma list of host[:port]",
        |list| {
            let mut built = Vec::new();
            for item in list.split(',').map(str::trim) {
                if item.is_empty() {
                    return Err("found an empty item".to_owned());
                }
                let builder = vitals_net::CertificateCheck::builder(item).warn_days(warn_days);
                let endpoint = builder.endpoint().map_err(|e| e.to_string())?;
                let name = format!("certificate:{endpoint}");
                if built
                    .iter()
                    .any(|c: &vitals_net::CertificateCheck| c.name() == name)
                {
                    return Err(format!("{endpoint} is listed twice"));
                }
                built.push(builder.name(name).build().map_err(|e| e.to_string())?);
            }
            Ok(built)
        },
    )?;
    for check in endpoints.into_iter().flatten() {
        checks.push(Arc::new(check));
    }

    Ok(())
}

/// A comma list of names, each trimmed; none empty.
#[cfg_attr(
    not(any(
        feature = "sqs",
        feature = "sns",
        feature = "dynamodb",
        feature = "secretsmanager",
        feature = "kms",
        feature = "kafka"
    )),
    allow(dead_code)
)]
fn names(list: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = list.split(',').map(|n| n.trim().to_owned()).collect();
    if names.iter().any(String::is_empty) {
        return Err("found an empty item".to_owned());
    }
    Ok(names)
}

/// The AWS checks beyond S3: `sqs`, `sns`, `dynamodb`, `secrets`, `kms`, each with the
/// credential chain the storage check uses and the AWS secrets scrubbed.
#[allow(
    unused_variables,
    clippy::ptr_arg,
    reason = "a build without an AWS service adds nothing"
)]
fn aws<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let aws_secrets = env.aws_secrets();
    // Each list's checks, with the AWS secrets scrubbed from their outputs; `tune` sets what
    // the check has beyond the list.
    #[allow(unused_macros)]
    macro_rules! aws_list {
        ($variable:expr, $what:literal, $check:ty $(, $tune:expr)?) => {{
            let built = env.built(&$variable, $what, |list| {
                let mut builder = <$check>::builder(names(list)?);
                for secret in &aws_secrets {
                    builder = builder.secret(secret.clone());
                }
                $(let builder = $tune(builder);)?
                builder.build().map_err(|e| e.to_string())
            })?;
            checks.extend(built.map(|c| Arc::new(c) as Arc<dyn Check>));
        }};
    }
    #[cfg(feature = "sqs")]
    {
        let max = env.whole_number(
            &var::SQS_MAX_MESSAGES,
            0..=u64::from(u32::MAX),
            "a whole number of messages",
        )?;
        if let Some(max) = max.filter(|_| env.raw(&var::SQS_QUEUES).is_none()) {
            return Err(EnvError::new(
                var::SQS_MAX_MESSAGES.name,
                max.to_string(),
                format!("it unset, or {} set as well", var::SQS_QUEUES.name),
            ));
        }
        aws_list!(
            var::SQS_QUEUES,
            "a comma list of SQS queue URLs or names",
            vitals_aws::QueueCheck,
            move |b: vitals_aws::QueueCheckBuilder| match max {
                Some(max) => b.warn_above(max),
                None => b,
            }
        );
    }
    #[cfg(feature = "sns")]
    aws_list!(
        var::SNS_TOPICS,
        "a comma list of SNS topic ARNs",
        vitals_aws::TopicCheck
    );
    #[cfg(feature = "dynamodb")]
    aws_list!(
        var::DYNAMODB_TABLES,
        "a comma list of DynamoDB table names or ARNs",
        vitals_aws::TableCheck
    );
    #[cfg(feature = "secretsmanager")]
    aws_list!(
        var::SECRETS_MANAGER_SECRETS,
        "a comma list of Secrets Manager secret names or ARNs",
        vitals_aws::SecretCheck
    );
    #[cfg(feature = "kms")]
    aws_list!(
        var::KMS_KEYS,
        "a comma list of KMS key ids, ARNs or alias/NAME",
        vitals_aws::KeyCheck
    );
    Ok(())
}

/// `kafka`: `KAFKA_BOOTSTRAP_SERVERS`, its topics, TLS and SASL.
#[cfg(feature = "kafka")]
fn kafka<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let topics = env.built(&var::KAFKA_TOPICS, "a comma list of topic names", names)?;
    let tls = env.boolean(&var::KAFKA_TLS)?.expect(DEFAULTED);
    let mechanism = env.parsed(
        &var::KAFKA_SASL_MECHANISM,
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
        |raw| match raw.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(vitals_kafka::Mechanism::Plain),
            "SCRAM-SHA-256" => Some(vitals_kafka::Mechanism::ScramSha256),
            "SCRAM-SHA-512" => Some(vitals_kafka::Mechanism::ScramSha512),
            _ => None,
        },
    )?;
    let username = env.raw(&var::KAFKA_SASL_USERNAME);
    let password = env.raw(&var::KAFKA_SASL_PASSWORD);
    let sasl = match (mechanism, username, password) {
        (Some(mechanism), Some(username), Some(password)) => {
            Some((mechanism, username.trim().to_owned(), password))
        }
        (None, None, None) => None,
        (Some(mechanism), _, _) => {
            return Err(EnvError::new(
                var::KAFKA_SASL_MECHANISM.name,
                mechanism.name(),
                format!(
                    "it unset, or {} and {} set as well",
                    var::KAFKA_SASL_USERNAME.name,
                    var::KAFKA_SASL_PASSWORD.name
                ),
            ));
        }
        (None, username, _) => {
            let variable = if username.is_some() {
                &var::KAFKA_SASL_USERNAME
            } else {
                &var::KAFKA_SASL_PASSWORD
            };
            return Err(EnvError::new(
                variable.name,
                "***",
                format!(
                    "{} set as well, naming the mechanism",
                    var::KAFKA_SASL_MECHANISM.name
                ),
            ));
        }
    };
    // A refinement without the brokers would do nothing: refused, not ignored.
    if env.raw(&var::KAFKA_BOOTSTRAP_SERVERS).is_none() {
        let set = [
            &var::KAFKA_TOPICS,
            &var::KAFKA_SASL_MECHANISM,
            &var::KAFKA_SASL_USERNAME,
            &var::KAFKA_SASL_PASSWORD,
        ]
        .into_iter()
        .find(|v| env.raw(v).is_some());
        if let Some(variable) = set {
            let shown = if variable.name == var::KAFKA_SASL_PASSWORD.name {
                "***".to_owned()
            } else {
                env.raw(variable).unwrap_or_default()
            };
            return Err(EnvError::new(
                variable.name,
                shown,
                format!(
                    "it unset, or {} set as well",
                    var::KAFKA_BOOTSTRAP_SERVERS.name
                ),
            ));
        }
    }
    let kafka = env.built(
        &var::KAFKA_BOOTSTRAP_SERVERS,
        "a comma list of host:port",
        |list| {
            let mut builder = vitals_kafka::KafkaCheck::builder(names(list)?);
            if let Some(topics) = &topics {
                builder = builder.topics(topics.clone());
            }
            if tls {
                builder = builder.tls();
            }
            if let Some((mechanism, username, password)) = &sasl {
                builder = builder.sasl(*mechanism, username.clone(), password.clone());
            }
            builder.build().map_err(|e| e.to_string())
        },
    )?;
    checks.extend(kafka.map(|c| Arc::new(c) as Arc<dyn Check>));
    Ok(())
}

/// `disk`: `DISK_SPACE_PATH` and its threshold.
#[cfg(feature = "disk")]
fn disk<L: FnMut(&str) -> Option<String>>(
    env: &mut Reader<L>,
    checks: &mut Vec<Arc<dyn Check>>,
) -> Result<(), EnvError> {
    let threshold = env
        .whole_number(
            &var::DISK_SPACE_THRESHOLD,
            0..=u64::from(u32::MAX),
            "a whole number of MiB",
        )?
        .expect(DEFAULTED);
    let disk = env.built(&var::DISK_SPACE_PATH, "an absolute path", |path| {
        if !path.starts_with('/') {
            return Err("not an absolute path".to_owned());
        }
        vitals_system::DiskSpaceCheck::builder(path)
            .warn_below(threshold * 1024 * 1024)
            .build()
            .map_err(|e| e.to_string())
    })?;
    checks.extend(disk.map(|c| Arc::new(c) as Arc<dyn Check>));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_of_a_left_out_backend_is_refused_in_words() {
        let left_out = Variable {
            feature: Some(variables::Feature {
                name: "mongodb",
                enabled: false,
            }),
            ..var::MONGO_URI
        };
        let set =
            |name: &str| (name == "MONGO_URI").then(|| "mongodb://app:hunter2@db:27017".to_owned());
        let error = refuse_left_out(&[left_out], &mut Reader::new(set)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "MONGO_URI=\"mongodb://app:***@db:27017\" is invalid: expected it unset: this build \
             of vitals-env leaves out the `mongodb` feature, which reads it (add the feature to \
             vitals-env in Cargo.toml)"
        );
        // Unset, it is no error.
        assert!(refuse_left_out(&[left_out], &mut Reader::new(|_: &str| None)).is_ok());
    }
}
