"""The retrieval scenario of benchmarks/compare_clip_benchmark.py runs both harnesses on the same
generated shards (five captions per image) and they agree on every recall."""

from __future__ import annotations

from benchmarks.compare_clip_benchmark import parse_args, scenario_retrieval
from benchmarks.synthetic import make_retrieval_shards
from cnclip_eval.data.retrieval_shards import read_retrieval_shards
from cnclip_eval.data.sources import LocalSource


def test_generated_retrieval_shards_have_five_varied_captions_per_image(tmp_path):
    split = read_retrieval_shards(
        LocalSource(make_retrieval_shards(tmp_path / "r", 12, num_shards=3)), "test"
    )
    assert len(split.image_ids) == 12 and len(split.texts) == 60
    assert len({len(text) for text in split.texts}) > 5  # lengths vary: pad-trimming has work to do


def test_the_retrieval_scenario_agrees_with_clip_benchmark(tiny_model, tmp_path):
    args = parse_args(["--retrieval-images", "24", "--repeats", "1", "--workers", "0", "--batch-size", "8"])
    row = scenario_retrieval(tiny_model, args, tmp_path)
    assert row["clip_benchmark_s"] > 0 and row["ours_s"] > 0
    difference = float(row["check"].split("= ")[1].split()[0])
    assert difference < 1e-6, row["check"]
