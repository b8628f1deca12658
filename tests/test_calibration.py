"""Calibration scores, temperature scaling, and the temperature travelling with the saved model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, RobertaConfig, RobertaForSequenceClassification, pipeline

import train
from pipelines.calibrate import main as calibrate
from pipelines.calibration import (
    abstain_threshold,
    apply_temperature,
    bias_corrected_temperature_scaling,
    calibrate_probabilities,
    calibration_scores,
    conformal_sets,
    consistency_test,
    consistent_labels,
    em_label_shift,
    resampled_top_label_ece,
    fit_temperature,
    model_temperature,
    output_layer_name,
    prior_corrected,
    scaled_probabilities,
    set_scores,
    top_label_ece,
)
from pipelines.cli import run_cli
from pipelines.export import ExportArguments, export
from pipelines.inference import OnnxSequenceClassifier
from pipelines.runs.io import read_validation_predictions
from tests.conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS, write_glove_text, write_semeval
from tests.tiny_bert import build_tiny_bert
from tests.tiny_glove import build_tiny_glove

TEXTS = ["a good fun film", "the movie is n't good , but it is not bad", "dull", "very very bad !"]


def synthetic(temperature: float, n: int = 20_000, num_labels: int = 3, seed: int = 0):
    """Labels drawn from softmax(z), logits reported as z * temperature: calibrated after dividing by it."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(scale=2.0, size=(n, num_labels))
    probabilities = scaled_probabilities(true_logits, 1.0)
    labels = (rng.random((n, 1)) > probabilities.cumsum(axis=1)).sum(axis=1)  # inverse-CDF draw per row
    return true_logits * temperature, labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_fitted_temperature_recovers_the_known_one(temperature):
    logits, labels = synthetic(temperature)
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_scaling_lowers_nll_and_ece_of_overconfident_logits():
    logits, labels = synthetic(3.0)
    fitted = fit_temperature(logits, labels)
    before = calibration_scores(scaled_probabilities(logits, 1.0), labels)
    after = calibration_scores(scaled_probabilities(logits, fitted), labels)
    assert after["nll"] < before["nll"] and after["ece"] < before["ece"] / 3 and after["brier"] < before["brier"]


@pytest.mark.parametrize("temperature", [0.05, 0.7, 1.0, 3.0, 80.0])
def test_scaling_never_changes_a_prediction(temperature):
    logits = np.random.default_rng(1).normal(scale=5.0, size=(5_000, 3))
    np.testing.assert_array_equal(scaled_probabilities(logits, temperature).argmax(axis=1), logits.argmax(axis=1))



def test_bias_corrected_temperature_scaling_recovers_a_known_temperature_and_biases():
    """Labels drawn from softmax(z); logits reported as (z - b) * 2: one temperature cannot undo the biases, BCTS can
    (fitted on one half, scored on the other against the true probabilities)."""
    logits, labels = synthetic(1.0, n=40_000)
    biases = np.array([0.8, 0.0, -0.8])
    reported = (logits - biases) * 2.0
    truth = scaled_probabilities(logits[20_000:], 1.0)
    bcts = bias_corrected_temperature_scaling(reported[:20_000], labels[:20_000], reported[20_000:])
    temperature = scaled_probabilities(reported[20_000:], fit_temperature(reported[:20_000], labels[:20_000]))
    assert np.abs(bcts - truth).max() < 0.03 < np.abs(temperature - truth).max()
    assert calibration_scores(bcts, labels[20_000:])["nll"] < calibration_scores(temperature, labels[20_000:])["nll"]
    with pytest.raises(ValueError, match="at least one validation sentence"):
        bias_corrected_temperature_scaling(reported[:0], labels[:0], reported)


def test_prior_correction_is_bayes_rule_on_a_hand_example():
    # p_s = (0.5, 0.5) under source shares (0.5, 0.5), target (0.8, 0.2): p_t ∝ (0.5 · 1.6, 0.5 · 0.4)
    np.testing.assert_allclose(prior_corrected([[0.5, 0.5], [0.9, 0.1]], [0.5, 0.5], [0.8, 0.2]),
                               [[0.8, 0.2], [0.9 * 1.6 / (0.9 * 1.6 + 0.1 * 0.4), 0.1 * 0.4 / (0.9 * 1.6 + 0.1 * 0.4)]])  # fmt: skip
    same = np.array([[0.3, 0.7]])
    np.testing.assert_allclose(prior_corrected(same, [0.4, 0.6], [0.4, 0.6]), same)


def label_shifted(shares, n: int, seed: int, source=None, separation: float = 2.0):
    """Sentences of a pure label shift: class y's feature x ~ N(separation · y, 1) whatever the shares (p(x | y)
    fixed), drawn with class `shares`, and the exact posteriors under the class shares `source` (default even), so
    calibrated for sentences drawn with `source`'s shares."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(shares), size=n, p=shares)
    x = rng.normal(separation * labels, 1.0)
    source = np.full(len(shares), 1 / len(shares)) if source is None else np.asarray(source)
    joint = np.exp(-((x[:, None] - separation * np.arange(len(shares))) ** 2) / 2) * source  # (n, K)
    return joint / joint.sum(axis=1, keepdims=True), labels


def test_em_estimates_the_shares_of_a_pure_label_shift_and_its_probabilities_become_calibrated():
    source, target = np.array([0.2, 0.3, 0.5]), np.array([0.7, 0.2, 0.1])
    validation, validation_labels = label_shifted(source, 30_000, seed=0, source=source)
    shifted, labels = label_shifted(target, 30_000, seed=1, source=source)
    adapted, estimated = em_label_shift(validation, validation_labels, shifted)
    np.testing.assert_allclose(estimated, target, atol=0.015)
    np.testing.assert_allclose(adapted.sum(axis=1), 1.0)
    assert calibration_scores(adapted, labels)["ece"] < 0.015 and calibration_scores(shifted, labels)["ece"] > 0.03
    # no shift: the shares stay the source's (the sample's label shares, give or take their noise), the probabilities as they were
    same, unmoved = em_label_shift(validation, validation_labels, validation)
    np.testing.assert_allclose(unmoved, source, atol=0.015)
    np.testing.assert_allclose(same, validation, atol=0.02)


def test_em_runs_to_its_fixed_point_where_the_classes_overlap():
    """Overlapping classes converge slowly: the estimate is EM's fixed point (one more round leaves the shares within
    1e-5), which the package's default of 100 rounds does not reach here."""
    from abstention.label_shift import EMImbalanceAdapter

    validation, validation_labels = label_shifted([1 / 3] * 3, 30_000, seed=0, separation=1.0)
    shifted, _ = label_shifted([0.7, 0.2, 0.1], 30_000, seed=1, separation=1.0)
    source = np.bincount(validation_labels) / len(validation_labels)
    _, estimated = em_label_shift(validation, validation_labels, shifted)
    np.testing.assert_allclose(prior_corrected(shifted, source, estimated).mean(axis=0), estimated, atol=1e-5)
    short = EMImbalanceAdapter(estimate_priors_from_valid_labels=True)(
        tofit_initial_posterior_probs=shifted, valid_posterior_probs=validation, valid_labels=np.eye(3)[validation_labels])
    assert np.abs(source * short.multipliers - estimated).max() > 0.005


def test_a_class_missing_from_validation_is_refused():
    with pytest.raises(ValueError, match="class 2 has no validation sentence"):
        em_label_shift(np.full((4, 3), 1 / 3), np.array([0, 1, 0, 1]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="source share of class 1 is 0"):
        prior_corrected([[0.5, 0.5]], [1.0, 0.0], [0.5, 0.5])

def test_conformal_sets_match_a_hand_computation():
    """Nine validation sentences, all of label 0: nonconformity 1 - p(gold) = .05 .1 .15 .2 .3 .35 .4 .45 .6. A
    label's p-value is (#{validation scores >= its score} + 1) / 10; at alpha 0.25 it needs two validation scores
    at or above its own: a label is in the set when its score <= 0.45, i.e. its probability >= 0.55."""
    gold = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.65, 0.6, 0.55, 0.4])
    validation = np.stack([gold, 1 - gold], axis=1)
    test = np.array([[0.7, 0.3], [0.5, 0.5], [0.56, 0.44], [0.4, 0.6]])
    sets = conformal_sets(validation, np.zeros(9, dtype=int), test, alpha=0.25)
    np.testing.assert_array_equal(sets, [[1, 0], [0, 0], [1, 0], [0, 1]])
    assert set_scores(sets, [0, 1, 0, 0]) == {"coverage": 0.5, "mean_set_size": 0.75, "empty": 0.25}
    with pytest.raises(ValueError, match="alpha in"):
        conformal_sets(validation, np.zeros(9, dtype=int), test, alpha=1.0)


@pytest.mark.parametrize("alpha", [0.1, 0.05])
def test_conformal_sets_cover_as_promised_on_exchangeable_sentences(alpha):
    logits, labels = synthetic(1.0, n=20_000)
    probabilities = scaled_probabilities(logits, 1.0)
    sets = conformal_sets(probabilities[:10_000], labels[:10_000], probabilities[10_000:], alpha)
    found = set_scores(sets, labels[10_000:])
    assert 1 - alpha - 0.01 < found["coverage"] < 1 - alpha + 0.015 and 1.0 < found["mean_set_size"] < 3.0


def test_an_as_is_scorer_is_calibrated_from_its_probabilities_alone():
    logits, labels = synthetic(2.5)
    probabilities = scaled_probabilities(logits, 1.0)  # a scorer 2.5 times too sure, known only by its probabilities
    record, scaled = calibrate_probabilities(probabilities[:10_000], labels[:10_000], probabilities[10_000:], labels[10_000:])
    assert record["temperature"] == pytest.approx(2.5, rel=0.06)
    np.testing.assert_allclose(scaled, scaled_probabilities(logits[10_000:], record["temperature"]), atol=1e-9)
    np.testing.assert_array_equal(scaled.argmax(axis=1), probabilities[10_000:].argmax(axis=1))
    assert record["test_before"] == pytest.approx(calibration_scores(probabilities[10_000:], labels[10_000:]))
    assert record["test_after"]["ece"] < record["test_before"]["ece"] / 3
    assert record["fitted_on"] == "log probabilities of 10000 validation sentences"
    expected = set_scores(conformal_sets(scaled_probabilities(logits[:10_000], record["temperature"]), labels[:10_000], scaled, 0.1), labels[10_000:])
    assert record["conformal"]["0.1"] == pytest.approx(expected) and record["conformal"]["validation_sentences"] == 10_000


def test_library_ece_matches_a_hand_computation():
    """Six predictions, confidences in four of the 15 bins (width 1/15), none on a boundary."""
    probabilities = np.array([[0.95, 0.05], [0.96, 0.04], [0.30, 0.70], [0.72, 0.28], [0.45, 0.55], [0.52, 0.48]])
    labels = np.array([0, 1, 1, 0, 0, 0])
    # bin 14 [14/15, 1]: conf 0.95, 0.96, acc 1/2; bin 10: conf 0.70, 0.72, acc 1; bin 8: 0.55, wrong; bin 7: 0.52, right
    hand = (2 * abs(0.955 - 0.5) + 2 * abs(0.71 - 1.0) + abs(0.55 - 0.0) + abs(0.52 - 1.0)) / 6
    # classwise: class 1 has p = 0.05, 0.04, 0.70, 0.28, 0.55, 0.48 (bins 0, 0, 10, 4, 8, 7), class 0 the complements
    class1 = (abs(0.045 - 0.5) * 2 + abs(0.70 - 1) + abs(0.28 - 0) + abs(0.55 - 0) + abs(0.48 - 0)) / 6
    class0 = (abs(0.955 - 0.5) * 2 + abs(0.30 - 0) + abs(0.72 - 1) + abs(0.45 - 1) + abs(0.52 - 1)) / 6
    brier = np.mean([(p[0] - (y == 0)) ** 2 + (p[1] - (y == 1)) ** 2 for p, y in zip(probabilities, labels)])
    nll = -np.mean(np.log(probabilities[np.arange(6), labels]))
    scores = calibration_scores(probabilities, labels)
    assert scores["ece"] == pytest.approx(hand, abs=1e-6)
    assert scores["classwise_ece"] == pytest.approx((class0 + class1) / 2, abs=1e-6)
    assert scores["brier"] == pytest.approx(brier) and scores["nll"] == pytest.approx(nll)


def test_consistency_test_does_not_reject_labels_drawn_from_the_probabilities():
    """Under H0 a Monte Carlo p-value is uniform on {1/40, ..., 1}: few small ones, mean near 0.5."""
    logits, _ = synthetic(1.0, n=200, num_labels=2)
    probabilities = scaled_probabilities(logits, 1.0)
    rng = np.random.default_rng(7)
    p_values = np.array([consistency_test([(probabilities, consistent_labels(probabilities, rng))], resamples=39, seed=draw)["p_value"]
                         for draw in range(100)])  # fmt: skip
    assert np.mean(p_values < 0.05) < 0.10 and 0.4 < p_values.mean() < 0.62


def test_consistency_test_rejects_overconfident_probabilities_well_above_the_floor():
    logits, labels = synthetic(3.0, n=1000, num_labels=2)  # labels drawn from softmax(logits / 3)
    found = consistency_test([(scaled_probabilities(logits, 1.0), labels)], resamples=200)
    assert found["p_value"] < 0.01 and found["ece"] > found["floor"] + 5 * found["floor_sd"]
    assert found["ece"] == pytest.approx(calibration_scores(scaled_probabilities(logits, 1.0), labels)["ece"])


def test_the_floor_shrinks_as_the_test_set_grows():
    floors = {n: consistency_test([(scaled_probabilities(logits, 1.0), labels)], resamples=50)["floor"]
              for n, (logits, labels) in ((n, synthetic(1.0, n=n, num_labels=2)) for n in (250, 4000))}  # fmt: skip
    assert floors[4000] < floors[250] / 2  # the floor falls about as 1 / sqrt(n)


def test_the_floor_is_the_reports_ece_of_labels_drawn_from_the_probabilities():
    logits, labels = synthetic(1.0, n=300)
    probabilities = scaled_probabilities(logits, 1.0)
    drawn = consistent_labels(probabilities, np.random.default_rng(5).spawn(1)[0])
    floor = consistency_test([(probabilities, labels)], resamples=1, seed=5)["floor"]
    assert floor == pytest.approx(calibration_scores(probabilities, drawn)["ece"], abs=1e-6)
    assert calibration_scores(probabilities, drawn)["ece"] == top_label_ece(torch.tensor(probabilities), torch.tensor(drawn))
    # a group's statistic is the mean ECE of its runs, its null the mean of their resampled ECEs
    other = synthetic(2.0, n=300, seed=1)
    group = consistency_test([(probabilities, labels), (scaled_probabilities(other[0], 1.0), other[1])], resamples=20)
    single = consistency_test([(probabilities, labels)], resamples=20)
    assert group["ece"] == pytest.approx(np.mean([single["ece"], calibration_scores(scaled_probabilities(other[0], 1.0), other[1])["ece"]]))
    assert group["run_p_values"][0] == single["p_value"] and group["p_value"] == 1 / 21 < 0.05 < single["p_value"]
    with pytest.raises(ValueError, match="at least one run"):
        consistency_test([])


def test_every_round_at_once_is_the_reports_ece_of_each_round():
    """`resampled_top_label_ece` bins once for all rounds; each round equals torchmetrics' call on its labels."""
    for num_labels, n in ((2, 300), (3, 2000)):
        logits, _ = synthetic(2.0, n=n, num_labels=num_labels, seed=num_labels)
        probabilities = scaled_probabilities(logits, 1.0)
        drawn = consistent_labels(probabilities, np.random.default_rng(3), rounds=20)  # (20, n)
        one_by_one = np.random.default_rng(3)
        assert np.array_equal(drawn, np.stack([consistent_labels(probabilities, one_by_one) for _ in range(20)]))
        each = [top_label_ece(torch.tensor(probabilities), torch.from_numpy(labels)) for labels in drawn]
        assert resampled_top_label_ece(probabilities, drawn) == pytest.approx(each, abs=1e-6)


def test_labels_drawn_from_the_probabilities_have_their_frequencies():
    probabilities = np.tile([[0.2, 0.5, 0.3]], (20_000, 1))
    drawn = consistent_labels(probabilities, np.random.default_rng(0))
    assert np.bincount(drawn, minlength=3) / 20_000 == pytest.approx([0.2, 0.5, 0.3], abs=0.015)


def raw_logits(folder, texts=TEXTS) -> np.ndarray:
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        return np.vstack([model(**tokenizer([text], return_tensors="pt")).logits.numpy() for text in texts])


def scaled_copy(source, target, temperature: float):
    model = AutoModelForSequenceClassification.from_pretrained(source)
    apply_temperature(model, temperature)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def scaled_models(tmp_path_factory):
    """name -> (unscaled folder, folder with T = 2.5): a GloVe BiLSTM and a tiny stock BERT."""
    root = tmp_path_factory.mktemp("calibrated")
    sources = {"bilstm": build_tiny_glove(root / "bilstm", "bilstm"), "bert": build_tiny_bert(root / "bert", ["negative", "positive"])}
    for folder in sources.values():  # random heads are near-uniform: sharpen them so T visibly matters
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        with torch.no_grad():
            model.classifier.weight.mul_(10.0)
        model.save_pretrained(folder)
    return {name: (folder, scaled_copy(folder, root / f"{name}-scaled", 2.5)) for name, folder in sources.items()}


@pytest.mark.parametrize("name", ["bilstm", "bert"])
def test_a_classifier_and_a_config_json_as_read_say_the_models_own_temperature(scaled_models, name):
    """What evaluate_pretrained.py records of a scored run folder (`Classifier.temperature`), and what an ONNX export's
    `config.json`, read as a dict, says; a stock config's own `temperature` (generation's) is not ours."""
    from pipelines.inference import TorchSequenceClassifier

    source, scaled = scaled_models[name]
    assert TorchSequenceClassifier.from_pretrained(scaled).temperature == pytest.approx(2.5)
    assert TorchSequenceClassifier.from_pretrained(source).temperature == 1.0
    assert model_temperature(json.loads((scaled / "config.json").read_text())) == pytest.approx(2.5)
    assert model_temperature(json.loads((source / "config.json").read_text())) == 1.0
    assert model_temperature({"model_type": "bert", "temperature": 0.7}) == 1.0


@pytest.mark.parametrize("name", ["bilstm", "bert"])
def test_pipeline_probabilities_are_softmax_of_logits_over_t(scaled_models, name):
    source, scaled = scaled_models[name]
    expected = scaled_probabilities(raw_logits(source), 2.5)
    assert model_temperature(AutoModelForSequenceClassification.from_pretrained(scaled).config) == pytest.approx(2.5)
    classify = pipeline("text-classification", model=str(scaled), top_k=None)
    outputs = classify(TEXTS)
    labels = ["negative", "positive"]
    got = np.array([[next(item["score"] for item in output if item["label"] == label) for label in labels] for output in outputs])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, scaled_probabilities(raw_logits(source), 1.0), atol=1e-3)  # the scaling is visible
    np.testing.assert_array_equal(got.argmax(axis=1), raw_logits(source).argmax(axis=1))


def test_stock_model_records_the_folded_temperature_and_its_layer(scaled_models):
    source, scaled = scaled_models["bert"]
    config = json.loads((scaled / "config.json").read_text())
    assert config["temperature_scaling"] == {"temperature": 2.5, "folded_into": "classifier"}
    original = AutoModelForSequenceClassification.from_pretrained(source).classifier
    folded = AutoModelForSequenceClassification.from_pretrained(scaled).classifier
    torch.testing.assert_close(folded.weight * 2.5, original.weight)  # the trained scale is recoverable
    torch.testing.assert_close(folded.bias * 2.5, original.bias)


def test_output_layer_of_a_roberta_style_head_is_its_out_proj():
    config = RobertaConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, num_labels=3)
    assert output_layer_name(RobertaForSequenceClassification(config)) == "classifier.out_proj"


def test_removing_a_folded_temperature_restores_the_trained_output_layer():
    from pipelines.calibration import apply_temperature, remove_temperature, set_abstain_threshold

    config = RobertaConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, num_labels=3)
    model = RobertaForSequenceClassification(config)
    trained = {name: tensor.clone() for name, tensor in model.classifier.out_proj.state_dict().items()}
    apply_temperature(model, 2.5)
    set_abstain_threshold(model.config, np.array([[0.7, 0.2, 0.1], [0.4, 0.3, 0.3]]))
    assert remove_temperature(model) == 2.5 and remove_temperature(model) == 1.0  # a second removal changes nothing
    for name, tensor in model.classifier.out_proj.state_dict().items():
        torch.testing.assert_close(tensor, trained[name])
    assert model.config.temperature_scaling is None and model.config.abstain_threshold is None


@pytest.mark.parametrize("name", ["bilstm", "bert"])
def test_onnx_export_of_a_scaled_model_gives_scaled_probabilities(scaled_models, tmp_path, name):
    source, scaled = scaled_models[name]
    export(ExportArguments(run_dir=str(scaled), output=str(tmp_path / "onnx")))
    probabilities = OnnxSequenceClassifier.from_folder(tmp_path / "onnx", batch_size=2).probabilities(TEXTS)
    np.testing.assert_allclose(probabilities, scaled_probabilities(raw_logits(source), 2.5), atol=1e-5)


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory):
    """The same tiny GloVe run (mean, tiny SemEval, 3 epochs) with temperature scaling and without:
    name -> (folder, results.json, predictions.parquet rows)."""
    root = tmp_path_factory.mktemp("trained")
    data = write_semeval(root / "data")
    glove = write_glove_text(root / "glove.txt", NEUTRAL_WORDS + POSITIVE_WORDS + NEGATIVE_WORDS)
    argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(data), "--embeddings", str(glove)]
    fast = ["--num_train_epochs", "3", "--per_device_train_batch_size", "16", "--learning_rate", "0.02"]
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTIBENCH_CACHE", str(root / "cache"))
        for name, extra in (("scaled", []), ("plain", ["--temperature_scaling", "false"])):
            assert run_cli(train.main, [*argv, *fast, "--output_dir", str(root / name), *extra]) == 0
            rows = pq.read_table(root / name / "predictions.parquet").to_pandas()
            runs[name] = (root / name, json.loads((root / name / "results.json").read_text()), rows)
    return runs


def test_training_step_stores_t_and_leaves_every_test_score_unchanged(trained_pair):
    folder, scaled, scaled_rows = trained_pair["scaled"]
    _, plain, plain_rows = trained_pair["plain"]
    for key in ("test", "confusion_matrix", "per_class", "selection"):
        assert scaled[key] == plain[key]
    assert (scaled_rows["prediction"] == plain_rows["prediction"]).all()

    calibration = scaled["calibration"]
    temperature = calibration["temperature"]
    assert "calibration" not in plain and plain["validation_predictions_file"] == "validation_predictions.parquet"
    config = json.loads((folder / "config.json").read_text())
    assert config["temperature"] == pytest.approx(temperature) and temperature != pytest.approx(1.0)
    labels, logits = read_validation_predictions(folder / scaled["validation_predictions_file"])
    assert fit_temperature(logits, labels) == pytest.approx(temperature)  # fitted on validation, not test
    plain_probabilities = np.stack(plain_rows["probabilities"])
    expected = scaled_probabilities(np.log(plain_probabilities), temperature)  # the saved model's probabilities
    np.testing.assert_allclose(np.stack(scaled_rows["probabilities"]), expected, atol=1e-5)
    test_labels = plain_rows["label"].to_numpy()
    assert calibration["test_before"] == pytest.approx(calibration_scores(plain_probabilities, test_labels), abs=1e-5)
    assert calibration["test_after"] == pytest.approx(calibration_scores(expected, test_labels), abs=1e-5)
    validation = scaled_probabilities(logits, temperature)
    for alpha in (0.1, 0.05):  # the conformal sets, calibrated on the same validation sentences
        sets = conformal_sets(validation, labels, expected, alpha)
        assert calibration["conformal"][f"{alpha:g}"] == pytest.approx(set_scores(sets, test_labels), abs=1e-6)


def test_calibrate_command_does_what_training_does(trained_pair, tmp_path, capsys):

    folder = shutil.copytree(trained_pair["plain"][0], tmp_path / "plain")
    assert run_cli(calibrate, [str(folder)]) == 0
    _, scaled, scaled_rows = trained_pair["scaled"]
    results = json.loads((folder / "results.json").read_text())
    calibration, expected = results["calibration"], scaled["calibration"]
    assert calibration["temperature"] == pytest.approx(expected["temperature"])
    for key in ("test_before", "test_after"):
        assert calibration[key] == pytest.approx(expected[key], abs=1e-5)
    assert results["test"] == scaled["test"]
    assert json.loads((folder / "config.json").read_text())["temperature"] == pytest.approx(scaled["calibration"]["temperature"])
    rows = pq.read_table(folder / "predictions.parquet").to_pandas()
    np.testing.assert_allclose(np.stack(rows["probabilities"]), np.stack(scaled_rows["probabilities"]), atol=1e-5)
    assert (rows["prediction"] == scaled_rows["prediction"]).all()
    assert f"{folder}: T = " in capsys.readouterr().out
    from pipelines.runs.record import weights_fingerprint

    # the weights changed in place: the record's fingerprint is the new files', as a student of the run will record
    assert results["weights_fingerprint"] == weights_fingerprint(folder)[:16] != trained_pair["plain"][1]["weights_fingerprint"]

    assert run_cli(calibrate, [str(folder)]) == 0  # a second pass would scale twice: left as it is, nothing to do
    assert f"already calibrated, left as they are: {folder}" in capsys.readouterr().err
    assert json.loads((folder / "results.json").read_text())["calibration"] == calibration


def test_calibrate_says_a_skipped_calibration_was_skipped_not_done(trained_pair, tmp_path, capsys):
    """A run whose fit identified no temperature ({"skipped": why}) was listed as "already calibrated"."""
    folder = shutil.copytree(trained_pair["plain"][0], tmp_path / "skipped")
    results = json.loads((folder / "results.json").read_text())
    (folder / "results.json").write_text(json.dumps(results | {"calibration": {"skipped": "the NLL's minimum lies past T = 0.01"}}))
    assert run_cli(calibrate, [str(folder)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"{folder}: temperature scaling was tried and skipped (the NLL's minimum lies past T = 0.01), left as it is "
                      "(--refit tries again)") and "already calibrated" not in "".join(err)  # fmt: skip
    assert run_cli(calibrate, [str(folder), "--refit"]) == 0 and "temperature" in json.loads((folder / "results.json").read_text())["calibration"]


def test_calibrate_names_the_folders_without_validation_predictions(trained_pair, tmp_path, capsys):

    old = shutil.copytree(trained_pair["plain"][0], tmp_path / "old")
    (old / "validation_predictions.parquet").unlink()
    new = shutil.copytree(trained_pair["plain"][0], tmp_path / "new")
    assert run_cli(calibrate, [str(old), str(new)]) == 0
    assert capsys.readouterr().err.strip() == f"no validation predictions (re-train to save them), left as they are: {old}"
    assert "calibration" not in json.loads((old / "results.json").read_text())
    assert "calibration" in json.loads((new / "results.json").read_text())
    assert run_cli(calibrate, [str(old)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "error: no run folder left to calibrate"


def test_calibrate_checks_every_folder_before_writing(trained_pair, tmp_path, capsys):

    good = shutil.copytree(trained_pair["plain"][0], tmp_path / "good")
    before = {path.name: path.read_bytes() for path in good.iterdir() if path.is_file()}
    assert run_cli(calibrate, [str(good), str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nowhere'}: no such run folder"
    assert {path.name: path.read_bytes() for path in good.iterdir() if path.is_file()} == before
    # the diff review: an already calibrated folder without its model (a compact record) is named and left, not refused
    compact = shutil.copytree(trained_pair["scaled"][0], tmp_path / "compact")
    (compact / "model.safetensors").unlink()
    assert run_cli(calibrate, [str(compact)]) == 0 and f"already calibrated, left as they are: {compact}" in capsys.readouterr().err


def test_calibrate_writes_the_model_card_again_from_the_new_record(trained_pair, tmp_path):
    """The card of a run trained with --temperature_scaling false kept "No temperature scaling ... (`python -m
    pipelines.calibrate RUN_DIR` adds it)" after the command had added it."""
    from pipelines.model_card import card_text
    from pipelines.runs.record import RunRecord

    folder = shutil.copytree(trained_pair["plain"][0], tmp_path / "plain")
    assert "No temperature scaling" in (folder / "README.md").read_text()
    assert run_cli(calibrate, [str(folder)]) == 0
    card = (folder / "README.md").read_text()
    temperature = json.loads((folder / "results.json").read_text())["calibration"]["temperature"]
    assert f"by T = {temperature:.3f}" in card and "No temperature scaling" not in card
    assert card == card_text(RunRecord.read(folder), "plain")  # what training writes for a run of this record and folder


def test_calibrate_refuses_a_folder_without_its_model_before_writing_any(trained_pair, tmp_path, capsys):
    """A folder with `results.json` but no weights (a compact record under results/records) was an OSError traceback,
    after the folders named before it had been rewritten."""
    good = shutil.copytree(trained_pair["plain"][0], tmp_path / "good")
    no_weights = shutil.copytree(trained_pair["plain"][0], tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    before = {path.name: path.read_bytes() for path in good.iterdir() if path.is_file()}
    assert run_cli(calibrate, [str(good), str(no_weights)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {no_weights}: no model to scale (expected config.json with one of model.safetensors") and err.count("\n") == 1
    assert {path.name: path.read_bytes() for path in good.iterdir() if path.is_file()} == before


@pytest.mark.parametrize("stopped", ["while staging", "while moving into place"])
def test_a_calibration_stopped_midway_is_finished_by_the_next_run_and_never_scaled_twice(trained_pair, tmp_path, monkeypatch, capsys, stopped):
    """Stopped between the scaled model moving into place and `results.json`, a rerun said "already calibrated" of a run
    whose record had no temperature, and --refit divided its unscaled test probabilities by T a second time."""
    import os

    import pipelines.calibrate
    from pipelines.calibrate import PENDING_DIR, STAGED_RECORD

    folder = shutil.copytree(trained_pair["plain"][0], tmp_path / "plain")
    replace = os.replace

    def stop(*args):
        if stopped == "while staging" or str(args[0]) == str(folder / PENDING_DIR / STAGED_RECORD):  # the record, moved last
            raise RuntimeError("stopped")
        replace(*args)

    with monkeypatch.context() as patch:
        patch.setattr(*((pipelines.calibrate, "write_predictions") if stopped == "while staging" else (os, "replace")), stop)
        with pytest.raises(RuntimeError, match="stopped"):
            calibrate([str(folder)])
    assert "calibration" not in json.loads((folder / "results.json").read_text())
    assert run_cli(calibrate, [str(folder)]) == 0
    finished = f"{folder}: finished writing the calibration an earlier `pipelines.calibrate` was stopped in"
    assert (finished in capsys.readouterr().out) == (stopped == "while moving into place")
    _, scaled, scaled_rows = trained_pair["scaled"]
    for argv in ([str(folder)], [str(folder), "--refit"]):  # the finished calibration, then refitted: T once, never twice
        if len(argv) == 2:
            assert run_cli(calibrate, argv) == 0
        results = json.loads((folder / "results.json").read_text())
        assert results["calibration"]["temperature"] == pytest.approx(scaled["calibration"]["temperature"])
        assert json.loads((folder / "config.json").read_text())["temperature"] == pytest.approx(scaled["calibration"]["temperature"])
        rows = pq.read_table(folder / "predictions.parquet").to_pandas()
        np.testing.assert_allclose(np.stack(rows["probabilities"]), np.stack(scaled_rows["probabilities"]), atol=1e-5)
        assert not (folder / PENDING_DIR).exists()


def test_staged_files_of_a_run_trained_again_since_are_dropped_and_read_by_no_one(tmp_path):
    """The diff review: a complete staging folder left by a stopped calibration was moved over a run trained again
    into the same folder since, and its `results.json` read by the report as a second run of the same seed."""
    from pipelines.calibrate import PENDING_DIR, SOURCE_FILE, STAGED_RECORD, finish_pending
    from pipelines.data.files import file_digest

    run = tmp_path / "run"
    (run / PENDING_DIR).mkdir(parents=True)
    (run / "results.json").write_text('{"seed": 0, "made": "before"}')
    (run / PENDING_DIR / SOURCE_FILE).write_text(file_digest(run / "results.json") + "\n")
    (run / PENDING_DIR / STAGED_RECORD).write_text('{"seed": 0, "made": "staged"}')
    (run / PENDING_DIR / "predictions.parquet").write_text("staged")
    assert not list(run.rglob("results.json"))[1:]  # one record, the run's: the staged one has another name
    (run / "results.json").write_text('{"seed": 0, "made": "trained again"}')
    assert finish_pending(run) is False and not (run / PENDING_DIR).exists()
    assert sorted(p.name for p in run.iterdir()) == ["results.json"] and "trained again" in (run / "results.json").read_text()


def test_abstain_threshold_is_chosen_on_validation_and_never_reads_test(trained_pair, tmp_path):
    """The stored threshold answers 90% of the scaled validation sentences; scrambling the test predictions leaves it."""
    folder, scaled, _ = trained_pair["scaled"]
    config = json.loads((folder / "config.json").read_text())
    labels, logits = read_validation_predictions(folder / scaled["validation_predictions_file"])
    validation = scaled_probabilities(logits, scaled["calibration"]["temperature"])
    assert config["abstain_threshold"] == pytest.approx(abstain_threshold(validation, 0.9)) and config["abstain_coverage"] == 0.9
    assert scaled["calibration"]["abstain"]["chosen_on"] == "validation"

    thresholds = []
    for name, scramble in (("as-is", False), ("scrambled", True)):
        copy = shutil.copytree(trained_pair["plain"][0], tmp_path / name)
        if scramble:
            rows = pq.read_table(copy / "predictions.parquet").to_pandas()
            rows["probabilities"] = list(np.random.default_rng(0).dirichlet([1, 1, 1], size=len(rows)))
            rows["label"] = rows["label"].sample(frac=1, random_state=0).to_numpy()
            rows.to_parquet(copy / "predictions.parquet")
        assert run_cli(calibrate, [str(copy)]) == 0
        thresholds.append(json.loads((copy / "config.json").read_text())["abstain_threshold"])
    assert thresholds[0] == thresholds[1] == pytest.approx(config["abstain_threshold"])


def test_no_temperature_is_identifiable_from_a_handful_of_validation_sentences_all_right_or_all_wrong():
    """A few-shot run's 7 validation sentences, all right: the NLL keeps falling toward T -> 0, so the fit
    would sit at the search's bound (T = 0.01, 100x sharper) and make test probabilities one-hot."""
    from pipelines.calibration import TemperatureNotIdentifiable

    logits = np.array([[2.0, -1.0], [0.3, 0.1], [-0.5, 1.5], [1.0, 0.2], [-2.0, 0.0], [0.8, -0.8], [-0.1, 0.4]])
    right = logits.argmax(axis=1)
    with pytest.raises(TemperatureNotIdentifiable, match="7 of 7 validation sentences right"):
        fit_temperature(logits, right)
    with pytest.raises(TemperatureNotIdentifiable, match="0 of 7 validation sentences right"):
        fit_temperature(logits, 1 - right)
    right[1] = 1  # one mistake with a small margin: an interior minimum again
    assert 0.01 < fit_temperature(logits, right) < 100


def test_a_minimum_past_the_searchs_bounds_identifies_no_temperature():
    """A barely trained model's logits, all near 0 (the tiny fine-tune's validation in tests/test_finetune.py): the NLL's
    minimum lies below T = 0.01, and the search used to return its bound as the fitted T (100x sharper, test ECE 10x
    worse). Multiplying logits by c multiplies the minimising T by c: 10,000x up it lies inside the search, 1,000,000x up above it."""
    from pipelines.calibration import TemperatureNotIdentifiable

    logits = np.array([[2.066, -1.655, 1.229], [2.065, -1.656, 1.226], [2.066, -1.658, 1.228], [2.066, -1.651, 1.227]]) * 1e-3
    labels = np.array([0, 2, 0, 1])
    with pytest.raises(TemperatureNotIdentifiable, match="least below T = 0.01, past the search's bound .2 of 4 validation"):
        fit_temperature(logits, labels)
    assert 1 < fit_temperature(logits * 1e4, labels) < 100
    with pytest.raises(TemperatureNotIdentifiable, match="least above T = 100, past the search's bound"):
        fit_temperature(logits * 1e6, labels)


def test_calibrating_without_an_identifiable_temperature_leaves_the_model_and_says_why():
    from sklearn.linear_model import LogisticRegression

    from pipelines.calibration import calibrate_model, calibration_summary
    from pipelines.model_card import calibration_lines
    from pipelines.runs.record import RunRecord

    head = LogisticRegression().fit(np.array([[-2.0], [-1.0], [1.0], [2.0]]), [0, 0, 1, 1])
    coef, intercept = head.coef_.copy(), head.intercept_.copy()
    record = RunRecord.new({"dataset": "mr", "model": "setfit-minilm"}, test={"accuracy": 1.0}, label_names=["negative", "positive"])
    validation_logits = np.array([[-3.0, 3.0], [2.0, -2.0], [-1.0, 1.0]])  # all three right
    test_logits = np.array([[0.2, -0.2], [-1.0, 1.0]])
    probabilities = calibrate_model(head, np.array([1, 0, 1]), validation_logits, record, np.array([0, 0]), test_logits)
    np.testing.assert_allclose(probabilities, scaled_probabilities(test_logits, 1.0))  # unscaled
    np.testing.assert_array_equal(head.coef_, coef)
    np.testing.assert_array_equal(head.intercept_, intercept)
    assert not hasattr(head, "temperature_scaling") and set(record.calibration) == {"skipped", "abstain", "conformal"}
    assert head.abstain_threshold == record.calibration["abstain"]["threshold"]  # chosen unscaled (the next test)
    assert "no temperature is identifiable" in calibration_summary(record.calibration)
    # the card says once what was left out, then why (it read "No temperature scaling: temperature scaling left out: ...")
    assert any(line.startswith("No temperature scaling: no temperature is identifiable: the validation NLL keeps falling toward T -> 0 "
                               "(3 of 3 validation sentences right).") for line in calibration_lines(record.calibration))  # fmt: skip


def test_a_model_whose_temperature_is_not_identifiable_still_saves_its_abstention_threshold_and_conformal_sets(tmp_path):
    """Review: the step returned before choosing the threshold, so such runs (typical of a few-shot run's 7 validation
    sentences) were saved without `abstain_threshold` in their config or conformal sets in their record, though the
    README says the step always stores the threshold. They are chosen on the unscaled probabilities, and say so."""
    from pipelines.calibration import ABSTAIN_COVERAGE, abstain_threshold, calibrate_model, conformal_record
    from pipelines.model_card import calibration_lines
    from pipelines.runs.record import RunRecord

    model = AutoModelForSequenceClassification.from_pretrained(build_tiny_glove(tmp_path / "tiny", "mean"))
    record = RunRecord.new({"dataset": "mr", "model": "mean"}, test={"accuracy": 0.5}, label_names=["negative", "positive"])
    validation_labels = np.array([1, 0, 1, 0, 1, 1, 0])
    validation_logits = np.array([[-3.0, 3.0], [2.0, -2.0], [-1.0, 1.0], [0.5, 0.1], [-0.2, 0.9], [-2.0, 1.5], [1.0, -0.3]])  # all right
    test_labels, test_logits = np.array([0, 1, 1, 0]), np.array([[0.2, -0.2], [-1.0, 1.0], [0.3, 0.1], [-0.4, 0.4]])
    probabilities = calibrate_model(model, validation_labels, validation_logits, record, test_labels, test_logits)

    unscaled_validation, unscaled_test = scaled_probabilities(validation_logits, 1.0), scaled_probabilities(test_logits, 1.0)
    np.testing.assert_allclose(probabilities, unscaled_test)
    assert "no temperature is identifiable" in record.calibration["skipped"] and model.config.temperature == 1.0
    threshold = abstain_threshold(unscaled_validation)
    assert record.calibration["abstain"]["threshold"] == threshold and record.calibration["abstain"]["probabilities"] == "unscaled"
    conformal = record.calibration["conformal"]
    assert conformal == {**conformal_record(unscaled_validation, validation_labels, unscaled_test, test_labels), "probabilities": "unscaled"}
    model.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert saved["abstain_threshold"] == threshold and saved["abstain_coverage"] == ABSTAIN_COVERAGE
    card = "\n".join(calibration_lines(record.calibration))
    assert f"`config.abstain_threshold` = {threshold:.4f}, chosen on the validation sentences' raw probabilities" in card


def test_the_temperature_of_least_ece_undoes_a_known_overconfidence_and_beats_every_grid_point():
    """Labels drawn from softmax(z), logits 2z: the temperature of least top-label ECE is about 2, and no point of
    the grid has a lower ECE (every point scored with the library's ECE, independently of the search)."""
    from pipelines.calibration import ECE_TEMPERATURE_GRID, least_ece_temperature

    rng = np.random.default_rng(3)
    z = rng.normal(scale=1.5, size=(20_000, 3))
    labels = np.array([rng.choice(3, p=p) for p in scaled_probabilities(z, 1.0)])
    temperature, ece = least_ece_temperature(2 * z, labels)
    assert temperature == pytest.approx(2.0, rel=0.1)
    assert ece < 0.01 < calibration_scores(scaled_probabilities(2 * z, 1.0), labels)["ece"]
    every = [calibration_scores(scaled_probabilities(2 * z, t), labels)["ece"] for t in ECE_TEMPERATURE_GRID]
    assert ece == pytest.approx(min(every)) and temperature == ECE_TEMPERATURE_GRID[int(np.argmin(every))]
    at_one_and_a_half = calibration_scores(scaled_probabilities(2 * z, 1.5), labels)["ece"]
    assert least_ece_temperature(2 * z, labels, grid=[1.0, 1.5]) == (1.5, pytest.approx(at_one_and_a_half))  # the grid given
    with pytest.raises(ValueError, match="at least one sentence"):
        least_ece_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_a_run_scored_under_domain_shift_reads_its_own_predictions_as_the_report_does(trained_pair, tmp_path):
    """`python -m pipelines.report.calibration --shift RUN_DIR` read a dict as a `ReportRow` since a560cab (AttributeError)."""
    from pipelines.report.calibration import shift_rows
    from tests.conftest import write_mr

    folder, scaled, _ = trained_pair["scaled"]
    rows = shift_rows(folder, "mr", str(write_mr(tmp_path / "mr", per_class=5040)))
    home = {row["probabilities"]: row for row in rows if row["test"] == "semeval2017a (in domain)"}
    for which, recorded in (("before", "test_before"), ("after", "test_after")):
        assert home[f"{which} temperature scaling"]["ece"]["mean"] == pytest.approx(scaled["calibration"][recorded]["ece"], abs=2e-3)
    assert {row["test"] for row in rows} == {"semeval2017a (in domain)", "mr: negative, positive"} and len(rows) == 4


def test_probabilities_before_scaling_that_cannot_be_recovered_are_said_so_not_scored(tmp_path):
    """A small temperature (T = 0.011, a few-shot run) drives saved probabilities to 0 at float16; log 0 then read as the
    smallest float made the report's "before temperature scaling" ECE 0.023 where the run recorded 0.335."""
    from pipelines.report.calibration import read_row, read_runs
    from pipelines.report.collect import Group
    from tests.conftest import report_row

    path = tmp_path / "predictions.parquet"
    probabilities = [[1.0, 0.0], [0.3, 0.7], [0.999, 0.001]]
    pd.DataFrame({"index": [0, 1, 2], "label": [0, 1, 1], "prediction": [0, 1, 0], "probabilities": probabilities}).to_parquet(path)
    row = report_row(predictions=str(path), calibration={"temperature": 0.011}, run="few-shot/seed-0")
    said = "`few-shot/seed-0`: its probabilities before temperature scaling (T = 0.011) cannot be recovered from the saved ones (1 of them round to 0 at float16)"
    assert read_row(row) == said
    assert read_runs(Group("mr", "bilstm", row.setting, "lab", "glove", [row])) == said
    unscaled = report_row(predictions=str(path), calibration={"skipped": "why"}, run="plain")
    np.testing.assert_allclose(read_row(unscaled)["before"], read_row(unscaled)["after"])  # nothing to undo: zeros are fine


def test_a_group_with_one_seed_scaled_and_one_skipped_says_so_and_abstains_on_validation(tmp_path):
    """Round 24's trial: such a group was labelled "not scaled: no temperature is identifiable" (seed 0 had T = 0.15) and its
    abstention threshold was "chosen on test" though both runs saved their validation logits."""
    from pipelines.calibration import scaled_probabilities
    from pipelines.report.calibration import abstain_scores, probabilities_label, read_runs
    from pipelines.report.collect import Group
    from pipelines.runs.io import write_predictions, write_validation_predictions
    from tests.conftest import report_row

    rng = np.random.default_rng(0)
    rows = []
    for seed, calibration in ((0, {"temperature": 0.5}), (1, {"skipped": "no temperature is identifiable: every validation sentence right"})):
        labels, logits = rng.integers(0, 2, 60), rng.normal(size=(60, 2))
        write_validation_predictions(tmp_path / f"v{seed}.parquet", labels, logits)
        test_logits = rng.normal(size=(40, 2))
        write_predictions(tmp_path / f"t{seed}.parquet", range(40), rng.integers(0, 2, 40), scaled_probabilities(test_logits, calibration.get("temperature", 1.0)))
        rows.append(report_row(seed=seed, run=f"seed-{seed}", predictions=str(tmp_path / f"t{seed}.parquet"),
                               validation_predictions=str(tmp_path / f"v{seed}.parquet"), calibration=calibration))  # fmt: skip
    group = Group("mr", "bilstm", rows[0].setting, "lab", "glove", rows)
    runs = read_runs(group)
    assert probabilities_label(group, runs) == "before temperature scaling (1 of 2 runs scaled, the others: no temperature is identifiable)"
    assert {found["chosen_on"] for found in abstain_scores(runs).values()} == {"validation"}
    np.testing.assert_allclose(runs[0].validation_before, scaled_probabilities(np.log(runs[0].validation), 1 / 0.5), atol=1e-6)
