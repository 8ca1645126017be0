"""`fmsh --serve` (fmsh issue 12): the HTTP endpoint that brings callbacks and signals from
outside into the journal.

Real processes only: a real `fmsh --serve` (tests/serve.py), real fmsh tasks that make a
callback or await a signal, a real SQLite journal of the test's own (read back with
sqlite3, as a user would), and urllib, http.client, raw sockets or curl as the sender.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import journalbox
import pytest
import serve as serve_helpers
from conftest import TRACEBACK, run_fmsh
from serve import post
from sshd import wait_until

TOKEN = "s3cret-signal-token-0123456789abcdef"  # serve's bearer token for signals (>= 16 chars)
UNKNOWN = "A" * 43  # a well-formed callback token that no callback has

# A task that makes a callback, writes its URL to ./url, waits for the POST and writes
# the body to ./got (or `timed-out` to ./out when the await times out). Each file is
# written whole and then renamed: the test waits for its name.
CALLBACK_TASK = (
    'task t { callback u; printf %s "$u" > url.part; mv url.part url; '
    'if await callback "$u" into b timeout {timeout}; then printf %s "$b" > got.part; mv got.part got; '
    "else echo timed-out > out.part; mv out.part out; fi; }"
)


Serve = serve_helpers.Serve


class Box(journalbox.Box):
    def signals(self) -> list[tuple]:  # type: ignore[type-arg]
        """The journal's signals table: (task_id, name, value, state, note) for each row."""
        return self.query("SELECT task_id, name, value, state, note FROM signals ORDER BY id")

    def callback_task(self, serve: Serve, timeout: str = "20s") -> tuple[subprocess.Popen[str], str]:
        """Start the callback task (task 1 of this journal) in the background; it and its URL."""
        proc = self.start("-c", CALLBACK_TASK.replace("{timeout}", timeout), env={"FMSH_CALLBACK_URL": serve.url})
        self.wait_for("url")
        url = (self.root / "url").read_text()
        assert url.startswith(serve.url + "/cb/"), url
        return proc, url

    def got(self, name: str = "got", timeout: float = 20) -> bytes:
        self.wait_for(name, timeout)
        return (self.root / name).read_bytes()


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    out, err = proc.communicate(timeout=timeout)
    assert TRACEBACK not in err, err
    return proc.returncode


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def raw_request(url: str, text: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are to serve's address; what came back until it closed or
    stopped talking."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(text)
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    head, _, body = answer.partition(b"\r\n\r\n")
                    length = re.search(rb"(?i)content-length: *(\d+)", head)
                    if length and len(body) >= int(length.group(1)):
                        break
        except TimeoutError:
            pass
    return answer


def signal_url(serve: Serve, task: object, name: str) -> str:
    return f"{serve.url}/signal/{task}/{name}"


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- 1. callbacks: delivered once ----------------------------------------------------------


def test_callback_delivered_once_second_post_is_409_and_task_gets_first_body_exactly(box: Box) -> None:
    first = "héllo wörld ✓ 日本\nsecond line\n\n  trailing spaces  \n".encode()
    with Serve(box.journal) as serve:
        proc, url = box.callback_task(serve)
        status, answer = post(url, first)
        assert (status, answer["delivered"], answer["task"]) == (202, True, 1), answer
        status, answer = post(url, b"a second body")
        assert status == 409, answer
        assert answer["delivered"] is False and "delivered before" in answer["error"]
        assert box.got() == first
        assert finish(proc) == 0
    assert box.signals() == [(1, "callback:1", first.decode(), "delivered", None)]


# --- 2. unknown and malformed tokens ------------------------------------------------------


def test_unknown_and_malformed_callback_tokens_are_404_and_journal_nothing(box: Box) -> None:
    with Serve(box.journal) as serve:
        for token in (UNKNOWN, "not-a-token", "A" * 44, "A" * 42 + "!"):
            status, answer = post(f"{serve.url}/cb/{token}", b"body")
            assert status == 404, (token, answer)
            assert answer == {"error": "no such callback"}
        status, answer = post(f"{serve.url}/cb/", b"body")
        assert status == 404, answer
    assert box.signals() == []
    assert box.query("SELECT count(*) FROM callbacks") == [(0,)]


# --- 3. the body cap ----------------------------------------------------------------------


def test_body_over_max_body_is_413_journals_nothing_and_leaves_the_callback_open(box: Box) -> None:
    with Serve(box.journal, "--max-body", "1K") as serve:
        proc, url = box.callback_task(serve)
        status, answer = post(url, b"x" * 2000)
        assert status == 413, answer
        assert "2000 bytes" in answer["error"] and "1024" in answer["error"]
        assert box.signals() == []
        assert box.query("SELECT state FROM callbacks") == [("open",)]
        exact = b"y" * 1024  # the cap itself is taken
        status, answer = post(url, exact)
        assert status == 202, answer
        assert box.got() == exact
        assert finish(proc) == 0


# --- 4. Content-Length and methods ---------------------------------------------------------


def test_post_without_content_length_is_411_and_get_on_a_callback_is_405_with_allow(box: Box) -> None:
    with Serve(box.journal) as serve:
        proc, url = box.callback_task(serve)
        path = url[len(serve.url) :]
        answer = raw_request(serve.url, f"POST {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 411 "), answer
        assert b"Content-Length is needed" in answer
        chunked = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        answer = raw_request(serve.url, chunked.encode())
        assert answer.startswith(b"HTTP/1.1 411 "), answer

        try:
            urllib.request.urlopen(url, timeout=10)
            raise AssertionError("GET on a callback URL was answered 2xx")
        except urllib.error.HTTPError as e:
            with e:
                assert e.code == 405
                assert e.headers["Allow"] == "POST"
        assert box.signals() == []
        assert box.query("SELECT state FROM callbacks") == [("open",)]
        status, _ = post(url, b"after all that")  # none of them used it up
        assert status == 202
        assert box.got() == b"after all that"
        assert finish(proc) == 0


# --- 5. signals -----------------------------------------------------------------------------


def test_signal_needs_the_bearer_token_and_wakes_the_waiting_task(box: Box) -> None:
    token_file = box.root / "token"
    token_file.write_text(TOKEN + "\nsecond line is ignored\n")
    script = 'task t { : > started; await signal go into v timeout 20s; printf %s "$v" > got.part; mv got.part got; }'
    proc = box.start("-c", script)
    box.wait_for("started")
    with Serve(box.journal, "--token-file", str(token_file)) as serve:
        assert serve.saw("signals: POST"), serve.log()
        url = signal_url(serve, 1, "go")
        status, answer = post(url, b"no token")
        assert status == 401, answer
        for wrong in (bearer("wrong-token-wrong-token-wrong"), bearer(TOKEN + "x"), {"Authorization": TOKEN},
                      {"Authorization": f"Basic {TOKEN}"}):  # fmt: skip
            status, answer = post(url, b"wrong token", wrong)
            assert status == 401, (wrong, answer)
        assert post(signal_url(serve, 99, "go"), b"x", bearer())[0] == 404
        assert post(signal_url(serve, "abc", "go"), b"x", bearer())[0] == 404
        status, answer = post(signal_url(serve, 1, "callback:1"), b"x", bearer())
        assert status == 400, answer
        assert box.signals() == []  # nothing refused was journaled

        body = "approved ✓\nby ops\n".encode()
        status, answer = post(url, body, bearer())
        assert (status, answer) == (202, {"sent": True, "signal": "go", "task": 1})
        assert box.got() == body
        assert finish(proc) == 0
    assert box.signals() == [(1, "go", body.decode(), "delivered", None)]


def test_signals_are_403_when_serve_has_no_token(box: Box) -> None:
    assert box.run("-c", "task t { true; }").status == 0  # task 1, for the signals to name
    with Serve(box.journal, env={"FMSH_SERVE_TOKEN": ""}) as serve:
        assert serve.saw("signals: off"), serve.log()
        for headers in ({}, bearer()):
            status, answer = post(signal_url(serve, 1, "go"), b"x", headers)
            assert status == 403, answer
            assert "signals are off" in answer["error"]
    assert box.signals() == []


def test_signal_token_from_token_file_and_from_fmsh_serve_token(box: Box) -> None:
    token_file = box.root / "token"
    token_file.write_text("from-the-file-0123456789\n")
    script = (
        "task t { : > started; await signal one into a timeout 20s; await signal two into b timeout 20s; "
        'printf "%s+%s" "$a" "$b" > got.part; mv got.part got; }'
    )
    proc = box.start("-c", script)
    box.wait_for("started")
    # --token-file wins over FMSH_SERVE_TOKEN when both are given
    with (
        Serve(box.journal, "--token-file", str(token_file), env={"FMSH_SERVE_TOKEN": TOKEN}) as by_file,
        Serve(box.journal, env={"FMSH_SERVE_TOKEN": TOKEN}) as by_env,
    ):
        assert post(signal_url(by_file, 1, "one"), b"x", bearer(TOKEN))[0] == 401
        assert post(signal_url(by_file, 1, "one"), b"1", bearer("from-the-file-0123456789"))[0] == 202
        assert post(signal_url(by_env, 1, "two"), b"x", bearer("from-the-file-0123456789"))[0] == 401
        assert post(signal_url(by_env, 1, "two"), b"2", bearer(TOKEN))[0] == 202
        assert box.got() == b"1+2"
        assert finish(proc) == 0


def test_a_signal_token_shorter_than_16_characters_is_refused_at_start(box: Box) -> None:
    short = box.root / "short"
    short.write_text("fifteen-chars!!\n")
    env = {"FMSH_JOURNAL": str(box.journal)}
    for args, extra, where in (
        (["--token-file", str(short)], {}, f"--token-file {short}"),
        ([], {"FMSH_SERVE_TOKEN": "tooshort"}, "FMSH_SERVE_TOKEN"),
    ):
        result = run_fmsh("--serve", "--listen", "127.0.0.1:0", *args, env={**env, **extra}, timeout=15)
        assert result.status == 2, result
        assert where in result.err and "at least 16" in result.err, result.err
        assert "serving" not in result.err
    result = run_fmsh("--serve", "--listen", "127.0.0.1:0", "--token-file", str(box.root / "none"), env=env)
    assert result.status != 0 and "--token-file" in result.err, result


# --- 6. two serves, one journal, a race ---------------------------------------------------


def test_24_concurrent_posts_through_two_serves_deliver_exactly_once(box: Box) -> None:
    with Serve(box.journal) as one, Serve(box.journal) as two:
        proc, url = box.callback_task(one)
        urls = [url, url.replace(one.url, two.url)]
        barrier = threading.Barrier(24)
        results: dict[int, int] = {}

        def send(i: int) -> None:
            barrier.wait()
            results[i] = post(urls[i % 2], f"body {i} ✓".encode(), timeout=30)[0]

        threads = [threading.Thread(target=send, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = sorted(results.values())
        assert statuses == [202] + [409] * 23, statuses
        winner = next(i for i, status in results.items() if status == 202)
        assert box.got() == f"body {winner} ✓".encode()
        assert finish(proc) == 0
        for serve in (one, two):
            assert sum(" 202 " in line for line in serve.lines) <= 1
    rows = box.signals()
    assert rows == [(1, "callback:1", f"body {winner} ✓", "delivered", None)], rows


# --- 7. TLS ----------------------------------------------------------------------------------


def _self_signed(root: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _curl(cert: Path, url: str, body: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["curl", "-sS", "--cacert", str(cert), "--data-binary", body, "-o", "-", "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    answer, _, code = proc.stdout.rpartition("\n")
    assert proc.returncode == 0, proc.stderr
    return int(code), answer


def test_tls_serve_takes_curl_posts_and_the_task_wakes(box: Box) -> None:
    cert, key = _self_signed(box.root)
    with Serve(box.journal, "--cert", str(cert), "--key", str(key)) as serve:
        assert serve.url.startswith("https://127.0.0.1:"), serve.url
        proc, url = box.callback_task(serve)
        assert url.startswith("https://")
        code, answer = _curl(cert, url, "over TLS ✓\n")
        assert code == 202, answer
        assert box.got() == "over TLS ✓\n".encode()
        assert finish(proc) == 0
        code, answer = _curl(cert, url, "again")
        assert code == 409, answer
        code, answer = _curl(cert, f"{serve.url}/health", "")
        assert code == 405, answer  # POST on /health: the TLS port answers any route
    assert serve.status == 0, serve.log()
    assert not any("warning" in line for line in serve.lines), serve.log()


class TracebackInLog(AssertionError):
    """serve wrote a Python traceback to its standard error."""


def test_plain_http_to_the_tls_port_fails_without_hurting_the_server(box: Box) -> None:
    cert, key = _self_signed(box.root)
    serve = Serve(box.journal, "--cert", str(cert), "--key", str(key)).start()
    try:
        proc, url = box.callback_task(serve)
        http_url = url.replace("https://", "http://")
        with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
            post(http_url, b"plain", timeout=5)
        answer = raw_request(serve.url, b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", timeout=3)
        assert b"200" not in answer.split(b"\r\n", 1)[0]  # no HTTP answer in the clear
        raw_request(serve.url, b"\x16\x03\x01\x00\x05garbage", timeout=3)  # a broken handshake
        # curl without the CA refuses the self-signed certificate (a handshake the client ends)
        refused = subprocess.run(["curl", "-sS", "--data-binary", "x", url], capture_output=True, text=True, timeout=20)
        assert refused.returncode != 0
        assert box.signals() == []
        code, answer = _curl(cert, url, "still here")  # the next TLS POST works
        assert code == 202, answer
        assert box.got() == b"still here"
        assert finish(proc) == 0
    finally:
        try:
            serve.stop()
        except AssertionError:
            pass  # a traceback: told below
    assert serve.status == 0, serve.log()
    if TRACEBACK in serve.log():
        raise TracebackInLog(serve.log())


def test_tls_options_errors_are_clear(box: Box) -> None:
    cert, key = _self_signed(box.root)
    env = {"FMSH_JOURNAL": str(box.journal)}
    listen = ("--serve", "--listen", "127.0.0.1:0")
    result = run_fmsh(*listen, "--cert", str(cert), env=env, timeout=15)
    assert result.status == 2 and "--cert and --key go together" in result.err, result
    result = run_fmsh(*listen, "--key", str(key), env=env, timeout=15)
    assert result.status == 2 and "--cert and --key go together" in result.err, result
    missing = box.root / "missing.pem"
    result = run_fmsh(*listen, "--cert", str(missing), "--key", str(key), env=env, timeout=15)
    assert result.status == 2, result
    assert f"--cert {missing}" in result.err and "cannot load them" in result.err, result.err
    assert "No such file" in result.err, result.err
    garbage = box.root / "garbage.pem"
    garbage.write_text("not a certificate\n")
    result = run_fmsh(*listen, "--cert", str(garbage), "--key", str(key), env=env, timeout=15)
    assert result.status == 2 and "cannot load them" in result.err, result
    result = run_fmsh(*listen, "--cert", str(cert), "--key", str(garbage), env=env, timeout=15)
    assert result.status == 2 and "cannot load them" in result.err, result
    assert "serving" not in result.err


# --- 8. late deliveries -------------------------------------------------------------------


def test_callback_posted_after_the_await_timed_out_is_410_and_journaled_late_once(box: Box) -> None:
    with Serve(box.journal) as serve:
        proc, url = box.callback_task(serve, timeout="1s")
        assert box.got("out") == b"timed-out\n"
        assert finish(proc) == 0
        status, answer = post(url, "too late ✗".encode())
        assert status == 410, answer
        assert answer["delivered"] is False and "too late" in answer["error"]
        rows = box.signals()
        assert len(rows) == 1, rows
        task, name, value, state, note = rows[0]
        assert (task, name, value, state) == (1, "callback:1", "too late ✗", "late")
        assert note and ("timed out" in note or "ended" in note), note
        status, answer = post(url, b"later still")
        assert status == 410, answer
        assert box.signals() == rows
        assert box.query("SELECT state FROM callbacks") == [("late",)]
        assert any(" 410 " in line and "late" in line for line in serve.lines), serve.log()
    assert not (box.root / "got").exists()


# --- 9. the access log ----------------------------------------------------------------------


def test_access_log_has_one_line_per_request_and_never_a_token(box: Box) -> None:
    token_file = box.root / "token"
    token_file.write_text(TOKEN)
    with Serve(box.journal, "--token-file", str(token_file)) as serve:
        proc, url = box.callback_task(serve)
        token = token_of(url)
        start = len(serve.lines)
        sent = [  # the signals first: the task is still running
            ("POST", "/signal/1/go", 401, lambda: post(signal_url(serve, 1, "go"), b"x", bearer("x" * 20))),
            ("POST", "/signal/1/go", 202, lambda: post(signal_url(serve, 1, "go"), b"x", bearer())),
            ("POST", "/cb/…", 202, lambda: post(url, b"one")),
            ("POST", "/cb/…", 409, lambda: post(url, b"two")),
            ("POST", "/cb/…", 404, lambda: post(f"{serve.url}/cb/{UNKNOWN}", b"x")),
            ("POST", "/cb/…", 409, lambda: post(f"{url}?query=1", b"x")),
            ("GET", "/health", 200, lambda: urllib.request.urlopen(f"{serve.url}/health", timeout=10).close()),
            ("GET", "/nothing", 404, lambda: raw_request(serve.url, b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")),
        ]
        for _method, _route, _status, send in sent:
            send()
        assert box.got() == b"one"
        assert finish(proc) == 0
        # A request line that http.server refuses (its own error path) must not show it either.
        raw_request(serve.url, f"POST /cb/{token} HTTP/1.1 extra\r\n\r\n".encode(), timeout=3)
        assert wait_until(lambda: len(serve.lines) >= start + len(sent) + 1, timeout=5), serve.log()
    log = serve.log()
    assert token not in log, log
    assert TOKEN not in log, log
    lines = serve.lines[start:]
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d 127\.0\.0\.1 "
    # one line each (a line is written once the answer is sent: not always in the order sent)
    left = [line for line in lines if re.match(stamp, line)]
    assert len(left) == len(sent) + 1, lines
    for method, route, status, _ in sent:
        line = next((x for x in left if re.match(stamp + re.escape(f"{method} {route} {status}") + "( |$)", x)), None)
        assert line is not None, (method, route, status, lines)
        left.remove(line)
    assert re.match(stamp + "code 400, message Bad request", left[0]), left


# --- 10. a locked journal --------------------------------------------------------------------


def test_locked_journal_is_503_with_retry_after_and_the_callback_survives(box: Box) -> None:
    with Serve(box.journal, env={"FMSH_JOURNAL_TIMEOUT": "0.3"}) as serve:
        proc, url = box.callback_task(serve)
        holder = sqlite3.connect(box.journal, isolation_level=None, timeout=10)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            try:
                request = urllib.request.Request(url, data=b"while locked", method="POST")
                with pytest.raises(urllib.error.HTTPError) as caught:
                    urllib.request.urlopen(request, timeout=10)
                with caught.value as e:
                    assert e.code == 503
                    assert e.headers["Retry-After"] == "1"
                    assert "locked" in e.read().decode()
            finally:
                holder.execute("ROLLBACK")
        finally:
            holder.close()
        assert box.query("SELECT state FROM callbacks") == [("open",)]
        assert box.signals() == []
        status, answer = post(url, b"after the lock")
        assert status == 202, answer
        assert box.got() == b"after the lock"
        assert finish(proc) == 0


# --- 11. where it listens ------------------------------------------------------------------


def test_listen_address_checks_warning_and_default(box: Box) -> None:
    with Serve(box.journal, "--listen", "0.0.0.0:0") as serve:
        assert serve.saw("warning: plain HTTP"), serve.log()
        assert post(serve.url.replace("0.0.0.0", "127.0.0.1") + "/health", b"")[0] == 405  # it answers
    with Serve(box.journal) as serve:  # loopback: no warning
        assert serve.saw("callbacks: POST"), serve.log()
        assert post(f"{serve.url}/health", b"")[0] == 405
    assert not any("warning" in line for line in serve.lines), serve.log()

    env = {"FMSH_JOURNAL": str(box.journal)}
    result = run_fmsh("--serve", "--help", env=env)
    assert result.status == 0, result
    assert re.search(r"--listen HOST:PORT.*\[default:\s*127\.0\.0\.1:8470\]", " ".join(result.out.split())), result.out

    for bad in ("nonsense", "127.0.0.1", "127.0.0.1:99999", ":8470", "[::1]"):
        result = run_fmsh("--serve", "--listen", bad, env=env, timeout=15)
        assert result.status == 2, (bad, result)
        assert "not HOST:PORT" in result.err and bad in result.err, result.err

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = run_fmsh("--serve", "--listen", address, env=env, timeout=15)
    assert result.status != 0, result
    assert f"cannot listen on {address}" in result.err, result.err
    assert "serving" not in result.err


# --- 12. stopping, and `fmsh serve` -------------------------------------------------------


def test_sigterm_stops_serve_with_status_0_and_fmsh_serve_is_the_same_command(box: Box) -> None:
    serve = Serve(box.journal).start()
    assert post(f"{serve.url}/cb/{UNKNOWN}", b"x")[0] == 404
    assert serve.stop() == 0
    assert "fmsh serve: stopped" in serve.lines, serve.log()
    assert [line for line in serve.lines if line.startswith("fmsh serve:")][-1] == "fmsh serve: stopped"

    env = {"FMSH_JOURNAL": str(box.journal)}
    flag = run_fmsh("--serve", "--help", env=env, cwd=box.root)
    word = run_fmsh("serve", "--help", env=env, cwd=box.root)
    assert flag.status == word.status == 0, (flag, word)
    assert "POST /cb/TOKEN" in word.out and "--listen" in word.out, word.out
    assert word.out == flag.out


class SigtermLost(AssertionError):
    """serve did not stop on SIGTERM (or stopped with a traceback)."""


def test_sigterm_stops_serve_while_connections_keep_coming(box: Box) -> None:
    for _trial in range(4):
        serve = serve_helpers.Serve(box.journal, "--quiet").start()
        host, port = serve.url.split("//", 1)[1].rsplit(":", 1)
        done = threading.Event()

        def knock(host: str = host, port: str = port, done: threading.Event = done) -> None:
            while not done.is_set():
                try:
                    with socket.create_connection((host, int(port)), timeout=1) as s:
                        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        s.recv(1000)
                except OSError:
                    pass

        knockers = [threading.Thread(target=knock) for _ in range(8)]
        for t in knockers:
            t.start()
        try:
            time.sleep(0.3)
            assert serve.proc is not None
            serve.proc.send_signal(signal.SIGTERM)
            try:
                status: int | None = serve.proc.wait(3)
            except subprocess.TimeoutExpired:
                status = None
        finally:
            done.set()
            for t in knockers:
                t.join()
            try:
                serve.stop()
            except AssertionError:
                pass  # a traceback: told below
        if status != 0 or TRACEBACK in serve.log():
            raise SigtermLost(f"status {status} 3 s after SIGTERM:\n{serve.log()}")
        assert "fmsh serve: stopped" in serve.lines


# --- 13. keep-alive ---------------------------------------------------------------------------


def test_two_posts_on_one_keep_alive_connection_are_both_answered(box: Box) -> None:
    with Serve(box.journal) as serve:
        proc, url = box.callback_task(serve)
        path = url[len(serve.url) :]
        host, port = serve.url.split("//", 1)[1].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("POST", path, body=b"first")
            response = conn.getresponse()
            assert response.status == 202
            response.read()
            assert response.getheader("Connection") != "close"
            sock = conn.sock
            assert sock is not None
            conn.request("POST", path, body=b"second")
            response = conn.getresponse()
            assert response.status == 409
            response.read()
            assert conn.sock is sock  # the same connection, not a new one
            conn.request("GET", "/health")
            response = conn.getresponse()
            assert response.status == 200 and b'"ok": true' in response.read()
            assert conn.sock is sock
        finally:
            conn.close()
        assert box.got() == b"first"
        assert finish(proc) == 0
