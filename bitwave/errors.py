"""One error hierarchy for the whole compiler.

A message says which layer or op is at fault (with the user's source location
where known), what is wrong and what to do about it.  The CLI prints
``str(error)`` on one line and exits non-zero; it never shows a traceback for
a :class:`BitwaveError`.
"""

__all__ = [
    "BitwaveError", "FrontendError", "VerifyError", "PassError", "HdlError",
    "ToolchainError", "SimMismatchError", "BoardError", "BuildFolderError",
    "SweepError",
]


class BitwaveError(Exception):
    """Base class of every error bitwave raises on purpose."""


class FrontendError(BitwaveError):
    """A model could not be imported (unsupported layer, bad shapes, bad weights, corrupt file)."""


class VerifyError(BitwaveError):
    """The IR is malformed; the message names the op."""


class PassError(BitwaveError):
    """A pass could not run on this graph; the message names the pass and op."""


class HdlError(BitwaveError):
    """A hardware generator got parameters it cannot build."""


class ToolchainError(BitwaveError):
    """An external tool (Verilator, Yosys, nextpnr, openFPGALoader) is missing or failed."""


class SimMismatchError(BitwaveError):
    """RTL output differs from the reference interpreter."""


class BoardError(BitwaveError):
    """A board target is unknown, the design does not fit, or no board is attached."""


class BuildFolderError(BitwaveError):
    """A build folder is missing or corrupt, or writing one would touch files bitwave did not write."""


class SweepError(BitwaveError):
    """A sweep SPEC is malformed (the message names the key and what is allowed) or a sweep cannot run."""
