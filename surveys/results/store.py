"""The response store: each survey's responses compacted into columns.

A report of 100,000 responses spent most of its time decoding 76 MB of JSON answers
into Python objects and turning them into columns. Compaction
(``medborgarpanel results compact``, a job every minute; :func:`compact_all`) does
that once and stores the result as one :class:`~surveys.results.models.ResponseBlock`
per survey: the frame's columns as small integer codes (text answers as codes into
their sorted values, whole numbers from -127 to 127 as bytes, anything else as 8-byte
floats), the free text and how many were shown each question, zlib-compressed.

:func:`load_frame` (what every report and export reads) takes the ids of the survey's
responses (one indexed query), then

* the block holds exactly those ids (``digest``): the frame is the block, decoded;
* the block holds some of them and nothing else: the block plus the responses stored
  since, decoded from their JSON (at most half the responses, else everything is);
* otherwise (no block, a response in the block deleted or replaced, the questions'
  layout changed, a newer format): every response is decoded, as before compaction.

So a report is always computed from exactly the responses stored when it starts,
whether or not the jobs run; compaction only makes it faster. A stored response is
never changed in place (retention only removes the link to the member), so its id
stands for its content. The block keeps its rows in the order of their random ids:
it says nothing about who answered when.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import String, cast, delete, select
from sqlalchemy.orm import Session

from panel.db import utcnow
from surveys.answering.models import SurveyResponse
from surveys.authoring.services import definition_of
from surveys.definition import SurveyDefinition
from surveys.models import Survey
from surveys.results import document as doc
from surveys.results.models import ResponseBlock
from surveys.results.services import (ResponseFrame, analysed_questions, bulk_objects, decode_responses,
                                      document_texts, free_text_sources)

#: The encoding of :func:`encode`; a block of another format is not used (and is rewritten).
FORMAT = 1
_SMALL_MISSING = -128  # a missing value among whole numbers stored as bytes


def response_ids(session: Session, survey: Survey) -> list[str]:
    """The ids of the survey's stored responses as the database writes them as text, sorted."""
    # Through the driver's cursor, on the session's connection (same transaction): making
    # 100,000 result rows costs five times the query itself.
    query = select(cast(SurveyResponse.id, String)).where(SurveyResponse.survey_id == survey.id)
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    params = (tuple(compiled.params[name] for name in compiled.positiontup or ()) if compiled.positional
              else compiled.params)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return sorted([row[0] if type(row[0]) is str else str(row[0]) for row in cursor.fetchall()])
    finally:
        cursor.close()


def digest(ids: Sequence[str]) -> str:
    """sha256 of the sorted ids, one a line: equal exactly when the sets of responses are."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def layout(defn: SurveyDefinition) -> str:
    """A digest of what the frame's columns depend on: the analysed questions with their
    kinds, categories and columns, and the free-text keys (not the texts)."""
    parts: list[Any] = [[q.key, q.kind, [c.value for c in q.categories], list(q.columns), q.dont_know_column]
                        for q in analysed_questions(defn)]
    parts.append([key for _q, key, _source in free_text_sources(defn)])
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- encoding


def encode(frame: ResponseFrame) -> bytes:
    """The frame's columns, free text and shown counts as bytes (see the module docstring)."""
    header: dict[str, Any] = {"rows": len(frame.data), "columns": [], "shown": frame.shown,
                              "free": [list(found.answers) for found in frame.free_text]}
    buffers: list[bytes] = []
    for name, column in frame.data.items():
        if column.dtype == object:
            codes, levels = frame.categorical(str(name))
            if not all(isinstance(level, str) for level in levels):
                raise ValueError(f"column {name!r} holds values that are not text")
            dtype = np.dtype("<i1") if len(levels) < 127 else np.dtype("<i2") if len(levels) < 32767 else np.dtype("<i4")
            header["columns"].append({"name": name, "kind": "text", "levels": levels, "dtype": dtype.str})
            buffers.append(codes.astype(dtype).tobytes())
            continue
        values = column.to_numpy(dtype=float)
        missing = np.isnan(values)
        present = values[~missing]
        small = bool(np.all((present == np.round(present)) & (np.abs(present) <= 127)
                            & ~((present == 0) & np.signbit(present))))
        if small:
            header["columns"].append({"name": name, "kind": "small"})
            buffers.append(np.where(missing, _SMALL_MISSING, values).astype("<i1").tobytes())
        else:
            header["columns"].append({"name": name, "kind": "float"})
            buffers.append(values.astype("<f8").tobytes())
    head = json.dumps(header, ensure_ascii=False).encode()
    return zlib.compress(struct.pack("<I", len(head)) + head + b"".join(buffers), 1)


def decode(blob: bytes, defn: SurveyDefinition) -> ResponseFrame:
    """The frame :func:`encode` stored, with the questions and texts of ``defn``."""
    raw = zlib.decompress(blob)
    (size,) = struct.unpack_from("<I", raw)
    header = json.loads(raw[4:4 + size].decode())
    n = int(header["rows"])
    at = 4 + size
    columns: dict[str, Any] = {}
    categories: dict[str, tuple[np.ndarray, list[Any]]] = {}
    for spec in header["columns"]:
        name = spec["name"]
        if spec["kind"] == "text":
            dtype = np.dtype(spec["dtype"])
            codes = np.frombuffer(raw, dtype=dtype, count=n, offset=at).astype(np.int32)
            at += n * dtype.itemsize
            levels = spec["levels"]
            lookup = np.empty(len(levels) + 1, dtype=object)
            lookup[:-1] = levels
            lookup[-1] = None
            columns[name] = pd.Series(lookup[codes], dtype=object)
            categories[name] = (codes, levels)
        elif spec["kind"] == "small":
            codes = np.frombuffer(raw, dtype="<i1", count=n, offset=at)
            at += n
            values = codes.astype(float)
            values[codes == _SMALL_MISSING] = np.nan
            columns[name] = values
        else:
            columns[name] = np.frombuffer(raw, dtype="<f8", count=n, offset=at).astype(float)
            at += 8 * n
    data = pd.DataFrame(columns, index=pd.RangeIndex(n))
    return ResponseFrame(data, analysed_questions(defn), _free_text(defn, header["free"]),
                         {str(k): int(v) for k, v in header["shown"].items()}, categories)


def _free_text(defn: SurveyDefinition, texts: Sequence[Sequence[str]]) -> list[doc.FreeTextAnswers]:
    sources = free_text_sources(defn)
    if len(sources) != len(texts):
        raise ValueError("the stored free text does not match the survey's questions")
    return [doc.FreeTextAnswers(q.key, source, document_texts(q.text, defn.languages), tuple(found))
            for (q, _key, source), found in zip(sources, texts, strict=True)]


def merge(first: ResponseFrame, second: ResponseFrame) -> ResponseFrame:
    """The rows of ``first`` then those of ``second`` (same survey, same layout)."""
    data = pd.concat([first.data, second.data], ignore_index=True)
    categories = {}
    for name, column in data.items():
        if column.dtype != object:
            continue
        codes_a, levels_a = first.categorical(str(name))
        codes_b, levels_b = second.categorical(str(name))
        try:
            levels = sorted(set(levels_a) | set(levels_b))
        except TypeError:
            levels = sorted(set(levels_a) | set(levels_b), key=str)
        index = pd.Index(levels, dtype=object)
        remap_a = np.append(index.get_indexer(pd.Index(levels_a, dtype=object)), -1).astype(np.int32)
        remap_b = np.append(index.get_indexer(pd.Index(levels_b, dtype=object)), -1).astype(np.int32)
        categories[str(name)] = (np.concatenate([remap_a[codes_a], remap_b[codes_b]]), levels)
    free = [doc.FreeTextAnswers(a.question_key, a.source, a.text, tuple(sorted(a.answers + b.answers)))
            for a, b in zip(first.free_text, second.free_text, strict=True)]
    shown = {key: first.shown.get(key, 0) + second.shown.get(key, 0) for key in first.shown.keys() | second.shown}
    return ResponseFrame(data, first.questions, free, shown, categories)


def _take(frame: ResponseFrame, order: np.ndarray) -> ResponseFrame:
    """The frame's rows in ``order``."""
    data = frame.data.take(order).reset_index(drop=True)
    categories = {}
    for name, column in frame.data.items():
        if column.dtype == object:
            codes, levels = frame.categorical(str(name))
            categories[str(name)] = (codes[order], levels)
    return ResponseFrame(data, frame.questions, frame.free_text, frame.shown, categories)


# --------------------------------------------------------------------------- reading and compacting


def _read(session: Session, survey: Survey, defn: SurveyDefinition, ids: list[str], *,
          only_if_stale: bool = False) -> tuple[list[str], ResponseFrame, bool] | None:
    """(the frame's row ids, the frame, whether the block holds exactly ``ids``).

    ``only_if_stale``: None when the block is up to date (nothing decoded).
    """
    found = session.execute(
        select(ResponseBlock.format, ResponseBlock.layout, ResponseBlock.digest, ResponseBlock.ids,
               ResponseBlock.columns).where(ResponseBlock.survey_id == survey.id)).one_or_none()
    with bulk_objects():
        if found is not None and found.format == FORMAT and found.layout == layout(defn):
            if found.digest == digest(ids):
                if only_if_stale:
                    return None
                return ids, decode(found.columns, defn), True
            block_ids = zlib.decompress(found.ids).decode().split("\n") if found.ids else []
            known = set(ids)
            tail = sorted(known.difference(block_ids))
            if len(known) - len(tail) == len(block_ids) and len(tail) <= len(ids) // 2:
                tail_ids, tail_frame = decode_responses(session, survey, defn=defn, ids=tail)
                if len(tail_ids) == len(tail):  # else some were deleted meanwhile: read everything
                    return block_ids + tail_ids, merge(decode(found.columns, defn), tail_frame), False
        row_ids, frame = decode_responses(session, survey, defn=defn)
    return row_ids, frame, False


def load_frame(session: Session, survey: Survey, *, defn: SurveyDefinition | None = None,
               ids: list[str] | None = None) -> ResponseFrame:
    """Every stored response of ``survey`` as a frame (see the module docstring).

    ``ids``: the sorted ids of :func:`response_ids`, when the caller has them.
    """
    defn = defn or definition_of(survey)
    ids = response_ids(session, survey) if ids is None else ids
    result = _read(session, survey, defn, ids)
    assert result is not None
    return result[1]


def compact(session: Session, survey: Survey) -> int | None:
    """Write the survey's block when it does not hold exactly its responses.

    Returns the rows written (0: the block was removed, the survey has no
    responses), None when the block was up to date. Does not commit.
    """
    ids = response_ids(session, survey)
    if not ids:
        removed = session.execute(delete(ResponseBlock).where(ResponseBlock.survey_id == survey.id)).rowcount
        return 0 if removed else None
    defn = definition_of(survey)
    result = _read(session, survey, defn, ids, only_if_stale=True)
    if result is None:
        return None
    row_ids, frame, _fresh = result
    order = np.argsort(np.array(row_ids, dtype=object), kind="stable")
    frame = _take(frame, order)
    sorted_ids = [row_ids[i] for i in order]
    values = {"format": FORMAT, "layout": layout(defn), "rows": len(sorted_ids), "digest": digest(sorted_ids),
              "ids": zlib.compress("\n".join(sorted_ids).encode(), 1), "columns": encode(frame),
              "written_at": utcnow()}
    block = session.get(ResponseBlock, survey.id)
    if block is None:
        session.add(ResponseBlock(survey_id=survey.id, **values))
    else:
        for name, value in values.items():
            setattr(block, name, value)
    session.flush()
    return len(sorted_ids)


def compact_all(session: Session) -> dict[int, int]:
    """Compact every survey with responses (or a block) whose block is not up to date.

    Returns {survey id: rows written}. Does not commit.
    """
    survey_ids = sorted(set(session.scalars(select(SurveyResponse.survey_id).distinct()))
                        | set(session.scalars(select(ResponseBlock.survey_id))))
    written = {}
    for survey_id in survey_ids:
        survey = session.get(Survey, survey_id)
        if survey is None:
            continue
        rows = compact(session, survey)
        if rows is not None:
            written[survey_id] = rows
    return written
