//! Each rule in process: a manifest that breaks it gets its finding, at the line at fault and
//! in numbers; the same manifest mended gets none.
use vitals_lint::{Finding, Format, RULES, Severity, Source, lint};

/// A Deployment running the server with `env` (YAML list items, 12 spaces deep), `probes`
/// (container keys, 10 deep) and `grace` (`terminationGracePeriodSeconds`, enough by default).
fn deployment(env: &str, probes: &str, grace: u64) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      terminationGracePeriodSeconds: {grace}
      containers:
        - name: api
          image: registry.example.com/vitals-server:0.1
          ports:
            - containerPort: 5000
          env:
            - {{name: PORT, value: '5000'}}
{env}
{probes}
"
    )
}

/// The mongo check from a Secret, as the guide sets it.
const MONGO: &str = "            - name: MONGO_URI
              valueFrom:
                secretKeyRef: {name: api, key: mongo-uri}";

const READY: &str = "          readinessProbe:
            httpGet: {path: /readyz, port: 5000}";

fn findings(manifest: &str) -> Vec<Finding> {
    lint(&[Source::new("api.yaml", manifest)], &[], None).unwrap()
}

/// The findings of `rule` alone.
fn of(manifest: &str, rule: &str) -> Vec<Finding> {
    findings(manifest)
        .into_iter()
        .filter(|f| f.rule.id == rule)
        .collect()
}

/// The line of `needle` in `manifest` (1-based).
fn line_of(manifest: &str, needle: &str) -> usize {
    manifest
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {manifest}"))
        + 1
}

#[test]
fn invalid_value_quotes_the_servers_own_error_at_its_line() {
    let broken = deployment(
        "            - {name: HEALTH_CHECK_RETRIES, value: many}",
        READY,
        40,
    );
    let found = of(&broken, "invalid-value");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].line, line_of(&broken, "HEALTH_CHECK_RETRIES"));
    assert!(
        found[0].message.contains(
            "HEALTH_CHECK_RETRIES=\"many\" is invalid: expected a whole number of retries"
        ),
        "{}",
        found[0].message
    );
    let mended = deployment(
        "            - {name: HEALTH_CHECK_RETRIES, value: '5'}",
        READY,
        40,
    );
    assert!(of(&mended, "invalid-value").is_empty());
}

#[test]
fn startup_window_shorter_than_a_first_run_is_found_with_the_arithmetic() {
    let env = format!(
        "{MONGO}\n            - {{name: MONGO_SERVER_SELECTION_TIMEOUT_MS, value: '60000'}}"
    );
    let probe = |threshold: u32| {
        format!(
            "          startupProbe:
            httpGet: {{path: /startupz, port: 5000}}
            periodSeconds: 5
            failureThreshold: {threshold}"
        )
    };
    let broken = deployment(&env, &probe(3), 40);
    let found = of(&broken, "startup-window");
    assert_eq!(found.len(), 1, "{found:#?}");
    // The probe's own block, where its numbers are.
    assert_eq!(found[0].line, line_of(&broken, "path: /startupz"));
    assert!(
        found[0].message.contains("gives up after 0 + 3 × 5 = 15 s"),
        "{}",
        found[0].message
    );
    assert!(found[0].fix.contains("failureThreshold to at least"));
    assert!(of(&deployment(&env, &probe(600), 40), "startup-window").is_empty());
}

#[test]
fn liveness_on_dependencies_is_found_and_livez_is_not() {
    let probe = |path: &str| {
        format!("          livenessProbe:\n            httpGet: {{path: {path}, port: 5000}}")
    };
    let broken = deployment(MONGO, &probe("/"), 40);
    let found = of(&broken, "liveness-dependencies");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("dependency checks mongo"),
        "{}",
        found[0].message
    );
    assert!(
        of(
            &deployment(MONGO, &probe("/livez"), 40),
            "liveness-dependencies"
        )
        .is_empty()
    );
}

#[test]
fn probe_targets_the_server_does_not_serve_are_found() {
    for (probes, expected) in [
        (
            "          readinessProbe:\n            httpGet: {path: /health, port: 5000}",
            "which the server does not serve as a probe: it answers 404",
        ),
        (
            "          readinessProbe:\n            httpGet: {path: /readyz, port: 8080}",
            "but the server listens on 5000",
        ),
        (
            "          readinessProbe:\n            grpc: {port: 5000, service: bogus}",
            "which the server does not know: it answers NOT_FOUND",
        ),
    ] {
        let found = of(&deployment(MONGO, probes, 40), "probe-target");
        assert_eq!(found.len(), 1, "{probes}: {found:#?}");
        assert!(found[0].message.contains(expected), "{}", found[0].message);
    }
    for fine in [
        "          readinessProbe:\n            httpGet: {path: /readyz/mongo, port: 5000}",
        "          readinessProbe:\n            grpc: {port: 5000, service: readyz}",
        // The route the guide probes.
        "          readinessProbe:\n            httpGet: {path: /, port: 5000}",
    ] {
        assert!(
            of(&deployment(MONGO, fine, 40), "probe-target").is_empty(),
            "{fine}"
        );
    }
}

#[test]
fn a_grace_period_shorter_than_the_delay_and_the_drain_is_found() {
    let broken = deployment(MONGO, READY, 20);
    let found = of(&broken, "termination-grace");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].line,
        line_of(&broken, "terminationGracePeriodSeconds")
    );
    let needed = vitals_env::IN_FLIGHT_DRAIN.as_secs() + 5;
    assert!(
        found[0].fix.ends_with(&format!("at least {needed}")),
        "{}",
        found[0].fix
    );
    assert!(of(&deployment(MONGO, READY, needed), "termination-grace").is_empty());
}

#[test]
fn secrets_written_into_the_manifest_are_named_never_shown() {
    let broken = deployment(
        "            - {name: REDIS_URI, value: 'redis://:planted-rule-pw-71@cache:6379'}
            - {name: HEALTH_CHECK_DETAILS_TOKEN, value: planted-rule-token-0123456789}
            - {name: KAFKA_BOOTSTRAP_SERVERS, value: 'b-1.msk:9096'}
            - {name: KAFKA_SASL_MECHANISM, value: SCRAM-SHA-512}
            - {name: KAFKA_SASL_USERNAME, value: app}
            - {name: KAFKA_SASL_PASSWORD, value: planted-rule-kafka-pw}",
        READY,
        40,
    );
    let found = of(&broken, "secret-literal");
    assert_eq!(found.len(), 3, "{found:#?}");
    for format in [Format::Text, Format::Json, Format::Sarif] {
        let out = format.render(&findings(&broken));
        assert!(!out.contains("planted-rule"), "{out}");
    }
    let mended = deployment(
        "            - name: REDIS_URI
              valueFrom:
                secretKeyRef: {name: api, key: redis-uri}
            - {name: KAFKA_BOOTSTRAP_SERVERS, value: 'b-1.msk:9096'}
            - {name: KAFKA_SASL_MECHANISM, value: SCRAM-SHA-512}
            - {name: KAFKA_SASL_USERNAME, value: app}
            - name: KAFKA_SASL_PASSWORD
              valueFrom:
                secretKeyRef: {name: api, key: kafka-password}",
        READY,
        40,
    );
    assert!(of(&mended, "secret-literal").is_empty());
    // The password from a Secret counts as set: the SASL settings are complete.
    assert!(
        of(&mended, "invalid-value").is_empty(),
        "{:#?}",
        findings(&mended)
    );
}

#[test]
fn tls_verification_off_is_found_however_the_boolean_is_spelled() {
    let redis = "            - name: REDIS_URI
              valueFrom:
                secretKeyRef: {name: api, key: redis-uri}";
    for on in ["'true'", "'yes'", "'ON'", "'1'"] {
        let env =
            format!("{redis}\n            - {{name: REDIS_DISABLE_TLS_VERIFICATION, value: {on}}}");
        assert_eq!(
            of(&deployment(&env, READY, 40), "insecure-tls").len(),
            1,
            "{on}"
        );
    }
    let env =
        format!("{redis}\n            - {{name: REDIS_DISABLE_TLS_VERIFICATION, value: 'off'}}");
    assert!(of(&deployment(&env, READY, 40), "insecure-tls").is_empty());
}

#[test]
fn details_for_every_caller_is_found() {
    let broken = deployment(
        "            - {name: HEALTH_CHECK_DETAILS, value: always}",
        READY,
        40,
    );
    assert_eq!(of(&broken, "details-always").len(), 1);
    let mended = deployment(
        "            - {name: HEALTH_CHECK_DETAILS, value: local}",
        READY,
        40,
    );
    assert!(of(&mended, "details-always").is_empty());
}

#[test]
fn the_outage_window_of_a_readiness_probe_is_told_in_numbers() {
    let found = of(&deployment(MONGO, READY, 40), "outage-window");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule.severity, Severity::Info);
    assert!(
        found[0].message.contains("when `mongo` fails"),
        "{}",
        found[0].message
    );
    // Without a dependency there is no window to tell.
    assert!(of(&deployment("", READY, 40), "outage-window").is_empty());
}

#[test]
fn shared_outage_names_the_replicas_that_would_all_leave_the_service() {
    let two = deployment(MONGO, READY, 40)
        .replace("spec:\n  template:", "spec:\n  replicas: 2\n  template:");
    let found = of(&two, "shared-outage");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].line, line_of(&two, "replicas: 2"));
    assert!(
        found[0]
            .message
            .contains("its 2 replicas all check mongo for readiness"),
        "{}",
        found[0].message
    );
    assert!(
        found[0]
            .fix
            .contains("HEALTH_SHARED_CHECKS=mongo with HEALTH_PROMETHEUS_URL"),
        "{}",
        found[0].fix
    );
    // One replica: nothing shared to lose. Shared (fail-open) or non-critical: mended.
    assert!(of(&deployment(MONGO, READY, 40), "shared-outage").is_empty());
    for mended in [
        "            - {name: HEALTH_SHARED_CHECKS, value: mongo}\n            - {name: HEALTH_PROMETHEUS_URL, value: 'http://prometheus:9090'}",
        "            - {name: NON_CRITICAL_HEALTH_CHECKS, value: mongo}",
    ] {
        let manifest = deployment(&format!("{MONGO}\n{mended}"), READY, 40)
            .replace("spec:\n  template:", "spec:\n  replicas: 2\n  template:");
        assert!(of(&manifest, "shared-outage").is_empty(), "{mended}");
        assert!(of(&manifest, "invalid-value").is_empty(), "{mended}");
    }
}

#[test]
fn every_rule_has_a_test_here() {
    let source = include_str!("rules.rs");
    for rule in RULES {
        assert!(
            source.contains(&format!("\"{}\")", rule.id)),
            "no test names {}",
            rule.id
        );
    }
}

#[test]
fn unreadable_yaml_is_an_error_in_words() {
    let error = lint(&[Source::new("bad.yaml", "a: [\n")], &[], None).unwrap_err();
    assert!(error.to_string().starts_with("bad.yaml:"), "{error}");
    assert!(error.to_string().contains("not valid YAML"), "{error}");
}
