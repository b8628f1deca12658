"""The study questions of one dataset and protocol, answered with `pipelines.statistics`.

Questions come in Holm families, one per question a reader asks (`FAMILIES`), each adjusted on its
own: which GloVe architecture (every pair of the plain trained-vector models: no pair is left out
for being far apart in the list); how a GloVe model is trained (frozen vs trained vectors per model,
distilled vs plain, one distillation loss against the other, the student against its teacher,
class-weighted vs unweighted, one teacher against another for the same student); GloVe against fine-tuned and as-is models (each fine-tuned model vs
the best GloVe model, the best as-is model vs the best GloVe model, each fine-tuned model vs the best
as-is model); an int8 export against the fp32 run it was exported from; and, for settings that move
the class balance, each class's recall and the accuracy; and one model's configurations (`--config_overrides`,
the lab's question 5: the Transformer encoder's searched best, default and classic; a configuration other than the
default and `models.presets.NAMED_CONFIGS` is named by its fields), every pair. "The best" is chosen on the validation
split (the mean official validation score of the restored checkpoints), never on test; a model
without a validation score is chosen on test, and the question says so. Lab split against
cross-validation for the same model is a question across protocols (`protocol_questions`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import PurePosixPath

import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from pipelines.errors import DataError
from pipelines.metrics import CLASS_RECALL
from pipelines.report.collect import METRIC_NAMES, Group, ReportRow
from models.presets import NAMED_CONFIGS
from pipelines.runs.setting import DEFAULT_ALPHA, Setting, config_text
from pipelines.statistics import ALPHA, UNIT_RANGE, almost_stochastic_order, answer_family, crossed_comparison, paired_t, summarize, verdict

# The Holm families of a table, in the order the report prints them.
ARCHITECTURES = "GloVe architectures, every pair"
TRAINING = "how a GloVe model is trained"
AGAINST = "GloVe against fine-tuned and as-is models"
EXPORTS = "int8 export against its fp32 run"
CLASS_BALANCE = "class weights: each class's recall and accuracy"
PROTOCOLS = "lab split against cross-validation"
CONFIGURATIONS = "model configurations (question 5: Transformer encoder, searched best vs default vs classic)"
FAMILIES = [ARCHITECTURES, CONFIGURATIONS, TRAINING, AGAINST, EXPORTS, CLASS_BALANCE, PROTOCOLS]
EXPORT_AGREEMENT = 0.97  # an export predicts as the run it came from on at least this share of the test set

# Names of the architecture steps (question, A, B); every other pair reads "A vs B". A is the richer model.
STUDY_QUESTIONS = [
    ("mean vs mean‖max", "meanmax", "mean"),
    ("LSTM vs BiLSTM", "bilstm", "lstm"),
    ("self-attention vs mean‖max", "attention", "meanmax"),
    ("multi-head vs one head", "multihead", "attention"),
    ("Transformer vs one multi-head block", "transformer", "multihead"),
]
# The variants (`pipelines.runs.setting.VARIANTS`) asked about: (A's label, B's label, what B is in the question).
VARIANT_QUESTIONS = {"distillation": ("distilled", "plain", "plain training"), "class weights": ("class-weighted", "unweighted", "unweighted")}


@dataclass
class Question:
    """One row of the questions table; `why` says why it has no answer (A, B are then None)."""

    text: str
    a: Group | None = None
    b: Group | None = None
    why: str = ""
    a_label: str = "A"
    b_label: str = "B"
    family: str = AGAINST
    metric: str | None = None  # None: the table's official metric
    # (A's runs, B's runs) -> (A's runs, B's runs, a note for the runs column), or `DataError`: for questions
    # that compare a part of a group's runs (one seed) or a part of its sentences (another protocol's)
    align: Callable | None = None


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
        if group.key not in self.cache:
            self.cache[group.key] = self._read(group)
        return self.cache[group.key]

    @staticmethod
    def _read(group: Group) -> dict | str:
        missing = [row.run for row in group.rows if not row.predictions]
        if missing:
            return f"no predictions.parquet in {', '.join(f'`{run}`' for run in missing[:3])}" + (" ..." if len(missing) > 3 else "")
        by_seed: dict = defaultdict(list)
        for row in group.rows:
            by_seed[row.seed if isinstance(row.seed, int) else "no seed"].append(row)  # pairs with no seed of another model
        runs = {}
        for seed, seed_rows in sorted(by_seed.items()):
            if group.protocol == "cv":
                folds = seed_rows[0].cv_folds
                if sorted(row.fold for row in seed_rows) != list(range(folds or 0)):
                    return f"seed {seed} has folds {sorted(row.fold for row in seed_rows)} of {folds}: CV needs every fold once"
            elif len(seed_rows) > 1:
                return f"seed {seed} ran {len(seed_rows)} times ({', '.join(row.run for row in seed_rows)})"
            frames = [read_predictions(row.predictions) for row in seed_rows]
            runs[seed] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return runs


def best_of(groups: list[Group], official: str, summaries: dict) -> tuple[Group | None, str]:
    """The group with the best mean official validation score, and how it was chosen; on test
    (labelled so, naming the groups without one when some have one) only when some group has no
    validation score: as-is evaluations before `evaluation.json` version 3, runs without a trainer state."""
    if not groups:
        return None, ""
    lacking = [g.name for g in groups if g.validation() is None]
    if not lacking:
        best = max(groups, key=lambda g: g.validation())
        return best, f"chosen on validation {METRIC_NAMES[official]} ({best.validation():.4f})"
    best = max(groups, key=lambda g: summaries[g.key][official]["mean"] or 0.0)
    return best, "chosen on TEST: no validation score recorded" + (f" for {', '.join(lacking)}" if len(lacking) < len(groups) else "")


def architecture_questions(glove: list[Group]) -> list[Question]:
    """Every pair of the plain GloVe models in their main setting (trained vectors, else frozen), A the later
    in the presets' order; then frozen vs trained vectors per model."""
    plain = [g for g in glove if g.plain]
    names = {(a, b): text for text, a, b in STUDY_QUESTIONS}
    setting = "trained vectors" if any(g.setting.kind == "trained vectors" for g in plain) else "frozen vectors"
    found = []
    for b, a in combinations([g for g in plain if g.setting.kind == setting], 2):  # groups come in the presets' order
        text = names.get((a.model, b.model), f"{a.model} vs {b.model}")
        found.append(Question(text, a, b, a_label=a.model, b_label=b.model, family=ARCHITECTURES))
    for model in dict.fromkeys(g.model for g in plain):
        settings = {g.setting.kind: g for g in plain if g.model == model}
        if "trained vectors" in settings and "frozen vectors" in settings:
            trained, frozen = settings["trained vectors"], settings["frozen vectors"]
            found.append(Question(f"frozen vs trained vectors: {model}", trained, frozen, a_label="trained", b_label="frozen",
                                  family=TRAINING))  # fmt: skip
    return found


# What question 5 calls a configuration: the model's config fields and the learning rate (the search space's parameters).
CONFIGURATION_VARIANTS = ("configuration", "learning rate")


def config_name(setting: Setting) -> str:
    """A configuration's name in a question: "default", a `models.presets.NAMED_CONFIGS` name ("classic"), else its
    fields and learning rate ("config dropout=0.463 num_layers=2, learning rate 0.000423")."""
    if setting.config is None and setting.learning_rate is None:
        return "default"
    named = {config_text(given): name for name, given in NAMED_CONFIGS.items()}
    if setting.learning_rate is None and setting.config in named:
        return named[setting.config]
    return ", ".join(setting.variant_label(variant) for variant in CONFIGURATION_VARIANTS if variant in setting.variants)


def without_configuration(setting: Setting) -> Setting:
    """The setting with its configuration (`CONFIGURATION_VARIANTS`) reset to the default."""
    for variant in CONFIGURATION_VARIANTS:
        setting = setting.without(variant)
    return setting


def configuration_questions(groups: list[Group]) -> list[Question]:
    """Every pair of one model's configurations (`Setting.config` and `Setting.learning_rate`: the default and each
    `--config_overrides`/`--learning_rate`), the rest of the setting equal: the default first, then the named ones in
    `NAMED_CONFIGS` order, then the others; A the later. Each is its own question in one Holm family (`CONFIGURATIONS`)."""
    order = [config_text(given) for given in NAMED_CONFIGS.values()]

    def rank(g: Group) -> tuple:  # the default, then the named configurations, then the others by their text and rate
        config, rate = g.setting.config, g.setting.learning_rate
        named = rate is None and config in order
        return (config is not None or rate is not None, order.index(config) if named else len(order), config or "", rate or 0)

    by_base = defaultdict(list)
    for g in groups:
        if g.kind == "glove":
            by_base[(g.model, g.protocol, without_configuration(g.setting))].append(g)
    found = []
    for (model, _, _), found_groups in by_base.items():
        if not any(g.setting != without_configuration(g.setting) for g in found_groups):
            continue
        ranked = sorted(found_groups, key=rank)
        for b, a in combinations(ranked, 2):
            found.append(Question(f"{config_name(a.setting)} vs {config_name(b.setting)}: {model}", a, b,
                                  a_label=config_name(a.setting), b_label=config_name(b.setting), family=CONFIGURATIONS))  # fmt: skip
    return found


def variant_questions(groups: list[Group]) -> list[Question]:
    """Distilled vs plain training, class-weighted vs unweighted: the same model, the rest of the setting equal."""
    by_key = {(g.model, g.setting): g for g in groups}
    found = []
    for g in groups:
        for variant in (variant for variant in g.setting.variants if variant in VARIANT_QUESTIONS):
            a_label, b_label, b_text = VARIANT_QUESTIONS[variant]
            twin = g.setting.without(variant)
            other = by_key.get((g.model, twin))
            text = f"{g.setting.variant_label(variant)} vs {b_text}: {g.model}"
            found.append(Question(text, g, other, why="" if other else f"no {g.model} ({twin.label}) runs", a_label=a_label,
                                  b_label=b_label, family=TRAINING))  # fmt: skip
    return found


def distillation_loss_questions(groups: list[Group]) -> list[Question]:
    """Each distillation variant ("distilled from minilm (KL, T=2)") against the default one (logit regression,
    "distilled from minilm"): the same model and teacher, the rest of the setting equal."""
    by_key = {(g.model, g.setting): g for g in groups}
    found = []
    for g in groups:
        setting = g.setting
        if not setting.teacher or (setting.distillation_loss == "mse" and setting.distillation_alpha == DEFAULT_ALPHA):
            continue
        default = by_key.get((g.model, replace(setting, distillation_loss="mse", distillation_temperature=None, distillation_alpha=DEFAULT_ALPHA)))
        if default:
            variant = setting.variant_label("distillation").partition(" (")[2].rstrip(")")
            found.append(Question(f"distillation loss {variant} vs logit regression: {g.model}", g, default,
                                  a_label=variant, b_label="logit regression", family=TRAINING))  # fmt: skip
    return found


def teacher_pair_questions(groups: list[Group]) -> list[Question]:
    """Each pair of teachers one model was distilled from ("distilled from mpnet vs distilled from minilm"), the
    rest of the setting equal (loss, alpha, class weights...): the groups keyed by their `Setting` without the
    teacher. A is the later teacher by name (it fixes only the sign of the difference)."""
    by_rest = defaultdict(list)
    for g in groups:
        if g.setting.teacher:
            by_rest[(g.model, g.protocol, replace(g.setting, teacher=None))].append(g)
    found = []
    for students in by_rest.values():
        for b, a in combinations(sorted(students, key=lambda g: g.setting.teacher), 2):
            a_label, b_label = (g.setting.variant_label("distillation") for g in (a, b))
            found.append(Question(f"{a_label} vs {b_label}: {a.model}", a, b, a_label=f"from {a.setting.teacher}",
                                  b_label=f"from {b.setting.teacher}", family=TRAINING))  # fmt: skip
    return found


def class_balance_questions(groups: list[Group], label_names: list[str]) -> list[Question]:
    """For each class-weighted model with an unweighted twin: each class's recall and the accuracy, the
    numbers class weights move even where the macro metrics stay put."""
    found = []
    for q in variant_questions(groups):
        if q.a_label != "class-weighted" or q.b is None:
            continue
        for metric, said in [*((f"{CLASS_RECALL}{name}", f"recall of {name}") for name in label_names), ("accuracy", "accuracy")]:
            found.append(Question(f"class-weighted vs unweighted, {said}: {q.a.model}", q.a, q.b, a_label="class-weighted",
                                  b_label="unweighted", family=CLASS_BALANCE, metric=metric))  # fmt: skip
    return found


def teacher_questions(groups: list[Group], teachers: list[ReportRow]) -> list[Question]:
    """Each distilled student against the teacher it learnt from: the teacher runs its seeds' records name (one run
    for the whole group: its training variance not counted, the question is how much of this teacher the students
    keep; one teacher per student seed: the teachers' seeds are runs too). A teacher is the fine-tuned run of the
    student's dataset that a student's record names (`RunRecord.teacher_run`, found by `is_teacher`; `teachers`:
    rows of `collect.gather_rows`, the report's own runs included); a group with a teacher in neither, or with
    several teacher runs of one seed (they cannot be told apart as runs), is said so."""
    found = []
    for g in groups:
        named = list({json.dumps(row.teacher, sort_keys=True): row.teacher for row in g.rows if row.teacher}.values())
        if not named:
            continue
        text = f"student vs teacher: {g.model} ({g.setting.variants_label})"
        rows = [next((r for r in teachers if r.kind == "finetuned" and r.dataset == g.dataset and is_teacher(n, r)), None) for n in named]
        if None in rows:
            missing = named[rows.index(None)]
            found.append(Question(text, why=f"its teacher {teacher_said(missing)} is in neither the records nor the teachers folder", family=TRAINING))
            continue
        rows = list({id(row): row for row in rows}.values())  # one run named two ways (a folder, an identity) is one teacher
        if len({row.seed for row in rows}) < len(rows):
            found.append(Question(text, why=f"its seeds learnt from {len(rows)} teacher runs ({', '.join(row.run for row in rows)}), "
                                            "some of one seed: report them from separate folders", family=TRAINING))  # fmt: skip
            continue
        # named by its folders: two students may have two teachers of one model (and a group's key keys its predictions)
        name = f"{rows[0].model}, teacher {rows[0].run}" if len(rows) == 1 else f"{rows[0].model}, teachers {', '.join(r.run for r in rows)}"
        teacher = Group(g.dataset, name, Setting("fine-tuned"), rows[0].protocol, "finetuned", sorted(rows, key=lambda r: (r.seed is None, r.seed or 0)))
        found.append(Question(text, g, teacher, a_label="student", b_label="teacher", family=TRAINING))
    return found


def is_teacher(named: dict, row: ReportRow) -> bool:
    """Whether `row` is the run a student's `RunRecord.teacher_run` names: its `identity`; for a student distilled
    before that was recorded, the run whose folder ends as the teacher's recorded folder does, unless the run records
    other weights than the student's teacher had (`weights_fingerprint`: a run re-made in the teacher's folder)."""
    if "folder" in named:
        folder = PurePosixPath(named["folder"])
        other_weights = bool(named.get("fingerprint") and row.weights_fingerprint and row.weights_fingerprint != named["fingerprint"])
        return (row.run == folder.name or row.run.endswith(folder.as_posix())) and not other_weights
    return row.identity == named


def teacher_said(named: dict) -> str:
    """How a "not answered" line names a teacher: `teachers/mr-minilm-cpu` (a student from before `teacher_run`),
    `minilm (mr, seed 0, record 1a2b...)`, or `minilm (no run record)` (a checkpoint folder that is no run of ours)."""
    if "folder" in named:
        return named["folder"]
    if "record" not in named:
        return f"{named['model']} (no run record)"
    return f"{named['model']} ({named['dataset']}, seed {named['seed']}, record {named['record']})"


def export_questions(groups: list[Group]) -> list[Question]:
    """Each int8 export ("<model>-int8", setting "ONNX export") against the fp32 run it was exported from: the
    run of the plain <model> whose test predictions agree with the export's on at least `EXPORT_AGREEMENT` of
    the sentences (an export changes a few predictions, another seed many). One run each: the question is
    what quantizing this model does, so only the sentences vary."""
    found = []
    for export in (g for g in groups if g.setting.kind == "ONNX export" and g.model.endswith("-int8")):
        model = export.model.removesuffix("-int8")
        source = next((g for g in groups if g.model == model and g.plain and g.kind != "pretrained" and g.protocol == "lab"), None)
        text = f"int8 export vs its fp32 run: {model}"
        if source is None:
            found.append(Question(text, why=f"no {model} runs on the lab split", family=EXPORTS))
            continue
        found.append(Question(text, export, source, a_label="int8", b_label="fp32", family=EXPORTS, align=exported_from))
    return found


def exported_from(export_runs: dict, source_runs: dict) -> tuple[dict, dict, str]:
    """The export's one run and the source run it agrees with most, if it agrees on `EXPORT_AGREEMENT` of the sentences."""
    (export,) = export_runs.values()
    export = export.sort_values("index")
    agreement = {}
    for seed, frame in source_runs.items():
        frame = frame.sort_values("index")
        if len(frame) == len(export) and (frame["index"].to_numpy() == export["index"].to_numpy()).all():
            agreement[seed] = float((frame["prediction"].to_numpy() == export["prediction"].to_numpy()).mean())
    seed = max(agreement, key=agreement.get, default=None)
    if seed is None or agreement[seed] < EXPORT_AGREEMENT:
        best = f"at most {max(agreement.values()):.1%}" if agreement else "none on the same sentences"
        raise DataError(f"no run agrees with the export on {EXPORT_AGREEMENT:.0%} of the test predictions ({best}): "
                        "the run it was exported from is not in the records")  # fmt: skip
    return export_runs, {seed: source_runs[seed]}, f"fp32: seed {seed}, the same prediction on {agreement[seed]:.1%} of sentences; one run each: sentences only"


def protocol_questions(groups: list[Group]) -> list[Question]:
    """Lab split vs cross-validation for each plain GloVe model that has both, on the lab split's test
    sentences (each predicted in CV by the fold that held it out). The two differ in their training data
    (CV folds train on the other nine tenths of every sentence, the lab test set included), so this asks
    whether the protocol changes the score, not whether a model is better. Runs are not paired by seed:
    the same seed number draws unrelated things in the two protocols."""
    found = []
    for lab in (g for g in groups if g.protocol == "lab" and g.kind == "glove" and g.plain):
        cv = next((g for g in groups if g.protocol == "cv" and (g.model, g.setting) == (lab.model, lab.setting)), None)
        if cv:
            found.append(Question(f"lab split vs {cv.protocol_label}: {lab.name}", lab, cv, a_label="lab split",
                                  b_label=cv.protocol_label, family=PROTOCOLS, align=on_lab_sentences))  # fmt: skip
    return found


def on_lab_sentences(lab_runs: dict, cv_runs: dict) -> tuple[dict, dict, str]:
    """CV's predictions of the lab split's test sentences, re-indexed as the lab split's. CV pools the splits
    train first, test last (`splits.cross_validation_fold`), so lab test sentence i is pooled row N − n + i;
    the gold labels must agree, else `DataError`. Keys "lab seed s" and "CV seed s": never paired."""
    n = len(next(iter(lab_runs.values())))
    found = {}
    for seed, frame in cv_runs.items():
        offset = len(frame) - n
        part = frame[frame["index"] >= offset].assign(index=lambda f: f["index"] - offset)
        found[f"CV seed {seed}"] = part
    lab = {f"lab seed {seed}": frame for seed, frame in lab_runs.items()}
    reference = next(iter(lab.values())).sort_values("index")
    for part in found.values():
        part = part.sort_values("index")
        if len(part) != n or not (part["label"].to_numpy() == reference["label"].to_numpy()).all():
            raise DataError("CV's last rows are not the lab split's test sentences (their gold labels differ)")
    return lab, found, "a seed draws different things in the two protocols"


def study_questions(groups: list[Group], official: str, summaries: dict, label_names: list[str] | None = None,
                    teachers: list[ReportRow] | None = None) -> tuple[list[Question], list[str]]:  # fmt: skip
    """The questions of one dataset and protocol, and how each "best" model was chosen; `teachers`: runs that
    may be a distilled model's teacher (`teacher_questions`)."""
    glove = [g for g in groups if g.kind == "glove"]
    tuned = [g for g in groups if g.kind == "finetuned" and g.plain]
    best_glove, glove_how = best_of([g for g in glove if g.plain], official, summaries)
    best_asis, asis_how = best_of([g for g in groups if g.kind == "pretrained" and g.setting.kind == "as is"], official, summaries)
    questions = architecture_questions(glove) + configuration_questions(groups) + variant_questions(groups)
    questions += distillation_loss_questions(groups) + teacher_pair_questions(groups)
    questions += teacher_questions(groups, [*(row for g in groups for row in g.rows), *(teachers or [])])
    questions += export_questions(groups) + class_balance_questions(groups, label_names or [])
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
    single = [g.model for g in (question.a, question.b) if g.kind != "pretrained" and len({row.seed for row in g.rows}) == 1]
    return "; ".join(f"{model}: 1 seed: training variance not counted" for model in single)


def answer(questions: list[Question], protocol: str, official: str, label_names: list[str], predictions: Predictions,
           seed: int, aso_iterations: int, progress: bool = False) -> tuple[list[dict], list[str]]:  # fmt: skip
    """The comparisons of one table (`crossed_comparison`), Holm over each family of questions (`FAMILIES`),
    each CI at its Holm level, and the questions left unanswered; ASO both ways at the family's Bonferroni
    confidence 1 − α/m. `progress`: a bar over the questions (the ASO tests, `aso_iterations` bootstrap draws
    each, are the slow part)."""
    computable, skipped = defaultdict(list), []
    for question in questions:
        why, runs, note = question.why, None, ""
        if not why:
            runs = [predictions.of(question.a), predictions.of(question.b)]
            why = next((f"{g.name}: {r}" for g, r in zip((question.a, question.b), runs) if isinstance(r, str)), "")
        metric = question.metric or official
        try:
            if not why and question.align:
                *runs, note = question.align(*runs)
            if not why:
                crossed_comparison(*runs, metric, label_names)
        except DataError as err:
            why = f"{question.a.name} vs {question.b.name}: {err}"
        if why:
            skipped.append(f"{question.text} ({protocol}): {why}")
            continue
        compute = lambda level, runs=runs, metric=metric: crossed_comparison(*runs, metric, label_names, alpha=level)  # noqa: E731
        computable[question.family].append((question, compute, note))
    comparisons = []
    bar = tqdm(total=sum(len(found) for found in computable.values()), desc=f"comparisons ({protocol})", unit="question", disable=not progress)
    for family in sorted(computable, key=FAMILIES.index):
        results = answer_family([compute for _, compute, _ in computable[family]])
        confidence = 1 - ALPHA / max(1, len(results))
        for (question, _, note), result in zip(computable[family], results):
            result["verdict"] = verdict(result["difference"], result["holm_p"], a=question.a_label, b=question.b_label)
            result["aso_confidence"] = confidence
            result["aso_a_over_b"] = almost_stochastic_order(result["a_scores"], result["b_scores"], confidence, seed, aso_iterations)
            result["aso_b_over_a"] = almost_stochastic_order(result["b_scores"], result["a_scores"], confidence, seed, aso_iterations)
            runs_note = "; ".join(part for part in (note, one_seed_note(question)) if part)
            comparisons.append({"question": question.text, "protocol": protocol, "family": family, "a": question.a.name,
                                "b": question.b.name, "runs_note": runs_note, **result})  # fmt: skip
            bar.update()
    bar.close()
    return comparisons, skipped


def selection_rows(groups: list[Group], official: str) -> list[dict]:
    """Per group: the official test metric of the checkpoint chosen by validation loss and by the
    official validation metric, paired over the runs that scored both."""
    by_metric = f"eval_{official}"
    found = []
    for g in groups:
        pairs = []
        for row in g.rows:
            chosen = (row.selection or {}).get("by_criterion", {})
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
            "dataset": g.dataset, "model": g.model, "setting": g.setting.label, "protocol": g.protocol_label,
            "n": len(pairs), "by_loss": summarize(loss, bounds=UNIT_RANGE), "by_metric": summarize(metric, bounds=UNIT_RANGE), "difference": test, "better": better,
        })  # fmt: skip
    return found
