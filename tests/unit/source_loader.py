"""Load a tool or a role's script (tools/*.py, roles/*/files/*) as a module, for its unit tests."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_source(relative: str) -> types.ModuleType:
    """The file at ``relative`` (to the repository root) as a module, with or without a .py suffix."""
    path = ROOT / relative
    loader = importlib.machinery.SourceFileLoader(path.stem.replace("-", "_"), str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
