// Weights files: round trip, PyTorch's files load here, and every malformed file gets an error
// that names the file and the tensor.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_all(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), long(bytes.size()));
}

// A raw safetensors file with the given JSON header and `data_bytes` zero bytes of data.
std::string raw_file(const std::string& header, size_t data_bytes) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[size_t(i)] = char(uint64_t(header.size()) >> (8 * i));
    return s + header + std::string(data_bytes, '\0');
}

}  // namespace

TEST(Weights, RoundTripKeepsEveryBit) {
    Net a = d2l_googlenet();
    init_params(a.params(), 42);
    const std::string path = temp_path("roundtrip.safetensors");
    save_weights(path, a.params());
    Net b = d2l_googlenet();
    load_weights(path, b.params());
    ASSERT_EQ(a.params().total(), b.params().total());
    EXPECT_EQ(0, std::memcmp(a.params().values().data(), b.params().values().data(), a.params().total() * 4));
}

TEST(Weights, PyTorchStateDictLoadsAndGivesPyTorchsLogits) {
    // d2l_state_dict.safetensors is net.state_dict() as PyTorch's user would save it.
    Net net = d2l_googlenet();
    load_weights(fixture_path("d2l_state_dict.safetensors"), net.params());
    const Fixture f("googlenet.safetensors");
    net.set_batch(4);
    const float* logits = net.forward(f["input"].data());
    EXPECT_TENSOR_NEAR(logits, f["logits"].data(), 40, 1e-4, "logits from PyTorch's weights file");
}

TEST(Weights, InitialisationFollowsPyTorchsBounds) {
    Net net = d2l_googlenet();
    init_params(net.params(), 3);
    const ParamStore& ps = net.params();
    for (int i = 0; i < int(ps.list().size()); ++i) {
        const Param& p = ps.param(i);
        const double bound = p.is_bias ? 1 / std::sqrt(double(p.fan_in)) : std::sqrt(6.0 / (p.fan_in + p.fan_out));
        double lo = 0, hi = 0, sum = 0;
        for (size_t j = 0; j < p.size; ++j) {
            lo = std::min(lo, double(ps.value(i)[j]));
            hi = std::max(hi, double(ps.value(i)[j]));
            sum += ps.value(i)[j];
        }
        EXPECT_LE(hi, bound) << p.name;
        EXPECT_GE(lo, -bound) << p.name;
        if (p.size > 1000) {
            EXPECT_GT(hi, 0.95 * bound) << p.name;  // it fills the range
            EXPECT_LT(std::fabs(sum / double(p.size)), 0.05 * bound) << p.name;
        }
    }
}

TEST(Weights, MissingExtraAndWrongShapedTensorsAreNamed) {
    ParamStore small;
    small.add("a.weight", {2, 3}, 3, 2, false);
    small.add("a.bias", {2}, 3, 2, true);
    small.allocate();
    const std::string path = temp_path("small.safetensors");
    const float data[6] = {1, 2, 3, 4, 5, 6};

    write_safetensors(path, {{"a.weight", {2, 3}, data}});
    expect_error([&] { load_weights(path, small); }, "small.safetensors: tensor 'a.bias' is missing");

    write_safetensors(path, {{"a.weight", {2, 3}, data}, {"a.bias", {2}, data}, {"b.weight", {1}, data}});
    expect_error([&] { load_weights(path, small); }, "tensor 'b.weight' is not a parameter of this model");

    write_safetensors(path, {{"a.weight", {3, 2}, data}, {"a.bias", {2}, data}});
    expect_error([&] { load_weights(path, small); }, "tensor 'a.weight' has shape [3, 2], the model needs [2, 3]");

    write_safetensors(path, {{"a.weight", {2, 3}, data}, {"a.bias", {2}, data}});
    load_weights(path, small);
    EXPECT_EQ(small.value(1)[1], 2.0f);
}

TEST(Weights, MalformedFilesAreRejected) {
    const std::string path = temp_path("bad.safetensors");
    expect_error([&] { read_safetensors(temp_path("nope.safetensors")); }, "nope.safetensors: cannot open");
    write_all(path, "abc");
    expect_error([&] { read_safetensors(path); }, "bad.safetensors: not a valid safetensors file: shorter than 8 bytes");
    write_all(path, raw_file("{\"x\": {", 0));
    expect_error([&] { read_safetensors(path); }, "header is not a JSON object");
    write_all(path, std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8) + "{}");
    expect_error([&] { read_safetensors(path); }, "header size 4294967295 exceeds the file");
    write_all(path, raw_file(R"({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", 4));
    expect_error([&] { read_safetensors(path); }, "tensor 'w': dtype \"F16\" is not supported");
    write_all(path, raw_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4));
    expect_error([&] { read_safetensors(path); }, "tensor 'w': data [0, 8) lies outside the 4 data bytes");
    write_all(path, raw_file(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8));
    expect_error([&] { read_safetensors(path); }, "tensor 'w': holds 8 bytes but shape [3] needs 12");
    write_all(path, raw_file(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}})", 8));
    expect_error([&] { read_safetensors(path); }, "tensor 'w': shape [-1] is not a list of sizes");
}

TEST(Weights, TruncatedFileIsRejectedAndAtomicWriteKeepsTheOldFile) {
    Net net = d2l_googlenet();
    init_params(net.params(), 1);
    const std::string path = temp_path("trunc.safetensors");
    save_weights(path, net.params());
    const std::string bytes = read_all(path);
    write_all(path, bytes.substr(0, bytes.size() / 2));
    expect_error([&] { load_weights(path, net.params()); }, "trunc.safetensors: tensor '");

    // A write that fails part-way leaves the previous file untouched.
    save_weights(path, net.params());
    expect_error([&] {
        write_file_atomic(path, [](std::FILE*) { throw Error("simulated failure"); });
    }, "simulated failure");
    EXPECT_EQ(read_all(path), bytes);
    expect_error([&] { save_weights("/nonexistent-dir/w.safetensors", net.params()); },
                 "cannot write /nonexistent-dir/w.safetensors");
}

TEST(Weights, WriteFailureMidFileGivesAClearErrorAndKeepsTheOldFile) {
    // A file-size limit makes writes fail part-way, as a full disk does (EFBIG instead of ENOSPC).
    Net net = d2l_googlenet();
    init_params(net.params(), 1);
    const std::string path = temp_path("full.safetensors");
    write_all(path, "previous contents");
    rlimit old{};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 1 << 20;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
    std::string message;
    try {
        save_weights(path, net.params());
    } catch (const Error& e) {
        message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_NE(message.find("cannot write " + path + ": File too large"), std::string::npos) << message;
    EXPECT_EQ(read_all(path), "previous contents");
    EXPECT_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good()) << "temporary file left behind";
}

TEST(Weights, KeepTheirModelAndFormatVersion) {
    const ModelSpec paper = load_model("paper"), d2l = load_model("d2l");
    Net net = build_net(d2l);
    init_params(net.params(), 1);
    const std::string path = temp_path("with-model.safetensors");
    save_weights(path, net.params(), d2l.text);
    const auto meta = read_safetensors_metadata(path);
    EXPECT_EQ(meta.at("format"), "pt");  // what PyTorch's safetensors writes: its readers take the file
    EXPECT_EQ(meta.at("googlenet.format_version"), std::to_string(kFileFormatVersion));
    EXPECT_EQ(meta.at("googlenet.model"), d2l.text);
    EXPECT_EQ(model_for_weights(path, "").name, "d2l");  // the file's own, without --model
    EXPECT_EQ(model_for_weights(path, "d2l").name, "d2l");
    expect_error([&] { model_for_weights(path, "paper"); },
                 "--model paper does not match " + path + ": the file was saved with model 'd2l' (kept in it), and "
                 "'paper' is another network");
    // The same network under another name is the same model.
    std::string renamed = d2l.text;
    renamed.replace(renamed.find("\"d2l\""), 5, "\"mine\"");
    const std::string mine = temp_path("mine.json");
    write_all(mine, renamed);
    EXPECT_EQ(model_for_weights(path, mine).name, "mine");
    // A file without a model (PyTorch's, googlenet 0.1's) takes --model, or d2l.
    const std::string plain = temp_path("no-model.safetensors");
    write_safetensors(plain, named_tensors(net.params()), {{"format", "pt"}});
    EXPECT_EQ(model_for_weights(plain, "").name, "d2l");
    EXPECT_EQ(model_for_weights(plain, "paper").name, paper.name);
}

TEST(Weights, FilesOfALaterFormatVersionAreRefused) {
    Net net = d2l_googlenet();
    init_params(net.params(), 1);
    const std::string path = temp_path("future.safetensors");
    const std::string later = std::to_string(kFileFormatVersion + 1);
    write_safetensors(path, named_tensors(net.params()), {{"googlenet.format_version", later}});
    const std::string message = path + ": written in googlenet file format version " + later +
                                ", newer than this googlenet reads (" + std::to_string(kFileFormatVersion) + ")";
    expect_error([&] { load_weights(path, net.params()); }, message);
    expect_error([&] { load_weights(path, net); }, message);
    expect_error([&] { model_for_weights(path, ""); }, message);
    write_safetensors(path, named_tensors(net.params()), {{"googlenet.format_version", "one"}});
    expect_error([&] { load_weights(path, net.params()); }, "googlenet.format_version 'one' is not a number");
    write_safetensors(path, named_tensors(net.params()), {{"googlenet.format_version", std::to_string(kFileFormatVersion)}});
    load_weights(path, net.params());  // its own version loads
}
