"""Personal data in a post's text or alt text: each one found is a `block` finding.

Policy §6: staff must not "allow personally identifying information to be published on school
media accounts". What is looked for, and what is deliberately left alone:

- phone numbers: `phonenumbers.PhoneNumberMatcher` (region GB, numbers it judges valid: UK
  national "0117 496 0123", international "+44 20 7946 0958", "0044 ...", other countries'
  "+1 415 ..."), and any other UK-shaped number (0 or +44 and 10 digits, e.g. a mobile in a range
  not yet allocated). Scores, times, years and prices are not phone numbers.
- e-mail addresses, also written "name (at) example.org" / "name [at] example [dot] org".
- UK postcodes (the full postcode: outward and inward code, "BS30 8AB", "sw1a 1aa"; a district
  such as "BS30" alone is not personal); "Y4 1st" is not a postcode.
- street addresses: a house number followed by one to three capitalised words and a street word
  (Road, Street, Lane, Avenue, Close, Drive, Way, Crescent, Gardens, Grove, Place, Terrace...);
  "Year 6", "Room 12", "Class 3", "Table 4" before a number are not house numbers.
- dates of birth: "born on 3 March 2016", "born 03/03/2016", "DOB: ...", "d.o.b. ...", "date of
  birth ...", "birthday is on 3 March", "turns 7 on 3 March", "7th birthday on 3 March", "7 years
  old on ...". A date alone ("on 30 March") or an age alone ("her 7th birthday today") is not.
- record numbers: a UPN (a letter and 12 digits, "A123456789012", or a temporary UPN ending in a
  letter), anything labelled UPN/ULN/UCI/pupil number/admission number/candidate number/NHS
  number, an NHS-style "485 777 3456", and any run of 7 or more digits that is not a phone number,
  a price or part of a link.

Messages say what was found and where; the evidence holds the kind and the span, never the
value itself (findings may be logged).
"""
from __future__ import annotations

import re
import warnings

from phonenumbers import Leniency, PhoneNumberMatcher

from moderation.findings import BLOCK, Finding

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import extract_urls_with_indices

__all__ = ["find_personal_data"]

WHAT = {
    "phone": "a phone number",
    "email": "an e-mail address",
    "postcode": "a postcode",
    "address": "a street address (a house number and street)",
    "date_of_birth": "a date of birth",
    "id": "a pupil or record number (such as a UPN)",
}
WHY = {
    "phone": "phone numbers must not be published on school accounts (for the school's own, link to the website instead)",
    "email": "e-mail addresses must not be published on school accounts (for the school's own, link to the website instead)",
}
DEFAULT_WHY = "personal details must not be published on school accounts"

# --- phone numbers ---------------------------------------------------------------------------------
_UK_SHAPED_PHONE = re.compile(
    r"(?<![\w+£$€])(?:\+44\s?(?:\(0\)\s?)?|0044\s?|\(?0)\d{2,4}\)?(?:[\s-]?\d){6,8}(?!\d)")

# --- e-mail --------------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*\.[^\W\d_]{2,}\b")
_EMAIL_SPELT = re.compile(
    r"\b[\w.+-]+\s*[\[(]\s*at\s*[\])]\s*[\w-]+(?:\s*(?:\.|[\[(]\s*dot\s*[\])])\s*[\w-]+)+", re.IGNORECASE)

# --- postcodes -------------------------------------------------------------------------------------
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|(?:[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?))\s?"
    r"[0-9](?P<tail>[ABD-HJLNP-UW-Z]{2}))\b", re.IGNORECASE)
_ORDINALS = {"st", "nd", "rd", "th"}

# --- street addresses ---------------------------------------------------------------------------------
_STREET_WORDS = (
    "Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Drive|Dr|Way|Crescent|Cres|Gardens|Gdns|Grove|Place|Pl|"
    "Terrace|Court|Ct|Square|Sq|Mews|Row|Walk|Rise|Parade|Vale|Hill|Chase|Croft|Meadow|Meadows|Mead|"
    "Orchard|Cottages|Boulevard|Wharf|Gate|Hollow|Brow|Wynd|Copse|Dell|Glade|Nook")
_ADDRESS = re.compile(
    r"(?<![\w£$€/.,:-])(?:(?:[Ff]lat|[Aa]partment|[Aa]pt|[Uu]nit)\s+\d+[A-Za-z]?,?\s+)?"
    r"\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][a-z'\u2019-]+\s+){1,3}(?:" + _STREET_WORDS + r")\b\.?")
_NOT_A_HOUSE_NUMBER = re.compile(
    r"(?:\b(?:year|yr|y|room|class|group|table|set|team|level|stage|page|chapter|number|no|platform|bus|"
    r"route|top|under|u|aged?|ages|ks|key stage|lesson|week|day|term|grade|size|score|scored|beat|won|lost|"
    r"drew|row|seat|gate|pitch|court|lane|stand|block|zone|step|part|unit|book|box|question|q)\.?\s*)$",
    re.IGNORECASE)

# --- dates of birth --------------------------------------------------------------------------------
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_DATE = (
    rf"{_WEEKDAY}(?:the\s+)?(?:"
    rf"{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+(?:the\s+)?{_DAY}(?:,?\s+{_YEAR})?"
    rf"|\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})"
    rf"|{_YEAR}-\d\d-\d\d"
    rf"|{_MONTH}\s+{_YEAR})(?![\w/])"
)
_AGE = r"(?:1\d|0?[1-9]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen)"
_AGE_ORD = (r"(?:\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
            r"eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth)")
_ON = r"(?:is\s+|was\s+|will\s+be\s+|falls\s+)?(?:on\s+)?"
_DOB = re.compile(
    r"(?:"
    rf"\bborn\s+(?:on\s+|in\s+)?{_DATE}"
    rf"|(?:\bd\.?\s?o\.?\s?b\b\.?|\bdate\s+of\s+birth|\bbirth\s*date|\bbirthday)\s*(?::|-|\u2013)?\s*{_ON}{_DATE}"
    rf"|\bturn(?:s|ed|ing)?\s+{_AGE}\s+(?:years?\s+old\s+)?(?:on\s+)?{_DATE}"
    rf"|\b{_AGE}\s+years?\s+old\s+on\s+{_DATE}"
    rf"|\b{_AGE_ORD}\s+birthday\s+{_ON}{_DATE}"
    r")", re.IGNORECASE)

# --- record numbers ------------------------------------------------------------------------------------
_UPN = re.compile(r"\b[A-Za-z]\d{12}\b|\b[A-Za-z]\d{11}[A-Za-z]\b")
_LABELLED_ID = re.compile(
    r"\b(?:UPN|ULN|UCI|(?:pupil|student|admission|candidate|MIS|NHS|enrolment|exam)\s+(?:number|no\b\.?|id\b))"
    r"\s*[:#-]?\s*(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{2,}(?: \d{2,})*", re.IGNORECASE)
_NHS_STYLE = re.compile(r"(?<![\d£$€.,])[1-9]\d{2} \d{3} \d{4}(?![\d.,])")
_LONG_DIGITS = re.compile(r"(?<![\d£$€.,/:])\d{7,}(?![\d.,/:])")


def find_personal_data(text: str, subject: str) -> list[Finding]:
    """Block findings for phone numbers, e-mail addresses, postcodes, addresses, dates of birth and IDs."""
    found: list[tuple[int, int, str]] = []
    links = [tuple(u["indices"]) for u in extract_urls_with_indices(text)]

    def in_link(s: int, e: int) -> bool:
        return any(ls <= s and e <= le for ls, le in links)

    def overlaps(s: int, e: int, kinds: tuple[str, ...]) -> bool:
        return any(k in kinds and s < fe and fs < e for fs, fe, k in found)

    # e-mail first, so the digits of an address are not read as a phone number or an ID
    for m in _EMAIL.finditer(text):
        found.append((m.start(), m.end(), "email"))
    for m in _EMAIL_SPELT.finditer(text):
        if not overlaps(m.start(), m.end(), ("email",)):
            found.append((m.start(), m.end(), "email"))

    for match in PhoneNumberMatcher(text, "GB", leniency=Leniency.VALID):
        if not in_link(match.start, match.end) and not overlaps(match.start, match.end, ("email",)):
            found.append((match.start, match.end, "phone"))
    for m in _UK_SHAPED_PHONE.finditer(text):
        if not in_link(m.start(), m.end()) and not overlaps(m.start(), m.end(), ("email", "phone")):
            digits = re.sub(r"\D", "", m.group())
            national = digits[2:] if digits.startswith("44") else digits[4:] if digits.startswith("0044") else digits[1:]
            if len(national) == 10:
                found.append((m.start(), m.end(), "phone"))

    for m in _POSTCODE.finditer(text):
        if (m.group("tail") or "").lower() in _ORDINALS and not m.group().isupper():
            continue                                   # "Y4 1st", "a1 2nd"
        if not in_link(m.start(), m.end()) and not overlaps(m.start(), m.end(), ("email",)):
            found.append((m.start(), m.end(), "postcode"))

    for m in _ADDRESS.finditer(text):
        if _NOT_A_HOUSE_NUMBER.search(text[max(0, m.start() - 12):m.start()]):
            continue
        if not in_link(m.start(), m.end()):
            found.append((m.start(), m.end(), "address"))

    for m in _DOB.finditer(text):
        found.append((m.start(), m.end(), "date_of_birth"))

    for pattern in (_UPN, _LABELLED_ID, _NHS_STYLE, _LONG_DIGITS):
        for m in pattern.finditer(text):
            if in_link(m.start(), m.end()) or overlaps(m.start(), m.end(), ("email", "phone", "id")):
                continue
            found.append((m.start(), m.end(), "id"))

    findings = []
    for start, end, kind in sorted(found):
        findings.append(Finding(
            f"personal_{kind}", BLOCK,
            f"There is {WHAT[kind]} in the {subject}. Take it out: {WHY.get(kind, DEFAULT_WHY)}.",
            subject, {"kind": kind, "start": start, "end": end},
        ))
    return findings

