"""What produced a result: library versions, the code's git commit, the machine.

Written beside every table and checkpoint so a figure can be traced and redrawn.
"""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

PACKAGES = ("rlvr-lab", "torch", "transformers", "trl", "datasets", "math-verify", "vllm", "unsloth")


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    try:
        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:
        device = "unknown"
    return {
        "versions": versions,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "device": device,
        "git_commit": _git_commit(),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
