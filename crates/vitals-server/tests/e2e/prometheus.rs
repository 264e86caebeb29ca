//! The shipped PrometheusRule (deploy/kubernetes/components/prometheus) passes Debian's
//! `promtool check rules` and its unit tests (`promtool test rules`,
//! tests/e2e/prometheus-rules-test.yml), and its rules name metrics the server exports.
use crate::common;

use std::process::Command;

use common::{http, start_server};
use yaml_rust2::{YamlEmitter, YamlLoader};

/// The PrometheusRule's `spec` (a rules file's `groups:`), as a plain rules file.
fn rules_file() -> String {
    let path = common::root().join("deploy/kubernetes/components/prometheus/prometheusrule.yaml");
    let docs = YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = String::new();
    YamlEmitter::new(&mut out).dump(&docs[0]["spec"]).unwrap();
    out
}

fn promtool(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(vitals_testkit::require_binary("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn the_rules_pass_promtools_check_and_unit_tests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rules_file()).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/prometheus-rules-test.yml"
        ),
        dir.path().join("test.yml"),
    )
    .unwrap();
    for args in [
        &["check", "rules", "rules.yml"][..],
        &["test", "rules", "test.yml"],
    ] {
        let out = promtool(args, dir.path());
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every metric a rule reads is one the server exports (a renamed metric would leave the
/// alerts silent, not failing).
#[tokio::test]
async fn the_rules_read_metrics_the_server_exports() {
    let rules = rules_file();
    let (mut child, addr, _log) = start_server(&[("DISK_SPACE_PATH", "/")]).await;
    let mut metrics = String::new();
    // The first run's metrics appear once it has ended.
    for _ in 0..100 {
        metrics = http(addr, "GET", "/metrics", &[]).await.body;
        if metrics.contains("vitals_healthchecks_total") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().await.unwrap();
    let docs = YamlLoader::load_from_str(&rules).unwrap();
    let exprs: Vec<String> = docs[0]["groups"]
        .as_vec()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_vec().unwrap().iter())
        .filter_map(|r| r["expr"].as_str().map(str::to_owned))
        .collect();
    let mut read = 0;
    for expr in &exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("vitals_") {
                read += 1;
                assert!(
                    metrics.contains(&format!("\n{word}")) || metrics.starts_with(word),
                    "a rule reads {word}, which /metrics does not export"
                );
            }
        }
    }
    assert!(read >= 7, "{read} metric names read by the rules");
}

/// The plain rules file (deploy/prometheus/vitals-rules.yml, for a Prometheus without the
/// operator) holds exactly the PrometheusRule's rules, and promtool accepts it as it is.
#[test]
fn the_plain_rules_file_is_the_prometheusrules_spec() {
    let path = common::root().join("deploy/prometheus/vitals-rules.yml");
    let shipped = std::fs::read_to_string(&path).unwrap();
    let shipped = YamlLoader::load_from_str(&shipped).unwrap();
    let spec = YamlLoader::load_from_str(&rules_file()).unwrap();
    assert_eq!(
        shipped[0], spec[0],
        "deploy/prometheus/vitals-rules.yml differs from the PrometheusRule's spec"
    );
    let out = promtool(&["check", "rules", path.to_str().unwrap()], &common::root());
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
