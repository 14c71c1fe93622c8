#!/usr/bin/python3
"""googlenet against its peers, side by side in one run on this machine (D2L GoogLeNet, 96x96).

Usage: bench/compare.py [--threads 2] [--iters 5] [--googlenet build/googlenet] [--json OUT]

Runs, each in its own process: `googlenet bench` (training step at batch 128, inference at batch
128 and 1), PyTorch (NCHW and channels_last, the better of the two counts), OpenCV DNN on the same
network exported to ONNX, a 2048^3 SGEMM as the practical compute ceiling, and `fma_peak` (built
beside `googlenet`) for the hardware's: vector FMAs from registers on the same threads. Prints every
figure and the ratios the performance issue sets as targets. Needs Debian's python3-torch and
python3-opencv (scripts/setup.sh --bench installs them). Timing only: it asserts nothing.
"""
import argparse, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--googlenet", default=os.path.join(HERE, "..", "build", "googlenet"))
    ap.add_argument("--fma-peak", default=None, help="the fma_peak binary (default: beside --googlenet)")
    ap.add_argument("--json", help="also write all figures to this file")
    a = ap.parse_args()
    t, it = str(a.threads), str(a.iters)
    peer = [sys.executable, os.path.join(HERE, "peer.py")]
    ours = lambda mode, batch, iters: run_json([a.googlenet, "bench", "--mode", mode, "--batch-size", str(batch),
                                                "--threads", t, "--iters", str(iters), "--json"])
    r = {}
    print("measuring: googlenet", flush=True)
    r["ours_train"] = ours("train", 128, a.iters)
    r["ours_infer128"] = ours("infer", 128, a.iters)
    r["ours_infer1"] = ours("infer", 1, 10 * a.iters)
    print("measuring: PyTorch", flush=True)
    for fmt in ("nchw", "channels_last"):
        r[f"torch_train_{fmt}"] = run_json(peer + ["torch", "train", "128", t, it, fmt])
        r[f"torch_infer128_{fmt}"] = run_json(peer + ["torch", "infer", "128", t, it, fmt])
        r[f"torch_infer1_{fmt}"] = run_json(peer + ["torch", "infer", "1", t, str(10 * a.iters), fmt])
    print("measuring: OpenCV DNN", flush=True)
    with tempfile.TemporaryDirectory() as d:
        onnx = os.path.join(d, "d2l_googlenet.onnx")
        run_json(peer + ["export", onnx])
        r["opencv_infer128"] = run_json(peer + ["opencv", onnx, "128", t, it])
        r["opencv_infer1"] = run_json(peer + ["opencv", onnx, "1", t, str(10 * a.iters)])
    print("measuring: SGEMM", flush=True)
    r["sgemm"] = run_json(peer + ["sgemm", "2048", t, it])
    print("measuring: FMA peak", flush=True)
    r["fma_peak"] = run_json([a.fma_peak or os.path.join(os.path.dirname(a.googlenet), "fma_peak"), t])

    best = lambda key: max((r[f"{key}_nchw"], r[f"{key}_channels_last"]), key=lambda x: x["images_per_sec"])
    torch_train, torch_i128, torch_i1 = best("torch_train"), best("torch_infer128"), best("torch_infer1")
    print(f"\nD2L GoogLeNet, 96x96, {a.threads} threads; img/s (ms per iteration, median)")
    rows = [("training step, batch 128", r["ours_train"], torch_train, None),
            ("inference, batch 128", r["ours_infer128"], torch_i128, r["opencv_infer128"]),
            ("inference, batch 1", r["ours_infer1"], torch_i1, r["opencv_infer1"])]
    print(f"{'':28s} {'googlenet':>18s} {'PyTorch (best)':>18s} {'OpenCV DNN':>18s}")
    cell = lambda x: f"{x['images_per_sec']:7.1f} ({x['ms_per_iter']:7.1f})" if x else f"{'-':>18s}"
    for name, o, p, c in rows:
        print(f"{name:28s} {cell(o):>18s} {cell(p):>18s} {cell(c):>18s}")
    peak_torch = r["torch_train_nchw" if torch_train is r["torch_train_nchw"] else "torch_train_channels_last"]["peak_rss_mib"]
    ratios = [
        ("training img/s vs PyTorch", r["ours_train"]["images_per_sec"] / torch_train["images_per_sec"], ">= 2.0"),
        ("inference b128 img/s vs best peer", r["ours_infer128"]["images_per_sec"] /
         max(torch_i128["images_per_sec"], r["opencv_infer128"]["images_per_sec"]), ">= 1.6"),
        ("inference b1 latency vs OpenCV", r["ours_infer1"]["ms_per_iter"] / r["opencv_infer1"]["ms_per_iter"], "<= 0.5"),
        ("training peak RSS vs PyTorch", r["ours_train"]["peak_rss_mib"] / peak_torch, "<= 0.6"),
        ("training GFLOP/s vs SGEMM", r["ours_train"]["gflops"] / r["sgemm"]["gflops"], ">= 0.75"),
    ]
    print(f"\ntraining: {r['ours_train']['gflops']:.1f} GFLOP/s; SGEMM 2048^3: {r['sgemm']['gflops']:.1f} GFLOP/s; "
          f"peak RSS {r['ours_train']['peak_rss_mib']:.0f} MiB vs PyTorch {peak_torch:.0f} MiB")
    # Direct convolution does every multiply-add, so no engine trains faster than the FMA peak allows.
    peak, per_image = r["fma_peak"]["gflops"], r["ours_train"]["gflops"] / r["ours_train"]["images_per_sec"]
    need = 2 * torch_train["images_per_sec"] * per_image
    print(f"FMA peak ({r['fma_peak']['isa']}, {a.threads} threads): {peak:.1f} GFLOP/s; the training step runs at "
          f"{100 * r['ours_train']['gflops'] / peak:.0f}% of it, PyTorch's at "
          f"{100 * torch_train['images_per_sec'] * per_image / peak:.0f}%; 2.0x PyTorch would need {need:.0f} GFLOP/s "
          f"({100 * need / peak:.0f}% of the peak) with every multiply-add done")
    print(f"\n{'ratio':36s} {'measured':>9s} {'target':>8s}")
    for name, v, target in ratios:
        print(f"{name:36s} {v:9.2f} {target:>8s}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"figures": r, "ratios": {n: v for n, v, _ in ratios}}, f, indent=1)


if __name__ == "__main__":
    main()
