//! What crosses a network: the server listens on both address families, and shows details
//! only to the callers `HEALTH_CHECK_DETAILS` admits. A caller that is not on loopback is a
//! second network namespace this test creates (ip netns + veth), wired only to the server's
//! own namespace: no packet leaves the test's namespaces.
use crate::common;

use std::{
    net::{IpAddr, SocketAddr},
    process::Command as StdCommand,
};

use common::{http, server_binary, spawn_example, wait_for_log};
use tokio::process::Command;

/// Both families by default; one address when `LISTEN_ADDRESS` names it.
#[tokio::test]
async fn the_server_listens_on_ipv6_and_ipv4_unless_told_one_address() {
    let (mut child, addr, _log) = common::start_server(&[]).await;
    let v6 = SocketAddr::new("::1".parse().unwrap(), addr.port());
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);
    assert_eq!(http(v6, "GET", "/readyz", &[]).await.status, 200);
    child.kill().await.unwrap();

    for (only, other) in [("127.0.0.1", "::1"), ("::1", "127.0.0.1")] {
        let (mut child, addr, _log) = common::start_server(&[("LISTEN_ADDRESS", only)]).await;
        let at = |ip: &str| SocketAddr::new(ip.parse::<IpAddr>().unwrap(), addr.port());
        assert_eq!(http(at(only), "GET", "/readyz", &[]).await.status, 200);
        let refused = tokio::net::TcpStream::connect(at(other)).await;
        assert!(
            refused.is_err(),
            "{other} answered while only {only} was set"
        );
        child.kill().await.unwrap();
    }
}

/// Two namespaces joined by a veth pair, deleted on drop.
struct Namespaces {
    server: String,
    client: String,
    server_ip: &'static str,
}

impl Namespaces {
    fn create() -> Namespaces {
        let id = std::process::id();
        let ns = Namespaces {
            server: format!("vitals-srv-{id}"),
            client: format!("vitals-cli-{id}"),
            server_ip: "10.231.0.1",
        };
        let (veth_s, veth_c) = (format!("vs{id}"), format!("vc{id}"));
        let run = |args: &[&str]| {
            let status = StdCommand::new("ip").args(args).status().expect("run ip");
            assert!(status.success(), "ip {args:?} failed");
        };
        run(&["netns", "add", &ns.server]);
        run(&["netns", "add", &ns.client]);
        run(&[
            "link", "add", &veth_s, "type", "veth", "peer", "name", &veth_c,
        ]);
        run(&["link", "set", &veth_s, "netns", &ns.server]);
        run(&["link", "set", &veth_c, "netns", &ns.client]);
        for (ns_name, veth, ip) in [
            (&ns.server, &veth_s, "10.231.0.1/30"),
            (&ns.client, &veth_c, "10.231.0.2/30"),
        ] {
            run(&["-n", ns_name, "addr", "add", ip, "dev", veth]);
            run(&["-n", ns_name, "link", "set", veth, "up"]);
            run(&["-n", ns_name, "link", "set", "lo", "up"]);
        }
        ns
    }

    /// `GET path` sent from `namespace` to `ip:port` (bash's /dev/tcp: no client to install),
    /// as `(status, body)`.
    fn get(
        &self,
        namespace: &str,
        ip: &str,
        port: u16,
        path: &str,
        token: Option<&str>,
    ) -> (u16, String) {
        let auth = token.map_or(String::new(), |t| {
            format!("Authorization: Bearer {t}\\r\\n")
        });
        let script = format!(
            "exec 3<>/dev/tcp/{ip}/{port} && printf 'GET {path} HTTP/1.1\\r\\nHost: probe\\r\\nAccept: text/plain\\r\\n{auth}Connection: close\\r\\n\\r\\n' >&3 && timeout 10 cat <&3"
        );
        let out = StdCommand::new("ip")
            .args(["netns", "exec", namespace, "bash", "-c", &script])
            .output()
            .expect("run bash in the namespace");
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no answer: {raw:?} {out:?}"));
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            let _ = StdCommand::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

#[tokio::test]
async fn details_go_to_loopback_and_token_callers_only_unless_configured() {
    if !nix_root() {
        eprintln!("skipped: creating network namespaces needs root (CI runs as root)");
        return;
    }
    let ns = Namespaces::create();
    let refused = "redis://127.0.0.1:1";
    let token = "a-long-enough-details-token";
    for (mode, remote_sees, token_sees, local_sees) in [
        ("local", false, true, true),
        ("always", true, true, true),
        ("never", false, false, false),
    ] {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.server]).arg(server_binary());
        let (mut child, addr, mut log) = spawn_example(
            cmd,
            "vitals-server",
            &[
                ("REDIS_URI", refused),
                ("HEALTH_CHECK_RETRIES", "0"),
                ("HEALTH_CHECK_INTERVAL_MS", "100"),
                ("HEALTH_CHECK_DETAILS", mode),
                ("HEALTH_CHECK_DETAILS_TOKEN", token),
            ],
        )
        .await;
        let port = addr.port();
        let detailed = |body: &str| body.contains("[~]redis warn");
        // The first result is in once the registry logs the check's status.
        wait_for_log(&mut log, "check status changed").await;
        let (status, body) = ns.get(&ns.client, ns.server_ip, port, "/readyz?verbose", None);
        assert_eq!(status, 200, "{mode}: a probe still answers");
        assert_eq!(detailed(&body), remote_sees, "{mode}, remote: {body}");
        let (_, body) = ns.get(
            &ns.client,
            ns.server_ip,
            port,
            "/readyz?verbose",
            Some(token),
        );
        assert_eq!(
            detailed(&body),
            token_sees,
            "{mode}, remote with token: {body}"
        );
        let (_, body) = ns.get(
            &ns.client,
            ns.server_ip,
            port,
            "/readyz?verbose",
            Some("wrong-token-wrong-token"),
        );
        assert_eq!(
            detailed(&body),
            remote_sees,
            "{mode}, remote with a wrong token: {body}"
        );
        let (_, body) = ns.get(&ns.server, "127.0.0.1", port, "/readyz?verbose", None);
        assert_eq!(detailed(&body), local_sees, "{mode}, loopback: {body}");
        let (_, body) = ns.get(&ns.server, "::1", port, "/readyz?verbose", None);
        assert_eq!(detailed(&body), local_sees, "{mode}, IPv6 loopback: {body}");
        // The status page: statuses for every caller, outputs as for details; nothing when
        // details are `never`.
        let outputs = |body: &str| body.contains("\"last_error\":\"");
        let (status, body) = ns.get(&ns.client, ns.server_ip, port, "/status", None);
        if mode == "never" {
            assert_eq!(status, 404, "{mode}, remote status page: {body}");
        } else {
            assert_eq!(status, 200, "{mode}, remote status page: {body}");
            assert!(body.contains("\"name\":\"redis\""), "{body}");
            assert_eq!(
                outputs(&body),
                remote_sees,
                "{mode}, remote status page: {body}"
            );
            let (_, body) = ns.get(&ns.server, "127.0.0.1", port, "/status", None);
            assert_eq!(
                outputs(&body),
                local_sees,
                "{mode}, local status page: {body}"
            );
        }
        child.kill().await.unwrap();
    }
}

fn nix_root() -> bool {
    StdCommand::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
