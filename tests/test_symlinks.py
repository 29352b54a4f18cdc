"""Files written into a run or report folder never go through a symbolic link planted there."""

from __future__ import annotations

from nas.cli import main
from tests.synth import write_run


def test_a_planted_link_is_refused_and_its_target_left_alone(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    write_run(sweep, "anynet_x_a", 12, lambda values, rng: float(rng.uniform(1, 10)))
    victim = tmp_path / "precious.txt"
    victim.write_text("mine")
    (sweep / "analysis").mkdir()
    (sweep / "analysis" / "edf.png").symlink_to(victim)  # figures go to the sweep folder's analysis/
    assert main(["analyze", str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0] and "edf.png" in err[0]
    assert victim.read_text() == "mine"


def test_a_link_in_a_report_folder_is_refused(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    write_run(sweep, "anynet_x_a", 12, lambda values, rng: float(rng.uniform(1, 10)))
    report = tmp_path / "report"
    report.mkdir()
    victim = tmp_path / "page.html"
    victim.write_text("mine")
    (report / "index.html").symlink_to(victim)
    assert main(["analyze", str(sweep), "--report", str(report)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "mine"
