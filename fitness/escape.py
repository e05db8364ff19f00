"""User text on its way into each output format: one line, and inert in Markdown, shells and paths.

Workload, model and file names are free text, and they reach reports, TODO.md, calibrated YAML comments,
shell commands in code fences and file names. Each function here makes such text safe for one format; HTML
is escaped by `html.escape` where it is written.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import unicodedata

_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` with every line break (any a YAML or Markdown reader honours) replaced by a space and other
    control characters shown as escapes: it can neither start a new line nor hide a character."""
    flat = _BREAKS.sub(" ", text)
    return "".join(ch if unicodedata.category(ch) != "Cc" or ch == "\t" else ch.encode("unicode_escape").decode()
                   for ch in flat)


_MD_ESCAPE = {"[": "\\[", "]": "\\]"}
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")


def md_inline(text: str) -> str:
    """One line of Markdown with any raw HTML, autolink or link made inert outside code spans.

    Code spans are found as CommonMark finds them (a backtick run closed by the next run of the same length;
    a backslash escapes a backtick outside code only) and kept as they are, since every viewer shows their
    content literally. Elsewhere a `<` that could open a tag, comment or autolink becomes `&lt;` (a `<=`
    stays readable) and `[ ]` are backslash-escaped, so no `<script>`, `<img onerror>`, `<javascript:...>`
    or `[x](javascript:...)` survives; a leading `#` cannot make a heading.
    """
    s, out, i = one_line(text), [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            out.append(s[i:i + 2])
            i += 2
            continue
        if ch == "`":
            run = len(s[i:]) - len(s[i:].lstrip("`"))
            close = re.compile(rf"(?<!`)`{{{run}}}(?!`)").search(s, i + run)
            end = close.end() if close else i + run
            out.append(s[i:end])
            i = end
            continue
        out.append("&lt;" if _HTML_START.match(s, i) else _MD_ESCAPE.get(ch, ch))
        i += 1
    line = "".join(out)
    return "\\" + line if line.lstrip().startswith("#") else line


def md_fence(lang: str, body: str) -> list[str]:
    """A fenced code block of `body` whose fence is longer than any backtick run in it (so no line of
    `body` can close it)."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", body, fence]


def shell_arg(text: str) -> str:
    """`text` quoted for a POSIX shell when it needs it (a file name in a command to copy and run)."""
    return shlex.quote(text)


_UNSAFE_PATH = re.compile(r"[^A-Za-z0-9._-]+")


def path_part(name: str) -> str:
    """`name` as one safe file or folder name: letters, digits, `.`, `_` and `-` only, not starting with a dot
    or hyphen (no `..`, `/`, drive or hidden file). A name that had to change ends with a short hash of the
    original, so two names that differ only in unsafe characters stay distinct."""
    safe = _UNSAFE_PATH.sub("-", name).lstrip(".-").rstrip("-")
    if safe == name and name:
        return name
    return f"{safe or 'unnamed'}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"
