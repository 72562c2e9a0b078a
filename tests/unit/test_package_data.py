"""Data the package ships and reads with importlib.resources: the rule reader's lexicon, the prompts, the
MovieLens-100K descriptions, and the committed test slice that loads with them."""

import yaml

from chat_rec.catalog import Item
from chat_rec.config import DataConfig
from chat_rec.datasets import load_dataset
from chat_rec.datasets.descriptions import attach_packaged, packaged_descriptions
from chat_rec.recommender.intent import lexicon
from chat_rec.recommender.intent.llm_reader import load_prompt


def test_lexicon_keeps_its_types_and_words():
    # YAML 1.1 would read a bare `no` as false: the file must keep every word a string
    assert "no" in lexicon.NEGATION_CUES and "not" in lexicon.NEGATION_CUES
    assert all(isinstance(w, str) for w in lexicon.NEGATION_CUES + tuple(lexicon.STOPWORDS))
    assert lexicon.GENRE_WORDS["scary"] == ("Horror",) and lexicon.GENRE_WORDS["cartoon"] == ("Animation",)
    assert lexicon.ORDINALS["second"] == 2 and lexicon.ORDINALS["last"] == -1
    assert lexicon.ERA_WORDS["eighties"] == 1980
    plus, minus = lexicon.MOOD_GENRES["light"]
    assert "Comedy" in plus and "Horror" in minus
    # negation cues are matched longest first: order in the file does not matter, duplicates would
    assert len(set(lexicon.NEGATION_CUES)) == len(lexicon.NEGATION_CUES)


def test_lexicon_file_is_plain_yaml_with_the_expected_sections():
    from importlib import resources

    raw = yaml.safe_load(resources.files("chat_rec.recommender.intent").joinpath("lexicon.yaml").read_text())
    assert set(raw) == {
        "genre_words",
        "moods",
        "mood_genres",
        "keyword_expansions",
        "ruled_out_content",
        "meta_words",
        "era_words",
        "negation_cues",
        "qualifier_stop",
        "scope_end",
        "ordinals",
        "stopwords",
        "mood_opposites",
        "vague_readings",
        "subgenre_words",
        "mood_avoid_genres",
    }


def test_prompts_load_from_the_package():
    intent = load_prompt("intent")
    assert "{fields}" in intent["system"] and load_prompt("explain")["system"].strip()


def test_packaged_descriptions_cover_the_catalog_and_match_on_id_and_title():
    known = packaged_descriptions()
    assert len(known) >= 1600
    title, text = known[183]
    assert title == "Alien (1979)" and "creature" in text.lower() and "Keywords:" in text
    items = [
        Item(183, "Alien (1979)", 1979, ("Horror",)),
        Item(184, "Not Army of Darkness (1993)"),
        Item(1, "Toy Story (1995)", 1995, (), "already described"),
    ]
    out, n = attach_packaged(items)
    assert n == 1 and "creature" in out[0].description.lower()
    assert out[1].description == "" and out[2].description == "already described"


def test_the_committed_slice_loads_with_the_packaged_descriptions(tmp_path):
    from conftest import write_slice

    write_slice(tmp_path / "ml-100k")
    catalog, interactions = load_dataset(DataConfig(root=tmp_path, shared_dirs=(), allow_download=False))
    assert 300 <= len(catalog) <= 600 and len(interactions.ratings) > 5000
    assert catalog.item(183).title == "Alien (1979)" and "creature" in catalog.item(183).description.lower()
    assert catalog.text_source.startswith("descriptions written for chat-rec")
    described = sum(bool(i.description) for i in catalog.items)
    assert described >= 0.95 * len(catalog)


def test_every_config_is_reachable_from_config_and_kinds_are_checked_when_built():
    import dataclasses

    import pytest

    from chat_rec.config import (
        AgentConfig,
        Config,
        ConfigError,
        CrossEncoderSpec,
        DialogueTrainConfig,
        IndexConfig,
        OnlineConfig,
        TrainConfig,
    )

    types = {f.type if isinstance(f.type, type) else f.name for f in dataclasses.fields(Config)}
    cfg = Config()
    parts = {type(getattr(cfg, f.name)) for f in dataclasses.fields(Config)}
    assert {OnlineConfig, CrossEncoderSpec, TrainConfig, DialogueTrainConfig, AgentConfig} <= parts, types
    with pytest.raises(ConfigError, match="accepted values are auto, flat, ivf, hnsw"):
        IndexConfig(kind="annoy")
    with pytest.raises(ConfigError, match="CHATREC_READER='llm-only'"):
        Config.from_env({"CHATREC_READER": "llm-only"})


def test_packaged_facts_are_attached_by_id_and_title():
    from chat_rec.datasets.facts import attach_facts, packaged_facts

    facts = packaged_facts()
    assert len(facts) == 1682 and facts[50].director == ("George Lucas",) and "Harrison Ford" in facts[50].cast
    assert facts[98].runtime == 118 and facts[98].age_rating == "R"
    assert all(len(f.cast) <= 5 for f in facts.values())
    alien = Item(183, "Alien (1979)", 1979, ("Sci-Fi",))
    other = Item(183, "Some Other Film (2001)", 2001)
    own = Item(183, "Alien (1979)", 1979, director=("Somebody",))
    (got, mismatch, kept), n = attach_facts([alien, other, own])
    assert got.director == ("Ridley Scott",) and got.runtime and n == 2
    assert mismatch.director == () and kept.director == ("Somebody",)  # a catalog's own people come first
