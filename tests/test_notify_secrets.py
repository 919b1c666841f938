"""The sinks' secrets (the Tracking API write key, Slack's webhook URL, the webhook's URL and headers) never
reach the output, the logs, the dataset or dlt's files: not when deliveries succeed, not when a sink
refuses, fails or cannot be reached, at DEBUG level with urllib3's own request log switched on."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from segment_emulator import generate_workspace

from pipelines import cli

from .http_receiver import Receiver
from .http_receiver import receiver  # noqa: F401 - fixture
from .notify_setup import notify_env, write_key  # noqa: F401 - notify_env: fixture
from .postgres import free_port
from .test_secrets import dataset_text, files_text, found

SLACK_SECRET = "/services/T0SECRET/B0SECRET/slackSecretPart123"
WEBHOOK_PATH, WEBHOOK_QUERY = "/hooks/webhookPathSecret", "token=webhookQuerySecret"
HEADERS = {"Authorization": "Bearer webhookHeaderSecret", "X-Api-Key": "webhookApiKeySecret"}
WRONG_KEY = "wrongWriteKeySecret"


@pytest.mark.slow
def test_no_sink_secret_in_output_logs_dataset_or_dlt_files(start_emulator, tmp_path, capsys, caplog, monkeypatch,
                                                           notify_env, receiver):
    workspace = generate_workspace(seed=82, scale="tiny")
    emulator = start_emulator(workspace)
    hook = Receiver()
    key = write_key(workspace)
    slack_url, webhook_url = receiver.url(SLACK_SECRET), hook.url(f"{WEBHOOK_PATH}?{WEBHOOK_QUERY}")
    notify_env("segment", write_key=key, endpoint=emulator.base_url)
    notify_env("slack", webhook_url=slack_url)
    notify_env("webhook", url=webhook_url, headers=HEADERS)
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")  # kept, so the scan reads dlt's package files
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    for name in ("dlt", "segment_history", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    logging.getLogger("dlt").addHandler(caplog.handler)
    duckdb_path, pipelines_dir = str(tmp_path / "history.duckdb"), tmp_path / "pipelines"
    place = ["--duckdb-path", duckdb_path, "--pipelines-dir", str(pipelines_dir), "--pipeline-name", "secrets"]
    run = ["-v", "run", "--base-url", emulator.base_url, "--groups", "core", *place]
    codes = []
    try:
        codes.append(cli.main(run))
        for seed, trouble in enumerate(["none", "refused", "failing", "unreachable"]):
            workspace.mutate(count=3, seed=820 + seed)
            if trouble == "refused":
                notify_env("segment", write_key=WRONG_KEY)
                receiver.answer_next(404, b"no_service")
                hook.answer_next(401)
            elif trouble == "failing":
                notify_env("segment", write_key=key)
                emulator.tracking.fail_next(500, times=3)
                receiver.answer_next(503, times=3)
                hook.answer_next(429, headers={"Retry-After": "0"}, times=3)
            elif trouble == "unreachable":
                for sink, setting in (("segment", "endpoint"), ("slack", "webhook_url"), ("webhook", "url")):
                    notify_env(sink, **{setting: f"http://127.0.0.1:{free_port()}{SLACK_SECRET}"})
            codes.append(cli.main([*run, "--json"] if trouble == "failing" else run))
        notify_env("segment", endpoint=emulator.base_url)
        notify_env("slack", webhook_url=slack_url)
        notify_env("webhook", url=webhook_url)
        codes.append(cli.main(["-v", "notify", *place]))
        codes.append(cli.main(["-v", "notify", "--json", *place]))
    finally:
        logging.getLogger("dlt").removeHandler(caplog.handler)
        hook.stop()
    assert codes == [cli.EXIT_OK] * 5 + [cli.EXIT_OK, cli.EXIT_OK]

    out, err = capsys.readouterr()
    assert err.count("notify.slack") >= 3 and "HTTP 401" in err and "HTTP 503" in err and "could not connect" in err
    assert len(hook.requests) >= 5 and hook.requests[-1].headers["X-Api-Key"] == HEADERS["X-Api-Key"]
    assert any("POST" in r.getMessage() for r in caplog.records if r.name.startswith("urllib3")), (
        "urllib3's request log was on (and shows requests to URLs that are not secret)")
    records = "\n".join(caplog.text.splitlines() + [str(r.args) for r in caplog.records])
    everywhere = {"stdout": out, "stderr": err, "log": records, **dataset_text(duckdb_path),
                  **{f"file {name}": text for name, text in files_text(pipelines_dir).items()}}
    assert any("notifications" in name for name in everywhere), "the notifications table was scanned"
    secrets = [key, WRONG_KEY, base64.b64encode(f"{key}:".encode()).decode(), slack_url, SLACK_SECRET,
               "slackSecretPart123", webhook_url, "webhookPathSecret", "webhookQuerySecret",
               *HEADERS.values(), "webhookHeaderSecret"]
    assert found(secrets, everywhere) == []
    assert json.loads(out[out.rindex('{\n  "sinks"'):])["error"] is None
