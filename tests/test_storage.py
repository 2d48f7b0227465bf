"""Data and model files on object storage, against a real S3 server (moto's
server mode, a process of its own: tests/s3server.py), through the
commands as real processes. Nothing is mocked inside a process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from unittest import mock

import numpy as np
import pytest

from conftest import run
from logitnet.data.storage import Url, is_url, locate, parse_option, redact
from s3server import S3Server
from serving import Server
from test_crafted_input import _chunk, _rle_zstd, _store, one_line_error

BUCKET = "cats"


@pytest.fixture(scope="module")
def s3():
    """A server with a bucket, its address and test keys in this process's
    environment (and so in the commands' and the workers')."""
    server = S3Server()
    try:
        with mock.patch.dict(os.environ, server.env()):
            server.client().create_bucket(Bucket=BUCKET)
            yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def stored(s3, tmp_path_factory):
    """A synthetic set written by synth to s3:// and to a local .zarr."""
    local = tmp_path_factory.mktemp("local") / "set.zarr"
    args = ["synth", "--n-samples", "1500", "--test-samples", "300", "--quiet"]
    for out in (f"s3://{BUCKET}/set.zarr", str(local)):
        result = run(*args, "--out", out)
        assert result.returncode == 0, result.stderr
    return f"s3://{BUCKET}/set.zarr", local


def _model(path):
    from logitnet.app.modelfile import load_model

    return load_model(path)


def test_urls_are_told_from_paths(tmp_path, monkeypatch):
    assert is_url("s3://b/k") and is_url("memory://x") and is_url("https://h/x")
    assert not is_url("C://data") and not is_url("file:///tmp/x") and not is_url("x")
    (tmp_path / "s3:" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert not is_url("s3://b")  # a local path named like a URL
    assert locate("file:///tmp/x").as_posix() == "/tmp/x"


def test_storage_options_parse_as_pandas_takes_them():
    assert parse_option("anon=true") == ("anon", True)
    assert parse_option("config_kwargs.max_pool_connections=64") == (
        "config_kwargs.max_pool_connections",
        64,
    )
    assert parse_option("endpoint_url=http://h:9000") == (
        "endpoint_url",
        "http://h:9000",
    )
    url = Url("s3://b/k", {"client_kwargs.region_name": "eu-west-1"})
    assert url.options == {"client_kwargs": {"region_name": "eu-west-1"}}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_option("novalue")
    result = run(
        "train", "--data", "s3://b/s.zarr", "--storage-option", "config_kwargs=3"
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        "logitnet train: error: --storage-option: storage option 'config_kwargs' takes "
        "an object"
    ), result.stderr


def test_secrets_are_never_shown():
    url = Url("s3://AKIAEXAMPLE:hunter2secret@b/k", {"secret": "s3cr3tvalue"})
    assert "hunter2secret" not in str(url) and "AKIAEXAMPLE" not in str(url)
    assert redact("oops s3cr3tvalue", url.options) == "oops ***"


def test_secrets_are_never_shown_however_a_url_spells_them():
    # A password with '/' (as secret keys have): up to the last '@' of the host.
    url = Url("s3://AKIAEXAMPLE:abc/defSECRET@b/k")
    assert str(url) == "s3://***@b/k"
    assert "SECRET" not in redact("s3://AKIA:p@ss/wSECRET@b/k@x.zarr")
    assert redact("s3://b/path/user@x.zarr") == "s3://b/path/user@x.zarr"
    # Echoed by a library without the scheme: the password is remembered.
    Url("s3://AKIA:hunter2SECRET@cats/s.zarr")
    assert "SECRET" not in redact('Invalid bucket name "AKIA:hunter2SECRET@cats"')
    names = ["sig", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
             "token", "code", "key", "secret", "password", "signature"]  # fmt: skip
    query = "&".join(f"{name}=V{i}SECRET" for i, name in enumerate(names))
    shown = redact(f"http://h/m.npz?sv=1&{query}&n=1")
    assert "SECRET" not in shown, shown
    assert shown.startswith("http://h/m.npz?sv=1&sig=***&") and shown.endswith("&n=1")
    secret = {"client_kwargs": {"aws_secret_access_key": 98765432}}  # JSON number
    assert redact("oops 98765432", secret) == "oops ***"


def test_secrets_in_a_url_or_an_option_are_never_echoed(s3, tmp_path):
    # botocore echoes the bucket name it refuses without the scheme.
    result = run("train", "--data", "s3://AKIA:hunter2SECRET@cats/s.zarr", "--out",
                 str(tmp_path / "m.npz"))  # fmt: skip
    assert result.returncode == 1 and "hunter2SECRET" not in result.stderr
    result = run("train", "--data", f"s3://{BUCKET}/s.zarr", "--storage-option",
                 "=SECRETVALUEX")  # fmt: skip
    assert result.returncode == 2 and "SECRETVALUEX" not in result.stderr
    assert "expected KEY=VALUE" in result.stderr


def test_the_python_functions_take_urls():
    import warnings

    from logitnet import LogisticRegression
    from logitnet.app.modelfile import load_model, save_model
    from logitnet.data.reader import describe_images, open_images
    from logitnet.data.synth import make_images

    make_images("memory://sets/s.zarr", 1500, test_samples=10)
    assert describe_images("memory://sets/s.zarr")["n_test"] == 10
    X, y = open_images(Url("memory://sets/s.zarr"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = LogisticRegression(solver="lbfgs", max_iter=2).fit(X, y)
    save_model("memory://models/m.npz", fitted)
    np.testing.assert_array_equal(load_model("memory://models/m.npz").w,
                                  fitted.coef_[0])  # fmt: skip
    with pytest.raises(ValueError, match="no such object or zarr store"):
        open_images("memory://sets/none.zarr")


def test_synth_train_predict_on_s3_as_on_a_local_store(s3, stored, tmp_path):
    remote, local = stored
    model_url = f"s3://{BUCKET}/run/model.npz"
    common = ["train", "--iterations", "15", "--quiet"]
    result = run(*common, "--data", remote, "--out", model_url)
    assert result.returncode == 0, result.stderr
    result = run(*common, "--data", str(local), "--out", str(tmp_path / "m.npz"))
    assert result.returncode == 0, result.stderr
    from_s3, from_disk = _model(model_url), _model(tmp_path / "m.npz")
    # The same data; tasks of whole stored chunks on s3 (their sums grouped
    # otherwise than the local store's 64 MiB chunks, in float32).
    np.testing.assert_allclose(from_s3.w, from_disk.w, rtol=1e-3, atol=1e-5)
    assert from_s3.training["data"]["path"] == remote
    # The model went up in one PUT: exactly one object, no part, no probe.
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=BUCKET,
            Prefix="run/")["Contents"]]  # fmt: skip
    assert keys == ["run/model.npz"]
    result = run("predict", "--model", model_url, "--data", remote, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('"path"') == 300


def test_every_command_taking_a_model_takes_a_url(s3, stored, tmp_path):
    _, local = stored
    model = f"s3://{BUCKET}/report/m.npz"
    result = run("train", "--data", str(local), "--iterations", "2", "--out", model,
                 "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = tmp_path / "r.html"
    result = run("report", "--model", model, "--data", str(local), "--out", str(page))
    assert result.returncode == 0, result.stderr
    assert f"Model file <strong>{model}</strong>" in page.read_text()
    result = run("evaluate", "--model", model, "--data", str(local), "--json")
    assert result.returncode == 0, result.stderr
    assert f'"model": "{model}"' in result.stdout
    for command in ("explain", "graph"):
        out = tmp_path / f"{command}.png"
        result = run(command, "--model", model, "--data", str(local), "--index", "0",
                     "--out", str(out))  # fmt: skip
        assert result.returncode == 0, result.stderr


def test_serve_loads_its_model_from_s3_before_it_binds(s3, stored):
    remote, _ = stored
    model_url = f"s3://{BUCKET}/serve/model.npz"
    result = run("train", "--data", remote, "--iterations", "3", "--quiet",
                 "--out", model_url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Two worker processes: each loads the model from the URL itself.
    server = Server(model_url, "--workers", "2")
    try:
        status, _, body = server.request("GET", "/api/model")
        assert status == 200 and b"negative" in body
    finally:
        server.stop()
    result = run("serve", "--model", f"s3://{BUCKET}/serve/none.npz")
    one_line_error(result, f"s3://{BUCKET}/serve/none.npz: no such model file")


def test_a_two_process_cluster_reads_the_store_from_s3(s3, stored):
    from distributed import Client, LocalCluster

    from logitnet.app.prediction import pictures_to_X
    from logitnet.data.reader import open_images, read_pictures
    from test_backend_dask import assert_same_fit, fit_both

    remote, _ = stored
    X, y = open_images(remote, chunk_rows=256)
    with (
        mock.patch.dict(os.environ),
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
            silence_logs=50,
        ) as cluster,
        Client(cluster),
    ):
        # What a task holds: the URL, never pixels.
        graph = dict(X.pixels.__dask_graph__())
        assert sum(len(repr(v)) for v in graph.values()) < 1e6
        pixels = read_pictures(remote, "train", np.arange(1500))
        lazy, eager = fit_both(X, y, pictures_to_X(pixels), y.compute(),
                               solver="lbfgs", max_iter=8)  # fmt: skip
    assert_same_fit(lazy, eager)


# -- faults: one line naming the URL, non-zero, in bounded time ----------------


def test_a_missing_bucket_store_or_model_is_one_line(s3, tmp_path):
    page = str(tmp_path / "r.html")
    one_line_error(
        run("report", "--model", "s3://nobucket/m.npz", "--out", page),
        "s3://nobucket/m.npz: bucket 'nobucket' does not exist",
    )
    model = f"s3://{BUCKET}/missing/m.npz"
    one_line_error(
        run("report", "--model", model, "--out", page), f"{model}: no such model file"
    )
    result = run("train", "--data", f"s3://{BUCKET}/none.zarr", "--out",
                 str(tmp_path / "x.npz"))  # fmt: skip
    one_line_error(result, f"s3://{BUCKET}/none.zarr: no such object or zarr store")


def test_outputs_are_checked_before_training(s3, stored):
    remote, _ = stored
    result = run("train", "--data", remote, "--out", "s3://nobucket/m.npz")
    one_line_error(result, "s3://nobucket/m.npz: bucket 'nobucket' does not exist")
    assert "Cost" not in result.stdout
    result = run("train", "--data", remote, "--out", remote)
    assert result.returncode == 2 and "would destroy the input" in result.stderr
    result = run("synth", "--n-samples", "10", "--out", remote)
    one_line_error(result, f"{remote}: something is already there")
    result = run("report", "--model", "x.npz", "--out", f"s3://{BUCKET}/r.html")
    assert not os.path.exists("x.npz")
    assert result.returncode == 2 and "writes a local file" in result.stderr


def test_a_failed_write_leaves_no_object_behind(s3):
    from logitnet.data.synth import make_images

    url = f"s3://{BUCKET}/failed.zarr"

    def stop(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_images(url, 3000, progress=stop)
    assert "Contents" not in s3.client().list_objects_v2(
        Bucket=BUCKET, Prefix="failed.zarr"
    )


def test_a_synth_told_to_stop_leaves_no_object_behind(s3):
    import signal

    prefix = "stopped.zarr"
    process = subprocess.Popen(
        [sys.executable, "-m", "logitnet", "synth", "--n-samples", "200000",
         "--out", f"s3://{BUCKET}/{prefix}", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    client = s3.client()

    def written() -> list[str]:
        listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for o in listing.get("Contents", [])]

    try:
        deadline = time.monotonic() + 120
        while len(written()) < 5 and process.poll() is None:
            assert time.monotonic() < deadline, "synth wrote nothing"
            time.sleep(0.2)
        assert process.poll() is None, process.stderr.read()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert err == "logitnet: terminated (SIGTERM)\n"
    assert written() == []
    result = run("synth", "--n-samples", "50", "--out", f"s3://{BUCKET}/{prefix}",
                 "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_remote_hdf5_is_refused_with_the_way_to_a_store(s3, synth_file, tmp_path):
    s3.client().upload_file(str(synth_file), BUCKET, "set.h5")
    line = one_line_error(
        run(
            "train", "--data", f"s3://{BUCKET}/set.h5", "--out", str(tmp_path / "m.npz")
        ),
        f"s3://{BUCKET}/set.h5: is an HDF5 file (a data set?); logitnet reads data on "
        "object storage as zarr stores only",
    )
    assert "logitnet convert" in line


def test_a_filesystem_not_installed_names_its_extra(tmp_path):
    one_line_error(
        run("report", "--model", "gs://bucket/m.npz", "--out", str(tmp_path / "r")),
        "gs://bucket/m.npz: gs:// URLs need the gcsfs package: pip install "
        "logitnet[gcs]",
    )


def test_an_endpoint_that_is_down_is_one_line_in_bounded_time(s3, tmp_path):
    from s3server import free_port

    start = time.monotonic()
    result = run("report", "--model", f"s3://{BUCKET}/m.npz", "--out",
                 str(tmp_path / "r.html"),
                 env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})  # fmt: skip
    one_line_error(
        result, f"s3://{BUCKET}/m.npz: the storage endpoint cannot be reached"
    )
    assert time.monotonic() - start < 60


def test_an_endpoint_that_stops_answering_is_one_line_in_bounded_time(tmp_path):
    import socket

    # Accepts connections, never answers: each request ends at the read
    # timeout (1 s here, by --storage-option), after its bounded retries.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        start = time.monotonic()
        result = run("train", "--data", "s3://any/s.zarr", "--out",
                     str(tmp_path / "m.npz"), "--storage-option",
                     "config_kwargs.read_timeout=1", env={"AWS_ENDPOINT_URL": endpoint,
                     "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})  # fmt: skip
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    one_line_error(result, "s3://any/s.zarr: the storage endpoint cannot be reached")
    assert elapsed < 60


def test_a_server_stopped_mid_pass_is_one_line_in_bounded_time(tmp_path):
    server = S3Server()
    try:
        server.client().create_bucket(Bucket="mid")
        env = server.env()
        url = "s3://mid/big.zarr"
        # 10 chunks of 1024 pictures (12.6 MB each), passed over again and
        # again by training when the server goes away.
        result = run("synth", "--n-samples", "10240", "--out", url, env=env)
        assert result.returncode == 0, result.stderr
        process = subprocess.Popen(
            [sys.executable, "-m", "logitnet", "train", "--data", url,
             "--iterations", "1000", "--out", str(tmp_path / "m.npz")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **env},
        )  # fmt: skip
        time.sleep(6)  # opened, checked, passing over the chunks
        assert process.poll() is None
        server.stop()
        start = time.monotonic()
        out, err = process.communicate(timeout=300)
        assert time.monotonic() - start < 250
    finally:
        server.stop()
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    one_line_error(result, "s3://mid/big.zarr: the storage endpoint cannot be reached")
    assert not (tmp_path / "m.npz").exists()


def test_wrong_credentials_are_one_line_without_the_secret(tmp_path):
    # moto checks credentials after its first 4 requests (the set-up below).
    server = S3Server(no_auth_requests=4)
    try:
        iam = server.client("iam")
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader",
            PolicyName="all-s3",
            PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": '
            '"Allow", "Action": "s3:*", "Resource": "*"}]}',
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        good = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip
        server.client(**good).create_bucket(Bucket="locked")
        env = server.env(**good)
        result = run("synth", "--n-samples", "50", "--out", "s3://locked/s.zarr",
                     "--quiet", env=env)  # fmt: skip
        assert result.returncode == 0, result.stderr
        wrong_secret = "WrongSecretValue1234567890"
        for env in (
            server.env(
                AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=wrong_secret
            ),
            server.env(
                AWS_ACCESS_KEY_ID="AKIANOTAKEY0000000",
                AWS_SECRET_ACCESS_KEY=wrong_secret,
            ),
        ):
            result = run("train", "--data", "s3://locked/s.zarr", "--out",
                         str(tmp_path / "m.npz"), env=env)  # fmt: skip
            line = one_line_error(result, "s3://locked/s.zarr: access refused")
            assert wrong_secret not in result.stderr + result.stdout, line
        # The same through --storage-option: still never printed.
        result = run("train", "--data", "s3://locked/s.zarr", "--out",
                     str(tmp_path / "m.npz"), "--storage-option", f"key={key['AccessKeyId']}", "--storage-option", f"secret={wrong_secret}", env=good | {
                     "AWS_ENDPOINT_URL": server.endpoint})  # fmt: skip
        one_line_error(result, "s3://locked/s.zarr: access refused")
        assert wrong_secret not in result.stderr
    finally:
        server.stop()


def _user(iam, name: str, actions: list[str], resource: str) -> dict[str, str]:
    """A user of the server allowed ``actions`` on ``resource``: its keys."""
    import json

    iam.create_user(UserName=name)
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [statement]}))  # fmt: skip
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip


def test_rights_on_a_prefix_alone_are_enough_to_write(stored, tmp_path):
    _, local = stored
    server = S3Server(no_auth_requests=4)
    try:
        admin = _user(server.client("iam"), "admin", ["*"], "*")
        server.client(**admin).create_bucket(Bucket="locked")
        iam = server.client("iam", **admin)
        objects = ["s3:PutObject", "s3:GetObject"]
        writer = _user(iam, "writer", [*objects, "s3:DeleteObject"],
                       "arn:aws:s3:::locked/out/*")  # fmt: skip
        result = run("train", "--data", str(local), "--iterations", "2", "--quiet",
                     "--out", "s3://locked/out/m.npz", env=server.env(**writer))  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "probe" not in result.stderr
        # Allowed to write, not to remove: the probe left is named.
        keeper = _user(iam, "keeper", objects, "arn:aws:s3:::locked/out/*")
        result = run("train", "--data", str(local), "--iterations", "2", "--quiet",
                     "--out", "s3://locked/out/k.npz", env=server.env(**keeper))  # fmt: skip
        assert result.returncode == 0, result.stderr
        (line,) = [ln for ln in result.stderr.splitlines() if "probe" in ln]
        assert line.startswith("logitnet: warning: s3://locked/out/k.npz: the probe "
                               "object s3://locked/out/k.npz.logitnet-probe-"), line  # fmt: skip
        assert "cannot be removed" in line
    finally:
        server.stop()


# -- the hardening rules hold for stores on object storage ----------------------


@pytest.fixture(scope="module")
def crafted(s3, tmp_path_factory):
    """Stores of test_crafted_input, made locally and put on the server."""
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint)
    root = tmp_path_factory.mktemp("crafted")
    made = {}
    made["v2"] = _store(root / "v2.zarr", 2)  # zarr's format 2, read as well
    made["missing"] = _store(root / "missing.zarr", 3)
    _chunk(made["missing"], "test_set_x", 3, 1).unlink()
    made["truncated"] = _store(root / "truncated.zarr", 3, compressors=None)
    chunk = _chunk(made["truncated"], "train_set_x", 3, 2)
    chunk.write_bytes(chunk.read_bytes()[: 10 * 64 * 64 * 3 // 2])
    made["bomb"] = _store(root / "bomb.zarr", 3)
    import zarr

    group = zarr.open_group(str(made["bomb"]), mode="a")
    del group["train_set_x"]
    n = 100_000
    group.create_array("train_set_x", shape=(n, 64, 64, 3), chunks=(n, 64, 64, 3),
                       dtype="uint8", compressors=zarr.codecs.ZstdCodec())  # fmt: skip
    bomb = _chunk(made["bomb"], "train_set_x", 3)
    bomb.parent.mkdir(parents=True, exist_ok=True)
    bomb.write_bytes(_rle_zstd(n * 64 * 64 * 3))
    made["garbage"] = _store(root / "garbage.zarr", 3)
    (made["garbage"] / "zarr.json").write_bytes(b"{not json\n\nat all")
    made["garbage_array"] = _store(root / "garbage_array.zarr", 3)
    (made["garbage_array"] / "train_set_x" / "zarr.json").write_bytes(b"\x00\xffjunk")
    for name, path in made.items():
        fs.put(str(path), f"{BUCKET}/crafted/{name}.zarr", recursive=True)
    return {name: f"s3://{BUCKET}/crafted/{name}.zarr" for name in made}


def test_a_format_2_store_on_s3_trains(crafted, tmp_path):
    result = run("train", "--data", crafted["v2"], "--iterations", "2", "--out",
                 str(tmp_path / "m.npz"), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing", "test_set_x is missing 1 of its 2 chunks (first: c/1/0/0/0)"),
        ("truncated", "train_set_x's chunk c/2/0/0/0 holds 61440 bytes, not the "
         "122880 its shape declares"),
        ("bomb", "train_set_x is stored in chunks of shape (100000, 64, 64, 3)"),
        ("garbage", "not a zarr store, or one that cannot be read (JSONDecodeError"),
        ("garbage_array", "not a zarr store, or one that cannot be read ("),
    ],
)  # fmt: skip
def test_stores_on_s3_are_checked_as_local_ones(crafted, name, message, tmp_path):
    result = run("train", "--data", crafted[name], "--out", str(tmp_path / "m.npz"),
                 "--quiet")  # fmt: skip
    one_line_error(result, f"{crafted[name]}: {message}")


# -- other doors: convert to a URL, https:// read only ---------------------------


def test_convert_writes_a_store_on_s3_that_predict_reads(s3, tiny_folder, tmp_path):
    url = f"s3://{BUCKET}/converted.zarr"
    result = run("convert", str(tiny_folder), url, "--test-fraction", "0.3", "--json")
    assert result.returncode == 0, result.stderr
    assert f'"out": "{url}"' in result.stdout
    model = tmp_path / "m.npz"
    result = run("train", "--data", url, "--iterations", "2", "--out", str(model),
                 "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = run("predict", "--model", str(model), "--data", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{url}[test 0]: ")


def test_an_http_server_that_is_down_is_not_a_missing_file(tmp_path):
    from s3server import free_port

    base = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run("predict", "--model", f"{base}/m.npz", "--data", f"{base}/s.zarr")
    one_line_error(result, f"{base}/m.npz: the storage endpoint cannot be reached")
    result = run("train", "--data", f"{base}/s.zarr", "--out", str(tmp_path / "m.npz"))
    one_line_error(result, f"{base}/s.zarr: the storage endpoint cannot be reached")


def test_a_store_and_a_model_over_https_are_read_not_written(tmp_path):
    from logitnet.data.synth import make_images
    from s3server import free_port

    make_images(tmp_path / "s.zarr", 1500, test_samples=50)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        result = run("train", "--data", f"{base}/s.zarr", "--iterations", "2",
                     "--out", str(tmp_path / "m.npz"), "--quiet")  # fmt: skip
        assert result.returncode == 0, result.stderr
        result = run("predict", "--model", f"{base}/m.npz", "--data", f"{base}/s.zarr")
        assert result.returncode == 0, result.stderr
        assert result.stdout.count(f"{base}/s.zarr[test ") == 50
        result = run("train", "--data", f"{base}/s.zarr", "--out", f"{base}/x.npz")
        one_line_error(result, f"{base}/x.npz: http:// URLs are read only")
        # No secret in an error, a note or a library's warning.
        signed = f"{base}/m.npz?sv=1&sig=SIGSECRET123"
        result = run("predict", "--model", signed, "--data", f"{base}/s.zarr")
        assert result.returncode == 0, result.stderr
        assert "SIGSECRET123" not in result.stdout + result.stderr
        result = run("predict", "--model", f"{base}/none.npz?sig=SIGSECRET123",
                     "--data", f"{base}/s.zarr")  # fmt: skip
        one_line_error(result, f"{base}/none.npz?sig=***: ")
        (tmp_path / "s.zarr" / ".zgroup").write_text('{"zarr_format": 2}')
        secret = f"http://user:pa55wordSECRET@127.0.0.1:{port}/s.zarr"
        result = run("train", "--data", secret, "--iterations", "2", "--out",
                     str(tmp_path / "m2.npz"), "--quiet")  # fmt: skip
        assert "pa55wordSECRET" not in result.stdout + result.stderr, result.stderr
        assert "logitnet: warning:" in result.stderr
    finally:
        server.kill()
        server.wait()
