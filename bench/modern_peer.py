#!/usr/bin/env python3
"""One measurement of a modern peer, in its own process so that its peak memory is its own. Runs
with the peers' venv (scripts/setup.sh --bench: PyPI's PyTorch 2.x, ONNX Runtime, OpenVINO).

Usage: modern_peer.py PEER MODE BATCH THREADS ITERS [--model d2l|torchvision] [--onnx FILE]
  PEER: torch-fp32-nchw, torch-fp32-cl (channels_last), torch-bf16-cl (autocast bf16, channels_last),
        ort-fp32, ort-int8 (static QDQ, per-channel weights, uint8 activations), ov-fp32 (f32 forced),
        ov-default (OpenVINO's own precision: bf16 on CPUs that have it)
  MODE: train (torch only: forward, loss, backward, SGD step) or infer
  --onnx: for ort and ov, the ONNX file (exported once by `modern_peer.py export OUT --model M`)
Prints one JSON object: images_per_sec, ms_per_iter (median), ms_best, peak_rss_mib, version.

d2l: D2L's GoogLeNet at 96x96x1 (tools/reference_googlenet.py, the network the tests hold ours to);
torchvision: torchvision's googlenet at 224x224x3, training with its two auxiliary heads weighted
0.3, inference without them. OpenVINO runs one stream, with its LATENCY hint at batch 1 and its
THROUGHPUT hint at larger batches; ONNX Runtime one intra-op pool of THREADS and no inter-op one.
"""
import argparse, json, os, sys

# bench/ after the standard library, not first: its profile.py would shadow the standard module
# that torch imports.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[0] = os.path.join(HERE, "..", "tools")
sys.path.append(HERE)
from peer import rss_mib, timed  # noqa: E402  (the same timing as the classic peers')


def shape(model):
    return (3, 224) if model == "torchvision" else (1, 96)


def make_net(model, train):
    import torch
    torch.manual_seed(0)
    if model == "d2l":
        from reference_googlenet import d2l_googlenet
        return d2l_googlenet()
    import torchvision
    return torchvision.models.googlenet(weights=None, aux_logits=train, init_weights=True)


def torch_peer(a, fmt, bf16):
    import torch
    from torch import nn
    torch.set_num_threads(a.threads)
    c, s = shape(a.model)
    net = make_net(a.model, a.mode == "train")
    x = torch.rand(a.batch, c, s, s)
    y = torch.randint(0, 10 if a.model == "d2l" else 1000, (a.batch,))
    if fmt == "cl":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if a.mode == "train":
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()

        def loss_of(out):  # torchvision's training output: the logits and both heads'
            if isinstance(out, tuple):
                return loss_fn(out[0], y) + 0.3 * (loss_fn(out[1], y) + loss_fn(out[2], y))
            return loss_fn(out, y)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_of(net(x))
            loss.backward()
            opt.step()
    else:
        net.eval()

        def step():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                net(x)
    return timed(step, 2 if a.mode == "train" else 3, a.iters), torch.__version__


def export(a):
    import torch
    c, s = shape(a.model)
    net = make_net(a.model, False).eval()
    torch.onnx.export(net, torch.rand(1, c, s, s), a.out, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Calibration(CalibrationDataReader):  # random images: the speed does not depend on the scales
        def __init__(self):
            rng = np.random.default_rng(0)
            self.batches = iter([{"x": rng.random((8, c, s, s), dtype=np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)
    quantize_static(a.out, a.out.replace(".onnx", ".int8.onnx"), Calibration(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return {"onnx": a.out, "int8": a.out.replace(".onnx", ".int8.onnx")}


def ort_peer(a, path):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = a.threads, 1
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    c, s = shape(a.model)
    x = np.random.default_rng(0).random((a.batch, c, s, s), dtype=np.float32)
    return timed(lambda: session.run(None, {"x": x}), 3, a.iters), ort.__version__


def ov_peer(a, config):
    import numpy as np
    import openvino as ov
    c, s = shape(a.model)
    model = ov.Core().read_model(a.onnx)
    model.reshape([a.batch, c, s, s])
    compiled = ov.Core().compile_model(model, "CPU", {**config, "INFERENCE_NUM_THREADS": a.threads, "NUM_STREAMS": 1,
                                                       "PERFORMANCE_HINT": "LATENCY" if a.batch == 1 else "THROUGHPUT"})
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).random((a.batch, c, s, s), dtype=np.float32)
    precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # what it chose: f32, bf16
    return timed(lambda: request.infer({0: x}), 3, a.iters), f"{ov.__version__.split('-')[0]} ({precision})"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "export":
        ap = argparse.ArgumentParser()
        ap.add_argument("what")
        ap.add_argument("out")
        ap.add_argument("--model", default="d2l", choices=["d2l", "torchvision"])
        print(json.dumps(export(ap.parse_args())))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("peer", choices=["torch-fp32-nchw", "torch-fp32-cl", "torch-bf16-cl", "ort-fp32", "ort-int8",
                                     "ov-fp32", "ov-default"])
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("batch", type=int)
    ap.add_argument("threads", type=int)
    ap.add_argument("iters", type=int)
    ap.add_argument("--model", default="d2l", choices=["d2l", "torchvision"])
    ap.add_argument("--onnx")
    a = ap.parse_args()
    if a.mode == "train" and not a.peer.startswith("torch"):
        ap.error(f"{a.peer} does not train")
    if not a.peer.startswith("torch") and not a.onnx:
        ap.error(f"{a.peer} needs --onnx")
    if a.peer.startswith("torch"):
        (med, best), version = torch_peer(a, a.peer.rsplit("-", 1)[1], "bf16" in a.peer)
    elif a.peer.startswith("ort"):
        (med, best), version = ort_peer(a, a.onnx if a.peer == "ort-fp32" else a.onnx.replace(".onnx", ".int8.onnx"))
    else:
        (med, best), version = ov_peer(a, {"INFERENCE_PRECISION_HINT": "f32"} if a.peer == "ov-fp32" else {})
    print(json.dumps({"images_per_sec": a.batch / (med / 1000), "ms_per_iter": med, "ms_best": best,
                      "peak_rss_mib": rss_mib(), "version": version}))


if __name__ == "__main__":
    main()
