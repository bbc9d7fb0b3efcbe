"""Compatibility module: the Python client is now jobsvc.sdk (jobsvc.sdk.client).

Kept, re-exporting only, so that code written as the README used to show it
(`from jobsvc.client import Client, ClientSecurity`) keeps working; new code imports
from jobsvc.sdk. Nothing in jobsvc imports this module (the layers contract in
pyproject.toml puts it above everything else).
"""

from jobsvc.sdk.client import (
    JOB_ID_METADATA,
    RESUMABLE,
    Client,
    ClientSecurity,
    ErrorDetails,
    JobFailed,
    error_details,
    job_spec,
    payload_value,
    to_payload,
)

__all__ = [
    "JOB_ID_METADATA",
    "RESUMABLE",
    "Client",
    "ClientSecurity",
    "ErrorDetails",
    "JobFailed",
    "error_details",
    "job_spec",
    "payload_value",
    "to_payload",
]
