"""`python -m bench [--n 200 --concurrency 32 --skip-10k ...]`: run the benchmark and print it."""

from __future__ import annotations

import asyncio
import gc
import signal

from bench.config import BenchSettings
from bench.run import run


async def _until_stopped(settings: BenchSettings) -> None:
    # SIGTERM, and SIGINT even where a shell started us in the background with it ignored, cancel
    # the run, so that every process of the stack is stopped on the way out.
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    await run(settings)


def main() -> None:
    """Read the settings from flags and BENCH_* variables, then run."""
    settings = BenchSettings(_cli_parse_args=True, _cli_kebab_case=True, _cli_implicit_flags=True)
    try:
        asyncio.run(_until_stopped(settings))
    except asyncio.CancelledError:
        raise SystemExit("stopped") from None
    finally:
        gc.collect()  # sdk-python#300


if __name__ == "__main__":
    main()
