//! `vitals-server lint`: the command line of `vitals-lint`, which checks a deployment's probes
//! and variables against what the server will do with them, before `kubectl apply`.
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
use std::process::ExitCode;

use vitals_lint::{Format, RULES, Severity, Source};

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
            print!("{}", options.format.render(&findings));
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
fn lint(options: &Options) -> Result<Vec<vitals_lint::Finding>, vitals_lint::LintError> {
    let mut documents = Vec::new();
    for input in &options.inputs {
        documents.extend(Source::read(input)?);
    }
    let mut env_files = Vec::new();
    for path in &options.env_files {
        env_files.push(Source::read_file(path)?);
    }
    vitals_lint::lint(&documents, &env_files, options.container.as_deref())
}
