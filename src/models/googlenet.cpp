#include "googlenet/models.h"

#include <fmt/format.h>

#include <utility>

namespace googlenet {

ValueId inception(Graph& g, ValueId x, const InceptionSpec& s, const std::string& prefix) {
    auto conv_relu = [&](ValueId in, int out, int k, const char* name) {
        return g.relu(g.conv(in, ConvSpec{out, k, 1, k / 2}, prefix + "." + name));
    };
    const ValueId p1 = conv_relu(x, s.c1, 1, "p1_1");
    const ValueId p2 = conv_relu(conv_relu(x, s.c2_reduce, 1, "p2_1"), s.c2, 3, "p2_2");
    const ValueId p3 = conv_relu(conv_relu(x, s.c3_reduce, 1, "p3_1"), s.c3, 5, "p3_2");
    const ValueId p4 = conv_relu(g.max_pool(x, 3, 1, 1), s.c4, 1, "p4_2");
    const ValueId out = g.concat({p1, p2, p3, p4});
    g.name_block(out, fmt::format("{} inception ({}, ({}, {}), ({}, {}), {})", prefix, s.c1, s.c2_reduce, s.c2,
                                    s.c3_reduce, s.c3, s.c4));
    return out;
}

ValueId conv_bn_relu(Graph& g, ValueId x, ConvSpec spec, float eps, const std::string& prefix) {
    spec.bias = false;
    // PyTorch's default momentum for the running averages.
    return g.relu(g.batch_norm(g.conv(x, spec, prefix + ".conv"), eps, 0.1f, prefix + ".bn"));
}

ValueId inception_bn(Graph& g, ValueId x, const InceptionSpec& s, float eps, const std::string& prefix) {
    const ValueId p1 = conv_bn_relu(g, x, ConvSpec{s.c1, 1}, eps, prefix + ".branch1");
    const ValueId p2 = conv_bn_relu(g, conv_bn_relu(g, x, ConvSpec{s.c2_reduce, 1}, eps, prefix + ".branch2.0"),
                                    ConvSpec{s.c2, 3, 1, 1}, eps, prefix + ".branch2.1");
    const ValueId p3 = conv_bn_relu(g, conv_bn_relu(g, x, ConvSpec{s.c3_reduce, 1}, eps, prefix + ".branch3.0"),
                                    ConvSpec{s.c3, 3, 1, 1}, eps, prefix + ".branch3.1");
    const ValueId p4 = conv_bn_relu(g, g.max_pool(x, 3, 1, 1, true), ConvSpec{s.c4, 1}, eps, prefix + ".branch4.1");
    const ValueId out = g.concat({p1, p2, p3, p4});
    g.name_block(out, fmt::format("{} inception ({}, ({}, {}), ({}, {}), {})", prefix, s.c1, s.c2_reduce, s.c2,
                                    s.c3_reduce, s.c3, s.c4));
    return out;
}

Net d2l_googlenet(int in_channels, int classes, int size) {
    Graph g(in_channels, size, size);
    ValueId x = g.input();
    // b1
    x = g.relu(g.conv(x, ConvSpec{64, 7, 2, 3}, "0.0"));
    x = g.max_pool(x, 3, 2, 1);
    g.name_block(x, "b1");
    // b2
    x = g.relu(g.conv(x, ConvSpec{64, 1, 1, 0}, "1.0"));
    x = g.relu(g.conv(x, ConvSpec{192, 3, 1, 1}, "1.2"));
    x = g.max_pool(x, 3, 2, 1);
    g.name_block(x, "b2");
    // b3
    x = inception(g, x, {64, 96, 128, 16, 32, 32}, "2.0");
    x = inception(g, x, {128, 128, 192, 32, 96, 64}, "2.1");
    x = g.max_pool(x, 3, 2, 1);
    g.name_block(x, "b3");
    // b4
    x = inception(g, x, {192, 96, 208, 16, 48, 64}, "3.0");
    x = inception(g, x, {160, 112, 224, 24, 64, 64}, "3.1");
    x = inception(g, x, {128, 128, 256, 24, 64, 64}, "3.2");
    x = inception(g, x, {112, 144, 288, 32, 64, 64}, "3.3");
    x = inception(g, x, {256, 160, 320, 32, 128, 128}, "3.4");
    x = g.max_pool(x, 3, 2, 1);
    g.name_block(x, "b4");
    // b5
    x = inception(g, x, {256, 160, 320, 32, 128, 128}, "4.0");
    x = inception(g, x, {384, 192, 384, 48, 128, 128}, "4.1");
    x = g.global_avg_pool(x);
    g.name_block(x, "b5");
    // head (b5's Flatten is free: see ops/linear.cpp)
    g.set_output(g.linear(x, classes, "5"));
    return Net(std::move(g));
}

}  // namespace googlenet
