//! The vitals health registry.
//!
//! Implement [`Check`] for a dependency (or take one from a probe crate), register it in a
//! [`Health`] registry, and ask the registry for a [`Report`] per [`Probe`]. The registry does
//! what every check needs and no check should do itself:
//!
//! - runs a probe's checks **concurrently**; each attempt is bounded by the check's own
//!   driver timeout and each run by a budget that holds every attempt and backoff sleep
//!   (the one timing rule: [`timing`]);
//! - **retries** failed attempts with [`vitals_retry::Backoff`] (the deployment guide's
//!   ~1 s, ~2 s, ~4 s by default), except errors marked permanent;
//! - catches **panics**: a panicking check is a failed check;
//! - **caches** results for a TTL (on-demand mode) with **single-flight**: however many probe
//!   requests arrive on a stale cache, each check runs once, and a request waits for that run
//!   at most 250 ms before it answers from the latest result (stale-while-revalidate); a
//!   caller's deadline bounds only its own wait, never the run;
//! - or runs checks in the **background** on an interval, so probes only read
//!   ([`CheckOptions::interval`], [`HealthBuilder::interval`]);
//! - **latches** the startup probe after its first pass, and **drains** readiness on shutdown;
//! - **scrubs** credentials from every output ([`Scrubber`]).
//!
//! No environment variable is read here: the deployment guide's variables belong to
//! `vitals-env`. Probe crates share [`CheckSettings`] (name, component, secrets, attempt
//! timeout) and [`Cause`] (how a failure reads).
//!
//! ```
//! use std::time::Duration;
//! use vitals_core::{async_trait, Check, CheckError, CheckOptions, Details, Health, Probe, Status};
//!
//! struct Cache;
//! #[async_trait]
//! impl Check for Cache {
//!     fn name(&self) -> &str { "cache" }
//!     fn component(&self) -> &str { "redis" }
//!     async fn check(&self) -> Result<Details, CheckError> {
//!         Err(CheckError::new("connection refused"))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let health = Health::builder()
//!     // The guide: Redis "can be safely restarted or cleared", so it only warns.
//!     .register_with(Cache, CheckOptions::new().non_critical())
//!     .build();
//! let report = health.run(Probe::Readiness).await;
//! assert_eq!(report.status, Status::Warn);
//! assert_eq!(report.checks[0].attempts, 4); // the first try and 3 retries
//! println!("{}", report.to_text(true)); // [~]cache warn: connection refused
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cause;
mod check;
mod config;
mod engine;
mod entry;
mod fleet;
mod health;
pub mod history;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "metrics_off.rs"]
mod metrics;
mod options;
mod report;
mod report_options;
mod reused_client;
mod run;
mod scrub;
pub mod timing;

pub use async_trait::async_trait;
pub use builder::{DEFAULT_TTL, HealthBuilder, PlannedCheck};
pub use cause::Cause;
pub use check::{Check, CheckError, Details, SettingsCheck};
pub use config::{CheckSettings, Components, InvalidConfig, Skip};
pub use engine::{Demand, StatusChange};
pub use fleet::{Fleet, FleetCheck, FleetReplica, FleetView, MIN_REPLICAS, WeakFleet};
pub use health::{CheckHistory, Health};
pub use options::{CheckOptions, Probe, Probes, Severity};
pub use report::{CheckReport, CheckStatus, Provenance, Report, RunProgress, Status};
pub use report_options::ReportOptions;
pub use reused_client::{ClientLease, ReusedClient};
pub use scrub::{Scrubber, scrub};
pub use timing::CheckTiming;
pub use vitals_retry::{Backoff, Jitter};
