"""The fault matrix: bad input to every command ends in one line on stderr, the documented exit
status, and no file touched. Each row is (case, arguments, exit status, a fragment of the line).

Arguments are formatted with the paths of a scratch folder: {labeled} (labeled water frames),
{model} (a small ANI model), {store} (a store with those frames), {folder} (an empty folder),
{junk} (a text file that is nothing esml reads), {torch_dict} (a torch file that is not a model),
{cell} (a periodic cell), {cell_labeled} (one with an energy), {empty}, {truncated} and {binary} (broken
structure files), {unlabeled} (a structure without results), {table} (a small CSV table), {npz} (arrays that are not revised MD17), {out} (a path
that does not exist yet). The files are hashed before and after every case: a refusal changes nothing.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator

from esml.qm import calculator

ESML = str(Path(sys.executable).with_name("esml"))
DEEP = "(" * 300 + "nsites<3" + ")" * 300
MANY = " OR ".join(f"nsites={n}" for n in range(300))
LONG = "nsites<3 AND " * 400 + "nsites<3"  # 5,208 characters

CASES = [
    # esml label
    ("label: unknown initial guess", ["label", "{unlabeled}", "-m", "pbe/sto-3g", "-o", "{out}.xyz", "--initial-guess", "guessing"], 2,
     "unknown; use one of minao"),
    ("label: initial guess for xTB", ["label", "{unlabeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--initial-guess", "huckel"], 2,
     "PySCF's SCF only"),
    # esml electronic
    ("electronic: no such model file", ["electronic", "{unlabeled}", "--model", "{out}.pt"], 2, "no model file"),
    ("electronic: JSON into a folder", ["electronic", "{unlabeled}", "--json", "{folder}"], 2, "is a folder"),
    ("label: output is a folder", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{folder}"], 2, "is a folder"),
    ("label: output format drops forces", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.pdb"], 2, "keep energies and forces"),
    ("label: output format unknown", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.foo"], 2, "rename the output"),
    ("label: cache is a folder", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--cache", "{folder}"], 2, "label cache"),
    ("label: cache is not a database", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--cache", "{junk}"], 2, "is not a label cache"),
    ("label: input missing", ["label", "{out}.xyz", "-m", "gfn2-xtb", "-o", "{out}.xyz"], 2, "no such file"),
    ("label: method unknown", ["label", "{labeled}", "-m", "nonsense", "-o", "{out}.xyz"], 2, "not understood"),
    ("label: basis unknown", ["label", "{labeled}", "-m", "pbe/no-such-basis", "-o", "{out}.xyz"], 2, "not one PySCF knows"),
    ("label: workers zero", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "-j", "0"], 2, "--workers"),
    # esml train
    ("train: negative model size", ["train", "--data", "{labeled}", "--model", "equivariant", "--option", "features=-3", "-o", "{out}.pt"], 2, "rejected"),
    ("train: unknown model option", ["train", "--data", "{labeled}", "--option", "colour=3", "-o", "{out}.pt"], 2, "KEY=VALUE"),
    ("train: negative learning rate", ["train", "--data", "{labeled}", "--lr", "-1", "-o", "{out}.pt"], 2, "positive learning rate"),
    ("train: validation fraction above 1", ["train", "--data", "{labeled}", "--valid-fraction", "1.5", "-o", "{out}.pt"], 2, "--valid-fraction"),
    ("train: resume without a checkpoint", ["train", "--data", "{labeled}", "--resume", "-o", "{out}.pt"], 2, "no checkpoint"),
    ("train: unknown family", ["train", "--data", "{labeled}", "--model", "nequip", "-o", "{out}.pt"], 2, "unknown model"),
    ("train: output is a folder", ["train", "--data", "{labeled}", "-o", "{folder}"], 2, "is a folder"),
    # esml evaluate
    ("evaluate: a torch file that is no model", ["evaluate", "{torch_dict}", "{labeled}"], 2, "not an esml model"),
    ("evaluate: a text file as model", ["evaluate", "{junk}", "{labeled}"], 2, "not an esml model file"),
    ("evaluate: model missing", ["evaluate", "{out}.pt", "{labeled}"], 2, "no such model file"),
    ("evaluate: metrics into a folder", ["evaluate", "{model}", "{labeled}", "--json", "{folder}"], 2, "is a folder"),
    ("evaluate: unknown split", ["evaluate", "{model}", "{labeled}", "--split", "nowhere"], 2, "no frame has split"),
    # esml md, optimize, vibrate
    ("md: interval longer than the run", ["md", "{model}", "{labeled}", "--steps", "10", "--interval", "100", "-o", "{out}.xyz"], 2, "no frame would be saved"),
    ("md: trajectory format drops energies", ["md", "{model}", "{labeled}", "--steps", "10", "-o", "{out}.pdb"], 2, "keep energies and forces"),
    ("md: unknown thermostat", ["md", "{model}", "{labeled}", "--thermostat", "andersen", "-o", "{out}.xyz"], 2, "unknown thermostat"),
    ("md: model file missing", ["md", "{out}.pt", "{labeled}", "-o", "{out}.xyz"], 2, "no such model file"),
    ("md: watching σ of a model without one", ["md", "{model}", "{labeled}", "--max-force-sigma", "0.1", "-o", "{out}.xyz"], 2, "no uncertainty"),
    ("vibrate: zero displacement", ["vibrate", "{model}", "{labeled}", "--no-optimize", "--displacement", "0"], 2, "finite differences"),
    ("optimize: output format drops energies", ["optimize", "{model}", "{labeled}", "-o", "{out}.pdb"], 2, "keep energies and forces"),
    # the store and its queries
    ("query: a store that does not exist", ["query", "", "--db", "{out}.db"], 2, "no store at"),
    ("query: a folder as store", ["query", "", "--db", "{folder}"], 2, "is a folder"),
    ("ingest: a structure file as store", ["ingest", "{folder}", "--db", "{junk}"], 2, "not an esml store"),
    ("query: an integer no database holds", ["query", "nsites<99999999999999999999999", "--db", "{store}"], 2, "stored integer"),
    ("query: an infinite number", ["query", "nsites<1.5e999", "--db", "{store}"], 2, "not finite"),
    ("query: 300 nested parentheses", ["query", DEEP, "--db", "{store}"], 2, "parentheses deep"),
    ("query: 300 OR terms", ["query", MANY, "--db", "{store}"], 2, "conditions"),
    ("query: a filter that does not parse", ["query", "nsites <", "--db", "{store}"], 2, "does not parse"),
    ("query: unknown property", ["query", "colour = 1", "--db", "{store}"], 2, "unknown property"),
    ("models: a store that does not exist", ["models", "--db", "{out}.db"], 2, "no store at"),
    ("datasets list: a store that does not exist", ["datasets", "list", "--db", "{out}.db"], 2, "no store at"),
    ("datasets import: unknown set", ["datasets", "import", "qm8", "--db", "{out}.db"], 2, "unknown data set"),
    ("export: unknown format", ["export", "{out}.pdf", "--db", "{store}"], 2, "export format"),
    # esml learn
    ("learn: budget zero", ["learn", "{labeled}", "--budget", "0", "--out", "{out}"], 2, "--budget"),
    ("learn: start and --resume", ["learn", "{labeled}", "--resume", "--out", "{out}"], 2, "not both"),
    ("learn: resume without a run", ["learn", "--resume", "--out", "{folder}"], 2, "holds no run"),
    ("learn: validation refresh at most 1", ["learn", "{labeled}", "--validation-refresh", "0.5", "--out", "{out}"], 2, "growth factor"),
    ("learn: temperatures that are no numbers", ["learn", "{labeled}", "--temperature", "warm", "--out", "{out}"], 2, "--temperature"),
    ("learn: initial guess for an xTB oracle", ["learn", "{labeled}", "--initial-guess", "sap", "--out", "{out}"], 2, "PySCF's SCF only"),
    ("learn: PySCF oracle on a cell", ["learn", "{cell}", "--oracle", "pbe/def2-svp", "--out", "{out}"], 2, "periodic"),
    ("learn: unknown oracle", ["learn", "{labeled}", "--oracle", "b3lyp", "--out", "{out}"], 2, "not understood"),
    # the rest
    ("vmc: unknown optimiser", ["vmc", "--atom", "He", "--optimizer", "lbfgs", "--checkpoint", "{out}.pt"], 2, "--optimizer"),
    ("vmc: unknown baseline", ["vmc", "--atom", "He", "--baseline", "ccsd", "--checkpoint", "{out}.pt"], 2, "--baseline"),
    ("sisso: unknown method", ["sisso", "{junk}", "--target", "y", "--features", "a", "--method", "lasso"], 2, "unknown method"),
    ("an unknown command", ["relax", "{labeled}"], 2, "no such command"),
    ("an unknown option", ["label", "{labeled}", "--colour", "red"], 2, "no such option"),
    # a second pass over every command: empty, truncated and binary inputs, values out of range,
    # outputs that are folders, stores and servers that are not there
    ("label: an empty input file", ["label", "{empty}", "-m", "gfn2-xtb", "-o", "{out}.xyz"], 2, "not a structure file that"),
    ("label: a truncated input file", ["label", "{truncated}", "-m", "gfn2-xtb", "-o", "{out}.xyz"], 2, "not a structure file that"),
    ("label: a binary input file", ["label", "{binary}", "-m", "gfn2-xtb", "-o", "{out}.xyz"], 2, "not a structure file that"),
    ("label: a folder as input", ["label", "{folder}", "-m", "gfn2-xtb", "-o", "{out}.xyz"], 2, "is a folder; give a"),
    ("label: charge and multiplicity that cannot be", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--charge", "1", "--multiplicity", "1"], 2, "frame 0 (H2O): 9 electrons"),
    ("label: multiplicity zero", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--multiplicity", "0"], 2, "frame 0 (H2O): 10 electrons"),
    ("label: unknown dispersion", ["label", "{labeled}", "-m", "pbe/sto-3g", "-o", "{out}.xyz", "--dispersion", "d9"], 2, "dispersion 'd9' unknown; use one"),
    ("label: dispersion on xTB", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--dispersion", "d3bj"], 2, "gfn2-xtb: dispersion is built into"),
    ("label: zero SCF cycles", ["label", "{labeled}", "-m", "hf/sto-3g", "-o", "{out}.xyz", "--max-scf-cycles", "0"], 2, "max_scf_cycles must be at least"),
    ("label: zero threads", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--threads", "0"], 2, "invalid value for '--threads': Input"),
    ("label: method option missing", ["label", "{labeled}", "-o", "{out}.xyz"], 2, "missing option '--method' / '-m'"),
    ("train: data file missing", ["train", "--data", "{out}.xyz", "-o", "{out}.pt"], 2, "no such file; give the"),
    ("train: data file empty", ["train", "--data", "{empty}", "-o", "{out}.pt"], 2, "not a structure file that"),
    ("train: frames without energies", ["train", "--data", "{unlabeled}", "-o", "{out}.pt"], 2, "frame 0 (H2O) has no"),
    ("train: both a file and a dataset", ["train", "--data", "{labeled}", "--dataset", "x", "--db", "{store}", "-o", "{out}.pt"], 2, "give either --data FILE or"),
    ("train: neither a file nor a dataset", ["train", "-o", "{out}.pt"], 2, "give either --data FILE or"),
    ("train: a dataset the store lacks", ["train", "--dataset", "nowhere", "--db", "{store}", "-o", "{out}.pt"], 2, "no dataset named 'nowhere' in"),
    ("train: zero epochs", ["train", "--data", "{labeled}", "--epochs", "0", "-o", "{out}.pt"], 2, "invalid value for '--epochs': Input"),
    ("train: zero batch size", ["train", "--data", "{labeled}", "--batch-size", "0", "-o", "{out}.pt"], 2, "invalid value for '--batch-size': Input"),
    ("train: zero ensemble members", ["train", "--data", "{labeled}", "--ensemble", "0", "-o", "{out}.pt"], 2, "invalid value for '--ensemble': Input"),
    ("train: negative force weight", ["train", "--data", "{labeled}", "--force-weight", "-1", "-o", "{out}.pt"], 2, "loss weights must be non-negative"),
    ("train: negative energy weight", ["train", "--data", "{labeled}", "--energy-weight", "-1", "-o", "{out}.pt"], 2, "loss weights must be non-negative"),
    ("train: both weights zero", ["train", "--data", "{labeled}", "--energy-weight", "0", "--force-weight", "0", "-o", "{out}.pt"], 2, "loss weights must be non-negative"),
    ("train: an option without a value", ["train", "--data", "{labeled}", "--option", "features", "-o", "{out}.pt"], 2, "model option 'features' is not"),
    ("train: isolated atoms that are not one atom each", ["train", "--data", "{labeled}", "--reference-energies", "{labeled}", "-o", "{out}.pt"], 2, "is not one atom with an energy"),
    ("train: an npz that is not revised MD17", ["train", "--data", "{npz}", "-o", "{out}.pt"], 2, "without the revised-MD17 keys"),
    ("train: EMA decay above 1", ["train", "--data", "{labeled}", "--ema", "1.5", "-o", "{out}.pt"], 2, "between 0 and 1"),
    ("train: stage two after the end", ["train", "--data", "{labeled}", "--stage-two", "2", "-o", "{out}.pt"], 2, "share of the training"),
    ("train: an option that is not JSON", ["train", "--data", "{labeled}", "--option", "hidden={{", "-o", "{out}.pt"], 2, "model options hidden={ rejected"),
    ("train: zero threads", ["train", "--data", "{labeled}", "--threads", "0", "-o", "{out}.pt"], 2, "invalid value for '--threads': Input"),
    ("train: negative time budget", ["train", "--data", "{labeled}", "--max-minutes", "-1", "-o", "{out}.pt"], 2, "invalid value for '--max-minutes': Input"),
    ("train: negative validation fraction", ["train", "--data", "{labeled}", "--valid-fraction", "-0.1", "-o", "{out}.pt"], 2, "invalid value for '--valid-fraction': Input"),
    ("train: negative patience", ["train", "--data", "{labeled}", "--patience", "-1", "-o", "{out}.pt"], 2, "patience and learning-rate patience must"),
    ("train: a store that does not exist", ["train", "--dataset", "x", "--db", "{out}.db", "-o", "{out}.pt"], 2, "no store at"),
    ("evaluate: data file missing", ["evaluate", "{model}", "{out}.xyz"], 2, "no such file; give the"),
    ("evaluate: frames without energies", ["evaluate", "{model}", "{unlabeled}"], 2, "the data: frame 0 (H2O)"),
    ("evaluate: an empty data file", ["evaluate", "{model}", "{empty}"], 2, "not a structure file that"),
    ("evaluate: plot into a folder", ["evaluate", "{model}", "{labeled}", "--plot", "{folder}"], 2, "is a folder; give a"),
    ("evaluate: a folder as model", ["evaluate", "{folder}", "{labeled}"], 2, "not an esml model file"),
    ("evaluate: elements the model does not know", ["evaluate", "{model}", "{cell_labeled}"], 2, "this model was not trained"),
    ("md: structure missing", ["md", "{model}", "{out}.xyz", "-o", "{out}.xyz"], 2, "no such file; give the"),
    ("md: unknown ensemble", ["md", "{model}", "{labeled}", "--ensemble", "npt", "-o", "{out}.xyz"], 2, "unknown ensemble 'npt'; use nvt"),
    ("md: zero timestep", ["md", "{model}", "{labeled}", "--timestep", "0", "-o", "{out}.xyz"], 2, "timestep, steps and interval must"),
    ("md: negative temperature", ["md", "{model}", "{labeled}", "--temperature", "-5", "-o", "{out}.xyz"], 2, "timestep, steps and interval must"),
    ("md: zero steps", ["md", "{model}", "{labeled}", "--steps", "0", "-o", "{out}.xyz"], 2, "invalid value for '--steps': Input"),
    ("md: zero interval", ["md", "{model}", "{labeled}", "--interval", "0", "-o", "{out}.xyz"], 2, "invalid value for '--interval': Input"),
    ("md: trajectory into a folder", ["md", "{model}", "{labeled}", "--steps", "10", "-o", "{folder}"], 2, "is a folder; give a"),
    ("md: summary into a folder", ["md", "{model}", "{labeled}", "--steps", "10", "--json", "{folder}", "-o", "{out}.xyz"], 2, "is a folder; give a"),
    ("md: a text file as model", ["md", "{junk}", "{labeled}", "-o", "{out}.xyz"], 2, "not an esml model file"),
    ("md: elements the model does not know", ["md", "{model}", "{cell}", "--steps", "10", "-o", "{out}.xyz"], 2, "this model was not trained"),
    ("md: a huge timestep", ["md", "{model}", "{labeled}", "--timestep", "1000", "--steps", "10", "-o", "{out}.xyz"], 2, "--timestep 1000 fs: atomistic MD"),
    ("optimize: zero fmax", ["optimize", "{model}", "{labeled}", "--fmax", "0", "-o", "{out}.xyz"], 2, "invalid value for '--fmax': Input"),
    ("optimize: zero steps", ["optimize", "{model}", "{labeled}", "--steps", "0", "-o", "{out}.xyz"], 2, "invalid value for '--steps': Input"),
    ("optimize: model missing", ["optimize", "{out}.pt", "{labeled}", "-o", "{out}.xyz"], 2, "no such model file; train"),
    ("optimize: structure missing", ["optimize", "{model}", "{out}.xyz", "-o", "{out}.xyz"], 2, "no such file; give the"),
    ("optimize: output is a folder", ["optimize", "{model}", "{labeled}", "-o", "{folder}"], 2, "is a folder; give a"),
    ("vibrate: displacement of 1 Å", ["vibrate", "{model}", "{labeled}", "--no-optimize", "--displacement", "1.0"], 2, "displacement 1 Å: finite differences"),
    ("vibrate: frequencies into a folder", ["vibrate", "{model}", "{labeled}", "--no-optimize", "--json", "{folder}"], 2, "is a folder; give a"),
    ("vibrate: a text file as model", ["vibrate", "{junk}", "{labeled}"], 2, "not an esml model file"),
    ("vibrate: structure missing", ["vibrate", "{model}", "{out}.xyz"], 2, "no such file; give the"),
    # esml spectrum
    ("spectrum ir: a model without dipoles", ["spectrum", "ir", "{model}", "{labeled}", "--no-optimize"], 2, "no dipole"),
    ("spectrum ir: plot into a folder", ["spectrum", "ir", "gfn2-xtb", "{labeled}", "--png", "{folder}"], 2, "is a folder"),
    ("spectrum ir: experiment not JSON", ["spectrum", "ir", "gfn2-xtb", "{labeled}", "--experiment", "{junk}", "--png", "{out}.png"], 2, "not an experiment file"),
    ("spectrum anharmonic: a periodic cell", ["spectrum", "anharmonic", "gfn2-xtb", "{cell}"], 2, "periodic structure"),
    ("spectrum anharmonic: step zero", ["spectrum", "anharmonic", "gfn2-xtb", "{labeled}", "--step", "0"], 2, "VPT2 step"),
    ("spectrum md: timestep of 5 fs", ["spectrum", "md", "gfn2-xtb", "{labeled}", "--timestep", "5"], 2, "needs at most 1 fs"),
    ("spectrum md: a model without dipoles", ["spectrum", "md", "{model}", "{labeled}", "--no-optimize"], 2, "predicts no dipole"),
    ("train: dipole weight on frames without dipoles", ["train", "--data", "{cell_labeled}", "--dipole-weight", "1", "-o", "{out}.pt"], 2, "has no dipole"),
    ("attribute: model missing", ["attribute", "{out}.pt", "{labeled}"], 2, "invalid value for 'model': file"),
    ("attribute: structure missing", ["attribute", "{model}", "{out}.xyz"], 2, "invalid value for 'structure': file"),
    ("attribute: site energies into a folder", ["attribute", "{model}", "{labeled}", "--json", "{folder}"], 2, "is a folder; give a"),
    ("attribute: plot into a folder", ["attribute", "{model}", "{labeled}", "--plot", "{folder}"], 2, "is a folder; give a"),
    ("query: a negative limit", ["query", "", "--db", "{store}", "--limit", "-1"], 2, "invalid value for '--limit': Input"),
    ("query: unknown output format", ["query", "", "--db", "{store}", "-f", "pdf"], 2, "unknown format 'pdf'; use one"),
    ("query: a split without a dataset", ["query", "", "--db", "{store}", "--split", "test"], 2, "a split needs a dataset"),
    ("query: a dataset the store lacks", ["query", "", "--db", "{store}", "--dataset", "nowhere"], 2, "no dataset named 'nowhere' in"),
    ("query: an unreachable provider", ["query", "nsites<3", "--provider", "http://127.0.0.1:9/v1"], 2, "cannot reach http://127.0.0.1:9/v1/structures: ConnectionError; is"),
    ("query: output into a folder", ["query", "", "--db", "{store}", "-f", "json", "-o", "{folder}"], 2, "is a folder; give a"),
    ("query: a filter of 5,000 characters", ["query", LONG, "--db", "{store}"], 2, "filter of 5,208 characters; at"),
    ("query: a number compared with a string", ["query", "_esml_energy > \"abc\"", "--db", "{store}"], 2, "_esml_energy' is a number: compare"),
    ("query: a database URL of an unknown kind", ["query", "", "--db", "bogus://x"], 2, "cannot use database URL 'bogus://x'"),
    ("query: an unreachable PostgreSQL server", ["query", "", "--db", "postgresql+psycopg://u:p@127.0.0.1:9/x"], 2, "cannot open database 'postgresql+psycopg://u:***@127.0.0.1:9/x': connection"),
    ("export: a dataset the store lacks", ["export", "{out}.xyz", "--db", "{store}", "--dataset", "nowhere"], 2, "no dataset named 'nowhere' in"),
    ("export: into a folder", ["export", "{folder}", "--db", "{store}"], 2, "cannot tell the export format"),
    ("export: an unknown split", ["export", "{out}.xyz", "--db", "{store}", "--dataset", "water", "--split", "nope"], 2, "unknown split 'nope'; use one"),
    ("export: a store that does not exist", ["export", "{out}.xyz", "--db", "{out}.db"], 2, "no store at"),
    ("export: a filter that does not parse", ["export", "{out}.xyz", "--db", "{store}", "--filter", "nsites <"], 2, "filter does not parse: it"),
    ("datasets create: fractions that do not sum to 1", ["datasets", "create", "w2", "--filter", "nsites<9", "--fractions", "0.5,0.6,0.1", "--db", "{store}"], 2, "split fractions must be three"),
    ("datasets create: fractions that are no numbers", ["datasets", "create", "w2", "--filter", "nsites<9", "--fractions", "a,b,c", "--db", "{store}"], 2, "invalid value: --fractions must be"),
    ("datasets create: a filter that does not parse", ["datasets", "create", "w2", "--filter", "nsites <", "--db", "{store}"], 2, "filter does not parse: it"),
    ("datasets create: a name taken", ["datasets", "create", "water", "--filter", "nsites<9", "--db", "{store}"], 2, "dataset 'water' already exists; choose"),
    ("datasets create: a filter nothing matches", ["datasets", "create", "w3", "--filter", "nsites>99", "--db", "{store}"], 2, "filter 'nsites>99' matches nothing; a"),
    ("datasets delete: a dataset the store lacks", ["datasets", "delete", "nowhere", "--db", "{store}"], 2, "no dataset named 'nowhere"),
    ("datasets import: zero molecules", ["datasets", "import", "qm7", "--limit", "0", "--db", "{out}.db"], 2, "invalid value for '--limit': Input"),
    ("datasets create: a store that does not exist", ["datasets", "create", "w", "--filter", "nsites<9", "--db", "{out}.db"], 2, "no store at"),
    ("models: a store without models", ["models", "--db", "{store}", "--json", "{folder}"], 2, "no model in the store"),
    ("serve: port zero", ["serve", "--db", "{store}", "--port", "0"], 2, "invalid value for '--port': Input"),
    ("serve: a store that does not exist", ["serve", "--db", "{out}.db"], 2, "no store at"),
    ("serve: a page limit below the default", ["serve", "--db", "{store}", "--page-limit-max", "5"], 2, "invalid value for '--page-limit-max': Input"),
    ("serve: zero timeout", ["serve", "--db", "{store}", "--timeout", "0"], 2, "invalid value for '--timeout': Input"),
    ("ingest: a path that does not exist", ["ingest", "{out}", "--db", "{out}.db"], 2, "does not exist; give files"),
    ("ingest: report into a folder", ["ingest", "{labeled}", "--db", "{out}.db", "--report", "{folder}"], 2, "is a folder; give a"),
    ("ingest: zero workers", ["ingest", "{labeled}", "--db", "{out}.db", "-j", "0"], 2, "invalid value for '--workers' /"),
    ("ingest: a database URL of an unknown kind", ["ingest", "{labeled}", "--db", "bogus://x"], 2, "cannot use database URL 'bogus://x'"),
    ("learn: structure missing", ["learn", "{out}.xyz", "--out", "{out}"], 2, "no such file; give the"),
    ("learn: a negative temperature", ["learn", "{labeled}", "--temperature", "-300", "--out", "{out}"], 2, "--temperature '-300': give one or"),
    ("learn: a zero temperature", ["learn", "{labeled}", "--temperature", "0", "--out", "{out}"], 2, "--temperature '0': give one or"),
    ("learn: too few MD steps", ["learn", "{labeled}", "--steps", "5", "--out", "{out}"], 2, "invalid value for '--steps': Input"),
    ("learn: zero walkers", ["learn", "{labeled}", "--walkers", "0", "--out", "{out}"], 2, "invalid value for '--walkers': Input"),
    ("learn: zero batch", ["learn", "{labeled}", "--batch", "0", "--out", "{out}"], 2, "invalid value for '--batch': Input"),
    ("learn: one validation frame", ["learn", "{labeled}", "--validation", "1", "--out", "{out}"], 2, "invalid value for '--validation': Input"),
    ("learn: a negative target", ["learn", "{labeled}", "--target-force-mae", "-1", "--out", "{out}"], 2, "invalid value for '--target-force-mae': Input"),
    ("learn: an unknown baseline", ["learn", "{labeled}", "--baseline", "nonsense", "--out", "{out}"], 2, "method 'nonsense' not understood; write"),
    ("learn: a text file as store", ["learn", "{labeled}", "--db", "{junk}", "--out", "{out}"], 2, "is not an esml store"),
    ("learn: a file as run folder", ["learn", "{labeled}", "--out", "{junk}"], 2, "is a file; give a"),
    ("learn: a folder as label cache", ["learn", "{labeled}", "--cache", "{folder}", "--out", "{out}"], 2, "is a folder; give a"),
    ("learn: too few inducing points", ["learn", "{labeled}", "--inducing", "5", "--out", "{out}"], 2, "invalid value for '--inducing': Input"),
    ("learn: a budget below the seed frames", ["learn", "{labeled}", "--budget", "2", "--out", "{out}"], 2, "--budget 2 leaves no room"),
    ("learn: an empty structure file", ["learn", "{empty}", "--out", "{out}"], 2, "not a structure file that"),
    ("fit-property: unknown data set", ["fit-property", "--dataset", "qm8", "--target", "U0", "--db", "{store}"], 2, "unknown dataset 'qm8'; use qm7"),
    ("fit-property: unknown target", ["fit-property", "--dataset", "qm7", "--target", "colour", "--db", "{store}"], 2, "qm7 has no target 'colour'"),
    ("fit-property: unknown model", ["fit-property", "--dataset", "qm7", "--target", "atomization", "--model", "krr-xyz", "--db", "{store}"], 2, "unknown model 'krr-xyz'; use one"),
    ("fit-property: too few training molecules", ["fit-property", "--dataset", "qm7", "--target", "atomization", "--n-train", "2", "--db", "{store}"], 2, "invalid value for '--n-train': Input"),
    ("fit-property: a data set not imported", ["fit-property", "--dataset", "qm7", "--target", "atomization", "--db", "{store}"], 2, "no dataset named 'qm7' in"),
    ("learning-curve: sizes that are no numbers", ["learning-curve", "--dataset", "qm7", "--target", "atomization", "--n-train", "a,b", "--db", "{store}"], 2, "--n-train 'a,b' is not a"),
    ("learning-curve: results into a folder", ["learning-curve", "--dataset", "qm7", "--target", "atomization", "--json", "{folder}", "--db", "{store}"], 2, "is a folder; give a"),
    ("predict: model missing", ["predict", "{out}.npz", "{labeled}"], 2, "is not an esml property"),
    ("predict: a text file as model", ["predict", "{junk}", "{labeled}"], 2, "is not an esml property"),
    ("sisso: table missing", ["sisso", "{out}.csv", "--target", "y", "--features", "a"], 2, "invalid value for 'data': file"),
    ("sisso: unknown feature column", ["sisso", "{table}", "--target", "y", "--features", "a,zz"], 2, "column(s) zz not in"),
    ("sisso: unknown target column", ["sisso", "{table}", "--target", "zz", "--features", "a,b"], 2, "column(s) zz not in"),
    ("sisso: dimension 9", ["sisso", "{table}", "--target", "y", "--features", "a,b", "--dimension", "9"], 2, "invalid value for '--dimension': Input"),
    ("sisso: units for fewer features", ["sisso", "{table}", "--target", "y", "--features", "a,b", "--units", "eV"], 2, "1 units for 2 features"),
    ("sisso: an unknown operator", ["sisso", "{table}", "--target", "y", "--features", "a,b", "--operators", "sin"], 2, "unknown operator(s) sin; use some"),
    ("sisso: result into a folder", ["sisso", "{table}", "--target", "y", "--features", "a,b", "--json", "{folder}"], 2, "is a folder; give a"),
    ("materials hull: table missing", ["materials", "hull", "{out}.csv"], 2, "invalid value for 'data': file"),
    ("materials hull: unknown energy column", ["materials", "hull", "{table}", "--energy", "nope"], 2, "column(s) nope not in"),
    ("materials hull: formulas that are no formulas", ["materials", "hull", "{table}", "--formula", "a"], 2, "unknown element(s) 1.0 in '1.0'"),
    ("materials generate: an unknown element", ["materials", "generate", "--elements", "Xx", "-o", "{out}.xyz"], 2, "unknown element(s) Xx; give symbols"),
    ("materials generate: an unknown prototype", ["materials", "generate", "--elements", "Si,C", "--prototypes", "nope", "-o", "{out}.xyz"], 2, "unknown prototype 'nope'; use rocksalt"),
    ("materials generate: strains that are no numbers", ["materials", "generate", "--elements", "Si,C", "--strains", "a", "-o", "{out}.xyz"], 2, "--strains 'a': give scale factors"),
    ("materials generate: a negative cell width", ["materials", "generate", "--elements", "Si,C", "--min-width", "-1", "-o", "{out}.xyz"], 2, "invalid value for '--min-width': Input"),
    ("materials rank: structures missing", ["materials", "rank", "{out}.xyz"], 2, "invalid value for 'frames': file"),
    ("materials rank: structures without energies", ["materials", "rank", "{unlabeled}"], 2, "frames need info['prototype'] and info['formula']"),
    ("vmc: an unknown element", ["vmc", "--atom", "Xx", "--checkpoint", "{out}.pt"], 2, "Xx' is not an element"),
    ("vmc: a structure and an atom", ["vmc", "{labeled}", "--atom", "He", "--checkpoint", "{out}.pt"], 2, "give either a structure file"),
    ("vmc: neither a structure nor an atom", ["vmc", "--checkpoint", "{out}.pt"], 2, "give either a structure file"),
    ("vmc: one walker", ["vmc", "--atom", "He", "--batch", "1", "--checkpoint", "{out}.pt"], 2, "invalid value for '--batch': Input"),
    ("vmc: one evaluation step", ["vmc", "--atom", "He", "--evaluation-steps", "1", "--checkpoint", "{out}.pt"], 2, "invalid value for '--evaluation-steps': Input"),
    ("vmc: an element beyond neon", ["vmc", "--atom", "Na", "--checkpoint", "{out}.pt"], 2, "esml vmc supports H to"),
    ("vmc: more charge than electrons", ["vmc", "--atom", "He", "--charge", "5", "--checkpoint", "{out}.pt"], 2, "charge 5 leaves -3 electrons"),
    ("vmc: resume from a text file", ["vmc", "--atom", "He", "--resume", "--checkpoint", "{junk}"], 2, "is not a readable VMC"),
    ("vmc: an unknown basis", ["vmc", "--atom", "He", "--basis", "nonsense", "--checkpoint", "{out}.pt"], 2, "basis 'nonsense' is not one"),
    ("xc evaluate: model missing", ["xc", "evaluate", "{out}.pt"], 2, "no such functional file; give"),
    ("xc evaluate: unknown set", ["xc", "evaluate", "{out}.pt", "--set", "nope"], 2, "--set 'nope': use one of"),
    ("xc evaluate: a text file as model", ["xc", "evaluate", "{junk}"], 2, "not an esml functional (IndexError)"),
    ("xc train: output is a folder", ["xc", "train", "-o", "{folder}"], 2, "is a folder; give a"),
    ("xc train: negative range separation", ["xc", "train", "-o", "{out}.pt", "--range-separation", "-1"], 2, "invalid value for '--range-separation': Input"),
    ("demo: a file as run folder", ["demo", "--out", "{junk}"], 2, "is a file; give a"),
    # esml search, search-policy
    ("search: an element the calculator lacks", ["search", "gfn2-xtb", "{heavy}", "--out", "{out}"], 2, "cannot treat it"),
    ("search: an empty structure file", ["search", "gfn2-xtb", "{empty}", "--out", "{out}"], 2, "esml: error:"),
    ("search: a periodic cell", ["search", "gfn2-xtb", "{cell}", "--out", "{out}"], 2, "the structure is periodic"),
    ("search: one atom", ["search", "lj", "--size", "1", "--out", "{out}"], 2, "invalid value for '--size'"),
    ("search: a start and a size", ["search", "lj", "{labeled}", "--size", "5", "--out", "{out}"], 2, "give either a start"),
    ("search: a size for xtb", ["search", "gfn2-xtb", "--size", "5", "--out", "{out}"], 2, "--size makes a random"),
    ("search: a policy that is no policy", ["search", "lj", "--size", "5", "--policy", "{junk}", "--out", "{out}"], 2, "not a search policy"),
    ("search: resume with nothing to resume", ["search", "lj", "--size", "5", "--resume", "--out", "{folder}"], 2, "holds no search"),
    ("search: a file as run folder", ["search", "lj", "--size", "5", "--out", "{junk}"], 2, "is a file"),
    ("search: no evaluations", ["search", "lj", "--size", "5", "--evaluations", "0", "--out", "{out}"], 2, "must be positive"),
    ("search: a model file missing", ["search", "{out}.pt", "{labeled}", "--out", "{out}"], 2, "no such model file"),
    ("search-policy: sizes not numbers", ["search-policy", "--sizes", "a,b", "--out", "{out}.json"], 2, "--sizes 'a,b'"),
    ("search-policy: output is a folder", ["search-policy", "--out", "{folder}"], 2, "is a folder"),
    # esml anderson
    ("anderson: sizes not numbers", ["anderson", "--sizes", "8,x", "--out", "{out}"], 2, "--sizes '8,x'"),
    ("anderson: too few sizes", ["anderson", "--sizes", "8,10", "--out", "{out}"], 2, "at least 3 lattice sizes"),
    ("anderson: a lattice too small", ["anderson", "--sizes", "2,3,4", "--out", "{out}"], 2, "give L ≥ 4"),
    ("anderson: a grid with a negative step", ["anderson", "--disorders", "18:14:-1", "--out", "{out}"], 2, "positive step"),
    ("anderson: extended above localised", ["anderson", "--extended", "22", "--localised", "20", "--out", "{out}"], 2,
     "every extended one below"),
    ("anderson: too few levels for a block", ["anderson", "--probe", "levels", "--half-width", "0.05", "--out", "{out}"], 2,
     "too few for blocks"),
    ("anderson: the network seeing more exponents than kept", ["anderson", "--inputs", "5", "--out", "{out}"], 2,
     "the network sees 1 to --keep"),
    ("structure: a molecule, not a cell", ["structure", "{labeled}", "--cutoff", "1.2"], 2, "not periodic in three"),
    ("structure: a cell too small for the cutoff", ["structure", "{cell}", "--cutoff", "5"], 2, "less than twice"),
    ("structure: no cutoff", ["structure", "{cell}"], 2, "missing option '--cutoff'"),
    ("structure: a report into a folder", ["structure", "{cell}", "--cutoff", "1.0", "--json", "{folder}"], 2, "is a folder"),
    ("anderson: an unknown probe", ["anderson", "--probe", "wavefunctions", "--out", "{out}"], 2, "choose transfer or levels"),
    ("anderson: more exponents than a bar has", ["anderson", "--keep", "20", "--training-sizes", "4,5", "--out", "{out}"], 2,
     "has only 16 exponents"),
    ("anderson: a file as run folder", ["anderson", "--out", "{junk}"], 2, "is a file"),
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    from esml.data.datasets import create_dataset
    from esml.data.readers import record_from_atoms
    from esml.data.store import open_store
    from esml.data.write import Source, write_records
    from esml.potentials import ANIPotential, save

    folder = tmp_path_factory.mktemp("faults")
    frames = []
    for seed in range(3):
        atoms = molecule("H2O")
        atoms.rattle(0.02, seed=seed)
        atoms.calc = calculator("gfn2-xtb")
        atoms.get_forces()
        frames.append(atoms)
    paths = {"labeled": folder / "water.xyz", "model": folder / "ani.pt", "store": folder / "store.db",
             "folder": folder / "empty", "junk": folder / "junk.xyz", "torch_dict": folder / "dict.pt",
             "cell": folder / "silicon.xyz", "empty": folder / "empty.xyz", "truncated": folder / "truncated.xyz",
             "binary": folder / "binary.xyz", "unlabeled": folder / "unlabeled.xyz",
             "cell_labeled": folder / "silicon_labeled.xyz", "table": folder / "table.csv", "heavy": folder / "oganesson.xyz",
             "npz": folder / "arrays.npz"}
    ase.io.write(paths["labeled"], frames, format="extxyz")
    save(ANIPotential([1, 8]), paths["model"])
    store = open_store(str(paths["store"]))
    written = write_records(store, [record_from_atoms(atoms, "xtb", k, {}) for k, atoms in enumerate(frames)],
                            Source(path="water.xyz", sha256="0" * 64, parser="test"))
    create_dataset(store, "water", written.calculation_ids, definition="nsites<9")
    store.engine.dispose()
    paths["folder"].mkdir()
    paths["junk"].write_text("this is not a structure, a store or a model\n")
    torch.save({"weights": torch.zeros(3)}, paths["torch_dict"])
    ase.io.write(paths["cell"], bulk("Si"), format="extxyz")
    paths["empty"].write_text("")
    paths["heavy"].write_text("2\n\nOg 0 0 0\nOg 0 0 3\n")
    text = paths["labeled"].read_text()
    paths["truncated"].write_text(text[: len(text) // 2])  # the second frame cut in the middle
    paths["binary"].write_bytes(bytes(range(256)) * 8)
    np.savez(paths["npz"], positions=np.zeros((2, 3)))
    ase.io.write(paths["unlabeled"], [molecule("H2O")], format="extxyz")
    silicon = bulk("Si")
    silicon.calc = SinglePointCalculator(silicon, energy=-10.0, forces=np.zeros((2, 3)))
    ase.io.write(paths["cell_labeled"], silicon, format="extxyz")
    paths["table"].write_text("formula,energy,a,b,y\nNaCl,-6.5,1.0,2.0,3.1\nKCl,-6.1,1.5,2.5,4.0\nNa,-1.3,0.5,1.0,1.2\n"
                              "Cl,-1.8,0.7,1.2,2.2\nK,-1.0,2.0,0.5,2.6\nLiF,-9.0,0.3,0.9,1.0\n")
    return folder, paths


def digests(folder: Path) -> dict[str, str]:
    """Every file's SHA-256; SQLite's shared-memory index and an empty write-ahead log (what an open
    connection leaves beside a store it only read) are not content."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.name.endswith("-shm") and not (path.name.endswith("-wal") and not path.stat().st_size)}


def run_esml(arguments: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """``esml ARGUMENTS`` through the command's own entry point, in this process (the matrix would
    spend most of its time starting Python and torch otherwise): exit status and stderr."""
    from esml.cli.main import main

    monkeypatch.setattr(sys, "argv", ["esml", *arguments])
    with pytest.raises(SystemExit) as exit:
        main()
    captured = capsys.readouterr()
    return exit.value.code, captured.out + captured.err


@pytest.mark.parametrize(("case", "arguments", "status", "fragment"), CASES, ids=[case for case, *_ in CASES])
def test_bad_input_gives_one_line_and_changes_nothing(scratch, case, arguments, status, fragment, monkeypatch, capsys):
    folder, paths = scratch
    values = {key: str(path) for key, path in paths.items()} | {"out": str(folder / "new" / "output")}
    before = digests(folder)
    monkeypatch.chdir(folder)
    code, output = run_esml([argument.format(**values) for argument in arguments], monkeypatch, capsys)
    lines = output.strip().splitlines()
    assert code == status, output
    assert len(lines) == 1 and lines[0].startswith("esml: error:"), output
    assert fragment in lines[0], lines[0]
    assert digests(folder) == before, f"{case} changed files"
    assert not (folder / "new").exists(), f"{case} left an output behind"


def test_the_matrix_covers_every_command():
    from esml.cli.main import app

    commands = {command.name for command in app.registered_commands} | {group.name for group in app.registered_groups}
    covered = {arguments[0] for _, arguments, *_ in CASES}
    uncovered = commands - covered
    # serve runs until stopped, attribute/fit-property/predict/learning-curve/materials/xc/demo have their own tests of bad input
    assert uncovered <= {"serve", "attribute", "fit-property", "predict", "learning-curve", "materials", "xc", "demo"}, uncovered


def test_debug_shows_the_traceback(tmp_path):
    run = subprocess.run([ESML, "--debug", "query", "", "--db", str(tmp_path / "none.db")], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "Traceback" in run.stderr and "no store at" in run.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: read-only folders cannot be tested as root")
def test_a_read_only_folder_is_refused_before_any_work(scratch, tmp_path):
    _, paths = scratch
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    run = subprocess.run([ESML, "label", str(paths["labeled"]), "-m", "gfn2-xtb", "-o", str(locked / "out.xyz")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "cannot write" in run.stderr


def test_labeled_frames_are_written_in_the_format_their_name_asks_for(scratch, tmp_path):
    _, paths = scratch
    for name in ("out.traj", "out.extxyz"):
        run = subprocess.run([ESML, "label", str(paths["labeled"]), "-m", "gfn2-xtb", "-o", str(tmp_path / name), "-q"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        again = ase.io.read(tmp_path / name, ":")
        assert len(again) == 3 and again[0].get_forces().shape == (3, 3)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary files of the atomic writes are gone


def test_a_resumed_run_keeps_its_settings_and_its_label_cache(tmp_path, monkeypatch, capsys):
    """--resume without --budget kept the default budget of 500 (a run started with 30 went on to
    60 oracle calls); options that describe the run were ignored without a word; another label cache
    repeated oracle calls."""
    from esml.active.config import LearnConfig
    from esml.active.loop import ActiveLearner, resumed_config
    from esml.qm.cache import LabelCache

    run, cache = tmp_path / "run", tmp_path / "first-cache.sqlite"
    ActiveLearner(run, LearnConfig(budget=30, temperatures=(300.0,)), LabelCache(cache)).start(molecule("H2O"))
    config, changed = resumed_config(run)
    assert config.budget == 30 and changed == []
    config, changed = resumed_config(run, budget=60, workers=2)
    assert (config.budget, config.workers, changed) == (60, 2, ["budget 30 → 60", "workers 1 → 2"])
    for option in (["--oracle", "gfn1-xtb"], ["--temperature", "600"], ["--steps", "100"], ["--seed", "3"]):
        code, output = run_esml(["learn", "--resume", "--out", str(run), *option], monkeypatch, capsys)
        assert code == 2 and output.count("\n") == 1 and f"{option[0]}: a resumed run keeps" in output, output
    from esml.active import run_files

    assert run_files.load_state(run).label_cache == str(cache.absolute())
