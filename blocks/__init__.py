"""Block library: stems, stage families and heads, each with its schema and analytic complexity."""

from blocks.cx import Cx
from blocks.registry import Family, Param, families, get, names, register

__all__ = ["Cx", "Family", "Param", "families", "get", "names", "register"]
