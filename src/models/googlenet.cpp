#include "googlenet/models.h"

#include <fmt/format.h>

namespace googlenet {

ValueId inception(Net& net, ValueId x, const InceptionSpec& s, const std::string& prefix) {
    auto conv_relu = [&](ValueId in, int out, int k, const char* name) {
        return net.relu(net.conv(in, ConvSpec{out, k, 1, k / 2}, prefix + "." + name));
    };
    const ValueId p1 = conv_relu(x, s.c1, 1, "p1_1");
    const ValueId p2 = conv_relu(conv_relu(x, s.c2_reduce, 1, "p2_1"), s.c2, 3, "p2_2");
    const ValueId p3 = conv_relu(conv_relu(x, s.c3_reduce, 1, "p3_1"), s.c3, 5, "p3_2");
    const ValueId p4 = conv_relu(net.max_pool(x, 3, 1, 1), s.c4, 1, "p4_2");
    const ValueId out = net.concat({p1, p2, p3, p4});
    net.name_block(out, fmt::format("{} inception ({}, ({}, {}), ({}, {}), {})", prefix, s.c1, s.c2_reduce, s.c2,
                                    s.c3_reduce, s.c3, s.c4));
    return out;
}

ValueId conv_bn_relu(Net& net, ValueId x, ConvSpec spec, float eps, const std::string& prefix) {
    spec.bias = false;
    // PyTorch's default momentum for the running averages.
    return net.relu(net.batch_norm(net.conv(x, spec, prefix + ".conv"), eps, 0.1f, prefix + ".bn"));
}

ValueId inception_bn(Net& net, ValueId x, const InceptionSpec& s, float eps, const std::string& prefix) {
    const ValueId p1 = conv_bn_relu(net, x, ConvSpec{s.c1, 1}, eps, prefix + ".branch1");
    const ValueId p2 = conv_bn_relu(net, conv_bn_relu(net, x, ConvSpec{s.c2_reduce, 1}, eps, prefix + ".branch2.0"),
                                    ConvSpec{s.c2, 3, 1, 1}, eps, prefix + ".branch2.1");
    const ValueId p3 = conv_bn_relu(net, conv_bn_relu(net, x, ConvSpec{s.c3_reduce, 1}, eps, prefix + ".branch3.0"),
                                    ConvSpec{s.c3, 3, 1, 1}, eps, prefix + ".branch3.1");
    const ValueId p4 = conv_bn_relu(net, net.max_pool(x, 3, 1, 1, true), ConvSpec{s.c4, 1}, eps, prefix + ".branch4.1");
    const ValueId out = net.concat({p1, p2, p3, p4});
    net.name_block(out, fmt::format("{} inception ({}, ({}, {}), ({}, {}), {})", prefix, s.c1, s.c2_reduce, s.c2,
                                    s.c3_reduce, s.c3, s.c4));
    return out;
}

Net d2l_googlenet(int in_channels, int classes, int size) {
    Net net(in_channels, size, size);
    ValueId x = net.input();
    // b1
    x = net.relu(net.conv(x, ConvSpec{64, 7, 2, 3}, "0.0"));
    x = net.max_pool(x, 3, 2, 1);
    net.name_block(x, "b1");
    // b2
    x = net.relu(net.conv(x, ConvSpec{64, 1, 1, 0}, "1.0"));
    x = net.relu(net.conv(x, ConvSpec{192, 3, 1, 1}, "1.2"));
    x = net.max_pool(x, 3, 2, 1);
    net.name_block(x, "b2");
    // b3
    x = inception(net, x, {64, 96, 128, 16, 32, 32}, "2.0");
    x = inception(net, x, {128, 128, 192, 32, 96, 64}, "2.1");
    x = net.max_pool(x, 3, 2, 1);
    net.name_block(x, "b3");
    // b4
    x = inception(net, x, {192, 96, 208, 16, 48, 64}, "3.0");
    x = inception(net, x, {160, 112, 224, 24, 64, 64}, "3.1");
    x = inception(net, x, {128, 128, 256, 24, 64, 64}, "3.2");
    x = inception(net, x, {112, 144, 288, 32, 64, 64}, "3.3");
    x = inception(net, x, {256, 160, 320, 32, 128, 128}, "3.4");
    x = net.max_pool(x, 3, 2, 1);
    net.name_block(x, "b4");
    // b5
    x = inception(net, x, {256, 160, 320, 32, 128, 128}, "4.0");
    x = inception(net, x, {384, 192, 384, 48, 128, 128}, "4.1");
    x = net.global_avg_pool(x);
    net.name_block(x, "b5");
    // head (b5's Flatten is free: see ops/linear.cpp)
    net.set_output(net.linear(x, classes, "5"));
    return net;
}

}  // namespace googlenet
