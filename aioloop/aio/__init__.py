"""libaio's callback-style API over aioloop's Scheduler (see README's
libaio -> aioloop name table)."""

from ._life import ainit, amain, aexit

__all__ = ["ainit", "amain", "aexit"]
