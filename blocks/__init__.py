"""Block library: stems, stage families and heads, each with its schema and analytic complexity.

Importing the package stays light (no torch); `blocks.library` loads every family.
"""

from blocks.cx import Cx
from blocks.registry import Family, Site, register, registered, unregister
from blocks.schema import Param, Schema

__all__ = [
    "Cx",
    "Family",
    "Param",
    "Schema",
    "Site",
    "register",
    "registered",
    "unregister",
]
