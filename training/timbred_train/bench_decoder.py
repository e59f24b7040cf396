"""`timbred-train bench-decoder`: the decoder step side by side in one run.

Three runtimes on the same weights (a timbred model file), one decoder frame per voice for a batch
of voices (input MLPs, GRU stepped one frame, output MLP and output layer; docs/model-format.md,
"Decoder"), each on one thread:

- timbred: `timbred bench --decoder --json` (the Swift decoder of the engine), which also measures
  the machine's FMA peak (a SIMD8<Float> FMA loop, one core) in the same run;
- PyTorch eager: the model's own `Decoder` (training/timbred_train/model.py) with the file's
  weights, `torch.set_num_threads(1)`, `torch.inference_mode()`;
- ONNX Runtime (if installed: `pip install onnxruntime onnx`): the same torch step exported to
  ONNX, one intra-op thread, inputs and outputs bound once (IOBinding).

Before timing, one step of each runtime on the same inputs is compared (max |difference| of the raw
outputs and of the new GRU state against PyTorch). Prints one table: per batch and runtime µs per
step, µs per voice, GFLOP/s (2 FLOPs per multiply-add of the layer sizes) and % of the FMA peak,
and each runtime's time over timbred's. Runs as `python -m timbred_train.bench_decoder` too.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .errors import UserError

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "models" / "default.safetensors"
DEFAULT_TIMBRED = REPO / ".build" / "release" / "timbred"


def decoder_step_module(decoder):
    """A torch module for one streaming decoder frame: (f0_hz [B], loudness_db [B], note [B, 3]
    (velocity, seconds since note-on, seconds since note-off or < 0 while held: the engine's note
    row), z [B, Z], state [B, G]) -> (raw [B, 1+K+Bands], new state [B, G]). The note features
    and the whole frame are the model's own code (`note_inputs`, `Decoder.forward`)."""
    import torch

    from .model import note_inputs

    class DecoderStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = decoder

        def forward(self, f0_hz, loudness_db, note, z, state):
            feats = note_inputs(self.decoder.cfg, note[:, 0], note[:, 1:2], note[:, 2:3])
            raw, layers = self.decoder(f0_hz[:, None], loudness_db[:, None], feats, z, state[None],
                                       return_layers=True)
            return raw[:, 0], layers["gru"][:, 0]

    return DecoderStep().eval()


def multiply_adds(decoder) -> int:
    """Multiply-adds of one voice frame from the layer sizes (matrix products only, as timbred counts)."""
    import torch

    macs = 0
    for m in decoder.modules():
        if isinstance(m, torch.nn.Linear):
            macs += m.in_features * m.out_features
        elif isinstance(m, torch.nn.GRU):
            macs += 3 * m.hidden_size * (m.input_size + m.hidden_size)
    return macs


def make_inputs(decoder, batch: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Reproducible inputs of one step: pitches over four octaves, loudness -20..-44 dB, held and
    released notes, z at the instruments' means plus noise, a GRU state that is not zero."""
    cfg = decoder.cfg
    rng = np.random.default_rng(seed)
    b = np.arange(batch)
    note = np.stack([40 + (b * 13) % 87, 0.01 * (b % 30), np.where(b % 3 == 0, 0.05, -1.0)], 1)
    return {
        "f0_hz": (440 * 2.0 ** (rng.uniform(-24, 24, batch) / 12)).astype(np.float32),
        "loudness_db": rng.uniform(-44, -20, batch).astype(np.float32),
        "note": note.astype(np.float32),
        "z": rng.normal(0, 1, (batch, cfg.z_dim)).astype(np.float32),
        "state": rng.uniform(-0.9, 0.9, (batch, cfg.gru_units)).astype(np.float32),
    }


def time_loop(step, seconds: float, repetitions: int = 5) -> float:
    """Median over `repetitions` runs of µs per call of `step()`, after a warm-up that sizes the runs."""
    n, spent = 1, 0.0
    while True:
        t = time.perf_counter()
        for _ in range(n):
            step()
        spent = time.perf_counter() - t
        if spent > 0.02:
            break
        n *= 2
    per_rep = max(1, int(seconds / repetitions / (spent / n)))
    reps = []
    for _ in range(repetitions):
        t = time.perf_counter()
        for _ in range(per_rep):
            step()
        reps.append((time.perf_counter() - t) / per_rep * 1e6)
    return float(np.median(reps))


class TorchRuntime:
    name = "pytorch"

    def __init__(self, step_module):
        self.step_module = step_module

    def run_once(self, x: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            raw, state = self.step_module(*(torch.from_numpy(x[k]) for k in ("f0_hz", "loudness_db", "note", "z", "state")))
        return raw.numpy(), state.numpy()

    def time(self, x: dict[str, np.ndarray], seconds: float) -> float:
        import torch

        args = [torch.from_numpy(x[k].copy()) for k in ("f0_hz", "loudness_db", "note", "z", "state")]
        m = self.step_module

        def step():
            _, args[4] = m(*args)  # the new state feeds the next frame, as in the engine

        with torch.inference_mode():
            return time_loop(step, seconds)


class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, step_module, decoder, path: Path):
        import onnxruntime as ort
        import torch

        x = make_inputs(decoder, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = ["f0_hz", "loudness_db", "note", "z", "state"]
            torch.onnx.export(step_module, tuple(torch.from_numpy(x[k]) for k in names), str(path), dynamo=False,
                              input_names=names, output_names=["raw", "new_state"], opset_version=17,
                              dynamic_axes={k: {0: "batch"} for k in names + ["raw", "new_state"]})
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.ort = ort
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.version = ort.__version__
        self.raw_count = 1 + decoder.cfg.n_harmonics + decoder.cfg.n_noise_bands

    def run_once(self, x: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        raw, state = self.session.run(None, dict(x))
        return raw, state

    def time(self, x: dict[str, np.ndarray], seconds: float) -> float:
        ort = self.ort
        batch = len(x["f0_hz"])
        raw = ort.OrtValue.ortvalue_from_numpy(np.zeros((batch, self.raw_count), np.float32))
        states = [ort.OrtValue.ortvalue_from_numpy(x["state"].copy()), ort.OrtValue.ortvalue_from_numpy(x["state"].copy())]
        fixed = {k: ort.OrtValue.ortvalue_from_numpy(x[k].copy()) for k in ("f0_hz", "loudness_db", "note", "z")}
        bindings = []
        for i in range(2):  # state ping-pongs between two buffers: frame n's output is frame n+1's input
            io = self.session.io_binding()
            for k, v in fixed.items():
                io.bind_ortvalue_input(k, v)
            io.bind_ortvalue_input("state", states[i])
            io.bind_ortvalue_output("raw", raw)
            io.bind_ortvalue_output("new_state", states[1 - i])
            bindings.append(io)
        run = self.session.run_with_iobinding
        a, b = bindings

        def step():
            run(a)
            run(b)

        return time_loop(step, seconds) / 2


def timbred_check(timbred: Path, model: Path, x: dict[str, np.ndarray], work: Path) -> tuple[np.ndarray, np.ndarray]:
    inp, out = work / "check-in.json", work / "check-out.json"
    batch = len(x["f0_hz"])
    inp.write_text(json.dumps({"batch": batch, **{k: [float(v) for v in a.ravel()] for k, a in x.items()}}))
    subprocess.run([str(timbred), "bench", "--decoder", "--model", str(model), "--check-input", str(inp),
                    "--check-output", str(out)], check=True)
    o = json.loads(out.read_text())
    return (np.asarray(o["raw"], np.float32).reshape(batch, -1), np.asarray(o["state"], np.float32).reshape(batch, -1))


def timbred_times(timbred: Path, model: Path, batches: list[int], seconds: float) -> dict:
    r = subprocess.run([str(timbred), "bench", "--decoder", "--json", "--model", str(model),
                        "--batches", ",".join(map(str, batches)), "--decoder-seconds", str(seconds)],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def torch_matmul_gflops(n: int = 1024, repetitions: int = 5) -> float:
    """One-thread sgemm of n × n by n × n in PyTorch (its BLAS uses AVX-512 where the CPU has it)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    return 2 * n ** 3 / (time_loop(lambda: torch.mm(a, b), 0.3, repetitions) * 1e-6) / 1e9


def run(timbred: Path, model: Path, batches: list[int], seconds: float, rounds: int, onnx: bool = True,
        baseline: Path | None = None) -> dict:
    """Check the three runtimes agree, then time them; returns everything the table shows.

    `baseline`: another timbred binary (an earlier build), checked and timed in the same rounds
    as `timbred-base`, for before/after figures from one run."""
    import torch

    from .export import load_exported

    if not timbred.is_file():
        raise UserError(f"{timbred}: no timbred binary (build it: swift build -c release)")
    if baseline is not None and not baseline.is_file():
        raise UserError(f"{baseline}: no such baseline binary")
    torch.set_num_threads(1)
    full, _, _ = load_exported(model)
    decoder = full.decoder.eval()
    step_module = decoder_step_module(decoder)
    macs = multiply_adds(decoder)
    runtimes = [TorchRuntime(step_module)]
    ort_note = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if onnx:
            try:
                runtimes.append(OnnxRuntime(step_module, decoder, work / "decoder_step.onnx"))
            except ImportError as e:
                ort_note = f"ONNX Runtime not measured: {e.name} is not installed (pip install onnxruntime onnx)"
        else:
            ort_note = "ONNX Runtime not measured (--no-onnx)"
        # agreement on one step at the largest batch
        x = make_inputs(decoder, max(batches))
        ref_raw, ref_state = runtimes[0].run_once(x)
        outs = {"timbred": timbred_check(timbred, model, x, work)}
        if baseline is not None:
            outs["timbred-base"] = timbred_check(baseline, model, x, work)
        for r in runtimes[1:]:
            outs[r.name] = r.run_once(x)
        agreement = {name: (float(np.abs(raw - ref_raw).max()), float(np.abs(st - ref_state).max()))
                     for name, (raw, st) in outs.items()}
        scale = float(np.abs(ref_raw).max())

        best: dict[tuple[str, int], float] = {}
        peaks = []
        for _ in range(rounds):  # the runtimes take turns, so that a slow spell of the machine hits all of them
            t = timbred_times(timbred, model, batches, seconds)
            if t["macs_per_voice_frame"] != macs:
                raise UserError(f"timbred counts {t['macs_per_voice_frame']} multiply-adds per voice frame, torch {macs}")
            peaks += [t["fma_peak_gflops_before"], t["fma_peak_gflops_after"]]
            for row in t["timings"]:
                key = ("timbred", row["batch"])
                best[key] = min(best.get(key, math.inf), row["us_per_step"])
            if baseline is not None:
                tb = timbred_times(baseline, model, batches, seconds)
                peaks += [tb["fma_peak_gflops_before"], tb["fma_peak_gflops_after"]]
                for row in tb["timings"]:
                    key = ("timbred-base", row["batch"])
                    best[key] = min(best.get(key, math.inf), row["us_per_step"])
            for r in runtimes:
                for batch in batches:
                    us = r.time(make_inputs(decoder, batch), seconds)
                    best[(r.name, batch)] = min(best.get((r.name, batch), math.inf), us)
        matmul = torch_matmul_gflops()
    return {"macs": macs, "peak": max(peaks), "peaks": peaks, "matmul_gflops": matmul, "best": best,
            "names": ["timbred"] + (["timbred-base"] if baseline is not None else []) + [r.name for r in runtimes],
            "batches": batches, "agreement": agreement,
            "raw_scale": scale, "ort_note": ort_note, "rounds": rounds, "seconds": seconds,
            "torch": torch.__version__,
            "ort": next((r.version for r in runtimes if r.name == "onnxruntime"), None)}


def format_table(res: dict) -> str:
    flops = 2 * res["macs"]
    lines = [f"decoder step, one frame per voice, one thread each; {res['macs']} multiply-adds per voice frame "
             f"({flops / 1e6:.3f} MFLOP)",
             f"FMA peak (timbred's SIMD8<Float> FMA loop, AVX2, one core): {res['peak']:.1f} GFLOP/s "
             f"(best of {len(res['peaks'])} in this run: {', '.join(f'{p:.1f}' for p in res['peaks'])}); "
             f"PyTorch 1-thread sgemm 1024^3: {res['matmul_gflops']:.1f} GFLOP/s",
             f"outputs against PyTorch at batch {max(res['batches'])} (max |raw| {res['raw_scale']:.2f}): "
             + "; ".join(f"{n} raw {a:.2e} state {s:.2e}" for n, (a, s) in res["agreement"].items()),
             f"times: best of {res['rounds']} round(s) of the median of 5 runs, {res['seconds']} s per point; "
             f"torch {res['torch']}" + (f", onnxruntime {res['ort']}" if res["ort"] else ""),
             "",
             "batch  runtime       us/step  us/voice  GFLOP/s  %peak  x timbred"]
    for batch in res["batches"]:
        base = res["best"][("timbred", batch)]
        for name in res["names"]:
            us = res["best"][(name, batch)]
            per_voice = us / batch
            gflops = flops / (per_voice * 1e3)
            lines.append(f"{batch:5d}  {name:12s} {us:8.1f}  {per_voice:8.2f}  {gflops:7.1f}  {gflops / res['peak'] * 100:5.1f}"
                         f"  {us / base:9.2f}")
    if res["ort_note"]:
        lines += ["", res["ort_note"]]
    lines.append("x timbred: the runtime's time over timbred's at the same batch (> 1: timbred is faster)")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timbred", default=str(DEFAULT_TIMBRED), help="the timbred binary (release build)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="timbred model file")
    p.add_argument("--batches", default="1,4,8,32,64", help="batch sizes (voices), comma-separated")
    p.add_argument("--seconds", type=float, default=0.4, help="seconds of steps per batch, runtime and round")
    p.add_argument("--rounds", type=int, default=2, help="rounds of all runtimes in turn (each cell: its best round)")
    p.add_argument("--no-onnx", action="store_true", help="skip ONNX Runtime")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--baseline", help="another timbred binary (an earlier build) to time beside it, as timbred-base")


def main_args(args) -> None:
    batches = [int(b) for b in args.batches.split(",") if b]
    if not batches or min(batches) < 1:
        raise UserError("--batches: positive integers, comma-separated")
    res = run(Path(args.timbred), Path(args.model), batches, args.seconds, max(1, args.rounds), onnx=not args.no_onnx,
              baseline=Path(args.baseline) if args.baseline else None)
    print(format_table(res))
    if args.json:
        out = dict(res)
        out["best"] = [{"runtime": n, "batch": b, "us_per_step": us} for (n, b), us in res["best"].items()]
        Path(args.json).write_text(json.dumps(out, indent=1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m timbred_train.bench_decoder", description=__doc__.split("\n")[0])
    add_arguments(p)
    try:
        main_args(p.parse_args(argv))
    except UserError as e:
        print(f"bench-decoder: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
