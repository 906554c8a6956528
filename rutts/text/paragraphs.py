"""Text as a voice reads it: paragraphs of plain text out of Markdown, and processed sentences cut into chunks
that fit the model."""
from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML = re.compile(r"<[^>\n]+>")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~|`+)(\S(?:.*?\S)?)\1")
_SENTENCE_END = re.compile(r"[.!?…:;]$")


def _plain_line(line: str) -> str:
    line = _IMAGE.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _HTML.sub(" ", line)
    line = _EMPHASIS.sub(r"\2", line)
    line = re.sub(r"^\s*>\s?", "", line)  # block quote
    return line.strip()


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of plain text from plain text or Markdown.

    Blank lines and headings start paragraphs; a heading or a list item without final punctuation gets a full
    stop so it is read as a sentence of its own. Markdown markup, links' targets, images and code blocks are
    dropped. Paragraphs with nothing left are left out.
    """
    paragraphs: list[list[str]] = [[]]
    in_code = False
    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_code = not in_code
            continue
        heading = _HEADING.match(raw)
        if in_code or (not heading and _RULE.match(raw)) or not raw.strip():
            if not in_code:
                paragraphs.append([])
            continue
        line = _plain_line(heading.group(1) if heading else _LIST_ITEM.sub("", raw))
        if line and (heading or _LIST_ITEM.match(raw)):  # a sentence of its own, even in lowercase
            line = line[0].upper() + line[1:] + ("" if _SENTENCE_END.search(line) else ".")
        if heading:
            paragraphs += [[line], []]
        elif line:
            paragraphs[-1].append(line)
    return [joined for lines in paragraphs if (joined := " ".join(lines).strip())]


def split_chunks(text: str, max_chars: int) -> list[str]:
    """Cut a processed sentence into pieces of at most `max_chars`: at clause punctuation first, then at spaces.

    Never inside a word: a single word longer than `max_chars` stays whole.
    """
    if len(text) <= max_chars:
        return [text]
    chunks: list[str] = []
    for clause in re.split(r"(?<=[,;:.!?])\s+", text):
        parts = [clause] if len(clause) <= max_chars else clause.split(" ")
        for part in parts:
            if chunks and len(chunks[-1]) + 1 + len(part) <= max_chars:
                chunks[-1] += " " + part
            else:
                chunks.append(part)
    return chunks
