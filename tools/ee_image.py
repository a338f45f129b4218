#!/usr/bin/env python3
"""Build an execution environment image here, with ansible-builder and podman, on a base made from
Debian's packages (the lab's Debian 13 node image, mmdebstrap + podman import): no registry, no Galaxy.

    tools/ee_image.py [--tag localhost/exlb-ee:debian13] [--base localhost/exlb-node:debian13]

lab/ee/execution-environment.yml is the repository's execution-environment.yml for that base: the same
ansible-core and ansible-runner specs, the same collections (ee/requirements.yml), the collection's own
needs found by ansible-builder's introspection of meta/execution-environment.yml. What differs, and why:
- the base is Debian, whose apt-get ansible-builder drives (options.package_manager_path), whose system
  Python refuses pip and ensurepip (PEP 668): the EE's Python is a venv, /opt/ee;
- the collections come as tarballs in the build context (Galaxy is not reachable here): this one as
  `ansible-galaxy collection build` makes it, the others rebuilt from the `ansible` package's copies
  (whose FILES.json lists files the package left out: the manifest is cut to what is there);
- this machine reaches PyPI through a TLS-inspecting proxy: its CA bundle goes into the build as PIP_CERT.
Then `make ee-test` runs the skeleton's job in the image (molecule/ee_image).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".build" / "ee-image"


def dependency_tarball(source: Path, dest_dir: Path) -> Path:
    """A collection tarball from an installed copy, its FILES.json cut to the files the copy has."""
    files = json.loads((source / "FILES.json").read_text(encoding="utf-8"))
    files["files"] = [entry for entry in files["files"] if entry["name"] == "." or (source / entry["name"]).exists()]
    files_json = json.dumps(files, indent=4).encode("utf-8")
    manifest = json.loads((source / "MANIFEST.json").read_text(encoding="utf-8"))
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
    manifest_json = json.dumps(manifest, indent=4).encode("utf-8")
    info = manifest["collection_info"]
    out = dest_dir / f"{info['namespace']}-{info['name']}-{info['version']}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for name, data in (("MANIFEST.json", manifest_json), ("FILES.json", files_json)):
            member = tarfile.TarInfo(name)
            member.size, member.mode = len(data), 0o644
            tar.addfile(member, io.BytesIO(data))
        for entry in files["files"]:
            if entry["name"] != ".":
                tar.add(source / entry["name"], arcname=entry["name"], recursive=False)
    return out


def context() -> Path:
    shutil.rmtree(WORK, ignore_errors=True)
    collections = WORK / "collections"
    collections.mkdir(parents=True)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "ansible-galaxy"), "collection", "build", "--output-path", str(collections), str(ROOT)],
                   check=True, cwd=WORK, capture_output=True, text=True)
    import ansible_collections  # the `ansible` package's collections

    sources = [Path(path) for path in ansible_collections.__path__]
    for entry in yaml.safe_load((ROOT / "ee" / "requirements.yml").read_text(encoding="utf-8"))["collections"]:
        if entry.get("type") == "file":
            continue
        namespace, name = entry["name"].split(".")
        source = next(path / namespace / name for path in sources if (path / namespace / name).is_dir())
        dependency_tarball(source, collections)
    requirements = {"collections": [{"name": f"collections/{path.name}", "type": "file"}
                                    for path in sorted(collections.glob("*.tar.gz"))]}
    (WORK / "requirements.yml").write_text(yaml.safe_dump(requirements, sort_keys=False), encoding="utf-8")
    shutil.copy(ROOT / "lab" / "ee" / "execution-environment.yml", WORK / "execution-environment.yml")
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", WORK / "host-ca.crt")
    subprocess.run([str(bin_dir / "ansible-builder"), "create", "-f", "execution-environment.yml", "--context", "context",
                    "--output-filename", "Containerfile"], check=True, cwd=WORK, capture_output=True, text=True)
    return WORK / "context"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default="localhost/exlb-ee:debian13")
    parser.add_argument("--base", default="localhost/exlb-node:debian13")
    args = parser.parse_args()
    build = context()
    log = WORK / "build.log"
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(["podman", "build", "--build-arg", f"EE_BASE_IMAGE={args.base}", "-t", args.tag,
                               "-f", "Containerfile", "."], cwd=build, stdout=out, stderr=subprocess.STDOUT,
                              check=False, env=dict(os.environ))
    if done.returncode != 0:
        print("".join(log.read_text(encoding="utf-8").splitlines(True)[-40:]))
        print(f"podman build failed ({done.returncode}); the whole log: {log}")
        return 1
    print(f"built {args.tag} from {args.base} (log: {log})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
