"""Resident intake, step by step: description (+photos) → location → contact → confirm → submit."""

from __future__ import annotations

import secrets
from html import escape

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import IntakeCb, MenuCb
from bot.i18n import _, __
from bot.settings import Settings
from bot.texts import (allowance, category_label, contact_line, error_text, kind_label, reason_text,
                       severity_label, shorten)
from handlers.common import drop_intake, retire_buttons
from handlers.declare import Handlers
from handlers.states import Intake
from models.tables import ComplaintCreate, Resident
from models.types import Clock
from services import lifecycle
from services.classify import Classifier
from services.classify.result import Classification, KeywordHit
from services.domain import Category, Flag, Kind, Severity
from services.intake import IntakeError, normalize_phone, parse_typed_contact, validate_description, validate_location
from services.filing import Filing, MatterRules, file_complaint
from services.sla import SlaPolicy
from services.vocabulary import vocabulary

handlers = Handlers("intake")
handlers.message.filter(F.chat.type == "private")

NOT_COMMAND = ~F.text.startswith("/")
ANONYMOUS_WORDS = frozenset(vocabulary()["intake"]["anonymous"])


async def typed_anonymous(message: Message) -> bool:
    """"匿名" typed instead of pressing the button (words from the input vocabulary)."""
    return (message.text or "").strip().lower() in ANONYMOUS_WORDS


def contact_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_("btn_share_phone"), request_contact=True)],
            [KeyboardButton(text=_("btn_anonymous")), KeyboardButton(text=_("btn_cancel"))],
        ],
        resize_keyboard=True,
        input_field_placeholder=_("contact_placeholder"),
    )


def summary_keyboard(draft: str) -> InlineKeyboardMarkup:
    def button(text: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=IntakeCb(action=action, draft=draft).pack())

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(_("btn_submit"), "submit")],
            [
                button(_("btn_edit_description"), "desc"),
                button(_("btn_edit_location"), "loc"),
                button(_("btn_edit_contact"), "contact"),
            ],
            [button(_("btn_cancel"), "cancel")],
        ]
    )


async def begin(message: Message, state: FSMContext) -> str:
    """Open a fresh draft (dropping an unfinished one) and return its id."""
    if await state.get_state() is not None:
        await drop_intake(message, state)
        await message.answer(_("restarted"))
    draft = secrets.token_hex(4)
    await state.set_data({"draft": draft, "photos": []})
    return draft


# --- starting ---------------------------------------------------------------------------------


@handlers.message(Command("new"))
@handlers.message(F.text == __("btn_new"))
async def new_command(message: Message, state: FSMContext) -> None:
    """Start an intake from the command."""
    await begin(message, state)
    await state.set_state(Intake.description)
    await message.answer(_("ask_description"), reply_markup=ReplyKeyboardRemove())


@handlers.callback_query(MenuCb.filter(F.action == "new"))
async def new_button(query: CallbackQuery, state: FSMContext) -> None:
    """Start an intake from the menu button."""
    await query.answer()
    await begin(query.message, state)
    await state.set_state(Intake.description)
    await query.message.answer(_("ask_description"))


@handlers.message(StateFilter(None), F.text, NOT_COMMAND)
async def idle_text(message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident, classifier: Classifier) -> None:
    """A plain message while idle starts an intake with that text as the description."""
    await begin(message, state)
    await state.set_state(Intake.description)
    await take_description(message, state, settings, session, resident, classifier)


@handlers.message(StateFilter(None), F.photo)
async def idle_photo(message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident, classifier: Classifier) -> None:
    """A photo while idle starts an intake with it as evidence."""
    await begin(message, state)
    await state.set_state(Intake.description)
    await photo_in_description(message, state, settings, session, resident, classifier)


# --- description ------------------------------------------------------------------------------


async def add_photo(message: Message, state: FSMContext, settings: Settings) -> tuple[int, bool]:
    """Keep the largest size of a photo; returns (count, whether to acknowledge)."""
    data = await state.get_data()
    photos: list[str] = list(data.get("photos", []))
    limit = settings.intake.photos_max
    acknowledge = not message.media_group_id or message.media_group_id != data.get("media_group")
    if len(photos) >= limit:
        if acknowledge:
            await message.answer(_("photos_limit", limit=limit))
        await state.update_data(media_group=message.media_group_id)
        return len(photos), False
    photos.append(message.photo[-1].file_id)
    await state.update_data(photos=photos, media_group=message.media_group_id)
    return len(photos), acknowledge


@handlers.message(Intake.description, F.photo)
async def photo_in_description(message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident, classifier: Classifier) -> None:
    """Photos are evidence; a caption counts as the description."""
    count, acknowledge = await add_photo(message, state, settings)
    if message.caption and message.caption.strip():
        await take_description(message, state, settings, session, resident, classifier, text=message.caption)
    elif acknowledge:
        await message.answer(_("photo_needs_text", count=count))


@handlers.message(Intake.description, F.text, NOT_COMMAND)
async def take_description(
    message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident,
    classifier: Classifier, text: str | None = None,
) -> None:
    """Validate the description, then ask where (or go back to the summary when editing)."""
    try:
        description = validate_description(
            text if text is not None else message.text, max_length=settings.intake.description_max
        )
    except IntakeError as error:
        await message.answer(error_text(error))
        return
    await state.update_data(description=description)
    await next_step(message, state, settings, session, resident, classifier, after=Intake.description)


@handlers.message(Intake.description, NOT_COMMAND)
async def description_wrong_type(message: Message) -> None:
    """Stickers, voice, files … are not a description."""
    await message.answer(_("only_text_and_photos"))


# --- location ---------------------------------------------------------------------------------


@handlers.message(Intake.location, F.text, NOT_COMMAND)
async def take_location(message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident, classifier: Classifier) -> None:
    """Validate the location, then ask for contact."""
    try:
        location = validate_location(message.text, max_length=settings.intake.location_max)
    except IntakeError as error:
        await message.answer(error_text(error))
        return
    await state.update_data(location=location)
    await next_step(message, state, settings, session, resident, classifier, after=Intake.location)


@handlers.callback_query(IntakeCb.filter(F.action == "lastloc"))
async def last_location_button(
    query: CallbackQuery, callback_data: IntakeCb, state: FSMContext, settings: Settings,
    session: AsyncSession, resident: Resident, classifier: Classifier,
) -> None:
    """Reuse the location of the resident's previous ticket."""
    data = await state.get_data()
    if await state.get_state() != Intake.location.state or data.get("draft") != callback_data.draft:
        await query.answer(_("stale_button"), show_alert=True)
        return
    location = await lifecycle.last_location(session, resident)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await state.update_data(location=location)
    await query.message.answer(f"📍 {escape(location)}")
    await next_step(query.message, state, settings, session, resident, classifier, after=Intake.location)


@handlers.message(Intake.location, F.photo)
@handlers.message(Intake.contact, F.photo)
async def late_photo(message: Message, state: FSMContext, settings: Settings) -> None:
    """Photos sent after the description (e.g. the rest of an album) are still kept."""
    count, acknowledge = await add_photo(message, state, settings)
    if acknowledge:
        await message.answer(_("photo_added", count=count))


@handlers.message(Intake.location, NOT_COMMAND)
async def location_wrong_type(message: Message) -> None:
    """Only text describes a place."""
    await message.answer(_("location_text_only"))


# --- contact ----------------------------------------------------------------------------------


@handlers.message(Intake.contact, F.contact)
async def take_shared_contact(message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident, classifier: Classifier) -> None:
    """The share-my-phone button: accept only the sender's own contact."""
    contact = message.contact
    if contact.user_id != message.from_user.id:
        await message.answer(_("contact_not_own"), reply_markup=contact_keyboard())
        return
    phone = normalize_phone(contact.phone_number)
    if phone is None:
        await message.answer(_("contact_foreign"), reply_markup=contact_keyboard())
        return
    name = " ".join(filter(None, [contact.first_name, contact.last_name])) or None
    await save_contact(message, state, settings, session, resident, classifier, phone=phone, name=name)


@handlers.message(Intake.contact, F.text == __("btn_anonymous"))
@handlers.message(Intake.contact, F.text, typed_anonymous)
async def take_anonymous(message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident, classifier: Classifier) -> None:
    """Anonymous: no contact kept, so no callback later."""
    await state.update_data(anonymous=True, contact_phone=None, contact_name=None)
    await message.answer(_("contact_anonymous"), reply_markup=ReplyKeyboardRemove())
    await next_step(message, state, settings, session, resident, classifier, after=Intake.contact)


@handlers.message(Intake.contact, F.text, NOT_COMMAND)
async def take_typed_contact(message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident, classifier: Classifier) -> None:
    """A typed phone, optionally with a name."""
    try:
        contact = parse_typed_contact(message.text, default_name=None)
    except IntakeError as error:
        await message.answer(error_text(error), reply_markup=contact_keyboard())
        return
    await save_contact(message, state, settings, session, resident, classifier, phone=contact.phone, name=contact.name)


@handlers.message(Intake.contact, NOT_COMMAND)
async def contact_wrong_type(message: Message) -> None:
    """Anything else at the contact step."""
    await message.answer(_("contact_expected"), reply_markup=contact_keyboard())


async def save_contact(
    message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident,
    classifier: Classifier, *, phone: str, name: str | None,
) -> None:
    await state.update_data(anonymous=False, contact_phone=phone, contact_name=name)
    shown = contact_line(anonymous=False, name=name, phone=phone)
    await message.answer(_("contact_saved", contact=shown), reply_markup=ReplyKeyboardRemove())
    await next_step(message, state, settings, session, resident, classifier, after=Intake.contact)


# --- summary and submit -----------------------------------------------------------------------


async def next_step(
    message: Message, state: FSMContext, settings: Settings, session: AsyncSession, resident: Resident,
    classifier: Classifier, *, after,
) -> None:
    """Go to the step after ``after``; when editing from the summary, go straight back to it."""
    data = await state.get_data()
    if data.get("editing") or after is Intake.contact:
        await show_summary(message, state, settings, classifier)
    elif after is Intake.description:
        await state.set_state(Intake.location)
        await send_location_prompt(message, state, session, resident)
    else:
        await state.set_state(Intake.contact)
        await message.answer(_("ask_contact"), reply_markup=contact_keyboard())


async def send_location_prompt(message: Message, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    last = await lifecycle.last_location(session, resident)
    markup = None
    if last:
        draft = (await state.get_data())["draft"]
        label = _("btn_last_location", location=last if len(last) <= 30 else last[:29] + "…")
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=IntakeCb(action="lastloc", draft=draft).pack())]]
        )
    await message.answer(_("ask_location"), reply_markup=markup)


def keep_classification(classification: Classification, text: str) -> dict:
    """The classification of ``text`` as conversation data (JSON), so submit need not classify again."""
    return {
        "text": text,
        "category": classification.category.value,
        "kind": classification.kind.value,
        "severity": classification.severity.value,
        "confidence": classification.confidence,
        "keywords": [list(hit) for hit in classification.keywords],
        "flags": sorted(flag.value for flag in classification.flags),
        "runner_up": classification.runner_up.value if classification.runner_up is not None else None,
        "uncertain": classification.uncertain,
        "source": classification.source,
    }


def classification_of(data: dict, classifier: Classifier) -> Classification:
    """The classification the summary showed for this description, or a fresh one (the description was
    edited since, or the kept one cannot be read)."""
    kept = data.get("classification")
    if isinstance(kept, dict) and kept.get("text") == data["description"]:
        try:
            return Classification(
                category=Category(kept["category"]), kind=Kind(kept["kind"]), severity=Severity(kept["severity"]),
                confidence=float(kept["confidence"]),
                keywords=tuple(KeywordHit(*hit) for hit in kept["keywords"]),
                flags=frozenset(Flag(flag) for flag in kept["flags"]),
                runner_up=Category(kept["runner_up"]) if kept.get("runner_up") else None,
                uncertain=bool(kept["uncertain"]), source=kept["source"],
                labels=getattr(getattr(classifier, "lexicon", None), "labels", None),
            )
        except (KeyError, TypeError, ValueError):
            pass
    return classifier.classify(data["description"])


async def show_summary(message: Message, state: FSMContext, settings: Settings, classifier: Classifier) -> None:
    """Classify the draft (once per description: the result is kept for submit) and show it for confirmation."""
    data = await state.get_data()
    classification = classification_of(data, classifier)
    contact = contact_line(
        anonymous=bool(data.get("anonymous")), name=data.get("contact_name"), phone=data.get("contact_phone")
    )
    photos = len(data.get("photos", []))
    reason = reason_text(category=classification.category.value, severity=classification.severity.value,
                         flags=[f.value for f in classification.flags], keywords=classification.keywords)
    if classification.uncertain and classification.runner_up is not None:
        reason += _("reason.check", first=category_label(classification.category.value),
                    second=category_label(classification.runner_up.value))
    text = _("summary",
             description=escape(data["description"]),
             location=escape(data["location"]),
             contact=contact,
             photos=_("summary_photos", count=photos) if photos else "",
             category=category_label(classification.category.value),
             kind=kind_label(classification.kind.value),
             severity=severity_label(classification.severity.value),
             reason=shorten(reason, 300))
    old_summary = data.get("summary_message_id")
    if old_summary:  # an edited draft: retire the previous summary's buttons first
        await retire_buttons(message, old_summary)
    await state.set_state(Intake.confirm)
    sent = await message.answer(text, reply_markup=summary_keyboard(data["draft"]))
    await state.update_data(editing=False, summary_message_id=sent.message_id,
                            classification=keep_classification(classification, data["description"]))


@handlers.callback_query(IntakeCb.filter(F.action.in_({"desc", "loc", "contact"})))
async def edit_button(query: CallbackQuery, callback_data: IntakeCb, state: FSMContext) -> None:
    """Go back to one step from the summary."""
    data = await state.get_data()
    if await state.get_state() != Intake.confirm.state or data.get("draft") != callback_data.draft:
        await query.answer(_("stale_button"), show_alert=True)
        return
    await query.answer()
    await state.update_data(editing=True)
    if callback_data.action == "desc":
        await state.set_state(Intake.description)
        await query.message.answer(_("ask_description"))
    elif callback_data.action == "loc":
        await state.set_state(Intake.location)
        await query.message.answer(_("ask_location"))
    else:
        await state.set_state(Intake.contact)
        await query.message.answer(_("ask_contact"), reply_markup=contact_keyboard())


@handlers.callback_query(IntakeCb.filter(F.action == "submit"))
async def submit(
    query: CallbackQuery, callback_data: IntakeCb, state: FSMContext, settings: Settings,
    session: AsyncSession, resident: Resident, classifier: Classifier, sla: SlaPolicy,
    matter_rules: MatterRules, clock: Clock,
) -> None:
    """Store, route and ping in one use case, then tell the resident the number and deadlines."""
    data = await state.get_data()
    draft_key = f"{resident.telegram_id}:{callback_data.draft}"
    if await state.get_state() != Intake.confirm.state or data.get("draft") != callback_data.draft:
        existing = await lifecycle.get_by_draft_key(session, draft_key)
        answer = _("already_submitted", number=existing.number) if existing else _("stale_button")
        await query.answer(answer, show_alert=True)
        return
    classification = classification_of(data, classifier)
    complaint_data = ComplaintCreate(
        description=data["description"],
        location=data["location"],
        contact_name=None if data.get("anonymous") else data.get("contact_name"),
        contact_phone=None if data.get("anonymous") else data.get("contact_phone"),
        anonymous=bool(data.get("anonymous")),
        photos=list(data.get("photos", [])),
    )
    try:
        filing = await file_complaint(
            session, resident=resident, data=complaint_data, classification=classification, classifier=classifier,
            draft_key=draft_key, tz=settings.tz, sla=sla, rules=matter_rules,
            now=clock(),
        )
    except lifecycle.DuplicateSubmission as duplicate:
        # This draft is still open here, yet its ticket exists: the submission was stored and the
        # process stopped before the resident heard of it. Finish it: the receipt goes out now.
        filing = Filing(complaint=duplicate.complaint)
    complaint = filing.complaint
    await state.clear()
    await retire_buttons(query.message, query.message.message_id)
    if filing.merged:
        await query.answer(_("merged_short"))
        await query.message.answer(_("merged", number=complaint.number))
        return
    await query.answer(_("submitted_short"))
    await query.message.answer(
        _("submitted",
          number=complaint.number,
          category=category_label(complaint.category),
          severity=severity_label(complaint.severity),
          allowance=allowance(sla.for_severity(complaint.severity)),
          anonymous=_("submitted_anonymous") if complaint.anonymous else "")
    )


@handlers.message(Intake.confirm, NOT_COMMAND)
async def confirm_expects_buttons(message: Message) -> None:
    """At the summary, only its buttons move things on."""
    await message.answer(_("use_buttons"))
