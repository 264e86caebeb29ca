//! A host name that does not resolve, for each check that resolves one, reported as a DNS
//! failure. The server runs in a network namespace of its own, so the lookup fails at once and
//! no query leaves this machine's loopback-only test traffic.
use crate::common;

use common::{start_server_without_network, wait_for_log};

#[tokio::test]
async fn unresolvable_hosts_are_reported_as_dns_failures() {
    let cases = [
        (
            "MONGO_URI",
            "mongodb://no-such-host.invalid:27017/?directConnection=true",
        ),
        ("REDIS_URI", "redis://no-such-host.invalid:6379"),
    ];
    for (variable, uri) in cases {
        let (mut child, _addr, mut log) = start_server_without_network(&[
            (variable, uri),
            ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "1000"),
            ("REDIS_CONNECT_TIMEOUT_MS", "1000"),
            ("HEALTH_CHECK_RETRIES", "0"),
            ("HEALTH_CHECK_INTERVAL_MS", "100"),
        ])
        .await;
        let line = wait_for_log(&mut log, "output=").await;
        assert!(line.contains("DNS lookup failed"), "{variable}: {line}");
        child.kill().await.unwrap();
    }
}
