"""Applying redirections to the shell's descriptor table (see runtime/fds.py)."""

from __future__ import annotations

import os

from fmsh.runtime.errors import ShellError
from fmsh.runtime.fds import Frame, open_for_redirect, text_to_fd
from fmsh.syntax import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

_INPUT_OPS = frozenset(["<", "<>", "<&", "<<", "<<-", "<<<"])


class Redirector:
    def __init__(self, shell: Shell) -> None:
        self.sh = shell

    def apply(self, redirects: list[ast.Redirect], frame: Frame | None) -> bool:
        """Apply in order. On failure: report, return False (the caller restores)."""
        for redirect in redirects:
            try:
                self._apply_one(redirect, frame)
            except ShellError as e:
                self.sh.report(e.message)
                return False
            except OSError as e:
                self.sh.report(f"{self._describe(redirect)}: {e.strerror}")
                return False
        return True

    def _describe(self, redirect: ast.Redirect) -> str:
        target = redirect.target
        if isinstance(target, ast.Word):
            try:
                return self.sh.words.expand_string(target)
            except ShellError:
                return "redirection"
        return "here-document"

    def _apply_one(self, redirect: ast.Redirect, frame: Frame | None) -> None:
        sh = self.sh
        fds = sh.fds
        op = redirect.op
        default = 0 if op in _INPUT_OPS else 1
        target_fd = redirect.fd if redirect.fd is not None else default
        if target_fd < 0 or target_fd > 1023 and redirect.fd_var is None:
            raise ShellError(f"{redirect.fd if redirect.fd != -1 else 'file descriptor'}: Bad file descriptor")
        target = redirect.target
        if op in ("<<", "<<-", "<<<"):
            if isinstance(target, ast.HereDoc):
                assert target.body is not None
                text = sh.words.expand_heredoc(target.body)
            else:
                text = sh.words.expand_string(target) + "\n"
            fd = text_to_fd(text)
            self._install(fd, target_fd, redirect, frame)
            return
        assert isinstance(target, ast.Word)
        if op in (">&", "<&"):
            word = sh.words.expand_string(target)
            if word == "-":
                self._close(target_fd, redirect, frame)
                return
            move = word.endswith("-") and word[:-1].isdigit()
            if word.isdigit() or move:
                source = int(word[:-1] if move else word)
                if not fds.is_user_fd(source):
                    raise ShellError(f"{source}: Bad file descriptor")
                if redirect.fd_var is not None:
                    sh.vars.set(redirect.fd_var, str(fds.allocate(source)))
                else:
                    fds.place(source, target_fd, frame)
                if move and source != target_fd:
                    fds.close(source, frame)
                return
            if op == "<&" or redirect.fd is not None:
                raise ShellError(f"{word}: ambiguous redirect")
            op = "&>"  # `>&file` is `&>file`
        path = sh.words.expand_redirect_target(target)
        if path == "" and op != "&>":
            raise ShellError(": No such file or directory")
        fd = open_for_redirect(path, op, sh.options.noclobber and op != ">|")
        if op in ("&>", "&>>"):
            self._install(fd, 1, redirect, frame)
            fds.place(1, 2, frame)
            return
        self._install(fd, target_fd, redirect, frame)

    def _install(self, fd: int, target_fd: int, redirect: ast.Redirect, frame: Frame | None) -> None:
        try:
            if redirect.fd_var is not None:
                self.sh.vars.set(redirect.fd_var, str(self.sh.fds.allocate(fd)))
            else:
                self.sh.fds.place(fd, target_fd, frame)
        finally:
            os.close(fd)

    def _close(self, target_fd: int, redirect: ast.Redirect, frame: Frame | None) -> None:
        if redirect.fd_var is not None:
            value = self.sh.vars.get(redirect.fd_var) or ""
            if not value.isdigit():
                raise ShellError(f"{redirect.fd_var}: invalid file descriptor")
            target_fd = int(value)
            try:
                os.close(target_fd)
            except OSError:
                pass
            return
        self.sh.fds.close(target_fd, frame)
