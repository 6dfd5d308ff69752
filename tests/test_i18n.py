"""The committed translation catalogue: complete, and its compiled .mo (what
Django reads; committed so neither `make test` nor `make run` needs GNU gettext)
says exactly what the .po says."""

import re
from pathlib import Path

import polib
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"


def test_every_language_but_english_has_a_catalogue():
    assert [code for code, _ in settings.LANGUAGES] == ["en", "ms"]
    assert (LOCALE / "ms" / "LC_MESSAGES" / "django.po").exists()


def test_malay_catalogue_is_complete_and_compiled():
    po = polib.pofile(str(LOCALE / "ms" / "LC_MESSAGES" / "django.po"))
    mo = polib.mofile(str(LOCALE / "ms" / "LC_MESSAGES" / "django.mo"))
    assert len(po) >= 20
    assert po.percent_translated() == 100 and not po.fuzzy_entries()
    compiled = {entry.msgid: entry.msgstr for entry in mo if entry.msgid}
    assert compiled == {entry.msgid: entry.msgstr for entry in po}, "run `make messages` and commit the .mo"
    for entry in po:
        # Placeholders survive translation.
        assert sorted(re.findall(r"%\(\w+\)s", entry.msgid)) == sorted(re.findall(r"%\(\w+\)s", entry.msgstr))
