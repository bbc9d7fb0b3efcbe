"""The API over HTTP (the Connect protocol, JSON or binary protobuf) and the dashboard that uses it."""
