from pathlib import Path

import pytest
from estimator_settings import ESTIMATOR_CLASSES

import skae


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_html_repr_links_to_the_api_page(cls):
    # The page sphinx's autosummary writes for the class (docs/api.rst).
    page = f"gen_modules/skae.{cls.__name__}.html"
    assert cls()._get_doc_link().endswith(page)
    assert page in cls()._repr_html_()


@pytest.mark.parametrize(
    "version, root",
    [
        ("0.3.1", "https://skae.readthedocs.io/en/0.3.1/"),
        ("0.4.0.dev0", "https://skae.readthedocs.io/en/latest/"),
        ("0.3.1+g1a2b3c", "https://skae.readthedocs.io/en/latest/"),
    ],
)
def test_html_repr_links_to_the_installed_versions_docs(version, root, monkeypatch):
    # Before: always .../en/latest/, whatever the version installed.
    monkeypatch.setattr(skae, "__version__", version)
    link = skae.AutoEncoder()._get_doc_link()
    assert link == root + "gen_modules/skae.AutoEncoder.html"


def test_read_the_docs_builds_the_sphinx_docs():
    # The links above resolve only if Read the Docs builds docs/.
    config = (Path(__file__).parents[1] / ".readthedocs.yaml").read_text()
    assert "configuration: docs/conf.py" in config
    assert "- docs" in config
