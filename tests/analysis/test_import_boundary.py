"""analysis and instruments must import without the web stack (architecture: instruments <- analysis)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_analysis_and_instruments_loads_no_web_modules() -> None:
    code = (
        "import json, sys; import analysis, instruments; "
        "import analysis.tables, analysis.cli, analysis.intervals, analysis.verdicts; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    forbidden = {"flask", "sqlalchemy", "wtforms", "survey"}
    assert "analysis.tables" in loaded
    assert not [name for name in loaded if name.split(".")[0] in forbidden]


def test_the_indices_command_starts_without_scipy_stats_or_optimize() -> None:
    # scipy.stats and scipy.optimize cost about half a second per run of `python -m analysis indices`;
    # only the league command (Fay-Herriot, shrinkage) and rare fpc bounds need them, imported there.
    code = ("import json, sys; import analysis.cli, analysis.tables; "
            "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(result.stdout))
    assert "analysis.tables" in loaded
    assert not {"scipy.stats", "scipy.optimize"} & loaded
