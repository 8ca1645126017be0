"""The prompt's completer and highlighter, called directly on a real Shell (no terminal):
what Tab offers where, and which class each part of a line is coloured with."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import run_fmsh
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from fmsh.interp.shell import Shell
from fmsh.repl.complete import FmshCompleter
from fmsh.repl.highlight import FmshLexer, style


def _shell(**env: str) -> Shell:
    return Shell("fmsh", [], environ={**os.environ, **env})


def _complete(shell: Shell, text: str) -> dict[str, str]:
    """What Tab offers at the end of `text`: the text put in, by what is shown."""
    completer = FmshCompleter(shell)
    found = completer.get_completions(Document(text, len(text)), CompleteEvent())
    return {c.display_text: c.text for c in found}


def _metas(shell: Shell, text: str) -> dict[str, str]:
    completer = FmshCompleter(shell)
    found = completer.get_completions(Document(text, len(text)), CompleteEvent())
    return {c.text: c.display_meta_text for c in found}


def _classes(shell: Shell, text: str) -> dict[str, str]:
    """Each fragment of the first line by its style class (without the `class:fmsh.`)."""
    line = FmshLexer(shell).lex_document(Document(text))(0)
    assert "".join(t for _, t in line) == text.split("\n")[0]
    return {t.strip(): s.replace("class:fmsh.", "") for s, t in line if t.strip()}


# --- completion ---------------------------------------------------------------------------


def test_builtin_command() -> None:
    sh = _shell()
    assert _complete(sh, "ec") == {"echo": "echo"}
    assert _metas(sh, "ec")["echo"] == "builtin"
    assert "echo" in _complete(sh, "if true; then ec")
    assert "echo" in _complete(sh, "ls | ec")


def test_function_and_alias() -> None:
    sh = _shell()
    sh.eval_text("deploy_web() { :; }; alias dw='deploy_web now'")
    assert _metas(sh, "deploy_")["deploy_web"] == "function"
    assert _metas(sh, "d")["dw"].startswith("alias")


def test_program_on_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "zqfrobnicate"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (bin_dir / "zqnotexecutable").write_text("")
    sh = _shell(PATH=f"{bin_dir}:{os.environ.get('PATH', '')}")
    assert _complete(sh, "zq") == {"zqfrobnicate": "zqfrobnicate"}
    assert _metas(sh, "zq")["zqfrobnicate"] == "command"


def test_command_after_a_modifier_and_an_assignment() -> None:
    sh = _shell()
    assert "echo" in _complete(sh, "timeout 5 ec")
    assert "echo" in _complete(sh, "retry 3 backoff 1s..5s ec")
    assert "echo" in _complete(sh, "X=1 ec")
    assert "echo" in _complete(sh, "sudo ec")


def test_paths(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "my file").write_text("")
    (tmp_path / ".hidden").write_text("")
    monkeypatch.chdir(tmp_path)
    sh = _shell()
    assert _complete(sh, "cat no") == {"notes.txt": "notes.txt", "notebooks/": "notebooks/"}
    assert _complete(sh, "cat my") == {"my file": "my\\ file"}
    assert _complete(sh, "cat 'my") == {"my file": "'my file'"}
    assert ".hidden" not in _complete(sh, "cat ")
    assert ".hidden" in _complete(sh, "cat .h")
    assert _complete(sh, f"cat {tmp_path}/note") == {
        "notes.txt": f"{tmp_path}/notes.txt",
        "notebooks/": f"{tmp_path}/notebooks/",
    }
    # a path in command position, and a redirection's target
    assert "notebooks/" in _complete(sh, "./no")
    assert "notes.txt" in _complete(sh, "echo hi > no")


def test_tilde(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "projects").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))  # expanduser reads the process's HOME
    sh = _shell(HOME=str(tmp_path))
    assert _complete(sh, "cd ~/pro") == {"projects/": "~/projects/"}


def test_variables() -> None:
    sh = _shell()
    sh.eval_text("zq_count=1; zq_name=x")
    assert _complete(sh, "echo $zq_") == {"zq_count": "zq_count", "zq_name": "zq_name"}
    assert _complete(sh, "echo ${zq_c") == {"zq_count": "zq_count}"}
    assert _complete(sh, 'echo "$zq_n') == {"zq_name": "zq_name"}
    assert _metas(sh, "echo $zq_n")["zq_name"] == "variable"
    # nothing is expanded in single quotes
    assert "zq_name" not in _complete(sh, "echo '$zq_n")


def test_hosts_and_groups_from_the_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(
        '[hosts."web[01-03]"]\nuser = "deploy"\n\n[hosts.db1]\n\n[groups]\nwebservers = "web[01-03]"\n'
    )
    sh = _shell(FMSH_INVENTORY=str(inventory), FMSH_SSH_CONFIG=str(tmp_path / "no-ssh-config"))
    assert _complete(sh, "@web") == {"web01": "web01", "web02": "web02", "web03": "web03", "webservers": "webservers"}
    assert _metas(sh, "@web")["webservers"].startswith("group")
    assert _metas(sh, "@d")["db1"] == "host"
    # the last name of a pattern
    assert set(_complete(sh, "@webservers!web0")) == {"web01", "web02", "web03"}
    # an `@` word that is an argument is not a host
    assert "db1" not in _complete(sh, "echo @d")


def test_hosts_from_the_ssh_config(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host bastion jump-*\n  User x\nHost backup1\n")
    sh = _shell(FMSH_INVENTORY=str(tmp_path / "none.toml"), FMSH_SSH_CONFIG=str(config))
    assert set(_complete(sh, "@b")) == {"bastion", "backup1"}


def test_a_broken_inventory_offers_nothing_and_does_not_raise(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.toml"
    inventory.write_text("[hosts\n")
    sh = _shell(FMSH_INVENTORY=str(inventory), FMSH_SSH_CONFIG=str(tmp_path / "none"))
    assert _complete(sh, "@w") == {}


def test_task_ids_from_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    r = run_fmsh("-c", "task zqtask { echo hi; }", env={"FMSH_JOURNAL": str(journal)})
    assert r.status == 0, r
    sh = _shell(FMSH_JOURNAL=str(journal))
    offered = _metas(sh, "resume ")
    assert len(offered) == 1
    task_id = next(iter(offered))
    assert task_id.isdigit() and offered[task_id] == "done"
    for builtin in ("trace", "log", "cancel", "retry", "forget", "signal", "await task"):
        assert task_id in _metas(sh, f"{builtin} "), builtin
    assert _complete(sh, "resume zq") == {f"{task_id} zqtask": task_id}  # by name too
    # only the first argument is a task id
    assert task_id not in _metas(sh, f"log {task_id} ")


def test_no_journal_no_ids_and_none_created(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    sh = _shell(FMSH_JOURNAL=str(journal))
    assert _complete(sh, "resume ") == {}
    assert not journal.exists()


def test_the_completer_never_raises() -> None:
    sh = _shell()
    completer = FmshCompleter(sh)
    for text in ["", "'", '"$', "${", "@", "@@", "\\", "ls \\", "a\x00b", "$(", "<<", "~nosuchuser/x", "x" * 5000]:
        list(completer.get_completions(Document(text, len(text)), CompleteEvent()))


# --- highlighting -------------------------------------------------------------------------


def test_existing_and_missing_commands(tmp_path: Path) -> None:
    sh = _shell()
    classes = _classes(sh, "echo hi; zq-no-such-command x")
    assert classes["echo"] == "command"
    assert classes["zq-no-such-command"] == "missing"
    assert classes["hi"] == "" and classes["x"] == ""
    sh.eval_text("zqfn() { :; }")
    assert _classes(sh, "zqfn")["zqfn"] == "command"


def test_strings_variables_and_substitutions() -> None:
    sh = _shell()
    classes = _classes(sh, "echo 'a b' \"c $d\" ${e:-f} $(ls)")
    assert classes["'a b'"] == "string"
    assert classes['"c'] == "string"
    assert classes["$d"] == "variable"
    assert classes["${e:-f}"] == "variable"
    assert classes["$(ls)"] == "variable"


def test_hosts_modifiers_and_keywords() -> None:
    sh = _shell()
    classes = _classes(sh, "retry 3 timeout 30s @web[01-20] ./deploy")
    assert classes["retry"] == "keyword" and classes["timeout"] == "keyword"
    assert classes["@web[01-20]"] == "host"
    classes = _classes(sh, "for h in a b; do echo $h; done")
    assert classes["for"] == "keyword" and classes["do"] == "keyword" and classes["done"] == "keyword"
    assert classes["in"] == "keyword"
    assert _classes(sh, "await port db1:5432 timeout 2m")["await"] == "keyword"


def test_operators_redirections_and_comments() -> None:
    sh = _shell()
    classes = _classes(sh, "ls 2>&1 | wc -l > out # count")
    assert classes["|"] == "operator"
    assert classes["2>&1"] == "redirect"
    assert classes["# count"] == "comment"


def test_syntax_error_marks_the_rest_of_the_line() -> None:
    sh = _shell()
    classes = _classes(sh, "echo a ) b c")
    assert classes["echo"] == "command"
    assert classes[") b c"] == "error"
    classes = _classes(sh, "if then fi")
    assert classes["then fi"] == "error"


def test_unfinished_input_is_not_an_error() -> None:
    sh = _shell()
    classes = _classes(sh, 'echo "unterminated')
    assert classes["echo"] == "command"
    assert classes['"unterminated'] == "string"
    assert "error" not in _classes(sh, "if true; then echo").values()
    assert "error" not in _classes(sh, "ls |").values()
    assert _classes(sh, "echo $(ls")["$(ls"] == "variable"
    # a modifier or @hosts waiting for its command
    for text in ("timeout 5 ", "retry 3 backoff 1s", "@web", "@"):
        assert "error" not in _classes(sh, text).values(), text
    assert _classes(sh, "timeout abc ls")["abc ls"] == "error"


def test_lines_of_a_multi_line_document() -> None:
    sh = _shell()
    get_line = FmshLexer(sh).lex_document(Document("for x in 1\ndo echo 'a\nb'\ndone"))
    assert [t for _, t in get_line(1)] == ["do", " ", "echo", " ", "'a"]
    assert get_line(2) == [("class:fmsh.string", "b'")]
    assert get_line(3)[0] == ("class:fmsh.keyword", "done")
    assert get_line(9) == []


def test_the_highlighter_never_raises() -> None:
    sh = _shell()
    lexer = FmshLexer(sh)
    odd = ["", "(", "((", "$((", "<<", "cat <<EOF\nx", "@", "{", "\\", "a\x00b", "(" * 2000, "$(" * 300]
    for text in [*odd, "x" * 30000]:
        get_line = lexer.lex_document(Document(text))
        assert "".join(t for _, t in get_line(0)) == text.split("\n")[0]


def test_style_has_every_class() -> None:
    rules = dict(style().style_rules)
    for name in "command missing keyword string variable host operator redirect comment error".split():
        assert f"fmsh.{name}" in rules
