"""A remote stage's output sink that also journals: each host's outcome as the host
finishes, and its output (up to a cap per step and host, FMSH_JOURNAL_OUTPUT bytes, 1M by
default) for `log`; and each try's remote process group as the wrapper reports it (a
resumed task stops what a dead shell left running). Everything is passed on to the real
sink unchanged. A journal write that fails (a full disk, a takeover) fails the stage when
it ends, so that a step is never journaled finished without its hosts' results."""

from __future__ import annotations

import time

from fmsh.journal.base import Chunk
from fmsh.remote.output import Sink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.remote.run import HostResult


class RecordingSink(Sink):
    """`record(host name, result, chunks kept, bytes seen, truncated)` is called once per host."""

    def __init__(
        self,
        inner: Sink,
        record: Callable[[str, HostResult, list[Chunk], int, bool], None],
        cap: int,
        on_process: Callable[[str, int, int], None] | None = None,
    ) -> None:
        super().__init__(inner.names, inner.stdout_fd, inner.stderr_fd)
        self.inner = inner
        self.record = record
        self.cap = cap
        self.on_process = on_process  # (host name, try, remote process group)
        self._chunks: dict[int, list[Chunk]] = {}
        self._kept: dict[int, int] = {}
        self._seen: dict[int, int] = {}
        self.error: BaseException | None = None

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        self.inner.data(host, stream, chunk)
        self._seen[host] = self._seen.get(host, 0) + len(chunk)
        kept = self._kept.get(host, 0)
        room = self.cap - kept
        if room <= 0:
            return
        piece = chunk[:room]
        self._kept[host] = kept + len(piece)
        self._chunks.setdefault(host, []).append(Chunk(stream, piece, time.time()))

    def host_done(self, host: int, result: HostResult) -> None:
        self.inner.host_done(host, result)
        seen = self._seen.get(host, 0)
        try:
            self.record(self.names[host], result, self._chunks.pop(host, []), seen, seen > self._kept.get(host, 0))
        except Exception as e:  # noqa: BLE001 - kept for the step, which fails with it when it ends
            if self.error is None:
                self.error = e

    def process_started(self, host: int, number: int, pid: int) -> None:
        if self.on_process is None:
            return
        try:
            self.on_process(self.names[host], number, pid)
        except Exception as e:  # noqa: BLE001 - as in host_done
            if self.error is None:
                self.error = e

    def finish(self, results: list[HostResult]) -> None:
        self.inner.finish(results)
        if self.error is not None:
            raise self.error

    def tick(self) -> None:
        self.inner.tick()


def output_cap(value: str | None) -> int:
    """FMSH_JOURNAL_OUTPUT: bytes, with an optional K, M or G (1M when unset)."""
    from fmsh.runtime.errors import ShellError
    from fmsh.runtime.settings import SettingError, size

    try:
        return size(value, "FMSH_JOURNAL_OUTPUT", 1 << 20)
    except SettingError as e:
        raise ShellError(str(e)) from None
