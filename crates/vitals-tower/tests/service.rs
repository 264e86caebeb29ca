//! HealthService against a real registry and an inner tower service (in-process, paused clock).
use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tower::Layer as _;
use tower::{ServiceBuilder, ServiceExt};
use vitals_core::{Backoff, Check, CheckError, CheckOptions, Details, Health, Probe, async_trait};
use vitals_tower::{ClientAddr, DetailsPolicy, HealthLayer};

struct Toggle {
    name: &'static str,
    up: Arc<AtomicBool>,
    delay: Duration,
}

#[async_trait]
impl Check for Toggle {
    fn name(&self) -> &str {
        self.name
    }
    async fn check(&self) -> Result<Details, CheckError> {
        tokio::time::sleep(self.delay).await;
        if self.up.load(Ordering::SeqCst) {
            Ok(Details::new().with("version", "7.0"))
        } else {
            Err(CheckError::new(
                "connection refused to redis://:pw-123456@cache:6379",
            ))
        }
    }
}

fn registry(up: &Arc<AtomicBool>) -> Health {
    Health::builder()
        .ttl(Duration::ZERO)
        .backoff(Backoff::none())
        .register(Toggle {
            name: "db",
            up: up.clone(),
            delay: Duration::ZERO,
        })
        .build()
}

async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("{} {}", req.method(), req.uri());
    Ok(Response::builder()
        .header("x-inner", "yes")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}

async fn send(
    svc: &(
         impl tower::Service<
        Request<Full<Bytes>>,
        Response = Response<vitals_tower::ResponseBody<Full<Bytes>>>,
        Error = Infallible,
    > + Clone
     ),
    method: Method,
    uri: &str,
    accept: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    // A caller on loopback, as `kubectl port-forward` or a curl inside the pod.
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .extension(ClientAddr("127.0.0.1:40000".parse().unwrap()));
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let res = svc
        .clone()
        .oneshot(req.body(Full::default()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test(start_paused = true)]
async fn probes_answer_200_then_503_with_terse_health_json() {
    let up = Arc::new(AtomicBool::new(true));
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(registry(&up)))
        .service_fn(echo);
    let (status, headers, body) = send(&svc, Method::GET, "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"pass"}"#);
    assert_eq!(headers["content-type"], "application/health+json");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    assert!(headers.get("x-inner").is_none());

    up.store(false, Ordering::SeqCst);
    let (status, _, body) = send(&svc, Method::GET, "/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, r#"{"status":"fail"}"#);
    // Liveness has no dependency checks by default.
    assert_eq!(
        send(&svc, Method::GET, "/livez", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, Method::GET, "/healthz", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(start_paused = true)]
async fn verbose_exclude_and_text_formats() {
    let up = Arc::new(AtomicBool::new(false));
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(registry(&up)).route("/", Probe::All))
        .service_fn(echo);
    let (status, headers, body) = send(&svc, Method::GET, "/?verbose", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["content-type"], "application/health+json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "fail");
    let db = &json["checks"]["db"][0];
    assert_eq!(db["status"], "fail");
    assert_eq!(db["componentId"], "db");
    assert_eq!(db["attempts"], 1);
    assert_eq!(
        db["output"],
        "connection refused to redis://:***@cache:6379"
    );
    assert!(!body.contains("pw-123456"));

    let (_, headers, text) = send(&svc, Method::GET, "/readyz?verbose", Some("text/plain")).await;
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        text,
        "[-]db failed: connection refused to redis://:***@cache:6379\nreadyz check failed\n"
    );
    let (_, _, terse) = send(&svc, Method::GET, "/readyz", Some("text/plain")).await;
    assert_eq!(terse, "readyz check failed\n");

    let (status, _, body) = send(&svc, Method::GET, "/readyz?exclude=db&verbose", None).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::OK,
            r#"{"status":"pass","excluded":["db"],"checks":{}}"#
        )
    );
}

/// As the Kubernetes apiserver: an excluded check reads `excluded: ok`, and an exclusion that
/// names no check is a warning, not silence.
#[tokio::test(start_paused = true)]
async fn exclusions_are_reported_and_unknown_ones_warned_about() {
    let up = Arc::new(AtomicBool::new(false));
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(registry(&up)))
        .service_fn(echo);
    let (status, _, text) = send(
        &svc,
        Method::GET,
        "/readyz?verbose&exclude=db&exclude=bogus",
        Some("text/plain"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        text,
        "[+]db excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"bogus\"\nreadyz check passed\n"
    );
    let (status, _, json) = send(&svc, Method::GET, "/readyz?verbose&exclude=bogus", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["notes"][0],
        "some health checks cannot be excluded: no matches for \"bogus\""
    );
    // Terse answers stay terse.
    let (_, _, terse) = send(
        &svc,
        Method::GET,
        "/readyz?exclude=bogus",
        Some("text/plain"),
    )
    .await;
    assert_eq!(terse, "readyz check failed\n");
}

/// `/readyz/NAME` answers for that one check, as the apiserver serves `/readyz/etcd`; a name
/// the probe has no check of is not a probe path and passes through.
#[tokio::test(start_paused = true)]
async fn per_check_paths_answer_for_one_check() {
    let up = Arc::new(AtomicBool::new(false));
    let health = Health::builder()
        .backoff(Backoff::none())
        .register(Toggle {
            name: "db",
            up: up.clone(),
            delay: Duration::ZERO,
        })
        .register(Toggle {
            name: "cache",
            up: Arc::new(AtomicBool::new(true)),
            delay: Duration::ZERO,
        })
        .build();
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(health))
        .service_fn(echo);
    let (status, _, body) = send(&svc, Method::GET, "/readyz/cache", Some("text/plain")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let (status, _, body) = send(&svc, Method::GET, "/readyz/db?verbose", Some("text/plain")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.starts_with("[-]db failed") && !body.contains("[+]cache"),
        "{body}"
    );
    let (status, headers, _) = send(&svc, Method::GET, "/readyz/nosuch", None).await;
    assert_eq!(
        (status, headers.get("x-inner").is_some()),
        (StatusCode::OK, true)
    );
    // Liveness holds no dependency checks by default: its per-check paths pass through.
    let (_, headers, _) = send(&svc, Method::GET, "/livez/db", None).await;
    assert!(headers.get("x-inner").is_some());
}

#[tokio::test(start_paused = true)]
async fn head_other_methods_and_bad_queries() {
    let up = Arc::new(AtomicBool::new(true));
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(registry(&up)))
        .service_fn(echo);
    let (status, headers, body) = send(&svc, Method::HEAD, "/readyz", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert_eq!(
        headers["content-length"],
        r#"{"status":"pass"}"#.len().to_string().as_str()
    );

    let (status, headers, _) = send(&svc, Method::POST, "/readyz", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, HEAD");

    let (status, _, body) = send(&svc, Method::GET, "/readyz?timeout=soon", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("timeout=\"soon\""), "{body}");
}

#[tokio::test(start_paused = true)]
async fn the_timeout_parameter_bounds_only_that_callers_wait() {
    let up = Arc::new(AtomicBool::new(true));
    let health = Health::builder()
        .register_with(
            Toggle {
                name: "slow",
                up,
                delay: Duration::from_secs(30),
            },
            CheckOptions::new()
                .run_budget(Duration::from_secs(60))
                .attempt_timeout(Duration::from_secs(60)),
        )
        .build();
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(health))
        .service_fn(echo);
    // No result yet: pending counts against a critical check.
    let start = tokio::time::Instant::now();
    let (status, _, _) = send(&svc, Method::GET, "/readyz?timeout=100ms", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    // Without a timeout a probe still answers within the registry's bound (250 ms).
    let start = tokio::time::Instant::now();
    let (status, _, body) = send(&svc, Method::GET, "/readyz?verbose", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert!(body.contains("no result yet"), "{body}");
    // The run the first caller started kept its own budget: once it ends, everyone passes.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (status, _, _) = send(&svc, Method::GET, "/readyz?timeout=1ms", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn other_requests_pass_through_untouched() {
    let up = Arc::new(AtomicBool::new(false));
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(registry(&up)).without_route("/healthz"))
        .service_fn(echo);
    for uri in ["/orders?id=1", "/readyz/extra", "/healthz", "/READYZ"] {
        let (status, headers, body) = send(&svc, Method::POST, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers["x-inner"], "yes");
        assert_eq!(body, format!("POST {uri}"));
    }
}

#[tokio::test(start_paused = true)]
async fn streaming_bodies_and_trailers_pass_through() {
    let up = Arc::new(AtomicBool::new(true));
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(registry(&up)))
        .service_fn(|_req: Request<()>| async {
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
                Ok(Frame::data(Bytes::from_static(b"one,"))),
                Ok(Frame::data(Bytes::from_static(b"two"))),
                Ok(Frame::trailers(trailers)),
            ];
            let body = StreamBody::new(futures_util::stream::iter(frames));
            Ok::<_, Infallible>(Response::builder().status(201).body(body).unwrap())
        });
    let res = svc
        .oneshot(Request::get("/stream").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let collected = res.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");
    assert_eq!(collected.to_bytes(), "one,two");
}

/// Details (every check's output) only for loopback callers or the token by default; others get
/// the terse answer with the same status. `Always` and `Never` do what they say.
#[tokio::test(start_paused = true)]
async fn details_go_only_to_the_callers_the_policy_admits() {
    let up = Arc::new(AtomicBool::new(false));
    let ask = |svc: &_, from: &str, token: Option<&str>| {
        let svc: &vitals_tower::HealthService<_> = svc;
        let mut req = Request::get("/readyz?verbose").header("accept", "text/plain");
        if !from.is_empty() {
            req = req.extension(ClientAddr(from.parse().unwrap()));
        }
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req.body(Full::<Bytes>::default()).unwrap();
        let svc = svc.clone();
        async move {
            let res = svc.oneshot(req).await.unwrap();
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let layer = HealthLayer::new(registry(&up)).details_token("s3cret-token");
    let local = layer.clone().layer(tower::service_fn(echo));
    let terse = (
        StatusCode::SERVICE_UNAVAILABLE,
        "readyz check failed\n".to_owned(),
    );
    for from in ["10.0.0.7:5000", "[2001:db8::7]:5000", ""] {
        assert_eq!(ask(&local, from, None).await, terse, "{from}");
        assert_eq!(ask(&local, from, Some("wrong")).await, terse, "{from}");
        let (status, body) = ask(&local, from, Some("s3cret-token")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.starts_with("[-]db failed"), "{from}: {body}");
    }
    for from in ["127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"] {
        let (_, body) = ask(&local, from, None).await;
        assert!(body.starts_with("[-]db failed"), "{from}: {body}");
    }
    let never = layer
        .clone()
        .details(DetailsPolicy::Never)
        .layer(tower::service_fn(echo));
    assert_eq!(
        ask(&never, "127.0.0.1:1", Some("s3cret-token")).await,
        terse
    );
    let always = layer
        .details(DetailsPolicy::Always)
        .layer(tower::service_fn(echo));
    assert!(
        ask(&always, "10.0.0.7:5000", None)
            .await
            .1
            .starts_with("[-]db failed")
    );
}

/// `same_body`: the layered service's response type is the inner one (`Full<Bytes>` here, as
/// axum's and tonic's bodies), probe answers and `HEAD` are carried in it, and pass-through
/// responses are the inner service's own. A route added after `same_body` and a path sharing
/// only its second byte with a route are told apart.
#[tokio::test(start_paused = true)]
async fn same_body_answers_in_the_inner_body_type() {
    let up = Arc::new(AtomicBool::new(true));
    let svc = ServiceBuilder::new()
        .layer(
            HealthLayer::new(registry(&up))
                .same_body()
                .route("/", Probe::All),
        )
        .service_fn(echo);
    let call = |method: Method, uri: &'static str| {
        let svc = svc.clone();
        async move {
            // The type says it: the inner service's body, not a wrapper.
            let res: Response<Full<Bytes>> = svc
                .oneshot(
                    Request::builder()
                        .method(method)
                        .uri(uri)
                        .body(Full::default())
                        .unwrap(),
                )
                .await
                .unwrap();
            let (parts, body) = res.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            (parts, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let (parts, body) = call(Method::GET, "/readyz").await;
    assert_eq!(
        (parts.status, body.as_str()),
        (StatusCode::OK, r#"{"status":"pass"}"#)
    );
    assert!(parts.headers.get("x-inner").is_none());
    let (parts, body) = call(Method::HEAD, "/").await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "");
    assert_eq!(parts.headers["content-length"], "17");
    for uri in ["/orders", "/rest", "/readyzz"] {
        let (parts, body) = call(Method::GET, uri).await;
        assert_eq!(parts.headers["x-inner"], "yes", "{uri}");
        assert_eq!(body, format!("GET {uri}"));
    }
    up.store(false, Ordering::SeqCst);
    let (parts, body) = call(Method::GET, "/readyz").await;
    assert_eq!(
        (parts.status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"fail"}"#)
    );
}
