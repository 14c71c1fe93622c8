#!/usr/bin/python3
"""One measurement of a peer, in its own process so that its peak memory is its own.

Usage: peer.py torch {train,infer} BATCH THREADS ITERS {nchw,channels_last}
       peer.py opencv MODEL.onnx BATCH THREADS ITERS
       peer.py sgemm N THREADS ITERS
       peer.py export OUT.onnx
Prints one JSON object: images_per_sec, ms_per_iter (median), peak_rss_mib (and gflops for sgemm).
"""
import json, os, resource, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))


def timed(step, warmup, iters):
    for _ in range(warmup):
        step()
    ms = []
    for _ in range(iters):
        t = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms), min(ms)


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def torch_peer(mode, batch, threads, iters, fmt):
    import torch
    from torch import nn
    from reference_googlenet import d2l_googlenet
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = d2l_googlenet()
    x = torch.rand(batch, 1, 96, 96)
    y = torch.randint(0, 10, (batch,))
    if fmt == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if mode == "train":
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
    else:
        net.eval()

        def step():
            with torch.no_grad():
                net(x)
    med, best = timed(step, 2 if mode == "train" else 3, iters)
    return {"images_per_sec": batch / (med / 1000), "ms_per_iter": med, "ms_best": best, "peak_rss_mib": rss_mib(),
            "version": torch.__version__}


def opencv_peer(model, batch, threads, iters):
    import cv2
    import numpy as np
    cv2.setNumThreads(threads)
    net = cv2.dnn.readNetFromONNX(model)
    x = np.random.rand(batch, 1, 96, 96).astype(np.float32)

    def step():
        net.setInput(x)
        net.forward()
    med, best = timed(step, 3, iters)
    return {"images_per_sec": batch / (med / 1000), "ms_per_iter": med, "ms_best": best, "peak_rss_mib": rss_mib(),
            "version": cv2.__version__}


def sgemm(n, threads, iters):
    # numpy's matmul goes to the system BLAS (OpenBLAS once libopenblas0-pthread is installed);
    # the thread count must be set before numpy loads it.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy as np
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    med, best = timed(lambda: a @ b, 2, iters)
    return {"gflops": 2 * n ** 3 / (med / 1000) / 1e9, "ms_per_iter": med, "blas": "numpy matmul, system BLAS"}


def export(out):
    import torch
    from reference_googlenet import d2l_googlenet
    torch.manual_seed(0)
    net = d2l_googlenet().eval()
    torch.onnx.export(net, torch.rand(1, 1, 96, 96), out, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13)
    return {"onnx": out}


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "torch":
        r = torch_peer(args[0], int(args[1]), int(args[2]), int(args[3]), args[4])
    elif kind == "opencv":
        r = opencv_peer(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif kind == "sgemm":
        r = sgemm(int(args[0]), int(args[1]), int(args[2]))
    elif kind == "export":
        r = export(args[0])
    else:
        sys.exit(f"unknown peer {kind}")
    print(json.dumps(r))
