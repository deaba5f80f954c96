import logging

from sepsim._progress import progress_bar, progress_mode, use_bar


def test_batch_mode_logs_plain_lines(caplog):
    with (
        caplog.at_level(logging.INFO, logger="sepsim"),
        progress_bar(5, desc="trials", mode="log", every_s=3600) as bar,
    ):
        for _ in range(5):
            bar.update(1)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("trials: 5/5 chunk")  # only the final line within the hour


def test_modes(monkeypatch):
    assert use_bar("bar") and not use_bar("log")
    assert [progress_mode(f) for f in (None, True, False)] == ["auto", "bar", "log"]
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    assert not use_bar("auto")  # a SLURM job never draws a bar
