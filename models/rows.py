"""New rows of table models built without SQLModel's per-field path, for the hot write paths.

``Complaint(**values)`` on a table model sets every one of its fields through ``setattr``:
SQLModel's ``__setattr__`` asks whether the class is a table and the field instrumented, hands
the value to SQLAlchemy's instrumentation and then to pydantic's ``__setattr__`` — some 5 µs a
field, 50 µs for an audit event and 0.4 ms for a 64-column ticket, on every filing. Table models
are not validated on construction anyway (SQLModel skips validation for ``table=True``), so
:func:`new_row` builds the same object the way SQLAlchemy builds a loaded one: a fresh instance
with its state, the values and the field defaults written to its ``__dict__`` once. The object is
pending as usual once added to a session: an INSERT takes its values from that dictionary, and
later assignments are tracked as usual.

Only for tables without relationships, ``init`` event listeners of their own or mutable-tracking
column types (SQLAlchemy's ``Mutable``), whose events this skips; :func:`new_row` refuses a class
with relationships or with ``init`` listeners besides the mapper's (which only makes sure the
mappers are configured: done here once per class).
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.exc import UnmappedClassError
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import SQLModel

Row = TypeVar("Row", bound=SQLModel)


@cache
def _plan(cls: type[SQLModel]) -> tuple[Any, dict[str, Any], tuple[tuple[str, Any], ...]]:
    """The class's SQLAlchemy manager, its constant defaults and its default factories."""
    try:
        manager = manager_of_class(cls)
    except UnmappedClassError:
        manager = None
    if manager is None:
        raise TypeError(f"{cls.__name__} is not a table model")
    own_listeners = [f for f in manager.dispatch.init if getattr(f, "__name__", "") != "_event_on_init"]
    if cls.__sqlmodel_relationships__ or own_listeners or manager.dispatch.init_failure:
        raise TypeError(f"{cls.__name__} has relationships or init listeners: build it with {cls.__name__}(...)")
    configure_mappers()  # what the mapper's own init listener would make sure of
    constants: dict[str, Any] = {}
    factories: list[tuple[str, Any]] = []
    for name, field in cls.model_fields.items():
        if field.default_factory is not None:
            factories.append((name, field.default_factory))
        elif field.default is not PydanticUndefined:
            constants[name] = field.default
    return manager, constants, tuple(factories)


def new_row(cls: type[Row], **values: Any) -> Row:
    """``cls(**values)`` for a table model (see the module docstring): same object, same defaults."""
    manager, constants, factories = _plan(cls)
    unknown = values.keys() - cls.model_fields.keys()
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    row = manager.new_instance()
    fields = {**constants, **{name: factory() for name, factory in factories if name not in values}, **values}
    row.__dict__.update(fields)
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    return row
