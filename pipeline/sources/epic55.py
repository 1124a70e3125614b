"""EPIC-KITCHENS-55 labels → EPIC-100 classes: the mapping, its sources and its record in manifest.json.

An EPIC-55 annotation file (``uid`` and no ``narration_id`` in its header, e.g. ``EPIC_train_action_labels.csv``)
numbers its 125 verb classes otherwise than EPIC-100's 97 (EPIC-55 class 2 is ``open``, EPIC-100 class 2 is
``wash``), so its ``verb_class`` is never taken as it is. Each row's verb is mapped, first match winning:

1. the user's ``--verb-map CSV``, one of two forms (the header says which): ``raw_verb,verb_class`` (a raw
   verb as written in the annotation's ``verb`` column → an EPIC-100 verb class) or
   ``epic55_class,epic100_class`` (an EPIC-55 class id → an EPIC-100 verb class);
2. EPIC-100's ``EPIC_100_verb_classes.csv`` in the dataset root: its ``instances`` column lists the raw verbs
   of each class; a raw verb listed under exactly one class maps to it (one listed under two maps to none).

A row whose verb maps to no class is an ``unmapped_verb`` rejection. Without the EPIC-100 class file and
without ``--verb-map`` a labelled EPIC-55 file is an error (the build stops before any work, naming the file).

Nouns (EPIC-55's 352 noun classes, other ids too) are mapped the same way, by the raw noun through
``EPIC_100_noun_classes.csv``'s ``instances``; a noun that maps to none, or every noun when that file is
absent, gets ``noun_class`` -1 (unlabelled) — the row is kept, as egoimu's evaluations use verbs only.
``EPIC_verb_classes.csv`` (EPIC-55's own class file, ``verb_id,class_key,verbs``) in the root is optional:
when present, a row's EPIC-55 class must be one of its ids (else ``unknown_verb_class``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from egoimu.manifests.files import sha256_file
from egoimu.pipeline.sources.epic import (
    CLASS_MAX,
    UNMAPPED_VERB,
    AnnotationError,
    ClassEntry,
    Epic55Mapping,
    Rejection,
    Segment,
    csv_records,
    read_class_table,
    undecodable,
)

EPIC100_VERB_CLASSES = "EPIC_100_verb_classes.csv"
EPIC100_NOUN_CLASSES = "EPIC_100_noun_classes.csv"
EPIC55_VERB_CLASSES = "EPIC_verb_classes.csv"
#: The two forms of a ``--verb-map`` file: header → what the first column holds.
VERB_MAP_FORMS: dict[tuple[str, str], str] = {("raw_verb", "verb_class"): "raw_verb",
                                              ("epic55_class", "epic100_class"): "epic55_class"}


def instances_index(entries: list[ClassEntry]) -> tuple[dict[str, int], list[str]]:
    """``(raw instance → class id, instances listed under more than one class)``; the latter are left out."""
    owners: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        for raw in entry.instances:
            owners[raw].add(entry.id)
    index = {raw: next(iter(ids)) for raw, ids in owners.items() if len(ids) == 1}
    return index, sorted(raw for raw, ids in owners.items() if len(ids) > 1)


def read_verb_map(path: Path | str, epic100_ids: set[int] | None = None, epic55_ids: set[int] | None = None
                  ) -> tuple[str, dict[Any, int]]:
    """Read a ``--verb-map`` file: ``(form, mapping)``, form ``raw_verb`` (str keys) or ``epic55_class`` (int keys).

    Targets must be EPIC-100 verb class ids (among ``epic100_ids`` when given), EPIC-55 classes among
    ``epic55_ids`` when given; a key may appear once.

    Raises:
        AnnotationError: naming the file and line.
    """
    path = Path(path)
    records = csv_records(path, "verb map")
    header = tuple(h.strip() for h in next(records)[1])
    form = VERB_MAP_FORMS.get(header)
    if form is None:
        raise AnnotationError(path, 1, f"a verb map's header is raw_verb,verb_class or epic55_class,epic100_class; "
                                       f"got {','.join(header)}")
    mapping: dict[Any, int] = {}
    first: dict[Any, int] = {}
    for line, fields, error in records:
        if fields is None or undecodable("".join(fields)) or (fields and len(fields) != 2):
            raise AnnotationError(path, line, error or "expected two UTF-8 fields")
        if not fields:
            continue
        try:
            key: Any = int(fields[0]) if form == "epic55_class" else fields[0].strip()
            target = int(fields[1])
        except ValueError as exc:
            raise AnnotationError(path, line, f"not an integer class id: {exc}") from None
        if key == "" or (form == "epic55_class" and (key < 0 or (epic55_ids is not None and key not in epic55_ids))):
            raise AnnotationError(path, line, f"{header[0]} {key!r} is not " +
                                  ("an EPIC-55 verb class id" if form == "epic55_class" else "a raw verb"))
        if not 0 <= target <= CLASS_MAX or (epic100_ids is not None and target not in epic100_ids):
            raise AnnotationError(path, line, f"{header[1]} {target} is not an EPIC-100 verb class id" +
                                  (f" ({EPIC100_VERB_CLASSES} has {len(epic100_ids)})" if epic100_ids else ""))
        if key in mapping:
            raise AnnotationError(path, line, f"{header[0]} {key!r} is mapped twice (first on line {first[key]})")
        mapping[key], first[key] = target, line
    return form, mapping


def _file_record(path: Path) -> dict[str, str]:
    return {"file": path.name, "sha256": sha256_file(path)}


def load_mapping(root: Path, verb_map: Path | None = None) -> Epic55Mapping | None:
    """The EPIC-55 → EPIC-100 mapping of a dataset root (see the module docstring), or None when it has no
    ``EPIC_100_verb_classes.csv`` and no ``verb_map`` is given (a labelled EPIC-55 file is then an error).

    Raises:
        AnnotationError: a class file or the verb map cannot be read (file and line named).
    """
    verbs_path, nouns_path, v55_path = (root / EPIC100_VERB_CLASSES, root / EPIC100_NOUN_CLASSES,
                                        root / EPIC55_VERB_CLASSES)
    if verb_map is None and not verbs_path.is_file():
        return None
    verbs = read_class_table(verbs_path) if verbs_path.is_file() else None
    nouns = read_class_table(nouns_path) if nouns_path.is_file() else None
    v55 = read_class_table(v55_path) if v55_path.is_file() else None
    v55_ids = {e.id for e in v55} if v55 is not None else None
    form, by_user = read_verb_map(verb_map, {e.id for e in verbs} if verbs else None, v55_ids) if verb_map \
        else ("", {})
    verb_index, verb_ambiguous = instances_index(verbs) if verbs else ({}, [])
    noun_index, noun_ambiguous = instances_index(nouns) if nouns else ({}, [])
    sources: dict[str, Any] = {
        "verb_map": None if verb_map is None else {**_file_record(verb_map), "form": form, "entries": len(by_user)},
        "verb_classes": None if verbs is None else {**_file_record(verbs_path), "ambiguous_instances": verb_ambiguous},
        "noun_classes": None if nouns is None else {**_file_record(nouns_path), "ambiguous_instances": noun_ambiguous},
        "epic55_verb_classes": None if v55 is None else _file_record(v55_path),
    }
    return Epic55Mapping(verb_map=by_user if form == "raw_verb" else {},
                         class_map=by_user if form == "epic55_class" else {},
                         verb_instances=verb_index, noun_instances=noun_index,
                         epic55_verb_ids=frozenset(v55_ids) if v55_ids is not None else None, sources=sources)


def _counts(counter: Counter) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(counter.items())}


def mapping_record(mapping: Epic55Mapping | None, segments: list[Segment], rejections: list[Rejection]
                   ) -> dict[str, Any] | None:
    """What the EPIC-55 mapping did (manifest.json ``source.label_mapping``), None when no EPIC-55 row was
    mapped or rejected as unmapped: its sources, the EPIC-55 files, rows mapped per EPIC-100 class and per
    EPIC-55 → EPIC-100 pair, rows mapped through the verb map or the instances, the unmapped verbs (rows each),
    and for nouns the rows mapped and the raw nouns that map to none."""
    mine = [s for s in segments if s.epic55_verb_class is not None]
    unmapped = [r for r in rejections if r.reason == UNMAPPED_VERB]
    if mapping is None or not (mine or unmapped):
        return None
    pairs: dict[int, Counter] = defaultdict(Counter)
    via: Counter = Counter()
    for s in mine:
        pairs[s.verb_class][s.epic55_verb_class] += 1
        hit = mapping.verb_class(s.verb, s.epic55_verb_class)
        via[hit[1] if hit else "?"] += 1
    nouns_unmapped = Counter(s.noun for s in mine if s.noun and s.noun_class == -1)
    return {
        "rule": "verb: --verb-map by raw verb or EPIC-55 class, then EPIC-100 instances by raw verb, else "
                "rejected (unmapped_verb); noun: EPIC-100 noun instances by raw noun, else -1",
        "sources": dict(mapping.sources or {}),
        "files": sorted({s.source for s in mine} | {r.source for r in unmapped}),
        "verbs": {
            "rows_mapped": len(mine), "rows_unmapped": len(unmapped),
            "rows_by_source": _counts(via),
            "rows_per_class": {str(k): sum(v.values()) for k, v in sorted(pairs.items())},
            "epic100_from_epic55": {str(k): _counts(v) for k, v in sorted(pairs.items())},
            "unmapped_verbs": _counts(Counter(r.verb for r in unmapped)),
        },
        "nouns": {"rows_mapped": sum(1 for s in mine if s.noun_class >= 0),
                  "rows_unlabelled": sum(1 for s in mine if s.noun_class < 0),
                  "unmapped_nouns": _counts(nouns_unmapped)},
    }
