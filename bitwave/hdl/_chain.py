"""A linear chain of stream components."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent

__all__ = ["Chain"]


def _payload_shape(component, port):
    return component.signature.members[port].signature.members["payload"].shape


class Chain(CheckedComponent):
    """Connect ``stages[i].source`` to ``stages[i+1].sink`` for every ``i``.

    Each stage is a component whose signature has a ``sink`` (``In``) and a
    ``source`` (``Out``) stream member; adjacent payload shapes must be equal.
    The chain's own ``sink``/``source`` are the first sink and the last source.

    ``cycles_per_frame`` is the largest of the stages' (the rate the chain
    sustains); ``latency`` is their sum (exact when the chain is idle, since
    each stage's latency counts from the cycle a vector is offered to it, which
    is the cycle the stage before first offers its result); either is ``None``
    if a stage does not state it.
    """

    @classmethod
    def check(cls, stages) -> dict:
        """The checked stages (HdlError naming the stage that does not fit)."""
        if isinstance(stages, (str, bytes)) or not hasattr(stages, "__iter__"):
            raise HdlError(f"Chain: stages must be a list of components, not {stages!r}")
        stages = tuple(stages)
        if not stages:
            raise HdlError("Chain: stages must contain at least one component")
        for i, stage in enumerate(stages):
            members = getattr(getattr(stage, "signature", None), "members", None)
            if (not isinstance(stage, wiring.Component)
                    or "sink" not in members or "source" not in members
                    or members["sink"].flow != In or members["source"].flow != Out
                    or not isinstance(members["sink"].signature, stream.Signature)
                    or not isinstance(members["source"].signature, stream.Signature)):
                raise HdlError(f"Chain: stage {i} ({type(stage).__name__}) must be a component "
                               f"with an In stream member 'sink' and an Out stream member "
                               f"'source'")
        for i, (a, b) in enumerate(zip(stages, stages[1:])):
            out_shape, in_shape = _payload_shape(a, "source"), _payload_shape(b, "sink")
            if out_shape != in_shape:
                raise HdlError(f"Chain: stage {i} ({type(a).__name__}) produces payload "
                               f"{out_shape!r} but stage {i + 1} ({type(b).__name__}) expects "
                               f"{in_shape!r}; their vector formats must match")
        return {"stages": stages}

    def __init__(self, stages):
        rates = [getattr(s, "cycles_per_frame", None) for s in self.stages]
        latencies = [getattr(s, "latency", None) for s in self.stages]
        self.cycles_per_frame = None if None in rates else max(rates)
        self.latency = None if None in latencies else sum(latencies)
        super().__init__({
            "sink": In(stream.Signature(_payload_shape(self.stages[0], "sink"))),
            "source": Out(stream.Signature(_payload_shape(self.stages[-1], "source"))),
        })

    def elaborate(self, platform):
        m = Module()
        for i, stage in enumerate(self.stages):
            m.submodules[f"stage{i}"] = stage
        wiring.connect(m, wiring.flipped(self.sink), self.stages[0].sink)
        for a, b in zip(self.stages, self.stages[1:]):
            wiring.connect(m, a.source, b.sink)
        wiring.connect(m, self.stages[-1].source, wiring.flipped(self.source))
        return m
