"""The README's tour of the code names every package and module of ``campaign/``: a newcomer
reads the tour, not the tree, so a new one must be placed in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tour() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A short tour of the code", 1)[1]
    return section.split("```", 2)[1]


def test_the_code_tour_names_every_package_and_module():
    tour = _tour()
    named = set(re.findall(r"[\w/]+(?:\.py|/)", tour))
    package = ROOT / "campaign"
    parts = {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()}
    parts |= {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    missing = {part for part in parts if not any(n.endswith(part) for n in named)}
    assert not missing, f"the README's tour of the code leaves out {sorted(missing)}"
