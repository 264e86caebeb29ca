//! What the server says at startup, and how the profile becomes the probe layer.
use std::time::Duration;

use vitals_core::Health;
use vitals_env::{EnvConfig, variables as var};
use vitals_tower::{HealthLayer, SameBody, StatusPage};

/// The probe layer for `health` with the configured details policy and token, answering
/// `/livez`, `/readyz`, `/startupz`, `/healthz` and, as the deployment guide probes it, `/`.
pub(crate) fn health_layer(config: &EnvConfig, health: Health) -> HealthLayer<SameBody> {
    let policy = config.details;
    // axum's body can hold bytes: probes are answered in it, pass-through responses are
    // handed on as they are.
    let layer = HealthLayer::new(health)
        .same_body()
        .details(policy)
        .route(vitals_env::GUIDE_ROUTE.0, vitals_env::GUIDE_ROUTE.1);
    match &config.details_token {
        Some(token) => layer.details_token(token.clone()),
        None => layer,
    }
}

/// The status page at `HEALTH_STATUS_PAGE`, with the probes' details policy and token.
pub(crate) fn status_page(config: &EnvConfig, health: Health, path: &str) -> StatusPage {
    let page = StatusPage::new(health)
        .path(path)
        .details(config.details)
        .max_event_streams(config.max_event_streams);
    match &config.details_token {
        Some(token) => page.details_token(token.clone()),
        None => page,
    }
}

/// Logs what the configuration means, once at startup: each check configured or skipped
/// (and whether it is critical), the schedule and mode, each check's timing, and one
/// warning when `HEALTH_CHECK_TIMEOUT_MS` cannot hold every attempt that
/// `HEALTH_CHECK_RETRIES` plans.
pub(crate) fn log_summary(config: &EnvConfig, health: &Health) {
    if !config.skip.is_empty() {
        tracing::warn!(
            "{}={}: these checks are reported as skipped, not run",
            var::SKIP.name,
            config.skip
        );
    }
    if config.checks().is_empty() {
        tracing::info!(
            "no backend checks configured (set {}, {}, the *_STORAGE_BUCKET variables or {}); \
             probes report pass",
            var::MONGO_URI.name,
            var::REDIS_URI.name,
            var::CUSTOM_CODE_RUNNER_URI.name
        );
    }
    for check in config.checks() {
        let component = check.component();
        if config.skip.contains(component) {
            tracing::warn!(
                check = check.name(),
                component,
                "check skipped by {}",
                var::SKIP.name
            );
        } else {
            tracing::info!(
                check = check.name(),
                component,
                critical = !config.non_critical.contains(component),
                "check configured"
            );
        }
    }
    // IRSA's token is read by the AWS SDK at the first check; its error would not say which
    // file is missing, so say it now.
    if let Some(path) = &config.web_identity_token_file
        && let Err(err) = std::fs::File::open(path)
    {
        tracing::warn!(
            "{}={path} cannot be read ({err}): the pod's IAM role (IRSA) will not work; \
             is the service account annotated with eks.amazonaws.com/role-arn?",
            var::AWS_WEB_IDENTITY_TOKEN_FILE
        );
    }
    let ms = |d: Duration| d.as_millis() as u64;
    tracing::info!(
        retries = config.backoff.retries(),
        retry_delay_ms = ms(config.backoff.initial_delay()),
        max_retry_delay_ms = ms(config.backoff.max_delay()),
        mode = if config.interval.is_some() {
            "background"
        } else {
            "on demand"
        },
        interval_ms = config.interval.map_or(0, ms),
        cache_ttl_ms = ms(config.cache_ttl),
        "health checks ready"
    );
    let mut short = Vec::new();
    for (check, component, timing) in health.timings() {
        tracing::info!(
            check,
            attempt_timeout_ms = ms(timing.attempt_timeout),
            budget_ms = ms(timing.budget),
            attempts = timing.planned_attempts,
            max_age_ms = ms(timing.max_age),
            "check timing"
        );
        if !timing.fits() {
            let driver = match component {
                "mongo" => format!(
                    " ({} + {} ms for the ping)",
                    var::MONGO_SERVER_SELECTION_TIMEOUT.name,
                    vitals_mongodb::DEFAULT_COMMAND_TIMEOUT.as_millis()
                ),
                "redis" => format!(
                    " ({} + {})",
                    var::REDIS_CONNECT_TIMEOUT.name,
                    var::REDIS_COMMAND_TIMEOUT.name
                ),
                _ => String::new(),
            };
            short.push(format!(
                "{check}: {} of {} attempts fit, each up to {} ms{driver}, needs {} ms",
                timing.attempts_that_fit,
                timing.planned_attempts,
                ms(timing.attempt_timeout),
                ms(timing.budget_needed()),
            ));
        }
    }
    if !short.is_empty() {
        tracing::warn!(
            "{} is too short for {}={}: {}; raise it or unset it to derive it",
            var::RUN_BUDGET.name,
            var::RETRIES.name,
            config.backoff.retries(),
            short.join("; ")
        );
    }
}
