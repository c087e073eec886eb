"""duplicate detection

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

`classhub_fold(text)`: the comparable form of a name, e-mail or street that the duplicate
detection's blocking passes (store/duplicates/scan.py) build their keys from, so a second roster upload
with other case, accents, apostrophes, hyphens or spacing lands in the same block:
lower case, Latin accents removed ("Nguyễn" -> "nguyen", "Łukasz" -> "lukasz", "Strauß" ->
"strauss"), apostrophes dropped ("O'Brien" -> "obrien"), every other run of non-alphanumerics one
space, trimmed. The Python side (core/duplicates/text.py `fold`) does the same (a test compares them).
On a UTF-8 database accents go by Unicode decomposition (NFKD, marks dropped), else by a table of the
Latin letters with diacritics. Only this function: no table, column or index (the blocking passes
read the whole roster once with hash joins; an index would not help), so store/schema.py is unchanged.
"""

from __future__ import annotations

import unicodedata

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STROKED = {"đ": "d", "ı": "i", "ł": "l", "ø": "o", "þ": "t", "ð": "d", "ħ": "h", "ŧ": "t", "ŀ": "l"}


def _accent_map() -> tuple[str, str]:
    """Latin letters with diacritics (both cases: lower() under the C locale is ASCII-only) -> a-z."""
    source: list[str] = []
    target: list[str] = []
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        char = chr(code)
        plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode().lower()
        if len(plain) == 1 and plain.isalpha():
            source.append(char)
            target.append(plain)
        elif char.lower() in _STROKED:
            source.append(char)
            target.append(_STROKED[char.lower()])
    return "".join(source), "".join(target)


_STROKED_SOURCE = "łøđħŧıŀþðŁØĐĦŦĿÞÐ"
_STROKED_TARGET = "lodhtiltdlodhtltd"
_LIGATURES = (
    "replace(replace(replace(replace(replace(replace(lower(value),"
    " 'ß', 'ss'), 'ẞ', 'ss'), 'æ', 'ae'), 'Æ', 'ae'), 'œ', 'oe'), 'Œ', 'oe')"
)
_APOSTROPHES = "'''\u2019`\u02bc'"  # SQL literal: ' ’ ` ʼ


def upgrade() -> None:
    # Not STRICT: a one-expression SQL function is then inlined into the calling query (several
    # times faster over a roster), and NULL still gives NULL. ASCII text (most names) skips the
    # accent removal: Unicode decomposition (NFKD) with the marks dropped on a UTF-8 database,
    # else a table of the Latin letters with diacritics.
    encoding = op.get_bind().exec_driver_sql("SELECT current_setting('server_encoding')").scalar()
    if encoding == "UTF8":
        accents = (
            f"translate(regexp_replace(normalize({_LIGATURES}, NFKD), '[\\u0300-\\u036f]+', '', 'g'),"
            f" '{_STROKED_SOURCE}', '{_STROKED_TARGET}')"
        )
    else:
        source, target = _accent_map()
        assert "'" not in source + target and "$" not in source + target
        accents = f"translate({_LIGATURES}, '{source}', '{target}')"
    op.execute(
        f"""
        CREATE FUNCTION classhub_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT btrim(regexp_replace(
                   translate(CASE WHEN octet_length(value) = char_length(value) THEN lower(value) ELSE {accents} END,
                             {_APOSTROPHES}, ''),
                   '[^a-z0-9]+', ' ', 'g'))
        $$
        """
    )
    op.execute("GRANT EXECUTE ON FUNCTION classhub_fold(text) TO classhub_admin, classhub_support, classhub_readonly")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS classhub_fold(text)")
