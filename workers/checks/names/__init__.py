"""Pupils' names from the roster, found in any form a teacher writes them, and replaced.

Policy §6: staff must not "identify by name any children featured in photographs". This package
finds roster names in a post's text or alt text and replaces them with a neutral phrase.

How a name is found (one code path, used by both `NameMatcher.clean` and `NameMatcher.remaining`):
- Text and names are compared after folding: Unicode NFKD with combining marks removed (Zoë,
  Zoe and "Zoe" + U+0308 are the same), a few letters NFKD leaves alone (ł, ø, æ, ß...), curly
  apostrophes and Unicode hyphens made plain, zero-width characters dropped, lower case. Every
  folded character remembers its place in the original text, so the replacement is made on
  the original characters.
- The folded text is cut into runs of letters ("atoms"). Names are stored in a trie keyed by
  atoms, built once per roster: every pupil's first name, preferred name, surname, full name
  (first or preferred + surname), initial + surname ("A. Smith", "A Smith"), and for names of
  several parts ("O'Brien", "Smith-Jones", "Van der Berg", "Amelia-Rose") the parts written
  apart or glued together ("OBrien", "Smith Jones") and the main parts alone. Atoms of a name
  may be joined by spaces or line breaks, an apostrophe or a hyphen, or, after an initial, a
  dot. A post is checked by walking the trie from each atom: its cost depends on the post,
  not on the size of the roster.
- Hashtags and @mentions are split at capitals, digits and underscores (#WellDoneAmelia,
  @amelia_smith); a piece written without capitals (#welldoneamelia, #ameliasmith) is split by
  looking names and ordinary words (data/hashtag_words.txt) up in dictionaries.

What happens to a name found:
- Full names, surnames and first names are replaced by "one of our pupils" ("One of our
  pupils" at the start of a sentence; "one of our pupils'" for a possessive: Amelia's, James').
  Names listed together ("Amelia, Jacob and Zoë", "Amelia and Jacob") become "three of our
  pupils", "two of our pupils". A hyphenated name of which one part is on the roster is
  replaced whole; "Amelia S." loses the initial too.
- A hashtag or mention that is only a name (#AmeliaSmith, @amelia_smith) and a part of a sentence (words follow
  it in its sentence, or it alone ends the sentence after "to", "from", "with", "and"...: position.py) is replaced
  like a name written out ("Well done to #AmeliaSmith!" -> "Well done to one of our pupils!").
- Any other hashtag or mention containing a pupil's name is removed whole, with the space before it (and a word
  such as "and", "to" or "from" that would be left hanging before a full stop, and the spaces before that stop).
- Each replaced or removed name gives an `info` finding `name_removed` that says what kind of
  name went where, without the name; the person id is in the evidence.
- Staff are left alone ("Mrs Patel's class", #ThankYouMrsPatel) unless include_staff=True; then
  they are treated like pupils and replaced by "a member of staff" (with the title). A name that
  both a pupil and a member of staff have is a pupil's, except straight after a title (Mr, Mrs,
  Miss, Dr...); a pupil's name after a title that no member of staff has gives a review finding:
  it may be a parent. After "St"/"Saint" or a royal title (King, Queen, Prince...) a name is
  left alone.
- A name inside a link or an e-mail address cannot be cut out without breaking it: it gives a
  `block` finding `name_in_link`.

Names that are also ordinary words (data/common_word_names.txt: Grace, Hope, May, Will, Rose,
Summer, Bill, Faith...; also every name of one or two letters) are replaced only where they are
clearly used as a name:
- never when the next word is one of data/name_context_nouns.txt ("the May fair", "Rose
  Class", "Summer term", "Will power"); for month and season names also not next to a number
  ("May 12", "3rd May", "Summer 2025") or after "in", "by", "this", "next", "of"...: these are
  not names and give no finding;
- otherwise only when written with a capital, not at the start of a sentence, not after a
  determiner ("the", "a", "this"...), not followed by another capitalised word and not after a
  capitalised word ("Amazing Grace", "Grace Darling"), except greetings such as "Happy Birthday
  Grace", "Well Done Grace", and except next to another name being replaced ("Amelia Rose",
  "Rose A. Smith": one person); in a hashtag only when written with the surname (#GraceSmith);
- followed by the pupil's surname, or with capitals as a whole full name ("Grace Hall"), they
  are an ordinary full name and always replaced;
- where a listed FIRST name is not replaced it gives a `review` finding `name_maybe` (one per
  word and subject: "We hope you enjoy..." with a pupil called Hope); a listed SURNAME alone
  (Hall, Green, Day...) is then left alone without a finding, so "the school hall" or
  "#SportsDay" do not raise a review for every post.

`remaining(text)` returns every name that `clean` would replace, remove or block on (the
review-only words are not included), so after cleaning it returns [] unless a name sits in a
link; the caller turns each hit into a block finding. (One odd case: with no space after a full
stop, "Mrs Zoë.Smith" becomes "Mrs Zoë.One of our pupils", which X reads as a link to the .one
domain with a pupil's name in it; remaining() reports it, so the post blocks: fail closed.)

Not done: a possessive written without the apostrophe ("Amelias"), look-alike letters from other
scripts (Cyrillic "а" in "Аmelia"), names spelt with spaces between letters.

lexicon: the word lists and word sets · folding: text folded, and the way back · model: the
public types and the plan · roster: the names trie · scan: a text cut into atoms and zones ·
mentions: names in running text · position: whether a tag is a part of a sentence ·
replacing: how much a replaced name takes · tags: names in hashtags and mentions · changes: from
plan to changed text · reporting: the findings · matcher: NameMatcher.
"""
from workers.checks.names.folding import fold
from workers.checks.names.matcher import NameMatcher
from workers.checks.names.model import Change, NameResult, RosterPerson

__all__ = ["RosterPerson", "Change", "NameResult", "NameMatcher", "fold"]
