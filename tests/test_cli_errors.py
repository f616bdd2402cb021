"""Every failure of the command line is a coded message and a documented exit code, never a
traceback; piped output is never hard-wrapped; the error catalogue page is up to date."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb import errordocs
from kb.cli import app, main
from kb.errors import CATALOGUE

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
KB = Path(sys.executable).parent / "kb"


def kb(home: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, [*args, "--home", str(home)])
    assert "Traceback" not in r.output
    return r.exit_code, r.stdout, r.stderr


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    out, err = capsys.readouterr()
    assert isinstance(e.value.code, int)
    return e.value.code, out, err


def test_unexpected_errors_are_coded_without_a_traceback(
        real_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from kb import explain as explain_module

    def boom(*_: object, **__: object) -> None:
        raise ValueError("something nobody expected")

    monkeypatch.setattr(explain_module, "explain", boom)
    code, _, err = kb(real_home, "explain", "深圳", "经济实力")
    assert code == errordocs.EXIT_INTERNAL == 70 and "KB070" in err
    assert "something nobody expected" in err and "CITYKB_DEBUG" in err
    code, out, err = run_main(["explain", "深圳", "经济实力", "--home", str(real_home)], capsys)
    assert code == 70 and "KB070" in err and "Traceback" not in out + err
    monkeypatch.setenv("CITYKB_DEBUG", "1")
    code, out, err = run_main(["explain", "深圳", "经济实力", "--home", str(real_home)], capsys)
    assert code == 70 and "Traceback" in err and "KB070" in err


@pytest.mark.parametrize("args", [["rank", "--tpo", "3"], ["rank", "--top", "many"],
                                  ["frobnicate"], ["explain"], ["query", "--format", "xml"],
                                  ["rank", "--top", "0"], ["analyze", "coo-2025", "--spread", "7"],
                                  ["analyze", "coo-2025", "--sensitivity", "-5"]])
def test_usage_errors_are_coded(args: list[str], real_home: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main([*args, "--home", str(real_home)], capsys)
    assert code == errordocs.EXIT_USAGE and "KB058" in err and "Traceback" not in out + err


def test_no_store_exit_4(tmp_path: Path) -> None:
    for args in (["rank"], ["explain", "深圳"], ["query", "dimension-ranking", "--param",
                                                   "dimension=经济实力"]):
        code, _, err = kb(tmp_path / "nothing", *args)
        assert code == errordocs.EXIT_STORE and "KB040" in err


def test_piped_output_is_not_wrapped(real_home: Path) -> None:
    env = {**os.environ, "CITYKB_HOME": str(real_home), "COLUMNS": "80"}
    r = subprocess.run([str(KB), "explain", "西安", "经济实力"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    reason = next(line for line in r.stdout.splitlines() if "coo2025-e015" in line)
    assert reason  # the erratum is there, and every detail is on one line:
    assert any("line_en is the line carrying the city name." in line and "garbled" in line
               for line in r.stdout.splitlines())
    assert max(len(line) for line in r.stdout.splitlines()) > 80
    r = subprocess.run([str(KB), "query", "city-across-reports", "--param",
                        "place=" + "不存在的地方" * 20], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "KB050" in errors[0] and len(errors[0]) > 80


def test_error_page_is_up_to_date() -> None:
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert page == errordocs.markdown(), "run: kb errors --markdown > docs/errors.md"
    for code in CATALOGUE:
        assert f"| {code} |" in page


def test_every_error_code_has_an_exit_code_the_readme_documents() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Exit codes"):]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert set(errordocs.EXITS) <= documented
    assert {errordocs.exit_code(c) for c in CATALOGUE} <= set(errordocs.EXITS)


def test_query_safety_codes_have_examples() -> None:
    for code in ("KB050", "KB051", "KB052", "KB053", "KB054", "KB055", "KB056", "KB057",
                 "KB058", "KB070"):
        assert CATALOGUE[code].example, code


def test_errors_command_lists_every_code() -> None:
    r = runner.invoke(app, ["errors", "--format", "csv"])
    assert r.exit_code == 0 and all(c in r.stdout for c in CATALOGUE)


def test_a_closed_pipe_is_not_an_error(real_home: Path, tmp_path: Path) -> None:
    q = tmp_path / "all.rq"
    q.write_text("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", encoding="utf-8")
    env = {**os.environ, "CITYKB_HOME": str(real_home)}
    proc = subprocess.Popen([str(KB), "query", "--file", str(q), "--format", "csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"s,p,o")  # like `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Traceback" not in err and "error" not in err
