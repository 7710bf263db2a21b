import pytest
from estimator_settings import ESTIMATOR_CLASSES


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_html_repr_links_to_the_api_page(cls):
    # The page sphinx's autosummary writes for the class (docs/api.rst).
    page = f"gen_modules/skae.{cls.__name__}.html"
    assert cls()._get_doc_link().endswith(page)
    assert page in cls()._repr_html_()
