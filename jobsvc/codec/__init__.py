"""The one place that converts between protobuf messages and domain objects, shared by
the server (jobsvc.api) and the Python SDK (jobsvc.sdk).

`decode` turns what arrives into domain objects, validating every field so that a bad
request is answered with the path of each bad field; `encode` turns domain objects into
messages. Callers use the names below (`codec.job_to_proto`). It imports only the domain
and the generated messages (an import-linter contract in pyproject.toml).
"""

from jobsvc.codec.decode import (
    bulk_action_from_proto,
    child_state_from_proto,
    created_range_from_proto,
    decode_page_token,
    delay_seconds,
    error_from_proto,
    flow_from_proto,
    handler_from_proto,
    job_filter_from_proto,
    job_id_from_request,
    job_spec_from_proto,
    json_from_value,
    label_filter_from_proto,
    lease_ref_from_request,
    park_from_proto,
    payload_from_proto,
    retry_policy_from_proto,
    schedule_from_proto,
    states_from_proto,
    view_from_proto,
    worker_from_proto,
)
from jobsvc.codec.encode import (
    assignment_to_proto,
    encode_page_token,
    error_to_proto,
    event_to_proto,
    flow_to_proto,
    handler_to_proto,
    job_to_proto,
    json_to_value,
    operation_to_proto,
    pause_to_proto,
    payload_to_proto,
    retry_policy_to_proto,
    schedule_to_proto,
    state_to_proto,
    timestamp_to_proto,
)
from jobsvc.codec.stats import (
    duration_to_proto,
    finished_bucket_to_proto,
    version_stats_to_proto,
    window_from_proto,
)
from jobsvc.codec.worker_directory import worker_session_to_proto
from jobsvc.codec.workflows import step_to_proto, workflow_spec_from_proto, workflow_to_proto

__all__ = [
    "assignment_to_proto",
    "bulk_action_from_proto",
    "child_state_from_proto",
    "created_range_from_proto",
    "decode_page_token",
    "delay_seconds",
    "duration_to_proto",
    "encode_page_token",
    "error_from_proto",
    "error_to_proto",
    "event_to_proto",
    "finished_bucket_to_proto",
    "flow_from_proto",
    "flow_to_proto",
    "handler_from_proto",
    "handler_to_proto",
    "job_filter_from_proto",
    "job_id_from_request",
    "job_spec_from_proto",
    "job_to_proto",
    "json_from_value",
    "json_to_value",
    "label_filter_from_proto",
    "lease_ref_from_request",
    "operation_to_proto",
    "park_from_proto",
    "pause_to_proto",
    "payload_from_proto",
    "payload_to_proto",
    "retry_policy_from_proto",
    "retry_policy_to_proto",
    "schedule_from_proto",
    "schedule_to_proto",
    "state_to_proto",
    "states_from_proto",
    "step_to_proto",
    "timestamp_to_proto",
    "version_stats_to_proto",
    "view_from_proto",
    "window_from_proto",
    "worker_from_proto",
    "worker_session_to_proto",
    "workflow_spec_from_proto",
    "workflow_to_proto",
]
