"""``gnlc jury`` on both databases: jurors with their own country, spreading, a conflict
of interest refused in one line, blind scores, the ranking as CSV."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from cli.main import app
from tests.integration.test_cli import EXAMPLES, FORM, gnlc, run

__all__ = ["gnlc"]  # the fixture
SCORES = ["commitment", "good_practice", "vision", "implementation_plan", "monitoring"]


def forwarded(runner: CliRunner, city: str) -> int:
    out = run(runner, "app", "new", "--as", f"city:{city}", "--now", "2019-04-09", *FORM, "--json")
    app_id = int(json.loads(out)["id"])
    signed = str(EXAMPLES / "signed-form.pdf")
    run(runner, "app", "attach", str(app_id), signed, "--as", f"city:{city}", "--now", "2019-04-09")
    run(runner, "app", "submit", str(app_id), "--as", f"city:{city}", "--now", "2019-04-09")
    run(runner, "app", "endorse", str(app_id), "--as", "commission:LV", "--now", "2019-05-10")
    return app_id


def score(runner: CliRunner, assignment: int, juror: str, value: int, recommend: str) -> None:
    args = [f"--score={c}={value}" for c in SCORES]
    run(runner, "jury", "score", str(assignment), *args, "--recommend", recommend,
        "--as", juror, "--now", "2019-06-10")  # fmt: skip


def test_a_jury_by_command(gnlc: CliRunner) -> None:
    jelgava, cesis = forwarded(gnlc, "Jelgava"), forwarded(gnlc, "Cēsis")
    for name, code in (("lv", "LV"), ("fi", "FI"), ("fr", "FR")):
        run(gnlc, "user", "add", f"{name}.juror@example.org", "--role", "juror",
            "--country", code, "--now", "2019-05-01")  # fmt: skip
    refused = gnlc.invoke(app, ["jury", "assign", str(jelgava), "--juror", "lv.juror@example.org",
                                "--now", "2019-06-01"])  # fmt: skip
    assert refused.exit_code == 1
    assert "never reviews an application of their own country" in refused.output
    assert len(refused.output.strip().splitlines()) == 1

    done = json.loads(run(gnlc, "jury", "spread", "2019", "--per", "2", "--now", "2019-06-01",
                          "--json"))  # fmt: skip
    given = {(a["application_id"], a["juror"]) for a in done["created"]}
    assert given == {(a, f"{j}.juror@example.org") for a in (jelgava, cesis) for j in ("fi", "fr")}
    fi = json.loads(run(gnlc, "jury", "mine", "--as", "fi.juror@example.org", "--json"))
    assert {a["application_id"] for a in fi} == {jelgava, cesis}
    lv = json.loads(run(gnlc, "jury", "mine", "--as", "lv.juror@example.org", "--json"))
    assert lv == []
    ids = {(a["application_id"]): a["assignment_id"] for a in fi}
    fr = {a["application_id"]: a["assignment_id"] for a in json.loads(
        run(gnlc, "jury", "mine", "--as", "fr.juror@example.org", "--json"))}  # fmt: skip

    score(gnlc, ids[jelgava], "fi.juror@example.org", 5, "admit")
    # blind: the French juror sees only their own row before scoring
    before = json.loads(run(gnlc, "jury", "scores", str(jelgava), "--as", "fr.juror@example.org",
                            "--json"))  # fmt: skip
    assert [j["juror_email"] for j in before["jurors"]] == ["fr.juror@example.org"]
    score(gnlc, fr[jelgava], "fr.juror@example.org", 3, "admit")
    after = json.loads(run(gnlc, "jury", "scores", str(jelgava), "--as", "fr.juror@example.org",
                           "--json"))  # fmt: skip
    assert len(after["jurors"]) == 2 and after["mean"] == 4 and after["spread"] == 2
    score(gnlc, ids[cesis], "fi.juror@example.org", 2, "not_admit")
    run(gnlc, "jury", "decline", str(fr[cesis]), "--reason", "I worked for Cēsis.",
        "--as", "fr.juror@example.org", "--now", "2019-06-11")  # fmt: skip

    rows = list(csv.DictReader(io.StringIO(run(gnlc, "jury", "ranking", "2019", "--csv"))))
    assert [(r["rank"], r["city"], r["mean"], r["spread"], r["recommendation"]) for r in rows] == [
        ("1", "Jelgava", "4.0", "2.0", "admit"),
        ("2", "Cēsis", "2.0", "0.0", "not_admit"),
    ]
    assert rows[0]["vision"] == "4.0" and rows[1]["jurors_assigned"] == "1"
    by_juror = list(csv.DictReader(io.StringIO(
        run(gnlc, "jury", "ranking", "2019", "--csv", "--by-juror"))))  # fmt: skip
    declined = [r for r in by_juror if r["state"] == "declined"]
    assert [(r["juror_email"], r["declined_reason"]) for r in declined] == [
        ("fr.juror@example.org", "I worked for Cēsis.")
    ]
    run(gnlc, "jury", "deadline", "2019", "2019-07-01")
    fi = json.loads(run(gnlc, "jury", "mine", "--as", "fi.juror@example.org", "--json"))
    assert {a["review_deadline"] for a in fi} == {"2019-07-01"}
