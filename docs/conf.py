"""Sphinx configuration for skae's documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``:
it runs every ``examples/plot_*.py`` and treats warnings as errors.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import skae  # noqa: E402

project = "skae"
author = "skae developers"
copyright = "skae developers"
version = release = skae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
default_role = "literal"

# -- autodoc / autosummary / numpydoc ---------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
# numpydoc lists the members itself from the class template; letting it add
# its own autosummary tables as well duplicates every method.
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
# The docs build offline, so cross-references to numpy, scikit-learn and torch
# stay plain text rather than needing intersphinx inventories from the web.
numpydoc_xref_param_type = False

# -- HTML -------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": []}

# -- sphinx-gallery ---------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Only plot_*.py scripts belong to the gallery. The other scripts in
    # examples/ (quickstart.py, the README's example, and friends) are run on
    # their own and are neither rendered nor executed here.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_).*\.py$",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skae",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skae": None},
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "default_thumb_file": None,
}
