"""The experiment grid: every (dataset, model, seed[, fold]) cell through the `train_glove` flow.

    python -m pipelines.experiments --data_dir ../shared/datasets --train_embeddings --seeds 0,1,2,3,4
    python -m pipelines.experiments ... --datasets mr --cv_folds 10          # MR's literature protocol
    python -m pipelines.experiments ... --dry_run > cells.txt                # one train.py command a cell
    python -m pipelines.experiments ... --learning_rate 0.01 --config_overrides hidden_size=64  # any train.py option

Cells run in `--workers` processes (default: one per CPU core, each with one torch thread; on
GPUs, two per GPU). A worker prepares a data set (vocabulary, tokenization) once and reuses it
for every model and seed. A cell whose folder holds a finished `results.json` is skipped, so an
interrupted grid picks up where it stopped; a failing cell is reported in one line and the
others go on. `--dry_run` prints the cells as plain `train.py` commands for a cluster scheduler
(a SLURM array, GNU parallel); `python -m pipelines.report RUNS_DIR` reads their folders after.
`--engine submitit` runs each cell as a submitit job instead (a Slurm job array where there is
Slurm, local processes otherwise; `pipelines.engines` says why submitit), through the same cell
function, into the same folders and summary.

Tracking: `--report_to tensorboard` (or mlflow, ...) reaches every cell like any train.py option;
each cell is one run named by its folder under `--runs_dir` (`mr-lab-frozen/mean/seed-0`).

Each cell is a train.py command line: the grid's own options (models, datasets, seeds, folds,
vectors) become `--model`, `--dataset`, `--seed`, `--fold`, ... and every other option is train.py's,
passed to every cell as given; the cell's dataclasses are parsed from that line by train.py's own
parser, and `--dry_run` prints it, so the two cannot drift apart.

The architectures keep their config defaults; what changes per dataset is the training budget:
SemEval-2017 train is about 40k tweets, four times MR, so its runs take larger batches.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import platform
import shlex
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

import models
from pipelines.cli import parse, quiet_progress_bars, run_cli
from pipelines.benchmarks import BENCHMARKS
from pipelines.data import DataSourceArguments
from pipelines.distillation import grid_folder_suffix
from pipelines.engines import run_on_submitit
from pipelines.errors import OptionError, UserError
from pipelines.hub import one_line
from pipelines.run_files import RESULTS_FILE, RunRecord, finished_record, library_versions, write_json_atomic
from pipelines.formatting import format_metrics, markdown_table
from pipelines.arguments import DataArguments, DistillationArguments, EngineArguments
from pipelines.training import (
    GloveModelArguments,
    GloveTrainingArguments,
    prepare_glove_data,
    train_glove,
)



def grid_budget(dataset: str) -> dict:
    """The training budget of a dataset's cells, on top of `GloveTrainingArguments` (lr 1e-3, early
    stopping with patience 5): the benchmark's `grid_training` (`pipelines.benchmarks`), none for your
    own data. Both benchmarks allow 50 epochs, so early stopping, not a cap, ends every run."""
    return dict(BENCHMARKS[dataset].grid_training) if dataset in BENCHMARKS else {}


def applied_budget(dataset: str, train_options: list[str]) -> dict:
    """`grid_budget(dataset)` as the cells ran it: a train.py option given to the grid
    (`--num_train_epochs 1`, `--num-train-epochs=1`) wins over the dataset's value, as in `cell_argv`."""
    budget = grid_budget(dataset)
    for key, value in budget.items():
        for index, option in enumerate(train_options):
            name, equals, given = option.partition("=")
            if name in (f"--{key}", f"--{key.replace('_', '-')}") and (equals or index + 1 < len(train_options)):
                budget[key] = type(value)(given if equals else train_options[index + 1])
    return budget

# Slowest first, so the last cells to start are short ones and no worker idles at the end.
COST_ORDER = ["bilstm", "lstm", "transformer", "multihead", "attention", "meanmax", "mean"]

COLUMNS = [
    ("dataset", "dataset"),
    ("protocol", "protocol"),
    ("vectors", "vectors"),
    ("model", "model"),
    ("seed", "seed"),
    ("fold", "fold"),
    ("accuracy", "accuracy"),
    ("f1_macro", "macro F1"),
    ("recall_macro", "macro recall"),
    ("f1_pn", "F1-PN"),
    ("epochs", "epochs"),
    ("train_seconds", "train s"),
]


# In each cell's folder: its training log, and the traceback when it failed.
CELL_LOG_FILE = "train.log"
CELL_ERROR_FILE = "error.txt"


class CellsFailed(UserError, RuntimeError):
    """Some cells failed (each one's traceback is in its folder); the rest finished and are in the tables."""


def parse_int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OptionError(f"{option} takes comma-separated integers such as 0,1,2, got {text!r}") from None
    if not values:
        raise OptionError(f"{option} is empty; give comma-separated integers such as 0,1,2")
    return values


def default_workers() -> int:
    """Two per GPU when there are GPUs (these models leave a GPU mostly idle), else one per core."""
    if torch.cuda.is_available():
        return 2 * torch.cuda.device_count()
    return len(os.sched_getaffinity(0))


@dataclass
class ExperimentArguments:
    models: str = field(default=",".join(models.GLOVE_MODELS), metadata={"help": "comma-separated --model names"})
    datasets: str = field(default=",".join(BENCHMARKS), metadata={"help": "comma-separated dataset names"})
    embeddings: str | None = field(default=None, metadata={"help": "GloVe text file; default: the GloVe package"})
    train_embeddings: bool = field(default=False, metadata={"help": "fine-tune the word vectors too"})
    seeds: str = field(default="42", metadata={"help": "comma-separated seeds; each sets init, validation split, batch order"})
    cv_folds: int | None = field(default=None, metadata={"help": "k-fold cross-validation (MR), folds fixed by the seed"})
    workers: int | None = field(default=None, metadata={"help": "parallel cells; default: CPU cores, or 2 per GPU (--engine submitit on Slurm: the job array's cap)"})
    metric_for_best_model: str = field(
        default=GloveTrainingArguments.metric_for_best_model,
        metadata={"help": "checkpoint each cell restores: official (accuracy / macro recall), or eval_loss"},
    )
    runs_dir: str = field(default="runs/grid", metadata={"help": "cells go to <runs_dir>/<dataset>-<protocol>-<vectors>/<model>/seed-<s>"})
    results: str = field(default="runs/grid/results", metadata={"help": "writes <results>.md and <results>.json"})
    dry_run: bool = field(default=False, metadata={"help": "print one train.py command per cell and exit"})

    def __post_init__(self):
        self.train_options: list[str] = []  # train.py's options given to the grid, passed to every cell
        self.loss_args = None  # the parsed --class_weights, --teacher...: they name the cells' folders
        self.model_names = [name.strip() for name in self.models.split(",") if name.strip()]
        self.dataset_names = [name.strip() for name in self.datasets.split(",") if name.strip()]
        self.use_source(DataSourceArguments())
        self.seed_list = parse_int_list(self.seeds, "--seeds")
        for name in self.model_names:
            models.model_type_for(name)
        if self.workers is not None and self.workers < 1:
            raise OptionError(f"--workers must be at least 1, got {self.workers}")

    def use_source(self, source: DataSourceArguments) -> None:
        """The data options of train.py (`--data_dir`, or your own `--train_file`... / `--dataset_name`):
        built-ins run every name of `--datasets`; your own data is the grid's one dataset."""
        self.source = source
        if source.source != "builtin":
            self.dataset_names = [source.dataset_label]
        for name in self.dataset_names:
            self.data_arguments(name)  # refuses unknown names, CV on a fixed test set

    def data_arguments(self, dataset: str, fold: int | None = None) -> DataArguments:
        options = {item.name: getattr(self.source, item.name) for item in fields(DataSourceArguments)}
        if self.source.source == "builtin":
            options["dataset"] = dataset
        return DataArguments(**options, cv_folds=self.cv_folds, fold=fold or 0, score_test_each_epoch=True)


@dataclass(frozen=True)
class Cell:
    dataset: str
    model: str
    seed: int
    fold: int | None
    output_dir: str


def grid_cells(args: ExperimentArguments) -> list[Cell]:
    vectors = "trained" if args.train_embeddings else "frozen"
    protocol = f"cv{args.cv_folds}" if args.cv_folds else "lab"
    vectors += grid_folder_suffix(args.loss_args)  # -weighted, -distilled-<teacher>
    cells = []
    for dataset in args.dataset_names:
        for model in sorted(args.model_names, key=lambda name: COST_ORDER.index(name) if name in COST_ORDER else -1):
            for seed in args.seed_list:
                for fold in range(args.cv_folds) if args.cv_folds else [None]:
                    folder = Path(args.runs_dir) / f"{dataset}-{protocol}-{vectors}" / model / f"seed-{seed}"
                    if fold is not None:
                        folder = folder / f"fold-{fold}"
                    cells.append(Cell(dataset, model, seed, fold, str(folder)))
    # The larger data set's cells first (they are the long ones), datasets otherwise in order.
    return sorted(cells, key=lambda cell: -BENCHMARKS[cell.dataset].train_size if cell.dataset in BENCHMARKS else 0)


TRAIN_ARGUMENT_TYPES = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments)

# train.py options each cell sets from the grid's own (--models, --datasets, --seeds, folds, --runs_dir).
CELL_OPTIONS = ("--model", "--dataset", "--seed", "--fold", "--output_dir", "--run_name")


def use_train_options(args: ExperimentArguments, options: list[str]) -> None:
    """train.py options for every cell, checked once by train.py's parser; the ones each cell sets refuse."""
    taken = [option for option in options if option.split("=")[0] in CELL_OPTIONS]
    if taken:
        raise OptionError(
            f"{taken[0].split('=')[0]} is set per cell by the grid; use --models, --datasets, --seeds, --cv_folds or --runs_dir"
        )
    *_, args.loss_args = parse(TRAIN_ARGUMENT_TYPES, ["--model", args.model_names[0], *options])  # fails here, not in every cell
    args.train_options = list(options)


def cell_argv(args: ExperimentArguments, cell: Cell) -> list[str]:
    """The cell as train.py options: the grid's choices, the dataset's budget, then the user's train.py options."""
    argv = ["--model", cell.model]
    data_args = args.data_arguments(cell.dataset, cell.fold)
    for item in fields(DataSourceArguments):
        value = getattr(data_args, item.name)
        if value and not (item.name == "dataset" and args.source.source != "builtin"):
            argv += [f"--{item.name}", str(value)]
    argv += ["--seed", str(cell.seed)]
    if args.embeddings:
        argv += ["--embeddings", args.embeddings]
    if args.train_embeddings:
        argv.append("--train_embeddings")
    if args.cv_folds:
        argv += ["--cv_folds", str(args.cv_folds), "--fold", str(cell.fold)]
    argv += ["--score_test_each_epoch", "--metric_for_best_model", args.metric_for_best_model]
    for key, value in grid_budget(cell.dataset).items():
        argv += [f"--{key}", str(value)]
    argv += ["--output_dir", cell.output_dir, "--run_name", run_name(args, cell), "--report_to", "none", "--disable_tqdm", "true"]
    return argv + args.train_options  # last: an option given to the grid (e.g. --report_to tensorboard) wins over these


def run_name(args: ExperimentArguments, cell: Cell) -> str:
    """The cell's run for `--report_to` trackers: its folder under `--runs_dir`, e.g. `mr-lab-frozen/mean/seed-0`."""
    return Path(cell.output_dir).relative_to(args.runs_dir).as_posix()


def cell_arguments(args: ExperimentArguments, cell: Cell) -> tuple[GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments]:
    """The cell's dataclasses, parsed by train.py's parser from the cell's command line."""
    return parse(TRAIN_ARGUMENT_TYPES, cell_argv(args, cell))


def cell_command(args: ExperimentArguments, cell: Cell) -> str:
    """The cell as a plain `train.py` command line: every option that is not train.py's default."""
    return shlex.join(["python", "train.py", *cell_argv(args, cell)])


# One per worker process: the prepared data (vocabulary, tokenized splits) of each data set.
_PREPARED: dict[str, object] = {}


def _init_worker(gpu_count: int) -> None:
    import datasets

    datasets.disable_progress_bars()  # one grid progress bar, not one per tokenized split
    quiet_progress_bars()
    torch.set_num_threads(1)
    if gpu_count:
        worker = multiprocessing.current_process()._identity[0] - 1  # 1-based in a pool
        torch.cuda.set_device(worker % gpu_count)


def run_cell(args: ExperimentArguments, cell: Cell) -> dict:
    """Train one cell (in a worker process); the data of an earlier cell with the same data is reused."""
    model_args, data_args, training_args, loss_args = cell_arguments(args, cell)
    # The data depend on the seed only through the CV folds; the lab splits are fixed.
    key = json.dumps([asdict(data_args) | {"fold": cell.fold}, args.embeddings, cell.seed if args.cv_folds else None])
    if key not in _PREPARED:
        _PREPARED[key] = prepare_glove_data(model_args, data_args, cell.seed)
    started = time.perf_counter()
    results = train_glove(model_args, data_args, training_args, prepared=_PREPARED[key], loss_args=loss_args)
    return {**results, "output_dir": cell.output_dir, "wall_seconds": round(time.perf_counter() - started, 2)}


def _run_cell_safely(args: ExperimentArguments, cell: Cell) -> tuple[Cell, dict | None, str | None]:
    """Run a cell with its output in `<cell>/train.log`, so workers' epoch logs do not bury the
    grid's progress bar. A failure writes its traceback to `<cell>/error.txt` and returns one line."""
    folder = Path(cell.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CELL_ERROR_FILE).unlink(missing_ok=True)
    with open(folder / CELL_LOG_FILE, "a", encoding="utf-8") as log:
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                return cell, run_cell(args, cell), None
        except Exception as err:  # one failing cell must not stop the grid; its traceback stays in its folder
            (folder / CELL_ERROR_FILE).write_text(traceback.format_exc(), encoding="utf-8")
            return cell, None, f"{one_line(err)} (traceback: {folder / CELL_ERROR_FILE})"


def _run_cell_in_job(args: ExperimentArguments, cell: Cell) -> tuple[Cell, dict | None, str | None]:
    """A submitit job: the pool worker's set-up, then the pool's cell function."""
    _init_worker(0)  # the job's GPUs, if any, are the ones Slurm made visible
    return _run_cell_safely(args, cell)


def run_cells(args: ExperimentArguments, engine: EngineArguments, todo: list[Cell], collect) -> None:
    """`collect(cell, results, error)` for every cell of `todo` as it ends: in this process
    (one worker), in the spawned process pool, or as submitit jobs (`pipelines.engines`)."""
    if engine.engine == "submitit":
        folder = Path(engine.engine_folder or Path(args.runs_dir) / "submitit")
        calls = [(args, cell) for cell in todo]
        for (_, cell), outcome, job_error in run_on_submitit(engine, folder, _run_cell_in_job, calls, args.workers, "sentibench-grid"):
            if job_error:
                collect(cell, None, job_error)
            else:
                collect(*outcome)
    elif args.workers == 1:
        _init_worker(0)
        for cell in todo:
            collect(*_run_cell_safely(args, cell))
    else:
        gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        context = multiprocessing.get_context("spawn")  # no forked torch or tokenizer state
        with ProcessPoolExecutor(args.workers, mp_context=context, initializer=_init_worker, initargs=(gpu_count,)) as pool:
            futures = [pool.submit(_run_cell_safely, args, cell) for cell in todo]
            for future in as_completed(futures):
                collect(*future.result())


def finished_results(cell: Cell) -> RunRecord | None:
    """The cell's run record when it has finished (`pipelines.run_files.finished_record`)."""
    record = finished_record(cell.output_dir)
    if record is not None:
        record.output_dir = cell.output_dir
    return record


def table_row(results: RunRecord) -> dict:
    return {
        "dataset": results.dataset,
        "protocol": results.protocol,
        "vectors": results.vectors,
        "model": results.model,
        "seed": results.seed,
        "fold": results.fold,
        **results.test,
        "epochs": int(results.epochs) if float(results.epochs).is_integer() else round(results.epochs, 2),
        "train_seconds": round(results.train_seconds),
        "output_dir": results.output_dir,
    }


def earlier_summary(args: ExperimentArguments, covered: set[str]) -> tuple[list[dict], list[str]]:
    """Rows and commands of earlier grid invocations in `<results>.json` whose cells this one does
    not cover and whose `results.json` is still on disk, so the summary lists every finished cell."""
    path = Path(f"{args.results}.json")
    if not path.is_file():
        return [], []
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return [], []
    kept = [
        row for row in earlier.get("rows", [])
        if row.get("output_dir") not in covered and (Path(row.get("output_dir", "")) / RESULTS_FILE).is_file()
    ]
    return kept, earlier.get("commands", [earlier["command"]] if "command" in earlier else [])


def write_tables(
    args: ExperimentArguments, rows: list[dict], command: str, seconds: float, failures: list[str], earlier=([], [])
) -> None:
    """Every finished cell, one row each, after the `earlier_summary` rows; the report
    (`pipelines.report`) aggregates them."""
    earlier_rows, earlier_commands = earlier
    commands = [*[c for c in earlier_commands if c != command], command]
    rows = earlier_rows + rows
    setting = {
        "command": command,
        "commands": commands,
        "seeds": args.seed_list,
        "cv_folds": args.cv_folds,
        "train_embeddings": args.train_embeddings,
        "metric_for_best_model": args.metric_for_best_model,
        "dataset_training": {name: applied_budget(name, args.train_options) for name in args.dataset_names},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {args.workers} workers",
        "wall_seconds": round(seconds, 1),
        "failures": failures,
        "versions": library_versions(),
    }
    order = list(models.GLOVE_MODELS)
    rows = sorted(rows, key=lambda row: (row["dataset"], row.get("protocol") or "", row.get("vectors") or "", order.index(row["model"]) if row["model"] in order else len(order), row["seed"], row["fold"] or 0))
    write_json_atomic(f"{args.results}.json", {**setting, "rows": rows})
    columns = [column for column in COLUMNS if any(row.get(column[0]) is not None for row in rows)]
    made_by = "\n".join(commands)
    markdown = (
        "# GloVe models: every cell\n\n"
        f"Made by (each invocation adds its cells):\n\n```\n{made_by}\n```\n\n"
        f"Last invocation: seeds {args.seeds}; {'trainable' if args.train_embeddings else 'frozen'} GloVe vectors; "
        f"{'%d-fold cross-validation' % args.cv_folds if args.cv_folds else 'lab split'}; {setting['machine']}; "
        f"{setting['wall_seconds']} s wall. Checkpoint restored by {args.metric_for_best_model}. Training budget "
        "(an upper bound: early stopping ends most runs sooner; each cell's epochs are in its row): "
        + "; ".join(f"{name} {budget}" for name, budget in setting["dataset_training"].items())
        + ". Single runs: `python -m pipelines.report` gives means, confidence intervals and paired tests.\n\n"
        + markdown_table(rows, columns)
    )
    Path(f"{args.results}.md").parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.results}.md").write_text(markdown, encoding="utf-8")


def run_experiments(args: ExperimentArguments, command: str, engine: EngineArguments | None = None) -> list[dict]:
    """Run every unfinished cell on `engine` (default: the process pool), writing the summary as cells end."""
    engine = engine or EngineArguments()
    started = time.perf_counter()
    cells = grid_cells(args)
    earlier = earlier_summary(args, {cell.output_dir for cell in cells})
    rows, todo = [], []
    for cell in cells:
        done = finished_results(cell)
        if done:
            rows.append(table_row(done))
        else:
            todo.append(cell)
    args.workers = min(args.workers or default_workers(), max(len(todo), 1))
    where = f"{args.workers} workers" if engine.engine == "pool" else f"submitit ({engine.engine_cluster or 'auto'})"
    print(f"{len(cells)} cells: {len(rows)} finished before, {len(todo)} to run on {where}", flush=True)
    failures = []
    progress = tqdm(total=len(cells), initial=len(rows), unit="cell", desc="grid", dynamic_ncols=True)

    def collect(cell, results, error):
        if error:
            failures.append(f"{cell.output_dir}: {error}")
            tqdm.write(f"error: {cell.output_dir}: {error}", file=sys.stderr)
        else:
            rows.append(table_row(RunRecord.from_dict(results, cell.output_dir)))
            tqdm.write(f"{cell.output_dir}: {format_metrics(results['test'])}")
        progress.update()
        write_tables(args, rows, command, time.perf_counter() - started, failures, earlier)

    run_cells(args, engine, todo, collect)
    progress.close()
    write_tables(args, rows, command, time.perf_counter() - started, failures, earlier)
    print(f"{len(rows)} of {len(cells)} cells finished in {time.perf_counter() - started:.0f} s; wrote {args.results}.md")
    if failures:
        raise CellsFailed(f"{len(failures)} of {len(cells)} cells failed (listed above and in {args.results}.json)")
    return rows


def main(argv: list[str]) -> None:
    args, source, engine, train_options = parse((ExperimentArguments, DataSourceArguments, EngineArguments), argv, return_remaining=True)
    args.use_source(source)
    use_train_options(args, train_options)
    if args.dry_run:
        for cell in grid_cells(args):
            print(cell_command(args, cell))
        return
    environment = [f"{name}={os.environ[name]}" for name in ("HF_HUB_OFFLINE", "OMP_NUM_THREADS") if name in os.environ]
    run_experiments(args, command=shlex.join([*environment, "python", "-m", "pipelines.experiments", *argv]), engine=engine)


if __name__ == "__main__":
    sys.exit(run_cli(main))
