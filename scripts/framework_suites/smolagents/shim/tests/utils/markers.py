"""Skip markers that the smolagents 1.26.0 sdist's tests import but that its sdist leaves out (our shim)."""

import os
from importlib.util import find_spec

import pytest

# Tests that call hosted models or download weights run only when RUN_ALL is set; never here.
require_run_all = pytest.mark.skipif(not os.environ.get("RUN_ALL"), reason="needs RUN_ALL (network)")
require_torch = pytest.mark.skipif(find_spec("torch") is None, reason="needs torch")
require_soundfile = pytest.mark.skipif(find_spec("soundfile") is None, reason="needs soundfile")
