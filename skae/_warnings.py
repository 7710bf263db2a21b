"""Warnings attributed to the user's line of code rather than to library internals."""

import os
import sys
import warnings

import joblib
import sklearn
import skorch

# Frames in these folders are skipped: a warning raised deep inside fit is
# reported at the user's call to fit, fit_transform, partial_fit, a
# Pipeline's or a search's fit, whichever it came through.
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (__file__, sklearn.__file__, skorch.__file__, joblib.__file__)
)


def warn(message, category=UserWarning):
    """``warnings.warn`` pointing at the first caller outside skae and its libraries.

    A fixed ``stacklevel`` is right for one call path only, since the same
    warning is reached through different depths (``fit`` through
    scikit-learn's ``_fit_context``, ``fit_transform``, ``partial_fit``).
    Python 3.12's ``skip_file_prefixes`` does this, but skae supports 3.10.
    """
    frame = sys._getframe(1)
    stacklevel = 2
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, category, stacklevel=stacklevel)
