"""A non-movie catalog end to end, by data only: 30 books through the real encoder, FAISS and EASE."""

import csv

import numpy as np

from chat_rec.config import DataConfig
from chat_rec.datasets import load_dataset
from chat_rec.models.cf import EASE
from chat_rec.models.index import SearchFilter, build_item_index

BOOKS = [
    ("b01", "Dune", 1965, "Science Fiction", "A desert planet, a noble family and a war over the spice."),
    ("b02", "Foundation", 1951, "Science Fiction", "A mathematician predicts the fall of a galactic empire."),
    ("b03", "Neuromancer", 1984, "Science Fiction|Cyberpunk", "A hacker is hired for one last job in cyberspace."),
    (
        "b04",
        "The Left Hand of Darkness",
        1969,
        "Science Fiction",
        "An envoy on an icy planet whose people change sex.",
    ),
    ("b05", "Hyperion", 1989, "Science Fiction", "Pilgrims tell their stories on the way to the Time Tombs."),
    ("b06", "The Martian", 2011, "Science Fiction", "An astronaut stranded on Mars must survive alone."),
    ("b07", "Pride and Prejudice", 1813, "Romance|Classic", "Elizabeth Bennet and the proud Mr Darcy."),
    ("b08", "Emma", 1815, "Romance|Classic", "A young matchmaker meddles in the love lives of her friends."),
    ("b09", "Jane Eyre", 1847, "Romance|Classic", "An orphaned governess falls for her brooding employer."),
    ("b10", "Persuasion", 1817, "Romance|Classic", "A woman meets again the naval officer she once refused."),
    ("b11", "Outlander", 1991, "Romance|Historical", "A nurse is swept back in time to 18th century Scotland."),
    ("b12", "The Notebook", 1996, "Romance", "An old man reads a love story to a woman with dementia."),
    ("b13", "Gone Girl", 2012, "Thriller|Mystery", "A wife disappears and her husband becomes the suspect."),
    ("b14", "The Girl with the Dragon Tattoo", 2005, "Thriller|Mystery", "A journalist and a hacker hunt a killer."),
    ("b15", "The Da Vinci Code", 2003, "Thriller|Mystery", "A symbologist decodes secrets hidden in art."),
    ("b16", "Rebecca", 1938, "Thriller|Classic", "A new wife lives in the shadow of the first Mrs de Winter."),
    ("b17", "The Silence of the Lambs", 1988, "Thriller|Horror", "An FBI trainee consults a cannibal psychiatrist."),
    ("b18", "In Cold Blood", 1966, "True Crime", "The murder of a Kansas farm family and its aftermath."),
    ("b19", "It", 1986, "Horror", "Children face a shape-shifting clown in a small town sewer."),
    ("b20", "The Shining", 1977, "Horror", "A caretaker goes mad in a snowbound mountain hotel."),
    ("b21", "Dracula", 1897, "Horror|Classic", "A vampire count travels from Transylvania to England."),
    ("b22", "Frankenstein", 1818, "Horror|Classic|Science Fiction", "A scientist creates a living creature."),
    ("b23", "Carrie", 1974, "Horror", "A bullied girl with telekinetic powers takes revenge at the prom."),
    ("b24", "The Hobbit", 1937, "Fantasy", "A hobbit joins dwarves on a quest to reclaim a dragon's hoard."),
    ("b25", "A Wizard of Earthsea", 1968, "Fantasy", "A young wizard unleashes a shadow and must hunt it."),
    ("b26", "The Name of the Wind", 2007, "Fantasy", "A gifted musician and magician tells his life story."),
    ("b27", "Mistborn", 2006, "Fantasy", "A street thief learns metal-based magic to topple a dark lord."),
    ("b28", "Sapiens", 2011, "Nonfiction|History", "A brief history of humankind from the Stone Age."),
    (
        "b29",
        "A Brief History of Time",
        1988,
        "Nonfiction|Science",
        "Black holes, the big bang and the nature of time.",
    ),
    ("b30", "Cosmos", 1980, "Nonfiction|Science", "A journey through the universe and the history of science."),
]


def write_books(tmp_path):
    items = tmp_path / "books.csv"
    with open(items, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "title", "year", "genres", "description"])
        w.writerows(BOOKS)
    inter = tmp_path / "reads.csv"
    groups = {
        "scifi": ["b01", "b02", "b03", "b05", "b06"],
        "romance": ["b07", "b08", "b09", "b10", "b12"],
        "horror": ["b19", "b20", "b21", "b23", "b17"],
    }
    with open(inter, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user", "item", "rating", "timestamp"])
        for g, (name, books) in enumerate(groups.items()):
            for u in range(8):
                for j, b in enumerate(books):
                    if (u + j) % 5 != 0:  # each reader misses one book of their group
                        w.writerow([f"{name}{u}", b, 5, 1000 * g + u])
    return items, inter


def test_books_through_index_and_cf(tmp_path, minilm):
    items, inter = write_books(tmp_path)
    catalog, interactions = load_dataset(DataConfig(root=tmp_path / "data"), items=items, interactions=inter)
    assert catalog.name == "books" and len(catalog) == 30 and interactions.n_users == 24
    built = build_item_index(catalog, minilm, DataConfig(root=tmp_path / "data"), show_progress=False)
    top = [h.item_id for h in built.search_text("stranded astronaut survival on another planet", 3)]
    assert top[0] == "b06"
    horror = built.search_text(
        "a haunted hotel", 5, SearchFilter(require_genres=("horror",), exclude_ids=frozenset({"b20"}))
    )
    assert horror and all("Horror" in catalog.item(h.item_id).genres for h in horror)
    assert "b20" not in [h.item_id for h in horror]
    model = EASE(lam=2.0, weighting="rating").fit(interactions)
    liked = catalog.rows(["b07", "b08"])  # a new reader who liked two Austen novels
    recs = [catalog.items[r].id for r in model.recommend(liked, k=3)]
    assert set(recs) <= {"b09", "b10", "b12"}
    assert np.isfinite(model.B).all()
