//! Kubernetes manifests checked against what `vitals-server` will do with them, before
//! `kubectl apply`: a deployment's probes and variables, read by the owners of each fact
//! (vitals-env's parsers, the timing rule without running anything, the probes' paths, gRPC
//! names, the guide's route and the drain).
//!
//! [`lint`] takes YAML documents (workloads: Pod, Deployment, StatefulSet, DaemonSet,
//! ReplicaSet, Job, CronJob; ConfigMaps fill `envFrom` and `configMapKeyRef`) and env files,
//! finds the containers that run the server (they set one of the profile's variables or run
//! a `vitals-server` image), and returns every [`Finding`] of the [`RULES`]. A Secret's value
//! counts as set but unknown. [`Format`] renders findings as text, JSON or SARIF 2.1.0.
//! `vitals-server lint` is this crate behind a command line.
//!
//! ```
//! use vitals_lint::{Source, lint};
//!
//! let manifest = r#"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: api}
//! spec:
//!   template:
//!     spec:
//!       containers:
//!         - name: api
//!           image: vitals-server:0.1
//!           env:
//!             - {name: HEALTH_CHECK_RETRIES, value: "many"}
//! "#;
//! let findings = lint(&[Source::new("api.yaml", manifest)], &[], None).unwrap();
//! let invalid = findings.iter().find(|f| f.rule.id == "invalid-value").unwrap();
//! assert_eq!(invalid.line, 12);
//! assert!(invalid.message.contains("HEALTH_CHECK_RETRIES=\"many\" is invalid"));
//! // No grace period set: Kubernetes' 30 s cannot hold the shutdown delay and the drain.
//! assert!(findings.iter().any(|f| f.rule.id == "termination-grace"));
//! ```
#![forbid(unsafe_code)]

mod rules;
mod workload;
mod yaml;

use std::{collections::BTreeMap, fmt, io::Read as _, path::Path};

pub use rules::{
    DETAILS_ALWAYS, Finding, INSECURE_TLS, INVALID_VALUE, LIVENESS_DEPENDENCIES, OUTAGE_WINDOW,
    PROBE_TARGET, RULES, Rule, SECRET_LITERAL, SHARED_OUTAGE, STARTUP_WINDOW, Severity,
    TERMINATION_GRACE,
};
use workload::Document;

/// One input's text and the name findings give it (a path, or `<stdin>`).
#[derive(Clone, Debug)]
pub struct Source {
    /// The name findings carry.
    pub name: String,
    /// Its text.
    pub text: String,
}

impl Source {
    /// `text`, named `name`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The file at `path`, named by it.
    pub fn read_file(path: &str) -> Result<Source, LintError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LintError(format!("{path}: cannot read: {e}")))?;
        Ok(Source::new(path, text))
    }

    /// The YAML files of `input`: the file, every `.yaml`/`.yml` below a directory (in
    /// order), or stdin for `-`.
    pub fn read(input: &str) -> Result<Vec<Source>, LintError> {
        let mut out = Vec::new();
        read_input(input, &mut out).map_err(LintError)?;
        Ok(out
            .into_iter()
            .map(|(name, text)| Source { name, text })
            .collect())
    }
}

/// An input that cannot be read or parsed, in words: `file:line: not valid YAML: why`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintError(String);

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LintError {}

/// Lints every container that runs the server in `documents` (or only the one called
/// `container`), with `env_files` (`KEY=value` lines, as `--env-file`) filling what the
/// manifests leave to the environment. Findings are sorted by file and line.
pub fn lint(
    documents: &[Source],
    env_files: &[Source],
    container: Option<&str>,
) -> Result<Vec<Finding>, LintError> {
    let mut parsed = Vec::new();
    for source in documents {
        let nodes = yaml::parse(&source.text).map_err(|(line, why)| {
            LintError(format!("{}:{line}: not valid YAML: {why}", source.name))
        })?;
        parsed.extend(nodes.into_iter().map(|node| Document {
            file: source.name.clone(),
            node,
        }));
    }
    let mut env_file = BTreeMap::new();
    for source in env_files {
        let values = workload::parse_env_file(&source.text)
            .map_err(|(line, why)| LintError(format!("{}:{line}: {why}", source.name)))?;
        env_file.extend(values);
    }
    let flat = workload::flatten(&parsed);
    let config_maps = workload::config_maps(&flat);
    let mut findings = Vec::new();
    for container in workload::containers(&flat, container) {
        let env = workload::environment(&container, &config_maps, &env_file);
        rules::lint(&container, &env, &mut findings);
    }
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(findings)
}

/// How findings are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `file:line: severity[rule] message`, the fix below, then the counts.
    Text,
    /// `{"findings": [...]}`.
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

impl Format {
    /// `findings` in this format, ending in a newline.
    pub fn render(self, findings: &[Finding]) -> String {
        match self {
            Format::Text => text(findings),
            Format::Json => json(findings),
            Format::Sarif => sarif(findings),
        }
    }
}

/// The YAML files of an input: the file, every `.yaml`/`.yml` below a directory, or stdin.
fn read_input(input: &str, out: &mut Vec<(String, String)>) -> Result<(), String> {
    if input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("-: cannot read stdin: {e}"))?;
        out.push(("<stdin>".to_owned(), text));
        return Ok(());
    }
    let path = Path::new(input);
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("{input}: cannot read the directory: {e}"))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            let yaml = entry.extension().is_some_and(|x| x == "yaml" || x == "yml");
            if entry.is_dir() || yaml {
                read_input(&entry.display().to_string(), out)?;
            }
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{input}: cannot read: {e}"))?;
    out.push((input.to_owned(), text));
    Ok(())
}

fn text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}:{}: {}[{}] {}\n  fix: {}\n",
            f.file,
            f.line,
            f.rule.severity.as_str(),
            f.rule.id,
            f.message,
            f.fix
        ));
    }
    let count = |s: Severity| findings.iter().filter(|f| f.rule.severity == s).count();
    let counted = |n: usize, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    out.push_str(&format!(
        "{}, {}, {}\n",
        counted(count(Severity::Error), "error"),
        counted(count(Severity::Warning), "warning"),
        counted(count(Severity::Info), "note")
    ));
    out
}

fn json(findings: &[Finding]) -> String {
    let items: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "rule": f.rule.id,
                "severity": f.rule.severity.as_str(),
                "file": f.file,
                "line": f.line,
                "message": f.message,
                "fix": f.fix,
            })
        })
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&serde_json::json!({ "findings": items }))
            .expect("JSON values serialize")
    )
}

/// A file as SARIF names it: an absolute path as a `file://` URI, a relative one as a
/// relative reference (to the directory the tool ran in), both percent-encoded.
fn artifact_uri(file: &str) -> String {
    if file == "<stdin>" {
        return "stdin".to_owned();
    }
    let mut encoded = String::new();
    for byte in file.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                encoded.push(byte as char);
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    if file.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

/// SARIF 2.1.0: one run, every rule described, one result per finding.
fn sarif(findings: &[Finding]) -> String {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    };
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "shortDescription": { "text": r.summary },
                "defaultConfiguration": { "level": level(r.severity) },
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|r| r.id == f.rule.id).unwrap_or(0);
            let uri = artifact_uri(&f.file);
            serde_json::json!({
                "ruleId": f.rule.id,
                "ruleIndex": index,
                "level": level(f.rule.severity),
                "message": { "text": format!("{} Fix: {}", f.message, f.fix) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri },
                        "region": { "startLine": f.line.max(1) },
                    }
                }],
            })
        })
        .collect();
    let log = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "vitals-server lint",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://docs.rs/vitals-lint",
                    "rules": rules,
                }
            },
            "results": results,
        }],
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&log).expect("JSON values serialize")
    )
}
