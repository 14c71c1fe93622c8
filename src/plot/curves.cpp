// The training curves, read back from metrics.jsonl (rather than kept in memory) so that a resumed
// run, or `googlenet plot` on an old run, draws the whole history.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "googlenet/plot.h"
#include "googlenet/error.h"

namespace googlenet {

LineChart training_curves(const std::string& metrics_path, const std::string& title) {
    std::ifstream in(metrics_path);
    if (!in) throw Error(metrics_path + ": cannot open (" + std::strerror(errno) + ")");
    struct StepPoint {
        int epoch, batch;
        double loss, acc;
    };
    std::vector<StepPoint> steps;
    Curve loss{"train loss", {}, {}, Curve::Dash::solid, 0x1f77b4};
    Curve train_acc{"train acc", {}, {}, Curve::Dash::dashed, 0xbf00bf};
    Curve test_acc{"test acc", {}, {}, Curve::Dash::dash_dot, 0x008000};
    int batches_per_epoch = 0, max_batch = 0, last_epoch = 0;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        if (line.empty()) continue;
        const std::string where = metrics_path + ":" + std::to_string(number) + ": ";
        const nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
        if (r.is_discarded() || !r.is_object()) throw Error(where + "not a JSON object");
        auto number_field = [&](const char* key) {
            if (!r.contains(key) || !r[key].is_number()) throw Error(where + "'" + key + "' is missing or not a number");
            return r[key].get<double>();
        };
        const std::string type = r.contains("type") && r["type"].is_string() ? r["type"].get<std::string>() : "";
        const double epoch = number_field("epoch");
        if (!(epoch >= 1 && epoch <= 1e6)) throw Error(where + "'epoch' is out of range");
        if (type == "step") {
            const double batch = number_field("batch");
            if (!(batch >= 1 && batch <= 1e9)) throw Error(where + "'batch' is out of range");
            steps.push_back({int(epoch), int(batch), number_field("train_loss"), number_field("train_acc")});
            max_batch = std::max(max_batch, int(batch));
        } else if (type == "epoch") {
            const double step = number_field("step");
            if (!(step >= 0 && step / epoch <= 1e9)) throw Error(where + "'step' is out of range");
            if (batches_per_epoch == 0 && step >= epoch) batches_per_epoch = int(step / epoch);
            // The epoch's own point closes its train curves; it goes in order with the steps.
            steps.push_back({int(epoch), -1, number_field("train_loss"), number_field("train_acc")});
            test_acc.x.push_back(epoch);
            test_acc.y.push_back(number_field("test_acc"));
        } else {
            throw Error(where + "'type' is neither \"step\" nor \"epoch\"");
        }
        last_epoch = std::max(last_epoch, int(epoch));
    }
    if (batches_per_epoch == 0) batches_per_epoch = std::max(max_batch, 1);
    for (const StepPoint& s : steps) {
        const double x = s.batch < 0 ? s.epoch : s.epoch - 1 + double(s.batch) / batches_per_epoch;
        loss.x.push_back(x);
        loss.y.push_back(s.loss);
        train_acc.x.push_back(x);
        train_acc.y.push_back(s.acc);
    }
    LineChart chart;
    chart.title = title;
    chart.x_label = "epoch";
    chart.x_min = 0;
    chart.x_max = std::max(last_epoch, 1);
    chart.curves = {loss, train_acc, test_acc};
    return chart;
}

}  // namespace googlenet
