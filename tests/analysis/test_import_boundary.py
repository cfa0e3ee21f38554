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
