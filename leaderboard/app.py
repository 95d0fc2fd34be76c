"""The Space entry point: serve the valuebench leaderboard over this folder (``about.md``, ``data/``, ``pending/``).

The app itself is ``valuebench.leaderboard.app``. Run ``python leaderboard/app.py`` (honours
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, VALUEBENCH_LEADERBOARD_DATA, VALUEBENCH_PENDING_DIR).
"""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("valuebench") is None:  # a checkout without `pip install -e .`: the package is next door
    sys.path.insert(0, str(HERE.parent))

from valuebench.leaderboard.app import main  # noqa: E402

if __name__ == "__main__":
    main(HERE)
