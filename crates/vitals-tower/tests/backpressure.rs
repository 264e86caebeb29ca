//! Probes never wait on the inner service's backpressure nor use its capacity; pass-through
//! requests keep it. Paused clock: a wait that should not happen would trip the timeout.
use std::{convert::Infallible, sync::Arc, time::Duration};

use http::{Request, Response, StatusCode};
use tokio::sync::Semaphore;
use tower::{Service, ServiceBuilder, ServiceExt};
use vitals_core::Health;
use vitals_tower::HealthLayer;

#[tokio::test(start_paused = true)]
async fn probes_are_answered_while_the_inner_service_is_saturated() {
    // The application admits one request at a time; the gate holds the first one in flight.
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let svc = ServiceBuilder::new()
        .layer(HealthLayer::new(Health::builder().build()))
        .concurrency_limit(1)
        .service_fn(move |_req: Request<()>| {
            let gate = g.clone();
            async move {
                let _permit = gate.acquire().await.unwrap();
                Ok::<_, Infallible>(Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
            }
        });

    let first = tokio::spawn(svc.clone().oneshot(Request::get("/work").body(()).unwrap()));
    tokio::task::yield_now().await;

    // A flood of probes, each answered at once although the only slot is taken.
    for path in ["/livez", "/readyz", "/startupz", "/healthz"]
        .iter()
        .cycle()
        .take(1000)
    {
        let probe = svc.clone().oneshot(Request::get(*path).body(()).unwrap());
        let response = tokio::time::timeout(Duration::from_secs(1), probe)
            .await
            .expect("a probe must not wait for the inner service")
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    // A long-lived service instance (one per connection in tonic) answering probes must not
    // keep a queued place for a permit either.
    let mut connection = svc.clone();
    for _ in 0..10 {
        connection.ready().await.unwrap();
        let answer = connection
            .call(Request::get("/readyz").body(()).unwrap())
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }

    // Real traffic still respects the limit: the second request waits for the first.
    let mut second_svc = svc.clone();
    let ready = tokio::time::timeout(Duration::from_secs(1), second_svc.ready()).await;
    assert!(ready.is_ok(), "the layer itself is always ready");
    let mut second = std::pin::pin!(second_svc.call(Request::get("/work").body(()).unwrap()));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut second)
            .await
            .is_err(),
        "a pass-through request waits while the inner service is saturated"
    );

    // The probes consumed no capacity: releasing the first request lets both finish.
    gate.add_permits(2);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    let second = tokio::time::timeout(Duration::from_secs(1), second)
        .await
        .expect("the waiting request gets the freed slot, not a probe's leftover reservation");
    assert_eq!(second.unwrap().status(), StatusCode::OK);
    drop(connection);
}
