"""Broken data and model files: found, reported with what to run, and never stopping the chat.

The GGUF (missing, truncated, wrong content; its verification stamp), the embedding cache and the FAISS
index (damaged files rebuilt; a read-only folder or a full disk leaves them in memory), and the fitted
ranker (damaged JSON falls back to the hand-set defaults). Real files, real FAISS; the read-only folder and
the full disk are real tmpfs mounts (root only, skipped otherwise).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import subprocess
from pathlib import Path

import faiss
import numpy as np
import pytest

import chat_rec.models.llm as llm
from chat_rec.assemble import make_llm_helper
from chat_rec.config import DataConfig, IndexConfig, LLMConfig
from chat_rec.errors import ChatRecError
from chat_rec.files import atomic_write
from chat_rec.models.encoder import HashEncoder
from chat_rec.models.index import ExactIndex, build_item_index
from chat_rec.models.llm import GGUF_NAME, LlamaCppChatModel, make_chat_model, stamp_path, verify_gguf
from chat_rec.recommender.fusion import DEFAULT_WEIGHTS, PACKAGED, FusionModel, load_fusion
from chat_rec.recommender.intent.titles import TitleMatcher

# ------------------------------------------------------------------------------------------------ the GGUF

#: a fake model: the GGUF header (magic, version 3), then 2 MB of bytes llama.cpp cannot load
FAKE_GGUF = b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * (2 * 4096 - 1) + b"\x00" * 248
MB = 1 << 20


@pytest.fixture
def default_gguf(tmp_path, monkeypatch) -> Path:
    """The embedded default's place (``models_dir / GGUF_NAME``) holding FAKE_GGUF, which the expected
    sha256 and size are patched to."""
    path = tmp_path / "models" / GGUF_NAME
    path.parent.mkdir()
    path.write_bytes(FAKE_GGUF)
    monkeypatch.setattr(llm, "GGUF_SHA256", hashlib.sha256(FAKE_GGUF).hexdigest())
    monkeypatch.setattr(llm, "GGUF_SIZE", len(FAKE_GGUF))
    return path


def _expected() -> tuple[str, int]:
    return llm.GGUF_SHA256, llm.GGUF_SIZE


def _helper(tiny_catalog, cfg: LLMConfig):
    return make_llm_helper(cfg, tiny_catalog, TitleMatcher(tiny_catalog))


def _counting_hash(monkeypatch) -> list[Path]:
    calls: list[Path] = []
    real = llm.sha256_file

    def counting(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(llm, "sha256_file", counting)
    return calls


def test_the_expected_gguf_is_hashed_once_then_trusted_by_its_stamp(default_gguf, monkeypatch):
    assert len(FAKE_GGUF) == 2 * MB
    calls = _counting_hash(monkeypatch)
    verify_gguf(default_gguf, *_expected())
    stamp = json.loads(stamp_path(default_gguf).read_text())
    st = default_gguf.stat()
    assert stamp == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": llm.GGUF_SHA256}
    assert stamp_path(default_gguf).name == GGUF_NAME + ".verified"
    verify_gguf(default_gguf, *_expected())
    assert calls == [default_gguf]  # the second start trusted the stamp
    # the same size with another mtime (the file was replaced): hashed again
    os.utime(default_gguf, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    verify_gguf(default_gguf, *_expected())
    assert len(calls) == 2
    # a damaged stamp is ignored (hashed again, then rewritten)
    stamp_path(default_gguf).write_bytes(b"\x00garbage")
    verify_gguf(default_gguf, *_expected())
    assert len(calls) == 3 and json.loads(stamp_path(default_gguf).read_text())["sha256"] == llm.GGUF_SHA256


def test_a_gguf_with_the_wrong_content_is_refused_even_after_a_stamp(default_gguf):
    verify_gguf(default_gguf, *_expected())  # stamped as good
    st = default_gguf.stat()
    wrong = bytearray(FAKE_GGUF)
    wrong[MB] ^= 0xFF  # same size, one byte changed
    default_gguf.write_bytes(bytes(wrong))
    os.utime(default_gguf, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    actual = hashlib.sha256(bytes(wrong)).hexdigest()
    with pytest.raises(ChatRecError) as err:
        verify_gguf(default_gguf, *_expected())
    message = str(err.value)
    assert message == (
        f"GGUF {default_gguf} is damaged or not the expected model (sha256 {actual[:12]}…, expected "
        f"{llm.GGUF_SHA256[:12]}…); run `chat-rec llm fetch --force`"
    )
    assert json.loads(stamp_path(default_gguf).read_text())["sha256"] == llm.GGUF_SHA256  # not re-stamped


def test_a_truncated_or_foreign_default_gguf_is_refused_before_hashing(default_gguf, monkeypatch):
    calls = _counting_hash(monkeypatch)
    default_gguf.write_bytes(FAKE_GGUF[:MB])
    with pytest.raises(ChatRecError, match=r"is damaged or not the expected model \(1,048,576 bytes, expected "):
        verify_gguf(default_gguf, *_expected())
    default_gguf.write_bytes(b"\x00" * len(FAKE_GGUF))
    with pytest.raises(ChatRecError, match=r"not a GGUF file: it starts with b'\\x00\\x00\\x00\\x00'.*fetch --force"):
        verify_gguf(default_gguf, *_expected())
    default_gguf.write_bytes(b"GGUF")
    with pytest.raises(ChatRecError, match="not a GGUF file: only 4 bytes"):
        verify_gguf(default_gguf, *_expected())
    assert calls == [] and not stamp_path(default_gguf).exists()
    default_gguf.unlink()
    with pytest.raises(ChatRecError, match=r"not found: run `chat-rec llm fetch`$"):
        verify_gguf(default_gguf, *_expected())


def test_a_users_gguf_is_not_hashed_but_its_header_is_checked(tmp_path, monkeypatch):
    calls = _counting_hash(monkeypatch)
    path = tmp_path / "mine.gguf"
    path.write_bytes(FAKE_GGUF[:MB])
    verify_gguf(path)  # no expected hash: the header is all that is checked
    path.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ChatRecError, match=r"cannot load GGUF .*mine.gguf \(not a GGUF file.*CHATREC_LLM_GGUF"):
        verify_gguf(path)
    with pytest.raises(ChatRecError, match="check CHATREC_LLM_GGUF"):
        verify_gguf(tmp_path / "absent.gguf")
    assert calls == [] and not stamp_path(path).exists()


def test_make_chat_model_expects_the_hash_of_the_default_only(tmp_path):
    default = make_chat_model(LLMConfig(kind="local", models_dir=tmp_path))
    assert default.expected_sha256 == llm.GGUF_SHA256 and default.expected_size == llm.GGUF_SIZE
    assert default.model_path == str(tmp_path / GGUF_NAME)
    mine = make_chat_model(LLMConfig(kind="local", gguf=str(tmp_path / "mine.gguf")))
    assert mine.expected_sha256 is None and mine.expected_size is None


@pytest.mark.parametrize("case", ["missing", "truncated", "wrong hash", "not a GGUF"])
def test_a_broken_default_gguf_leaves_the_chat_on_its_rules(default_gguf, tiny_catalog, case, caplog):
    if case == "missing":
        default_gguf.unlink()
        want = f"GGUF model {default_gguf} not found: run `chat-rec llm fetch`"
    elif case == "truncated":
        default_gguf.write_bytes(FAKE_GGUF[:MB])
        want = f"GGUF {default_gguf} is damaged or not the expected model (1,048,576 bytes, expected 2,097,152)"
    elif case == "wrong hash":
        default_gguf.write_bytes(FAKE_GGUF[:8] + FAKE_GGUF[8:][::-1])  # same size and header, other content
        want = f"GGUF {default_gguf} is damaged or not the expected model (sha256 "
    else:
        default_gguf.write_bytes(b"PK\x03\x04" + FAKE_GGUF[4:])
        want = f"GGUF {default_gguf} is damaged or not the expected model (not a GGUF file: it starts with b'PK"
    with caplog.at_level(logging.WARNING, logger="chat_rec.assemble"):
        helper, notice = _helper(tiny_catalog, LLMConfig(kind="local", models_dir=default_gguf.parent))
    assert helper is None
    assert notice.startswith(f"language model unavailable ({want}") and notice.endswith("; using built-in rules")
    assert "chat-rec llm fetch" in notice and "\n" not in notice
    assert want in caplog.text


def test_the_right_default_gguf_passes_verification_and_reaches_llama_cpp(default_gguf, tiny_catalog):
    """The control for the tests above: FAKE_GGUF with its expected hash passes the checks (and is stamped);
    llama.cpp then refuses the fake weights, which is a notice too."""
    pytest.importorskip("llama_cpp")
    helper, notice = _helper(tiny_catalog, LLMConfig(kind="local", models_dir=default_gguf.parent))
    assert helper is None and f"cannot load GGUF {default_gguf}" in notice and "fetch --force" in notice
    assert stamp_path(default_gguf).is_file()


def test_a_truncated_user_gguf_is_a_notice_not_a_crash(tmp_path, tiny_catalog, monkeypatch):
    """llama.cpp raises ValueError for a file that starts like a GGUF and ends early: a notice."""
    pytest.importorskip("llama_cpp")
    calls = _counting_hash(monkeypatch)
    path = tmp_path / "mine.gguf"
    path.write_bytes(FAKE_GGUF[:MB])
    helper, notice = _helper(tiny_catalog, LLMConfig(kind="local", gguf=str(path)))
    assert helper is None and calls == []
    assert notice.startswith(f"language model unavailable (cannot load GGUF {path} (")
    assert "point CHATREC_LLM_GGUF at a valid file" in notice
    with pytest.raises(ChatRecError, match="cannot load GGUF"):  # the model object itself, as the app loads it
        LlamaCppChatModel(model_path=str(path))._load()


def test_an_unforeseen_loader_failure_is_a_notice_too(default_gguf, tiny_catalog, monkeypatch):
    def boom(*_args, **_kwargs):
        raise MemoryError("cannot map the file")

    monkeypatch.setattr(llm, "verify_gguf", boom)
    helper, notice = _helper(tiny_catalog, LLMConfig(kind="local", models_dir=default_gguf.parent))
    assert helper is None and notice == (
        "language model unavailable (MemoryError: cannot map the file); using built-in rules"
    )


# -------------------------------------------------------------------------------- embedding cache and index


def _build(tmp_path, tiny_catalog, kind="flat", enc=None):
    return build_item_index(
        tiny_catalog, enc or HashEncoder(32), DataConfig(root=tmp_path), IndexConfig(kind=kind), show_progress=False
    )


def _assert_serves(built, tiny_catalog, enc=None):
    enc = enc or HashEncoder(32)
    want = ExactIndex(tiny_catalog, enc.encode(tiny_catalog.texts()))
    q = enc.encode(["writer mad hotel horror", "toys come to life"])
    got, expected = built.index.search(q, 4), want.search(q, 4)
    assert [row[0].item_id for row in got] == [row[0].item_id for row in expected]
    for row, exp in zip(got, expected):  # the same scores (ties may come in another order)
        np.testing.assert_allclose([h.score for h in row], [h.score for h in exp], atol=1e-5)
    assert built.index.index.ntotal == len(tiny_catalog)


def _cache_file(tmp_path) -> Path:
    (cache,) = (tmp_path / "cache").glob("*.npy")
    return cache


def _damage_cache(path: Path, how: str, n: int) -> None:
    good = np.load(path)
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif how == "header only":
        path.write_bytes(path.read_bytes()[:60])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(4096))
    elif how == "pickled":  # a pickle, which np.load refuses without allow_pickle
        np.save(path, np.array([{"not": "vectors"}], dtype=object), allow_pickle=True)
    elif how == "nan":
        bad = good.copy()
        bad[3, 5] = np.nan
        np.save(path, bad)
    elif how == "inf":
        bad = good.copy()
        bad[0, 0] = -np.inf
        np.save(path, bad)
    elif how == "wrong rows":
        np.save(path, good[: n - 1])
    elif how == "one-dimensional":
        np.save(path, good.ravel())
    elif how == "integers":
        np.save(path, good.astype(np.int64))


@pytest.mark.parametrize(
    "how",
    [
        "truncated",
        "header only",
        "empty",
        "garbage",
        "pickled",
        "nan",
        "inf",
        "wrong rows",
        "one-dimensional",
        "integers",
    ],
)
def test_a_damaged_embedding_cache_is_rebuilt_and_reported(tmp_path, tiny_catalog, how, caplog):
    first = _build(tmp_path, tiny_catalog)
    assert first.notices == []
    cache = _cache_file(tmp_path)
    _damage_cache(cache, how, len(tiny_catalog))
    with caplog.at_level(logging.WARNING, logger="chat_rec.models.index"):
        built = _build(tmp_path, tiny_catalog)
    assert not built.embeddings_cached
    (notice,) = built.notices
    assert notice.startswith(f"embedding cache {cache} was damaged (") and notice.endswith(
        "); the catalog was embedded again"
    )
    assert "\n" not in notice
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [notice]
    _assert_serves(built, tiny_catalog)
    again = _build(tmp_path, tiny_catalog)  # the rebuilt cache was saved and is whole
    assert again.embeddings_cached and again.notices == []
    np.testing.assert_array_equal(np.load(cache), HashEncoder(32).encode(tiny_catalog.texts()))


def _damage_index(path: Path, how: str, vectors: np.ndarray) -> None:
    raw = path.read_bytes()
    n, dim = vectors.shape
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "truncated header":
        path.write_bytes(raw[:10])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    elif how == "garbage with the header":
        path.write_bytes(raw[:4] + os.urandom(len(raw) - 4))
    elif how == "another kind":  # the right vectors in the other kind of index (flat <-> HNSW)
        other = (
            faiss.IndexFlatIP(dim) if "hnsw" in path.name else faiss.IndexHNSWFlat(dim, 8, faiss.METRIC_INNER_PRODUCT)
        )
        other.add(vectors)
        faiss.write_index(other, str(path))
    elif how == "another metric":  # the right vectors under L2
        other = faiss.IndexFlatL2(dim)
        other.add(vectors)
        faiss.write_index(other, str(path))
    else:
        other = faiss.IndexFlatIP(dim + 1 if how == "wrong dimension" else dim)
        if how == "wrong dimension":
            other.add(np.ones((n, dim + 1), dtype=np.float32))
        elif how == "fewer vectors":
            other.add(vectors[: n - 2])
        else:  # "other vectors": the right size, not these embeddings
            other.add(np.ascontiguousarray(vectors[::-1]))
        faiss.write_index(other, str(path))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize(
    "how",
    [
        "truncated",
        "truncated header",
        "empty",
        "garbage",
        "garbage with the header",
        "wrong dimension",
        "fewer vectors",
        "other vectors",
        "another kind",
        "another metric",
    ],
)
def test_a_damaged_faiss_index_is_rebuilt_and_reported(tmp_path, tiny_catalog, kind, how, caplog):
    first = _build(tmp_path, tiny_catalog, kind)
    vectors = HashEncoder(32).encode(tiny_catalog.texts())
    _damage_index(first.path, how, vectors)
    with caplog.at_level(logging.WARNING, logger="chat_rec.models.index"):
        built = _build(tmp_path, tiny_catalog, kind)
    assert built.embeddings_cached and built.index.kind == kind
    (notice,) = built.notices
    assert notice.startswith(f"item index {first.path} was damaged (") and notice.endswith("); it was rebuilt")
    assert "\n" not in notice and notice in caplog.text
    _assert_serves(built, tiny_catalog)
    again = _build(tmp_path, tiny_catalog, kind)  # saved again, whole
    assert again.notices == [] and faiss.read_index(str(first.path)).ntotal == len(tiny_catalog)


def test_the_ivf_index_is_checked_without_reading_vectors_back(tmp_path, tiny_catalog):
    first = _build(tmp_path, tiny_catalog, "ivf")
    assert _build(tmp_path, tiny_catalog, "ivf").notices == []  # IVF keeps no vectors to compare: still loads
    first.path.write_bytes(first.path.read_bytes()[:-100])
    built = _build(tmp_path, tiny_catalog, "ivf")
    assert len(built.notices) == 1 and "was damaged" in built.notices[0]
    _assert_serves(built, tiny_catalog)


def test_atomic_write_removes_its_temporary_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "d" / "x.bin"
    atomic_write(path, lambda tmp: tmp.write_bytes(b"old"))

    def half_then_full(tmp: Path) -> None:
        tmp.write_bytes(b"half of the new")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as err:
        atomic_write(path, half_then_full)
    assert err.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old" and sorted(p.name for p in path.parent.iterdir()) == ["x.bin"]
    with pytest.raises(RuntimeError):  # FAISS's own errors too

        def faiss_fails(tmp: Path) -> None:
            tmp.write_bytes(b"x")
            raise RuntimeError("Error in faiss")

        atomic_write(path, faiss_fails)
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.bin"]


# -------------------------------------------------------------------- read-only folder and full disk (tmpfs)


@pytest.fixture
def tmpfs():
    """``mount(dir, options)``: a real tmpfs at ``dir`` (root only); all unmounted at the end."""
    mounted: list[Path] = []

    def mount(where: Path, options: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("needs root to mount a tmpfs (a read-only folder or a full disk)")
        where.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"mount -t tmpfs failed: {proc.stderr.decode(errors='replace').strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _remount(where: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(where)], check=True, capture_output=True)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_a_read_only_data_folder_serves_from_memory_with_notices(tmp_path, tiny_catalog, tmpfs, caplog):
    root = tmpfs(tmp_path / "data", "size=1m,ro")
    with caplog.at_level(logging.WARNING, logger="chat_rec.models.index"):
        built = _build(root, tiny_catalog)
    _assert_serves(built, tiny_catalog)
    cache_notice, index_notice = built.notices
    cache = root / "cache" / f"tiny-{tiny_catalog.fingerprint()}-hash32.npy"
    assert cache_notice == (
        f"could not save the embedding cache to {cache} (Read-only file system); it is rebuilt at the next start: "
        f"free disk space or make {root / 'cache'} writable"
    )
    assert index_notice == (
        f"could not save the item index cache to {built.path} (Read-only file system); it is rebuilt at the next "
        f"start: free disk space or make {root / 'index'} writable"
    )
    assert cache_notice in caplog.text and index_notice in caplog.text
    assert _files(root) == []


def test_a_prebuilt_read_only_data_folder_serves_without_notices(tmp_path, tiny_catalog, tmpfs, monkeypatch):
    root = tmpfs(tmp_path / "data", "size=8m")
    first = _build(root, tiny_catalog, "hnsw")
    assert first.notices == []
    gguf = root / "models" / GGUF_NAME  # and a GGUF never verified yet: verified without a stamp
    gguf.parent.mkdir()
    gguf.write_bytes(FAKE_GGUF)
    _remount(root, "ro")
    built = _build(root, tiny_catalog, "hnsw")
    assert built.embeddings_cached and built.notices == []
    _assert_serves(built, tiny_catalog)
    calls = _counting_hash(monkeypatch)
    verify_gguf(gguf, hashlib.sha256(FAKE_GGUF).hexdigest(), len(FAKE_GGUF))
    assert calls == [gguf] and not stamp_path(gguf).exists()


def test_a_full_disk_serves_from_memory_leaves_no_partial_files_and_recovers(tmp_path, tiny_catalog, tmpfs):
    enc = HashEncoder(4096)  # 8 items x 4096 x 4 bytes = 128 KB: more than the 64 KB disk
    root = tmpfs(tmp_path / "data", "size=64k")
    built = _build(root, tiny_catalog, enc=enc)
    _assert_serves(built, tiny_catalog, enc)
    cache_notice, index_notice = built.notices
    assert cache_notice.startswith("could not save the embedding cache to ")
    assert index_notice.startswith(f"could not save the item index cache to {built.path} ")
    for notice in built.notices:
        assert "(No space left on device); it is rebuilt at the next start: free disk space or make " in notice
    assert _files(root) == []  # no half-written cache, index or temporary file
    _remount(root, "size=4m")  # space freed: the next start saves both
    saved = _build(root, tiny_catalog, enc=enc)
    assert saved.notices == [] and len(_files(root)) == 2
    again = _build(root, tiny_catalog, enc=enc)
    assert again.embeddings_cached and again.notices == []
    _assert_serves(again, tiny_catalog, enc)


# ---------------------------------------------------------------------------------------- the fitted ranker

FITTED = {"version": 1, "heads": {"request": {"pop": 1.0, "sem": 0.5}, "history": {"cf": 1.0}}, "meta": {}}


def _fitted_with(**changes) -> bytes:
    return json.dumps({**FITTED, **changes}).encode()


BROKEN_RANKERS = {
    "truncated": json.dumps(FITTED).encode()[:40],
    "truncated packaged": PACKAGED.read_bytes()[: PACKAGED.stat().st_size // 2],
    "empty": b"",
    "garbage": bytes(range(256)) * 4,
    "a list": b"[]",
    "null": b"null",
    "a string": b'"ranker"',
    "heads a number": b'{"heads": 5}',
    "versioned heads a number": b'{"version": 1, "heads": 5}',
    "no heads": b'{"version": 1, "heads": {}}',
    "weights a list": b'{"version": 1, "heads": {"request": [1, 2]}}',
    "meta a string": _fitted_with(meta="fitted"),
    "meta a number": _fitted_with(meta=5),
    "trees a list": _fitted_with(trees=[1]),
    "trees a string": _fitted_with(trees="lightgbm"),
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("case", list(BROKEN_RANKERS))
def test_a_damaged_ranker_file_falls_back_to_the_defaults_with_what_to_run(tmp_path, case, caplog):
    path = tmp_path / "ranker.json"
    path.write_bytes(BROKEN_RANKERS[case])
    with caplog.at_level(logging.WARNING, logger="chat_rec.recommender.fusion"):
        fusion, notice = load_fusion(str(path))
    assert fusion.heads == DEFAULT_WEIGHTS and not fusion.fitted
    assert notice.startswith("ranking on hand-set default weights (") and str(path) in notice
    assert "run `chat-rec train ranker` to fit it again, or delete the file" in notice and "\n" not in notice
    assert str(path) in caplog.text


def test_a_damaged_local_ranker_is_named_in_auto_mode(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "ranker.json").write_bytes(b'{"version": 1, "heads": {"request": {"pop": 1.0}')  # cut short
    fusion, notice = load_fusion("auto", models)
    assert fusion.heads == DEFAULT_WEIGHTS
    assert notice == (
        f"ranking on hand-set default weights (fitted ranker {models / 'ranker.json'} is unreadable "
        "(JSONDecodeError); run `chat-rec train ranker` to fit it again, or delete the file)"
    )
    (models / "ranker.json").unlink()  # what the notice says: the packaged weights serve again
    fusion, notice = load_fusion("auto", models)
    assert notice is None and fusion.path == str(PACKAGED)


def test_a_damaged_tree_stage_keeps_the_fitted_weights(tmp_path):
    path = tmp_path / "ranker.json"
    path.write_bytes(_fitted_with(trees={"request": 5}))
    fusion, notice = load_fusion(str(path))
    assert fusion.heads == FITTED["heads"] and fusion.trees == {}
    assert notice.startswith("ranking on the fitted weights without their tree stage (the tree stage of head ")
    assert str(path) in notice and "delete the file" in notice


def test_an_unforeseen_ranker_loading_failure_falls_back_too(tmp_path, monkeypatch):
    path = tmp_path / "ranker.json"
    path.write_bytes(_fitted_with())

    def boom(cls, _path):
        raise MemoryError("too big")

    monkeypatch.setattr(FusionModel, "load", classmethod(boom))
    fusion, notice = load_fusion(str(path))
    assert fusion.heads == DEFAULT_WEIGHTS
    assert notice == (
        f"ranking on hand-set default weights (fitted ranker {path} cannot be loaded: MemoryError; "
        "run `chat-rec train ranker` to fit it again, or delete the file)"
    )
