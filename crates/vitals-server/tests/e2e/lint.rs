//! `vitals-server lint` on the shipped manifests (rendered by the pinned kubectl's Kustomize),
//! the deployment guide's probe block, one fixture per rule, malformed input; its SARIF checked
//! against the published SARIF 2.1.0 schema with the `jsonschema` package.
use crate::common;

use std::{
    io::Write as _,
    path::PathBuf,
    process::{Command, Stdio},
};

use common::{kustomize, python, root, server_binary};
use vitals_env::EnvConfig;

fn fixture(name: &str) -> PathBuf {
    root()
        .join("crates/vitals-server/tests/lint-fixtures")
        .join(name)
}

/// Runs `vitals-server lint ARGS` (in the fixtures' folder, so files read as their names) with
/// `stdin`: exit status, stdout, stderr.
fn lint(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(server_binary())
        .arg("lint")
        .args(args)
        .current_dir(fixture(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The findings of `--format json`: (rule, line, message).
fn findings(args: &[&str]) -> Vec<(String, u64, String)> {
    let mut all = vec!["--format", "json"];
    all.extend(args);
    let (_, stdout, stderr) = lint(&all, "");
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_shipped_manifests_lint_clean() {
    for overlay in [
        "deploy/kubernetes/overlays/http",
        "deploy/kubernetes/overlays/grpc",
    ] {
        let rendered = kustomize(overlay);
        let (code, stdout, stderr) = lint(&["-"], &rendered);
        assert_eq!(code, 0, "{overlay}: {stdout}{stderr}");
        // The notes: how long an outage keeps a pod in the Service, and that the two
        // replicas would leave it together (the base fails closed; fail-open is opt-in).
        assert!(
            stdout.ends_with("0 errors, 0 warnings, 2 notes\n")
                && stdout.contains("info[outage-window]")
                && stdout.contains("info[shared-outage]"),
            "{overlay}: {stdout}"
        );
        // The rendered ConfigMap's values are read: a bad one there is found.
        let broken = rendered.replace("STORAGE_DEEP_CHECK: \"true\"", "STORAGE_DEEP_CHECK: maybe");
        assert_ne!(
            broken, rendered,
            "the settings ConfigMap sets STORAGE_DEEP_CHECK"
        );
        let (code, stdout, _) = lint(&["-"], &broken);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains("error[invalid-value]")
                && stdout.contains("STORAGE_DEEP_CHECK=\"maybe\" is invalid"),
            "{stdout}"
        );
    }
    // The base as written, its settings from the env file.
    let base = root().join("deploy/kubernetes/base");
    let env = root().join("deploy/kubernetes/settings/settings.env");
    let (code, stdout, stderr) = lint(
        &[base.to_str().unwrap(), "--env-file", env.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn the_guides_probe_block_gets_the_startup_window_and_the_liveness_rule() {
    // The first run of the mongo check under the guide's variables, by the timing rule itself.
    let guide = [
        ("MONGO_URI", "mongodb://db:27017"),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "60000"),
        ("REDIS_URI", "redis://cache:6379"),
        ("REDIS_CONNECT_TIMEOUT_MS", "60000"),
        ("HEALTH_CHECK_RETRIES", "5"),
        ("HEALTH_CHECK_RETRY_DELAY_MS", "2000"),
        ("HEALTH_CHECK_MAX_RETRY_DELAY_MS", "30000"),
    ];
    let config = EnvConfig::from_lookup(|name| {
        guide
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let plan = config.health_builder().plan();
    let mongo = plan.iter().find(|c| c.name == "mongo").unwrap();
    let run = mongo.timing.budget.as_secs_f64();
    assert!(
        run > 310.0,
        "the guide's run outlasts its startup window: {run}"
    );

    let found = findings(&["guide.yaml"]);
    let startup = found.iter().find(|f| f.0 == "startup-window").unwrap();
    assert_eq!(startup.1, 39, "the startupProbe's line");
    assert!(
        startup
            .2
            .contains("gives up after 10 + 60 × 5 = 310 s, but the first run of `mongo` can take")
            && startup.2.contains(&format!("take {run} s: 6 attempts")),
        "{}",
        startup.2
    );
    let liveness = found
        .iter()
        .find(|f| f.0 == "liveness-dependencies")
        .unwrap();
    assert_eq!(liveness.1, 46);
    assert!(
        liveness
            .2
            .contains("runs the dependency checks mongo, redis"),
        "{}",
        liveness.2
    );
    let rules: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        rules,
        [
            "termination-grace",
            "insecure-tls",
            "startup-window",
            "liveness-dependencies",
            "outage-window"
        ]
    );
}

#[test]
fn each_rule_points_at_its_line() {
    let cases: [(&str, &[(&str, u64)]); 4] = [
        (
            "invalid-value.yaml",
            &[("invalid-value", 12), ("invalid-value", 14)],
        ),
        (
            "probe-target.yaml",
            &[
                ("probe-target", 22),
                ("probe-target", 25),
                ("probe-target", 30),
            ],
        ),
        ("termination-grace.yaml", &[("termination-grace", 11)]),
        (
            "secret-literal.yaml",
            &[
                ("secret-literal", 14),
                ("secret-literal", 16),
                ("details-always", 18),
            ],
        ),
    ];
    for (file, expected) in cases {
        let found: Vec<(String, u64)> = findings(&[file])
            .into_iter()
            .map(|(rule, line, _)| (rule, line))
            .collect();
        let expected: Vec<(String, u64)> =
            expected.iter().map(|(r, l)| (r.to_string(), *l)).collect();
        assert_eq!(found, expected, "{file}");
    }
}

#[test]
fn secrets_are_named_and_never_shown() {
    for format in ["text", "json", "sarif"] {
        let (code, stdout, stderr) = lint(&["--format", format, "secret-literal.yaml"], "");
        assert_eq!(code, 1);
        assert!(stdout.contains("MONGO_URI"), "{stdout}");
        for planted in ["planted-lint-password-5d", "planted-lint-token-0123456789"] {
            assert!(
                !stdout.contains(planted) && !stderr.contains(planted),
                "{format}: {stdout}"
            );
        }
    }
}

#[test]
fn unreadable_input_exits_2_naming_the_file_and_line() {
    let (code, stdout, stderr) = lint(&["guide.yaml", "malformed.yaml"], "");
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with("vitals-server lint: malformed.yaml:5: not valid YAML: "),
        "{stderr}"
    );
    let (code, _, stderr) = lint(&["no-such.yaml"], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such.yaml: cannot read"), "{stderr}");
    let (code, _, stderr) = lint(&["--format", "xml", "guide.yaml"], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("expected text, json or sarif"), "{stderr}");
}

#[test]
fn fail_on_and_container_choose_what_counts() {
    // Only a warning and notes: clean by default, failing from `warning` down.
    let only_warning = std::fs::read_to_string(fixture("secret-literal.yaml"))
        .unwrap()
        .lines()
        .filter(|l| {
            !l.contains("planted") && !l.contains("MONGO_URI") && !l.contains("DETAILS_TOKEN")
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(lint(&["-"], &only_warning).0, 0);
    assert_eq!(lint(&["--fail-on", "warning", "-"], &only_warning).0, 1);
    assert_eq!(lint(&["--fail-on", "never", "guide.yaml"], "").0, 0);
    // A container chosen by name that is not there: nothing to lint.
    let (code, stdout, _) = lint(&["--container", "sidecar", "guide.yaml"], "");
    assert_eq!(
        (code, stdout.as_str()),
        (0, "0 errors, 0 warnings, 0 notes\n")
    );
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let files = [
        "guide.yaml",
        "invalid-value.yaml",
        "probe-target.yaml",
        "termination-grace.yaml",
        "secret-literal.yaml",
    ];
    let mut args = vec!["--format", "sarif"];
    args.extend(files);
    let (code, sarif, stderr) = lint(&args, "");
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let results = json["runs"][0]["results"].as_array().unwrap();
    let mut json_args = vec![];
    json_args.extend(files);
    assert_eq!(results.len(), findings(&json_args).len());
    let path = std::env::temp_dir().join(format!("vitals-lint-{}.sarif", std::process::id()));
    std::fs::write(&path, &sarif).unwrap();
    let check = format!(
        "import json, jsonschema\n\
         schema = json.load(open('/usr/local/share/vitals-test-deps/sarif-2.1.0.json'))\n\
         log = json.load(open('{}'))\n\
         cls = jsonschema.validators.validator_for(schema)\n\
         errors = list(cls(schema, format_checker=jsonschema.FormatChecker()).iter_errors(log))\n\
         print(cls.__name__, len(errors))\n\
         for e in errors[:10]: print(e.json_path, e.message)\n",
        path.display()
    );
    let out = python(&["-c", &check]);
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        "Draft202012Validator 0",
        "schema errors: {stdout}"
    );
}

/// The README's sample run is the guide fixture's output.
#[test]
fn the_readmes_sample_is_the_guide_fixtures_output() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = "<!-- lint sample: vitals-server lint guide.yaml -->\n```text\n$ vitals-server lint guide.yaml\n";
    let shown = readme
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(sample, _)| sample)
        .expect("README.md has the lint sample markers");
    let (_, stdout, _) = lint(&["guide.yaml"], "");
    assert_eq!(
        shown, stdout,
        "README.md's lint sample is out of date; it reads now:\n{stdout}"
    );
}
