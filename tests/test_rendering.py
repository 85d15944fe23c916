"""Model output shown in a notebook is text, whatever it contains: every renderer escapes it.

(Tables shown by pandas itself, a DataFrame as a cell's last line, are escaped by pandas and
cut to 50 characters a cell; the notebooks show completions through the lab's renderers.)"""

from html.parser import HTMLParser

import pandas as pd
import pytest
from rlvr import lab

HOSTILE = [
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "</td></tr></table><h1>not a table any more</h1>",
    "\x1b[31mred\x1b[0m and a NUL \x00 and a right-to-left override \u202e",
    "9 * 10 = 90. " * 80_000,  # a megabyte line
    "\\boxed{15} & \"quoted\" 'single'",
]
TABLE_TAGS = {"table", "thead", "tbody", "tr", "th", "td", "style", "i"}


class Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.text = set(), set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data):
        self.text.append(data)


def parsed(markup: str) -> Markup:
    parser = Markup()
    parser.feed(markup)
    return parser


def rollouts() -> pd.DataFrame:
    return pd.DataFrame({"step": [1] * len(HOSTILE), "example_id": [f"ex{i}" for i in range(len(HOSTILE))],
                         "correct": [False] * len(HOSTILE), "completion": HOSTILE})


def rendered() -> dict[str, str]:
    """The HTML each renderer of completions produces for the hostile rollouts."""
    box = lab.rollout_browser(rollouts(), n=len(HOSTILE))
    return {
        "rollouts_html": lab.rollouts_html(rollouts()),
        "show_rollouts": lab.show_rollouts(rollouts()).data,
        "rollout_browser": box.children[1].value,  # the slider's table (the static one is show_rollouts')
    }


@pytest.mark.parametrize("renderer", ["rollouts_html", "show_rollouts", "rollout_browser"])
def test_hostile_completions_are_shown_as_text_by_every_renderer(renderer):
    markup = rendered()[renderer]
    found = parsed(markup)
    assert found.tags <= TABLE_TAGS, found.tags - TABLE_TAGS  # no <script>, <img>, <h1>
    assert "onerror" not in found.attributes
    text = "".join(found.text)
    assert "<script>alert('x')</script>" in text and "</table><h1>" in text  # shown as written
    assert "\x1b" not in markup and "\x00" not in markup and "\u202e" not in markup
    assert len(markup) < 50_000  # the megabyte line is cut


def test_the_lab_renderers_show_a_control_character_as_its_escape_and_count_what_they_cut():
    text = "".join(parsed(lab.rollouts_html(rollouts())).text)
    assert "\\x1b[31mred" in text and "\\x00" in text and "\\u202e" in text
    assert f"[{len(HOSTILE[4]) - lab.TEXT_LIMIT:,} more characters]" in text
    assert lab.text_html("line one\n\tline two") == "line one\n\tline two"  # layout kept
