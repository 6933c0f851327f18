"""docker/docker-compose.yml against the official clearml-server compose it follows (docker/official-versions.yml)."""

from __future__ import annotations

from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def test_the_server_stack_runs_the_official_images():
    official = yaml.safe_load((DOCKER / "official-versions.yml").read_text())
    services = _compose()["services"]
    assert {name: services[name]["image"] for name in official["images"]} == official["images"]


def test_elasticsearch_8_settings_only():
    """ES 8 refuses to start with the ES 7 settings `discovery.zen.*`, `xpack.monitoring.*` and `node.ingest`."""
    env = _compose()["services"]["elasticsearch"]["environment"]
    refused = [k for k in env if k.startswith(("discovery.zen.", "xpack.monitoring.")) or k == "node.ingest"]
    assert refused == [] and env["discovery.type"] == "single-node"


def test_every_agent_uploads_to_one_files_host_everyone_can_reach():
    """An agent told `http://fileserver:8081` stores every URL under a name only the compose network resolves."""
    services = _compose()["services"]
    agents = {n: s for n, s in services.items() if n.startswith("agent-")}
    assert set(agents) == {"agent-services", "agent-gpu", "agent-cpu"}
    for name, agent in agents.items():
        files = agent["environment"]["CLEARML_FILES_HOST"]
        assert files.startswith("${CLEARML_FILES_HOST"), (name, files)
    env = (DOCKER / ".env.example").read_text()
    assert "CLEARML_FILES_HOST=http://" in env and "127.0.0.1" not in env.split("CLEARML_FILES_HOST=")[1].split()[0]


def test_the_services_agent_starts_its_containers_on_the_server_network():
    compose = _compose()
    args = compose["services"]["agent-services"]["environment"]["CLEARML_AGENT_EXTRA_DOCKER_ARGS"]
    network = args.split("--network", 1)[1].split()[0]
    assert network == compose["networks"]["backend"]["name"]
