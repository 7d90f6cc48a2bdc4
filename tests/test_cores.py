"""Trainings share the cores (lyricdemo/cores.py): a training claims its threads while it runs, the
next one sizes itself to what is left, and a dead process's claim does not count."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lyricdemo import cores


@pytest.fixture(autouse=True)
def claims(tmp_path, monkeypatch):
    monkeypatch.setenv(cores.CLAIMS_ENV, str(tmp_path))
    monkeypatch.setenv("CPU_CORES", "4")
    return tmp_path


def test_alone_a_training_gets_every_core():
    assert cores.fair_share() == (4, [])


def test_another_process_training_counts_and_goes_when_it_ends(claims):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (claims / f"{child.pid}-0.json").write_text(json.dumps({"pid": child.pid, "threads": 3, "what": "train"}))
        assert cores.fair_share() == (2, [cores.Claim(child.pid, 3, "train")])
        assert cores.fair_share(own=3)[0] == 1                  # four trainings on four cores
    finally:
        child.kill()
        child.wait()
    assert cores.fair_share() == (4, [])                        # dead: not counted, and its file is gone
    assert not list(claims.iterdir())


def test_at_least_one_thread_however_many_run(claims):
    for n in range(8):
        (claims / f"1-{n}.json").write_text(json.dumps({"pid": 1, "threads": 1, "what": "train"}))  # pid 1 lives
    assert cores.fair_share()[0] == 1


def test_a_broken_claim_file_is_ignored(claims):
    (claims / "7-0.json").write_text("{not json")
    assert cores.fair_share() == (4, [])


def test_a_wrong_core_count_is_named(monkeypatch):
    monkeypatch.setenv("CPU_CORES", "two")
    with pytest.raises(Exception, match="CPU_CORES"):
        cores.machine_cores()


def test_trainings_split_the_cores_evenly_and_take_them_back(claims):
    with cores.Share("first", every_s=0) as first:
        assert first.threads == 4                             # alone: every core
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            (claims / f"{child.pid}-0.json").write_text(json.dumps({"pid": child.pid, "threads": 2, "what": "x"}))
            assert first.update() == 2 and first.threads == 2     # a second one came: half each
            assert first.update() is None                         # unchanged: nothing to do
            assert json.loads(next(claims.glob(f"{os.getpid()}-*.json")).read_text())["threads"] == 2
        finally:
            child.kill()
            child.wait()
        assert first.update() == 4                                # it ended: all cores again
    assert not list(claims.glob(f"{os.getpid()}-*.json"))


def test_a_share_asks_again_only_every_few_seconds(claims):
    with cores.Share("slow", every_s=3600) as share:
        (claims / "1-0.json").write_text(json.dumps({"pid": 1, "threads": 2, "what": "x"}))    # pid 1 lives
        assert share.update() is None and share.threads == 4


def test_a_fixed_claim_keeps_its_threads_and_counts_for_the_others(claims):
    with cores.Share("app training", every_s=0, fixed=1) as app:
        assert app.threads == 1 and app.update() is None
        assert json.loads(next(claims.glob("*.json")).read_text()) == {"pid": os.getpid(), "threads": 1,
                                                                       "what": "app training"}


def test_a_claims_folder_that_cannot_be_written_does_not_stop_a_training(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(cores.CLAIMS_ENV, str(blocked))
    with cores.Share("train", every_s=0) as share:
        assert share.threads == 4 and share.update() is None
