"""Session set-up shared by tests/ and the doctests in skae/."""

import os

# scikit-learn's check_array_api_input skips itself unless SciPy's array API
# support is switched on before SciPy is first imported; switch it on here so
# that the check runs instead of being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
