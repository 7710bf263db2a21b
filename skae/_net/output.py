"""Where training progress goes: stderr, stdout, or nowhere if they cannot be written.

A process without a console (pythonw, some services) has ``sys.stderr`` set
to None; a daemon's may be closed. Progress is a convenience: when its
stream is missing or closed it is dropped rather than failing the fit.
Colour codes go to terminals only, so that logs stay plain text.
"""

import re
import sys

from tqdm import tqdm

_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def usable_stream(name):
    """``sys.<name>`` (``"stderr"``, ``"stdout"``), or None if it cannot be written."""
    stream = getattr(sys, name, None)
    try:
        if stream is None or stream.closed:
            return None
    except AttributeError:  # a file-like object without ``closed``
        pass
    return stream if callable(getattr(stream, "write", None)) else None


def is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class LineSink:
    """Prints a line of progress on ``sys.<name>``, looked up at each call.

    ``beside_bar``: through tqdm, above a progress bar drawn there. A class
    rather than a closure, so that the callbacks holding it pickle.
    """

    def __init__(self, name, beside_bar=False):
        self.name = name
        self.beside_bar = beside_bar

    def __call__(self, text):
        stream = usable_stream(self.name)
        if stream is None:
            return
        if not is_terminal(stream):
            text = _COLOUR.sub("", str(text))
        if self.beside_bar:
            tqdm.write(text, file=stream)
        else:
            print(text, file=stream)
