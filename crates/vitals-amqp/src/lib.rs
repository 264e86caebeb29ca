//! A [`vitals_core::Check`] for RabbitMQ and other AMQP 0-9-1 brokers, built on
//! [lapin](https://docs.rs/lapin).
//!
//! [`AmqpCheck`] checks that the connection opens (TCP, TLS, authentication, the virtual host)
//! and that a channel opens on it; with [`queue`](AmqpCheckBuilder::queue) it also declares
//! that queue passively, which fails when the queue does not exist and never creates or
//! changes one. Details carry the negotiated limits and the queue's messages and consumers.
//!
//! ```no_run
//! use std::time::Duration;
//! use vitals_amqp::AmqpCheck;
//!
//! let check = AmqpCheck::builder("amqps://app:secret@rabbit.internal:5671/%2f")
//!     .queue("orders")
//!     .connect_timeout(Duration::from_secs(3))
//!     .build()
//!     .expect("a valid URL");
//! # let _ = check;
//! ```
//!
//! Built from a URL, the check keeps one connection of its own only while attempts succeed
//! ([`vitals_core::ReusedClient`]), and opens a fresh channel each attempt. Built from the
//! application's connection, it opens a channel on that. The builder has the vocabulary of
//! every vitals probe crate: `builder(url)` or `builder_for_connection(connection)`, then
//! `name`, `component`, `secret`, `attempt_timeout` and `build()`. `AMQP_URL` is read by
//! `vitals-env`.
#![forbid(unsafe_code)]

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use lapin::{
    Connection, ConnectionProperties, options::QueueDeclareOptions, tcp::OwnedTLSConfig,
    types::FieldTable, uri::AMQPUri,
};
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, ReusedClient, SettingsCheck,
    async_trait, scrub,
};

pub use lapin;

/// The default bound of opening the connection (TCP, TLS, the AMQP handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The default bound of opening a channel and declaring the queue.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an AMQP 0-9-1 broker: connection, channel, optionally a queue.
pub struct AmqpCheck {
    settings: CheckSettings,
    queue: Option<String>,
    request_timeout: Duration,
    target: Target,
}

enum Target {
    Url {
        uri: Box<AMQPUri>,
        endpoint: String,
        connect_timeout: Duration,
        ca_pem: Option<String>,
        connection: ReusedClient<Arc<Connection>>,
    },
    Connection(Arc<Connection>),
}

impl fmt::Debug for AmqpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Url { endpoint, .. } => endpoint.clone(),
            Target::Connection(_) => "connection".to_owned(),
        };
        f.debug_struct("AmqpCheck")
            .field("name", &self.settings.name())
            .field("target", &target)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

enum Source {
    Url(String),
    Connection(Arc<Connection>),
}

/// Builds an [`AmqpCheck`].
#[must_use = "call .build() to get the check"]
pub struct AmqpCheckBuilder {
    source: Source,
    settings: CheckSettings,
    queue: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    roots: vitals_tls::TrustRoots,
}

impl fmt::Debug for AmqpCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url(url) => scrub(url),
            Source::Connection(_) => "connection".to_owned(),
        };
        f.debug_struct("AmqpCheckBuilder")
            .field("source", &source)
            .field("queue", &self.queue)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl AmqpCheck {
    /// A builder for a check of the broker at `url` (`amqp://user:password@host:port/vhost`,
    /// `amqps://…` for TLS), with one connection of its own.
    pub fn builder(url: impl Into<String>) -> AmqpCheckBuilder {
        AmqpCheck::builder_from(Source::Url(url.into()))
    }

    /// A builder for a check of the application's own connection (a channel is opened on it
    /// each attempt and closed after).
    pub fn builder_for_connection(connection: Arc<Connection>) -> AmqpCheckBuilder {
        AmqpCheck::builder_from(Source::Connection(connection))
    }

    fn builder_from(source: Source) -> AmqpCheckBuilder {
        AmqpCheckBuilder {
            source,
            settings: CheckSettings::new("amqp", "amqp"),
            queue: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            roots: vitals_tls::TrustRoots::default(),
        }
    }
}

impl AmqpCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "amqp",
        component: "amqp",
        attempt_timeout: "connect timeout + request timeout",
        scrubbed: "the URL's password",
    }

    /// Also declare this queue passively: the check fails when it does not exist.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// How long opening the connection may take (default 5 s). Only for a URL.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long opening the channel and declaring the queue may take (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    vitals_tls::trust_root_methods! {
        roots: roots,
        for: "`amqps://` (lapin adds them to the system's roots; `only_these_roots` is refused \
              at build, since lapin cannot leave the system's out)",
    }

    /// Parses the URL and prepares the check (no connection is made yet).
    pub fn build(self) -> Result<AmqpCheck, InvalidConfig> {
        let mut settings = self.settings;
        let target = match self.source {
            Source::Connection(connection) => Target::Connection(connection),
            Source::Url(url) => {
                let url = url.trim();
                let invalid = |why: &str| {
                    InvalidConfig::new(format!(
                        "invalid AMQP URL {:?}: {}; expected amqp://user:password@host[:port][/vhost] \
                         or amqps://… for TLS",
                        scrub(url),
                        scrub(why)
                    ))
                };
                if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                    return Err(invalid("unsupported scheme"));
                }
                let uri: AMQPUri = url.parse().map_err(|e: String| invalid(&e))?;
                if uri.authority.host.is_empty() {
                    return Err(invalid("no host"));
                }
                if !uri.authority.userinfo.password.is_empty() {
                    settings.add_secret(uri.authority.userinfo.password.clone());
                }
                let endpoint = format!("{}:{}", uri.authority.host, uri.authority.port);
                Target::Url {
                    uri: Box::new(uri),
                    endpoint,
                    connect_timeout: self.connect_timeout,
                    ca_pem: self
                        .roots
                        .added_chain("lapin")
                        .map_err(InvalidConfig::new)?,
                    connection: ReusedClient::with_discard(close),
                }
            }
        };
        Ok(AmqpCheck {
            settings,
            queue: self.queue,
            request_timeout: self.request_timeout,
            target,
        })
    }
}

/// Closes a discarded connection in the background.
fn close(connection: Arc<Connection>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                connection.close(200, "vitals check done".into()),
            )
            .await;
        });
    }
}

impl AmqpCheck {
    /// A channel, the queue when asked, on an open connection.
    async fn probe(&self, connection: &Connection, endpoint: &str) -> Result<Details, CheckError> {
        let started = Instant::now();
        let configuration = connection.configuration();
        let mut details = Details::new()
            .with("endpoint", endpoint)
            .with("channel_max", configuration.channel_max())
            .with("frame_max", configuration.frame_max());
        let work = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(|e| Cause::describe_error(&format!("open a channel on {endpoint}"), &e))?;
            let mut facts = Vec::new();
            if let Some(queue) = &self.queue {
                let options = QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                };
                let declared = channel
                    .queue_declare(queue.as_str().into(), options, FieldTable::default())
                    .await
                    .map_err(|e| {
                        let text = e.to_string();
                        if text.contains("NOT_FOUND") {
                            CheckError::new(format!(
                                "queue {queue:?} does not exist on {endpoint} (a passive declare \
                                 answered NOT_FOUND)"
                            ))
                        } else {
                            Cause::describe_error(
                                &format!("declare queue {queue:?} on {endpoint}"),
                                &e,
                            )
                        }
                    })?;
                facts.push(("queue_messages", declared.message_count()));
                facts.push(("queue_consumers", declared.consumer_count()));
            }
            // A failed passive declare closes the channel already; close it otherwise.
            if channel.status().connected() {
                let _ = channel.close(200, "vitals check done".into()).await;
            }
            Ok::<_, CheckError>(facts)
        };
        let facts = match tokio::time::timeout(self.request_timeout, work).await {
            Ok(result) => result.map_err(|e| e.with_details(details.clone()))?,
            Err(_) => {
                return Err(CheckError::new(format!(
                    "channel on {endpoint}: no answer within {} ms (the request timeout): the \
                     broker does not answer",
                    self.request_timeout.as_millis()
                ))
                .with_details(details));
            }
        };
        for (key, value) in facts {
            details = details.with(key, value);
        }
        Ok(details.with("latency_ms", started.elapsed().as_millis()))
    }

    async fn check_url(
        &self,
        uri: &AMQPUri,
        endpoint: &str,
        connect_timeout: Duration,
        ca_pem: Option<&String>,
        connection: &ReusedClient<Arc<Connection>>,
    ) -> Result<Details, CheckError> {
        let connect = || async {
            let context = format!("connect to {endpoint}");
            let runtime = lapin::runtime::default_runtime()
                .map_err(|e| Cause::describe_error("no async runtime for lapin", &e))?;
            let tls = OwnedTLSConfig {
                identity: None,
                cert_chain: ca_pem.cloned(),
            };
            let open = Connection::connect_uri_with_config(
                uri.clone(),
                ConnectionProperties::default(),
                tls,
                runtime,
            );
            match tokio::time::timeout(connect_timeout, open).await {
                Ok(Ok(connection)) => Ok(Arc::new(connection)),
                Ok(Err(error)) => Err(Cause::describe_error(&context, &error)),
                Err(_) => Err(CheckError::new(format!(
                    "{context}: timed out after {} ms (the connect timeout)",
                    connect_timeout.as_millis()
                ))),
            }
        };
        let lease = connection
            .lease(|c| c.status().connected(), connect)
            .await?;
        let details = self.probe(&lease, endpoint).await?;
        lease.keep();
        Ok(details)
    }
}

#[async_trait]
impl SettingsCheck for AmqpCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(match &self.target {
            Target::Url {
                connect_timeout, ..
            } => *connect_timeout + self.request_timeout,
            Target::Connection(_) => self.request_timeout,
        })
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        match &self.target {
            Target::Url {
                uri,
                endpoint,
                connect_timeout,
                ca_pem,
                connection,
            } => {
                self.check_url(uri, endpoint, *connect_timeout, ca_pem.as_ref(), connection)
                    .await
            }
            Target::Connection(connection) => {
                if !connection.status().connected() {
                    return Err(CheckError::new(
                        "the application's AMQP connection is not connected (closed, or \
                         reconnecting)",
                    ));
                }
                self.probe(connection, "the application's connection").await
            }
        }
    }
}
