"""Every command README.md (and docs/results.md) documents, run at the smallest scale its options allow.

`README_COMMANDS` lists each command as README.md writes it (code blocks, continuation lines
joined, trailing comments dropped) with what this test runs for it: the same command with options
that make it small (one epoch, one model, one seed, a few samples) appended, or why it is not run
here. `test_readme_lists_exactly_these_commands` fails when README.md gains, loses or changes a
command, so the list cannot drift from it. The commands run in README order in one temporary
folder, as a newcomer would: `../shared/datasets` there holds tiny MR and SemEval releases built in
code, and the files of "Your own data" are written beside them. Each must exit 0 and write what
README.md says it writes. The scripts run in this process (`run_cli` on their `main`), which is
what `python script.py` does after the imports.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import shlex
from pathlib import Path

import pytest

import evaluate_pretrained
import finetune
import train
from pipelines import experiments, explain, export, predict, report
from pipelines.cli import run_cli
from tests.conftest import REPO_ROOT, polar_sentence, write_mr, write_semeval

pytestmark = pytest.mark.slow

ONE_EPOCH = "--num_train_epochs 1"
SMALL_FINETUNE = "--num_train_epochs 1 --max_train_samples 16 --max_eval_samples 8 --max_test_samples 8 --max_length 32"
SMALL_GRID = "--models mean --seeds 0 --workers 1"

# README command -> (command run here, files it must write) or a string: why it is not run here.
README_COMMANDS: dict[str, tuple[str, list[str]] | str] = {
    'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e ".[test,minilm,demo]"':
        ".ci/run runs it on a fresh virtual environment",
    "python train.py --model meanmax --dataset mr --data-dir ../shared/datasets": (
        f"python train.py --model meanmax --dataset mr --data-dir ../shared/datasets {ONE_EPOCH}",
        ["runs/mr-meanmax/results.json", "runs/mr-meanmax/model.safetensors", "runs/mr-meanmax/tokenizer.json"],
    ),
    'HF_HUB_OFFLINE=1 python -m pytest -m "not slow"': "this test suite itself, its fast subset",
    "HF_HUB_OFFLINE=1 python -m pytest -n 2 --dist loadfile": "this test suite itself",
    "python train.py --model meanmax --train_file data/my_reviews.csv --text_column review --label_column stars": (
        f"python train.py --model meanmax --train_file data/my_reviews.csv --text_column review --label_column stars {ONE_EPOCH}",
        ["runs/my_reviews-meanmax/results.json", "runs/my_reviews-meanmax/predictions.parquet"],
    ),
    "python finetune.py --model minilm --train_file train.jsonl --validation_file dev.jsonl --test_file test.jsonl "
    "--class_names negative,neutral,positive": (
        "python finetune.py --model minilm --train_file train.jsonl --validation_file dev.jsonl --test_file test.jsonl "
        f"--class_names negative,neutral,positive {SMALL_FINETUNE}",
        ["runs/train-minilm/results.json", "runs/train-minilm/model.safetensors"],
    ),
    "python evaluate_pretrained.py --test_file my_tweets.tsv --models cardiffnlp/twitter-roberta-base-sentiment-latest "
    "runs/my_reviews-meanmax": (
        # offline, the Hub model is listed as not loaded and the local run is scored
        "python evaluate_pretrained.py --test_file my_tweets.tsv --models cardiffnlp/twitter-roberta-base-sentiment-latest "
        "runs/my_reviews-meanmax",
        ["runs/pretrained-my_tweets/evaluation.json", "runs/pretrained-my_tweets/evaluation.md"],
    ),
    "python -m pipelines.experiments --train_file data/train.csv --test_file data/test.csv --seeds 0,1,2,3,4": (
        f"python -m pipelines.experiments --train_file data/train.csv --test_file data/test.csv --seeds 0,1,2,3,4 {SMALL_GRID}",
        ["runs/grid/results.json", "runs/grid/results.md", "runs/grid/train-lab-frozen/mean/seed-0/results.json"],
    ),
    "python -m pipelines.report runs/grid": (
        "python -m pipelines.report runs/grid --aso_iterations 20",
        ["runs/grid/report/report.md"],
    ),
    "python train.py --model {mean,meanmax,lstm,bilstm,attention,multihead,transformer} --dataset {mr,semeval2017a} "
    '--data-dir ../shared/datasets [--embeddings glove.840B.300d.txt] [--train_embeddings] [--config_overrides '
    '"hidden_size=256,dropout=0.3"] [TrainingArguments...]': (
        "python train.py --model bilstm --dataset semeval2017a --data-dir ../shared/datasets --embeddings glove.txt "
        f"--train_embeddings --config_overrides hidden_size=16,dropout=0.3 {ONE_EPOCH}",
        ["runs/semeval2017a-bilstm-trained-vectors/results.json"],
    ),
    "python train.py run.json": ("python train.py run.json", ["runs/from-json/results.json"]),
    "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 train.py --model bilstm --dataset mr "
    "--data-dir ../shared/datasets": "tests/test_multiprocess.py runs this launch (two CPU processes) on tiny data",
    "accelerate launch --multi_gpu --num_processes 8 finetune.py --model roberta-base --dataset semeval2017a ...":
        "needs 8 GPUs and the Hub",
    "accelerate launch --config_file multi_node.yaml finetune.py ...": "needs several machines",
    "python finetune.py --model roberta-base --dataset mr --data-dir ../shared/datasets --seed 0 --push_to_hub": "needs the Hub",
    "python finetune.py --model cardiffnlp/twitter-roberta-base-sentiment-latest --dataset semeval2017a --data-dir "
    "../shared/datasets": "needs the Hub",
    "python finetune.py --model vinai/bertweet-base --dataset semeval2017a --data-dir ../shared/datasets "
    "--max_length_quantile 0.99": "needs the Hub",
    "python finetune.py --model roberta-base --dataset semeval2017a --data-dir ../shared/datasets --seed 0": "needs the Hub",
    "python finetune.py --model vinai/bertweet-base --dataset semeval2017a --data-dir ../shared/datasets --seed 0": "needs the Hub",
    "python finetune.py --model cardiffnlp/twitter-roberta-base-sentiment-latest --dataset semeval2017a --data-dir "
    "../shared/datasets --seed 0": "needs the Hub",
    "python finetune.py --setfit --model mpnet --dataset mr --data-dir ../shared/datasets --seed 0":
        "MPNet is not in CI's install; tests/test_finetune.py::test_setfit_run_writes_the_same_record runs --setfit on tiny data",
    "python evaluate_pretrained.py --dataset {mr,semeval2017a} --data-dir ../shared/datasets [--models NAME_ID_OR_DIR ...] "
    "[--runs_dir runs/grid] [--batch-size 64] [--neutral_threshold 0.8] [--label_map 'LABEL_0=negative,...'] [--max_samples N] "
    "[--output_dir runs/pretrained-<dataset>] [--device cuda]": (
        "python evaluate_pretrained.py --dataset mr --data-dir ../shared/datasets --models runs/mr-meanmax --batch-size 64 "
        "--max_samples 20",
        ["runs/pretrained-mr/evaluation.json"],
    ),
    "python finetune.py --model ID_OR_DIR --dataset {mr,semeval2017a} --data-dir ../shared/datasets [--max_length 128 | "
    "--max_length_quantile 0.99] [--max_train_samples N] [--max_eval_samples N] [--max_test_samples N] "
    "[TrainingArguments...]": (
        f"python finetune.py --model minilm --dataset semeval2017a --data-dir ../shared/datasets {SMALL_FINETUNE}",
        ["runs/semeval2017a-minilm/results.json", "runs/semeval2017a-minilm/predictions.parquet"],
    ),
    "python finetune.py run.json": ("python finetune.py finetune.json", ["runs/finetune-from-json/results.json"]),
    "HF_HUB_OFFLINE=1 python -m pipelines.experiments --data_dir ../shared/datasets --train_embeddings --seeds 0,1,2,3,4": (
        f"python -m pipelines.experiments --data_dir ../shared/datasets --train_embeddings --seeds 0,1,2,3,4 {SMALL_GRID} "
        "--datasets mr",
        ["runs/grid/mr-lab-trained/mean/seed-0/results.json", "runs/grid/results.md"],
    ),
    "python -m pipelines.experiments --data_dir ../shared/datasets --datasets mr --seeds 0 --cv_folds 10 --train_embeddings": (
        "python -m pipelines.experiments --data_dir ../shared/datasets --datasets mr --seeds 0 --cv_folds 10 "
        f"--train_embeddings {SMALL_GRID} --cv_folds 2",
        ["runs/grid/mr-cv2-trained/mean/seed-0/fold-1/results.json"],
    ),
    "python finetune.py --model minilm --dataset semeval2017a --data-dir ../shared/datasets --max_length_quantile 0.99 "
    "--optim adamw_torch_fused": (
        "python finetune.py --model minilm --dataset semeval2017a --data-dir ../shared/datasets --max_length_quantile 0.99 "
        "--optim adamw_torch_fused --num_train_epochs 1 --max_train_samples 16 --max_eval_samples 8 --max_test_samples 8 "
        "--overwrite_output_dir",  # the earlier finetune.py command's finished run is in this folder
        ["runs/semeval2017a-minilm/results.json", "runs/semeval2017a-minilm/model.safetensors"],
    ),
    "python train.py --model bilstm --dataset semeval2017a --data-dir ../shared/datasets --train_embeddings "
    "--teacher runs/semeval2017a-minilm --distillation_alpha 0.5 --transfer_set_size 100000": (
        "python train.py --model bilstm --dataset semeval2017a --data-dir ../shared/datasets --train_embeddings "
        f"--teacher runs/semeval2017a-minilm --distillation_alpha 0.5 --transfer_set_size 100000 {ONE_EPOCH} --transfer_set_size 40 "
        "--overwrite_output_dir",  # the earlier --train_embeddings command's finished run is in this folder
        ["runs/semeval2017a-bilstm-trained-vectors/results.json"],
    ),
    "python train.py --model bilstm --dataset semeval2017a --data-dir ../shared/datasets --class_weights balanced": (
        f"python train.py --model bilstm --dataset semeval2017a --data-dir ../shared/datasets --class_weights balanced {ONE_EPOCH}",
        ["runs/semeval2017a-bilstm/results.json"],
    ),
    "python -m pipelines.export RUN_DIR --output DIR [--quantize int8] [--dataset mr --data_dir ../shared/datasets]": (
        "python -m pipelines.export runs/mr-meanmax --output runs/mr-meanmax-int8 --quantize int8 --dataset mr "
        "--data_dir ../shared/datasets",
        ["runs/mr-meanmax-int8/model.onnx", "runs/mr-meanmax-int8/tokenizer.json", "runs/mr-meanmax-int8/export.json"],
    ),
    'python -m pipelines.explain RUN_DIR... --text "a slow start, but a great ending" [--output explanation.png]': (
        'python -m pipelines.explain runs/mr-meanmax runs/mr-meanmax-int8 --text "a slow start, but a great ending" '
        "--output explanation.png",
        ["explanation.png"],
    ),
    "python -m pipelines.predict --model vader --input my_tweets.tsv --output my_tweets-labelled.csv": (
        "python -m pipelines.predict --model vader --input my_tweets.tsv --output my_tweets-labelled.csv",
        ["my_tweets-labelled.csv"],
    ),
    "python -m pipelines.demo RUN_DIR... [--port 7860]": "tests/test_demo.py starts the page and drives it in headless Chromium",
    "pip install -e .": ".ci/run installs the project the same way",
    "HF_HUB_OFFLINE=1 python -m pipelines.experiments --data_dir ../shared/datasets --train_embeddings --seeds 0,1,2,3,4 "
    "--engine submitit --slurm_partition cpu --slurm_time_minutes 120 --workers 64": (
        # no Slurm here: submitit's in-process cluster; tests/test_experiments.py runs its local processes
        "python -m pipelines.experiments --data_dir ../shared/datasets --train_embeddings --seeds 0,1,2,3,4 --engine submitit "
        f"--slurm_partition cpu --slurm_time_minutes 120 --workers 64 {SMALL_GRID} --datasets mr --engine_cluster debug",
        ["runs/grid/mr-lab-trained/mean/seed-0/results.json", "runs/grid/results.md"],
    ),
    "python train.py --model transformer --dataset mr --data-dir ../shared/datasets --search optuna --n_trials 30": (
        f"python train.py --model transformer --dataset mr --data-dir ../shared/datasets --search optuna --n_trials 30 {ONE_EPOCH} "
        "--n_trials 1 --train_size 200",  # 200 sentences a class, not 5,000: the search's files, not its model, are checked
        ["runs/mr-transformer-n200-search-optuna/optuna-journal.log", "runs/mr-transformer-n200-search-optuna/best-trial-0/results.json"],
    ),
    "python train.py --model transformer --dataset mr --data-dir ../shared/datasets --search optuna --n_trials 10 "
    "--storage postgresql://user@db-host/optuna --output_dir /shared/runs/mr-transformer-search":
        "needs a PostgreSQL server; tests/test_search.py runs two invocations on one journal-file study",
    "python -m pipelines.experiments --data_dir ../shared/datasets --datasets mr --models meanmax,bilstm --train_embeddings "
    "--seeds 0,1,2 --train_sizes 16,64,256,1024,all --runs_dir runs/curves":
        "30 cells on up to 5,000 sentences a class; tests/test_train_sizes.py runs a --train_sizes cell on tiny data",
    "python -m pipelines.report.curves results/curves/records results/records/study/mr-lab-trained --models meanmax,bilstm "
    "--seeds 0,1,2 --output results/curves":
        "reads the committed records; tests/test_report_curves.py draws curves from records built in code",
    "python -m pipelines.experiments ... --dry_run > cells.txt": (
        "python -m pipelines.experiments --data_dir ../shared/datasets --dry_run > cells.txt",
        ["cells.txt"],
    ),
}

DOCUMENTS = ("README.md", "docs/results.md")  # the user's commands, and those that made the study's numbers

PROGRAMS = {
    ("python", "train.py"): train.main,
    ("python", "finetune.py"): finetune.main,
    ("python", "evaluate_pretrained.py"): evaluate_pretrained.main,
    ("python", "-m", "pipelines.experiments"): experiments.main,
    ("python", "-m", "pipelines.report"): report.main,
    ("python", "-m", "pipelines.export"): export.main,
    ("python", "-m", "pipelines.explain"): explain.main,
    ("python", "-m", "pipelines.predict"): predict.main,
}


def readme_commands(text: str) -> list[str]:
    """The commands of a Markdown text's ```bash blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = re.split(r"\s+#\s", line.strip())[0].strip()
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    return commands


def test_readme_lists_exactly_these_commands():
    documented = readme_commands("\n".join((REPO_ROOT / name).read_text(encoding="utf-8") for name in DOCUMENTS))
    assert sorted(set(documented)) == sorted(README_COMMANDS), "README.md's or docs/results.md's commands changed: update README_COMMANDS"


def write_workspace(root: Path) -> Path:
    """`root/work` as the working folder; `root/shared/datasets` the releases; the user files of "Your own data"."""
    work = root / "work"
    (work / "data").mkdir(parents=True)
    data = root / "shared" / "datasets"
    write_mr(data, per_class=5040)
    write_semeval(data)
    rng = random.Random(0)
    labels = ["negative", "neutral", "positive"]
    rows = [(polar_sentence(rng, labels[i % 3]), i % 3) for i in range(120)]
    # star ratings already named as sentiments, so the tweet evaluation below can map this model's labels
    (work / "data" / "my_reviews.csv").write_text("review,stars\n" + "".join(f"{t},{labels[y]}\n" for t, y in rows))
    (work / "data" / "train.csv").write_text("text,label\n" + "".join(f"{t},{labels[y]}\n" for t, y in rows[:90]))
    (work / "data" / "test.csv").write_text("text,label\n" + "".join(f"{t},{labels[y]}\n" for t, y in rows[90:]))
    for name, part in (("train", rows[:80]), ("dev", rows[80:100]), ("test", rows[100:])):
        (work / f"{name}.jsonl").write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in part))
    (work / "my_tweets.tsv").write_text("tweet\tsentiment\n" + "".join(f"{t}\t{labels[y]}\n" for t, y in rows[:30]))
    words = sorted({word for text, _ in rows for word in text.split()} | {",", "."})
    (work / "glove.txt").write_text("".join(f"{w} " + " ".join(str(rng.gauss(0, 1)) for _ in range(8)) + "\n" for w in words))
    small = {"model": "mean", "dataset": "mr", "data_dir": "../shared/datasets", "num_train_epochs": 1}
    (work / "run.json").write_text(json.dumps({**small, "output_dir": "runs/from-json"}))
    (work / "finetune.json").write_text(json.dumps({
        "model": "minilm", "dataset": "mr", "data_dir": "../shared/datasets", "output_dir": "runs/finetune-from-json",
        "num_train_epochs": 1, "max_train_samples": 16, "max_eval_samples": 8, "max_test_samples": 8, "max_length": 32,
    }))  # fmt: skip
    return work


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return write_workspace(tmp_path_factory.mktemp("readme"))


def run_command(command: str) -> tuple[int, str]:
    """`command` in this process: the environment prefix is the tests' own (HF_HUB_OFFLINE=1), `> file` writes stdout."""
    words = shlex.split(command)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        words.pop(0)
    redirect = None
    if ">" in words:
        redirect, words = words[words.index(">") + 1], words[: words.index(">")]
    for prefix, main in PROGRAMS.items():
        if tuple(words[: len(prefix)]) == prefix:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = run_cli(main, words[len(prefix):])
            if redirect:
                Path(redirect).write_text(out.getvalue())
            return status, out.getvalue()
    raise AssertionError(f"no runner for {command!r}")


def _param(index: int, documented: str, recipe: tuple[str, list[str]]):
    words = recipe[0].split()
    name = f"{index:02d}-{words[2] if words[1] == '-m' else words[1]}"
    return pytest.param(documented, recipe, id=name)


RUNNABLE = [
    _param(index, documented, recipe)
    for index, (documented, recipe) in enumerate((d, r) for d, r in README_COMMANDS.items() if not isinstance(r, str))
]


@pytest.mark.parametrize("documented, recipe", RUNNABLE)
def test_readme_command_runs_and_writes_what_readme_says(workspace, monkeypatch, documented, recipe):
    command, files = recipe
    monkeypatch.chdir(workspace)
    # The grid has no epoch option (issue 16): one epoch per cell for the data sets used here.
    monkeypatch.setattr(experiments, "grid_budget", lambda dataset: {"num_train_epochs": 1})
    status, output = run_command(command)
    assert status == 0, output[-2000:]
    missing = [name for name in files if not (workspace / name).is_file()]
    assert not missing, f"{command} did not write {missing}"
    if command.startswith(("python train.py", "python finetune.py")):
        assert "saved to runs/" in output and "test (" in output  # where it went, and the test scores


def test_quickstart_reload_snippet(workspace, monkeypatch):
    """README's Python snippet after the main job: the saved folder serves a pipeline."""
    monkeypatch.chdir(workspace)
    if not (workspace / "runs/mr-meanmax").is_dir():
        pytest.skip("needs the main job's folder (run the whole module)")
    snippet = re.search(r"```python\n(import models.*?)```", (REPO_ROOT / "README.md").read_text(encoding="utf-8"), re.S)[1]
    namespace = {}
    exec(snippet.replace("classify([", "result = classify(["), namespace)
    assert len(namespace["result"]) == 2 and {row["label"] for row in namespace["result"]} <= {"negative", "positive"}


def test_the_results_tables_are_the_committed_reports():
    """docs/results.md's tables are scripts/results_tables.py's copy of results/report/report.md."""
    from scripts.results_tables import REPO_ROOT as ROOT, updated_results

    results = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    report = (ROOT / "results" / "report" / "report.md").read_text(encoding="utf-8")
    assert updated_results(results, report) == results
    changed = updated_results(results, report.replace("| 5 seeds |", "| 6 seeds |"))
    assert changed != results and "| 6 seeds |" in changed
