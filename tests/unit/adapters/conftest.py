"""Put the repository root first on sys.path for the adapter tests.

The editable install in .venv was made while `mappings/` had no __init__.py, so outside the
repository root it resolves as a namespace package and `from mappings import ...` fails.
Reinstalling (`pip install -e .`) fixes it for good; this keeps the tests independent of that.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path[:1]:
    sys.path.insert(0, ROOT)
module = sys.modules.get("mappings")
if module is not None and getattr(module, "__file__", None) is None:
    del sys.modules["mappings"]
