//! deploy/kubernetes/ (what its overlays render) against what the examples really serve and
//! read, so they cannot drift; and the README's deploy commands, applied to a rendered copy.
use crate::common;

use std::{collections::BTreeMap, time::Duration};

use common::{http, server_binary, start_server};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use yaml_rust2::{Yaml, YamlLoader};

/// Variables read by the AWS SDK's own configuration, not by vitals.
const READ_BY_AWS_SDK: &[&str] = &["AWS_REGION"];

/// The two variants a user applies, one at a time (README, "Deploy on AWS").
const HTTP_OVERLAY: &str = "deploy/kubernetes/overlays/http";
const GRPC_OVERLAY: &str = "deploy/kubernetes/overlays/grpc";

/// What `kubectl apply -k overlay` would send, rendered offline.
fn render(overlay: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&common::kustomize(overlay)).unwrap()
}

/// The one object of `kind` in a rendering.
fn only<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    let found: Vec<&Yaml> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    let [one] = found[..] else {
        panic!("expected one {kind}, found {}", found.len())
    };
    one
}

/// A container of a Deployment, as the test needs it.
#[derive(Debug, Default)]
struct Container {
    ports: Vec<i64>,
    /// (variable, literal value or None when it comes from a secret), including those of the
    /// ConfigMaps the container takes whole (`envFrom`).
    env: Vec<(String, Option<String>)>,
    http_probes: Vec<(String, i64)>,
    grpc_probes: Vec<(String, i64)>,
}

fn containers(overlay: &str) -> Vec<Container> {
    let docs = render(overlay);
    let deployment = only(&docs, "Deployment");
    let mut out = Vec::new();
    for c in deployment["spec"]["template"]["spec"]["containers"]
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
        for source in c["envFrom"].as_vec().into_iter().flatten() {
            let name = source["configMapRef"]["name"].as_str().unwrap();
            let map = docs
                .iter()
                .find(|d| {
                    d["kind"].as_str() == Some("ConfigMap")
                        && d["metadata"]["name"].as_str() == Some(name)
                })
                .unwrap_or_else(|| {
                    panic!("{overlay}: envFrom names {name}, which it does not create")
                });
            for (key, value) in map["data"].as_hash().unwrap() {
                container.env.push((
                    key.as_str().unwrap().to_owned(),
                    value.as_str().map(str::to_owned),
                ));
            }
        }
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let p = &c[probe];
            assert!(!p.is_badvalue(), "{overlay}: {probe} missing");
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
    out
}

/// The port the server listens on when `PORT` is unset (read from its own log).
async fn default_port() -> i64 {
    let mut cmd = tokio::process::Command::new(server_binary());
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
        panic!("the server exited before listening");
    })
    .await
    .unwrap();
    child.kill().await.unwrap();
    port
}

#[tokio::test]
async fn the_http_deployment_matches_the_server() {
    let [server] = &containers(HTTP_OVERLAY)[..] else {
        panic!("one container")
    };

    // Ports: the container port, every probe's port and the server's default all agree.
    assert_eq!(server.ports, [5000]);
    assert!(server.http_probes.iter().all(|(_, port)| *port == 5000));
    assert_eq!(default_port().await, 5000);
    // The probe timings: the_manifests_timings_add_up_under_the_timing_rule.

    // Every probe path is served (no backends configured: every probe passes).
    let (mut child, addr, _log) = start_server(&[]).await;
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
        let out = tokio::process::Command::new(server_binary())
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
    let (mut child, _addr, _log) = start_server(&env).await;
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_grpc_deployment_runs_the_server_with_native_grpc_probes() {
    let [grpc] = &containers(GRPC_OVERLAY)[..] else {
        panic!("one container")
    };
    assert_eq!(grpc.ports, [5000]);
    assert!(grpc.grpc_probes.iter().all(|(_, port)| *port == 5000));
    let services: Vec<&str> = grpc.grpc_probes.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(services, ["startupz", "livez", "readyz"]);
    assert!(grpc.http_probes.is_empty(), "{:?}", grpc.http_probes);
    // The same variables as the HTTP variant (each one the server reads): only the probes differ.
    let [http_server] = &containers(HTTP_OVERLAY)[..] else {
        panic!("one container")
    };
    assert_eq!(grpc.env, http_server.env);

    let (mut child, addr, _log) = start_server(&[]).await;
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
    for overlay in [HTTP_OVERLAY, GRPC_OVERLAY] {
        let docs = render(overlay);
        let account = only(&docs, "ServiceAccount");
        let arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .unwrap();
        assert!(
            arn.starts_with("arn:aws:iam::") && arn.contains(":role/"),
            "{arn}"
        );
        assert_eq!(
            only(&docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"].as_str(),
            account["metadata"]["name"].as_str()
        );
    }
}

/// Each overlay's rendering written to a file of its own, for the outside tools.
fn rendered_files() -> (tempfile::TempDir, Vec<String>) {
    // Not a hidden folder (`tempdir()`'s `.tmp…`): checkov skips those.
    let dir = tempfile::Builder::new()
        .prefix("rendered-")
        .tempdir()
        .unwrap();
    let files = [HTTP_OVERLAY, GRPC_OVERLAY]
        .iter()
        .map(|overlay| {
            let path = dir
                .path()
                .join(format!("{}.yaml", overlay.rsplit('/').next().unwrap()));
            std::fs::write(&path, common::kustomize(overlay)).unwrap();
            path.display().to_string()
        })
        .collect();
    (dir, files)
}

/// What each overlay renders is valid for the Kubernetes versions EKS runs (strict: no unknown
/// field).
#[test]
fn the_manifests_are_valid_kubernetes() {
    let (_dir, files) = rendered_files();
    for version in ["1.30", "1.33", "1.37"] {
        let mut args = vec![
            "-m",
            "kubernetes_validate",
            "--strict",
            "--quiet",
            "-k",
            version,
        ];
        args.extend(files.iter().map(String::as_str));
        let out = common::python(&args);
        assert!(
            out.status.success(),
            "kubernetes-validate {version}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// checkov finds nothing in what the overlays render but what deploy/checkov-kubernetes.yaml
/// skips, each with its reason.
#[test]
fn checkov_passes_the_manifests() {
    let (dir, _files) = rendered_files();
    common::checkov(
        dir.path().to_str().unwrap(),
        "deploy/checkov-kubernetes.yaml",
    );
}

/// The manifests' probe timings hold under the engine's timing rule, computed by the server
/// itself from the env each manifest sets: the startup window covers a whole run of retries
/// (a dependency slow to come up is waited for, not restarted away), each probe's timeout
/// covers the 250 ms answer bound, and the grace period covers the shutdown delay and the
/// in-flight drain.
#[tokio::test]
async fn the_manifests_timings_add_up_under_the_timing_rule() {
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let field = |line: &str, key: &str| -> u64 {
        let rest = line.split(&format!(" {key}=")).nth(1).unwrap();
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    for file in [HTTP_OVERLAY, GRPC_OVERLAY] {
        let docs = render(file);
        let pod = &only(&docs, "Deployment")["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let [server] = &containers(file)[..] else {
            panic!("one container")
        };
        // The manifest's literal values, and loopback stand-ins for its secrets.
        let mongo = format!("mongodb://{refused}/?directConnection=true");
        let redis = format!("redis://{refused}");
        let mut env: Vec<(&str, &str)> = server
            .env
            .iter()
            .filter(|(k, _)| k != "PORT")
            .filter_map(|(k, v)| Some((k.as_str(), v.as_deref()?)))
            .collect();
        env.extend([
            ("MONGO_URI", mongo.as_str()),
            ("REDIS_URI", redis.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]);
        let (mut child, _addr, mut log) = start_server(&env).await;
        common::wait_for_log(&mut log, "health checks ready").await;
        child.kill().await.unwrap();
        let mut lines = Vec::new();
        while let Ok(line) = log.try_recv() {
            lines.push(line);
        }
        let budgets: Vec<u64> = lines
            .iter()
            .filter(|l| l.contains("check timing"))
            .map(|l| field(l, "budget_ms"))
            .collect();
        assert!(!budgets.is_empty(), "{file}: no check timing logged");
        let longest_run_ms = *budgets.iter().max().unwrap();
        let shutdown = lines
            .iter()
            .find(|l| l.contains("on SIGTERM"))
            .expect("the server logs its shutdown timing");
        let drain_ms = field(shutdown, "shutdown_delay_ms") + field(shutdown, "drain_ms");

        let seconds = |probe: &Yaml, key: &str, default: i64| {
            probe[key].as_i64().unwrap_or(default) as u64 * 1000
        };
        let startup = &container["startupProbe"];
        let startup_window_ms = seconds(startup, "initialDelaySeconds", 0)
            + seconds(startup, "periodSeconds", 10)
                * startup["failureThreshold"].as_i64().unwrap_or(3) as u64;
        assert!(
            startup_window_ms >= longest_run_ms,
            "{file}: the startup window ({startup_window_ms} ms) is shorter than one run of every retry ({longest_run_ms} ms)"
        );
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let timeout_ms = seconds(&container[probe], "timeoutSeconds", 1);
            assert!(
                timeout_ms >= 4 * 250,
                "{file}: {probe} timeoutSeconds leaves no room for the 250 ms answer bound"
            );
        }
        let grace_ms = seconds(pod, "terminationGracePeriodSeconds", 30);
        assert!(
            grace_ms >= drain_ms,
            "{file}: terminationGracePeriodSeconds ({grace_ms} ms) < shutdown delay + drain ({drain_ms} ms)"
        );
        let readiness = &container["readinessProbe"];
        let unready_after_ms = longest_run_ms
            + seconds(readiness, "periodSeconds", 10)
                * readiness["failureThreshold"].as_i64().unwrap_or(3) as u64;
        eprintln!(
            "{file}: startup window {startup_window_ms} ms >= longest run {longest_run_ms} ms; \
             a dependency that stops answering takes the pod out of the Service within \
             {unready_after_ms} ms; grace {grace_ms} ms >= {drain_ms} ms"
        );
    }
}

/// The README's deploy commands, replayed offline in order on what they would send: every file
/// `kubectl apply -f` reads is a Kubernetes object (kubectl reads every YAML file of a folder),
/// `-k` renders, each namespaced object lands in a namespace created before it, the secret the
/// Deployment reads is the one the README creates (same keys), one Deployment is applied, and
/// `port-forward` names it.
#[test]
fn the_readme_deploy_commands_create_one_working_variant() {
    let root = common::root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## Deploy on AWS")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let block = section
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("kubectl apply"))
        .expect("README's kubectl block");
    let commands: Vec<String> = block
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.split("   #").next().unwrap().trim().to_owned())
        .filter(|l| l.starts_with("kubectl"))
        .collect();

    let mut namespaces: Vec<String> = Vec::new();
    let mut secrets: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut applied: Vec<Yaml> = Vec::new();
    let mut deployments = 0;
    let land = |doc: &Yaml, namespaces: &Vec<String>| {
        let kind = doc["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("an object without kind: {doc:?}"));
        if kind != "Namespace" {
            let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
            assert!(
                namespaces.iter().any(|n| n == ns),
                "{kind} applied into namespace {ns}, which no earlier command creates"
            );
        }
    };
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        match &words[1..] {
            ["apply", "-f", path] => {
                let path = root.join(path);
                let files: Vec<_> = if path.is_dir() {
                    std::fs::read_dir(&path)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .filter(|p| {
                            p.extension()
                                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                        })
                        .collect()
                } else {
                    vec![path]
                };
                for file in files {
                    for doc in
                        YamlLoader::load_from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
                    {
                        assert!(
                            doc["apiVersion"].as_str().is_some() && doc["kind"].as_str().is_some(),
                            "`{command}` reads {}, which is not a Kubernetes object",
                            file.display()
                        );
                        land(&doc, &namespaces);
                        if doc["kind"].as_str() == Some("Namespace") {
                            namespaces.push(doc["metadata"]["name"].as_str().unwrap().to_owned());
                        }
                        applied.push(doc);
                    }
                }
            }
            ["apply", "-k", path] => {
                for doc in render(path) {
                    if doc["kind"].as_str() == Some("Namespace") {
                        namespaces.push(doc["metadata"]["name"].as_str().unwrap().to_owned());
                    }
                    land(&doc, &namespaces);
                    if doc["kind"].as_str() == Some("Deployment") {
                        deployments += 1;
                    }
                    applied.push(doc);
                }
            }
            ["-n", ns, "create", "secret", "generic", name, literals @ ..] => {
                assert!(
                    namespaces.iter().any(|n| n == ns),
                    "the secret is created in {ns} before the namespace exists"
                );
                let keys = literals
                    .iter()
                    .filter_map(|l| l.strip_prefix("--from-literal="))
                    .map(|l| l.split('=').next().unwrap().to_owned())
                    .collect();
                secrets.push((ns.to_string(), name.to_string(), keys));
            }
            ["-n", ns, "port-forward", target, _port, ..] => {
                let name = target.strip_prefix("deploy/").unwrap();
                assert!(
                    applied
                        .iter()
                        .any(|d| d["kind"].as_str() == Some("Deployment")
                            && d["metadata"]["name"].as_str() == Some(name)
                            && d["metadata"]["namespace"].as_str() == Some(ns)),
                    "`{command}`: no Deployment {name} in {ns}"
                );
            }
            _ => panic!("the test does not know what `{command}` does"),
        }
    }
    assert_eq!(deployments, 1, "the README applies one variant");

    // Every secret the Deployment reads exists, with the key it reads.
    let deployment = applied
        .iter()
        .find(|d| d["kind"].as_str() == Some("Deployment"))
        .unwrap();
    let ns = deployment["metadata"]["namespace"].as_str().unwrap();
    let mut read = 0;
    for container in deployment["spec"]["template"]["spec"]["containers"]
        .as_vec()
        .unwrap()
    {
        for var in container["env"].as_vec().into_iter().flatten() {
            let reference = &var["valueFrom"]["secretKeyRef"];
            if let (Some(name), Some(key)) = (reference["name"].as_str(), reference["key"].as_str())
            {
                read += 1;
                assert!(
                    secrets
                        .iter()
                        .any(|(n, s, keys)| n == ns && s == name && keys.iter().any(|k| k == key)),
                    "the Deployment reads secret {name} key {key}, which the README does not create"
                );
            }
        }
    }
    assert!(
        read > 0,
        "the Deployment reads MONGO_URI and REDIS_URI from its secret"
    );
}

/// The HTTP overlay with the Prometheus component added, as a user's kustomization adds it
/// (rendered from a folder of its own, naming the repository's by relative paths).
fn render_with_prometheus() -> Vec<Yaml> {
    let dir = tempfile::Builder::new()
        .prefix("with-prometheus-")
        .tempdir()
        .unwrap();
    // Kustomize takes relative paths only: from the folder up to `/`, then down to the repo.
    let up = "../".repeat(dir.path().components().count() - 1);
    let root = common::root();
    let repo = root.strip_prefix("/").unwrap().display();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             resources:\n  - {up}{repo}/{HTTP_OVERLAY}\n\
             components:\n  - {up}{repo}/deploy/kubernetes/components/prometheus\n"
        ),
    )
    .unwrap();
    YamlLoader::load_from_str(&common::kustomize(dir.path().to_str().unwrap())).unwrap()
}

/// The Prometheus component scrapes every replica where the server serves its metrics: the
/// PodMonitor selects the Deployment's pods by their labels, names a port the container has,
/// and the annotations say the same port and path; the server answers that path with the
/// Prometheus text format; the rest of the rendering is the HTTP overlay's, unchanged.
#[tokio::test]
async fn the_prometheus_component_scrapes_each_replica_where_metrics_are_served() {
    let docs = render_with_prometheus();
    let monitor = only(&docs, "PodMonitor");
    let deployment = only(&docs, "Deployment");
    let template = &deployment["spec"]["template"];
    assert_eq!(
        monitor["apiVersion"].as_str(),
        Some("monitoring.coreos.com/v1")
    );
    assert_eq!(
        monitor["metadata"]["namespace"],
        deployment["metadata"]["namespace"]
    );
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_hash()
        .unwrap();
    for (key, value) in selector {
        assert_eq!(
            &template["metadata"]["labels"][key.as_str().unwrap()],
            value
        );
    }
    let endpoint = &monitor["spec"]["podMetricsEndpoints"][0];
    let port_name = endpoint["port"].as_str().unwrap();
    let container_port = template["spec"]["containers"][0]["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some(port_name))
        .unwrap_or_else(|| panic!("no container port called {port_name}"))["containerPort"]
        .as_i64()
        .unwrap();
    let path = endpoint["path"].as_str().unwrap();
    let annotations = &template["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(
        annotations["prometheus.io/port"].as_str(),
        Some(container_port.to_string().as_str())
    );
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some(path));
    assert_eq!(container_port, default_port().await);

    let (mut child, addr, _log) = start_server(&[]).await;
    let metrics = http(addr, "GET", path, &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("vitals_probe_status"),
        "{}",
        metrics.body
    );
    child.kill().await.unwrap();

    // Nothing else changes: the same objects as the HTTP overlay, plus the PodMonitor and the
    // PrometheusRule (tests/e2e/prometheus.rs).
    let kinds = |docs: &[Yaml]| -> Vec<String> {
        let mut kinds: Vec<String> = docs
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_owned())
            .collect();
        kinds.sort();
        kinds
    };
    let mut expected = kinds(&render(HTTP_OVERLAY));
    expected.extend(["PodMonitor".to_owned(), "PrometheusRule".to_owned()]);
    expected.sort();
    assert_eq!(kinds(&docs), expected);
}
