"""The compose stack and the Kubernetes fleet run with TLS, API keys and a Redis password,
all from mounted secret files; the sidecar keeps its plaintext Unix socket
(tests/deploy/test_manifests.py checks that one).

Read from the files, without Docker or a cluster:

- no secret is written in any deployment file (no key, password, PEM block, nor a
  secret-named variable with a value), and the secret folder of docker/dev-certs.sh stays
  out of git and of the image's build context;
- the API of each deployment listens beyond loopback (gRPC and HTTP) only with TLS and
  authentication,
  its certificate, key and API keys are files mounted from secrets, its config file is
  docker/runwire.toml mounted read-only; a worker mounts only the Redis password; Redis reads
  its password from a secret file and keeps an append-only file on a persistent volume that
  only Runwire reaches; the API and the workers read the same file
  (RUNWIRE_REDIS_PASSWORD_FILE), and no Redis URL holds a password;
- the fleet mounts only Secret keys its header's ``kubectl create secret`` commands make.

Then rehearsed, for each deployment: docker/dev-certs.sh makes the secrets; Redis and the
API start with the deployment's own command lines, environment and config file (container
paths moved under a temporary folder, Temporal left out, ports chosen free); the API's
health probe answers SERVING on its Unix socket (compose) or the kubelet's HTTPS GET of
/readyz (the fleet); a TLS client with an API key works, without one it gets UNAUTHENTICATED,
with too few roles PERMISSION_DENIED, and a plaintext client does not connect, over gRPC and
over the HTTP listener (Connect with JSON, as curl calls it); Redis refuses calls without
the password, has the append-only file on, and holds what the API wrote; the worker's
settings build stores that reach it (``runwire_server.app.wiring.build_stores``, as
``runwire worker`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import re
import shlex
import socket
import ssl
import stat
import subprocess
import tempfile
import tomllib
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import grpc
import pytest
import redis.asyncio as redis
from cryptography import x509
from runwire import Stubs
from runwire.v1 import agent_pb2

from runwire_server.app.config import Settings, load_settings
from runwire_server.app.tls import is_local_address
from runwire_server.app.wiring import build_stores
from runwire_server.service.stores.redis_client import reply
from tests.deploy.test_manifests import (
    BIN,
    COMPOSE,
    DEPLOY_FILES,
    DOCKERIGNORE,
    FLEET,
    ROOT,
    RUNWIRE,
    DockerIgnore,
    compose_argv,
    compose_env,
    connect_json,
    final_image,
    http_get,
    http_listen_addresses,
    k8s_documents,
    listen_addresses,
    load_compose,
    option_values,
    port_of,
    settings_from,
)
from tests.support import polls, status_details, unique

DEV_CERTS = ROOT / "docker" / "dev-certs.sh"
CONFIG_TOML = ROOT / "docker" / "runwire.toml"
SECRETS_FOLDER = ROOT / "docker" / "secrets"
SECRET_FILES = [*DEPLOY_FILES, CONFIG_TOML, DEV_CERTS]
DEPLOYMENTS = ["compose", "fleet"]
#: The file of docker/dev-certs.sh that stands for each key of the fleet's Secrets.
DEV_FILE_OF_SECRET_KEY = {
    ("runwire-tls", "tls.crt"): "tls.crt",
    ("runwire-tls", "tls.key"): "tls.key",
    ("runwire-tls", "ca.crt"): "ca.crt",
    ("runwire-api-keys", "api-key-ops"): "api-key-ops",
    ("runwire-api-keys", "api-key-app"): "api-key-app",
    ("redis-auth", "password"): "redis-password",
}
#: How long a started process may take to print its first line.
START_SECONDS = 60.0

# --------------------------------------------------------------------------- the parts


@dataclass(frozen=True)
class Mounted:
    """A file a container sees.

    Attributes:
        path: Its path in the container.
        secret: Where it comes from when a secret holds it: ``SECRET/KEY`` (Kubernetes)
            or the compose secret's name.
        text: Its content, when the deployment file or docker/ holds it (a ConfigMap, a
            compose config).
        dev_file: The docker/dev-certs.sh file that stands for it, for a secret.
        read_only: Whether the container can only read it.
    """

    path: str
    secret: str | None = None
    text: str | None = None
    dev_file: str | None = None
    read_only: bool = True


@dataclass
class Part:
    """One container of a deployment: how it starts and what it mounts.

    Attributes:
        where: Names it in messages.
        argv: Its process's command line (entrypoint and command resolved).
        env: Its environment (the image's and its own).
        files: The files it mounts, by path in the container.
        volumes: Its folders, by path in the container: ``persistent`` (a volume that
            outlives the container) or ``ephemeral``.
        probe: The command its health check or probe runs, if any.
        http_probe: Its readiness probe's HTTP GET, if it has one: ``path``, ``scheme``
            and ``port`` (the container port's number).
        exposed: Whether a port of it is published outside its deployment's network.
    """

    where: str
    argv: list[str]
    env: dict[str, str]
    files: dict[str, Mounted] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    probe: list[str] = field(default_factory=list)
    http_probe: dict[str, Any] = field(default_factory=dict)
    exposed: bool = False


def compose_parts() -> dict[str, Part]:
    """The ``api`` (service runwire), ``worker`` and ``redis`` of docker/compose.yaml."""
    compose, image = load_compose(), final_image()
    parts = {}
    for role, name in (("api", "runwire"), ("worker", "worker"), ("redis", "redis")):
        service = compose["services"][name]
        if role == "redis":
            # The redis image's entrypoint runs a command that is not `redis-server` as is.
            argv, env = list(service["command"]), compose_env(service)
        else:
            argv, env = compose_argv(service, image), image.env | compose_env(service)
        part = Part(f"compose service {name}", argv, env, exposed=bool(service.get("ports")))
        for item in service.get("configs", []):
            source, target = item["source"], item.get("target", f"/{item['source']}")
            text = (COMPOSE.parent / compose["configs"][source]["file"]).read_text()
            part.files[target] = Mounted(target, text=text)
        for item in service.get("secrets", []):
            source = item if isinstance(item, str) else item["source"]
            target = item.get("target", source) if isinstance(item, dict) else source
            path = target if target.startswith("/") else f"/run/secrets/{target}"
            dev_file = Path(compose["secrets"][source]["file"]).name
            part.files[path] = Mounted(path, secret=source, dev_file=dev_file)
        for volume in service.get("volumes", []):
            source, _, target = volume.partition(":")
            kind = "persistent" if source in compose.get("volumes", {}) else "ephemeral"
            part.volumes[target.split(":")[0]] = kind
        test = service.get("healthcheck", {}).get("test", [])
        if role == "api" and not test:
            part.probe = image.healthcheck  # the image's HEALTHCHECK
        parts[role] = part
    return parts


def fleet_parts() -> dict[str, Part]:
    """The ``api``, ``worker`` and ``redis`` containers of docker/k8s/fleet.yaml."""
    documents = k8s_documents(FLEET)
    image = final_image()
    config_maps = {d["metadata"]["name"]: d["data"] for d in documents if d["kind"] == "ConfigMap"}
    roles = {"runwire-api": "api", "runwire-worker": "worker", "redis": "redis"}
    parts = {}
    for document in documents:
        if document["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = document["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(config_maps[source["configMapRef"]["name"]])
        env.update({item["name"]: item["value"] for item in container.get("env", [])})
        if "command" in container:
            argv = [*container["command"], *container.get("args", [])]
        else:
            argv = [*image.entrypoint, *container.get("args", image.cmd)]
        runwire_image = container["image"].startswith("runwire:")
        where = f"fleet.yaml {document['kind']}/{document['metadata']['name']}"
        part = Part(where, argv, image.env | env if runwire_image else env)
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in document["spec"].get("volumeClaimTemplates", [])}
        for mount in container.get("volumeMounts", []):
            if mount["name"] in claims:
                part.volumes[mount["mountPath"]] = "persistent"
            else:
                mount_volume(part, mount, volumes[mount["name"]], config_maps)
        probe = container.get("startupProbe") or container.get("readinessProbe") or {}
        part.probe = probe.get("exec", {}).get("command", [])
        if "httpGet" in container.get("readinessProbe", {}):
            get = dict(container["readinessProbe"]["httpGet"])
            named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            get["port"] = named.get(get["port"], get["port"])
            part.http_probe = get
        parts[roles[document["metadata"]["name"]]] = part
    return parts


def mount_volume(
    part: Part, mount: dict[str, Any], volume: dict[str, Any], config_maps: dict[str, Any]
) -> None:
    """Adds what a Kubernetes volume (emptyDir, ConfigMap, Secret or projected Secrets)
    mounted at ``mount`` gives ``part``."""
    folder, read_only = mount["mountPath"], bool(mount.get("readOnly"))
    if "emptyDir" in volume:
        part.volumes[folder] = "ephemeral"
        return
    if "configMap" in volume:
        for key, text in config_maps[volume["configMap"]["name"]].items():
            path = f"{folder}/{key}"
            part.files[path] = Mounted(path, text=text, read_only=read_only)
        return
    secrets = [volume["secret"]] if "secret" in volume else []
    secrets += [s["secret"] for s in volume.get("projected", {}).get("sources", [])]
    assert secrets, f"{part.where}: volume {volume['name']} holds neither Secrets nor a ConfigMap"
    for secret in secrets:
        name = secret.get("name") or secret["secretName"]
        # Items are listed: a Secret's keys are not in the manifest.
        for item in secret["items"]:
            path = f"{folder}/{item['path']}"
            dev_file = DEV_FILE_OF_SECRET_KEY[(name, item["key"])]
            part.files[path] = Mounted(path, f"{name}/{item['key']}", None, dev_file, read_only)


def deployment_parts(deployment: str) -> dict[str, Part]:
    return compose_parts() if deployment == "compose" else fleet_parts()


def config_settings(part: Part) -> Settings:
    """The settings ``runwire`` starts with in ``part``, its config file read from the mount."""
    config = part.env.get("RUNWIRE_CONFIG_FILE")
    if config is None:
        return settings_from(part.env)
    mounted = part.files[config]
    assert mounted.text is not None, f"{part.where}: config file {config} is not mounted"
    outside = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    with tempfile.TemporaryDirectory() as temporary:
        copy = Path(temporary) / "runwire.toml"
        copy.write_text(mounted.text)
        env = outside | part.env | {"RUNWIRE_CONFIG_FILE": str(copy)}
        with mock.patch.dict(os.environ, env, clear=True):
            return load_settings()


# --------------------------------------------------------------------------- no secret in files

#: What a secret looks like in a file, and how each may still appear.
SECRET_LOOKS = {
    "a PEM block": re.compile(r"-----BEGIN [A-Z ]+-----"),
    "a long hex string": re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])"),
    "a long base64 string": re.compile(r"(?<![0-9A-Za-z+/])[A-Za-z0-9+/]{40,}={0,2}"),
    "a password in a URL": re.compile(r"[a-z]+://[^/\s:@]*:[^@\s/]+@"),
    "a password on a command line": re.compile(r"--requirepass|-a\s+\S|--pass\b"),
    "a literal requirepass": re.compile(r"^\s*requirepass\s+(?!\$\$?\()\S"),
    "a provider key": re.compile(r"\bsk-[A-Za-z0-9]{8,}"),
}
#: Variables whose value must then be a path to a file, not a secret.
SECRET_NAME = re.compile(r"KEY|TOKEN|PASSWORD|SECRET|CREDENTIAL", re.I)


def secrets_in(text: str) -> list[str]:
    """Where ``text`` seems to hold a secret: ``"line N: what"`` for each."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for what, pattern in SECRET_LOOKS.items():
            if pattern.search(line):
                found.append(f"line {number}: {what}")
    return found


def variables_in(parts: dict[str, Part]) -> Iterator[tuple[str, str, str]]:
    for part in parts.values():
        for name, value in part.env.items():
            yield part.where, name, value


def test_no_secret_is_written_in_the_deployment_files() -> None:
    for path in SECRET_FILES:
        assert secrets_in(path.read_text()) == [], path.relative_to(ROOT)
    # The check bites on each way a secret could slip in.
    bad = [
        "RUNWIRE_REDIS_URL: redis://:hunter2hunter2@redis:6379/0",
        "command: [redis-server, --requirepass, hunter2]",
        "  requirepass hunter2",
        "-----BEGIN PRIVATE KEY-----",
        'key = "' + "ab" * 32 + '"',
        "token: " + "QUJD" * 12,
        "RUNWIRE_OPENAI_API_KEY: sk-abcdefghijklmnop",
    ]
    assert [line for line in bad if not secrets_in(line)] == []
    # Secret-named variables hold paths of mounted files, never values.
    for deployment in DEPLOYMENTS:
        parts = deployment_parts(deployment)
        for where, name, value in variables_in(parts):
            if SECRET_NAME.search(name):
                assert name.endswith("_FILE"), f"{where}: {name} holds a secret"
                assert value.startswith("/run/secrets/"), f"{where}: {name}={value}"
    # No Secret with its data in the manifests: the operator creates them.
    for path in DEPLOY_FILES:
        if path.suffix == ".yaml" and path.parent.name == "k8s":
            assert all(d["kind"] != "Secret" for d in k8s_documents(path)), path.name
    # The compose secrets are files, the ones docker/dev-certs.sh makes.
    for name, secret in load_compose()["secrets"].items():
        assert set(secret) == {"file"}, name
        assert (COMPOSE.parent / secret["file"]).parent.resolve() == SECRETS_FOLDER, name


def test_the_secret_folder_stays_out_of_git_and_of_the_image() -> None:
    ignored = (SECRETS_FOLDER / ".gitignore").read_text().split()
    assert "*" in ignored and "!.gitignore" in ignored
    result = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "docker/secrets"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() in ([], ["docker/secrets/.gitignore"])
    ignore = DockerIgnore(DOCKERIGNORE.read_text())
    assert ignore.excluded("docker/secrets/tls.key")
    assert ignore.excluded("docker/secrets/api-key-ops")


# --------------------------------------------------------------------------- TLS, keys, Redis


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_the_api_serves_tls_and_api_keys_from_mounted_files(deployment: str) -> None:
    api = deployment_parts(deployment)["api"]
    settings = config_settings(api)
    listen = listen_addresses(api.argv, api.env)
    # Beyond loopback only with authentication (runwire serve refuses otherwise), and TLS.
    assert [a for a in listen if not is_local_address(a)], api.where
    assert settings.auth.enabled and not settings.insecure, api.where
    assert settings.auth.api_keys and settings.auth.jwt is None, api.where
    assert settings.tls_cert_file and settings.tls_key_file, api.where
    # The certificate, its key and every API key are files mounted from secrets.
    for path in (settings.tls_cert_file, settings.tls_key_file):
        assert api.files[str(path)].secret, f"{api.where}: {path} is not from a secret"
    for key in settings.auth.api_keys:
        assert key.key_file is not None, f"{api.where}: {key.principal}'s key is written inline"
        mounted = api.files[str(key.key_file)]
        assert mounted.secret and mounted.read_only, f"{api.where}: {key.key_file}"
    # The config file: docker/runwire.toml, read-only, holding no secret itself.
    config = api.files[api.env["RUNWIRE_CONFIG_FILE"]]
    assert config.secret is None and config.read_only, api.where
    assert config.text == CONFIG_TOML.read_text(), f"{api.where}: not docker/runwire.toml"
    assert tomllib.loads(config.text)["auth"]["api_keys"], api.where
    # The HTTP listener too listens beyond loopback, so with the same TLS files (one set of
    # tls_* settings serves both) and the same authentication.
    http_listen = http_listen_addresses(api.argv, api.env)
    assert http_listen and not [a for a in http_listen if is_local_address(a)], api.where
    # Its health check reaches it without credentials: on its Unix socket, or the kubelet's
    # HTTPS GET of /readyz on the HTTP listener (the kubelet does not verify certificates).
    assert api.probe or api.http_probe, api.where
    if api.probe:
        (address,) = option_values(api.probe, "--address", "-a")
        assert address.startswith("unix:") and address in listen, api.where
    if api.http_probe:
        assert api.http_probe["scheme"] == "HTTPS", api.where
        assert api.http_probe["port"] in {port_of(a) for a in http_listen}, api.where
        assert api.http_probe["path"] == "/readyz", api.where


def test_the_config_file_shows_cors_off_and_how_to_allow_an_origin() -> None:
    """docker/runwire.toml allows no browser origin, and its commented line, uncommented,
    is a setting Runwire reads (a top-level key, above the first table)."""
    text = CONFIG_TOML.read_text()
    (line,) = [
        line for line in text.splitlines() if line.startswith("# http_cors_allowed_origins =")
    ]
    assert config_origins(text) == []
    allowed = config_origins(text.replace(line, line.removeprefix("# ")))
    assert allowed == tomllib.loads(line.removeprefix("# "))["http_cors_allowed_origins"]
    assert allowed and "*" not in allowed


def config_origins(text: str) -> list[str]:
    """``http_cors_allowed_origins`` as Runwire loads it from a config file holding ``text``."""
    outside = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    with tempfile.TemporaryDirectory() as temporary:
        path = Path(temporary) / "runwire.toml"
        # Key files as the container sees them do not exist here; only the origins matter.
        path.write_text(re.sub(r'key_file = "[^"]+"', f'key_file = "{path}"', text))
        with mock.patch.dict(os.environ, outside | {"RUNWIRE_CONFIG_FILE": str(path)}, clear=True):
            return list(load_settings().http_cors_allowed_origins)


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_workers_get_only_the_redis_password(deployment: str) -> None:
    parts = deployment_parts(deployment)
    worker = parts["worker"]
    assert worker.argv == ["runwire", "worker"]
    assert [m.secret for m in worker.files.values()] == [
        parts["redis"].files["/run/secrets/redis-password"].secret
    ], worker.where
    settings = settings_from(worker.env)
    assert not settings.auth.enabled and settings.tls_key_file is None


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_runwire_reads_the_password_redis_requires_from_its_file(deployment: str) -> None:
    parts = deployment_parts(deployment)
    redis_part = parts["redis"]
    (redis_file,) = re.findall(r"requirepass \$\(cat (\S+)\)", redis_part.argv[2])
    for role in ("api", "worker"):
        part = parts[role]
        settings = config_settings(part)
        assert settings.redis_url is not None, part.where
        assert urllib.parse.urlsplit(settings.redis_url.get_secret_value()).password is None
        path = str(settings.redis_password_file)
        assert path in part.files, f"{part.where}: RUNWIRE_REDIS_PASSWORD_FILE {path} not mounted"
        mounted = part.files[path]
        assert mounted.read_only, part.where
        assert mounted.secret == redis_part.files[redis_file].secret, part.where


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_redis_has_a_password_and_persistence(deployment: str) -> None:
    redis_part = deployment_parts(deployment)["redis"]
    assert redis_part.argv[:2] == ["sh", "-c"], redis_part.where
    script = redis_part.argv[2]
    # The password comes from a file mounted from a secret, through stdin.
    (password_file,) = re.findall(r"requirepass \$\(cat (\S+)\)", script)
    assert redis_part.files[password_file].secret, redis_part.where
    (server,) = [line for line in script.splitlines() if "redis-server" in line]
    words = shlex.split(server.split("<<")[0])
    assert words[-1] == "-", redis_part.where  # config from stdin: the last argument
    assert option_values(words, "--appendonly") == ["yes"], redis_part.where
    assert option_values(words, "--appendfsync") == ["everysec"], redis_part.where
    (data,) = option_values(words, "--dir")
    assert redis_part.volumes[data] == "persistent", redis_part.where
    assert not redis_part.exposed, redis_part.where


def test_the_operations_page_states_the_redis_persistence_the_files_use() -> None:
    """docs/operations.md ("Redis") names the options both deployments start Redis with,
    the volumes and the password file, and states the loss window."""
    page = (ROOT / "docs" / "operations.md").read_text()
    section = page.split("### Redis", 1)[1].split("\n### ", 1)[0]
    for deployment in DEPLOYMENTS:
        redis_part = deployment_parts(deployment)["redis"]
        (server,) = [line for line in redis_part.argv[2].splitlines() if "redis-server" in line]
        words = shlex.split(server.split("<<")[0])
        for option in ("--appendonly", "--appendfsync", "--dir"):
            (value,) = option_values(words, option)
            assert f"{option} {value}" in section, (deployment, option, value)
        password_file = re.findall(r"requirepass \$\(cat (\S+)\)", redis_part.argv[2])
        assert password_file == ["/run/secrets/redis-password"], redis_part.where
    assert "`redis-data`" in section and "`volumeClaimTemplate`" in section
    assert "RUNWIRE_REDIS_PASSWORD_FILE" in section
    assert "at most about one second of writes" in " ".join(section.replace("*", "").split())


def test_only_runwire_reaches_redis_in_the_fleet() -> None:
    documents = k8s_documents(FLEET)
    (redis_set,) = [d for d in documents if d["kind"] == "StatefulSet"]
    redis_labels = redis_set["spec"]["template"]["metadata"]["labels"]
    runwire_labels = [
        d["spec"]["template"]["metadata"]["labels"] for d in documents if d["kind"] == "Deployment"
    ]
    (policy,) = [d for d in documents if d["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= redis_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    allowed = peer["podSelector"]["matchLabels"]
    assert set(peer) == {"podSelector"}  # pods of this namespace only
    assert all(allowed.items() <= labels.items() for labels in runwire_labels)
    assert not allowed.items() <= redis_labels.items()


def header_secret_keys(text: str) -> set[tuple[str, str]]:
    """(Secret, key) pairs the ``kubectl create secret`` commands of a file's header make."""
    commands = " ".join(line.lstrip("# ").rstrip("\\") for line in text.splitlines())
    made = set()
    for match in re.finditer(
        r"kubectl create secret (generic|tls) ([\w.-]+)(.*?)(?=kubectl|$)", commands
    ):
        kind, name, rest = match.groups()
        if kind == "tls":
            made |= {(name, "tls.crt"), (name, "tls.key")}
        made |= {(name, key) for key in re.findall(r"--from-(?:literal|file)=([\w.-]+)=", rest)}
    return made


def test_the_fleet_mounts_only_secrets_its_header_creates() -> None:
    made = header_secret_keys(FLEET.read_text())
    used = set()
    for part in fleet_parts().values():
        for mounted in part.files.values():
            if mounted.secret:
                secret, _, key = mounted.secret.partition("/")
                used.add((secret, key))
    assert used and used <= made, sorted(used - made)


# --------------------------------------------------------------------------- dev-certs.sh


@pytest.fixture(scope="module")
def dev_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of docker/dev-certs.sh, made in a temporary folder."""
    folder = tmp_path_factory.mktemp("dev-certs") / "secrets"
    result = subprocess.run(
        ["sh", str(DEV_CERTS), str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return folder


def test_dev_certs_makes_every_secret_compose_mounts(dev_secrets: Path) -> None:
    wanted = {Path(s["file"]).name for s in load_compose()["secrets"].values()}
    assert wanted <= {p.name for p in dev_secrets.iterdir()}
    assert stat.S_IMODE(dev_secrets.stat().st_mode) == 0o700
    # Readable by the containers' users (compose bind-mounts them as they are).
    for name in wanted:
        assert stat.S_IMODE((dev_secrets / name).stat().st_mode) == 0o644, name
    for name in ("api-key-ops", "api-key-app", "redis-password"):
        assert re.fullmatch(r"[0-9a-f]{64}", (dev_secrets / name).read_text()), name
    ca = x509.load_pem_x509_certificate((dev_secrets / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((dev_secrets / "tls.crt").read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # The compose service's name, and what clients on the host dial.
    assert {"runwire", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def test_dev_certs_keeps_keys_and_renews_certificates_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    subprocess.run(["sh", str(DEV_CERTS), str(folder)], capture_output=True, check=True)
    before = {p.name: (p.stat().st_ino, p.read_bytes()) for p in folder.iterdir()}
    subprocess.run(["sh", str(DEV_CERTS), str(folder)], capture_output=True, check=True)
    assert {p.name: (p.stat().st_ino, p.read_bytes()) for p in folder.iterdir()} == before
    subprocess.run(["sh", str(DEV_CERTS), "--renew", str(folder)], capture_output=True, check=True)
    after = {p.name: (p.stat().st_ino, p.read_bytes()) for p in folder.iterdir()}
    for name, (inode, content) in before.items():
        renewed = name in ("tls.crt", "client.crt")
        # Same file (a bind mount keeps seeing it); new content only for certificates.
        assert after[name][0] == inode, name
        assert (after[name][1] != content) == renewed, name


# --------------------------------------------------------------------------- the rehearsal


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Local:
    """A part's container paths moved under ``root``, and its network names to loopback.

    Every mounted file is written there (a secret from docker/dev-certs.sh's folder, a
    config with its own paths moved too) and every volume made a folder. ``__call__``
    rewrites a string: container paths, the Redis host and port, listen ports to 0.
    """

    def __init__(self, root: Path, part: Part, dev_secrets: Path, redis_port: int) -> None:
        self.root = root
        paths = sorted([*part.files, *part.volumes], key=len, reverse=True)
        self._paths = re.compile("|".join(re.escape(path) for path in paths))
        self._redis_port = redis_port
        for folder in part.volumes:
            self.path(folder).mkdir(parents=True, exist_ok=True)
        for mounted in part.files.values():
            local = self.path(mounted.path)
            local.parent.mkdir(parents=True, exist_ok=True)
            if mounted.dev_file is not None:
                local.write_bytes((dev_secrets / mounted.dev_file).read_bytes())
            else:
                assert mounted.text is not None
                local.write_text(self(mounted.text))

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def real(self, container_path: str) -> str:
        """``path``, symbolic links resolved (as a process reports its folder)."""
        return os.path.realpath(self.path(container_path))

    def __call__(self, text: str) -> str:
        text = self._paths.sub(lambda match: str(self.path(match[0])), text)
        text = re.sub(
            r"(redis://(?:[^@/\s]*@)?)[\w.-]+:6379/", rf"\g<1>127.0.0.1:{self._redis_port}/", text
        )
        text = text.replace("--port 6379", f"--port {self._redis_port}")
        return re.sub(r"^(0\.0\.0\.0|\[::\]):\d+$", r"\1:0", text)


def local_env(part: Part, local: Callable[[str], str]) -> dict[str, str]:
    """The part's environment, its paths local, Temporal left out (in-process runs)."""
    outside = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    env = outside | {"PATH": f"{BIN}:/usr/bin:/bin"}
    env |= {name: local(value) for name, value in part.env.items()}
    env.pop("RUNWIRE_TEMPORAL_ADDRESS", None)
    env["RUNWIRE_DEFAULT_RUNTIME"] = "in_process"
    return env


@contextlib.asynccontextmanager
async def running(argv: list[str], env: dict[str, str], log: Path) -> AsyncIterator[Any]:
    """A process started with ``argv`` (stdout piped, stderr to ``log``); SIGTERM at exit."""
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=subprocess.PIPE, stderr=stderr
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


def runwire_argv(argv: list[str]) -> list[str]:
    return [RUNWIRE if word == "runwire" else word for word in argv]


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
async def test_rehearsal_tls_api_keys_and_redis_password(
    deployment: str, dev_secrets: Path
) -> None:
    parts = deployment_parts(deployment)
    redis_port = free_port()
    password = (dev_secrets / "redis-password").read_text()
    ops_key = (dev_secrets / "api-key-ops").read_text()
    app_key = (dev_secrets / "api-key-app").read_text()
    ca_file = dev_secrets / "ca.crt"
    # A short folder: a Unix socket's path must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="rw-") as temporary:
        root = Path(temporary)
        locals_ = {
            role: Local(root / role, part, dev_secrets, redis_port) for role, part in parts.items()
        }
        # Redis, as the deployment starts it.
        local = locals_["redis"]
        redis_argv = [local(word) for word in parts["redis"].argv]
        redis_env = {"PATH": "/usr/bin:/bin"} | {k: local(v) for k, v in parts["redis"].env.items()}
        async with running(redis_argv, redis_env, root / "redis.log") as redis_process:
            client = redis.Redis(port=redis_port, password=password, decode_responses=True)
            async for _ in polls():
                with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                    if await reply(client.ping()):
                        break
                assert redis_process.returncode is None, (root / "redis.log").read_text()
            try:
                await check_redis(client, redis_port, locals_["redis"])
                await check_api(
                    parts["api"],
                    locals_["api"],
                    root=root,
                    ca_file=ca_file,
                    ops_key=ops_key,
                    app_key=app_key,
                )
                # The API wrote into the password-protected Redis.
                assert await client.keys("*"), "the API wrote nothing to Redis"
                # A worker's settings (its Redis URL and password file) reach that Redis:
                # the stores `runwire worker` builds, and the check they pass at start.
                local = locals_["worker"]
                worker_settings = settings_from(local_env(parts["worker"], local))
                stores = build_stores(worker_settings)
                try:
                    assert stores.redis_client is not None
                    assert await reply(stores.redis_client.ping())
                finally:
                    await stores.aclose()
            finally:
                await client.aclose()


async def check_redis(client: redis.Redis, port: int, local: Local) -> None:
    """Calls need the password; the append-only file is on, in the mounted data folder."""
    anonymous = redis.Redis(port=port)
    with pytest.raises(redis.AuthenticationError):
        await reply(anonymous.ping())
    await anonymous.aclose()
    config = await client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["dir"] == local.real("/data")


def check_http(part: Part, address: str, *, ca_file: Path, app_key: str) -> None:
    """The API's HTTP listener: HTTPS with the gRPC port's certificate and API keys.

    The kubelet's probe (an HTTPS GET that does not verify the certificate) gets 200 on
    /readyz; a client that trusts the CA calls Connect with JSON as curl does: with the
    application's key it reads, without a key it gets 401 ``unauthenticated``, with too few
    roles 403 ``permission_denied``; plain HTTP gets no answer.
    """
    if part.http_probe:
        kubelet = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        kubelet.check_hostname = False
        kubelet.verify_mode = ssl.CERT_NONE
        status, ready = http_get(f"https://{address}{part.http_probe['path']}", kubelet)
        assert (status, ready["status"]) == (200, "SERVING"), (part.where, ready)
    trusted = ssl.create_default_context(cafile=str(ca_file))
    base = f"https://{address}/runwire.v1.AgentService"
    status, body = connect_json(f"{base}/ListAgents", {}, token=app_key, context=trusted)
    assert status == 200, (part.where, body)
    status, body = connect_json(f"{base}/ListAgents", {}, context=trusted)
    assert (status, body["code"]) == (401, "unauthenticated"), (part.where, body)
    status, body = connect_json(
        f"{base}/DeleteAgent", {"agentId": "nobody"}, token=app_key, context=trusted
    )
    assert (status, body["code"]) == (403, "permission_denied"), (part.where, body)
    with pytest.raises((OSError, http.client.HTTPException)):
        http_get(f"http://{address}/readyz")


async def check_api(
    part: Part, local: Local, *, root: Path, ca_file: Path, ops_key: str, app_key: str
) -> None:
    """The API, as the deployment starts it: health on its socket, TLS and API keys."""
    argv = runwire_argv([local(word) for word in part.argv])
    env = local_env(part, local)
    async with running(argv, env, root / "api.log") as api:
        assert api.stdout is not None
        first_line = (await asyncio.wait_for(api.stdout.readline(), START_SECONDS)).decode()
        assert first_line.startswith("serving on"), (root / "api.log").read_text()
        (port,) = re.findall(r"(?<!//)0\.0\.0\.0:(\d+)", first_line)
        (http_port,) = re.findall(r"https://0\.0\.0\.0:(\d+)", first_line)
        address = f"127.0.0.1:{port}"
        # The health check, with the container's environment: no credentials needed.
        if part.probe:
            probe = await asyncio.create_subprocess_exec(
                *runwire_argv([local(word) for word in part.probe]),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(probe.communicate(), START_SECONDS)
            assert (probe.returncode, out.decode().strip()) == (0, "SERVING"), err.decode()
        await asyncio.to_thread(
            check_http, part, f"127.0.0.1:{http_port}", ca_file=ca_file, app_key=app_key
        )
        # An admin key over TLS creates an agent; a runner key reads it and may not edit it.
        agent_id = unique("agent")
        agent = agent_pb2.Agent(
            instructions="Rehearsal.", model=agent_pb2.Model(provider="scripted")
        )
        async with Stubs.connect(address, token=ops_key, ca_file=ca_file) as ops:
            await ops.agents.CreateAgent(
                agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=agent)
            )
        async with Stubs.connect(address, token=app_key, ca_file=ca_file) as app:
            got = await app.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=agent_id))
            assert got.agent.agent_id == agent_id
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await app.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(agent_id=agent_id))
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert status_details(refused.value).metadata["permission"] == "agents.write"
        # No key: UNAUTHENTICATED. Plaintext to the TLS port: no connection.
        async with Stubs.connect(address, token="", ca_file=ca_file) as nobody:
            with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
                await nobody.agents.ListAgents(agent_pb2.ListAgentsRequest())
            assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
        async with Stubs.connect(address, token="", tls=False) as plaintext:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await plaintext.agents.ListAgents(agent_pb2.ListAgentsRequest(), timeout=30)
            assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        api.send_signal(15)
        assert await asyncio.wait_for(api.wait(), 60) == 0, (root / "api.log").read_text()
