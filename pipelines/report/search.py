"""What a hyperparameter study (`train.py --search optuna`) says about its parameters: how much each one
moves the validation score, and the scores of its trials.

    python -m pipelines.report.search runs/search/optuna-journal.log --output results/search/transformer-mr.md

It reads the study from its Optuna storage (the journal file `pipelines.search` writes, or a database URL)
and writes Markdown with, from the finished trials only:

- each parameter's importance: Optuna's fANOVA (`optuna.importance.FanovaImportanceEvaluator`, Hutter et al.
  2014: the share of the objective's variance, over the search space, that a random forest fitted to the
  trials attributes to the parameter alone), normalized to sum to 1, as the mean and standard deviation over
  `--forest_seeds` forests: the spread of the estimator on these trials, not of the study;
- each parameter's validation scores: per value (a categorical or an integer with few values) or per third
  of the trials ordered by the value;
- every trial: its number, state, best validation score, evaluations run (pruned trials stop early), values.

The trials' table also goes to a CSV beside the Markdown (`Study.trials_dataframe`: number, state, value, values;
no clock times). Each trial is one run
(one seed): no score here carries training variance, and a study's best is chosen on validation, so its
score is optimistic; re-run the chosen configurations on several seeds and compare them on test with the
report (`python -m pipelines.report`, question 5's family in `pipelines.report.compare`).
"""

from __future__ import annotations

import bisect
import collections
import shlex
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.cli import leading_positionals, pairs_text, parse
from pipelines.errors import DataError, OptionError
from pipelines.formatting import markdown_table
from pipelines.search_storage import optuna_storage, split_params

FEW_VALUES = 6  # a parameter with at most this many distinct values is shown per value, others per third


@dataclass
class SearchReportArguments:
    """The parameter importances and per-parameter scores of one Optuna study (`search_report`)."""

    storage: str = field(metadata={"help": "the study's storage: a journal file (optuna-journal.log) or a database URL (also the first argument)"})
    output: str = field(metadata={"help": "Markdown file written (the trials also to the same name with .csv)"})
    study_name: str | None = field(default=None, metadata={"help": "the study, when the storage holds several"})
    forest_seeds: int = field(default=10, metadata={"help": "fANOVA forests fitted (seeds 0..N-1): the mean and spread of each importance"})


def load_study(storage: str, study_name: str | None = None):
    """The study in `storage` (a journal file, or a URL with `://`); `PathError` for a missing file or a folder,
    `OptionError` for a URL Optuna cannot open, a file that is not a journal (an SQLite file given without
    `sqlite:///`), or a storage that holds several studies when `study_name` names none of them."""
    import optuna

    storage = optuna_storage(storage, must_exist=True)
    names = optuna.get_all_study_names(storage)
    if study_name is None and len(names) == 1:
        study_name = names[0]
    if study_name not in names:
        raise OptionError(f"--study_name must be one of {', '.join(names) or '(none: the storage is empty)'}, got {study_name!r}")
    return optuna.load_study(study_name=study_name, storage=storage)


def finished(study) -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def pruned(study) -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))


def importances(study, forest_seeds: int = 10) -> dict[str, tuple[float, float]]:
    """{parameter: (mean, standard deviation)} of the normalized fANOVA importance over `forest_seeds` forests,
    most important first. `DataError` with fewer than 2 finished trials (a forest needs them to vary)."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    done = finished(study)
    if len(done) < 2:
        raise DataError(f"study {study.study_name}: {len(done)} finished trial(s); parameter importances need at least 2")
    draws = [get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed)) for seed in range(forest_seeds)]
    found = {name: (statistics.fmean(d[name] for d in draws), statistics.pstdev(d[name] for d in draws)) for name in draws[0]}
    return dict(sorted(found.items(), key=lambda item: -item[1][0]))


def columns(keys) -> list[tuple[str, str]]:
    return [(key, key) for key in keys]


def value_text(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def parameter_rows(done: list, name: str, stopped: list = (), maximize: bool = True) -> list[dict]:
    """One parameter's validation scores: per value when the finished and stopped trials drew at most
    `FEW_VALUES` values between them (a value only stopped trials drew has a row with no score), else per third
    of the finished trials ordered by the value, or, with fewer than 3 finished, per finished value. `pruned`
    counts the trials of `stopped` (the pruner's) with that value, or in that third's span (a value between two
    thirds goes to the higher one), or under "other values": their scores are left out, which flatters the values
    they drew. `maximize`: the study's direction (False for a loss: its best is the lowest score)."""
    pairs = sorted(((trial.params[name], trial.value) for trial in done if name in trial.params), key=lambda pair: pair[0])
    drawn = {value for value, _ in pairs} | {trial.params[name] for trial in stopped if name in trial.params}
    if len(drawn) <= FEW_VALUES or len(pairs) < 3:
        keys = sorted(drawn if len(drawn) <= FEW_VALUES else {value for value, _ in pairs}, key=lambda value: (str(type(value)), value))
        parts = [[pair for pair in pairs if pair[0] == value] for value in keys]
        labels = [value_text(value) for value in keys]
        owner = {value: i for i, value in enumerate(keys)}.get
    else:
        cut = [round(len(pairs) * i / 3) for i in range(4)]
        parts = [pairs[cut[i]:cut[i + 1]] for i in range(3)]
        labels = [f"{value_text(part[0][0])} to {value_text(part[-1][0])}" for part in parts]
        tops = [part[-1][0] for part in parts[:-1]]
        owner = lambda value: bisect.bisect_left(tops, value)  # noqa: E731: the first third whose top reaches the value
    counts = collections.Counter(owner(trial.params[name]) for trial in stopped if name in trial.params)
    rows = []
    for i, (label, part) in enumerate(zip(labels, parts)):
        scores = [score for _, score in part]
        spread = f" ± {statistics.stdev(scores):.4f}" if len(scores) > 1 else ""
        summary = {"validation mean ± sd": f"{statistics.fmean(scores):.4f}{spread}", "best": f"{(max if maximize else min)(scores):.4f}", "worst": f"{(min if maximize else max)(scores):.4f}"} \
            if scores else {"validation mean ± sd": "", "best": "", "worst": ""}  # fmt: skip
        rows.append({"value": label, "trials": len(scores), "pruned": counts[i], **summary})
    if counts[None]:
        rows.append({"value": "other values", "trials": 0, "pruned": counts[None], "validation mean ± sd": "", "best": "", "worst": ""})
    return rows


def trial_rows(study) -> list[dict]:
    """Every trial, best validation score first (unfinished ones last)."""
    names = list(dict.fromkeys(name for trial in study.trials for name in trial.params))
    ordered = sorted(study.trials, key=lambda t: (t.value is None, -(t.value or 0) if study.direction.name == "MAXIMIZE" else (t.value or 0)))
    return [{"trial": trial.number, "state": trial.state.name.lower(), "validation": "" if trial.value is None else f"{trial.value:.4f}",
             "evaluations": len(trial.intermediate_values), **{name: value_text(trial.params.get(name, "")) for name in names}}
            for trial in ordered]  # fmt: skip


def best_options(study) -> list[str]:
    """The best trial as options of the command that ran the study (`options_owner`): its config fields as one
    `--config_overrides`, sorted (GloVe studies: train.py and the grid), then each `TrainingArguments` field it drew
    (`--learning_rate`), as `pipelines.search.train_trial` splits them."""
    config_values, training_values = split_params(study.best_trial.params)
    config = pairs_text(dict(sorted(config_values.items())))
    return (["--config_overrides", config] if config else []) + [text for name, value in training_values.items() for text in (f"--{name}", str(value))]


def options_owner(study) -> str:
    """Whose options `best_options` writes: a GloVe family's space draws config fields (`--config_overrides`, train.py's
    and the grid's), the fine-tuning space (`search_spaces.finetune_space`) training options only, finetune.py's."""
    config_values, _ = split_params(study.best_trial.params)
    return "train.py or grid" if config_values else "finetune.py"


def search_report(study, forest_seeds: int, command: str) -> str:
    """The Markdown of `study`: how it was made, the importances, per-parameter scores and every trial.
    `DataError` for a study with no finished trial, or fewer than 2 (`importances`)."""
    done, stopped = finished(study), pruned(study)
    if not done:
        raise DataError(f"study {study.study_name}: no finished trial yet ({len(study.trials)} trial(s), none complete); "
                        "report it once a trial has finished")  # fmt: skip
    best, maximize = study.best_trial, study.direction.name == "MAXIMIZE"
    ranked = importances(study, forest_seeds)
    states = {}
    for trial in study.trials:
        states[trial.state.name.lower()] = states.get(trial.state.name.lower(), 0) + 1
    lines = [
        f"# Study `{study.study_name}`", "",
        f"Made by `{command}` from the study's Optuna storage. {len(study.trials)} trials "
        f"({', '.join(f'{n} {state}' for state, n in states.items())}); each trial is one run (one seed), scored on "
        "validation only: no number here carries training variance, and the best is optimistic (chosen on these scores)."
        + (" A `running` trial is under way or was interrupted (its process stopped; the storage keeps it running); only"
           " finished (`complete`) trials count below." if "running" in states else ""), "",
        ("" if maximize else "The study minimizes its score (a loss): the best trial, value and column are the lowest. ")
        + f"Best trial: {best.number}, validation {best.value:.4f}, "
        + ", ".join(f"{name}={value_text(value)}" for name, value in best.params.items())
        + f"; as {options_owner(study)} options: `{shlex.join(best_options(study))}`.", "",
        "## Parameter importance", "",
        f"fANOVA (`optuna.importance.FanovaImportanceEvaluator`) over the {len(done)} finished trials, normalized to sum "
        f"to 1; mean ± sd over {forest_seeds} forests (seeds 0..{forest_seeds - 1}), the estimator's spread on these "
        "trials, not the study's: with few trials, read the order, not the digits."
        + (f" **Only {len(done)} finished trials for {len(ranked)} parameters**: the trials cannot tell the parameters' effects"
           " apart (each pair of trials changes several at once), so these importances are the forest's guess, not evidence."
           if len(done) <= len(ranked) else ""), "",
        markdown_table([{"parameter": name, "importance": f"{mean:.3f} ± {sd:.3f}"} for name, (mean, sd) in ranked.items()],
                       columns(["parameter", "importance"])), "",
        "## Validation score by parameter", "",
        f"Finished trials only; per value, or per third of the trials ordered by the value (more than {FEW_VALUES} values). "
        + ("`pruned`: trials with that value (in that third's span) that the study's pruner stopped early (the median pruner:"
           " below the median of finished trials at the same evaluation); their scores are not in the columns beside it, so"
           " a value with many pruned trials reads better there than it searched." if stopped else "`pruned`: none in this study."), "",
    ]  # fmt: skip
    for name in ranked:
        rows = parameter_rows(done, name, stopped, maximize)
        lines += [f"**{name}**", "", markdown_table(rows, columns(rows[0])), ""]
    rows = trial_rows(study)
    lines += ["## Trials", "", "Best validation score first; `evaluations`: validation passes run (a pruned trial stops early).", "",
              markdown_table(rows, columns(rows[0])), ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    (args,) = parse((SearchReportArguments,), leading_positionals(argv, "--storage"))
    if args.forest_seeds < 1:
        raise OptionError(f"--forest_seeds must be at least 1, got {args.forest_seeds}")
    study = load_study(args.storage, args.study_name)
    command = shlex.join(["python", "-m", "pipelines.report.search", args.storage, "--output", args.output]
                         + (["--study_name", args.study_name] if args.study_name else []))  # fmt: skip
    text = search_report(study, args.forest_seeds, command)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    study.trials_dataframe(attrs=("number", "state", "value", "params")).to_csv(output.with_suffix(".csv"), index=False)  # no clock times
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output} and {output.with_suffix('.csv')} ({len(study.trials)} trials)")


if __name__ == "__main__":
    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
