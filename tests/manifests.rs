//! deploy/kubernetes/ against what the examples really serve and read, so they cannot drift.
mod common;

use std::{collections::BTreeMap, path::Path, time::Duration};

use common::{example, http, start_example};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use yaml_rust2::{Yaml, YamlLoader};

/// Variables read by the AWS SDK's own configuration, not by vitals.
const READ_BY_AWS_SDK: &[&str] = &["AWS_REGION"];

/// A container of a Deployment, as the test needs it.
#[derive(Debug, Default)]
struct Container {
    ports: Vec<i64>,
    /// (variable, literal value or None when it comes from a secret)
    env: Vec<(String, Option<String>)>,
    http_probes: Vec<(String, i64)>,
    grpc_probes: Vec<(String, i64)>,
}

fn containers(file: &str) -> Vec<Container> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let mut out = Vec::new();
    for doc in docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some("Deployment"))
    {
        for c in doc["spec"]["template"]["spec"]["containers"]
            .as_vec()
            .unwrap()
        {
            let mut container = Container::default();
            for port in c["ports"].as_vec().into_iter().flatten() {
                container
                    .ports
                    .push(port["containerPort"].as_i64().unwrap());
            }
            for var in c["env"].as_vec().into_iter().flatten() {
                let name = var["name"].as_str().unwrap().to_owned();
                container
                    .env
                    .push((name, var["value"].as_str().map(str::to_owned)));
            }
            for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
                let p = &c[probe];
                assert!(!p.is_badvalue(), "{file}: {probe} missing");
                if let Yaml::Hash(_) = p["httpGet"] {
                    container.http_probes.push((
                        p["httpGet"]["path"].as_str().unwrap().to_owned(),
                        p["httpGet"]["port"].as_i64().unwrap(),
                    ));
                }
                if let Yaml::Hash(_) = p["grpc"] {
                    container.grpc_probes.push((
                        p["grpc"]["service"].as_str().unwrap_or("").to_owned(),
                        p["grpc"]["port"].as_i64().unwrap(),
                    ));
                }
            }
            out.push(container);
        }
    }
    assert!(!out.is_empty(), "{file} has no Deployment");
    out
}

/// The port an example listens on when `PORT` is unset (read from its own log).
async fn default_port(name: &str) -> i64 {
    let mut cmd = tokio::process::Command::new(example(name));
    cmd.env_clear()
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.split("listening on ").nth(1) {
                return addr.trim().rsplit(':').next().unwrap().parse().unwrap();
            }
        }
        panic!("{name} exited before listening");
    })
    .await
    .unwrap();
    child.kill().await.unwrap();
    port
}

#[tokio::test]
async fn the_http_deployment_matches_the_server() {
    let [server] = &containers("deployment.yaml")[..] else {
        panic!("one container")
    };

    // Ports: the container port, every probe's port and the server's default all agree.
    assert_eq!(server.ports, [5000]);
    assert!(server.http_probes.iter().all(|(_, port)| *port == 5000));
    assert_eq!(default_port("server").await, 5000);
    let startup_timings = YamlLoader::load_from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/deployment.yaml"),
        )
        .unwrap(),
    )
    .unwrap()[0]["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
        .clone();
    assert_eq!(
        (
            startup_timings["periodSeconds"].as_i64(),
            startup_timings["failureThreshold"].as_i64()
        ),
        (Some(5), Some(60))
    );

    // Every probe path is served (no backends configured: every probe passes).
    let (mut child, addr, _log) = start_example("server", &[]).await;
    for (path, _) in &server.http_probes {
        assert_eq!(http(addr, "GET", path, &[]).await.status, 200, "{path}");
    }
    child.kill().await.unwrap();

    // Every variable is one the server reads and validates: junk in it stops the server with
    // an error that names it.
    for (name, _) in &server.env {
        if READ_BY_AWS_SDK.contains(&name.as_str()) {
            continue;
        }
        let out = tokio::process::Command::new(example("server"))
            .env_clear()
            .env(name, "junk value ::")
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name} is not validated by the server: {stderr}"
        );
        assert!(stderr.contains(&format!("{name}=")), "{name}: {stderr}");
    }

    // And the manifest's own literal values are valid: with them (and no secrets) the server
    // gets past configuration and listens.
    let literal: BTreeMap<&str, &str> = server
        .env
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_deref()?)))
        .filter(|(k, _)| *k != "PORT")
        .collect();
    let env: Vec<(&str, &str)> = literal.into_iter().collect();
    let (mut child, _addr, _log) = start_example("server", &env).await;
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_grpc_deployment_runs_the_server_with_native_grpc_probes() {
    let [grpc] = &containers("deployment-grpc.yaml")[..] else {
        panic!("one container")
    };
    assert_eq!(grpc.ports, [5000]);
    assert!(grpc.grpc_probes.iter().all(|(_, port)| *port == 5000));
    let services: Vec<&str> = grpc.grpc_probes.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(services, ["startupz", "livez", "readyz"]);
    // The same variables as the HTTP deployment, each one the server reads.
    let [http_server] = &containers("deployment.yaml")[..] else {
        panic!("one container")
    };
    for (name, _) in &grpc.env {
        assert!(
            http_server.env.iter().any(|(n, _)| n == name),
            "{name} is not in deployment.yaml"
        );
    }

    let (mut child, addr, _log) = start_example("server", &[]).await;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    for (service, _) in &grpc.grpc_probes {
        let reply = client
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await
            .unwrap();
        assert_eq!(
            reply.into_inner().status,
            ServingStatus::Serving as i32,
            "{service}"
        );
    }
    child.kill().await.unwrap();
}

#[test]
fn the_service_account_carries_an_irsa_role() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/serviceaccount.yaml");
    let doc = &YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap()).unwrap()[0];
    let arn = doc["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        .as_str()
        .unwrap();
    assert!(
        arn.starts_with("arn:aws:iam::") && arn.contains(":role/"),
        "{arn}"
    );
    let deployment =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/deployment.yaml");
    let deployment =
        &YamlLoader::load_from_str(&std::fs::read_to_string(deployment).unwrap()).unwrap()[0];
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"].as_str(),
        doc["metadata"]["name"].as_str()
    );
}
