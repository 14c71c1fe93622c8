// Model files (docs/models.md): models/d2l.json builds exactly D2L's network, a user's variant
// builds what it says, and every kind of mistake is reported with the file and the key or line.
#include <gtest/gtest.h>

#include <fstream>

#include "googlenet/summary.h"
#include "googlenet/models.h"
#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using googlenet::testing::expect_error;

namespace {

const char* kHead = R"({"name": "t", "input": {"channels": 1, "size": 32}, "classes": 10, "body": )";

std::string model(const std::string& body) { return std::string(kHead) + body + "}"; }

TEST(ModelFile, BuiltInD2lIsExactlyTheHandWrittenNetwork) {
    const ModelSpec spec = load_model("d2l");
    EXPECT_EQ(spec.name, "d2l");
    EXPECT_EQ((std::vector<int>{spec.in_channels, spec.input_size, spec.classes}), (std::vector<int>{1, 96, 10}));
    Net from_file = build_net(spec), by_hand = d2l_googlenet();
    ASSERT_EQ(from_file.params().list().size(), by_hand.params().list().size());
    for (size_t i = 0; i < by_hand.params().list().size(); ++i) {
        EXPECT_EQ(from_file.params().list()[i].name, by_hand.params().list()[i].name);
        EXPECT_EQ(from_file.params().list()[i].dims, by_hand.params().list()[i].dims);
    }
    EXPECT_EQ(macs_per_image(from_file), 276066304);
    EXPECT_EQ(summary(from_file), summary(by_hand));  // every layer, shape and block label
    EXPECT_EQ(summary(build_net(spec, 224)), summary(d2l_googlenet(1, 10, 224)));
}

TEST(ModelFile, AUsersVariantBuildsWhatItSays) {
    const ModelSpec spec = parse_model(model(R"([
        {"block": "stem", "layers": [{"conv": {"out": 8, "kernel": 3, "pad": 1}}, "relu", {"max_pool": {"kernel": 2}}]},
        {"block": "inc", "layers": [{"inception": [4, [4, 8], [2, 4], 4]}, {"avg_pool": {"kernel": 2, "stride": 2}}]},
        "global_avg_pool", "flatten",
        {"linear": {"out": "classes"}, "name": "fc"}])"),
                                       "variant.json");
    Net net = build_net(spec);
    EXPECT_EQ(net.params().list().front().name, "0.0.weight");
    EXPECT_GE(net.params().find("1.0.p3_2.weight"), 0);
    EXPECT_EQ(net.params().list().back().name, "fc.bias");
    EXPECT_EQ(net.value(net.output()).shape, (Shape{1, 10, 1, 1}));
    const std::string text = summary(net);
    EXPECT_NE(text.find("inc output shape: [1, 20, 8, 8]"), std::string::npos) << text;
    init_params(net.params(), 1);
    net.set_batch(2);
    std::vector<float> x(2 * 32 * 32, 0.25f);
    net.forward(x.data());
}

TEST(ModelFile, LrnDropoutAndCeilPoolsAreRead) {
    const ModelSpec spec = parse_model(model(R"([
        {"block": "b", "layers": [{"conv": {"out": 8, "kernel": 3}}, "relu", {"max_pool": {"kernel": 3, "stride": 2, "ceil": true}},
                                  {"lrn": {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1}}]},
        "global_avg_pool", {"dropout": {"p": 0.4}}, {"linear": {"out": "classes"}}])"),
                                       "m.json");
    const std::string text = summary(build_net(spec));
    EXPECT_NE(text.find("max-pool 3x3/2 ceil"), std::string::npos) << text;
    EXPECT_NE(text.find("b output shape: [1, 8, 15, 15]"), std::string::npos) << text;  // 30 -> 15 (ceil)
    EXPECT_NE(text.find("lrn size 5, alpha 0.0001, beta 0.75, k 1"), std::string::npos) << text;
    EXPECT_NE(text.find("dropout p=0.4"), std::string::npos) << text;
    expect_error([] { parse_model(model(R"([{"lrn": {"size": 4}}])"), "m.json"); }, "m.json: body[0].lrn.size: must be odd, not 4");
    expect_error([] { parse_model(model(R"([{"dropout": {"p": 1.5}}])"), "m.json"); }, "m.json: body[0].dropout.p: must be in [0, 1), not 1.5");
    expect_error([] { parse_model(model(R"([{"max_pool": {"kernel": 2, "ceil": "yes"}}])"), "m.json"); },
                 "m.json: body[0].max_pool.ceil: expected true or false");
    expect_error([] { parse_model(model(R"([{"avg_pool": {"kernel": 2, "ceil": true}}])"), "m.json"); },
                 "m.json: body[0].avg_pool: unknown key 'ceil'");
}

TEST(ModelFile, MistakesNameTheFileAndTheKey) {
    expect_error([] { parse_model(model(R"([{"conv": {"out": 8, "kernel": 3, "strde": 2}}])"), "m.json"); },
                 "m.json: body[0].conv: unknown key 'strde' (it takes out, kernel, stride, pad, bias)");
    expect_error([] { parse_model(model(R"([{"conv": {"out": 8}}])"), "m.json"); }, "m.json: body[0].conv: 'kernel' is missing");
    expect_error([] { parse_model(model(R"([{"conv": {"out": -8, "kernel": 3}}])"), "m.json"); },
                 "m.json: body[0].conv.out: expected a whole number of at least 1, not -8");
    expect_error([] { parse_model(model(R"([{"block": "b", "layers": [{"inception": [64, [96], [16, 32], 32]}]}])"), "m.json"); },
                 "m.json: body[0].layers[0].inception: expected [c1, [c2_reduce, c2], [c3_reduce, c3], c4]");
    expect_error([] { parse_model(model(R"(["relu", "sigmoid"])"), "m.json"); }, "m.json: body[1]: unknown layer \"sigmoid\"");
    expect_error([] { parse_model(model(R"([{"dense": {"out": 10}}])"), "m.json"); }, "m.json: body[0]: unknown op 'dense'");
    expect_error([] { parse_model(model(R"([{"conv": {"out": 8, "kernel": 3}, "relu": {}}])"), "m.json"); },
                 "one op per layer");
    expect_error([] { parse_model(model(R"([{"conv": {"out": 4, "kernel": 3}}, "global_avg_pool"])"), "m.json"); },
                 "m.json: body: the network ends with [4, 1, 1] values per image; it must end with 'classes' = 10");
    expect_error([] { parse_model(model(R"([{"conv": {"out": 4, "kernel": 40}}])"), "m.json"); },
                 "m.json: body[0].conv: input too small: conv 40x40/1 1->4");
    expect_error([] { parse_model(R"({"name": "t", "input": {"channels": 1}, "classes": 10, "body": ["relu"]})", "m.json"); },
                 "m.json: input: 'size' is missing");
    expect_error([] { parse_model(R"({"name": "t", "input": {"channels": 1, "size": 8}, "classes": 10, "body": ["relu"], "extra": 1})", "m.json"); },
                 "m.json: unknown key 'extra'");
    expect_error([] { parse_model("{\"name\": \"t\",\n  \"input\": {\"channels\": 1 \"size\": 8}}", "m.json"); },
                 "m.json:2:32: not valid JSON (syntax error while parsing object");
    expect_error([] { parse_model(R"({"format_version": 2, "name": "t", "input": {"channels": 1, "size": 8}, "classes": 10, "body": ["relu"]})", "m.json"); },
                 "m.json: format_version: 2 is later than this googlenet reads (1): it was written by a newer googlenet; upgrade to read it");
    expect_error([] { parse_model(R"({"format_version": "1", "name": "t", "input": {"channels": 1, "size": 8}, "classes": 10, "body": ["relu"]})", "m.json"); },
                 "m.json: format_version: expected a positive whole number, not \"1\"");
    expect_error([] { load_model("no-such-model"); }, "--model no-such-model: neither a built-in model (d2l, paper, torchvision) nor a readable file");
}

}  // namespace

// A legal file can ask for a layer whose weight count overflows an int (65,536 channels into a
// 182x182 kernel: 2,170,814,464 per output channel): an error naming the tensor, not an overflow.
TEST(ModelFile, ALayerTooLargeForTheArenaIsNamed) {
    const std::string text = R"({"name": "huge", "input": {"channels": 1, "size": 1}, "classes": 10, "body": [
        {"conv": {"out": 65536, "kernel": 1}}, {"conv": {"out": 1, "kernel": 182, "pad": 91}, "name": "big"},
        "global_avg_pool", "flatten", {"linear": {"out": "classes"}}]})";
    expect_error([&] { build_net(parse_model(text, "huge.json")); }, "parameter 'big.weight' would hold more than 2147483647 values");
}
