"""Sites dressed up as one on the school's allow list block the post, and the message names the site imitated; real
parts of allowed sites and honest sites that share a word do not. The default allow list and the school's own
domain, as a school's policy has them."""
from __future__ import annotations

import pytest

from moderation.findings import BLOCK
from workers.checks.links import DEFAULT_ALLOW, LinkPolicy, check_link

SCHOOL = "stmarys.herts.sch.uk"
POLICY = LinkPolicy(allow=DEFAULT_ALLOW + (SCHOOL,))


def idna(host: str) -> str:
    """A host with letters of another alphabet as a browser sends it."""
    return host.encode("idna").decode()


# (link, the allowed site it imitates as the message shows it, the site it really is)
FROM_THE_ISSUE = [
    ("http://bbc.co.uk.evil-login.com/login", "www.bbc.co.uk", "evil-login.com"),
    ("https://www.bbc.co.uk.attacker.net/news", "www.bbc.co.uk", "attacker.net"),
    ("https://www.gov.uk.account-verify.com/login", "www.gov.uk", "account-verify.com"),
    ("https://bbc-co-uk.com/news", "www.bbc.co.uk", "bbc-co-uk.com"),
    ("https://www-gov-uk.net/renew", "www.gov.uk", "www-gov-uk.net"),
    ("https://www.bbcc.co.uk/news", "www.bbc.co.uk", "bbcc.co.uk"),
    ("https://g0v.uk/", "www.gov.uk", "g0v.uk"),
    ("http://bbc.co.uk.evil.example/login", "www.bbc.co.uk", "evil.example"),
]
EMBEDDED = [
    ("https://www.nhs.uk-login.com/", "www.nhs.uk", "uk-login.com"),
    ("https://www.thinkuknow.co.uk.secure-login.net/parents", "www.thinkuknow.co.uk", "secure-login.net"),
    ("https://police.uk.verify-id.com/report", "www.police.uk", "verify-id.com"),
    (f"https://{SCHOOL}.newsletter-signup.com/", SCHOOL, "newsletter-signup.com"),
    ("https://www.saferinternet.org.uk.co/", "www.saferinternet.org.uk", "uk.co"),
]
DASHED = [
    (f"https://{SCHOOL.replace('.', '-')}.com/", SCHOOL, "stmarys-herts-sch-uk.com"),
    ("https://nhs-uk.org/appointments", "www.nhs.uk", "nhs-uk.org"),
    ("https://bbccouk.com/", "www.bbc.co.uk", "bbccouk.com"),
    ("https://login-gov-uk.com/", "www.gov.uk", "login-gov-uk.com"),
    ("https://www.nspcc-org-uk.co/donate", "www.nspcc.org.uk", "nspcc-org-uk.co"),
    ("https://wwwbbccouk.com/", "www.bbc.co.uk", "wwwbbccouk.com"),
]
ONE_EDIT = [
    ("https://www.nsppc.org.uk/", "www.nspcc.org.uk", "nsppc.org.uk"),  # two letters swapped
    ("https://www.childl1ne.org.uk/", "www.childline.org.uk", "childl1ne.org.uk"),  # a digit for a letter
    ("https://www.ucass.com/apply", "www.ucas.com", "ucass.com"),  # a letter added
    ("https://www.bc.co.uk/", "www.bbc.co.uk", "bc.co.uk"),  # a letter dropped
    ("https://www.sciencemusuem.org.uk/", "www.sciencemuseum.org.uk", "sciencemusuem.org.uk"),  # swapped
    ("https://parliarnent.uk/", "www.parliament.uk", "parliarnent.uk"),  # "rn" for "m"
    ("https://www.britishmuseurn.org/", "www.britishmuseum.org", "britishmuseurn.org"),
    ("https://www.thinkuknow.co.uk.com/", "www.thinkuknow.co.uk", "co.uk.com"),  # uk.com sells names under it
]
GOV, BBC, NHS, NSPCC = "g\u043ev.uk", "bb\u0441.co.uk", "n\u04bbs.uk", "n\u0455pcc.org.uk"
HOMOGLYPHS = [  # Cyrillic о, с, һ and ѕ for Latin o, c, h and s
    (f"https://{idna(GOV)}/", "www.gov.uk", GOV),
    (f"https://www.{idna(BBC)}/news", "www.bbc.co.uk", BBC),
    (f"https://{idna(NHS)}/", "www.nhs.uk", NHS),
    (f"https://www.{idna(NSPCC)}/", "www.nspcc.org.uk", NSPCC),
]
LOOKALIKES = FROM_THE_ISSUE + EMBEDDED + DASHED + ONE_EDIT + HOMOGLYPHS

# honest sites that share a word, an ending or most letters with an allowed one, and real parts of allowed sites
NEIGHBOURS = [
    "https://nhsinform.scot/illnesses-and-conditions",
    "https://uk.news.yahoo.com/",
    "https://www.nhs.net/",
    "https://www.gov.scot/",
    "https://www.gov.ie/en/",
    "https://www.bbcgoodfood.com/recipes",
    "https://abc.com/",
    "https://www.nbc.com/",
    "https://www.ucl.ac.uk/",
    "https://www.ucas.ac.uk/",
    "https://www.saferinternet.org/",
    "https://www.childnet.com/",
    "https://www.parliament.scot/",
    "https://www.sciencemuseumgroup.org.uk/",
    "https://www.nationalgallery.org.uk/",
    "https://www.stmarys-herts.org.uk/",
]
REAL_PARTS = [
    "https://news.bbc.co.uk/",
    "https://www.bbc.co.uk/news",
    "https://reports.ofsted.gov.uk/",
    f"https://www.{SCHOOL}/news",
]


def test_enough_lookalikes_and_neighbours():
    assert len(LOOKALIKES) - len(FROM_THE_ISSUE) >= 10
    assert all(len(kind) >= 4 for kind in (EMBEDDED, DASHED, ONE_EDIT, HOMOGLYPHS))
    assert len(NEIGHBOURS) >= 10


@pytest.mark.parametrize("link, imitated, really", LOOKALIKES, ids=[case[0] for case in LOOKALIKES])
def test_a_lookalike_of_an_allowed_site_blocks_and_names_it(link, imitated, really):
    result = check_link(link, POLICY)
    assert result.verdict == BLOCK
    assert f"it looks like {imitated} but is {really}, a different site made to be mistaken for it" in result.reasons
    assert not any("private network" in reason for reason in result.reasons)


@pytest.mark.parametrize("link", NEIGHBOURS + REAL_PARTS)
def test_honest_neighbours_and_real_parts_of_allowed_sites_are_not_lookalikes(link):
    result = check_link(link, POLICY)
    assert result.verdict != BLOCK, result.reasons
    assert not any("looks like" in reason for reason in result.reasons)


def test_the_schools_own_domain_is_protected_only_in_its_policy():
    """A look-alike of the school's domain is one only for the school that has it on its list."""
    assert check_link("https://stmarys-herts-sch-uk.com/", LinkPolicy(allow=DEFAULT_ALLOW)).verdict != BLOCK


def test_a_site_the_school_allows_is_never_a_lookalike():
    policy = LinkPolicy(allow=DEFAULT_ALLOW + ("bbc-co-uk.com",))
    assert check_link("https://bbc-co-uk.com/news", policy).verdict == "pass"


def test_private_network_messages_only_for_private_names():
    unknown = check_link("https://intranet.school.example/", POLICY)
    assert unknown.verdict == BLOCK
    assert unknown.reasons == ["intranet.school.example does not end in a real internet ending (“.example” is not "
                               "one), so it cannot be a public web site"]
    for link in ("https://printer.lan/", "https://nas.home/", "https://files.corp/", "http://localhost/"):
        assert any("private network" in reason for reason in check_link(link, POLICY).reasons), link
