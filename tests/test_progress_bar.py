import io
import os
import pickle
import struct
import sys
from contextlib import contextmanager

import numpy as np
import pytest

from skae import AutoEncoder

needs_pty = pytest.mark.skipif(
    not hasattr(os, "openpty"), reason="needs a pseudo-terminal"
)


def fit(verbose, **params):
    X = np.random.default_rng(0).random((40, 4), dtype=np.float32)
    return AutoEncoder(max_iter=3, verbose=verbose, random_state=0, **params).fit(X)


def read_all(fd):
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


@contextmanager
def terminal_stderr(size=(24, 100)):
    """Point sys.stderr at a pseudo-terminal of ``size`` (rows, columns).

    Yields a list that gets what was written to the terminal at the end.

    Set in the test itself: pytest puts its own capture back on sys.stderr
    between a fixture's setup and the test.
    """
    import fcntl
    import termios

    controller, terminal_fd = os.openpty()
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    os.set_blocking(controller, False)
    drawn = []
    with open(terminal_fd, "w", buffering=1) as stream:
        saved, sys.stderr = sys.stderr, stream
        try:
            yield drawn
        finally:
            sys.stderr = saved
        stream.flush()
        drawn.append(read_all(controller))
    os.close(controller)


@pytest.fixture(autouse=True)
def no_forced_bar(monkeypatch):
    monkeypatch.delenv("SKAE_PROGRESS_BAR", raising=False)


@needs_pty
def test_verbose_1_draws_a_bar_with_the_losses_in_a_terminal(capsys):
    with terminal_stderr() as output:
        fit(verbose=1, early_stopping=True, validation_fraction=0.25)
    (drawn,) = output
    assert "3/3" in drawn
    assert "train_loss=" in drawn and "valid_loss=" in drawn
    # The per-epoch table (a train_loss column) is verbose=2's.
    assert "train_loss" not in capsys.readouterr().out


@needs_pty
def test_bar_shows_in_a_terminal_that_reports_no_size():
    with terminal_stderr(size=(0, 0)) as output:
        fit(verbose=1)
    assert "3/3" in output[0]


@needs_pty
@pytest.mark.parametrize("verbose", [0, 2])
def test_no_bar_unless_verbose_is_1(verbose, capsys):
    with terminal_stderr() as output:
        fit(verbose=verbose)
    assert "3/3" not in output[0]
    table = capsys.readouterr().out
    assert ("train_loss" in table) == (verbose == 2)


@needs_pty
def test_bar_can_be_turned_off_in_a_terminal(monkeypatch):
    monkeypatch.setenv("SKAE_PROGRESS_BAR", "0")
    with terminal_stderr() as output:
        fit(verbose=1)
    assert "3/3" not in output[0]


@pytest.mark.parametrize("forced, drawn", [(None, False), ("1", True)])
def test_bar_is_silent_off_a_terminal_unless_asked_for(
    forced, drawn, monkeypatch, capsys
):
    # Under pytest's capture, stderr is not a terminal (as in CI or a
    # joblib worker).
    if forced is not None:
        monkeypatch.setenv("SKAE_PROGRESS_BAR", forced)
    fit(verbose=1)
    captured = capsys.readouterr()
    assert ("3/3" in captured.err) == drawn
    assert captured.out == ""


def test_model_fitted_with_a_bar_pickles():
    ae = fit(verbose=1)
    assert pickle.loads(pickle.dumps(ae)).n_iter_ == ae.n_iter_


def closed_stream():
    stream = io.StringIO()
    stream.close()
    return stream


@pytest.mark.parametrize("forced", [None, "1"])
@pytest.mark.parametrize("verbose, name", [(1, "stderr"), (2, "stdout")])
@pytest.mark.parametrize("stream", [None, "closed"], ids=["none", "closed"])
def test_missing_or_closed_stream_silences_progress(
    stream, verbose, name, forced, monkeypatch
):
    # pythonw and some services run with sys.stderr None; before, tqdm's
    # AttributeError (or a closed file's ValueError) failed the fit.
    if forced is not None:
        monkeypatch.setenv("SKAE_PROGRESS_BAR", forced)
    monkeypatch.setattr(sys, name, closed_stream() if stream else None)
    ae = fit(verbose, early_stopping=True, validation_fraction=0.25)
    assert ae.n_iter_ > 0


def test_table_has_no_colour_codes_off_a_terminal(capsys):
    # skorch's PrintLog colours the best losses; a log file gets plain text.
    fit(verbose=2, early_stopping=True, validation_fraction=0.25)
    table = capsys.readouterr().out
    assert "train_loss" in table
    assert "\x1b[" not in table


@needs_pty
def test_table_keeps_its_colours_in_a_terminal():
    controller, terminal_fd = os.openpty()
    os.set_blocking(controller, False)
    with open(terminal_fd, "w", buffering=1) as stream:
        saved, sys.stdout = sys.stdout, stream
        try:
            fit(verbose=2)
        finally:
            sys.stdout = saved
        stream.flush()
        drawn = read_all(controller)
    os.close(controller)
    assert "\x1b[" in drawn
