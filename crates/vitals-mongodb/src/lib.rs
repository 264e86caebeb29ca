//! A [`vitals_core::Check`] for MongoDB, built on the official driver.
//!
//! [`MongoCheck`] runs `ping` against `admin`, then reads the server version (`buildInfo`)
//! and topology (`hello`) for the details.
//!
//! ```no_run
//! use std::time::Duration;
//! use vitals_mongodb::MongoCheck;
//!
//! let check = MongoCheck::builder("mongodb+srv://app:secret@cluster0.example.net/app")
//!     .server_selection_timeout(Duration::from_secs(60))
//!     .build()
//!     .expect("a valid connection string");
//! # let _ = check;
//! ```
//!
//! The builder has the vocabulary of every vitals probe crate: `builder(uri)` or
//! `builder_for_client(client)`, then `name`, `component`, `secret`, `attempt_timeout` and
//! `build()`. The deployment guide's `MONGO_*` variables are read by `vitals-env`.
#![forbid(unsafe_code)]

use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

use mongodb::{
    Client,
    bson::{Document, doc},
    error::{Error, ErrorKind},
    event::{EventHandler, sdam::SdamEvent},
    options::{ClientOptions, ConnectionString, HostInfo, ServerAddress},
};
use tokio::sync::watch;
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, ReusedClient, SettingsCheck,
    async_trait, scrub,
};

pub use mongodb;

/// The driver's (and the deployment guide's) default server selection timeout.
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_millis(30_000);

/// The default bound of the check's commands once a server is selected (`ping`, and apart
/// from it `buildInfo` and `hello` for the details).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(5_000);

/// Checks a MongoDB deployment with `ping`.
pub struct MongoCheck {
    settings: CheckSettings,
    target: Target,
    /// `Some(caveat)` on Amazon DocumentDB: probed with `hello`, reported `warn` with it.
    documentdb: Option<String>,
}

enum Target {
    Uri {
        connection_string: Box<ConnectionString>,
        selection_timeout: Duration,
        command_timeout: Duration,
        client: ReusedClient<Connected>,
    },
    Client(Client),
}

/// A client of the check's own, and what its monitors say of the seed servers.
struct Connected {
    client: Client,
    monitors: Monitors,
}

/// The seed servers' latest heartbeat failures that waiting cannot mend (refused, no DNS
/// record, certificate rejected), from the driver's monitoring events. When every seed has
/// one, server selection cannot succeed before its timeout, so the attempt fails at once with
/// the driver's own error; a server that does not answer at all (blackholed) produces no such
/// failure and stays bounded by the selection timeout.
struct Monitors {
    seeds: Vec<ServerAddress>,
    failures: watch::Receiver<HashMap<ServerAddress, String>>,
}

impl Monitors {
    /// The handler the driver calls with its monitoring events, and the monitors it feeds.
    fn new(seeds: Vec<ServerAddress>) -> (EventHandler<SdamEvent>, Monitors) {
        let (sender, failures) = watch::channel(HashMap::new());
        let sender = Arc::new(sender);
        let handler = EventHandler::callback(move |event: SdamEvent| match event {
            SdamEvent::ServerHeartbeatFailed(event) => {
                // The driver's message without its labels and source dump.
                let text = message(&event.failure);
                let lasting = matches!(
                    Cause::recognise(&text),
                    Some(Cause::Refused | Cause::DnsLookup | Cause::TlsCertificate)
                );
                sender.send_if_modified(|failures| {
                    if lasting {
                        failures.insert(event.server_address, text);
                        true
                    } else {
                        failures.remove(&event.server_address).is_some()
                    }
                });
            }
            SdamEvent::ServerHeartbeatSucceeded(event) => {
                sender
                    .send_if_modified(|failures| failures.remove(&event.server_address).is_some());
            }
            _ => {}
        });
        (handler, Monitors { seeds, failures })
    }

    /// Resolves, with each seed's error, once every seed has failed in a way waiting cannot
    /// mend; pending otherwise.
    async fn all_failed(&self, command: &str) -> CheckError {
        let mut failures = self.failures.clone();
        let seeds = &self.seeds;
        let failed = failures
            .wait_for(|failures| {
                !seeds.is_empty() && seeds.iter().all(|seed| failures.contains_key(seed))
            })
            .await
            // The text only: the channel's read guard must not live across an await.
            .map(|failures| {
                seeds
                    .iter()
                    .map(|seed| format!("{seed}: {}", failures[seed]))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
        // The client is gone: only the ping can end the attempt.
        let Ok(text) = failed else {
            return std::future::pending().await;
        };
        Cause::describe(command, Cause::recognise(&text).map(phrase), &text)
    }
}

impl fmt::Debug for MongoCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoCheck")
            .field("name", &self.settings.name())
            .finish_non_exhaustive()
    }
}

/// What the check talks to.
enum Source {
    Uri(String),
    Client(Client),
}

/// Builds a [`MongoCheck`].
#[must_use = "call .build() to get the check"]
pub struct MongoCheckBuilder {
    source: Source,
    settings: CheckSettings,
    selection_timeout: Duration,
    command_timeout: Duration,
    documentdb: Option<bool>,
}

impl fmt::Debug for MongoCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Uri(uri) => scrub(uri),
            Source::Client(_) => "client".to_owned(),
        };
        f.debug_struct("MongoCheckBuilder")
            .field("source", &source)
            .field("settings", &self.settings)
            .field("selection_timeout", &self.selection_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

impl MongoCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "mongo",
        component: "mongo",
        attempt_timeout: "server selection + command timeout, for a connection string; the registry's default for a client",
        scrubbed: "a connection string's password",
    }

    /// How long the driver looks for a suitable server (default 30 s). A
    /// `serverSelectionTimeoutMS` in the URI wins over this. Only for a connection string: a
    /// client keeps its own.
    pub fn server_selection_timeout(mut self, timeout: Duration) -> Self {
        self.selection_timeout = timeout;
        self
    }

    /// How long the check's commands may take once a server is selected (default 5 s): a
    /// server that accepts connections but never answers fails within selection + this.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Whether the server is Amazon DocumentDB. Unset, it is detected from the connection
    /// string's hosts (`*.docdb.amazonaws.com`, `*.docdb-elastic.amazonaws.com`, as the
    /// official drivers detect it); set it for a cluster behind a DNS alias, or for a client.
    /// On DocumentDB the check probes with `hello`, reports `engine: documentdb`, and warns
    /// with the deployment guide's compatibility caveat.
    pub fn documentdb(mut self, documentdb: bool) -> Self {
        self.documentdb = Some(documentdb);
        self
    }

    /// Validates the connection string (no connection or DNS lookup is made yet).
    pub fn build(self) -> Result<MongoCheck, InvalidConfig> {
        let mut settings = self.settings;
        let uri = match self.source {
            Source::Client(client) => {
                return Ok(MongoCheck {
                    settings,
                    target: Target::Client(client),
                    documentdb: self
                        .documentdb
                        .unwrap_or(false)
                        .then(|| documentdb_caveat(None)),
                });
            }
            Source::Uri(uri) => uri,
        };
        let connection_string = ConnectionString::parse(&uri).map_err(|e| {
            InvalidConfig::new(format!(
                "invalid MongoDB connection string {:?}: {}; expected mongodb://[user:password@]host[:port][/db][?options] or mongodb+srv://…",
                scrub(&uri),
                scrub(&message(&e))
            ))
        })?;
        if let Some(password) = connection_string
            .credential
            .as_ref()
            .and_then(|c| c.password.clone())
        {
            settings.add_secret(password);
        }
        let documentdb = self
            .documentdb
            .unwrap_or_else(|| is_documentdb(&connection_string))
            .then(|| documentdb_caveat(connection_string.retry_writes));
        Ok(MongoCheck {
            settings,
            documentdb,
            target: Target::Uri {
                // A serverSelectionTimeoutMS in the URI wins over the builder's.
                selection_timeout: connection_string
                    .server_selection_timeout
                    .unwrap_or(self.selection_timeout),
                connection_string: Box::new(connection_string),
                command_timeout: self.command_timeout,
                client: ReusedClient::new(),
            },
        })
    }
}

impl MongoCheck {
    /// A builder for a check of the deployment at `uri` (`mongodb://` or `mongodb+srv://`).
    /// The check creates its own client and keeps it only while attempts succeed.
    pub fn builder(uri: impl Into<String>) -> MongoCheckBuilder {
        MongoCheck::builder_from(Source::Uri(uri.into()))
    }

    /// A builder for a check through the application's own client (and its connection pool).
    pub fn builder_for_client(client: Client) -> MongoCheckBuilder {
        MongoCheck::builder_from(Source::Client(client))
    }

    fn builder_from(source: Source) -> MongoCheckBuilder {
        MongoCheckBuilder {
            source,
            settings: CheckSettings::new("mongo", "mongo"),
            selection_timeout: DEFAULT_SERVER_SELECTION_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            documentdb: None,
        }
    }

    /// Connects a new client (resolving `mongodb+srv` records: a DNS failure here is retried
    /// next attempt).
    async fn connect(
        connection_string: &ConnectionString,
        selection_timeout: Duration,
    ) -> Result<Connected, CheckError> {
        let mut options = ClientOptions::parse(connection_string.clone())
            .await
            .map_err(|e| describe("resolve the connection string", &e))?;
        options.server_selection_timeout = Some(selection_timeout);
        options
            .app_name
            .get_or_insert_with(|| "vitals-health".to_owned());
        // The seeds as resolved (a mongodb+srv record's hosts).
        let (handler, monitors) = Monitors::new(options.hosts.clone());
        options.sdam_event_handler = Some(handler);
        let client =
            Client::with_options(options).map_err(|e| describe("create the client", &e))?;
        Ok(Connected { client, monitors })
    }
}

/// Pings, with a second ping when a pooled connection turned out dead, within `limit`.
async fn ping_bounded(
    client: &Client,
    command: &str,
    limit: Option<Duration>,
) -> Result<(), CheckError> {
    let pinged = async {
        let first = ping(client, command).await.err()?;
        // A pooled connection that died answers the first ping with an I/O error; the pool
        // is cleared, so a second ping goes through server selection and tells the truth.
        let retry = matches!(
            first.kind.as_ref(),
            ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. }
        );
        if retry {
            ping(client, command).await.err()
        } else {
            Some(first)
        }
    };
    let error = match limit {
        None => pinged.await,
        Some(limit) => tokio::time::timeout(limit, pinged).await.map_err(|_| {
            CheckError::new(format!(
                "{command}: no answer within {} ms (server selection and the command's own timeout)",
                limit.as_millis()
            ))
        })?,
    };
    match error {
        None => Ok(()),
        Some(error) => Err(describe(command, &error)),
    }
}

/// `ping` (MongoDB) or `hello` (DocumentDB documents it) against `admin`.
async fn ping(client: &Client, command: &str) -> Result<(), Error> {
    client
        .database("admin")
        .run_command(doc! { command: 1 })
        .await
        .map(drop)
}

/// Host suffixes of Amazon DocumentDB, as the official drivers detect it.
const DOCUMENTDB_SUFFIXES: [&str; 2] = [".docdb.amazonaws.com", ".docdb-elastic.amazonaws.com"];

fn is_documentdb(connection_string: &ConnectionString) -> bool {
    let on_documentdb = |host: &str| {
        DOCUMENTDB_SUFFIXES
            .iter()
            .any(|s| host.to_ascii_lowercase().ends_with(s))
    };
    match &connection_string.host_info {
        HostInfo::DnsRecord(host) => on_documentdb(host),
        HostInfo::HostIdentifiers(hosts) => hosts.iter().any(|address| match address {
            ServerAddress::Tcp { host, .. } => on_documentdb(host),
            _ => false,
        }),
        _ => false,
    }
}

/// The deployment guide's caveat, and retryable writes' engine requirement when the
/// connection string leaves them on.
fn documentdb_caveat(retry_writes: Option<bool>) -> String {
    let mut caveat = "Amazon DocumentDB is not fully MongoDB-compatible: the deployment guide \
        recommends MongoDB (self-hosted or Atlas) and warns of edge cases"
        .to_owned();
    if retry_writes != Some(false) {
        caveat.push_str(
            "; retryable writes need DocumentDB engine 8.0.2 or later: add retryWrites=false \
             to the connection string on older engines",
        );
    }
    caveat
}

/// The message of a driver error, without the driver's labels.
fn message(error: &Error) -> String {
    match error.kind.as_ref() {
        ErrorKind::ServerSelection { message, .. } => message.clone(),
        ErrorKind::InvalidArgument { message, .. } => message.clone(),
        ErrorKind::DnsResolve { message, .. } => message.clone(),
        ErrorKind::Authentication { message, .. } => message.clone(),
        _ => error.kind.to_string(),
    }
}

/// A server selection message without the driver's topology dump: each server's address and
/// its error, e.g. `no server selected within the timeout: 127.0.0.1:1: I/O error: Connection
/// refused (os error 111)`. `None` when the message has no topology to condense.
fn selection_summary(message: &str) -> Option<String> {
    let (_, topology) = message.split_once("Topology:")?;
    let servers: Vec<String> = topology
        .split("Address: ")
        .skip(1)
        .map(|server| {
            let address = server.split(',').next().unwrap_or_default().trim();
            let error = server
                .split_once("Error: ")
                .map(|(_, rest)| rest)
                .map(|rest| rest.split(", labels:").next().unwrap_or(rest))
                .map(|rest| {
                    rest.trim_start_matches("Kind: ")
                        .trim_end_matches([' ', '}', ']'])
                });
            match error {
                Some(error) => format!("{address}: {error}"),
                None => format!("{address}: unknown"),
            }
        })
        .collect();
    (!servers.is_empty()).then(|| {
        format!(
            "no server selected within the timeout: {}",
            servers.join("; ")
        )
    })
}

/// A cause in words, with what to do about a rejected certificate in MongoDB's terms.
fn phrase(cause: Cause) -> &'static str {
    match cause {
        Cause::TlsCertificate => {
            "TLS certificate rejected: trust its CA with tlsCAFile=… or, for testing only, \
             tlsAllowInvalidCertificates=true"
        }
        cause => cause.phrase(),
    }
}

/// Says what went wrong in words an operator acts on.
fn describe(context: &str, error: &Error) -> CheckError {
    let text = message(error);
    // Classify on the driver's whole text; show people the condensed one.
    let shown = selection_summary(&text);
    let cause = match error.kind.as_ref() {
        ErrorKind::Authentication { .. } => Some(Cause::Authentication),
        ErrorKind::DnsResolve { .. } => Some(Cause::DnsLookup),
        _ => Cause::recognise(&text),
    };
    let hint = match (cause, error.kind.as_ref()) {
        (Some(cause), _) => Some(phrase(cause)),
        (None, ErrorKind::ServerSelection { .. }) => Some("no suitable server found"),
        (None, ErrorKind::Io(_)) => Some("connection lost"),
        (None, _) => None,
    };
    Cause::describe(context, hint, shown.as_deref().unwrap_or(&text))
}

/// `buildInfo` and `hello` facts, within `limit`; failures here never fail the check.
async fn details(client: &Client, limit: Duration) -> Details {
    tokio::time::timeout(limit, read_details(client))
        .await
        .unwrap_or_default()
}

async fn read_details(client: &Client) -> Details {
    let admin = client.database("admin");
    let mut details = Details::new();
    if let Ok(info) = admin.run_command(doc! { "buildInfo": 1 }).await
        && let Ok(version) = info.get_str("version")
    {
        details = details.with("version", version);
    }
    if let Ok(hello) = admin.run_command(doc! { "hello": 1 }).await {
        details = details.with("topology", topology(&hello));
        if let Ok(wire) = hello.get_i32("maxWireVersion") {
            details = details.with("max_wire_version", wire);
        }
    }
    details
}

fn topology(hello: &Document) -> String {
    if hello.get_str("msg") == Ok("isdbgrid") {
        "sharded".to_owned()
    } else if let Ok(set) = hello.get_str("setName") {
        format!("replica set {set}")
    } else {
        "standalone".to_owned()
    }
}

impl MongoCheck {
    /// The command that probes the server.
    fn command(&self) -> &'static str {
        if self.documentdb.is_some() {
            "hello"
        } else {
            "ping"
        }
    }

    /// The engine in the details; on DocumentDB, the caveat as the result's warning.
    fn engine(&self, details: Details) -> Details {
        match &self.documentdb {
            Some(caveat) => details.with("engine", "documentdb").warning(caveat.clone()),
            None => details.with("engine", "mongodb"),
        }
    }
}

#[async_trait]
impl SettingsCheck for MongoCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        match &self.target {
            Target::Uri {
                selection_timeout,
                command_timeout,
                ..
            } => Some(*selection_timeout + *command_timeout),
            Target::Client(_) => None,
        }
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        match &self.target {
            Target::Client(client) => {
                // The application's own client: its own timeouts apply, and the registry's
                // attempt timeout bounds the rest.
                ping_bounded(client, self.command(), None).await?;
                Ok(self.engine(details(client, DEFAULT_COMMAND_TIMEOUT).await))
            }
            Target::Uri {
                connection_string,
                selection_timeout,
                command_timeout,
                client,
            } => {
                // A client is reused only after a successful attempt: after a failed or cut-off
                // one, the next attempt starts from a new client and a new pool.
                let client = client
                    .lease(
                        |_| true,
                        || MongoCheck::connect(connection_string, *selection_timeout),
                    )
                    .await?;
                let limit = Some(*selection_timeout + *command_timeout);
                let command = self.command();
                tokio::select! {
                    pinged = ping_bounded(&client.client, command, limit) => pinged?,
                    refused = client.monitors.all_failed(command) => return Err(refused),
                }
                let details = details(&client.client, *command_timeout).await;
                client.keep();
                Ok(self.engine(details))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ConnectionString, documentdb_caveat, is_documentdb, selection_summary};

    #[test]
    fn documentdb_is_recognised_by_its_host_names() {
        let detect = |uri: &str| is_documentdb(&ConnectionString::parse(uri).unwrap());
        assert!(detect(
            "mongodb://u:p@app.cluster-abc.us-east-1.docdb.amazonaws.com:27017/?tls=true"
        ));
        assert!(detect(
            "mongodb+srv://u:p@app-123.us-east-1.docdb-elastic.amazonaws.com/"
        ));
        assert!(detect(
            "mongodb://a.example.com,B.CLUSTER-X.EU-WEST-1.DOCDB.AMAZONAWS.COM/"
        ));
        assert!(!detect("mongodb+srv://u:p@cluster0.abcde.mongodb.net/app"));
        assert!(!detect("mongodb://docdb.amazonaws.com.example.com/"));
        assert!(documentdb_caveat(None).contains("retryWrites=false"));
        assert!(!documentdb_caveat(Some(false)).contains("retryWrites"));
    }

    #[test]
    fn a_selection_timeout_is_condensed_to_each_servers_error() {
        let driver = "Server selection timeout: No available servers. Topology: { Type: Single, \
            Servers: [ { Address: 127.0.0.1:1, Type: Unknown, Error: Kind: I/O error: Connection \
            refused (os error 111), labels: {\"RetryableError\"}, source: None, server response: \
            None } ] }";
        assert_eq!(
            selection_summary(driver).as_deref(),
            Some(
                "no server selected within the timeout: 127.0.0.1:1: I/O error: Connection \
                 refused (os error 111)"
            )
        );
        let two = "Topology: { Servers: [ { Address: a:1, Type: Unknown }, { Address: b:2, \
            Error: Kind: TLS: certificate unknown, labels: {} } ] }";
        assert_eq!(
            selection_summary(two).as_deref(),
            Some(
                "no server selected within the timeout: a:1: unknown; b:2: TLS: certificate unknown"
            )
        );
        assert_eq!(selection_summary("Kind: I/O error: broken pipe"), None);
    }
}
