from __future__ import annotations

import httpx


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "live"}
    assert (await client.get("/health/ready")).status_code == 200


async def test_metrics_count_tasks_by_state_and_agent(client: httpx.AsyncClient) -> None:
    await client.post("/api/tasks/register/ClaraSCU", json={"jobId": "j", "uris": ["a.dcm"], "parameters": '"P"'})
    await client.get("/api/tasks/ClaraSCU/pending")
    text = (await client.get("/metrics")).text
    assert 'openclara_results_tasks{agent="ClaraSCU",state="InProgress"} 1.0' in text
    assert 'openclara_results_queue_latency_seconds_count{agent="ClaraSCU"} 1.0' in text
    assert "openclara_results_lease_expiries_total" in text


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "no route for GET /nowhere"
