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
    assert cores.free_threads() == (4, [])


def test_another_training_holds_its_threads_and_its_claim_goes_when_it_ends(claims):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (claims / f"{child.pid}.json").write_text(json.dumps({"pid": child.pid, "threads": 3, "what": "train"}))
        n, running = cores.free_threads()
        assert n == 1 and running == [cores.Claim(child.pid, 3, "train")]
    finally:
        child.kill()
        child.wait()
    assert cores.free_threads() == (4, [])                 # dead: not counted, and its file is gone
    assert not (claims / f"{child.pid}.json").exists()


def test_at_least_one_thread_however_many_run(claims):
    (claims / "1.json").write_text(json.dumps({"pid": 1, "threads": 16, "what": "train"}))     # pid 1 lives
    assert cores.free_threads()[0] == 1


def test_this_process_claims_while_its_block_runs(claims):
    with cores.claim(2, "train"):
        with cores.claim(1, "train"):                        # two trainings of one process: two claims
            mine = claims.glob(f"{os.getpid()}-*.json")
            assert sorted(json.loads(f.read_text())["threads"] for f in mine) == [1, 2]
            assert cores.others() == []                      # its own claims are not another's
        assert len(list(claims.iterdir())) == 1
    assert list(claims.iterdir()) == []


def test_a_broken_claim_file_is_ignored(claims):
    (claims / "7.json").write_text("{not json")
    assert cores.free_threads() == (4, [])


def test_a_wrong_core_count_is_named(monkeypatch):
    monkeypatch.setenv("CPU_CORES", "two")
    with pytest.raises(Exception, match="CPU_CORES"):
        cores.machine_cores()
