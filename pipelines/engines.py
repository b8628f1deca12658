"""Running the grid's cells through submitit, an existing job engine (`--engine submitit`).

Why submitit and not Ray: the grid's cells are independent, minutes-long jobs with no shared
state, which is exactly a batch job array. submitit (Meta's) submits a Python function as a Slurm
job (a job array for a batch of calls) when the machine has Slurm, and as local processes
otherwise, with the same code; it needs no server, no cluster to set up beforehand and no open
port, only a folder every node sees, and it pickles the function's result back. Ray would need a
cluster started first (`ray start` on every node) and adds an object store we do not use; on the
HPC clusters where a study like ours runs, Slurm is what is there.

The engine runs the very cell function the embedded pool runs (`pipelines.experiments`), so a
cell's record is the same whichever engine trained it (tested). What submitit does not do, the
pool does: `local` starts every job at once (no `--workers` cap) and `debug` runs them one after
another in this process; on Slurm, `--workers` caps the array's running jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from pipelines.arguments import EngineArguments
from pipelines.errors import one_line

# Seconds between two looks at the jobs' states (submitit reads Slurm's `sacct` or the local processes).
POLL_SECONDS = 2.0


def submitit_executor(engine: EngineArguments, folder: Path, parallelism: int | None, name: str):
    """A `submitit.AutoExecutor` writing `<job id>_*` files (pickles, logs) to `folder`: Slurm, local processes or in-process (`debug`)."""
    import submitit

    executor = submitit.AutoExecutor(folder=folder, cluster=engine.engine_cluster)
    parameters = {
        "name": name,
        "timeout_min": engine.slurm_time_minutes,
        "cpus_per_task": engine.slurm_cpus_per_task,
        "gpus_per_node": engine.slurm_gpus_per_node,
        "slurm_array_parallelism": parallelism,
        "slurm_partition": engine.slurm_partition,
    }
    executor.update_parameters(**{key: value for key, value in parameters.items() if value is not None})
    return executor


def run_on_submitit(
    engine: EngineArguments, folder: Path, function: Callable, calls: list[tuple], parallelism: int | None, name: str
) -> Iterator[tuple[tuple, object, str | None]]:
    """Submit `function(*call)` for every call as one batch (a Slurm array) and yield
    `(call, result, None)` as each job ends, or `(call, None, why)` when the job itself failed
    (killed, out of time, not started); the job's log is `folder/<job id>_0_log.err`."""
    import submitit

    if not calls:
        return
    executor = submitit_executor(engine, folder, parallelism, name)
    with executor.batch():
        jobs = [executor.submit(function, *call) for call in calls]
    by_job = {id(job): call for job, call in zip(jobs, calls)}
    for job in submitit.helpers.as_completed(jobs, poll_frequency=POLL_SECONDS):
        try:
            yield by_job[id(job)], job.result(), None
        except Exception as err:  # a job the engine lost (timeout, node failure): its call fails, the others go on
            yield by_job[id(job)], None, f"{one_line(err)} (job log: {job.paths.stderr})"
