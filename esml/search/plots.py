"""The plot of a search: the best energy found against the evaluations spent."""

from __future__ import annotations

from pathlib import Path


def plot_progress(runs: dict[str, list[tuple[int, float]]], path: Path, title: str, target: float | None = None) -> None:
    """One step line per run (label → its (evaluations, best energy) history); the target dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for label, history in runs.items():
        evaluations, energies = zip(*history)
        axis.step(evaluations, energies, where="post", label=label)
    if target is not None:
        axis.axhline(target, color="k", ls=":", label=f"target {target:.6f}")
    axis.set_xscale("log")
    axis.set_xlabel("energy evaluations")
    axis.set_ylabel("lowest energy found (eV)")
    axis.set_title(title)
    axis.legend(fontsize="small")
    figure.tight_layout()
    from esml.atomic import write_atomically

    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=120, format="png"))
    plt.close(figure)
