"""Sentiment models scored as they are, all through one interface (`pipelines.inference.Classifier`):
texts in, probabilities over the model's own labels out; then one label mapping, one table.

`resolve_scorer` turns a `--models` entry into a classifier (`pipelines.inference.load_classifier`):
a lexicon name (`vader`, `textblob`, `afinn`), a sentence encoder alias for zero-shot (`minilm`,
`mpnet`), a folder holding `model.onnx`, or a Hub id / `save_pretrained` folder.

Each model's labels are mapped onto the dataset's (`negative`, `positive` / `negative`, `neutral`,
`positive`) by `pipelines.label_mapping`: by name, or from its table for checkpoints whose names
say nothing; a two-label model on SemEval predicts `neutral` below `neutral_threshold`. Anything
else is refused.

Validation: every model is also scored on validation sentences (`validation_split`: the data's own
validation split, else the one train.py holds out by default; the test set is never used for it), and
its entry records those scores (`ScoredModel.validation`), so the report chooses the best as-is
model on validation as it chooses the best trained one (`pipelines.report.compare.best_of`). For the
benchmarks that split is drawn from their training data: a Hub checkpoint tuned on that data (the
SemEval defaults were tuned on SemEval-2017's training tweets) has seen it, and its validation score
is optimistic.

Temperature scaling (`--temperature_scaling`, on by default, as in train.py): each model's
probabilities over the dataset's labels are calibrated by one temperature fitted on the same
validation sentences (`pipelines.calibration.calibrate_probabilities`). The
predictions file then holds the scaled probabilities (predictions unchanged), the model's entry
its `calibration` (T, test ECE/Brier/NLL before and after, conformal sets) and its validation log
probabilities. Left out, with the reason in `calibration.skipped` (`not_calibrated`): lexicons, whose
probabilities (`pipelines.scorers.LexiconScorer`) are one-hot of the label their rule gives, or 0.5 / 0.5
for a tie on two-class data (a score of exactly 0: no lexicon word, or words that cancel; common on MR,
where the report's "How sure" section counts them). Temperature scaling leaves both as they are
(softmax(log p / T) = p for every T: log 0 is -inf, a uniform row stays uniform), so there is no
temperature to fit; calibrating the lexicon's score instead (a logistic fitted on it) would be a new
trained model, not the tool as it is.
Also left out: two-label models on three-class data, whose `neutral` comes from a threshold on the top
probability, so rescaling would change their predictions.
"""

from __future__ import annotations

import hashlib
import shlex
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

from pipelines import hub_access
from pipelines.backbones import MODEL_ALIASES, resolve_model
from pipelines.arguments import TRAINER_DEFAULT_SEED, DataArguments, PretrainedArguments
from pipelines.calibration import calibrate_probabilities, calibration_summary, logits_from_probabilities
from pipelines.data import column, load_data
from pipelines.data.builtin import resolve_data_dir
from pipelines.data.files import file_digests
from pipelines.errors import DataError, OptionError, PathError, UserError, one_line
from pipelines.benchmarks import BENCHMARKS, closest_benchmark, official_metric_for
from pipelines.metrics import METRICS, metric_keys, score
from pipelines.runs.io import (
    check_folder_kind,
    check_writable_dir,
    file_name,
    read_json,
    write_json_atomic,
    write_predictions,
    write_validation_predictions,
)
from pipelines.runs.layout import EVALUATION_FILE, EVALUATION_MD, RESULTS_FILE, CellFolder
from pipelines.runs.record import EvaluationRecord, ScoredModel, library_versions, process_revision
from pipelines.formatting import markdown_table
from pipelines.inference import Classifier, check_device, default_device, load_classifier
from pipelines.label_mapping import label_mapping, parse_label_map, unmatched_label_map_keys
from pipelines.scorers import LEXICONS
from pipelines.metrics import confusion_counts
from pipelines.splits import split_validation, validation_in_test
from pipelines.statistics import score_interval

# Scored when `--models` is not given: the offline families first (lexicons, zero-shot with the
# sentence encoders), then three Hub checkpoints per benchmark, which need the Hub or a local cache.
# Models trained on the other benchmark are added from `--runs_dir` (`cross_benchmark_runs`).
# The Hub checkpoints are each benchmark's `pretrained_models` (`pipelines.benchmarks`).
OFFLINE_MODELS = ("vader", "textblob", "afinn", "minilm", "mpnet")

# What scoring one sentence costs each offline model, in CPU milliseconds on one torch thread, as measured on this
# project's 2-core CPU by `OMP_NUM_THREADS=1 python -m bench.asis_cost semeval2017a vader textblob afinn minilm mpnet
# --sentences 300` (results/asis_semeval2017a.md; on MR the same script gave MPNet 325.2: results/asis_mr.md). The
# start of a run multiplies them by the sentences it will score (`cost_line`). Hub checkpoints and trained runs: not measured.
MEASURED_CPU_MS = {"vader": 0.1, "textblob": 0.4, "afinn": 0.5, "minilm": 42.6, "mpnet": 324.1}
MEASURED_BY = "bench.asis_cost, results/asis_semeval2017a.md"

# --- resolving a --models entry ------------------------------------------------------------------

def resolve_scorer(
    entry: str, label_names: list[str], dataset: str | None = None, device: str | None = None, batch_size: int = 64
) -> Classifier:
    """The classifier a `--models` entry names (`pipelines.inference.load_classifier`: a lexicon, a
    sentence encoder alias for zero-shot, a folder holding `model.onnx`, or a Hub id / local
    `save_pretrained` folder), with a progress bar. Raises `PathError` for a missing folder, or for a
    Hub id that is neither reachable nor cached."""
    path = Path(entry).expanduser()
    if entry not in LEXICONS and entry not in MODEL_ALIASES and not path.exists():
        resolved = resolve_model(entry, other_choices=f"a lexicon: {', '.join(LEXICONS)}")
        if resolved == entry:  # a Hub id: fails in seconds, not after a minute of download retries, when the Hub is out of reach
            hub_access.model_load_kwargs(entry, "score a local copy instead: --models <run folder> (a save_pretrained folder)")
    return load_classifier(entry, label_names, dataset, device or default_device(), batch_size, progress=True)


def cross_benchmark_runs(runs_dir: str | Path, dataset: str) -> list[str]:
    """Models trained on the other benchmark, to score as they are: for each model under
    `<runs_dir>/<other>-lab-trained/<model>/` (`pipelines.experiments --train_embeddings`), its finished
    (`results.json`) seed folder of lowest seed."""
    cells = [CellFolder.parse(path.parent) for path in Path(runs_dir).glob(f"{cross_group(dataset)}/*/seed-*/{RESULTS_FILE}")]
    lowest = {}
    for cell in sorted((cell for cell in cells if cell), key=lambda cell: cell.seed, reverse=True):
        lowest[cell.model] = cell
    return [str(lowest[model].under(runs_dir)) for model in sorted(lowest)]


def cross_group(dataset: str) -> str:
    """The grid folder of the other benchmark's trained-vectors lab-split runs: `semeval2017a-lab-trained`."""
    return CellFolder.grid_group(BENCHMARKS[dataset].other_benchmark, "lab", "trained")


def default_models(
    label_names: list[str], dataset: str | None, runs_dir: str | Path | None, data_dir: str | Path | None = None
) -> tuple[list[str], list[str]]:
    """(models, notes) scored without `--models`: `OFFLINE_MODELS`, the benchmark's Hub checkpoints
    (your own data gets those of the benchmark whose labels are closest), then the other benchmark's runs.
    The note that none was found holds the command that trains them, reading the data from `data_dir` (the
    folder this run read, `--data-dir` or `$SENTIBENCH_DATA_DIR`; None: the Hub copies), so it runs as printed."""
    benchmark = BENCHMARKS[dataset] if dataset in BENCHMARKS else closest_benchmark(label_names)
    models, notes = [*OFFLINE_MODELS, *benchmark.pretrained_models], []
    other = BENCHMARKS[dataset].other_benchmark if dataset in BENCHMARKS else None
    if other and runs_dir:
        cross = cross_benchmark_runs(runs_dir, dataset)
        models += cross
        if not cross:
            data = ["--data_dir", str(data_dir)] if data_dir else []
            command = ["python", "-m", "pipelines.experiments", *data, "--datasets", other, "--train_embeddings", "--runs_dir", str(runs_dir)]
            notes.append(f"no models trained on {other} under {Path(runs_dir) / cross_group(dataset)} (train them with `{shlex.join(command)}`)")
    return models, notes


def cost_line(models: list[str], test_sentences: int, validation_sentences: int, defaults: bool) -> str:
    """One line, printed before any scoring: what will be scored, on how many sentences, its measured cost
    where one is known (`MEASURED_CPU_MS`) and, for the default list, how to score fewer (the example: the
    measured models under one CPU-minute each here)."""
    sentences = test_sentences + validation_sentences
    minutes = {model: MEASURED_CPU_MS[model] * sentences / 60_000 for model in models if model in MEASURED_CPU_MS}
    line = (f"scoring {len(models)} model{'s' if len(models) > 1 else ''} on {test_sentences} test + {validation_sentences} "
            f"validation sentences: {' '.join(models)}")  # fmt: skip
    if minutes:
        total = sum(minutes.values())
        slowest = [f"{model} {cost:.1f}" for model, cost in sorted(minutes.items(), key=lambda item: -item[1]) if cost >= 0.05]
        line += (f"; cost measured on one CPU thread ({MEASURED_BY}): "
                 + (f"{total:.1f} CPU-min ({', '.join(slowest)})" if slowest else "under 0.1 CPU-min"))  # fmt: skip
        unmeasured = len(models) - len(minutes)
        line += f", the other {unmeasured} not measured" if unmeasured else ""
    else:
        line += "; cost not measured"
    cheap = [model for model, cost in minutes.items() if cost < 1]
    if defaults:
        line += "; to score fewer: --models NAME ..." + (f" (e.g. --models {' '.join(cheap)})" if cheap else "")
    return line


# --- temperature scaling on validation --------------------------------------------------------------


def validation_split(dataset, label: str) -> tuple[tuple[list[str], list[int]] | None, dict]:
    """The (texts, label ids) the scorers are scored and calibrated on, and their description for the record.

    `dataset`: `load_data`'s splits. Its own `validation` split if it has one (`--validation_file`, a
    Hub validation split), else the one train.py holds out by default from `train`:
    `DataArguments.validation_fraction` of each class, drawn with `TrainingArguments`' default seed
    (`pipelines.splits.split_validation`; for MR and SemEval the lab split's validation of a seed-42
    run). None, with `skipped` saying why, when there is no training data (only `--test_file`).
    `DataError` when a class is too small to hold out its share."""
    if "validation" not in dataset and "train" not in dataset:
        return None, {"skipped": f"{label} has no validation or training data to score and calibrate on (give --validation_file)"}
    fraction, seed = DataArguments.validation_fraction, TRAINER_DEFAULT_SEED
    own = "validation" in dataset
    validation = split_validation(dataset, fraction, seed)["validation"]
    source = "its own validation split" if own else f"{fraction:g} of train per class, seed {seed} (train.py's default validation split)"
    return (column(validation, "text"), column(validation, "label")), {"sentences": len(validation), "source": source}


def validation_test_overlap(validation, test, args: PretrainedArguments) -> int:
    """The test sentences also in the validation sentences the scorers are calibrated and chosen on
    (`splits.validation_in_test`: a warning with the count; `DataError` when every test sentence is there, e.g.
    `--validation_file` naming the test file). 0 without validation."""
    from datasets import Dataset, DatasetDict

    if validation is None:
        return 0
    return validation_in_test(DatasetDict(validation=Dataset.from_dict({"text": validation[0]}), test=test), args)


def not_calibrated(classifier, mapping) -> str | None:
    """Why this scorer is left out of temperature scaling (module docstring), or None."""
    if getattr(classifier, "family", None) == "lexicon":
        return ("a lexicon's probabilities are one-hot of its rule's label, or 0.5/0.5 for a two-class tie (a score of 0), "
                "which temperature scaling leaves as they are: softmax(log p / T) = p for every T, so none is fitted")
    if mapping.neutral_threshold is not None:
        return "neutral is predicted below a threshold on the top probability (--neutral_threshold): rescaling would change predictions"
    return None


def calibrate_scorer(
    classifier, mapping, labels, validation_probabilities, test_probabilities, references
) -> tuple[dict, tuple | None, np.ndarray]:
    """(calibration record, validation (labels (n_val,), log probabilities (n_val, K)) or None, test
    probabilities (n, K) after scaling). `validation_probabilities`, `test_probabilities`: over the
    dataset's labels, (n_val, K) and (n, K); `labels`: the validation label ids (n_val,)."""
    why = not_calibrated(classifier, mapping)
    if why:
        return {"skipped": why}, None, test_probabilities
    record, scaled = calibrate_probabilities(validation_probabilities, labels, test_probabilities, references)
    print(f"{classifier.name}: temperature scaling on {len(labels)} validation sentences: {calibration_summary(record)}", flush=True)
    return record, (np.asarray(labels), logits_from_probabilities(validation_probabilities)), scaled


# --- one row -------------------------------------------------------------------------------------


def score_intervals(references, predictions, label_names: list[str]) -> dict[str, list[float]]:
    """{metric: [low, high]}: the 95% interval of each metric of one run over its test sentences (`statistics.score_interval`)."""
    intervals = (score_interval(references, predictions, metric, label_names) for metric in metric_keys(label_names))
    return {found["metric"]: [found["ci_low"], found["ci_high"]] for found in intervals}


def trained_on(model: str) -> str | None:
    """The dataset a local run folder was trained on (its `results.json`), if it says."""
    try:  # any results.json that names its dataset will do: only the dataset is needed here
        return read_json(Path(model).expanduser() / RESULTS_FILE).get("dataset")
    except (OSError, DataError, AttributeError):
        return None


def evaluate_model(
    model: str,
    texts: list[str],
    references: list[int],
    label_names: list[str],
    batch_size: int = 64,
    neutral_threshold: float = 0.8,
    extra_labels: dict[str, str] | None = None,
    device: str | None = None,
    dataset: str | None = None,
    validation: tuple[list[str], list[int]] | None = None,
    temperature_scaling: bool = True,
    labels_seen: set[str] | None = None,
) -> tuple[ScoredModel, tuple]:
    """One model's entry (test scores with their intervals, validation scores when `validation` (texts,
    label ids) is given, timing, the label rule used) and its predictions: probabilities over the
    dataset's labels (n, num_labels) for `write_predictions` (after temperature scaling on
    `validation` when `temperature_scaling` and the model is calibrated: `calibrate_scorer`), the
    predicted label ids (n,), and the validation labels and log probabilities for
    `write_validation_predictions` (None when not calibrated). `labels_seen`: the model's own label names are added
    to it (so the caller can tell a `--label_map` key that no model has)."""
    started = time.perf_counter()
    classifier = resolve_scorer(model, label_names, dataset, device, batch_size)
    load_seconds = time.perf_counter() - started
    if labels_seen is not None:
        labels_seen.update(map(str, classifier.label_names))
    mapping = label_mapping(model, dict(enumerate(classifier.label_names)), label_names, extra_labels, neutral_threshold)

    started = time.perf_counter()
    probabilities = np.asarray(classifier.probabilities(texts), dtype=float)
    seconds = max(time.perf_counter() - started, 1e-9)
    if probabilities.shape != (len(texts), len(classifier.label_names)):
        raise RuntimeError(f"{model}: probabilities gave shape {probabilities.shape}, expected {(len(texts), len(classifier.label_names))}")
    predictions = mapping.predict(probabilities)
    calibration, validation_rows, dataset_probabilities = None, None, mapping.dataset_probabilities(probabilities)  # (n, K)
    validation_scores = None
    if validation is not None:
        validation_probabilities = np.asarray(classifier.probabilities(validation[0]), dtype=float)  # (n_val, own labels)
        validation_scores = score(mapping.predict(validation_probabilities), validation[1], label_names)
        if temperature_scaling:
            calibration, validation_rows, dataset_probabilities = calibrate_scorer(
                classifier, mapping, validation[1], mapping.dataset_probabilities(validation_probabilities), dataset_probabilities, references
            )
    scored = ScoredModel(
        model=model,
        family=getattr(classifier, "family", type(classifier).__name__),
        trained_on=trained_on(model),
        test=score(predictions, references, label_names),
        ci=score_intervals(references, predictions, label_names),
        seconds=round(seconds, 2),
        sentences_per_second=round(len(texts) / seconds, 1),
        load_seconds=round(load_seconds, 2),
        labels=mapping.describe(),
        rule=getattr(classifier, "rule", None) or mapping.describe(),
        ties=mapping.ties(probabilities),
        predicted_counts=np.bincount(predictions, minlength=len(label_names)).tolist(),
        confusion_matrix=confusion_counts(references, predictions, len(label_names)).tolist(),
        calibration=calibration,
        validation=validation_scores,
        model_temperature=temperature if (temperature := classifier.temperature) != 1.0 else None,
    )
    return scored, (dataset_probabilities, predictions, validation_rows)


def evaluation_table(rows: list[ScoredModel], label_names: list[str], dataset: str | None = None) -> str:
    """Metrics, the 95% interval of the official metric, the official metric on validation (when scored),
    speed, ties (when any) and the label rule."""
    official = official_metric_for(dataset, label_names)
    columns = [("model", "model"), ("family", "family")]
    columns += [(key, METRICS[key].display) for key in metric_keys(label_names)]
    columns += [("interval", f"95% CI of {METRICS[official].display}")]
    if any(row.validation for row in rows):
        columns.append(("on_validation", f"validation {METRICS[official].display}"))
    columns.append(("sentences_per_second", "sentences/s"))
    if any(row.ties for row in rows):
        columns.append(("ties", "ties"))
    columns.append(("rule", "label rule"))
    shown = [
        {
            **row.to_dict(),
            "interval": "{:.4f}-{:.4f}".format(*row.ci[official]),
            "on_validation": f"{row.validation[official]:.4f}" if row.validation else "",
            "sentences_per_second": f"{row.sentences_per_second:.1f}",
        }
        for row in rows
    ]
    return markdown_table(shown, columns)


ERRORS_FOLDER = "errors"  # in the output folder: the traceback of each model that could not be scored


def score_models(
    model_names: list[str], texts, references, label_names, args: PretrainedArguments, device: str, validation=None
) -> tuple[list, list, list[Exception], dict[str, str]]:
    """(scored, failures, errors, tracebacks): `evaluate_model`'s (entry, predictions) per model that ran, each
    scored on `validation` (texts, label ids) when given, and calibrated on it if `args.temperature_scaling`; a
    model that cannot be loaded, mapped or run is one line of `failures` and its exception in `errors`, and
    the rest still run. `tracebacks`: {file under the output folder (`errors/<model>.txt`): its text}, written
    with the evaluation, so input that no model can be scored on leaves nothing behind."""
    extra_labels = parse_label_map(args.label_map)
    dataset = args.dataset if args.source == "builtin" else None
    scored, failures, errors, tracebacks = [], [], [], {}
    stems, labels_seen = model_file_stems(model_names), set()
    for model in model_names:
        try:
            scored.append(evaluate_model(
                model, texts, references, label_names, args.batch_size, args.neutral_threshold, extra_labels, device, dataset, validation,
                args.temperature_scaling, labels_seen,
            ))
        except Exception as err:  # a third-party model fails in any way (offline Hub id, bad weights): report, go on
            trace = f"{ERRORS_FOLDER}/{stems[model]}.txt"
            tracebacks[trace] = traceback.format_exc()
            failures.append({"model": model, "error": one_line(err), "traceback": trace})
            errors.append(err)
            print(f"error: {model}: {one_line(err)}", file=sys.stderr, flush=True)
    unmatched = unmatched_label_map_keys(extra_labels, sorted(labels_seen)) if scored else []
    if unmatched:  # a misspelt key maps nothing, and the label it meant falls back to its name
        line = (f"--label_map {', '.join(unmatched)}: no scored model has such a label (theirs: {', '.join(sorted(labels_seen))}; "
                "case aside)")  # fmt: skip
        if failures:  # a model that failed may have it: said, not refused
            print(f"warning: {line}", file=sys.stderr, flush=True)
        else:
            raise OptionError(line)
    return scored, failures, errors, tracebacks


def evaluate_pretrained(args: PretrainedArguments) -> EvaluationRecord:
    """Score every model on the test set; a model that fails is reported in one line, the rest run.
    When none could be scored: `OptionError` if every failure was a user error, else the first
    other exception, re-raised (a bug keeps its traceback). Writes `evaluation.json` (the returned record), `evaluation.md` and one predictions file per model."""
    parse_label_map(args.label_map)  # a bad option fails before any work
    check_writable_dir(Path(args.output_dir))  # before scoring, not after; created only when there is something to write
    check_folder_kind(args.output_dir, "evaluation")
    earlier = earlier_evaluation(Path(args.output_dir))
    dataset, data_description = load_data(args)
    if "test" not in dataset:
        raise OptionError(f"{args.dataset_label} has no test split (it has: {', '.join(dataset)}); give --test_file")
    test = dataset["test"]
    if "index" not in test.column_names:  # each prediction names its sentence's place in the whole test set
        test = test.add_column("index", range(len(test)))
    if args.max_samples is not None and args.max_samples < len(test):  # drawn at random: the test files are sorted by class
        data_description = {**data_description, "max_samples": args.max_samples, "test_sentences_available": len(test)}
        test = test.shuffle(seed=0).select(range(args.max_samples))
    label_names = test.features["label"].names
    notes = []
    model_names = list(args.models)
    if not model_names:
        benchmark = args.dataset if args.source == "builtin" else None
        model_names, notes = default_models(label_names, benchmark, args.runs_dir, resolve_data_dir(args.data_dir))
    for note in notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
    if earlier is not None and not args.overwrite_output_dir:
        check_earlier_evaluation(earlier, Path(args.output_dir), data_description, len(test), model_names)
    texts, references = column(test, "text"), column(test, "label")
    try:
        validation, validation_description = validation_split(dataset, args.dataset_label)
    except DataError as err:  # a class too small to hold out: an error only where calibration was asked for
        if args.temperature_scaling:
            raise
        validation, validation_description = None, {"skipped": one_line(err)}
    if "skipped" in validation_description:
        print(f"note: no validation scores or temperature scaling: {validation_description['skipped']}", file=sys.stderr, flush=True)
    print(cost_line(model_names, len(texts), len(validation[0]) if validation else 0, defaults=not args.models), flush=True)
    overlap = validation_test_overlap(validation, test, args)
    if overlap:
        data_description = {**data_description, "validation_test_overlap": overlap}
    device = args.device or default_device()
    check_device(device)
    scored, failures, errors, tracebacks = score_models(model_names, texts, references, label_names, args, device, validation)
    if not scored:  # nothing to report: leave no empty table behind
        bug = next((err for err in errors if not isinstance(err, UserError)), None)
        if bug is not None:  # not the user's to fix: its traceback, not one line
            raise bug
        raise OptionError(f"no model could be scored on {args.dataset_label}: " + "; ".join(f["model"] for f in failures))

    output_dir = Path(args.output_dir)
    for name, text in tracebacks.items():  # each failed model's traceback beside the evaluation that lists it
        (output_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (output_dir / name).write_text(text, encoding="utf-8")
    write_model_predictions(output_dir, scored, references, column(test, "index"), model_file_stems(model_names))
    record = EvaluationRecord(
        dataset=args.dataset_label,
        data=data_description,
        test_sentences=len(texts),
        label_names=label_names,
        batch_size=args.batch_size,
        neutral_threshold=args.neutral_threshold,
        device=device,
        ci_method="t over test sentences (statistics.score_interval, one run: training variance not counted)",
        results=[row for row, _ in scored],
        failures=failures,
        notes=notes,
        versions=library_versions(),
        code=process_revision(),
        validation=validation_description,
    )
    write_json_atomic(output_dir / EVALUATION_FILE, record.to_dict())
    written = {name for row in record.results for name in (row.predictions_file, row.validation_predictions_file) if name}
    for name in prediction_files(earlier) - written:  # an earlier evaluation's predictions of models this one did not score
        (output_dir / name).unlink(missing_ok=True)
    table = evaluation_table(record.results, label_names, args.dataset if args.source == "builtin" else None)
    (output_dir / EVALUATION_MD).write_text(evaluation_markdown(record, table), encoding="utf-8")
    print(table, end="")
    print(f"scored {len(scored)} of {len(model_names)} models; wrote {output_dir / EVALUATION_FILE} and {output_dir / EVALUATION_MD}")
    return record


def check_earlier_evaluation(earlier: EvaluationRecord, output_dir: Path, data: dict, test_sentences: int, model_names: list[str]) -> None:
    """`OptionError` when `earlier`, the evaluation in `output_dir`, would be replaced and lost: of other data (its
    description or test size differs) or with models this one does not score again. A new evaluation of the same
    data that scores every model again (or more) replaces it, as a finished run of the same definition starts over;
    `--overwrite_output_dir` replaces it in any case."""
    same_data = data_identity(earlier.data) == data_identity(data)
    dropped = [row.model for row in earlier.results if row.model not in model_names]
    if same_data and earlier.test_sentences == test_sentences and not dropped:
        return
    why = f"scores of {', '.join(map(str, dropped))}, which this evaluation does not score again" if same_data and earlier.test_sentences == test_sentences else "an evaluation of other data"
    raise OptionError(
        f"--output_dir {output_dir} holds {why} ({EVALUATION_FILE}); to replace it add --overwrite_output_dir, "
        "or give another --output_dir"
    )


def data_identity(data: dict | None) -> dict:
    """What makes two evaluations' data the same, whatever folder they were run from: the description without its
    paths (`data_dir`, `<split>_file`, the digests keyed by path), with each split's SHA-256 in their place
    (`data.files.file_digests`). `validation_test_overlap` is left out: it is found after the earlier evaluation is
    compared, and follows from the files."""
    data = data or {}
    kept = {key: value for key, value in data.items() if key not in ("data_dir", "sha256", "validation_test_overlap") and not key.endswith("_file")}
    return kept | {"files": file_digests(data)}


def earlier_evaluation(output_dir: Path) -> EvaluationRecord | None:
    """The evaluation `output_dir` already holds, read once before anything is scored (an unreadable one: `DataError`
    naming it); None when it holds none."""
    return EvaluationRecord.read(output_dir / EVALUATION_FILE) if (output_dir / EVALUATION_FILE).is_file() else None


def prediction_files(evaluation: EvaluationRecord | None) -> set[str]:
    """The predictions files `evaluation` lists, which a new evaluation in its folder replaces: those of models it does
    not score again are removed once it is written."""
    if evaluation is None:
        return set()
    return {name for row in evaluation.results for name in (row.predictions_file, row.validation_predictions_file) if name}


def model_file_stems(models: list[str]) -> dict[str, str]:
    """{model: the stem of its files} (`predictions/<stem>.parquet`, `errors/<stem>.txt`): `file_name(model)`, and where
    two models of one evaluation would share it (`org/name` beside a folder `org_name`; names that differ only in
    characters a file name cannot hold), each whose name is not file-name safe as it is gets 8 hex digits of its
    SHA-256 after it, so no model's predictions overwrite another's."""
    stems = {model: file_name(model, fallback="model") for model in models}
    shared = Counter(stems.values())
    return {
        model: stem if shared[stem] == 1 or stem == model else f"{stem}-{hashlib.sha256(model.encode('utf-8')).hexdigest()[:8]}"
        for model, stem in stems.items()
    }


def write_model_predictions(output_dir: Path, scored: list, references, indices, stems: dict[str, str]) -> None:
    """One Parquet file per model under `predictions/`, in the same format as train.py's and finetune.py's
    (`write_predictions`), and beside it `<model>.validation.parquet` for a calibrated one
    (`write_validation_predictions`: labels and log probabilities before scaling); sets each entry's file names.
    `stems`: `model_file_stems` of every model the evaluation names."""
    for row, (probabilities, predictions, validation_rows) in scored:
        stem = f"predictions/{stems[row.model]}"
        row.predictions_file = f"{stem}.parquet"
        write_predictions(output_dir / row.predictions_file, indices, references, probabilities, predictions)
        if validation_rows is not None:
            row.validation_predictions_file = f"{stem}.validation.parquet"
            write_validation_predictions(output_dir / row.validation_predictions_file, *validation_rows)


def calibration_lines(record: EvaluationRecord) -> list[str]:
    """The markdown's calibration table: per model T and test ECE before -> after, or why it was left out."""
    if record.validation is None:
        return []
    if "skipped" in record.validation:
        return [f"No validation scores or temperature scaling: {record.validation['skipped']}.", ""]
    rows = []
    for row in record.results:
        found = row.calibration or {}
        own = f" (on top of the model's own temperature, T = {row.model_temperature:.4g})" if row.model_temperature else ""
        if "skipped" in found:
            rows.append({"model": row.model, "summary": f"left out: {found['skipped']}{own}"})
        elif found:
            rows.append({"model": row.model, "summary": calibration_summary(found) + own})
    if not rows:  # --temperature_scaling false
        return []
    return [f"Temperature scaling on {record.validation['sentences']} validation sentences ({record.validation['source']}); "
            "ECE top-label, 15 equal-width bins (torchmetrics); conformal sets calibrated on the same sentences "
            "(pipelines/calibration.py):", "", markdown_table(rows, [("model", "model"), ("summary", "calibration on test")])]  # fmt: skip


def evaluation_markdown(record: EvaluationRecord, table: str) -> str:
    header = (
        f"Test set of {record.dataset}: {record.test_sentences} sentences, batch size {record.batch_size}, "
        f"device {record.device}. 95% CI: {record.ci_method}."
    )
    if record.validation and "sentences" in record.validation:
        header += (f" Validation: {record.validation['sentences']} sentences ({record.validation['source']}), "
                   "where the report chooses the best as-is model.")
    header += "\n\n"
    lines = [f"- {failure['model']}: not scored ({failure['error']})" for failure in record.failures]
    lines += [f"- note: {note}" for note in record.notes]
    calibration = calibration_lines(record)
    return header + table + ("\n" + "\n".join(lines) + "\n" if lines else "") + ("\n" + "\n".join(calibration) if calibration else "")
