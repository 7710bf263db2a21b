"""What every estimator shares: :class:`~skae._base.base.BaseAutoEncoder`
(validation, fit / partial_fit, transform / inverse_transform / score), the
training path, warm starts, fit transactions, input checks, batched inference,
and the mixins several estimators use (dense layers, input noise, sampling).

Nothing here imports an estimator module.
"""
