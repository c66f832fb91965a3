"""Rules of an instrument that span fields, checked on the raw document so every problem is found.

The pydantic models in ``surveys.schema`` check each field's shape; these checks
look across fields (keys that repeat, unknown scales, missing languages, fields
that do not fit an item's kind, the kind a mapping must be). They tolerate a
malformed document: whatever cannot be read here has already been named by the
shape check. A field written twice in one place of the YAML text (which a YAML
reader would silently resolve to the last one) is found in the text itself:
``duplicate_fields``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from surveys.errors import Issue

Path = tuple[str | int, ...]


def path_text(path: Path) -> str:
    """``("sections", 1, "items", 0)`` -> ``sections[1].items[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _dicts(value: Any, path: Path) -> Iterator[tuple[Path, dict]]:
    if isinstance(value, list):
        for i, entry in enumerate(value):
            if isinstance(entry, dict):
                yield (*path, i), entry


def _issue(path: Path, code: str, **params: Any) -> Issue:
    return Issue(path_text(path), code, params)


def _duplicates(entries: list[tuple[Path, dict]], field: str = "key") -> list[Issue]:
    seen: set[Any] = set()
    issues = []
    for path, entry in entries:
        key = entry.get(field)
        if not isinstance(key, str):
            continue  # a key that is not text is reported by the shape check
        if key in seen:
            issues.append(_issue((*path, field), "duplicate_key", key=key))
        seen.add(key)
    return issues


def _items(doc: dict) -> list[tuple[Path, dict]]:
    found = []
    for spath, section in _dicts(doc.get("sections"), ("sections",)):
        found += list(_dicts(section.get("items"), (*spath, "items")))
    return found


def _scale_issues(doc: dict) -> list[Issue]:
    scales = list(_dicts(doc.get("scales"), ("scales",)))
    issues = _duplicates(scales)
    for path, scale in scales:
        points = [p.get("value") for _, p in _dicts(scale.get("points"), ())]
        if all(type(v) is int for v in points) and points != sorted(set(points)):
            issues.append(_issue((*path, "points"), "scale_not_increasing"))
    return issues


def _item_issues(path: Path, item: dict, scale_keys: set[str], audiences: set[str]) -> list[Issue]:
    kind = item.get("kind")
    issues = []
    if kind == "likert":
        if item.get("scale") is None:
            issues.append(_issue((*path, "scale"), "likert_needs_scale"))
        elif isinstance(item.get("scale"), str) and item["scale"] not in scale_keys:
            issues.append(_issue((*path, "scale"), "unknown_scale", scale=item["scale"]))
        if item.get("polarity") is None:
            issues.append(_issue((*path, "polarity"), "likert_needs_polarity"))
    elif isinstance(kind, str):
        issues += [_issue((*path, f), "not_for_kind", kind=kind)
                   for f in ("scale", "polarity") if item.get(f) is not None]
    if kind == "single_choice":
        options = list(_dicts(item.get("options"), (*path, "options")))
        if len(options) < 2:
            issues.append(_issue((*path, "options"), "choice_needs_options"))
        issues += _duplicates(options, "value")
    elif isinstance(kind, str) and item.get("options"):
        issues.append(_issue((*path, "options"), "not_for_kind", kind=kind))
    if isinstance(kind, str) and kind != "number":  # bounds mean nothing on a scale or a choice
        # (``integer: false`` is the default, which stored snapshots spell out)
        issues += [_issue((*path, f), "not_for_kind", kind=kind)
                   for f in ("minimum", "maximum", "integer") if item.get(f) not in (None, False)]
    low, high = item.get("minimum"), item.get("maximum")
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
        issues.append(_issue((*path, "minimum"), "min_above_max"))
    if isinstance(item.get("variants"), dict):
        issues += [_issue((*path, "variants", role), "unknown_audience", role=role)
                   for role in item["variants"] if role not in audiences]
    return issues


def _texts(value: Any, path: Path) -> Iterator[tuple[Path, dict]]:
    """Every localised text (a mapping with an ``sv`` key) in the document."""
    if isinstance(value, dict):
        if "sv" in value and set(value) <= {"sv", "en"}:
            yield path, value
            return
        for key, child in value.items():
            yield from _texts(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _texts(child, (*path, i))


def _language_issues(doc: dict) -> list[Issue]:
    languages = doc.get("languages", ["sv", "en"])
    if not isinstance(languages, list) or "en" not in languages:
        return []
    return [_issue(path, "missing_language", lang="en")
            for path, text in _texts(doc, ()) if not text.get("en")]


def _kind_issues(doc: dict) -> list[Issue]:
    kind = doc.get("kind", "survey")
    issues = []
    mapping = doc.get("mapping")
    if type(mapping) is int and mapping in (1, 2, 3) and isinstance(kind, str):
        wanted = "logbook" if mapping == 2 else "survey"  # mapping 2 is the five-day logbook
        if kind != wanted:
            issues.append(_issue(("kind",), "mapping_kind", mapping=mapping, kind=wanted))
    if kind == "logbook" and not doc.get("logbook"):
        issues.append(_issue(("logbook",), "logbook_needs_spec"))
    if kind == "survey" and doc.get("logbook"):
        issues.append(_issue(("logbook",), "survey_has_logbook"))
    if kind == "survey" and not doc.get("sections"):
        issues.append(_issue(("sections",), "survey_needs_sections"))
    audiences = doc.get("audiences", ["chef"])
    if isinstance(audiences, list) and "chef" not in audiences:
        issues.append(_issue(("audiences",), "audience_needs_chef"))
    logbook = doc.get("logbook")
    if isinstance(logbook, dict):
        for split in ("areas", "forms"):
            issues += _duplicates(list(_dicts(logbook.get(split), ("logbook", split))))
    return issues


def cross_field_issues(doc: dict) -> list[Issue]:
    """Every cross-field problem of a raw instrument document."""
    # Only text can be a key or an audience; anything else is reported by the shape check.
    scale_keys = {k for _, s in _dicts(doc.get("scales"), ()) if isinstance(k := s.get("key"), str)}
    audiences = doc.get("audiences", ["chef"])
    audiences = {a for a in audiences if isinstance(a, str)} if isinstance(audiences, list) else set()
    items = _items(doc)
    issues = _scale_issues(doc) + _duplicates(items) + _kind_issues(doc)
    issues += _duplicates(list(_dicts(doc.get("sections"), ("sections",))))
    for path, item in items:
        issues += _item_issues(path, item, scale_keys, audiences)
    return issues + _language_issues(doc)


def _scalar_key(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def duplicate_fields(root: yaml.Node | None) -> list[Issue]:
    """Every field given twice in the same mapping of a composed YAML tree, with its line."""
    issues: list[Issue] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, Path]] = [(root, ())] if root is not None else []
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:  # anchors and aliases: each node once (and no cycles)
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value in node.value:
                key = _scalar_key(key_node)
                if key is not None and key != "<<":
                    if key in keys:
                        issues.append(Issue(path_text((*path, key)), "duplicate_field", {"key": key},
                                            key_node.start_mark.line + 1))
                    keys.add(key)
                stack.append((value, (*path, key) if key is not None else path))
        elif isinstance(node, yaml.SequenceNode):
            stack += [(child, (*path, i)) for i, child in enumerate(node.value)]
    return issues
