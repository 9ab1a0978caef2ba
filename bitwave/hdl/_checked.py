"""Components whose parameters are checked before the component exists."""

from amaranth.lib import wiring

from ..errors import HdlError

__all__ = ["CheckedComponent"]


class CheckedComponent(wiring.Component):
    """A component that checks its parameters in ``check`` before it is created.

    Amaranth warns about every elaboratable that is created and never
    elaborated, including one whose constructor raised.  A subclass puts its
    validation into the classmethod ``check(*args, **kwargs)``, which raises
    :class:`~bitwave.errors.HdlError` or returns the checked attributes; they
    are set on the new object before ``__init__`` runs (with the same
    arguments).  A refused construction so never makes an object at all.
    """

    @classmethod
    def check(cls, *args, **kwargs) -> dict:
        raise HdlError(f"{cls.__name__}: a CheckedComponent must define the classmethod check")

    def __new__(cls, *args, **kwargs):
        attributes = cls.check(*args, **kwargs)
        self = super().__new__(cls)
        vars(self).update(attributes)
        return self
