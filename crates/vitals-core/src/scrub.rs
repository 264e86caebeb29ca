//! Removes credentials from text before it leaves the process.

const MASK: &str = "***";

/// Keys whose values are secrets, matched case-insensitively inside a key name
/// (`aws_secret_access_key`, `X-Amz-Signature`, `AWS_SESSION_TOKEN`, `password`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "accesskey",
    "signature",
    "authorization",
];

/// AWS access key id prefixes (IAM unique id prefixes of keys, users and roles).
const AWS_KEY_PREFIXES: &[&str] = &[
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA",
];

/// Scrubs text of credentials: exact secrets it was given, plus patterns that are always
/// removed — passwords in URIs (`mongodb://u:p@h` → `mongodb://u:***@h`), `Bearer` tokens,
/// values of secret-looking keys (`password=`, `X-Amz-Signature=`, `"token":`), AWS access key
/// ids and 40-character secret access keys.
///
/// ```
/// use vitals_core::Scrubber;
///
/// let scrubber = Scrubber::new().secret("hunter22");
/// let text = "auth failed for rediss://:hunter22@cache:6380 (retry with hunter22)";
/// assert_eq!(scrubber.scrub(text), "auth failed for rediss://:***@cache:6380 (retry with ***)");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    /// Removes only the built-in patterns.
    #[must_use]
    pub fn new() -> Self {
        Scrubber::default()
    }

    /// Also removes this exact string (and its percent-encoded form). Strings shorter than 4
    /// characters are ignored here — masking every `a` would destroy the message — and are still
    /// caught by the URI and key patterns.
    #[must_use]
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.add(secret.into());
        self
    }

    pub(crate) fn add(&mut self, secret: String) {
        if secret.chars().count() < 4 {
            return;
        }
        let encoded = percent_encode(&secret);
        if encoded != secret && !self.secrets.contains(&encoded) {
            self.secrets.push(encoded);
        }
        if !self.secrets.contains(&secret) {
            self.secrets.push(secret);
        }
        // Longest first, so a secret containing another is masked whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// The scrubbed text.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        scrub_patterns(&out)
    }
}

/// Scrubs the built-in patterns only (see [`Scrubber`]).
pub fn scrub(text: &str) -> String {
    scrub_patterns(text)
}

fn scrub_patterns(text: &str) -> String {
    let text = scrub_uri_userinfo(text);
    let text = scrub_auth_schemes(&text);
    let text = scrub_key_values(&text);
    scrub_aws_tokens(&text)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where an authority ends in running text. RFC 3986 allows the sub-delims (`'`, `(`, `,`, …)
/// in a password, so only characters a URI cannot contain unencoded end it.
fn is_authority_end(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'?' | b'#' | b'"' | b'<' | b'>' | b'`' | b'\\' | b'{' | b'}' | b'|'
    ) || b.is_ascii_whitespace()
}

/// `scheme://user:pass@host` → `scheme://user:***@host`; `scheme://token@host` → `scheme://***@host`.
fn scrub_uri_userinfo(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(pos) = text[search..].find("://") {
        let start = search + pos + 3;
        let end = bytes[start..]
            .iter()
            .position(|&b| is_authority_end(b))
            .map_or(bytes.len(), |p| start + p);
        if let Some(at) = text[start..end].rfind('@') {
            let at = start + at;
            let userinfo = &text[start..at];
            out.push_str(&text[copied..start]);
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..=colon]);
                    out.push_str(MASK);
                }
                None => out.push_str(MASK),
            }
            copied = at;
        }
        search = end.max(start);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

/// `Bearer abc.def` → `Bearer ***` (any case); `Basic dXNlcjpwYXNz` → `Basic ***`.
fn scrub_auth_schemes(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let scheme_len = if lower.as_bytes()[i..].starts_with(b"bearer ") {
            7
        } else if bytes[i..].starts_with(b"Basic ") {
            6
        } else {
            i += 1;
            continue;
        };
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let value_start = i + scheme_len;
        let value_end = bytes[value_start..]
            .iter()
            .position(|&b| !is_token_byte(b))
            .map_or(bytes.len(), |p| value_start + p);
        // "basic" in prose is followed by a short word, a credential by a long token.
        let long_enough = value_end - value_start >= if scheme_len == 7 { 1 } else { 8 };
        if at_word_start && long_enough {
            out.push_str(&text[copied..value_start]);
            out.push_str(MASK);
            copied = value_end;
            i = value_end;
        } else {
            i += scheme_len;
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// `password=x`, `X-Amz-Signature=x`, `"token": "x"`, `secret: 'x'` (quoted key) → value masked.
fn scrub_key_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_key_byte(bytes[i]) || (i > 0 && is_key_byte(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let key_end = bytes[i..]
            .iter()
            .position(|&b| !is_key_byte(b))
            .map_or(bytes.len(), |p| i + p);
        let key = text[i..key_end].to_ascii_lowercase();
        if !SECRET_KEYS.iter().any(|k| key.contains(k)) {
            i = key_end;
            continue;
        }
        let quoted_key = i > 0 && matches!(bytes[i - 1], b'"' | b'\'');
        let mut j = key_end;
        if quoted_key && j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let separated = j < bytes.len() && (bytes[j] == b'=' || (quoted_key && bytes[j] == b':'));
        if !separated {
            i = key_end;
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let quote = (j < bytes.len() && matches!(bytes[j], b'"' | b'\'')).then(|| bytes[j]);
        let value_start = j + usize::from(quote.is_some());
        let value_end = match quote {
            Some(q) => bytes[value_start..]
                .iter()
                .position(|&b| b == q)
                .map_or(bytes.len(), |p| value_start + p),
            None => bytes[value_start..]
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b"&,;\"')}]".contains(&b))
                .map_or(bytes.len(), |p| value_start + p),
        };
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(MASK);
            copied = value_end;
        }
        i = value_end.max(key_end);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_b64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/' || b == b'+'
}

/// AWS access key ids (`AKIA` + 16) and 40-character secret keys (mixed case base64).
fn scrub_aws_tokens(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_b64_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let end = bytes[i..]
            .iter()
            .position(|&b| !is_b64_byte(b))
            .map_or(bytes.len(), |p| i + p);
        let token = &text[i..end];
        let key_id = token.len() == 20
            && AWS_KEY_PREFIXES.iter().any(|p| token.starts_with(p))
            && token
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let secret_key = token.len() == 40
            && token.bytes().any(|b| b.is_ascii_uppercase())
            && token.bytes().any(|b| b.is_ascii_lowercase())
            && token
                .bytes()
                .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+');
        if key_id || secret_key {
            out.push_str(&text[copied..i]);
            out.push_str(MASK);
            copied = end;
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_passwords_are_masked() {
        let cases = [
            (
                "mongodb://user:s3cret@db:27017/app",
                "mongodb://user:***@db:27017/app",
            ),
            ("rediss://:p4ss@cache:6380", "rediss://:***@cache:6380"),
            ("https://tok3n@runner/x", "https://***@runner/x"),
            (
                "mongodb+srv://u:p%40ss@cluster0.example.net/?retryWrites=true",
                "mongodb+srv://u:***@cluster0.example.net/?retryWrites=true",
            ),
            (
                "two: redis://a:b@h1 and redis://c:d@h2.",
                "two: redis://a:***@h1 and redis://c:***@h2.",
            ),
            (
                "no credentials: http://host:80/path@x",
                "no credentials: http://host:80/path@x",
            ),
            ("mongodb://u:pw@h1,h2,h3/db", "mongodb://u:***@h1,h2,h3/db"),
        ];
        for (input, expected) in cases {
            assert_eq!(scrub(input), expected, "{input}");
        }
    }

    #[test]
    fn tokens_and_keys_are_masked() {
        let cases = [
            (
                "Authorization: Bearer eyJhbGciOi.xyz",
                "Authorization: Bearer ***",
            ),
            ("header bearer abc123", "header bearer ***"),
            ("Basic dXNlcjpwYXNzd29yZA==", "Basic ***"),
            ("basic auth failed", "basic auth failed"),
            (
                "url?X-Amz-Signature=deadbeef&x=1",
                "url?X-Amz-Signature=***&x=1",
            ),
            ("password=hunter2 next", "password=*** next"),
            (
                r#"{"token": "abc", "ok": 1}"#,
                r#"{"token": "***", "ok": 1}"#,
            ),
            (
                "aws_secret_access_key = 'xyz'",
                "aws_secret_access_key = '***'",
            ),
            ("key AKIAIOSFODNN7EXAMPLE used", "key *** used"),
            (
                "secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end",
                "secret *** end",
            ),
            (
                "commit 0123456789abcdef0123456789abcdef01234567",
                "commit 0123456789abcdef0123456789abcdef01234567",
            ),
            ("token: expired", "token: expired"),
        ];
        for (input, expected) in cases {
            assert_eq!(scrub(input), expected, "{input}");
        }
    }

    #[test]
    fn exact_secrets_and_their_encodings_are_masked() {
        let s = Scrubber::new().secret("p@ss word").secret("abc");
        assert_eq!(
            s.scrub("got p@ss word and p%40ss%20word"),
            "got *** and ***"
        );
        // Too short to mask safely on its own.
        assert_eq!(s.scrub("abc"), "abc");
    }

    #[test]
    fn non_ascii_text_survives() {
        let text = "Ошибка: redis://юзер:пароль@хост — token=ключ ✓";
        let out = scrub(text);
        assert!(!out.contains("пароль") && !out.contains("ключ"), "{out}");
        assert!(out.contains("Ошибка") && out.ends_with('✓'));
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn any_text_scrubs_without_panicking(text in "\\PC{0,300}") {
                let _ = Scrubber::new().secret("abcd").scrub(&text);
            }

            #[test]
            fn uri_passwords_never_survive(
                scheme in "(mongodb|mongodb\\+srv|redis|rediss|https?)",
                user in "[a-z]{0,8}",
                password in "[A-Za-z0-9._~!$&'*+,;=%-]{1,30}",
                host in "[a-z]{1,10}(:[0-9]{2,5})?",
                prefix in "[ -~]{0,20}",
            ) {
                let text = format!("{prefix} {scheme}://{user}:{password}@{host}/db");
                let out = scrub(&text);
                let needle = format!(":{password}@");
                prop_assert!(!out.contains(&needle), "{} -> {}", text, out);
            }

            #[test]
            fn registered_secrets_never_survive(secret in "[ -~]{4,30}", around in "[ -~]{0,30}") {
                let out = Scrubber::new().secret(secret.clone()).scrub(&format!("{around}{secret}{around}"));
                prop_assert!(!out.contains(&secret), "{}", out);
            }
        }
    }
}
