"""ClearML plumbing: server checks, the offline store, step runner, Tracker and Lightning reporting."""

from crnn.tracking.lightning import lightning_reporting
from crnn.tracking.params import INPUTS, OUTPUTS, flatten, unflatten
from crnn.tracking.server import (
    OFFLINE_ENV,
    ServerUnreachable,
    api_host,
    check_server,
    offline_forced,
    queue_workers,
    server_configured,
)
from crnn.tracking.steps import StepFailed, StepOutcome, run_step, step_main
from crnn.tracking.store import LocalStore, content_id, folder_manifest
from crnn.tracking.tracker import Tracker, start_step

__all__ = [
    "INPUTS",
    "LocalStore",
    "OFFLINE_ENV",
    "OUTPUTS",
    "ServerUnreachable",
    "StepFailed",
    "StepOutcome",
    "Tracker",
    "api_host",
    "check_server",
    "content_id",
    "flatten",
    "folder_manifest",
    "lightning_reporting",
    "offline_forced",
    "queue_workers",
    "run_step",
    "server_configured",
    "start_step",
    "step_main",
    "unflatten",
]
