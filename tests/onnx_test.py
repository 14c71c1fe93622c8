#!/usr/bin/python3
"""ONNX out and in, judged by runtimes that are not ours: OpenCV DNN runs what `googlenet export`
writes, and PyTorch, torchvision and OpenCV give the logits that `googlenet import`ed graphs must give.

Usage: onnx_test.py GOOGLENET_BINARY   (CTest passes it; needs Debian's python3-torch,
python3-torchvision, python3-opencv, python3-onnx and python3-pil)
Logits are compared within 1e-4 (the bound the network tests use against PyTorch); the top-1
class must be the same for every image.
"""
import json, os, struct, subprocess, sys, tempfile, unittest

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_fixtures import idx  # noqa: E402
from reference_googlenet import d2l_googlenet, paper_googlenet  # noqa: E402

BIN = None
DATA = "/usr/share/datasets/fashion-mnist"
TOL = 1e-4


def run(*args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)
    if ok and p.returncode != 0:
        raise AssertionError(f"googlenet {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = np.array(t.detach().numpy() if torch.is_tensor(t) else t, dtype=np.float32, order="C")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def our_logits(tmp, x, *args):
    """googlenet predict on exactly these inputs (N x C x H x W), logits per row."""
    path = os.path.join(tmp, "input.safetensors")
    write_safetensors(path, {"input": x})
    p = run("predict", "--tensor", path, "--json", "--logits", "--threads", "2", *args)
    return np.array([r["logits"] for r in json.loads(p.stdout)["predictions"]])


def opencv_logits(onnx_path, x):
    net = cv2.dnn.readNetFromONNX(onnx_path)
    net.setInput(x)
    return net.forward()


def fashion_mnist(n, size):
    from PIL import Image
    images = idx(f"{DATA}/t10k-images-idx3-ubyte.gz")[:n]
    return np.stack([np.asarray(Image.fromarray(i).resize((size, size), Image.BILINEAR), np.float32)[None] / 255.0
                     for i in images])


def random_batchnorm_statistics(net, seed):
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def torchvision_googlenet():
    import torchvision
    torch.manual_seed(3)
    net = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True)
    random_batchnorm_statistics(net, 4)
    return net.eval()


class Onnx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        t = cls.tmp.name
        # Weights for each built-in model, made by the PyTorch references.
        torch.manual_seed(1)
        cls.d2l = d2l_googlenet().eval()
        cls.paper = paper_googlenet(size=96).eval()
        cls.tv = torchvision_googlenet()
        cls.weights = {}
        for name, net in [("d2l", cls.d2l), ("paper", cls.paper), ("torchvision", cls.tv)]:
            cls.weights[name] = os.path.join(t, f"{name}.safetensors")
            write_safetensors(cls.weights[name], {k: v.float() for k, v in net.state_dict().items()})

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def export(self, model, size):
        out = self.path(f"{model}-{size}.onnx")
        p = run("export", "--model", model, "--weights", self.weights[model], "--size", str(size), "--onnx", out)
        self.assertIn(f"written: {out}", p.stdout)
        onnx.checker.check_model(onnx.load(out), full_check=True)
        return out

    def assert_same(self, ours, theirs, what):
        self.assertEqual(ours.shape, theirs.shape, what)
        err = np.abs(ours - theirs).max()
        self.assertLess(err, TOL, f"{what}: largest logit difference {err}")
        np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1), what)

    def test_export_runs_in_opencv_with_our_logits(self):
        rng = np.random.RandomState(0)
        cases = [("d2l", 96, fashion_mnist(8, 96)), ("paper", 96, rng.randn(3, 3, 96, 96).astype(np.float32)),
                 ("torchvision", 64, rng.randn(3, 3, 64, 64).astype(np.float32))]
        for model, size, x in cases:
            with self.subTest(model=model):
                path = self.export(model, size)
                g = onnx.load(path).graph
                self.assertEqual(g.input[0].type.tensor_type.shape.dim[0].dim_param, "N")  # any batch size
                self.assertNotIn("Dropout", [n.op_type for n in g.node])
                ours = our_logits(self.tmp.name, x, "--model", model, "--weights", self.weights[model],
                                  "--resize", str(size))
                self.assert_same(ours, opencv_logits(path, x), f"{model}: OpenCV DNN")
                ref = {"d2l": self.d2l, "paper": self.paper, "torchvision": self.tv}[model]
                with torch.no_grad():
                    self.assert_same(ours, ref(torch.from_numpy(x)).numpy(), f"{model}: PyTorch")

    def test_export_then_import_gives_the_same_network(self):
        x = fashion_mnist(4, 96)
        path = self.export("d2l", 96)
        weights = self.path("roundtrip.safetensors")
        run("import", "--onnx", path, "--out", weights)
        model = self.path("roundtrip.json")
        with open(model) as f:
            self.assertEqual(json.load(f)["name"], "d2l-96")
        a = our_logits(self.tmp.name, x, "--weights", self.weights["d2l"])
        b = our_logits(self.tmp.name, x, "--model", model, "--weights", weights)
        self.assert_same(a, b, "d2l after export and import")
        # the same tensor names as the original: the state_dict's
        from cli_test import read_safetensors
        self.assertEqual(sorted(read_safetensors(weights)), sorted(self.d2l.state_dict()))

    def import_torch(self, name, net, x, **export_args):
        path = self.path(f"{name}.onnx")
        torch.onnx.export(net, torch.from_numpy(x[:1]), path, input_names=["images"], output_names=["scores"],
                          dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}}, opset_version=13,
                          **export_args)
        weights, model = self.path(f"{name}.safetensors"), self.path(f"{name}.json")
        run("import", "--onnx", path, "--out", weights, "--model-out", model)
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        self.assert_same(our_logits(self.tmp.name, x, "--model", model, "--weights", weights), ref, name)
        with open(model) as f:
            return json.load(f)

    def test_import_pytorch_exports_of_d2l_and_torchvision(self):
        self.import_torch("torch-d2l", self.d2l, fashion_mnist(4, 96))
        x = np.random.RandomState(1).randn(3, 3, 64, 64).astype(np.float32)
        model = self.import_torch("torch-torchvision", self.tv, x)
        self.assertEqual(model["input"], {"channels": 3, "size": 64})
        # kept as batch norm, or folded into the convolutions by the exporter: either way the logits hold
        model = self.import_torch("torch-torchvision-training-export", self.tv, x,
                                  training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        self.assertIn('"batch_norm"', json.dumps(model))

    def test_import_the_model_zoo_layout(self):
        self.check_zoo_layout("zoo", matmul=False)

    def test_import_a_linear_layer_as_matmul_and_add(self):
        self.check_zoo_layout("zoo-matmul", matmul=True)

    def check_zoo_layout(self, name, matmul):
        path = self.path(f"{name}.onnx")
        onnx.save(caffe_googlenet(np.random.RandomState(5), matmul=matmul), path)
        weights, model = self.path(f"{name}.safetensors"), self.path(f"{name}.json")
        p = run("import", "--onnx", path, "--out", weights, "--model-out", model)
        self.assertIn("Softmax is left out", p.stdout)
        self.assertIn("Reshape to [1, 1024] read as a flatten", p.stdout)
        x = np.random.RandomState(6).uniform(0, 255, (2, 3, 224, 224)).astype(np.float32)
        ours = our_logits(self.tmp.name, x, "--model", model, "--weights", weights, "--top", "1")
        # OpenCV gives the graph's softmax, one image at a time (the graph's Reshape fixes the batch
        # at 1); compare log-probabilities, which keep the logits' scale.
        theirs = np.concatenate([opencv_logits(path, x[i:i + 1]) for i in range(len(x))])
        log_ours = torch.log_softmax(torch.from_numpy(ours), 1).numpy()
        self.assert_same(log_ours, np.log(theirs), "model zoo layout")
        with open(model) as f:
            layers = json.dumps(json.load(f)["body"])
        for layer in ('"normalize"', '"lrn"', '"ceil": true', '"branches"', '"dropout"'):
            self.assertIn(layer, layers)

    def test_unsupported_graphs_are_named(self):
        g = caffe_googlenet(np.random.RandomState(5))
        relu = next(n for n in g.graph.node if n.op_type == "Relu")
        relu.op_type = "Sigmoid"
        path = self.path("sigmoid.onnx")
        onnx.save(g, path)
        p = run("import", "--onnx", path, "--out", self.path("x.safetensors"), ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}: node 'conv1/relu_7x7_s2' (Sigmoid): this op is not supported", p.stderr)
        self.assertFalse(os.path.exists(self.path("x.safetensors")))
        junk = self.path("junk.onnx")
        with open(junk, "wb") as f:
            f.write(b"\x0a\xff\xff\xff\xff not protobuf")
        p = run("import", "--onnx", junk, "--out", self.path("x.safetensors"), ok=False)
        self.assertIn(f"{junk}: not an ONNX model", p.stderr)


def caffe_googlenet(rng, classes=1000, matmul=False):
    """A graph laid out as the ONNX model zoo's GoogLeNet (BVLC's Caffe model, converted): Caffe's
    names, pools that round up written as extra end padding, LRN, 7x7 average pool, Dropout, a
    Reshape to [1, 1024], Gemm and Softmax; here also the mean subtraction in the graph."""
    nodes, inits = [], []

    def const(name, a):
        inits.append(numpy_helper.from_array(np.asarray(a, np.float32), name))
        return name

    def conv(x, name, cin, cout, k, stride=1, pad=0):
        w = const(f"{name}_w_0", rng.randn(cout, cin, k, k) * np.sqrt(2.0 / (cin * k * k)))
        b = const(f"{name}_b_0", rng.randn(cout) * 0.01)
        nodes.append(helper.make_node("Conv", [x, w, b], [name], name=name, kernel_shape=[k, k], strides=[stride] * 2,
                                      pads=[pad] * 4))
        relu = name.rsplit("/", 1)[0] + "/relu_" + name.rsplit("/", 1)[1]
        nodes.append(helper.make_node("Relu", [name], [relu], name=relu))
        return relu

    def pool(x, name, k, stride, pads, op="MaxPool"):
        nodes.append(helper.make_node(op, [x], [name], name=name, kernel_shape=[k, k], strides=[stride] * 2, pads=pads))
        return name

    def lrn(x, name):
        nodes.append(helper.make_node("LRN", [x], [name], name=name, size=5, alpha=1e-4, beta=0.75, bias=1.0))
        return name

    def inception(x, name, cin, c1, c2, c3, c4):
        p1 = conv(x, f"{name}/1x1", cin, c1, 1)
        p2 = conv(conv(x, f"{name}/3x3_reduce", cin, c2[0], 1), f"{name}/3x3", c2[0], c2[1], 3, pad=1)
        p3 = conv(conv(x, f"{name}/5x5_reduce", cin, c3[0], 1), f"{name}/5x5", c3[0], c3[1], 5, pad=2)
        p4 = conv(pool(x, f"{name}/pool", 3, 1, [1, 1, 1, 1]), f"{name}/pool_proj", cin, c4, 1)
        nodes.append(helper.make_node("Concat", [p1, p2, p3, p4], [f"{name}/output"], name=f"{name}/output", axis=1))
        return f"{name}/output"

    nodes.append(helper.make_node("Sub", ["data_0", const("mean", np.array([104, 117, 123]).reshape(1, 3, 1, 1))],
                                  ["data_centred"], name="mean_subtraction"))
    x = conv("data_centred", "conv1/7x7_s2", 3, 64, 7, 2, 3)
    x = lrn(pool(x, "pool1/3x3_s2", 3, 2, [0, 0, 1, 1]), "pool1/norm1")
    x = conv(x, "conv2/3x3_reduce", 64, 64, 1)
    x = pool(lrn(conv(x, "conv2/3x3", 64, 192, 3, pad=1), "conv2/norm2"), "pool2/3x3_s2", 3, 2, [0, 0, 1, 1])
    x = inception(x, "inception_3a", 192, 64, (96, 128), (16, 32), 32)
    x = inception(x, "inception_3b", 256, 128, (128, 192), (32, 96), 64)
    x = pool(x, "pool3/3x3_s2", 3, 2, [0, 0, 1, 1])
    for name, cin, c in [("4a", 480, (192, (96, 208), (16, 48), 64)), ("4b", 512, (160, (112, 224), (24, 64), 64)),
                         ("4c", 512, (128, (128, 256), (24, 64), 64)), ("4d", 512, (112, (144, 288), (32, 64), 64)),
                         ("4e", 528, (256, (160, 320), (32, 128), 128))]:
        x = inception(x, f"inception_{name}", cin, *c)
    x = pool(x, "pool4/3x3_s2", 3, 2, [0, 0, 1, 1])
    x = inception(x, "inception_5a", 832, 256, (160, 320), (32, 128), 128)
    x = inception(x, "inception_5b", 832, 384, (192, 384), (48, 128), 128)
    x = pool(x, "pool5/7x7_s1", 7, 1, [0, 0, 0, 0], "AveragePool")
    nodes.append(helper.make_node("Dropout", [x], ["pool5/drop_7x7_s1"], name="pool5/drop_7x7_s1", ratio=0.4))
    shape = numpy_helper.from_array(np.array([1, 1024], np.int64), "OC2_DUMMY_1")
    inits.append(shape)
    nodes.append(helper.make_node("Reshape", ["pool5/drop_7x7_s1", "OC2_DUMMY_1"], ["OC2_DUMMY_0"], name="OC2_DUMMY_0"))
    # small, so that the softmax of features on the scale of raw pixels (0-255) does not saturate
    w = rng.randn(classes, 1024) * 5e-4
    b = const("loss3/classifier_b_0", rng.randn(classes) * 0.01)
    if matmul:  # as other exporters write a linear layer: MatMul by [in, out], then Add
        nodes.append(helper.make_node("MatMul", ["OC2_DUMMY_0", const("loss3/classifier_w_0", w.T)], ["loss3/mm"],
                                      name="loss3/matmul"))
        nodes.append(helper.make_node("Add", ["loss3/mm", b], ["loss3/classifier_1"], name="loss3/classifier"))
    else:
        nodes.append(helper.make_node("Gemm", ["OC2_DUMMY_0", const("loss3/classifier_w_0", w), b], ["loss3/classifier_1"],
                                      name="loss3/classifier", transB=1))
    nodes.append(helper.make_node("Softmax", ["loss3/classifier_1"], ["prob_1"], name="prob"))
    graph = helper.make_graph(nodes, "googlenet", [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("prob_1", TensorProto.FLOAT, [1, classes])], inits)
    return helper.make_model(graph, producer_name="onnx-caffe2", opset_imports=[helper.make_opsetid("", 9)])


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
