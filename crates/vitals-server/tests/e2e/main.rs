//! vitals-server end to end: the built binary started as a process against real backends
//! (redis-server, jongodb, s3s-fs, moto, stunnel, the fault proxy, network namespaces), and
//! the deployment files checked against it. One test binary (one link on a 2-core CI), a
//! module per concern.
#![allow(missing_docs)]

use vitals_testkit::e2e as common;

mod aws;
mod config;
mod dependencies;
mod dns;
mod fleet;
mod front_door;
mod grpc;
mod image;
mod kafka;
mod lint;
mod manifests;
mod metrics;
mod network;
mod prometheus;
mod readme;
mod secrets;
mod server;
mod status_page;
mod terraform;
mod timing;
