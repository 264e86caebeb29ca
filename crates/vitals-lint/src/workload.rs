//! The containers that run the server in a set of manifests, and the environment each sees.
use std::collections::BTreeMap;

use super::yaml::Node;

/// One input document and where it came from.
pub(crate) struct Document {
    pub(crate) file: String,
    pub(crate) node: Node,
}

/// A container that runs the server, in a workload's pod template.
pub(crate) struct Container<'a> {
    pub(crate) file: &'a str,
    /// `Deployment/api`.
    pub(crate) workload: String,
    pub(crate) pod_spec: &'a Node,
    pub(crate) node: &'a Node,
    pub(crate) name: String,
    /// The replicas the workload asks for (`spec.replicas`, 1 when unset or not a scaled
    /// workload), with the line that sets them.
    pub(crate) replicas: (u64, Option<usize>),
}

/// A variable as the container sets it.
#[derive(Clone, Debug)]
pub(crate) enum Setting {
    /// A literal value (from `env`, a ConfigMap in the inputs or an env file), with the line
    /// that sets it when it is in the container's own `env`.
    Value(String, Option<usize>),
    /// Set from a Secret or a field: the value is not known here.
    Unknown(usize),
}

/// The pod template of a workload document: Pod, Deployment, StatefulSet, DaemonSet,
/// ReplicaSet, Job or CronJob.
fn pod_spec(doc: &Node) -> Option<&Node> {
    let kind = doc.get("kind")?.as_str()?;
    match kind {
        "Pod" => doc.get("spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            doc.at(&["spec", "template", "spec"])
        }
        "CronJob" => doc.at(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// Whether a container looks like the server's: it sets one of the profile's variables, or
/// runs an image named vitals-server.
fn runs_the_server(container: &Node) -> bool {
    let image = container.get("image").and_then(Node::as_str).unwrap_or("");
    if image.contains("vitals-server") {
        return true;
    }
    let names = |list: Option<&Node>| -> Vec<String> {
        list.map(|l| {
            l.items()
                .iter()
                .filter_map(|e| e.get("name").and_then(Node::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
    };
    names(container.get("env"))
        .iter()
        .any(|n| vitals_env::VARIABLES.iter().any(|v| v.name == n))
}

/// Every document of the inputs, `List` items included.
pub(crate) fn flatten(documents: &[Document]) -> Vec<(&str, &Node)> {
    let mut out = Vec::new();
    for doc in documents {
        if doc.node.get("kind").and_then(Node::as_str) == Some("List") {
            for item in doc.node.get("items").map(Node::items).unwrap_or_default() {
                out.push((doc.file.as_str(), item));
            }
        } else {
            out.push((doc.file.as_str(), &doc.node));
        }
    }
    out
}

/// The containers that run the server: the one named `only`, else those that look like it.
pub(crate) fn containers<'a>(
    documents: &[(&'a str, &'a Node)],
    only: Option<&str>,
) -> Vec<Container<'a>> {
    let mut out = Vec::new();
    for (file, doc) in documents {
        let Some(spec) = pod_spec(doc) else { continue };
        let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("");
        let name = doc
            .at(&["metadata", "name"])
            .and_then(Node::as_str)
            .unwrap_or("(unnamed)");
        for container in spec.get("containers").map(Node::items).unwrap_or_default() {
            let container_name = container
                .get("name")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_owned();
            let chosen = match only {
                Some(only) => container_name == only,
                None => runs_the_server(container),
            };
            let replicas = match kind {
                "Deployment" | "StatefulSet" | "ReplicaSet" => doc
                    .at(&["spec", "replicas"])
                    .and_then(|r| Some((r.as_u64()?, Some(r.line()))))
                    .unwrap_or((1, None)),
                _ => (1, None),
            };
            if chosen {
                out.push(Container {
                    replicas,
                    file,
                    workload: format!("{kind}/{name}"),
                    pod_spec: spec,
                    node: container,
                    name: container_name,
                });
            }
        }
    }
    out
}

/// The ConfigMaps of the inputs: name → data.
pub(crate) fn config_maps<'a>(
    documents: &[(&'a str, &'a Node)],
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (_, doc) in documents {
        if doc.get("kind").and_then(Node::as_str) != Some("ConfigMap") {
            continue;
        }
        let Some(name) = doc.at(&["metadata", "name"]).and_then(Node::as_str) else {
            continue;
        };
        let mut data = BTreeMap::new();
        if let Some(Node::Map(entries, _)) = doc.get("data") {
            for (key, value) in entries {
                if let Some(value) = value.as_str() {
                    data.insert(key.clone(), value.to_owned());
                }
            }
        }
        out.insert(name.to_owned(), data);
    }
    out
}

/// The environment a container sees: the env file first, then `envFrom`, then `env` (later
/// wins, as the kubelet resolves them).
pub(crate) fn environment(
    container: &Container<'_>,
    config_maps: &BTreeMap<String, BTreeMap<String, String>>,
    env_file: &BTreeMap<String, String>,
) -> BTreeMap<String, Setting> {
    let mut env: BTreeMap<String, Setting> = env_file
        .iter()
        .map(|(k, v)| (k.clone(), Setting::Value(v.clone(), None)))
        .collect();
    for source in container
        .node
        .get("envFrom")
        .map(Node::items)
        .unwrap_or_default()
    {
        let prefix = source.get("prefix").and_then(Node::as_str).unwrap_or("");
        if let Some(name) = source.at(&["configMapRef", "name"]).and_then(Node::as_str)
            && let Some(data) = config_maps.get(name)
        {
            for (key, value) in data {
                env.insert(
                    format!("{prefix}{key}"),
                    Setting::Value(value.clone(), None),
                );
            }
        }
        // A Secret's keys are not known here: `env` entries that name them are.
    }
    for entry in container
        .node
        .get("env")
        .map(Node::items)
        .unwrap_or_default()
    {
        let Some(name) = entry.get("name").and_then(Node::as_str) else {
            continue;
        };
        if let Some(value) = entry.get("value") {
            let text = value.as_str().unwrap_or("").to_owned();
            env.insert(name.to_owned(), Setting::Value(text, Some(value.line())));
        } else if let Some(from) = entry.get("valueFrom") {
            let known = from.get("configMapKeyRef").and_then(|r| {
                let map = config_maps.get(r.get("name")?.as_str()?)?;
                map.get(r.get("key")?.as_str()?).cloned()
            });
            env.insert(
                name.to_owned(),
                match known {
                    Some(value) => Setting::Value(value, Some(from.line())),
                    None => Setting::Unknown(entry.line()),
                },
            );
        }
    }
    env
}

/// A stand-in for a variable set from a Secret, so that its check is planned: vitals-env's
/// ([`vitals_env::Variable::stand_in`]).
pub(crate) fn stand_in(variable: &str) -> Option<&'static str> {
    vitals_env::VARIABLES
        .iter()
        .find(|v| v.name == variable)?
        .stand_in
}

/// `KEY=VALUE` lines (blank lines and `#` comments skipped), as `kubectl create configmap
/// --from-env-file` reads them.
pub(crate) fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err((i + 1, "expected KEY=VALUE".to_owned()));
        };
        out.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(out)
}
