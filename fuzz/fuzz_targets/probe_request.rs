//! Probe request parsing: any path, query and Accept header through the layer must answer (or
//! pass through) without panicking, with a valid status.
#![no_main]

use std::{
    future::Future,
    pin::pin,
    sync::OnceLock,
    task::{Context, Poll, Waker},
};

use libfuzzer_sys::fuzz_target;
use tower::{Layer, Service, service_fn};
use vitals_core::{Health, Probe};
use vitals_tower::HealthLayer;

fn health() -> &'static Health {
    static HEALTH: OnceLock<Health> = OnceLock::new();
    HEALTH.get_or_init(|| Health::builder().build())
}

fuzz_target!(|input: (String, String, bool)| {
    let (target, accept, head) = input;
    let Ok(uri) = format!("/readyz{target}").parse::<http::Uri>() else {
        return;
    };
    let mut request = http::Request::builder()
        .method(if head { "HEAD" } else { "GET" })
        .uri(uri);
    if let Ok(value) = http::HeaderValue::from_str(&accept) {
        request = request.header(http::header::ACCEPT, value);
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let mut service = HealthLayer::new(health().clone())
        .route("/", Probe::All)
        .layer(service_fn(|_req: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        }));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(
        std::future::poll_fn(|cx| service.poll_ready(cx)).as_mut_poll(&mut cx),
        Poll::Ready(Ok(()))
    ));
    // No checks are registered: every answer is ready at once.
    let mut future = pin!(service.call(request));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(response)) => {
            let status = response.status().as_u16();
            assert!(matches!(status, 200 | 400 | 405 | 503), "{status}");
        }
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => panic!("a registry without checks answers at once"),
    }
});

trait AsMutPoll: Future + Sized {
    fn as_mut_poll(self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = pin!(self);
        this.as_mut().poll(cx)
    }
}

impl<F: Future> AsMutPoll for F {}
