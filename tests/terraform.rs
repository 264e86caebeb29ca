//! deploy/terraform, checked statically (no `terraform` binary here): every file parses
//! (python-hcl2), checkov passes it, and it agrees with the Kubernetes manifests and the
//! server: names, namespace, role, the lifecycle days and CORS method the deep check expects,
//! and the permissions the checks need.
mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use yaml_rust2::YamlLoader;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn terraform_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("deploy/terraform")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "tf") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A Terraform file as python-hcl2 reads it (attributes come as one-element lists).
fn hcl(path: &Path) -> Value {
    let out = common::python(&[
        "-c",
        "import hcl2, json, sys; json.dump(hcl2.load(open(sys.argv[1])), sys.stdout)",
        &path.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{} does not parse: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An attribute's value: python-hcl2 wraps it in a list.
fn attr<'a>(block: &'a Value, key: &str) -> &'a Value {
    match &block[key] {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    }
}

/// The block `kind "name" { … }` (a resource, a module, a variable) in a parsed file.
fn block<'a>(file: &'a Value, section: &str, kind: &str, name: &str) -> &'a Value {
    file[section]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| match name {
            "" => b.get(kind),
            _ => b.get(kind)?.get(name),
        })
        .unwrap_or_else(|| panic!("no {section} {kind} {name}"))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn every_terraform_file_parses() {
    let files = terraform_files();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        hcl(&file);
    }
}

#[test]
fn checkov_passes_the_terraform() {
    common::checkov("deploy/terraform");
}

#[test]
fn terraform_the_manifests_and_the_server_agree() {
    let module_dir = root().join("deploy/terraform/modules/vitals-aws");
    let main = hcl(&module_dir.join("main.tf"));
    let variables = hcl(&module_dir.join("variables.tf"));
    let example = hcl(&root().join("deploy/terraform/example/main.tf"));
    let vitals = block(&example, "module", "vitals", "");
    let input = |key: &str| text(attr(vitals, key));

    // The manifests' names, from their YAML.
    let load = |file: &str| {
        let text = std::fs::read_to_string(root().join("deploy/kubernetes").join(file)).unwrap();
        YamlLoader::load_from_str(&text).unwrap().remove(0)
    };
    let account = load("serviceaccount.yaml");
    let deployment = load("deployment.yaml");
    assert_eq!(
        account["metadata"]["namespace"].as_str(),
        Some(input("namespace").as_str())
    );
    assert_eq!(
        deployment["metadata"]["namespace"].as_str(),
        Some(input("namespace").as_str())
    );
    assert_eq!(
        account["metadata"]["name"].as_str(),
        Some(input("service_account").as_str())
    );
    let role_arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        .as_str()
        .unwrap();
    assert!(
        role_arn.ends_with(&format!(":role/{}", input("role_name"))),
        "{role_arn} is not the role Terraform creates"
    );

    // The Deployment's bucket variables are Terraform's bucket names, and the deep check it
    // turns on is what the role is granted.
    let env: Vec<(String, String)> = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|v| {
            Some((
                v["name"].as_str()?.to_owned(),
                v["value"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let prefix = input("name_prefix");
    for (variable, suffix) in [
        ("TMP_STORAGE_BUCKET", "tmp"),
        ("CONNECTORS_STORAGE_BUCKET", "connectors"),
        ("STATIC_STORAGE_BUCKET", "static"),
    ] {
        assert_eq!(
            var(variable),
            Some(format!("{prefix}-{suffix}").as_str()),
            "{variable}"
        );
    }
    assert_eq!(var("STORAGE_DEEP_CHECK"), Some("true"));
    assert_eq!(input("deep_storage_check"), "true");
    let region = attr(block(&example, "variable", "region", ""), "default");
    assert_eq!(var("AWS_REGION"), region.as_str());

    // What the deep check expects is what Terraform creates: the tmp bucket's expiration days
    // and the static bucket's CORS method (vitals-env owns both values).
    let days = attr(
        block(&variables, "variable", "tmp_expiration_days", ""),
        "default",
    );
    assert_eq!(days.as_i64(), Some(vitals_env::TMP_EXPIRATION_DAYS.into()));
    let lifecycle = block(
        &main,
        "resource",
        "aws_s3_bucket_lifecycle_configuration",
        "tmp",
    );
    let rule = attr(lifecycle, "rule");
    let expiration = attr(rule, "expiration");
    assert_eq!(text(attr(expiration, "days")), "${var.tmp_expiration_days}");
    assert_eq!(text(attr(rule, "status")), "Enabled");
    let cors = block(
        &main,
        "resource",
        "aws_s3_bucket_cors_configuration",
        "static",
    );
    let methods = attr(attr(cors, "cors_rule"), "allowed_methods");
    assert!(
        methods
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == vitals_env::STATIC_CORS_METHOD),
        "{methods}"
    );

    // The role's policy grants the check's reads, and the service account's trust is scoped to
    // that namespace and account.
    let source = std::fs::read_to_string(module_dir.join("main.tf")).unwrap();
    for action in [
        "s3:ListBucket",
        "s3:GetLifecycleConfiguration",
        "s3:GetBucketCORS",
    ] {
        assert!(
            source.contains(&format!("\"{action}\"")),
            "the role lacks {action}"
        );
    }
    assert!(source.contains("system:serviceaccount:${var.namespace}:${var.service_account}"));
    assert!(source.contains("origin_access_control_origin_type = \"s3\""));
    assert!(
        !source.contains("aws_cloudfront_origin_access_identity"),
        "legacy OAI"
    );
}
