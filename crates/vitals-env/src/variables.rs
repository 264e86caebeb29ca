//! Every variable the profile reads: its name, default and meaning, in one table. A default
//! that a library crate enforces (the retry schedule, a driver's timeout) is that crate's
//! constant, not a second literal.
use std::{fmt, time::Duration};

/// One environment variable of the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Variable {
    /// The name, exactly as the deployment guide spells it.
    pub name: &'static str,
    /// The default (`DefaultValue::None`: unset means "off" or "no such check").
    pub default: DefaultValue,
    /// Whether the deployment guide defines it (else it is vitals' own).
    pub from_guide: bool,
    /// What it does and accepts, in one line; `{components}` stands for the component names
    /// ([`COMPONENTS`](crate::COMPONENTS)), which [`Variable::describe`] fills in.
    pub meaning: &'static str,
    /// A value of the right form that plans the same check, for a linter that sees the
    /// variable set from a Secret (its value unknown): the check's timing does not depend on
    /// it. `None` for variables whose value alone matters.
    pub stand_in: Option<&'static str>,
    /// The cargo feature of vitals-env that reads it (`None`: every build does). Set in a
    /// build without that feature, it is an error, never ignored.
    pub feature: Option<Feature>,
}

/// A cargo feature of vitals-env: one per backend, so a service compiles only the drivers of
/// the checks it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Feature {
    /// The feature's name in Cargo.toml.
    pub name: &'static str,
    /// Whether this build has it.
    pub enabled: bool,
}

/// The backend features, each a constant whose `enabled` is this build's.
macro_rules! features {
    ($($constant:ident = $name:literal, $doc:literal;)*) => {
        $(
            #[doc = concat!("`", $name, "`: ", $doc)]
            pub const $constant: Feature = Feature { name: $name, enabled: cfg!(feature = $name) };
        )*
    };
}

features! {
    MONGODB = "mongodb", "the `mongo` check (vitals-mongodb).";
    REDIS = "redis", "the `redis` check (vitals-redis).";
    S3 = "s3", "the `storage` check (vitals-s3 and the AWS SDK).";
    HTTP = "http", "the `custom_code` check (vitals-http).";
    SQL = "sql", "the `database` check (vitals-sql, PostgreSQL and MySQL).";
    AMQP = "amqp", "the `amqp` check (vitals-amqp).";
    NATS = "nats", "the `nats` check (vitals-nats).";
    CERTIFICATE = "certificate", "the `certificate:host:port` checks (vitals-net).";
    DISK = "disk", "the `disk` check (vitals-system).";
    SQS = "sqs", "the `sqs` check (vitals-aws, the SQS SDK).";
    SNS = "sns", "the `sns` check (vitals-aws, the SNS SDK).";
    DYNAMODB = "dynamodb", "the `dynamodb` check (vitals-aws, the DynamoDB SDK).";
    SECRETSMANAGER = "secretsmanager", "the `secrets` check (vitals-aws, the Secrets Manager SDK).";
    KMS = "kms", "the `kms` check (vitals-aws, the KMS SDK).";
    KAFKA = "kafka", "the `kafka` check (vitals-kafka).";
    PROMETHEUS = "prometheus", "the fleet's view from Prometheus and fail-open for shared checks (vitals-prometheus).";
}

/// Every backend feature, in the order the guide lists the backends.
pub const FEATURES: [Feature; 15] = [
    MONGODB,
    S3,
    HTTP,
    REDIS,
    SQL,
    AMQP,
    NATS,
    CERTIFICATE,
    DISK,
    SQS,
    SNS,
    DYNAMODB,
    SECRETSMANAGER,
    KMS,
    KAFKA,
];

/// A variable's default: text, or a library constant shown as the variable spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultValue {
    /// No default: unset means "off" or "no such check".
    None,
    /// The default as the variable spells it.
    Text(&'static str),
    /// A count owned by a library crate.
    Count(u32),
    /// A duration owned by a library crate, spelled in whole milliseconds.
    Millis(Duration),
}

impl Variable {
    /// The variable, read only by builds with `feature`.
    const fn needs(mut self, feature: Feature) -> Variable {
        self.feature = Some(feature);
        self
    }

    /// What it does and accepts, in one line, as people read it: [`Variable::meaning`] with
    /// the component names filled in from their one list.
    pub fn describe(&self) -> std::borrow::Cow<'static, str> {
        if !self.meaning.contains("{components}") {
            return std::borrow::Cow::Borrowed(self.meaning);
        }
        let names: Vec<String> = crate::COMPONENTS.iter().map(|c| format!("`{c}`")).collect();
        std::borrow::Cow::Owned(self.meaning.replace("{components}", &names.join(", ")))
    }

    /// The variable, with a stand-in value for planning its check unseen.
    const fn stand_in(mut self, value: &'static str) -> Variable {
        self.stand_in = Some(value);
        self
    }
}

impl DefaultValue {
    /// Whether there is no default.
    pub fn is_none(&self) -> bool {
        matches!(self, DefaultValue::None)
    }
}

impl fmt::Display for DefaultValue {
    /// As the variable's value would be written (empty for none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultValue::None => Ok(()),
            DefaultValue::Text(text) => f.write_str(text),
            DefaultValue::Count(count) => write!(f, "{count}"),
            DefaultValue::Millis(duration) => write!(f, "{}", duration.as_millis()),
        }
    }
}

// A default a backend's crate owns is read from it in a build with that backend; a build
// without it refuses the variable, so no default is needed there.
#[cfg(feature = "mongodb")]
const MONGO_SERVER_SELECTION_DEFAULT: DefaultValue =
    DefaultValue::Millis(vitals_mongodb::DEFAULT_SERVER_SELECTION_TIMEOUT);
#[cfg(not(feature = "mongodb"))]
const MONGO_SERVER_SELECTION_DEFAULT: DefaultValue = DefaultValue::None;
#[cfg(feature = "redis")]
const REDIS_CONNECT_DEFAULT: DefaultValue =
    DefaultValue::Millis(vitals_redis::DEFAULT_CONNECT_TIMEOUT);
#[cfg(not(feature = "redis"))]
const REDIS_CONNECT_DEFAULT: DefaultValue = DefaultValue::None;
#[cfg(feature = "redis")]
const REDIS_COMMAND_DEFAULT: DefaultValue =
    DefaultValue::Millis(vitals_redis::DEFAULT_COMMAND_TIMEOUT);
#[cfg(not(feature = "redis"))]
const REDIS_COMMAND_DEFAULT: DefaultValue = DefaultValue::None;
#[cfg(feature = "certificate")]
const CERTIFICATE_WARN_DAYS_DEFAULT: DefaultValue =
    DefaultValue::Count(vitals_net::DEFAULT_WARN_DAYS);
#[cfg(not(feature = "certificate"))]
const CERTIFICATE_WARN_DAYS_DEFAULT: DefaultValue = DefaultValue::None;

const fn guide(name: &'static str, default: DefaultValue, meaning: &'static str) -> Variable {
    Variable {
        name,
        default,
        from_guide: true,
        meaning,
        feature: None,
        stand_in: None,
    }
}

const fn own(name: &'static str, default: DefaultValue, meaning: &'static str) -> Variable {
    Variable {
        name,
        default,
        from_guide: false,
        meaning,
        feature: None,
        stand_in: None,
    }
}

/// `HEALTH_CHECK_RETRIES`.
pub const RETRIES: Variable = guide(
    "HEALTH_CHECK_RETRIES",
    DefaultValue::Count(vitals_retry::DEFAULT_RETRIES),
    "retries after a failed attempt (0 to 1000)",
);
/// `HEALTH_CHECK_RETRY_DELAY_MS`.
pub const RETRY_DELAY: Variable = guide(
    "HEALTH_CHECK_RETRY_DELAY_MS",
    DefaultValue::Millis(vitals_retry::DEFAULT_INITIAL_DELAY),
    "first retry delay in ms, doubling with ±25 % jitter",
);
/// `HEALTH_CHECK_MAX_RETRY_DELAY_MS`.
pub const MAX_RETRY_DELAY: Variable = guide(
    "HEALTH_CHECK_MAX_RETRY_DELAY_MS",
    DefaultValue::Millis(vitals_retry::DEFAULT_MAX_DELAY),
    "hard cap on any delay in ms, after jitter",
);
/// `SKIP_HEALTH_CHECKS`.
pub const SKIP: Variable = guide(
    "SKIP_HEALTH_CHECKS",
    DefaultValue::None,
    "`all` or a comma list of {components}: reported as skipped, not run",
);
/// `NON_CRITICAL_HEALTH_CHECKS`.
pub const NON_CRITICAL: Variable = own(
    "NON_CRITICAL_HEALTH_CHECKS",
    DefaultValue::Text("redis"),
    "components whose failure makes probes `warn` (still 200) instead of failing: `all`, `none` or a comma list as above",
);
/// `MONGO_URI`.
pub const MONGO_URI: Variable = guide(
    "MONGO_URI",
    DefaultValue::None,
    "`mongodb://` or `mongodb+srv://` connection string: adds the `mongo` check",
)
.needs(MONGODB)
.stand_in("mongodb://unknown.invalid:27017");
/// `MONGO_SERVER_SELECTION_TIMEOUT_MS`.
pub const MONGO_SERVER_SELECTION_TIMEOUT: Variable = guide(
    "MONGO_SERVER_SELECTION_TIMEOUT_MS",
    MONGO_SERVER_SELECTION_DEFAULT,
    "the driver's server selection timeout in ms",
)
.needs(MONGODB);
/// `MONGO_DOCUMENTDB`.
pub const MONGO_DOCUMENTDB: Variable = own(
    "MONGO_DOCUMENTDB",
    DefaultValue::Text("auto"),
    "whether `MONGO_URI` is Amazon DocumentDB (probed with `hello`, warns with the guide's caveat): `auto` (by host name), `true` or `false`",
)
.needs(MONGODB);
/// `REDIS_URI`.
pub const REDIS_URI: Variable = guide(
    "REDIS_URI",
    DefaultValue::None,
    "`redis://`, `rediss://` (TLS) or `redis-cluster://` URL: adds the `redis` check",
)
.needs(REDIS)
.stand_in("redis://unknown.invalid:6379");
/// `REDIS_CONNECT_TIMEOUT_MS`.
pub const REDIS_CONNECT_TIMEOUT: Variable = guide(
    "REDIS_CONNECT_TIMEOUT_MS",
    REDIS_CONNECT_DEFAULT,
    "Redis connect timeout in ms (TCP, TLS, AUTH)",
)
.needs(REDIS);
/// `REDIS_COMMAND_TIMEOUT_MS`.
pub const REDIS_COMMAND_TIMEOUT: Variable = own(
    "REDIS_COMMAND_TIMEOUT_MS",
    REDIS_COMMAND_DEFAULT,
    "bound of the check's Redis commands in ms, apart from connecting",
)
.needs(REDIS);
/// `REDIS_DISABLE_TLS_VERIFICATION`.
pub const REDIS_DISABLE_TLS_VERIFICATION: Variable = guide(
    "REDIS_DISABLE_TLS_VERIFICATION",
    DefaultValue::Text("false"),
    "`true` accepts any certificate (ElastiCache's self-signed ones); logs a warning",
)
.needs(REDIS);
/// `TMP_STORAGE_BUCKET`.
pub const TMP_BUCKET: Variable = guide(
    "TMP_STORAGE_BUCKET",
    DefaultValue::None,
    "S3 bucket for temporary files (7-day expiration): adds the `storage` check",
)
.needs(S3)
.stand_in("unknown-bucket");
/// `CONNECTORS_STORAGE_BUCKET`.
pub const CONNECTORS_BUCKET: Variable = guide(
    "CONNECTORS_STORAGE_BUCKET",
    DefaultValue::None,
    "S3 bucket for connectors: adds the `storage` check",
)
.needs(S3)
.stand_in("unknown-bucket");
/// `STATIC_STORAGE_BUCKET`.
pub const STATIC_BUCKET: Variable = guide(
    "STATIC_STORAGE_BUCKET",
    DefaultValue::None,
    "S3 bucket for static files (CORS for GET): adds the `storage` check",
)
.needs(S3)
.stand_in("unknown-bucket");
/// `STORAGE_DEEP_CHECK`.
pub const STORAGE_DEEP_CHECK: Variable = own(
    "STORAGE_DEEP_CHECK",
    DefaultValue::Text("false"),
    "`true` also checks the tmp bucket's 7-day expiration rule and the static bucket's GET CORS rule (drift warns)",
)
.needs(S3);
/// `S3_FORCE_PATH_STYLE`.
pub const S3_FORCE_PATH_STYLE: Variable = own(
    "S3_FORCE_PATH_STYLE",
    DefaultValue::None,
    "path-style S3 addressing; unset, it is used exactly when `AWS_ENDPOINT_URL` is set",
)
.needs(S3);
/// `CUSTOM_CODE_RUNNER_URI`.
pub const CUSTOM_CODE_RUNNER_URI: Variable = guide(
    "CUSTOM_CODE_RUNNER_URI",
    DefaultValue::None,
    "the custom-code runner's `http(s)://` URL: adds the `custom_code` check",
)
.needs(HTTP)
.stand_in("http://unknown.invalid");
/// `DATABASE_URL`.
pub const DATABASE_URL: Variable = own(
    "DATABASE_URL",
    DefaultValue::None,
    "`postgres://`, `postgresql://`, `mysql://` or `mariadb://` URL, as sqlx reads it (TLS by its `sslmode`/`ssl-mode` and CA parameters): adds the `database` check",
)
.needs(SQL)
.stand_in("postgres://unknown.invalid/db");
/// `AMQP_URL`.
pub const AMQP_URL: Variable = own(
    "AMQP_URL",
    DefaultValue::None,
    "RabbitMQ (AMQP 0-9-1) `amqp://` or `amqps://` URL: adds the `amqp` check (connection and channel open)",
)
.needs(AMQP)
.stand_in("amqp://unknown.invalid");
/// `AMQP_QUEUE`.
pub const AMQP_QUEUE: Variable = own(
    "AMQP_QUEUE",
    DefaultValue::None,
    "a queue the `amqp` check declares passively: it fails when the queue does not exist",
)
.needs(AMQP);
/// `NATS_URL`.
pub const NATS_URL: Variable = own(
    "NATS_URL",
    DefaultValue::None,
    "`nats://` or `tls://` URL, as the nats CLI reads it: adds the `nats` check (a round trip through the server)",
)
.needs(NATS)
.stand_in("nats://unknown.invalid");
/// `NATS_JETSTREAM`.
pub const NATS_JETSTREAM: Variable = own(
    "NATS_JETSTREAM",
    DefaultValue::Text("false"),
    "`true` also checks that JetStream answers for the account",
)
.needs(NATS);
/// `TLS_CERTIFICATE_ENDPOINTS`.
pub const TLS_CERTIFICATE_ENDPOINTS: Variable = own(
    "TLS_CERTIFICATE_ENDPOINTS",
    DefaultValue::None,
    "comma list of `host[:port]` (443 by default) whose certificates to watch: adds a `certificate:host:port` check each (component `certificate`)",
)
.needs(CERTIFICATE)
.stand_in("unknown.invalid:443");
/// `TLS_CERTIFICATE_WARN_DAYS`.
pub const TLS_CERTIFICATE_WARN_DAYS: Variable = own(
    "TLS_CERTIFICATE_WARN_DAYS",
    CERTIFICATE_WARN_DAYS_DEFAULT,
    "warn this many days before a watched certificate expires (expired, wrong name or untrusted fails)",
)
.needs(CERTIFICATE);
/// `DISK_SPACE_PATH`.
pub const DISK_SPACE_PATH: Variable = own(
    "DISK_SPACE_PATH",
    DefaultValue::None,
    "a path whose file system's free space to watch: adds the `disk` check",
)
.needs(DISK)
.stand_in("/");
/// `DISK_SPACE_THRESHOLD_MB`.
pub const DISK_SPACE_THRESHOLD: Variable = own(
    "DISK_SPACE_THRESHOLD_MB",
    DISK_SPACE_THRESHOLD_DEFAULT,
    "the `disk` check warns below this many MiB free (Spring Boot's diskSpace threshold)",
)
.needs(DISK);

/// `HEALTH_PROMETHEUS_URL`.
pub const PROMETHEUS_URL: Variable = own(
    "HEALTH_PROMETHEUS_URL",
    DefaultValue::None,
    "the Prometheus that scrapes every replica (`http://host:port`): the status page shows each check across the fleet with history that survives restarts, and `HEALTH_SHARED_CHECKS` can fail open; read in the background, never on a probe's path",
)
.needs(PROMETHEUS);
/// `HEALTH_PROMETHEUS_SELECTOR`.
pub const PROMETHEUS_SELECTOR: Variable = own(
    "HEALTH_PROMETHEUS_SELECTOR",
    DefaultValue::None,
    "label matchers that pick this service's replicas out of everything Prometheus scrapes, as inside `{…}` (`job=\"orders\"`); unset, every vitals series (right only when one service uses vitals)",
)
.needs(PROMETHEUS);
/// `HEALTH_PROMETHEUS_REPLICA_LABEL`.
pub const PROMETHEUS_REPLICA_LABEL: Variable = own(
    "HEALTH_PROMETHEUS_REPLICA_LABEL",
    DefaultValue::Text("instance"),
    "the label that names a replica (`pod` under the prometheus-operator)",
)
.needs(PROMETHEUS);
/// `HEALTH_PROMETHEUS_INTERVAL_MS`.
pub const PROMETHEUS_INTERVAL: Variable = own(
    "HEALTH_PROMETHEUS_INTERVAL_MS",
    PROMETHEUS_INTERVAL_DEFAULT,
    "how often the fleet is read from Prometheus, in ms (each reading bounded by the interval, at most 5 s; a reading decides fail-open for three intervals)",
)
.needs(PROMETHEUS);
/// `HEALTH_SHARED_CHECKS`.
pub const SHARED: Variable = own(
    "HEALTH_SHARED_CHECKS",
    DefaultValue::None,
    "components every replica shares (one database for the fleet), as a comma list like `SKIP_HEALTH_CHECKS`: while a fresh reading of `HEALTH_PROMETHEUS_URL` shows every replica (at least 2) failing one, it warns (`fail-open`) and readiness stays ready; without a fresh reading it fails as usual",
)
.needs(PROMETHEUS);

#[cfg(feature = "prometheus")]
const PROMETHEUS_INTERVAL_DEFAULT: DefaultValue =
    DefaultValue::Millis(vitals_prometheus::DEFAULT_INTERVAL);
#[cfg(not(feature = "prometheus"))]
const PROMETHEUS_INTERVAL_DEFAULT: DefaultValue = DefaultValue::None;

/// `SQS_QUEUES`.
pub const SQS_QUEUES: Variable = own(
    "SQS_QUEUES",
    DefaultValue::None,
    "comma list of SQS queue URLs or names: adds the `sqs` check (`GetQueueAttributes`; IAM `sqs:GetQueueAttributes`, and `sqs:GetQueueUrl` for names)",
)
.needs(SQS)
.stand_in("unknown-queue");
/// `SQS_MAX_MESSAGES`.
pub const SQS_MAX_MESSAGES: Variable = own(
    "SQS_MAX_MESSAGES",
    DefaultValue::None,
    "the `sqs` check warns when a queue holds more messages than this (its consumers are behind)",
)
.needs(SQS);
/// `SNS_TOPICS`.
pub const SNS_TOPICS: Variable = own(
    "SNS_TOPICS",
    DefaultValue::None,
    "comma list of SNS topic ARNs: adds the `sns` check (`GetTopicAttributes`; IAM `sns:GetTopicAttributes`)",
)
.needs(SNS)
.stand_in("arn:aws:sns:us-east-1:000000000000:unknown");
/// `DYNAMODB_TABLES`.
pub const DYNAMODB_TABLES: Variable = own(
    "DYNAMODB_TABLES",
    DefaultValue::None,
    "comma list of DynamoDB table names or ARNs: adds the `dynamodb` check (`DescribeTable`; IAM `dynamodb:DescribeTable`)",
)
.needs(DYNAMODB)
.stand_in("unknown-table");
/// `SECRETS_MANAGER_SECRETS`.
pub const SECRETS_MANAGER_SECRETS: Variable = own(
    "SECRETS_MANAGER_SECRETS",
    DefaultValue::None,
    "comma list of Secrets Manager secret names or ARNs: adds the `secrets` check (`DescribeSecret`, never the value; IAM `secretsmanager:DescribeSecret`)",
)
.needs(SECRETSMANAGER)
.stand_in("unknown/secret");
/// `KMS_KEYS`.
pub const KMS_KEYS: Variable = own(
    "KMS_KEYS",
    DefaultValue::None,
    "comma list of KMS key ids, ARNs or `alias/NAME`: adds the `kms` check (`DescribeKey`; IAM `kms:DescribeKey`)",
)
.needs(KMS)
.stand_in("alias/unknown");

/// `KAFKA_BOOTSTRAP_SERVERS`.
pub const KAFKA_BOOTSTRAP_SERVERS: Variable = own(
    "KAFKA_BOOTSTRAP_SERVERS",
    DefaultValue::None,
    "comma list of Kafka (MSK) brokers as `host:port`, tried in order: adds the `kafka` check (`ApiVersions` and `Metadata` only: a controller elected; never produces or joins a group)",
)
.needs(KAFKA)
.stand_in("unknown.invalid:9092");
/// `KAFKA_TOPICS`.
pub const KAFKA_TOPICS: Variable = own(
    "KAFKA_TOPICS",
    DefaultValue::None,
    "comma list of topics the `kafka` check requires to exist, each partition with a leader (never created)",
)
.needs(KAFKA);
/// `KAFKA_TLS`.
pub const KAFKA_TLS: Variable = own(
    "KAFKA_TLS",
    DefaultValue::Text("false"),
    "`true` connects to the brokers with TLS, verified against the system's roots (MSK's 9094 and 9096)",
)
.needs(KAFKA);
/// `KAFKA_SASL_MECHANISM`.
pub const KAFKA_SASL_MECHANISM: Variable = own(
    "KAFKA_SASL_MECHANISM",
    DefaultValue::None,
    "`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` (MSK's SCRAM), with `KAFKA_SASL_USERNAME` and `KAFKA_SASL_PASSWORD`",
)
.needs(KAFKA);
/// `KAFKA_SASL_USERNAME`.
pub const KAFKA_SASL_USERNAME: Variable = own(
    "KAFKA_SASL_USERNAME",
    DefaultValue::None,
    "the SASL user name",
)
.needs(KAFKA);
/// `KAFKA_SASL_PASSWORD`.
pub const KAFKA_SASL_PASSWORD: Variable = own(
    "KAFKA_SASL_PASSWORD",
    DefaultValue::None,
    "the SASL password (from a Secret; never shown)",
)
.needs(KAFKA)
.stand_in("unknown");

/// vitals-system's default threshold, in the MiB the variable counts.
#[cfg(feature = "disk")]
const DISK_SPACE_THRESHOLD_DEFAULT: DefaultValue =
    DefaultValue::Count((vitals_system::DEFAULT_THRESHOLD / (1024 * 1024)) as u32);
#[cfg(not(feature = "disk"))]
const DISK_SPACE_THRESHOLD_DEFAULT: DefaultValue = DefaultValue::None;

/// `PORT`.
pub const PORT: Variable = guide(
    "PORT",
    DefaultValue::Text("5000"),
    "listen port (`0` picks a free one)",
);
/// `LISTEN_ADDRESS`.
pub const LISTEN_ADDRESS: Variable = own(
    "LISTEN_ADDRESS",
    DefaultValue::None,
    "the one address to listen on (`0.0.0.0`, `::1`, …); unset, both IPv6 and IPv4 on every interface",
);
/// `HEALTH_CHECK_DETAILS`.
pub const DETAILS: Variable = own(
    "HEALTH_CHECK_DETAILS",
    DefaultValue::Text("local"),
    "who sees `?verbose` details: `local` (loopback callers and the token), `always` or `never`; others get the terse answer",
);
/// `HEALTH_CHECK_DETAILS_TOKEN`.
pub const DETAILS_TOKEN: Variable = own(
    "HEALTH_CHECK_DETAILS_TOKEN",
    DefaultValue::None,
    "with `local`, requests with `Authorization: Bearer <token>` also see details (never logged)",
);
/// `HEALTH_CHECK_INTERVAL_MS`.
pub const INTERVAL: Variable = own(
    "HEALTH_CHECK_INTERVAL_MS",
    DefaultValue::Text("5000"),
    "how often checks run in the background, in ms; `0` runs them on demand instead",
);
/// `HEALTH_CHECK_CACHE_TTL_MS`.
pub const CACHE_TTL: Variable = own(
    "HEALTH_CHECK_CACHE_TTL_MS",
    DefaultValue::Millis(vitals_core::DEFAULT_TTL),
    "on demand, how long a result is reused, in ms (one run per check per TTL)",
);
/// `HEALTH_CHECK_TIMEOUT_MS`.
pub const RUN_BUDGET: Variable = own(
    "HEALTH_CHECK_TIMEOUT_MS",
    DefaultValue::Text("derived"),
    "budget of one check run in ms, retries included; unset, every attempt fits (the timing rule)",
);
/// `HEALTH_CHECK_METRICS`.
pub const METRICS: Variable = own(
    "HEALTH_CHECK_METRICS",
    DefaultValue::Text("true"),
    "serve Prometheus metrics at `/metrics`; `false` turns them off",
);
/// `HEALTH_STATUS_PAGE`.
pub const STATUS_PAGE: Variable = own(
    "HEALTH_STATUS_PAGE",
    DefaultValue::Text("/status"),
    "the path of the status page for people (history, uptime, live updates, badges; outputs only for callers `HEALTH_CHECK_DETAILS` admits); `off` turns it off",
);
/// `SHUTDOWN_DELAY_MS`.
pub const SHUTDOWN_DELAY: Variable = own(
    "SHUTDOWN_DELAY_MS",
    DefaultValue::Text("5000"),
    "after SIGTERM, readiness fails at once and the listener closes after this many ms",
);

/// `HEALTH_HEADER_READ_TIMEOUT_MS`.
pub const HEADER_READ_TIMEOUT: Variable = own(
    "HEALTH_HEADER_READ_TIMEOUT_MS",
    DefaultValue::Millis(vitals_serve::DEFAULT_HEADER_READ_TIMEOUT),
    "a new connection's request headers must arrive within this many ms, or it is closed",
);
/// `HEALTH_IDLE_TIMEOUT_MS`.
pub const IDLE_TIMEOUT: Variable = own(
    "HEALTH_IDLE_TIMEOUT_MS",
    DefaultValue::Millis(vitals_serve::DEFAULT_IDLE_TIMEOUT),
    "a keep-alive connection with no request in flight is closed after this many ms (longer than Prometheus' 1 min scrape interval)",
);
/// `HEALTH_SEND_TIMEOUT_MS`.
pub const SEND_TIMEOUT: Variable = own(
    "HEALTH_SEND_TIMEOUT_MS",
    DefaultValue::Millis(vitals_serve::DEFAULT_SEND_TIMEOUT),
    "a connection whose client does not read its response for this many ms is closed",
);
/// `HEALTH_HTTP2_KEEPALIVE_MS`.
pub const HTTP2_KEEPALIVE: Variable = own(
    "HEALTH_HTTP2_KEEPALIVE_MS",
    DefaultValue::Millis(vitals_serve::DEFAULT_HTTP2_KEEP_ALIVE),
    "HTTP/2 (gRPC) connections are pinged after this many ms without a frame, and closed when the answer takes as long",
);
/// `HEALTH_HTTP2_MAX_STREAMS`.
pub const HTTP2_MAX_STREAMS: Variable = own(
    "HEALTH_HTTP2_MAX_STREAMS",
    DefaultValue::Count(vitals_serve::DEFAULT_HTTP2_MAX_STREAMS),
    "concurrent HTTP/2 streams per connection (1 to 10000)",
);
/// `HEALTH_MAX_HEADER_BYTES`.
pub const MAX_HEADER_BYTES: Variable = own(
    "HEALTH_MAX_HEADER_BYTES",
    DefaultValue::Count(vitals_serve::DEFAULT_MAX_HEADER_BYTES),
    "request header bytes (8192 to 1048576); more is answered 431",
);
/// `HEALTH_MAX_CONNECTIONS`.
pub const MAX_CONNECTIONS: Variable = own(
    "HEALTH_MAX_CONNECTIONS",
    DefaultValue::Text("auto"),
    "open connections at most; `auto` derives it from the file and memory limits; at the bound the oldest idle or stalled connections are closed for new ones",
);
/// `HEALTH_MAX_EVENT_STREAMS`.
pub const MAX_EVENT_STREAMS: Variable = own(
    "HEALTH_MAX_EVENT_STREAMS",
    DefaultValue::Count(vitals_tower::DEFAULT_MAX_EVENT_STREAMS as u32),
    "status-page live event streams open at once; more get 503 with `Retry-After`",
);
/// `HEALTH_MAX_WATCH_STREAMS`.
pub const MAX_WATCH_STREAMS: Variable = own(
    "HEALTH_MAX_WATCH_STREAMS",
    DefaultValue::Count(vitals_tonic::DEFAULT_MAX_WATCH_STREAMS as u32),
    "gRPC `Watch` streams open at once; more get `RESOURCE_EXHAUSTED`",
);

/// Every variable the profile reads, in the order the README's table shows them.
pub const VARIABLES: &[Variable] = &[
    RETRIES,
    RETRY_DELAY,
    MAX_RETRY_DELAY,
    SKIP,
    NON_CRITICAL,
    MONGO_URI,
    MONGO_SERVER_SELECTION_TIMEOUT,
    MONGO_DOCUMENTDB,
    REDIS_URI,
    REDIS_CONNECT_TIMEOUT,
    REDIS_COMMAND_TIMEOUT,
    REDIS_DISABLE_TLS_VERIFICATION,
    TMP_BUCKET,
    CONNECTORS_BUCKET,
    STATIC_BUCKET,
    STORAGE_DEEP_CHECK,
    S3_FORCE_PATH_STYLE,
    CUSTOM_CODE_RUNNER_URI,
    DATABASE_URL,
    AMQP_URL,
    AMQP_QUEUE,
    NATS_URL,
    NATS_JETSTREAM,
    TLS_CERTIFICATE_ENDPOINTS,
    TLS_CERTIFICATE_WARN_DAYS,
    DISK_SPACE_PATH,
    DISK_SPACE_THRESHOLD,
    SQS_QUEUES,
    SQS_MAX_MESSAGES,
    SNS_TOPICS,
    DYNAMODB_TABLES,
    SECRETS_MANAGER_SECRETS,
    KMS_KEYS,
    KAFKA_BOOTSTRAP_SERVERS,
    KAFKA_TOPICS,
    KAFKA_TLS,
    KAFKA_SASL_MECHANISM,
    KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD,
    PORT,
    LISTEN_ADDRESS,
    DETAILS,
    DETAILS_TOKEN,
    INTERVAL,
    CACHE_TTL,
    RUN_BUDGET,
    METRICS,
    STATUS_PAGE,
    SHUTDOWN_DELAY,
    HEADER_READ_TIMEOUT,
    IDLE_TIMEOUT,
    SEND_TIMEOUT,
    HTTP2_KEEPALIVE,
    HTTP2_MAX_STREAMS,
    MAX_HEADER_BYTES,
    MAX_CONNECTIONS,
    MAX_EVENT_STREAMS,
    MAX_WATCH_STREAMS,
    PROMETHEUS_URL,
    PROMETHEUS_SELECTOR,
    PROMETHEUS_REPLICA_LABEL,
    PROMETHEUS_INTERVAL,
    SHARED,
];

/// The AWS SDK's variable naming the IRSA web-identity token file: read only to warn at startup
/// when the file cannot be read (the SDK's own error does not name it).
pub const AWS_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";

/// The AWS SDK's own variables whose values are secrets: read only to scrub them from outputs.
pub const AWS_SECRET_VARIABLES: [&str; 2] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// The table of [`VARIABLES`] as Markdown, as the README shows it.
pub fn markdown_table() -> String {
    let mut out = String::from("| variable | default | from | meaning |\n|---|---|---|---|\n");
    for v in VARIABLES {
        let default = if v.default.is_none() {
            String::new()
        } else {
            format!("`{}`", v.default)
        };
        let from = if v.from_guide { "guide" } else { "vitals" };
        out.push_str(&format!(
            "| `{}` | {default} | {from} | {} |\n",
            v.name,
            v.describe()
        ));
    }
    out
}
