"""The official gRPC health client (grpcio-health-checking) against ADDR: prints one JSON
object with Check's answer per service, the first Watch message of "", and List's names."""
import json
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

addr, services = sys.argv[1], sys.argv[2:]
name = health_pb2.HealthCheckResponse.ServingStatus.Name
out = {"check": {}, "watch": None, "list": {}}
with grpc.insecure_channel(addr) as channel:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in services:
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            out["check"][service] = name(reply.status)
        except grpc.RpcError as error:
            out["check"][service] = error.code().name
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
    out["watch"] = name(next(stream).status)
    stream.cancel()
    listed = stub.List(health_pb2.HealthListRequest(), timeout=5)
    out["list"] = {key: name(value.status) for key, value in listed.statuses.items()}
print(json.dumps(out))
