//! Junk in the environment stops the server with words naming the variable, the value and what
//! is accepted, and exit status 2 (every variable's junk is vitals-env's own test, in process);
//! `--help` and `--version`.
use crate::common;

use std::time::Duration;

use common::{output_within, server_binary};

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

/// The words and the exit status are the server's: a few junk values through the process
/// (vitals-env's own tests give every variable its junk in process).
#[tokio::test]
async fn junk_in_a_variable_stops_the_server_with_its_words() {
    for (var, junk) in [
        ("HEALTH_CHECK_RETRIES", "abc"),
        ("MONGO_URI", "http://db"),
        ("HEALTH_MAX_CONNECTIONS", "0"),
    ] {
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
        assert!(line.contains(variable.describe().as_ref()), "{line}");
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
