"""Fixtures shared by several test files.

Helpers that tests call directly (``make``, the per-class settings, the
estimator list for scikit-learn's checks) are in ``estimator_settings.py``:
pytest advises against importing from a conftest.
"""

import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler


@pytest.fixture(scope="module")
def digits():
    """The first 500 digits, scaled to [0, 1]."""
    return MinMaxScaler().fit_transform(load_digits().data)[:500]


@pytest.fixture
def rates_seen(monkeypatch):
    """The learning rate of each epoch a LinearDecay ends."""
    from skae._net import LinearDecay

    seen = []
    on_epoch_end = LinearDecay.on_epoch_end

    def record(self, net, **kwargs):
        seen.append(net.optimizer_.param_groups[0]["lr"])
        on_epoch_end(self, net, **kwargs)

    monkeypatch.setattr(LinearDecay, "on_epoch_end", record)
    return seen
