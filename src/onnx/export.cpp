// A Net as an ONNX model: one node (or two) per op, walking the ops in their topological order.
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <map>

#include "googlenet/onnx.h"

namespace googlenet {
namespace {

class GraphWriter {
public:
    explicit GraphWriter(onnx::GraphProto& g) : g_(g) {}

    onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                          const std::string& name) {
        onnx::NodeProto& n = *g_.add_node();
        n.set_op_type(op);
        n.set_name(name);
        for (const auto& i : inputs) n.add_input(i);
        n.add_output(output);
        return n;
    }

    void initializer(const std::string& name, const std::vector<int64_t>& dims, const float* data) {
        onnx::TensorProto& t = *g_.add_initializer();
        t.set_name(name);
        t.set_data_type(onnx::TensorProto::FLOAT);
        size_t count = 1;
        for (int64_t d : dims) t.add_dims(d), count *= size_t(d);
        // ONNX's raw_data is little-endian, as this machine is.
        t.set_raw_data(std::string(reinterpret_cast<const char*>(data), count * sizeof(float)));
    }

private:
    onnx::GraphProto& g_;
};

void ints(onnx::NodeProto& n, const char* name, const std::vector<int64_t>& values) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a.add_ints(v);
}

void integer(onnx::NodeProto& n, const char* name, int64_t value) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(value);
}

void real(onnx::NodeProto& n, const char* name, float value) {
    onnx::AttributeProto& a = *n.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::FLOAT);
    a.set_f(value);
}

void window(onnx::NodeProto& n, const OpAttributes& a) {
    ints(n, "kernel_shape", {a.kernel_h, a.kernel_w});
    ints(n, "strides", {a.stride, a.stride});
    ints(n, "pads", {a.pad, a.pad, a.pad, a.pad});
}

void tensor_type(onnx::ValueInfoProto& v, const std::string& name, const std::vector<int64_t>& dims) {
    v.set_name(name);
    onnx::TypeProto_Tensor& t = *v.mutable_type()->mutable_tensor_type();
    t.set_elem_type(onnx::TensorProto::FLOAT);
    for (size_t i = 0; i < dims.size(); ++i) {
        auto& d = *t.mutable_shape()->add_dim();
        if (i == 0)
            d.set_dim_param("N");  // any batch size
        else
            d.set_dim_value(dims[i]);
    }
}

}  // namespace

void export_onnx(const Net& net, const std::string& description, const std::string& path) {
    const ParamStore& ps = net.params();
    if (!ps.allocated()) throw Error("export " + path + ": the network has no weights loaded");
    onnx::ModelProto model;
    model.set_ir_version(7);  // the IR of opset 13
    model.set_producer_name("googlenet");
    model.set_producer_version("0.1.0");
    model.set_doc_string(description);
    onnx::OperatorSetIdProto& opset = *model.add_opset_import();
    opset.set_domain("");
    opset.set_version(13);
    onnx::GraphProto& g = *model.mutable_graph();
    g.set_name("googlenet");
    GraphWriter w(g);

    // Every value's name in the graph; dropout's output is its input's.
    std::map<const Value*, std::string> names;
    names[&net.value(net.input())] = "input";
    const Value* logits = &net.value(net.output());
    auto name_of = [&](const Value* v) { return names.at(v); };
    int index = 0;
    for (const auto& op : net.ops()) {
        if (op->auxiliary) continue;  // the paper's and torchvision's training-only heads
        const OpAttributes a = op->attributes();
        const std::vector<int> p = op->param_indices();
        const std::string node = fmt::format("{}_{}", index++, op->describe());
        std::vector<std::string> in;
        for (const Value* v : op->inputs) in.push_back(name_of(v));
        const std::string out = op->output == logits ? "logits" : fmt::format("t{}", index);
        names[op->output] = out;
        for (int i : p) {
            w.initializer(ps.param(i).name, ps.param(i).dims, ps.value(i));
            in.push_back(ps.param(i).name);
        }
        switch (a.kind) {
            case OpAttributes::conv: {
                // Its weights in the arena are the unfolded ones: the batch norm's would be lost.
                if (a.folded_norm)
                    throw Error("export " + path + ": " + op->describe() +
                                " has its batch norm folded in (the net is planned for evaluation): export before "
                                "set_batch, or after set_training(true) and set_batch");
                const std::string conv_out = a.fused_relu ? out + "_conv" : out;
                window(w.node("Conv", in, conv_out, node), a);
                if (a.fused_relu) w.node("Relu", {conv_out}, out, node + "_relu");
                break;
            }
            case OpAttributes::relu: w.node("Relu", in, out, node); break;
            case OpAttributes::max_pool: {
                onnx::NodeProto& n = w.node("MaxPool", in, out, node);
                window(n, a);
                integer(n, "ceil_mode", a.ceil_mode);
                break;
            }
            case OpAttributes::avg_pool: {
                const Shape& s = op->inputs[0]->shape;
                if (a.kernel_h == s.h && a.kernel_w == s.w && a.pad == 0) {
                    w.node("GlobalAveragePool", in, out, node);
                } else {
                    onnx::NodeProto& n = w.node("AveragePool", in, out, node);
                    window(n, a);
                    integer(n, "count_include_pad", 1);  // as PyTorch's and this engine's
                }
                break;
            }
            case OpAttributes::adaptive_avg_pool: {
                const Shape& s = op->inputs[0]->shape;
                if (s.h % a.out_h || s.w % a.out_w || s.h / a.out_h != s.w / a.out_w)
                    throw Error(fmt::format("export {}: {} of a {}x{} map has uneven windows, which ONNX's pools cannot express",
                                            path, op->describe(), s.h, s.w));
                OpAttributes pool = a;
                pool.kernel_h = pool.kernel_w = pool.stride = s.h / a.out_h;
                window(w.node("AveragePool", in, out, node), pool);
                break;
            }
            case OpAttributes::batch_norm: {
                for (int b : op->buffer_indices()) {
                    const Param& buffer = ps.buffer_list()[size_t(b)];
                    if (buffer.dims.empty()) continue;  // the batch counter
                    w.initializer(buffer.name, buffer.dims, ps.buffer(b));
                    in.push_back(buffer.name);
                }
                const std::string norm_out = a.fused_relu ? out + "_norm" : out;
                real(w.node("BatchNormalization", in, norm_out, node), "epsilon", a.eps);
                if (a.fused_relu) w.node("Relu", {norm_out}, out, node + "_relu");
                break;
            }
            case OpAttributes::lrn: {
                onnx::NodeProto& n = w.node("LRN", in, out, node);
                integer(n, "size", a.size);
                real(n, "alpha", a.alpha);
                real(n, "beta", a.beta);
                real(n, "bias", a.k);
                break;
            }
            case OpAttributes::dropout: names[op->output] = in[0]; break;
            case OpAttributes::normalize: {
                const std::vector<int64_t> dims{1, int64_t(a.mean.size()), 1, 1};
                w.initializer(node + ".mean", dims, a.mean.data());
                w.initializer(node + ".stddev", dims, a.stddev.data());
                w.node("Sub", {in[0], node + ".mean"}, out + "_centred", node + "_sub");
                w.node("Div", {out + "_centred", node + ".stddev"}, out, node);
                break;
            }
            case OpAttributes::concat: integer(w.node("Concat", in, out, node), "axis", 1); break;
            case OpAttributes::linear: {
                const std::string flat = out + "_flat";
                integer(w.node("Flatten", {in[0]}, flat, node + "_flatten"), "axis", 1);
                integer(w.node("Gemm", {flat, in[1], in[2]}, out, node), "transB", 1);
                break;
            }
        }
    }
    if (names.at(logits) != "logits") throw Error("export " + path + ": the network's output is not an op's");
    const Shape in = net.input_shape();
    tensor_type(*g.add_input(), "input", {1, in.c, in.h, in.w});
    tensor_type(*g.add_output(), "logits", {1, net.classes()});
    std::string bytes;
    if (!model.SerializeToString(&bytes)) throw Error("export " + path + ": the ONNX model could not be serialised");
    write_file_atomic(path, [&](std::FILE* f) {
        if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) throw Error(path + ": write failed");
    });
}

}  // namespace googlenet
