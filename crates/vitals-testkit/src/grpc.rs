//! A `grpc.health.v1` client for tests: tonic-health's generated client, and `List` (not in
//! tonic-health's types) through vitals-tonic's message types.
use std::{net::SocketAddr, time::Duration};

use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
    health_client::HealthClient,
};
use vitals_tonic::{HealthListRequest, HealthListResponse};

/// A health client connected to `addr` over plain HTTP/2.
pub async fn client(addr: SocketAddr) -> HealthClient<Channel> {
    HealthClient::new(channel(addr).await)
}

async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// `Check(service)`'s status, or the call's error status.
pub async fn status(
    client: &mut HealthClient<Channel>,
    service: &str,
) -> Result<ServingStatus, tonic::Status> {
    check(client, service, None).await
}

/// `Check(service)` with `grpc-timeout`, as Kubernetes' gRPC probe sends it.
pub async fn status_within(
    client: &mut HealthClient<Channel>,
    service: &str,
    timeout: Duration,
) -> Result<ServingStatus, tonic::Status> {
    check(client, service, Some(timeout)).await
}

async fn check(
    client: &mut HealthClient<Channel>,
    service: &str,
    timeout: Option<Duration>,
) -> Result<ServingStatus, tonic::Status> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: service.into(),
    });
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let reply = client.check(request).await?;
    Ok(ServingStatus::try_from(reply.into_inner().status).unwrap())
}

/// `List`: every service the server knows and its status.
pub async fn list(addr: SocketAddr) -> HealthListResponse {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/List");
    grpc.unary(
        tonic::Request::new(HealthListRequest {}),
        path,
        tonic_prost::ProstCodec::default(),
    )
    .await
    .unwrap()
    .into_inner()
}

/// A `Watch(service)` stream, read one status at a time.
pub struct Watch(tonic::Streaming<HealthCheckResponse>);

/// Opens `Watch(service)`.
pub async fn watch(client: &mut HealthClient<Channel>, service: &str) -> Watch {
    let stream = client
        .watch(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner();
    Watch(stream)
}

impl Watch {
    /// The next status pushed, within 20 s (else a panic); `None` once the stream ended.
    pub async fn next_status(&mut self) -> Option<ServingStatus> {
        let message = tokio::time::timeout(Duration::from_secs(20), self.0.message())
            .await
            .expect("a Watch update within 20 s")
            .unwrap();
        message.map(|m| ServingStatus::try_from(m.status).unwrap())
    }
}
