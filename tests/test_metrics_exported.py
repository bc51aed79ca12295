"""Every metric an alert rule or a dashboard panel reads is exported by a running service: the five
services as real processes on real NATS, PostgreSQL and SMTP, one severe report through them, then each
internal metrics port scraped. A renamed or removed metric would silence its alert without a word.

The new operational metrics also carry the numbers they promise: notices by channel and outcome, the
HTTP histogram by route template, consumer lag per durable, the outbox depth, the consumers' readiness."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from antibully.infra import NatsServer, SmtpSink, free_port
from shared.crypto import new_key_b64
from tests.fault_rig import Rig, rig_env
from tests.helpers import ServiceProcesses, eventually
from tests.metric_names import PROMETHEUS_OWN, base_name, exported_names, metric_names
from tests.test_metrics_rules import expressions

pytestmark = pytest.mark.timeout(300)

SERVICES = ("intake", "escalation", "notify", "archive", "console")


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


async def scrape(ports: dict[str, int]) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=10) as client:
        answers = {s: await client.get(f"http://127.0.0.1:{p}/metrics") for s, p in ports.items()}
    return {s: r.raise_for_status().text for s, r in answers.items()}


async def test_every_metric_a_rule_or_panel_reads_is_exported(tmp_path: Path, nats_server: NatsServer,
                                                              database: str, smtp_sink: SmtpSink) -> None:
    ports = {s: free_port() for s in SERVICES}
    env = rig_env(nats_server.url, database, smtp_sink.port, CONSOLE_PORT=str(free_port()), CONSOLE_DEV_MODE="1",
                  CONSOLE_SESSION_KEY=new_key_b64(), **{f"{s.upper()}_METRICS_PORT": str(p) for s, p in ports.items()})
    rig = Rig(env, ServiceProcesses(env, tmp_path), smtp_sink)
    try:
        await rig.start(SERVICES)
        await rig.post(1, 1.0, "metrics")


        async def all_sent() -> bool:  # 7 notices and the look-back review: every consumer has worked
            return len(smtp_sink.messages) == 8

        await eventually(all_sent, timeout_s=60, interval_s=0.5)
        await asyncio.sleep(6)  # one more round of the consumer watch (5 s) after the last ack
        texts = await scrape(ports)
    finally:
        rig.fleet.stop_all()

    exported = set().union(*(exported_names(t) for t in texts.values()))
    wanted = {(where, name) for where, expr in expressions().items() for name in metric_names(expr)}
    missing = sorted((where, name) for where, name in wanted
                     if name not in PROMETHEUS_OWN and name not in exported and base_name(name) not in exported)
    assert not missing, missing
    assert len({name for _, name in wanted}) >= 10  # the rules and panels read something

    notices = {(labels["channel"], labels["outcome"]): v
               for labels, v in samples(texts["notify"], "antibully_notices_total")}
    assert notices.get(("email", "sent"), 0) >= 7, notices
    posts = [(labels, v) for labels, v in samples(texts["intake"], "antibully_http_request_duration_seconds_count")
             if labels["route"] == "/v1/incidents" and labels["method"] == "POST"]
    assert posts == [({"route": "/v1/incidents", "method": "POST", "status": "2xx"}, 1.0)], posts
    for service in ("intake", "escalation", "notify", "archive"):
        lag = samples(texts[service], "antibully_consumer_pending")
        assert lag and all(v == 0 for _, v in lag), (service, lag)  # every durable read; all caught up
        ready = {labels["dependency"]: v for labels, v in samples(texts[service], "antibully_dependency_up")}
        assert ready == {"postgres": 1.0, "nats": 1.0, "consumers": 1.0}, (service, ready)
        assert samples(texts[service], "antibully_outbox_depth") == [({"service": service}, 0.0)], service
    assert {labels["dependency"] for labels, v in samples(texts["console"], "antibully_dependency_up") if v == 1} == {
        "archive", "intake"}
    overdue = samples(texts["escalation"], "antibully_duties_overdue")
    assert {labels["kind"] for labels, _ in overdue} == {"notice", "task"}, overdue
