#include "googlenet/summary.h"

#include <fmt/format.h>

namespace googlenet {

int64_t macs_per_image(const Net& net) {
    int64_t total = 0;
    for (const auto& op : net.ops())
        if (!op->auxiliary) total += op->macs_per_image();
    return total;
}

std::vector<LayerSummary> layers(const Net& net) {
    std::vector<LayerSummary> out;
    for (const auto& op : net.ops()) {
        LayerSummary l;
        l.label = label(net, *op);
        l.output = op->output->shape;
        l.output.n = 1;
        for (int i : op->param_indices()) l.parameters += int64_t(net.params().param(i).size);
        l.macs = op->macs_per_image();
        l.auxiliary = op->auxiliary;
        for (const auto& [id, name] : net.graph().block_names())
            if (&net.value(id) == op->output) l.block = name;
        out.push_back(l);
    }
    return out;
}

std::string summary(const Net& net) {
    auto thousands = [](int64_t v) {
        std::string s = std::to_string(v);
        for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
        return s;
    };
    Shape in = net.input_shape();
    in.n = 1;
    std::string out = fmt::format("{:<34} {:<20} {:>11} {:>13}\n", "layer", "output shape", "parameters", "multiply-adds");
    out += fmt::format("{:<34} {}\n", "input", in.str());
    int64_t total_params = 0, total_macs = 0, aux_params = 0, aux_macs = 0;
    for (const LayerSummary& l : layers(net)) {
        (l.auxiliary ? aux_params : total_params) += l.parameters;
        (l.auxiliary ? aux_macs : total_macs) += l.macs;
        std::string row = fmt::format("{:<34} {:<20} {:>11} {:>13}", (l.auxiliary ? "  aux: " : "") + l.label, l.output.str(),
                                      l.parameters ? thousands(l.parameters) : "", l.macs ? thousands(l.macs) : "");
        out += row.erase(row.find_last_not_of(' ') + 1) + "\n";
        if (!l.block.empty()) out += l.block + " output shape: " + l.output.str() + "\n";
    }
    out += fmt::format("total: {} parameters, {} multiply-adds per {}x{}x{} image\n", thousands(total_params),
                       thousands(total_macs), in.c, in.h, in.w);
    if (!net.auxiliaries().empty())
        out += fmt::format("with the {} auxiliary classifiers (training only): {} parameters, {} multiply-adds\n",
                           net.auxiliaries().size(), thousands(total_params + aux_params), thousands(total_macs + aux_macs));
    return out;
}

std::string label(const Net& net, const Op& op) {
    const std::vector<int> params = op.param_indices();
    if (params.empty()) return op.describe();
    const std::string& name = net.params().param(params[0]).name;
    return op.describe() + " (" + name.substr(0, name.rfind('.')) + ")";
}

}  // namespace googlenet
