//! The two questions on the wire: a connection (TCP, then TLS when asked), `ApiVersions`, the
//! SASL exchange when configured, and `Metadata` for the named topics; each step bounded by
//! the check's timeout. Requests are `kafka-protocol`'s messages, framed as Kafka frames them
//! (a 4-byte size, a request header, the body).
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::{
    messages::{
        ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
        RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
        SaslHandshakeRequest, SaslHandshakeResponse, TopicName,
        metadata_request::MetadataRequestTopic,
    },
    protocol::{Decodable, Encodable, StrBytes},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};
use vitals_core::CheckError;

use crate::{KafkaCheck, Sasl, transport_error};

/// The largest answer read: a metadata answer for a few topics is kilobytes.
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The Metadata versions this check speaks: from 1 (the controller's id) to 12.
const METADATA_VERSIONS: (i16, i16) = (1, 12);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One broker's connection, with the correlation ids of its requests.
struct Connection<'a> {
    stream: Box<dyn Stream + 'a>,
    broker: &'a str,
    next_id: i32,
    timeout: std::time::Duration,
}

/// Asks `broker` the check's questions; the metadata it answers, or why not.
pub(crate) async fn ask(check: &KafkaCheck, broker: &str) -> Result<MetadataResponse, CheckError> {
    let timeout = check.timeout;
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(broker))
        .await
        .map_err(|_| timed_out(broker, "connect to", timeout))?
        .map_err(|e| transport_error(broker, "connect to", &e))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = match &check.tls {
        Some(config) => {
            let host = broker.rsplit_once(':').map_or(broker, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| {
                CheckError::permanent(format!("{host} is not a name TLS can verify"))
            })?;
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| timed_out(broker, "TLS handshake with", timeout))?
                .map_err(|e| transport_error(broker, "TLS handshake with", &e))?;
            Box::new(tls)
        }
        None => Box::new(tcp),
    };
    let mut connection = Connection {
        stream,
        broker,
        next_id: 1,
        timeout,
    };

    // ApiVersions v0: every broker since 0.10 answers it, and says which versions it speaks.
    let versions: ApiVersionsResponse = connection
        .request(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())
        .await?;
    if versions.error_code != 0 {
        return Err(CheckError::new(format!(
            "ApiVersions on {broker} failed: {}",
            error_name(versions.error_code)
        )));
    }
    let range = |key: ApiKey| {
        versions
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| (k.min_version, k.max_version))
    };
    if let Some(sasl) = &check.sasl {
        authenticate(&mut connection, sasl, range(ApiKey::SaslAuthenticate)).await?;
    }
    let (min, max) = range(ApiKey::Metadata).unwrap_or((0, 0));
    let version = max.min(METADATA_VERSIONS.1);
    if version < METADATA_VERSIONS.0 || min > version {
        return Err(CheckError::permanent(format!(
            "{broker} speaks Metadata versions {min} to {max}; this check needs one from {} to {}",
            METADATA_VERSIONS.0, METADATA_VERSIONS.1
        )));
    }
    let topics = check
        .topics
        .iter()
        .map(|t| {
            MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
        })
        .collect();
    // Only the named topics (an empty list asks for none), and never create one.
    let request = MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(false);
    connection
        .request(ApiKey::Metadata, version, &request)
        .await
}

/// The SASL exchange: `SaslHandshake` v1 (the mechanism), then `SaslAuthenticate` rounds.
async fn authenticate(
    connection: &mut Connection<'_>,
    sasl: &Sasl,
    authenticate_versions: Option<(i16, i16)>,
) -> Result<(), CheckError> {
    let broker = connection.broker;
    let mechanism = sasl.mechanism.name();
    let handshake: SaslHandshakeResponse = connection
        .request(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
        )
        .await?;
    if handshake.error_code != 0 {
        let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(CheckError::permanent(format!(
            "{broker} does not enable SASL {mechanism} ({}); it offers {}",
            error_name(handshake.error_code),
            if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            }
        )));
    }
    let version = authenticate_versions.map_or(0, |(_, max)| max.min(1));
    let mut exchange = sasl.mechanism.start(&sasl.username, &sasl.password);
    let mut message = exchange.first();
    loop {
        let reply: SaslAuthenticateResponse = connection
            .request(
                ApiKey::SaslAuthenticate,
                version,
                &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message)),
            )
            .await?;
        if reply.error_code != 0 {
            let said = reply
                .error_message
                .as_ref()
                .map(|m| format!(": {}", m.as_str()))
                .unwrap_or_default();
            return Err(CheckError::new(format!(
                "SASL {mechanism} authentication of {} failed on {broker} ({}){said}",
                sasl.username,
                error_name(reply.error_code)
            )));
        }
        match exchange.next(&reply.auth_bytes) {
            Ok(Some(next)) => message = next,
            Ok(None) => return Ok(()),
            Err(why) => {
                return Err(CheckError::new(format!(
                    "SASL {mechanism} authentication of {} failed on {broker}: {why}",
                    sasl.username
                )));
            }
        }
    }
}

impl Connection<'_> {
    /// Sends one request and reads its answer, each within the timeout.
    async fn request<Req: Encodable, Res: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        body: &Req,
    ) -> Result<Res, CheckError> {
        let broker = self.broker;
        let id = self.next_id;
        self.next_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(StrBytes::from_static_str("vitals")));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        let encoded = header
            .encode(&mut frame, key.request_header_version(version))
            .and_then(|()| body.encode(&mut frame, version));
        if let Err(e) = encoded {
            return Err(CheckError::new(format!(
                "encoding {key:?} v{version} failed: {e}"
            )));
        }
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());

        let step = format!("{key:?} on");
        let exchange = async {
            self.stream.write_all(&frame).await?;
            self.stream.flush().await?;
            let size = self.stream.read_i32().await?;
            if size < 0 || size as usize > MAX_FRAME {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("an answer of {size} bytes: not a Kafka broker?"),
                ));
            }
            let mut answer = vec![0; size as usize];
            self.stream.read_exact(&mut answer).await?;
            Ok(Bytes::from(answer))
        };
        let mut answer = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| timed_out(broker, &step, self.timeout))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => CheckError::new(format!(
                    "{step} {broker}: the broker closed the connection (it refused the request, \
                     or speaks TLS or SASL where the check did not)"
                )),
                _ => transport_error(broker, &step, &e),
            })?;
        let garbled = |e: &dyn std::fmt::Display| {
            CheckError::new(format!(
                "{step} {broker}: an answer that is not Kafka's ({e}); is it a Kafka port?"
            ))
        };
        let header = ResponseHeader::decode(&mut answer, key.response_header_version(version))
            .map_err(|e| garbled(&e))?;
        if header.correlation_id != id {
            return Err(garbled(&"the answer is to another request"));
        }
        let response = Res::decode(&mut answer, version).map_err(|e| garbled(&e))?;
        let _ = answer.remaining();
        Ok(response)
    }
}

fn timed_out(broker: &str, step: &str, timeout: std::time::Duration) -> CheckError {
    CheckError::new(format!(
        "{step} {broker}: timed out after {}",
        humanize(timeout)
    ))
}

fn humanize(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// A Kafka error code by its protocol name, for the codes a check can meet.
pub(crate) fn error_name(code: i16) -> String {
    let name = match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        15 => "COORDINATOR_NOT_AVAILABLE",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        35 => "UNSUPPORTED_VERSION",
        58 => "SASL_AUTHENTICATION_FAILED",
        _ => return format!("error code {code}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_codes_are_numbered() {
        assert_eq!(super::error_name(58), "SASL_AUTHENTICATION_FAILED");
        assert_eq!(super::error_name(999), "error code 999");
    }
}
