"""libaio's callback-style API over aioloop's Scheduler (see README's
libaio -> aioloop name table)."""

from ._life import ainit, amain, aexit
from ._proc import (Waitmsg, sig_install, add_child_handler,
                    remove_child_handler, afork, aspawn)

__all__ = ["ainit", "amain", "aexit",
           "Waitmsg", "sig_install", "add_child_handler",
           "remove_child_handler", "afork", "aspawn"]
