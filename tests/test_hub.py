"""Hub-ready folders: code travels with the weights, safetensors only, a model card, a mocked push."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
import torch
import transformers
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import filter_repo_objects
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import finetune
import train
from models import GLOVE_MODELS
from pipelines import hub, hub_access, model_card
from pipelines.errors import PathError
from pipelines.cli import run_cli
from pipelines.runs.record import RunRecord
from pipelines.tokenization import build_tokenizer
from pipelines.training import GloveModelArguments
from tests.conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS, REPO_ROOT, write_glove_text, write_semeval
from tests.tiny_bert import build_tiny_bert, build_tiny_setfit
from tests.tiny_bert import write_semeval as write_tiny_bert_semeval

HUB_ID = "someone/tiny-semeval-meanmax"
SENTENCES = ["a wonderful great film", "an awful boring mess", "the story", ""]
WORDS = NEUTRAL_WORDS + POSITIVE_WORDS + NEGATIVE_WORDS
EMBEDDING_DIM = 10  # divided by the default head counts, so every model builds with its defaults


def record_hub_calls(patch: pytest.MonkeyPatch) -> list:
    """The Hub client's two calls recorded, not sent; the upload lists the files it would send."""
    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs))
        return type("RepoUrl", (), {"repo_id": repo_id})()

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file())
        uploaded = list(filter_repo_objects(files, ignore_patterns=kwargs.get("ignore_patterns")))
        calls.append(("upload_folder", repo_id, {**kwargs, "folder_path": folder_path, "uploaded": uploaded}))

    patch.setattr(HfApi, "create_repo", create_repo)
    patch.setattr(HfApi, "upload_folder", upload_folder)
    patch.setattr(hub_access, "hub_reachable", lambda: True)  # what check_push asks before training
    patch.setattr(huggingface_hub, "get_token", lambda: "hf_test_token")
    return calls


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """train.py on tiny SemEval with `--push_to_hub`, the Hub calls recorded."""
    root = tmp_path_factory.mktemp("hub")
    output_dir = root / "out"
    argv = [
        "--model", "meanmax", "--dataset", "semeval2017a", "--data-dir", str(write_semeval(root / "data")),
        "--embeddings", str(write_glove_text(root / "glove.txt", WORDS + [",", "."], dim=EMBEDDING_DIM)),
        "--output_dir", str(output_dir), "--num_train_epochs", "3", "--learning_rate", "0.02",
        "--push_to_hub", "--hub_model_id", HUB_ID,
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTIBENCH_CACHE", str(root / "cache"))
        calls = record_hub_calls(patch)
        assert run_cli(train.main, argv) == 0
    return output_dir, calls


def test_push_creates_the_repo_and_uploads_the_finished_folder_once(pushed):
    output_dir, calls = pushed
    assert [(name, repo) for name, repo, _ in calls] == [("create_repo", HUB_ID), ("upload_folder", HUB_ID)]
    upload = calls[1][2]
    assert Path(upload["folder_path"]) == output_dir
    uploaded = set(upload["uploaded"])
    code = {"configuration_glove.py", "modeling_glove_base.py", "modeling_pooling.py"}
    assert code | {"README.md", "config.json", "model.safetensors", "tokenizer.json", "results.json"} <= uploaded
    assert not [name for name in uploaded if name.startswith("checkpoint-") or name.endswith((".bin", ".pt", ".pth"))]


def test_final_folder_holds_safetensors_only(pushed):
    output_dir, _ = pushed
    top_level = {path.name for path in output_dir.iterdir() if path.is_file()}
    assert "model.safetensors" in top_level
    assert not [name for name in top_level if name.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle"))]


def test_vocabulary_matrix_and_tokenizer_shrink_together(pushed):
    output_dir, _ = pushed
    config = json.loads((output_dir / "config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    results = json.loads((output_dir / "results.json").read_text())
    assert config["vocab_size"] == len(tokenizer) == results["vocab_size"] == 2 + len(WORDS) + 2


def test_model_card_metadata_carries_the_test_results(pushed):
    output_dir, _ = pushed
    results = json.loads((output_dir / "results.json").read_text())
    card = ModelCard.load(output_dir / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "text-classification"
    assert card.data.datasets == ["tweet_eval"] and set(card.data.metrics) == {"accuracy", "f1", "recall"}
    assert card.data.model_name == HUB_ID
    scores = {result.metric_name: result.metric_value for result in card.data.eval_results}
    assert scores["Accuracy"] == round(results["test"]["accuracy"], 4)
    assert scores["Macro F1"] == round(results["test"]["f1_macro"], 4)
    assert scores["Macro recall"] == round(results["test"]["recall_macro"], 4)
    assert "F1-PN (mean F1 of positive and negative)" in scores  # three classes
    assert {result.dataset_config for result in card.data.eval_results} == {"sentiment"}
    assert "trust_remote_code=True" in card.text and "| **neutral** |" in card.text


def test_finetune_pushes_its_folder_and_card(tmp_path, monkeypatch):
    calls = record_hub_calls(monkeypatch)
    base = build_tiny_bert(tmp_path / "base", ["negative", "positive"])
    argv = [
        "--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(write_tiny_bert_semeval(tmp_path / "data")),
        "--output_dir", str(tmp_path / "out"), "--num_train_epochs", "1", "--max_train_samples", "24",
        "--max_eval_samples", "6", "--push_to_hub", "--hub_model_id", "someone/tiny-bert",
    ]  # fmt: skip
    assert run_cli(finetune.main, argv) == 0
    assert [(name, repo) for name, repo, _ in calls] == [
        ("create_repo", "someone/tiny-bert"),
        ("upload_folder", "someone/tiny-bert"),
    ]
    uploaded = set(calls[1][2]["uploaded"])
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json", "results.json"} <= uploaded
    assert not [name for name in uploaded if name.endswith((".py", ".bin", ".pt"))]  # BERT needs no code of ours
    card = ModelCard.load(tmp_path / "out" / "README.md")
    assert card.data.datasets == ["tweet_eval"] and card.data.model_name == "someone/tiny-bert"
    assert "trust_remote_code" not in card.text


def test_card_of_a_fine_tuned_run_without_optional_fields():
    results = {"model": "minilm", "model_type": "bert", "dataset": "mr", "test": {"accuracy": 0.8, "f1_macro": 0.79}}
    card = ModelCard(model_card.card_text(RunRecord.from_dict(results), "me/minilm-mr"))
    assert card.data.datasets == ["rotten_tomatoes"] and set(card.data.metrics) == {"accuracy", "f1"}
    assert "glove" not in card.data.tags and "trust_remote_code" not in card.text


def test_max_vocab_size_zero_keeps_the_whole_glove_vocabulary(tiny_semeval, tiny_glove):
    from pipelines.tokenization import load_word_vectors
    from pipelines.training import DataArguments, prepare_glove_data

    model_args = GloveModelArguments(embeddings=str(tiny_glove), max_vocab_size=0)
    assert model_args.max_vocab_size == 0  # kept as given, so the grid's --dry_run writes it back
    prepared = prepare_glove_data(model_args, DataArguments(dataset="semeval2017a", data_dir=str(tiny_semeval)), seed=0)
    assert set(load_word_vectors(str(tiny_glove)).words) <= set(prepared.vocabulary)
    with pytest.raises(ValueError, match="--max_vocab_size must be 0"):
        GloveModelArguments(max_vocab_size=-1)


def save_every_glove_model(folder: Path) -> dict[str, Path]:
    """One tiny saved folder per registered GloVe model (tokenizer included)."""
    tokenizer = build_tokenizer(WORDS, max_length=16)
    folders = {}
    for name, preset in GLOVE_MODELS.items():
        config = preset.config(vocab_size=len(tokenizer), embedding_dim=EMBEDDING_DIM, max_length=16, num_labels=2)
        torch.manual_seed(0)
        folders[name] = folder / name
        preset.model_class(config).save_pretrained(folders[name])
        tokenizer.save_pretrained(folders[name])
    return folders


STRANGER = r"""
import json, sys
from pathlib import Path
project = Path(sys.argv[1]).resolve()
# A stranger has not installed the project: drop the finder of an editable install (`pip install -e .`).
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", type(f).__module__)]
assert all(Path(p or ".").resolve() != project for p in sys.path), sys.path
try:
    import models
    raise SystemExit("the project is importable")
except ModuleNotFoundError:
    pass
from transformers import AutoModelForSequenceClassification, AutoTokenizer
out = {}
for folder in sys.argv[4:]:
    try:
        AutoModelForSequenceClassification.from_pretrained(folder)
        refused = None
    except Exception as err:
        tb = err.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        refused = [type(err).__name__, str(err), tb.tb_frame.f_code.co_filename]
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)  # as the README says
    batch = tokenizer(json.loads(sys.argv[2]), padding=True, return_tensors="pt")
    out[folder] = {"logits": model(**batch).logits.tolist(), "input_ids": batch["input_ids"].tolist(),
                   "class": type(model).__module__, "refused": refused}
Path(sys.argv[3]).write_text(json.dumps(out))
"""


@pytest.fixture(scope="module")
def stranger(pushed, tmp_path_factory):
    """Every folder loaded in a process that cannot import the project, the Auto registrations absent."""
    output_dir, _ = pushed
    folders = {"trained": output_dir, **save_every_glove_model(tmp_path_factory.mktemp("models"))}
    cwd = tmp_path_factory.mktemp("stranger")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(cwd / "modules"))
    done = subprocess.run(
        [sys.executable, "-c", STRANGER, str(REPO_ROOT), json.dumps(SENTENCES), "loaded.json", *map(str, folders.values())],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads((cwd / "loaded.json").read_text())
    return {name: (folder, loaded[str(folder)]) for name, folder in folders.items()}


def test_readme_hub_snippet_loads_without_a_prompt(pushed, tmp_path):
    """README's "Sharing on the Hub" lines, run by a stranger on the pushed folder, ask nothing on stdin."""
    output_dir, _ = pushed
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(from transformers import AutoModelForSequenceClassification, AutoTokenizer\n.*?)```", readme, re.S)[1]
    preamble = STRANGER.split("from transformers import")[0]  # the project made unimportable
    script = preamble + snippet.replace('"you/mr-bilstm"', "sys.argv[4]") + "print('logits', model(**tokenizer(['a great film'], return_tensors='pt')).logits.shape)\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    done = subprocess.run(
        [sys.executable, "-c", script, str(REPO_ROOT), "", "", str(output_dir)],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "logits torch.Size([1, 3])" in done.stdout
    assert "wish to run the custom code" not in done.stdout + done.stderr


@pytest.mark.parametrize("name", ["trained", *GLOVE_MODELS])
def test_stranger_loads_with_trust_remote_code_and_gets_the_same_logits(stranger, name):
    folder, loaded = stranger[name]
    config = json.loads((folder / "config.json").read_text())
    model_name = name if name in GLOVE_MODELS else "meanmax"
    config_class, model_class = GLOVE_MODELS[model_name].config_class, GLOVE_MODELS[model_name].model_class
    assert config["auto_map"] == {
        "AutoConfig": f"configuration_glove.{config_class.__name__}",
        "AutoModelForSequenceClassification": f"{model_class.__module__.split('.')[-1]}.{model_class.__name__}",
    }
    assert loaded["class"].startswith("transformers_modules.")  # the copied code, not the project's
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert batch["input_ids"].tolist() == loaded["input_ids"]
    with torch.no_grad():
        logits = model(**batch).logits
    torch.testing.assert_close(torch.tensor(loaded["logits"]), logits)


def test_without_trust_remote_code_the_error_is_transformers_own(stranger):
    _, loaded = stranger["trained"]
    kind, message, raised_in = loaded["refused"]
    assert kind == "ValueError" and "trust_remote_code=True" in message
    assert Path(raised_in).is_relative_to(Path(transformers.__file__).parent)


def test_push_to_hub_offline_stops_before_training_in_one_line(tmp_path, capsys):
    output_dir = tmp_path / "out"
    argv = [
        "--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(write_semeval(tmp_path / "data")),
        "--output_dir", str(output_dir), "--push_to_hub", "--hub_model_id", HUB_ID,
    ]  # fmt: skip
    assert run_cli(train.main, argv) == 2  # HF_HUB_OFFLINE=1 in the tests: the Hub is unreachable
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --push_to_hub: the Hugging Face Hub is unreachable (HF_HUB_OFFLINE is set)")
    assert f"python -m pipelines.hub push {output_dir} --hub_model_id {HUB_ID}" in error and "\n" not in error
    assert not output_dir.exists()  # stopped before anything was loaded or written


def test_push_to_hub_without_a_token_says_how_to_log_in(tmp_path, monkeypatch):
    monkeypatch.setattr(hub_access, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(hub.OptionError, match="needs a Hub token: run `hf auth login`"):
        hub.check_push(True, str(tmp_path / "out"), None, None)


def test_push_command_uploads_an_existing_run_folder(pushed, tmp_path, monkeypatch, capsys):
    output_dir, _ = pushed
    calls = record_hub_calls(monkeypatch)
    assert run_cli(hub.main, ["push", str(output_dir), "--hub_model_id", "other/name"]) == 0
    assert [(name, repo) for name, repo, _ in calls] == [("create_repo", "other/name"), ("upload_folder", "other/name")]
    assert "model.safetensors" in calls[1][2]["uploaded"] and ModelCard.load(output_dir / "README.md").data.model_name == "other/name"
    assert f"pushed {output_dir}" in capsys.readouterr().out
    model_card.write_model_card(output_dir, RunRecord.read(output_dir), HUB_ID)  # as the fixture left it


@pytest.mark.parametrize("refusal", ["connection", "unauthorized"])
def test_a_push_the_network_or_the_hub_refuses_is_one_line(pushed, monkeypatch, capsys, refusal):
    """Round 27's review: `push` let the Hub's 401 through as a traceback, and huggingface_hub 2.x raises httpx2's
    transport errors, which are neither `OSError` nor httpx's, so a dropped connection escaped `push_run` too."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    output_dir, _ = pushed
    record_hub_calls(monkeypatch)
    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    error = {"connection": httpx2.ConnectError("[Errno 101] Network is unreachable", request=request),
             "unauthorized": HfHubHTTPError("401 Client Error: Unauthorized", response=httpx2.Response(401, request=request))}[refusal]  # fmt: skip

    def refuse(self, repo_id, **kwargs):
        raise error

    monkeypatch.setattr(HfApi, "create_repo", refuse)
    assert run_cli(hub.main, ["push", str(output_dir), "--hub_model_id", "other/name"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: push of {output_dir} to other/name failed (") and "\n" not in err
    with pytest.raises(PathError, match="the run is saved in"):
        hub.push_run(str(output_dir), "other/name")
    model_card.write_model_card(output_dir, RunRecord.read(output_dir), HUB_ID)  # as the fixture left it


def test_push_command_refuses_an_unfinished_folder_and_an_offline_hub(tmp_path, pushed, capsys):
    assert run_cli(hub.main, ["push", str(tmp_path)]) == 2
    assert f"{tmp_path} is not a finished run (no results.json)" in capsys.readouterr().err
    assert run_cli(hub.main, ["push", str(pushed[0])]) == 2  # HF_HUB_OFFLINE=1
    assert "the Hugging Face Hub is unreachable" in capsys.readouterr().err


def test_offline_hub_model_fails_in_one_line_naming_the_local_alternative(monkeypatch):
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo_id, filename: None)
    with pytest.raises(hub_access.HubUnreachable, match="model 'org/absent' is not in the local cache .*HF_HUB_OFFLINE is set.*; use a folder"):
        hub_access.model_load_kwargs("org/absent", "use a folder")
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo_id, filename: "/cache/config.json")
    assert hub_access.model_load_kwargs("org/cached", "use a folder") == {"local_files_only": True}
    assert hub_access.model_load_kwargs(".", "use a folder") == {}  # a local folder never asks the Hub


def test_unreachable_hub_is_probed_once_with_a_short_timeout(monkeypatch):
    asked = []

    class Session:
        def head(self, url, timeout):
            asked.append(timeout)
            raise OSError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: False)
    monkeypatch.setattr(hub_access, "get_session", lambda: Session())
    hub_access.hub_reachable.cache_clear()
    try:
        assert not hub_access.hub_reachable() and not hub_access.hub_reachable()
        assert asked == [hub_access.PROBE_TIMEOUT_S] and hub_access.PROBE_TIMEOUT_S <= 5
    finally:
        hub_access.hub_reachable.cache_clear()


def test_card_states_the_temperature_the_ece_and_the_abstention_threshold():
    scores = {"ece": 0.0812, "classwise_ece": 0.09, "brier": 0.31, "nll": 0.52}
    calibration = {"temperature": 1.734, "test_before": scores, "test_after": {**scores, "ece": 0.0213, "nll": 0.47},
                   "abstain": {"threshold": 0.6321, "validation_coverage": 0.9, "chosen_on": "validation",
                               "test": {"coverage": 0.893, "accuracy": 0.8125}}}  # fmt: skip
    results = {"model": "meanmax", "model_type": "glove-meanmax", "dataset": "mr", "test": {"accuracy": 0.8}, "calibration": calibration}
    text = model_card.card_text(RunRecord.from_dict(results), "me/meanmax-mr")
    assert "T = 1.734" in text
    assert "| expected calibration error (top-label, 15 equal-width bins, torchmetrics) | 0.0812 | 0.0213 |" in text
    assert "`config.abstain_threshold` = 0.6321" in text and "answers 89.3% of sentences with accuracy 0.8125" in text
    assert "the logits are divided by T" in text
    plain = model_card.card_text(RunRecord.from_dict({**results, "calibration": None}), "me/meanmax-mr")
    assert "No temperature scaling" in plain and "python -m pipelines.calibrate" in plain
    # a SetFit model has no config: its logistic head holds T and the threshold (pipelines.setfitting)
    setfit = model_card.card_text(RunRecord.from_dict({**results, "model": "setfit-mpnet", "model_type": "setfit"}), "me/setfit-mr")
    assert "`model.model_head.abstain_threshold` = 0.6321" in setfit and "config.abstain_threshold" not in setfit
    assert "the logistic head's logits are divided by T = 1.734" in setfit


def usage_code(card: str) -> str:
    """The Python block of the card's "Usage" section."""
    return card.split("## Usage", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def test_card_usage_loads_a_transformers_run_with_pipeline():
    results = {"model": "minilm", "model_type": "bert", "dataset": "mr", "test": {"accuracy": 0.8}}
    code = usage_code(model_card.card_text(RunRecord.from_dict(results), "me/minilm-mr"))
    assert code.splitlines() == ["from transformers import pipeline", "",
                                 'classifier = pipeline("text-classification", model="me/minilm-mr")',
                                 'classifier("a gorgeous, witty, seductive movie")']  # fmt: skip
    glove = model_card.card_text(RunRecord.from_dict({**results, "model": "meanmax", "model_type": "glove-meanmax"}), "me/meanmax-mr")
    assert 'pipeline("text-classification", model="me/meanmax-mr", trust_remote_code=True)' in usage_code(glove)


def test_card_usage_of_a_setfit_run_runs_and_gives_its_scaled_probabilities_and_threshold(tmp_path):
    """The card's code, run as a user pastes it, on a tiny SetFit run with T = 2 folded into its head and an
    abstention threshold (as `pipelines.setfitting` saves them): the setfit library loads it, not `pipeline()`."""
    import joblib
    import numpy as np

    from pipelines.calibration import apply_temperature
    from pipelines.inference import load_classifier
    from pipelines.runs.layout import SETFIT_HEAD_FILE

    folder = build_tiny_setfit(tmp_path / "setfit-run", ["negative", "positive"])
    head = joblib.load(folder / SETFIT_HEAD_FILE)
    apply_temperature(head, 2.0)
    head.abstain_threshold = 0.55
    joblib.dump(head, folder / SETFIT_HEAD_FILE)
    scores = {"ece": 0.08, "classwise_ece": 0.09, "brier": 0.31, "nll": 0.52}
    calibration = {"temperature": 2.0, "test_before": scores, "test_after": scores,
                   "abstain": {"threshold": 0.55, "validation_coverage": 0.9, "test": {"coverage": 0.9, "accuracy": 0.8}}}  # fmt: skip
    results = {"model": "setfit-tiny", "model_type": "setfit", "dataset": "mr", "test": {"accuracy": 0.8}, "calibration": calibration}
    text = model_card.card_text(RunRecord.from_dict(results), str(folder))
    assert ModelCard(text).data.library_name == "setfit" and "setfit" in ModelCard(text).data.tags
    code = usage_code(text)
    assert "pipeline(" not in code and f'SetFitModel.from_pretrained("{folder}")' in code
    assert "T is folded into the head" in code and "model.model_head.abstain_threshold" in code
    namespace = {}
    exec(code, namespace)  # noqa: S102 - the card's own snippet, on a local tiny run
    texts = namespace["texts"]
    probabilities = load_classifier(folder).probabilities(texts)  # the scaled ones the run scores with
    np.testing.assert_allclose(namespace["probabilities"], probabilities, atol=1e-6)
    assert list(namespace["labels"]) == [["negative", "positive"][k] for k in probabilities.argmax(axis=1)]
    assert namespace["answered"].tolist() == (probabilities.max(axis=1) >= 0.55).tolist()
    plain = usage_code(model_card.card_text(RunRecord.from_dict({**results, "calibration": None}), str(folder)))
    assert "predict_proba" in plain and "folded" not in plain and "abstain_threshold" not in plain


def test_the_hub_cli_answers_help_and_names_its_one_command(capsys):
    """Every script takes --help: `python -m pipelines.hub --help` was an error (exit 2)."""
    assert run_cli(hub.main, ["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m pipelines.hub push RUN_DIR")
    assert run_cli(hub.main, ["pull"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {hub.USAGE}"
    assert run_cli(hub.main, ["push", "/no/such/run"]) == 2
    assert capsys.readouterr().err.strip() == "error: /no/such/run: no such run folder"
