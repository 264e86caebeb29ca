//! The status data, as JSON and as the HTML page (`page.html`, filled in here).
use std::{
    fmt::Write as _,
    sync::Arc,
    time::{Duration, SystemTime},
};

use serde_json::{Value, json};
use vitals_core::{CheckHistory, CheckStatus, FleetCheck, FleetView, Health, Probe, Status};

/// What a page shows, read once.
pub(crate) struct Snapshot {
    pub(crate) overall: Status,
    /// Why the overall status is what it is when no check decides it (draining).
    pub(crate) note: Option<String>,
    /// What each probe answers now (`livez`, `readyz`, `startupz`, `healthz`).
    pub(crate) probes: [(&'static str, Status); 4],
    pub(crate) checks: Vec<CheckHistory>,
    pub(crate) trusted: bool,
    pub(crate) at: SystemTime,
    /// The fleet's latest reading, when the registry has a fleet (Prometheus).
    pub(crate) fleet: Option<Arc<FleetView>>,
}

impl Snapshot {
    pub(crate) fn take(health: &Health, trusted: bool) -> Snapshot {
        // What /readyz answers now: the drain included.
        let readiness = health.latest(Probe::Readiness);
        // Readiness read once: the overall status and the `readyz` entry cannot disagree.
        let probes = Probe::EVERY.map(|probe| {
            let status = match probe {
                Probe::Readiness => readiness.status,
                _ => health.latest_status(probe),
            };
            (probe.name(), status)
        });
        Snapshot {
            overall: readiness.status,
            note: readiness.output,
            probes,
            checks: health.history(),
            trusted,
            at: SystemTime::now(),
            fleet: health.fleet(),
        }
    }
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

pub(crate) fn json(snapshot: &Snapshot) -> Value {
    let checks: Vec<Value> = snapshot
        .checks
        .iter()
        .map(|c| {
            let mut check = json!({
                "name": c.name,
                "component": c.component,
                "critical": c.critical,
                "skipped": c.skipped_by.is_some(),
                "status": c.status.as_str(),
                "since": c.since.map(rfc3339),
                "uptime": c.uptime.iter().map(|(w, u)| ((*w).to_owned(), json!(u))).collect::<serde_json::Map<_, _>>(),
                "runs": c.runs.iter().map(|r| json!({
                    "at": rfc3339(r.at),
                    "status": r.status.as_str(),
                    "duration_ms": ms(r.duration),
                    "attempts": r.attempts,
                })).collect::<Vec<_>>(),
                "timing": {
                    "attempt_cut_ms": ms(c.timing.attempt_timeout),
                    "run_budget_ms": ms(c.timing.budget),
                    "interval_ms": c.interval.map(ms),
                },
            });
            if snapshot.trusted {
                check["last_error"] = json!(c.last_error.as_deref());
            }
            if let Some(replicas) = c.fail_open {
                check["fail_open"] = json!({ "replicas": replicas });
            }
            check
        })
        .collect();
    let probes: serde_json::Map<String, Value> = snapshot
        .probes
        .iter()
        .map(|(name, status)| ((*name).to_owned(), json!(status.as_str())))
        .collect();
    let mut page = json!({
        "status": snapshot.overall.as_str(),
        "probes": probes,
        "at": rfc3339(snapshot.at),
        "checks": checks,
    });
    if let Some(note) = &snapshot.note {
        page["output"] = json!(note);
    }
    if let Some(fleet) = &snapshot.fleet {
        page["fleet"] = fleet_json(fleet);
    }
    page
}

/// The fleet's reading: each check on each replica, fleet-wide uptime and latency.
fn fleet_json(fleet: &FleetView) -> Value {
    let checks: serde_json::Map<String, Value> = fleet
        .checks
        .iter()
        .map(|c| {
            let replicas: Vec<Value> = c
                .replicas
                .iter()
                .map(|r| {
                    json!({
                        "name": r.name,
                        "status": r.status.map(CheckStatus::as_str),
                        "up": r.up,
                    })
                })
                .collect();
            let check = json!({
                "replicas": replicas,
                "pass": c.serving(CheckStatus::Pass),
                "warn": c.serving(CheckStatus::Warn),
                "fail": c.serving(CheckStatus::Fail),
                "uptime": c.uptime.iter().map(|(w, u)| ((*w).to_owned(), json!(u))).collect::<serde_json::Map<_, _>>(),
                "latency_ms": c.latency.map(|(p50, p99)| json!({
                    "p50": p50.as_secs_f64() * 1e3,
                    "p99": p99.as_secs_f64() * 1e3,
                })),
                "timeline": c.timeline.iter().map(|(at, status)| json!({
                    "at": rfc3339(*at),
                    "status": status.as_str(),
                })).collect::<Vec<_>>(),
            });
            (c.name.clone(), check)
        })
        .collect();
    json!({
        "source": fleet.source,
        "read_at": fleet.read_at.map(rfc3339),
        "fresh": fleet.is_fresh(),
        "problem": fleet.problem,
        "checks": checks,
    })
}

/// Text for HTML and SVG: `<`, `>`, `&` and quotes escaped.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn status_class(status: CheckStatus) -> &'static str {
    status.as_str()
}

/// Seconds or minutes, as people read a duration.
fn short(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", d.as_millis())
    } else if secs < 120.0 {
        format!("{} s", (secs * 10.0).round() / 10.0)
    } else if secs < 7_200.0 {
        format!("{} min", (secs / 60.0).round())
    } else if secs < 172_800.0 {
        format!("{} h", (secs / 3_600.0).round())
    } else {
        format!("{} d", (secs / 86_400.0).round())
    }
}

/// The durations of the recent runs as a line, scaled to the slowest.
fn sparkline(check: &CheckHistory) -> String {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let n = check.runs.len();
    if n == 0 {
        return String::new();
    }
    let max = check
        .runs
        .iter()
        .map(|r| r.duration.as_secs_f64())
        .fold(0.0, f64::max)
        .max(1e-6);
    let step = if n > 1 { W / (n - 1) as f64 } else { 0.0 };
    let mut points = String::new();
    for (i, run) in check.runs.iter().enumerate() {
        let x = i as f64 * step;
        let y = H - 2.0 - (run.duration.as_secs_f64() / max) * (H - 4.0);
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    let slowest = check
        .runs
        .iter()
        .map(|r| r.duration)
        .max()
        .unwrap_or_default();
    format!(
        "<svg class=\"spark\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"latency of the last {n} runs, slowest {}\"><polyline points=\"{}\"/></svg>",
        short(slowest),
        points.trim_end()
    )
}

/// One bar per recent run, colored by its status.
fn run_bar(check: &CheckHistory) -> String {
    let n = check.runs.len();
    let mut out = format!(
        "<svg class=\"runs\" width=\"{}\" height=\"16\" role=\"img\" aria-label=\"last {n} runs\">",
        n.max(1) * 3
    );
    for (i, run) in check.runs.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"{}\" width=\"2\" height=\"16\" class=\"{}\"/>",
            i * 3,
            status_class(run.status)
        );
    }
    out.push_str("</svg>");
    out
}

fn uptime(value: Option<f64>) -> String {
    match value {
        Some(u) if u >= 0.9995 => "100 %".to_owned(),
        Some(u) => format!("{:.2} %", u * 100.0),
        None => "–".to_owned(),
    }
}

/// The page's title: the overall status first, as a browser tab shows it.
fn title(snapshot: &Snapshot) -> String {
    format!("{} · status", snapshot.overall.as_str())
}

/// The header: the overall status, why when no check decides it, the count and the time.
fn summary(snapshot: &Snapshot, base: &str) -> String {
    let overall = snapshot.overall.as_str();
    let at = rfc3339(snapshot.at);
    let note = snapshot
        .note
        .as_deref()
        .map(|note| format!("\n<p id=\"note\">{}</p>", escape(note)))
        .unwrap_or_default();
    let probes: Vec<String> = snapshot
        .probes
        .iter()
        .map(|(name, status)| {
            let status = status.as_str();
            format!("<span data-probe=\"{name}\" data-status=\"{status}\">{name} {status}</span>")
        })
        .collect();
    format!(
        "<header id=\"summary\"><h1>Status: <span class=\"badge {overall}\">{overall}</span></h1>{note}\n\
         <p>{count} checks · {probes} · as of <time datetime=\"{at}\">{at}</time> · <a href=\"{base}\">reload</a></p>{fleet}</header>",
        count = snapshot.checks.len(),
        probes = probes.join(" · "),
        base = escape(base),
        fleet = snapshot
            .fleet
            .as_deref()
            .map(fleet_line)
            .unwrap_or_default(),
    )
}

/// Where the fleet columns come from, and whether they can be trusted now.
fn fleet_line(fleet: &FleetView) -> String {
    let source = escape(&fleet.source);
    let replicas = {
        let mut names: Vec<&str> = fleet
            .checks
            .iter()
            .flat_map(|c| c.replicas.iter().map(|r| r.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    };
    let read = fleet.read_at.map(rfc3339);
    match (&fleet.problem, read) {
        (None, Some(at)) => format!(
            "\n<p id=\"fleet\" data-fresh=\"true\">Fleet: {replicas} replicas, uptime and latency across \
             every replica and restart, from {source} as of <time datetime=\"{at}\">{at}</time>.</p>"
        ),
        (problem, read) => format!(
            "\n<p id=\"fleet\" data-fresh=\"false\">Fleet: {source} is not answering ({problem}); \
             uptime and latency are this replica's memory{last}.</p>",
            problem = escape(problem.as_deref().unwrap_or("no reading")),
            last = read
                .map(|at| format!("; the fleet column is the reading of {at}"))
                .unwrap_or_default(),
        ),
    }
}

/// One row per check (and one with its error for a trusted viewer).
fn rows(snapshot: &Snapshot) -> String {
    let mut rows = String::new();
    for c in &snapshot.checks {
        let status = status_class(c.status);
        let since = c
            .since
            .and_then(|s| snapshot.at.duration_since(s).ok())
            .map_or("–".to_owned(), |d| format!("{} ago", short(d)));
        let timing = format!(
            "attempt cut {} · run budget {} · {}",
            short(c.timing.attempt_timeout),
            short(c.timing.budget),
            c.interval
                .map_or("on demand".to_owned(), |i| format!("every {}", short(i)))
        );
        let _ = write!(
            rows,
            "<tr id=\"check-{name}\" data-check=\"{name}\" data-status=\"{status}\">\
             <th scope=\"row\">{name}<small>{component}{critical}</small></th>\
             <td><span class=\"badge {status}\">{status}</span></td><td class=\"since\">{since}</td>",
            name = escape(&c.name),
            component = escape(&c.component),
            critical = if c.critical { "" } else { " · non-critical" },
        );
        // Uptime across the fleet while Prometheus answers; this replica's memory otherwise.
        let fleet = snapshot
            .fleet
            .as_deref()
            .filter(|f| f.problem.is_none())
            .and_then(|f| f.check(&c.name));
        for (index, (_, value)) in c.uptime.iter().enumerate() {
            match fleet.map(|f| f.uptime[index].1) {
                Some(Some(fleet_value)) => {
                    let _ = write!(
                        rows,
                        "<td class=\"num\" data-source=\"fleet\" title=\"every replica; this one: {}\">{}</td>",
                        uptime(*value),
                        uptime(Some(fleet_value))
                    );
                }
                _ => {
                    let _ = write!(rows, "<td class=\"num\">{}</td>", uptime(*value));
                }
            }
        }
        let _ = write!(
            rows,
            "<td>{}</td><td>{}</td><td class=\"timing\">{}</td>",
            sparkline(c),
            run_bar(c),
            escape(&timing)
        );
        if let Some(view) = snapshot.fleet.as_deref() {
            rows.push_str(&fleet_cell(view.check(&c.name)));
        }
        rows.push_str("</tr>");
        if let Some(replicas) = c.fail_open {
            let _ = write!(
                rows,
                "<tr class=\"fail-open\" data-fail-open-of=\"{name}\"><td colspan=\"11\">fail-open: the whole \
                 fleet ({replicas} of {replicas} replicas) sees {name} failing, so readiness stays ready</td></tr>",
                name = escape(&c.name),
            );
        }
        if snapshot.trusted
            && c.status != CheckStatus::Pass
            && let Some(error) = &c.last_error
        {
            let _ = write!(
                rows,
                "<tr class=\"error\" data-error-of=\"{}\"><td colspan=\"11\">{}</td></tr>",
                escape(&c.name),
                escape(error)
            );
        }
    }
    if snapshot.checks.is_empty() {
        rows.push_str("<tr><td colspan=\"11\">No checks are registered.</td></tr>");
    }
    rows
}

/// A check's fleet column: how many replicas serve each status, which, and the fleet's
/// latency.
fn fleet_cell(check: Option<&FleetCheck>) -> String {
    let Some(check) = check else {
        return "<td class=\"fleet\">–</td>".to_owned();
    };
    let counts: Vec<String> = [CheckStatus::Pass, CheckStatus::Warn, CheckStatus::Fail]
        .into_iter()
        .filter_map(|status| {
            let n = check.serving(status);
            (n > 0).then(|| {
                format!(
                    "<span class=\"badge {s}\" data-fleet-{s}=\"{n}\">{n} {s}</span>",
                    s = status.as_str()
                )
            })
        })
        .collect();
    let replicas: Vec<String> = check
        .replicas
        .iter()
        .map(|r| {
            let status = r.status.map_or("unknown", CheckStatus::as_str);
            format!(
                "<li data-replica=\"{name}\" data-status=\"{status}\">{name} {status}</li>",
                name = escape(&r.name)
            )
        })
        .collect();
    let latency = check
        .latency
        .map(|(p50, p99)| format!("<small>p50 {} · p99 {}</small>", short(p50), short(p99)))
        .unwrap_or_default();
    // The last changes of the fleet's state this hour, newest last.
    let changes: Vec<String> = check
        .timeline
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|(at, status)| {
            let at = rfc3339(*at);
            let clock = at.get(11..19).unwrap_or(&at);
            format!(
                "<li data-status=\"{s}\"><time datetime=\"{at}\">{clock}</time> {s}</li>",
                s = status.as_str()
            )
        })
        .collect();
    let timeline = if changes.is_empty() {
        String::new()
    } else {
        format!(
            "<ol class=\"timeline\" aria-label=\"the fleet's changes this hour\">{}</ol>",
            changes.join("")
        )
    };
    format!(
        "<td class=\"fleet\">{}<ul>{}</ul>{latency}{timeline}</td>",
        counts.join(" "),
        replicas.join("")
    )
}

/// What a live viewer needs to redraw the page: the parts [`html`] puts in `page.html`.
pub(crate) fn page_parts(snapshot: &Snapshot, base: &str) -> Value {
    json!({
        "title": title(snapshot),
        "summary": summary(snapshot, base),
        "rows": rows(snapshot),
    })
}

/// The page: `page.html` with its parts filled in. Its stylesheet and script are files of
/// their own, served beside it (`{base}/page.css`, `{base}/page.js`), so the page's
/// Content-Security-Policy allows no inline code.
pub(crate) fn html(snapshot: &Snapshot, base: &str) -> String {
    let windows: String = vitals_core::history::UPTIME_WINDOWS
        .iter()
        .map(|(w, _)| format!("<th scope=\"col\" class=\"num\">{w}</th>"))
        .collect();
    let fleet = if snapshot.fleet.is_some() {
        "<th scope=\"col\">fleet</th>".to_owned()
    } else {
        String::new()
    };
    let parts: [(&str, String); 6] = [
        ("{{title}}", escape(&title(snapshot))),
        ("{{fleet}}", fleet),
        ("{{base}}", escape(base)),
        ("{{summary}}", summary(snapshot, base)),
        ("{{windows}}", windows),
        ("{{rows}}", rows(snapshot)),
    ];
    let mut page = include_str!("page.html").to_owned();
    for (marker, value) in parts {
        page = page.replace(marker, &value);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn the_page_template_is_filled_in() {
        let health = vitals_core::Health::builder().build();
        let snapshot = super::Snapshot::take(&health, true);
        let page = super::html(&snapshot, "/status");
        assert!(!page.contains("{{"), "{page}");
        assert!(page.contains("<tbody id=\"checks\"><tr><td colspan=\"11\">No checks"));
        assert!(page.contains("href=\"/status/page.css\""));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
