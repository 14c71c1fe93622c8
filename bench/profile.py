#!/usr/bin/python3
"""Where the training step's time goes, per primitive, from oneDNN's own timings.

Usage: bench/profile.py [--batch-size 128] [--threads 2] [--parallel batch|ops] [--googlenet build/googlenet] [--top 15]

Runs one warm-up and one timed training step of `googlenet bench` with ONEDNN_VERBOSE=profile_exec
and sums the timed step's primitives: by kind and pass (forward, backward-data, backward-weights),
and per convolution. Time outside oneDNN primitives (the loss, SGD, gradient sums, Winograd's
transforms) is the rest. With the batch split over the threads (`--parallel batch`, the default)
each thread runs its own copy of the network on its share at the same time, so the figures are
per copy: the sum over the copies divided by their number. With `--parallel ops` Winograd's
matmuls run one per thread at the same time, so their row is thread-time: it counts their wall
time about twice (and the rest comes out too small). GOOGLENET_WINOGRAD=0 profiles the direct
kernels alone.
"""
import argparse, collections, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", choices=["batch", "ops"], default="batch")
    ap.add_argument("--googlenet", default=os.path.join(HERE, "..", "build", "googlenet"))
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    env = dict(os.environ, ONEDNN_VERBOSE="profile_exec")
    p = subprocess.run([a.googlenet, "bench", "--mode", "train", "--batch-size", str(a.batch_size), "--threads",
                        str(a.threads), "--parallel", a.parallel, "--warmup", "1", "--iters", "1"],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(p.stderr)
    rows = [l.split(",") for l in p.stdout.splitlines() if l.startswith("onednn_verbose") and ",exec," in l]
    rows = rows[len(rows) // 2:]  # the timed step (warm-up and timed steps run the same primitives)
    step_ms = float(p.stdout.split(" ms/iter")[0].split(", ")[-1])
    copies = a.threads if "(batch split)" in p.stdout else 1
    by_kind = collections.defaultdict(float)
    by_conv = collections.defaultdict(lambda: collections.defaultdict(float))
    for r in rows:
        kind, impl, prop, problem, ms = r[3], r[4], r[5], r[-2], float(r[-1]) / copies
        by_kind[(kind, prop, impl)] += ms
        if kind == "convolution":
            by_conv[problem][prop] += ms
    total = sum(by_kind.values())
    how = f"batch split: per copy, on {a.batch_size // copies} images" if copies > 1 else "every op on all threads"
    print(f"training step, batch {a.batch_size}, {a.threads} threads ({how}): {step_ms:.0f} ms; "
          f"in oneDNN primitives {total:.0f} ms")
    print(f"\n{'primitive':14s} {'pass':18s} {'implementation':22s} {'ms':>8s} {'share':>6s}")
    for (kind, prop, impl), ms in sorted(by_kind.items(), key=lambda x: -x[1]):
        print(f"{kind:14s} {prop:18s} {impl:22s} {ms:8.1f} {100 * ms / step_ms:5.1f}%")
    print(f"{'(outside oneDNN)':56s} {step_ms - total:8.1f} {100 * (step_ms - total) / step_ms:5.1f}%")
    if copies == 1 and any(kind == "matmul" for kind, _, _ in by_kind):
        print("(matmul: Winograd's, one per thread at a time; thread-time, about twice their wall time)")
    print(f"\nslowest convolutions (ms: forward / backward-data / backward-weights)")
    conv_total = lambda d: sum(d.values())
    for problem, d in sorted(by_conv.items(), key=lambda x: -conv_total(x[1]))[: a.top]:
        print(f"{conv_total(d):7.1f}  {d['forward_training']:6.1f} / {d['backward_data']:6.1f} / "
              f"{d['backward_weights']:6.1f}  {problem}")


if __name__ == "__main__":
    main()
