"""Plain-text formatting shared by the flows: Markdown tables and one-line metric summaries."""

from __future__ import annotations


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """`columns` are (key, header); floats print with 4 decimals."""

    def cell(value):
        if isinstance(value, float):
            return f"{value:.4f}"
        return "" if value is None else str(value)

    lines = [
        "| " + " | ".join(header for _, header in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:.4f}" for key, value in metrics.items())
