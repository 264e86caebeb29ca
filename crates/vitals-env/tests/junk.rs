//! Every variable given junk, in process: each is an error that names the variable, quotes the
//! value and says what is accepted — never a panic, never a configuration. (vitals-server's
//! own test checks, for a few of them, that the process prints those words and exits 2.)
use vitals_env::EnvConfig;

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
        "HEALTH_HEADER_READ_TIMEOUT_MS",
        "HEALTH_IDLE_TIMEOUT_MS",
        "HEALTH_SEND_TIMEOUT_MS",
        "HEALTH_HTTP2_KEEPALIVE_MS",
        "HEALTH_HTTP2_MAX_STREAMS",
        "HEALTH_MAX_HEADER_BYTES",
        "HEALTH_MAX_CONNECTIONS",
        "HEALTH_MAX_EVENT_STREAMS",
        "HEALTH_MAX_WATCH_STREAMS",
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

#[tokio::test]
async fn junk_in_any_variable_is_an_error_naming_it() {
    let cases = cases();
    assert!(cases.len() > 250, "the table covers every variable");
    for (var, junk) in cases {
        let errors = EnvConfig::from_lookup(|name| (name == var).then(|| junk.to_owned()))
            .map(|_| ())
            .expect_err(&format!("{var}={junk:?} must be refused"));
        let error = errors.first();
        assert_eq!(error.variable(), var, "{var}={junk:?}: {errors}");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("{var}=")) && text.contains("is invalid: expected"),
            "{var}={junk:?}: the error names the variable and what is accepted: {text}"
        );
    }
}
