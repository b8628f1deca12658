"""Temperature scaling of a SetFit model's logistic-regression head: exact, prediction-preserving,
the same step as the Trainer flow's, and `python -m pipelines.calibrate` from saved predictions alone.
Tiny scikit-learn heads over synthetic embeddings; no sentence encoder is ever loaded."""

from __future__ import annotations

import copy
import json

import joblib
import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from pipelines.calibrate import main as calibrate
from pipelines.calibration import apply_temperature, calibration_scores, fit_temperature, model_temperature, scaled_probabilities
from pipelines.cli import run_cli
from pipelines.runs.io import read_validation_predictions, write_predictions, write_validation_predictions
from pipelines.runs.layout import SETFIT_HEAD_FILE
from pipelines.inference import head_logits
from pipelines.runs.record import RunRecord, write_results
from pipelines.setfitting import save_setfit_run, setfit_record

DIM = 8


def synthetic_head(num_labels: int, temperature: float, n: int = 40_000, seed: int = 0):
    """A head fitted on half of n embeddings whose labels are drawn from softmax(x W) (calibrated), then
    made `temperature` times too sure (coef_ and intercept_ multiplied by it). Returns the head and the
    other half, (embeddings (n/2, DIM), labels (n/2,)), on which dividing its logits by `temperature`
    calibrates it again."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, DIM))
    true_logits = embeddings @ rng.normal(scale=0.7, size=(DIM, num_labels))
    labels = (rng.random((n, 1)) > scaled_probabilities(true_logits, 1.0).cumsum(axis=1)).sum(axis=1)  # inverse-CDF draw
    half = n // 2
    head = LogisticRegression(C=100.0).fit(embeddings[:half], labels[:half])
    head.coef_, head.intercept_ = head.coef_ * temperature, head.intercept_ * temperature
    return head, embeddings[half:], labels[half:]


@pytest.mark.parametrize("num_labels", [2, 3])
def test_head_logits_give_the_heads_own_probabilities(num_labels):
    head, embeddings, _ = synthetic_head(num_labels, 1.0, n=2_000)
    logits = head_logits(head, embeddings)
    assert logits.shape == (len(embeddings), num_labels)
    np.testing.assert_allclose(scaled_probabilities(logits, 1.0), head.predict_proba(embeddings), rtol=0, atol=1e-12)


@pytest.mark.parametrize("num_labels", [2, 3])
@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_fitted_temperature_of_a_head_recovers_the_known_one(num_labels, temperature):
    head, embeddings, labels = synthetic_head(num_labels, temperature)
    fitted = fit_temperature(head_logits(head, embeddings), labels)
    assert fitted == pytest.approx(temperature, rel=0.06)
    before = calibration_scores(head.predict_proba(embeddings), labels)
    apply_temperature(head, fitted)
    after = calibration_scores(head.predict_proba(embeddings), labels)
    assert after["nll"] < before["nll"] and after["ece"] < before["ece"]


@pytest.mark.parametrize("num_labels", [2, 3])
@pytest.mark.parametrize("temperature", [0.05, 0.7, 1.0, 3.0, 80.0])
def test_scaled_head_gives_softmax_of_logits_over_t_and_the_same_predictions(num_labels, temperature):
    head, embeddings, _ = synthetic_head(num_labels, 1.0, n=4_000, seed=1)
    logits, predictions = head_logits(head, embeddings), head.predict(embeddings)
    coef, intercept = head.coef_.copy(), np.array(head.intercept_, copy=True)
    apply_temperature(head, temperature)
    np.testing.assert_allclose(head.predict_proba(embeddings), scaled_probabilities(logits, temperature), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(head.predict(embeddings), predictions)
    assert head.temperature_scaling == {"temperature": temperature, "folded_into": "coef_, intercept_"}
    assert model_temperature(head) == temperature
    np.testing.assert_allclose(head.coef_ * temperature, coef)  # the fitted head is recoverable
    np.testing.assert_allclose(head.intercept_ * temperature, intercept)


class StubSetFitModel:
    """What `setfitting` uses of a `SetFitModel` (encode, model_head, model_body, save_pretrained), over
    a scikit-learn head: the "encoder" reads each text as the index of a row of fixed embeddings."""

    def __init__(self, head, embeddings):
        import torch

        self.model_head, self.embeddings = head, embeddings
        self.model_body = torch.nn.Linear(DIM, DIM)  # counted as the encoder's parameters

    def encode(self, texts, batch_size=32, show_progress_bar=None):
        return self.embeddings[[int(text) for text in texts]]

    def save_pretrained(self, folder):
        joblib.dump(self.model_head, f"{folder}/{SETFIT_HEAD_FILE}")


def stub_run(num_labels: int, tmp_path, temperature_scaling: bool, carried: dict | None = None):
    """A stub SetFit model 3 times too sure, its record and predictions as `setfit_record` makes them,
    saved by `save_setfit_run` into tmp_path/run; returns (the folder, the unscaled head, the splits).
    `carried`: attributes the fitted head still holds (a head loaded from a calibrated run, fitted again)."""
    from datasets import Dataset

    head, embeddings, labels = synthetic_head(num_labels, 3.0, n=6_000, seed=2)
    for name, value in (carried or {}).items():
        setattr(head, name, value)
    splits = {"validation": Dataset.from_dict({"text": [str(i) for i in range(2_000)], "label": labels[:2_000].tolist()}),
              "test": Dataset.from_dict({"text": [str(i) for i in range(2_000, 3_000)], "label": labels[2_000:].tolist()})}  # fmt: skip
    model = StubSetFitModel(head, embeddings)
    unscaled = copy.deepcopy(head)
    names = [f"class{k}" for k in range(num_labels)]
    record, test_predictions, validation = setfit_record(model, splits, names, {"dataset": "toy", "model": "setfit-stub"}, seed=0)
    save_setfit_run(model, record, test_predictions, validation, str(tmp_path / "run"), temperature_scaling)
    return tmp_path / "run", unscaled, embeddings, labels


@pytest.mark.parametrize("num_labels", [2, 3])
def test_setfit_training_step_scales_the_head_as_the_trainer_flow_scales_a_model(num_labels, tmp_path, capsys):
    folder, unscaled, embeddings, labels = stub_run(num_labels, tmp_path, temperature_scaling=True)
    results = json.loads((folder / "results.json").read_text())
    saved = joblib.load(folder / SETFIT_HEAD_FILE)
    validation_labels, validation_logits = read_validation_predictions(folder / results["validation_predictions_file"])
    np.testing.assert_array_equal(validation_labels, labels[:2_000])
    np.testing.assert_allclose(validation_logits, head_logits(unscaled, embeddings[:2_000]), rtol=1e-6, atol=1e-5)  # before scaling
    temperature = results["calibration"]["temperature"]
    assert temperature == pytest.approx(fit_temperature(validation_logits, validation_labels))
    assert temperature == pytest.approx(3.0, rel=0.15) and saved.temperature_scaling["temperature"] == temperature
    rows = pq.read_table(folder / "predictions.parquet").to_pandas()
    test = embeddings[2_000:3_000]
    np.testing.assert_allclose(np.stack(rows["probabilities"]), saved.predict_proba(test), atol=1e-6)  # the saved head's
    np.testing.assert_array_equal(rows["prediction"], unscaled.predict(test))  # argmax unchanged
    assert results["test"]["accuracy"] == pytest.approx(np.mean(unscaled.predict(test) == labels[2_000:3_000]))
    before = calibration_scores(unscaled.predict_proba(test), labels[2_000:3_000])
    assert results["calibration"]["test_before"] == pytest.approx(before, abs=1e-6)
    assert results["calibration"]["test_after"]["ece"] < before["ece"]
    assert saved.abstain_threshold == results["calibration"]["abstain"]["threshold"] and saved.abstain_coverage == 0.9
    assert f"temperature scaling: T = {temperature:.3f}" in capsys.readouterr().out


def test_setfit_training_step_off_saves_validation_logits_and_an_unscaled_head(tmp_path):
    folder, unscaled, embeddings, _ = stub_run(2, tmp_path, temperature_scaling=False)
    results = json.loads((folder / "results.json").read_text())
    saved = joblib.load(folder / SETFIT_HEAD_FILE)
    assert "calibration" not in results and results["validation_predictions_file"] == "validation_predictions.parquet"
    assert model_temperature(saved) == 1.0 and np.array_equal(saved.coef_, unscaled.coef_)
    rows = pq.read_table(folder / "predictions.parquet").to_pandas()
    np.testing.assert_allclose(np.stack(rows["probabilities"]), unscaled.predict_proba(embeddings[2_000:3_000]), atol=1e-6)


def test_a_head_fitted_again_from_a_calibrated_run_saves_none_of_its_calibration(tmp_path, capsys):
    """`finetune.py --setfit --model <a calibrated SetFit run>`: setfit's `model_head.fit` refits `coef_` but keeps the
    loaded head's attributes, so --temperature_scaling false saved the old run's T and threshold with the new head."""
    carried = {"temperature_scaling": {"temperature": 4.0, "folded_into": "coef_, intercept_"}, "abstain_threshold": 0.9,
               "abstain_coverage": 0.9}  # fmt: skip
    folder, unscaled, _, _ = stub_run(2, tmp_path, temperature_scaling=False, carried=carried)
    saved = joblib.load(folder / SETFIT_HEAD_FILE)
    assert model_temperature(saved) == 1.0 and saved.abstain_threshold is None and saved.abstain_coverage is None
    np.testing.assert_array_equal(saved.coef_, unscaled.coef_)  # the head as fitted: nothing multiplied back
    assert "setfit-stub: its saved calibration dropped before fine-tuning" in capsys.readouterr().out


def committed_style_run(folder, num_labels: int):
    """A SetFit run folder as runs made before the step are: the head (too sure), float32 test
    probabilities, validation *log probabilities*, a record without `calibration`, and no encoder
    files at all (so calibrating it cannot have loaded one). Returns (head, embeddings, labels)."""
    head, embeddings, labels = synthetic_head(num_labels, 2.0, n=6_000, seed=3)
    folder.mkdir()
    joblib.dump(head, folder / SETFIT_HEAD_FILE)
    validation, test = embeddings[:2_000], embeddings[2_000:3_000]
    write_validation_predictions(folder / "validation_predictions.parquet", labels[:2_000], np.log(head.predict_proba(validation)))
    write_predictions(folder / "predictions.parquet", range(1_000), labels[2_000:3_000], head.predict_proba(test))
    record = RunRecord.new({"dataset": "toy", "model": "setfit-stub"}, model_type="setfit", test={"accuracy": 0.5},
                           label_names=[f"class{k}" for k in range(num_labels)], predictions_file="predictions.parquet",
                           validation_predictions_file="validation_predictions.parquet")  # fmt: skip
    write_results(folder, record)
    return head, embeddings, labels


@pytest.mark.parametrize("num_labels", [2, 3])
def test_calibrate_command_scales_a_setfit_run_from_its_saved_predictions(num_labels, tmp_path, capsys):
    folder = tmp_path / "setfit-run"
    head, embeddings, labels = committed_style_run(folder, num_labels)
    assert run_cli(calibrate, [str(folder)]) == 0
    results = json.loads((folder / "results.json").read_text())
    temperature = results["calibration"]["temperature"]
    # log probabilities stored as float32 are the head's logits up to a per-row constant: the same T
    assert temperature == pytest.approx(fit_temperature(head_logits(head, embeddings[:2_000]), labels[:2_000]), rel=1e-4)
    saved = joblib.load(folder / SETFIT_HEAD_FILE)
    assert saved.temperature_scaling == {"temperature": temperature, "folded_into": "coef_, intercept_"}
    np.testing.assert_allclose(saved.coef_ * temperature, head.coef_)
    test = embeddings[2_000:3_000]
    rows = pq.read_table(folder / "predictions.parquet").to_pandas()
    np.testing.assert_allclose(np.stack(rows["probabilities"]), saved.predict_proba(test), atol=1e-5)
    np.testing.assert_array_equal(rows["prediction"], head.predict(test))
    assert results["test"] == {"accuracy": 0.5} and saved.abstain_threshold == results["calibration"]["abstain"]["threshold"]
    assert f"{folder}: T = " in capsys.readouterr().out

    assert run_cli(calibrate, [str(folder)]) == 0  # a second pass would scale twice: left as it is, nothing to do
    assert f"already calibrated, left as they are: {folder}" in capsys.readouterr().err


def test_calibrate_refuses_a_setfit_run_without_its_head(tmp_path, capsys):
    folder = tmp_path / "headless"
    committed_style_run(folder, 2)
    (folder / SETFIT_HEAD_FILE).unlink()
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert run_cli(calibrate, [str(folder)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {folder}: a SetFit run without its head ({SETFIT_HEAD_FILE}) to scale"
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def test_head_file_name_is_setfits():
    setfit_modeling = pytest.importorskip("setfit.modeling")
    assert SETFIT_HEAD_FILE == setfit_modeling.MODEL_HEAD_NAME


@pytest.mark.parametrize("num_labels", [2, 3])
def test_refit_removes_the_saved_temperature_and_fits_it_again(num_labels, tmp_path, capsys):
    """--refit of a run already scaled gives what one first fit gives (nothing scaled twice), and a run whose
    validation sentences identify no temperature goes back to its trained scale, saying why."""
    folder = tmp_path / "setfit-run"
    head, embeddings, labels = committed_style_run(folder, num_labels)
    assert run_cli(calibrate, [str(folder)]) == 0
    first = json.loads((folder / "results.json").read_text())["calibration"]
    probabilities = np.stack(pq.read_table(folder / "predictions.parquet").to_pandas()["probabilities"])
    assert run_cli(calibrate, [str(folder), "--refit"]) == 0
    again = json.loads((folder / "results.json").read_text())["calibration"]
    assert again["temperature"] == pytest.approx(first["temperature"], rel=1e-6)
    np.testing.assert_allclose(np.stack(pq.read_table(folder / "predictions.parquet").to_pandas()["probabilities"]), probabilities, atol=2e-6)
    np.testing.assert_allclose(joblib.load(folder / SETFIT_HEAD_FILE).coef_ * again["temperature"], head.coef_, rtol=1e-6)

    validation_labels, validation_logits = read_validation_predictions(folder / "validation_predictions.parquet")
    write_validation_predictions(folder / "validation_predictions.parquet", validation_logits[:5].argmax(axis=1), validation_logits[:5])
    assert run_cli(calibrate, [str(folder), "--refit"]) == 0  # 5 of 5 right: no temperature is identifiable
    results = json.loads((folder / "results.json").read_text())
    assert "T -> 0 (5 of 5 validation sentences right)" in results["calibration"]["skipped"]
    saved = joblib.load(folder / SETFIT_HEAD_FILE)
    np.testing.assert_allclose(saved.coef_, head.coef_, rtol=1e-6)  # the trained head again
    assert saved.temperature_scaling is None  # its threshold chosen again, on the unscaled probabilities
    assert saved.abstain_threshold == results["calibration"]["abstain"]["threshold"] and results["calibration"]["abstain"]["probabilities"] == "unscaled"
    rows = pq.read_table(folder / "predictions.parquet").to_pandas()
    np.testing.assert_allclose(np.stack(rows["probabilities"]), head.predict_proba(embeddings[2_000:3_000]), atol=2e-5)
