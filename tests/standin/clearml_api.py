"""A stand-in of the ClearML server for tests: its REST API and a files server, on 127.0.0.1.

This is NOT a ClearML server. It exists because none can run here (no MongoDB or Elasticsearch), so that the
pipeline's server path is executed end to end in CI rather than only read against ClearML's sources.

What it does:
- Every call is parsed and answered through the SDK's own schema classes (`clearml.backend_api.services.v2_23`): the
  request is built with `<Action>Request.from_dict` and validated against the request's JSON schema, and the reply
  is built with the mapped `<Action>Response` and validated the same way. A call the SDK makes with a field the real
  schema does not have, or a reply that does not fit the SDK's schema, fails the call (HTTP 400 / 500) and is
  recorded in `errors`.
- Entities (projects, tasks, models, queues) live in memory, with the server's semantics that this pipeline relies
  on: task status transitions, clone (copies hyperparameters, configuration, script, container, output destination
  and input models, as the real server does), `get_all` filtering by id, name (regex), project, tags, system_tags,
  status, type, parent and `only_fields`, hyperparameter and configuration edits, artifacts and model links.
- A folder stands in for the files server: multipart POST stores a file, GET returns it, DELETE removes it.

What it does not model: users, permissions and the web UI; Elasticsearch queries (events are stored, only counted);
queues' workers and agents (a task enqueued stays queued unless a test runs it, e.g. with `clearml-agent execute`);
server-side caching hashes beyond equality of the stored script and parameters; pagination beyond `page_size`.
An endpoint it does not implement answers 400 "not in the stand-in" and is listed in `unknown`.
"""

from __future__ import annotations

import base64
import copy
import importlib
import inspect
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

API_VERSION = "2.23"
SERVER_VERSION = "2.0.0"
_SERVICES = "clearml.backend_api.services.v2_23"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime())


def _schema_classes() -> dict[str, tuple[type, type]]:
    """'service.action' -> (Request class, Response class), from the SDK's own service modules."""
    from clearml.backend_api.session import Request

    found: dict[str, tuple[type, type]] = {}
    package = importlib.import_module(_SERVICES)
    for name in ("auth", "events", "models", "projects", "queues", "tasks", "workers", "organization", "pipelines"):
        try:
            module = importlib.import_module(f"{package.__name__}.{name}")
        except ImportError:
            continue
        mapping = getattr(module, "response_mapping", {})
        for req, resp in mapping.items():
            if inspect.isclass(req) and issubclass(req, Request):
                found[f"{req._service}.{req._action}"] = (req, resp)
    return found


def _json_default(value: Any) -> str:
    """The schema classes parse dates into datetime; the server sends them as ISO text."""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"not JSON: {type(value).__name__}")


def _validate(data: dict, schema: dict) -> None:
    """Validate what is sent against the SDK's JSON schema, with the validator the SDK's own models use."""
    import jsonschema
    from clearml.backend_api.session.datamodel import _CustomValidator

    if _CustomValidator is None:
        jsonschema.validate(data, schema, types={"array": (list, tuple), "integer": (int,)})
    else:
        jsonschema.validate(data, schema, cls=_CustomValidator)


# clearml-server's task status state machine (apiserver/bll/task/utils.py): the changes allowed without `force`.
_TRANSITIONS: dict[str, set[str]] = {
    "created": {"queued", "in_progress"},
    "queued": {"created", "in_progress", "stopped"},
    "in_progress": {"stopped", "failed", "created", "completed"},
    "stopped": {"closed", "created", "failed", "queued", "in_progress", "published", "publishing", "completed"},
    "closed": {"created", "failed", "published", "publishing", "stopped"},
    "failed": {"created", "stopped", "published", "queued"},
    "publishing": {"published"},
    "published": set(),
    "completed": {"published", "in_progress", "created"},
}


class ApiError(Exception):
    def __init__(self, code: int, subcode: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.subcode, self.msg = code, subcode, msg


def _match_tags(have: list[str], wanted: list[str]) -> bool:
    """ClearML tag filters: plain tags must all... any be present; '-tag' excludes; '__$all'/'__$any' switch."""
    mode, inc, exc = "any", [], []
    for t in wanted or []:
        if t in ("__$all", "__$and"):
            mode = "all"
        elif t in ("__$any", "__$or"):
            mode = "any"
        elif t.startswith("-"):
            exc.append(t[1:])
        elif t.startswith("__$not"):
            continue
        else:
            inc.append(t)
    if any(t in have for t in exc):
        return False
    if not inc:
        return True
    return all(t in have for t in inc) if mode == "all" else any(t in have for t in inc)


def _only(entity: dict, fields: list[str] | None) -> dict:
    if not fields:
        return copy.deepcopy(entity)
    out: dict[str, Any] = {"id": entity["id"]}
    for f in fields:  # a MongoDB projection: a missing leaf under an existing parent leaves the parent, empty
        src: Any = entity
        dst = out
        for depth, p in enumerate(f.split(".")):
            if not isinstance(src, dict) or p not in src:
                break
            src = src[p]
            if depth == len(f.split(".")) - 1:
                dst[p] = copy.deepcopy(src)
            else:
                dst = dst.setdefault(p, {})
    return out


def _field(entity: dict, path: str) -> Any:
    """The value at a dotted path ("runtime.pipeline_job_hash"), "" where there is none."""
    value: Any = entity
    for p in path.split("."):
        value = value.get(p, "") if isinstance(value, dict) else ""
    return value


def _page(items: list[dict], r: dict) -> list[dict]:
    """`page`/`page_size` as the server pages (clients loop until a short page); scroll ids are not modelled."""
    if r.get("page_size") is None:
        return items
    page = r.get("page") or 0
    return items[page * r["page_size"] : (page + 1) * r["page_size"]]


def _deep_merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


class StandIn:
    """The API on `api_url`, the files server on `files_url`; `calls` lists every endpoint called, in order."""

    def __init__(self, files_dir: Path) -> None:
        self.files_dir = Path(files_dir)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.schemas = _schema_classes()
        self.projects: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.models: dict[str, dict] = {}
        self.queues: dict[str, dict] = {}
        self.events: list[dict] = []
        self.calls: list[str] = []
        self.unknown: list[str] = []
        self.errors: list[str] = []
        self.uploads: list[str] = []
        self._servers: list[ThreadingHTTPServer] = []
        self.api_url = self._serve(self._api_handler())
        self.files_url = self._serve(self._files_handler())
        self.web_url = self.api_url  # nothing is served there; ClearML only builds links from it
        for name in ("default", "services"):
            self._new_queue(name)

    # --- plumbing ---------------------------------------------------------------------------------------------
    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def close(self) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()

    def env(self) -> dict[str, str]:
        """Environment for a ClearML process talking to this stand-in (no clearml.conf needed)."""
        return {
            "CLEARML_API_HOST": self.api_url,
            "CLEARML_WEB_HOST": self.web_url,
            "CLEARML_FILES_HOST": self.files_url,
            "CLEARML_API_ACCESS_KEY": "standin-access",
            "CLEARML_API_SECRET_KEY": "standin-secret",
            "CLEARML_OFFLINE_MODE": "0",
        }

    def _api_handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = urlparse(self.path).path.strip("/")
                endpoint = path.split("/")[-1]
                status, payload = standin.call(endpoint, body, dict(self.headers))
                raw = json.dumps(payload, default=_json_default).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _handle

        return Handler

    def _files_handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _target(self, *parts: str) -> Path:
                rel = "/".join(p.strip("/") for p in parts if p.strip("/"))
                target = (standin.files_dir / unquote(rel)).resolve()
                if not target.is_relative_to(standin.files_dir.resolve()):
                    raise PermissionError(rel)
                return target

            def _reply(self, status: int, data: bytes = b"") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the SDK reads the head of a file and hangs up (size checks): not an error

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(head + body)
                folder = urlparse(self.path).path
                try:
                    for part in message.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        target = self._target(folder, str(name))
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(part.get_payload(decode=True) or b"")
                        standin.uploads.append(str(target.relative_to(standin.files_dir)))
                except PermissionError:
                    self._reply(403)
                    return
                self._reply(200, b"{}")

            def do_GET(self) -> None:
                try:
                    target = self._target(urlparse(self.path).path)
                except PermissionError:
                    self._reply(403)
                    return
                self._reply(200, target.read_bytes()) if target.is_file() else self._reply(404)

            def do_DELETE(self) -> None:
                target = self._target(urlparse(self.path).path)
                if target.is_file():
                    target.unlink()
                    self._reply(200, b"{}")
                else:
                    self._reply(404)

        return Handler

    # --- dispatch ---------------------------------------------------------------------------------------------
    def call(self, endpoint: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
        meta = {
            "id": uuid.uuid4().hex,
            "trx": uuid.uuid4().hex,
            "endpoint": {"name": endpoint, "requested_version": API_VERSION, "actual_version": API_VERSION},
            "result_code": 200,
            "result_subcode": 0,
            "result_msg": "OK",
            "error_stack": "",
        }
        with self.lock:
            self.calls.append(endpoint)
            try:
                data = self._dispatch(endpoint, body, headers)
            except (KeyError, TypeError, ValueError, StopIteration) as e:  # a stand-in bug: fail the call, loudly
                self.errors.append(f"{endpoint}: stand-in error {e.__class__.__name__}: {e}")
                meta |= {"result_code": 400, "result_subcode": 999, "result_msg": f"stand-in error: {e}"}
                return 400, {"meta": meta, "data": {}}
            except ApiError as e:
                meta |= {"result_code": e.code, "result_subcode": e.subcode, "result_msg": e.msg}
                if e.subcode == 999:
                    self.errors.append(f"{endpoint}: {e.msg}")
                return e.code, {"meta": meta, "data": {}}
        return 200, {"meta": meta, "data": data}

    def _dispatch(self, endpoint: str, body: bytes, headers: dict[str, str]) -> dict:
        if endpoint == "debug.ping":
            return {"msg": "ClearML server stand-in"}
        if endpoint == "auth.login":
            return self._login(headers)
        if endpoint == "events.add_batch":
            return self._events_add_batch(body)
        if endpoint.startswith("workers."):  # not modelled: clearml-agent's own reports (it sends floats where the
            return {"workers": []} if endpoint == "workers.get_all" else {}  # schema says integer) are accepted
        handler: Callable[[dict], dict] | None = getattr(self, "h_" + endpoint.replace(".", "__"), None)
        classes = self.schemas.get(endpoint)
        if handler is None or classes is None:
            self.unknown.append(endpoint)
            raise ApiError(400, 0, f"{endpoint} is not in the stand-in")
        req_cls, resp_cls = classes
        try:
            raw = json.loads(body or b"{}")
            raw.pop("method", None)  # the SDK serialises its Request's HTTP method into the body; the server ignores it
            request = req_cls.from_dict(raw)
            request.validate()
        except Exception as e:  # the SDK sent what the real schema refuses
            self.errors.append(f"{endpoint}: request refused by the schema: {e}")
            raise ApiError(400, 999, f"invalid request for {endpoint}: {e}") from e
        data = handler(raw)
        try:
            out: dict = json.loads(json.dumps(resp_cls.from_dict(data).to_dict(), default=_json_default))
            _validate(out, resp_cls._schema)
        except Exception as e:  # the stand-in answered what the SDK's schema refuses: a stand-in bug
            raise ApiError(400, 999, f"stand-in reply for {endpoint} does not fit the schema: {e}") from e
        return out

    def _login(self, headers: dict[str, str]) -> dict:
        import jwt

        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if auth.startswith("Basic "):
            key, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            if (key, secret) != ("standin-access", "standin-secret"):
                raise ApiError(401, 20, "Unauthorized (invalid credentials)")
        claims = {
            "api_version": API_VERSION,
            "server_version": SERVER_VERSION,
            "feature_set": "basic",
            "identity": {"user": "standin-user", "company": "standin", "role": "user"},
            "env": "test",
            "exp": int(time.time()) + 3600 * 24,
        }
        return {"token": jwt.encode(claims, "stand-in signing key, not a secret: tests only", algorithm="HS256")}

    def _events_add_batch(self, body: bytes) -> dict:
        events = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        self.events.extend(events)
        return {"added": len(events), "errors": 0, "errors_info": {}}

    # --- projects ---------------------------------------------------------------------------------------------
    def h_projects__create(self, r: dict) -> dict:
        pid = uuid.uuid4().hex
        self.projects[pid] = {
            "id": pid,
            "name": r["name"],
            "description": r.get("description", ""),
            "tags": r.get("tags") or [],
            "system_tags": r.get("system_tags") or [],
            "default_output_destination": r.get("default_output_destination"),
            "created": _now(),
        }
        return {"id": pid}

    def h_projects__get_all(self, r: dict) -> dict:
        out = [
            p
            for p in self.projects.values()
            if (not r.get("id") or p["id"] in r["id"])
            and (not r.get("name") or re.search(r["name"], p["name"]))
            and _match_tags(p["system_tags"], r.get("system_tags") or [])
        ]
        return {"projects": [_only(p, r.get("only_fields")) for p in _page(out, r)]}

    def h_projects__get_by_id(self, r: dict) -> dict:
        if r["project"] not in self.projects:
            raise ApiError(400, 101, f"invalid project id {r['project']}")
        return {"project": self.projects[r["project"]]}

    def h_projects__update(self, r: dict) -> dict:
        p = self.projects[r["project"]]
        for k in ("name", "description", "tags", "system_tags", "default_output_destination"):
            if k in r:
                p[k] = r[k]
        return {"updated": 1, "fields": {}}

    # --- queues -----------------------------------------------------------------------------------------------
    def _new_queue(self, name: str) -> str:
        qid = uuid.uuid4().hex
        self.queues[qid] = {"id": qid, "name": name, "entries": [], "tags": [], "system_tags": [], "created": _now()}
        return qid

    def h_queues__get_all(self, r: dict) -> dict:
        out = [
            q
            for q in self.queues.values()
            if (not r.get("id") or q["id"] in r["id"]) and (not r.get("name") or re.search(r["name"], q["name"]))
        ]
        return {"queues": [_only(q, r.get("only_fields")) for q in out]}

    def h_queues__get_default(self, r: dict) -> dict:
        q = next(q for q in self.queues.values() if q["name"] == "default")
        return {"id": q["id"], "name": q["name"]}

    def h_queues__create(self, r: dict) -> dict:
        return {"id": self._new_queue(r["name"])}

    # --- tasks ------------------------------------------------------------------------------------------------
    def _task(self, tid: str) -> dict:
        if tid not in self.tasks:
            raise ApiError(400, 101, f"invalid task id {tid}")
        return self.tasks[tid]

    def h_tasks__create(self, r: dict) -> dict:
        tid = uuid.uuid4().hex
        task = {
            "id": tid,
            "name": r["name"],
            "type": r.get("type", "training"),
            "status": "created",
            "status_reason": "",
            "status_message": "",
            "comment": r.get("comment", ""),
            "created": _now(),
            "last_update": _now(),
            "user": "standin-user",
            "company": "standin",
            "project": r.get("project"),
            "parent": r.get("parent"),
            "tags": r.get("tags") or [],
            "system_tags": r.get("system_tags") or [],
            "script": r.get("script") or {},
            "execution": r.get("execution") or {},
            "output": r.get("output") or {},
            "hyperparams": r.get("hyperparams") or {},
            "configuration": r.get("configuration") or {},
            "models": r.get("models") or {"input": [], "output": []},
            "container": r.get("container") or {},
            "runtime": {},
            "last_iteration": 0,
        }
        self.tasks[tid] = task
        return {"id": tid}

    def h_tasks__get_by_id(self, r: dict) -> dict:
        return {"task": copy.deepcopy(self._task(r["task"]))}

    def h_tasks__get_all(self, r: dict) -> dict:
        def keep(t: dict) -> bool:
            checks = [
                not r.get("id") or t["id"] in r["id"],
                not r.get("name") or re.search(r["name"], t["name"]) is not None,
                not r.get("project") or t.get("project") in r["project"],
                not r.get("status") or t["status"] in r["status"],
                not r.get("type") or t["type"] in [x.lstrip("-") for x in r["type"]] or r["type"][0].startswith("-"),
                not r.get("parent") or t.get("parent") == r["parent"],
                _match_tags(t["tags"], r.get("tags") or []),
                _match_tags(t["system_tags"], r.get("system_tags") or []),
            ]
            for key, combine in (("_all_", all), ("_any_", any)):
                if r.get(key):
                    pattern, fields = r[key].get("pattern", ""), r[key].get("fields", [])
                    checks.append(combine(re.search(pattern, str(_field(t, f))) is not None for f in fields))
            return all(checks)

        found = [t for t in self.tasks.values() if keep(t)]
        order = (r.get("order_by") or ["-last_update"])[0]
        found.sort(key=lambda t: str(t.get(order.lstrip("-"), "")), reverse=order.startswith("-"))
        return {"tasks": [_only(t, r.get("only_fields")) for t in _page(found, r)]}

    def _edit(self, t: dict, r: dict, fields: tuple[str, ...]) -> None:
        for k in fields:
            if k in r and r[k] is not None:
                if isinstance(r[k], dict) and isinstance(t.get(k), dict) and k in ("script", "execution", "output"):
                    _deep_merge(t[k], r[k])
                else:
                    t[k] = copy.deepcopy(r[k])
        t["last_update"] = _now()

    _EDITABLE = (
        "name",
        "type",
        "comment",
        "tags",
        "system_tags",
        "parent",
        "project",
        "script",
        "execution",
        "output",
        "hyperparams",
        "configuration",
        "models",
        "container",
        "runtime",
    )

    def h_tasks__edit(self, r: dict) -> dict:
        t = self._task(r["task"])
        if t["status"] not in ("created",) and not r.get("force"):
            raise ApiError(400, 110, f"task {t['id']} is {t['status']}: only a draft can be edited")
        for k in ("script", "execution", "output"):  # edit replaces these sections, as the server does
            if k in r and r[k] is not None:
                t[k] = {}
        self._edit(t, r, self._EDITABLE)
        if r.get("output_dest") is not None:  # the server moves output_dest to output.destination
            t.setdefault("output", {})["destination"] = r["output_dest"]
        return {"updated": 1, "fields": {}}

    def h_tasks__update(self, r: dict) -> dict:
        t = self._task(r["task"])
        self._edit(t, r, ("name", "comment", "tags", "system_tags", "project", "output__error"))
        return {"updated": 1, "fields": {}}

    def h_tasks__update_batch(self, r: dict) -> dict:
        return {"updated": 0}

    def _status(self, r: dict, status: str) -> dict:
        """A status change, refused as clearml-server refuses it (apiserver/bll/task/utils.py, state_machine)
        unless forced; the same status again is allowed."""
        t = self._task(r["task"])
        if not r.get("force") and status != t["status"] and status not in _TRANSITIONS.get(t["status"], set()):
            raise ApiError(400, 110, f"Invalid status change: {t['status']} -> {status}")
        t["status"], t["status_reason"] = status, r.get("status_reason") or ""
        t["status_message"] = r.get("status_message") or ""
        if status == "in_progress":
            t["started"] = _now()
        if status in ("completed", "failed", "stopped", "published", "closed"):
            t["completed"] = _now()
        t["last_update"] = _now()
        return {"updated": 1, "fields": {"status": status}}

    def h_tasks__started(self, r: dict) -> dict:
        return self._status(r, "in_progress") | {"started": 1}

    def h_tasks__completed(self, r: dict) -> dict:
        return self._status(r, "completed")

    def h_tasks__failed(self, r: dict) -> dict:
        return self._status(r, "failed")

    def h_tasks__stopped(self, r: dict) -> dict:
        return self._status(r, "stopped")

    def h_tasks__stop(self, r: dict) -> dict:
        return self._status(r, "stopped")

    def h_tasks__close(self, r: dict) -> dict:
        return self._status(r, "closed")

    def h_tasks__publish(self, r: dict) -> dict:
        return self._status(r, "published")

    def h_tasks__mark_as_failed(self, r: dict) -> dict:
        return self._status(r, "failed")

    def h_tasks__reset(self, r: dict) -> dict:
        t = self._task(r["task"])
        t["status"] = "created"
        t["models"]["output"] = []
        t["execution"]["artifacts"] = []
        return {"updated": 1, "fields": {}, "dequeued": {}, "events": {}, "deleted_models": 0, "urls": {}}

    def h_tasks__dequeue(self, r: dict) -> dict:
        t = self._task(r["task"])
        t["status"] = "created"
        return {"updated": 1, "fields": {}, "dequeued": 1}

    def h_tasks__enqueue(self, r: dict) -> dict:
        t = self._task(r["task"])
        queue = r.get("queue") or next(q["id"] for q in self.queues.values() if q["name"] == "default")
        if r.get("queue_name"):
            queue = next((q["id"] for q in self.queues.values() if q["name"] == r["queue_name"]), None) or (
                self._new_queue(r["queue_name"])
            )
        self.queues[queue]["entries"].append({"task": t["id"], "added": _now()})
        t["status"], t["execution"]["queue"] = "queued", queue
        return {"updated": 1, "fields": {}, "queued": 1}

    def h_tasks__ping(self, r: dict) -> dict:
        return {}

    def h_tasks__set_requirements(self, r: dict) -> dict:
        t = self._task(r["task"])
        t["script"]["requirements"] = r.get("requirements") or {}
        return {"updated": 1, "fields": {}}

    def h_tasks__clone(self, r: dict) -> dict:
        """As clearml-server's TaskBLL.clone_task: script, container, configuration, hyperparameters, the output
        destination (only) and the input models are copied; output artifacts, the queue and outputs are not."""
        src = self._task(r["task"])
        tid = uuid.uuid4().hex
        hidden = ("development", "archived")
        execution = copy.deepcopy(src.get("execution") or {})
        execution.pop("queue", None)
        execution["artifacts"] = [a for a in execution.get("artifacts") or [] if a.get("mode") == "input"]
        execution.update(r.get("execution_overrides") or {})
        hyperparams = copy.deepcopy(r.get("new_task_hyperparams") or src.get("hyperparams") or {})
        configuration = copy.deepcopy(r.get("new_task_configuration") or src.get("configuration") or {})
        inputs = r.get("new_task_input_models") or src.get("models", {}).get("input", [])
        self.tasks[tid] = {
            "id": tid,
            "name": r.get("new_task_name") or src["name"],
            "type": src["type"],
            "status": "created",
            "status_reason": "",
            "status_message": "",
            "comment": r.get("new_task_comment") or src.get("comment", ""),
            "created": _now(),
            "last_update": _now(),
            "user": "standin-user",
            "company": "standin",
            "project": r.get("new_task_project") or src.get("project"),
            "parent": r.get("new_task_parent") or src.get("parent") or src["id"],
            "tags": r.get("new_task_tags") or src["tags"],
            "system_tags": r.get("new_task_system_tags") or [t for t in src["system_tags"] if t not in hidden],
            "script": copy.deepcopy(src.get("script") or {}),
            "execution": execution,
            "output": {"destination": src["output"]["destination"]} if src.get("output", {}).get("destination") else {},
            "hyperparams": hyperparams,
            "configuration": configuration,
            "models": {"input": copy.deepcopy(inputs), "output": []},
            "container": copy.deepcopy(r.get("new_task_container") or src.get("container") or {}),
            "runtime": {},
            "last_iteration": 0,
        }
        return {"id": tid, "new_project": {}}

    # hyperparameters and configuration, as sections of {name: {section, name, value, type, description}}
    def h_tasks__edit_hyper_params(self, r: dict) -> dict:
        t = self._task(r["task"])
        if r.get("replace_hyperparams") == "all":
            t["hyperparams"] = {}
        for p in r["hyperparams"]:
            section = t["hyperparams"].setdefault(p.get("section") or "General", {})
            if r.get("replace_hyperparams") == "section":
                section.clear()
            section[p["name"]] = {k: p[k] for k in ("section", "name", "value", "type", "description") if k in p}
        return {"updated": 1}

    def h_tasks__delete_hyper_params(self, r: dict) -> dict:
        t = self._task(r["task"])
        for p in r["hyperparams"]:
            if p.get("name"):
                t["hyperparams"].get(p["section"], {}).pop(p["name"], None)
            else:
                t["hyperparams"].pop(p["section"], None)
        return {"deleted": 1}

    def h_tasks__get_hyper_params(self, r: dict) -> dict:
        out = []
        for tid in r["tasks"]:
            params = [dict(v) for sec in self._task(tid)["hyperparams"].values() for v in sec.values()]
            out.append({"task": tid, "hyperparams": params})
        return {"params": out}

    def h_tasks__edit_configuration(self, r: dict) -> dict:
        t = self._task(r["task"])
        if r.get("replace_configuration"):
            t["configuration"] = {}
        for c in r["configuration"]:
            t["configuration"][c["name"]] = {k: c[k] for k in ("name", "value", "type", "description") if k in c}
        return {"updated": 1}

    def h_tasks__get_configurations(self, r: dict) -> dict:
        out = []
        for tid in r["tasks"]:
            conf = self._task(tid)["configuration"]
            names = r.get("names") or list(conf)
            out.append({"task": tid, "configuration": [conf[n] for n in names if n in conf]})
        return {"configurations": out}

    def h_tasks__get_configuration_names(self, r: dict) -> dict:
        return {"configurations": [{"task": t, "names": list(self._task(t)["configuration"])} for t in r["tasks"]]}

    def h_tasks__add_or_update_artifacts(self, r: dict) -> dict:
        t = self._task(r["task"])
        arts = {(a["key"], a.get("mode", "output")): a for a in t["execution"].get("artifacts") or []}
        for a in r["artifacts"]:
            arts[(a["key"], a.get("mode", "output"))] = a
        t["execution"]["artifacts"] = list(arts.values())
        return {"updated": len(r["artifacts"])}

    def h_tasks__delete_artifacts(self, r: dict) -> dict:
        t = self._task(r["task"])
        keys = {a["key"] for a in r["artifacts"]}
        t["execution"]["artifacts"] = [a for a in t["execution"].get("artifacts") or [] if a["key"] not in keys]
        return {"deleted": len(keys)}

    def h_tasks__add_or_update_model(self, r: dict) -> dict:
        t = self._task(r["task"])
        kind = r["type"]
        models = [m for m in t["models"].get(kind, []) if m["name"] != r["name"]]
        models.append({"name": r["name"], "model": r["model"]})
        t["models"][kind] = models
        return {"updated": 1}

    def h_tasks__delete_models(self, r: dict) -> dict:
        t = self._task(r["task"])
        for m in r["models"]:
            t["models"][m["type"]] = [x for x in t["models"].get(m["type"], []) if x["name"] != m["name"]]
        return {"updated": 1}

    # --- models -----------------------------------------------------------------------------------------------
    def _model(self, mid: str) -> dict:
        if mid not in self.models:
            raise ApiError(400, 201, f"invalid model id {mid}")
        return self.models[mid]

    def h_models__create(self, r: dict) -> dict:
        mid = uuid.uuid4().hex
        m = {k: copy.deepcopy(v) for k, v in r.items()}
        m |= {"id": mid, "created": _now(), "last_update": _now(), "user": "standin-user", "company": "standin"}
        m.setdefault("ready", False)
        m.setdefault("tags", [])
        m.setdefault("system_tags", [])
        self.models[mid] = m
        if r.get("task"):
            self.h_tasks__add_or_update_model({"task": r["task"], "name": r["name"], "model": mid, "type": "output"})
        return {"id": mid, "created": True}

    def h_models__get_by_id(self, r: dict) -> dict:
        return {"model": copy.deepcopy(self._model(r["model"]))}

    def h_models__get_all(self, r: dict) -> dict:
        found = [
            m
            for m in self.models.values()
            if (not r.get("id") or m["id"] in r["id"])
            and (not r.get("name") or re.search(r["name"], m["name"]))
            and (not r.get("project") or m.get("project") in r["project"])
            and (not r.get("task") or m.get("task") in r["task"])
            and _match_tags(m["tags"], r.get("tags") or [])
            and (r.get("ready") is None or m["ready"] == r["ready"])
        ]
        return {"models": [_only(m, r.get("only_fields")) for m in _page(found, r)]}

    def _model_edit(self, r: dict) -> dict:
        m = self._model(r["model"])
        for k, v in r.items():
            if k != "model" and v is not None:
                m[k] = copy.deepcopy(v)
        m["last_update"] = _now()
        return {"updated": 1, "fields": {}}

    h_models__edit = _model_edit
    h_models__update = _model_edit

    def h_models__set_ready(self, r: dict) -> dict:
        self._model(r["model"])["ready"] = True
        return {"updated": 1, "published_task": {}}

    def h_models__update_for_task(self, r: dict) -> dict:
        t = self._task(r["task"])
        if r.get("override_model_id"):
            mid = r["override_model_id"]
        else:
            mid = self.h_models__create(
                {"name": r.get("name") or t["name"], "uri": r.get("uri"), "task": t["id"], "project": t["project"]}
            )["id"]
        m = self._model(mid)
        for k in ("uri", "name", "comment", "tags", "system_tags"):
            if r.get(k) is not None:
                m[k] = r[k]
        return {"id": mid, "created": not r.get("override_model_id"), "updated": 1, "fields": {}}

    def h_models__add_or_update_metadata(self, r: dict) -> dict:
        m = self._model(r["model"])
        meta = {x["key"]: x for x in (m.get("metadata") or {}).values()} if isinstance(m.get("metadata"), dict) else {}
        for x in r["metadata"]:
            meta[x["key"]] = x
        m["metadata"] = meta
        return {"updated": 1}

    def h_models__get_frameworks(self, r: dict) -> dict:
        return {"frameworks": []}

    # --- events -----------------------------------------------------------------------------------------------
    def h_events__get_task_log(self, r: dict) -> dict:
        return {"events": [], "returned": 0, "total": 0}

    def h_events__get_task_events(self, r: dict) -> dict:
        return {"events": [], "returned": 0, "total": 0, "scroll_id": ""}

    def h_events__get_scalar_metrics_and_variants(self, r: dict) -> dict:
        return {"metrics": {}}

    def h_events__scalar_metrics_iter_histogram(self, r: dict) -> dict:
        return {"images": []}

    def h_events__get_task_metrics(self, r: dict) -> dict:
        return {"metrics": []}

    def h_events__get_task_latest_scalar_values(self, r: dict) -> dict:
        return {"metrics": []}

    def h_events__get_task_plots(self, r: dict) -> dict:
        return {"plots": [], "returned": 0, "total": 0, "scroll_id": ""}
