"""Warnings point at the caller's line, whichever path reached them."""

import inspect

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoEncoder, ConvAutoEncoder
from skae._utils.warnings import warn


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(40, 5))


def short_run():
    return AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_iter=2)


@pytest.mark.parametrize(
    "call",
    [
        lambda X: short_run().fit(X),
        lambda X: short_run().fit_transform(X),
        lambda X: make_pipeline(StandardScaler(), short_run()).fit(X),
    ],
    ids=["fit", "fit_transform", "pipeline"],
)
def test_convergence_warning_points_at_the_callers_line(call, X):
    with pytest.warns(ConvergenceWarning, match="reached max_iter=2") as record:
        call(X)
    assert [w.filename for w in record] == [__file__]


def test_image_shape_warning_points_at_the_callers_line(X):
    cae = ConvAutoEncoder(channels=(2,), max_iter=1)
    with pytest.warns(UserWarning, match="image_shape='auto'") as record:
        cae.partial_fit(X)
    assert record[0].filename == __file__


def test_warn_from_outside_the_library_uses_the_direct_caller():
    with pytest.warns(UserWarning, match="plain") as record:
        line = inspect.currentframe().f_lineno + 1
        warn("plain")
    assert (record[0].filename, record[0].lineno) == (__file__, line)


def test_warning_from_a_grid_search_points_at_the_search(X):
    search = GridSearchCV(short_run(), {"n_components": [1, 2]}, cv=2)
    with pytest.warns(ConvergenceWarning) as record:
        line = inspect.currentframe().f_lineno + 1
        search.fit(X)
    assert {(w.filename, w.lineno) for w in record} == {(__file__, line)}


def test_convergence_warning_names_the_estimators_parameters(X):
    # A search's candidates, or fits in joblib workers, all warn from the
    # same line: the message itself must tell them apart.
    with pytest.warns(ConvergenceWarning) as record:
        short_run().set_params(n_components=1).fit(X)
    assert str(record[0].message).startswith(
        "AutoEncoder(hidden_layer_sizes=(4,), max_iter=2, n_components=1) reached"
    )
