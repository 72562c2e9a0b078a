"""The real-language dev set's loader and scoring rules (no data needed)."""

import pytest

from chat_rec.catalog import Item
from chat_rec.evaluation.real_requests import Expected, LabelError, keyword_match, load_real, violations


def test_loader_rejects_malformed_entries_and_decodes_quote_tokens(tmp_path):
    ok = tmp_path / "ok.yaml"
    ok.write_text('- {id: a/1, say: "Not really into QUOTATION_MARKhitQUOTATION_MARK movies", neg_keywords: [hit]}\n')
    assert load_real(ok)[0]["say"] == 'Not really into "hit" movies'
    for bad in (
        "- {id: a/1, genres: [Horror]}\n",  # no say
        '- {id: a/1, say: "x", years: [1990]}\n',  # years is [min, max]
        '- {id: a/1, say: "x", refers: seventh}\n',  # not a place
        '- {id: a/1, say: "x", genre: [Horror]}\n',
    ):  # a misspelt field
        path = tmp_path / "bad.yaml"
        path.write_text(bad)
        with pytest.raises(LabelError):
            load_real(path)


def test_keyword_match_by_stem_expansion_and_compound():
    assert keyword_match("gore", "gorey") and keyword_match("gore", "blood")  # the reader's expansion
    assert keyword_match("r-rated", "rated") and keyword_match("space", "spacey")
    assert not keyword_match("gore", "quite") and not keyword_match("silly", "sad")


def test_violations_read_the_item_itself():
    item = Item(7, "Airplane! (1980)", 1980, ("Comedy",), "A spoof of disaster movies on a doomed flight.")
    exp = Expected(genres={"Comedy", "Romance"}, all_genres=True, era=(1990, 1999), neg_keywords={"spoof"})
    assert violations(item, exp, newest=1998) == ["genre", "era", "neg_keyword"]
    assert violations(item, Expected(genres={"Comedy"}, like={7}), newest=1998) == ["like"]
    assert violations(item, Expected(era=("recent",)), newest=1998) == ["era"]  # 1989-1998 is recent
    assert violations(item, Expected(era=("recent",)), newest=1985) == []
