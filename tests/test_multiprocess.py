"""Data-parallel training over two CPU processes (gloo) with `accelerate launch`.

accelerate 1.x starts one process per `--num_processes` only through its multi-process launcher
(`--multi_gpu`); `ACCELERATE_USE_CPU=1` keeps those processes on the CPU, where they talk over gloo.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, write_semeval
from tests.tiny_bert import build_tiny_bert
from tests.tiny_bert import write_semeval as write_tiny_bert_semeval


def launch(script: str, argv: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", script, *argv]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_train_py_runs_data_parallel_on_two_processes(tmp_path, tiny_glove):
    data = write_semeval(tmp_path / "data", train_rows=600)
    output_dir = tmp_path / "ddp"
    argv = ["--model", "bilstm", "--dataset", "semeval2017a", "--data-dir", str(data), "--embeddings", str(tiny_glove),
            "--output_dir", str(output_dir), "--num_train_epochs", "2"]
    done = launch("train.py", argv)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((output_dir / "results.json").read_text())
    # 480 training rows, 64 a process, 2 processes: 4 optimizer steps an epoch, not 8.
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 8 and results["epochs"] == 2
    assert done.stdout.count(" sentences) accuracy") == 1 and done.stdout.count("saved to ") == 1  # only the main process reports


@pytest.mark.slow
def test_finetune_py_runs_data_parallel_on_two_processes(tmp_path):
    data = write_tiny_bert_semeval(tmp_path / "data")
    base = build_tiny_bert(tmp_path / "base", ["negative", "neutral", "positive"])
    output_dir = tmp_path / "ddp"
    argv = ["--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(data), "--output_dir", str(output_dir),
            "--num_train_epochs", "1", "--per_device_train_batch_size", "4"]
    done = launch("finetune.py", argv)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((output_dir / "results.json").read_text())
    assert results["epochs"] == 1 and set(results["test"]) >= {"accuracy", "f1_macro", "recall_macro"}
