//! The colour of each status, the one table the badges and the page's stylesheet read.

/// Colours by status word; anything else (no runs, an unknown value) is `UNKNOWN`.
const COLOURS: [(&str, &str); 4] = [
    ("pass", "#2e7d32"),
    ("warn", "#b26a00"),
    ("fail", "#c62828"),
    ("skipped", "#777777"),
];

/// The colour of neither status: a badge with no runs, the page's fallback.
const UNKNOWN: &str = "#555555";

/// The colour of the status called `status`.
pub(super) fn of(status: &str) -> &'static str {
    COLOURS
        .iter()
        .find(|(name, _)| *name == status)
        .map_or(UNKNOWN, |(_, colour)| colour)
}

/// The page's stylesheet: the colours as custom properties, then `page.css`, which uses them.
pub(super) fn stylesheet() -> String {
    let mut css = String::from(":root{");
    for (name, colour) in COLOURS {
        css.push_str(&format!("--{name}:{colour};"));
    }
    css.push_str(&format!("--unknown:{UNKNOWN}}}\n"));
    css.push_str(include_str!("page.css"));
    css
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stylesheet_defines_every_colour_it_uses() {
        let css = super::stylesheet();
        let mut rest = css.as_str();
        while let Some(at) = rest.find("var(--") {
            rest = &rest[at + 6..];
            let name = &rest[..rest.find(')').unwrap()];
            assert!(
                css.contains(&format!("--{name}:")),
                "--{name} is not defined"
            );
        }
    }
}
