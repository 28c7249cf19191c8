import pytest
from ase import Atoms
from ase.build import molecule


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own label cache; the user's is never touched."""
    path = tmp_path / "labels.sqlite"
    monkeypatch.setenv("ESML_CACHE", str(path))
    return path


@pytest.fixture
def water() -> Atoms:
    return molecule("H2O")


@pytest.fixture
def rattled_waters() -> list[Atoms]:
    frames = []
    for seed in range(4):
        atoms = molecule("H2O")
        atoms.rattle(0.03, seed=seed)
        frames.append(atoms)
    return frames
