"""README's Results tables, copied from the committed report so they cannot drift from it.

    python -m scripts.readme_results      # after scripts/build_report.sh and scripts/build_pareto.sh

For each benchmark, README's scores table becomes the report's "Scores" table, and its study-questions
table the report's "Study questions" table without the A/B score and raw-p columns (the report keeps
them). `tests/test_readme.py` checks that README equals what this script would write.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# README's heading line of each benchmark's results, and the report's section
SECTIONS = {"mr": "**MR** (accuracy", "semeval2017a": "**SemEval-2017 4A** (macro recall"}
QUESTION_COLUMNS = [
    "question", "protocol", "A", "runs A/B", "Δ", "CI (Holm level)", "Holm p", "MDE (Holm level)", "ASO ε(A>B) / ε(B>A)", "verdict (Holm p < 0.05)"
]  # fmt: skip


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_after(text: str, marker: str) -> list[str]:
    """The lines of the first markdown table after `marker` in `text`."""
    rows: list[str] = []
    for line in text[text.index(marker):].split("\n"):
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return rows


def report_section(report: str, dataset: str) -> str:
    start = report.index(f"## {dataset}\n")
    end = report.find("\n## ", start + 5)
    return report[start : end if end > 0 else len(report)]


def questions_table(rows: list[str]) -> list[str]:
    """The study-questions table with README's columns: the Δ of the official metric and its CI, no A/B scores or raw p."""
    header = cells(rows[0])
    delta = next(name for name in header if name.startswith("Δ "))
    keep = [delta if name == "Δ" else name for name in QUESTION_COLUMNS]
    positions = [header.index(name) for name in keep]
    return ["| " + " | ".join(keep) + " |", "|" + "---|" * len(keep)] + [
        "| " + " | ".join(cells(line)[i] for i in positions) + " |" for line in rows[2:]
    ]


def replace_table(readme: str, after: int, header_start: str, table: list[str]) -> str:
    start = readme.index(f"\n{header_start}", after) + 1
    end = readme.index("\n\n", start)
    return readme[:start] + "\n".join(table) + readme[end:]


def updated_readme(readme: str, report: str) -> str:
    """`readme` with each benchmark's two Results tables taken from `report` (report.md's text).

    Raises `ValueError` when a heading or table is missing from either."""
    for dataset, heading in SECTIONS.items():
        section = report_section(report, dataset)
        at = readme.index(heading)
        readme = replace_table(readme, at, "| model | setting", table_after(section, "### Scores"))
        readme = replace_table(readme, at, "| question |", questions_table(table_after(section, "### Study questions")))
    return readme


def main() -> None:
    readme_path = REPO_ROOT / "README.md"
    report = (REPO_ROOT / "results" / "report" / "report.md").read_text(encoding="utf-8")
    readme_path.write_text(updated_readme(readme_path.read_text(encoding="utf-8"), report), encoding="utf-8")
    print(f"wrote {readme_path}'s Results tables from results/report/report.md")


if __name__ == "__main__":
    sys.exit(main())
