"""The browser app's pure render functions and its event handlers, called in-process (no browser)."""

import gradio as gr
import pytest

from chat_rec.agent import Agent
from chat_rec.config import AgentConfig
from chat_rec.recommender.feedback import MemoryStore
from chat_rec.session import Session
from chat_rec.ui import messages
from chat_rec.ui.app import ChatUI, UIState
from chat_rec.ui.render import card_markdown, influence_rows, reply_messages, user_summary, why_markdown


@pytest.fixture
def ui(tiny_recommender, block_interactions):
    # one component on purpose: the UI's rendering and handlers, on fakes (see conftest's tiny_recommender)
    return ChatUI(Agent(tiny_recommender, block_interactions, config=AgentConfig(k=3), store=MemoryStore()), "none")


def test_render_functions(ui):
    reply = ui.agent.turn("something scary", Session())
    msgs = reply_messages("something scary", reply)
    assert msgs[0] == {"role": "user", "content": "something scary"}
    assert len(msgs) == 2 + len(reply.items) and all(m["role"] == "assistant" for m in msgs[1:])
    card = card_markdown(1, reply.items[0])
    assert card.startswith("**1. ") and "Horror" in card
    assert why_markdown(reply.items[0]).startswith("### Why ")
    assert influence_rows([("a", 0.1), ("b", -0.3)]) == {"word": ["b", "a"], "influence": [-0.3, 0.1]}
    assert "New user" in user_summary([], None) and "Alien" in user_summary(["Alien (1979)"], 7)
    assert "<script>" not in card_markdown(1, reply.items[0].__class__(1, "<script>x</script>", None, [], 0, "", []))


def test_titles_render_literally_with_one_year(ui):
    """M*A*S*H is not italics; a title that carries its year shows no second one (ML-100K re-release dates)."""
    cls = ui.agent.turn("something scary", Session()).items[0].__class__
    card = card_markdown(1, cls(1, "M*A*S*H (1970)", 1970, ["War"], 0, "a_b", []))
    assert "M\\*A\\*S\\*H (1970)" in card and "(1970) (1970)" not in card and "a\\_b" in card
    assert "(1983) (1997)" not in card_markdown(1, cls(2, "Return of the Jedi (1983)", 1997, [], 0, "", []))
    assert "Alien (1979)" in card_markdown(1, cls(3, "Alien", 1979, [], 0, "", []))


def test_send_empty_and_real_messages(ui):
    state, history, box, warning = ui.send("   ", UIState(), [], "", "laptop", "now")
    assert warning == messages.EMPTY and history == [] and box == ""
    state, history, box, warning = ui.send("something scary", UIState(), [], "", "TV", "weekend night")
    assert warning is None and len(state.cards) == 3 and state.session.context["device"] == "TV"
    assert all(history[i]["role"] == "assistant" for i in state.message_items)


def test_two_visitors_never_share_state(ui):
    a, _, _, _ = ui.send("something scary", UIState(), [], "", "laptop", "now")
    b, _, _, _ = ui.send("something funny", UIState(), [], "", "laptop", "now")
    assert a.session.session_id != b.session.session_id
    ui.feedback(a, a.cards[0].item_id, "up")
    assert b.session.liked == [] and b.session.feedback == []


def test_thumbs_down_replaces_and_thumbs_up_reorders(ui):
    state, *_ = ui.send("a movie", UIState(), [], "", "laptop", "now")
    gone = state.cards[1].item_id
    after = ui.feedback(state, gone, "down")
    assert gone not in [c.item_id for c in after.cards] and len(after.cards) == len(state.cards)
    assert gone in after.session.disliked
    liked = after.cards[-1].item_id
    again = ui.feedback(after, liked, "up")
    assert again.cards[0].item_id == liked and {c.item_id for c in again.cards} == {c.item_id for c in after.cards}
    # the panel is the live list: "the first one" now points at its first card
    assert again.session.last_items == [c.item_id for c in again.cards]


def test_like_data_and_unlike(ui):
    state, history, *_ = ui.send("something scary", UIState(), [], "", "laptop", "now")
    index, item = next(iter(state.message_items.items()))
    liked = ui.like(state, gr.LikeData(None, {"index": index, "value": [history[index]["content"]], "liked": True}))
    assert item in liked.session.liked
    unliked = ui.like(liked, gr.LikeData(None, {"index": index, "value": [history[index]["content"]], "liked": ""}))
    assert item not in unliked.session.liked and unliked.session.feedback[-1].value == "retract"
    disliked = ui.like(unliked, gr.LikeData(None, {"index": index, "value": ["x"], "liked": False}))
    assert item in disliked.session.disliked
    same = ui.like(disliked, gr.LikeData(None, {"index": 0, "value": ["hi"], "liked": True}))  # the user's own message
    assert same is disliked


def test_why_gives_facts_and_word_weights(ui):
    state, *_ = ui.send("something scary from the 80s", UIState(), [], "", "laptop", "now")
    shown = ui.why(state, state.cards[0].item_id)
    assert shown.why.item_id == state.cards[0].item_id and shown.why_weights
    assert {w for w, _ in shown.why_weights} <= {"something", "scary", "from", "the", "80s"}


def test_user_picker_and_reset(ui):
    state, _, _, warning = ui.send("a movie", UIState(), [], "999", "laptop", "now")
    assert warning and "999" in warning and state.session.user_id is None
    state, *_ = ui.send("a movie", UIState(), [], "1", "laptop", "now")
    assert state.session.user_id == 1
    assert "User 1" in ui.user_info("1") and "999" in ui.user_info("999")
    fresh, history, _box = ui.reset("")
    assert fresh.cards == [] and history == [] and fresh.session.user_id is None


def test_recommend_api_shape(ui):
    data = ui.recommend_api("something scary")
    assert set(data) == {"reply", "items", "notices"} and data["items"][0]["genres"]


def test_send_streams_the_reply(ui):
    """The person's words and a typing mark at once, then the reply (rules only: no background step)."""
    steps = list(ui.send_stream("something scary from the 80s", UIState(), [], "", "laptop", "now"))
    assert steps[0][1][-1]["content"] == "…" and steps[0][1][0]["content"] == "something scary from the 80s"
    assert len(steps) == 2 and steps[-1][0].cards and not steps[0][0].cards
    assert list(ui.send_stream("  ", UIState(), [], "", "laptop", "now"))[-1][3] == messages.EMPTY


def test_status_line_follows_a_model_that_joins_after_start(ui):
    """First start: the chat serves while the model is fetched; each page load then shows the current status."""
    late = ChatUI(ui.agent, "local: being fetched (first start)", ready_status="local (Qwen2.5-Coder 0.5B)")
    assert "being fetched" in late.status_line()
    late.agent.llm = object()
    try:
        assert late.status_line() == "**Language model:** local (Qwen2.5-Coder 0.5B)"
    finally:
        late.agent.llm = None
