"""The report's markdown: the scores, study-questions and model-selection tables, their captions,
and the list of every run. Captions say which checkpoint rule made each table, read from the runs."""

from __future__ import annotations

from collections import Counter

from pipelines.report.collect import METRIC_NAMES, Group, ReportRow
from pipelines.formatting import markdown_table
from pipelines.statistics import ALPHA, ASO_MIN_RUNS, POWER

METHOD = (
    "Δ is A − B of {name}: each run's score on the test set, averaged over the runs of a model. CI and p: one test whose "
    "variance counts both sources of variation once each, which sentences were drawn and which training runs came out: the "
    "unbiased two-way random-effects (runs × sentences) estimate by expected mean squares, the seed stage the spread of the "
    "run scores (runs of A and B sharing a seed paired), the sentence stage the per-sentence differences (the delta method "
    "for macro metrics). Each stage is referred to its own estimate's distribution, a t on S − 1 degrees of freedom for the "
    "seed stage plus a normal for the sentence stage (n − 1 df, hundreds or more; two models without common seeds, each "
    "with several runs, add their seed stages on the Welch–Satterthwaite df of the sum, Welch's test for that stage, "
    "calibrated in bench/verdict_calibration_unpaired.md): the Behrens–Fisher reference (Fisher "
    "1935; Box & Tiao 1973, §2.5), chosen because a t on S − 1 df for the whole variance over-covers where the sentences "
    "carry much of it and a Welch–Satterthwaite df under-covers where the seeds do, while this reference errs only on the "
    "conservative side (Robinson 1976): in every setting simulated where each model's seed luck is estimated (two or "
    "more runs) or absent (an as-is model, or the one teacher run a student is asked about) its false alarms stayed ≤ 7% "
    "(one cell 7.2% ± 1.2) and its coverage 93–98% per simulation seed, 94–97.5% pooled (bench/verdict_calibration.md, "
    "_unpaired.md, _one_run.md). Also chosen over the two-stage bootstrap, which "
    "counts the run × sentence noise up to three times (Owen 2007) and treats 3–5 runs' variance as known. It answers "
    "whether architecture A beats architecture B, not whether these particular runs do. A model with one run has no seed "
    "stage: an as-is model has no training variance; a trained model with one seed is labelled \"1 seed: training variance "
    "not counted\" (read as its architecture such a comparison is liberal: 89% coverage, 11% false alarms simulated "
    "for 5 seeds against 1). **Each table below is one Holm family**, one question a reader asks (which GloVe architecture, every "
    "pair; how a GloVe model is "
    "trained; GloVe against other models; ...), adjusted on its own and named with its number of questions in its caption "
    "(the family-wise error is held within each question, so asking every pair of architectures does not dilute the others), "
    "and **the verdict reads the Holm p at {alpha}**. A row of another metric than {name} names it in its question. The CI "
    "is at the level Holm decided the row at (α/k, k the Holm step's multiplier; printed as its confidence), so it excludes "
    "0 exactly when the verdict finds a difference; the MDE, the true difference detected with {power:.0%} power, is at the "
    "same level: a \"no detectable difference\" reads with this resolution. ASO ε_min: Almost Stochastic Order (Dror et "
    "al. 2019) of the run scores, `deepsig.aso` (Ulmer et al. 2022) at the family's Bonferroni confidence 1 − {alpha}/m, "
    "passed explicitly, both ways: ε(A>B) < 0.5 A almost stochastically better, 0 A dominates, 1 no sign of A dominating "
    "(read ε(B>A) for B); it holds the test set fixed, and is left out where a model has fewer than {min_runs} runs. "
    "Cross-validation rows pair on every sentence of the dataset, each predicted once per seed by the fold that held it "
    "out; a seed's folds are one run."
)


def fmt(value: float | None, digits: int = 4, sign: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def fmt_p(p: float | None) -> str:
    if p is None:
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def mean_std(summary: dict) -> str:
    if summary["mean"] is None:
        return ""
    return fmt(summary["mean"]) if summary["std"] is None else f"{fmt(summary['mean'])} ± {fmt(summary['std'])}"


def interval(summary: dict, kind: str = "glove") -> str:
    if summary["ci_low"] is None:
        return "single run" if kind == "pretrained" and summary["n"] == 1 else summary["note"]
    return f"[{fmt(summary['ci_low'])}, {fmt(summary['ci_high'])}]"


def criterion_name(restored: str) -> str:
    """"eval_accuracy" → "validation accuracy"."""
    if not restored.startswith("eval_"):
        return restored
    key = restored.removeprefix("eval_")
    return f"validation {METRIC_NAMES.get(key, key)}"


def selection_rule(groups: list[Group]) -> str:
    """Which checkpoint rule made the trained runs of these groups, counted from their own records."""
    rows = [row for g in groups if g.kind != "pretrained" for row in g.rows]
    if not rows:
        return "No trained runs: nothing was restored."
    rules = Counter(criterion_name(row.restored_by) if row.restored_by else "not recorded" for row in rows)
    patience = Counter(str(row.patience) if row.patience is not None else "not recorded" for row in rows)
    said = "; ".join(f"{rule} ({count} run{'s' if count > 1 else ''})" for rule, count in rules.most_common())
    waited = "; ".join(f"{value} ({count})" for value, count in patience.most_common())
    return f"Checkpoint restored by (read from each run's results.json / training_args.json): {said}. Early-stopping patience: {waited}."


def scores_section(groups: list[Group], summaries: dict, metrics: list[str], official: str) -> list[str]:
    columns = [("model", "model"), ("setting", "setting"), ("protocol", "protocol"), ("n", "n")]
    columns += [(key, METRIC_NAMES[key]) for key in metrics] + [("ci", f"{METRIC_NAMES[official]} 95% CI")]
    table = [
        {
            "model": g.model, "setting": g.setting.label, "protocol": g.protocol_label, "n": g.size(),
            **{key: mean_std(summaries[g.key][key]) for key in metrics}, "ci": interval(summaries[g.key][official], g.kind),
        }
        for g in groups
    ]  # fmt: skip
    return [
        "### Scores",
        "",
        "Mean ± standard deviation over seeds (sample std); cross-validation rows over folds, each fold "
        "scored on its own held-out part, as published MR numbers are. The 95% CI is a t interval of the "
        f"mean (df = n − 1), for {METRIC_NAMES[official]} here and for every metric in report.json: it counts the seeds' "
        "(or folds') spread with the test sentences held fixed, and a cross-validation row treats its n = folds × seeds "
        "scores as independent (a seed's folds share its luck), so it is narrower than the runs × sentences interval "
        "of the report's top table and of its questions (`statistics.score_interval`), which answers how well the model "
        "would do on new sentences. "
        "As-is models (setting \"as is\") are scored once, with no training. " + selection_rule(groups),
        "",
        markdown_table(table, columns),
    ]


def best_models(notes: list[str]) -> str:
    """"The best GloVe model: ..., chosen on ...; the best as-is model: ...", as one sentence."""
    text = "; ".join(notes)
    return f"{text[0].upper()}{text[1:]}."


def verdict_text(c: dict) -> str:
    if c["verdict"] == "no detectable difference":
        return f"no detectable difference; MDE {100 * c['mde']:.1f} pts"
    return c["verdict"]


QUESTION_COLUMNS = [
    ("question", "question"), ("protocol", "protocol"), ("a", "A"), ("b", "B"), ("seeds", "runs A/B"), ("a_mean", "A {name}"), ("b_mean", "B {name}"),
    ("difference", "Δ {name}"), ("ci", "CI (Holm level)"), ("p", "p"), ("holm", "Holm p"), ("mde", "MDE (Holm level)"),
    ("aso", "ASO ε(A>B) / ε(B>A)"), ("verdict", "verdict (Holm p < 0.05)"),
]  # fmt: skip


def metric_said(metric: str) -> str:
    """"accuracy", "recall:negative" → "recall of negative"."""
    return f"recall of {metric.split(':', 1)[1]}" if ":" in metric else METRIC_NAMES.get(metric, metric)


def question_row(c: dict) -> dict:
    seeds = f"{len(c['a_seeds'])}/{len(c['b_seeds'])}" + ("" if c["paired_seeds"] else " (unpaired)")
    aso = "" if c["aso_a_over_b"] is None else f"{fmt(c['aso_a_over_b'], 2)} / {fmt(c['aso_b_over_a'], 2)}"
    return {
        "question": c["question"], "protocol": c["protocol"], "a": c["a"], "b": c["b"], "seeds": seeds + (f"; {c['runs_note']}" if c["runs_note"] else ""),
        "a_mean": fmt(c["a_mean"]), "b_mean": fmt(c["b_mean"]), "difference": fmt(c["difference"], sign=True),
        "ci": f"{1 - c['ci_alpha']:.2%}: [{fmt(c['ci_low'], sign=True)}, {fmt(c['ci_high'], sign=True)}]",
        "p": fmt_p(c["p_value"]), "holm": fmt_p(c["holm_p"]), "mde": fmt(c["mde"]), "aso": aso, "verdict": verdict_text(c),
    }  # fmt: skip


def holm_families(dataset: str, comparisons: list[dict]) -> str:
    """Which questions were adjusted together, and how many: one Holm family per (dataset, protocol, family)."""
    sizes = {(c["protocol"], c["family"]): c["family_size"] for c in comparisons}
    said = "; ".join(f"{dataset}, {protocol}, {family}: {size} question{'s' if size != 1 else ''}"
                     for (protocol, family), size in sizes.items())  # fmt: skip
    return f"**Holm families** (each adjusted on its own, one table each below): {said}."


def family_table(dataset: str, family: list[dict], official: str) -> list[str]:
    """One Holm family's caption and table; its metric in the headers, or "score" and the metric in each question."""
    metrics = {c["metric"] for c in family}
    name = METRIC_NAMES[official] if metrics == {official} else metric_said(metrics.pop()) if len(metrics) == 1 else "score"
    first = family[0]
    size = first["family_size"]
    caption = (f"**{dataset}, {first['protocol']}, {first['family']}**: {size} question{'s' if size != 1 else ''}, one Holm family"
               + ("" if name != "score" else "; the metric of each row is named in its question") + ".")  # fmt: skip
    columns = [(key, title.format(name=name)) for key, title in QUESTION_COLUMNS]
    return [caption, "", markdown_table([question_row(c) for c in family], columns)]


def questions_section(dataset: str, comparisons: list[dict], skipped: list[str], notes: list[str], groups: list[Group],
                      official: str) -> list[str]:  # fmt: skip
    name = METRIC_NAMES[official]
    lines = ["### Study questions", ""]
    if not comparisons:
        lines += ["_No question has runs of both models yet._", ""]
        return lines + (["Not answered:", "", *(f"- {line}" for line in skipped), ""] if skipped else [])
    lines += [
        METHOD.format(name=name, alpha=ALPHA, power=POWER, min_runs=ASO_MIN_RUNS), "",
        selection_rule(groups) + (" " + best_models(notes) if notes else ""), "",
    ]  # fmt: skip
    lines += [holm_families(dataset, comparisons), ""]
    for key in dict.fromkeys((c["protocol"], c["family"]) for c in comparisons):
        lines += family_table(dataset, [c for c in comparisons if (c["protocol"], c["family"]) == key], official)
    if skipped:
        lines += ["Not answered:", "", *(f"- {line}" for line in skipped), ""]
    return lines


def selection_section(rows: list[dict], official: str) -> list[str]:
    name = METRIC_NAMES[official]
    columns = [
        ("model", "model"), ("setting", "setting"), ("protocol", "protocol"), ("n", "runs"),
        ("loss", "by validation loss"), ("metric", f"by validation {name}"), ("difference", "Δ (metric − loss)"),
        ("ci", "95% CI"), ("p", "p"), ("better", "better"),
    ]  # fmt: skip
    table = [
        {
            "model": r["model"], "setting": r["setting"], "protocol": r["protocol"], "n": r["n"],
            "loss": mean_std(r["by_loss"]), "metric": mean_std(r["by_metric"]), "difference": fmt(r["difference"]["difference"], sign=True),
            "ci": (f"[{fmt(r['difference']['ci_low'], sign=True)}, {fmt(r['difference']['ci_high'], sign=True)}]"
                   if r["difference"]["ci_low"] is not None else r["difference"]["note"]),
            "p": fmt_p(r["difference"]["p_value"]), "better": r["better"],
        }
        for r in rows
    ]  # fmt: skip
    return [
        "### Model selection",
        "",
        f"Test {name} of the checkpoint each validation criterion picks within the same training run, mean ± std "
        "over runs. Δ and its 95% CI: paired t over runs (`scipy.stats.ttest_rel`); the run (seed, or fold) is the "
        "unit, because both checkpoints come from the same training run, so pairing removes the seed's luck.",
        "",
        markdown_table(table, columns),
    ]


def code_of(code: dict | None) -> str:
    """"commit 1a2b3c4d", "+ uncommitted changes" when tracked files differed, or "before code recording"."""
    if not code or not code.get("commit"):
        return "before code recording"
    return f"commit {code['commit'][:8]}" + (" + uncommitted changes" if code.get("dirty") else "")


def code_section(rows: list[ReportRow]) -> list[str]:
    """Which code made the runs: each record's `code` (`RunRecord.code`, evaluation.json's "code"), counted."""
    made_by: dict[str, Counter] = {}
    for row in rows:
        made_by.setdefault(code_of(row.code), Counter())[f"{row.dataset} {row.model} ({row.setting.label}, {row.protocol})"] += 1
    table = [{"code": code, "records": sum(groups.values()), "groups": "; ".join(f"{name} × {n}" for name, n in groups.items())}
             for code, groups in made_by.items()]  # fmt: skip
    return [
        "## Which code made these runs", "",
        "Read from each record (`code`: the commit, and whether tracked files differed from it). Records written "
        "before that field existed say \"before code recording\"; the commits that made them are named where they were "
        "made (results/study/README.md for the committed study). Today's code need not give their numbers again: "
        "before commit 58b2061 the per-epoch test scoring (`--score_test_each_epoch`, which every grid cell uses) drew "
        "from the torch RNG that orders batches and draws dropout, so those records differ from a run of today's code "
        "with the same options; since then the logging options do not change the trained model (tests/test_train.py).",
        "", markdown_table(table, [("code", "code"), ("records", "records"), ("groups", "dataset model (setting, protocol) × records")]),
    ]  # fmt: skip


def runs_table(rows: list[ReportRow]) -> str:
    metrics = [key for key in METRIC_NAMES if any(row.test[key] is not None for row in rows)]
    columns = [("model", "model"), ("setting", "setting"), ("protocol", "protocol"), ("seed", "seed")]
    if any(row.fold is not None for row in rows):
        columns.append(("fold", "fold"))
    columns += [(key, METRIC_NAMES[key]) for key in metrics]
    if any(row.epochs is not None for row in rows):
        columns += [("epochs", "epochs"), ("train_seconds", "train s")]
    columns += [("restored", "restored by"), ("run", "run")]
    shown = [
        {
            "model": row.model, "setting": row.setting.label, "seed": row.seed, "fold": row.fold, **row.test, "run": row.run,
            "protocol": "lab split" if row.protocol == "lab" else f"{row.cv_folds}-fold CV",
            "epochs": None if row.epochs is None else f"{row.epochs:g}",
            "train_seconds": None if row.train_seconds is None else f"{row.train_seconds:.0f}",
            "restored": criterion_name(row.restored_by) if row.restored_by else "",
        }  # fmt: skip
        for row in rows
    ]
    return markdown_table(shown, columns)


FRONT_COLUMNS = [
    ("key", "#"), ("model", "model"), ("runs", "runs"), ("score", "score"), ("interval", "95% CI"), ("interval_of", "interval over"),
    ("sentences_per_second", "sent/s (batch 64)"), ("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms"),
    ("parameters", "parameters"), ("disk_mb", "disk MB"), ("timed_on", "timed on"), ("front", "front"),
]  # fmt: skip


def front_table(rows: list[dict]) -> str:
    """The cost/accuracy table of the front's rows (`report.front.front_rows`, fastest first), each number at the precision it deserves."""
    shown = [
        {
            **row,
            "score": f"{row['score']:.3f}",
            "interval": f"{row['ci_low']:.3f} to {row['ci_high']:.3f}",
            "sentences_per_second": f"{row['sentences_per_second']:,.0f}",
            "latency_p50_ms": f"{row['latency_p50_ms']:.1f}",
            "latency_p95_ms": f"{row['latency_p95_ms']:.1f}",
            "parameters": f"{row['parameters'] / 1e6:.2f} M",
            "disk_mb": f"{row['disk_mb']:.1f}",
        }
        for row in rows
    ]
    return markdown_table(shown, FRONT_COLUMNS)
