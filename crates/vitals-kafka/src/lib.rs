//! A [`vitals_core::Check`] for Kafka (Amazon MSK or any Kafka), in pure Rust.
//!
//! [`KafkaCheck`] asks one bootstrap broker (the first that answers, in order) two questions,
//! as any client does before its first request: `ApiVersions`, then `Metadata` for the named
//! topics only (never every topic, and never creating one). It passes when the broker
//! answers, a controller is elected, and every named topic exists with a leader for each
//! partition; it warns when a partition's in-sync replicas are fewer than its replicas. It
//! never produces, fetches or joins a group: Xabaril's Kafka check produces a message on every
//! probe, and Spring Boot removed its Kafka indicator after it reported UP wrongly.
//!
//! ```no_run
//! use vitals_kafka::KafkaCheck;
//!
//! // MSK with IAM-less SASL/SCRAM on port 9096, over TLS with the system's roots.
//! let check = KafkaCheck::builder(["b-1.msk.example:9096", "b-2.msk.example:9096"])
//!     .topics(["orders", "payments"])
//!     .tls()
//!     .sasl_scram_sha512("app", "secret")
//!     .build()
//!     .expect("valid brokers");
//! # let _ = check;
//! ```
//!
//! The client is the `kafka-protocol` crate's message types over tokio (and rustls for TLS):
//! the two requests need no client library's connection pool, metadata cache or producer, and
//! no C toolchain. Failures are said in words: refused, unresolvable or timed out (per
//! bootstrap broker), TLS, SASL (the mechanisms the broker offers; the broker's own message),
//! no controller, a topic missing or not authorized, a partition without a leader.
#![forbid(unsafe_code)]

mod protocol;
mod scram;

use std::{fmt, sync::Arc, time::Duration};

use kafka_protocol::messages::MetadataResponse;
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, SettingsCheck, async_trait, scrub,
};
use vitals_tls::TrustRoots;

pub use scram::Mechanism;

/// The default bound of connecting and of each request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The default port of a bootstrap broker given without one.
pub const DEFAULT_PORT: u16 = 9092;

/// Checks a Kafka cluster with `ApiVersions` and `Metadata`.
pub struct KafkaCheck {
    settings: CheckSettings,
    bootstrap: Vec<String>,
    topics: Vec<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
    roots: TrustRoots,
    use_tls: bool,
    sasl: Option<Sasl>,
    timeout: Duration,
}

/// SASL credentials and the mechanism to use them with.
#[derive(Clone)]
pub(crate) struct Sasl {
    pub(crate) mechanism: Mechanism,
    pub(crate) username: String,
    pub(crate) password: String,
}

impl fmt::Debug for KafkaCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaCheck")
            .field("name", &self.settings.name())
            .field("bootstrap", &self.bootstrap)
            .field("topics", &self.topics)
            .field("tls", &self.use_tls)
            .field("sasl", &self.sasl.as_ref().map(|s| s.mechanism))
            .finish_non_exhaustive()
    }
}

/// Builds a [`KafkaCheck`].
#[must_use = "call .build() to get the check"]
pub struct KafkaCheckBuilder {
    check: KafkaCheck,
}

impl fmt::Debug for KafkaCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaCheckBuilder")
            .field("check", &self.check)
            .finish()
    }
}

impl KafkaCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: check.settings,
        name: "kafka",
        component: "kafka",
        attempt_timeout: "the timeout for connecting plus one per request (ApiVersions, the SASL exchange, Metadata), for each bootstrap broker tried",
        scrubbed: "the SASL password",
    }

    vitals_tls::trust_root_methods! {
        roots: check.roots,
        for: "the brokers' certificates (and turn TLS on)",
    }

    /// The topics that must exist, each partition with a leader (default: none; the check
    /// then asks only for brokers and the controller).
    pub fn topics(mut self, topics: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.check.topics = topics.into_iter().map(Into::into).collect();
        self
    }

    /// Connects with TLS (MSK's 9094 and 9096), verifying the brokers' certificates against
    /// the system's roots and any given with `root_certificates_*`. Trust roots turn TLS on
    /// by themselves.
    pub fn tls(mut self) -> Self {
        self.check.use_tls = true;
        self
    }

    /// SASL/PLAIN (send it only over TLS).
    pub fn sasl_plain(self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.sasl(Mechanism::Plain, username, password)
    }

    /// SASL/SCRAM-SHA-256.
    pub fn sasl_scram_sha256(
        self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.sasl(Mechanism::ScramSha256, username, password)
    }

    /// SASL/SCRAM-SHA-512 (MSK's SCRAM).
    pub fn sasl_scram_sha512(
        self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.sasl(Mechanism::ScramSha512, username, password)
    }

    /// SASL with `mechanism`; the password is scrubbed from every output.
    pub fn sasl(
        mut self,
        mechanism: Mechanism,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        let password = password.into();
        if !password.is_empty() {
            self.check.settings.add_secret(password.clone());
        }
        self.check.sasl = Some(Sasl {
            mechanism,
            username: username.into(),
            password,
        });
        self
    }

    /// How long connecting, and each request, may take (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.check.timeout = timeout;
        self
    }

    /// Validates the brokers and topics, and builds the TLS configuration once.
    pub fn build(self) -> Result<KafkaCheck, InvalidConfig> {
        let mut check = self.check;
        if check.bootstrap.is_empty() {
            return Err(InvalidConfig::new(
                "no bootstrap broker: expected at least one host:port",
            ));
        }
        for broker in &mut check.bootstrap {
            *broker = bootstrap_address(broker)
                .map_err(|why| InvalidConfig::new(format!("{:?}: {why}", scrub(broker))))?;
        }
        for topic in &check.topics {
            let valid = (1..=249).contains(&topic.len())
                && topic
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !valid {
                return Err(InvalidConfig::new(format!(
                    "{:?} is not a topic name: 1 to 249 letters, digits, `.`, `_` and `-`",
                    scrub(topic)
                )));
            }
        }
        if check.use_tls || !check.roots.is_system() {
            let config = check.roots.client_config().map_err(InvalidConfig::new)?;
            check.tls = Some(Arc::new(config));
        }
        Ok(check)
    }
}

/// `host:port`, the port defaulting to [`DEFAULT_PORT`]; an IPv6 address in brackets.
fn bootstrap_address(broker: &str) -> Result<String, String> {
    let broker = broker.trim();
    let expected = "expected host:port (such as b-1.msk.example:9096 or [::1]:9092)";
    if broker.is_empty() || broker.contains("://") || broker.contains(['/', ' ', '@']) {
        return Err(expected.to_owned());
    }
    let (host, port) = match broker.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
            let port: u16 = port.parse().map_err(|_| expected.to_owned())?;
            (host, port)
        }
        _ => (broker, DEFAULT_PORT),
    };
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return Err(expected.to_owned());
    }
    Ok(format!("{host}:{port}"))
}

impl KafkaCheck {
    /// A builder for a check of the cluster reached through `bootstrap` brokers
    /// (`host:port`, tried in order).
    pub fn builder(bootstrap: impl IntoIterator<Item = impl Into<String>>) -> KafkaCheckBuilder {
        KafkaCheckBuilder {
            check: KafkaCheck {
                settings: CheckSettings::new("kafka", "kafka"),
                bootstrap: bootstrap.into_iter().map(Into::into).collect(),
                topics: Vec::new(),
                tls: None,
                roots: TrustRoots::default(),
                use_tls: false,
                sasl: None,
                timeout: DEFAULT_TIMEOUT,
            },
        }
    }

    /// The bootstrap brokers, as `host:port`.
    pub fn bootstrap(&self) -> &[String] {
        &self.bootstrap
    }

    /// What the cluster said, judged: brokers, the controller, each named topic's partitions.
    fn judge(&self, broker: &str, metadata: &MetadataResponse) -> Result<Details, CheckError> {
        let controller = metadata.controller_id.0;
        let brokers = metadata.brokers.len();
        if controller < 0 {
            return Err(CheckError::new(format!(
                "the cluster has no controller (asked {broker}, which knows {brokers} broker{}): \
                 no partition leadership can change until one is elected",
                if brokers == 1 { "" } else { "s" }
            )));
        }
        let mut problems = Vec::new();
        let mut missing = true;
        let mut under_replicated = Vec::new();
        for topic in &metadata.topics {
            let name = topic.name.as_ref().map_or("?", |n| n.0.as_str());
            match topic.error_code {
                0 => {}
                3 => {
                    problems.push(format!("topic {name} does not exist"));
                    continue;
                }
                29 => {
                    missing = false;
                    problems.push(format!(
                        "not authorized to describe topic {name} (TOPIC_AUTHORIZATION_FAILED): \
                         the principal lacks Describe on it"
                    ));
                    continue;
                }
                code => {
                    missing = false;
                    problems.push(format!("topic {name}: {}", protocol::error_name(code)));
                    continue;
                }
            }
            let leaderless: Vec<String> = topic
                .partitions
                .iter()
                .filter(|p| p.leader_id.0 < 0 || p.error_code == 5)
                .map(|p| p.partition_index.to_string())
                .collect();
            if !leaderless.is_empty() {
                missing = false;
                problems.push(format!(
                    "topic {name} has no leader for partition{} {}: writes and reads to {} fail",
                    if leaderless.len() == 1 { "" } else { "s" },
                    leaderless.join(", "),
                    if leaderless.len() == 1 { "it" } else { "them" }
                ));
            }
            under_replicated.extend(
                topic
                    .partitions
                    .iter()
                    .filter(|p| p.leader_id.0 >= 0 && p.isr_nodes.len() < p.replica_nodes.len())
                    .map(|p| {
                        format!(
                            "{name}/{} ({} of {} replicas in sync)",
                            p.partition_index,
                            p.isr_nodes.len(),
                            p.replica_nodes.len()
                        )
                    }),
            );
        }
        if !problems.is_empty() {
            let message = problems.join("; ");
            // Only missing topics: nothing a retry would change.
            return Err(if missing {
                CheckError::permanent(message)
            } else {
                CheckError::new(message)
            });
        }
        let mut details = Details::new()
            .with("broker", broker)
            .with("brokers", brokers.to_string())
            .with("controller", controller.to_string());
        if let Some(cluster) = &metadata.cluster_id {
            details = details.with("cluster_id", cluster.as_str());
        }
        if !self.topics.is_empty() {
            details = details.with("topics", self.topics.join(","));
        }
        if !under_replicated.is_empty() {
            details = details.warning(format!(
                "under-replicated partitions: {}",
                under_replicated.join(", ")
            ));
        }
        Ok(details)
    }
}

#[async_trait]
impl SettingsCheck for KafkaCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        // Connecting, ApiVersions, the SASL exchange (two round trips for SCRAM, one more
        // to start it), Metadata; for each bootstrap broker tried in turn.
        let steps = 3 + if self.sasl.is_some() { 3 } else { 0 };
        Some(self.timeout * steps * self.bootstrap.len() as u32)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        let mut failures = Vec::new();
        for broker in &self.bootstrap {
            match protocol::ask(self, broker).await {
                Ok(metadata) => return self.judge(broker, &metadata),
                Err(error) => failures.push(error),
            }
        }
        // Every bootstrap broker failed: say each, once.
        let permanent = failures.iter().all(CheckError::is_permanent);
        let message = failures
            .iter()
            .map(CheckError::message)
            .collect::<Vec<_>>()
            .join("; ");
        Err(if permanent {
            CheckError::permanent(message)
        } else {
            CheckError::new(message)
        })
    }
}

/// A transport failure in words: what was tried, on which broker, and why.
pub(crate) fn transport_error(broker: &str, step: &str, error: &std::io::Error) -> CheckError {
    let text = CheckError::from_error(error).message().to_owned();
    let hint = Cause::recognise(&text).map(Cause::phrase);
    Cause::describe(&format!("{step} {broker}"), hint, &text)
}

#[cfg(test)]
mod tests {
    use super::bootstrap_address;

    #[test]
    fn bootstrap_brokers_are_host_and_port() {
        assert_eq!(bootstrap_address("kafka").unwrap(), "kafka:9092");
        assert_eq!(bootstrap_address(" b-1.msk:9096 ").unwrap(), "b-1.msk:9096");
        assert_eq!(bootstrap_address("[::1]:9093").unwrap(), "[::1]:9093");
        assert_eq!(bootstrap_address("[::1]").unwrap(), "[::1]:9092");
        for bad in [
            "",
            "kafka://b:9092",
            "b:port",
            "::1:9092",
            "user@b:9092",
            "b:70000",
        ] {
            assert!(bootstrap_address(bad).is_err(), "{bad}");
        }
    }
}
