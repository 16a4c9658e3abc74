"""YAML loading that remembers the line of every key, so config and mapping errors name file:line.

Duplicate keys (silently merged by PyYAML) are an error: a status mapped twice is a mistake an
operator needs to hear about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.errors import ConfigError

Path_ = tuple[Any, ...]


@dataclass
class LocatedYaml:
    path: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def where(self, loc: Path_) -> str:
        """'file:line' of the deepest known key on this path (the file alone if none is known)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return f"{self.path}:{line}"
        return str(self.path)

    def mapping(self, expected: str, keys: tuple[str, ...], at: Path_ = ()) -> dict[Any, Any]:
        """The document (or the section at `at`) as a mapping of only these keys: refused when it is
        not a mapping ("expected …") or has another key (a typo is refused, not ignored; the first,
        sorted, is named)."""
        data = self.data
        for key in at:
            data = data.get(key) if isinstance(data, dict) else None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.where(at)}: expected {expected}")
        unknown = sorted(map(str, set(data) - set(keys)))
        if unknown:
            raise ConfigError(f"{self.where(at + (unknown[0],))}: unknown key {unknown[0]!r} (expected {', '.join(keys)})")
        return data


def load_yaml(path: Path | str) -> LocatedYaml:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # saved as Latin-1 or Windows-1252 ('Café'): name where
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start});"
                          " save the file as UTF-8") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(_syntax_error(path, exc)) from None
    located = LocatedYaml(path=path, data={})
    if node is not None:  # an empty file is an empty mapping
        located.data = _convert(node, (), located)
    return located


def _syntax_error(path: Path, exc: yaml.YAMLError) -> str:
    """'file:line: YAML syntax error: …' naming the line that is wrong. PyYAML reports where it gave
    up (problem_mark); for an unclosed bracket or quote the mistake is where it opened (the context
    mark of "while parsing a flow…" / "while scanning a…"). Other contexts start at the enclosing
    section, so there the problem mark is the better line."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""
    problem = getattr(exc, "problem", None) or str(exc)
    opened_here = context_mark is not None and (
        context.startswith("while parsing a flow") or context.startswith("while scanning a"))
    if opened_here:
        detail = f"{context} opened on this line: {problem}"
        if problem_mark is not None and problem_mark.line != context_mark.line:
            detail += f" (noticed at line {problem_mark.line + 1})"
        return f"{path}:{context_mark.line + 1}: YAML syntax error: {detail}"
    where = f"{path}:{problem_mark.line + 1}" if problem_mark is not None else str(path)
    return f"{where}: YAML syntax error: {problem}"


def _convert(node: yaml.Node, loc: Path_, out: LocatedYaml) -> Any:
    out.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{out.path}:{line}: a key must be a plain value")
            key = _scalar(key_node)
            if key in result:
                first = out.lines.get(loc + (key,))
                raise ConfigError(f"{out.path}:{line}: {key!r} is given twice"
                                  + (f" (first at line {first})" if first else ""))
            out.lines[loc + (key,)] = line
            result[key] = _convert(value_node, loc + (key,), out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, loc + (i,), out) for i, child in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    return yaml.SafeLoader("").construct_object(node, deep=True)
