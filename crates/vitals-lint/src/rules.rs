//! The rules: each a check of one container's probes and variables against what the server
//! will do with them (vitals-env's parsers, the timing rule, the routes it serves).
use std::{collections::BTreeMap, time::Duration};

use vitals_core::{PlannedCheck, Probe};
use vitals_env::{EnvConfig, EnvErrors, variables as var};

use super::{
    workload::{Container, Setting, stand_in},
    yaml::Node,
};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing (a number the deployment implies).
    Info,
    /// Right only in some deployments.
    Warning,
    /// The deployment will not behave as meant.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A rule: its id, severity and what it is about.
#[derive(Debug)]
#[non_exhaustive]
pub struct Rule {
    /// The id findings carry (`startup-window`).
    pub id: &'static str,
    /// How much its findings matter.
    pub severity: Severity,
    /// What it is about, in one line.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $severity:ident, $summary:literal;)*) => {
        $(#[doc = $summary] pub const $name: Rule = Rule { id: $id, severity: Severity::$severity, summary: $summary };)*
        /// Every rule, in the order they are documented.
        pub const RULES: &[Rule] = &[$($name),*];
    };
}

rules! {
    INVALID_VALUE = "invalid-value", Error,
        "a variable's value that the server refuses at startup";
    STARTUP_WINDOW = "startup-window", Error,
        "a startup probe that gives up before the first run of a check can end";
    LIVENESS_DEPENDENCIES = "liveness-dependencies", Error,
        "a liveness probe that runs dependency checks: one outage restarts every pod";
    PROBE_TARGET = "probe-target", Error,
        "a probe's port, path or gRPC service that the server does not serve";
    TERMINATION_GRACE = "termination-grace", Error,
        "terminationGracePeriodSeconds shorter than the shutdown delay and the drain";
    SECRET_LITERAL = "secret-literal", Error,
        "a password, key or token written into the manifest";
    INSECURE_TLS = "insecure-tls", Warning,
        "certificate verification turned off";
    DETAILS_ALWAYS = "details-always", Warning,
        "check details shown to every caller";
    OUTAGE_WINDOW = "outage-window", Info,
        "how long a failed dependency keeps the pod in the Service";
    SHARED_OUTAGE = "shared-outage", Info,
        "a dependency every replica shares that fails readiness on all of them at once";
}

/// One finding: a rule broken at a line, in numbers, with the fix.
#[derive(Debug)]
#[non_exhaustive]
pub struct Finding {
    /// The rule broken.
    pub rule: &'static Rule,
    /// The input it is in, as named.
    pub file: String,
    /// The line (1-based) of the setting or probe at fault.
    pub line: usize,
    /// What is wrong, in numbers where there are numbers.
    pub message: String,
    /// What to change.
    pub fix: String,
}

/// Seconds as people read them: `310 s`, `472.5 s`.
fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!(
            "{} s",
            format!("{:.3}", d.as_secs_f64()).trim_end_matches('0')
        )
    }
}

/// Kubernetes' probe fields, with its defaults.
struct ProbeTimes {
    initial_delay: u64,
    period: u64,
    failure_threshold: u64,
}

impl ProbeTimes {
    fn of(probe: &Node) -> ProbeTimes {
        let field =
            |name: &str, default: u64| probe.get(name).and_then(Node::as_u64).unwrap_or(default);
        ProbeTimes {
            initial_delay: field("initialDelaySeconds", 0),
            period: field("periodSeconds", 10),
            failure_threshold: field("failureThreshold", 3),
        }
    }

    /// `initialDelay + failureThreshold × period` in seconds.
    fn window(&self) -> u64 {
        self.initial_delay + self.failure_threshold * self.period
    }
}

/// What a probe asks the server.
struct Target {
    probe: Probe,
    /// One check alone (`/readyz/NAME`, or a check's name as the gRPC service).
    check: Option<String>,
    /// How the manifest spells it, for messages.
    shown: String,
}

/// The checks a target includes that run (not skipped).
fn included<'p>(plan: &'p [PlannedCheck], target: &Target) -> Vec<&'p PlannedCheck> {
    plan.iter()
        .filter(|c| c.skipped_by.is_none())
        .filter(|c| match &target.check {
            Some(name) => &c.name == name,
            None => c.probes.contains(target.probe),
        })
        .collect()
}

/// Lints one container; findings are appended.
pub(crate) fn lint(
    container: &Container<'_>,
    env: &BTreeMap<String, Setting>,
    findings: &mut Vec<Finding>,
) {
    let at = |line: usize, rule: &'static Rule, message: String, fix: String| Finding {
        rule,
        file: container.file.to_owned(),
        line,
        message: format!(
            "{} container {:?}: {message}",
            container.workload, container.name
        ),
        fix,
    };
    let line_of = |name: &str| match env.get(name) {
        Some(Setting::Value(_, Some(line))) | Some(Setting::Unknown(line)) => *line,
        _ => container.node.line(),
    };

    secrets(env, &line_of, &at, findings);

    // The configuration the server would read; a variable it refuses is reported and then
    // read as unset (as the server's own check of every variable does), so the other rules
    // still run.
    let lookup = |refused: &[String], name: &str| -> Option<String> {
        if refused.iter().any(|r| r == name) {
            return None;
        }
        match env.get(name)? {
            Setting::Value(value, _) => Some(value.clone()),
            Setting::Unknown(_) => stand_in(name).map(str::to_owned),
        }
    };
    let config = match EnvConfig::from_lookup(|name| lookup(&[], name)) {
        Ok(config) => config,
        Err(errors) => {
            let refused = report_invalid(&errors, &line_of, &at, findings);
            match EnvConfig::from_lookup(|name| lookup(&refused, name)) {
                Ok(config) => config,
                Err(_) => return,
            }
        }
    };
    let builder = config.health_builder();
    let plan = builder.plan();

    let mut targets: Vec<(&str, &Node, Option<Target>)> = Vec::new();
    for kind in ["startupProbe", "livenessProbe", "readinessProbe"] {
        if let Some(probe) = container.node.get(kind) {
            let target = target(container, probe, config.port, &plan, kind, &at, findings);
            targets.push((kind, probe, target));
        }
    }
    for (kind, probe, target) in &targets {
        let Some(target) = target else { continue };
        let checks = included(&plan, target);
        let times = ProbeTimes::of(probe);
        match *kind {
            "startupProbe" => {
                startup_window(probe, target, &checks, &times, &config, &at, findings)
            }
            "livenessProbe"
                if (target.probe != Probe::Liveness || target.check.is_some())
                    && !checks.is_empty() =>
            {
                let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
                findings.push(at(
                    probe.line(),
                    &LIVENESS_DEPENDENCIES,
                    format!(
                        "the liveness probe asks {} and so runs the dependency checks {}: \
                         when a dependency is down every pod fails liveness, and the \
                         kubelet restarts them all, which mends nothing",
                        target.shown,
                        names.join(", ")
                    ),
                    format!(
                        "point the liveness probe at {} (gRPC service `livez`): it fails only \
                         when the process cannot answer; dependencies belong to readiness",
                        Probe::Liveness.path()
                    ),
                ));
            }
            "readinessProbe" => {
                outage_window(probe, target, &checks, &times, &at, findings);
                shared_outage(container, probe, &checks, &config, &at, findings);
            }
            _ => {}
        }
    }

    termination_grace(container, &config, &at, findings);

    if let Some(Setting::Value(value, _)) = env.get(var::REDIS_DISABLE_TLS_VERIFICATION.name)
        && config.checks().iter().any(|c| c.component() == "redis")
        && vitals_env::boolean(value) == Some(true)
    {
        findings.push(at(
            line_of(var::REDIS_DISABLE_TLS_VERIFICATION.name),
            &INSECURE_TLS,
            format!(
                "{}={value} accepts any certificate from Redis: the connection is encrypted but \
                 not authenticated",
                var::REDIS_DISABLE_TLS_VERIFICATION.name
            ),
            "right only for ElastiCache's self-signed in-transit certificates inside the VPC; \
             elsewhere trust the server's CA instead"
                .to_owned(),
        ));
    }
    if matches!(config.details, vitals_env::DetailsPolicy::Always) {
        findings.push(at(
            line_of(var::DETAILS.name),
            &DETAILS_ALWAYS,
            format!(
                "{}=always shows every caller each check's output, endpoints and versions",
                var::DETAILS.name
            ),
            format!(
                "right only when the port is reachable by trusted callers alone (a \
                 NetworkPolicy); else keep `local` and give operators {}",
                var::DETAILS_TOKEN.name
            ),
        ));
    }
}

/// Every variable the server refuses, as the server would say it (already scrubbed); returns
/// their names.
fn report_invalid(
    errors: &EnvErrors,
    line_of: &dyn Fn(&str) -> usize,
    at: &dyn Fn(usize, &'static Rule, String, String) -> Finding,
    findings: &mut Vec<Finding>,
) -> Vec<String> {
    let mut refused = Vec::new();
    for error in errors {
        refused.push(error.variable().to_owned());
        findings.push(at(
            line_of(error.variable()),
            &INVALID_VALUE,
            format!("the server would stop at startup: {error}"),
            format!(
                "give {} a value it accepts (see `vitals-server --help`)",
                error.variable()
            ),
        ));
    }
    refused
}

/// Literal secrets: never echoed, only named.
fn secrets(
    env: &BTreeMap<String, Setting>,
    line_of: &dyn Fn(&str) -> usize,
    at: &dyn Fn(usize, &'static Rule, String, String) -> Finding,
    findings: &mut Vec<Finding>,
) {
    let whole_value_secrets: Vec<&str> = [var::DETAILS_TOKEN.name, var::KAFKA_SASL_PASSWORD.name]
        .into_iter()
        .chain(var::AWS_SECRET_VARIABLES)
        .collect();
    for (name, setting) in env {
        let Setting::Value(value, Some(_)) = setting else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        let why = if whole_value_secrets.contains(&name.as_str()) {
            Some("its value is a secret")
        } else if vitals_core::scrub(value) != *value {
            Some("its value holds credentials (a password or token in the URL)")
        } else {
            None
        };
        if let Some(why) = why {
            findings.push(at(
                line_of(name),
                &SECRET_LITERAL,
                format!("{name} is written into the manifest and {why} (not shown here)"),
                "move it to a Secret and read it with valueFrom.secretKeyRef (or envFrom \
                 secretRef); rotate it, since the manifest has been shared"
                    .to_owned(),
            ));
        }
    }
}

/// What a probe asks the server, or a `probe-target` finding.
fn target(
    container: &Container<'_>,
    probe: &Node,
    port: u16,
    plan: &[PlannedCheck],
    kind: &str,
    at: &dyn Fn(usize, &'static Rule, String, String) -> Finding,
    findings: &mut Vec<Finding>,
) -> Option<Target> {
    let (handler, is_grpc) = match (probe.get("httpGet"), probe.get("grpc")) {
        (Some(http), _) => (http, false),
        (None, Some(grpc)) => (grpc, true),
        // exec (vitals-probe) and tcpSocket probes ask nothing this lint can follow.
        _ => return None,
    };
    let port_node = handler.get("port");
    let probe_port = port_node.and_then(|p| {
        p.as_u64().or_else(|| {
            let name = p.as_str()?;
            container
                .node
                .get("ports")?
                .items()
                .iter()
                .find(|cp| cp.get("name").and_then(Node::as_str) == Some(name))?
                .get("containerPort")?
                .as_u64()
        })
    });
    if probe_port != Some(u64::from(port)) {
        let shown = port_node.and_then(Node::as_str).unwrap_or("(none)");
        findings.push(at(
            port_node.map_or(handler.line(), Node::line),
            &PROBE_TARGET,
            format!(
                "the {kind} asks port {shown}, but the server listens on {port} ({}{})",
                var::PORT.name,
                if probe_port.is_none() && port_node.is_some() {
                    ": and no containerPort has that name"
                } else {
                    ""
                }
            ),
            format!(
                "set the probe's port to {port}, or {} to the probe's port",
                var::PORT.name
            ),
        ));
        return None;
    }
    let known_check = |name: &str| plan.iter().any(|c| c.name == name);
    if is_grpc {
        let service = handler.get("service").and_then(Node::as_str).unwrap_or("");
        let shown = format!("gRPC service {service:?}");
        if let Some(probe) = vitals_tonic::service_probe(service) {
            return Some(Target {
                probe,
                check: None,
                shown,
            });
        }
        if known_check(service) {
            return Some(Target {
                probe: Probe::All,
                check: Some(service.to_owned()),
                shown,
            });
        }
        findings.push(at(
            handler.get("service").map_or(handler.line(), Node::line),
            &PROBE_TARGET,
            format!(
                "the {kind} asks {shown}, which the server does not know: it answers NOT_FOUND"
            ),
            "use `startupz`, `livez` or `readyz` (or a check's name)".to_owned(),
        ));
        return None;
    }
    let raw = handler.get("path").and_then(Node::as_str).unwrap_or("/");
    let path = raw.split('?').next().unwrap_or(raw);
    let shown = raw.to_owned();
    if path == vitals_env::GUIDE_ROUTE.0 {
        return Some(Target {
            probe: vitals_env::GUIDE_ROUTE.1,
            check: None,
            shown,
        });
    }
    for probe in Probe::EVERY {
        if path == probe.path() {
            return Some(Target {
                probe,
                check: None,
                shown,
            });
        }
        if let Some(name) = path
            .strip_prefix(probe.path())
            .and_then(|r| r.strip_prefix('/'))
            && known_check(name)
        {
            return Some(Target {
                probe,
                check: Some(name.to_owned()),
                shown,
            });
        }
    }
    let paths: Vec<&str> = Probe::EVERY.iter().map(|p| p.path()).collect();
    findings.push(at(
        handler.get("path").map_or(handler.line(), Node::line),
        &PROBE_TARGET,
        format!(
            "the {kind} asks {raw}, which the server does not serve as a probe: it answers 404"
        ),
        format!(
            "use {} or / (each may end in /CHECK for one check)",
            paths.join(", ")
        ),
    ));
    None
}

/// The critical check whose run can take longest: the one a probe waits for at worst.
fn slowest_critical<'p>(checks: &[&'p PlannedCheck]) -> Option<&'p PlannedCheck> {
    checks
        .iter()
        .copied()
        .filter(|c| c.critical)
        .max_by_key(|c| c.timing.budget)
}

/// The startup window must hold the longest first run of the checks the probe waits for.
fn startup_window(
    probe: &Node,
    target: &Target,
    checks: &[&PlannedCheck],
    times: &ProbeTimes,
    config: &EnvConfig,
    at: &dyn Fn(usize, &'static Rule, String, String) -> Finding,
    findings: &mut Vec<Finding>,
) {
    let Some(slowest) = slowest_critical(checks) else {
        return;
    };
    let window = Duration::from_secs(times.window());
    let run = slowest.timing.budget;
    if run <= window {
        return;
    }
    let t = &slowest.timing;
    let needed = ((run.as_secs_f64() - times.initial_delay as f64) / times.period.max(1) as f64)
        .ceil() as u64;
    findings.push(at(
        probe.line(),
        &STARTUP_WINDOW,
        format!(
            "the startup probe ({}) gives up after {} + {} × {} = {} s, but the first run of \
             `{}` can take {}: {} attempts of up to {} each and {} of retry delays \
             ({}={}, {}={} ms, {}={} ms); a dependency that comes up slowly gets the pod \
             restarted before it can pass",
            target.shown,
            times.initial_delay,
            times.failure_threshold,
            times.period,
            times.window(),
            slowest.name,
            secs(run),
            t.planned_attempts,
            secs(t.attempt_timeout),
            secs(t.max_total_delay),
            var::RETRIES.name,
            config.backoff.retries(),
            var::RETRY_DELAY.name,
            config.backoff.initial_delay().as_millis(),
            var::MAX_RETRY_DELAY.name,
            config.backoff.max_delay().as_millis(),
        ),
        format!(
            "raise the startup probe's failureThreshold to at least {needed} (with periodSeconds \
             {}), or shorten the drivers' timeouts or the retries",
            times.period
        ),
    ));
}

/// How long a dependency that fails keeps the pod in the Service (info, with the arithmetic).
fn outage_window(
    probe: &Node,
    target: &Target,
    checks: &[&PlannedCheck],
    times: &ProbeTimes,
    at: &dyn Fn(usize, &'static Rule, String, String) -> Finding,
    findings: &mut Vec<Finding>,
) {
    let Some(slowest) = slowest_critical(checks) else {
        return;
    };
    let kubelet = times.failure_threshold * times.period;
    let t = &slowest.timing;
    // A failed result is published when its run ends: every attempt refused at once leaves
    // only the delays; every attempt blackholed waits out every attempt cut too.
    let (wait, mode) = match slowest.interval {
        Some(interval) => (interval, format!("interval {}", secs(interval))),
        None => (slowest.ttl, format!("on demand, TTL {}", secs(slowest.ttl))),
    };
    let refused = wait + t.max_total_delay + Duration::from_secs(kubelet);
    let blackholed = wait + t.budget + Duration::from_secs(kubelet);
    findings.push(at(
        probe.line(),
        &OUTAGE_WINDOW,
        format!(
            "when `{}` fails, the pod stays in the Service up to {} if the dependency refuses \
             connections ({mode} + {} of retry delays + {} × {} s for the kubelet) and up to {} \
             if it is blackholed (+ every attempt waiting out its {} cut instead)",
            slowest.name,
            secs(refused),
            secs(t.max_total_delay),
            times.failure_threshold,
            times.period,
            secs(blackholed),
            secs(t.attempt_timeout),
        ),
        format!(
            "to leave sooner: fewer retries or shorter driver timeouts for {} ({}), or a lower \
             failureThreshold on {}",
            slowest.name, target.shown, "the readiness probe"
        ),
    ));
}

/// Replicas that all fail readiness on one shared dependency leave the Service empty: say so,
/// and how to fail open instead.
fn shared_outage(
    container: &Container<'_>,
    probe: &Node,
    checks: &[&PlannedCheck],
    config: &EnvConfig,
    at: &dyn Fn(usize, &'static Rule, String, String) -> Finding,
    findings: &mut Vec<Finding>,
) {
    let (replicas, line) = container.replicas;
    let closed: Vec<&str> = checks
        .iter()
        .filter(|c| c.critical && !config.shared.contains(&c.component))
        .map(|c| c.name.as_str())
        .collect();
    if replicas < vitals_core::MIN_REPLICAS as u64 || closed.is_empty() {
        return;
    }
    let names = closed.join(", ");
    findings.push(at(
        line.unwrap_or(probe.line()),
        &SHARED_OUTAGE,
        format!(
            "its {replicas} replicas all check {names} for readiness: when one of them fails for \
             every replica, every pod leaves the Service at once and even requests that never \
             touch it get connection errors"
        ),
        format!(
            "if the service can serve without it, let it fail open: {}={} with {} (pods stay \
             ready while every replica sees it fail, and the VitalsCheckFailingOpen alert \
             pages), or make it non-critical ({})",
            var::SHARED.name,
            closed
                .iter()
                .filter_map(|name| checks.iter().find(|c| c.name == *name))
                .map(|c| c.component.as_str())
                .collect::<Vec<_>>()
                .join(","),
            var::PROMETHEUS_URL.name,
            var::NON_CRITICAL.name
        ),
    ));
}

/// The pod's grace period must hold the shutdown delay and the in-flight drain.
fn termination_grace(
    container: &Container<'_>,
    config: &EnvConfig,
    at: &dyn Fn(usize, &'static Rule, String, String) -> Finding,
    findings: &mut Vec<Finding>,
) {
    let field = container.pod_spec.get("terminationGracePeriodSeconds");
    let grace = field.and_then(Node::as_u64).unwrap_or(30);
    let needed = config.shutdown_delay + vitals_env::IN_FLIGHT_DRAIN;
    if Duration::from_secs(grace) >= needed {
        return;
    }
    findings.push(at(
        field.map_or(container.pod_spec.line(), Node::line),
        &TERMINATION_GRACE,
        format!(
            "terminationGracePeriodSeconds is {grace}{} but the server needs {} + {} = {} to \
             leave cleanly ({} and the in-flight drain): the kubelet kills it with requests in \
             flight",
            if field.is_none() {
                " (the default)"
            } else {
                ""
            },
            secs(config.shutdown_delay),
            secs(vitals_env::IN_FLIGHT_DRAIN),
            secs(needed),
            var::SHUTDOWN_DELAY.name,
        ),
        format!(
            "set terminationGracePeriodSeconds to at least {}",
            needed.as_secs_f64().ceil() as u64
        ),
    ));
}
