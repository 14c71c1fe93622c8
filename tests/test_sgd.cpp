// Sgd::step against torch.optim.SGD (tools/make_fixtures.py, sgd.safetensors): the parameters
// after each of four steps on given gradients, for plain SGD, weight decay, momentum (whose first
// step sets the buffer to the gradient), momentum with weight decay, and Nesterov; the learning
// rate halves before the third step, as a schedule changes it.
#include <fmt/format.h>

#include "googlenet/train.h"
#include "testing.h"

using namespace googlenet;
using namespace googlenet::testing;

namespace {
const Fixture& fixture() {
    static const Fixture f("sgd.safetensors");
    return f;
}
}  // namespace

TEST(Sgd, MatchesTorchOptimSgd) {
    const Fixture& f = fixture();
    for (int c = 0; c < 5; ++c) {
        const std::vector<float>& o = f["case" + std::to_string(c) + ".options"];
        SCOPED_TRACE(fmt::format("lr {}, momentum {}, weight decay {}, nesterov {}", o[0], o[1], o[2], o[3]));
        ParamStore ps;
        ps.add("p0", {7, 5}, 5, 7, false);
        ps.add("p1", {5}, 5, 7, true);
        ps.allocate();
        for (int p = 0; p < 2; ++p) {
            const std::vector<float>& v = f["p" + std::to_string(p)];
            std::copy(v.begin(), v.end(), ps.value(p));
        }
        Sgd sgd(ps, SgdOptions{o[0], o[1], o[2], o[3] != 0});
        for (int step = 0; step < 4; ++step) {
            if (step == 2) sgd.set_lr(o[0] / 2);
            for (int p = 0; p < 2; ++p) {
                const std::vector<float>& g = f["g" + std::to_string(p) + "." + std::to_string(step)];
                std::copy(g.begin(), g.end(), ps.grad(p));
            }
            sgd.step();
            for (int p = 0; p < 2; ++p) {
                const std::string name = fmt::format("case{}.step{}.p{}", c, step, p);
                EXPECT_TENSOR_NEAR(ps.value(p), f[name].data(), f[name].size(), 1e-6, name);
            }
        }
        EXPECT_TRUE(sgd.started());
    }
}

// A checkpoint restores the momentum buffer and whether the first step was taken: a resumed
// optimizer continues exactly as the uninterrupted one does.
TEST(Sgd, RestoredStateContinuesTheSameSteps) {
    auto make = [](ParamStore& ps) {
        ps.add("w", {64}, 8, 8, false);
        ps.allocate();
        const auto v = random_vector<float>(64, 1);
        std::copy(v.begin(), v.end(), ps.value(0));
    };
    const SgdOptions opt{0.05f, 0.9f, 0.01f, true};
    ParamStore a, b;
    make(a), make(b);
    Sgd sa(a, opt);
    for (int step = 0; step < 6; ++step) {
        const auto g = random_vector<float>(64, 10 + uint64_t(step));
        std::copy(g.begin(), g.end(), a.grad(0));
        sa.step();
    }
    // c takes the first three steps; b starts from c's state, as a resumed run does, and takes the
    // last three.
    ParamStore c;
    make(c);
    Sgd sc(c, opt);
    for (int step = 0; step < 3; ++step) {
        const auto g = random_vector<float>(64, 10 + uint64_t(step));
        std::copy(g.begin(), g.end(), c.grad(0));
        sc.step();
    }
    Sgd sb(b, opt);
    std::copy(c.value(0), c.value(0) + 64, b.value(0));
    std::copy(sc.momentum_buffer().data(), sc.momentum_buffer().data() + 64, sb.momentum_buffer().data());
    sb.set_started(sc.started());
    for (int step = 3; step < 6; ++step) {
        const auto g = random_vector<float>(64, 10 + uint64_t(step));
        std::copy(g.begin(), g.end(), b.grad(0));
        sb.step();
    }
    for (int i = 0; i < 64; ++i) ASSERT_EQ(b.value(0)[i], a.value(0)[i]) << i;
}
