"""`python -m pipelines.report RUNS_DIR [--output DIR]`: the results report of run folders or records."""

import sys

from pipelines.cli import run_cli
from pipelines.report.cli import main

sys.exit(run_cli(main))
