"""The ``logitnet`` command, run as a real process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import COURSE_REPORT, FAILURE, USAGE, run, run_on_a_terminal, write_h5
from logitnet.app.modelfile import load_model
from logitnet.cli import build_parser
from logitnet.course.neuron import predict


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "cat.npz"
    result = run("train", "--data-dir", str(data_dir), "--out", str(out))
    return result, out


def test_train_prints_the_course_report(trained):
    result, out = trained
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == COURSE_REPORT
    assert result.stderr == f"model saved to {out}\n"  # no progress bar in a pipe


def test_train_saves_a_usable_model(trained, cat_arrays):
    _, out = trained
    saved = load_model(out)
    assert saved.classes == ["non-cat", "cat"]
    assert saved.image_shape == (64, 64, 3)
    assert saved.training["num_iterations"] == 2000
    assert saved.training["learning_rate"] == 0.005
    assert saved.metrics["train_accuracy"] == 99.04306220095694
    assert saved.metrics["test_accuracy"] == 70.0
    assert saved.metrics["test"]["accuracy"] == 0.7
    assert saved.training["solver"] == "gd"
    assert saved.training["n_iter"] == 2000
    assert saved.training["data"]["kind"] == "course HDF5"
    assert [f"{c:f}" for c in saved.training["costs"]][-1] == "0.140872"
    *_, X_test, Y_test = cat_arrays
    pred = predict(saved.w.reshape(-1, 1), saved.b, X_test)
    assert 100 - np.mean(np.abs(pred - Y_test)) * 100 == 70.0


def test_data_dir_from_environment(data_dir):
    result = run(
        "train", "--iterations", "101", env={"LOGITNET_DATA_DIR": str(data_dir)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == COURSE_REPORT[:2]
    assert result.stderr == "model not saved: give --out PATH\n"  # no --out


def test_installed_command():
    exe = Path(sys.executable).parent / "logitnet"
    if not exe.exists():
        exe = shutil.which("logitnet")
    assert exe, "the logitnet console script is not installed"
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("logitnet ")


# Bad input: one line on stderr, the right status, nothing written --------


def _lfs_dir(tmp: Path) -> Path:
    d = tmp / "lfs"
    d.mkdir()
    for name in ("train_catvnoncat.h5", "test_catvnoncat.h5"):
        (d / name).write_bytes(b"version https://git-lfs.github.com/spec/v1\noid x\n")
    return d


def _corrupt_dir(tmp: Path) -> Path:
    d = tmp / "corrupt"
    d.mkdir()
    (d / "train_catvnoncat.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    return d


def _empty_dir(tmp: Path) -> Path:
    d = tmp / "empty"
    d.mkdir()
    return d


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        ([], USAGE, "the following arguments are required: COMMAND"),
        (["frobnicate"], USAGE, "invalid choice: 'frobnicate'"),
        (["train", "--bogus"], USAGE, "unrecognized arguments: --bogus"),
        (["train", "--learning-rate", "abc"], USAGE,
         "argument --learning-rate: expected a finite number > 0; got 'abc'"),
        (["train", "--learning-rate", "-0.1"], USAGE, "expected a finite number > 0"),
        (["train", "--learning-rate", "0"], USAGE, "expected a finite number > 0"),
        (["train", "--learning-rate", "nan"], USAGE, "expected a finite number > 0"),
        (["train", "--learning-rate", "inf"], USAGE, "expected a finite number > 0"),
        (["train", "--learning-rate"], USAGE, "expected one argument"),
        (["train", "--iterations", "-1"], USAGE,
         "argument --iterations: expected a whole number >= 0; got '-1'"),
        (["train", "--iterations", "1.5"], USAGE, "expected a whole number >= 0"),
        (["vectorization", "--size", "0"], USAGE, "expected a whole number >= 1"),
        (["vectorization", "--repeat", "x"], USAGE, "expected a whole number >= 1"),
        (["train", "--data-dir", "{tmp}/missing"], FAILURE,
         "{tmp}/missing: data directory does not exist"),
        (["train", "--no-verify", "--data-dir", "{corrupt}"], FAILURE,
         "{corrupt}/train_catvnoncat.h5: cannot be read as HDF5, the file is damaged"),
        (["train", "--data-dir", "{empty}"], FAILURE,
         "{empty}/train_catvnoncat.h5: no such file"),
        (["train", "--data-dir", "{lfs}"], FAILURE, "Git LFS pointer file"),
        (["train", "--data-dir", "{corrupt}"], FAILURE,
         "{corrupt}/train_catvnoncat.h5: SHA-256 "),
        (["train", "--out", "{fifo}", "--iterations", "1"], FAILURE,
         "{fifo}: is not a regular file"),
        (["vectorization", "--data-dir", "{empty}"], FAILURE, "no such file"),
        (["train", "--out", "{tmp}/no/such/dir/m.npz"], FAILURE,
         "directory {tmp}/no/such/dir does not exist"),
        (["train", "--out", "{tmp}"], FAILURE, "{tmp}: is a directory"),
    ],
)  # fmt: skip
def test_bad_input(tmp_path, args, status, message):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    places = {
        "tmp": str(tmp_path),
        "empty": str(_empty_dir(tmp_path)),
        "lfs": str(_lfs_dir(tmp_path)),
        "corrupt": str(_corrupt_dir(tmp_path)),
        "fifo": str(fifo),
    }
    args = [a.format(**places) for a in args]
    if args[:1] == ["train"] and "--out" not in args:
        args += ["--out", str(tmp_path / "model.npz")]
    before = sorted(p.name for p in tmp_path.iterdir())
    # An unset data directory would mean a download: point it nowhere instead.
    result = run(*args, env={"LOGITNET_DATA_DIR": str(tmp_path / "unset")})
    assert result.returncode == status
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert message.format(**places) in lines[0]
    assert lines[0].startswith("logitnet")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_divergence_is_one_line_and_writes_nothing(tmp_path, data_dir):
    out = tmp_path / "model.npz"
    result = run("train", "--learning-rate", "1e308", "--data-dir", str(data_dir),
                 "--out", str(out))  # fmt: skip
    assert result.returncode == FAILURE
    assert result.stdout == "Cost after iteration 0: 0.693147\n"
    # In the span of the examples (the default here) K c overflows at the
    # second step; the primal's X w, whose entries are at most 1, at the 8th.
    assert result.stderr == (
        "logitnet: error: gradient descent diverged at iteration 1: the weights "
        "overflowed to inf or NaN; use a smaller learning rate (got 1e+308)\n"
    )
    assert not out.exists()


def test_wrong_data_dir_variable_is_named(tmp_path):
    result = run("train", env={"LOGITNET_DATA_DIR": str(tmp_path / "nope")})
    assert result.returncode == FAILURE
    assert result.stderr == (
        f"logitnet: error: {tmp_path}/nope: data directory (from "
        "LOGITNET_DATA_DIR) does not exist\n"
    )


def test_own_data_in_the_course_layout_with_no_verify(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(6, 4, 4, 3), dtype=np.uint8)
    write_h5(tmp_path / "train_catvnoncat.h5", "train", x, np.array([0, 1] * 3))
    write_h5(tmp_path / "test_catvnoncat.h5", "test", x[:3], np.array([0, 1, 1]))
    refused = run("train", "--data-dir", str(tmp_path))
    assert refused.returncode == FAILURE and "--no-verify" in refused.stderr
    out = tmp_path / "own.npz"
    result = run("train", "--no-verify", "--data-dir", str(tmp_path),
                 "--iterations", "150", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Cost after iteration 0: 0.693147"
    assert len(result.stdout.splitlines()) == 4
    assert load_model(out).image_shape == (4, 4, 3)


@pytest.mark.parametrize("buffered", [False, True])
def test_a_closed_pipe_ends_quietly(data_dir, buffered):
    """Like `logitnet train | head -0`: the reader is gone before the first
    write. Unbuffered, the first print fails; buffered, the final flush."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "logitnet", "train", "--iterations", "150",
         "--data-dir", str(data_dir), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert stderr == b""


def test_failed_download_is_one_line(tmp_path):
    result = run(
        "train",
        env={
            "LOGITNET_DATA_DIR": "",
            "LOGITNET_CACHE_DIR": str(tmp_path / "cache"),
            # the discard port on loopback: nothing listens, the connection is refused
            "LOGITNET_DATA_URL": "http://127.0.0.1:9/",
        },
    )
    assert result.returncode == FAILURE
    assert result.stdout == ""
    assert result.stderr.startswith(
        "logitnet: error: http://127.0.0.1:9/train_catvnoncat.h5: download failed"
    )
    assert len(result.stderr.splitlines()) == 1


def test_vectorization_out_of_memory_is_one_line(data_dir):
    result = run("vectorization", "--size", str(10**15), "--data-dir", str(data_dir))
    assert result.returncode == FAILURE
    assert result.stderr == "logitnet: error: out of memory\n"


def test_failed_training_leaves_an_existing_model_unchanged(tmp_path, trained):
    _, good = trained
    out = tmp_path / "model.npz"
    shutil.copy(good, out)
    before = out.read_bytes()
    result = run("train", "--data-dir", str(_lfs_dir(tmp_path)), "--out", str(out))
    assert result.returncode == FAILURE
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lfs", "model.npz"]


# Help ----------------------------------------------------------------------


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_help_describes_every_option(command):
    result = run(command, "--help")
    assert result.returncode == 0 and result.stderr == ""
    for action in _subparsers()[command]._actions:
        for option in action.option_strings:
            assert option in result.stdout
        assert action.help, f"{command} {action.option_strings} has no help text"


def test_top_level_help_lists_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in _subparsers():
        assert command in result.stdout


# Progress: on a terminal, not in a pipe -----------------------------------------


def test_gradient_descent_counts_to_its_total_on_a_terminal(data_dir):
    status, screen = run_on_a_terminal(
        "train", "--iterations", "300", "--data-dir", str(data_dir)
    )
    assert status == 0
    assert "gradient descent: " in screen and "/300 [" in screen
    assert "Cost after iteration 200: " in screen


def test_lbfgs_shows_its_cost_and_gradient_with_no_total_and_why_it_stopped(
    data_dir, tmp_path
):
    out = tmp_path / "model.npz"
    status, screen = run_on_a_terminal(
        "train", "--solver", "lbfgs", "--iterations", "2000",
        "--data-dir", str(data_dir), "--out", str(out),
    )  # fmt: skip
    assert status == 0
    n_iter = load_model(out).training["n_iter"]
    assert 0 < n_iter < 2000
    # No count against --iterations, and no estimate of the time left.
    assert "/2000" not in screen and "it/s" not in screen
    assert re.search(r"<\d\d:\d\d|<\?", screen) is None
    # What L-BFGS knows: the iteration, the cost, the gradient against tol.
    assert re.search(
        r"L-BFGS: iteration 0, cost 0\.693147, max \|grad\| \d\.\de-\d\d "
        r"\(stops at 1\.0e-04\)",
        screen,
    )
    # It ends with why it stopped, at the real iteration, after the last status.
    stop = screen.index(f"L-BFGS converged at iteration {n_iter}: max |grad| ")
    assert stop > screen.rindex("L-BFGS: iteration ")
    assert "<= tol 1.0e-04" in screen[stop:].splitlines()[0]


def test_no_progress_with_quiet_even_on_a_terminal(data_dir):
    status, screen = run_on_a_terminal(
        "train", "--solver", "lbfgs", "--quiet", "--data-dir", str(data_dir)
    )
    assert status == 0
    assert "L-BFGS" not in screen and "model not saved" not in screen
    assert "Cost after iteration 0: 0.693147" in screen


# The vectorization demo -----------------------------------------------------


def test_vectorization_json(data_dir):
    result = run("vectorization", "--size", "20000", "--repeat", "1", "--json",
                 env={"LOGITNET_DATA_DIR": str(data_dir)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    for row in rows:
        assert set(row) == {
            "operation",
            "loop_seconds",
            "vectorized_seconds",
            "speedup",
            "max_abs_difference",
        }
        assert row["loop_seconds"] > 0 and row["vectorized_seconds"] > 0
        assert row["speedup"] == pytest.approx(
            row["loop_seconds"] / row["vectorized_seconds"]
        )
    assert rows[0]["operation"] == "dot product of two 20,000-vectors"
    assert rows[0]["max_abs_difference"] < 1e-9
    assert rows[1]["max_abs_difference"] < 1e-12
    assert rows[2]["operation"].startswith("one gradient step, 209 examples")
    assert rows[2]["max_abs_difference"] < 1e-12


def test_vectorization_table(data_dir):
    result = run("vectorization", "--size", "1000", "--repeat", "1",
                 "--data-dir", str(data_dir))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["operation", "loop", "vectorized", "speed-up",
                                "max", "|difference|"]  # fmt: skip
    assert len(lines) == 4
    assert all(line.split()[-2].endswith("x") for line in lines[1:])
