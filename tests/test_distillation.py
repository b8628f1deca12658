"""`train.py --teacher`: the loss by hand, the teacher's logits cached and invalidated, the transfer set,
and a student pulled toward a tiny BERT teacher."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file, save_file

import train
from pipelines import distillation
from pipelines.cli import run_cli
from pipelines.distillation import cached_teacher_logits, make_transfer_set, run_teacher
from pipelines.errors import OptionError
from pipelines.inference import TorchSequenceClassifier, length_order
from pipelines.arguments import DistillationArguments
from pipelines.losses import sentiment_loss
from tests.tiny_bert import build_tiny_bert

LABELS = ["negative", "neutral", "positive"]


def biased_teacher(folder, labels, favourite: str, bias: float = 8.0):
    """A tiny BERT that says `favourite` for every sentence, by a large classifier bias."""
    build_tiny_bert(folder, labels)
    weights = load_file(folder / "model.safetensors")
    weights["classifier.bias"] = torch.tensor([bias if label == favourite else 0.0 for label in labels])
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.fixture
def counted_teacher(monkeypatch, tmp_path):
    """Counts labellings (`label_in_chunks` calls) and records the texts each is given; a private cache folder."""
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    calls = []
    labelling = distillation.label_in_chunks

    def counting(folder, texts, label_names, parts, progress=True):
        calls.append(list(texts))
        return labelling(folder, texts, label_names, parts, progress)

    monkeypatch.setattr(distillation, "label_in_chunks", counting)
    return calls


def test_mse_and_kl_terms_equal_hand_computations():
    logits = torch.tensor([[1.0, -1.0], [0.0, 2.0]])
    teacher = torch.tensor([[3.0, -1.0], [0.0, 0.0]])
    labels = torch.tensor([0, -100])  # the second row is a transfer-set row: teacher only
    ce = -(1.0 - math.log(math.exp(1.0) + math.exp(-1.0)))
    mse = ((1 - 3) ** 2 + 0 + 0 + (2 - 0) ** 2) / 2
    got = sentiment_loss(logits, labels, teacher, distillation=DistillationArguments(distillation_loss="mse", distillation_alpha=0.25))
    assert got.item() == pytest.approx(0.25 * ce + 0.75 * mse, rel=1e-6)

    temperature = 2.0
    def softmax(row):
        e = [math.exp(v / temperature) for v in row]
        return [v / sum(e) for v in e]
    kl = sum(
        sum(p * math.log(p / q) for p, q in zip(softmax(t), softmax(s))) for t, s in zip(teacher.tolist(), logits.tolist())
    ) / 2 * temperature**2
    got = sentiment_loss(logits, labels, teacher, distillation=DistillationArguments(distillation_loss="kl", distillation_alpha=0.0, distillation_temperature=temperature))
    assert got.item() == pytest.approx(kl, rel=1e-5)
    # A batch of transfer rows only has no gold term, and no NaN.
    only_teacher = sentiment_loss(logits, torch.tensor([-100, -100]), teacher, distillation=DistillationArguments(distillation_loss="mse", distillation_alpha=0.5))
    assert only_teacher.item() == pytest.approx(0.5 * mse)


def test_teacher_logits_are_cached_and_invalidated(tmp_path, counted_teacher, capsys):
    teacher = build_tiny_bert(tmp_path / "teacher", LABELS)
    texts = ["a wonderful film", "a dull mess", "it runs two hours"]
    first = cached_teacher_logits(str(teacher), texts, LABELS)
    again = cached_teacher_logits(str(teacher), texts, LABELS)
    assert len(counted_teacher) == 1 and np.array_equal(first, again) and first.shape == (3, 3)
    shown = capsys.readouterr()
    said = shown.out.splitlines()  # the user sees which run paid for the teacher
    assert said[0].startswith(f"teacher {teacher}: labelling 3 sentences") and said[1] == f"teacher {teacher}: chunk 1 of 1 labelled (3 of 3 sentences)"
    assert said[2].startswith(f"teacher {teacher}: its logits for 3 sentences read from the cache")
    assert "/3 [" in shown.err and "sent/s]" in shown.err, "the labelling shows a progress bar (left or cleared at its end: tqdm's leave=False)"

    cached_teacher_logits(str(teacher), [*texts, "pure joy !"], LABELS, progress=False)  # the data changed
    assert len(counted_teacher) == 2 and "sent/s]" not in capsys.readouterr().err, "no bar with --disable_tqdm"
    build_tiny_bert(teacher, LABELS, seed=1)  # the teacher changed: other weights, same folder
    changed = cached_teacher_logits(str(teacher), texts, LABELS)
    assert len(counted_teacher) == 3 and not np.allclose(changed, first)
    cached_teacher_logits(str(teacher), texts, LABELS)
    assert len(counted_teacher) == 3


SENTENCES = ["a wonderful , moving film", "pure joy !", "a dull , lifeless mess", "what a waste .", "it runs two hours",
             "tickets cost ten dollars", "i hated every minute of it", "great acting and a lovely story", "a dull mess", "fine",
             "i loved every minute of it"]  # 11: three chunks of 4 (the last short), ties in length ("a dull mess", "pure joy !"... )


class Killed(Exception):
    """The session ending in the middle of a labelling."""


def test_an_interrupted_labelling_resumes_from_its_chunks_and_gives_the_one_pass_logits(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(distillation, "TEACHER_BATCH_SIZE", 2)
    monkeypatch.setattr(distillation, "CHUNK_BATCHES", 2)  # chunks of 4 sentences
    teacher = str(build_tiny_bert(tmp_path / "teacher", LABELS))
    one_pass = run_teacher(teacher, SENTENCES, LABELS, progress=False)
    target = distillation.cache_file(teacher, SENTENCES, LABELS)
    parts = target.with_name(f"{target.name}.parts")

    saved, save = [], distillation.save_atomically
    def killed_at_the_second_chunk(path, array):
        if len(saved) == 1:
            raise Killed
        saved.append(path.name)
        save(path, array)
    monkeypatch.setattr(distillation, "save_atomically", killed_at_the_second_chunk)
    with pytest.raises(Killed):
        cached_teacher_logits(teacher, SENTENCES, LABELS, progress=False)
    assert not target.exists() and sorted(path.name for path in parts.glob("*.npy")) == saved == ["000000000-000000004.npy"]

    monkeypatch.setattr(distillation, "save_atomically", save)
    labelled, logits_of = [], TorchSequenceClassifier.logits
    monkeypatch.setattr(TorchSequenceClassifier, "logits", lambda self, texts, *a: labelled.extend(texts) or logits_of(self, texts, *a))
    capsys.readouterr()
    resumed = cached_teacher_logits(teacher, SENTENCES, LABELS, progress=False)
    assert f"resuming, 1 of 3 chunks already labelled in {parts}" in capsys.readouterr().out
    assert len(labelled) == 7 and sorted(labelled + [SENTENCES[i] for i in length_order(SENTENCES)[:4]]) == sorted(SENTENCES)
    assert resumed.dtype == np.float32 and np.array_equal(resumed, one_pass)  # bit for bit
    assert np.array_equal(np.load(target), one_pass) and not parts.exists()  # the chunks removed once the file is whole

    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "other-cache"))  # an uninterrupted chunked labelling
    assert np.array_equal(cached_teacher_logits(teacher, SENTENCES, LABELS, progress=False), one_pass)


def test_a_labelling_under_way_makes_other_workers_wait_for_its_file(tmp_path, monkeypatch, counted_teacher):
    import fcntl
    import threading

    teacher = str(build_tiny_bert(tmp_path / "teacher", LABELS))
    target = distillation.cache_file(teacher, SENTENCES, LABELS)
    target.parent.mkdir(parents=True)
    with open(target.parent / f".{target.name}.lock", "w") as held:  # another worker labelling
        fcntl.flock(held, fcntl.LOCK_EX)
        results = []
        waiting = threading.Thread(target=lambda: results.append(cached_teacher_logits(teacher, SENTENCES, LABELS, progress=False)))
        waiting.start()
        waiting.join(timeout=2)
        assert waiting.is_alive() and not results and not counted_teacher
        np.save(target, np.ones((len(SENTENCES), len(LABELS)), dtype=np.float32))  # its labelling ends
    waiting.join(timeout=60)
    assert not counted_teacher and np.array_equal(results[0], np.ones((len(SENTENCES), len(LABELS))))  # read, not labelled again


def test_the_labelling_command_fills_the_cache_the_grid_cells_read(tmp_path, tiny_semeval, tiny_glove, counted_teacher, capsys):
    from pipelines import experiments

    teacher = build_tiny_bert(tmp_path / "teacher", ["negative", "neutral", "positive"])
    options = ["--teacher", str(teacher), "--transfer_set_size", "100"]
    assert run_cli(distillation.main, ["--dataset", "semeval2017a", "--data_dir", str(tiny_semeval), *options, "--disable_tqdm"]) == 0
    (cached,) = (tmp_path / "cache" / "teacher_logits").glob("*.npy")
    assert f"400 sentences labelled in {cached}" in capsys.readouterr().out and len(counted_teacher) == 1
    runs = tmp_path / "runs"
    grid = ["--datasets", "semeval2017a", "--data_dir", str(tiny_semeval), "--embeddings", str(tiny_glove), "--models", "mean",
            "--seeds", "0,1", "--workers", "1", "--runs_dir", str(runs), "--num_train_epochs", "1", *options]
    assert run_cli(experiments.main, grid) == 0
    assert len(counted_teacher) == 1  # both student cells read the command's file: the same texts, the same key
    for seed in (0, 1):
        cell = runs / "semeval2017a-lab-frozen-distilled-teacher" / "mean" / f"seed-{seed}"
        assert f"read from the cache {cached}" in (cell / "train.log").read_text()
        assert json.loads((cell / "results.json").read_text())["distillation"]["transfer_sentences"] > 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "--teacher is required"),
        (["--teacher", "nowhere"], "--teacher nowhere: not a model folder with a config.json"),
        (["--teacher", ".", "--transfer_set_size", "-1"], "--transfer_set_size must be 0 or more, got -1"),
        (["--teacher", ".", "--dataset", "imdb"], "unknown --dataset 'imdb'; choose one of: mr, semeval2017a"),
    ],
)
def test_bad_labelling_options_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, options, message):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert run_cli(distillation.main, options) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}") and error.count("\n") == 1
    assert not (tmp_path / "cache").exists()


def test_teacher_labels_are_mapped_by_name_or_refused(tmp_path):
    texts = ["a wonderful film", "a dull mess"]
    shuffled = biased_teacher(tmp_path / "shuffled", ["positive", "negative", "neutral"], favourite="negative")
    logits = run_teacher(str(shuffled), texts, LABELS)
    assert (logits.argmax(axis=1) == LABELS.index("negative")).all()
    other = build_tiny_bert(tmp_path / "other", ["LABEL_0", "LABEL_1"])
    with pytest.raises(OptionError, match="its labels \\(LABEL_0, LABEL_1\\) are not the dataset's \\(negative, neutral, positive\\)"):
        run_teacher(str(other), texts, LABELS)


def test_a_teacher_with_other_labels_is_refused_before_any_labelling(tmp_path, tiny_semeval, tiny_glove, counted_teacher, capsys):
    """Round 25's new-user trial: the label check came after the labelling (minutes on a benchmark), which printed
    "labelling ..." and left a lock file in the cache; the teacher's config says its labels before any of that."""
    binary = build_tiny_bert(tmp_path / "binary", ["negative", "positive"])
    capsys.readouterr()
    argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
            "--teacher", str(binary), "--output_dir", str(tmp_path / "out")]  # fmt: skip
    assert run_cli(train.main, argv) == 2
    captured = capsys.readouterr()
    assert "its labels (negative, positive) are not the dataset's (negative, neutral, positive)" in captured.err
    assert f"teacher {binary}: labelling" not in captured.out and counted_teacher == []
    assert not (tmp_path / "cache" / "teacher_logits").exists()


def test_a_setfit_run_cannot_teach(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    setfit_run = build_tiny_bert(tmp_path / "setfit-run", ["LABEL_0", "LABEL_1"])
    (setfit_run / "model_head.pkl").write_bytes(b"")
    capsys.readouterr()
    assert run_cli(train.main, ["--output_dir", str(tmp_path / "out"), "--teacher", str(setfit_run)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --teacher {setfit_run}: a SetFit run") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_transfer_set_masks_and_cuts_training_sentences_only():
    texts = ["one two three four five six seven eight", "alpha beta gamma delta epsilon zeta", ""]
    student, teacher, sources = make_transfer_set(texts, 200, "[MASK]")
    assert len(student) == len(teacher) == len(sources) == 200 and set(sources) == {0, 1}  # no empty source
    for s, t, source in zip(student, teacher, sources):
        source_words = texts[source].split()
        assert s != texts[source] and len(s.split()) == len(t.split()) <= len(source_words)
        for ws, wt in zip(s.split(), t.split()):
            assert (ws, wt) == ("[UNK]", "[MASK]") or (ws == wt and ws in source_words)
    assert make_transfer_set(texts, 200, "[MASK]") == (student, teacher, sources)  # fixed seed
    assert sum(len(s.split()) < 6 for s in student) > 20  # some n-grams were sampled


def run_student(tmp_path, data, glove, name, *extra):
    output_dir = tmp_path / name
    argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(data), "--embeddings", str(glove),
            "--output_dir", str(output_dir), "--num_train_epochs", "6", "--per_device_train_batch_size", "16",
            "--learning_rate", "0.02", "--report_to", "none", "--seed", "1", *extra]
    assert run_cli(train.main, argv) == 0
    predictions = pq.read_table(output_dir / "predictions.parquet").column("prediction").to_numpy()
    return json.loads((output_dir / "results.json").read_text()), predictions


def test_distillation_pulls_the_student_to_the_teacher(tmp_path, tiny_semeval, tiny_glove, counted_teacher, monkeypatch):
    """A teacher that always says `negative`: the distilled student (teacher term only) mostly agrees
    with it, the plain student mostly does not; the teacher never saw a test sentence. A student whose
    teacher labelled under bf16 autocast (a CPU with native bf16) says so in its record."""
    from pipelines import training_arguments

    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: False)
    teacher = biased_teacher(tmp_path / "teacher", ["positive", "negative", "neutral"], favourite="negative")
    _, plain = run_student(tmp_path, tiny_semeval, tiny_glove, "plain")
    options = ["--teacher", str(teacher), "--distillation_alpha", "0", "--transfer_set_size", "100"]
    results, distilled = run_student(tmp_path, tiny_semeval, tiny_glove, "distilled", *options)
    negative = LABELS.index("negative")
    assert (distilled == negative).mean() > 0.9 and (plain == negative).mean() < 0.6
    assert results["distillation"] == {
        "teacher": "teacher", "teacher_path": str(teacher), "teacher_fingerprint": results["distillation"]["teacher_fingerprint"],
        "teacher_run": None,  # a checkpoint folder with no run record
        "loss": "mse", "alpha": 0.0, "temperature": None, "transfer_set_size": 100,
        "transfer_sentences": results["distillation"]["transfer_sentences"],
    }
    assert 60 <= results["distillation"]["transfer_sentences"] <= 100  # those made from the 80% kept for training

    (seen,) = counted_teacher
    train_file = tiny_semeval / "Semeval2017A" / "train_dev"
    train_texts = [line.split("\t")[2] for path in sorted(train_file.rglob("*.tsv")) for line in path.read_text().splitlines()]
    assert seen[:300] == train_texts and len(seen) == 400  # the 300 training tweets, then the 100 transfer sentences

    run_student(tmp_path, tiny_semeval, tiny_glove, "seed-2", *options, "--seed", "2")
    assert len(counted_teacher) == 1  # another student seed reads the cache

    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: True)
    results, _ = run_student(tmp_path, tiny_semeval, tiny_glove, "bf16", *options, "--seed", "3")
    assert len(counted_teacher) == 2 and results["distillation"]["teacher_bf16"] is True  # labelled again, and recorded
    assert "teacher_temperature" not in results["distillation"]  # a teacher without temperature scaling

    # round 27's review: the targets of a temperature-scaled teacher are z / T, which the record did not say
    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: False)
    scaled = Path(shutil.copytree(teacher, tmp_path / "scaled-teacher"))
    config = json.loads((scaled / "config.json").read_text())
    (scaled / "config.json").write_text(json.dumps({**config, "temperature_scaling": {"temperature": 2.0, "folded_into": "classifier"}}))
    results, _ = run_student(tmp_path, tiny_semeval, tiny_glove, "scaled", "--teacher", str(scaled), *options[2:])
    assert results["distillation"]["teacher_temperature"] == 2.0
    # an interrupted student recorded before the field existed resumes: its teacher's fingerprint already held T
    from pipelines.fitting import definition_differences

    older = {"run": {"distillation": {"loss": "mse", "teacher_fingerprint": "abc"}}, "training": {}}
    newer = {"run": {"distillation": {"loss": "mse", "teacher_fingerprint": "abc", "teacher_temperature": 2.0}}, "training": {}}
    assert definition_differences(older, newer) == [] and definition_differences(newer, older) != []


def test_the_grid_passes_teacher_and_class_weights_to_every_cell(tmp_path, capsys):
    from pipelines import experiments

    teacher = build_tiny_bert(tmp_path / "minilm-run", LABELS)
    argv = ["--datasets", "semeval2017a", "--models", "mean,bilstm", "--seeds", "0,1", "--dry_run",
            "--teacher", str(teacher), "--class_weights", "balanced", "--distillation_alpha", "0.2"]
    assert run_cli(experiments.main, argv) == 0
    commands = capsys.readouterr().out.strip().splitlines()
    assert len(commands) == 4
    for command in commands:
        assert f"--class_weights balanced --teacher {teacher} --distillation_alpha 0.2" in command
        assert "/semeval2017a-lab-frozen-weighted-distilled-minilm-run-alpha0.2/" in command
    # another loss or temperature is another setting: its cells never pass for the logit-regression ones
    assert run_cli(experiments.main, argv[:-2] + ["--distillation_loss", "kl", "--distillation_temperature", "2"]) == 0
    for command in capsys.readouterr().out.strip().splitlines():
        assert "/semeval2017a-lab-frozen-weighted-distilled-minilm-run-kl-t2/" in command


def test_a_distillation_variant_is_compared_with_its_plain_model():
    # the variant's own comma, "(KL, T=2)", is not a setting part: the question pairs it with the plain model
    from pipelines.report.collect import Group
    from pipelines.report.compare import variant_questions
    from pipelines.runs.setting import Setting

    plain = Setting("trained vectors")
    kl = Setting("trained vectors", teacher="minilm", distillation_loss="kl", distillation_temperature=2.0)
    weighted = Setting("trained vectors", teacher="minilm", distillation_loss="kl", distillation_temperature=2.0, class_weights="balanced")
    groups = [Group("mr", "bilstm", setting, "lab", "glove") for setting in (plain, kl, weighted)]
    found = [(q.text, q.a.setting.label, q.b.setting.label if q.b else q.why) for q in variant_questions(groups)]
    assert found == [
        ("distilled from minilm (KL, T=2) vs plain training: bilstm", kl.label, "trained vectors"),
        ("distilled from minilm (KL, T=2) vs plain training: bilstm", weighted.label, "no bilstm (trained vectors, class-weighted) runs"),
        ("class-weighted vs unweighted: bilstm", weighted.label, kl.label),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--transfer_set_size", "10"], "--transfer_set_size needs --teacher"),
        (["--teacher", "nowhere"], "--teacher nowhere: not a model folder with a config.json"),
        (["--teacher", ".", "--distillation_loss", "cosine"], "--distillation_loss must be one of mse, kl, got 'cosine'"),
        (["--teacher", ".", "--distillation_alpha", "1.5"], "--distillation_alpha must be between 0 and 1, got 1.5"),
    ],
)
def test_bad_distillation_options_are_one_line(tmp_path, monkeypatch, capsys, options, message):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert run_cli(train.main, ["--output_dir", str(tmp_path / "out"), *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_teacher_folder_that_cannot_load_is_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    unparsable = tmp_path / "unparsable"
    unparsable.mkdir()
    (unparsable / "config.json").write_text("{ not json")
    weightless = build_tiny_bert(tmp_path / "weightless", ["negative", "positive"])
    (weightless / "model.safetensors").unlink()
    capsys.readouterr()  # building the tiny BERT writes progress bars
    for folder, message in ((unparsable, "its config.json is not a model config"), (weightless, "no weights in the folder")):
        assert run_cli(train.main, ["--output_dir", str(tmp_path / "out"), "--teacher", str(folder)]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"error: --teacher {folder}: {message}") and error.count("\n") == 1
        assert not (tmp_path / "out").exists()


def test_a_teacher_whose_head_contradicts_its_config_is_a_data_error(tmp_path):
    from pipelines.errors import DataError

    folder = build_tiny_bert(tmp_path / "teacher", ["negative", "positive"])
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = dict(enumerate(LABELS))
    config["label2id"] = {label: index for index, label in enumerate(LABELS)}
    (folder / "config.json").write_text(json.dumps(config))  # 3 labels over a 2-row classifier
    with pytest.raises(DataError, match="not a loadable sequence-classification checkpoint"):
        run_teacher(str(folder), ["a fine film"], LABELS)


def test_the_mpnet_teacher_script_skips_a_benchmark_whose_teacher_has_not_run(tmp_path):
    import subprocess
    from pathlib import Path

    (tmp_path / "runs" / "mr-mpnet" / "seed-0").mkdir(parents=True)  # started, not finished: no results.json
    script = Path(__file__).resolve().parents[1] / "scripts" / "run_mpnet_teacher.sh"
    env = {"PATH": "/usr/bin:/bin", "STUDY_RUNS": str(tmp_path / "runs")}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and done.stdout.splitlines() == [
        f"{dataset}: no MPNet teacher ({tmp_path}/runs/{dataset}-mpnet/seed-0/results.json is missing; set TEACHER_{dataset} "
        "to a finished MPNet run): skipped" for dataset in ("mr", "semeval2017a")
    ]
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["mr-mpnet"]  # nothing written


@pytest.mark.parametrize("native", [False, True])
def test_the_teacher_runs_under_bf16_autocast_only_where_the_cpu_has_it_and_its_cache_key_says_so(tmp_path, monkeypatch, native):
    """On a CPU with native bf16 the teacher labels under bf16 autocast (as finetune.py trains it there): float32 logits
    within bf16's precision of the fp32 ones, the same argmax here, and a cache key of their own so precisions never mix."""
    from pipelines import training_arguments

    teacher = build_tiny_bert(tmp_path / "teacher", LABELS)
    texts = ["a wonderful film", "a dull mess", "it runs two hours"]
    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: False)
    fp32_key, fp32 = distillation.cache_key(str(teacher), texts, LABELS), run_teacher(str(teacher), texts, LABELS)
    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: native)
    assert distillation.load_teacher(str(teacher), LABELS, progress=False)[0].bf16 is native
    logits = run_teacher(str(teacher), texts, LABELS)
    assert logits.dtype == np.float32 and np.allclose(logits, fp32, atol=0.05) and (logits.argmax(1) == fp32.argmax(1)).all()
    assert np.array_equal(logits, fp32) is not native, "bf16 autocast changes the low digits; fp32 is fp32"
    assert (distillation.cache_key(str(teacher), texts, LABELS) == fp32_key) is not native


def test_the_mpnet_teacher_script_picks_the_finished_run_with_the_best_validation_score(tmp_path):
    """`best_teacher` in scripts/run_mpnet_teacher.sh: chosen on validation (trainer_state.json's best_metric, its sign
    by training_args.json's greater_is_better), never on test; an unfinished run (no results.json) or one without a
    best_metric is not a candidate."""
    import subprocess
    import sys
    from pathlib import Path

    runs = ((0, 0.89, 0.95, True, True), (1, 0.91, 0.85, True, True), (2, 0.99, 0.99, False, True), (3, None, 0.99, True, True),
            (4, 0.30, 0.99, True, False), (5, 0.10, 0.99, True, False))  # 4, 5: chosen by validation loss, lower is better
    for seed, validation, test, finished, higher in runs:
        run = tmp_path / "mr-mpnet" / f"seed-{seed}"
        run.mkdir(parents=True)
        (run / "trainer_state.json").write_text(json.dumps({"best_metric": validation}))
        (run / "training_args.json").write_text(json.dumps({"greater_is_better": higher}))
        if finished:
            (run / "results.json").write_text(json.dumps({"test": {"accuracy": test}}))
    script = Path(__file__).resolve().parents[1] / "scripts" / "run_mpnet_teacher.sh"
    function = "".join(script.read_text().partition("best_teacher() {")[1:]).split("\n}\n")[0] + "\n}\n"
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    pick = lambda folder: subprocess.run(["bash", "-c", f'{function}best_teacher "$1"', "_", str(folder)], env=env, capture_output=True, text=True, timeout=60).stdout.strip()
    assert pick(tmp_path / "mr-mpnet") == str(tmp_path / "mr-mpnet" / "seed-1")  # 0.91 beats 0.89; a loss of 0.10 is -0.10
    for seed in (0, 1):
        (tmp_path / "mr-mpnet" / f"seed-{seed}" / "results.json").unlink()
    assert pick(tmp_path / "mr-mpnet") == str(tmp_path / "mr-mpnet" / "seed-5")  # among losses, the lowest; no best_metric: never
    assert pick(tmp_path / "none") == str(tmp_path / "none" / "seed-0")  # no finished run: the message names seed-0
