"""The bot's event loop choice and heap settling (bot/loop.py)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot import loop


def test_asyncio_by_default_uvloop_on_request(monkeypatch):
    monkeypatch.delenv(loop.ENV, raising=False)
    assert loop.loop_factory() is None
    assert loop.loop_factory("asyncio") is None
    uvloop = pytest.importorskip("uvloop")
    assert loop.loop_factory("uvloop") is uvloop.new_event_loop
    monkeypatch.setenv(loop.ENV, "uvloop")
    assert loop.loop_factory() is uvloop.new_event_loop
    with pytest.raises(ValueError, match="unknown event loop"):
        loop.loop_factory("twisted")


def test_falls_back_to_asyncio_without_uvloop(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_uvloop(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError("no uvloop here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert loop.loop_factory("uvloop") is None


@pytest.mark.parametrize("name", ["asyncio", "uvloop"])
def test_run_returns_the_result(name):
    if name == "uvloop":
        pytest.importorskip("uvloop")

    async def main():
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    module = loop.run(main(), loop=name)
    assert module.startswith("uvloop" if name == "uvloop" else "asyncio")


def test_settle_heap_freezes_and_sets_thresholds():
    before = gc.get_threshold()
    try:
        loop.settle_heap((12_345, 11, 13))
        assert gc.get_threshold() == (12_345, 11, 13)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
