"""Warnings attributed to the user's line of code rather than to library internals."""

import sys
import warnings

# Frames of these packages are skipped: a warning raised deep inside fit is
# reported at the user's call to fit, fit_transform, partial_fit, a
# Pipeline's or a search's fit, whichever it came through.
_LIBRARIES = frozenset({"skae", "sklearn", "skorch", "joblib"})


def _in_library(frame):
    module = frame.f_globals.get("__name__", "")
    return module.partition(".")[0] in _LIBRARIES


def warn(message, category=UserWarning):
    """``warnings.warn`` pointing at the first caller outside skae and its libraries.

    A fixed ``stacklevel`` is right for one call path only, since the same
    warning is reached through different depths (``fit`` through
    scikit-learn's ``_fit_context``, ``fit_transform``, ``partial_fit``).
    Frames are told apart by module name rather than file path, which holds
    for zipped, frozen or source-less installs too. Python 3.12's
    ``skip_file_prefixes`` would do this by path, but skae supports 3.10.
    """
    frame = sys._getframe(1)
    stacklevel = 2
    while frame is not None and _in_library(frame):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, category, stacklevel=stacklevel)
