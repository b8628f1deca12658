"""Is a file's text what its encoding says? A decoding error names the line, the bytes and the
`--encoding` that reads them; a file that decodes but looks wrong (C1 controls, symbols inside
words) is named too, with the encoding that reads it best."""

from __future__ import annotations

import codecs
import re
import unicodedata
import warnings
from pathlib import Path

from pipelines.errors import DataError


def decoding_error(file: Path, encoding: str) -> DataError | None:
    """None when `file` decodes as `encoding`; else an error naming the line, the bytes, the
    encoding charset-normalizer detects, and the `--encoding` option that reads it."""
    raw = file.read_bytes()
    try:
        raw.decode(encoding)
        return None
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        bad = raw[err.start : err.end]
        before = raw[raw.rfind(b"\n", 0, err.start) + 1 : err.start].decode(encoding, errors="replace")[-30:]
    suggested = suggested_encoding(raw)
    if suggested and codecs.lookup(suggested).name != codecs.lookup(encoding).name:
        hint = f"it reads best as {suggested}: give --encoding {suggested} (or the file's own encoding)"
    else:
        hint = "give --encoding with the file's encoding, e.g. --encoding cp1252"
    return DataError(f"{file}: line {line}: bytes {bad!r} after {before!r} are not valid {encoding}; {hint}")


# The encodings of common Windows exports, commonest first: of those that read a file equally well,
# the first is advised (cp1252 for Western text, which cp1250 reads too, as other letters: Œ -> Ś).
WINDOWS_ENCODINGS = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "latin-1")
C1_CONTROLS = re.compile("[\x80-\x9f]")  # what latin-1 makes of cp1252's quotes, dashes and Œ
NON_ASCII_INSIDE_WORD = re.compile(r"(?<=\w)[^\x00-\x7f](?=\w)")
ODD_CATEGORIES = {"No", "So", "Sk", "Sm", "Sc", "Cc", "Co", "Cn"}  # e.g. cp1252 reads cp1250's ł, ą as ³, ¹


def implausible_characters(text: str) -> int:
    """How many characters of `text` a wrong decoding made: C1 controls (U+0080-U+009F) anywhere,
    and digits, symbols or controls other than ASCII inside a word ('b³d')."""
    inside = NON_ASCII_INSIDE_WORD.findall(text)
    return len(C1_CONTROLS.findall(text)) + sum(unicodedata.category(char) in ODD_CATEGORIES for char in inside)


def suggested_encoding(raw: bytes) -> str | None:
    """The encoding that reads `raw` with the fewest `implausible_characters`; ties go to the
    commoner export (`WINDOWS_ENCODINGS`' order). charset-normalizer's guess comes first when it is
    not one of them (another script, e.g. Shift JIS); None when nothing reads the bytes."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    guess = [best.encoding] if best is not None else []
    if guess and codecs.lookup(guess[0]).name in {codecs.lookup(name).name for name in WINDOWS_ENCODINGS}:
        guess = []
    scored = []
    for rank, name in enumerate([*guess, *WINDOWS_ENCODINGS]):
        try:
            scored.append((implausible_characters(raw.decode(name)), rank, name))
        except UnicodeDecodeError:
            continue
    return min(scored)[2] if scored else None


def check_plausible(file: Path, encoding: str) -> None:
    """`file` read as `encoding` looks like text, else `DataError` (C1 control characters: latin-1
    on a cp1252 export) or a warning (symbols inside words), each naming the lines and the
    encoding that reads the file best (`suggested_encoding`)."""
    raw = file.read_bytes()
    lines = raw.decode(encoding).splitlines()
    odd = [number for number, line in enumerate(lines, 1) if implausible_characters(line)]
    if not odd:
        return
    suggested = suggested_encoding(raw)
    advice = "check --encoding"
    if suggested and codecs.lookup(suggested).name != codecs.lookup(encoding).name:
        advice = f"it reads best as {suggested}: give --encoding {suggested}"
    where = f"{len(odd)} of {len(lines)} lines (first line {odd[0]}: {lines[odd[0] - 1][:60]!r})"
    if any(C1_CONTROLS.search(lines[number - 1]) for number in odd):
        raise DataError(f"{file}: read as {encoding}, {where} hold C1 control characters (U+0080-U+009F), which text does not; {advice}")
    warnings.warn(f"{file}: read as {encoding}, {where} hold symbols or digits inside words; {advice}", UserWarning, stacklevel=2)
