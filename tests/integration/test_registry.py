"""The consent registry's imports, command line and pages."""
import io

from sqlalchemy import func, select

from consent_registry.models import BiometricConsent, Person, PhotoConsent
from tests.registry import CSV, HEADER, ROWS
from tests.shared_fixtures import fixture_path
from tests.helpers import WITHDRAWAL, gateway


def counts(read):
    return read(lambda s: tuple(s.scalar(select(func.count()).select_from(m))
                                for m in (Person, PhotoConsent, BiometricConsent)))


def test_a_file_with_errors_reports_every_bad_row_and_imports_nothing(env, read, tmp_path):
    bad = [HEADER, ROWS[0],
           "P010,pupil,Amelia,Smith,,Year 4,granted,Jo Smith (mother),2026-13-01,,,,,",
           "P011,pupil,Jacob,Jones,,Year 4,maybe,Al Jones (father),2026-09-01,,,,,",
           ROWS[1].replace("P002", "P001")]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(bad) + "\n")
    result = gateway("people", "import", str(path))
    assert result.exit_code == 1
    assert "row 3: social_consent_date '2026-13-01' is not a date as YYYY-MM-DD" in result.stderr
    assert "row 4: social_consent must be one of granted, refused, withdrawn or empty, not 'maybe'" in result.stderr
    assert "row 5: mis_id P001 is also on row 2" in result.stderr
    assert "3 problem(s); nothing was imported" in result.stderr
    assert counts(read) == (0, 0, 0)


def test_importing_the_same_file_twice_changes_nothing_the_second_time(env, read, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    dry = gateway("people", "import", str(path), "--dry-run")
    assert dry.exit_code == 0 and "dry run: 14 change(s) would be made" in dry.stdout
    assert counts(read) == (0, 0, 0)
    first = gateway("people", "import", str(path))
    assert first.exit_code == 0 and "imported: 14 change(s)" in first.stdout
    after_first = counts(read)
    assert after_first == (5, 5, 4)
    second = gateway("people", "import", str(path))
    assert second.exit_code == 0 and "imported: 0 change(s)" in second.stdout
    assert counts(read) == after_first
    changed = CSV.replace("P003,staff,Alex,Lacamoire,,,granted", "P003,staff,Alex,Lacamoire,,,withdrawn")
    path.write_text(changed)
    third = gateway("people", "import", str(path))
    assert "P003 Alex Lacamoire: social media photo consent withdrawn" in third.stdout
    assert counts(read) == (5, 6, 4)


def test_enrol_show_and_withdraw_from_the_command_line(env, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    assert gateway("people", "import", str(path)).exit_code == 0
    enrolled = gateway("people", "enrol", "P001", str(fixture_path("faces/obama_1.jpg")),
                       str(fixture_path("faces/obama_2.jpg")))
    assert enrolled.exit_code == 0 and "2 template(s) added, 2 in all" in enrolled.stdout
    two_faces = gateway("people", "enrol", "P003", str(fixture_path("faces/group_two_people.jpg")))
    assert two_faces.exit_code == 1 and "must show exactly one face; 2 were found" in two_faces.stderr
    no_consent = gateway("people", "enrol", "P005", str(fixture_path("faces/kit_harington_1.jpg")))
    assert no_consent.exit_code == 1 and "cannot be enrolled: no biometric consent" in no_consent.stderr
    shown = gateway("people", "show", "P001").stdout
    assert "social media photos: written consent on record" in shown and "templates: 2" in shown
    withdrawn = gateway("people", "withdraw", "P001", "--consent", "biometric", "--asked-by", "Mrs Parent", "--how", "by letter")
    assert withdrawn.exit_code == 0 and "face templates kept: 0" in withdrawn.stdout
    assert "face recognition: biometric consent withdrawn; templates: 0" in gateway("people", "show", "P001").stdout
    assert gateway("people", "show", "P999").exit_code == 1


def test_the_consent_officer_imports_with_a_preview_and_teachers_cannot_see_the_registry(login, read):
    office, teacher, smt = login("consent_officer"), login("teacher"), login("smt")
    for client in (teacher, smt):
        assert client.get("/people/").status_code == 403
        assert client.get("/people/import").status_code == 403
    office.get("/people/import")
    preview = office.post("/people/import", {"file": (io.BytesIO(CSV.encode()), "mis.csv")},
                          content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "P002 Joe Biden: social media photo consent refused" in page
    assert counts(read) == (0, 0, 0)
    token = page.split('/people/import/')[1].split('"')[0]
    office.post(f"/people/import/{token}")
    assert counts(read) == (5, 5, 4)
    assert office.post(f"/people/import/{token}").status_code == 303  # a preview is used once

    bad = office.post("/people/import", {"file": (io.BytesIO((HEADER + "\nP1,alien,A,B,,,,,,,,,,\n").encode()), "x.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and "row 2: kind must be pupil or staff, not &#39;alien&#39;" in bad.get_data(as_text=True)

    found = office.get("/people/?q=biden").get_data(as_text=True)
    assert "Joe Biden" in found and "consent refused" in found and "Barack Obama" not in found
    person = office.get("/people/person?mis_id=P001").get_data(as_text=True)
    assert "May appear" in person and "Barack Obama" in person
    office.post("/people/person/photo?mis_id=P001", {"status": "refused", "given_by": "Barack Obama",
                                                     "given_on": "2026-11-01", "evidence": "email 12/11"})
    person = office.get("/people/person?mis_id=P001").get_data(as_text=True)
    assert "Must not appear" in person and "email 12/11" in person and "granted" in person  # history kept
    wrong = office.post("/people/person/photo?mis_id=P001", {"status": "granted", "given_on": "1 Nov"})
    assert wrong.status_code == 303
    assert "is not a date" in office.get("/people/person?mis_id=P001").get_data(as_text=True)


def test_enrolment_through_the_person_page(login, read):
    office = login("consent_officer")
    office.get("/people/import")
    page = office.post("/people/import", {"file": (io.BytesIO(CSV.encode()), "mis.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    token = page.split("/people/import/")[1].split('"')[0]
    office.post(f"/people/import/{token}")
    photos = [(io.BytesIO(fixture_path(f"faces/obama_{n}.jpg").read_bytes()), f"obama_{n}.jpg") for n in (1, 2)]
    office.post("/people/person/enrol?mis_id=P001", {"photos": photos}, content_type="multipart/form-data")
    assert "Enrolled photos: 2" in office.get("/people/person?mis_id=P001").get_data(as_text=True)
    office.post("/people/person/withdraw/biometric?mis_id=P001", WITHDRAWAL)
    assert "Enrolled photos: 0" in office.get("/people/person?mis_id=P001").get_data(as_text=True)
