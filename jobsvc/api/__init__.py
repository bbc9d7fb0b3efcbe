"""The gRPC API: servicers that call jobsvc.app, request checks, auth, telemetry, the
Work-stream transport and error mapping (protobuf conversion is jobsvc.codec's)."""
