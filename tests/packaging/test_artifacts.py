"""Every artifact a release would publish, built, installed outside the checkout, and run.

From a copy of the working tree (the files git tracks or would track, as a fresh
clone of this state holds them), in a temporary directory outside the checkout:

* **Python**: the sdists of ``runwire`` (the server) and ``runwire-client`` are
  built through each project's own PEP 517 backend, then the wheels are built
  *from those sdists* (so each sdist builds on its own, the server's in release
  mode: ``runwire-client[cli]==VERSION``); both wheels are installed into a new
  venv (dependencies from the package index), and ``runwire serve`` is started
  from that venv (cwd outside the checkout, no ``PYTHONPATH``): the server every
  example below runs against. The Python quickstart runs with the venv's Python.
* **TypeScript**: ``npm pack`` of clients/typescript; the tarball is installed
  into a new npm project with TypeScript, which compiles and runs the quickstart.
* **Java**: ``mvn -Prelease package`` (jar, sources jar, javadoc jar);
  ``install:install-file`` puts the three into a scratch local repository (a copy
  of ``~/.m2/repository``, so ``~/.m2`` is left as it was), and a new Maven
  project that depends on ``dev.runwire:runwire-client:VERSION`` compiles and
  runs the quickstart.
* **Go**: a new module requires ``github.com/runwire/runwire/clients/go`` through
  a ``replace`` to the exported copy of clients/go, builds and runs the quickstart.

Each quickstart must print its ``OK`` line: agent created, run streamed, the
approval granted, the client tool answered, the stream dropped on purpose and
resumed without a gap. docs/releasing.md describes the release these mimic.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.commands import run_command
from tests.serve_process import serve_process

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()
FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57."

# A cold run downloads the Python, npm, Maven and Go dependencies; later runs use the caches.
pytestmark = pytest.mark.timeout(900)


def clean_environment() -> dict[str, str]:
    """``os.environ`` without ``RUNWIRE_*``, ``PYTHON*`` and the virtual environment's
    variables: nothing of the checkout's set-up reaches the installed artifacts."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUNWIRE_", "PYTHON", "PIP_REQUIRE_VIRTUALENV"))
        and key not in ("VIRTUAL_ENV", "CONDA_PREFIX")
    }


async def run(
    *args: str | Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    seconds: float = 600,
) -> str:
    """Runs a command to completion; returns its combined output.

    Raises:
        AssertionError: it exited non-zero or ran longer than ``seconds``.
    """
    code, text = await run_command(
        *args, cwd=cwd, env=env if env is not None else clean_environment(), seconds=seconds
    )
    assert code == 0, f"{args} exited {code}:\n{text[-6000:]}"
    return text


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"the artifact tests need `{name}` on PATH"
    return path


def check_quickstart(output: str) -> None:
    """The checks every language's quickstart output must pass."""
    assert re.search(r"^OK: ", output, re.MULTILINE), output
    assert FINAL_TEXT in output, output


@dataclass(frozen=True)
class Workspace:
    """Where the artifacts are built and installed, outside the checkout.

    Attributes:
        root: The temporary directory.
        checkout: A copy of the working tree's files (tracked, or untracked but not ignored).
    """

    root: Path
    checkout: Path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("artifacts")
    assert not root.resolve().is_relative_to(ROOT.resolve())
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    checkout = root / "checkout"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    return Workspace(root=root, checkout=checkout)


def build_sdist(project: Path, out: Path) -> Path:
    """The project's sdist, built by its own ``[build-system]`` backend (``backend-path``
    honoured) in this interpreter, without build isolation: a minimal PEP 517 frontend."""
    system = tomllib.loads((project / "pyproject.toml").read_text())["build-system"]
    paths = [str(project / path) for path in system.get("backend-path", [])]
    script = (
        "import importlib, sys\n"
        f"sys.path[:0] = {paths!r}\n"
        f"backend = importlib.import_module({system['build-backend']!r})\n"
        f"print(backend.build_sdist({str(out)!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class PythonArtifacts:
    sdists: dict[str, Path]
    wheels: dict[str, Path]


@pytest.fixture(scope="module")
async def python_artifacts(workspace: Workspace) -> PythonArtifacts:
    """The sdists, then the wheels built from them (no network: the venv's setuptools)."""
    dist = workspace.root / "dist"
    dist.mkdir()
    sdists = {
        "runwire": build_sdist(workspace.checkout, dist),
        "runwire-client": build_sdist(workspace.checkout / "clients/python", dist),
    }
    # Unpacked elsewhere, so that the server's sdist cannot see clients/python.
    offline = ["--no-deps", "--no-index", "--no-build-isolation", "--check-build-dependencies"]
    for sdist in sdists.values():
        await run(
            sys.executable, "-m", "pip", "wheel", "-q", *offline, "-w", dist, sdist,
            cwd=workspace.root,
        )  # fmt: skip
    wheels = {
        "runwire": next(dist.glob(f"runwire-{VERSION}-*.whl")),
        "runwire-client": next(dist.glob(f"runwire_client-{VERSION}-*.whl")),
    }
    return PythonArtifacts(sdists=sdists, wheels=wheels)


def wheel_metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(name).decode()


def test_python_sdists_and_wheels_are_release_builds(python_artifacts: PythonArtifacts) -> None:
    """The server names its client by version (never by a path of this machine); the
    server's sdist carries what its backend needs; each wheel holds its own packages."""
    server = wheel_metadata(python_artifacts.wheels["runwire"])
    assert f"\nVersion: {VERSION}\n" in server
    requires = re.findall(r"^Requires-Dist: (runwire-client.*)$", server, re.MULTILINE)
    assert requires == [f"runwire-client[cli]=={VERSION}"]
    assert "file:" not in server
    client = wheel_metadata(python_artifacts.wheels["runwire-client"])
    assert f"\nVersion: {VERSION}\n" in client
    with tarfile.open(python_artifacts.sdists["runwire"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
        pkg_info = sdist.extractfile(f"runwire-{VERSION}/PKG-INFO")
        assert pkg_info is not None
        assert f"Requires-Dist: runwire-client[cli]=={VERSION}\n" in pkg_info.read().decode()
    assert {"VERSION", "build_backend/runwire_build.py", "pyproject.toml"} <= names
    tops: dict[str, set[str]] = {}
    for name, wheel in python_artifacts.wheels.items():
        with zipfile.ZipFile(wheel) as archive:
            tops[name] = {
                entry.split("/")[0]
                for entry in archive.namelist()
                if not entry.split("/")[0].endswith((".dist-info", ".data"))
            }
    assert tops["runwire-client"] == {"runwire", "buf"}, tops
    # One distinctive import name for the whole server (docs/releasing.md, "Import names").
    assert tops["runwire"] == {"runwire_server"}, tops


@dataclass(frozen=True)
class Installed:
    """A venv outside the checkout holding the two wheels and their dependencies."""

    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="module")
async def installed(workspace: Workspace, python_artifacts: PythonArtifacts) -> Installed:
    venv = workspace.root / "venv"
    await run(sys.executable, "-m", "venv", venv, cwd=workspace.root)
    wheels = [python_artifacts.wheels["runwire"], python_artifacts.wheels["runwire-client"]]
    await run(
        venv / "bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check", *wheels,
        cwd=workspace.root,
    )  # fmt: skip
    return Installed(venv=venv)


@dataclass(frozen=True)
class Server:
    address: str
    log: Path


@pytest.fixture(scope="module")
async def server(workspace: Workspace, installed: Installed) -> AsyncIterator[Server]:
    """``runwire serve`` from the venv on a free loopback port, auth off (loopback only)."""
    home = workspace.root / "server"
    home.mkdir()
    log = home / "serve.log"
    env = clean_environment() | {"RUNWIRE_LOG_LEVEL": "WARNING"}
    async with serve_process(
        installed.venv / "bin/runwire", cwd=home, env=env, log=log, graceful=True
    ) as address:
        yield Server(address=address, log=log)


async def test_python_quickstart_with_the_installed_wheels(
    workspace: Workspace, installed: Installed, server: Server
) -> None:
    project = workspace.root / "python-project"
    project.mkdir()
    shutil.copy(workspace.checkout / "clients/python/examples/quickstart.py", project)
    where = await run(
        installed.python,
        "-c",
        "import runwire, runwire_server.app, runwire_server.service, runwire_server.worker as w; "
        "print('\\n'.join(m.__file__ for m in (runwire, runwire_server.app, w)))",
        cwd=project,
    )
    site = str(installed.venv / "lib") + os.sep
    assert all(path.startswith(site) for path in where.split()), where
    output = await run(installed.python, "quickstart.py", server.address, cwd=project, seconds=120)
    check_quickstart(output)
    assert "resuming with StreamRunEvents" in output, output


async def test_typescript_tarball_in_a_new_project(workspace: Workspace, server: Server) -> None:
    npm = tool("npm")
    source = workspace.checkout / "clients/typescript"
    checkout_modules = ROOT / "clients/typescript/node_modules"
    if checkout_modules.is_dir():
        # The build tools (tsc, the generated code's plugin) as the checkout installed them.
        (source / "node_modules").symlink_to(checkout_modules, target_is_directory=True)
    else:
        await run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=source)
    packed = workspace.root / "npm"
    packed.mkdir()
    await run(npm, "pack", "--silent", "--pack-destination", packed, cwd=source)
    (tarball,) = packed.glob("runwire-client-*.tgz")
    assert tarball.name == f"runwire-client-{VERSION}.tgz"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"package/package.json", "package/dist/src/index.js"} <= names, sorted(names)[:20]

    project = workspace.root / "ts-project"
    project.mkdir()
    (project / "package.json").write_text(
        '{"name": "runwire-quickstart", "private": true, "type": "module"}\n'
    )
    (project / "tsconfig.json").write_text(
        '{"compilerOptions": {"target": "ES2022", "module": "NodeNext",'
        ' "moduleResolution": "NodeNext", "strict": true, "skipLibCheck": true,'
        ' "types": ["node"], "outDir": "dist"}, "include": ["quickstart.ts"]}\n'
    )
    shutil.copy(source / "examples/quickstart.ts", project)
    dev = json_field(source / "package.json", "devDependencies")
    await run(
        npm, "install", "--no-audit", "--no-fund", "--loglevel=error", tarball,
        f"typescript@{dev['typescript']}", f"@types/node@{dev['@types/node']}",
        cwd=project,
    )  # fmt: skip
    await run(project / "node_modules/.bin/tsc", "-p", ".", cwd=project)
    output = await run(tool("node"), "dist/quickstart.js", server.address, cwd=project, seconds=120)
    check_quickstart(output)


def json_field(path: Path, field: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(path.read_text())[field]
    return value


JAVA_PROJECT_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId>
  <artifactId>runwire-quickstart</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>dev.runwire</groupId>
      <artifactId>runwire-client</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <artifactId>maven-compiler-plugin</artifactId>
        <version>3.13.0</version>
      </plugin>
      <plugin>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


async def test_java_jars_in_a_new_project(workspace: Workspace, server: Server) -> None:
    mvn = tool("mvn")
    source = workspace.checkout / "clients/java"
    await run(mvn, "-q", "-B", "-Prelease", "-Dmaven.test.skip=true", "package", cwd=source)
    jars = {
        kind: source / "target" / f"runwire-client-{VERSION}{suffix}.jar"
        for kind, suffix in (("main", ""), ("sources", "-sources"), ("javadoc", "-javadoc"))
    }
    for kind, jar in jars.items():
        assert jar.is_file(), f"no {kind} jar: {sorted(p.name for p in jar.parent.iterdir())}"
    with zipfile.ZipFile(jars["sources"]) as archive:
        assert "dev/runwire/client/RunwireClient.java" in archive.namelist()
    with zipfile.ZipFile(jars["javadoc"]) as archive:
        assert "index.html" in archive.namelist()

    # A scratch local repository: what ~/.m2 holds, plus the installed artifact.
    repository = workspace.root / "m2"
    home_repository = Path.home() / ".m2" / "repository"
    if home_repository.is_dir():
        shutil.copytree(
            home_repository, repository, ignore=shutil.ignore_patterns("runwire-client")
        )
    local = f"-Dmaven.repo.local={repository}"
    project = workspace.root / "java-project"
    project.mkdir()
    await run(
        mvn, "-q", "-B", local, "install:install-file", f"-Dfile={jars['main']}",
        f"-DpomFile={source / 'pom.xml'}", f"-Dsources={jars['sources']}",
        f"-Djavadoc={jars['javadoc']}",
        cwd=project,
    )  # fmt: skip
    installed = repository / "dev/runwire/runwire-client" / VERSION
    assert {p.name for p in installed.glob("*.jar")} == {j.name for j in jars.values()}
    (project / "pom.xml").write_text(JAVA_PROJECT_POM.format(version=VERSION))
    example = Path("src/main/java/dev/runwire/examples/Quickstart.java")
    (project / example).parent.mkdir(parents=True)
    shutil.copy(source / "examples" / example.relative_to("src/main/java"), project / example)
    await run(
        mvn, "-q", "-B", local, "compile", "dependency:build-classpath",
        "-Dmdep.outputFile=classpath.txt",
        cwd=project,
    )  # fmt: skip
    classpath = (project / "classpath.txt").read_text().strip()
    assert str(installed / f"runwire-client-{VERSION}.jar") in classpath.split(os.pathsep)
    output = await run(
        tool("java"), "-cp", f"target/classes{os.pathsep}{classpath}",
        "dev.runwire.examples.Quickstart", server.address,
        cwd=project, seconds=120,
    )  # fmt: skip
    check_quickstart(output)


async def test_go_module_in_a_new_module(workspace: Workspace, server: Server) -> None:
    go = tool("go")
    exported = workspace.checkout / "clients/go"
    module = re.search(r"^module (\S+)$", (exported / "go.mod").read_text(), re.MULTILINE)
    assert module, "clients/go/go.mod names no module"
    project = workspace.root / "go-project"
    project.mkdir()
    (project / "go.mod").write_text(
        "module example.com/runwire-quickstart\n\ngo 1.25.0\n\n"
        f"require {module[1]} v0.0.0-00010101000000-000000000000\n\n"
        f"replace {module[1]} => {exported}\n"
    )
    shutil.copy(exported / "go.sum", project / "go.sum")
    shutil.copy(exported / "examples/quickstart/main.go", project / "main.go")
    env = clean_environment() | {"GOFLAGS": "-buildvcs=false"}
    await run(go, "mod", "tidy", cwd=project, env=env)
    await run(go, "build", "-o", "quickstart", ".", cwd=project, env=env)
    output = await run(project / "quickstart", server.address, cwd=project, seconds=120)
    check_quickstart(output)


def test_the_backend_module_is_the_one_pyproject_names() -> None:
    """pyproject.toml's backend is build_backend/runwire_build.py, and it knows both modes."""
    system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert system["backend-path"] == ["build_backend"]
    spec = importlib.util.spec_from_file_location(
        system["build-backend"], ROOT / "build_backend" / f"{system['build-backend']}.py"
    )
    assert spec is not None and spec.loader is not None
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    checkout = backend.client_requirement(release=False, root=ROOT)
    assert checkout == f"runwire-client[cli] @ {(ROOT / 'clients/python').resolve().as_uri()}"
    assert backend.client_requirement(release=True, root=ROOT) == (
        f"runwire-client[cli]=={VERSION}"
    )
    assert backend.release_mode({"runwire-release": "true"})
    assert not backend.release_mode({"runwire-release": "false"})
