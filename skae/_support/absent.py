"""Absent: a base-class method that an imputer does not have."""


class Absent:
    """A base-class method an imputer does not have.

    Any access, on the class or an instance, raises AttributeError, so that
    ``hasattr`` is False and the API docs do not list it as inherited.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        raise AttributeError(
            f"{owner.__name__} has no {self.name}: it returns completed data, "
            "not codes or reconstructions. Use AutoEncoder for those."
        )
