"""Docstring sharing between an estimator and the variants built on it.

A variant such as :class:`~skae.DenoisingAutoEncoder` takes all of
:class:`~skae.AutoEncoder`'s parameters and has all of its attributes. Rather
than copying some eighty lines of documentation (which would then drift), its
docstring holds a placeholder line ``{inherit Parameters}`` or
``{inherit Attributes}`` that :func:`inherit_docs` fills with the entries of
the parent's section that the variant does not document itself.
"""

import inspect
import re

_HEADER = re.compile(r"^(\S[^\n]*)\n-+\n", re.MULTILINE)
_ENTRY = re.compile(r"^(\w+)(?: :|$)")


def _sections(doc):
    """Map a numpydoc docstring's section titles to their bodies."""
    doc = inspect.cleandoc(doc)
    headers = list(_HEADER.finditer(doc))
    ends = [h.start() for h in headers[1:]] + [len(doc)]
    return {
        h.group(1): doc[h.end() : end] for h, end in zip(headers, ends, strict=True)
    }


def _entries(body):
    """Split a Parameters-like section body into ``{name: text}``, in order."""
    entries = {}
    name = None
    for line in body.rstrip().splitlines(keepends=True):
        match = _ENTRY.match(line)
        if match:
            name = match.group(1)
            entries[name] = ""
        if name is not None:
            entries[name] += line
    return entries


def inherit_docs(parent, exclude=()):
    """Class decorator filling ``{inherit <Section>}`` lines from ``parent``.

    Each placeholder becomes the parent's entries of that section, minus the
    entries the decorated class documents itself in the same section and
    those named in ``exclude``.

    Parameters
    ----------
    parent : type
        The class whose numpydoc sections are inherited.
    exclude : iterable of str, default=()
        Names of the parent's entries that do not apply to the class (a
        parameter it does not take).

    Returns
    -------
    decorator : callable

    Examples
    --------
    >>> from skae._utils.docs import inherit_docs
    >>> class Parent:
    ...     '''Parent.
    ...
    ...     Parameters
    ...     ----------
    ...     a : int
    ...         First.
    ...     b : int
    ...         Second.
    ...     '''
    >>> @inherit_docs(Parent)
    ... class Child(Parent):
    ...     '''Child.
    ...
    ...     Parameters
    ...     ----------
    ...     b : float
    ...         Redefined.
    ...     {inherit Parameters}
    ...     '''
    >>> print(Child.__doc__)
    Child.
    <BLANKLINE>
    Parameters
    ----------
    b : float
        Redefined.
    a : int
        First.
    """
    parent_sections = _sections(parent.__doc__)

    def decorate(cls):
        doc = inspect.cleandoc(cls.__doc__)
        own_sections = _sections(doc)
        for title, own in own_sections.items():
            placeholder = f"{{inherit {title}}}"
            if placeholder not in own:
                continue
            own_names = {*_entries(own.replace(placeholder, "")), *exclude}
            inherited = _entries(parent_sections[title])
            text = "".join(
                body for name, body in inherited.items() if name not in own_names
            )
            doc = doc.replace(placeholder, text.rstrip("\n"))
        cls.__doc__ = doc
        return cls

    return decorate


def docs_root(version):
    """The root of skae ``version``'s documentation on Read the Docs.

    As scikit-learn's HTML repr links to the docs of the installed version, a
    release links to its own (Read the Docs builds one per release tag,
    named as the version: see ``.readthedocs.yaml``); a development or
    local build (``0.2.0.dev0``, ``0.1.0+g1234``) to ``latest``, built from
    the default branch.
    """
    slug = version if re.fullmatch(r"\d+(\.\d+)*", version) else "latest"
    return f"https://skae.readthedocs.io/en/{slug}/"
