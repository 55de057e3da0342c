"""Fuzzing the upper-layer PDU codecs of the one DICOM layer (dicom_adapter/dicom, PS3.8 9.3) that the SCP,
the export SCU and C-ECHO share: the A-ASSOCIATE-RQ and -AC decoders (acse.py), the P-DATA stream splitter
(stream.py) and the P-DATA-TF reader (pdu.py). Bytes from a peer decode or raise the layer's ProtocolError,
never another exception; what an encoder writes, its decoder reads to the same values.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dicom_adapter.dicom import acse
from dicom_adapter.dicom.contexts import AcceptedContext, ContextResult, ProposedContext
from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.pdu import decode_associate_rj, encode_abort, encode_p_data, iter_pdvs
from dicom_adapter.dicom.status import describe_rejection
from dicom_adapter.dicom.stream import Fragment, OtherPdu, PduStream
from dicom_adapter.dicom.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from tests.security.fuzzing import AE_TITLE, UID, fuzzed

MAX_PDU = 1 << 16

contexts = st.lists(
    st.builds(
        ProposedContext,
        context_id=st.integers(0, 127).map(lambda n: 2 * n + 1),
        abstract_syntax=UID,
        transfer_syntaxes=st.lists(UID, min_size=1, max_size=3).map(tuple),
    ),
    max_size=5,
    unique_by=lambda c: c.context_id,
)
requests = st.tuples(AE_TITLE, AE_TITLE, contexts, st.integers(0, 0xFFFFFFFF))


def _rq(request: tuple[str, str, list[ProposedContext], int]) -> bytes:
    calling, called, contexts, max_pdu = request
    return acse.encode_associate_rq(
        acse.AssociateRequest(
            maximum_length=max_pdu,
            implementation_class_uid=IMPLEMENTATION_CLASS_UID,
            implementation_version_name=IMPLEMENTATION_VERSION_NAME,
            called_ae_title=called,
            calling_ae_title=calling,
            contexts=contexts,
        )
    )


def _ac(request: tuple[str, str, list[ProposedContext], int]) -> bytes:
    decoded = acse.decode_associate_rq(_rq(request)[6:])
    answers = [
        AcceptedContext(c.context_id, ContextResult.ACCEPTANCE, transfer_syntax=c.transfer_syntaxes[0])
        for c in request[2]
    ]
    return acse.encode_associate_ac(decoded, answers, _user(16384))


def _user(max_pdu: int) -> acse.UserInformation:
    return acse.UserInformation(max_pdu, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME)


@given(requests)
def test_associate_rq_decodes_to_the_values_encoded(request):
    calling, called, proposed, max_pdu = request
    decoded = acse.decode_associate_rq(_rq(request)[6:])
    assert (decoded.calling_ae_title, decoded.called_ae_title) == (calling, called)
    assert [(c.context_id, c.abstract_syntax, c.transfer_syntaxes) for c in decoded.contexts] == [
        (c.context_id, c.abstract_syntax, c.transfer_syntaxes) for c in proposed
    ]
    assert decoded.maximum_length == max_pdu
    assert decoded.implementation_class_uid == IMPLEMENTATION_CLASS_UID
    assert decoded.implementation_version_name == IMPLEMENTATION_VERSION_NAME


@given(fuzzed(requests.map(lambda r: _rq(r)[6:]), max_random=256))
def test_associate_rq_decoder_raises_only_protocol_error(body):
    try:
        acse.decode_associate_rq(body)
    except ProtocolError:
        pass


@given(requests, st.lists(st.sampled_from(ContextResult), min_size=5, max_size=5), st.integers(0, 0xFFFFFFFF))
def test_associate_ac_decodes_to_the_values_encoded(request, results, max_pdu):
    decoded = acse.decode_associate_rq(_rq(request)[6:])
    answers = [
        AcceptedContext(c.context_id, result, transfer_syntax=c.transfer_syntaxes[-1])
        for c, result in zip(request[2], results, strict=False)
    ]
    ac = acse.encode_associate_ac(decoded, answers, _user(max_pdu))
    accept = acse.decode_associate_ac(ac[6:])
    assert accept.maximum_length == max_pdu
    assert accept.implementation_class_uid == IMPLEMENTATION_CLASS_UID
    assert accept.contexts == {
        a.context_id: AcceptedContext(a.context_id, a.result, transfer_syntax=a.transfer_syntax) for a in answers
    }


@given(fuzzed(requests.map(lambda r: _ac(r)[6:]), max_random=256))
def test_associate_ac_decoder_raises_only_protocol_error(body):
    try:
        acse.decode_associate_ac(body)
    except ProtocolError:
        pass


@given(st.binary(max_size=16))
def test_associate_rj_decodes_or_says_it_is_too_short(body):
    fields = decode_associate_rj(body)
    assert (fields is None) == (len(body) < 4)
    if fields is not None:
        assert describe_rejection(*fields).startswith("association rejected")


pdvs = st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=300), st.booleans()), min_size=1, max_size=4)


def _stream(messages: list[tuple[int, bytes, bool]]) -> bytes:
    return b"".join(encode_p_data(context_id, data, last=last) for context_id, data, last in messages)


def _read(stream: bytes, cuts: list[int]) -> list[tuple[object, ...]]:
    """What a PduStream yields for `stream` read in the pieces `cuts` make; PDV pieces joined per PDV."""
    splitter, pieces = PduStream(MAX_PDU), b""
    events: list[tuple[object, ...]] = []
    bounds = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        for event in splitter.feed(stream[start:end]):
            if isinstance(event, OtherPdu):
                events.append(("pdu", event.pdu_type, event.body))
                continue
            assert isinstance(event, Fragment)
            pieces += bytes(event.data)
            if event.end:
                events.append(("pdv", event.context_id, event.command, event.last, pieces))
                pieces = b""
    return [*events, ("unfinished", pieces, splitter.at_boundary)]


@given(pdvs, st.lists(st.integers(0, 1 << 16), max_size=8))
def test_p_data_reads_back_whole_in_any_chunking(messages, cuts):
    stream = _stream(messages) + encode_abort()
    expected = [("pdv", c, True, last, data) for c, data, last in messages] + [
        ("pdu", 7, encode_abort()[6:]),
        ("unfinished", b"", True),
    ]
    assert _read(stream, cuts) == expected
    assert [iter_pdvs(encode_p_data(c, d, last=last)[6:]) for c, d, last in messages] == [
        [(c, 0x03 if last else 0x01, d)] for c, d, last in messages
    ]


@given(fuzzed(pdvs.map(_stream), max_random=512), st.lists(st.integers(0, 1 << 16), max_size=8))
def test_pdu_stream_raises_only_protocol_error_whatever_the_chunking(stream, cuts):
    outcomes: list[object] = []
    no_cuts: list[int] = []
    for pieces in (no_cuts, cuts):
        try:
            outcomes.append(_read(stream, pieces))
        except ProtocolError as exc:
            outcomes.append(type(exc))
    assert outcomes[0] == outcomes[1]


@given(fuzzed(pdvs.map(lambda m: _stream(m)[6:]), max_random=256))
def test_p_data_reader_raises_only_protocol_error(body):
    try:
        iter_pdvs(body)
    except ProtocolError:
        pass
