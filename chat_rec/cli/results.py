"""`chat-rec results`: the README's headline table, written from ``results/*.json`` (one source of truth).

Each row is a ``Row``: the JSON file a command wrote, the values read from it (paths such as
``rows[model=served,users=all]/precision@5``), how they are written, the baseline and the command. The command
prints the table; ``--write`` puts it in README.md between the markers; ``--check`` exits 1 with a diff when the
README's table differs. It reads JSON only: no evaluation code runs here.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chat_rec.errors import ChatRecError

START = "<!-- results:start -->"
END = "<!-- results:end -->"
HEADER = ("| what | result | baseline (same run) | command that wrote the JSON |", "|---|---|---|---|")


@dataclass(frozen=True)
class Row:
    """One headline row. ``values`` maps a name to a path in ``file`` (or in another results file, written
    ``other.json:path``); ``result`` and ``baseline`` are ``str.format`` templates over those names and the
    ones ``derive`` adds. A ``pending`` row whose file is missing reads "not measured yet" instead of failing."""

    what: str
    file: str
    command: str
    values: dict[str, str]
    result: str
    baseline: str = "—"
    derive: Callable[[dict], dict] | None = None
    pending: bool = False

    def files(self) -> list[str]:
        extra = [p.split(":", 1)[0] for p in self.values.values() if ":" in p]
        return list(dict.fromkeys([self.file, *extra]))


def _intervals_include_zero(v: dict) -> dict:
    inside = all(lo <= 0 <= hi for lo, hi in (v["ci_p"], v["ci_r"], v["ci_n"]))
    return {"paired": "paired 95 % intervals include 0" if inside else "a paired 95 % interval excludes 0"}


def _ratio(v: dict) -> dict:
    return {"ratio": v["with"] / v["without"]}


def _load_row_events(v: dict) -> dict:
    return {"store": "= every acknowledged 👍/👎" if v["exact"] else "≠ the acknowledged 👍/👎"}


def _first_start(v: dict) -> dict:
    if any(w.startswith("llama") for w in v["built"]):
        cache = "llama-cpp-python built from source"
    elif v["downloaded"]:
        cache = f"llama-cpp-python's wheel from pip's cache, {v['downloaded']} other packages from the index"
    else:
        cache = "every wheel from pip's cache"
    load = "" if v["load"] is None else f"; load average {v['load']:.2f} on the {v['cpus']} cores as it started"
    return {"cache": cache + load}


def load_values(row: str) -> dict[str, str]:
    """The values a `bench load` headline reads from one of its rows (``row``: the selector of that row)."""
    keys = {"p95": "turn_ms/p95", "med": "turn_ms/median", "errors": "errors", "talk": "cross_talk"}
    return {name: f"{row}/{path}" for name, path in {**keys, "exact": "store_exact"}.items()}


ROWS: tuple[Row, ...] = (
    Row(
        what="ML-100K top-5, the chat (`served`)",
        file="chatrec-ml100k.json",
        command="chat-rec eval chatrec-ml100k --seed 0 --reranker none --out results/chatrec-ml100k.json",
        values={
            "p": "rows[model=served,users=all]/precision@5",
            "n": "rows[model=served,users=all]/ndcg@5",
            "cf_p": "rows[model=ease-rated,users=all]/precision@5",
            "cf_n": "rows[model=ease-rated,users=all]/ndcg@5",
            "ci_p": "paired/served/precision@5/ci95",
            "ci_r": "paired/served/recall@5/ci95",
            "ci_n": "paired/served/ndcg@5/ci95",
            "paper_p": "paper[model=Chat-REC text-davinci-003]/precision@5",
            "paper_n": "paper[model=Chat-REC text-davinci-003]/ndcg@5",
        },
        result="P@5 {p:.4f}, NDCG@5 {n:.4f}",
        baseline="its own CF (EASE) {cf_p:.4f} / {cf_n:.4f}, {paired}; "
        "Chat-REC paper best {paper_p:.4f} / {paper_n:.4f}",
        derive=_intervals_include_zero,
    ),
    Row(
        what="ReDial `kgsf_valid`, the ReDial-catalog chat exactly as packaged (`CHATREC_CATALOG=redial`), text only "
        "(no questionnaire)",
        file="redial-packaged.json",
        command="chat-rec eval redial --ranker packaged --dialogues kgsf_valid_data.jsonl --train "
        "kepler_train_subset.jsonl --out results/redial-packaged.json; the same with eval inspired on dev.tsv",
        values={
            "t10": "text_only/recall@10",
            "t50": "text_only/recall@50",
            "r10": "recall@10",
            "r50": "recall@50",
            "sr": "text_only/user_centric/SR_per_turn",
            "rdl": "text_only/user_centric/RDL",
            "old10": "without_new_dialogues/text_only/recall@10",
            "old50": "without_new_dialogues/text_only/recall@50",
            "pop10": "baselines/popularity/recall@10",
            "pop50": "baselines/popularity/recall@50",
            "hand10": "ablations/hand-set defaults/recall@10",
            "i10": "inspired-packaged.json:text_only/recall@10",
            "in": "inspired-packaged.json:text_only/n_cases",
        },
        result="R@10 {t10:.4f}, R@50 {t50:.4f} ({r10:.4f} / {r50:.4f} with the seekers' questionnaire); SR {sr:.3f}, "
        "RDL {rdl:.3f}; INSPIRED dev R@10 {i10:.4f} ({in} cases in the catalog)",
        baseline="fitted without the new dialogues {old10:.4f} / {old50:.4f}; popularity {pop10:.4f} / {pop50:.4f}; "
        "hand-set weights R@10 {hand10:.4f}; published ReFICR 0.213 / 0.465",
    ),
    Row(
        what="new users who 👍/👎 by their own held-out MovieLens ratings (the half the 👍/👎 head never saw), "
        "success@3",
        file="simulate-ratings.json",
        command="chat-rec eval simulate --user-model ratings --users 200 --seed 0 --out results/simulate-ratings.json",
        values={
            "with": "reported/rows[feedback=true]/success@3turns",
            "without": "reported/rows[feedback=false]/success@3turns",
            "ratio": "reported/success@3_ratio",
            "users": "reported/n_users",
        },
        result="{with:.3f} with 👍/👎 ({users} users)",
        baseline="{without:.3f} without ({ratio:.2f}×)",
    ),
    Row(
        what="simulated talkers who 👍 what is close to their film (a genre rule; nothing fitted on them), success@3",
        file="simulate.json",
        command="chat-rec eval simulate --users 200 --turns 5 --seed 0 --out results/simulate.json",
        values={
            "with": "talker/rows[feedback=true]/success@3turns",
            "without": "talker/rows[feedback=false]/success@3turns",
            "users": "talker/rows[feedback=true]/n_users",
        },
        result="{with:.3f} with 👍/👎 ({users} talkers)",
        baseline="{without:.3f} without ({ratio:.2f}×)",
        derive=_ratio,
    ),
    Row(
        what="real seekers' words (ReDial / INSPIRED messages)",
        file="real-requests-rules.json",
        command="chat-rec eval intents --set real --llm none --out results/real-requests-rules.json",
        values={
            "n": "readers/rules/n_cases",
            "met": "readers/rules/all_constraints_met",
            "neg": "readers/rules/negation_recall",
        },
        result="{n} messages: picks meet every stated constraint {met:.3f}, negation recall {neg:.3f}",
    ),
    Row(
        what="real conversation turns (ReDial / INSPIRED seekers, with the turns before them): questions about a "
        "film, rule-outs, negated moods, people, films outside the catalog, vague requests",
        file="dialogue-real.json",
        command="chat-rec eval dialogue --set real --llm local --out results/dialogue-real.json",
        values={
            "n": "readers/rules/n",
            "ok": "readers/rules/passed",
            "rate": "readers/rules/pass_rate",
            "llm": "readers/llm-local/pass_rate",
            "refine": "readers/llm-local-refine/pass_rate",
            "new": "readers/rules/new_list_for_question",
            "back": "readers/rules/ruled_out_returned",
            "acts": "readers/rules/per_act",
        },
        derive=lambda v: {"worst": min(a["pass_rate"] for a in v["acts"].values())},
        result="{ok}/{n} pass ({rate:.3f}), every act ≥ {worst:.2f}; a question answered by a new list {new}, "
        "a ruled-out film back {back}",
        baseline="the local LLM as served (it writes the 'why' answers) {llm:.3f}; also reading (`refine`) "
        "{refine:.3f}",
    ),
    Row(
        what="the packaged facts table: directors vs the team's IMDb details; 'by / with <person>' on a fresh install",
        file="facts-check.json",
        command="chat-rec data check-facts --out results/facts-check.json; chat-rec eval people --packaged-texts "
        "--llm none --out results/people-fresh.json",
        values={
            "agree": "agree",
            "covered": "covered",
            "rate": "agreement",
            "any": "agreement_any_record",
            "ok": "people-fresh.json:passed",
            "n": "people-fresh.json:n",
        },
        result="{agree:,} of the {covered:,} films the details cover agree ({rate:.3f}); {ok} of {n} well-known "
        "names get ≥ 4 of 5 picks with them",
        baseline="{any:.3f} over every record, counting the scrape's records of other titles",
    ),
    Row(
        what="turn latency, served configuration",
        file="bench-turn-none.json",
        command="chat-rec bench turn --llm none|local --out results/bench-turn-none|local.json",
        values={
            "med": "turn_ms/median",
            "p95": "turn_ms/p95",
            "first95": "bench-turn-local.json:first_picks_ms/p95",
            "why": "bench-turn-local.json:llm_turn_ms/median",
        },
        result="LLM off: median {med:.0f} ms, p95 {p95:.0f} ms; LLM on: first picks p95 {first95:.0f} ms, "
        'a streamed "why" answer {why_s:.2f} s',
        derive=lambda v: {"why_s": v["why"] / 1000},
    ),
    Row(
        what="a 👍/👎, durably stored",
        file="bench-feedback.json",
        command="chat-rec bench feedback -n 200 --postgres URL --out results/bench-feedback.json",
        values={
            "sqlite": "stores/sqlite/median",
            "pg": "stores/postgresql/median",
            "memory": "stores/memory/median",
        },
        result="median {sqlite:.2f} ms (SQLite), {pg:.2f} ms (PostgreSQL)",
        baseline="in memory {memory:.2f} ms",
    ),
    Row(
        what="20 visitors at once over HTTP, local LLM on (3–8 s per message)",
        file="bench-load-llm.json",
        command="chat-rec bench load --sessions 20 --llm local --out results/bench-load-llm.json",
        values=load_values("rows[sessions=20,llm=local]"),
        result="turn median {med:.0f} ms, p95 {p95:,.0f} ms, {errors} errors, {talk} cross-talk, store {store}",
        baseline="the same scripts run alone (cross-talk)",
        derive=_load_row_events,
    ),
    Row(
        what="50 visitors at once over HTTP, LLM off (3–8 s per message)",
        file="bench-load.json",
        command="chat-rec bench load --sessions 10,50 --turns 5 --llm none --out results/bench-load.json",
        values=load_values("rows[sessions=50,llm=none]"),
        result="turn p95 {p95:.0f} ms, {errors} errors, {talk} cross-talk, store {store}",
        baseline="the same scripts run alone (cross-talk)",
        derive=_load_row_events,
    ),
    Row(
        what="a million-item catalog (synthetic), LLM off, 2 cores",
        file="bench-scale.json",
        command="chat-rec bench scale --items 10000,100000,1000000 --out results/bench-scale.json",
        values={
            "recall": "rows[items=1000000,index=hnsw]/recall@10",
            "p95": "rows[items=1000000,index=hnsw]/turn_ms/p95",
            "rss": "rows[items=1000000,index=hnsw]/peak_rss_mb",
            "cf": "rows[items=1000000,index=hnsw]/cf",
            "flat95": "rows[items=1000000,index=flat]/turn_ms/p95",
        },
        result="HNSW recall@10 {recall:.3f}, turn p95 {p95:.0f} ms, peak RSS {gb:.1f} GB ({cf} CF)",
        baseline="exact search: turn p95 {flat95:.0f} ms",
        derive=lambda v: {"gb": v["rss"] / 1000},
    ),
    Row(
        what="first start: a fresh clone, `make run` until the chat answers",
        file="first-start.json",
        command="python scripts/first_start.py --out results/first-start.json",
        values={
            "seconds": "seconds_to_answer",
            "built": "wheels_built",
            "downloaded": "files_downloaded",
            "cpus": "cpus",
            "load": "?load_average_1m/before",
        },
        result="{seconds:.0f} s to the first answer ({cache})",
        baseline="the local LLM joins later (fetched in the background)",
        derive=_first_start,
    ),
)


# ------------------------------------------------------------------------------------------ reading values


_SEGMENT = re.compile(r"^(?P<key>[^\[\]]+)(?:\[(?P<sel>[^\]]*)\])?$")


def _matches(item: object, selector: str) -> bool:
    if not isinstance(item, dict):
        return False
    for part in selector.split(","):
        key, _, want = part.partition("=")
        have = item.get(key.strip())
        text = have if isinstance(have, str) else json.dumps(have)
        if text != want.strip():
            return False
    return True


def read_path(data: object, path: str) -> object:
    """The value at ``path`` in ``data``: ``/``-separated keys; ``key[k=v,k2=v2]`` picks the one list element
    with those fields (values compared as JSON text: ``true``, ``50``, or a plain string); ``key[0]`` by index.
    A path starting with ``?`` is optional: ``None`` when it is not there."""
    if path.startswith("?"):
        try:
            return read_path(data, path[1:])
        except (KeyError, IndexError, TypeError):
            return None
    node = data
    for segment in path.split("/"):
        m = _SEGMENT.match(segment)
        if m is None or not isinstance(node, dict) or m["key"] not in node:
            raise KeyError(segment)
        node = node[m["key"]]
        sel = m["sel"]
        if sel is None:
            continue
        if sel.strip().lstrip("-").isdigit():
            node = node[int(sel)]
            continue
        found = [x for x in node if _matches(x, sel)] if isinstance(node, list) else []
        if len(found) != 1:
            raise KeyError(f"{segment} ({len(found)} elements match)")
        node = found[0]
    return node


def _load(results: Path, name: str, row: Row, cache: dict) -> dict:
    if name not in cache:
        path = results / name
        if not path.is_file():
            raise FileNotFoundError(path)
        try:
            cache[name] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ChatRecError(f"{path} is not valid JSON ({exc}): run `{row.command}` again") from exc
    return cache[name]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_row(row: Row, results: Path, cache: dict | None = None) -> str:
    """The row's Markdown line, or ``ChatRecError`` naming the command to run when its JSON is missing (a
    ``pending`` row then says "not measured yet")."""
    cache = {} if cache is None else cache
    missing = [name for name in row.files() if not (results / name).is_file()]
    if missing:
        if row.pending:
            return f"| {row.what} | not measured yet: run `{_cell(row.command)}` | — | — |"
        raise ChatRecError(
            f"headline row {row.what!r} reads {', '.join(str(results / m) for m in missing)}, which is missing: "
            f"run `{row.command}`"
        )
    values = {}
    for name, spec in row.values.items():
        file, _, path = spec.partition(":") if ":" in spec else (row.file, "", spec)
        try:
            values[name] = read_path(_load(results, file, row, cache), path)
        except (KeyError, IndexError, TypeError) as exc:
            raise ChatRecError(
                f"headline row {row.what!r}: {results / file} has no {path!r} ({exc}): run `{row.command}` again"
            ) from exc
    if row.derive is not None:
        values.update(row.derive(values))
    result, baseline = row.result.format(**values), row.baseline.format(**values)
    return f"| {_cell(row.what)} | {_cell(result)} | {_cell(baseline)} | `{_cell(row.command)}` |"


def headline_table(results: Path, rows: tuple[Row, ...] = ROWS) -> str:
    """The Markdown table, one line per row, ending in a newline."""
    cache: dict = {}
    return "\n".join([*HEADER, *(render_row(row, Path(results), cache) for row in rows)]) + "\n"


# ------------------------------------------------------------------------------------------ the README


def readme_table(readme: Path) -> tuple[str, str, str]:
    """(before, table, after): the README split at the markers."""
    text = Path(readme).read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ChatRecError(f"{readme} has no {START} ... {END} block: add the two markers where the table goes")
    body_start = start + len(START) + 1  # the marker's line ends in a newline
    return text[:body_start], text[body_start:end], text[end:]


def cmd_results(args) -> int:
    from chat_rec.files import write_text

    table = headline_table(Path(args.results))
    if not args.write and not args.check:
        sys.stdout.write(table)
        return 0
    readme = Path(args.readme)
    before, current, after = readme_table(readme)
    if args.write:
        if current != table:
            write_text(readme, before + table + after)
            print(f"wrote the headline table into {readme}")
        else:
            print(f"{readme}'s headline table is already current")
        return 0
    if current == table:
        print(f"{readme}'s headline table equals `chat-rec results`")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True), table.splitlines(keepends=True), f"{readme} (table)", "chat-rec results"
    )
    sys.stdout.writelines(diff)
    print(f"{readme}'s headline table differs from results/*.json: run `chat-rec results --write`", file=sys.stderr)
    return 1


def add_command(sub) -> None:
    """``chat-rec results [--write | --check]`` on the main parser's sub-commands."""
    p = sub.add_parser("results", help="the README's headline table, written from results/*.json")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="replace the table between the README's markers")
    mode.add_argument("--check", action="store_true", help="exit 1 with a diff when the README's table differs")
    p.add_argument("--readme", default="README.md", help="the README with the markers (default ./README.md)")
    p.add_argument("--results", default="results", help="the folder of result JSONs (default ./results)")
    p.set_defaults(fn=cmd_results)
