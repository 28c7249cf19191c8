"""``esml demo``: the main job (``esml learn``) on embedded defaults: ethanol with the GFN2-xTB oracle."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from esml.active.config import LearnConfig

DEMO = LearnConfig(oracle="gfn2-xtb", temperatures=(300.0,), budget=150)


def demo_command(
    out: Path = typer.Option(Path("esml-demo"), "--out", "-o", help="Run folder (model.pt, report.html, data)."),
    oracle: str = typer.Option(DEMO.oracle, "--oracle", help="Reference method the potential learns."),
    budget: int = typer.Option(DEMO.budget, "--budget", min=1, help="Most oracle calls."),
    temperature: str = typer.Option(",".join(f"{t:g}" for t in DEMO.temperatures), "--temperature", help="Walker temperatures (K), comma separated."),
    steps: int = typer.Option(DEMO.walk.steps, "--steps", min=10, help="MD steps per walker per round."),
    cache: Path = typer.Option(None, help="Label cache (SQLite); default $ESML_CACHE or ~/.cache/esml/labels.sqlite."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Active learning of an ethanol potential for MD at 300 K, target force MAE 50 meV/Å.

    A folder that already holds the demo's run is resumed (and finishes at once if it is done).
    """
    import ase.io
    from ase.build import molecule

    from esml.active.loop import learn, resumed_config
    from esml.atomic import check_folder
    from esml.cli.learn import finish_message, hooks, label_cache, parse_temperatures, read_start

    check_folder(out, "the demo's run (--out)")
    if (out / "state.json").exists():
        (config, _), start = resumed_config(out), None
    else:
        config = replace(DEMO, oracle=oracle, budget=budget, temperatures=parse_temperatures(temperature),
                         walk=replace(DEMO.walk, steps=steps))
        out.mkdir(parents=True, exist_ok=True)
        ase.io.write(out / "ethanol.xyz", molecule("CH3CH2OH"), format="extxyz")  # the start, for the user to see
        start = read_start(out / "ethanol.xyz")
    state = learn(out, config, label_cache(cache), start, hooks=hooks(quiet))
    finish_message(state, out, config)
