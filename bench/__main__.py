"""`python -m bench [--n 200 --concurrency 32 --skip-10k ...]`: run the benchmark and print it."""

from __future__ import annotations

import asyncio
import gc

from bench.config import BenchSettings
from bench.run import run


def main() -> None:
    """Read the settings from flags and BENCH_* variables, then run."""
    settings = BenchSettings(_cli_parse_args=True, _cli_kebab_case=True, _cli_implicit_flags=True)
    asyncio.run(run(settings))
    gc.collect()  # sdk-python#300


if __name__ == "__main__":
    main()
