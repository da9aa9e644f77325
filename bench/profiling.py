"""Where the time goes: py-spy attached to running processes, summarised.

py-spy samples a live process from outside (no code change, no restart) and follows gunicorn's
workers and RQ's work-horses with ``--subprocesses``. Its raw output (collapsed stacks, one
line per distinct stack with its sample count) is kept next to the results for flamegraphs,
and summarised here: the app's own functions and templates most often on the stack, all
functions most often on the stack (inclusive) and running (self), and self time by library.
Samples are of threads not idle, so time waiting on PostgreSQL, Redis or the GIL shows too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: The code this run uses (the stack's snapshot of the repository, see bench/stack.py).
APP_ROOT = Path(__file__).resolve().parent.parent.as_posix()

_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    found = shutil.which("py-spy")
    if found:
        return found
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else None


def start(
    pids: list[int], seconds: float, out_dir: Path, name: str, subprocesses: bool = True
) -> list[tuple[subprocess.Popen, Path]]:
    """Start one py-spy per pid (children included unless ``subprocesses`` is false); returns
    the recorders and their files."""
    exe = py_spy()
    if exe is None:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    recorders = []
    for n, pid in enumerate(pids):
        out = out_dir / f"{name}-{n}.txt"
        args = [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            *(["--subprocesses"] if subprocesses else []),
            "--nonblocking",
        ]
        recorders.append((subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
    return recorders


def finish(recorders: list[tuple[subprocess.Popen, Path]], timeout: float = 60) -> dict:
    files = []
    for popen, out in recorders:
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.terminate()
            popen.wait(10)
        if out.exists():
            files.append(out)
    return summarise(files)


def _where(path: str) -> str:
    """A short, stable name for a frame's file: py-spy already gives it package-relative
    (``flask/app.py``); absolute paths are cut after ``site-packages/`` or the repository."""
    path = path.replace("\\", "/")
    for marker in ("site-packages/", f"{APP_ROOT}/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _library(where: str) -> str:
    head = where.split("/", 1)[0]
    if where.endswith(".html") or where.endswith(".txt"):
        return "templates (Jinja)"
    if head.startswith("<"):
        return "generated code"
    module = head[:-3] if head.endswith(".py") else head
    if module in sys.stdlib_module_names:
        return "python stdlib"
    return {"campaign": "campaign (the app)"}.get(module, module)


def _frame(raw: str) -> tuple[str, str]:
    match = _FRAME.match(raw.strip())
    if not match:
        return raw.strip(), "?"
    where = _where(match["path"])
    return f"{match['func']} ({where})", where


def summarise(files: list[Path], top: int = 15) -> dict:
    inclusive: Counter[str] = Counter()
    app_inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [_frame(f) for f in stack.split(";")]
            # py-spy puts "process <pid>:..." first with --subprocesses: not a function.
            frames = [f for f in frames if not f[0].startswith("process ")]
            if not frames:
                continue
            total += n
            for name in {name for name, _ in frames}:
                inclusive[name] += n
            for name in {
                name for name, where in frames if where.startswith("campaign/") or where.endswith(".html")
            }:
                app_inclusive[name] += n
            leaf_name, leaf_where = frames[-1]
            own[leaf_name] += n
            libraries[_library(leaf_where)] += n
    if not total:
        return {"samples": 0, "files": [str(p) for p in files]}

    def pct(counter: Counter, k: int) -> list[list]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(k)]

    return {
        "samples": total,
        "files": [str(p) for p in files],
        "app_inclusive_pct": pct(app_inclusive, 25),
        "top_inclusive_pct": pct(inclusive, top),
        "top_self_pct": pct(own, top),
        "self_by_library_pct": pct(libraries, 12),
    }
