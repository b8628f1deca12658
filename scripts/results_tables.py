"""The tables of docs/results.md, copied from the committed report so they cannot drift from it.

    python -m scripts.results_tables      # after scripts/build_report.sh and scripts/build_pareto.sh

For each benchmark, docs/results.md's top table becomes the report's "The top of the study" table, its scores table becomes the report's "Scores" table, and its
study-questions table the report's "Study questions" table without the A/B score and raw-p columns
(the report keeps them). `tests/test_readme.py` checks that docs/results.md equals what this script
would write.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# docs/results.md's heading line of each benchmark's results, and the report's section
SECTIONS = {"mr": "**MR** (accuracy", "semeval2017a": "**SemEval-2017 4A** (macro recall"}
# docs/results.md's heading line of each benchmark's top table, and the report's subsection of "## The top of the study"
TOP_SECTIONS = {"mr": ("**MR, the top of the study**", "### mr (accuracy)"),
                "semeval2017a": ("**SemEval-2017 4A, the top of the study**", "### semeval2017a (macro recall)")}
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
    """The study-questions table with docs/results.md's columns: the Δ of the official metric and its CI, no A/B scores or raw p."""
    header = cells(rows[0])
    delta = next(name for name in header if name.startswith("Δ "))
    keep = [delta if name == "Δ" else name for name in QUESTION_COLUMNS]
    positions = [header.index(name) for name in keep]
    return ["| " + " | ".join(keep) + " |", "|" + "---|" * len(keep)] + [
        "| " + " | ".join(cells(line)[i] for i in positions) + " |" for line in rows[2:]
    ]


def replace_table(text: str, after: int, header_start: str, table: list[str]) -> str:
    start = text.index(f"\n{header_start}", after) + 1
    end = text.index("\n\n", start)
    return text[:start] + "\n".join(table) + text[end:]


def updated_results(results: str, report: str) -> str:
    """`results` (docs/results.md's text) with each benchmark's two tables taken from `report` (report.md's text).

    Raises `ValueError` when a heading or table is missing from either."""
    for dataset, heading in SECTIONS.items():
        section = report_section(report, dataset)
        at = results.index(heading)
        results = replace_table(results, at, "| model | setting", table_after(section, "### Scores"))
        results = replace_table(results, at, "| question |", questions_table(table_after(section, "### Study questions")))
    top = report_section(report, "The top of the study")
    for dataset, (heading, subsection) in TOP_SECTIONS.items():
        results = replace_table(results, results.index(heading), "| role |", table_after(top, subsection))
    return results


def main() -> None:
    results_path = REPO_ROOT / "docs" / "results.md"
    report = (REPO_ROOT / "results" / "report" / "report.md").read_text(encoding="utf-8")
    results_path.write_text(updated_results(results_path.read_text(encoding="utf-8"), report), encoding="utf-8")
    print(f"wrote {results_path}'s tables from results/report/report.md")


if __name__ == "__main__":
    sys.exit(main())
