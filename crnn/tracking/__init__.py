"""ClearML plumbing: server checks, the offline store, the step runner, the Tracker and Lightning reporting.

The pipeline's entry points are re-exported here; the rest lives in the submodules.
"""

from crnn.tracking.server import (
    OFFLINE_ENV,
    ServerUnreachable,
    api_host,
    check_server,
    queue_workers,
    server_configured,
)
from crnn.tracking.steps import StepFailed

__all__ = [
    "OFFLINE_ENV",
    "ServerUnreachable",
    "StepFailed",
    "api_host",
    "check_server",
    "queue_workers",
    "server_configured",
]
