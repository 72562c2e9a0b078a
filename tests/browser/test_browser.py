"""The app served on 127.0.0.1: the named /recommend endpoint through gradio_client, and a real browser
(Debian's Chromium driven by Playwright) typing a request, 👎-ing a card, and opening "Why?"."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import chromium_page

from chat_rec.config import AgentConfig
from chat_rec.evaluation.load import free_port
from chat_rec.ui.app import build_app

pytestmark = [pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def server(served_agent):
    # the served chat (``build_agent``: the packaged fitted weights, and the re-ranker when they weight it)
    agent = served_agent(AgentConfig(k=5))
    assert agent.rec.fusion.fitted and agent.reranker_notice is None
    agent.rec.encoder.encode(["warm up"])
    demo = build_app(agent, "none (built-in rules)")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=False, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_recommend_endpoint_with_gradio_client(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    data = client.predict("something scary from the 80s, but not too gory", api_name="/recommend")
    assert set(data) == {"reply", "items", "notices"} and len(data["items"]) == 5
    assert all("Horror" in i["genres"] and 1980 <= i["year"] <= 1989 for i in data["items"])


def test_browser_chat_thumbs_down_and_why(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        start = time.perf_counter()
        page.goto(server)
        page.locator("#msg textarea").fill("something scary from the 80s, but not too gory")
        page.locator("#send").click()
        page.locator("#card-5").wait_for(timeout=60_000)
        first_card = time.perf_counter() - start
        (ARTIFACTS / "first_card_seconds.txt").write_text(f"{first_card:.2f}\n")
        assert "Horror" in page.locator("#card-1").inner_text()
        assert page.locator("#chat").inner_text().count("Horror") >= 5
        before = page.locator("#card-2").inner_text()
        page.locator("#down-2").click()
        page.wait_for_function(
            "t => document.querySelector('#card-2') && document.querySelector('#card-2').innerText !== t",
            arg=before,
            timeout=30_000,
        )
        assert before.split("\n")[0].split(". ", 1)[1] not in page.locator(".card-text").all_inner_texts().__str__()
        assert page.locator("#card-5").is_visible()  # a replacement keeps five cards
        page.locator("#why-1").click()
        page.locator("#why-chart").wait_for(timeout=30_000)
        assert "Why" in page.locator("#why-facts").inner_text()
        # the packaged fusion does not weight the re-ranker (its checkpoint is not shipped): occlusion
        assert "occlusion on the semantic score" in page.locator("#why-method").inner_text()
        time.sleep(1.0)  # let the chart draw before the screenshot
        page.screenshot(path=str(ARTIFACTS / "browser_chat.png"), full_page=True)
        # a pick named by its place: "more like the second one" takes the second card as the reference
        second = page.locator("#card-2").inner_text().split("\n")[0].split(". ", 1)[1]
        named = second.rsplit(" (", 1)[0].split(" · ")[0]
        first = page.locator("#card-1").inner_text()
        page.locator("#msg textarea").fill("more like the second one")
        page.locator("#send").click()
        page.wait_for_function(
            "t => document.querySelector('#card-1') && document.querySelector('#card-1').innerText !== t",
            arg=first,
            timeout=60_000,
        )
        # the card it points at is the panel's (a 👎 made the panel the live list); it is not a pick itself, though
        # the picks' reasons may name it ("people who liked ... also liked it")
        titles = [t.strip().split("\n")[0] for t in page.locator(".card-text").all_inner_texts()]
        assert not any(named in t for t in titles), titles
        assert page.locator("#chat").inner_text().count(named) >= 2, named  # its card, then "close to ..."
        page.screenshot(path=str(ARTIFACTS / "browser_more_like.png"), full_page=True)
