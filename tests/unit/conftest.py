"""Ansible's collection loader is installed before any test imports the collection, as on a controller,
so that templates in tests find the collection's plugins (filters) by their full names."""

from __future__ import annotations

# installs Ansible's collection loader
import ansible_templating  # noqa: F401  pylint: disable=unused-import
