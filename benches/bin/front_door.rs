//! `front-door ADDR PID LOG [STALLED] [EVENTS] [SILENT]`: the siege of `scripts/bench-front-door`
//! against a server already running at ADDR (loopback) as process PID, writing its log to LOG.
//!
//! Phases: probes from new connections at rest; EVENTS status-page event streams held (the
//! server's `/status/events`; 0 for a peer without one); SILENT connections that connect and
//! send nothing (their memory measured, then closed); STALLED connections whose headers
//! never end; probes under attack; after the header timeout, how many stalled connections are
//! still open; everything closed, and 15 s later the memory and a probe again. Prints one
//! Markdown table row per phase.
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use vitals_testkit::siege::{self, EventStream};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, pid, log, rest @ ..] = &args[..] else {
        eprintln!("usage: front-door ADDR PID LOG [STALLED] [EVENTS] [SILENT]");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR: host:port");
    let pid: u32 = pid.parse().expect("PID");
    let stalled: usize = rest.first().map_or(5000, |n| n.parse().expect("STALLED"));
    let events: usize = rest.get(1).map_or(0, |n| n.parse().expect("EVENTS"));
    let silent: usize = rest.get(2).map_or(0, |n| n.parse().expect("SILENT"));
    siege::raise_file_limit();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(siege_of(addr, pid, log, stalled, events, silent));
}

fn log_lines(log: &str) -> usize {
    std::fs::read_to_string(log).map_or(0, |text| text.lines().count())
}

async fn probes(addr: SocketAddr, rounds: usize, pace: Duration) -> String {
    let mut samples = Vec::new();
    let mut failed = 0;
    for _ in 0..rounds {
        match siege::probe(addr, "/livez", Duration::from_secs(5)).await {
            Some((200, took)) => samples.push(took),
            _ => failed += 1,
        }
        tokio::time::sleep(pace).await;
    }
    samples.sort();
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    format!(
        "median {:.1} ms, slowest {:.1} ms, {failed}/{rounds} unanswered in 5 s",
        median.as_secs_f64() * 1e3,
        siege::slowest(&samples).as_secs_f64() * 1e3
    )
}

fn row(phase: &str, pid: u32, extra: &str) {
    let rss = siege::rss_kib(pid);
    println!(
        "| {phase} | {:.1} MiB | {} | {extra} |",
        rss as f64 / 1024.0,
        siege::open_files(pid)
    );
}

async fn siege_of(
    addr: SocketAddr,
    pid: u32,
    log: &str,
    stalled: usize,
    events: usize,
    silent: usize,
) {
    println!("| phase | RSS | open files | |\n|---|---|---|---|");
    row(
        "at rest",
        pid,
        &probes(addr, 20, Duration::from_millis(20)).await,
    );
    let rest_rss = siege::rss_kib(pid);

    let mut streams = Vec::new();
    let mut refused = 0;
    for _ in 0..events {
        match siege::event_stream(addr, "/status/events").await {
            Ok(EventStream::Open(stream)) => streams.push(stream),
            _ => refused += 1,
        }
    }
    if events > 0 {
        let per_viewer =
            (siege::rss_kib(pid).saturating_sub(rest_rss)) as f64 / streams.len().max(1) as f64;
        row(
            &format!("{} event streams open ({refused} refused)", streams.len()),
            pid,
            &format!("{per_viewer:.1} KiB per viewer"),
        );
    }

    if silent > 0 {
        let before = siege::rss_kib(pid);
        let mut quiet = Vec::with_capacity(silent);
        for _ in 0..silent {
            if let Ok(stream) = tokio::net::TcpStream::connect(addr).await {
                quiet.push(stream);
            }
        }
        // Accepted: a probe from a new connection is answered after them.
        let _ = siege::probe(addr, "/livez", Duration::from_secs(5)).await;
        let per = (siege::rss_kib(pid).saturating_sub(before)) as f64 / quiet.len().max(1) as f64;
        row(
            &format!("{} silent connections (connect, send nothing)", quiet.len()),
            pid,
            &format!("{per:.1} KiB per silent connection"),
        );
        drop(quiet);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let lines_before = log_lines(log);
    let attack_start = Instant::now();
    let streams_rss = siege::rss_kib(pid);
    let mut held = Vec::with_capacity(stalled);
    let mut failed = 0;
    for _ in 0..stalled {
        match tokio::time::timeout(Duration::from_secs(3), siege::stalled(addr)).await {
            Ok(Ok(stream)) => held.push((stream, tokio::time::Instant::now())),
            _ => failed += 1,
        }
    }
    let opened = attack_start.elapsed();
    let mut open_now = 0;
    let mut buf = [0u8; 64];
    for (stream, _) in &held {
        if matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        {
            open_now += 1;
        }
    }
    let per_connection =
        (siege::rss_kib(pid).saturating_sub(streams_rss)) as f64 / open_now.max(1) as f64;
    row(
        &format!(
            "{stalled} stalled connections opened in {:.1} s ({failed} failed), {open_now} still open",
            opened.as_secs_f64()
        ),
        pid,
        &format!("{per_connection:.1} KiB per open connection"),
    );
    row(
        "probes under attack",
        pid,
        &probes(addr, 40, Duration::from_millis(100)).await,
    );
    // Past the documented header timeout (10 s) of the last one opened, with a margin.
    let deadline = held
        .last()
        .map_or_else(tokio::time::Instant::now, |(_, at)| *at)
        + Duration::from_secs(12);
    let mut still = 0;
    for (stream, _) in &mut held {
        if !siege::closed_by(stream, deadline).await {
            still += 1;
        }
    }
    let attack = attack_start.elapsed();
    let lines = log_lines(log) - lines_before;
    let streams_alive = streams
        .iter()
        .filter(|s| matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock))
        .count();
    row(
        &format!(
            "12 s after the last stalled connection: {still} stalled still open, {streams_alive} event streams alive"
        ),
        pid,
        &format!(
            "{lines} log lines in {:.1} s ({:.1}/s)",
            attack.as_secs_f64(),
            lines as f64 / attack.as_secs_f64()
        ),
    );
    drop(held);
    drop(streams);
    tokio::time::sleep(Duration::from_secs(15)).await;
    row(
        "15 s after the attack",
        pid,
        &probes(addr, 20, Duration::from_millis(20)).await,
    );
}
