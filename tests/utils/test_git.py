"""git_commit: the commit of the code that runs, fixed at a process's first call."""

import subprocess

from rtgs2.utils import git


def test_the_first_answer_is_kept(monkeypatch) -> None:
    git.git_commit.cache_clear()
    answers = iter(["a" * 40, "b" * 40])
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=next(answers) + "\n")
    )
    assert git.git_commit() == "a" * 40
    assert git.git_commit() == "a" * 40  # a commit made during a long run does not change what its cards say
    git.git_commit.cache_clear()
