//! vitals: health checks for Rust services.
//!
//! This facade re-exports the workspace's crates, one feature each:
//!
//! - [`retry`]: backoff with capped jitter (always available);
//! - the registry from `vitals-core` at the root;
//! - `tower` (default): the HTTP probe layer, as [`tower`];
//! - `serve` (default): serving with every connection phase bounded, so probes survive the
//!   server's own traffic, as [`serve`];
//! - `redis`: the Redis / ElastiCache check, as `redis`;
//! - `mongodb`: the MongoDB check, as `mongodb`;
//! - `s3`: the S3 bucket check, as `s3`;
//! - `http`: the HTTP upstream / custom-code runner check, as `http`;
//! - `sql`: the PostgreSQL and MySQL/MariaDB check, as `sql`;
//! - `amqp`: the RabbitMQ / AMQP 0-9-1 check, as `amqp`;
//! - `nats`: the NATS check, as `nats`;
//! - `net`: TCP, DNS and TLS certificate checks, as `net`;
//! - `system`: the free disk space check, as `system`;
//! - `grpc`: an upstream's `grpc.health.v1`, as `grpc`;
//! - `tonic`: `grpc.health.v1` served from the registry, as `tonic`;
//! - `env`: the deployment guide's environment variables, as `env`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use vitals_core::*;
pub use vitals_retry as retry;

#[cfg(feature = "tower")]
pub use vitals_tower as tower;

#[cfg(feature = "serve")]
pub use vitals_serve as serve;

#[cfg(feature = "redis")]
pub use vitals_redis as redis;

#[cfg(feature = "mongodb")]
pub use vitals_mongodb as mongodb;

#[cfg(feature = "s3")]
pub use vitals_s3 as s3;

#[cfg(feature = "http")]
pub use vitals_http as http;

#[cfg(feature = "sql")]
pub use vitals_sql as sql;

#[cfg(feature = "amqp")]
pub use vitals_amqp as amqp;

#[cfg(feature = "nats")]
pub use vitals_nats as nats;

#[cfg(feature = "net")]
pub use vitals_net as net;

#[cfg(feature = "system")]
pub use vitals_system as system;

#[cfg(feature = "grpc")]
pub use vitals_grpc as grpc;

#[cfg(feature = "tonic")]
pub use vitals_tonic as tonic;

#[cfg(any(
    feature = "sqs",
    feature = "sns",
    feature = "dynamodb",
    feature = "secretsmanager",
    feature = "kms"
))]
pub use vitals_aws as aws;

#[cfg(feature = "kafka")]
pub use vitals_kafka as kafka;

#[cfg(feature = "prometheus")]
pub use vitals_prometheus as prometheus;

#[cfg(feature = "env")]
pub use vitals_env as env;
