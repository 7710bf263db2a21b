"""Saving and loading: ``skae.save`` / ``skae.load`` (``save_load.py``), on top
of the file format (``format/``), which the base uses for pickling too.
"""
