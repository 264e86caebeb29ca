//! SVG badges in the usual two-part shape: a label and a value, terse (no output, no detail).
use vitals_core::{Health, Probe};

use super::{colour::of as colour, render::escape};

/// Text width at 11 px Verdana, roughly: enough for the badge to hold its words.
fn width(text: &str) -> usize {
    text.chars().count() * 7 + 10
}

fn badge(label: &str, value: &str, fill: &str) -> String {
    let (l, v) = (width(label), width(value));
    let total = l + v;
    let (label, value) = (escape(label), escape(value));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"20\" role=\"img\" \
         aria-label=\"{label}: {value}\"><title>{label}: {value}</title>\
         <rect width=\"{l}\" height=\"20\" fill=\"#555\"/>\
         <rect x=\"{l}\" width=\"{v}\" height=\"20\" fill=\"{fill}\"/>\
         <g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\" text-anchor=\"middle\">\
         <text x=\"{lx}\" y=\"14\">{label}</text><text x=\"{vx}\" y=\"14\">{value}</text></g></svg>",
        lx = l / 2,
        vx = l + v / 2,
    )
}

/// The overall status: readiness, from the latest results.
pub(super) fn overall(health: &Health) -> String {
    let status = health.latest(Probe::Readiness).status.as_str();
    badge("status", status, colour(status))
}

/// One check's status, or with `uptime=WINDOW` its uptime; `None` for an unknown check.
pub(super) fn check(health: &Health, name: &str, query: &str) -> Option<String> {
    let history = health.check_history(name)?;
    let window = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("uptime="));
    if let Some(window) = window {
        let (label, value) = history.uptime.iter().find(|(w, _)| *w == window)?;
        let text = value.map_or("no runs".to_owned(), |u| format!("{:.2} %", u * 100.0));
        let fill = match value {
            Some(u) if *u >= 0.99 => colour("pass"),
            Some(u) if *u >= 0.95 => colour("warn"),
            Some(_) => colour("fail"),
            None => colour(""),
        };
        return Some(badge(&format!("{name} uptime {label}"), &text, fill));
    }
    let status = history.status.as_str();
    Some(badge(name, status, colour(status)))
}
