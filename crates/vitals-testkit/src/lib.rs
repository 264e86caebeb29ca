//! Real backends for vitals' tests, started as child processes on free loopback ports and
//! stopped when dropped: `redis-server` (plain, TLS, with a password, a 3-node cluster), a
//! MongoDB wire-compatible server (`jongodb`, TLS through stunnel), a test certificate
//! authority, an S3 server that verifies SigV4 (`s3s-fs`) with a loopback container-credentials
//! endpoint, and a TCP [`FaultProxy`] for faults a server cannot show
//! (blackhole, delay, reset).
//!
//! A missing binary is a failure that says to run `scripts/install-test-deps`; nothing here
//! skips silently.
#![forbid(unsafe_code)]

pub mod e2e;
pub mod grpc;
mod mongo;
mod moto;
mod nats;
mod process;
mod prometheus;
mod proxy;
mod redis;
mod s3;
pub mod siege;
mod sql;
mod support;
mod tls;

pub use mongo::MongoServer;
pub use moto::MotoServer;
pub use nats::{NatsServer, NatsServerBuilder};
pub use process::{
    free_port, inside_namespace_without_network, inside_new_namespaces, require_binary,
    wait_for_port,
};
pub use prometheus::PrometheusServer;
pub use proxy::{Fault, FaultProxy};
pub use redis::{RedisCluster, RedisServer, RedisServerBuilder};
pub use s3::{CredentialsEndpoint, S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};
pub use sql::{MariaDbServer, PostgresServer, SQL_PASSWORD};
pub use support::{CapturedLogs, Toggle};
pub use tls::{TestCa, TlsServer, TlsTerminator};
