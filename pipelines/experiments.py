"""The experiment grid: every (dataset, model, seed[, fold]) cell through the `train_glove` flow.

    python -m pipelines.experiments --data_dir ../shared/datasets --train_embeddings --seeds 0,1,2,3,4
    python -m pipelines.experiments ... --datasets mr --cv_folds 10          # MR's literature protocol
    python -m pipelines.experiments ... --dry_run > cells.txt                # one train.py command a cell
    python -m pipelines.experiments ... --learning_rate 0.01 --config_overrides hidden_size=64  # any train.py option
    python -m pipelines.experiments ... --train_sizes 16,64,256,all          # learning curves (pipelines.train_sizes)

Cells run in `--workers` processes (default: one per CPU core, each with one torch thread; on
GPUs, two per GPU). A worker prepares a data set (vocabulary, tokenization) once and reuses it
for every model and seed. A cell whose folder holds a finished `results.json` is skipped, so an
interrupted grid picks up where it stopped, once its options (or, for a folder a `--dry_run` command
finished, its `run_definition.json`) are found to be this cell's (`check_finished_cell`); a failing
cell is reported in one line and the others go on. `--dry_run` prints the cells as plain `train.py`
commands for a cluster scheduler (a SLURM array, GNU parallel); `python -m pipelines.report RUNS_DIR`
reads their folders after.
`--engine submitit` runs each cell as a submitit job instead (a Slurm job array where there is
Slurm, local processes otherwise; `pipelines.engines` says why submitit), through the same cell
function, into the same folders and summary; a job has a torch thread per CPU it was given
(`--slurm_cpus_per_task`, `job_threads`).

Tracking: `--report_to tensorboard` (or mlflow, ...) reaches every cell like any train.py option;
each cell is one run named by its folder under `--runs_dir` (`mr-lab-frozen/mean/seed-0`).

Each cell is a value (`Cell`): its place in the grid (dataset, model, seed, fold, folder) and train.py's
dataclasses, parsed once here from every option that is not the grid's: the data options (`--cv_folds`,
`--data_dir`, `--train_file` ...) with the grid's own, the others (`--train_embeddings`, `--learning_rate`,
`--teacher` ...) by train.py's parser once per dataset, over its budget. Workers
receive them as they are; `--dry_run` renders them back as train.py options (`pipelines.cli.to_argv`),
so the printed command and the trained cell cannot drift apart.

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
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

import models
from pipelines.cli import parse, quiet_progress_bars, run_cli, to_argv
from pipelines.benchmarks import BENCHMARKS
from pipelines.distillation import check_teacher, teacher_name
from pipelines.engines import run_on_submitit
from pipelines.errors import OptionError, UserError, one_line
from pipelines.runs.io import check_writable_dir, write_json_atomic
from pipelines.data.files import file_digest
from pipelines.fitting import DEFINING_TRAINING_OPTIONS, definition_differences, recorded_definition, run_definition
from pipelines.runs.layout import CELL_ERROR_FILE, CELL_LOG_FILE, CELL_OPTIONS_FILE, RESULTS_FILE, RUN_DEFINITION_FILE, CellFolder
from pipelines.runs.record import RunRecord, finished_record, library_versions
from pipelines.runs.setting import Setting
from pipelines.formatting import format_metrics, markdown_table
from pipelines.selection import best_metric_fields
from pipelines.arguments import GRID_RUNS_DIR, DataArguments, DistillationArguments, EngineArguments, given_learning_rate
from pipelines.train_sizes import check_sizes, parse_train_sizes
from pipelines.training import (
    GloveModelArguments,
    GloveTrainingArguments,
    PreparedGloveData,
    embeddings_digest,
    glove_model_of,
    glove_training_data,
    prepare_glove_data,
    train_glove,
)



def grid_budget(dataset: str) -> dict:
    """The training budget of a dataset's cells, on top of `GloveTrainingArguments` (lr 1e-3, early
    stopping with patience 5): the benchmark's `grid_training` (`pipelines.benchmarks`), none for your
    own data. Both benchmarks allow 50 epochs, so early stopping, not a cap, ends every run."""
    return dict(BENCHMARKS[dataset].grid_training) if dataset in BENCHMARKS else {}


# Slowest first, so the last cells to start are short ones and no worker idles at the end.
COST_ORDER = ["bilstm", "lstm", "transformer", "multihead", "attention", "meanmax", "mean"]

COLUMNS = [
    ("dataset", "dataset"),
    ("protocol", "protocol"),
    ("vectors", "vectors"),
    ("model", "model"),
    ("train_size_per_class", "per class"),
    ("seed", "seed"),
    ("fold", "fold"),
    ("accuracy", "accuracy"),
    ("f1_macro", "macro F1"),
    ("recall_macro", "macro recall"),
    ("f1_pn", "F1-PN"),
    ("epochs", "epochs"),
    ("train_seconds", "train s"),
]




class CellsFailed(UserError, RuntimeError):
    """Some cells failed (each one's traceback is in its folder); the rest finished and are in the tables."""


def parse_int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OptionError(f"{option} takes comma-separated integers such as 0,1,2, got {text!r}") from None
    if not values:
        raise OptionError(f"{option} is empty; give comma-separated integers such as 0,1,2")
    check_once(values, option)
    return values


def check_once(values: list, option: str) -> None:
    """`OptionError` for a value `option` gives twice: its cells would share one folder (`pipelines.train_sizes` the same)."""
    repeated = next((value for index, value in enumerate(values) if value in values[:index]), None)
    if repeated is not None:
        raise OptionError(f"{option} names {repeated} twice")


def default_workers() -> int:
    """Two per GPU when there are GPUs (these models leave a GPU mostly idle), else one per core."""
    if torch.cuda.is_available():
        return 2 * torch.cuda.device_count()
    return len(os.sched_getaffinity(0))


def names(text: str, option: str) -> list[str]:
    found = [name.strip() for name in text.split(",") if name.strip()]
    check_once(found, option)
    return found


@dataclass
class ExperimentArguments:
    """The grid's own options: which cells (models x datasets x seeds [x folds]) and where they go.
    Every other option is train.py's and reaches every cell (`grid_cells`)."""

    models: str = field(default=",".join(models.GLOVE_MODELS), metadata={"help": "comma-separated --model names"})
    datasets: str = field(default=",".join(BENCHMARKS), metadata={"help": "comma-separated dataset names (your own data: --train_file ... instead)"})
    seeds: str = field(default="42", metadata={"help": "comma-separated seeds; each sets init, validation split, batch order"})
    workers: int | None = field(default=None, metadata={"help": "parallel cells; default: CPU cores, or 2 per GPU (--engine submitit on Slurm: the job array's cap)"})
    runs_dir: str = field(default=GRID_RUNS_DIR, metadata={"help": "cells go to <runs_dir>/<dataset>-<protocol>-<vectors>/<model>/seed-<s>"})
    results: str | None = field(default=None, metadata={"help": "writes <results>.md and <results>.json; default: <runs_dir>/results"})
    dry_run: bool = field(default=False, metadata={"help": "print one train.py command per cell and exit"})
    train_sizes: str | None = field(
        default=None,
        metadata={"help": "learning curves: training sentences per class, e.g. 16,64,256,1024,all; each size a cell (train.py --train_size), in <dataset>-<protocol>-<vectors>-n<N>"},
    )

    # Parsed once, from --seeds and --train_sizes, when the options are read (a bad one is refused then).
    seed_list: list[int] = field(init=False, repr=False)
    size_list: list[int | None] = field(init=False, repr=False)  # per class; [None] (the whole training split) when not given

    def __post_init__(self):
        if self.results is None:  # the summary beside the cells it lists, wherever --runs_dir puts them
            self.results = f"{self.runs_dir}/results"
        self.seed_list = parse_int_list(self.seeds, "--seeds")
        self.size_list = parse_train_sizes(self.train_sizes) if self.train_sizes is not None else [None]
        for name in self.model_names:
            models.model_type_for(name)
        names(self.datasets, "--datasets")  # a name given twice is refused here, with the other options
        if self.workers is not None and self.workers < 1:
            raise OptionError(f"--workers must be at least 1, got {self.workers}")

    @property
    def model_names(self) -> list[str]:
        return names(self.models, "--models")

    @property
    def dataset_names(self) -> list[str]:
        return names(self.datasets, "--datasets")


TRAIN_ARGUMENT_TYPES = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments)

# train.py options each cell sets from the grid's own (--models, --datasets, --seeds, folds, --runs_dir).
CELL_OPTIONS = ("--model", "--dataset", "--seed", "--fold", "--output_dir", "--run_name", "--train_size")
# What every cell runs with unless the grid is given otherwise: the test set scored each epoch (logged, for the
# report's model-selection table), no tracker, no per-epoch progress bars under the grid's own. Read before the
# grid's command line, which wins: the data option by the grid's parser, the Trainer's by each dataset's (`grid_cells`).
GRID_DEFAULTS = ("--score_test_each_epoch", "true", "--report_to", "none", "--disable_tqdm", "true")


@dataclass(frozen=True)
class Cell:
    """One run of the grid: its place in the grid (dataset, model, seed, fold, training size per class,
    folder), set once by `grid_cells`, and train.py's dataclasses, parsed once in the grid's process and
    handed to the worker as they are. `argv()` is the same run as train.py options (`pipelines.cli.to_argv`)."""

    dataset: str  # the data's label (`DataArguments.dataset_label`)
    model: str
    seed: int
    fold: int | None  # None without --cv_folds
    train_size: int | None  # per class; None: the whole training split
    output_dir: str
    model_args: GloveModelArguments
    data_args: DataArguments
    training_args: GloveTrainingArguments
    loss_args: DistillationArguments

    def argv(self) -> list[str]:
        return to_argv(self.model_args, self.data_args, self.training_args, self.loss_args)

    def defining_options(self) -> dict[str, str]:
        """{option: value} of what makes this cell's run what it is: every model, data and loss option given, and the
        training ones of `fitting.DEFINING_TRAINING_OPTIONS` (logging and reporting options left out), but the data's
        paths (`PATH_OPTIONS`: the same files given another way are the same data; their content is checked by
        SHA-256). A finished cell's `cell.json` holds them (`check_finished_cell`)."""
        training = option_pairs(to_argv(self.training_args))
        given = option_pairs(to_argv(self.model_args, self.data_args, self.loss_args))
        return {option: value for option, value in given.items() if option not in PATH_OPTIONS} | {
            option: value for option, value in training.items() if option.removeprefix("--") in DEFINING_TRAINING_OPTIONS
        }


PATH_OPTIONS = ("--train_file", "--validation_file", "--test_file", "--data_dir")


def option_pairs(argv: list[str]) -> dict[str, str]:
    """`--name value [value ...]` options as {"--name": "value ..."}."""
    pairs, name = {}, None
    for token in argv:
        if token.startswith("--"):
            name = token
            pairs[name] = ""
        elif name is not None:
            pairs[name] = f"{pairs[name]} {token}".strip()
    return pairs


def check_finished_cell(cell: Cell, record: RunRecord, digests: dict[str, str], prepared: PreparedData) -> None:
    """A finished cell counts for this grid only if it ran this cell, else `OptionError` naming its folder: its
    `cell.json` holds other defining options (say `--max_length 64` where the grid now gives 128); or, a folder
    finished without the grid (a `--dry_run` command, train.py) and so without `cell.json`, its `run_definition.json`
    differs from the one this cell's run would write (`cell_definition`, the data prepared as a worker prepares it, in
    `prepared`; compared as a resumed run compares it, `fitting.definition_differences`), naming the fields, and then
    this cell's options go to its `cell.json`; or it recorded neither file; or a data file it recorded (`data.sha256`)
    has changed since (`digests` caches this grid's files' SHA-256)."""
    folder = Path(cell.output_dir)
    saved = folder / CELL_OPTIONS_FILE
    advice = "give another --runs_dir, or delete the folder to run the cell again"
    if saved.is_file():
        try:
            before = json.loads(saved.read_text(encoding="utf-8"))["options"]
        except (ValueError, KeyError, TypeError):
            raise OptionError(f"{saved}: not a cell record of the grid (unreadable); {advice}") from None
        now = cell.defining_options()
        changed = [f"{key} {before.get(key, '(default)')} -> {now.get(key, '(default)')}"
                   for key in dict.fromkeys([*before, *now]) if before.get(key) != now.get(key)]  # fmt: skip
        if changed:
            raise OptionError(f"{cell.output_dir} holds a finished cell made with other options ({'; '.join(changed[:4])}); {advice}")
    elif (recorded := recorded_definition(folder)) is not None:
        expected = cell_definition(cell, prepared)
        own_run = {key: value for key, value in recorded.get("run", {}).items() if key in expected["run"]}
        changed = definition_differences({**{part: recorded.get(part) for part in expected}, "run": own_run}, expected)
        if changed:
            raise OptionError(f"{cell.output_dir} holds a finished run of another definition than this cell's ({'; '.join(changed)}); {advice}")
        write_json_atomic(saved, {"options": cell.defining_options()})
    else:
        raise OptionError(
            f"{cell.output_dir} holds a finished run that recorded neither {CELL_OPTIONS_FILE} nor {RUN_DEFINITION_FILE}, "
            f"so it may be another run; {advice}"
        )
    recorded_data = (record.get("data") or {}).get("sha256") or {}
    for path, digest in recorded_data.items():
        if Path(path).is_file() and digests.setdefault(path, file_digest(path)) != digest:
            raise OptionError(f"{cell.output_dir} holds a finished cell trained on an earlier version of {path}; {advice}")


def cell_definition(cell: Cell, prepared: PreparedData) -> dict:
    """The run definition (`fitting.run_definition`) this cell's run would write, as `training.train_glove` builds
    it: the model's config, the training options, the SHA-256 of its splits and vocabulary, and of its description
    (`run`) the word vectors (`embeddings`, `embeddings_sha256`) only: the rest of it (model, data set, protocol,
    setting) is in the cell's folder name."""
    data = prepared.of(cell.model_args, cell.data_args, cell.seed)
    best_metric = best_metric_fields(cell.training_args.metric_for_best_model, data.label_names, cell.data_args.dataset_label)
    training_args = replace(cell.training_args, **best_metric)  # your own data's cells resolve it only here, as their runs do
    model = glove_model_of(cell.model_args, data, cell.seed)
    tokenized, _, _ = glove_training_data(cell.loss_args, data, cell.data_args, cell.seed)
    vectors = {"embeddings": data.glove.source, "embeddings_sha256": embeddings_digest(model)}
    return run_definition(model, data.tokenizer, tokenized, training_args, vectors, cell.data_args.early_stopping_patience)


def to_options(values: dict) -> list[str]:
    return [text for key, value in values.items() for text in (f"--{key}", str(value))]


def dataset_cost(name: str) -> int:
    """The larger data set's cells first (they are the long ones): minus its training size; 0 for your own data."""
    return -BENCHMARKS[name].train_size if name in BENCHMARKS else 0


def grid_cells(args: ExperimentArguments, train_options: list[str] = (), data_args: DataArguments | None = None) -> list[Cell]:
    """Every cell, the larger data set's first (`dataset_cost`), the slower models first (`COST_ORDER`).

    Built-in data (`data_args`, default `DataArguments()`) runs every name of `--datasets`; your own data
    (`--train_file`, `--dataset_name`) is the grid's one dataset. For each dataset, train.py's other
    dataclasses are parsed once by train.py's parser from the dataset's budget (`grid_budget`), then
    `train_options`, which win; each cell then gets its model, training size, seed, fold and folder.
    `OptionError` for an option train.py refuses.

    A cell's folder is `<dataset>-<protocol>-<vectors><suffix>/<model>/seed-<s>[/fold-<f>]` (`CellFolder`), the
    suffix its setting's (`Setting.folder_suffix`), which every cell of a dataset and training size shares, so it is
    made once for them: `mr-cv10-trained/...`, `semeval2017a-lab-frozen-weighted/...`, `mr-lab-trained-n64/...` for 64
    training sentences per class, `mr-lab-trained-config-num_layers_6/...` for `--config_overrides num_layers=6`,
    `...-lr0.0003/...` for `--learning_rate 3e-4` (a rate other than the flow's default: `given_learning_rate`)."""
    data_args = data_args or DataArguments()
    builtin = data_args.source == "builtin"
    cells = []
    for dataset in sorted(args.dataset_names if builtin else [data_args.dataset_label], key=dataset_cost):
        dataset_data = replace(data_args, dataset=dataset) if builtin else data_args
        model_args, training_args, loss_args = parse(
            (GloveModelArguments, GloveTrainingArguments, DistillationArguments),
            [*to_options(grid_budget(dataset)), "--model", args.model_names[0], *train_options],
        )
        protocol = f"cv{dataset_data.cv_folds}" if dataset_data.cv_folds else "lab"
        vectors = "trained" if model_args.train_embeddings else "frozen"
        teacher = teacher_name(loss_args.teacher) if loss_args.teacher else None
        learning_rate = given_learning_rate(training_args)
        # The checkpoint rule resolved here, where each cell's arguments are made, so the run does not build them again
        # (`training.train_glove`); your own data's labels are known only once it is read: its runs resolve it themselves.
        best_metric = best_metric_fields(training_args.metric_for_best_model, None, dataset) if builtin else {}
        suffixes = {
            size: Setting.of_arguments(f"{vectors} vectors", loss_args, teacher, model_args.config_overrides, learning_rate, size).folder_suffix
            for size in args.size_list
        }
        for model in sorted(args.model_names, key=lambda name: COST_ORDER.index(name) if name in COST_ORDER else -1):
            for size, seed in ((size, seed) for size in args.size_list for seed in args.seed_list):
                for fold in range(dataset_data.cv_folds) if dataset_data.cv_folds else [None]:
                    cell_data = replace(dataset_data, fold=fold or 0, train_size=size)
                    folder = CellFolder(dataset, model, seed, protocol, vectors, suffixes[size], fold).under(args.runs_dir)
                    cells.append(Cell(
                        dataset, model, seed, fold, size, str(folder), replace(model_args, model=model), cell_data,
                        replace(training_args, seed=seed, output_dir=str(folder), run_name=folder.relative_to(args.runs_dir).as_posix(), **best_metric),
                        loss_args,
                    ))  # fmt: skip
    return cells


def cell_command(cell: Cell) -> str:
    """The cell as a plain `train.py` command line: every option that is not train.py's default."""
    return shlex.join(["python", "train.py", *cell.argv()])


class PreparedData:
    """A worker's prepared data (vocabulary, tokenized splits; `prepare_glove_data`), one per data
    set and word vectors, so its later cells on the same data skip minutes of preparation."""

    def __init__(self):
        self._by_key = {}

    def of(self, model_args: GloveModelArguments, data_args: DataArguments, seed: int) -> PreparedGloveData:
        """The data `prepare_glove_data(model_args, data_args, seed)` gives, prepared on first use. The data depend on
        the seed through the CV folds, a training size's subsample and a test split held out of data that has none
        (`splits.load_train_test`); a fixed lab split (a benchmark's, a `--test_file`) is prepared once for every seed."""
        fixed = json.dumps([asdict(data_args), model_args.embeddings, model_args.max_vocab_size, model_args.max_length])
        seeded = json.dumps([fixed, seed])
        for key in (seeded, fixed):
            if key in self._by_key:
                return self._by_key[key]
        data = prepare_glove_data(model_args, data_args, seed)
        by_seed = data_args.cv_folds or data_args.train_size or data.description.get("test_held_out")
        self._by_key[seeded if by_seed else fixed] = data
        return data


def _init_worker(gpu_count: int, threads: int = 1) -> None:
    import datasets

    datasets.disable_progress_bars()  # one grid progress bar, not one per tokenized split
    quiet_progress_bars()
    torch.set_num_threads(threads)
    if gpu_count:
        worker = multiprocessing.current_process()._identity[0] - 1  # 1-based in a pool
        torch.cuda.set_device(worker % gpu_count)


def run_cell(cell: Cell, prepared: PreparedData) -> tuple[Cell, RunRecord | None, str | None]:
    """Train one cell (in a worker), reusing the data of an earlier cell of this worker with the same data,
    with its output in `<cell>/train.log`, so workers' epoch logs do not bury the grid's progress bar.
    A failure writes its traceback to `<cell>/error.txt` and returns one line."""
    folder = Path(cell.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CELL_ERROR_FILE).unlink(missing_ok=True)
    with open(folder / CELL_LOG_FILE, "a", encoding="utf-8") as log:
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                data = prepared.of(cell.model_args, cell.data_args, cell.seed)
                record = train_glove(cell.model_args, cell.data_args, cell.training_args, prepared=data, loss_args=cell.loss_args)
        except Exception as err:  # one failing cell must not stop the grid; its traceback stays in its folder
            (folder / CELL_ERROR_FILE).write_text(traceback.format_exc(), encoding="utf-8")
            return cell, None, f"{one_line(err)} (traceback: {folder / CELL_ERROR_FILE})"
    write_json_atomic(folder / CELL_OPTIONS_FILE, {"options": cell.defining_options()})
    record.output_dir = cell.output_dir
    return cell, record, None


# A pool worker's own PreparedData, made by its initializer: a process pool keeps state between tasks only in the process.
_pool_worker_data: PreparedData | None = None


def _init_pool_worker(gpu_count: int, grid_pid: int) -> None:
    global _pool_worker_data
    exit_with_grid(grid_pid)
    _init_worker(gpu_count)
    _pool_worker_data = PreparedData()


def exit_with_grid(grid_pid: int, poll_seconds: float = 1.0) -> None:
    """End this pool worker when the grid's process `grid_pid` is gone, from a daemon thread that looks every
    `poll_seconds`. A `ProcessPoolExecutor`'s workers outlive a grid killed by a signal (its `with` block never
    exits) and would go on training cells, into folders a restarted grid trains too. The cell a worker leaves
    keeps its last checkpoint; its folder lock dies with the process."""

    def watch() -> None:
        while os.getppid() == grid_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-grid", daemon=True).start()


def _run_cell_in_pool(cell: Cell) -> tuple[Cell, RunRecord | None, str | None]:
    return run_cell(cell, _pool_worker_data)


def job_threads(cpus_per_task: int) -> int:
    """A submitit job's torch threads: the CPUs Slurm gave it (`SLURM_CPUS_PER_TASK`), else `cpus_per_task`, the
    `--slurm_cpus_per_task` it was submitted with (a local or debug job, which submitit does not confine)."""
    return int(os.environ.get("SLURM_CPUS_PER_TASK") or cpus_per_task)


def _run_cell_in_job(cell: Cell, cpus_per_task: int) -> tuple[Cell, RunRecord | None, str | None]:
    """A submitit job: the pool worker's set-up, with a thread per CPU of the job (`job_threads`), then the pool's cell function."""
    _init_worker(0, job_threads(cpus_per_task))  # the job's GPUs, if any, are the ones Slurm made visible
    return run_cell(cell, PreparedData())


def run_cells(todo: list[Cell], workers: int, engine: EngineArguments, engine_folder: Path, collect) -> None:
    """`collect(cell, record, error)` for every cell of `todo` as it ends: in this process
    (one worker), in the spawned process pool, or as submitit jobs (`pipelines.engines`)."""
    if engine.engine == "submitit":
        calls = [(cell, engine.slurm_cpus_per_task) for cell in todo]
        for (cell, _), outcome, job_error in run_on_submitit(engine, engine_folder, _run_cell_in_job, calls, workers, "sentibench-grid"):
            if job_error:
                collect(cell, None, job_error)
            else:
                collect(*outcome)
    elif workers == 1:
        _init_worker(0)
        prepared = PreparedData()
        for cell in todo:
            collect(*run_cell(cell, prepared))
    else:
        gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        context = multiprocessing.get_context("spawn")  # no forked torch or tokenizer state
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_pool_worker, initargs=(gpu_count, os.getpid())) as pool:
            futures = [pool.submit(_run_cell_in_pool, cell) for cell in todo]
            for future in as_completed(futures):
                collect(*future.result())


def finished_results(output_dir: str) -> RunRecord | None:
    """The record of the cell in `output_dir` when it has finished (`pipelines.runs.record.finished_record`)."""
    record = finished_record(output_dir)
    if record is not None:
        record.output_dir = output_dir
    return record


def table_row(results: RunRecord) -> dict:
    return {
        "dataset": results.dataset,
        "protocol": results.protocol,
        "vectors": results.vectors,
        "model": results.model,
        "train_size_per_class": results.train_size_per_class,
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


def grid_setting(args: ExperimentArguments, cells: list[Cell], workers: int) -> dict:
    """What the summary states of this invocation: seeds, protocol, vectors, checkpoint rule, budgets, machine."""
    first, by_dataset = cells[0], {cell.dataset: cell for cell in cells}
    datasets = sorted({cell.dataset for cell in cells}, key=lambda name: args.dataset_names.index(name) if name in args.dataset_names else -1)
    return {
        "seeds": args.seed_list,
        "cv_folds": first.data_args.cv_folds,
        "train_embeddings": first.model_args.train_embeddings,
        "metric_for_best_model": {name: by_dataset[name].training_args.metric_for_best_model for name in datasets},  # resolved per dataset
        # as the cells ran it: a train.py option given to the grid (--num_train_epochs 1) wins over the dataset's budget
        "dataset_training": {
            name: {key: type(value)(getattr(by_dataset[name].training_args, key)) for key, value in {"num_train_epochs": 0.0, **grid_budget(name)}.items()}
            for name in datasets
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {workers} workers",
    }


def write_tables(
    args: ExperimentArguments, setting: dict, rows: list[dict], command: str, seconds: float, failures: list[str], earlier=([], [])
) -> None:
    """Every finished cell, one row each, after the `earlier_summary` rows; the report
    (`pipelines.report`) aggregates them."""
    earlier_rows, earlier_commands = earlier
    commands = [*[c for c in earlier_commands if c != command], command]
    rows = earlier_rows + rows
    setting = {
        "command": command, "commands": commands, **setting, "wall_seconds": round(seconds, 1), "failures": failures,
        "versions": library_versions(),
    }  # fmt: skip
    order = list(models.GLOVE_MODELS)
    rows = sorted(rows, key=lambda row: (row["dataset"], row.get("protocol") or "", row.get("vectors") or "", order.index(row["model"]) if row["model"] in order else len(order), row.get("train_size_per_class") or float("inf"), row["seed"], row["fold"] or 0))
    write_json_atomic(f"{args.results}.json", {**setting, "rows": rows})
    columns = [column for column in COLUMNS if any(row.get(column[0]) is not None for row in rows)]
    made_by = "\n".join(commands)
    cv_folds = setting["cv_folds"]
    markdown = (
        "# GloVe models: every cell\n\n"
        f"Made by (each invocation adds its cells):\n\n```\n{made_by}\n```\n\n"
        f"Last invocation: seeds {args.seeds}; {'trainable' if setting['train_embeddings'] else 'frozen'} GloVe vectors; "
        f"{'%d-fold cross-validation' % cv_folds if cv_folds else 'lab split'}; {setting['machine']}; "
        f"{setting['wall_seconds']} s wall. Checkpoint restored by validation "
        + "; ".join(f"{'its official metric' if metric == 'official' else metric} ({name})" for name, metric in setting["metric_for_best_model"].items())
        + ". Training budget "
        "(an upper bound: early stopping ends most runs sooner; each cell's epochs are in its row): "
        + "; ".join(f"{name} {budget}" for name, budget in setting["dataset_training"].items())
        + ". Single runs: `python -m pipelines.report` gives means, confidence intervals and paired tests.\n\n"
        + markdown_table(rows, columns)
    )
    Path(f"{args.results}.md").parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.results}.md").write_text(markdown, encoding="utf-8")


def run_experiments(args: ExperimentArguments, cells: list[Cell], command: str, engine: EngineArguments | None = None) -> list[dict]:
    """Run every unfinished cell of `cells` (`grid_cells`) on `engine` (default: the process pool),
    writing the summary as cells end."""
    engine = engine or EngineArguments()
    started = time.perf_counter()
    earlier = earlier_summary(args, {cell.output_dir for cell in cells})
    rows, todo, digests, prepared = [], [], {}, PreparedData()
    for cell in cells:
        done = finished_results(cell.output_dir)
        if done:
            check_finished_cell(cell, done, digests, prepared)
            rows.append(table_row(done))
        else:
            todo.append(cell)
    workers = min(args.workers or default_workers(), max(len(todo), 1))
    setting = grid_setting(args, cells, workers)
    where = f"{workers} workers" if engine.engine == "pool" else f"submitit ({engine.engine_cluster or 'auto'})"
    print(f"{len(cells)} cells: {len(rows)} finished before, {len(todo)} to run on {where}", flush=True)
    failures = []
    progress = tqdm(total=len(cells), initial=len(rows), unit="cell", desc="grid", dynamic_ncols=True)

    def collect(cell, record, error):
        if error:
            failures.append(f"{cell.output_dir}: {error}")
            tqdm.write(f"error: {cell.output_dir}: {error}", file=sys.stderr)
        else:
            rows.append(table_row(record))
            tqdm.write(f"{cell.output_dir}: {format_metrics(record.test)}")
        progress.update()
        write_tables(args, setting, rows, command, time.perf_counter() - started, failures, earlier)

    run_cells(todo, workers, engine, Path(engine.engine_folder or Path(args.runs_dir) / "submitit"), collect)
    progress.close()
    write_tables(args, setting, rows, command, time.perf_counter() - started, failures, earlier)
    print(f"{len(rows)} of {len(cells)} cells finished in {time.perf_counter() - started:.0f} s; wrote {args.results}.md")
    if failures:
        raise CellsFailed(f"{len(failures)} of {len(cells)} cells failed (listed above and in {args.results}.json)")
    return rows


def main(argv: list[str]) -> None:
    taken = [option for option in argv if option.split("=")[0] in CELL_OPTIONS]
    if taken:
        raise OptionError(
            f"{taken[0].split('=')[0]} is set per cell by the grid; use --models, --datasets, --seeds, --cv_folds, --train_sizes or --runs_dir"
        )
    args, engine, data_args, train_options = parse(
        (ExperimentArguments, EngineArguments, DataArguments), [*GRID_DEFAULTS, *argv], return_remaining=True
    )
    cells = grid_cells(args, train_options, data_args)
    check_teacher(cells[0].loss_args)  # once here, not in every cell
    if args.train_sizes is not None:  # a size no class can give, refused before any cell runs
        for data_args in {cell.dataset: cell.data_args for cell in cells}.values():
            check_sizes(replace(data_args, train_size=None), args.size_list, args.seed_list[0])
    if args.dry_run:
        for cell in cells:
            print(cell_command(cell))
        return
    # Every folder the grid writes, checked before any cell runs (`PathError`: one line, not a worker's traceback).
    for folder in (args.runs_dir, Path(args.results).parent, *([engine.engine_folder or Path(args.runs_dir) / "submitit"] if engine.engine == "submitit" else [])):
        check_writable_dir(Path(folder))
    environment = [f"{name}={os.environ[name]}" for name in ("HF_HUB_OFFLINE", "OMP_NUM_THREADS") if name in os.environ]
    run_experiments(args, cells, command=shlex.join([*environment, "python", "-m", "pipelines.experiments", *argv]), engine=engine)


if __name__ == "__main__":
    sys.exit(run_cli(main))
