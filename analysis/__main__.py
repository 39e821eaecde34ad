"""``python -m analysis``: population targets, weights, estimates and representativeness from files.

See :mod:`analysis.cli` for the subcommands and the README's analysis section
for the file formats and a worked example.
"""

from __future__ import annotations

import sys

from analysis.cli import main

if __name__ == "__main__":
    sys.exit(main())
