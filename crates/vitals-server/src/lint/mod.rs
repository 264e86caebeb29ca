//! `vitals-server lint`: a deployment's probes and variables checked against what the server
//! will do with them, before `kubectl apply`.
//!
//! Input: files, directories (every `.yaml`/`.yml` below, in order) and `-` (stdin), each
//! holding one or more YAML documents; workloads (Pod, Deployment, StatefulSet, DaemonSet,
//! ReplicaSet, Job, CronJob) and their containers that run the server (they set one of the
//! profile's variables or run a `vitals-server` image; `--container` chooses by name).
//! ConfigMaps among the inputs and `--env-file` fill `envFrom` and `configMapKeyRef` values;
//! a Secret's value counts as set but unknown.
//!
//! Output: text (default), `--format json`, or `--format sarif` (SARIF 2.1.0 for code
//! scanning). Exit status 0 when no finding reaches `--fail-on` (default `error`), 1 when one
//! does, 2 when an input cannot be read.
mod rules;
mod workload;
mod yaml;

use std::{collections::BTreeMap, io::Read as _, path::Path, process::ExitCode};

use rules::{Finding, RULES, Severity};
use workload::Document;

const USAGE: &str =
    "Usage: vitals-server lint [--format text|json|sarif] [--fail-on error|warning|info|never]
                          [--container NAME] [--env-file FILE]... PATH|-...";

/// Command-line options.
struct Options {
    format: Format,
    fail_on: Option<Severity>,
    container: Option<String>,
    env_files: Vec<String>,
    inputs: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Sarif,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        format: Format::Text,
        fail_on: Some(Severity::Error),
        container: None,
        env_files: Vec::new(),
        inputs: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--format" => {
                options.format = match value("--format")?.as_str() {
                    "text" => Format::Text,
                    "json" => Format::Json,
                    "sarif" => Format::Sarif,
                    other => {
                        return Err(format!("--format {other:?}: expected text, json or sarif"));
                    }
                }
            }
            "--fail-on" => {
                options.fail_on = match value("--fail-on")?.as_str() {
                    "error" => Some(Severity::Error),
                    "warning" => Some(Severity::Warning),
                    "info" => Some(Severity::Info),
                    "never" => None,
                    other => {
                        return Err(format!(
                            "--fail-on {other:?}: expected error, warning, info or never"
                        ));
                    }
                }
            }
            "--container" => options.container = Some(value("--container")?),
            "--env-file" => options.env_files.push(value("--env-file")?),
            "--help" | "-h" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag:?}")),
            input => options.inputs.push(input.to_owned()),
        }
    }
    if options.inputs.is_empty() {
        return Err("no input: give files, directories, or - for stdin".to_owned());
    }
    Ok(options)
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

/// Runs the command; `args` follow `lint`.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let options = match options(args) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}\n\nRules:");
            for rule in RULES {
                println!(
                    "  {:22} {:8} {}",
                    rule.id,
                    rule.severity.as_str(),
                    rule.summary
                );
            }
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("vitals-server lint: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match lint(&options) {
        Ok(findings) => {
            let text = match options.format {
                Format::Text => text(&findings),
                Format::Json => json(&findings),
                Format::Sarif => sarif(&findings),
            };
            print!("{text}");
            let failed = options
                .fail_on
                .is_some_and(|bar| findings.iter().any(|f| f.rule.severity >= bar));
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(message) => {
            eprintln!("vitals-server lint: {message}");
            ExitCode::from(2)
        }
    }
}

/// Reads every input and lints every container that runs the server.
fn lint(options: &Options) -> Result<Vec<Finding>, String> {
    let mut texts = Vec::new();
    for input in &options.inputs {
        read_input(input, &mut texts)?;
    }
    let mut documents = Vec::new();
    for (file, text) in texts {
        let nodes = yaml::parse(&text)
            .map_err(|(line, why)| format!("{file}:{line}: not valid YAML: {why}"))?;
        documents.extend(nodes.into_iter().map(|node| Document {
            file: file.clone(),
            node,
        }));
    }
    let mut env_file = BTreeMap::new();
    for path in &options.env_files {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
        let values = workload::parse_env_file(&text)
            .map_err(|(line, why)| format!("{path}:{line}: {why}"))?;
        env_file.extend(values);
    }
    let flat = workload::flatten(&documents);
    let config_maps = workload::config_maps(&flat);
    let mut findings = Vec::new();
    for container in workload::containers(&flat, options.container.as_deref()) {
        let env = workload::environment(&container, &config_maps, &env_file);
        rules::lint(&container, &env, &mut findings);
    }
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(findings)
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
                    "informationUri": "https://docs.rs/vitals-server",
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
