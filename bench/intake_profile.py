"""Where the intake's CPU goes, component by component, against aiogram's floor for the same conversation.

Run: ``python -m bench.intake_profile [--residents 50] [--complaints 8] [--staff 2] [--rate 250]
[--pg-url URL] [--redis-url URL] [--keep DIR]``

On PostgreSQL + Redis, the bot's measured run of ``bench.intake_bench`` and then the conversation
floor's (``--floor`` there: the same Bot API calls, aiogram's Redis storage, no database) are
sampled by py-spy, attached to this process for the measured run only (not the start, the seeding
or the warm-up) and sampling only while the interpreter lock is held (``--gil``: CPU, not waiting
on the network). Every sample of the event loop is put in one component by the frames on its stack:

- the first of these anywhere on the stack: *Bot API calls* (``Bot.__call__``: the request, its
  middlewares, the answer's validation; a delivery's sends too), *filing* (``file_complaint``: the
  submit's use case with its SQL), *delivery worker* (claim, render, mark sent), *update journal*;
- else the innermost frame that is one of: *conversation store* (``bot/storage.py``, aiogram's
  ``fsm``), *aiogram dispatch* (routers, observers, filters), *own code* (handlers, middlewares,
  use cases other than the filing, rendering, with their SQL; the floor's handlers), *polling*;
- else *event loop and other* (asyncio itself, sockets, timers); a sample without any Python frame
  (the lock held in C: greenlet switches, the garbage collector) is *no Python frame*.

SQLAlchemy's asyncio layer runs the synchronous part of every statement (the ORM's session and
unit of work, compiling, result rows, the asyncpg adapter) in a greenlet whose stack py-spy sees
without its caller: those samples are *SQLAlchemy (greenlets)*, whoever called (the filing, the
delivery worker, the handlers' reads); the other components hold their callers' awaiting side.

Printed: CPU ms per update of each component for the bot and the floor and the difference, so the
gap between them is split where it is paid; then the bot's work outside the database path (the
filing, the statements' greenlets, the delivery worker, the samples without a Python frame) as a
share of its process CPU per update: what the bot would spend if its database cost nothing, a lower
bound for any rewrite of the data path. Samples of other threads are counted apart. Needs py-spy
(installed with the dev extra) and leave to trace this process (root, or ptrace allowed). Figures
only; nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from bench import intake_bench

# What a bot whose database cost nothing would not spend: the filing (its SQL's awaiting side with
# its own code), every statement's synchronous part, the delivery worker (claim, render, marks) and
# the samples without a Python frame (mostly the greenlet switches around statements; the collector
# too, so the rest is a lower bound).
DATABASE_PATH = ("filing", "SQLAlchemy (greenlets)", "delivery worker", "no Python frame")

COMPONENTS = ("Bot API calls", "filing", "SQLAlchemy (greenlets)", "delivery worker", "update journal",
              "conversation store", "aiogram dispatch", "own code", "polling", "event loop and other",
              "no Python frame")

# Anywhere on the stack, in this order.
_ANYWHERE = (
    ("Bot API calls", lambda f: f.startswith("Bot.__call__ ") and "aiogram/client/bot.py" in f),
    ("filing", lambda f: f.startswith("file_complaint ") and "services/filing.py" in f),
    ("delivery worker", lambda f: f.startswith("DeliveryWorker.")),
    ("update journal", lambda f: "bot/journal.py" in f or f.startswith("BatchPoller._write_journal")),
)


_OWN = ("handlers/", "services/", "models/", "bot/")


def _innermost(frame: str) -> str | None:
    """The component a frame stands for when it is the innermost one that stands for any."""
    if "bot/storage.py" in frame or "aiogram/fsm/" in frame:
        return "conversation store"
    if ("aiogram/dispatcher/router.py" in frame or "aiogram/dispatcher/event/" in frame
            or "aiogram/filters/" in frame or "magic_filter/" in frame or "handlers/declare.py" in frame
            or ("aiogram/dispatcher/dispatcher.py" in frame and "_listen_update" in frame)):
        return "aiogram dispatch"
    if "bot/polling.py" in frame or frame.startswith(("Dispatcher._listen_updates ", "Dispatcher._polling ")):
        return "polling"
    if "bot/loop.py" in frame:  # the event loop's runner, under every sample
        return None
    if any(f"({folder}" in frame or f"/{folder}" in frame for folder in _OWN) or "bench_floor.<locals>" in frame:
        return "own code"
    return None


def component(frames: list[str]) -> str | None:
    """The component of one sample (frames from the outermost to the innermost, as py-spy writes
    them: ``function (file:line)``); None for a sample of another thread."""
    if not any(frames):
        return "no Python frame"  # the lock held in C: greenlet switches, the collector
    if not any(frame.startswith(("Handle._run ", "BaseEventLoop._run_once ")) for frame in frames):
        # SQLAlchemy's asyncio layer runs the ORM's and Core's synchronous work in a greenlet of its
        # own: py-spy sees that stack from the greenlet's first frame, without the caller's.
        if "sqlalchemy/" in frames[0] or "sqlmodel/" in frames[0]:
            return "SQLAlchemy (greenlets)"
        return None
    for name, matches in _ANYWHERE:
        if any(matches(frame) for frame in frames):
            return name
    for frame in reversed(frames):
        found = _innermost(frame)
        if found is not None:
            return found
    return "event loop and other"


def tally(lines: Iterable[str]) -> tuple[collections.Counter, int]:
    """Samples per component from py-spy's raw output (``stack count`` per line), and the samples of
    other threads."""
    counts: collections.Counter = collections.Counter()
    elsewhere = 0
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")  # a sample without Python frames: " 12"
        found = component(stack.split(";"))
        if found is None:
            elsewhere += int(count)
        else:
            counts[found] += int(count)
    return counts, elsewhere


def per_update(counts: collections.Counter, *, rate: int, updates: int) -> dict[str, float]:
    """CPU ms per update of each component (a sample stands for 1/rate s of CPU)."""
    return {name: 1000 * counts.get(name, 0) / rate / updates for name in COMPONENTS}


def without_database(ms: dict[str, float], process_cpu_ms: float) -> tuple[float, float]:
    """The sampled CPU ms per update outside :data:`DATABASE_PATH`, and that share of the process's
    measured CPU per update (sampling counts the interpreter lock's time, not the process's)."""
    sampled_total = sum(ms.values())
    rest = sampled_total - sum(ms[name] for name in DATABASE_PATH)
    return rest, (process_cpu_ms * rest / sampled_total if sampled_total else 0.0)


@contextlib.asynccontextmanager
async def sampled(py_spy: str, output: Path, rate: int):
    """py-spy attached to this process while the block runs (raw stacks into ``output``)."""
    spy = await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(os.getpid()), "--gil", "--rate", str(rate),
        "--format", "raw", "--output", str(output),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    said = b""
    try:
        async with asyncio.timeout(30):
            while b"Sampling" not in said:  # py-spy says so once attached
                line = await spy.stdout.readline()
                if not line:
                    error = (await spy.stderr.read()).decode(errors="replace").strip().splitlines()
                    raise SystemExit(f"py-spy could not attach: {error[0] if error else said.decode().strip()}")
                said += line
        yield
    finally:
        if spy.returncode is None:
            spy.send_signal(signal.SIGINT)
        await spy.wait()


def py_spy_path() -> str:
    """py-spy on the PATH or beside this interpreter (the venv's), else a clear exit."""
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is needed: pip install py-spy (it comes with the dev extra)")
    return found


async def main(args) -> None:
    from services.classify import get_classifier

    logging.basicConfig(level=logging.CRITICAL)
    py_spy = py_spy_path()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="intake-profile-"))
    folder.mkdir(parents=True, exist_ok=True)
    classifier = get_classifier()
    classifier.classify("电梯坏了")
    await intake_bench._fresh_postgres(args.pg_url)
    await intake_bench._flush_redis(args.redis_url)
    print(f"intake profile: {args.residents} residents × {args.complaints} complaints on PostgreSQL + Redis, "
          f"--staff {args.staff}; py-spy --gil at {args.rate} Hz over each measured run", flush=True)
    runs, cpu = {}, {}
    for who in ("bot", "floor"):
        output = folder / f"{who}.txt"
        args.around_measured = lambda output=output: sampled(py_spy, output, args.rate)
        if who == "bot":
            result = await intake_bench.bench_bot(args.pg_url, args.redis_url, args, classifier)
        else:
            await intake_bench._flush_redis(args.redis_url)
            result = await intake_bench.bench_floor(args, args.redis_url)
        counts, elsewhere = tally(output.read_text().splitlines())
        runs[who] = per_update(counts, rate=args.rate, updates=result["updates"])
        cpu[who] = intake_bench._cpu_ms(result)
        print(f"  {who}: {result['updates']} updates, {sum(counts.values())} samples "
              f"({elsewhere} of other threads), process CPU {cpu[who]:.2f} ms per update",
              flush=True)
    bot, floor = runs["bot"], runs["floor"]
    print(f"\n{'CPU ms per update':28} {'bot':>7} {'floor':>7} {'bot − floor':>12}")
    for name in COMPONENTS:
        print(f"{name:28} {bot[name]:7.2f} {floor[name]:7.2f} {bot[name] - floor[name]:+12.2f}")
    total_bot, total_floor = sum(bot.values()), sum(floor.values())
    print(f"{'total (sampled)':28} {total_bot:7.2f} {total_floor:7.2f} {total_bot - total_floor:+12.2f}")
    rest, rest_cpu = without_database(bot, cpu["bot"])
    print(f"{'without the database path':28} {rest:7.2f} {total_floor:7.2f} {rest - total_floor:+12.2f}")
    print(f"\nThe bot's work outside the database path ({', '.join(DATABASE_PATH)}): {rest:.2f} of "
          f"{total_bot:.2f} sampled ms per update, ≈ {rest_cpu:.2f} of its {cpu['bot']:.2f} process CPU ms per "
          f"update — what it would spend if its database cost nothing; the floor spends {cpu['floor']:.2f}.")
    if args.keep:
        print(f"\nraw stacks kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=50)
    parser.add_argument("--complaints", type=int, default=8, help="per resident (more samples than the bench's 4)")
    parser.add_argument("--staff", type=int, default=2, help="staff members per team (their cards are sent)")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--pg-url", default=intake_bench.DEFAULT_PG, help="dropped and recreated")
    parser.add_argument("--redis-url", default=intake_bench.DEFAULT_REDIS, help="flushed")
    parser.add_argument("--keep", help="keep py-spy's raw stacks (bot.txt, floor.txt) in this folder")
    ours = parser.parse_args(argv)
    # intake_bench's own options for the same runs (its defaults for the rest)
    args = intake_bench.parse_args(["--residents", str(ours.residents), "--complaints", str(ours.complaints),
                                    "--staff", str(ours.staff), "--pg-url", ours.pg_url,
                                    "--redis-url", ours.redis_url, "--backends", "redis"])
    args.rate, args.keep = ours.rate, ours.keep
    return args


if __name__ == "__main__":
    from bot.loop import run

    arguments = parse_args()
    run(main(arguments), loop=arguments.loop)  # the bot's loop, as `python -m bot` runs it
