"""Is a ClearML server configured and reachable, and which queues have workers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


OFFLINE_ENV = "CLEARML_OFFLINE_MODE"


class ServerUnreachable(RuntimeError):
    """A ClearML server is configured but does not answer."""


def _config_files() -> list[Path]:
    env = os.environ.get("CLEARML_CONFIG_FILE") or os.environ.get("TRAINS_CONFIG_FILE")
    if env:
        return [Path(env).expanduser()]
    return [Path("~/clearml.conf").expanduser(), Path("~/.clearml.conf").expanduser()]


def api_host() -> str | None:
    """The configured API server (CLEARML_API_HOST, else clearml.conf's api.api_server), or None."""
    host = os.environ.get("CLEARML_API_HOST") or os.environ.get("TRAINS_API_HOST")
    if host:
        return host.rstrip("/")
    for f in _config_files():
        if f.is_file():
            from clearml.backend_config.config import ConfigFactory  # pyhocon, vendored by clearml

            try:
                host = ConfigFactory.parse_file(str(f)).get("api.api_server", None)
            except Exception as e:  # pyhocon raises many types; a broken file must not pass silently
                raise ValueError(f"cannot parse ClearML config {f}: {e}") from e
            if host:
                return str(host).rstrip("/")
    return None


def offline_forced() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def server_configured() -> bool:
    """True when a server is configured and offline mode is not forced."""
    return not offline_forced() and api_host() is not None


def check_server(timeout: float = 10.0) -> str:
    """Ping the configured API server; raise ServerUnreachable with what to do when it does not answer."""
    import requests

    host = api_host()
    if host is None:
        raise ServerUnreachable("no ClearML server configured (clearml.conf or CLEARML_API_HOST)")
    try:
        r = requests.get(f"{host}/debug.ping", timeout=timeout)
        r.raise_for_status()
    except requests.RequestException as e:
        raise ServerUnreachable(
            f"the ClearML server configured at {host} is unreachable ({e.__class__.__name__}: {e}). "
            "Start it (docker/README.md), fix api.api_server in clearml.conf / CLEARML_API_HOST, "
            f"or run offline with {OFFLINE_ENV}=1."
        ) from e
    return host


def queue_workers(queue: str) -> int | None:
    """Number of agents serving `queue` (None when the server cannot tell)."""
    try:
        from clearml.backend_api.session.client import APIClient

        client = APIClient()
        found = [q for q in client.queues.get_all(name=f"^{queue}$") if q.name == queue]
        if not found:
            return 0
        qid = found[0].id
        return sum(any(getattr(q, "id", None) == qid for q in (w.queues or [])) for w in client.workers.get_all())
    except Exception as e:  # best effort: a warning, never a failure
        log.debug("cannot list workers of queue %s: %s", queue, e)
        return None
