"""Queries are closed and bounded: no SERVICE, update or LOAD; query files checked; a time
limit that really stops a query, a memory limit, a row cap that is always reported."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kb as kb_api
from kb.cli import app
from kb.errors import KbError
from kb.sparql import TruncatedWarning, check_query, keywords

runner = CliRunner()
CROSS = "SELECT ?a WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?d ?g"


def kb(home: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, [*args, "--home", str(home)])
    assert "Traceback" not in r.output
    return r.exit_code, r.stdout, r.stderr


def rq(tmp_path: Path, text: str, name: str = "q.rq") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_query_file_that_is_a_directory_or_missing(real_home: Path, tmp_path: Path) -> None:
    for target in (str(tmp_path), str(tmp_path / "missing.rq")):
        code, _, err = kb(real_home, "query", "--file", target)
        assert code == 2 and "KB056" in err
    bad = tmp_path / "gbk.rq"
    bad.write_bytes("SELECT * WHERE { ?s ?p \"上海\" }".encode("gb18030"))
    code, _, err = kb(real_home, "query", "--file", str(bad))
    assert code == 2 and "KB056" in err and "UTF-8" in err


@pytest.fixture
def listener() -> tuple[int, list[bool]]:
    """A local TCP port that records whether anything connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(3)
    hits: list[bool] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
            hits.append(True)
            conn.close()
        except OSError:
            pass
        finally:
            server.close()

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1], hits


def test_service_is_refused_before_any_request(real_home: Path, tmp_path: Path,
                                               listener: tuple[int, list[bool]]) -> None:
    port, hits = listener
    f = rq(tmp_path, f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> "
                     "{ ?s ?p ?o } }")
    code, _, err = kb(real_home, "query", "--file", f)
    assert code == 2 and "KB055" in err
    with pytest.raises(KbError) as e:
        kb_api.open(real_home).sparql(
            f"SELECT * WHERE {{ ?x a kb:City . SERVICE SILENT <http://127.0.0.1:{port}/> "
            "{ ?x ?p ?o } }")
    assert e.value.code == "KB055"
    time.sleep(0.2)
    assert not hits


@pytest.mark.parametrize("text", [
    "INSERT DATA { <http://a.example/s> <http://a.example/p> 1 }",
    "DELETE WHERE { ?s ?p ?o }",
    "LOAD <http://example.org/data.ttl>",
    "CLEAR ALL",
    "SELECT * WHERE { ?s ?p ?o . SERVICE <http://example.org/s> { ?s ?q ?r } }",
])
def test_updates_load_and_service_are_refused(text: str) -> None:
    with pytest.raises(KbError) as e:
        check_query(text)
    assert e.value.code == "KB055"


def test_refused_words_in_strings_iris_and_comments_do_not_count(real_home: Path,
                                                                 tmp_path: Path) -> None:
    text = ('# SERVICE <http://example.org/> LOAD\n'
            'SELECT ?x ?note WHERE { ?x a kb:City ; skos:prefLabel "深圳"@zh .\n'
            '  BIND ("SERVICE <http://example.org/> { } ; INSERT DATA" AS ?note) }')
    code, out, err = kb(real_home, "query", "--file", rq(tmp_path, text), "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["x"].endswith("/city/shenzhen")
    assert keywords('SELECT ?service WHERE { ex:SERVICE "SERVICE" <http://s/SERVICE> } '
                    '# SERVICE') == ["SELECT", "WHERE"]


def test_other_query_forms_are_bad_queries() -> None:
    for text in ("ASK { ?s ?p ?o }", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"):
        with pytest.raises(KbError) as e:
            check_query(text)
        assert e.value.code == "KB052"


def test_time_limit_stops_the_query(real_home: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    code, _, err = kb(real_home, "query", "--file", rq(tmp_path, CROSS), "--timeout", "1")
    assert code == 2 and "KB053" in err and "--timeout" in err
    assert time.monotonic() - start < 15
    with pytest.raises(KbError) as e:
        kb_api.open(real_home).sparql(CROSS, timeout=1)
    assert e.value.code == "KB053"


def test_memory_limit_stops_the_query(real_home: Path, tmp_path: Path) -> None:
    code, _, err = kb(real_home, "query", "--file", rq(tmp_path, CROSS), "--memory", "1024",
                      "--timeout", "120")
    assert code == 2 and "KB054" in err and "--memory" in err


def test_limits_from_the_environment(real_home: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYKB_QUERY_TIMEOUT", "1")
    code, _, err = kb(real_home, "query", "--file", rq(tmp_path, CROSS))
    assert code == 2 and "KB053" in err
    monkeypatch.setenv("CITYKB_QUERY_MAX_ROWS", "lots")
    code, _, err = kb(real_home, "query", "--file", rq(tmp_path, "SELECT * { ?s ?p ?o }"))
    assert code == 2 and "KB051" in err and "CITYKB_QUERY_MAX_ROWS" in err


@pytest.mark.parametrize("option", [("--timeout", "0"), ("--max-rows", "0"),
                                    ("--memory", "10"), ("--max-rows", "-5")])
def test_limit_options_are_checked(real_home: Path, tmp_path: Path,
                                   option: tuple[str, str]) -> None:
    code, _, err = kb(real_home, "query", "--file", rq(tmp_path, "SELECT * { ?s ?p ?o }"),
                      *option)
    assert code == 2 and "KB051" in err


def test_row_cap_is_reported_in_every_format(real_home: Path, tmp_path: Path) -> None:
    f = rq(tmp_path, "SELECT ?x WHERE { ?x a kb:City } ORDER BY ?x")
    code, out, err = kb(real_home, "query", "--file", f, "--max-rows", "5")
    assert code == 0 and "truncated" in err and "--max-rows" in err
    code, out, err = kb(real_home, "query", "--file", f, "--max-rows", "5", "--format", "json")
    doc = json.loads(out)
    assert doc["truncated"] is True and doc["max_rows"] == 5 and len(doc["rows"]) == 5
    code, out, err = kb(real_home, "query", "--file", f, "--max-rows", "5", "--format", "csv")
    lines = out.strip().splitlines()
    assert len(lines) == 7 and lines[-1].startswith("# truncated") and "truncated" in err
    code, out, err = kb(real_home, "query", "--file", f, "--format", "json")
    assert isinstance(json.loads(out), list) and len(json.loads(out)) == 230 and not err


def test_row_cap_applies_to_named_queries(real_home: Path) -> None:
    code, out, err = kb(real_home, "query", "dimension-ranking", "--param", "dimension=经济实力",
                        "--max-rows", "3", "--format", "json")
    assert code == 0 and json.loads(out)["truncated"] is True and "truncated" in err


def test_api_reports_truncation(real_home: Path) -> None:
    base = kb_api.open(real_home)
    with pytest.warns(TruncatedWarning):
        df = base.sparql("SELECT ?x WHERE { ?x a kb:City }", max_rows=10)
    assert len(df) == 10 and df.attrs["truncated"] is True
    whole = base.sparql("SELECT ?x WHERE { ?x a kb:City }")
    assert len(whole) == 230 and whole.attrs["truncated"] is False


def test_integer_parameters_are_range_checked(real_home: Path) -> None:
    for top in ("0", "-3", "99999999999999", "1e3", "10; DROP ALL"):
        code, _, err = kb(real_home, "query", "top-in-area", "--param", "area=东部",
                          "--param", "dimension=科技创新", "--param", f"top={top}")
        assert code == 2 and "KB051" in err, top


def test_bad_sparql_is_a_coded_error(real_home: Path, tmp_path: Path) -> None:
    code, _, err = kb(real_home, "query", "--file", rq(tmp_path, "SELECT WHERE {"))
    assert code == 2 and "KB052" in err
