"""How well predicted probabilities match observed frequencies, and temperature scaling to fix them.

The scores (`calibration_scores`), each from a maintained library, never hand-rolled:

- `ece`: top-label expected calibration error (Naeini et al. 2015; Guo et al. 2017): the
  predictions are put in 15 equal-width bins of confidence (the top probability; torchmetrics
  puts a confidence of exactly 1 in a bin of its own, `ece_bins`), and the absolute gap between
  accuracy and mean confidence is averaged over bins, weighted by their share of predictions.
  torchmetrics' `multiclass_calibration_error(n_bins=15, norm="l1")`.
- `classwise_ece`: the mean over classes of the same 15-bin error of p(class k) against
  [label == k] (Kull et al. 2019). torchmetrics' `binary_calibration_error`, once per class.
- `brier`: the multiclass Brier score, mean over sentences of sum_k (p_k - [label == k])^2, in
  [0, 2] on every benchmark (a binary one is not halved, so MR and SemEval read alike).
  scikit-learn's `brier_score_loss(scale_by_half=False)`.
- `nll`: mean negative log-likelihood of the gold label, in nats. scikit-learn's `log_loss`.

The binned ECE has a floor: on a finite test set even a perfectly calibrated model scores above 0.
`consistency_test` measures it by consistency resampling (Bröcker & Smith 2007, "Increasing the
reliability of reliability diagrams", Weather and Forecasting 22(3); used for ECE by Vaicenavicius et
al. 2019, "Evaluating model calibration in classification", AISTATS): labels drawn from the model's own
probabilities (so it is calibrated by construction), scored by the same `top_label_ece`; the mean of the
resampled ECEs is the ECE a calibrated model would show on these sentences, and (1 + the number at least
as large as the observed one) / (1 + rounds) is the p-value of "the model is calibrated". No maintained Python library does
this over torchmetrics' ECE (netcal, relplot's smooth ECE and `uncertainty-calibration`'s debiased ECE
estimate other quantities; ConsistencyResampling.jl is Julia), so it is these few lines over it.

Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks", section 4.2):
one scalar T > 0, fitted on validation logits by minimising the NLL of softmax(logits / T), and
the model then outputs logits / T. Dividing by T > 0 keeps the order of the logits, so no
prediction changes, only how sure each one is. `fit_temperature` does the fit with scipy's
bounded `minimize_scalar` over log T; `apply_temperature` puts T into a model so that its
forward pass, `pipeline("text-classification")` and the ONNX export all return calibrated
probabilities (a SetFit model's scikit-learn head too: its `predict_proba`); `calibrate_model` is
the whole step on a model (T, the abstention threshold, the record), which
`calibrate_after_training` runs after training (`pipelines.fitting.fit_and_test`,
`pipelines.setfitting`) and `python -m pipelines.calibrate` on a finished run.

Abstaining (selective classification, Geifman & El-Yaniv 2017): a model may decline a sentence
whose top probability is below a threshold. `abstain_threshold` chooses it on the validation
split (after scaling; unscaled when no temperature is identifiable) so that a share `ABSTAIN_COVERAGE`
of validation sentences is answered; it is stored in the saved config as `abstain_threshold` (with
`abstain_coverage`), so a `pipeline()` user abstains when `score < config.abstain_threshold`.
`risk_coverage` gives the curve.

Conformal prediction sets (split conformal, Vovk et al. 2005; the "LAC" score of Sadinle et al. 2019):
the nonconformity of a sentence and a label is 1 - p(label) (crepes' `hinge`), measured on the
validation sentences with their gold labels; a test sentence's set holds every label whose
(non-smoothed) conformal p-value is at least alpha (crepes' `ConformalClassifier`). When validation
and test sentences are exchangeable the set holds the gold label with probability at least 1 - alpha;
here the validation split also chose the checkpoint and T, so that guarantee is approximate, and
`conformal_record` reports the empirical coverage and mean set size on test, at `CONFORMAL_ALPHAS`.

As-is scorers (`pipelines.pretrained`) are calibrated the same way, from probabilities alone:
`calibrate_probabilities` fits T on log p of the benchmark's validation sentences (log p are
logits up to a per-row constant, `logits_from_probabilities`) and returns the test probabilities
softmax(log p / T).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.metrics import brier_score_loss, log_loss
from torch import nn
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

from models import GloveConfig
from pipelines.runs.io import write_validation_predictions
from pipelines.runs.layout import VALIDATION_PREDICTIONS_FILE

ECE_BINS = 15
METHOD = "temperature scaling (Guo et al. 2017): one T fitted on the validation logits by minimising NLL"
SCORES_NOTE = (
    f"ece: top-label, {ECE_BINS} equal-width bins (torchmetrics); classwise_ece: mean over classes, {ECE_BINS} bins; "
    "brier: sum over classes, in [0, 2] (scikit-learn); nll: nats (scikit-learn)"
)
# log T is searched in [log 0.01, log 100]: a T at either end means the logits carry no usable scale.
LOG_TEMPERATURE_BOUNDS = (math.log(0.01), math.log(100.0))
CONSISTENCY_RESAMPLES = 1000  # rounds of labels drawn from the model's own probabilities (`consistency_test`)
CONSISTENCY_SEED = 0
ABSTAIN_COVERAGE = 0.9  # the share of validation sentences the stored threshold answers
CONFORMAL_ALPHAS = (0.1, 0.05)  # miscoverage levels of the conformal sets: 90% and 95% sets
EM_MAX_ROUNDS = 10_000  # `em_label_shift`: rounds of EM at most
CONFORMAL_METHOD = (
    "split conformal (crepes ConformalClassifier): nonconformity 1 - p(label) (LAC, crepes.extras.hinge) "
    "on the validation sentences; a label is in the set when its non-smoothed p-value >= alpha"
)


def calibration_scores(probabilities, labels) -> dict[str, float]:
    """ECE, classwise ECE, Brier score and NLL (see the module docstring for each definition).

    probabilities: (n, num_labels), rows summing to 1 (float32 rows read from a predictions file
    are renormalised in float64); labels: (n,) class ids.
    Returns {"ece", "classwise_ece", "brier", "nll"}, each a float (lower is better).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    labels = np.asarray(labels, dtype=np.int64)
    num_labels = probabilities.shape[1]
    preds, target = torch.tensor(probabilities), torch.tensor(labels)
    ece = top_label_ece(preds, target)
    classwise = [
        binary_calibration_error(preds[:, k].contiguous(), (target == k).long(), n_bins=ECE_BINS, norm="l1") for k in range(num_labels)
    ]
    classes = list(range(num_labels))
    return {
        "ece": ece,
        "classwise_ece": float(torch.stack(classwise).mean()),
        "brier": float(brier_score_loss(labels, probabilities, labels=classes, scale_by_half=False)),
        "nll": float(log_loss(labels, probabilities, labels=classes)),
    }


def top_label_ece(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """The `ece` of `calibration_scores`: torchmetrics' `multiclass_calibration_error` with `ECE_BINS`
    equal-width bins and the L1 norm. probabilities: (n, num_labels) float tensor; labels: (n,) int64 class ids."""
    return float(multiclass_calibration_error(probabilities, labels, num_classes=probabilities.shape[1], n_bins=ECE_BINS, norm="l1"))


def consistent_labels(probabilities: np.ndarray, rng: np.random.Generator, rounds: int | None = None) -> np.ndarray:
    """Labels drawn one per row from its own distribution: probabilities (n, num_labels), rows summing to 1.
    Returns (n,) labels, or (rounds, n) for `rounds` draws (row r is what the r-th call without `rounds` would draw),
    int8 for up to 127 labels (counted in bytes: the report's rebuild draws 1,000 x 12,284 labels per run, and an int64
    count moves 8 times the memory), else int64."""
    cumulative = np.cumsum(probabilities, axis=1)  # (n, K)
    uniform = rng.random(len(probabilities) if rounds is None else (rounds, len(probabilities)))
    drawn = np.zeros(uniform.shape, dtype=np.int8 if probabilities.shape[1] <= 127 else np.int64)
    for k in range(probabilities.shape[1] - 1):  # label = how many of the first K - 1 cumulative sums u exceeds
        drawn += (uniform > cumulative[:, k]).view(np.int8) if drawn.dtype == np.int8 else uniform > cumulative[:, k]
    return drawn  # at most K - 1, even for a row summing to 1 - 1e-16


def ece_bins(confidences) -> np.ndarray:
    """The bin of each confidence as torchmetrics' calibration errors bin it (`_binning_bucketize`: `torch.bucketize`
    over `ECE_BINS` + 1 equal-width boundaries from 0 to 1 in the confidences' dtype, right=True): bin k holds
    [k/ECE_BINS, (k+1)/ECE_BINS), and a confidence of exactly 1 has a bin of its own, `ECE_BINS`.
    confidences: (n,) floats, in the dtype torchmetrics scores them (float32 for the top label, which
    `multiclass_calibration_error` casts; float64 for a class's probability in `binary_calibration_error`).
    Returns (n,) int bins in 0..`ECE_BINS`."""
    confidences = torch.as_tensor(np.ascontiguousarray(confidences))
    boundaries = torch.linspace(0, 1, ECE_BINS + 1, dtype=confidences.dtype)
    return (torch.bucketize(confidences, boundaries, right=True) - 1).numpy()


def resampled_top_label_ece(probabilities: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """`top_label_ece` of each row of labels in `drawn` at once: probabilities (n, num_labels), drawn (rounds, n)
    int class ids -> (rounds,) ECEs. The confidences and their bins do not change between rounds (only which
    predictions are right does), so torchmetrics' binning (`ece_bins`, confidences and top labels from
    `preds.max(dim=1)` in float32) is done once here and each round's ECE is sum over bins
    |sum(right) - sum(confidence)| / n, which is torchmetrics' sum over bins |accuracy - confidence| * share
    (checked equal to `top_label_ece`, to float32 rounding, by tests/test_calibration.py)."""
    preds = torch.tensor(np.asarray(probabilities, dtype=np.float64))
    confidences, predictions = preds.max(dim=1)
    confidences = confidences.float()  # (n,), as torchmetrics scores them
    bins = ece_bins(confidences.numpy())  # (n,)
    right = np.asarray(drawn) == predictions.numpy()  # (rounds, n)
    confidence = confidences.double().numpy()
    gaps = sum(np.abs(right[:, bins == b].sum(axis=1) - confidence[bins == b].sum()) for b in np.unique(bins))  # (rounds,)
    return gaps / len(confidence)


def consistency_test(runs, resamples: int = CONSISTENCY_RESAMPLES, seed: int = CONSISTENCY_SEED) -> dict:
    """The ECE a calibrated model would show on these sentences, and the p-value of "calibrated", by consistency
    resampling (see the module docstring for the source).

    runs: a sequence of (probabilities (n, num_labels), labels (n,)) pairs, one per run of a group (n may differ).
    Run i draws from its own stream (`np.random.default_rng(seed).spawn(len(runs))[i]`): in each of `resamples`
    rounds its labels are redrawn from its probabilities (`consistent_labels`) and scored by the report's ECE
    (`resampled_top_label_ece`: `top_label_ece`'s binning, every round at once).
    The statistic is the mean ECE over the runs (the number the report prints); under H0 (every run calibrated) it is
    distributed as the mean of the runs' r-th resampled ECEs, so one test covers a group of runs.
    Returns {"ece": the observed mean ECE, "floor": the mean resampled mean ECE (the estimator's floor for these
    confidences and sentences), "floor_sd": its spread over rounds, "p_value": (1 + #{resampled >= observed}) /
    (1 + resamples) (`monte_carlo_p`), "run_p_values": the same per run, "resampled": (resamples,) the group's mean
    ECE in each round (its null distribution), "resamples", "seed"}.
    `ValueError` for no runs or resamples < 1.
    Memory: per run, resamples x n float64 uniforms and int8 labels (about 110 MB at 1,000 rounds of SemEval's 12,284 tweets).
    """
    if not runs or resamples < 1:
        raise ValueError(f"consistency_test needs at least one run and one resample (got {len(runs)} runs, {resamples} resamples)")
    observed, resampled = [], []
    for (probabilities, labels), rng in zip(runs, np.random.default_rng(seed).spawn(len(runs))):
        probabilities = np.asarray(probabilities, dtype=np.float64)
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        observed.append(top_label_ece(torch.tensor(probabilities), torch.tensor(np.asarray(labels, dtype=np.int64))))
        resampled.append(resampled_top_label_ece(probabilities, consistent_labels(probabilities, rng, resamples)))
    observed, resampled = np.array(observed), np.array(resampled)  # (runs,), (runs, resamples)
    group = resampled.mean(axis=0)  # (resamples,)
    return {"ece": float(observed.mean()), "floor": float(group.mean()), "floor_sd": float(group.std(ddof=1)) if resamples > 1 else 0.0,
            "p_value": monte_carlo_p(observed.mean(), group), "run_p_values": [monte_carlo_p(o, r) for o, r in zip(observed, resampled)],
            "resampled": group, "resamples": resamples, "seed": seed}  # fmt: skip


def monte_carlo_p(statistic: float, null: np.ndarray) -> float:
    """(1 + #{null >= statistic}) / (1 + len(null)): a Monte Carlo test's p-value, never 0 (Davison & Hinkley 1997, 4.2.1)."""
    return float((1 + np.sum(null >= statistic)) / (1 + len(null)))


def scaled_probabilities(logits, temperature: float) -> np.ndarray:
    """softmax(logits / T): (n, num_labels) logits -> (n, num_labels) probabilities, float64."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)


class TemperatureNotIdentifiable(ValueError):
    """The validation NLL has no minimum at a finite T > 0: every validation sentence is right (the NLL
    falls all the way to T -> 0, where each is certain), or the labels' logits are on average below
    their sentence's mean logit (it falls all the way to T -> infinity, the uniform distribution).
    Typical of a few-shot run's handful of validation sentences (16 a class: 7 sentences). Or its
    minimum lies past the search's bounds (`LOG_TEMPERATURE_BOUNDS`), where the fit would sit on the
    bound: logits with no usable scale, such as a barely trained model's, all near 0."""


def not_identifiable(err: TemperatureNotIdentifiable) -> dict:
    """The `calibration` record of a model left unscaled because its validation sentences identify no temperature.
    `skipped` is the reason alone ("no temperature is identifiable: ..."), as for every model left out: whoever shows
    it says what was left out ("left out: ...", "No temperature scaling: ..."). Records made before this read
    "temperature scaling left out: ..." and are shown as they are."""
    return {"skipped": str(err)}


def fit_temperature(logits, labels) -> float:
    """The T > 0 minimising the mean NLL of softmax(logits / T) on these (validation) sentences.

    logits: (n, num_labels); labels: (n,) class ids. Guo et al. (2017) fit T the same way (they
    use LBFGS); the NLL is unimodal in log T (convex in 1/T), so scipy's bounded Brent search
    over log T in `LOG_TEMPERATURE_BOUNDS` finds it. `ValueError` for no sentences;
    `TemperatureNotIdentifiable` when the NLL has no minimum at a finite T > 0 or it lies past the search's bounds.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise ValueError("fit_temperature needs at least one validation sentence")

    def nll(log_temperature: float) -> float:
        log_probabilities = log_softmax(logits / math.exp(log_temperature), axis=-1)
        return -float(log_probabilities[np.arange(len(labels)), labels].mean())

    # With b = 1/T, d NLL / d b = mean(E_softmax(b z)[z] - z_label): it tends to mean(max z - z_label) >= 0 as b -> inf,
    # 0 exactly when every sentence is right (then the NLL falls all the way to T -> 0), and is mean(mean z - z_label)
    # at b = 0 (>= 0: the NLL falls all the way to T -> inf). Otherwise it changes sign once (convex): one interior minimum.
    right = int((logits.argmax(axis=-1) == labels).sum())
    chosen = logits[np.arange(len(labels)), labels]
    if right == len(labels) or float((logits.mean(axis=-1) - chosen).mean()) >= 0:
        toward = "T -> 0" if right == len(labels) else "T -> infinity"
        raise TemperatureNotIdentifiable(
            f"no temperature is identifiable: the validation NLL keeps falling toward {toward} "
            f"({right} of {len(labels)} validation sentences right)"
        )

    def slope(temperature: float) -> float:  # d NLL / d b at b = 1 / temperature (above)
        probabilities = softmax(logits / temperature, axis=-1)
        return float(((probabilities * logits).sum(axis=-1) - chosen).mean())

    # The one minimum, past either end of the search: still falling at T = 0.01, or already rising at T = 100.
    low, high = (math.exp(bound) for bound in LOG_TEMPERATURE_BOUNDS)
    falling_at_low, rising_at_high = slope(low) < 0, slope(high) > 0
    if falling_at_low or rising_at_high:
        past = f"below T = {low:g}" if falling_at_low else f"above T = {high:g}"
        raise TemperatureNotIdentifiable(
            f"no temperature is identifiable: the validation NLL is least {past}, past the search's bound "
            f"({right} of {len(labels)} validation sentences right)"
        )
    result = minimize_scalar(nll, bounds=LOG_TEMPERATURE_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return float(math.exp(result.x))



ECE_TEMPERATURE_GRID = np.exp(np.linspace(math.log(0.25), math.log(4.0), 161))  # `least_ece_temperature`: ~1.75% steps


def least_ece_temperature(logits, labels, grid=ECE_TEMPERATURE_GRID) -> tuple[float, float]:
    """The temperature T in `grid` whose softmax(logits / T) has the least top-label ECE on these sentences, and that ECE.

    logits: (n, num_labels); labels: (n,) class ids; grid: temperatures, as multiples of the logits' scale.
    The report uses it twice (`pipelines.report.calibration.calibrator_rows`): chosen on validation sentences, a
    calibrator beside temperature scaling (one temperature, so no prediction moves; it asks whether NLL's temperature is
    the wrong one for the ECE); chosen on the test's own labels and scored there, an oracle: the least ECE over the
    grid on those sentences, biased low as the least of len(grid) noisy values. The ECE is `top_label_ece`'s
    (torchmetrics, 15 equal-width bins): it jumps as sentences change bins, so it is searched on a grid, not by a
    solver, and a temperature between grid points may give less. A T at the grid's edge (0.25 or 4) means the least
    lies there or past it (a run with every sentence right keeps falling toward T -> 0).
    Returns (T, ECE). `ValueError` for no sentences or an empty grid.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if len(labels) == 0 or len(grid) == 0:
        raise ValueError("least_ece_temperature needs at least one sentence and one temperature")
    target = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    eces = [top_label_ece(torch.as_tensor(scaled_probabilities(logits, t)), target) for t in grid]
    best = int(np.argmin(eces))
    return float(grid[best]), float(eces[best])


# --- other calibrators fitted on validation, beside temperature scaling: what the report's diagnosis of a test ECE
# above the goal compares (`pipelines.report.calibration.calibrator_rows`); none of them is a step of training.


def bias_corrected_temperature_scaling(validation_logits, validation_labels, logits) -> np.ndarray:
    """Bias-corrected temperature scaling (BCTS; Alexandari, Kundaje & Shrikumar 2020, "Maximum likelihood with
    bias-corrected calibration is hard-to-beat at label shift adaptation", ICML): softmax(z / T + b), one T > 0 and
    one bias per class fitted together by minimising the validation NLL, through the paper's own implementation
    (`abstention.calibration.TempScaling(bias_positions="all")`, scipy's L-BFGS-B). Unlike temperature scaling the
    biases can change predictions (the argmax).

    validation_logits: (n_val, K) and validation_labels: (n_val,) class ids, the sentences it is fitted on;
    logits: (n, K) of the sentences to calibrate (logits, or log-probabilities: `logits_from_probabilities`).
    Returns (n, K) probabilities. `ValueError` for no validation sentences; `RuntimeError` when scipy's L-BFGS-B does
    not converge (the package asserts its success).
    """
    from abstention.calibration import TempScaling

    validation_logits = np.asarray(validation_logits, dtype=np.float64)
    validation_labels = np.asarray(validation_labels, dtype=np.int64)
    if len(validation_labels) == 0:
        raise ValueError("bias_corrected_temperature_scaling needs at least one validation sentence")
    k = validation_logits.shape[1]
    # abstention exponentiates without subtracting the row's maximum: shift each row (softmax ignores it)
    try:
        calibrate = TempScaling(bias_positions="all")(validation_logits - validation_logits.max(axis=1, keepdims=True),
                                                      np.eye(k)[validation_labels])  # fmt: skip
    except AssertionError as err:  # abstention's `assert optimization_result.success`
        raise RuntimeError(f"bias-corrected temperature scaling did not converge on {len(validation_labels)} validation sentences") from err
    logits = np.asarray(logits, dtype=np.float64)
    return calibrate(logits - logits.max(axis=1, keepdims=True))


def prior_corrected(probabilities, source_shares, target_shares) -> np.ndarray:
    """Bayes' rule for a change of class priors (label shift; Saerens, Latinne & Decaestecker 2002, "Adjusting the
    outputs of a classifier to new a priori probabilities", Neural Computation 14(1)): p_t(y | x) ∝ p_s(y | x) ·
    q_t(y) / q_s(y), through `abstention.label_shift.PriorShiftAdapterFunc`. probabilities: (n, K) under the source
    priors `source_shares` (K,); `target_shares` (K,): the priors to move to. Returns (n, K). It holds when only the
    class shares move and each class's sentences stay alike (p(x | y) fixed). `ValueError` when a source share is 0
    (nothing to reweight from) or the shapes disagree."""
    from abstention.label_shift import PriorShiftAdapterFunc

    probabilities = np.asarray(probabilities, dtype=np.float64)
    source, target = np.asarray(source_shares, dtype=np.float64), np.asarray(target_shares, dtype=np.float64)
    if not probabilities.shape[-1] == len(source) == len(target):
        raise ValueError(f"prior_corrected: {probabilities.shape[-1]} classes of probabilities, {len(source)} source and {len(target)} target shares")
    if (source <= 0).any():
        raise ValueError(f"prior_corrected: the source share of class {int(np.argmin(source))} is 0")
    multipliers = target / source
    return PriorShiftAdapterFunc(multipliers=multipliers)(probabilities)


def em_label_shift(validation_probabilities, validation_labels, probabilities) -> tuple[np.ndarray, np.ndarray]:
    """Label-shift adaptation by EM (Saerens et al. 2002), on calibrated probabilities (Alexandari et al. 2020 pair
    it with BCTS): the class shares of the unlabelled sentences are estimated by alternating `prior_corrected`
    with their mean corrected probability, starting from the validation labels' shares; no label of those
    sentences is read. Through `abstention.label_shift.EMImbalanceAdapter`, which stops when no class's share moves
    by more than 1e-6 in a round, here after at most `EM_MAX_ROUNDS` rounds (the package's default of 100 stops
    short of that where the classes overlap).

    validation_probabilities: (n_val, K), calibrated the same way (read only by the package's calibration hook, which
    is not used here: the source shares are the validation labels'); validation_labels: (n_val,) class ids;
    probabilities: (n, K) of the unlabelled sentences.
    Returns ((n, K) adapted probabilities, (K,) the estimated class shares). `ValueError` when a class has no
    validation sentence (its source share would be 0)."""
    from abstention.label_shift import EMImbalanceAdapter

    validation_labels = np.asarray(validation_labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    k = probabilities.shape[1]
    missing = np.flatnonzero(np.bincount(validation_labels, minlength=k) == 0)
    if len(missing):
        raise ValueError(f"em_label_shift: class {int(missing[0])} has no validation sentence")
    adapt = EMImbalanceAdapter(estimate_priors_from_valid_labels=True, max_iterations=EM_MAX_ROUNDS)(
        tofit_initial_posterior_probs=probabilities,
        valid_posterior_probs=np.asarray(validation_probabilities, dtype=np.float64),
        valid_labels=np.eye(k)[validation_labels],
    )
    source = np.bincount(validation_labels, minlength=k) / len(validation_labels)
    return adapt(probabilities), source * adapt.multipliers

def output_layer_name(model: nn.Module) -> str:
    """The name of the last `nn.Linear` with `num_labels` outputs: a stock HF classification head's
    output layer (`classifier` in BERT and DistilBERT, `classifier.out_proj` in RoBERTa and MPNet).
    `ValueError` if the model has none."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear) and module.out_features == model.config.num_labels]
    if not names:
        raise ValueError(f"{type(model).__name__} has no linear layer with num_labels={model.config.num_labels} outputs to scale")
    return names[-1]


def apply_temperature(model, temperature: float) -> None:
    """Divide the model's logits by `temperature` from now on, and record it in its config.

    A GloVe model (`GloveConfig`) multiplies its config's `temperature` field by it (the base
    class divides the logits by that field). A stock HF model gets it folded into its output layer
    (`output_layer_name`): weight and bias divided by T give exactly logits / T with no custom
    code, and `config.temperature_scaling = {"temperature": T, "folded_into": name}` says so (the
    layer's trained scale is the saved one times T). A scikit-learn linear classifier (a SetFit
    model's `LogisticRegression` head, which has no config) gets it folded into `coef_` and
    `intercept_` alike: its `decision_function` becomes z / T, and `predict_proba`, sigmoid (binary)
    or softmax (multiclass) of it, is exactly softmax(logits / T) of the logits
    `pipelines.inference.head_logits` gives; the head's own `temperature_scaling` attribute says so
    (pickled with it; the fitted head is the saved one times T). Argmax predictions never change.
    """
    if hasattr(model, "coef_"):
        model.coef_ = model.coef_ / temperature
        model.intercept_ = model.intercept_ / temperature
        model.temperature_scaling = {"temperature": temperature, "folded_into": "coef_, intercept_"}
        return
    if isinstance(model.config, GloveConfig):
        model.config.temperature = model.config.temperature * temperature
        return
    name = output_layer_name(model)
    layer = model.get_submodule(name)
    with torch.no_grad():
        layer.weight.div_(temperature)
        if layer.bias is not None:
            layer.bias.div_(temperature)
    model.config.temperature_scaling = {"temperature": temperature, "folded_into": name}



def remove_temperature(model) -> float:
    """Undo `apply_temperature` (and the abstention threshold chosen with it): the model back at its
    trained scale. Returns the T removed (1.0: the model had none). For refitting a temperature
    fitted by an earlier rule (`python -m pipelines.calibrate RUN_DIR... --refit`)."""
    settings = saved_settings(model)
    for name in ("abstain_threshold", "abstain_coverage"):
        if getattr(settings, name, None) is not None:
            setattr(settings, name, None)
    if not hasattr(model, "coef_") and isinstance(model.config, GloveConfig):
        temperature, model.config.temperature = float(model.config.temperature), 1.0
        return temperature
    temperature = float((getattr(settings, "temperature_scaling", None) or {}).get("temperature", 1.0))
    if hasattr(model, "coef_"):
        model.coef_, model.intercept_ = model.coef_ * temperature, model.intercept_ * temperature
    elif temperature != 1.0:
        layer = model.get_submodule(model.config.temperature_scaling["folded_into"])
        with torch.no_grad():
            layer.weight.mul_(temperature)
            if layer.bias is not None:
                layer.bias.mul_(temperature)
    settings.temperature_scaling = None
    return temperature


def forget_calibration(model, path: str, head_kept: bool) -> None:
    """A model loaded from a calibrated run folder starts fine-tuning as trained, and keeps none of that run's
    calibration: a head loaded as it was saved gets its temperature taken out again (`remove_temperature`:
    the folded-in T multiplied back, the abstention threshold dropped); a head drawn anew (`head_kept` False: another
    number of labels, or a SetFit model's scikit-learn head fitted again by `model_head.fit`, which keeps its attributes)
    has nothing to take out, and its `saved_settings`' `temperature_scaling` and abstention fields are dropped. Without
    this a run trained with `--temperature_scaling false` would save the old run's temperature and threshold."""
    config = saved_settings(model)
    fields = ("temperature_scaling", "abstain_threshold", "abstain_coverage")
    glove_temperature = config.temperature if isinstance(config, GloveConfig) else 1.0  # a stock config's `temperature` is generation's
    if not any(getattr(config, name, None) is not None for name in fields) and glove_temperature == 1.0:
        return
    if head_kept or isinstance(config, GloveConfig):  # a GloVe model's T is a config field, not folded into its head
        temperature = remove_temperature(model)
    else:
        temperature = None
        for name in fields:
            setattr(config, name, None)
    said = f"its temperature scaling (T = {temperature:.4g}) undone and " if temperature not in (None, 1.0) else ""
    print(f"{path}: {said}its saved calibration dropped before fine-tuning")


def model_temperature(config) -> float:
    """The temperature a saved model's config (or a scikit-learn head, `saved_settings`; or a `config.json` as read,
    a dict, as an ONNX export's) says its logits are divided by (1.0: none)."""
    if isinstance(config, dict):  # a stock config's `temperature` is generation's: only a GloVe config's is ours
        if config.get("model_type", "").startswith("glove"):
            return float(config.get("temperature", 1.0))
        return float((config.get("temperature_scaling") or {}).get("temperature", 1.0))
    if isinstance(config, GloveConfig):
        return float(config.temperature)
    return float((getattr(config, "temperature_scaling", None) or {}).get("temperature", 1.0))


def abstain_threshold(probabilities, coverage: float = ABSTAIN_COVERAGE) -> float:
    """The confidence threshold that answers a share `coverage` of these (validation) sentences.

    probabilities: (n, num_labels). The top probabilities sorted from high to low, the threshold is
    the ⌈coverage·n⌉-th: at least that share has top probability >= it (more when it is tied).
    `ValueError` for no sentences or a coverage outside (0, 1]."""
    confidence = np.sort(np.asarray(probabilities, dtype=np.float64).max(axis=1))[::-1]
    if len(confidence) == 0 or not 0 < coverage <= 1:
        raise ValueError(f"abstain_threshold needs sentences and a coverage in (0, 1] (got {len(confidence)} sentences, coverage {coverage})")
    return float(confidence[math.ceil(coverage * len(confidence) - 1e-9) - 1])


def selective_scores(probabilities, labels, threshold: float) -> dict[str, float]:
    """Coverage (share with top probability >= threshold) and accuracy on those (None when none is).
    probabilities: (n, num_labels); labels: (n,) class ids."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    answered = probabilities.max(axis=1) >= threshold
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    return {"coverage": float(answered.mean()), "accuracy": float(correct[answered].mean()) if answered.any() else None}


def risk_coverage(probabilities, labels) -> tuple[np.ndarray, np.ndarray]:
    """The risk–coverage curve (Geifman & El-Yaniv 2017): sentences answered from the most confident
    down, coverage k/n and risk (error rate among the k answered) for k = 1..n. Ties in confidence are
    answered together (one point per distinct confidence), so the curve does not depend on row order.
    probabilities: (n, num_labels); returns (coverage, risk), each (points,)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    wrong = (probabilities.argmax(axis=1) != np.asarray(labels)).astype(float)
    order = np.argsort(-confidence, kind="stable")
    confidence, errors = confidence[order], np.cumsum(wrong[order])
    last = np.r_[confidence[1:] != confidence[:-1], True]  # the last row of each run of equal confidence
    answered = np.arange(1, len(confidence) + 1)[last]
    return answered / len(confidence), errors[last] / answered


def set_abstain_threshold(config, validation_probabilities, coverage: float = ABSTAIN_COVERAGE) -> float:
    """Store `abstain_threshold` (chosen on validation, `abstain_threshold`) and `abstain_coverage` in a
    model config; returns the threshold. validation_probabilities: (n, num_labels), as the model outputs them."""
    config.abstain_threshold = abstain_threshold(validation_probabilities, coverage)
    config.abstain_coverage = coverage
    return config.abstain_threshold


def saved_settings(model):
    """Where `model` keeps its temperature and abstention threshold when saved: an HF model's config,
    or a scikit-learn head itself (it has no config; its attributes are pickled with it)."""
    return getattr(model, "config", model)


def calibration_record(temperature: float, test_labels, test_logits) -> dict:
    """What `results.json` says under `calibration`: T, the method, and the test scores before
    (softmax(logits)) and after (softmax(logits / T)) scaling. test_logits: (n, num_labels)."""
    return {
        "temperature": temperature,
        "method": METHOD,
        "scores": SCORES_NOTE,
        "test_before": calibration_scores(scaled_probabilities(test_logits, 1.0), test_labels),
        "test_after": calibration_scores(scaled_probabilities(test_logits, temperature), test_labels),
    }


def abstain_record(threshold: float, test_labels, test_probabilities) -> dict:
    """What `results.json` says under `calibration.abstain`: the threshold (chosen on validation) and
    the coverage and accuracy it gives on test. test_probabilities: (n, num_labels), after scaling."""
    return {"threshold": threshold, "validation_coverage": ABSTAIN_COVERAGE, "chosen_on": "validation",
            "test": selective_scores(test_probabilities, test_labels, threshold)}  # fmt: skip


def logits_from_probabilities(probabilities) -> np.ndarray:
    """log p: logits up to a per-row constant, which softmax ignores, so softmax(log p / T) is
    exactly softmax(z / T). A probability that underflowed to 0 is read as the smallest float64."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), np.finfo(np.float64).tiny, None))


def calibrate_after_training(
    model, validation_prediction, record, test_predictions: tuple, enabled: bool, run_dir: Path | None
) -> tuple:
    """The training step after the best model is restored and the test set scored.

    `validation_prediction` is `Trainer.predict` on the validation split, in its order (a
    `PredictionOutput`: SetFit builds one from its head's logits). Writes its logits and labels to
    `VALIDATION_PREDICTIONS_FILE` in `run_dir` (always, so a run can be calibrated later by
    `python -m pipelines.calibrate`; `run_dir` is None on the processes of a distributed run that do
    not write). When `enabled`, runs `calibrate_model` on them and `model` (the trained model, or a
    SetFit model's head, saved after this): T (when one is identifiable), the abstention threshold in
    the saved model, and `record.calibration` with its conformal sets. `test_predictions` is
    `(indices, labels, probabilities (n, num_labels))`; returns it with the probabilities the
    saved model gives, softmax(logits / T). The test metrics do not change: argmax is the same.
    """
    predictions = validation_prediction.predictions
    logits = predictions[0] if isinstance(predictions, tuple) else predictions  # (n, num_labels)
    labels = validation_prediction.label_ids
    if run_dir is not None:
        write_validation_predictions(run_dir / VALIDATION_PREDICTIONS_FILE, labels, logits)
    record.validation_predictions_file = VALIDATION_PREDICTIONS_FILE
    if not enabled:
        return test_predictions
    indices, test_labels, probabilities = test_predictions
    scaled = calibrate_model(model, labels, logits, record, test_labels, logits_from_probabilities(probabilities))
    print(f"temperature scaling: {calibration_summary(record.calibration)}")
    return indices, test_labels, scaled


def calibrate_model(model, validation_labels, validation_logits, record, test_labels, test_logits) -> np.ndarray:
    """Temperature scaling of one model, in training and in `python -m pipelines.calibrate` alike.

    Fits T on the validation logits (`fit_temperature`; the test set is never seen), applies it to
    `model` (`apply_temperature`: an HF model, or a SetFit model's scikit-learn head), stores the
    abstention threshold chosen on the scaled validation probabilities in its `saved_settings`, and
    sets `record.calibration`: `calibration_record`, with `abstain` (`abstain_record`) and
    `conformal` (`conformal_record`). When no temperature is identifiable (`TemperatureNotIdentifiable`)
    the model is left as it is and `record.calibration` is `{"skipped": why}`, the form an as-is
    scorer left out of scaling has, with the threshold and the conformal sets chosen all the same, on the
    unscaled softmax(validation logits), which their entries say (`"probabilities": "unscaled"`).
    validation_logits: (n_val, K) with validation_labels (n_val,); test_logits: (n, K) (log probabilities
    do: softmax ignores a per-row constant) with test_labels (n,). Returns the test probabilities the
    saved model gives, softmax(test_logits / T) (n, K), T = 1 when it was left as it is.
    """
    try:
        temperature = fit_temperature(validation_logits, validation_labels)
    except TemperatureNotIdentifiable as err:
        temperature, record.calibration, unscaled = 1.0, not_identifiable(err), {"probabilities": "unscaled"}
    else:
        apply_temperature(model, temperature)
        record.calibration, unscaled = calibration_record(temperature, test_labels, test_logits), {}
    validation = scaled_probabilities(validation_logits, temperature)
    scaled = scaled_probabilities(test_logits, temperature)
    threshold = set_abstain_threshold(saved_settings(model), validation)
    record.calibration["abstain"] = abstain_record(threshold, test_labels, scaled) | unscaled
    record.calibration["conformal"] = conformal_record(validation, validation_labels, scaled, test_labels) | unscaled
    return scaled


def calibration_summary(calibration: dict) -> str:
    """One line of a `calibration` record: T, test ECE before -> after, and the conformal sets' test
    coverage and mean size at each alpha (when recorded); or why scaling was left out, then the (unscaled) sets' the same."""
    if "skipped" in calibration:
        text = calibration["skipped"]
    else:
        before, after = calibration["test_before"]["ece"], calibration["test_after"]["ece"]
        text = f"T = {calibration['temperature']:.3f}, test ECE ({ECE_BINS} bins) {before:.4f} -> {after:.4f}"
    conformal = calibration.get("conformal") or {}
    for alpha in CONFORMAL_ALPHAS:
        if f"{alpha:g}" in conformal:
            found = conformal[f"{alpha:g}"]
            text += f"; {1 - alpha:.0%} conformal sets: coverage {found['coverage']:.4f}, mean size {found['mean_set_size']:.3f}"
    return text


def conformal_sets(validation_probabilities, validation_labels, test_probabilities, alpha: float) -> np.ndarray:
    """Split-conformal prediction sets (module docstring) at miscoverage `alpha`, through crepes.

    validation_probabilities: (n_val, K) with validation_labels (n_val,) class ids, the calibration
    sentences; test_probabilities: (n, K) at the same scale. Returns (n, K) 0/1 ints, row i the
    labels in sentence i's set (a row may be empty). `ValueError` for no validation sentences or an
    alpha outside (0, 1)."""
    from crepes import ConformalClassifier
    from crepes.extras import hinge

    validation_probabilities = np.asarray(validation_probabilities, dtype=np.float64)
    if len(validation_probabilities) == 0 or not 0 < alpha < 1:
        raise ValueError(f"conformal_sets needs validation sentences and an alpha in (0, 1) (got {len(validation_probabilities)}, {alpha})")
    classes = np.arange(validation_probabilities.shape[1])
    classifier = ConformalClassifier().fit(hinge(validation_probabilities, classes, np.asarray(validation_labels, dtype=np.int64)))
    return classifier.predict_set(hinge(np.asarray(test_probabilities, dtype=np.float64)), confidence=1 - alpha, smoothing=False)


def set_scores(sets: np.ndarray, labels) -> dict[str, float]:
    """{"coverage": share of sentences whose set holds the gold label, "mean_set_size": labels per set,
    "empty": share of empty sets}. sets: (n, K) 0/1 (`conformal_sets`); labels: (n,) class ids."""
    sets = np.asarray(sets, dtype=bool)
    labels = np.asarray(labels, dtype=np.int64)
    return {"coverage": float(sets[np.arange(len(labels)), labels].mean()), "mean_set_size": float(sets.sum(axis=1).mean()),
            "empty": float((~sets.any(axis=1)).mean())}  # fmt: skip


def conformal_record(validation_probabilities, validation_labels, test_probabilities, test_labels) -> dict:
    """What a record says under `calibration.conformal`: the method, the number of validation
    (calibration) sentences, and per alpha of `CONFORMAL_ALPHAS` (keys "0.1", "0.05") the `set_scores`
    on test. Probabilities: (n, K), both at the scale the model outputs (after temperature scaling)."""
    return {
        "method": CONFORMAL_METHOD,
        "validation_sentences": len(validation_labels),
        **{f"{alpha:g}": set_scores(conformal_sets(validation_probabilities, validation_labels, test_probabilities, alpha), test_labels)
           for alpha in CONFORMAL_ALPHAS},
    }  # fmt: skip


def calibrate_probabilities(validation_probabilities, validation_labels, test_probabilities, test_labels) -> tuple[dict, np.ndarray]:
    """Temperature scaling of a scorer known only by its probabilities (an as-is model).

    T is fitted on the validation sentences' log probabilities (`logits_from_probabilities`, then
    `fit_temperature`); the test set is only scored. Probabilities: (n, K) over the dataset's labels;
    labels: (n,) class ids. Returns (record, test probabilities softmax(log p / T) (n, K)): the record is
    `calibration_record` (T, ECE/Brier/NLL on test before and after) with `fitted_on` and the
    conformal sets of the scaled probabilities (`conformal_record`); `not_identifiable`'s record and the test
    probabilities unscaled when the validation sentences identify no temperature. Argmax predictions never change.
    """
    validation_logits = logits_from_probabilities(validation_probabilities)
    test_logits = logits_from_probabilities(test_probabilities)
    try:
        temperature = fit_temperature(validation_logits, validation_labels)
    except TemperatureNotIdentifiable as err:
        return not_identifiable(err), np.asarray(test_probabilities)
    record = calibration_record(temperature, test_labels, test_logits)
    record["fitted_on"] = f"log probabilities of {len(validation_labels)} validation sentences"
    scaled = scaled_probabilities(test_logits, temperature)
    record["conformal"] = conformal_record(scaled_probabilities(validation_logits, temperature), validation_labels, scaled, test_labels)
    return record, scaled
