"""Where the peers' virtual environments live and how to run a script in one.

Each peer (TorchANI, MACE) is measured in its own venv under benchmarks/peers/, never as a
dependency of esml: `make peers` creates them from benchmarks/peers/<name>.txt.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

PEERS = Path(__file__).parent / "peers"


def peer_python(name: str) -> Path:
    python = PEERS / f".venv-{name}" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"no venv for {name}: run `make peers` first")
    return python


def run_peer(name: str, script: str, *arguments, json_stdout: bool = False, timeout: float | None = None):
    environment = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1",  # e3nn 0.4.4 predates torch's weights_only default
                   "TORCHANI_NO_WARN_EXTENSIONS": "1", "PYTHONWARNINGS": "ignore"}
    run = subprocess.run([str(peer_python(name)), script, *map(str, arguments)], cwd=PEERS, env=environment,
                         capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise SystemExit(f"{name} {script} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1]) if json_stdout else None
