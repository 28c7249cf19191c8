"""What an ``esml learn`` run reports, rewritten after every round so it can be watched live:

    report.json          status, oracle calls, wall time, and per round the validation errors,
                         calibration, MD statistics and labeling counts; at the end the saved
                         model's cross-validated force MAE and σ factor
    learning_curve.png   validation force MAE against oracle calls, with the target
    reliability.png      observed against expected coverage of ±kσ, raw and calibrated (last round)
    report.html          one page with all of it, for a browser
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from esml.atomic import write_text

PAGE_STYLE = """body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:right}
th{background:#f4f4f4}img{max-width:48%;margin:.5rem 0}.status{font-weight:bold}"""


def summary(state) -> dict:
    config = state.config
    last = state.rounds[-1] if state.rounds else {}
    validation = last.get("validation", {})
    return {
        "status": state.status,
        "oracle": config["oracle"],
        "baseline": config.get("baseline"),
        "target_force_mae": config["target_force_mae"],
        "budget": config["budget"],
        "oracle_calls": state.oracle_calls,
        "oracle_computed": state.oracle_computed,
        "n_train": len(state.train),
        "n_validation": len(state.validation),
        "wall_seconds": round(state.wall_seconds, 1),
        "force_mae": validation.get("force_mae"),
        "coverage_1sigma": validation.get("coverage_1sigma"),
        "coverage_2sigma": validation.get("coverage_2sigma"),
        "saved_model": state.saved_model,  # its cross-validated force MAE and σ factor, once the run has ended
        "rounds": [{k: v for k, v in row.items() if k != "reliability"} for row in state.rounds],
        "failures": state.failures,
    }


def write_report(run_dir: Path, state) -> dict:
    report = summary(state)
    write_text(run_dir / "report.json", json.dumps(report, indent=1))
    learning_curve_plot(state.rounds, report["target_force_mae"], run_dir / "learning_curve.png")
    if state.rounds and "reliability" in state.rounds[-1]:
        reliability = state.rounds[-1]["reliability"]
        from esml.training.calibration import reliability_plot

        curves = {name: (np.array(reliability["expected"]), np.array(reliability[name])) for name in ("raw", "calibrated")}
        reliability_plot(curves, run_dir / "reliability.png", f"force σ on {report['n_validation']} validation frames")
    write_text(run_dir / "report.html", html_page(report, run_dir))
    return report


def learning_curve_plot(rounds: list[dict], target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(row["oracle_calls"], 1000 * row["validation"]["force_mae"]) for row in rounds if "validation" in row]
    figure, axis = plt.subplots(figsize=(4.8, 4.0))
    if points:
        calls, errors = zip(*points)
        axis.plot(calls, errors, marker="o", label="validation")
    axis.axhline(1000 * target, color="grey", linestyle="--", label="target")
    axis.set_xlabel("oracle calls")
    axis.set_ylabel("force MAE (meV/Å)")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def html_page(report: dict, run_dir: Path) -> str:
    escape = html.escape
    rows = []
    for row in report["rounds"]:
        validation, md, labels = row.get("validation", {}), row.get("md", {}), row.get("labels", {})
        # a validation force MAE on a set drawn in this round is marked: the curve may step there
        fresh = " (new set)" if row.get("validation_drawn") else ""
        cells = [row["round"], row.get("oracle_calls", ""), row["n_train"], _milli(validation.get("force_mae")) + fresh,
                 _percent(validation.get("coverage_2sigma")), _number(validation.get("calibration_scale")),
                 md.get("frames", ""), md.get("over_threshold", ""), _milli(md.get("mean_expected_force_mae")),
                 md.get("walkers_ran_away", ""), labels.get("sent", "")]
        rows.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    # the calibration puts 68 % of the validation errors inside ±1σ; ±2σ shows how heavy their tail is
    headers = ["round", "oracle calls", "train frames", "validation force MAE (meV/Å)", "inside ±2σ",
               "σ scale", "MD frames", "over threshold", "predicted MAE (meV/Å)", "walkers stopped", "labeled next"]
    images = "".join(f'<img src="{name}" alt="{name}">' for name in ("learning_curve.png", "reliability.png")
                     if (run_dir / name).exists())
    facts = [("status", report["status"]), ("oracle", report["oracle"]),
             ("baseline", report["baseline"] or "none (the model learns the whole energy)"),
             ("oracle calls", f"{report['oracle_calls']} of {report['budget']} ({report['oracle_computed']} computed)"),
             ("target force MAE", f"{1000 * report['target_force_mae']:.0f} meV/Å"),
             ("validation force MAE", f"{_milli(report['force_mae'])} meV/Å"),
             ("wall time", f"{report['wall_seconds']:.0f} s")]
    if report["saved_model"]:
        saved = report["saved_model"]
        facts.append(("saved model", f"cross-validated force MAE {_milli(saved['force_mae'])} meV/Å, "
                                     f"σ scale {_number(saved['calibration_scale'])} ({saved['folds']} folds)"))
    fact_rows = "".join(f"<tr><th>{escape(k)}</th><td class='{k.replace(' ', '-')}'>{escape(str(v))}</td></tr>" for k, v in facts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>esml learn: {escape(run_dir.name)}</title>
<style>{PAGE_STYLE}</style></head>
<body><h1>esml learn: {escape(run_dir.name)}</h1>
<table id="summary">{fact_rows}</table>
<div id="plots">{images}</div>
<h2>Rounds</h2>
<table id="rounds"><tr>{''.join(f'<th>{escape(h)}</th>' for h in headers)}</tr>{''.join(rows)}</table>
<p>Model: <code>model.pt</code> (use with <code>esml md</code>, <code>esml evaluate</code>), refitted at the end on the validation frames too. Data: <code>train.xyz</code>, <code>validation.xyz</code>, <code>report.json</code>.</p>
</body></html>
"""


def _milli(value) -> str:
    return "" if value is None else f"{1000 * value:.1f}"


def _percent(value) -> str:
    return "" if value is None else f"{100 * value:.0f} %"


def _number(value) -> str:
    return "" if value is None else f"{value:.2f}"
