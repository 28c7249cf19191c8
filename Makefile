# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all bench bench-data bench-potentials bench-active bench-serve bench-properties bench-materials bench-qmc bench-xc bench-search bench-disorder bench-force-fields bench-spectroscopy peers clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/esml demo

# lint-imports holds the floors of docs/architecture.md (contracts in pyproject.toml).
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m ''

bench: $(STAMP)
	$(BIN)/python benchmarks/label_throughput.py
	$(BIN)/python benchmarks/store.py

# Labeled MD sets under benchmarks/data (committed; rerun only to regenerate them).
bench-data: $(STAMP)
	$(BIN)/python benchmarks/md_datasets.py

# Potentials against TorchANI and MACE, each peer in its own venv (never a dependency of esml).
PEER_VENVS := benchmarks/peers/.venv-torchani/.installed benchmarks/peers/.venv-mace/.installed
benchmarks/peers/.venv-%/.installed: benchmarks/peers/%.txt
	test -x benchmarks/peers/.venv-$*/bin/python || $(PYTHON) -m venv benchmarks/peers/.venv-$*
	benchmarks/peers/.venv-$*/bin/python -m pip install --quiet -r $<
	touch $@
peers: $(PEER_VENVS) benchmarks/peers/.venv-deepqmc/.installed

bench-potentials: $(STAMP) $(PEER_VENVS)
	$(BIN)/python benchmarks/potential_accuracy.py --dataset aspirin-500K --minutes 10
	$(BIN)/python benchmarks/potential_speed.py
	$(BIN)/python benchmarks/potential_md.py --dataset aspirin-500K --reference gfn2-xtb
	$(BIN)/python benchmarks/ensemble_calibration.py --members 4 --minutes 3

# The force-field tables (issue #35): revised MD17 and 3BPA, esml's mace beside MACE trained on this machine.
bench-force-fields: $(STAMP) benchmarks/peers/.venv-mace/.installed
	cd benchmarks && ../$(BIN)/python force_field_tables.py --table rmd17 --molecule aspirin --splits 1 --minutes 55 --parallel
	cd benchmarks && ../$(BIN)/python force_field_tables.py --table 3bpa --minutes 40 --parallel

# esml learn against random sampling, scored on independent 300 K + 600 K frames (issue #6).
bench-active: $(STAMP)
	$(BIN)/python benchmarks/active_learning.py --system aspirin --budget 160 --random-sizes 12,25,50,100,200,400 --draws 1
	$(BIN)/python benchmarks/active_learning.py --system ethanol --budget 160
	$(BIN)/python benchmarks/active_learning.py --system ethanol --baseline none --random-only
	$(BIN)/python benchmarks/active_periodic.py
	cp benchmarks/results/active_periodic.json benchmarks/results/active_periodic-budget300.json
	$(BIN)/python benchmarks/active_periodic.py --resume --budget 340 --inducing 3000

# OPTIMADE server under load (fills a temporary store with QM9 first, ~1 minute).
# Global minima of LJ13/38/55/75: the learned search policy against tuned basin hopping (about an hour on 2 cores).
bench-search: $(STAMP)
	$(BIN)/python benchmarks/search_lj.py --workers 2

# The 3D Anderson transition learned by a network, from bars and from level statistics (realisations cached in benchmarks/data/anderson:
# from scratch 26 (bars) and 33 (levels) minutes on 2 cores, from the committed cache a minute).
bench-disorder: $(STAMP)
	$(BIN)/python benchmarks/anderson.py --probe transfer --workers 2
	$(BIN)/python benchmarks/anderson.py --probe levels --workers 2

# VPT2 fundamentals against experiment (issue #39): B3LYP/def2-TZVP directly and through a learned surface
# from 200 labels per molecule (reference calculations cached in benchmarks/results/spectroscopy; resumable).
bench-spectroscopy: $(STAMP)
	$(BIN)/python benchmarks/spectroscopy.py --molecules H2O,H2CO,CH4 --surface reference,learned

bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve_load.py

# Property learning curves (QM7: ~10 minutes; QM9 U0, gap, dipole to N=20,000: ~80 minutes, 17 GB) and the kernel beside qmllib's.
bench-properties: $(STAMP)
	$(BIN)/python benchmarks/property_kernel_speed.py --sizes 100,200,400
	$(BIN)/python benchmarks/property_learning_curves.py --dataset qm7 --target atomization --models krr-fchl19,krr-bob,krr-cm
	$(BIN)/python benchmarks/property_learning_curves.py --dataset qm9 --target U0,gap,mu --models krr-fchl19 --n-train 100,500,1000,2000,5000,10000,20000 --n-test 1000

# SISSO and gplearn on the 82 octet binaries (~10 minutes); perovskite stability from composition (~2 minutes);
# generate -> label (xTB) -> train (CGCNN) -> rank for Si-C (~8 minutes).
bench-materials: $(STAMP)
	$(BIN)/python benchmarks/sisso_octet.py
	$(BIN)/python benchmarks/materials_perovskite.py
	$(BIN)/python benchmarks/materials_loop.py --elements Si,C

# Neural-wavefunction VMC against exact energies (issue #7): H2 and He, 8 minutes of optimisation each;
# LiH for 13, then deepqmc (its own venv) on LiH for the same whole-run time.
bench-qmc: $(STAMP) benchmarks/peers/.venv-deepqmc/.installed
	$(BIN)/python benchmarks/vmc_energies.py --systems H2,He --minutes 8
	$(BIN)/python benchmarks/vmc_energies.py --systems LiH --minutes 13 --peer deepqmc
	$(BIN)/python benchmarks/vmc_energies.py --systems Be --minutes 10
	$(BIN)/python benchmarks/vmc_energies.py --systems Li2 --minutes 15

bench-xc: $(STAMP)
	$(BIN)/python benchmarks/xc_functional.py --model esml-xc3

clean:
	rm -rf $(VENV) build *.egg-info
