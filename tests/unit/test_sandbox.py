"""Templates are content, not code: the sandbox, the render budget, the campaign file's limits."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from outreach.campaign.yamlnodes import compose
from outreach.errors import Problem, ProblemsError
from outreach.rendering.checks import check_templates
from outreach.rendering.renderer import Renderer
from tests.unit.test_render import schedule, write

PATH = "templates/letter-reminder.en.j2"
LETTER = """{% block subject %}Write to the minister{% endblock %}
{% block text %}
{{ organization.name }}, {{ organization.address }}: {{ unsubscribe_url }}
INJECT
{% endblock %}
{% block post %}Act now @cafreeland{% endblock %}
{% block announcement %}Act now @cafreeland{% endblock %}
"""


def checked(tmp_path: Path, inject: str) -> list[Problem]:
    """What `check` says of the letter with `inject` on its line 4 (ProblemsError's problems
    when the folder does not even compile)."""
    folder = write(
        tmp_path,
        {
            "letter-reminder.en.j2": LETTER.replace("INJECT", inject),
            "last-call.en.j2": LETTER.replace("INJECT", ""),
        },
    )
    sched = schedule()
    try:
        renderer = Renderer(sched, folder, label="templates")
    except ProblemsError as exc:
        return exc.problems
    return check_templates(sched, renderer)


def test_the_bare_letter_passes(tmp_path: Path) -> None:
    assert checked(tmp_path, "Thank you.") == []


@pytest.mark.parametrize(
    "inject",
    [
        "{{ cycler.__init__.__globals__.os.environ.get('SENDGRID_API_KEY') }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% if false %}{{ supporter.__class__.mro() }}{% endif %}",
        "{{ joiner|attr('__init__') }}",
        "{{ namespace['__init__'] }}",
    ],
)
def test_a_template_reaching_python_internals_is_refused_at_its_line(
    tmp_path: Path, inject: str
) -> None:
    [problem] = checked(tmp_path, inject)
    assert (problem.path, problem.line) == (PATH, 4)
    assert "off limits" in problem.message


def test_an_unsafe_attribute_built_at_render_time_is_refused_by_the_sandbox(
    tmp_path: Path,
) -> None:
    inject = "{{ cycler|attr('__in' ~ 'it__')|attr('__glo' ~ 'bals__') }}"
    [problem] = checked(tmp_path, inject)
    assert (problem.path, problem.line) == (PATH, 4)
    assert "unsafe" in problem.message


def test_templates_cannot_change_what_they_are_given(tmp_path: Path) -> None:
    [problem] = checked(tmp_path, "{{ targets.__len__ }}{{ campaign.hashtags.append('x') }}")
    assert problem.line == 4


@pytest.mark.parametrize(
    ("inject", "words"),
    [
        ("{% for i in range(10**12) %}{{ i }}{% endfor %}", "range()"),
        ("{{ 'x' * 10**8 }}", "repeating"),
        ("{{ 10 ** 100000 }}", "too large"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "too long to render",
        ),
        ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "over 1,000,000"),
        ("{{ 'x'|center(100000000) }}", "1,000,000"),
        ("{{ '{:>100000000}'.format(1) }}", "1,000,000"),
    ],
)
def test_a_render_past_its_budget_is_a_problem_at_its_line(
    tmp_path: Path, inject: str, words: str
) -> None:
    [problem] = checked(tmp_path, inject)
    assert (problem.path, problem.line) == (PATH, 4), problem
    assert words in problem.message, problem


def test_an_email_over_the_size_limit_is_a_problem(tmp_path: Path) -> None:
    [problem] = checked(tmp_path, "{% for i in range(1200) %}{{ 'lorem ipsum ' * 10 }}{% endfor %}")
    assert problem.path == PATH and "limit 100,000" in problem.message


@pytest.mark.parametrize(
    "inject",
    [
        "{% if true %}" * 500 + "deep" + "{% endif %}" * 500,
        "{% for i in [1] %}" * 30 + "deep" + "{% endfor %}" * 30,
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    ],
    ids=["if", "for", "brackets"],
)
def test_deep_nesting_is_one_clean_problem(tmp_path: Path, inject: str) -> None:
    [problem] = checked(tmp_path, inject)
    assert (problem.path, problem.line) == (PATH, 4)
    assert "nested" in problem.message


def test_yaml_aliases_are_refused_with_their_line() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    with pytest.raises(ProblemsError) as caught:
        compose(laughs, "schedules.yaml")
    [problem] = caught.value.problems
    assert problem.line == 2 and "aliases" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n",
        "a:\n" + "".join("  " * depth + "k:\n" for depth in range(1, 400)),
    ],
    ids=["lists", "mappings", "blocks"],
)
def test_deeply_nested_yaml_is_one_clean_problem(text: str) -> None:
    with pytest.raises(ProblemsError) as caught:
        compose(text, "schedules.yaml")
    [problem] = caught.value.problems
    assert "nested more than" in problem.message


def test_a_reload_failing_in_any_way_keeps_the_last_campaign_and_logs_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from outreach.config import Settings
    from outreach.worker import reload

    def explode(settings: Settings) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(reload, "load_checked", explode)
    (tmp_path / "s.yaml").write_text("campaigns: {}\n")  # readable: the load itself fails
    watcher = reload.CampaignWatcher(Settings(schedules=tmp_path / "s.yaml", templates=tmp_path))
    with caplog.at_level(logging.ERROR, logger="outreach.worker.reload"):
        assert watcher.poll(force=True) is None
    [line] = [record.getMessage() for record in caplog.records]
    assert "reload refused" in line and "RecursionError" in line and "\n" not in line
