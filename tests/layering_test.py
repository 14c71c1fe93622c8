#!/usr/bin/python3
"""The engine's layers (docs/architecture.md): graph -> passes -> execution and ops, each folder
including only what lies below it, and no environment variable of ours changing results.

Usage: layering_test.py   (CTest runs it; it reads the source tree)
"""
import glob, os, re, unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(folder):
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "src", folder, "*"))):
        with open(path) as f:
            found[os.path.relpath(path, ROOT)] = INCLUDE.findall(f.read())
    return found


class Layering(unittest.TestCase):
    def assert_only(self, folder, allowed):
        for path, names in includes(folder).items():
            for name in names:
                self.assertTrue(any(name.startswith(a) for a in allowed),
                                f"{path} includes {name}: the {folder} layer may include only {', '.join(allowed)}")

    def test_the_graph_knows_no_ops_passes_or_execution(self):
        self.assert_only("graph", ["googlenet/graph.h", "googlenet/shape_rules.h", "googlenet/error.h"])

    def test_the_passes_know_the_graph_not_the_ops(self):
        self.assert_only("passes", ["passes/", "googlenet/graph.h", "googlenet/options.h", "googlenet/error.h"])

    def test_the_executors_know_no_net(self):
        self.assert_only("execution", ["execution/", "core/runtime.h", "core/threads.h", "core/bf16.h", "googlenet/", "ops/ops.h"])
        for path, names in includes("execution").items():
            self.assertNotIn("googlenet/net.h", names, f"{path}: an executor runs a Program, not a Net")

    def test_ops_know_no_executor(self):
        for path, names in includes("ops").items():
            for name in names:
                self.assertFalse(name.startswith("execution/"), f"{path} includes {name}")
            with open(os.path.join(ROOT, path)) as f:
                text = f.read()
            for word in ("SplitShare", "Meeting", "copies_", "BackwardStep"):
                self.assertNotIn(word, text, f"{path} refers to the executor's {word}")

    def test_calibration_uses_the_nets_public_interface(self):
        self.assert_only("quant", ["googlenet/", "core/runtime.h"])
        for path, names in includes("quant").items():
            self.assertIn("googlenet/net.h", names, path)

    def test_no_environment_variable_of_ours_changes_the_engine(self):
        for path in glob.glob(os.path.join(ROOT, "src", "**", "*.*"), recursive=True):
            with open(path) as f:
                self.assertIsNone(re.search(r'getenv\("GOOGLENET_', f.read()), path)

    def test_the_check_can_fail(self):
        with self.assertRaises(AssertionError):
            self.assert_only("ops", ["googlenet/graph.h"])  # every op includes core/runtime.h


if __name__ == "__main__":
    unittest.main()
