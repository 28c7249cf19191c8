"""Method strings: what a user writes, parsed into a :class:`MethodSpec`.

Grammar::

    gfn2-xtb | gfn1-xtb | ipea1-xtb                      tight binding through tblite
    NAME[-DISPERSION]/BASIS                              PySCF
        NAME        hf | mp2 | ccsd | ccsd(t) | any libxc functional PySCF knows
                    | a learned functional: xc:PATH (a file from `esml xc train`) or a shipped name
        DISPERSION  d3bj | d3zero | d3bjm | d3zerom | d3op | d4   (simple-dftd3 / dftd4)
        BASIS       any basis PySCF knows (def2-svp, cc-pvdz, 6-31g*, ...)

Part of the core: the store, the engines and the loop all read the same :class:`MethodSpec`.
Parsing imports no engine, so a run served from the cache never loads PySCF. Learned functionals
are a plug-in: the package registered under the ``esml.learned_functionals`` entry point
(``esml.functionals.shipped``, see pyproject.toml) says which names are learned and where their
files are, and gives the engine their Kohn–Sham objects.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from types import ModuleType

from esml.errors import MethodError

XTB_METHODS = {"gfn2-xtb": "GFN2-xTB", "gfn1-xtb": "GFN1-xTB", "ipea1-xtb": "IPEA1-xTB"}
WAVEFUNCTION_METHODS = ("hf", "mp2", "ccsd", "ccsd(t)")
CORRELATED_METHODS = ("mp2", "ccsd", "ccsd(t)")
DISPERSION_MODELS = ("d3bj", "d3zero", "d3bjm", "d3zerom", "d3op", "d4")
_DISPERSION_SUFFIX = re.compile(r"^(?P<name>.+)-(?P<disp>" + "|".join(DISPERSION_MODELS) + r")$")
LEARNED_FUNCTIONALS = "esml.learned_functionals"  # entry-point group of the learned-functional plug-in
SCF_GUESSES = "esml.scf_guesses"  # entry-point group of the learned SCF-guess plug-in
PYSCF_GUESSES = ("minao", "atom", "huckel", "sap", "1e")


@functools.cache
def learned_functionals() -> ModuleType | None:
    """The plug-in module for learned functionals (``PATH_PREFIX``, ``is_learned(name)``,
    ``functional_file(name)``, ``kohn_sham(mol, name)``, ``nuclear_gradient(mean_field)``), or None."""
    found = metadata.entry_points(group=LEARNED_FUNCTIONALS)
    return next(iter(found)).load() if found else None


@functools.cache
def learned_guesses() -> ModuleType | None:
    """The plug-in module for learned SCF guesses (``is_model(name)``, ``model_file(name)``,
    ``initial_density(mol, name)``), or None."""
    found = metadata.entry_points(group=SCF_GUESSES)
    return next(iter(found)).load() if found else None


def is_learned(name: str) -> bool:
    plugin = learned_functionals()
    return plugin is not None and plugin.is_learned(name)


def functional_file(name: str) -> Path:
    """The model file of a learned functional's name (an error naming what to do when it is missing)."""
    return learned_functionals().functional_file(name)


@dataclass(frozen=True)
class MethodSpec:
    """A reference method and its numerical settings.

    name          'gfn2-xtb', 'hf', 'mp2', 'ccsd(t)' or a functional ('b3lyp')
    basis         orbital basis for PySCF methods, None for xTB
    dispersion    empirical dispersion added to HF/DFT ('d3bj', 'd4', ...) or None
    density_fit   density fitting (RI-J/K) for HF and DFT
    max_scf_cycles  SCF iterations before giving up
    scf_tolerance   SCF energy convergence threshold, Hartree (PySCF; tblite uses its own)
    initial_guess   where PySCF's SCF starts: one of its guesses (minao, atom, huckel, sap, 1e) or a
                    learned electronic-structure model (a name or file the ``esml.scf_guesses`` plug-in knows)
    """

    name: str
    basis: str | None = None
    dispersion: str | None = None
    density_fit: bool = False
    max_scf_cycles: int = 100
    scf_tolerance: float = 1e-9
    initial_guess: str = "minao"

    @property
    def engine(self) -> str:
        return "tblite" if self.name in XTB_METHODS else "pyscf"

    @property
    def is_dft(self) -> bool:
        return self.engine == "pyscf" and self.name not in WAVEFUNCTION_METHODS

    @property
    def is_learned(self) -> bool:
        """A learned exchange-correlation functional (esml.functionals) rather than a libxc one."""
        return self.engine == "pyscf" and is_learned(self.name)

    @property
    def is_correlated(self) -> bool:
        return self.name in CORRELATED_METHODS

    @property
    def label(self) -> str:
        """The method as a user writes it: 'b3lyp-d3bj/def2-svp'."""
        name = f"{self.name}-{self.dispersion}" if self.dispersion else self.name
        return f"{name}/{self.basis}" if self.basis else name

    def code_version(self) -> str:
        """Versions of the packages that compute this method (part of every cache key)."""
        packages = (self.engine, "pyscf-dispersion") if self.dispersion else (self.engine,)
        version = ";".join(f"{package}=={installed_version(package)}" for package in packages)
        if self.is_learned:  # a retrained file is another method: the cache must not serve the old one
            version += f";{self.name}@{file_digest(functional_file(self.name))}"
        elif self.is_dft:  # forces with the grid's response since 2026-12-07: older cached forces lack it
            version += ";grid-response"
        return version

    def settings(self) -> dict:
        """What decides the result: the SCF's starting point does not (it converges to the same
        state within the tolerance), so labels cached from one guess serve every other."""
        settings = asdict(self)
        del settings["initial_guess"]
        return settings


@functools.cache
def installed_version(package: str) -> str:
    # Looked up once: reading package metadata costs about a millisecond, per frame that adds up.
    return metadata.version(package)


def file_digest(path) -> str:
    """A file's content digest, read once per version of the file (cache keys ask for every frame)."""
    status = path.stat()
    return _content_digest(str(path.resolve()), status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=64)
def _content_digest(path: str, modified_ns: int, size: int) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def parse_method(text: str, **settings) -> MethodSpec:
    """Turn 'b3lyp-d3bj/def2-svp' or 'gfn2-xtb' into a :class:`MethodSpec`.

    ``settings`` are the other fields of MethodSpec (density_fit, dispersion, ...); a
    dispersion given both in the string and as a setting must agree.
    """
    text = text.strip()
    plugin = learned_functionals()
    if plugin and text.startswith(plugin.PATH_PREFIX):  # xc:PATH/BASIS: the path keeps its case and may hold slashes
        path, _, basis = text.rpartition("/")
        if not basis or path == plugin.PATH_PREFIX.rstrip("/"):
            raise MethodError(f"method '{text}' not understood; write xc:PATH_TO_MODEL/BASIS, e.g. xc:my-xc.pt/def2-tzvp")
        return _checked(MethodSpec(name=path, basis=basis.lower(), **settings), text)
    text = text.lower()
    if text in XTB_METHODS:
        spec = MethodSpec(name=text, **settings)
        if spec.dispersion or spec.density_fit:
            raise MethodError(f"{text}: dispersion is built into xTB and density fitting does not apply; drop those options")
        return _checked(spec, text)
    name, _, basis = text.partition("/")
    if not name or not basis or "/" in basis:
        raise MethodError(
            f"method '{text}' not understood; write gfn2-xtb, gfn1-xtb, or NAME/BASIS such as pbe/def2-svp or hf/sto-3g"
        )
    match = _DISPERSION_SUFFIX.match(name)
    if match:
        name = match["name"]
        if settings.get("dispersion") not in (None, match["disp"]):
            raise MethodError(f"method '{text}' names dispersion {match['disp']} but {settings['dispersion']} was also given")
        settings["dispersion"] = match["disp"]
    spec = MethodSpec(name=name, basis=basis, **settings)
    return _checked(spec, text)


def parse_reference(text: str, **settings) -> MethodSpec:
    """A method string as the reference a model learns or corrects (``esml learn``'s oracle and
    baseline, ``esml md`` with a method): density fitting on wherever it applies (HF and DFT),
    whose error is far below any model's (BENCHMARKS.md). ``settings`` as for :func:`parse_method`."""
    spec = parse_method(text, **settings)
    return replace(spec, density_fit=True) if spec.engine == "pyscf" and not spec.is_correlated else spec


def _checked(spec: MethodSpec, text: str) -> MethodSpec:
    if spec.dispersion and spec.dispersion not in DISPERSION_MODELS:
        raise MethodError(f"dispersion '{spec.dispersion}' unknown; use one of {', '.join(DISPERSION_MODELS)}")
    if spec.is_correlated and (spec.density_fit or spec.dispersion):
        raise MethodError(f"{text}: density fitting and dispersion apply to hf and DFT only; drop them for {spec.name}")
    if spec.is_learned:
        functional_file(spec.name)
        if spec.dispersion:
            raise MethodError(f"{text}: dispersion corrections are fitted to named functionals; none exists for a learned one")
    if spec.engine != "pyscf" and spec.initial_guess != MethodSpec.initial_guess:
        raise MethodError(f"{text}: an initial guess applies to PySCF's SCF only; drop it for {spec.name}")
    if spec.initial_guess not in PYSCF_GUESSES:
        plugin = learned_guesses()
        if plugin is None or not plugin.is_model(spec.initial_guess):
            raise MethodError(f"initial guess '{spec.initial_guess}' unknown; use one of {', '.join(PYSCF_GUESSES)}, "
                              "'ml' (the shipped model) or a file from benchmarks/scf_guess.py")
    if spec.max_scf_cycles < 1:
        raise MethodError(f"max_scf_cycles must be at least 1, got {spec.max_scf_cycles}")
    return spec
