"""The emulator's pid and port files decide which process is ours: a stale pid file whose number now
belongs to another process names nothing, so `down` and `reset` leave that process alone."""

from __future__ import annotations

import subprocess
import sys

from worker import emulator as emu


def test_a_stale_pid_file_never_stops_another_process(tmp_path, capsys):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / emu.PID_FILE).write_text(f"{other.pid}\n")
        (tmp_path / emu.PORT_FILE).write_text(f"{emu.free_port()}\n")
        assert emu.running(tmp_path) is None
        assert emu.reset(tmp_path) == 1
        assert emu.down(tmp_path) == 0
        assert other.poll() is None  # still running
        assert "no AWS emulator started from" in capsys.readouterr().out
        assert not (tmp_path / emu.PID_FILE).exists()
    finally:
        other.kill()
        other.wait()
