"""The live hub in memory: who joins a channel (only once the page answered its own
credentials), who leaves (idempotently, the last one stopping it), what a refused or failed render
does, and where a frame says its content stands."""

from __future__ import annotations

import asyncio
import logging

import pytest

from api.live.hub import Hub, PageError
from tests.unit.live_fakes import Page, Runner, credentials

KEY = ("/jobs", "", "viewer")


@pytest.fixture
def runner() -> Runner:
    return Runner()


@pytest.fixture
def page(runner: Runner) -> Page:
    return Page(runner)


async def test_a_joiner_gets_a_frame_rendered_with_its_own_credentials(
    runner: Runner, page: Page
) -> None:
    hub = Hub(0.0)
    alice = await hub.join(KEY, runner, page.render, credentials("alice"))
    bob = await hub.join(KEY, runner, page.render, credentials("bob"))
    assert page.rendered_for == ["alice", "bob"]
    assert alice.channel is bob.channel
    frame = alice.channel.frame
    assert frame is not None
    assert frame.version == 1  # bob's render changed no panel
    assert frame.panels == {"p": '<section hx-swap-oob="true" id="p" class="panel">first</section>'}
    alice.leave()
    bob.leave()


async def test_a_joiner_the_page_refuses_gets_no_frame_and_leaves_no_trace(
    runner: Runner, page: Page
) -> None:
    hub = Hub(0.0)
    alice = await hub.join(KEY, runner, page.render, credentials("alice"))
    page.refused.add("mallory")
    with pytest.raises(PageError):
        await hub.join(KEY, runner, page.render, credentials("mallory"))
    assert list(alice.channel.members) == [alice.member]
    alice.leave()
    with pytest.raises(PageError):
        await hub.join(KEY, runner, page.render, credentials("mallory"))
    assert hub.channels == {}


async def test_a_failed_first_render_raises_and_leaves_no_channel(
    runner: Runner, page: Page
) -> None:
    hub = Hub(0.0)
    page.failing = RuntimeError("a bug")
    with pytest.raises(RuntimeError):
        await hub.join(KEY, runner, page.render, credentials("alice"))
    assert hub.channels == {}


async def test_leaving_twice_is_harmless_and_the_last_member_stops_the_channel(
    runner: Runner, page: Page
) -> None:
    hub = Hub(0.0)
    alice = await hub.join(KEY, runner, page.render, credentials("alice"))
    bob = await hub.join(KEY, runner, page.render, credentials("bob"))
    alice.leave()
    alice.leave()
    assert hub.channels == {KEY: bob.channel}
    bob.leave()
    assert hub.channels == {}
    again = await hub.join(KEY, runner, page.render, credentials("carol"))
    assert again.channel is not bob.channel
    bob.leave()  # a late call for a channel gone changes nothing on its successor
    assert hub.channels == {KEY: again.channel}
    again.leave()
    assert hub.channels == {}


async def test_a_change_renders_with_the_newest_member_and_ends_one_the_page_refuses(
    runner: Runner, page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    hub = Hub(0.0)
    alice = await hub.join(KEY, runner, page.render, credentials("alice"))
    bob = await hub.join(KEY, runner, page.render, credentials("bob"))
    channel = alice.channel
    woken = asyncio.create_task(channel.after(1, alice.member))
    bob_told = asyncio.create_task(channel.after(1, bob.member))
    page.refused.add("bob")
    page.text = "second"
    runner.advance()

    assert await bob_told is None
    frame = await woken
    assert frame is not None
    assert "second" in frame.panels["p"]
    assert page.rendered_for[-2:] == ["bob", "alice"]
    assert bob.member.ended
    assert list(channel.members) == [alice.member]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    bob.leave()
    alice.leave()
    assert hub.channels == {}


async def test_when_every_member_is_refused_all_are_ended_and_their_leaving_stops_it(
    runner: Runner, page: Page
) -> None:
    hub = Hub(0.0)
    alice = await hub.join(KEY, runner, page.render, credentials("alice"))
    bob = await hub.join(KEY, runner, page.render, credentials("bob"))
    page.refused |= {"alice", "bob"}
    runner.advance()
    for member in (alice.member, bob.member):
        assert await alice.channel.after(1, member) is None
    assert alice.channel.members == {}
    alice.leave()
    bob.leave()
    assert hub.channels == {}


async def test_a_frame_says_where_the_read_models_stood_before_and_after_its_render(
    runner: Runner, page: Page
) -> None:
    hub = Hub(0.0)
    runner.advance()
    page.during = runner.advance  # an event read while the page renders
    alice = await hub.join(KEY, runner, page.render, credentials("alice"))
    frame = alice.channel.frame
    assert frame is not None
    assert (frame.seq, frame.settled) == (1, 2)
    page.during = None
    await page.renders(2)  # the change read during the first render renders again
    assert alice.channel.frame is not None
    assert (alice.channel.frame.seq, alice.channel.frame.version) == (2, 1)
    alice.leave()


async def test_a_failed_later_render_keeps_the_last_frame_and_the_next_change_retries(
    runner: Runner, page: Page
) -> None:
    hub = Hub(0.0)
    alice = await hub.join(KEY, runner, page.render, credentials("alice"))
    channel = alice.channel
    page.failing = RuntimeError("a bug")
    runner.advance()
    await page.renders(2)
    assert channel.frame is not None
    assert channel.frame.version == 1
    assert not alice.member.ended
    page.failing = None
    page.text = "fixed"
    runner.advance()
    frame = await channel.after(1, alice.member)
    assert frame is not None
    assert "fixed" in frame.panels["p"]
    alice.leave()
