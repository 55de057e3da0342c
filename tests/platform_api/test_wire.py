"""Field numbers and wire types checked against hand-encoded protobuf bytes (no generated code involved).

The expected bytes are written from Clara's contract (clara-compat.md §3) with a tiny encoder, so a
renumbered or retyped field in our .proto files fails here even if client and server agree.
"""

from __future__ import annotations

from platform_api._generated.nvidia.clara.platform import clara_pb2, common_pb2, jobs_pb2, payloads_pb2

VARINT, LEN = 0, 2


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def field_varint(number: int, value: int) -> bytes:
    return key(number, VARINT) + varint(value)


def field_bytes(number: int, payload: bytes) -> bytes:
    return key(number, LEN) + varint(len(payload)) + payload


def identifier(value: str) -> bytes:
    return field_bytes(1, value.encode())


def test_response_header_code_is_sint32_field_1() -> None:
    encoded = common_pb2.ResponseHeader(code=-3, messages=["not found"]).SerializeToString()
    assert encoded == field_varint(1, zigzag(-3)) + field_bytes(2, b"not found")


def test_jobs_create_request_numbers() -> None:
    # RequestHeader{api_version=1 {minor=2 (major 0 is the default, not sent)}, user_agent=2}
    header = field_bytes(1, field_varint(2, 6)) + field_bytes(2, b"ua")
    expected = (
        field_bytes(1, header)
        + field_bytes(2, identifier("p" * 32))
        + field_bytes(3, b"job")
        + field_varint(4, 3)  # JOB_PRIORITY_HIGHER
        + field_bytes(5, identifier("i" * 32))
        + field_bytes(6, field_bytes(1, b"k") + field_bytes(2, b"v"))
    )
    message = jobs_pb2.JobsCreateRequest(
        header=common_pb2.RequestHeader(api_version=common_pb2.Version(major=0, minor=6), user_agent="ua"),
        pipeline_id=common_pb2.Identifier(value="p" * 32),
        name="job",
        priority=jobs_pb2.JOB_PRIORITY_HIGHER,
        input_payloads=[common_pb2.Identifier(value="i" * 32)],
        metadata={"k": "v"},
    )
    assert message.SerializeToString() == expected


def test_jobs_status_response_sparse_numbers() -> None:
    message = jobs_pb2.JobsStatusResponse(
        messages=["m"],
        priority=jobs_pb2.JOB_PRIORITY_NORMAL,
        created=common_pb2.Timestamp(value=63_000_000_000),
        operator_details=[jobs_pb2.JobsStatusResponse.JobOperatorDetails(name="op", status=3)],
        dag=[jobs_pb2.JobsStatusResponse.JobDagNode(name="op")],
    )
    expected = (
        field_bytes(8, b"m")
        + field_varint(9, 2)
        + field_bytes(13, field_varint(1, zigzag(63_000_000_000)))
        + field_bytes(16, field_bytes(1, b"op") + field_varint(2, 3))
        + field_bytes(18, field_bytes(1, b"op"))
    )
    assert message.SerializeToString() == expected


def test_payload_upload_request_numbers() -> None:
    message = payloads_pb2.PayloadsUploadRequest(
        payload_id=common_pb2.Identifier(value="a" * 32),
        details=payloads_pb2.PayloadFileDetails(mode=0, size=5, name="x.dcm"),
        data=b"hello",
    )
    expected = (
        field_bytes(2, identifier("a" * 32))
        + field_bytes(3, field_varint(2, 5) + field_bytes(3, b"x.dcm"))
        + field_bytes(4, b"hello")
    )
    assert message.SerializeToString() == expected


def test_payloads_create_response_type_is_field_5() -> None:
    message = payloads_pb2.PayloadsCreateResponse(type=payloads_pb2.PAYLOAD_TYPE_REUSABLE)
    assert message.SerializeToString() == field_varint(5, 2)


def test_jobs_start_request_variables_field_3() -> None:
    message = jobs_pb2.JobsStartRequest(Variables=[jobs_pb2.JobsStartRequest.NamedValue(name="A", value="1")])
    assert message.SerializeToString() == field_bytes(3, field_bytes(1, b"A") + field_bytes(2, b"1"))


def test_gpu_utilization_numbers() -> None:
    gpu = clara_pb2.ClaraUtilizationResponse.GpuUtilization(node_id="n", pcie_id=2, memory_free=7)
    assert gpu.SerializeToString() == field_bytes(1, b"n") + field_varint(2, 2) + field_varint(7, 7)


def test_decoding_a_hand_built_status_response() -> None:
    """What a Clara server sends decodes into the fields our client reads."""
    raw = field_bytes(1, field_varint(1, zigzag(0))) + field_varint(5, 3) + field_varint(6, 2) + field_bytes(7, b"ct")
    message = jobs_pb2.JobsStatusResponse.FromString(raw)
    assert (message.state, message.status, message.name) == (3, 2, "ct")


def decode(raw: bytes) -> dict[int, list[int | bytes]]:
    """Top-level fields of a protobuf message: {number: [varint or bytes, ...]} (varint and LEN only)."""
    fields: dict[int, list[int | bytes]] = {}
    index = 0

    def read_varint() -> int:
        nonlocal index
        shift = result = 0
        while True:
            byte = raw[index]
            index += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while index < len(raw):
        tag = read_varint()
        number, wire_type = tag >> 3, tag & 7
        if wire_type == VARINT:
            fields.setdefault(number, []).append(read_varint())
        elif wire_type == LEN:
            length = read_varint()
            fields.setdefault(number, []).append(raw[index : index + length])
            index += length
        else:
            raise AssertionError(f"unexpected wire type {wire_type} for field {number}")
    return fields


def test_decoder_reads_what_encoder_writes() -> None:
    assert decode(field_varint(9, 300) + field_bytes(2, b"ab")) == {9: [300], 2: [b"ab"]}
