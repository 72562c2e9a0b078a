import dataclasses

import numpy as np
import pytest

from chat_rec.catalog import Catalog, Item, display_title, item_text
from chat_rec.errors import DataFormatError, EmptyCatalogError


def test_display_title_moves_trailing_articles():
    assert display_title("Shawshank Redemption, The (1994)") == "The Shawshank Redemption (1994)"
    assert display_title("Alien (1979)") == "Alien (1979)"
    assert display_title("Birdcage, The") == "The Birdcage"


def test_item_text_has_title_year_genres_and_details():
    item = Item(
        1,
        "Shining, The (1980)",
        1980,
        ("Horror",),
        "A writer goes mad.",
        ("Stanley Kubrick",),
        ("Jack Nicholson", "Shelley Duvall"),
    )
    text = item_text(item)
    assert text.startswith("The Shining (1980). Genres: Horror.")
    assert "A writer goes mad." in text and "Director: Stanley Kubrick." in text and "Jack Nicholson" in text
    assert item_text(Item("b1", "Dune", 1965)) == "Dune (1965)"  # the year is added when the title lacks it


def test_lookup_and_genre_masks(tiny_catalog):
    assert tiny_catalog.row(6) == 5 and tiny_catalog.item(6).title == "Shining, The (1980)"
    with pytest.raises(KeyError, match="999"):
        tiny_catalog.row(999)
    assert tiny_catalog.rows([999, 1], skip_unknown=True).tolist() == [0]
    horror = tiny_catalog.genre_mask(["horror"])
    assert [tiny_catalog.items[r].id for r in np.flatnonzero(horror)] == [1, 2, 6]
    both = tiny_catalog.genre_mask(["Horror", "Action"], any_of=False)
    assert [tiny_catalog.items[r].id for r in np.flatnonzero(both)] == [2]
    assert not tiny_catalog.genre_mask(["Polka"]).any()
    assert tiny_catalog.years[-1] == -1  # unknown year


def test_empty_and_duplicate_catalogs_are_refused():
    with pytest.raises(EmptyCatalogError, match="no items"):
        Catalog("empty", [])
    with pytest.raises(DataFormatError, match="duplicate"):
        Catalog("dup", [Item(1, "a"), Item(1, "b")])


def test_fingerprint_changes_with_text(tiny_catalog):
    other = Catalog("tiny", [dataclasses.replace(i, description="changed") if i.id == 1 else i for i in tiny_catalog])
    assert other.fingerprint() != tiny_catalog.fingerprint()
    assert Catalog("tiny", list(tiny_catalog.items)).fingerprint() == tiny_catalog.fingerprint()


def test_boilerplate_sentences_are_found_by_frequency_not_by_title():
    """A sentence shared word for word by many items' descriptions is data filler and is removed."""
    from chat_rec.catalog import Catalog, Item

    filler = "It looks like we don't have any Plot Summaries for this title yet. Be the first to contribute!"
    items = [
        Item(i, f"Film {i} (1990)", 1990, ("Drama",), filler if i < 6 else f"A story number {i} about a town.")
        for i in range(40)
    ]
    items.append(Item(99, "Mixed (1991)", 1991, ("Drama",), "A real plot about a dog. " + filler))
    catalog = Catalog("filler", items)
    assert catalog.item(0).description == "" and catalog.item(99).description == "A real plot about a dog."
    assert catalog.item(7).description == "A story number 7 about a town."  # unique sentences stay


def test_the_same_film_under_two_ids_is_one_film():
    items = [
        Item(1, "Chasing Amy (1997)", 1997, ("Drama",)),
        Item(2, "Alien (1979)", 1979, ("Horror",)),
        Item(3, "Chasing  amy (1997)", 1997, ("Drama",)),
        Item(4, "Chasing Amy (1985)", 1985, ("Drama",)),
    ]
    c = Catalog("t", items)
    assert c.twins(0) == [2] and c.twins(2) == [0]
    assert c.twins(1) == [] and c.twins(3) == []  # another year is another film
    assert c.film_key[0] == c.film_key[2] != c.film_key[3]


def test_a_title_with_and_without_its_year_is_one_film():
    """ReDial lists "The Matrix" and "The Matrix (1999)", and "Armageddon (1997)" beside "Armageddon (1998)"
    whose record says 1998: one film each, shown under the record's year."""
    from chat_rec.recommender.explain import short_title

    items = [
        Item(1, "The Matrix (1999)", 1999, ("Action",)),
        Item(2, "The Matrix", 1999, ("Action",)),
        Item(3, "Armageddon (1997)", 1998, ("Action",)),
        Item(4, "Armageddon (1998)", 1998, ("Action",)),
        Item(5, "The Matrix Reloaded (2003)", 2003, ("Action",)),
    ]
    c = Catalog("t", items)
    assert c.twins(0) == [1] and c.twins(2) == [3] and c.twins(4) == []
    assert [short_title(i) for i in items[:3]] == ["The Matrix (1999)", "The Matrix (1999)", "Armageddon (1998)"]
