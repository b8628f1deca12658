"""The study questions of one dataset and protocol, answered with `pipelines.statistics`.

Questions: the architecture steps (`STUDY_QUESTIONS`), frozen vs trained vectors per model,
distilled vs plain training and class-weighted vs unweighted (when such runs exist), each
fine-tuned model vs the best GloVe model, the best as-is model vs the best GloVe model, and each
fine-tuned model vs the best as-is model. "The best" is chosen on the validation split (the mean
official validation score of the restored checkpoints), never on test; a model without a
validation score is chosen on test, and the question says so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from pipelines.errors import DataError
from pipelines.report.collect import METRIC_NAMES, Group, setting_parts
from pipelines.statistics import ALPHA, almost_stochastic_order, answer_family, crossed_comparison, paired_t, summarize, verdict

# The architecture questions: (question, A, B); the difference reported is A − B, A the richer model.
STUDY_QUESTIONS = [
    ("mean vs mean‖max", "meanmax", "mean"),
    ("LSTM vs BiLSTM", "bilstm", "lstm"),
    ("self-attention vs mean‖max", "attention", "meanmax"),
    ("multi-head vs one head", "multihead", "attention"),
    ("Transformer vs one multi-head block", "transformer", "multihead"),
]
VARIANTS = (("distilled from", "distilled", "plain"), ("class-weighted", "class-weighted", "unweighted"))


@dataclass
class Question:
    """One row of the questions table; `why` says why it has no answer (A, B are then None)."""

    text: str
    a: Group | None = None
    b: Group | None = None
    why: str = ""
    a_label: str = "A"
    b_label: str = "B"


def read_predictions(path: str) -> pd.DataFrame:
    """The "index", "label" and "prediction" columns of a predictions file; `DataError` names a file that has not them."""
    try:
        return pd.read_parquet(path, columns=["index", "label", "prediction"])
    except (OSError, ValueError, KeyError, pa.ArrowException) as err:
        raise DataError(f"{path}: not a predictions file with columns index, label, prediction ({err})") from None


class Predictions:
    """Each group's test predictions as {seed: frame}, read once; CV folds of a seed are joined into
    one frame over every sentence of the dataset."""

    def __init__(self):
        self.cache: dict[str, dict | str] = {}

    def of(self, group: Group) -> dict | str:
        """{seed: frame}, or why there is none."""
        if group.slug not in self.cache:
            self.cache[group.slug] = self._read(group)
        return self.cache[group.slug]

    @staticmethod
    def _read(group: Group) -> dict | str:
        missing = [row["run"] for row in group.rows if not row["predictions"]]
        if missing:
            return f"no predictions.parquet in {', '.join(f'`{run}`' for run in missing[:3])}" + (" ..." if len(missing) > 3 else "")
        by_seed: dict = defaultdict(list)
        for row in group.rows:
            by_seed[row["seed"] if isinstance(row["seed"], int) else "no seed"].append(row)  # pairs with no seed of another model
        runs = {}
        for seed, seed_rows in sorted(by_seed.items()):
            if group.protocol == "cv":
                folds = seed_rows[0]["cv_folds"]
                if sorted(row["fold"] for row in seed_rows) != list(range(folds or 0)):
                    return f"seed {seed} has folds {sorted(row['fold'] for row in seed_rows)} of {folds}: CV needs every fold once"
            elif len(seed_rows) > 1:
                return f"seed {seed} ran {len(seed_rows)} times ({', '.join(row['run'] for row in seed_rows)})"
            frames = [read_predictions(row["predictions"]) for row in seed_rows]
            runs[seed] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return runs


def best_of(groups: list[Group], official: str, summaries: dict) -> tuple[Group | None, str]:
    """The group with the best mean official validation score, and how it was chosen; on test
    (labelled so) only when some group has no validation score."""
    if not groups:
        return None, ""
    if all(g.validation() is not None for g in groups):
        best = max(groups, key=lambda g: g.validation())
        return best, f"chosen on validation {METRIC_NAMES[official]} ({best.validation():.4f})"
    best = max(groups, key=lambda g: summaries[g.slug][official]["mean"] or 0.0)
    return best, "chosen on TEST: no validation score recorded"


def architecture_questions(glove: list[Group]) -> list[Question]:
    plain = [g for g in glove if g.plain]
    found = []
    for text, a_model, b_model in STUDY_QUESTIONS:
        a = {g.setting: g for g in plain if g.model == a_model}
        b = {g.setting: g for g in plain if g.model == b_model}
        setting = next((s for s in ("trained vectors", "frozen vectors") if s in a and s in b), None)
        if setting:
            found.append(Question(text, a[setting], b[setting], a_label=a_model, b_label=b_model))
            continue
        absent = [model for model, groups in ((a_model, a), (b_model, b)) if not groups]
        found.append(Question(text, why=f"no {' or '.join(absent)} runs" if absent else f"{a_model} and {b_model} share no setting"))
    for model in dict.fromkeys(g.model for g in plain):
        settings = {g.setting: g for g in plain if g.model == model}
        if "trained vectors" in settings and "frozen vectors" in settings:
            trained, frozen = settings["trained vectors"], settings["frozen vectors"]
            found.append(Question(f"frozen vs trained vectors: {model}", trained, frozen, a_label="trained", b_label="frozen"))
    return found


def variant_questions(groups: list[Group]) -> list[Question]:
    """Distilled vs plain training, class-weighted vs unweighted: the same model, the rest of the setting equal."""
    by_key = {(g.model, g.setting): g for g in groups}
    found = []
    for g in groups:
        for part in setting_parts(g.setting)[1:]:
            marker = next((v for v in VARIANTS if part.startswith(v[0])), None)
            if marker is None:
                continue
            other = by_key.get((g.model, g.setting.replace(f", {part}", "")))
            text = f"{part} vs {'plain training' if marker[1] == 'distilled' else 'unweighted'}: {g.model}"
            found.append(Question(text, g, other, why="" if other else f"no {g.model} ({g.setting.replace(f', {part}', '')}) runs",
                                  a_label=marker[1], b_label=marker[2]))  # fmt: skip
    return found


def study_questions(groups: list[Group], official: str, summaries: dict) -> tuple[list[Question], list[str]]:
    """The questions of one dataset and protocol, and how each "best" model was chosen."""
    glove = [g for g in groups if g.kind == "glove"]
    tuned = [g for g in groups if g.kind == "finetuned" and g.plain]
    best_glove, glove_how = best_of([g for g in glove if g.plain], official, summaries)
    best_asis, asis_how = best_of([g for g in groups if g.kind == "pretrained" and g.setting == "as is"], official, summaries)
    questions = architecture_questions(glove) + variant_questions(groups)
    no_glove = "" if best_glove else "no GloVe runs"
    for g in tuned:
        questions.append(Question(f"fine-tuned {g.model} vs the best GloVe model", g, best_glove, no_glove, g.model, "GloVe"))
    if best_asis:
        questions.append(Question("the best as-is model vs the best GloVe model", best_asis, best_glove, no_glove, best_asis.model, "GloVe"))
        for g in tuned:
            questions.append(Question(f"fine-tuned {g.model} vs the best as-is model", g, best_asis, "", g.model, best_asis.model))
    notes = [f"the best GloVe model: {best_glove.name}, {glove_how}"] if best_glove else []
    notes += [f"the best as-is model: {best_asis.name}, {asis_how}"] if best_asis else []
    return questions, notes


def one_seed_note(question: Question) -> str:
    """What the runs column says of a trained model with a single seed: its training variance is not in the CI."""
    single = [g.model for g in (question.a, question.b) if g.kind != "pretrained" and len({row["seed"] for row in g.rows}) == 1]
    return "; ".join(f"{model}: 1 seed: training variance not counted" for model in single)


def answer(questions: list[Question], protocol: str, official: str, label_names: list[str], predictions: Predictions,
           seed: int, aso_iterations: int, progress: bool = False) -> tuple[list[dict], list[str]]:  # fmt: skip
    """The comparisons of one table (`crossed_comparison`, Holm over them, each CI at its Holm level) and the
    questions left unanswered; ASO both ways at the family's Bonferroni confidence 1 − α/m. `progress`:
    a bar over the ASO tests, the slow part (`aso_iterations` bootstrap draws each)."""
    computable, skipped = [], []
    for question in questions:
        why = question.why
        if not why:
            runs = [predictions.of(question.a), predictions.of(question.b)]
            why = next((f"{g.name}: {r}" for g, r in zip((question.a, question.b), runs) if isinstance(r, str)), "")
        if why:
            skipped.append(f"{question.text} ({protocol}): {why}")
            continue
        try:
            crossed_comparison(*runs, official, label_names)
        except DataError as err:
            skipped.append(f"{question.text} ({protocol}): {question.a.name} vs {question.b.name}: {err}")
            continue
        computable.append((question, lambda level, runs=runs: crossed_comparison(*runs, official, label_names, alpha=level)))
    results = answer_family([compute for _, compute in computable])
    confidence = 1 - ALPHA / max(1, len(results))
    comparisons = []
    shown = tqdm(zip(computable, results), total=len(results), desc=f"comparisons ({protocol})", unit="question", disable=not progress)
    for (question, _), result in shown:
        result["verdict"] = verdict(result["difference"], result["holm_p"], a=question.a_label, b=question.b_label)
        result["aso_confidence"] = confidence
        result["aso_a_over_b"] = almost_stochastic_order(result["a_scores"], result["b_scores"], confidence, seed, aso_iterations)
        result["aso_b_over_a"] = almost_stochastic_order(result["b_scores"], result["a_scores"], confidence, seed, aso_iterations)
        comparisons.append({"question": question.text, "protocol": protocol, "a": question.a.name, "b": question.b.name,
                            "runs_note": one_seed_note(question), **result})  # fmt: skip
    return comparisons, skipped


def selection_rows(groups: list[Group], official: str) -> list[dict]:
    """Per group: the official test metric of the checkpoint chosen by validation loss and by the
    official validation metric, paired over the runs that scored both."""
    by_metric = f"eval_{official}"
    found = []
    for g in groups:
        pairs = []
        for row in g.rows:
            chosen = (row["selection"] or {}).get("by_criterion", {})
            if "eval_loss" in chosen and by_metric in chosen and official in chosen[by_metric].get("test", {}):
                pairs.append((chosen["eval_loss"]["test"][official], chosen[by_metric]["test"][official]))
        if not pairs:
            continue
        loss, metric = map(list, zip(*pairs))
        test = paired_t(metric, loss)
        better = "no detectable difference"
        if test["p_value"] is not None:
            better = verdict(test["difference"], test["p_value"], a=f"validation {METRIC_NAMES[official]}", b="validation loss")
        found.append({
            "dataset": g.dataset, "model": g.model, "setting": g.setting, "protocol": g.protocol_label,
            "n": len(pairs), "by_loss": summarize(loss), "by_metric": summarize(metric), "difference": test, "better": better,
        })  # fmt: skip
    return found
