"""Nothing is written outside the results root (anobench.confine); links inside it are fine.

The refusals themselves, through the command line, are cases of
tests/test_bad_input.py (``link-*``).
"""
from __future__ import annotations

import pytest

import anobench.cli as cli
from anobench.confine import check_tree, confined
from anobench.errors import AnobenchError

SUITE = """
[suite]
name = "tiny"
repetitions = 1

[[datasets]]
name = "digits"
classes = [0]

[[detectors]]
name = "pca"
params = { n_components = 4 }
"""


def test_confined_names_the_link(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "root" / "a").symlink_to(tmp_path / "out")
    assert confined(tmp_path / "root", tmp_path / "root" / "b" / "c") == tmp_path / "root/b/c"
    with pytest.raises(AnobenchError, match=r"root/a: a symbolic link to .*/out, outside"):
        confined(tmp_path / "root", tmp_path / "root" / "a" / "x")
    with pytest.raises(AnobenchError, match="outside"):
        confined(tmp_path / "root", tmp_path / "root" / ".." / "out")


def test_a_link_loop_is_refused(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(AnobenchError, match="loop: a symbolic link"):
        confined(tmp_path, tmp_path / "loop" / "x")
    with pytest.raises(AnobenchError, match="loop"):
        check_tree(tmp_path)


def test_check_tree_allows_links_that_stay_inside(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "same").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "up").symlink_to(tmp_path / "d" / "f")
    check_tree(tmp_path)
    (tmp_path / "d" / "away").symlink_to("/")
    with pytest.raises(AnobenchError, match="d/away: a symbolic link to /, outside"):
        check_tree(tmp_path)


def test_a_results_root_that_is_a_link_is_used(tmp_path, capsys):
    """The root the user names may be a link (results -> /big/disk); so may a folder in it
    that points inside it."""
    (tmp_path / "disk" / "runs").mkdir(parents=True)
    (tmp_path / "results").symlink_to(tmp_path / "disk")
    (tmp_path / "disk" / "tiny").symlink_to(tmp_path / "disk" / "runs")
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE)
    assert cli.main(["run", str(suite), "--results", str(tmp_path / "results"),
                     "--no-figures"]) == 0
    (run,) = (tmp_path / "disk" / "runs").iterdir()
    assert (run / "records.jsonl").is_file() and (run / "report.md").is_file()
    assert cli.main(["run", str(suite), "--results", str(tmp_path / "results"), "--resume",
                     "--no-figures"]) == 0
    assert cli.main(["report", str(tmp_path / "results" / "tiny" / run.name)]) == 0
    assert (run / "figures").is_dir()
    capsys.readouterr()
