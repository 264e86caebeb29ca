//! Serves `N` pass-through requests (`GET /orders/42`, keep-alive, one after another) through
//! hyper's HTTP/1 server connection, in one process over an in-memory pipe, for instruction
//! counts under valgrind's callgrind: what a request costs where a layer really runs, in a
//! server (`vitals_bench::HyperConnection`). `scripts/bench-instructions` runs each service
//! and `none` (start-up and shutdown only) and reports the difference per request.
//!
//! `passthrough-hyper none|bare|layer|same-body|map-body|answering-peer N`
use std::time::Duration;

use hyper::body::Incoming;
use tower::{Layer, service_fn};
use tower_http::map_response_body::MapResponseBodyLayer;
use vitals_bench::{HyperConnection, app_full_any, path_answering_peer, registry};
use vitals_tower::HealthLayer;

const PATH: &str = "/orders/42";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(kind), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: passthrough-hyper none|bare|layer|same-body|map-body|answering-peer N");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("N is a whole number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let health = registry(1, Duration::from_secs(3600));
        let app = service_fn(app_full_any::<Incoming>);
        let mut connection = match kind.as_str() {
            // `none`: the bare service, started and closed, sent nothing.
            "none" | "bare" => HyperConnection::start(app, PATH),
            "layer" => HyperConnection::start(HealthLayer::new(health).layer(app), PATH),
            "same-body" => {
                HyperConnection::start(HealthLayer::new(health).same_body().layer(app), PATH)
            }
            "map-body" => {
                HyperConnection::start(MapResponseBodyLayer::new(|body| body).layer(app), PATH)
            }
            "answering-peer" => HyperConnection::start(path_answering_peer().layer(app), PATH),
            other => {
                eprintln!("unknown service {other:?}");
                std::process::exit(2);
            }
        };
        let count = if kind == "none" { 0 } else { count };
        for _ in 0..count {
            connection.get().await;
        }
        connection.close().await;
    });
}
