// Helpers shared by the tests: fixtures from tools/make_fixtures.py, and tensor comparison.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "googlenet/io.h"
#include "googlenet/models.h"

namespace googlenet::testing {

// The folder the `pytorch_fixtures` CTest fixture writes (build/fixtures).
inline std::string fixture_path(const std::string& file) {
    return std::string(GOOGLENET_FIXTURE_DIR) + "/" + file;
}

class Fixture {
public:
    explicit Fixture(const std::string& file) : path_(fixture_path(file)), tensors_(read_safetensors(path_)) {}
    const LoadedTensor& at(const std::string& name) const {
        auto it = tensors_.find(name);
        if (it == tensors_.end()) throw Error(path_ + ": fixture has no tensor '" + name + "'");
        return it->second;
    }
    const std::vector<float>& operator[](const std::string& name) const { return at(name).data; }
    const TensorMap& all() const { return tensors_; }

private:
    std::string path_;
    TensorMap tensors_;
};

// Copies every parameter of `params` from the fixture tensor of the same name (PyTorch's weights),
// expecting PyTorch's shape; buffers and the fixture's other tensors are left alone.
inline void load_params_from(const Fixture& f, ParamStore& params) {
    if (!params.allocated()) params.allocate();
    for (int i = 0; i < int(params.list().size()); ++i) {
        const LoadedTensor& t = f.at(params.param(i).name);
        EXPECT_EQ(t.shape, params.param(i).dims) << params.param(i).name;
        std::copy(t.data.begin(), t.data.end(), params.value(i));
    }
}

// A built-in model with every dropout at p = 0 (`count` of them), so that training mode computes
// the same function as the fixture's network, whose dropouts were turned off too.
inline ModelSpec without_dropout(const std::string& model, int count) {
    const std::string text = load_model(model).text;
    const std::regex p("\"p\": [0-9.]+");
    EXPECT_EQ(std::distance(std::sregex_iterator(text.begin(), text.end(), p), std::sregex_iterator()), count) << model;
    return parse_model(std::regex_replace(text, p, "\"p\": 0.0"), model + " without dropout");
}

// Labels stored as floats in a fixture.
inline std::vector<int> labels_from(const Fixture& f, const std::string& name = "labels") {
    std::vector<int> y;
    for (float v : f[name]) y.push_back(int(v));
    return y;
}

// The error measure every comparison states its tolerance in: the largest absolute difference
// divided by the largest magnitude of the expected tensor (so it is relative to the tensor's scale).
// Any NaN or infinity on either side makes it infinite, so that no tolerance passes it
// (std::max(diff, NaN) would return diff and hide the NaN).
template <class A, class B>
double max_rel_error(const A* actual, const B* expected, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; ++i) {
        const double a = double(actual[i]), e = double(expected[i]);
        if (!std::isfinite(a) || !std::isfinite(e)) return HUGE_VAL;
        diff = std::max(diff, std::fabs(a - e));
        scale = std::max(scale, std::fabs(e));
    }
    return diff / std::max(scale, 1e-30);
}

// ||actual - expected|| / ||expected|| (Euclidean norms): an error over the whole tensor, where
// max_rel_error is the worst element's. Infinite on NaN or infinity.
template <class A, class B>
double rel_l2_error(const A* actual, const B* expected, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; ++i) {
        const double a = double(actual[i]), e = double(expected[i]);
        if (!std::isfinite(a) || !std::isfinite(e)) return HUGE_VAL;
        diff += (a - e) * (a - e);
        scale += e * e;
    }
    return std::sqrt(diff / std::max(scale, 1e-300));
}

#define EXPECT_TENSOR_NEAR(actual, expected, n, tol, what)                                     \
    do {                                                                                       \
        const double err_ = ::googlenet::testing::max_rel_error((actual), (expected), (n));    \
        EXPECT_LE(err_, (tol)) << (what) << ": max |diff| / max |expected| = " << err_;        \
    } while (0)

// Runs fn and expects a googlenet::Error whose message contains `needle`.
inline void expect_error(const std::function<void()>& fn, const std::string& needle) {
    try {
        fn();
        ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

inline std::string temp_path(const std::string& name) { return ::testing::TempDir() + name; }

template <class T>
std::vector<T> random_vector(size_t n, uint64_t seed, double scale = 1.0) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-scale, scale);
    std::vector<T> v(n);
    for (auto& x : v) x = T(u(rng));
    return v;
}

}  // namespace googlenet::testing
