"""The gRPC API: request validation, protobuf conversion, servicers and error mapping."""
