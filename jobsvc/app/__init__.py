"""Use cases without gRPC: what the API, the executor and worker sessions share."""
