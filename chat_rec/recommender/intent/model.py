"""The ``Intent`` record: what the person wants, structured. The rule reader, the LLM reader and the merge
all produce it; the ranking reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chat_rec.catalog import ItemId

Kind = Literal["recommend", "more_like", "refine", "explain", "chat", "answer"]


class Intent(BaseModel):
    """A structured request. Item fields hold external catalog ids."""

    kind: Kind = "recommend"
    liked_items: list[ItemId] = Field(default_factory=list)
    disliked_items: list[ItemId] = Field(default_factory=list)
    reference_items: list[ItemId] = Field(default_factory=list)
    wanted_genres: list[str] = Field(default_factory=list)
    all_genres: bool = False  # every wanted genre at once ("romantic comedy"), not any of them
    unwanted_genres: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    unwanted_keywords: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    mood: str | None = None
    context: dict[str, str] = Field(default_factory=dict)
    explain_rank: int | None = None  # "why the second one?" -> 2
    explain_item: ItemId | None = None  # "why Fargo?"
    unknown_titles: list[str] = Field(default_factory=list)
    show_again: bool = False  # "show them again" lifts the shown-items filter
    adds_genres: bool = False  # "or horror", "comedies too": these genres join the earlier ones
    era_shift: Literal["older", "newer"] | None = None  # "something older", "too recent": move from the last list
    people: list[str] = Field(
        default_factory=list
    )  # "by Hitchcock", "with Tom Hanks": directors / cast, as the catalog writes them
    #: people named in passing and not asked for ("I really like Will Ferrell", "Keanu Reeves is the best"):
    #: their films are favoured, not the only ones
    liked_people: list[str] = Field(default_factory=list)
    #: people turned down ("I don't like Adam Sandler"): their films are left out while others remain
    unwanted_people: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        """True when nothing usable for ranking was understood."""
        return not (
            self.liked_items
            or self.reference_items
            or self.wanted_genres
            or self.unwanted_genres
            or self.keywords
            or self.year_min
            or self.year_max
            or self.mood
            or self.people
            or self.liked_people
            or self.unwanted_people
        )
