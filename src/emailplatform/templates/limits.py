"""The bounds of one render: a deadline, an iteration budget and an output size.

A template is untrusted code. Jinja's sandbox stops it reaching Python's internals; these guards stop it
spending unbounded time or memory. They are checked where a template can do work: calls, loops, `range`,
the operators that grow values (`*`, `**`, `+`, `%`), string formatting, joins of buffers, and the filters
and string methods that can multiply their input. One filter call reads no clock, so the filters that walk a
whole collection (`list`, `sort`, `groupby`, ...) take at most MAX_FILTER_ITEMS items, charged to the budget, and
the slow text filters (`urlize`, `wordwrap`, `title`) at most MAX_TEXT_FILTER_CHARS characters. Each check is
cheap (a clock read or a length sum), so a render costs about what plain Jinja costs.
"""

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

ITERATION_BUDGET = 1_000_000  # loop iterations and `range` items one render may use
MAX_FILTER_ITEMS = 10_000  # items one collection filter (list, sort, groupby, ...) may take
# The filters that walk their whole input in one call, where no clock is read: their input is bounded and charged.
COLLECTION_FILTERS = (
    "list",
    "sort",
    "groupby",
    "unique",
    "map",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "dictsort",
    "sum",
    "min",
    "max",
    "batch",
    "slice",
    "items",
    "join",
)
MAX_TEXT_FILTER_CHARS = 65_536  # characters the text filters that run a Python loop a word may take
SLOW_TEXT_FILTERS = ("urlize", "wordwrap", "title")
MAX_INT_BITS = 4096  # numbers past this are refused: only a template trying to stall would make them
_ITEMS_PER_CLOCK_READ = 256
_FORMAT_NUMBER = re.compile(r"\d+")
_NESTED_WIDTH = re.compile(r"\{[^{}]*\{|\*")


class LimitExceeded(Exception):
    """A render went past one of its bounds; the reason says which."""


@dataclass(slots=True)
class Budget:
    deadline: float
    timeout_ms: int
    max_chars: int
    iterations_left: int = ITERATION_BUDGET
    output_left: int = 0

    def __post_init__(self):
        self.output_left = self.max_chars

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"the render took longer than the {self.timeout_ms} ms allowed")

    def charge(self, iterations: int) -> None:
        self.iterations_left -= iterations
        if self.iterations_left < 0:
            raise LimitExceeded(f"the render needs more than the {ITERATION_BUDGET} loop iterations allowed")
        self.check_time()

    def add_output(self, chars: int) -> None:
        self.output_left -= chars
        if self.output_left < 0:
            raise LimitExceeded(f"the rendered output is larger than the {self.max_chars} characters allowed")

    def require(self, chars: int) -> None:
        """Refuse to build a value of `chars` characters (or items) when it is past the output size."""
        if chars > self.max_chars:
            raise LimitExceeded(f"the template builds a value larger than the {self.max_chars} characters allowed")


_current: ContextVar[Budget] = ContextVar("emailplatform_render_budget")


def start(timeout_ms: int, max_chars: int) -> Budget:
    budget = Budget(deadline=time.monotonic() + timeout_ms / 1000, timeout_ms=timeout_ms, max_chars=max_chars)
    _current.set(budget)
    return budget


def current_budget() -> Budget:
    return _current.get()


def checked(value):
    """`value`, refused when it is a string past the output size."""
    if isinstance(value, str):
        _current.get().require(len(value))
    return value


def text_size(value) -> int:
    """About how many characters `value` takes when printed."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 30103 // 100000 + 2
    if isinstance(value, dict):
        return sum(text_size(k) + text_size(v) + 4 for k, v in value.items()) + 2
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(text_size(item) + 2 for item in value) + 2
    return 24


def guarded_iter(iterable: Iterable) -> Iterator:
    """What a template's `for` loop iterates: charges the budget and reads the clock every few hundred items."""
    budget = _current.get()
    count = 0
    for item in iterable:
        count += 1
        if count == _ITEMS_PER_CLOCK_READ:
            budget.charge(count)
            count = 0
        yield item


def budgeted_range(*args: int) -> range:
    """The `range` of templates: its whole length is charged up front."""
    numbers = range(*args)
    _current.get().charge(len(numbers))
    return numbers


# --- operators and formatting -------------------------------------------------------------------------


def check_binop(operator: str, left, right) -> None:
    budget = _current.get()
    budget.check_time()
    if operator == "*":
        _check_multiply(budget, left, right)
    elif operator == "**":
        _check_power(left, right)
    elif operator == "+" and not isinstance(left, (int, float)):
        budget.require(text_size(left) + text_size(right))
    elif operator == "%" and isinstance(left, str):
        values = right if isinstance(right, tuple) else (right,)
        check_format(left, values, right if isinstance(right, dict) else {})


def _check_multiply(budget: Budget, left, right) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"the product is a number of more than {MAX_INT_BITS} bits")
        return
    for sequence, times in ((left, right), (right, left)):
        if _is_int(times) and isinstance(sequence, (str, bytes, list, tuple)):
            budget.require(times * max(len(sequence), text_size(sequence)))


def _check_power(base, exponent) -> None:
    big = _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1
    if big and (exponent > MAX_INT_BITS or exponent * base.bit_length() > MAX_INT_BITS):
        raise LimitExceeded(f"the power is a number of more than {MAX_INT_BITS} bits")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_format(fmt: str, args: Iterable, kwargs: dict) -> None:
    """Refuse a format (`%` or `{}`) whose result could pass the output size: many fields, or huge widths."""
    values = [*args, *kwargs.values()]
    widest_value = max((text_size(v) for v in values), default=0)
    widths = [int(n) if len(n) < 10 else 10**10 for n in _FORMAT_NUMBER.findall(fmt)]
    if _NESTED_WIDTH.search(fmt):
        widths += [v for v in values if _is_int(v)]
    fields = fmt.count("%") + fmt.count("{")
    _current.get().require(len(fmt) + fields * (widest_value + max(widths, default=0)))


# --- filters and string methods that can multiply their input ----------------------------------------


def _replace_size(s, old, new, count=None) -> int:
    s, old, new = str(s), str(old), str(new)
    return len(s) + s.count(old) * max(0, len(new) - len(old))


def _indent_size(s, width=4, first=False, blank=False) -> int:
    s = str(s)
    return len(s) + (s.count("\n") + 1) * (len(width) if isinstance(width, str) else int(width))


def _wordwrap_size(s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True) -> int:
    s = str(s)
    lines = len(s) // max(int(width), 1) + s.count("\n") + 1
    return len(s) + lines * len(wrapstring or "\n")


def _width_size(value, width=80, *_args) -> int:
    return max(text_size(value), int(width))


def _expandtabs_size(s, tabsize=8) -> int:
    return len(s) + s.count("\t") * int(tabsize)


def _format_size(value, *args, **kwargs) -> int:
    check_format(str(value), args, kwargs)
    return 0


def _charged_count(value, count, *_args) -> int:
    """`batch` and `slice` build `count` rows: charge them as iterations."""
    _current.get().charge(max(int(count), 0))
    return 0


FILTER_SIZES: dict[str, Callable[..., int]] = {
    "replace": _replace_size,
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "center": _width_size,
    "format": _format_size,
    "batch": _charged_count,
    "slice": _charged_count,
}

STR_METHOD_SIZES: dict[str, Callable[..., int]] = {
    "replace": _replace_size,
    "center": _width_size,
    "ljust": _width_size,
    "rjust": _width_size,
    "zfill": _width_size,
    "expandtabs": _expandtabs_size,
}


def bounded_items(value):
    """A collection filter's input, refused past MAX_FILTER_ITEMS items; its items are charged as iterations, so
    filters chained or in a loop stay within the render's budget and each call reads the clock."""
    budget = _current.get()
    if hasattr(value, "__len__"):
        count = len(value)
        if count > MAX_FILTER_ITEMS:
            raise LimitExceeded(f"a filter was given {count} items; at most {MAX_FILTER_ITEMS} are allowed")
    else:
        items = []
        for item in value:
            items.append(item)
            if len(items) > MAX_FILTER_ITEMS:
                raise LimitExceeded(f"a filter was given more than the {MAX_FILTER_ITEMS} items allowed")
        value, count = items, len(items)
    budget.charge(count)
    return value


def bounded_text(value):
    """A slow text filter's input, refused past MAX_TEXT_FILTER_CHARS characters (such a call reads no clock)."""
    if isinstance(value, str) and len(value) > MAX_TEXT_FILTER_CHARS:
        raise LimitExceeded(f"a filter was given {len(value)} characters; at most {MAX_TEXT_FILTER_CHARS} are allowed")
    return value


def join_items(items: Iterable, separator) -> list:
    """The items of a join, as a list, refused when the joined string would pass the output size."""
    items = list(guarded_iter(items))
    budget = _current.get()
    budget.require(sum(map(text_size, items)) + max(len(items) - 1, 0) * len(str(separator)))
    return items
