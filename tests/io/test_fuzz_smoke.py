"""A short fixed-seed run of the input fuzzer (benchmarks/fuzz_input.py): no crash, hang or memory blow-up."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from spinedetect.io import InputLimits
from tests.conftest import REPO, SHARED_DATA


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_input", REPO / "benchmarks" / "fuzz_input.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_input"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("fuzz_input", None)


@pytest.fixture(scope="module")
def corpus(fuzz, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "corpus"
    fuzz.build_corpus(folder, shared=SHARED_DATA if SHARED_DATA.is_dir() else None)
    return folder


def test_200_mutated_inputs_give_only_documented_outcomes(tmp_path, fuzz, corpus):
    seeds = fuzz.load_corpus(corpus)
    assert {s.name for s in seeds} >= {"phantom-mr", "phantom-ct"}
    limits = InputLimits(max_voxels=2**22)
    counts: dict[str, int] = {}
    failures = []
    for index in range(200):
        result, item = fuzz.fuzz_one(seeds, 0, index, tmp_path / "work", limits, time_limit=10.0)
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        if result.outcome in fuzz.FAILURES:
            failures.append((index, result.outcome, item.seed_series, item.mutations, result.detail[-800:]))
    assert not failures, failures
    # the mutations reach every stage: some inputs load, some are refused, some files are skipped
    assert counts.get("ok", 0) > 10 and counts.get("error", 0) > 10 and counts.get("skipped", 0) > 10, counts


def test_inputs_are_deterministic(fuzz, corpus):
    seeds = fuzz.load_corpus(corpus)
    first = [fuzz.make_input(seeds, 3, i) for i in range(20)]
    again = [fuzz.make_input(fuzz.load_corpus(corpus), 3, i) for i in range(20)]
    assert [(a.mutations, a.files) for a in first] == [(b.mutations, b.files) for b in again]
    assert len({tuple(a.mutations) for a in first}) > 15  # and different from one index to the next
