//! The fleet's view from Prometheus: every replica's checks, history that survives restarts,
//! and the reading that lets [`shared`](vitals_core::CheckOptions::shared) checks fail open.
//!
//! Each replica's registry knows only itself, and its history lives in its memory. The
//! Prometheus that scrapes every replica's `/metrics` already holds the fleet's: this crate
//! reads it in the background into a [`vitals_core::Fleet`], which the registry
//! ([`HealthBuilder::fleet`](vitals_core::HealthBuilder::fleet)) and the status page read.
//!
//! ```no_run
//! use std::time::Duration;
//! use vitals_core::{CheckOptions, Health};
//! use vitals_prometheus::PrometheusFleet;
//!
//! # async fn example() -> Result<(), vitals_prometheus::InvalidPrometheusUrl> {
//! let fleet = PrometheusFleet::new("http://prometheus.monitoring:9090")?
//!     .selector(r#"namespace="shop",pod=~"orders-.*""#)
//!     .interval(Duration::from_secs(15))
//!     .spawn();
//! let health = Health::builder().fleet(fleet).build();
//! # let _ = health;
//! # Ok(())
//! # }
//! ```
//!
//! A reading is [`QUERIES`] queries made together, bounded by the reading's timeout (the
//! interval by default, at most 5 s): each check's served status and whether its latest run
//! succeeded, per replica (`vitals_healthcheck_status`, `vitals_healthcheck_up`); its uptime
//! over 1 h, 24 h, 7 d and 30 d (`vitals_healthcheck_up` over time, every replica and restart
//! weighted by its samples); its median and 99th-percentile run duration over the last hour
//! (`vitals_healthcheck_duration_seconds`); and, from one range query, the fleet's state over
//! the last hour (every replica passing, some failing, all failing) as its changes. A failed reading keeps the last good one
//! and says why; a reading decides fail-open for three intervals.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::{collections::BTreeMap, fmt, time::Duration};

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use serde::Deserialize;
use vitals_core::{CheckStatus, Fleet, FleetCheck, FleetReplica, history::UPTIME_WINDOWS};

/// How often the fleet is read by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// The longest a reading may take by default (or the interval, if shorter).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many readings' age a reading decides fail-open for.
pub const FRESH_FOR_READINGS: u32 = 3;

/// The queries of one reading: seven instant queries and one range query.
pub const QUERIES: usize = 8;

/// How far back the fleet's timeline reaches.
pub const TIMELINE: Duration = Duration::from_secs(3_600);

/// The most bytes one answer may have: a fleet's checks are a few kilobytes.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// A URL that is not a plain `http://` URL of a Prometheus server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPrometheusUrl {
    url: String,
}

impl fmt::Display for InvalidPrometheusUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a Prometheus URL: expected http://host:port, optionally with a path \
             prefix (such as http://prometheus.monitoring:9090)",
            vitals_core::scrub(&self.url)
        )
    }
}

impl std::error::Error for InvalidPrometheusUrl {}

/// Reads the fleet from Prometheus in the background ([`PrometheusFleet::spawn`]).
#[derive(Clone, Debug)]
#[must_use = "a PrometheusFleet reads nothing until spawned"]
pub struct PrometheusFleet {
    base: String,
    selector: String,
    replica_label: String,
    interval: Duration,
    timeout: Option<Duration>,
}

impl PrometheusFleet {
    /// Reads from the Prometheus at `url` (`http://host:port`, optionally with a path prefix
    /// such as `/prometheus`).
    pub fn new(url: &str) -> Result<PrometheusFleet, InvalidPrometheusUrl> {
        let invalid = || InvalidPrometheusUrl {
            url: url.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| invalid())?;
        if uri.scheme_str() != Some("http")
            || uri.host().is_none_or(str::is_empty)
            || uri.query().is_some()
            || uri.authority().is_some_and(|a| a.as_str().contains('@'))
        {
            return Err(invalid());
        }
        Ok(PrometheusFleet {
            base: url.trim_end_matches('/').to_owned(),
            selector: String::new(),
            replica_label: "instance".to_owned(),
            interval: DEFAULT_INTERVAL,
            timeout: None,
        })
    }

    /// Label matchers that pick this service's series out of everything Prometheus scrapes,
    /// as inside `{…}` (`job="orders"`, `namespace="shop",pod=~"orders-.*"`). Empty (the
    /// default): every vitals series, right only when one service uses vitals.
    pub fn selector(mut self, matchers: impl Into<String>) -> Self {
        self.selector = matchers.into();
        self
    }

    /// The label that names a replica (default `instance`, which every scrape sets; `pod`
    /// under the prometheus-operator).
    pub fn replica_label(mut self, label: impl Into<String>) -> Self {
        self.replica_label = label.into();
        self
    }

    /// How often the fleet is read (default [`DEFAULT_INTERVAL`]).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(100));
        self
    }

    /// The longest one reading may take (default: the interval, at most [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How old a reading may be and still decide fail-open: [`FRESH_FOR_READINGS`] intervals.
    pub fn fresh_within(&self) -> Duration {
        self.interval * FRESH_FOR_READINGS
    }

    /// Where readings come from, for people.
    pub fn source(&self) -> String {
        format!("Prometheus at {}", self.base)
    }

    /// Starts reading on a task of its own, at once and then every interval, and returns the
    /// [`Fleet`] it keeps up to date. The task ends when every clone of the fleet is dropped.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(self) -> Fleet {
        let fleet = Fleet::new(self.source(), self.fresh_within());
        let weak = fleet.downgrade();
        tokio::spawn(async move {
            let client: Client<HttpConnector, Empty<Bytes>> =
                Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
            let mut ticks = tokio::time::interval(self.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                let Some(fleet) = weak.upgrade() else {
                    return;
                };
                match self.read(&client).await {
                    Ok(checks) => {
                        if std::mem::take(&mut failing) {
                            tracing::info!(source = %self.source(), "fleet reading works again");
                        }
                        fleet.read(checks);
                    }
                    Err(problem) => {
                        // Once per outage in the log; the page says it all along.
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(%problem, "fleet reading failed; fail-open is off until it works");
                        }
                        fleet.failed(problem);
                    }
                }
            }
        });
        fleet
    }

    /// One reading: every query, together, within the timeout.
    async fn read(
        &self,
        client: &Client<HttpConnector, Empty<Bytes>>,
    ) -> Result<Vec<FleetCheck>, String> {
        let timeout = self
            .timeout
            .unwrap_or_else(|| self.interval.min(DEFAULT_TIMEOUT));
        let queries = self.queries();
        let reading = async {
            let [q0, q1, q2, q3, q4, q5, q6] = &queries;
            tokio::try_join!(
                self.query(client, q0),
                self.query(client, q1),
                self.query(client, q2),
                self.query(client, q3),
                self.query(client, q4),
                self.query(client, q5),
                self.query(client, q6),
                self.timeline(client),
            )
        };
        let (status, up, u0, u1, u2, u3, latency, timeline) =
            tokio::time::timeout(timeout, reading).await.map_err(|_| {
                format!(
                    "{} did not answer within {}",
                    self.source(),
                    humanize(timeout)
                )
            })??;
        Ok(self.assemble(status, up, [u0, u1, u2, u3], latency, timeline))
    }

    /// The instant queries of a reading, in the order [`PrometheusFleet::assemble`] takes them
    /// (the timeline's range query is [`PrometheusFleet::timeline_query`]).
    fn queries(&self) -> [String; QUERIES - 1] {
        let s = &self.selector;
        let r = &self.replica_label;
        let uptime = |window: &str| {
            format!(
                "sum by (name) (sum_over_time(vitals_healthcheck_up{{{s}}}[{window}])) \
                 / sum by (name) (count_over_time(vitals_healthcheck_up{{{s}}}[{window}]))"
            )
        };
        // Both quantiles in one query, told apart by a `quantile` label.
        let quantile = |q: &str| {
            format!(
                "label_replace(histogram_quantile({q}, sum by (name, le) \
                 (rate(vitals_healthcheck_duration_seconds_bucket{{{s}}}[1h]))), \
                 \"quantile\", \"{q}\", \"\", \"\")"
            )
        };
        let [w0, w1, w2, w3] = UPTIME_WINDOWS.map(|(window, _)| window);
        [
            format!("max by (name, {r}, status) (vitals_healthcheck_status{{{s}}}) == 1"),
            format!("max by (name, {r}) (vitals_healthcheck_up{{{s}}})"),
            uptime(w0),
            uptime(w1),
            uptime(w2),
            uptime(w3),
            format!("{} or {}", quantile("0.5"), quantile("0.99")),
        ]
    }

    /// The share of replicas whose latest run failed, per check, over time.
    fn timeline_query(&self) -> String {
        let s = &self.selector;
        format!(
            "sum by (name) (1 - vitals_healthcheck_up{{{s}}}) / count by (name) (vitals_healthcheck_up{{{s}}})"
        )
    }

    /// The step of the timeline: the reading interval, from 1 s to 60 s (at most 3 600 points).
    fn timeline_step(&self) -> Duration {
        self.interval
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// The timeline's range query over the last [`TIMELINE`].
    async fn timeline(
        &self,
        client: &Client<HttpConnector, Empty<Bytes>>,
    ) -> Result<Vec<Series>, String> {
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let start = end.saturating_sub(TIMELINE);
        let step = self.timeline_step();
        let pairs = [
            ("query", self.timeline_query()),
            ("start", format!("{:.3}", start.as_secs_f64())),
            ("end", format!("{:.3}", end.as_secs_f64())),
            ("step", format!("{:.3}", step.as_secs_f64())),
        ];
        self.get(client, "query_range", &pairs).await
    }

    /// One instant query's samples.
    async fn query(
        &self,
        client: &Client<HttpConnector, Empty<Bytes>>,
        query: &str,
    ) -> Result<Vec<Sample>, String> {
        self.get(client, "query", &[("query", query.to_owned())])
            .await
    }

    /// One call of Prometheus' HTTP API (`/api/v1/{endpoint}`), its result decoded.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        client: &Client<HttpConnector, Empty<Bytes>>,
        endpoint: &str,
        pairs: &[(&str, String)],
    ) -> Result<Vec<T>, String> {
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let uri: Uri = format!("{}/api/v1/{endpoint}?{encoded}", self.base)
            .parse()
            .map_err(|e| format!("{}: the query's URL is invalid ({e})", self.source()))?;
        let response = client.get(uri).await.map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            format!("{} could not be reached: {e}{cause}", self.source())
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{}: reading its answer failed ({e})", self.source()))?
            .to_bytes();
        let answer: Answer<T> = serde_json::from_slice(&body).map_err(|_| {
            format!(
                "{} answered {status} without a Prometheus API answer",
                self.source()
            )
        })?;
        match answer {
            Answer {
                status: ref s,
                data: Some(data),
                ..
            } if s == "success" => Ok(data.result),
            Answer { error, .. } => Err(format!(
                "{} refused the query ({status}): {}",
                self.source(),
                error.unwrap_or_else(|| "no reason given".to_owned())
            )),
        }
    }

    /// The checks of a reading, from its queries' samples.
    fn assemble(
        &self,
        status: Vec<Sample>,
        up: Vec<Sample>,
        uptime: [Vec<Sample>; 4],
        latency: Vec<Sample>,
        timeline: Vec<Series>,
    ) -> Vec<FleetCheck> {
        // name → replica → (status, up)
        let mut seen: BTreeMap<String, BTreeMap<String, ReplicaSeen>> = BTreeMap::new();
        let key = |sample: &Sample| {
            Some((
                sample.label("name")?.to_owned(),
                sample.label(&self.replica_label)?.to_owned(),
            ))
        };
        for sample in &status {
            let parsed = match sample.label("status") {
                Some("pass") => Some(CheckStatus::Pass),
                Some("warn") => Some(CheckStatus::Warn),
                Some("fail") => Some(CheckStatus::Fail),
                _ => None,
            };
            if let (Some((name, replica)), Some(parsed)) = (key(sample), parsed) {
                seen.entry(name).or_default().entry(replica).or_default().0 = Some(parsed);
            }
        }
        for sample in &up {
            if let (Some((name, replica)), Some(value)) = (key(sample), sample.value()) {
                seen.entry(name).or_default().entry(replica).or_default().1 = Some(value >= 1.0);
            }
        }
        let by_name = |samples: &[Sample], name: &str| {
            samples
                .iter()
                .find(|s| s.label("name") == Some(name))
                .and_then(Sample::value)
                .filter(|v| v.is_finite())
        };
        seen.into_iter()
            .map(|(name, replicas)| {
                // A replica with no status yet has not finished a run: its `up` gauge is the
                // exporter's initial 0, not a failure.
                let replicas = replicas
                    .into_iter()
                    .map(|(replica, (status, up))| {
                        FleetReplica::new(replica, status, up.filter(|_| status.is_some()))
                    })
                    .collect();
                let seconds = |quantile: &str| {
                    latency
                        .iter()
                        .find(|s| {
                            s.label("name") == Some(&name) && s.label("quantile") == Some(quantile)
                        })
                        .and_then(Sample::value)
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .map(Duration::from_secs_f64)
                };
                let latency = seconds("0.5").zip(seconds("0.99"));
                let states = timeline
                    .iter()
                    .filter(|series| series.metric.get("name") == Some(&name))
                    .flat_map(|series| series.values.iter())
                    .filter_map(|(at, failing)| {
                        let at = at.as_f64().filter(|t| *t >= 0.0)?;
                        let failing: f64 = failing.parse().ok().filter(|f: &f64| f.is_finite())?;
                        let state = if failing <= 0.0 {
                            CheckStatus::Pass
                        } else if failing >= 1.0 {
                            CheckStatus::Fail
                        } else {
                            CheckStatus::Warn
                        };
                        Some((std::time::UNIX_EPOCH + Duration::from_secs_f64(at), state))
                    });
                let windows = uptime.each_ref().map(|samples| by_name(samples, &name));
                let states: Vec<_> = states.collect();
                FleetCheck::new(name, replicas)
                    .with_uptime(windows)
                    .with_latency(latency)
                    .with_timeline(states)
            })
            .collect()
    }
}

/// What a reading says of one replica's check: its served status, whether its run succeeded.
type ReplicaSeen = (Option<CheckStatus>, Option<bool>);

/// An answer of Prometheus' HTTP API.
#[derive(Deserialize)]
struct Answer<T> {
    status: String,
    data: Option<Data<T>>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data<T> {
    result: Vec<T>,
}

/// One series of a range vector: its labels and `[[time, "value"], …]`.
#[derive(Deserialize)]
struct Series {
    metric: BTreeMap<String, String>,
    values: Vec<(serde_json::Value, String)>,
}

/// One sample of an instant vector: its labels and `[time, "value"]`.
#[derive(Deserialize)]
struct Sample {
    metric: BTreeMap<String, String>,
    value: (serde_json::Value, String),
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.metric.get(name).map(String::as_str)
    }

    fn value(&self) -> Option<f64> {
        self.value.1.parse().ok()
    }
}

fn humanize(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_are_taken() {
        for good in ["http://127.0.0.1:9090", "http://prometheus/prom/"] {
            assert!(PrometheusFleet::new(good).is_ok(), "{good}");
        }
        for bad in [
            "https://prometheus:9090",
            "prometheus:9090",
            "http://user:secret@prometheus:9090",
            "http://prometheus:9090/?x=1",
            "",
        ] {
            let error = PrometheusFleet::new(bad).unwrap_err().to_string();
            assert!(error.contains("expected http://host:port"), "{error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }

    fn sample(labels: &[(&str, &str)], value: &str) -> Sample {
        Sample {
            metric: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value: (serde_json::json!(1.0), value.to_owned()),
        }
    }

    #[test]
    fn a_reading_is_assembled_per_check_and_replica() {
        let reader = PrometheusFleet::new("http://p:9090").unwrap();
        let status = vec![
            sample(
                &[("name", "mongo"), ("instance", "b:1"), ("status", "fail")],
                "1",
            ),
            sample(
                &[("name", "mongo"), ("instance", "a:1"), ("status", "pass")],
                "1",
            ),
        ];
        let up = vec![
            sample(&[("name", "mongo"), ("instance", "a:1")], "1"),
            sample(&[("name", "mongo"), ("instance", "b:1")], "0"),
            // Started, no run finished yet: no status, and its 0 is not a failure.
            sample(&[("name", "mongo"), ("instance", "c:1")], "0"),
        ];
        let uptime = [
            vec![sample(&[("name", "mongo")], "0.75")],
            vec![sample(&[("name", "mongo")], "NaN")],
            Vec::new(),
            Vec::new(),
        ];
        let latency = vec![
            sample(&[("name", "mongo"), ("quantile", "0.5")], "0.002"),
            sample(&[("name", "mongo"), ("quantile", "0.99")], "0.1"),
        ];
        let series = |values: &[(u64, &str)]| Series {
            metric: [("name".to_owned(), "mongo".to_owned())].into(),
            values: values
                .iter()
                .map(|(t, v)| (serde_json::json!(t), (*v).to_owned()))
                .collect(),
        };
        let timeline = vec![series(&[
            (10, "0"),
            (11, "0"),
            (12, "0.5"),
            (13, "1"),
            (14, "1"),
        ])];
        let checks = reader.assemble(status, up, uptime, latency, timeline);
        assert_eq!(checks.len(), 1);
        let mongo = &checks[0];
        assert_eq!(
            mongo.replicas,
            vec![
                FleetReplica::new("a:1", Some(CheckStatus::Pass), Some(true)),
                FleetReplica::new("b:1", Some(CheckStatus::Fail), Some(false)),
                FleetReplica::new("c:1", None, None),
            ]
        );
        assert_eq!(mongo.uptime[0], ("1h", Some(0.75)));
        assert_eq!(mongo.uptime[1], ("24h", None), "NaN is no number");
        assert_eq!(
            mongo.latency,
            Some((Duration::from_millis(2), Duration::from_millis(100)))
        );
        assert_eq!(mongo.every_replica_failing(), None);
        let at = |t: u64| std::time::UNIX_EPOCH + Duration::from_secs(t);
        assert_eq!(
            mongo.timeline,
            vec![
                (at(10), CheckStatus::Pass),
                (at(12), CheckStatus::Warn),
                (at(13), CheckStatus::Fail)
            ],
            "only the changes are kept"
        );
    }

    #[test]
    fn the_selector_and_replica_label_reach_every_query() {
        let reader = PrometheusFleet::new("http://p:9090")
            .unwrap()
            .selector(r#"job="orders""#)
            .replica_label("pod");
        for query in reader
            .queries()
            .into_iter()
            .chain([reader.timeline_query()])
        {
            assert!(query.contains(r#"{job="orders"}"#), "{query}");
        }
        assert!(reader.queries()[0].contains("(name, pod, status)"));
    }
}
