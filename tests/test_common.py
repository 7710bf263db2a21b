"""scikit-learn's estimator checks, run on every public estimator."""

import pytest
from estimator_settings import ESTIMATORS
from sklearn.utils.estimator_checks import parametrize_with_checks

# Checks that cannot pass, with the reason. Empty while every check passes.
EXPECTED_FAILED_CHECKS = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


# The checks feed ConvAutoEncoder tables of 1 to 10 features, which it reads
# as 1 x n images and says so; tests/test_convolutional.py asserts the warning.
@pytest.mark.filterwarnings("ignore:image_shape='auto' expects square:UserWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
