"""deepqmc 1.2.0 on one system for a wall-clock budget, in its own venv (`make peers`).

    python deepqmc_vmc.py LiH SECONDS WORKDIR [hydra overrides ...]

Runs deepqmc's own command line (its default ansatz, KFAC, 256 walkers, 200 pretraining steps
against its default STO-6G Hartree–Fock) on the molecule file deepqmc ships under that name, with
the coordinates given as overrides. A metric logger stops the
run when SECONDS have passed since this script started (pretraining, compilation and
equilibration included, as in esml's timings) and prints, as the last stdout line, JSON with
deepqmc's own energy estimate at that moment: the exponentially weighted mean of the training
energies with its error (``energy/ewm``), as its progress bar shows.
"""

from __future__ import annotations

import json
import os
import sys
import time

STARTED = time.perf_counter()
BUDGET = float(sys.argv[2])


class TimedLogger:
    """deepqmc's metric-logger interface; ends the process once the budget is spent."""

    def __init__(self, workdir: str, n_mol: int, *, max_queue: int = 10):
        self.history: list[dict] = []

    def update(self, step, single_device_stats, multi_device_stats, mol_idxs, prefix=None):
        if prefix is not None:  # pretraining and equilibration
            return
        seconds = time.perf_counter() - STARTED
        self.history.append({"step": int(step), "seconds": seconds,
                             "energy": float(single_device_stats["local_energy/mean"].mean()),
                             "ewm": float(single_device_stats["energy/ewm"].ravel()[0]),
                             "ewm_error": float(single_device_stats["energy/ewm_error"].ravel()[0])})
        if seconds >= BUDGET:
            self.close()

    def close(self):
        last = self.history[-1] if self.history else {}
        print(json.dumps({"energy_ha": last.get("ewm"), "error_ha": last.get("ewm_error"),
                          "steps": len(self.history), "seconds": time.perf_counter() - STARTED,
                          "history": self.history[::10]}), flush=True)
        os._exit(0)  # deepqmc has no wall-time stop; its checkpoints are not needed here


if __name__ == "__main__":
    from deepqmc.app import cli

    molecule, workdir, overrides = sys.argv[1], sys.argv[3], sys.argv[4:]
    sys.argv = ["deepqmc", f"hydra.run.dir={workdir}", f"hamil/mol={molecule}", "task.electron_batch_size=256",
                "task.pretrain_steps=200", "task.steps=1000000",
                "task.metric_logger_constructor._target_=__main__.TimedLogger", *overrides]
    cli()
