"""moto's DynamoDB without the work it repeats on every call: the same answers, for less CPU.

Each delivery report is one conditional UpdateItem, and under load moto's own CPU is what limits the
local stack (a few milliseconds a call, half of it in expression handling). For every UpdateItem
moto tokenises and parses the update expression twice (once to check the names used, once to apply
it) and lexes the condition expression twice; it copies the parsed tree with the generic deepcopy;
its ten validation passes rebuild their dispatch table for every node they visit; and every request
lists the response class's methods with `inspect`. Here:

- a parsed update expression is kept by its text (a pure function of it; moto's validator copies
  the tree before it changes anything);
- a condition expression's tokens are kept by its text (names and values are still resolved on
  every call, so a missing one fails as before);
- a parsed tree copies itself node by node, as deepcopy would, without deepcopy's generic dispatch;
- each validation pass builds its dispatch table once, and each response class's method names are
  listed once.

tests/integration/test_moto_speedups.py runs the same calls, errors included, on moto with and
without these and compares every answer, item and stream record.
"""

from __future__ import annotations

import copy
import functools
from collections import deque
from typing import Any

_LEAVES = (str, int, float, type(None))


def install() -> None:
    """Apply the speed-ups to moto in this process (once; later calls do nothing)."""
    # (moto marks its expression parsers `# type: ignore`, so mypy sees no names in them.)
    from moto.core import responses
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    if getattr(UpdateExpressionParser.make, "kept_by_text", False):
        return
    # A response class's method names, which moto lists with inspect on every request.
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    _keep_parsed_update_expressions(UpdateExpressionParser)
    _keep_condition_tokens(ConditionExpressionParser)
    Node.__deepcopy__ = _copy_node
    DepthFirstTraverser.nodes_to_be_processed = _node_types
    DepthFirstTraverser.process = _process


def _keep_parsed_update_expressions(parser: Any) -> None:
    parse = parser.make.__func__
    kept = functools.lru_cache(maxsize=256)(lambda text: parse(parser, text))

    def make(cls: Any, expression_str: str) -> Any:
        return kept(expression_str)

    make.kept_by_text = True  # type: ignore[attr-defined]
    parser.make = classmethod(make)


def _keep_condition_tokens(parser: Any) -> None:
    lex = parser._lex_condition_expression

    @functools.lru_cache(maxsize=256)
    def tokens(text: str) -> tuple[Any, ...]:
        return tuple(lex(parser(text, None, None)))

    def lex_condition_expression(self: Any) -> deque[Any]:
        # Lexing reads nothing but the text. The later passes consume the deque, and a token's
        # `children` is a list: each call gets its own of both.
        return deque(token._replace(children=[]) for token in tokens(self.condition_expression))

    parser._lex_condition_expression = lex_condition_expression


def _copy_node(self: Any, memo: dict[int, Any]) -> Any:
    """What deepcopy does with a Node (a new object, its attributes deep-copied through `memo`),
    with the common cases (child nodes, strings, numbers, the parent already copied) done directly."""
    parent = self.__dict__.get("parent")
    if parent is not None and id(parent) not in memo:
        # Copying a subtree copies the tree above it too (through `parent`): leave that to deepcopy.
        return copy._reconstruct(self, memo, *self.__reduce_ex__(4))  # type: ignore[attr-defined]
    new = object.__new__(type(self))
    memo[id(self)] = new
    attributes = new.__dict__
    for name, value in self.__dict__.items():
        if type(value) in _LEAVES:
            attributes[name] = value
        elif value is parent:
            attributes[name] = memo[id(parent)]
        elif type(value) is list:
            attributes[name] = [
                child if type(child) in _LEAVES else copy.deepcopy(child, memo) for child in value
            ]
        else:
            attributes[name] = copy.deepcopy(value, memo)
    return new


def _processing_table(self: Any) -> tuple[dict[type, Any], tuple[type, ...]]:
    kept: tuple[dict[type, Any], tuple[type, ...]] | None = self.__dict__.get("_kept_processing_map")
    if kept is None:
        # The map is of bound methods of the pass itself: the same for every node it visits.
        table = self._processing_map()
        kept = self.__dict__["_kept_processing_map"] = (table, tuple(table))
    return kept


def _node_types(self: Any) -> tuple[type, ...]:
    return _processing_table(self)[1]


def _process(self: Any, node: Any) -> Any:
    for class_key, processor in _processing_table(self)[0].items():
        if isinstance(node, class_key):
            return processor(node)
    return None
