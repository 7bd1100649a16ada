"""Benchmarks are not run by the suite (they are slow and measure, not check), but they must
keep importing: a module moved in bot/ once broke bench_startup without anyone noticing."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks")
                    .glob("bench_*.py"))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main", None)), f"benchmarks/{name}.py has no main()"


def test_the_machine_figures_beside_every_benchmark() -> None:
    from benchmarks.machine import machine_text, reference_ms

    assert reference_ms(rounds=5) > 0
    assert machine_text().startswith("load ") and "reference" in machine_text()
