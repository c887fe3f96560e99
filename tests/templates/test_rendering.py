"""The sandboxed renderer the sending pipeline uses: escaping, missing placeholders, the sandbox, every limit."""

import uuid

import pytest

from emailplatform.config import Settings
from emailplatform.errors import Invalid
from emailplatform.models import TemplateVersion
from emailplatform.templates import rendering
from emailplatform.templates.rendering import Rendered, RenderError

# Each limit test meets one limit: a generous deadline keeps a slow machine from meeting the clock first.
SETTINGS = Settings(render_timeout_ms=60_000)


def compiled(html: str, subject: str = "Subject", text: str = "Text", settings: Settings = SETTINGS):
    version = TemplateVersion(id=uuid.uuid4(), subject=subject, html=html, text=text)
    return rendering.compile_version(version, settings)


def render_error(html: str, data: dict | None = None, settings: Settings = SETTINGS) -> RenderError:
    with pytest.raises(RenderError) as caught:
        compiled(html, settings=settings).render(data or {})
    return caught.value


def test_html_is_escaped_subject_and_text_are_not():
    template = compiled("<p>{{ name }}</p>", subject="Hi {{ name }}\n\tthere", text="Hi {{ name }}")
    rendered = template.render({"name": "<Tom & Jerry>"})
    assert rendered == Rendered(
        subject="Hi <Tom & Jerry> there", html="<p>&lt;Tom &amp; Jerry&gt;</p>", text="Hi <Tom & Jerry>"
    )


def test_a_compiled_version_is_cached_by_its_id():
    version = TemplateVersion(id=uuid.uuid4(), subject="S", html="<p>{{ x }}</p>", text="T")
    first = rendering.compile_version(version, SETTINGS)
    assert rendering.compile_version(version, SETTINGS) is first
    assert first.render({"x": "1"}).html == "<p>1</p>"


def test_a_missing_placeholder_is_named_with_its_part_and_line():
    error = render_error("<p>\n{{ first_name }}</p>")
    assert error.placeholder == "first_name"
    assert error.reason == "html, line 2: the placeholder 'first_name' has no value"


def test_defined_checks_make_a_placeholder_optional():
    template = compiled("{% if nickname is defined %}{{ nickname }}{% else %}friend{% endif %}")
    assert template.render({}).html == "friend"
    assert template.render({"nickname": "Bo"}).html == "Bo"


@pytest.mark.parametrize(
    "html",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ range.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% set l = [] %}{{ l.append(1) }}",
    ],
)
def test_the_sandbox_refuses_unsafe_access(html):
    assert "unsafe" in render_error(html).reason


def test_includes_and_lipsum_are_not_available():
    assert render_error("{{ lipsum(1000000) }}").placeholder == "lipsum"
    with pytest.raises(Invalid, match="cannot include"):
        rendering.placeholders({"html": "{% import 'x' as y %}"})


@pytest.mark.parametrize(
    "html",
    [
        "{{ 'a' * 10**9 }}",
        "{{ [1, 2] * 10**9 }}",
        "{% set s = 'x' * 100000 %}{{ s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + "
        "s + s }}",
        "{{ '%999999999s' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:>{w}}'.format(1, w=999999999) }}",
        "{{ '%s'|format('x') * 3000000 }}",
        "{% set s = 'x' * 100000 %}{{ s|replace('x', s) }}",
        "{% set s = 'x' * 100000 %}{{ s.replace('x', s) }}",
        "{% set s = 'x' * 100000 %}{{ range(1000)|join(s) }}",
        "{% set s = 'x' * 100000 %}{{ s.join(range(1000)|map('string')) }}",
        "{{ 'x'.center(999999999) }}",
        "{{ 'x'.ljust(999999999) }}",
        "{% set s = 'x\n' * 100000 %}{{ s|indent(100) }}",
        "{% set s = 'x' * 100000 %}{% set b %}{% for i in range(100) %}{{ s }}{% endfor %}{% endset %}{{ b }}",
        "{% set s = 'x' * 100000 %}{% macro m() %}{% for i in range(100) %}{{ s }}{% endfor %}{% endmacro %}{{ m() }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{{ [['x' * 1000] * 1000] * 1000 }}",
    ],
)
def test_a_value_larger_than_the_output_limit_is_never_built(html):
    assert "larger than the 2097152 characters allowed" in render_error(html).reason


def test_output_size_is_bounded():
    small = Settings(render_max_bytes=1024)
    assert (
        "output is larger than the 1024 characters allowed"
        in render_error("{% for i in range(100) %}<p>{{ i }} and some more text</p>{% endfor %}", settings=small).reason
    )
    assert len(compiled("{{ 'x' * 1000 }}", settings=small).render({}).html) == 1000


def test_render_time_is_bounded():
    quick = Settings(render_timeout_ms=1)
    error = render_error("{% for i in range(400000) %}{% if i is even %}{% endif %}{% endfor %}", settings=quick)
    assert "took longer than the 1 ms allowed" in error.reason


def test_render_time_is_bounded_inside_calls():
    quick = Settings(render_timeout_ms=1)
    html = "{% set s = 'x' * 1000000 %}{% for i in range(2000) %}{% set t = s.upper() %}{% endfor %}"
    assert "took longer than the 1 ms allowed" in render_error(html, settings=quick).reason


@pytest.mark.parametrize(
    "html",
    [
        "{% for i in range(10**7) %}{% endfor %}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "{% set s = 'x' * 1000000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "{{ [1]|batch(10**8)|list }}",
        "{% for i in range(200) %}{{ range(9000)|map('string')|join(',')|length }}{% endfor %}",
    ],
)
def test_iterations_are_bounded(html):
    assert "loop iterations allowed" in render_error(html).reason


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("{{ range(10**6)|map('string')|join(',') }}", "a filter was given 1000000 items; at most 10000 are allowed"),
        ("{{ range(999999)|list|groupby('real')|list|length }}", "a filter was given 999999 items"),
        ('{% set s="a"*2000000 %}{{ (s|list|sort)|length }}', "a filter was given 2000000 items"),
        ("{{ (range(20000)|list)[:5] }}", "a filter was given 20000 items"),
        ("{{ ('x' * 20000)|unique|list }}", "a filter was given 20000 items"),
        ("{{ ('a ' * 50000)|wordwrap }}", "a filter was given 100000 characters; at most 65536 are allowed"),
        ("{{ ('a ' * 50000)|title }}", "a filter was given 100000 characters"),
    ],
)
def test_one_filter_call_is_bounded_by_its_input(html, reason):
    assert reason in render_error(html).reason


def test_collection_filters_work_within_their_bounds():
    html = "{{ range(10000)|list|sort|last }} {{ [3, 1, 2]|sort|join(',') }} {{ range(5)|map('string')|join('-') }}"
    assert compiled(html).render({}).html == "9999 1,2,3 0-1-2-3-4"


def test_numbers_are_bounded():
    assert "more than 4096 bits" in render_error("{{ 10 ** 100000 }}").reason
    assert "more than 4096 bits" in render_error("{% set n = 10 ** 1000 %}{{ n * n * n * n * n }}").reason
    assert compiled("{{ 2 ** 64 }}").render({}).html == str(2**64)


def test_recursion_is_a_render_error():
    assert "recurses too deeply" in render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").reason


def test_other_template_failures_are_render_errors():
    assert "division by zero" in render_error("{{ 1 / 0 }}").reason
    assert "html, line 1" in render_error("{{ 'a' + 1 }}").reason


def test_placeholders_are_the_undeclared_names_sorted():
    names = rendering.placeholders(
        {
            "subject": "Hi {{ first_name }}",
            "html": "{% set greeting = 'Hi' %}{% for item in items %}{{ greeting }} {{ item }}{% endfor %}"
            "{{ range(3)|list }}{{ email }}",
            "text": "{{ company }}",
        }
    )
    assert names == ["company", "email", "first_name", "items"]


def test_a_source_that_does_not_compile_names_its_part_and_line():
    with pytest.raises(Invalid) as caught:
        rendering.placeholders({"subject": "S", "text": "a\nb\n{{ x + }}"})
    assert caught.value.field == "text"
    assert caught.value.message.startswith("line 3: ")
