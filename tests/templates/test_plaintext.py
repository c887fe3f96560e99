"""The text part derived from an HTML template when a version is given without one."""

from emailplatform.templates.plaintext import text_from_html

HTML = """<!doctype html>
<html><head><title>Offer</title><style>p { color: red }</style></head>
<body>
  <h1>Hello {{ first_name }}</h1>
  <p>Your order   &amp; more.<br>Second line</p>
  {% if vip %}<p>VIP: <a href="{{ url }}">see here</a></p>{% endif %}
  <ul><li>one</li><li>two</li></ul>
  <a href="https://example.com">https://example.com</a>
  <script>alert(1)</script>
  <table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
  <img src="x.png" alt="Logo">
</body></html>"""


def test_text_keeps_jinja_tags_links_and_line_structure():
    assert text_from_html(HTML) == (
        "Hello {{ first_name }}\n\n"
        "Your order & more.\nSecond line\n\n"
        "{% if vip %}\n\nVIP: see here ({{ url }})\n\n{% endif %}\n\n"
        "- one\n- two\n\n"
        "https://example.com\n\n"
        "a b\nc d\n\n"
        "Logo\n"
    )


def test_plain_fragments():
    assert text_from_html("Hi {{ name }}") == "Hi {{ name }}\n"
    assert text_from_html('<a href="#top">top</a> <a href="mailto:a@b.example"></a>') == "top mailto:a@b.example\n"
