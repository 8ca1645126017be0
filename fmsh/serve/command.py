"""`fmsh --serve` (also `fmsh serve`, when there is no file ./serve to run):

    fmsh --serve [--listen HOST:PORT] [--token-file FILE] [--cert FILE --key FILE]
                 [--max-body SIZE] [--quiet]

Serves the journal that FMSH_JOURNAL names until SIGTERM or Ctrl-C (status 0). It opens
the journal with every commit synced to disk: a 202 means the event is on disk.
"""

from __future__ import annotations

import os
import sys

import click

from fmsh.runtime.errors import ShellError

DEFAULT_LISTEN = "127.0.0.1:8470"
_MIN_TOKEN = 16


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen; loopback unless told otherwise (0.0.0.0:8470, [::]:8470). Port 0: any free one.",
)
@click.option(
    "--token-file",
    metavar="FILE",
    help="The bearer token for POST /signal/ID/NAME: the file's first line (else FMSH_SERVE_TOKEN); "
    "without one, signals are off.",
)
@click.option("--cert", metavar="FILE", help="Serve HTTPS with this certificate (PEM; with its chain).")
@click.option("--key", metavar="FILE", help="The certificate's private key (PEM).")
@click.option("--max-body", default="1M", show_default=True, metavar="SIZE",
              help="The largest body taken (as in 64K, 4M); a larger one is refused with 413.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No access log on standard error.")
def serve(listen: str, token_file: str | None, cert: str | None, key: str | None, max_body: str, quiet: bool) -> int:
    """Take callbacks (POST /cb/TOKEN) and signals (POST /signal/ID/NAME) into the journal."""
    from fmsh.journal import journal_path, open_journal
    from fmsh.runtime.settings import SettingError, size
    from fmsh.serve.endpoint import Endpoint
    from fmsh.serve.server import Server

    host, port = _address(listen)
    try:
        cap = size(max_body, "--max-body", 1 << 20)
    except SettingError as e:
        raise click.BadParameter(str(e), param_hint="--max-body") from None
    token = _signal_token(token_file)
    tls = _tls(cert, key)
    environ = dict(os.environ)
    if environ.get("FMSH_JOURNAL") == "none":
        raise ShellError("FMSH_JOURNAL=none: no journal, so nothing to serve (set FMSH_JOURNAL to the tasks' journal)")
    environ["FMSH_JOURNAL_SYNC"] = "full"  # a 202 promises the event is on disk
    journal = open_journal(environ)
    assert journal is not None
    try:
        try:
            server = Server((host, port), Endpoint(journal, token, cap), tls, quiet)
        except OSError as e:
            raise ShellError(f"cannot listen on {listen}: {e.strerror or e}") from None
        _say(f"serving the journal {journal_path(environ)} at {server.url}")
        signals = f"POST {server.url}/signal/ID/NAME with the bearer token" if token else "off (no --token-file)"
        _say(f"callbacks: POST {server.url}/cb/TOKEN; signals: {signals}")
        if tls is None and not _loopback(host):
            _say("warning: plain HTTP on an address other machines can reach: bodies and tokens cross the "
                 "network in the clear; give --cert and --key")  # fmt: skip
        _serve(server)
    finally:
        journal.close()
    return 0


def _serve(server: object) -> None:
    """Until SIGTERM or Ctrl-C: then no new request is taken, and those in flight finish
    (for at most a few seconds) before the journal is closed."""
    import signal
    import threading

    from fmsh.serve.server import Server

    assert isinstance(server, Server)

    def stop(signum: int, frame: object) -> None:
        # Not an exception: socketserver would catch it in the middle of starting a thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.endpoint.drain(5.0)
        _say("stopped")


def _say(line: str) -> None:
    sys.stderr.write(f"fmsh serve: {line}\n")
    sys.stderr.flush()


def _address(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, bracket, port = text.rpartition(":")
    if not bracket or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise click.BadParameter(f"`{text}': not HOST:PORT (as in 127.0.0.1:8470, 0.0.0.0:8470, [::1]:8470)",
                                 param_hint="--listen")  # fmt: skip
    return host, int(port)


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _signal_token(path: str | None) -> str | None:
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                token = f.readline().strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ShellError(f"--token-file {path}: {getattr(e, 'strerror', None) or e}") from None
        where = f"--token-file {path}"
    else:
        token = (os.environ.get("FMSH_SERVE_TOKEN") or "").strip()
        where = "FMSH_SERVE_TOKEN"
        if not token:
            return None
    if len(token) < _MIN_TOKEN:
        raise ShellError(
            f"{where}: the token is {len(token)} characters; use at least {_MIN_TOKEN} random ones "
            "(as from: openssl rand -hex 32)",
            status=2,
        )
    return token


def _tls(cert: str | None, key: str | None):  # type: ignore[no-untyped-def]
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise click.UsageError("--cert and --key go together")
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        reason = getattr(e, "strerror", None) or getattr(e, "reason", None) or str(e)
        raise ShellError(f"--cert {cert} --key {key}: cannot load them: {reason}", status=2) from None
    return context


COMMANDS: dict[str, click.Command] = {"serve": serve}


def main(args: list[str]) -> int:
    from fmsh.tasks.commands import run_command

    return run_command(serve, "serve", args)
