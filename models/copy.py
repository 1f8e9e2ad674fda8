"""Copy every table from one database to another (e.g. SQLite → PostgreSQL when a compound grows
into a group): the target is migrated to the same schema, must be empty, and gets every row in
foreign-key order, in batches; PostgreSQL sequences are moved past the copied ids."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers the tables)
from models.db import create_engine, upgrade

BATCH = 2000


async def copy_database(source_url: str, target_url: str, *, progress: Callable[[str, int], None] | None = None,
                        batch: int = BATCH) -> dict[str, int]:
    """Rows copied per table. Refuses a target that already holds tickets or staff."""
    await upgrade(source_url)
    await upgrade(target_url)
    source, target = create_engine(source_url), create_engine(target_url)
    tables = SQLModel.metadata.sorted_tables  # parents before children
    copied: dict[str, int] = {}
    try:
        async with target.connect() as check:
            for name in ("complaint", "staff", "resident"):
                if (await check.execute(select(func.count()).select_from(SQLModel.metadata.tables[name]))).scalar():
                    raise ValueError(f"the target database already has rows in {name}: copy into an empty one")
        async with source.connect() as reading, target.begin() as writing:
            for table in tables:
                await writing.execute(table.delete())  # seeded defaults (teams) make way for the originals
                copied[table.name] = 0
                result = await reading.stream(select(table))
                async for rows in result.partitions(batch):
                    await writing.execute(table.insert(), [dict(row._mapping) for row in rows])
                    copied[table.name] += len(rows)
                    if progress:
                        progress(table.name, copied[table.name])
            if writing.dialect.name == "postgresql":
                for table in tables:
                    if "id" in table.c and table.c.id.autoincrement in (True, "auto") and table.c.id.primary_key:
                        await writing.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
    finally:
        await source.dispose()
        await target.dispose()
    return copied
