"""Thin grpc.aio servicers: protobuf in, domain calls, protobuf out. The only modules importing pb2."""
