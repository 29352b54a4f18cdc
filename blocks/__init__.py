"""Block library: stems, stage families and heads, each with its schema and analytic complexity."""

from blocks.cx import Cx
from blocks.registry import Family, families, get, names, register
from blocks.schema import Param, Schema

__all__ = ["Cx", "Family", "Param", "Schema", "families", "get", "names", "register"]
