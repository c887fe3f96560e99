"""Sandboxed rendering of a template version: subject, HTML (autoescaped) and text, within bounded time and size.

Compile once (`compile_version`, cached by version id), render many times (`CompiledTemplate.render`).
"""

import functools
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from emailplatform.config import Settings
from emailplatform.errors import Invalid
from emailplatform.models import TemplateVersion
from emailplatform.templates import limits

PARTS = ("subject", "html", "text")
CACHE_SIZE = 128
MAX_PRINTED_ITEMS = 10_000
_CHUNKS_PER_CHECK = 32  # output is counted, and the clock read, every this many chunks
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_INCLUDES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


class RenderError(Exception):
    """A render failed because of the template or the data; `reason` says where and why."""

    def __init__(self, reason: str, placeholder: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.placeholder = placeholder  # the missing placeholder, when that is the reason


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class _GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every `~` concatenation's result checked against the output size."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked(")
        super().visit_Concat(node, frame)
        self.write(")")


class _Environment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus the bounds of `limits` on everything that can spend time or memory."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    checked = staticmethod(limits.checked)
    guarded_iter = staticmethod(limits.guarded_iter)

    def __init__(self):
        super().__init__(
            undefined=StrictUndefined,
            autoescape=lambda name: name == "html",
            finalize=_finalize,
            keep_trailing_newline=True,
            cache_size=0,
        )
        self.globals["range"] = limits.budgeted_range
        del self.globals["lipsum"]
        for name, size in limits.FILTER_SIZES.items():
            self.filters[name] = _sized_filter(self.filters[name], size)
        self.filters["join"] = _bounded_join(self.filters["join"])
        for name in limits.COLLECTION_FILTERS:
            self.filters[name] = _bounded_input_filter(self.filters[name], limits.bounded_items)
        for name in limits.SLOW_TEXT_FILTERS:
            self.filters[name] = _bounded_input_filter(self.filters[name], limits.bounded_text)

    def _parse(self, source, name, filename) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("guarded_iter"), [loop.iter], [], None, None, lineno=loop.lineno
            )
        return tree

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature
        limits.current_budget().check_time()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            args = _checked_str_method_args(owner, __obj.__name__, args)
        return limits.checked(SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs))

    def call_binop(self, context, operator, left, right):
        limits.check_binop(operator, left, right)
        return limits.checked(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value):
        format_method = super().wrap_str_format(value)
        if format_method is None:
            return None
        fmt = value.__self__

        def checked_format(*args, **kwargs):
            limits.check_format(fmt, args, kwargs)
            return limits.checked(format_method(*args, **kwargs))

        return checked_format

    def concat(self, parts) -> str:
        """Joins a block's buffer (macros, `{% set %}` blocks, filter blocks)."""
        parts = parts if isinstance(parts, list) else list(parts)
        limits.current_budget().require(sum(map(len, parts)))
        return "".join(parts)


def _finalize(value):
    """Every printed value passes here: a collection is refused when its printed form would be too large."""
    if value.__class__ is not str and isinstance(value, (list, tuple, dict, set, frozenset)):
        if len(value) > MAX_PRINTED_ITEMS:
            raise limits.LimitExceeded(f"the template prints a collection of more than {MAX_PRINTED_ITEMS} items")
        limits.current_budget().require(limits.text_size(value))
    return value


def _checked_str_method_args(owner: str, method: str, args: tuple) -> tuple:
    if method == "join" and args:
        return (limits.join_items(args[0], owner), *args[1:])
    size = limits.STR_METHOD_SIZES.get(method)
    if size is not None:
        limits.current_budget().require(size(owner, *args))
    return args


def _sized_filter(func, size):
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def sized(*args, **kwargs):
        limits.current_budget().require(size(*args[skip:], **kwargs))
        return limits.checked(func(*args, **kwargs))

    return sized


def _bounded_input_filter(func, bound):
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def bounded(*args, **kwargs):
        if len(args) > skip:
            args = (*args[:skip], bound(args[skip]), *args[skip + 1 :])
        return func(*args, **kwargs)

    return bounded


def _bounded_join(join):
    @functools.wraps(join)
    def bounded_join(eval_ctx, value, d="", attribute=None):
        items = limits.join_items(value, d) if attribute is None else value
        return limits.checked(join(eval_ctx, items, d, attribute))

    return bounded_join


_env = _Environment()


# --- checking a source -------------------------------------------------------------------------------


def placeholders(sources: dict[str, str]) -> list[str]:
    """The placeholders of a version's parts, sorted; Invalid naming the part that does not compile."""
    names: set[str] = set()
    for part, source in sources.items():
        tree = _parse(part, source)
        names |= meta.find_undeclared_variables(tree)
    return sorted(names - set(_env.globals))


def _parse(part: str, source: str) -> nodes.Template:
    try:
        tree = _env.parse(source, name=part)
        _env.compile(tree, name=part)
    except TemplateSyntaxError as exc:
        raise Invalid(f"line {exc.lineno}: {exc.message}", field=part) from None
    except RecursionError:
        raise Invalid("the template nests too deeply", field=part) from None
    include = next(tree.find_all(_INCLUDES), None)
    if include is not None:
        raise Invalid(f"line {include.lineno}: a template cannot include, import or extend another", field=part)
    return tree


# --- compiling and rendering ---------------------------------------------------------------------------


class Renderer(Protocol):
    """What makes a message's subject and bodies from its data: a compiled template, or an email's own content."""

    def render(self, data: dict[str, str]) -> Rendered: ...


@dataclass(frozen=True)
class CompiledTemplate:
    parts: tuple[tuple[str, Template], ...]
    timeout_ms: int
    max_chars: int

    @cached_property
    def globals(self) -> dict:
        """The environment's globals as one plain dict: merged with each render's data once, not per part."""
        return dict(self.parts[0][1].globals)

    def render(self, data: dict[str, str]) -> Rendered:
        budget = limits.start(self.timeout_ms, self.max_chars)
        variables = self.globals | data
        out = {}
        for part, template in self.parts:
            try:
                out[part] = _render_part(template, variables, budget)
            except Exception as exc:  # everything a template or its data can cause
                raise _render_error(part, template, exc) from None
        return Rendered(subject=" ".join(out["subject"].split()), html=out["html"], text=out["text"])


def _render_part(template: Template, variables: dict, budget: limits.Budget) -> str:
    chunks: list[str] = []
    append = chunks.append
    for chunk in template.root_render_func(template.new_context(variables, shared=True)):
        append(chunk)
        if len(chunks) % _CHUNKS_PER_CHECK == 0:
            budget.add_output(sum(map(len, chunks[-_CHUNKS_PER_CHECK:])))
            budget.check_time()
    budget.add_output(sum(map(len, chunks[len(chunks) - len(chunks) % _CHUNKS_PER_CHECK :])))
    return "".join(chunks)


def _render_error(part: str, template: Template, exc: Exception) -> RenderError:
    where = part
    line = _template_line(template, exc)
    if line:
        where += f", line {line}"
    if isinstance(exc, UndefinedError):
        missing = _UNDEFINED_NAME.match(exc.message or "")
        if missing:
            return RenderError(f"{where}: the placeholder {missing[1]!r} has no value", placeholder=missing[1])
    if isinstance(exc, RecursionError):
        return RenderError(f"{where}: the template recurses too deeply")
    if isinstance(exc, MemoryError):
        return RenderError(f"{where}: the template needs more memory than is available")
    reason = str(exc) or type(exc).__name__
    return RenderError(f"{where}: {reason}")


def _template_line(template: Template, exc: Exception) -> int | None:
    """The template line the innermost template frame of the traceback was running."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


_cache: OrderedDict[tuple[uuid.UUID, int, int], CompiledTemplate] = OrderedDict()
_cache_lock = threading.Lock()


def compile_version(version: TemplateVersion, settings: Settings) -> CompiledTemplate:
    """The compiled form of a version, from an LRU cache of the last CACHE_SIZE versions used."""
    key = (version.id, settings.render_timeout_ms, settings.render_max_bytes)
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is not None:
            _cache.move_to_end(key)
            return compiled
    compiled = CompiledTemplate(
        parts=tuple((part, _compile(part, getattr(version, part))) for part in PARTS),
        timeout_ms=settings.render_timeout_ms,
        max_chars=settings.render_max_bytes,
    )
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _compile(part: str, source: str) -> Template:
    try:
        code = _env.compile(source, name=part)
    except TemplateSyntaxError as exc:  # stored versions were checked; only a changed Jinja could get here
        raise RenderError(f"{part}, line {exc.lineno}: {exc.message}") from None
    return _env.template_class.from_code(_env, code, _env.make_globals(None), None)
