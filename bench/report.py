"""Targets, the printed table and the JSON file."""

from __future__ import annotations

import json
from pathlib import Path

OPS = {">=": lambda v, lim: v >= lim, "<=": lambda v, lim: v <= lim, "==": lambda v, lim: v == lim}


def target(name: str, value, op: str, limit, unit: str = "") -> dict:
    """A target and whether ``value`` meets it (a missing value never does)."""
    met = value is not None and bool(OPS[op](value, limit))
    return {"name": name, "value": value, "op": op, "limit": limit, "unit": unit, "met": met}


def ratio(app, bare) -> float | None:
    if app is None or not bare:
        return None
    return round(app / bare, 3)


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results: dict) -> str:
    """One line per figure: scenario, figure, app, bare ceiling, app/bare, target, met."""
    rows = [("scenario", "figure", "app", "bare", "app/bare", "target", "met")]
    for name, scenario in results["scenarios"].items():
        label = scenario.get("title", name)
        for fig in scenario.get("figures", []):
            tgt = fig.get("target")
            rows.append(
                (
                    label,
                    fig["name"],
                    _fmt(fig.get("app")),
                    _fmt(fig.get("bare")),
                    _fmt(fig.get("ratio")),
                    f"{tgt['op']} {_fmt(tgt['limit'])}{tgt['unit']}" if tgt else "",
                    ("MET" if tgt["met"] else "MISSED") if tgt else "",
                )
            )
            label = ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w) if i < 5 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def figure(
    name: str,
    app=None,
    bare=None,
    *,
    tgt: dict | None = None,
    with_ratio: bool = True,
    note: str | None = None,
) -> dict:
    fig = {
        "name": name,
        "app": app,
        "bare": bare,
        "ratio": ratio(app, bare) if with_ratio and bare is not None else None,
    }
    if tgt is not None:
        fig["target"] = tgt
    if note:
        fig["note"] = note
    return fig


def summary(results: dict) -> dict:
    met, missed = [], []
    for name, scenario in results["scenarios"].items():
        for fig in scenario.get("figures", []):
            tgt = fig.get("target")
            if tgt:
                (met if tgt["met"] else missed).append(f"{name}: {tgt['name']} ({_fmt(tgt['value'])})")
    return {"targets": len(met) + len(missed), "met": len(met), "missed": missed}


def write(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
    partial.replace(path)
