"""bitwave: quantised networks and wave-digital filters to verified open-FPGA accelerators."""

from .errors import (BitwaveError, FrontendError, VerifyError, PassError, HdlError,
                     ToolchainError, SimMismatchError, BoardError, BuildFolderError)

__all__ = [
    "BitwaveError", "FrontendError", "VerifyError", "PassError", "HdlError",
    "ToolchainError", "SimMismatchError", "BoardError", "BuildFolderError",
]
__version__ = "0.1.0"
