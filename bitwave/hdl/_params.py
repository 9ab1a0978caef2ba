"""Validation of generator parameters, shared by the HDL components.

Every check raises :class:`~bitwave.errors.HdlError` with a message that
names the component, the parameter, what is wrong and what to do, so that the
lowering pass can show it to the user unchanged.
"""

import numbers
from dataclasses import dataclass

from ..errors import HdlError


def check_bool(owner, name, value):
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise HdlError(f"{owner}: {name} must be a bool, not {value!r}")
    return bool(value)


def check_int(owner, name, value, *, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise HdlError(f"{owner}: {name} must be an integer, not {value!r}")
    value = int(value)
    if minimum == 1 and value < 1:
        raise HdlError(f"{owner}: {name} must be a positive integer, not {value}")
    if minimum == 0 and value < 0:
        raise HdlError(f"{owner}: {name} must be a non-negative integer, not {value}")
    return value


def _tolist(value):
    return value.tolist() if hasattr(value, "tolist") else value


def int_vector(owner, name, value, *, length):
    """A sequence of ``length`` integers, as a tuple of Python ints."""
    value = _tolist(value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise HdlError(f"{owner}: {name} must be a sequence of {length} integers, not {value!r}")
    if len(value) != length:
        raise HdlError(f"{owner}: {name} must have {length} entries (one per output), "
                       f"not {len(value)}")
    return tuple(check_int(owner, f"{name}[{i}]", v) for i, v in enumerate(value))


def int_matrix(owner, name, value):
    """A non-empty 2-D array of integers, as a tuple of tuples of Python ints."""
    value = _tolist(value)
    if (isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) == 0
            or any(isinstance(row, (str, bytes)) or not hasattr(_tolist(row), "__len__")
                   for row in value)):
        raise HdlError(f"{owner}: {name} must be a non-empty 2-D array of integers, "
                       f"not {value!r}")
    rows = [_tolist(row) for row in value]
    for r, row in enumerate(rows):
        if len(row) != len(rows[0]):
            raise HdlError(f"{owner}: {name} row {r} has {len(row)} entries but row 0 has "
                           f"{len(rows[0])}; every row needs the same number of entries")
    if len(rows[0]) == 0:
        raise HdlError(f"{owner}: {name} must have at least one column")
    return tuple(tuple(check_int(owner, f"{name}[{r}][{c}]", v) for c, v in enumerate(row))
                 for r, row in enumerate(rows))


def int_range(width, signed):
    """Inclusive (min, max) of a ``width``-bit integer."""
    if signed:
        return -(1 << (width - 1)), (1 << (width - 1)) - 1
    return 0, (1 << width) - 1


def format_name(width, signed):
    return f"{'signed' if signed else 'unsigned'}({width})"


def signed_bits(lo, hi):
    """Fewest bits of a signed integer holding every value of [lo, hi]."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


@dataclass(frozen=True)
class Activation:
    """A validated activation: at most one of ``thresholds`` and ``requant`` is set.

    ``thresholds`` are in the logical accumulator domain (``out = out_bias +
    #{k : acc >= T[k]}``); ``requant`` is ``(mult, shift, lo, hi)``.
    """
    thresholds: "tuple[tuple[int, ...], ...] | None"
    requant: "tuple[int, int, int, int] | None"
    out_width: int
    out_signed: bool
    out_bias: int

    @property
    def out_range(self):
        """Inclusive range of output values the activation can produce."""
        if self.thresholds is not None:
            return self.out_bias, self.out_bias + len(self.thresholds[0])
        if self.requant is not None:
            return self.requant[2], self.requant[3]
        return int_range(self.out_width, self.out_signed)


def check_activation(owner, *, rows, thresholds, requant, out_width, out_signed, out_bias,
                     passthrough_width):
    """Validate the activation parameters shared by MatVecUnit and ThresholdUnit.

    ``passthrough_width`` is the width of the signed output when there is no
    activation, or ``None`` if an activation is required.
    """
    out_bias = check_int(owner, "out_bias", out_bias)
    if thresholds is not None and requant is not None:
        raise HdlError(f"{owner}: thresholds and requant are mutually exclusive; "
                       f"pass one of them, not both")
    if thresholds is None and requant is None:
        if passthrough_width is None:
            raise HdlError(f"{owner}: pass exactly one of thresholds and requant")
        if out_width is not None and out_width != passthrough_width:
            raise HdlError(f"{owner}: without thresholds or requant the output is the "
                           f"accumulator, so out_width must be None or acc_width="
                           f"{passthrough_width}, not {out_width!r}")
        if out_signed is not None and out_signed is not True:
            raise HdlError(f"{owner}: without thresholds or requant the output is the signed "
                           f"accumulator, so out_signed must be None or True, not "
                           f"{out_signed!r}")
        if out_bias != 0:
            raise HdlError(f"{owner}: out_bias applies to thresholds only; pass out_bias=0 "
                           f"without thresholds, not {out_bias}")
        return Activation(None, None, passthrough_width, True, 0)

    if out_width is None:
        raise HdlError(f"{owner}: out_width is required with thresholds or requant")
    out_width = check_int(owner, "out_width", out_width, minimum=1)
    if out_signed is None:
        raise HdlError(f"{owner}: out_signed is required with thresholds or requant")
    out_signed = check_bool(owner, "out_signed", out_signed)
    fmt_lo, fmt_hi = int_range(out_width, out_signed)
    fmt = format_name(out_width, out_signed)

    if thresholds is not None:
        thresholds = int_matrix(owner, "thresholds", thresholds)
        if len(thresholds) != rows:
            raise HdlError(f"{owner}: thresholds must have {rows} rows (one per output), "
                           f"not {len(thresholds)}")
        for r, row in enumerate(thresholds):
            if any(a > b for a, b in zip(row, row[1:])):
                raise HdlError(f"{owner}: thresholds row {r} must be ascending, not {list(row)}")
        levels = len(thresholds[0])
        lo, hi = out_bias, out_bias + levels
        if lo < fmt_lo or hi > fmt_hi:
            raise HdlError(f"{owner}: outputs out_bias..out_bias+{levels} = {lo}..{hi} do "
                           f"not fit {fmt}; widen out_width or change out_bias")
        return Activation(thresholds, None, out_width, out_signed, out_bias)

    if (isinstance(requant, (str, bytes)) or not hasattr(requant, "__len__")
            or len(requant) != 4):
        raise HdlError(f"{owner}: requant must be a tuple (mult, shift, lo, hi), "
                       f"not {requant!r}")
    mult, shift, lo, hi = (check_int(owner, f"requant {n}", v)
                           for n, v in zip(("mult", "shift", "lo", "hi"), requant))
    if shift < 0:
        raise HdlError(f"{owner}: requant shift must be a non-negative integer, not {shift}")
    if lo > hi:
        raise HdlError(f"{owner}: requant lo={lo} is greater than hi={hi}")
    if lo < fmt_lo or hi > fmt_hi:
        raise HdlError(f"{owner}: requant clip range {lo}..{hi} does not fit {fmt}; "
                       f"widen out_width or narrow the clip range")
    if out_bias != 0:
        raise HdlError(f"{owner}: out_bias applies to thresholds only; pass out_bias=0 "
                       f"with requant, not {out_bias}")
    return Activation(None, (mult, shift, lo, hi), out_width, out_signed, 0)
