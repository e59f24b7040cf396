"""Smoke test of `timbred-train bench-decoder` (batch 1, a few steps): it runs timbred, PyTorch and, when
installed, ONNX Runtime, they agree on one step, and the table holds finite numbers. Needs the
release binary (`swift build -c release`); skipped without it."""
from __future__ import annotations

import math
import re

import pytest

from timbred_train import bench_decoder, cli


@pytest.mark.skipif(not bench_decoder.DEFAULT_TIMBRED.is_file(), reason="no release build of timbred")
@pytest.mark.skipif(not bench_decoder.DEFAULT_MODEL.is_file(), reason="no shipped model")
def test_bench_decoder_prints_a_finite_table(capsys):
    assert cli.main(["bench-decoder", "--batches", "1", "--seconds", "0.03", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if re.match(r"\s*1\s+(timbred|pytorch|onnxruntime)\s", line)]
    names = [r[1] for r in rows]
    assert names[:2] == ["timbred", "pytorch"], out
    for r in rows:
        values = [float(v) for v in r[2:]]
        assert len(values) == 5 and all(math.isfinite(v) and v > 0 for v in values), r
    # the three runtimes compute the same step (max |raw| of the default model is about 10)
    agreement = re.search(r"outputs against PyTorch.*", out).group(0)
    for diff in re.findall(r"(?:raw|state) ([0-9.e+-]+)", agreement):
        assert float(diff) < 1e-3, agreement
    macs = int(re.search(r"(\d+) multiply-adds per voice frame", out).group(1))
    assert macs > 0
