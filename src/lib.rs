//! vitals: health checks for Rust services.
//!
//! This facade re-exports the workspace's crates, one feature each:
//!
//! - [`retry`]: backoff with capped jitter (always available);
//! - the registry from `vitals-core` at the root;
//! - `tower` (default): the HTTP probe layer, as [`tower`];
//! - `redis`: the Redis / ElastiCache check, as `redis`;
//! - `mongodb`: the MongoDB check, as `mongodb`;
//! - `s3`: the S3 bucket check, as `s3`;
//! - `http`: the HTTP upstream / custom-code runner check, as `http`;
//! - `tonic`: `grpc.health.v1` served from the registry, as `tonic`;
//! - `env`: the deployment guide's environment variables, as `env`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use vitals_core::*;
pub use vitals_retry as retry;

#[cfg(feature = "tower")]
pub use vitals_tower as tower;

#[cfg(feature = "redis")]
pub use vitals_redis as redis;

#[cfg(feature = "mongodb")]
pub use vitals_mongodb as mongodb;

#[cfg(feature = "s3")]
pub use vitals_s3 as s3;

#[cfg(feature = "http")]
pub use vitals_http as http;

#[cfg(feature = "tonic")]
pub use vitals_tonic as tonic;

#[cfg(feature = "env")]
pub use vitals_env as env;
