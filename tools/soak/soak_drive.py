#!/usr/bin/env python3
"""The control side of scripts/soak, and its verdict.

  soak_drive.py drive ...   OSC traffic to a running timbred (every request of the API in turn,
                            20 a second, status every second), a preset-file edit at a fixed
                            interval, RSS sampled every second; writes a JSON summary.
  soak_drive.py report ...  reads that summary, soak_load's reports, the allocation counter's
                            line and jackd's log, prints the figures and exits 1 if the soak failed.

Standard library only: OSC messages are encoded by hand (OSC 1.0: padded strings, big-endian
int32/float32).
"""
import argparse
import json
import math
import os
import random
import re
import socket
import struct
import sys
import time


# ---- OSC 1.0 --------------------------------------------------------------------------------

def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def osc_message(path, *args):
    tags, data = ",", b""
    for a in args:
        if isinstance(a, bool):
            raise TypeError("no booleans")
        if isinstance(a, int):
            tags += "i"
            data += struct.pack(">i", a)
        elif isinstance(a, float):
            tags += "f"
            data += struct.pack(">f", a)
        else:
            tags += "s"
            data += _pad(str(a).encode())
    return _pad(path.encode()) + _pad(tags.encode()) + data


def _read_string(b, i):
    end = b.index(b"\0", i)
    s = b[i:end].decode(errors="replace")
    return s, (end // 4 + 1) * 4


def osc_parse(b):
    path, i = _read_string(b, 0)
    tags, i = _read_string(b, i)
    args = []
    for t in tags[1:]:
        if t == "i":
            args.append(struct.unpack(">i", b[i:i + 4])[0])
            i += 4
        elif t == "f":
            args.append(struct.unpack(">f", b[i:i + 4])[0])
            i += 4
        elif t == "s":
            s, i = _read_string(b, i)
            args.append(s)
        else:
            break
    return path, args


class OSC:
    def __init__(self, port):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.sent = 0
        self.errors = 0
        self.timeouts = 0

    def request(self, path, *args):
        self.sock.sendto(osc_message(path, *args), ("127.0.0.1", self.port))
        self.sent += 1
        try:
            reply, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            self.timeouts += 1
            return None, []
        p, a = osc_parse(reply)
        if p == "/timbred/error":
            self.errors += 1
        return p, a


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def write_preset(folder, z_dim, rng, n):
    latent = ", ".join(f"{rng.uniform(-1.5, 1.5):.4f}" for _ in range(z_dim))
    text = (f"# written by scripts/soak (edit {n})\nname = \"Soak\"\nlatent = [{latent}]\nprogram = 99\n"
            f"reverb = {rng.uniform(0.2, 1.2):.3f}\ngain_db = {rng.uniform(-9, -4):.2f}\n")
    tmp = os.path.join(folder, ".soak.toml.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(folder, "soak.toml"))


# ---- drive ----------------------------------------------------------------------------------

def drive(a):
    rng = random.Random(1)
    osc = OSC(a.port)
    _, status = osc.request("/timbred/status")
    z_dim = max(1, len(status) - 11) if status else 8
    os.makedirs(a.preset_dir, exist_ok=True)
    start = time.monotonic()
    summary = {"z_dim": z_dim, "preset_edits": 0, "rss_kb": [], "status": [], "warmup_s": a.warmup}
    next_status = next_rss = 0.0
    next_edit = a.edit_interval
    reset_done = False
    held = None
    k = 0
    while True:
        t = time.monotonic() - start
        if t >= a.seconds:
            break
        if not reset_done and t >= a.warmup:
            osc.request("/timbred/load", "reset")
            summary["steal_s_after_warmup"] = steal_seconds()
            summary["rss_after_warmup_kb"] = rss_kb(a.pid)
            summary["jackd_log_offset_after_warmup"] = os.path.getsize(a.jackd_log)
            reset_done = True
        if t >= next_rss:
            r = rss_kb(a.pid)
            if r is None:
                summary["daemon_gone_at_s"] = round(t, 1)
                break
            summary["rss_kb"].append([round(t, 1), r])
            next_rss += 1
        if t >= next_status:
            p, s = osc.request("/timbred/status")
            if p == "/timbred/status" and len(s) >= 11:
                summary["status"].append({"t": round(t, 1), "voices": s[0], "xruns": s[1], "graph_load": round(s[2], 2),
                                          "preset": s[3], "callback_mean": round(s[8], 2), "callback_peak": round(s[9], 2),
                                          "late": s[10], "steal_s": steal_seconds()})
                p, s = osc.request("/timbred/load")
                if p == "/timbred/load" and len(s) >= 8:
                    summary["status"][-1]["overruns"] = s[7]
            next_status += 1
        if t >= next_edit:
            summary["preset_edits"] += 1
            write_preset(a.preset_dir, z_dim, rng, summary["preset_edits"])
            next_edit += a.edit_interval
        # one request of the API in turn
        step = k % 10
        if step == 0:
            osc.request("/timbred/latent", rng.randrange(z_dim), rng.uniform(-2, 2))
        elif step == 1:
            osc.request("/timbred/morph", rng.random())
        elif step == 2:
            osc.request("/timbred/pad", rng.random(), rng.random())
        elif step == 3:
            osc.request("/timbred/reverb", rng.uniform(0, 1.5))
        elif step == 4:
            osc.request("/timbred/gain", rng.uniform(-12, -4))
        elif step == 5:
            osc.request("/timbred/attack", rng.uniform(0.5, 2))
        elif step == 6:
            osc.request("/timbred/release", rng.uniform(0.5, 2))
        elif step == 7:
            if held is not None:
                osc.request("/timbred/note", held, 0)
            held = 36 + rng.randrange(60)
            osc.request("/timbred/note", held, 100)
        elif step == 8:
            if k % 100 == 8:  # every 5 s: a preset by name (the edited one half the time)
                osc.request("/timbred/preset", "Soak" if summary["preset_edits"] and k % 200 == 8 else str(rng.randrange(18)))
            else:
                osc.request("/timbred/load")
        else:
            osc.request("/timbred/latent", rng.randrange(z_dim), rng.uniform(-2, 2))
        k += 1
        time.sleep(0.05)
    p, s = osc.request("/timbred/load")
    if p == "/timbred/load":
        summary["load"] = {"mean": s[0], "peak": s[1], "late": s[2], "cycles": s[3], "xruns": s[4]}
        if len(s) >= 8:
            summary["load"].update({"cpu_mean": s[5], "cpu_peak": s[6], "overruns": s[7]})
    summary["steal_s_end"] = steal_seconds()
    summary["rss_end_kb"] = rss_kb(a.pid)
    summary["osc"] = {"sent": osc.sent, "errors": osc.errors, "timeouts": osc.timeouts}
    with open(a.out, "w") as f:
        json.dump(summary, f)


def steal_seconds():
    """Seconds of CPU time the hypervisor took from this virtual machine's CPUs (/proc/stat's
    steal column, all CPUs), or 0 where the kernel does not account it."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0
    except OSError:
        return 0.0


# ---- report ---------------------------------------------------------------------------------

def key_values(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                for part in line.split():
                    if "=" in part:
                        k, v = part.split("=", 1)
                        out[k] = v
    except OSError:
        pass
    return out


def jack_xruns(log, start, end, client):
    """Xrun lines of jackd's log between two offsets: the driver's own (woke late), and per
    client the deadlines missed; `named` counts those that name `client` while it ran (state
    Running, or finished after the deadline; Triggered means it still waited for a client before
    it in the graph)."""
    text = log[start:end]
    driver = len(re.findall(r"JackTimedDriver::Process XRun", text))
    states = {}
    named = 0
    for name, state in re.findall(r"client = (\S+) was not finished, state = (\S+)", text):
        states[f"{name}/{state}"] = states.get(f"{name}/{state}", 0) + 1
        if name == client and state != "Triggered":
            named += 1
    for name in re.findall(r"client (\S+) finished after current callback", text):
        states[f"{name}/finished-late"] = states.get(f"{name}/finished-late", 0) + 1
        if name == client:
            named += 1
    return {"driver": driver, "clients": states, "named": named}


def excess_p_value(a, n_a, b, n_b):
    """One-sided test that count a (over n_a cycles) exceeds what count b (over n_b cycles) makes
    likely: given a + b events, a ~ Binomial(a + b, n_a / (n_a + n_b)) if the rates are equal.
    Returns P(X >= a)."""
    k = a + b
    if k == 0 or n_a <= 0:
        return 1.0
    p = n_a / (n_a + n_b) if n_b > 0 else 1.0
    if p >= 1.0:
        return 1.0
    # terms in log space: exact for any count (math.comb overflows a float beyond ~1000 events)
    def log_term(i):
        return math.lgamma(k + 1) - math.lgamma(i + 1) - math.lgamma(k - i + 1) + i * math.log(p) + (k - i) * math.log1p(-p)
    logs = [log_term(i) for i in range(a, k + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in logs))


def report(a):
    with open(a.drive) as f:
        d = json.load(f)
    load = key_values(a.load)
    base = key_values(a.baseline)
    alloc = key_values(a.rtalloc)
    with open(a.jackd_log, errors="replace") as f:
        log = f.read()
    b0, b1, s1 = a.offsets
    s0 = d.get("jackd_log_offset_after_warmup", 0)
    xs = jack_xruns(log, s0, s1, a.client)
    xb = jack_xruns(log, b0, b1, "soak_midi")
    with open(a.timbred_log, errors="replace") as f:
        tlog = f.read()
    reloads = tlog.count("preset files changed: reloading")
    rt_lines = [l for l in tlog.splitlines() if "RealtimeSanitizer" in l]

    rss_start = d.get("rss_after_warmup_kb") or 0
    rss_end = d.get("rss_end_kb") or 0
    rss_samples = [r for t, r in d["rss_kb"] if t >= d["warmup_s"]]
    rss_max = max(rss_samples) if rss_samples else 0
    rss_first = d["rss_kb"][0][1] if d["rss_kb"] else 0
    growth = rss_end - rss_start
    ld = d.get("load", {})
    cycles = int(ld.get("cycles", 0))
    late = int(ld.get("late", -1))
    base_cycles = int(base.get("spin_cycles", "0"))
    base_late = int(base.get("spin_late_cycles", "0"))
    voices = [s["voices"] for s in d["status"]]
    per10k = lambda n, c: 1e4 * n / c if c > 0 else float("nan")
    p_named = excess_p_value(xs["named"], cycles, xb["named"], base_cycles)
    p_late = excess_p_value(max(late, 0), cycles, base_late, base_cycles)

    print(f"soak: {a.seconds:.0f} s at 48 kHz, {a.frames}-frame periods; figures after a {d['warmup_s']:.0f} s warm-up; "
          f"baseline {a.baseline_seconds:.0f} s")
    print(f"  MIDI: {load.get('notes_sent', '?')} notes, {load.get('events_sent', '?')} events, "
          f"{load.get('programs_sent', '?')} program changes, up to {load.get('max_notes_held', '?')} notes held "
          f"(polyphony {load.get('polyphony', '?')}); voices reported {min(voices) if voices else '?'}-{max(voices) if voices else '?'}")
    print(f"  OSC: {d['osc']['sent']} requests, {d['osc']['errors']} refused, {d['osc']['timeouts']} unanswered; "
          f"preset-file edits {d['preset_edits']}, reloads logged {reloads}")
    print(f"  output: mean {load.get('level_mean_dbfs', '?')} dBFS, quietest second {load.get('level_quietest_second_dbfs', '?')} dBFS, "
          f"silent seconds {load.get('silent_seconds', '?')}, peak {load.get('peak', '?')}, non-finite samples {load.get('nonfinite_samples', '?')}")
    print(f"  DSP load (timbred's callback over the {a.frames / 48000 * 1e6:.0f} us period): mean {ld.get('mean', float('nan')):.1f} %, "
          f"peak {ld.get('peak', float('nan')):.1f} %, over the period in {late} of {cycles} cycles "
          f"({per10k(late, cycles):.2f} per 10k)")
    overruns = int(ld.get("overruns", -1))
    steal = d.get("steal_s_end", 0) - d.get("steal_s_after_warmup", 0)
    print(f"  timbred's own work (the callback thread's CPU time, without preemption and machine stalls): mean "
          f"{ld.get('cpu_mean', float('nan')):.1f} %, largest cycle {ld.get('cpu_peak', float('nan')):.1f} % of the period; "
          f"over the period in {overruns} cycles")
    print(f"  machine: {steal:.1f} s of CPU time stolen by the hypervisor over the run (both vCPUs); of the {max(late, 0)} late "
          f"cycles, {max(late, 0) - max(overruns, 0)} ran less CPU time than the period (preempted or stalled)")
    print(f"  stand-in without timbred (busy {base.get('spin_us', '?')} us a cycle): over the period in {base_late} of "
          f"{base_cycles} cycles ({per10k(base_late, base_cycles):.2f} per 10k)")
    print(f"  xruns naming timbred: {xs['named']} ({per10k(xs['named'], cycles):.2f} per 10k cycles); naming the stand-in: "
          f"{xb['named']} ({per10k(xb['named'], base_cycles):.2f} per 10k); driver woke late: {xs['driver']} with timbred, "
          f"{xb['driver']} in the baseline; timbred's xrun counter {ld.get('xruns', '?')} in all")
    print(f"  excess over the stand-in: xruns p = {p_named:.3g}, late cycles p = {p_late:.3g} (fail below 0.001)")
    print(f"  jackd's lines with timbred: {xs['clients']}")
    print(f"  heap calls in the real-time callback and the decode worker: {alloc.get('allocations', '?')} allocations, "
          f"{alloc.get('frees', '?')} frees ({alloc.get('regions', '?')} real-time regions counted: callback cycles and worker jobs)")
    print(f"  RSS: {rss_first / 1024:.1f} MB at start, {rss_start / 1024:.1f} MB after warm-up, {rss_end / 1024:.1f} MB at the end "
          f"(max {rss_max / 1024:.1f} MB after warm-up; growth {growth / 1024:+.2f} MB, tolerance {a.rss_tolerance_kb / 1024:.1f} MB)")

    failures = []
    if a.exit_status != 0:
        failures.append(f"timbred exited with status {a.exit_status}")
    if "daemon_gone_at_s" in d:
        failures.append(f"timbred died at {d['daemon_gone_at_s']} s")
    if rt_lines:
        failures.append("RealtimeSanitizer report in the log")
    judged = True
    judged_seconds = max(a.seconds - d["warmup_s"], 1.0)
    steal_percent = 100 * steal / (judged_seconds * (os.cpu_count() or 1))
    if a.steal_limit is not None and steal_percent > a.steal_limit:
        print(f"soak: xruns NOT JUDGED: the hypervisor stole {steal_percent:.1f} % of this machine's CPU time during the "
              f"soak (limit {a.steal_limit} %), so its timing says nothing about timbred")
        judged = False
    else:
        if p_named < 0.001:
            failures.append(f"xruns caused by timbred: {xs['named']} named it against {xb['named']} for the stand-in")
        if late < 0 or p_late < 0.001:
            failures.append(f"the callback overran its period in {late} cycles against {base_late} for the stand-in")
    regions = int(alloc.get("regions", "0"))
    if regions == 0:
        failures.append("the allocation counter saw no real-time region (the hooks did not bind)")
    if int(alloc.get("allocations", "-1")) != 0 or int(alloc.get("frees", "-1")) != 0:
        failures.append(f"heap calls in the callback: {alloc.get('allocations')} allocations, {alloc.get('frees')} frees "
                        f"(the first of {alloc.get('first_size')} bytes)")
    if not rss_start or not rss_end or growth >= a.rss_tolerance_kb:
        failures.append(f"RSS grew {growth} kB after warm-up (tolerance {a.rss_tolerance_kb} kB)")
    if int(load.get("silent_seconds", "1")) != 0 or int(load.get("nonfinite_samples", "1")) != 0:
        failures.append("the output went silent or non-finite")
    if int(load.get("max_notes_held", "0")) <= int(load.get("polyphony", "0")):
        failures.append("the MIDI never held more notes than the polyphony")
    if d["preset_edits"] and reloads < d["preset_edits"]:
        failures.append(f"{d['preset_edits']} preset edits but {reloads} reloads logged")
    if d["osc"]["timeouts"]:
        failures.append(f"{d['osc']['timeouts']} OSC requests unanswered")
    if failures:
        print("soak: FAIL: " + "; ".join(failures))
        sys.exit(1)
    if judged:
        print("soak: PASS (no xrun caused by timbred, no allocation in the callback, RSS flat)")
    else:
        print("soak: PASS (xruns not judged on this machine; no allocation in the callback, RSS flat, output and control traffic sound)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--pid", type=int, required=True)
    d.add_argument("--seconds", type=float, required=True)
    d.add_argument("--warmup", type=float, required=True)
    d.add_argument("--edit-interval", type=float, required=True)
    d.add_argument("--preset-dir", required=True)
    d.add_argument("--jackd-log", required=True)
    d.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("--drive", required=True)
    r.add_argument("--load", required=True)
    r.add_argument("--baseline", required=True)
    r.add_argument("--rtalloc", required=True)
    r.add_argument("--jackd-log", required=True)
    r.add_argument("--timbred-log", required=True)
    r.add_argument("--offsets", type=int, nargs=3, required=True, metavar=("BASE_START", "BASE_END", "SOAK_END"))
    r.add_argument("--client", required=True)
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--baseline-seconds", type=float, required=True)
    r.add_argument("--exit-status", type=int, required=True)
    r.add_argument("--rss-tolerance-kb", type=int, default=2048)
    r.add_argument("--frames", type=int, default=64)
    r.add_argument("--steal-limit", type=float, default=None, metavar="PERCENT",
                   help="leave the xrun verdict unjudged when the hypervisor stole more than PERCENT of the "
                        "machine's CPU time during the soak (a shared CI machine)")
    a = p.parse_args()
    drive(a) if a.command == "drive" else report(a)


if __name__ == "__main__":
    main()
