"""Pipeline DAGs: dependency order, traversal from roots and sinks, cycle detection."""

from __future__ import annotations

from platform_server.pipelines.dag import Dag, JobNode, PipelineNode


def diamond() -> Dag:
    return Dag.build(["a", "b", "c", "d"], {"b": ["a"], "c": ["a"], "d": ["b", "c"]})


def test_order_respects_dependencies_and_declaration_order() -> None:
    assert diamond().order() == ["a", "b", "c", "d"]
    assert Dag.build(["z", "y"], {"z": ["y"]}).order() == ["y", "z"]


def test_pipeline_nodes_go_from_roots_along_next() -> None:
    d = PipelineNode("d")
    assert diamond().pipeline_nodes() == [PipelineNode("a", [PipelineNode("b", [d]), PipelineNode("c", [d])])]


def test_job_nodes_go_from_sinks_along_inputs() -> None:
    a = JobNode("a")
    assert diamond().job_nodes() == [JobNode("d", [JobNode("b", [a]), JobNode("c", [a])])]


def test_find_cycle() -> None:
    assert diamond().find_cycle() is None
    assert Dag.build(["a", "b"], {"a": ["b"], "b": ["a"]}).find_cycle() == ["a", "b", "a"]
