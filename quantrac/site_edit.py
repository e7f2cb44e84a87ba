"""Edits of a station file that keep what a person wrote: comments, order, spacing.

The technician's commands (``quantrac station add|disable|enable|remove``) change one station
entry of a ``stations/*.yaml`` file. Loading and dumping the YAML would lose every comment (the
flood levels' source, a logger's quirks), so these work on the text: the entry's lines are found
with the YAML parser's own positions, and only those lines change. Pure functions of text, tested
by tables (tests/quantrac/test_site_edit.py).
"""

from __future__ import annotations

from typing import Any

import yaml


class SiteEditError(ValueError):
    """The file is not a station file this can edit (not YAML, no ``stations:`` list)."""


def _stations_node(text: str) -> yaml.SequenceNode | None:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise SiteEditError(f"not valid YAML: {exc}") from None
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode):
        raise SiteEditError("a station file is a mapping with a stations: list")
    for key, value in root.value:
        if key.value == "stations":
            if not isinstance(value, yaml.SequenceNode):
                raise SiteEditError("stations: is not a list")
            return value
    raise SiteEditError("no stations: list in this file")


def _entry(text: str, station_id: str) -> yaml.MappingNode:
    node = _stations_node(text)
    for item in node.value if node is not None else ():
        if not isinstance(item, yaml.MappingNode):
            continue
        for key, value in item.value:
            if key.value == "id" and value.value == station_id:
                return item
    raise SiteEditError(f"no station {station_id!r} in this file")


def render_entry(entry: dict[str, Any], indent: int = 2) -> str:
    """One station as a list item, its ``- `` at column ``indent`` (the shipped files' two)."""
    body = yaml.safe_dump(
        [entry], allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    pad = " " * indent
    return "".join(f"{pad}{line}\n" if line else "\n" for line in body.splitlines())


def add_station(text: str, entry: dict[str, Any]) -> str:
    """``text`` with the station appended to its ``stations:`` list (a new file if empty)."""
    node = _stations_node(text) if text.strip() else None
    if node is None:
        prefix = text if not text or text.endswith("\n") else text + "\n"
        return f"{prefix}stations:\n{render_entry(entry)}"
    if any(
        isinstance(item, yaml.MappingNode)
        and any(k.value == "id" and v.value == entry.get("id") for k, v in item.value)
        for item in node.value
    ):
        raise SiteEditError(f"station {entry.get('id')!r} is already in this file")
    if node.flow_style:
        raise SiteEditError("stations: is written inline ([...]); write it as a block list")
    lines = text.splitlines(keepends=True)
    # After the last line of the list (its end mark is where the next node starts); a blank
    # line between entries, as people write them.
    end = _end_line(lines, node.end_mark)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    head = "".join(lines[:end])
    if head and not head.endswith("\n"):
        head += "\n"
    # As the list's own items are indented (a mapping item starts two columns after its dash).
    indent = max(node.value[0].start_mark.column - 2, 0) if node.value else 2
    return head + "\n" + render_entry(entry, indent) + "".join(lines[end:])


def _end_line(lines: list[str], mark: yaml.Mark) -> int:
    """The first line after a node, from its end mark (where the next node starts)."""
    if mark.line >= len(lines) or not lines[mark.line][: mark.column].strip():
        return mark.line
    return mark.line + 1


def _span(text: str, station_id: str) -> tuple[int, int]:
    """Lines [first, end) of the station's list item, its ``- `` line first."""
    item = _entry(text, station_id)
    first = item.start_mark.line
    lines = text.splitlines(keepends=True)
    end = _end_line(lines, item.end_mark)
    # Trailing blank lines and comments before the next entry belong to the next entry.
    while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip()[0] == "#"):
        end -= 1
    return first, end


def remove_station(text: str, station_id: str) -> str:
    """``text`` without the station's entry (and the blank line that separated it)."""
    first, end = _span(text, station_id)
    lines = text.splitlines(keepends=True)
    if end < len(lines) and not lines[end].strip():
        end += 1
    elif first > 0 and not lines[first - 1].strip():
        first -= 1
    return "".join(lines[:first] + lines[end:])


def set_enabled(text: str, station_id: str, enabled: bool) -> str:
    """The station with ``enabled: false`` (disabled) or without it (enabled, the default)."""
    item = _entry(text, station_id)
    if item.flow_style:
        raise SiteEditError(f"station {station_id!r} is written inline ({{...}}): edit it by hand")
    lines = text.splitlines(keepends=True)
    for key, _value in item.value:
        if key.value == "enabled":
            index = key.start_mark.line
            if enabled:
                return "".join(lines[:index] + lines[index + 1 :])
            indent = " " * key.start_mark.column
            return "".join([*lines[:index], f"{indent}enabled: false\n", *lines[index + 1 :]])
    if enabled:
        return text
    id_key = next(k for k, _ in item.value if k.value == "id")
    index = id_key.start_mark.line
    indent = " " * id_key.start_mark.column
    if index + 1 > len(lines) or not lines[index].endswith("\n"):
        lines[index] += "\n"
    return "".join([*lines[: index + 1], f"{indent}enabled: false\n", *lines[index + 1 :]])
