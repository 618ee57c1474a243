"""The support queue's rows, written in Python (presentation.QueueRows), read exactly as the
Jinja loop over each complaint and its standing that they replace, in every language."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from governance.complaints.presentation import LABELS, Standing, queue_rows
from governance.complaints.schemas import CATEGORIES, COMPLAINT_STATES, SEVERITIES, ComplaintSummary
from governance.web import i18n, macros, rendering

# The loop as queue.html had it: the reference for the rows' HTML.
WRITTEN_BY_JINJA = """\
    {% for item, standing in rows %}
    <tr>
      <th scope="row"><a href="/support/cases/{{ item.id }}">{{ _(labels.category[item.category]) }}</a>
        <span class="case-ref">{{ item.id|string|truncate(8, True, "") }}</span></th>
      <td>{{ forms.badge(standing.label, standing.tone) }}{% if item.next_due %}<br><span class="field__help">\
{{ _("due %(when)s", when=item.next_due|datetime) }}</span>{% endif %}</td>
      <td>{{ _(labels.state[item.state]) }}</td>
      <td>{{ _(labels.severity[item.severity]) }}</td>
      <td>{{ item.assignee or _("Nobody yet") }}</td>
      <td>{{ item.received_at|datetime }}</td>
    </tr>
    {% endfor %}
"""
WRITTEN_BY_ROWS = """\
    {% if rows %}
    {{ rows }}
    {% endif %}
"""
ENVIRONMENT = rendering.environment()
FORMS = rendering._forms_module(ENVIRONMENT.get_template(rendering.FORMS))
LANGUAGES = list(i18n.Catalogs().languages.values())

# Words with everything HTML would read otherwise, and the odd character besides.
words = st.text(alphabet=st.sampled_from("ab <>&\"'%é\u202f"), min_size=1, max_size=12)
instants = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(lambda d: d.replace(tzinfo=UTC))
complaints = st.builds(
    ComplaintSummary,
    id=st.uuids(),
    state=st.sampled_from(COMPLAINT_STATES),
    category=st.sampled_from(CATEGORIES),
    severity=st.sampled_from(SEVERITIES),
    complainant_id=st.just("mentee-1"),
    assignee=st.none() | words,
    breached=st.booleans(),
    received_at=instants,
    next_due=st.none() | instants,
)
standings = st.builds(Standing, label=words, tone=st.sampled_from([*macros.BADGE_SHAPES, "other"]))


@settings(max_examples=200)
@given(st.lists(st.tuples(complaints, standings), max_size=4), st.sampled_from(LANGUAGES))
def test_the_rows_read_as_the_jinja_loop_wrote_them(listed: list, language: i18n.Language) -> None:
    with i18n.speaking(language):
        expected = ENVIRONMENT.from_string(WRITTEN_BY_JINJA).render(rows=listed, labels=LABELS, forms=FORMS)
        written = ENVIRONMENT.from_string(WRITTEN_BY_ROWS).render(rows=queue_rows(listed))
    assert written == expected
