"""Routers' gates: a router is passed over in one check only by updates none of its handlers takes."""

from __future__ import annotations

from datetime import datetime

from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Chat, Message, User

from bot.buttons import IntakeCb, StaffCb
from handlers import routers
from handlers.declare import CallbackOf, CommandOrState, InlineFilter
from handlers.procedure import ProcedureFlow
from handlers.staff import StaffFlow

USER = User(id=7, is_bot=False, first_name="王")


def message(text: str | None = None, caption: str | None = None) -> Message:
    return Message(message_id=1, date=datetime(2026, 11, 26, 9, 0), chat=Chat(id=7, type="private"),
                   from_user=USER, text=text, caption=caption)


def gate_of(observer, kind):
    gates = [f.callback for f in observer._handler.filters or [] if isinstance(f.callback, kind)]
    return gates[0] if gates else None


class TestGatesCoverTheirHandlers:
    def test_the_staff_routers_are_gated(self):
        gated = {router.name for router in routers() if gate_of(router.message, CommandOrState)}
        assert gated == {"staff", "procedure", "majors", "reports"}
        gated = {router.name for router in routers() if gate_of(router.callback_query, CallbackOf)}
        assert gated == {"staff", "procedure", "majors"}

    def test_every_message_handler_behind_a_gate_needs_a_command_or_one_of_its_states(self):
        for router in routers():
            gate = gate_of(router.message, CommandOrState)
            if gate is None:
                continue
            for handler in router.message.handlers:
                checks = [f.callback for f in handler.filters or []]
                command = any(isinstance(check, Command) for check in checks)
                states = {check.check.state for check in checks
                          if isinstance(check, InlineFilter) and isinstance(check.check, State)}
                assert command or (states and states <= gate.states), (router.name, handler.callback.__name__)

    def test_every_button_handler_behind_a_gate_unpacks_one_of_its_kinds(self):
        for router in routers():
            gate = gate_of(router.callback_query, CallbackOf)
            if gate is None:
                continue
            for handler in router.callback_query.handlers:
                kinds = {f.callback.callback_data for f in handler.filters or []
                         if isinstance(f.callback, CallbackQueryFilter)}
                assert kinds and kinds <= set(gate.kinds), (router.name, handler.callback.__name__)


class TestGates:
    async def test_commands_pass_in_text_and_caption(self):
        gate = CommandOrState(StaffFlow)
        assert await gate(message("/mine"))
        assert await gate(message("/start abc"))
        assert await gate(message(caption="/note TS20261126-0001 换了灯泡"))

    async def test_other_text_passes_only_in_the_gates_states(self):
        gate = CommandOrState(StaffFlow)
        assert not await gate(message("3栋电梯坏了"))
        assert not await gate(message("3栋电梯坏了"), raw_state="Intake:description")
        assert not await gate(message("已修好"), raw_state=ProcedureFlow.cause_text.state)
        assert await gate(message("已修好"), raw_state=StaffFlow.resolve_note.state)
        assert not await gate(message())  # a sticker, a contact …

    async def test_buttons_pass_by_their_prefix(self):
        gate = CallbackOf(StaffCb)

        def query(data):
            return CallbackQuery(id="1", from_user=USER, chat_instance="c", data=data)

        assert await gate(query(StaffCb(action="acc", ticket=3).pack()))
        assert not await gate(query(IntakeCb(action="submit", draft="d").pack()))
        assert not await gate(query(None))
        assert not await gate(query("stx:1"))  # another prefix that merely starts alike
