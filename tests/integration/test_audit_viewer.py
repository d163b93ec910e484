"""The audit viewer: names rather than ids, words rather than JSON, filters by who, what, post, person and dates,
and the same entries as a CSV file (issue 18)."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from tests.helpers import post_id_of, submit


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_entries_show_names_and_words_and_filter_by_post_who_what_and_date(login, work):
    teacher, smt = login("teacher"), login("smt")
    first = post_id_of(submit(teacher, "Sports day was great"))
    second = post_id_of(submit(teacher, "The choir sang beautifully"))
    work()
    smt.post(f"/review/{first}/reject", {"reason": "Not this week, thank you"})

    page = smt.get(f"/audit?post={first}").get_data(as_text=True)
    assert "Tara Teacher (teacher@demo.school)" in page and "user:" not in page
    assert "reason: Not this week, thank you" in page and "{&#34;" not in page
    assert f"post:{first}" in page and f"post:{second}" not in page

    rejected = smt.get("/audit?what=reject").get_data(as_text=True)
    assert f"post:{first}" in rejected and "<td>post saved</td>" not in rejected
    by_name = smt.get("/audit?who=tara&what=submitted").get_data(as_text=True)
    assert f"post:{first}" in by_name and f"post:{second}" in by_name
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert "The newest 300 entries that match: none" in smt.get(f"/audit?since={tomorrow}").get_data(as_text=True)
    assert f"post:{first}" in smt.get(f"/audit?until={tomorrow}&post={first}").get_data(as_text=True)


def test_the_csv_holds_the_filtered_entries(login, work):
    teacher, smt = login("teacher"), login("smt")
    post_id = post_id_of(submit(teacher, "Sports day was great"))
    work()
    page_rows = smt.get(f"/audit?post={post_id}").get_data(as_text=True).count(f"<td>post:{post_id}</td>")
    response = smt.get(f"/audit.csv?post={post_id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response)
    assert rows[0] == ["#", "when (UTC)", "who", "what", "about", "details"]
    assert len(rows) - 1 == page_rows >= 2 and {r[4] for r in rows[1:]} == {f"post:{post_id}"}
    assert any(r[2] == "Tara Teacher (teacher@demo.school)" and r[3] == "submitted" for r in rows[1:])
    assert login("teacher").get(f"/audit.csv?post={post_id}").status_code == 403


def test_a_wrong_filter_is_said_in_words(login):
    smt = login("smt")
    page = smt.get("/audit?since=31/12/2026&post=twelve").get_data(as_text=True)
    assert "is not a date" in page and "A post is given by its number" in page
    assert smt.get("/audit.csv?since=nonsense").status_code == 400
