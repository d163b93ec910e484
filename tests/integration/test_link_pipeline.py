"""Links through the whole gateway: the head's lists, the review page, the command line."""
import json

from moderation.models import Post
from tests.helpers import gateway, post_id_of, submit


def test_a_post_with_a_blocked_link_cannot_be_approved_and_the_review_shows_each_link(login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    text = ("Sports day photos: https://www.bbc.co.uk/sport and our page www.gov.uk/school-holidays "
            "and http://bit.ly/3abc and https://раураl.com/login")
    post_id = post_id_of(submit(teacher, text))
    work()
    post = fetch(Post, post_id)
    verdicts = {link["host"]: link["verdict"] for link in post.links}
    assert verdicts["www.bbc.co.uk"] == "pass" and verdicts["www.gov.uk"] == "pass"
    assert verdicts["bit.ly"] == "review"
    assert [v for h, v in verdicts.items() if h not in ("www.bbc.co.uk", "www.gov.uk", "bit.ly")] == ["block"]
    assert any(f.code == "link_block" for f in post.blocking)
    page = smt.get(f"/review/{post_id}").get_data(as_text=True)
    assert "<strong>Safe</strong>" in page and "<strong>Blocked</strong>" in page and "pretending to be" in page
    assert "shortened" in page
    smt.post(f"/review/{post_id}/approve")
    assert fetch(Post, post_id).state == "awaiting_review"


def test_the_heads_lists_decide(login, work, fetch):
    head, teacher = login("head"), login("teacher")
    bad = head.post("/admin/links", {"kind": "allow", "entry": "*.sch.uk"})
    assert bad.status_code == 400
    head.post("/admin/links", {"kind": "allow", "entry": "stmarys.herts.sch.uk"})
    head.post("/admin/links", {"kind": "block", "entry": "*.bbc.co.uk"})
    page = head.get("/admin/").get_data(as_text=True)
    assert "stmarys.herts.sch.uk" in page and "*.gov.uk" in page
    post_id = post_id_of(submit(teacher, "See https://www.stmarys.herts.sch.uk/news and https://www.bbc.co.uk/news"))
    work()
    verdicts = {link["host"]: link["verdict"] for link in fetch(Post, post_id).links}
    assert verdicts == {"www.stmarys.herts.sch.uk": "pass", "www.bbc.co.uk": "block"}
    assert teacher.post("/admin/links", {"kind": "allow", "entry": "evil.example"}).status_code == 403


def test_links_from_the_command_line_and_in_gateway_check(env):
    assert gateway("links", "allow", "stmarys.herts.sch.uk").exit_code == 0
    refused = gateway("links", "allow", "herts.sch.uk")
    assert refused.exit_code == 1 and "Error:" in refused.stderr
    assert gateway("links", "block", "*.example.com").exit_code == 0
    listed = gateway("links", "list").stdout
    assert "allow\tstmarys.herts.sch.uk\tcommand line" in listed and "block\t*.example.com" in listed
    assert "allow\t*.gov.uk\tdefault list" in listed
    checked = gateway("check", "--text", "Term dates: https://www.stmarys.herts.sch.uk/dates http://127.0.0.1/admin",
                      "--json")
    assert checked.exit_code == 1
    body = json.loads(checked.stdout)
    assert [(link["host"], link["verdict"]) for link in body["links"]] == [
        ("www.stmarys.herts.sch.uk", "pass"), ("127.0.0.1", "block")]
    assert all(set(link) >= {"url", "host", "verdict", "reasons"} for link in body["links"])


def test_a_bad_school_domain_stops_the_gateway_at_start_up(env):
    listed = gateway("links", "list", env={"SCHOOL_DOMAINS": "StMarys.Herts.sch.uk"})
    assert listed.exit_code == 0 and "allow\tstmarys.herts.sch.uk\tSCHOOL_DOMAINS setting" in listed.stdout
    refused = gateway("links", "list", env={"SCHOOL_DOMAINS": "www.bbc.co.uk, herts.sch.uk"})
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith("gateway: SCHOOL_DOMAINS: “herts.sch.uk” is shared by many different owners")
