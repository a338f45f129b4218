#!/usr/bin/env python3
"""Run site.yml as an execution environment would: a clean venv holding only what the EE definition
declares, the collection installed from its built tarball, and ansible-runner driving the playbook.

    tools/ee_closure.py --inventory DIR [--check] [--diff] [--python PYTHON] [--core PIP-SPEC] [--name NAME]

--python and --core make the same closure with another interpreter and ansible-core (e.g. python3.13 and
the newest ansible-core on PyPI) in .build/NAME, beside the EE's own.

    tools/ee_closure.py --inventory DIR --container IMAGE [--check] [--diff]

runs the same job in a built execution environment image instead (tools/ee_image.py builds one): podman
runs IMAGE on the lab's network with ansible-runner and the same private data dir, the inventory and the
SSH key mounted at their own paths; nothing of this machine's Python or collections is used.

What goes into the venv is read from the definitions, not restated here:
- execution-environment.yml: ``dependencies.ansible_core`` and ``dependencies.ansible_runner`` (pip specs);
- meta/execution-environment.yml: the collection's own Python needs (meta/ee-requirements.txt);
- ee/requirements.yml: the collections, this one as the tarball ``ansible-galaxy collection build`` makes,
  the others by name (Galaxy is not reachable here: they are copied from the `ansible` package of the
  development venv, which carries the same collections, and their versions checked against the spec).

Nothing of the development venv, of this checkout's ansible.cfg or of the caller's ANSIBLE_* environment
reaches the run: the environment is built from scratch, the collections path holds only the installed
copies. The venv is kept under .build/ee-closure and rebuilt when the declarations change.

The last line of stdout is a JSON summary: {"rc": ..., "changed": N, "failed": N, "log": PATH, ...}; the
run's own output goes to that log (and its tail to stdout when the run failed). Standard library only,
apart from PyYAML (which the development venv has).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".build" / "ee-closure"
VENV = WORK / "venv"


def use(name: str) -> None:
    """Work in .build/NAME (a closure of its own, e.g. for another ansible-core)."""
    global WORK, VENV
    WORK = ROOT / ".build" / name
    VENV = WORK / "venv"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def declared_packages(core: str | None = None) -> list[str]:
    """pip arguments: ansible-core and ansible-runner as the EE says, the collection's own requirements."""
    ee = _yaml(ROOT / "execution-environment.yml")["dependencies"]
    meta = _yaml(ROOT / "meta" / "execution-environment.yml")["dependencies"]
    return [core or ee["ansible_core"]["package_pip"], ee["ansible_runner"]["package_pip"],
            "-r", str(ROOT / meta["python"])]


def ensure_venv(packages: list[str], python: str | None = None) -> dict[str, str]:
    """The clean venv, made again when the declarations (or the requirement file's text) change."""
    stamp_text = json.dumps([packages, python, (ROOT / "meta" / "ee-requirements.txt").read_text(encoding="utf-8")])
    stamp = hashlib.sha256(stamp_text.encode("utf-8")).hexdigest()
    stamp_file = VENV / ".declared"
    if not (stamp_file.is_file() and stamp_file.read_text(encoding="utf-8") == stamp):
        shutil.rmtree(VENV, ignore_errors=True)
        # the interpreter the development venv was made from, not the venv itself (nothing of it leaks)
        base = python or getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        _quiet([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *packages])
        stamp_file.write_text(stamp, encoding="utf-8")
    freeze = subprocess.run([str(VENV / "bin" / "pip"), "list", "--format=json", "--disable-pip-version-check"],
                            check=True, capture_output=True, text=True, env=_clean_env()).stdout
    return {entry["name"].lower(): entry["version"] for entry in json.loads(freeze)}


def _quiet(argv: list[str]) -> None:
    """A step whose output matters only when it fails (pip's and ansible-galaxy's notices)."""
    done = subprocess.run(argv, cwd=WORK, env=_clean_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def _clean_env(**more: str) -> dict[str, str]:
    env = {"PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    for name in ("TMPDIR", "SSH_AUTH_SOCK"):
        if name in os.environ:
            env[name] = os.environ[name]
    return {**env, **more}


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def install_collections() -> dict[str, str]:
    """ee/requirements.yml's collections into WORK/collections: this one from its tarball, the rest copied."""
    target = WORK / "collections"
    shutil.rmtree(target, ignore_errors=True)
    dist = WORK / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    galaxy = str(VENV / "bin" / "ansible-galaxy")
    # built and installed by the clean venv's own ansible-galaxy, outside this checkout's ansible.cfg
    _quiet([galaxy, "collection", "build", "--output-path", str(dist), str(ROOT)])
    (tarball,) = dist.glob("exchange_lb-appliance-*.tar.gz")
    _quiet([galaxy, "collection", "install", "--offline", "--no-deps", "-p", str(target), str(tarball)])
    import ansible_collections  # the `ansible` package's collections, in the development venv

    sources = [Path(path) for path in ansible_collections.__path__]
    installed = {"exchange_lb.appliance": _manifest_version(target / "ansible_collections/exchange_lb/appliance")}
    for entry in _yaml(ROOT / "ee" / "requirements.yml")["collections"]:
        if entry.get("type") == "file":
            continue
        namespace, name = entry["name"].split(".")
        source = next((path / namespace / name for path in sources if (path / namespace / name).is_dir()), None)
        if source is None:
            raise SystemExit(f"ee/requirements.yml names {entry['name']}, which the ansible package does not carry")
        version = _manifest_version(source)
        minimum = re.fullmatch(r">=\s*([\d.]+)", str(entry.get("version", ">=0")).strip())
        if minimum and _version_tuple(version) < _version_tuple(minimum.group(1)):
            raise SystemExit(f"{entry['name']} {version} does not satisfy {entry['version']}")
        shutil.copytree(source, target / "ansible_collections" / namespace / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
        installed[entry["name"]] = version
    return installed


def _manifest_version(path: Path) -> str:
    return str(json.loads((path / "MANIFEST.json").read_text(encoding="utf-8"))["collection_info"]["version"])


def run(inventory: Path, cmdline: list[str], container: str | None = None) -> dict[str, object]:
    """ansible-runner with a private data dir of its own: project/site.yml as a site repository has it."""
    private = WORK / "runner"
    shutil.rmtree(private, ignore_errors=True)
    (private / "project").mkdir(parents=True)
    (private / "project" / "site.yml").write_text(
        "---\n- name: The appliance, from the installed collection\n"
        "  ansible.builtin.import_playbook: exchange_lb.appliance.site\n", encoding="utf-8")
    # a site's ansible.cfg: the project directory is ansible-playbook's working directory under ansible-runner
    (private / "project" / "ansible.cfg").write_text(
        "[defaults]\ninterpreter_python = auto_silent\nforks = 10\ncallback_result_format = yaml\n"
        "[ssh_connection]\npipelining = true\n", encoding="utf-8")
    log = WORK / "last-run.log"
    runner = ["run", str(private), "-p", "site.yml", "--inventory", str(inventory), "--ident", "closure",
              "--rotate-artifacts", "1"]
    if cmdline:
        # one argument: "--cmdline --check" would read --check as an option of ansible-runner's own
        runner.append("--cmdline=" + " ".join(cmdline))
    if container:
        # the paths mounted where they are here (the inventory names the key by its path); root in the
        # container, as the key is root's; the lab's network, where the nodes are
        mounts = [private, inventory] + [Path(os.environ[name]).parent for name in ("LAB_SSH_KEY",) if os.environ.get(name)]
        argv = ["podman", "run", "--rm", "--user", "0", "--network", os.environ.get("LAB_NET", "exlb-lab"),
                "-e", "ANSIBLE_NOCOLOR=1", "-e", "ANSIBLE_FORCE_COLOR=0"]
        for mount in mounts:
            argv += ["-v", f"{mount}:{mount}"]
        argv += [container, "ansible-runner", *runner]
        # podman itself runs with this machine's environment (the lab's containers.conf, its helpers);
        # the job inside the image sees only the -e variables above
        env = dict(os.environ)
    else:
        argv = [str(VENV / "bin" / "ansible-runner"), *runner]
        env = _clean_env(ANSIBLE_COLLECTIONS_PATH=str(WORK / "collections"), ANSIBLE_NOCOLOR="1",
                         ANSIBLE_FORCE_COLOR="0")
    with log.open("w", encoding="utf-8") as out:
        completed = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False, timeout=1500)
    stats: dict[str, dict[str, int]] = {}
    for event_file in sorted(glob.glob(str(private / "artifacts" / "closure" / "job_events" / "*.json"))):
        event = json.loads(Path(event_file).read_text(encoding="utf-8"))
        if event.get("event") == "playbook_on_stats":
            stats = {key: event["event_data"].get(key) or {} for key in ("changed", "failures", "dark", "ok")}
    return {"rc": completed.returncode, "changed": sum(stats.get("changed", {}).values()),
            "failed": sum(stats.get("failures", {}).values()) + sum(stats.get("dark", {}).values()),
            "hosts": sorted(stats.get("ok", {})), "log": str(log)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--diff", action="store_true")
    parser.add_argument("--python", help="the interpreter of the venv (default: the one this runs on)")
    parser.add_argument("--core", help="pip spec of ansible-core instead of the EE's (e.g. ansible-core)")
    parser.add_argument("--name", default="ee-closure", help="the work folder under .build")
    parser.add_argument("--container", help="an execution environment image to run the job in (podman)")
    args = parser.parse_args()
    use(args.name if not args.container else "ee-image-run")
    WORK.mkdir(parents=True, exist_ok=True)
    if args.container:
        summary = run(args.inventory.resolve(), ["--check"] * args.check + ["--diff"] * args.diff, args.container)
        inside = subprocess.run(["podman", "run", "--rm", args.container, "python3", "-c",
                                 "import ansible.release, ansible_runner.__main__, platform, importlib.metadata as m; "
                                 "print(ansible.release.__version__, m.version('ansible-runner'), platform.python_version())"],
                                capture_output=True, text=True, check=False).stdout.split()
        summary.update(zip(("ansible-core", "ansible-runner", "python"), inside))
        summary["image"] = args.container
        if summary["rc"] != 0:
            print("".join(Path(str(summary["log"])).read_text(encoding="utf-8").splitlines(True)[-60:]))
        print(json.dumps(summary, sort_keys=True))
        return 0 if summary["rc"] == 0 else 1
    python = shutil.which(args.python) if args.python else None
    if args.python and not python:
        raise SystemExit(f"no interpreter {args.python} on this machine")
    packages = ensure_venv(declared_packages(args.core), python)
    collections = install_collections()
    summary = run(args.inventory.resolve(), ["--check"] * args.check + ["--diff"] * args.diff)
    summary["ansible-core"] = packages.get("ansible-core")
    summary["ansible-runner"] = packages.get("ansible-runner")
    summary["packages"] = len(packages)
    summary["python"] = subprocess.run([str(VENV / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                                       check=True, capture_output=True, text=True).stdout.strip()
    summary["collections"] = collections
    if summary["rc"] != 0:
        print("".join(Path(str(summary["log"])).read_text(encoding="utf-8").splitlines(True)[-60:]))
    print(json.dumps(summary, sort_keys=True))
    return 0 if summary["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
