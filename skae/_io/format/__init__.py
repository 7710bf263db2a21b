"""The stored form of a fitted estimator, for files and pickles: the JSON
encoding, the net's state, the header checks and the upgrades of older
versions. Knows nets and arrays, not estimators.
"""
