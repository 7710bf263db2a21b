"""Plain torch: the modules the estimators train and the loss terms.

No scikit-learn, no skorch: these run wherever torch does.
"""
