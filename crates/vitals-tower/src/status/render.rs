//! The status data, as JSON and as the HTML page (`page.html`, filled in here).
use std::{
    fmt::Write as _,
    time::{Duration, SystemTime},
};

use serde_json::{Value, json};
use vitals_core::{CheckHistory, CheckStatus, Health, Probe, Status};

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
    page
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
         <p>{count} checks · {probes} · as of <time datetime=\"{at}\">{at}</time> · <a href=\"{base}\">reload</a></p></header>",
        count = snapshot.checks.len(),
        probes = probes.join(" · "),
        base = escape(base),
    )
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
        for (_, value) in &c.uptime {
            let _ = write!(rows, "<td class=\"num\">{}</td>", uptime(*value));
        }
        let _ = write!(
            rows,
            "<td>{}</td><td>{}</td><td class=\"timing\">{}</td></tr>",
            sparkline(c),
            run_bar(c),
            escape(&timing)
        );
        if snapshot.trusted
            && c.status != CheckStatus::Pass
            && let Some(error) = &c.last_error
        {
            let _ = write!(
                rows,
                "<tr class=\"error\" data-error-of=\"{}\"><td colspan=\"10\">{}</td></tr>",
                escape(&c.name),
                escape(error)
            );
        }
    }
    if snapshot.checks.is_empty() {
        rows.push_str("<tr><td colspan=\"10\">No checks are registered.</td></tr>");
    }
    rows
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
    let parts: [(&str, String); 5] = [
        ("{{title}}", escape(&title(snapshot))),
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
        assert!(page.contains("<tbody id=\"checks\"><tr><td colspan=\"10\">No checks"));
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
