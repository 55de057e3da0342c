"""Tiny ONNX models built in-process with onnx.helper, so no test downloads a model."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def threshold_model(path: Path, rank: int = 4, channels: int = 1, hu: float = -500.0) -> Path:
    """sigmoid(x - hu): above 0.5 exactly where x > hu; or two logits (-(x - hu), x - hu) for argmax."""
    dims = ["n", "c", "h", "w"] if rank == 4 else ["n", "c", "d", "h", "w"]
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [], [-hu])
    nodes = [helper.make_node("Add", ["x", "bias"], ["shifted"]), helper.make_node("Sigmoid", ["shifted"], ["p"])]
    output = "p"
    if channels == 2:
        nodes.append(helper.make_node("Neg", ["shifted"], ["q"]))
        nodes.append(helper.make_node("Concat", ["q", "shifted"], ["y"], axis=1))
        output = "y"
    graph = helper.make_graph(
        nodes,
        "threshold",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [dims[0], "k", *dims[2:]])],
        initializer=[bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
