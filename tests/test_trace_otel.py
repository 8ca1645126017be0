"""OpenTelemetry export of a task (fmsh/trace/spans.py, otel.py, otlp.py): `fmsh --trace ID
--otel-json FILE` and `fmsh --trace ID --otlp URL`, on the journal of a real run against
sshd: a fan-out where one host fails and one needs a second try, loop rounds, awaits, a
retried block."""

from __future__ import annotations

import base64
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TRACEBACK, run_fmsh
from google.protobuf.json_format import MessageToDict
from journalbox import journal_rows, lab_env

SCRIPT = """task otel {
  retry 2 backoff 100ms @host0[1-5] '%(remote)s'
  for svc in nginx app; do
    @host0[1-2] echo restart $svc
  done
  await port 127.0.0.1:1 every 100ms timeout 300ms || echo no port
  signal $FMSH_TASK_ID go 42
  await signal go into v timeout 5s
  echo got $v
  retry 3 backoff 100ms { test -e %(dir)s/flag || { touch %(dir)s/flag; false; }; }
}
"""
# host03 fails each time; host04 fails the first time only
REMOTE = 'case " $SSH_CONNECTION " in *" %(a3)s "*) exit 3;; *" %(a4)s "*) test -e %(dir)s/h4 || { touch %(dir)s/h4; exit 1; };; esac; echo ok'  # noqa: E501


class Run:
    def __init__(self, root: Path, env: dict[str, str], task_id: int) -> None:
        self.root = root
        self.env = env
        self.task_id = task_id

    def fmsh(self, *args: str, env: dict[str, str] | None = None, timeout: float = 30):  # type: ignore[no-untyped-def]
        return run_fmsh(*args, cwd=self.root, env={**self.env, **(env or {})}, timeout=timeout)

    def rows(self, sql: str) -> list[tuple]:  # type: ignore[type-arg]
        return journal_rows(self.root, sql)

    def otel_json(self, name: str = "spans.json") -> dict[str, Any]:
        r = self.fmsh("--trace", str(self.task_id), "--otel-json", name)
        assert r.status == 0, r
        return json.loads((self.root / name).read_text())

    def document(self) -> dict[str, Any]:
        """The trace document, as `fmsh --trace ID --json` prints it."""
        r = self.fmsh("--trace", str(self.task_id), "--json")
        assert r.status == 0, r
        return json.loads(r.out)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def run(ssh_lab, tmp_path_factory: pytest.TempPathFactory) -> Run:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("otel")
    env = lab_env(ssh_lab, root)
    places = {"a3": ssh_lab.addresses["host03"][0], "a4": ssh_lab.addresses["host04"][0], "dir": root}
    text = SCRIPT % {"remote": REMOTE % places, "dir": root}
    (root / "deploy.fmsh").write_text(text)
    r = run_fmsh("deploy.fmsh", cwd=root, env=env, timeout=60)
    assert "got 42" in r.out and "no port" in r.out, r
    (task_id,) = journal_rows(root, "SELECT id FROM tasks WHERE name = 'otel'")[0]
    return Run(root, env, task_id)


# --- reading OTLP/JSON and OTLP/protobuf the same way ----------------------------------


def _value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "boolValue" in value:
        return value["boolValue"]
    if "doubleValue" in value:
        return value["doubleValue"]
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    raise AssertionError(value)


def _spans_of_json(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The spans of an ExportTraceServiceRequest in OTLP/JSON, flattened for the checks."""
    [resource_spans] = data["resourceSpans"]
    resource = {a["key"]: _value(a["value"]) for a in resource_spans["resource"]["attributes"]}
    assert resource["service.name"] == "fmsh"
    [scope_spans] = resource_spans["scopeSpans"]
    return [
        {
            "trace": span["traceId"],
            "id": span["spanId"],
            "parent": span.get("parentSpanId", ""),
            "name": span["name"],
            "kind": span.get("kind", 0),
            "start": int(span["startTimeUnixNano"]),
            "end": int(span["endTimeUnixNano"]),
            "attributes": {a["key"]: _value(a["value"]) for a in span.get("attributes", [])},
            "events": [
                (e["name"], int(e["timeUnixNano"]), {a["key"]: _value(a["value"]) for a in e.get("attributes", [])})
                for e in span.get("events", [])
            ],
            "status": span.get("status", {}).get("code", 0),
        }
        for span in scope_spans["spans"]
    ]


def _spans_of_protobuf(body: bytes) -> list[dict[str, Any]]:
    """The same from the bytes a collector receives (ids in hex, as OTLP/JSON has them)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return _spans_of_json(_hex_ids(MessageToDict(request, use_integers_for_enums=True)))


def _hex_ids(request: dict[str, Any]) -> dict[str, Any]:
    """Protobuf's JSON mapping writes bytes in base64; OTLP/JSON writes ids in hex."""
    for resource_spans in request["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for name in ("traceId", "spanId", "parentSpanId"):
                    if name in span:
                        span[name] = base64.b64decode(span[name]).hex()
    return request


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _check_tree(run: Run, spans: list[dict[str, Any]]) -> None:
    """The spans of the run's task: a tree rooted at the task, with the journal's times."""
    by_id = {s["id"]: s for s in spans}
    assert len(by_id) == len(spans), "span ids are unique"
    [trace] = {s["trace"] for s in spans}
    assert len(trace) == 32 and int(trace, 16) != 0
    assert all(len(s["id"]) == 16 and int(s["id"], 16) != 0 for s in spans)
    roots = [s for s in spans if not s["parent"]]
    assert len(roots) == 1
    [root] = roots
    assert root["name"] == f"task {run.task_id} otel"
    for span in spans:
        seen = set()
        node = span
        while node["parent"]:
            assert node["id"] not in seen, "no cycle"
            seen.add(node["id"])
            node = by_id[node["parent"]]  # every parent is a span of the same export
        assert node is root
        assert span["start"] <= span["end"], span

    task = f"task_id = {run.task_id}"
    [(created, finished, exit_status)] = run.rows(
        f"SELECT created_at, finished_at, exit_status FROM tasks WHERE id = {run.task_id}"
    )
    assert (root["start"], root["end"]) == (_ns(created), _ns(finished))
    assert root["attributes"]["fmsh.task.id"] == run.task_id
    assert root["attributes"]["fmsh.task.status"] == "done"
    assert root["attributes"]["fmsh.task.exit_status"] == exit_status == 0
    assert [e[0] for e in root["events"]] == ["created", "signal go", "done"]

    # a span per step, with the journal's times
    steps = {s["attributes"]["fmsh.step.seq"]: s for s in spans if "fmsh.step.seq" in s["attributes"]}
    rows = run.rows(f"SELECT seq, kind, started_at, ended_at, exit_status FROM steps WHERE {task}")
    assert sorted(steps) == sorted(r[0] for r in rows)
    for seq, kind, started, ended, status in rows:
        step = steps[seq]
        assert (step["start"], step["end"]) == (_ns(started), _ns(ended)), seq
        assert step["attributes"]["fmsh.step.kind"] == kind
        assert step["attributes"]["fmsh.step.exit_status"] == status
        assert step["attributes"]["code.lineno"] >= 2

    # the fan-out: a span per host under its step; host03 failed (both tries), host04 needed two
    [fanout] = [s for s in steps.values() if s["name"].startswith("@host0[1-5]")]
    assert fanout["status"] == 2  # failed, and the script did not test it
    hosts = {s["attributes"]["server.address"]: s for s in spans if s["parent"] == fanout["id"]}
    assert sorted(hosts) == ["host01", "host02", "host03", "host04", "host05"]
    seq = fanout["attributes"]["fmsh.step.seq"]
    host_rows = run.rows(f"SELECT host, started_at, ended_at FROM step_hosts WHERE {task} AND seq = {seq}")
    for name, started, ended in host_rows:
        assert hosts[name]["start"] <= _ns(started) and hosts[name]["end"] == _ns(ended)
    assert hosts["host03"]["status"] == 2 and hosts["host03"]["attributes"]["fmsh.host.outcome"] == "exit"
    assert hosts["host03"]["attributes"]["fmsh.host.exit_status"] == 3
    assert all(hosts[h]["status"] == 0 for h in ("host01", "host02", "host04", "host05"))
    tries = {h: [s for s in spans if s["parent"] == hosts[h]["id"]] for h in hosts}
    assert {h: len(t) for h, t in tries.items()} == {"host01": 0, "host02": 0, "host03": 2, "host04": 2, "host05": 0}
    assert [t["status"] for t in tries["host03"]] == [2, 2]
    assert [t["status"] for t in tries["host04"]] == [2, 0]
    assert [t["name"] for t in tries["host04"]] == ["@host04 try 1", "@host04 try 2"]
    try_rows = run.rows(
        f"SELECT host, try, started_at, ended_at FROM host_tries WHERE {task} AND host IN ('host03', 'host04') "
        "ORDER BY host, try"
    )
    for name, number, started, ended in try_rows:
        one = tries[name][number - 1]
        assert (one["start"], one["end"]) == (_ns(started), _ns(ended))
        assert one["attributes"]["fmsh.try.number"] == number
    assert tries["host04"][1]["attributes"]["fmsh.try.waited"] >= 0.1  # the backoff
    assert hosts["host04"]["kind"] == 1 and tries["host04"][0]["kind"] == 3  # internal, client
    assert hosts["host01"]["kind"] == 3

    # loop rounds and retry attempts are frames (children of the task) holding their steps
    frames = [s for s in spans if "fmsh.frame.key" in s["attributes"]]
    loops = [f for f in frames if f["attributes"]["fmsh.frame.kind"] == "loop"]
    retries = [f for f in frames if f["attributes"]["fmsh.frame.kind"] == "retry"]
    assert [f["name"] for f in loops] == ["for svc in nginx app, round 1", "for svc in nginx app, round 2"]
    assert [f["attributes"]["fmsh.frame.round"] for f in retries] == [1, 2]
    assert retries[0]["status"] == 2 and retries[1]["status"] == 0  # attempt 1 failed, was retried
    for frame in frames:
        assert frame["parent"] == root["id"]
        children = [s for s in spans if s["parent"] == frame["id"]]
        assert children, frame["name"]
        assert frame["start"] == min(c["start"] for c in children)
        assert frame["end"] == max(c["end"] for c in children)
    for loop in loops:
        [step] = [s for s in spans if s["parent"] == loop["id"]]
        assert step["name"].startswith("@host0[1-2] echo restart")
        assert len([s for s in spans if s["parent"] == step["id"]]) == 2

    # awaits: the wait as attributes, the signal taken as an event at its delivery
    [port] = [s for s in steps.values() if s["attributes"].get("fmsh.wait.kind") == "port"]
    assert port["attributes"]["fmsh.wait.state"] == "timed-out"
    assert port["status"] == 0  # failed, but tested (||): not an error
    [taken] = [s for s in steps.values() if s["attributes"].get("fmsh.wait.kind") == "signal"]
    assert taken["attributes"]["fmsh.wait.name"] == "go" and taken["attributes"]["fmsh.wait.state"] == "satisfied"
    [(name, at, attributes)] = taken["events"]
    (delivered,) = run.rows(f"SELECT delivered_at FROM signals WHERE {task}")[0]
    assert (name, at, attributes["fmsh.signal.value"]) == ("signal go", _ns(delivered), "42")


# --- the tests ----------------------------------------------------------------------------


def test_otel_json_is_a_tree_of_the_task(run: Run) -> None:
    data = run.otel_json()
    spans = _spans_of_json(data)
    _check_tree(run, spans)
    hosts = sum(1 for s in spans if "fmsh.host.outcome" in s["attributes"])
    steps = sum(1 for s in spans if "fmsh.step.seq" in s["attributes"])
    assert hosts == len(run.rows(f"SELECT 1 FROM step_hosts WHERE task_id = {run.task_id}")) == 9
    assert steps == len(run.rows(f"SELECT 1 FROM steps WHERE task_id = {run.task_id}"))
    # OTLP/JSON, as the Collector's file exporter writes it: one request on one line
    text = (run.root / "spans.json").read_text()
    assert text.endswith("}\n") and text.count("\n") == 1


def test_otel_json_to_stdout(run: Run) -> None:
    r = run.fmsh("--trace", str(run.task_id), "--otel-json", "-")
    assert r.status == 0, r
    _check_tree(run, _spans_of_json(json.loads(r.out)))


def test_exporting_twice_gives_the_same_ids(run: Run) -> None:
    first = run.otel_json("one.json")
    second = run.otel_json("two.json")
    assert first == second
    assert (run.root / "one.json").read_text() == (run.root / "two.json").read_text()


class Collector:
    """A tiny OTLP/HTTP receiver on 127.0.0.1: records each POST, answers from a script."""

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.answers = list(answers or [])
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server calls it so
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                collector.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if collector.answers:
                    status, headers, answer = collector.answers.pop(0)
                else:
                    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

                    status, headers = 200, {"Content-Type": "application/x-protobuf"}
                    answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_otlp_sends_the_same_tree_to_a_collector(run: Run) -> None:
    with Collector() as collector:
        r = run.fmsh(
            "--trace", str(run.task_id), "--otlp", collector.url,
            env={"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret,x-team=ops"},
        )  # fmt: skip
    assert r.status == 0, r
    [(path, headers, body)] = collector.requests
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["authorization"] == "Bearer s3cret" and headers["x-team"] == "ops"
    spans = _spans_of_protobuf(body)
    _check_tree(run, spans)
    assert f"{len(spans)} spans sent to {collector.url}" in r.err

    # the same spans, ids and parents as the JSON file
    def shape(spans: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {(s["trace"], s["id"], s["parent"], s["name"], s["start"], s["end"], s["status"]) for s in spans}

    assert shape(spans) == shape(_spans_of_json(run.otel_json()))


def test_otlp_keeps_a_path_that_ends_in_v1_traces(run: Run) -> None:
    with Collector() as collector:
        r = run.fmsh("--trace", str(run.task_id), "--otlp", collector.url + "/otlp/v1/traces")
        r2 = run.fmsh("--trace", str(run.task_id), "--otlp", collector.url + "/otlp/")
    assert r.status == 0 and r2.status == 0, (r, r2)
    assert [p for p, _, _ in collector.requests] == ["/otlp/v1/traces", "/otlp/v1/traces"]


def test_otlp_tries_again_after_503(run: Run) -> None:
    with Collector([(503, {"Retry-After": "0"}, b"")]) as collector:
        r = run.fmsh("--trace", str(run.task_id), "--otlp", collector.url)
    assert r.status == 0, r
    assert len(collector.requests) == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_endpoint_is_a_clear_error_at_once(run: Run) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    r = run.fmsh("--trace", str(run.task_id), "--otlp", url)
    elapsed = time.monotonic() - start
    assert r.status == 1, r
    assert "cannot send the trace to" in r.err and "/v1/traces: connection refused" in r.err
    assert "collector" in r.err  # what to check
    assert r.err.startswith("fmsh: ") and r.err.count("\n") == 1 and TRACEBACK not in r.err
    assert r.out == ""
    assert elapsed < 5


def test_an_http_error_says_what_the_collector_said(run: Run) -> None:
    answer = (404, {"Content-Type": "text/plain"}, b"404 page not found")
    with Collector([answer]) as collector:
        r = run.fmsh("--trace", str(run.task_id), "--otlp", collector.url)
    assert r.status == 1
    assert "refused the trace: HTTP 404 Not Found: 404 page not found" in r.err
    assert "OTLP/HTTP endpoint" in r.err  # what to check
    assert len(collector.requests) == 1  # a 404 is not tried again


def test_a_url_that_is_not_http(run: Run) -> None:
    r = run.fmsh("--trace", str(run.task_id), "--otlp", "collector:4317")
    assert r.status == 2 and "not an OTLP/HTTP endpoint" in r.err


def test_a_failed_task_has_an_error_root(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = lab_env(ssh_lab, tmp_path)
    r = run_fmsh("-c", "task bad { @host01 'exit 3'; }", cwd=tmp_path, env=env)
    assert r.status == 3, r
    (task_id,) = journal_rows(tmp_path, "SELECT id FROM tasks")[0]
    r = run_fmsh("--trace", str(task_id), "--otel-json", "-", cwd=tmp_path, env=env)
    assert r.status == 0, r
    spans = _spans_of_json(json.loads(r.out))
    [root] = [s for s in spans if not s["parent"]]
    assert root["status"] == 2 and root["attributes"]["fmsh.task.status"] == "failed"
    [step] = [s for s in spans if s["parent"] == root["id"]]
    [host] = [s for s in spans if s["parent"] == step["id"]]
    assert step["status"] == 2 and host["status"] == 2 and host["attributes"]["fmsh.host.exit_status"] == 3


def test_without_the_otel_extra(run: Run) -> None:
    """OpenTelemetry missing: --otlp is a one-line error naming the extra (status 2);
    --otel-json needs none of it."""

    def fmsh_without_opentelemetry(*args: str) -> subprocess.CompletedProcess[str]:
        code = (
            "import sys; sys.modules['opentelemetry'] = None; sys.modules['google.protobuf'] = None\n"
            "from fmsh.cli import main\n"
            f"sys.exit(main({list(args)!r}))\n"
        )
        env = {**os.environ, **run.env}
        env.pop("FMSH_DEBUG", None)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=run.root, env=env,
                              timeout=30)  # fmt: skip

    proc = fmsh_without_opentelemetry("--trace", str(run.task_id), "--otlp", "http://127.0.0.1:9")
    assert proc.returncode == 2, proc
    assert proc.stderr.strip().endswith("OpenTelemetry export needs the otel extra: pip install 'fmsh[otel]'")
    assert proc.stderr.count("\n") == 1 and TRACEBACK not in proc.stderr
    proc = fmsh_without_opentelemetry("--trace", str(run.task_id), "--otel-json", "bare.json")
    assert proc.returncode == 0, proc
    assert json.loads((run.root / "bare.json").read_text()) == run.otel_json()


def _protobuf_json(document: dict[str, Any]) -> dict[str, Any]:
    """The OTLP/JSON of a document by the long way: OpenTelemetry's encoder, then
    protobuf's JSON mapping."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from fmsh.trace import otel

    return _hex_ids(MessageToDict(encode_spans(otel.spans_of(document)), use_integers_for_enums=True))


def test_otel_json_is_what_opentelemetry_encodes(run: Run) -> None:
    """--otel-json writes the request itself (fast); it is the same as OpenTelemetry's
    encoder and protobuf's JSON mapping would give, and the same as the file."""
    from fmsh.trace import otel

    document = run.document()
    ours = otel.json_request(document)
    theirs = _protobuf_json(document)
    for request in (ours, theirs):  # the flags OpenTelemetry sets vary with its version
        for span in request["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            span.pop("flags", None)
    assert ours == theirs
    assert otel.json_request(document) == run.otel_json()


def test_a_step_run_twice_and_a_running_task(run: Run) -> None:
    """A resumed task that ran a step again: a span per attempt, each host under the
    attempt its result came from; a step still running ends at the task's last activity."""
    from fmsh.trace import otel

    document = run.document()
    [fanout] = [s for s in document["steps"] if s["hosts"] and len(s["hosts"]) == 5]
    [first] = fanout["attempts"]
    crashed = {**first, "ended_at": first["started_at"] + 0.05, "outcome": "interrupted", "exit_status": None}
    again = {**first, "attempt": 2, "epoch": 2, "started_at": first["started_at"] + 1}
    fanout["attempts"] = [crashed, again]
    for index, host in enumerate(fanout["hosts"]):
        host["attempt"] = 1 if index == 0 else 2  # host01 finished before the crash
    [last] = [s for s in document["steps"] if s["seq"] == max(t["seq"] for t in document["steps"])]
    last["ended_at"], last["status"] = None, "running"
    task = document["task"]
    task.update(status="running", finished_at=None, exit_status=None, duration=100.0)

    spans = _spans_of_json(otel.json_request(document))
    by_id = {s["id"]: s for s in spans}
    [step] = [s for s in spans if s["attributes"].get("fmsh.step.seq") == fanout["seq"]]
    attempts = [s for s in spans if s["parent"] == step["id"]]
    assert [a["name"] for a in attempts] == ["attempt 1", "attempt 2"]
    assert attempts[0]["status"] == 2 and attempts[0]["attributes"]["fmsh.attempt.outcome"] == "interrupted"
    assert step["start"] == _ns(first["started_at"])
    hosts = [s for s in spans if "fmsh.host.outcome" in s["attributes"] and by_id[s["parent"]] in attempts]
    assert sorted((by_id[h["parent"]]["name"], h["name"]) for h in hosts) == [
        ("attempt 1", "@host01"), ("attempt 2", "@host02"), ("attempt 2", "@host03"), ("attempt 2", "@host04"),
        ("attempt 2", "@host05"),
    ]  # fmt: skip
    [root] = [s for s in spans if not s["parent"]]
    assert root["end"] == _ns(task["created_at"] + 100.0) and root["status"] == 0
    [running] = [s for s in spans if s["attributes"].get("fmsh.step.seq") == last["seq"]]
    assert running["end"] == root["end"] and running["attributes"]["fmsh.step.status"] == "running"


def test_otlp_sends_a_large_task_in_batches(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from fmsh.trace import otel, otlp

    document = run.document()
    monkeypatch.setattr(otlp, "BATCH", 10)
    with Collector() as collector:
        count = otel.export_otlp(document, collector.url, environ={})
    assert count == len(_spans_of_json(run.otel_json()))
    assert len(collector.requests) == (count + 9) // 10
    spans = [s for _, _, body in collector.requests for s in _spans_of_protobuf(body)]
    _check_tree(run, spans)


def test_otlp_reports_spans_the_collector_rejected(run: Run) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    from fmsh.runtime.errors import ShellError
    from fmsh.trace import otel

    answer = ExportTraceServiceResponse()
    answer.partial_success.rejected_spans = 3
    answer.partial_success.error_message = "too old"
    count = len(_spans_of_json(run.otel_json()))
    with Collector([(200, {"Content-Type": "application/x-protobuf"}, answer.SerializeToString())]) as collector:
        with pytest.raises(ShellError) as error:
            otel.export_otlp(run.document(), collector.url + "/v1/traces", environ={})
    assert error.value.status == 1
    assert (
        error.value.message == f"{collector.url}/v1/traces took the trace, but it rejected 3 of {count} spans: too old"
    )


def test_start_up_does_not_import_opentelemetry(run: Run) -> None:
    for args in (["-c", "echo hi"], ["--trace", str(run.task_id)]):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "fmsh", *args], capture_output=True,
                              text=True, cwd=run.root, env={**os.environ, **run.env}, timeout=30)  # fmt: skip
        assert proc.returncode == 0, proc
        assert "opentelemetry" not in proc.stderr and "google.protobuf" not in proc.stderr
