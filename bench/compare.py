#!/usr/bin/python3
"""googlenet against its peers, side by side on this machine (D2L GoogLeNet, 96x96).

Usage: bench/compare.py [--threads 2] [--iters 5] [--rounds 3] [--googlenet build/googlenet] [--json OUT]

Runs, each in its own process: `googlenet bench` (training step at batch 128, inference at batch
128 and 1), PyTorch (NCHW and channels_last, the better of the two counts), OpenCV DNN on the same
network exported to ONNX, a 2048^3 SGEMM as the practical compute ceiling, and `fma_peak` (built
beside `googlenet`) for the hardware's: vector FMAs from registers on the same threads.

The machine is shared and its speed changes from one minute to the next, so every side is measured
once per round, the rounds alternate which side goes first, and each ratio is computed within a
round. A ratio's figure is the median over the rounds; the worst and best rounds are printed beside
it. Needs Debian's python3-torch and python3-opencv (scripts/setup.sh --bench installs them).
Timing only: it asserts nothing.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def measure_round(a, onnx, ours_first):
    """Every figure once; returns {name: the JSON its program printed}."""
    t, it = str(a.threads), str(a.iters)
    peer = [sys.executable, os.path.join(HERE, "peer.py")]
    ours = lambda mode, batch, iters: run_json([a.googlenet, "bench", "--mode", mode, "--batch-size", str(batch),
                                                "--threads", t, "--iters", str(iters), "--json"])
    r = {}

    def googlenet():
        r["ours_train"] = ours("train", 128, a.iters)
        r["ours_infer128"] = ours("infer", 128, a.iters)
        r["ours_infer1"] = ours("infer", 1, 10 * a.iters)

    def peers():
        for fmt in ("nchw", "channels_last"):
            r[f"torch_train_{fmt}"] = run_json(peer + ["torch", "train", "128", t, it, fmt])
            r[f"torch_infer128_{fmt}"] = run_json(peer + ["torch", "infer", "128", t, it, fmt])
            r[f"torch_infer1_{fmt}"] = run_json(peer + ["torch", "infer", "1", t, str(10 * a.iters), fmt])
        r["opencv_infer128"] = run_json(peer + ["opencv", onnx, "128", t, it])
        r["opencv_infer1"] = run_json(peer + ["opencv", onnx, "1", t, str(10 * a.iters)])

    for side in ((googlenet, peers) if ours_first else (peers, googlenet)):
        side()
    r["sgemm"] = run_json(peer + ["sgemm", "2048", t, it])
    r["fma_peak"] = run_json([a.fma_peak or os.path.join(os.path.dirname(a.googlenet), "fma_peak"), t])
    for key in ("torch_train", "torch_infer128", "torch_infer1"):
        r[key] = max((r[f"{key}_nchw"], r[f"{key}_channels_last"]), key=lambda x: x["images_per_sec"])
    return r


TARGETS = [  # name, ratio of one round's figures, target
    ("training img/s vs PyTorch", lambda r: r["ours_train"]["images_per_sec"] / r["torch_train"]["images_per_sec"],
     ">= 2.0"),
    ("inference b128 img/s vs best peer", lambda r: r["ours_infer128"]["images_per_sec"] /
     max(r["torch_infer128"]["images_per_sec"], r["opencv_infer128"]["images_per_sec"]), ">= 1.6"),
    ("inference b1 latency vs OpenCV", lambda r: r["ours_infer1"]["ms_per_iter"] / r["opencv_infer1"]["ms_per_iter"],
     "<= 0.5"),
    ("training peak RSS vs PyTorch", lambda r: r["ours_train"]["peak_rss_mib"] / r["torch_train"]["peak_rss_mib"],
     "<= 0.6"),
    ("training GFLOP/s vs SGEMM", lambda r: r["ours_train"]["gflops"] / r["sgemm"]["gflops"], ">= 0.75"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="times every side is measured (default 3)")
    ap.add_argument("--googlenet", default=os.path.join(HERE, "..", "build", "googlenet"))
    ap.add_argument("--fma-peak", default=None, help="the fma_peak binary (default: beside --googlenet)")
    ap.add_argument("--json", help="also write all figures to this file")
    a = ap.parse_args()
    if a.rounds < 1 or a.iters < 1:
        ap.error("--rounds and --iters must be at least 1")
    rounds = []
    with tempfile.TemporaryDirectory() as d:
        onnx = os.path.join(d, "d2l_googlenet.onnx")
        run_json([sys.executable, os.path.join(HERE, "peer.py"), "export", onnx])
        for i in range(a.rounds):
            print(f"measuring: round {i + 1} of {a.rounds}", flush=True)
            rounds.append(measure_round(a, onnx, ours_first=i % 2 == 0))

    med = lambda key, field: statistics.median(r[key][field] for r in rounds)
    print(f"\nD2L GoogLeNet, 96x96, {a.threads} threads; img/s (ms per iteration), medians over {a.rounds} rounds")
    print(f"{'':28s} {'googlenet':>18s} {'PyTorch (best)':>18s} {'OpenCV DNN':>18s}")
    cell = lambda key: f"{med(key, 'images_per_sec'):7.1f} ({med(key, 'ms_per_iter'):7.1f})" if key else f"{'-':>18s}"
    for name, o, p, c in [("training step, batch 128", "ours_train", "torch_train", None),
                          ("inference, batch 128", "ours_infer128", "torch_infer128", "opencv_infer128"),
                          ("inference, batch 1", "ours_infer1", "torch_infer1", "opencv_infer1")]:
        print(f"{name:28s} {cell(o):>18s} {cell(p):>18s} {cell(c):>18s}")
    print(f"\ntraining: {med('ours_train', 'gflops'):.1f} GFLOP/s; SGEMM 2048^3: {med('sgemm', 'gflops'):.1f} GFLOP/s; "
          f"peak RSS {med('ours_train', 'peak_rss_mib'):.0f} MiB vs PyTorch {med('torch_train', 'peak_rss_mib'):.0f} MiB")
    # Direct convolution does every multiply-add, so no engine trains faster than the FMA peak allows.
    peak, ours_gflops = med("fma_peak", "gflops"), med("ours_train", "gflops")
    per_image = ours_gflops / med("ours_train", "images_per_sec")
    torch_gflops = med("torch_train", "images_per_sec") * per_image
    print(f"FMA peak ({rounds[0]['fma_peak']['isa']}, {a.threads} threads): {peak:.1f} GFLOP/s; the training step "
          f"runs at {100 * ours_gflops / peak:.0f}% of it, PyTorch's at {100 * torch_gflops / peak:.0f}%; 2.0x "
          f"PyTorch would need {2 * torch_gflops:.0f} GFLOP/s ({200 * torch_gflops / peak:.0f}% of the peak) "
          f"with every multiply-add done")

    ratios = {name: [f(r) for r in rounds] for name, f, _ in TARGETS}
    print(f"\n{'ratio (within a round)':36s} {'median':>8s} {'worst':>7s} {'best':>7s} {'target':>8s}   rounds")
    for name, _, target in TARGETS:
        v = ratios[name]
        worst, best = (max(v), min(v)) if target.startswith("<=") else (min(v), max(v))
        print(f"{name:36s} {statistics.median(v):8.2f} {worst:7.2f} {best:7.2f} {target:>8s}   "
              + " ".join(f"{x:.2f}" for x in v))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": rounds, "ratios": {n: statistics.median(v) for n, v in ratios.items()},
                       "ratios_by_round": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
