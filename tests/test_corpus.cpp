// The corpus of crafted files in tests/corpus (made by tools/make_corpus.py): every bad file must
// give a googlenet::Error that names the file and says what is wrong, every good file must parse,
// and no file may go unlisted. The fuzz targets start from the same files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "googlenet/data.h"
#include "googlenet/image.h"
#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/onnx.h"
#include "googlenet/plot.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;
using namespace googlenet;

namespace {

const fs::path kCorpus = GOOGLENET_CORPUS_DIR;

void parse(const std::string& parser, const std::string& path) {
    if (parser == "idx1" || parser == "idx3") {
        read_idx(path, parser == "idx1" ? 1 : 3);
    } else if (parser == "safetensors") {
        read_safetensors(path);
    } else if (parser == "checkpoint") {
        TrainConfig config;
        RunState state;
        TensorMap tensors;
        read_checkpoint(path, config, state, tensors);
    } else if (parser == "image") {
        prepare_fashion_mnist_input(read_image(path), 32);
    } else if (parser == "metrics") {
        training_curves(path);
    } else if (parser == "model") {
        load_model(path);
    } else if (parser == "onnx") {
        import_onnx(path, "m");
    } else {
        FAIL() << "expected.json names an unknown parser '" << parser << "'";
    }
}

nlohmann::json expectations() {
    std::ifstream in(kCorpus / "expected.json");
    return nlohmann::json::parse(in);
}

TEST(Corpus, EveryFileIsListed) {
    const nlohmann::json expected = expectations();
    int files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(kCorpus)) {
        if (!entry.is_regular_file() || entry.path().filename() == "expected.json") continue;
        ++files;
        EXPECT_TRUE(expected.contains(fs::relative(entry.path(), kCorpus).string()))
            << entry.path() << " is not in expected.json";
    }
    EXPECT_EQ(files, int(expected.size()));
    EXPECT_GE(files, 40);
}

TEST(Corpus, BadFilesGiveTheirErrorAndGoodFilesParse) {
    int bad = 0;
    const nlohmann::json expected = expectations();
    for (const auto& [name, e] : expected.items()) {
        const std::string path = (kCorpus / name).string(), parser = e.at("parser");
        SCOPED_TRACE(name + " (" + parser + ")");
        if (e.at("error").is_null()) {
            EXPECT_NO_THROW(parse(parser, path));
            continue;
        }
        ++bad;
        const std::string needle = e.at("error");
        try {
            parse(parser, path);
            ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
        } catch (const Error& error) {
            const std::string message = error.what();
            EXPECT_NE(message.find(path), std::string::npos) << "the error does not name the file: " << message;
            EXPECT_NE(message.find(needle), std::string::npos) << "'" << message << "' lacks '" << needle << "'";
        }
    }
    EXPECT_GE(bad, 30);
}

}  // namespace
