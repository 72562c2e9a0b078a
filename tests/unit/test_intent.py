"""The rule parser on the tiny catalog and on hand-labelled requests; merging with an LLM intent."""

from pathlib import Path

import pytest

from chat_rec.catalog import Catalog, Item
from chat_rec.evaluation.intents import load_labelled, score_intents
from chat_rec.recommender.intent import Intent, RuleParser, merge_intents
from chat_rec.recommender.intent.titles import TitleMatcher, normalise_title

LABELLED = Path(__file__).resolve().parents[1] / "data" / "intents.yaml"


@pytest.fixture
def parser(tiny_catalog):
    return RuleParser(tiny_catalog)


def test_genres_negation_and_era(parser):
    i = parser.parse("something scary from the 80s, but not too gory")
    assert i.wanted_genres == ["Horror"] and (i.year_min, i.year_max) == (1980, 1989)
    assert "gory" in i.unwanted_keywords and "gore" in i.unwanted_keywords and not i.unwanted_genres
    i = parser.parse("no romance please, I hate westerns, anything but musicals")
    assert set(i.unwanted_genres) == {"Musical"}  # the tiny catalog has no Romance or Western genre


def test_years(parser):
    assert (parser.parse("movies from 1995").year_min, parser.parse("movies from 1995").year_max) == (1995, 1995)
    assert parser.parse("something from before 1970").year_max == 1969
    assert parser.parse("since 1980 please").year_min == 1980
    assert parser.parse("after 1980").year_min == 1981
    assert parser.parse("recent stuff").year_min == 1996 - 5  # the tiny catalog's newest year is 1996
    i = parser.parse("between 1960 and 1975")
    assert (i.year_min, i.year_max) == (1960, 1975)


def test_negated_and_decade_bounds(parser):
    """A bound inside a negation is turned round, never kept as it reads; "pre 2000s" is a bound, not the 2000s."""

    def bounds(text):
        i = parser.parse(text)
        return i.year_min, i.year_max

    assert bounds("only dramas please, nothing before 1990") == (1990, None)
    assert bounds("not older than 1985") == (1985, None)
    assert bounds("nothing after 2000 please") == (None, 2000)
    assert bounds("no 80s stuff") == (None, None)  # a negated decade is left out, not inverted
    assert bounds("something pre 2000s") == (None, 1999)
    assert bounds("a comedy from after the 80s") == (1990, None)
    assert bounds("anything since the 70s") == (1970, None)
    assert bounds("nothing too old please") == (1996 - 5, None)


def test_vague_era_words_only_as_a_request(parser):
    """ "classic" and "old" as praise or description are not an era; as a request they are."""
    for praise in (
        "Forrest Gump is an epic classic",
        "it is classic",
        "That is a old funny one",
        "I want to watch a movie for older people",
        "I like the older It though",
        "I'm looking for a new period drama to watch",
    ):
        i = parser.parse(praise)
        assert (i.year_min, i.year_max) == (None, None), praise
    for ask in (
        "something older",
        "I'm looking for something older.",
        "any old movies?",
        "some classics please",
        "classic films",
        "oldies",
    ):
        assert parser.parse(ask).year_max == 1996 - 25, ask
    assert parser.parse("more recent animated movies").year_min == 1996 - 5


def test_titles_survive_article_year_case_and_typos(tiny_catalog):
    matcher = TitleMatcher(tiny_catalog)
    assert normalise_title("Sound of Music, The (1965)") == "sound of music"
    assert matcher.lookup("The Sound of Music") == 5
    assert matcher.lookup("sound of musik") == 5
    assert matcher.lookup("Alien (1979)") == 1
    parser = RuleParser(tiny_catalog, matcher)
    i = parser.parse("I loved The Shining but Airplane! was boring")
    assert i.liked_items == [6] and i.disliked_items == [7] and i.kind == "more_like"
    i = parser.parse("something like aliens")
    assert i.reference_items == [2]
    i = parser.parse("something like The Matrix")
    assert i.unknown_titles == ["The Matrix"] and not i.reference_items


def test_explain_and_chat_kinds(parser):
    i = parser.parse("why the second one?", last_shown=[1, 2, 3])
    assert i.kind == "explain" and i.explain_rank == 2
    i = parser.parse("why Fargo?")
    assert i.kind == "explain" and i.explain_item == 4
    assert parser.parse("hello!").kind == "chat"
    assert parser.parse("thanks a lot").kind == "chat"
    assert parser.parse("actually, no horror", last_shown=[1]).kind == "refine"


def test_generic_catalog_genres_work_as_words():
    catalog = Catalog(
        "songs", [Item("s1", "Blue Monday", 1983, ("Synth-pop",)), Item("s2", "Jolene", 1973, ("Country",))]
    )
    i = RuleParser(catalog).parse("some country, no synth-pop")
    assert i.wanted_genres == ["Country"] and i.unwanted_genres == ["Synth-pop"]


def test_merge_rules_win_on_hard_constraints():
    rules = Intent(wanted_genres=["Horror"], unwanted_genres=["Comedy"], year_min=1980, year_max=1989)
    llm = Intent(
        wanted_genres=["Comedy", "Sci-Fi"],
        unwanted_genres=["Horror", "Drama"],
        keywords=["space"],
        year_min=1990,
        year_max=1999,
        mood="dark",
        reference_items=[1],
    )
    merged = merge_intents(rules, llm)
    assert merged.wanted_genres == ["Horror"] and (merged.year_min, merged.year_max) == (1980, 1989)
    assert set(merged.unwanted_genres) == {"Comedy", "Drama"}  # the LLM cannot forbid what the rules asked for
    assert merged.keywords == ["space"] and merged.mood == "dark" and merged.kind == "more_like"
    assert merge_intents(rules, None) is rules


@pytest.mark.shared_data
def test_labelled_requests_rules_only(ml100k_dir):
    from chat_rec.datasets.movielens import load_movielens_100k

    catalog, _ = load_movielens_100k(ml100k_dir)
    parser = RuleParser(catalog)
    result = score_intents(load_labelled(LABELLED), parser.parse)
    assert result["n_cases"] >= 40
    assert result["genre_f1"] >= 0.85, result["misses"]
    assert result["negation_recall"] >= 0.90, result


def test_hedges_and_misspellings(parser):
    """Hedges are not excluded words; misspelt genre and unwanted words read as what they are close to."""
    assert parser.parse("Not quite.").unwanted_keywords == []
    i = parser.parse("not a huge fan of musicals")
    assert i.unwanted_genres == ["Musical"] and not {"huge", "fan"} & set(i.unwanted_keywords)
    i = parser.parse("sumthing scarey but not to gorey")
    assert i.wanted_genres == ["Horror"] and "gore" in i.unwanted_keywords and "gorey" not in i.unwanted_keywords
    assert parser.parse("that looks familiar").wanted_genres == []  # close spelling is not enough
    assert parser.parse("kinda lik Alien").reference_items == [1]


def test_one_word_for_two_genres_asks_for_both(tiny_catalog):
    from chat_rec.models.index import SearchFilter

    items = list(tiny_catalog.items) + [
        Item(9, "Love Story (1970)", 1970, ("Romance",)),
        Item(10, "Romcom (1990)", 1990, ("Comedy", "Romance")),
    ]
    catalog = Catalog("tiny+", items)
    i = RuleParser(catalog).parse("a romantic comedy please")
    assert set(i.wanted_genres) == {"Romance", "Comedy"} and i.all_genres
    mask = SearchFilter(require_genres=tuple(i.wanted_genres), all_genres=True).mask(catalog)
    assert [catalog.items[r].id for r in mask.nonzero()[0] if catalog.items[r].genres != ("unknown",)] == [10]
    assert not RuleParser(catalog).parse("a comedy or a romance").all_genres


def test_real_seekers_words_from_redial(parser):
    """Misreads found by replaying ReDial: each once removed the movie the recorded recommender chose."""
    i = parser.parse("Do you have any other non animated suggestions?")
    assert "Animation" in i.unwanted_genres and "Animation" not in i.wanted_genres
    i = parser.parse("something funny, not animated")
    assert i.wanted_genres == ["Comedy"] and i.unwanted_genres == ["Animation"]
    assert parser.parse("I haven't seen many comic book movies").wanted_genres == []
    assert parser.parse("a comic movie").wanted_genres == ["Comedy"]
    i = parser.parse("im looking for a good cult classic movie. Old or New, I just need a good movie")
    assert (i.year_min, i.year_max) == (None, None)
    assert parser.parse("I used to like Saw but as I am getting older it's a bit much").year_max is None
    assert parser.parse("something older").year_max is not None
    assert parser.parse("Or horror").adds_genres and parser.parse("comedies too").adds_genres
    assert not parser.parse("a horror movie").adds_genres


def test_a_title_after_not_is_ruled_out_not_matched(tiny_catalog):
    """ "not The Shining" rules it out (it was read as "like The Shining"); "I've seen Alien but not The
    Shining" says what was not seen, not a dislike."""
    p = RuleParser(tiny_catalog)
    for text in ("not The Shining", "Not The Shining, something else", "anything except The Shining"):
        i = p.parse(text)
        assert i.disliked_items == [6] and 6 not in i.reference_items, text
    i = p.parse("I've seen Alien but not The Shining")
    assert 6 not in i.disliked_items


def test_picks_named_by_their_place(tiny_catalog):
    """ "more like the second one" names the second pick on screen; "not the third one" rules one out."""
    p = RuleParser(tiny_catalog)
    shown = [it.id for it in tiny_catalog.items[:5]]
    assert p.parse("more like the second one", last_shown=shown).reference_items == [shown[1]]
    i = p.parse("I liked the first one", last_shown=shown)
    assert i.liked_items == [shown[0]]
    i = p.parse("not the third one, something like the last one", last_shown=shown)
    assert i.disliked_items == [shown[2]] and i.reference_items == [shown[-1]]
    assert p.parse("why the second one?", last_shown=shown).explain_rank == 2
    assert p.parse("I am the first one here", last_shown=shown).reference_items == []
    assert p.parse("more like the second one").reference_items == []  # nothing on screen


def test_real_language_classes(parser):
    """Classes of misreads from the real-language dev set (tests/data/real_requests.yaml)."""
    # a dislike phrased with an adverb, as an inability, or as "not my thing"
    assert "Horror" in parser.parse("I don't really like horror but sci-fi is okay").unwanted_genres
    assert "Horror" in parser.parse("I can't do scary movies").unwanted_genres
    assert "Horror" in parser.parse("Hi, I'm good with anything except for horror.").unwanted_genres
    assert "Horror" in parser.parse("Horror is not really my thing").unwanted_genres
    assert "Comedy" in parser.parse("I don't normally watch comedy movies").unwanted_genres
    # what the person has or has not done is not a wish: no excluded words from it
    assert parser.parse("No I haven't seen that movie yet").unwanted_keywords == []
    assert parser.parse("hmm not heard of this movie but i love to watch it").unwanted_keywords == []
    # a statement about a film already talked about is not a request for its genre
    assert parser.parse("Yes, that one was funny. I did enjoy it.").wanted_genres == []
    assert parser.parse("Get Out was not scary").wanted_genres == []
    assert parser.parse("Get Out was not scary").unwanted_genres == []
    # degree ("too scary") and a qualified genre ("foreign horror") exclude a word, not the genre
    i = parser.parse("nothing too scary please")
    assert "scary" in i.unwanted_keywords and not i.unwanted_genres
    i = parser.parse("Not really into the foreign horror.")
    assert "foreign" in i.unwanted_keywords and "Horror" not in i.unwanted_genres
    assert "silly" in parser.parse("it was too silly for me").unwanted_keywords
    # genre words people use
    assert parser.parse("something about criminals").wanted_genres == ["Crime"]
    assert parser.parse("no chick flicks").unwanted_genres == []  # the tiny catalog has no Romance
    # eras: open-ended decades, "current"
    i = parser.parse("a movie from the 90s up till now")
    assert (i.year_min, i.year_max) == (1990, None)
    assert parser.parse("Got anything current?").year_min == 1996 - 5


def test_critiques_and_relative_eras(tiny_catalog):
    """A critique of the list on screen refines it; "older" / "too recent" are a move from that list."""
    p = RuleParser(tiny_catalog)
    shown = [3, 4]
    assert p.parse("Closer to a story with aliens.", last_shown=shown).kind == "refine"
    assert p.parse("None of these. I want something scary.", last_shown=shown).kind == "refine"
    i = p.parse("These are all too recent. Something older?", last_shown=shown)
    assert i.kind == "refine" and i.era_shift == "older"
    assert p.parse("Can you go further back?", last_shown=shown).era_shift == "older"
    assert p.parse("More recent, please.", last_shown=shown).era_shift == "newer"
    assert p.parse("nothing too old please").era_shift == "newer"
    assert p.parse("I'll watch it later").era_shift is None


def test_verdicts_on_the_item_in_focus(tiny_catalog):
    """ "I loved that one" / "I didn't like it" about the one item in focus: a like or a dislike in words."""
    p = RuleParser(tiny_catalog)
    i = p.parse("Oh cool ya i loved that one!", focus=4)
    assert i.liked_items == [4] and i.reference_items == [4]
    assert p.parse("Yes I did not like it", focus=4).disliked_items == [4]
    assert p.parse("yesss was not a fan of the new one", focus=4).disliked_items == [4]
    assert p.parse("I accept your recommendation.", focus=4).liked_items == [4]
    assert p.parse("Haven't seen that one either, but it sounds great", focus=4).liked_items == [4]
    assert p.parse("is it funny?", focus=4).liked_items == []  # a question, not a verdict
    assert p.parse("I haven't seen it", focus=4).liked_items == []
    assert p.parse("I loved that one!").liked_items == []  # nothing in focus
