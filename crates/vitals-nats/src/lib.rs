//! A [`vitals_core::Check`] for NATS, built on [async-nats](https://docs.rs/async-nats).
//!
//! [`NatsCheck`] checks that the client is connected and that a message makes a round trip
//! through the server: it subscribes to a fresh inbox, publishes one message to it and waits
//! for it (a flush only proves the socket took the bytes). With
//! [`jetstream(true)`](NatsCheckBuilder::jetstream) it also asks for the account's JetStream
//! information. Details carry the server's version and name, the round trip, and JetStream's
//! streams and consumers.
//!
//! ```no_run
//! use std::time::Duration;
//! use vitals_nats::NatsCheck;
//!
//! let check = NatsCheck::builder("tls://app:secret@nats.internal:4222")
//!     .jetstream(true)
//!     .root_certificates_file("/etc/nats/ca.pem")
//!     .connect_timeout(Duration::from_secs(3))
//!     .build()
//!     .expect("a valid URL");
//! # let _ = check;
//! ```
//!
//! Built from a URL, the check keeps one connection of its own only while attempts succeed
//! ([`vitals_core::ReusedClient`]), so a restarted server is reached again and a server that is
//! down is not hammered by a reconnect loop. Built from the application's own client, it
//! checks that (and async-nats' reconnect policy applies). The builder has the vocabulary of
//! every vitals probe crate: `builder(url)` or `builder_for_client(client)`, then `name`,
//! `component`, `secret`, `attempt_timeout` and `build()`. `NATS_URL` is read by `vitals-env`.
#![forbid(unsafe_code)]

use std::{
    fmt,
    time::{Duration, Instant},
};

use async_nats::{Client, ConnectOptions, connection::State};
use futures_util::StreamExt;
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, ReusedClient, SettingsCheck,
    async_trait, scrub,
};

pub use async_nats;

/// The default bound of connecting (TCP, TLS, the `CONNECT` handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The default bound of the round trip (and of JetStream's account information).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The JetStream API subject that answers with the account's information.
const JETSTREAM_INFO: &str = "$JS.API.INFO";

/// The URL schemes the check accepts.
pub const SCHEMES: &[&str] = &["nats", "tls"];

/// Checks a NATS server with a message round trip (and JetStream, when asked).
pub struct NatsCheck {
    settings: CheckSettings,
    jetstream: bool,
    request_timeout: Duration,
    target: Target,
}

enum Target {
    Url {
        /// The URL without its credentials (async-nats logs the URL it connects to).
        url: String,
        credentials: Credentials,
        /// `host:port`, for messages.
        endpoint: String,
        connect_timeout: Duration,
        /// A verifying configuration with the builder's roots; `None`: async-nats's own.
        tls: Option<Box<rustls::ClientConfig>>,
        connection: ReusedClient<Client>,
    },
    Client(Client),
}

impl fmt::Debug for NatsCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Url { endpoint, .. } => endpoint.clone(),
            Target::Client(_) => "client".to_owned(),
        };
        f.debug_struct("NatsCheck")
            .field("name", &self.settings.name())
            .field("target", &target)
            .field("jetstream", &self.jetstream)
            .finish_non_exhaustive()
    }
}

/// Credentials taken out of the URL, given to async-nats as options.
enum Credentials {
    None,
    UserAndPassword(String, String),
    Token(String),
}

enum Source {
    Url(String),
    Client(Client),
}

/// Builds a [`NatsCheck`].
#[must_use = "call .build() to get the check"]
pub struct NatsCheckBuilder {
    source: Source,
    settings: CheckSettings,
    jetstream: bool,
    connect_timeout: Duration,
    request_timeout: Duration,
    roots: vitals_tls::TrustRoots,
}

impl fmt::Debug for NatsCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url(url) => scrub(url),
            Source::Client(_) => "client".to_owned(),
        };
        f.debug_struct("NatsCheckBuilder")
            .field("source", &source)
            .field("jetstream", &self.jetstream)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl NatsCheck {
    /// A builder for a check of the server at `url` (`nats://[user:password@]host:port`, or
    /// `tls://…` for TLS), with one connection of its own.
    pub fn builder(url: impl Into<String>) -> NatsCheckBuilder {
        NatsCheck::builder_from(Source::Url(url.into()))
    }

    /// A builder for a check of the application's own client.
    pub fn builder_for_client(client: Client) -> NatsCheckBuilder {
        NatsCheck::builder_from(Source::Client(client))
    }

    fn builder_from(source: Source) -> NatsCheckBuilder {
        NatsCheckBuilder {
            source,
            settings: CheckSettings::new("nats", "nats"),
            jetstream: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            roots: vitals_tls::TrustRoots::default(),
        }
    }
}

impl NatsCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "nats",
        component: "nats",
        attempt_timeout: "connect timeout + request timeout, twice that with JetStream",
        scrubbed: "the URL's password or token",
    }

    /// Also ask for the account's JetStream information (fails when JetStream is off or
    /// unreachable).
    pub fn jetstream(mut self, jetstream: bool) -> Self {
        self.jetstream = jetstream;
        self
    }

    /// How long connecting may take (default 5 s). Only for a check built from a URL.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the round trip (and JetStream's answer) may take (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    vitals_tls::trust_root_methods! {
        roots: roots,
        for: "`tls://` (only for a check built from a URL)",
    }

    /// Parses the URL and prepares the check (no connection is made yet).
    pub fn build(self) -> Result<NatsCheck, InvalidConfig> {
        let mut settings = self.settings;
        let target = match self.source {
            Source::Client(client) => Target::Client(client),
            Source::Url(url) => {
                let url = url.trim().to_owned();
                let invalid = |why: &str| {
                    InvalidConfig::new(format!(
                        "invalid NATS URL {:?}: {}; expected nats://[user:password@]host[:port] \
                         or tls://…",
                        scrub(&url),
                        scrub(why)
                    ))
                };
                let parsed = url::Url::parse(&url).map_err(|e| invalid(&e.to_string()))?;
                if !SCHEMES.contains(&parsed.scheme()) {
                    return Err(invalid(&format!(
                        "unsupported scheme {:?}",
                        parsed.scheme()
                    )));
                }
                let host = parsed
                    .host_str()
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| invalid("no host"))?;
                // A password, or a token given as the user alone, is a secret; both leave
                // the URL (async-nats logs it) for async-nats' own options.
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("v={s}").as_bytes())
                        .next()
                        .map_or_else(|| s.to_owned(), |(_, v)| v.into_owned())
                };
                let credentials = match (parsed.username(), parsed.password()) {
                    ("", None) => Credentials::None,
                    (token, None) => Credentials::Token(decode(token)),
                    (user, Some(password)) => {
                        Credentials::UserAndPassword(decode(user), decode(password))
                    }
                };
                match &credentials {
                    Credentials::UserAndPassword(_, secret) | Credentials::Token(secret) => {
                        settings.add_secret(secret.clone());
                    }
                    Credentials::None => {}
                }
                let mut bare = parsed.clone();
                let _ = bare.set_username("");
                let _ = bare.set_password(None);
                let endpoint = format!("{host}:{}", parsed.port().unwrap_or(4222));
                Target::Url {
                    url: bare.to_string(),
                    credentials,
                    endpoint,
                    connect_timeout: self.connect_timeout,
                    tls: if self.roots.is_system() {
                        None
                    } else {
                        let config = self.roots.client_config().map_err(InvalidConfig::new)?;
                        Some(Box::new(config))
                    },
                    connection: ReusedClient::with_discard(close),
                }
            }
        };
        Ok(NatsCheck {
            settings,
            jetstream: self.jetstream,
            request_timeout: self.request_timeout,
            target,
        })
    }
}

/// Closes a discarded client in the background (its handler stops reconnecting).
fn close(client: Client) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), client.drain()).await;
        });
    }
}

impl NatsCheck {
    /// The round trip (and JetStream) on a connected client.
    async fn probe(&self, client: &Client, endpoint: &str) -> Result<Details, CheckError> {
        if client.connection_state() != State::Connected {
            return Err(CheckError::new(format!(
                "{endpoint}: the client is {} (reconnecting)",
                client.connection_state()
            )));
        }
        let info = client.server_info();
        let mut details = Details::new()
            .with("version", &info.version)
            .with("server_name", &info.server_name)
            .with("endpoint", endpoint);
        let started = Instant::now();
        let round_trip = async {
            let inbox = client.new_inbox();
            let mut subscription = client
                .subscribe(inbox.clone())
                .await
                .map_err(|e| Cause::describe_error(&format!("subscribe on {endpoint}"), &e))?;
            client
                .publish(inbox, "vitals".into())
                .await
                .map_err(|e| Cause::describe_error(&format!("publish on {endpoint}"), &e))?;
            client
                .flush()
                .await
                .map_err(|e| Cause::describe_error(&format!("flush to {endpoint}"), &e))?;
            let message = subscription.next().await;
            let _ = subscription.unsubscribe().await;
            message.map(|_| ()).ok_or_else(|| {
                CheckError::new(format!("round trip on {endpoint}: the subscription closed"))
            })
        };
        match tokio::time::timeout(self.request_timeout, round_trip).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(CheckError::new(format!(
                    "round trip on {endpoint}: no message back within {} ms (the request \
                     timeout): the server does not answer",
                    self.request_timeout.as_millis()
                )));
            }
        }
        details = details.with("round_trip_ms", started.elapsed().as_millis());
        if self.jetstream {
            details = self
                .jetstream_account(client, endpoint, info.jetstream, details)
                .await?;
        }
        Ok(details)
    }

    /// JetStream's account information (`$JS.API.INFO`), read as JSON: its fields differ
    /// between server versions, and only the streams, consumers and error matter here.
    async fn jetstream_account(
        &self,
        client: &Client,
        endpoint: &str,
        offered: bool,
        details: Details,
    ) -> Result<Details, CheckError> {
        let context = if offered {
            format!("JetStream on {endpoint}")
        } else {
            format!("JetStream on {endpoint} (the server does not offer JetStream)")
        };
        let request = client.request(JETSTREAM_INFO, "".into());
        let reply = match tokio::time::timeout(self.request_timeout, request).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => {
                return Err(Cause::describe_error(&context, &error).with_details(details));
            }
            Err(_) => {
                return Err(CheckError::new(format!(
                    "{context}: no answer within {} ms (the request timeout)",
                    self.request_timeout.as_millis()
                ))
                .with_details(details));
            }
        };
        let account: serde_json::Value = serde_json::from_slice(&reply.payload).map_err(|e| {
            CheckError::new(format!("{context}: the answer is not JSON: {e}"))
                .with_details(details.clone())
        })?;
        if let Some(error) = account.get("error") {
            let description = error
                .get("description")
                .and_then(|d| d.as_str())
                .unwrap_or("an error without a description");
            let code = error.get("err_code").or_else(|| error.get("code"));
            let code = code.map(|c| format!(" (error {c})")).unwrap_or_default();
            return Err(
                CheckError::new(format!("{context}: {description}{code}")).with_details(details)
            );
        }
        let count = |key: &str| account.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
        Ok(details
            .with("jetstream_streams", count("streams"))
            .with("jetstream_consumers", count("consumers")))
    }

    async fn check_url(
        &self,
        (url, credentials): (&str, &Credentials),
        endpoint: &str,
        connect_timeout: Duration,
        tls: Option<&rustls::ClientConfig>,
        connection: &ReusedClient<Client>,
    ) -> Result<Details, CheckError> {
        let connect = || async {
            let mut options = ConnectOptions::new()
                .connection_timeout(connect_timeout)
                .request_timeout(Some(self.request_timeout))
                .ignore_discovered_servers();
            if let Some(config) = tls {
                options = options.tls_client_config(config.clone());
            }
            options = match credentials {
                Credentials::None => options,
                Credentials::UserAndPassword(user, password) => {
                    options.user_and_password(user.clone(), password.clone())
                }
                Credentials::Token(token) => options.token(token.clone()),
            };
            let context = format!("connect to {endpoint}");
            // async-nats bounds the connection itself; this bound, a little later, only
            // catches a handshake that never ends.
            let bound = connect_timeout + Duration::from_millis(100);
            match tokio::time::timeout(bound, options.connect(url)).await {
                Ok(Ok(client)) => Ok(client),
                Ok(Err(error)) => Err(Cause::describe_error(&context, &error)),
                Err(_) => Err(CheckError::new(format!(
                    "{context}: timed out after {} ms (the connect timeout)",
                    connect_timeout.as_millis()
                ))),
            }
        };
        let client = connection
            .lease(|c| c.connection_state() == State::Connected, connect)
            .await?;
        let details = self.probe(&client, endpoint).await?;
        client.keep();
        Ok(details)
    }
}

#[async_trait]
impl SettingsCheck for NatsCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        let requests = if self.jetstream { 2 } else { 1 } * self.request_timeout;
        Some(match &self.target {
            Target::Url {
                connect_timeout, ..
            } => *connect_timeout + requests,
            Target::Client(_) => requests,
        })
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        match &self.target {
            Target::Url {
                url,
                credentials,
                endpoint,
                connect_timeout,
                tls,
                connection,
            } => {
                self.check_url(
                    (url, credentials),
                    endpoint,
                    *connect_timeout,
                    tls.as_deref(),
                    connection,
                )
                .await
            }
            Target::Client(client) => {
                let info = client.server_info();
                let endpoint = format!("{}:{}", info.host, info.port);
                self.probe(client, &endpoint).await
            }
        }
    }
}
