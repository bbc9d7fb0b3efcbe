"""Handler invocation, shared by the in-process executor (jobsvc.executor) and the remote
Python worker (jobsvc.sdk): running one attempt (`invoke`) and moving values between
handlers and payloads (`payloads`). It knows neither the store nor gRPC, so the SDK can
use it without the server (an import-linter contract in pyproject.toml).
"""
