"""Writing files so that a crash never leaves half of one: write beside, then rename into place."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chat_rec.errors import ChatRecError


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` fills a temporary file beside ``path``, which then replaces ``path`` in one step
    (``os.replace``); on failure the temporary file is removed and ``path`` is left as it was.

    A read-only folder or a full disk raises the ``OSError`` (EROFS, EACCES, ENOSPC) of the step that failed;
    ``write`` should write through Python's file objects, whose ``close`` reports a failed last flush."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the write's own error is the one to report
            tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data, indent: int = 2) -> Path:
    return write_text(path, json.dumps(data, indent=indent) + "\n")


#: what an earlier result file that cannot be merged is renamed to: ``FILE.unreadable-YYYYmmdd-HHMMSS``
ASIDE = "{name}.unreadable-{stamp}"


def write_result(
    path: Path,
    data,
    merge: Callable | None = None,
    *,
    say: Callable[[str], None] | None = None,
    now: Callable[[], time.struct_time] = time.localtime,
) -> Path:
    """A command's ``--out`` JSON, written atomically (``write_json``): a crash leaves the earlier file whole.

    ``merge(previous, data)``, when given and an earlier file is there, returns what is written from the earlier
    file's JSON and the new ``data`` (e.g. ``keep_rows``). An earlier file that is empty, not JSON, or of a shape
    ``merge`` cannot use (``merge`` checks it and raises ``ValueError``) is renamed aside
    (``FILE.unreadable-YYYYmmdd-HHMMSS``), one line (``say``, default stderr) names it, and the new result is
    written alone: a run never loses its own result to an old file. A path that cannot be written (a read-only
    folder, a full disk, a folder named as the file) raises ``ChatRecError`` naming it."""
    path = Path(path)
    if path.is_dir():
        raise ChatRecError(f"--out {path} is a folder: give a file path, e.g. {path / 'result.json'}")
    if merge is not None and path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
            data = merge(previous, data)
        except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            why = "it is empty" if _empty(path) else f"{type(exc).__name__}: {str(exc)[:120]}"
            aside = set_aside(path, now())
            (say or _stderr)(f"note: could not merge with the earlier {path} ({why}); moved it to {aside}")
    try:
        return write_json(path, data)
    except OSError as exc:
        raise ChatRecError(
            f"cannot write {path}: {exc.strerror or exc}; give --out a path in a writable folder"
        ) from None


def keep_rows(keep: Callable[[dict], bool]) -> Callable:
    """A ``write_result`` merge for ``{"rows": [...]}`` files: the earlier rows for which ``keep(row)`` holds,
    then the new rows. An earlier file of another shape raises ``ValueError`` (it is set aside)."""

    def merge(previous, data: dict) -> dict:
        rows = previous.get("rows") if isinstance(previous, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f'expected {{"rows": [...]}} with one object per row, found {json.dumps(previous)[:60]}')
        return {**data, "rows": [r for r in rows if keep(r)] + list(data["rows"])}

    return merge


def set_aside(path: Path, when: time.struct_time | None = None) -> Path:
    """Rename ``path`` to ``FILE.unreadable-YYYYmmdd-HHMMSS`` beside it (``-2``, ``-3`` ... when taken); returns
    the new path. Raises ``ChatRecError`` when the folder does not allow it."""
    stamp = time.strftime("%Y%m%d-%H%M%S", when or time.localtime())
    aside = path.with_name(ASIDE.format(name=path.name, stamp=stamp))
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(ASIDE.format(name=path.name, stamp=f"{stamp}-{n}"))
    try:
        os.rename(path, aside)
    except OSError as exc:
        raise ChatRecError(
            f"cannot move the unreadable earlier {path} aside: {exc.strerror or exc}; move or delete it yourself"
        ) from None
    return aside


def _empty(path: Path) -> bool:
    try:
        return not path.read_bytes().strip()
    except OSError:
        return False


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
