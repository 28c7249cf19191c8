"""Querying any OPTIMADE provider (an esml server, Materials Project, NOMAD, …) for structures.

Pages are followed through ``links.next`` until ``limit`` entries have come. Entries become
``ase.Atoms`` through the ``optimade`` package's adapter; esml's own fields (``_esml_energy``,
``_esml_forces``, …) become the frame's results and ``info``, as frames read from the local
store do, and any other provider's ``_<prefix>_`` scalars land in ``info`` under their names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

import esml
from esml.errors import EsmlError

RESULTS = {"_esml_energy": "energy", "_esml_forces": "forces", "_esml_stress": "stress",
           "_esml_dipole": "dipole", "_esml_charges": "charges"}
INFO = {"_esml_code": "esml_code", "_esml_code_version": "esml_code_version", "_esml_method": "esml_method",
        "_esml_functional": "esml_functional", "_esml_basis": "esml_basis", "_esml_dispersion": "esml_dispersion",
        "_esml_charge": "charge", "_esml_multiplicity": "multiplicity", "_esml_band_gap": "band_gap",
        "_esml_frame": "esml_frame"}


class ProviderError(EsmlError):
    """The provider could not be reached or refused the query."""


@dataclass(frozen=True)
class ProviderAnswer:
    """What a provider returned: the frames, and how many entries matched in all."""

    frames: list[Atoms]
    data_returned: int | None


def structures_url(provider: str) -> str:
    """The structures endpoint of a provider given as its base URL, with or without ``/v1``."""
    parts = urlsplit(provider)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError(f"provider {provider!r} is not an http(s) URL; give one like http://127.0.0.1:5000/v1")
    base = provider.rstrip("/")
    has_version = base.rsplit("/", 1)[-1].startswith("v") and base.rsplit("/", 1)[-1][1:2].isdigit()
    return f"{base}/structures" if has_version else f"{base}/v1/structures"


def query_provider(provider: str, filter_text: str = "", limit: int | None = 20, page_limit: int = 100,
                   timeout_s: float = 30.0) -> ProviderAnswer:
    """Structures matching ``filter_text`` at ``provider``; ``limit`` None: every page."""
    frames: list[Atoms] = []
    data_returned = None
    for page, returned in _pages(structures_url(provider), filter_text, limit, page_limit, timeout_s):
        data_returned = returned if data_returned is None else data_returned
        frames.extend(frame_from_entry(entry) for entry in page)
        if limit is not None and len(frames) >= limit:
            return ProviderAnswer(frames[:limit], data_returned)
    return ProviderAnswer(frames, data_returned)


def _pages(url: str, filter_text: str, limit: int | None, page_limit: int, timeout_s: float) -> Iterator[tuple[list, int | None]]:
    import requests

    params: dict | None = {"page_limit": min(page_limit, limit or page_limit)}
    if filter_text.strip():
        params["filter"] = filter_text
    with requests.Session() as session:
        session.headers["User-Agent"] = f"esml/{esml.__version__}"
        while url:
            try:
                response = session.get(url, params=params, timeout=timeout_s)
            except requests.RequestException as error:
                raise ProviderError(f"cannot reach {url}: {type(error).__name__}; is the provider URL right and up?") from None
            document = _document(response)
            yield document.get("data") or [], document.get("meta", {}).get("data_returned")
            url, params = _next_link(document), None  # the next link carries the query


def _document(response) -> dict:
    try:
        document = response.json()
    except ValueError:
        raise ProviderError(f"{response.url} answered {response.status_code} without OPTIMADE JSON; "
                            "is it an OPTIMADE base URL?") from None
    if response.status_code != 200 or "errors" in document:
        errors = document.get("errors") or [{}]
        detail = (errors[0].get("detail") or errors[0].get("title") or "no detail").strip().splitlines()[0]
        raise ProviderError(f"the provider refused the query ({response.status_code}): {detail}")
    return document


def _next_link(document: dict) -> str | None:
    link = (document.get("links") or {}).get("next")
    return link.get("href") if isinstance(link, dict) else link


def frame_from_entry(entry: dict) -> Atoms:
    """One OPTIMADE structure as ``ase.Atoms``, with esml's results attached when present."""
    from optimade.adapters import Structure

    attributes = entry.get("attributes", {})
    try:
        atoms = Structure(entry).as_ase
    except Exception as error:  # the adapter raises many types on incomplete entries
        raise ProviderError(f"entry {entry.get('id')!r} has no usable structure ({type(error).__name__}: {error})") from None
    atoms.info = {"optimade_id": entry.get("id")}
    for key, value in attributes.items():
        if key in INFO and value is not None:
            atoms.info[INFO[key]] = value
        elif key == "_esml_properties" and value:
            atoms.info.update(value)
        elif key.startswith("_") and key not in RESULTS and isinstance(value, (str, int, float)):
            atoms.info[key] = value
    results = {RESULTS[key]: value for key, value in attributes.items() if key in RESULTS and value is not None}
    if results:
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms
