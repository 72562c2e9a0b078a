"""Gradio Blocks layout and event wiring. Handlers live on ``ChatUI`` so tests call them in-process."""

from __future__ import annotations

import copy
import functools
import logging
from dataclasses import dataclass, field
from functools import partial

from chat_rec.agent import Agent
from chat_rec.session import Recommendation, Session
from chat_rec.ui import messages
from chat_rec.ui.render import card_markdown, influence_rows, md, reply_messages, user_summary, why_markdown

log = logging.getLogger(__name__)
DEVICES = ["phone", "laptop", "TV"]
TYPING = {"role": "assistant", "content": "…"}
INTERNAL_LINE = {"role": "assistant", "content": messages.INTERNAL}
#: how many turns run at once: ranking takes milliseconds of CPU, and the one local model has its own bounded
#: queue (``LLMGate``, CHATREC_LLM_QUEUE_WAIT) that turns wait in, so many sessions may be in a turn together
TURN_CONCURRENCY = 32
#: 👍/👎, "Why?" and the other short events
EVENT_CONCURRENCY = 16
#: seconds between refreshes of the side panel's language-model line (its health)
STATUS_EVERY = 5
TIMES = ["now", "weekday evening", "weekend afternoon", "weekend night", "late night"]


@dataclass
class UIState:
    """Per-browser-session state (Gradio copies it for each visitor)."""

    session: Session = field(default_factory=Session)
    cards: list[Recommendation] = field(default_factory=list)
    message_items: dict[int, object] = field(default_factory=dict)  # chat message index -> item id
    why: Recommendation | None = None
    why_weights: list[tuple[str, float]] = field(default_factory=list)
    why_method: str = ""
    last_message: str = ""
    stale: bool = False  # the cards are the previous request's while a new turn runs
    refining: bool = False  # the language model is still reading the message behind these cards
    note: str = ""  # what the last 👍/👎 needs the person to know (the feedback database is down / back)


class ChatUI:
    """``llm_status``: the side panel's "Language model" line; ``ready_status``: the line once a language model
    that was still being fetched at start has joined (each page load shows the current one)."""

    def __init__(self, agent: Agent, llm_status: str = "none", ready_status: str | None = None):
        self.agent, self.llm_status, self.ready_status = agent, llm_status, ready_status

    def status_line(self) -> str:
        """The side panel's line: the configured model and, when its backend fails, that it is unhealthy and when
        it is tried again (``LLMHealth``); refreshed every few seconds."""
        llm = self.agent.llm
        ready = self.ready_status is not None and llm is not None
        line = f"**Language model:** {self.ready_status if ready else self.llm_status}"
        health = getattr(llm, "health", None)
        if health is not None and not health.healthy:
            fallback = getattr(llm, "fallback", None)
            meanwhile = (
                f"the fallback model ({fallback.name}) answers meanwhile"
                if fallback is not None and fallback.health.ready()
                else "picks come from the built-in rules meanwhile"
            )
            line += f" — ⚠️ {health.status()}; {meanwhile}"
        return line

    # ------------------------------------------------------------------------- handlers (pure Python)
    def send(self, message: str, ui: UIState, history: list, user: str, device: str, time_of_day: str):
        """The whole turn at once (the last step of ``send_stream``). Returns (ui, history, textbox value,
        warning or None)."""
        warning, last = None, None
        for last in self.send_stream(message, ui, history, user, device, time_of_day):
            warning = warning or last[3]
        return last[0], last[1], last[2], warning

    def send_stream(self, message: str, ui: UIState, history: list, user: str, device: str, time_of_day: str):
        """A turn as it happens (``Agent.turn_stream``): the person's message and a typing mark at once, with
        the cards on screen marked as the previous request's; then the picks from the rules; then, if the
        language model refines them, the refined picks with a line saying what changed; a "why" answer the
        model writes streams token by token. Yields (ui, history, textbox value, warning or None)."""
        ui, history = copy.deepcopy(ui) if ui else UIState(), list(history or [])
        if not (message or "").strip():
            yield ui, history, "", messages.EMPTY
            return
        warning = self._set_user(ui, user)
        ui.session.context = {"device": device or "", "time": time_of_day or ""}
        ui.stale = bool(ui.cards)
        yield copy.deepcopy(ui), history + [{"role": "user", "content": md(message)}, TYPING], "", warning
        start, before, shown = len(history), copy.deepcopy(ui), False
        try:
            for reply in self.agent.turn_stream(message, ui.session):
                if reply.kind not in ("explain", "answer"):  # an answer about a pick keeps the picks on screen
                    ui.cards = list(reply.items)
                    ui.message_items = {start + 2 + i: r.item_id for i, r in enumerate(reply.items)}
                    ui.why, ui.why_weights = None, []
                    ui.last_message = message
                    ui.refining = bool(reply.pending)
                ui.stale = False
                shown = True
                yield copy.deepcopy(ui), history + reply_messages(message, reply), "", None
        except Exception:
            # logged with its traceback; the person sees one line and keeps the conversation as it was
            log.exception("turn failed for message %r", (message or "")[:200])
            if shown:  # the picks already reached the screen: keep them, add the line
                ui.refining, ui.stale = False, False
                yield copy.deepcopy(ui), history + reply_messages(message, reply) + [INTERNAL_LINE], "", None
            else:
                before.stale = False
                yield before, history + [{"role": "user", "content": md(message)}, INTERNAL_LINE], "", None

    def _set_user(self, ui: UIState, user: str) -> str | None:
        raw = (user or "").strip()
        wanted = (int(raw) if raw.isdigit() else raw) or None
        if wanted == ui.session.user_id:
            return None
        if wanted is not None and (self.agent.interactions is None or wanted not in self.agent.interactions.user_ids):
            return messages.UNKNOWN_USER.format(user=raw)
        ui.session = Session(user_id=wanted, context=ui.session.context)
        ui.cards, ui.message_items = [], {}
        return None

    def feedback(self, ui: UIState, item_id, value: str) -> UIState:
        """👍 reorders the remaining cards; 👎 removes the card and brings a replacement."""
        ui = self._record(ui, item_id, value)
        rest = [c.item_id for c in ui.cards if c.item_id != item_id]
        if value == "down":
            ui.cards = self.agent.reorder(ui.session, rest) + self.agent.more(ui.session, 1)
        elif value == "up":
            liked = [c for c in ui.cards if c.item_id == item_id]
            ui.cards = liked + self.agent.reorder(ui.session, rest)
        if value in ("up", "down") and ui.cards:
            # the panel is the live list: "the second one" and "I've seen the third one" now point at its cards
            ui.session.last_items = [c.item_id for c in ui.cards]
        if ui.why and ui.why.item_id == item_id and value == "down":
            ui.why, ui.why_weights = None, []
        return ui

    def like(self, ui: UIState, data) -> UIState:
        """A 👍/👎 on a pick's chat message (``gr.LikeData``; un-liking sends ``liked=''``: a retraction)."""
        item_id = ui.message_items.get(data.index[0] if isinstance(data.index, (list, tuple)) else data.index)
        if item_id is None:
            return ui
        value = (
            "retract" if data.liked in ("", None) else ("up" if data.liked is True or data.liked == "like" else "down")
        )
        return self._record(ui, item_id, value)

    def _record(self, ui: UIState, item_id, value: str) -> UIState:
        """A copy of ``ui`` with the event recorded; ``note`` says when the feedback database is down or back."""
        ui = copy.deepcopy(ui)
        said = self.agent.record_feedback(ui.session, item_id, value)
        cut = said.find("(the feedback database")
        ui.note = said[cut:].strip("() ") if cut >= 0 else ""
        return ui

    def feedback_api(self, ui: UIState, rank, value: str) -> tuple[UIState, dict]:
        """The ``/feedback`` endpoint: 👍 (``up``), 👎 (``down``) or ``retract`` on the session's card at ``rank``
        (1 = the first card on screen), as the card's buttons do. Returns the session's state and
        ``{"ok", "stored", "item", "message", "cards"}``: ``stored`` is true once the event (and every earlier
        one of this session) is durably in the feedback store: an acknowledged event."""
        ui = ui or UIState()
        try:
            n = int(rank)
        except (TypeError, ValueError):
            return ui, {"ok": False, "stored": False, "message": f"rank {rank!r} is not a number"}
        if value not in ("up", "down", "retract"):
            return ui, {"ok": False, "stored": False, "message": f"value {value!r}: use up, down or retract"}
        if not 1 <= n <= len(ui.cards):
            return ui, {"ok": False, "stored": False, "message": f"there is no card {n} on screen"}
        item_id = ui.cards[n - 1].item_id
        ui = self._record(ui, item_id, value) if value == "retract" else self.feedback(ui, item_id, value)
        message = ui.note or f"{value} recorded"
        return ui, {
            "ok": True,
            "stored": not ui.session.unsaved,
            "item": item_id,
            "user": ui.session.user_key,
            "message": message,
            "cards": [c.item_id for c in ui.cards],
        }

    def why(self, ui: UIState, item_id) -> UIState:
        ui = copy.deepcopy(ui)
        card = next((c for c in ui.cards if c.item_id == item_id), None)
        if card is None:
            return ui
        ui.why = card
        lime = self.agent.explain_words(ui.session, item_id)
        if lime is not None:  # LIME over the trained re-ranker's score
            ui.why_weights, ui.why_method = lime.weights, "LIME on the re-ranker score"
        else:  # no re-ranker: occlusion of words on the semantic score
            ui.why_weights = self.agent.word_influence(ui.last_message, item_id)
            ui.why_method = "occlusion on the semantic score"
        return ui

    def reset(self, user: str):
        ui = UIState()
        self._set_user(ui, user)
        return ui, [], ""

    def user_info(self, user: str) -> str:
        raw = (user or "").strip()
        uid = int(raw) if raw.isdigit() else raw
        if not raw or self.agent.interactions is None or uid not in self.agent.interactions.user_ids:
            return user_summary([], None if not raw else uid) if not raw else messages.UNKNOWN_USER.format(user=raw)
        rows, ratings = self.agent.interactions.history(uid)
        top = [self.agent.catalog.items[r].title for r in rows[ratings.argsort()[::-1][:5]]]
        return user_summary(top, uid)

    def recommend_api(self, message: str) -> dict:
        """The ``/recommend`` endpoint: one message in a fresh session -> ``{"reply", "items", "notices"}``."""
        return self.agent.turn(message or "", Session()).to_json()

    # ------------------------------------------------------------------------------------ layout
    def build(self):
        import gradio as gr
        import pandas as pd

        def stream(*args):
            for ui, history, text, warning in self.send_stream(*args):
                if warning:
                    gr.Warning(warning)
                yield ui, history, text

        def keep_ui(ui, *rest):
            return ui

        def on_card(fn):
            """A card's 👍/👎/Why?: guarded, and a note about the feedback database shown as a warning."""

            def handler(ui):
                out = fn(ui)
                if getattr(out, "note", ""):
                    gr.Warning(out.note)
                return out

            return guarded(handler, keep_ui, gr.Warning)

        with gr.Blocks(title="chat-rec") as demo:
            ui_state = gr.State(UIState())
            gr.Markdown("# 🎬 chat-rec\nTell me what you'd like to watch. Picks come with reasons; 👍/👎 teach me.")
            with gr.Row():
                with gr.Column(scale=3):
                    # one bubble per pick: each has its own 👍/👎 (grouped, the buttons would sit on the group)
                    chatbot = gr.Chatbot(
                        label="Conversation", height=420, elem_id="chat", group_consecutive_messages=False
                    )
                    with gr.Row():
                        box = gr.Textbox(
                            placeholder="e.g. something scary from the 80s, but not too gory",
                            show_label=False,
                            scale=5,
                            elem_id="msg",
                        )
                        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")

                    @gr.render(inputs=ui_state)
                    def cards(ui: UIState):
                        if not ui.cards:
                            return
                        if ui.stale:
                            gr.Markdown(
                                "### Earlier picks *(from your previous message: new picks are coming …)*",
                                elem_id="picks-head",
                            )
                        elif ui.refining:
                            gr.Markdown(
                                "### Picks *(the language model is still reading your message …)*",
                                elem_id="picks-head",
                            )
                        else:
                            gr.Markdown("### Picks", elem_id="picks-head")
                        for rank, rec in enumerate(ui.cards, 1):
                            with gr.Group(elem_classes="card stale" if ui.stale else "card"):
                                gr.Markdown(card_markdown(rank, rec), elem_id=f"card-{rank}", elem_classes="card-text")
                                with gr.Row():
                                    up = gr.Button("👍", size="sm", elem_id=f"up-{rank}")
                                    down = gr.Button("👎", size="sm", elem_id=f"down-{rank}")
                                    why = gr.Button("Why?", size="sm", elem_id=f"why-{rank}")
                            item = rec.item_id
                            up.click(on_card(partial(self.feedback, item_id=item, value="up")), ui_state, ui_state)
                            down.click(on_card(partial(self.feedback, item_id=item, value="down")), ui_state, ui_state)
                            why.click(on_card(partial(self.why, item_id=item)), ui_state, ui_state)
                        if ui.why is not None:
                            gr.Markdown(why_markdown(ui.why), elem_id="why-facts")
                            if ui.why_weights:
                                gr.Markdown(f"*Word weights: {ui.why_method}*", elem_id="why-method")
                                gr.BarPlot(
                                    pd.DataFrame(influence_rows(ui.why_weights)),
                                    x="word",
                                    y="influence",
                                    title=f"Request words behind this pick ({ui.why_method})",
                                    elem_id="why-chart",
                                    sort="-y",
                                )

                with gr.Column(scale=1):
                    user = gr.Textbox(
                        label="Who you are: a user id of the catalog's ratings, or blank for a new user"
                        if self.agent.interactions is not None
                        else "Who you are: this catalog has no user histories; leave blank",
                        elem_id="user",
                    )
                    user_md = gr.Markdown(user_summary([], None))
                    device = gr.Radio(DEVICES, value="laptop", label="Device")
                    when = gr.Dropdown(TIMES, value="now", label="Time")
                    status = gr.Markdown(self.status_line(), elem_id="llm-status")
                    if self.agent.catalog.text_source:
                        gr.Markdown(f"**Item texts:** {self.agent.catalog.text_source}", elem_id="text-source")
                    gr.Markdown(f"**Ranker:** {self.agent.ranker_source}", elem_id="ranker-source")
                    reset = gr.Button("Reset conversation", elem_id="reset")

            inputs = [box, ui_state, chatbot, user, device, when]
            turn = {"concurrency_limit": TURN_CONCURRENCY, "concurrency_id": "turn"}
            send.click(stream, inputs, [ui_state, chatbot, box], api_name="send", **turn)
            box.submit(stream, inputs, [ui_state, chatbot, box], **turn)

            def on_like(ui, data):
                out = self.like(ui, data)
                if out.note:
                    gr.Warning(out.note)
                return out

            # Real annotation objects (this module uses postponed annotations, which Gradio cannot read):
            # the LikeData type is how Gradio knows to pass the like event.
            on_like.__annotations__ = {"ui": UIState, "data": gr.LikeData}

            chatbot.like(guarded(on_like, keep_ui, gr.Warning), ui_state, ui_state)
            user.change(guarded(self.user_info, lambda user: messages.INTERNAL, gr.Warning), user, user_md)
            reset.click(
                guarded(self.reset, lambda user: (UIState(), [], ""), gr.Warning), user, [ui_state, chatbot, box]
            )
            api_in = gr.Textbox(visible=False)
            api_out = gr.JSON(visible=False)
            api_in.submit(
                guarded(self.recommend_api, lambda m: {"error": messages.INTERNAL}),
                api_in,
                api_out,
                api_name="recommend",
                **turn,
            )
            # /feedback: 👍/👎/retract on a card of this session by its rank (what the buttons do), for programs
            fb_rank, fb_value, fb_out = gr.Number(visible=False), gr.Textbox(visible=False), gr.JSON(visible=False)
            fb_rank.submit(
                guarded(
                    self.feedback_api, lambda ui, *_: (ui, {"ok": False, "stored": False, "error": messages.INTERNAL})
                ),
                [ui_state, fb_rank, fb_value],
                [ui_state, fb_out],
                api_name="feedback",
            )
            demo.load(self.status_line, None, status)
            gr.Timer(STATUS_EVERY).tick(self.status_line, None, status, queue=False, show_progress="hidden")
        demo.queue(default_concurrency_limit=EVENT_CONCURRENCY, max_size=256)
        return demo


def guarded(fn, fallback, warn=None):
    """``fn`` as an event handler that never shows a traceback: an exception is logged with its traceback, the
    person sees ``messages.INTERNAL`` once (``warn``, e.g. ``gr.Warning``) and the handler returns
    ``fallback(*args)`` (for state handlers: the state as it was, so nothing is lost)."""

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("handler %s failed", getattr(fn, "__name__", fn))
            if warn is not None:
                warn(messages.INTERNAL)
            return fallback(*args, **kwargs)

    return handler


def build_app(agent: Agent, llm_status: str = "none", ready_status: str | None = None):
    """The Gradio Blocks app over ``agent``."""
    return ChatUI(agent, llm_status, ready_status).build()
