//! SASL mechanisms as Kafka brokers speak them: PLAIN (RFC 4616) and SCRAM-SHA-256/512
//! (RFC 5802, RFC 7677), the client side only. The server's final message is verified, so a
//! broker that does not know the password cannot pass for one that does.
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use hmac::{
    Mac, SimpleHmac,
    digest::{Digest, KeyInit, core_api::BlockSizeUser},
};
use sha2::{Sha256, Sha512};

/// A SASL mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN`: the password in the clear (use it only over TLS).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512` (Amazon MSK's SCRAM).
    ScramSha512,
}

impl Mechanism {
    /// The name a broker knows the mechanism by.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// An exchange for `username` and `password` with a fresh client nonce.
    pub(crate) fn start(self, username: &str, password: &str) -> Exchange {
        let mut random = [0u8; 18];
        // The process's TLS provider's random source: a nonce must not repeat.
        vitals_tls::provider()
            .secure_random
            .fill(&mut random)
            .expect("the system's random source works");
        self.start_with_nonce(username, password, &BASE64.encode(random))
    }

    fn start_with_nonce(self, username: &str, password: &str, nonce: &str) -> Exchange {
        Exchange {
            mechanism: self,
            username: username.to_owned(),
            password: password.to_owned(),
            client_first_bare: format!("n={},r={nonce}", sasl_name(username)),
            nonce: nonce.to_owned(),
            expected_server_signature: None,
        }
    }
}

/// One authentication's state.
pub(crate) struct Exchange {
    mechanism: Mechanism,
    username: String,
    password: String,
    nonce: String,
    client_first_bare: String,
    /// Set once the client's final message is sent: what the server must prove.
    expected_server_signature: Option<Vec<u8>>,
}

impl Exchange {
    /// The client's first message.
    pub(crate) fn first(&self) -> Vec<u8> {
        match self.mechanism {
            Mechanism::Plain => format!("\0{}\0{}", self.username, self.password).into_bytes(),
            _ => format!("n,,{}", self.client_first_bare).into_bytes(),
        }
    }

    /// The client's next message for the server's `message`; `None` when done. An error is
    /// a server that answered wrongly, in words.
    pub(crate) fn next(&mut self, message: &[u8]) -> Result<Option<Vec<u8>>, String> {
        if self.mechanism == Mechanism::Plain {
            return Ok(None);
        }
        let message = std::str::from_utf8(message)
            .map_err(|_| "the server's SCRAM message is not text".to_owned())?;
        if let Some(expected) = &self.expected_server_signature {
            if let Some(error) = message.strip_prefix("e=") {
                return Err(format!("the server refused: {error}"));
            }
            let signature = attribute(message, 'v')
                .and_then(|v| BASE64.decode(v).ok())
                .ok_or("the server's final SCRAM message has no signature")?;
            return if &signature == expected {
                Ok(None)
            } else {
                Err(
                    "the server's SCRAM signature is wrong: it does not know the password \
                     (another server answered?)"
                        .to_owned(),
                )
            };
        }
        let nonce = attribute(message, 'r').ok_or("the server's SCRAM message has no nonce")?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err("the server's SCRAM nonce does not extend the client's".to_owned());
        }
        let salt = attribute(message, 's')
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or("the server's SCRAM message has no salt")?;
        let iterations: u32 = attribute(message, 'i')
            .and_then(|i| i.parse().ok())
            .filter(|i| *i > 0)
            .ok_or("the server's SCRAM message has no iteration count")?;
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{message},{without_proof}", self.client_first_bare);
        let (proof, server_signature) = match self.mechanism {
            Mechanism::ScramSha512 => {
                prove::<Sha512>(&self.password, &salt, iterations, &auth_message)
            }
            _ => prove::<Sha256>(&self.password, &salt, iterations, &auth_message),
        };
        self.expected_server_signature = Some(server_signature);
        Ok(Some(
            format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes(),
        ))
    }
}

/// `key=value` of a SCRAM message.
fn attribute(message: &str, key: char) -> Option<&str> {
    message
        .split(',')
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

/// A user name as SCRAM writes it: `,` and `=` escaped.
fn sasl_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn hmac<D: Digest + BlockSizeUser + Clone>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <SimpleHmac<D> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The client's proof and the server signature to expect (RFC 5802, section 3).
fn prove<D: Digest + BlockSizeUser + Clone + Sync>(
    password: &str,
    salt: &[u8],
    iterations: u32,
    auth_message: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut salted = vec![0u8; <D as Digest>::output_size()];
    pbkdf2::pbkdf2::<SimpleHmac<D>>(password.as_bytes(), salt, iterations, &mut salted)
        .expect("any output length");
    let client_key = hmac::<D>(&salted, b"Client Key");
    let stored_key = D::digest(&client_key);
    let client_signature = hmac::<D>(&stored_key, auth_message.as_bytes());
    let proof = client_key
        .iter()
        .zip(&client_signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let server_key = hmac::<D>(&salted, b"Server Key");
    (proof, hmac::<D>(&server_key, auth_message.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::Mechanism;

    /// RFC 7677, section 3: the SCRAM-SHA-256 example exchange, byte for byte.
    #[test]
    fn scram_sha_256_follows_rfc_7677s_example() {
        let mut exchange =
            Mechanism::ScramSha256.start_with_nonce("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(exchange.first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                             s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = exchange.next(server_first).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            exchange.next(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Ok(None)
        );
    }

    /// RFC 5802's SCRAM-SHA-1 example's shape with SHA-512 and a forged server signature: the
    /// client refuses a server that cannot prove it knows the password.
    #[test]
    fn a_server_that_cannot_prove_the_password_is_refused() {
        let mut exchange = Mechanism::ScramSha512.start("user", "pencil");
        let first = String::from_utf8(exchange.first()).unwrap();
        let nonce = first.rsplit("r=").next().unwrap().to_owned();
        let server_first = format!("r={nonce}server,s=QSXCR+Q6sek8bf92,i=4096");
        assert!(exchange.next(server_first.as_bytes()).unwrap().is_some());
        let forged = exchange.next(b"v=AAAA").unwrap_err();
        assert!(forged.contains("does not know the password"), "{forged}");
        // A server that does not extend the nonce is refused before any proof is sent.
        let mut other = Mechanism::ScramSha256.start("user", "pencil");
        assert!(
            other
                .next(b"r=someone-else,s=QSXCR+Q6sek8bf92,i=4096")
                .is_err()
        );
    }

    #[test]
    fn user_names_are_escaped_and_plain_is_one_message() {
        assert_eq!(super::sasl_name("a,b=c"), "a=2Cb=3Dc");
        let mut plain = Mechanism::Plain.start("app", "pw");
        assert_eq!(plain.first(), b"\0app\0pw");
        assert_eq!(plain.next(b""), Ok(None));
    }
}
