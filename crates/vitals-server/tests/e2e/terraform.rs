//! deploy/terraform, checked statically (no `terraform` binary here): every file parses
//! (python-hcl2), checkov passes it, and it agrees with the Kubernetes manifests and the
//! server: names, namespace, role, the lifecycle days and CORS method the deep check expects,
//! and the permissions the checks need.
use crate::common::{self, root};

use std::path::{Path, PathBuf};

use serde_json::Value;
use yaml_rust2::YamlLoader;

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
    common::checkov("deploy/terraform", "deploy/terraform/.checkov.yaml");
}

#[test]
fn terraform_the_manifests_and_the_server_agree() {
    let module_dir = root().join("deploy/terraform/modules/vitals-aws");
    let main = hcl(&module_dir.join("main.tf"));
    let variables = hcl(&module_dir.join("variables.tf"));
    let example = hcl(&root().join("deploy/terraform/example/main.tf"));
    let vitals = block(&example, "module", "vitals", "");
    let input = |key: &str| text(attr(vitals, key));

    // The manifests' names, from what the HTTP overlay renders (the gRPC one differs only in
    // its probes: crates/vitals-server/tests/e2e/manifests.rs).
    let docs =
        YamlLoader::load_from_str(&common::kustomize("deploy/kubernetes/overlays/http")).unwrap();
    let load = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind}"))
            .clone()
    };
    let account = load("ServiceAccount");
    let deployment = load("Deployment");
    let settings = load("ConfigMap");
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

    // The settings' bucket variables are Terraform's bucket names for one prefix (yours: the
    // example has no default for it), and the deep check they turn on is what the role is
    // granted.
    let var = |name: &str| settings["data"][name].as_str().map(str::to_owned);
    assert_eq!(input("name_prefix"), "${var.name_prefix}");
    let tmp = var("TMP_STORAGE_BUCKET").unwrap();
    let prefix = tmp
        .strip_suffix("-tmp")
        .expect("TMP_STORAGE_BUCKET is <prefix>-tmp");
    for (variable, suffix) in [
        ("CONNECTORS_STORAGE_BUCKET", "connectors"),
        ("STATIC_STORAGE_BUCKET", "static"),
    ] {
        assert_eq!(
            var(variable),
            Some(format!("{prefix}-{suffix}")),
            "{variable}"
        );
    }
    assert_eq!(var("STORAGE_DEEP_CHECK").as_deref(), Some("true"));
    assert_eq!(input("deep_storage_check"), "true");
    let region = attr(block(&example, "variable", "region", ""), "default");
    assert_eq!(var("AWS_REGION").as_deref(), region.as_str());

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
    // Each AWS check beyond S3: the IAM actions its variable documents (vitals-env's table) are
    // granted by one statement, on the resources of the module's variable for it, and only
    // when that list is not empty.
    let statements = attr(
        block(&main, "data", "aws_iam_policy_document", "service_account"),
        "dynamic",
    );
    let statements: Vec<&Value> = statements
        .as_array()
        .unwrap()
        .iter()
        .map(|d| attr(d, "statement"))
        .collect();
    for (variable, list) in [
        (
            vitals_env::variables::SQS_QUEUES,
            "health_check_sqs_queue_arns",
        ),
        (
            vitals_env::variables::SNS_TOPICS,
            "health_check_sns_topic_arns",
        ),
        (
            vitals_env::variables::DYNAMODB_TABLES,
            "health_check_dynamodb_table_arns",
        ),
        (
            vitals_env::variables::SECRETS_MANAGER_SECRETS,
            "health_check_secret_arns",
        ),
        (vitals_env::variables::KMS_KEYS, "health_check_kms_key_arns"),
    ] {
        let documented: Vec<&str> = variable
            .meaning
            .split('`')
            .filter(|w| w.contains(':') && !w.contains(' '))
            .collect();
        assert!(
            !documented.is_empty(),
            "{} names its IAM action",
            variable.name
        );
        let statement = statements
            .iter()
            .find(|s| text(attr(s, "for_each")).contains(list))
            .unwrap_or_else(|| panic!("no statement for {list}"));
        let content = attr(statement, "content");
        let actions: Vec<String> = attr(content, "actions")
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        assert_eq!(actions, documented, "{}: {list}", variable.name);
        assert_eq!(text(attr(content, "resources")), format!("${{var.{list}}}"));
        assert_eq!(
            text(attr(statement, "for_each")),
            format!("${{length(var.{list}) > 0 ? [1] : []}}")
        );
        block(&variables, "variable", list, "");
    }
    assert!(source.contains("system:serviceaccount:${var.namespace}:${var.service_account}"));
    assert!(source.contains("origin_access_control_origin_type = \"s3\""));
    assert!(
        !source.contains("aws_cloudfront_origin_access_identity"),
        "legacy OAI"
    );
}

/// The README's `terraform apply` sets every variable of the example that has no default (the
/// names that must be yours: bucket prefix, CORS origins, the cluster), and only variables the
/// example declares.
#[test]
fn the_readme_terraform_apply_sets_every_required_variable() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let apply = readme
        .replace("\\\n", " ")
        .lines()
        .find(|l| l.starts_with("terraform apply"))
        .expect("README's terraform apply")
        .to_owned();
    let set: Vec<String> = apply
        .split(" -var ")
        .skip(1)
        .map(|v| {
            v.trim_start_matches('\'')
                .split('=')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let example = hcl(&root().join("deploy/terraform/example/main.tf"));
    let variables: Vec<(&String, &Value)> = example["variable"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v.as_object().unwrap())
        .collect();
    for (name, body) in &variables {
        if body.get("default").is_none() {
            assert!(
                set.contains(name),
                "the README's terraform apply does not set {name}"
            );
        }
    }
    for name in &set {
        assert!(
            variables.iter().any(|(n, _)| *n == name),
            "the README sets {name}, which the example does not declare"
        );
    }
    assert!(set.len() >= 3, "{set:?}");
}
