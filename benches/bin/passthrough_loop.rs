//! Serves `N` pass-through requests (`/orders/42`) through one service, for instruction counts
//! under valgrind's callgrind (deterministic, unlike times): `scripts/bench-instructions` runs
//! each service and `none` (the same loop building requests, no service) and reports the
//! difference per request.
//!
//! `passthrough-loop none|bare|layer|same-body|map-body|answering-peer N` (inner body
//! `Full<Bytes>`; `answering-peer` is tower-http's `ValidateRequestHeader` answering by path,
//! see `vitals_bench::path_answering_peer`).
use std::{hint::black_box, time::Duration};

use tower::{Layer, service_fn};
use tower_http::map_response_body::MapResponseBodyLayer;
use vitals_bench::{app_full, get, path_answering_peer, registry, serve};
use vitals_tower::HealthLayer;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(kind), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: passthrough-loop none|bare|layer|same-body|map-body|answering-peer N");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("N is a whole number");
    let health = registry(1, Duration::from_secs(3600));
    let mut bare = service_fn(app_full);
    let mut layer = HealthLayer::new(health.clone()).layer(service_fn(app_full));
    let mut same_body = HealthLayer::new(health)
        .same_body()
        .layer(service_fn(app_full));
    let mut map_body = MapResponseBodyLayer::new(|body| body).layer(service_fn(app_full));
    let mut answering_peer = path_answering_peer().layer(service_fn(app_full));
    for _ in 0..count {
        let request = get("/orders/42");
        match kind.as_str() {
            "none" => drop(black_box(request)),
            "bare" => drop(black_box(serve(&mut bare, request))),
            "layer" => drop(black_box(serve(&mut layer, request))),
            "same-body" => drop(black_box(serve(&mut same_body, request))),
            "map-body" => drop(black_box(serve(&mut map_body, request))),
            "answering-peer" => drop(black_box(serve(&mut answering_peer, request))),
            other => {
                eprintln!("unknown service {other:?}");
                std::process::exit(2);
            }
        }
    }
}
