"""The template sandbox: Jinja's immutable sandbox with every limit of a render built in.

- `RenderState` / `STATE`: what one render collects (the values shown, undefined names,
  refusals) and what it may still do (loop steps, output, the `template_limits.Budget`).
- `wrap_data`: the data as templates see it, each mapping knowing its dotted path.
- The loop budget: every ``{% for %}`` step, ``range()`` step and macro call is counted
  (`MAX_LOOP_ITERATIONS`, plus one per data item).
- `_ENV`: the environment; its `finalize` turns each ``{{ }}`` output into a marker of
  `mailcore.outbound.template_markers` and keeps the value aside.
- `compile_template`: a compiled template, cached by source.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Template as JinjaTemplate
from jinja2 import Undefined, pass_eval_context
from jinja2 import nodes as jnodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import BlockReference, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.utils import missing
from markupsafe import Markup

from mailcore.outbound import template_filters as filters
from mailcore.outbound import template_limits as limits
from mailcore.outbound.template_limits import Budget
from mailcore.outbound.template_markers import CLOSE, FORGED, FORGED_SOURCE, MARK, OPEN, fill_text

MAX_OUTPUT = 1_000_000  # characters a render may produce, values included
MAX_LOOP_ITERATIONS = 100_000  # loop steps of one render, on top of one per data item

_TooMuchWork = limits.TooMuchWork


# --- the render's state ---------------------------------------------------------------------


@dataclass
class RenderState:
    """What one render collects; held in a ContextVar so threads do not mix."""

    values: list[str] = field(default_factory=list)
    value_lines: list[int | None] = field(default_factory=list)
    where: str = "body"  # which source is running: "subject" or "body"
    undefined: dict[tuple[str, str], int | None] = field(default_factory=dict)
    refused: dict[tuple[str, str], int | None] = field(default_factory=dict)
    iterations: int = 0  # loop steps and macro calls so far, subject and body together
    budget: int = MAX_LOOP_ITERATIONS  # raised by the number of items in the data
    work: Budget = field(default_factory=Budget)  # what may be built; raised by the data's text
    output: int = 0  # characters produced so far, values included

    def add_output(self, size: int) -> None:
        """Count `size` characters of output; refused over MAX_OUTPUT."""
        self.output += size
        if self.output > MAX_OUTPUT:
            raise _TooMuchWork(
                f"the template produces more than {MAX_OUTPUT:,} characters (MAX_OUTPUT)"
            )


STATE: contextvars.ContextVar[RenderState | None] = contextvars.ContextVar("mc_state", default=None)


def _template_line() -> int | None:
    """The template line being executed, from the innermost template frame on the stack."""
    frame = sys._getframe(2)
    while frame is not None:
        tmpl = frame.f_globals.get("__jinja_template__")
        if tmpl is not None:
            return int(tmpl.get_corresponding_lineno(frame.f_lineno))
        # Constant folding while compiling: the node being evaluated knows its line.
        for name in ("self", "child", "node"):
            node = frame.f_locals.get(name)
            if isinstance(node, jnodes.Node) and getattr(node, "lineno", None):
                return int(node.lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


class _PathDict(dict[str, Any]):
    """A data mapping that knows its dotted path, so undefined keys are named in full."""

    __slots__ = ("_mc_path",)
    _mc_path: str


def wrap_data(value: Any, path: str, state: RenderState) -> Any:
    """Data as the template sees it; every entry and item adds one step to the loop budget."""
    if isinstance(value, Mapping):
        state.budget += len(value)
        wrapped = _PathDict(
            (str(k), wrap_data(v, f"{path}.{k}" if path else str(k), state))
            for k, v in value.items()
        )
        wrapped._mc_path = path
        return wrapped
    if isinstance(value, list | tuple):
        state.budget += len(value)
        return [wrap_data(v, f"{path}[]", state) for v in value]
    if isinstance(value, str):
        state.work.limit += len(value)  # showing the data (once) always fits
    return value


# --- the loop budget ------------------------------------------------------------------------


def _step(state: RenderState) -> None:
    """One loop step or macro call, charged to the loop budget (and the CPU time, now and
    then: reading the clock on every step would cost more than most steps)."""
    state.iterations += 1
    if state.iterations > state.budget:
        raise _TooMuchWork(
            f"template does too much work: over {state.budget:,} loop iterations;"
            " simplify the loops"
        )
    if not state.iterations & 31:
        state.work.tick()


class _Counted:
    """An iterator charging each step to the render's loop budget."""

    __slots__ = ("_it", "_state")

    def __init__(self, iterable: Any, state: RenderState) -> None:
        self._it = iter(iterable)
        self._state = state

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        item = next(self._it)
        _step(self._state)
        return item


class _Range:
    """The sandbox's ``range()``: a real range (len, indexing, ``in``) whose iteration is
    charged to the loop budget, so ``range(n)|join`` inside a loop is counted too."""

    __slots__ = ("_range",)

    def __init__(self, *args: int) -> None:
        self._range = safe_range(*args)  # OverflowError past the sandbox's MAX_RANGE

    def __iter__(self) -> Any:
        state = STATE.get()
        return iter(self._range) if state is None else _Counted(self._range, state)

    def __reversed__(self) -> Any:
        state = STATE.get()
        backwards = reversed(self._range)
        return backwards if state is None else _Counted(backwards, state)

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __contains__(self, item: object) -> bool:
        return item in self._range

    def __repr__(self) -> str:
        return repr(self._range)


def _budgeted(iterable: Any) -> Any:
    """What a ``{% for %}`` loop iterates: `iterable`, each step charged to the budget."""
    state = STATE.get()
    if state is None or isinstance(iterable, _Counted | _Range):
        return iterable  # outside a render (constant folding), or already charged
    return _Counted(iterable, state)


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with every ``{% for %}`` iterating through `_budgeted`."""

    def visit_Concat(self, node: jnodes.Concat, frame: Frame) -> None:
        # ``a ~ b`` is measured before it is joined, like every other string operation.
        self.write("environment.mc_concat(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Template(self, node: jnodes.Template, frame: Frame | None = None) -> None:
        # Before any code is written: the filters a template uses are collected up front.
        for loop in node.find_all(jnodes.For):
            loop.iter = jnodes.Filter(loop.iter, _BUDGET_FILTER, [], [], None, None)
            loop.iter.set_lineno(loop.lineno)
        super().visit_Template(node, frame)


_BUDGET_FILTER = "_mc_loop_budget"  # harmless if a template names it: it only counts more


class _CollectingUndefined(Undefined):
    """Records its name (or the refusal it stands for) and renders as nothing."""

    __slots__ = ()

    def _record(self) -> None:
        state = STATE.get()
        if state is None:
            return
        if self._undefined_exception is SecurityError:
            state.refused.setdefault((state.where, str(self._undefined_hint)), _template_line())
            return
        name = self._undefined_name or "?"
        obj = self._undefined_obj
        if isinstance(obj, _PathDict):
            name = f"{obj._mc_path}.{name}" if obj._mc_path else name
        elif obj is not missing and obj is not None:
            # An attribute of something that is not data (a loop variable, a string...).
            name = f"{type(obj).__name__}.{name}"
        state.undefined.setdefault((state.where, name), _template_line())

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        self._record()
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = _fail_with_undefined_error
    __mul__ = __rmul__ = __div__ = __rdiv__ = _fail_with_undefined_error
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _fail_with_undefined_error
    __mod__ = __rmod__ = __pos__ = __neg__ = __call__ = _fail_with_undefined_error
    __getitem__ = __lt__ = __le__ = __gt__ = __ge__ = _fail_with_undefined_error
    __int__ = __float__ = __complex__ = __pow__ = __rpow__ = _fail_with_undefined_error

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self._fail_with_undefined_error()

    def __str__(self) -> str:
        self._record()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._record()
        return iter(())

    def __bool__(self) -> bool:
        self._record()
        return False

    def __len__(self) -> int:
        self._record()
        return 0

    def __eq__(self, other: object) -> bool:
        self._record()
        return type(self) is type(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return id(type(self))


@pass_eval_context  # needing a context keeps Jinja from finalizing constants at compile time
def _finalize(eval_ctx: Any, value: Any) -> str:
    """Turn each ``{{ }}`` output into a marker; the value is kept aside."""
    if isinstance(value, Undefined):
        return str(value)
    if value is None:
        return ""
    state = STATE.get()
    work = state.work if state is not None else limits.current()
    if not isinstance(value, str):
        work.need(limits.shown_size(value, work.left), "showing this value")
    text = value if isinstance(value, str) else str(value)
    if state is None:  # outside a render
        return FORGED.sub("", text)
    if OPEN in text:  # e.g. macro output: resolve the values it already holds
        held = [int(i) for i in MARK.findall(text)]
        work.need(len(text) + sum(len(state.values[i]) for i in held), "showing this value")
        text = fill_text(text, state.values)
    work.charge(len(text), "showing this value")
    state.add_output(len(text))
    frame = sys._getframe(1)
    tmpl = frame.f_globals.get("__jinja_template__")
    state.value_lines.append(tmpl.get_corresponding_lineno(frame.f_lineno) if tmpl else None)
    state.values.append(text)
    return f"{OPEN}{len(state.values) - 1}{CLOSE}"


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus the limits of `mailcore.outbound.template_limits` on every
    operator, call, filter, format and concatenation so a template cannot eat memory, and the loop
    budget so it cannot eat time."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    code_generator_class = _CodeGenerator

    def call(
        __self,  # noqa: N805 -- Jinja's own signature: keyword arguments may be named `self`
        __context: Any,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if isinstance(__obj, LoopContext) and args:
            # ``loop(children)`` in a recursive loop iterates without the For node's filter.
            args = (_budgeted(args[0]), *args[1:])
        state = STATE.get()
        work = state.work if state is not None else limits.current()
        if state is not None and isinstance(__obj, Macro | BlockReference):
            _step(state)  # a macro calling itself twice doubles the work at each level
        args = limits.prepare_call(__obj, args, kwargs, work)
        result = super().call(__context, __obj, *args, **kwargs)
        work.charge(limits.built_size(result), "this call")
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        work = limits.current()
        limits.check_binop(operator, left, right, work)
        result = self.binop_table[operator](left, right)
        work.charge(limits.built_size(result), f"the {operator} operator")
        return result

    def mc_concat(self, eval_ctx: Any, items: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``, refused before joining if it would be over the budget."""
        work = limits.current()
        escaped = bool(eval_ctx.autoescape)
        work.need(limits.concat_size(items, escaped, work), "the ~ operator")
        result: str = markup_join(items) if escaped else str_join(items)
        work.charge(len(result), "the ~ operator")
        return result

    def wrap_str_format(self, value: Any) -> Any:
        """Jinja's sandboxed ``str.format``/``format_map``, each field measured first."""
        if super().wrap_str_format(value) is None:
            return None
        f_self: str = value.__self__
        formatter: filters.BudgetFormatter
        if isinstance(f_self, Markup):
            formatter = filters.BudgetEscapeFormatter(self, escape=f_self.escape)
        else:
            formatter = filters.BudgetFormatter(self)
        is_map = value.__name__ == "format_map"

        def format_(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(f_self)(formatter.vformat(f_self, args, kwargs))

        format_.__name__ = value.__name__
        return format_


_ENV = _Sandbox(
    undefined=_CollectingUndefined,
    # No constant folding: it would evaluate (and hide) refused attributes at compile time.
    optimized=False,
    finalize=_finalize,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals["range"] = _Range
_ENV.globals["lipsum"] = filters.lipsum
_ENV.filters.update(filters.limited_filters(_ENV.filters))
_ENV.filters[_BUDGET_FILTER] = _budgeted


@lru_cache(maxsize=512)
def compile_template(source: str) -> JinjaTemplate:
    """The compiled template. Nothing of it runs at compile time (no constant folding), so
    every render meets the same refusals and limits."""
    return _ENV.from_string(FORGED_SOURCE.sub("", source))
