"""``python -m analysis``: see `analysis.cli`."""

import os

# Set before numpy loads OpenBLAS: the command's matrix products are small (2K x 2K per unit), and
# OpenBLAS threads only spin on them (1M rows on a loaded 2-core machine: 6.0 -> 4.4 s CPU, 11.0 ->
# 5.7 s wall). An explicit setting by the user wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from analysis.cli import main

raise SystemExit(main())
