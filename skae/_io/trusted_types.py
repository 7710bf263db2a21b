"""``skae.skops_trusted_types``: the names skops and mlflow ask to trust."""


def skops_trusted_types():
    """The types of skae's estimators, named as skops names them.

    skops loads only the types it trusts; for a file holding skae estimators
    it asks about their classes, by their module path
    (``skae._autoencoder.AutoEncoder``). Pass this list as ``trusted`` to
    ``skops.io.load``, or as ``skops_trusted_types`` to mlflow, which saves
    scikit-learn models with skops. The state skops then rebuilds is only
    plain values and numpy arrays, the content of a :func:`skae.save` file.

    Returns
    -------
    types : list of str
        The full names of skae's public estimator classes, sorted. A
        ``torch.device`` given as ``device`` (rather than a string) is
        asked about too, and is not listed here; nor are the other steps
        of a pipeline: review ``skops.io.get_untrusted_types`` for those.

    See Also
    --------
    skae.save : Save an estimator without pickle or skops.

    Examples
    --------
    >>> import skae
    >>> skae.skops_trusted_types()[:2]
    ['skae._autoencoder.AutoEncoder', 'skae._convolutional.ConvAutoEncoder']
    """
    import skae

    return sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in map(skae.__dict__.get, skae.__all__)
        if isinstance(cls, type)
    )
