//! Every environment variable the server reads, given junk: each is a startup error that names
//! the variable, quotes the value and says what is accepted — never a panic, never a start.
use crate::common;

use std::time::Duration;

use common::{output_within, server_binary};

const NUMBER_JUNK: &[&str] = &[
    "abc",
    "-1",
    "1.5",
    "",
    " ",
    "99999999999999999999",
    "1e3",
    "0x10",
    "١٢",
    "+5",
];
const BOOL_JUNK: &[&str] = &["maybe", "", "2", "yes please", "tru"];

fn cases() -> Vec<(&'static str, &'static str)> {
    let mut cases = Vec::new();
    for var in [
        "HEALTH_CHECK_RETRIES",
        "HEALTH_CHECK_RETRY_DELAY_MS",
        "HEALTH_CHECK_MAX_RETRY_DELAY_MS",
        "MONGO_SERVER_SELECTION_TIMEOUT_MS",
        "REDIS_CONNECT_TIMEOUT_MS",
        "REDIS_COMMAND_TIMEOUT_MS",
        "HEALTH_CHECK_INTERVAL_MS",
        "HEALTH_CHECK_CACHE_TTL_MS",
        "HEALTH_CHECK_TIMEOUT_MS",
        "SHUTDOWN_DELAY_MS",
        "TLS_CERTIFICATE_WARN_DAYS",
        "DISK_SPACE_THRESHOLD_MB",
        "PORT",
    ] {
        cases.extend(NUMBER_JUNK.iter().map(|junk| (var, *junk)));
    }
    cases.extend([
        ("PORT", "65536"),
        ("HEALTH_CHECK_RETRIES", "1001"),
        ("HEALTH_CHECK_TIMEOUT_MS", "0"),
    ]);
    for var in [
        "REDIS_DISABLE_TLS_VERIFICATION",
        "STORAGE_DEEP_CHECK",
        "S3_FORCE_PATH_STYLE",
        "NATS_JETSTREAM",
    ] {
        cases.extend(BOOL_JUNK.iter().map(|junk| (var, *junk)));
    }
    cases.extend(
        [
            "mongodb",
            "all,bogus",
            ",",
            "mongo;redis",
            "mongo,,redis",
            "s3",
        ]
        .iter()
        .map(|junk| ("SKIP_HEALTH_CHECKS", *junk)),
    );
    cases.extend(
        [
            "",
            "mongodb://",
            "http://db",
            "mongodb://db:99999",
            "mongodb://u:p@",
        ]
        .iter()
        .map(|j| ("MONGO_URI", *j)),
    );
    cases.extend(
        [
            "",
            "redis//cache",
            "http://cache",
            "redis://cache:port",
            "cache:6379",
        ]
        .iter()
        .map(|j| ("REDIS_URI", *j)),
    );
    cases.extend(
        ["", "runner:8080", "ftp://runner", "http://", "not a url"]
            .iter()
            .map(|j| ("CUSTOM_CODE_RUNNER_URI", *j)),
    );
    let urls: [(&str, &[&str]); 6] = [
        (
            "DATABASE_URL",
            &[
                "",
                "postgres//db",
                "redis://db",
                "postgres://db:99999/x",
                "db:5432",
            ],
        ),
        (
            "AMQP_URL",
            &["", "amqp//rabbit", "http://rabbit", "amqp://rabbit:port"],
        ),
        ("AMQP_QUEUE", &["", " "]),
        (
            "NATS_URL",
            &["", "nats//bus", "http://bus", "nats://bus:99999"],
        ),
        (
            "TLS_CERTIFICATE_ENDPOINTS",
            &["", "a,,b", "https://api", "api:0", "::1:443", "api:443,api"],
        ),
        ("DISK_SPACE_PATH", &["", "relative/path"]),
    ];
    for (var, junk) in urls {
        cases.extend(junk.iter().map(|j| (var, *j)));
    }
    for var in [
        "TMP_STORAGE_BUCKET",
        "CONNECTORS_STORAGE_BUCKET",
        "STATIC_STORAGE_BUCKET",
    ] {
        cases.extend(
            ["", "A", "x_y", "-bad-", "a..b"]
                .iter()
                .map(|junk| (var, *junk)),
        );
    }
    cases
}

async fn run(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = tokio::process::Command::new(server_binary());
    cmd.env_clear().env("PORT", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = output_within(&mut cmd, Duration::from_secs(30)).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn junk_in_any_variable_is_a_clear_startup_error() {
    let cases = cases();
    assert!(cases.len() > 190, "the table covers every variable");
    for (var, junk) in cases {
        let (code, stderr) = run(&[(var, junk)]).await;
        assert!(
            !stderr.contains("panicked"),
            "{var}={junk:?} panicked: {stderr}"
        );
        assert_eq!(
            code,
            Some(2),
            "{var}={junk:?} must stop the server: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{var}=")) && stderr.contains("is invalid: expected"),
            "{var}={junk:?}: the error names the variable and what is accepted: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_maximum_below_the_initial_delay_names_the_maximum() {
    let (code, stderr) = run(&[
        ("HEALTH_CHECK_RETRY_DELAY_MS", "5000"),
        ("HEALTH_CHECK_MAX_RETRY_DELAY_MS", "1000"),
    ])
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("HEALTH_CHECK_MAX_RETRY_DELAY_MS=\"1000\" is invalid: expected milliseconds at least HEALTH_CHECK_RETRY_DELAY_MS (5000)"), "{stderr}");
}

#[tokio::test]
async fn a_password_in_a_bad_uri_is_not_echoed() {
    let (code, stderr) = run(&[("REDIS_URI", "http://:hunter2-in-uri@cache")]).await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("REDIS_URI=") && !stderr.contains("hunter2-in-uri"),
        "{stderr}"
    );
}

/// `--help` prints every variable vitals-env defines, with its default, and exits 0 without
/// serving; `--version` prints the version; anything else is refused with status 2.
#[tokio::test]
async fn help_lists_every_variable_and_unknown_arguments_are_refused() {
    let server = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(server_binary());
        cmd.env_clear().args(args);
        async move { output_within(&mut cmd, Duration::from_secs(30)).await }
    };
    let help = server(&["--help"]).await;
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for variable in vitals_env::VARIABLES {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", variable.name)))
            .unwrap_or_else(|| panic!("--help lacks {}: {text}", variable.name));
        assert!(line.contains(variable.meaning), "{line}");
        if !variable.default.is_none() {
            assert!(
                line.ends_with(&format!("(default: {})", variable.default)),
                "{line}"
            );
        }
    }
    let version = server(&["--version"]).await;
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    let unknown = server(&["--port", "80"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown arguments") && stderr.contains("--help"),
        "{stderr}"
    );
}

/// A port that is taken names `PORT` and says what to do, in words (no OS error number).
#[tokio::test]
async fn a_taken_port_names_the_variable() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, stderr) = run(&[("PORT", &port), ("LISTEN_ADDRESS", "127.0.0.1")]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().last().unwrap(),
        format!(
            "cannot listen on 127.0.0.1:{port} (PORT={port}): address already in use; another \
             process listens on that port: choose another with PORT"
        )
    );
}
