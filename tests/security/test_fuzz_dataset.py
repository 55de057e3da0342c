"""Fuzzing the data-set and Part-10 readers: the DICOM layer's element walker (dicom/elements.py, which
raises only its own DataSetError, TruncatedDataSetError when cut short), the spool's UID reads
(storage/instance_file.py, storage/completion.py) and the export SCU's file meta reader (export/part10.py
over dicom/part10.py).

A data set from a peer is refused with UndecodableDataError or DataSetMismatchError by the header
readers, or with the walk's DataSetError (TruncatedDataSetError when cut short) by the SCP's checks,
never another exception; the walk's verdict does not depend on how much of the data set is buffered; a
data set cut anywhere inside an element is refused, and one cut between top-level elements is not. Valid
data sets and files read back to the UIDs they were written with.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicom_adapter.dicom import errors as dicom_errors
from dicom_adapter.dicom.elements import check_complete, top_level_scan
from dicom_adapter.dicom.errors import DataSetError
from dicom_adapter.dicom.uids import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)
from dicom_adapter.export.errors import UndecodableFileError
from dicom_adapter.export.part10 import read_part10
from dicom_adapter.storage.completion import read_completion
from dicom_adapter.storage.errors import DataSetMismatchError, UndecodableDataError
from dicom_adapter.storage.instance_file import (
    FileMeta,
    encode_file_meta,
    read_header,
    read_header_file,
)
from tests.security.fuzzing import AE_TITLE, UID, fuzzed, mutated

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about every odd data set it reads

SOP_CLASS, SOP_INSTANCE, STUDY, SERIES = 0x00080016, 0x00080018, 0x0020000D, 0x0020000E
PATIENT_NAME = 0x00100010
_LONG_VRS = {"OB", "OW", "SQ", "UN", "UT"}
SYNTAXES = (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN)

# An element: (tag, VR, value, undefined length). A value is bytes, or for SQ a tuple of items, each
# (elements, undefined length); for encapsulated pixel data (OB, undefined) a tuple of fragments.
Element = tuple[int, str, object, bool]


def _header(tag: int, vr: str, length: int, implicit: bool, endian: str) -> bytes:
    if tag >> 16 == 0xFFFE or implicit:
        return struct.pack(f"{endian}HHI", tag >> 16, tag & 0xFFFF, length)
    if vr in _LONG_VRS:
        return struct.pack(f"{endian}HH2s2xI", tag >> 16, tag & 0xFFFF, vr.encode(), length)
    return struct.pack(f"{endian}HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), length)


def encode(element: Element, implicit: bool, endian: str = "<") -> bytes:
    tag, vr, value, undefined = element
    if isinstance(value, bytes):
        body = value
    elif vr == "SQ":
        body = b""
        for elements, item_undefined in value:  # type: ignore[attr-defined]
            inner = b"".join(encode(e, implicit, endian) for e in elements)
            body += _header(0xFFFEE000, "", 0xFFFFFFFF if item_undefined else len(inner), implicit, endian) + inner
            if item_undefined:
                body += _header(0xFFFEE00D, "", 0, implicit, endian)
    else:  # encapsulated fragments
        body = b"".join(_header(0xFFFEE000, "", len(f), implicit, endian) + f for f in value)  # type: ignore[attr-defined]
    if not undefined:
        return _header(tag, vr, len(body), implicit, endian) + body
    return _header(tag, vr, 0xFFFFFFFF, implicit, endian) + body + _header(0xFFFEE0DD, "", 0, implicit, endian)


def _uid(uid: str) -> bytes:
    raw = uid.encode()
    return raw + b"\0" if len(raw) % 2 else raw


even_bytes = st.binary(max_size=64).map(lambda b: b + b"\0" if len(b) % 2 else b)
names = st.text("ABCDEFGHIJ^ ", max_size=20).map(lambda t: t.encode() + (b" " if len(t) % 2 else b""))
leaf = st.one_of(
    st.tuples(st.just(PATIENT_NAME), st.just("PN"), names, st.just(False)),
    st.tuples(st.just(0x00280010), st.just("US"), st.binary(min_size=2, max_size=2), st.just(False)),
    st.tuples(st.just(0x0020000E), st.just("UI"), UID.map(_uid), st.just(False)),
)
items = st.lists(st.tuples(st.lists(leaf, max_size=3).map(tuple), st.booleans()), max_size=3).map(tuple)
optional = st.one_of(
    st.tuples(st.just(PATIENT_NAME), st.just("PN"), names, st.just(False)),
    st.tuples(st.just(0x00081115), st.just("SQ"), items, st.booleans()),
    st.tuples(st.just(0x7FE00010), st.just("OB"), even_bytes, st.just(False)),
    st.tuples(
        st.just(0x7FE00010), st.just("OB"), st.lists(even_bytes, min_size=1, max_size=3).map(tuple), st.just(True)
    ),
)


@st.composite
def data_sets(draw: st.DrawFn) -> tuple[dict[int, str], list[Element]]:
    """(the UIDs by tag, the top-level elements in tag order)."""
    uids = {tag: draw(UID) for tag in (SOP_CLASS, SOP_INSTANCE, STUDY, SERIES)}
    elements: dict[int, Element] = {tag: (tag, "UI", _uid(uid), False) for tag, uid in uids.items()}
    for element in draw(st.lists(optional, max_size=3)):
        elements.setdefault(element[0], element)
    return uids, [elements[tag] for tag in sorted(elements)]


def _syntax(implicit: bool, endian: str) -> str:
    return (
        IMPLICIT_VR_LITTLE_ENDIAN
        if implicit
        else EXPLICIT_VR_LITTLE_ENDIAN
        if endian == "<"
        else EXPLICIT_VR_BIG_ENDIAN
    )


def _verdict(data: bytes, head_size: int, implicit: bool, little_endian: bool, start: int = 0) -> type | None:
    """check_complete's answer with only `head_size` bytes buffered (the rest read on demand)."""
    try:
        check_complete(
            data[:head_size],
            len(data),
            lambda offset, count: data[offset : offset + count],
            implicit=implicit,
            little_endian=little_endian,
            start=start,
        )
    except DataSetError as exc:  # the layer's TruncatedDataSetError included
        return type(exc)
    return None


encodings = st.sampled_from(((True, "<"), (False, "<"), (False, ">")))


@given(data_sets(), encodings, st.integers(0, 1 << 12))
def test_valid_data_sets_pass_the_walk_and_read_back_their_uids(data_set, encoding, head_size):
    uids, elements = data_set
    implicit, endian = encoding
    data = b"".join(encode(e, implicit, endian) for e in elements)
    assert _verdict(data, head_size, implicit, endian == "<") is None
    header = read_header(data, True, _syntax(implicit, endian))
    assert header is not None
    assert (header.sop_class_uid, header.sop_instance_uid, header.study_instance_uid, header.series_instance_uid) == (
        uids[SOP_CLASS],
        uids[SOP_INSTANCE],
        uids[STUDY],
        uids[SERIES],
    )
    if endian == "<":  # the fast walk and pydicom (which `extra` tags force) agree
        slow = read_header(data, True, _syntax(implicit, endian), extra=(PATIENT_NAME,))
        assert slow is not None and slow.sop_instance_uid == header.sop_instance_uid
        assert _verdict(data, head_size, implicit, True, start=header.walked) is None


@given(data_sets(), encodings, st.integers(1, 1 << 16), st.integers(0, 1 << 12))
def test_a_data_set_cut_inside_an_element_is_refused_and_between_elements_is_not(data_set, encoding, cut, head):
    _, elements = data_set
    implicit, endian = encoding
    encoded = [encode(e, implicit, endian) for e in elements]
    data = b"".join(encoded)
    cut %= len(data)
    boundaries = {sum(len(e) for e in encoded[:k]) for k in range(len(encoded))}
    expected = None if cut in boundaries else dicom_errors.TruncatedDataSetError
    assert _verdict(data[:cut], head, implicit, endian == "<") is expected


def _seed(data_set: tuple[dict[int, str], list[Element]], encoding: tuple[bool, str]) -> bytes:
    return b"".join(encode(e, encoding[0], encoding[1]) for e in data_set[1])


seeds = st.builds(_seed, data_sets(), encodings)


@given(fuzzed(seeds), st.booleans(), st.booleans(), st.integers(0, 1 << 12))
def test_the_walk_raises_only_its_errors_whatever_is_buffered(data, implicit, little_endian, head_size):
    verdict = _verdict(data, len(data), implicit, little_endian)
    assert _verdict(data, head_size, implicit, little_endian) == verdict
    scanned = top_level_scan(data, implicit, {SOP_INSTANCE}, SERIES)
    if scanned is not None and verdict is None and little_endian:
        assert _verdict(data, head_size, implicit, little_endian, start=scanned[1]) is None


@given(
    fuzzed(seeds),
    st.sampled_from((*SYNTAXES, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)),
    st.booleans(),
    st.sampled_from(((), (PATIENT_NAME,))),
)
def test_header_reader_raises_only_store_errors(data, syntax, complete, extra):
    try:
        read_header(data, complete, syntax, extra)
    except (UndecodableDataError, DataSetMismatchError):
        pass


metas = st.builds(
    FileMeta,
    sop_class_uid=UID,
    sop_instance_uid=UID,
    transfer_syntax=st.sampled_from((*SYNTAXES, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)),
    implementation_class_uid=UID,
    implementation_version_name=AE_TITLE,
    calling_ae_title=AE_TITLE,
    called_ae_title=AE_TITLE,
    sending_address=st.just("dicom://127.0.0.1:104"),
)


def _file(meta: FileMeta, data_set: tuple[dict[int, str], list[Element]]) -> bytes:
    syntax = meta.transfer_syntax
    data = b"".join(
        encode(e, syntax == IMPLICIT_VR_LITTLE_ENDIAN, ">" if syntax == EXPLICIT_VR_BIG_ENDIAN else "<")
        for e in data_set[1]
    )
    if syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        data = deflater.compress(data) + deflater.flush()
    return encode_file_meta(meta) + data


@pytest.fixture(scope="module")
def spool_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One file, rewritten by every example (Hypothesis runs examples one after the other)."""
    yield tmp_path_factory.mktemp("fuzz") / "instance.dcm"


@given(metas, data_sets())
def test_part10_files_read_back_in_the_scp_and_the_export_scu(spool_file, meta, data_set):
    content = _file(meta, data_set)
    spool_file.write_bytes(content)
    header = read_header_file(spool_file)
    assert (header.sop_instance_uid, header.series_instance_uid) == (data_set[0][SOP_INSTANCE], data_set[0][SERIES])
    part10 = read_part10(spool_file)
    assert (part10.sop_class_uid, part10.sop_instance_uid, part10.transfer_syntax) == (
        meta.sop_class_uid,
        meta.sop_instance_uid,
        meta.transfer_syntax,
    )
    assert part10.dataset_offset == len(encode_file_meta(meta))
    assert read_completion(spool_file) is None  # the record is still zeros: not complete


@given(fuzzed(st.builds(_file, metas, data_sets()), max_random=1024))
def test_part10_readers_raise_only_their_errors(spool_file, content):
    spool_file.write_bytes(content)
    try:
        read_header_file(spool_file)
    except (UndecodableDataError, DataSetMismatchError):
        pass
    try:
        read_part10(spool_file)
    except UndecodableFileError:
        pass
    read_completion(spool_file)  # never raises for bad content


@given(st.builds(_file, metas, data_sets()).flatmap(lambda c: mutated(c[128:], max_mutations=2)))
def test_part10_readers_survive_a_mutated_file_meta(spool_file, tail):
    """Mutations land anywhere after the preamble; most hit the meta, where the readers parse by hand."""
    spool_file.write_bytes(bytes(128) + tail)
    try:
        read_part10(spool_file)
    except UndecodableFileError:
        pass
    try:
        read_header_file(spool_file)
    except (UndecodableDataError, DataSetMismatchError):
        pass
    read_completion(spool_file)
