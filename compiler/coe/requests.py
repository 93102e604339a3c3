"""Request traces: our JSONL and the Azure LLM inference trace CSV.

JSONL, one request per line (blank lines and lines starting with `#` are skipped):

    {"arrival": 0.25, "prompt_tokens": 512, "output_tokens": 20, "category": "code"}
    {"arrival": 0.30, "prompt": [5, 17, 3, 9], "output_tokens": 4}

`arrival` is in seconds (default 0); `prompt_tokens` may be left out when `prompt` (token ids, for a
functional router) is given; `category` skips the router's choice (the router still runs and is
timed). Azure CSV (`TIMESTAMP, ContextTokens, GeneratedTokens`, timestamps with 7 fractional
digits) gives arrivals relative to the first request and no categories.

Requests without a category on a shapes-only router (nothing to classify) take a category drawn
uniformly with a fixed seed, so runs are reproducible. A line that does not parse is an error
naming its line number.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from compiler.coe.errors import CoEError

JSONL_FIELDS = {"arrival", "prompt_tokens", "output_tokens", "category", "prompt", "id"}
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


@dataclass
class Request:
    id: int
    arrival: float
    prompt_tokens: int
    output_tokens: int
    category: str | None = None
    prompt: tuple[int, ...] | None = None
    line: int = 0  # where the trace gives it, for error messages


def read_requests(path: str | Path) -> list[Request]:
    path = Path(path)
    if not path.exists():
        raise CoEError(f"request trace {path} does not exist")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CoEError(f"cannot read request trace {path}: {exc}") from None
    requests = _azure_csv(path, text) if path.suffix.lower() == ".csv" else _jsonl(path, text)
    if not requests:
        raise CoEError(f"request trace {path} has no requests")
    return sorted(requests, key=lambda r: (r.arrival, r.id))


def _count(value: object, what: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CoEError(f"{where}: {what} must be a whole number >= {minimum}, got {value!r}")
    return value


def _jsonl(path: Path, text: str) -> list[Request]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CoEError(f"{where}: not a JSON object: {exc.msg}") from None
        if not isinstance(row, dict):
            raise CoEError(f"{where}: not a JSON object")
        unknown = sorted(set(row) - JSONL_FIELDS)
        if unknown:
            raise CoEError(f"{where}: unknown field(s) {', '.join(unknown)} (a request has {', '.join(sorted(JSONL_FIELDS))})")
        prompt = row.get("prompt")
        if prompt is not None and (not isinstance(prompt, list) or not prompt
                                   or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in prompt)):
            raise CoEError(f"{where}: prompt must be a non-empty list of token ids")
        if "prompt_tokens" not in row and prompt is None:
            raise CoEError(f"{where}: missing prompt_tokens (or a prompt of token ids)")
        tokens = _count(row.get("prompt_tokens", len(prompt or ())), "prompt_tokens", where)
        if prompt is not None and tokens != len(prompt):
            raise CoEError(f"{where}: prompt_tokens {tokens} disagrees with the prompt's {len(prompt)} tokens")
        if "output_tokens" not in row:
            raise CoEError(f"{where}: missing output_tokens")
        arrival = row.get("arrival", 0.0)
        if isinstance(arrival, bool) or not isinstance(arrival, (int, float)) or arrival < 0:
            raise CoEError(f"{where}: arrival must be seconds >= 0, got {arrival!r}")
        category = row.get("category")
        if category is not None and not isinstance(category, str):
            raise CoEError(f"{where}: category must be a name, got {category!r}")
        out.append(Request(len(out), float(arrival), tokens, _count(row["output_tokens"], "output_tokens", where),
                           category, tuple(prompt) if prompt is not None else None, lineno))
    return out


def _timestamp(text: str, where: str) -> float:
    text = text.strip()
    head, _, frac = text.partition(".")
    try:
        base = datetime.fromisoformat(head)
        return base.timestamp() + (float(f"0.{frac}") if frac else 0.0)
    except ValueError:
        raise CoEError(f"{where}: TIMESTAMP {text!r} is not a date and time") from None


def _azure_csv(path: Path, text: str) -> list[Request]:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or [h.strip() for h in header][:3] != list(AZURE_COLUMNS):
        raise CoEError(f"{path.name}:1: an Azure trace starts with the header {','.join(AZURE_COLUMNS)}")
    out, first = [], None
    for lineno, row in enumerate(reader, 2):
        if not row or not "".join(row).strip():
            continue
        where = f"{path.name}:{lineno}"
        if len(row) < 3:
            raise CoEError(f"{where}: expected {len(AZURE_COLUMNS)} columns, got {len(row)}")
        t = _timestamp(row[0], where)
        first = t if first is None else first
        try:
            context, generated = int(row[1]), int(row[2])
        except ValueError:
            raise CoEError(f"{where}: ContextTokens and GeneratedTokens must be whole numbers") from None
        out.append(Request(len(out), max(0.0, t - first), _count(context, "ContextTokens", where),
                           _count(generated, "GeneratedTokens", where), line=lineno))
    return out
