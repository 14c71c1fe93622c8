#!/usr/bin/python3
"""googlenet against its peers, side by side on this machine.

Usage: bench/compare.py [--model d2l|torchvision] [--peers classic,modern] [--threads 2] [--iters 5]
                        [--rounds 3] [--googlenet build/googlenet] [--peers-python .deps/peers/bin/python] [--json OUT]

Runs, each in its own process (so each peak resident size is the process's own):
- `googlenet bench`: the training step (batch 128 for d2l, 32 for torchvision at 224x224, with its
  auxiliary heads), inference at that batch and at batch 1, in fp32, and the same in bf16;
  inference also in int8 (calibrated on the benchmark's random images);
- classic peers (d2l only; Debian's python3-torch and python3-opencv): PyTorch 1.13 (NCHW and
  channels_last, the better counts), OpenCV DNN on the network exported to ONNX, a 2048^3 SGEMM as
  the practical compute ceiling and `fma_peak` (built beside `googlenet`) for the hardware's;
- modern peers (bench/modern_peer.py in the venv `scripts/setup.sh --bench` makes from PyPI):
  PyTorch 2.x fp32 (NCHW and channels_last, the better counts) and bf16 autocast (channels_last),
  ONNX Runtime fp32 and static QDQ int8, OpenVINO with f32 forced and with its default precision
  (bf16 on CPUs that have it). OpenVINO runs one stream, its LATENCY hint at batch 1 and THROUGHPUT
  above.

The machine is shared and its speed changes from one minute to the next, so every side is measured
once per round, the rounds alternate which side goes first, and each ratio is computed within a
round. A ratio's figure is the median over the rounds; the worst and best rounds are printed beside
it. The report names the CPU and the instruction set oneDNN may use. Timing only: it asserts nothing.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
MODERN = {"torch-fp32": "PyTorch 2 fp32", "torch-bf16": "PyTorch 2 bf16", "ort-fp32": "ONNX Runtime fp32",
          "ort-int8": "ONNX Runtime int8", "ov-fp32": "OpenVINO f32", "ov-default": "OpenVINO default"}
FP32_PEERS = ("torch", "opencv", "torch-fp32", "ort-fp32", "ov-fp32")  # the same precision as ours


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def figures(model):
    """(name, mode, batch) of every figure: the training step, inference at the training batch and at 1."""
    b = 128 if model == "d2l" else 32
    return [("train", "train", b), (f"infer{b}", "infer", b), ("infer1", "infer", 1)]


def measure_round(a, files, ours_first):
    """Every figure once; returns {side: {figure: the JSON its program printed}}."""
    t, size = str(a.threads), "96" if a.model == "d2l" else "224"
    iters = lambda batch: str(10 * a.iters if batch == 1 else a.iters)
    r = {}

    def googlenet():
        ours = lambda mode, b, precision: run_json([a.googlenet, "bench", "--model", a.model, "--size", size, "--mode", mode,
                                                    "--batch-size", str(b), "--threads", t, "--iters", iters(b), "--json",
                                                    "--precision", precision])
        r["ours"] = {name: ours(mode, b, "fp32") for name, mode, b in figures(a.model)}
        # On a CPU without native bf16, oneDNN's slower kernels.
        r["ours-bf16"] = {name: ours(mode, b, "bf16") for name, mode, b in figures(a.model)}
        r["ours-int8"] = {name: ours(mode, b, "int8") for name, mode, b in figures(a.model) if mode == "infer"}

    def classic():
        peer = [sys.executable, os.path.join(HERE, "peer.py")]
        for name, mode, b in figures(a.model):
            both = [run_json(peer + ["torch", mode, str(b), t, iters(b), fmt]) for fmt in ("nchw", "channels_last")]
            r.setdefault("torch", {})[name] = max(both, key=lambda x: x["images_per_sec"])
            if mode == "infer":
                r.setdefault("opencv", {})[name] = run_json(peer + ["opencv", files["classic"], str(b), t, iters(b)])

    def modern():
        peer = [a.peers_python, os.path.join(HERE, "modern_peer.py")]
        for name, mode, b in figures(a.model):
            common = [mode, str(b), t, iters(b), "--model", a.model, "--onnx", files["modern"]]
            runs = {"torch-fp32": ["torch-fp32-nchw", "torch-fp32-cl"], "torch-bf16": ["torch-bf16-cl"]}
            if mode == "infer":
                runs.update({p: [p] for p in ("ort-fp32", "ort-int8", "ov-fp32", "ov-default")})
            for side, peers in runs.items():
                both = [run_json(peer + [p, *common]) for p in peers]
                r.setdefault(side, {})[name] = max(both, key=lambda x: x["images_per_sec"])

    others = [side for kind, side in (("classic", classic), ("modern", modern)) if kind in a.peers]
    for side in ([googlenet, *others] if ours_first else [*others, googlenet]):
        side()
    if "classic" in a.peers:
        r["sgemm"] = run_json([sys.executable, os.path.join(HERE, "peer.py"), "sgemm", "2048", t, str(a.iters)])
        r["fma_peak"] = run_json([a.fma_peak or os.path.join(os.path.dirname(a.googlenet), "fma_peak"), t])
    return r


def targets(model, peers):
    """(name, ratio of one round's figures, target): the targets of the issues that set them, ours in fp32
    unless the name says bf16 or int8."""
    train, big, one = (f[0] for f in figures(model))
    img = lambda r, side, f: r[side][f]["images_per_sec"]
    ms = lambda r, side, f: r[side][f]["ms_per_iter"]
    fp32 = lambda r, f: [s for s in FP32_PEERS if s in r and f in r[s]]
    out = []
    if "modern" in peers:
        out += [(f"training vs PyTorch 2 fp32", lambda r: img(r, "ours", train) / img(r, "torch-fp32", train), ">= 2.0"),
                (f"training bf16 vs PyTorch 2 bf16", lambda r: img(r, "ours-bf16", train) / img(r, "torch-bf16", train), ">= 2.0"),
                (f"training bf16 peak RSS vs PyTorch 2 bf16", lambda r: r["ours-bf16"][train]["peak_rss_mib"] /
                 r["torch-bf16"][train]["peak_rss_mib"], "<= 0.6")]
    if "classic" in peers:
        out += [("training vs PyTorch 1.13", lambda r: img(r, "ours", train) / img(r, "torch", train),
                 ">= 2.0"),
                ("training peak RSS vs PyTorch 1.13", lambda r: r["ours"][train]["peak_rss_mib"] /
                 r["torch"][train]["peak_rss_mib"], "<= 0.6"),
                ("training GFLOP/s vs SGEMM", lambda r: r["ours"][train]["gflops"] / r["sgemm"]["gflops"], ">= 0.75")]
    out += [(f"{big.replace('infer', 'inference b')} vs best fp32 peer",
             lambda r: img(r, "ours", big) / max(img(r, s, big) for s in fp32(r, big)), ">= 1.6"),
            ("inference b1 latency vs best fp32 peer",
             lambda r: ms(r, "ours", one) / min(ms(r, s, one) for s in fp32(r, one)), "<= 0.5")]
    if "modern" in peers:
        out += [(f"{big.replace('infer', 'inference b')} bf16 vs OpenVINO default",
                 lambda r: img(r, "ours-bf16", big) / img(r, "ov-default", big), ">= 1.0"),
                ("inference b1 latency bf16 vs OpenVINO default",
                 lambda r: ms(r, "ours-bf16", one) / ms(r, "ov-default", one), "<= 0.8"),
                (f"{big.replace('infer', 'inference b')} int8 vs ONNX Runtime int8",
                 lambda r: img(r, "ours-int8", big) / img(r, "ort-int8", big), ">= 1.5"),
                ("inference b1 latency int8 vs ONNX Runtime int8",
                 lambda r: ms(r, "ours-int8", one) / ms(r, "ort-int8", one), "<= 0.7"),
                (f"{big.replace('infer', 'inference b')} int8 vs OpenVINO default",
                 lambda r: img(r, "ours-int8", big) / img(r, "ov-default", big), "> 1.0"),
                ("inference b1 latency int8 vs OpenVINO default",
                 lambda r: ms(r, "ours-int8", one) / ms(r, "ov-default", one), "< 1.0")]
    out += [(f"{big.replace('infer', 'inference b')} int8 vs our bf16",
             lambda r: img(r, "ours-int8", big) / img(r, "ours-bf16", big), ">= 1.0"),
            ("inference b1 latency int8 vs our bf16", lambda r: ms(r, "ours-int8", one) / ms(r, "ours-bf16", one), "<= 1.0")]
    return out


def report(a, rounds):
    about = rounds[0]["ours"]["train"]["googlenet"]
    med = lambda side, f, field: statistics.median(r[side][f][field] for r in rounds)
    print(f"\n{a.model} at {'96x96' if a.model == 'd2l' else '224x224'}, {a.threads} threads, on {about['cpu']} "
          f"(oneDNN {about['onednn_version']}, kernels up to {about['onednn_isa']}); googlenet {about['version']} "
          f"({about['commit']}), in fp32, bf16 and int8")
    sides = ["ours", "ours-bf16", "ours-int8"] + [s for s in ("torch", "opencv", *MODERN) if s in rounds[0]]
    names = {"ours": "googlenet fp32", "ours-bf16": "googlenet bf16", "ours-int8": "googlenet int8", "torch": "PyTorch 1.13",
             "opencv": "OpenCV DNN", **MODERN}
    print(f"img/s (ms per iteration), medians over {a.rounds} rounds; peak resident size of each process (MiB)")
    for side in sides:
        cells = []
        for f, _, _ in figures(a.model):
            cells.append(f"{med(side, f, 'images_per_sec'):8.1f} ({med(side, f, 'ms_per_iter'):7.1f}) "
                         f"{med(side, f, 'peak_rss_mib'):5.0f}" if f in rounds[0][side] else f"{'-':>22s}")
        version = rounds[0][side][next(iter(rounds[0][side]))].get("version", "")
        print(f"  {names[side]:18s} " + "  ".join(cells) + f"   {version}")
    print(f"  {'':18s} " + "  ".join(f"{f:>22s}" for f, _, _ in figures(a.model)))
    if "sgemm" in rounds[0]:
        peak, ours = statistics.median(r["fma_peak"]["gflops"] for r in rounds), med("ours", "train", "gflops")
        print(f"training: {ours:.1f} GFLOP/s; SGEMM 2048^3: {statistics.median(r['sgemm']['gflops'] for r in rounds):.1f}; "
              f"FMA peak ({rounds[0]['fma_peak']['isa']}): {peak:.1f} ({100 * ours / peak:.0f}% of it)")
    ratios = {name: [f(r) for r in rounds] for name, f, _ in targets(a.model, a.peers)}
    print(f"\n{'ratio (within a round)':44s} {'median':>8s} {'worst':>7s} {'best':>7s} {'target':>8s}   rounds")
    for name, _, target in targets(a.model, a.peers):
        v = ratios[name]
        worst, best = (max(v), min(v)) if "latency" in name or "RSS" in name else (min(v), max(v))
        print(f"{name:44s} {statistics.median(v):8.2f} {worst:7.2f} {best:7.2f} {target:>8s}   "
              + " ".join(f"{x:.2f}" for x in v))
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="d2l", choices=["d2l", "torchvision"])
    ap.add_argument("--peers", default=None, help="classic, modern or both (default: both for d2l, modern for torchvision)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="times every side is measured (default 3)")
    ap.add_argument("--googlenet", default=os.path.join(ROOT, "build", "googlenet"))
    ap.add_argument("--fma-peak", default=None, help="the fma_peak binary (default: beside --googlenet)")
    ap.add_argument("--peers-python", default=os.path.join(ROOT, ".deps", "peers", "bin", "python"),
                    help="the modern peers' interpreter (scripts/setup.sh --bench makes its venv)")
    ap.add_argument("--json", help="also write all figures to this file")
    a = ap.parse_args()
    a.peers = set((a.peers or ("classic,modern" if a.model == "d2l" else "modern")).split(","))
    if a.rounds < 1 or a.iters < 1:
        ap.error("--rounds and --iters must be at least 1")
    if not a.peers <= {"classic", "modern"} or ("classic" in a.peers and a.model != "d2l"):
        ap.error("--peers takes classic and modern; the classic peers run d2l only")
    if "modern" in a.peers and not os.access(a.peers_python, os.X_OK):
        ap.error(f"no modern peers' interpreter at {a.peers_python}: run scripts/setup.sh --bench, or give --peers-python")
    rounds = []
    with tempfile.TemporaryDirectory() as d:
        files = {"classic": os.path.join(d, "classic.onnx"), "modern": os.path.join(d, "modern.onnx")}
        if "classic" in a.peers:
            run_json([sys.executable, os.path.join(HERE, "peer.py"), "export", files["classic"]])
        if "modern" in a.peers:
            run_json([a.peers_python, os.path.join(HERE, "modern_peer.py"), "export", files["modern"], "--model", a.model])
        for i in range(a.rounds):
            print(f"measuring: round {i + 1} of {a.rounds}", flush=True)
            rounds.append(measure_round(a, files, ours_first=i % 2 == 0))
    ratios = report(a, rounds)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": a.model, "rounds": rounds, "ratios": {n: statistics.median(v) for n, v in ratios.items()},
                       "ratios_by_round": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
