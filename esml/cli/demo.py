"""``esml demo``: the main job (``esml learn``) on embedded defaults: ethanol with the GFN2-xTB oracle."""

from __future__ import annotations

from pathlib import Path

import typer


def demo_command(
    output: Path = typer.Option(Path("esml-demo"), "--output", "-o", help="Run folder (model.pt, report.html, data)."),
    oracle: str = typer.Option("gfn2-xtb", "--oracle", help="Reference method the potential learns."),
    budget: int = typer.Option(150, "--budget", min=1, help="Most oracle calls."),
    temperature: str = typer.Option("300", "--temperature", help="Walker temperatures (K), comma separated."),
    steps: int = typer.Option(400, "--steps", min=10, help="MD steps per walker per round."),
    cache: Path = typer.Option(None, help="Label cache (SQLite); default $ESML_CACHE or ~/.cache/esml/labels.sqlite."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Active learning of an ethanol potential for MD at 300 K, target force MAE 50 meV/Å.

    A folder that already holds the demo's run is resumed (and finishes at once if it is done).
    """
    from ase.build import molecule

    from esml.cli.learn import learn_command

    start = output / "ethanol.xyz"
    resume = (output / "state.json").exists()
    if not resume:
        import ase.io

        output.mkdir(parents=True, exist_ok=True)
        ase.io.write(start, molecule("CH3CH2OH"), format="extxyz")
    learn_command(
        start=None if resume else start, oracle=oracle, baseline="auto", target_force_mae=0.05, temperature=temperature, budget=budget,
        out=output, resume=resume, db=None, walkers=2, steps=steps, batch=8, inducing=None, validation=20,
        validation_refresh=2.0, workers=1,
        scheduler=None, cache=cache, seed=0, quiet=quiet,
    )
