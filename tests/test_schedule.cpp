// Learning-rate schedules.
#include <gtest/gtest.h>

#include "googlenet/schedule.h"
#include "googlenet/tensor.h"

using namespace googlenet;

TEST(Schedule, ConstantIsD2ls) {
    LrSchedule s;
    EXPECT_FLOAT_EQ(lr_at(s, 0), 0.1f);
    EXPECT_FLOAT_EQ(lr_at(s, 9.99), 0.1f);
}

TEST(Schedule, StepIsThePapers4PercentEvery8Epochs) {
    LrSchedule s;
    s.kind = "step";
    EXPECT_FLOAT_EQ(lr_at(s, 7.99), 0.1f);
    EXPECT_FLOAT_EQ(lr_at(s, 8.0), 0.096f);
    EXPECT_FLOAT_EQ(lr_at(s, 16.5), 0.1f * 0.96f * 0.96f);
    s.step_epochs = 2;
    s.gamma = 0.5;
    EXPECT_FLOAT_EQ(lr_at(s, 4.0), 0.025f);
}

TEST(Schedule, CosineFallsToZeroAtTheEnd) {
    LrSchedule s;
    s.kind = "cosine";
    s.total_epochs = 10;
    EXPECT_FLOAT_EQ(lr_at(s, 0), 0.1f);
    EXPECT_NEAR(lr_at(s, 5), 0.05f, 1e-7);
    EXPECT_NEAR(lr_at(s, 10), 0.0f, 1e-7);
}

TEST(Schedule, WarmupRampsByStep) {
    LrSchedule s;
    s.warmup_epochs = 1;
    s.steps_per_epoch = 4;
    EXPECT_FLOAT_EQ(lr_at(s, 0.0), 0.025f);  // first step: 1/4
    EXPECT_FLOAT_EQ(lr_at(s, 0.5), 0.075f);  // third step: 3/4
    EXPECT_FLOAT_EQ(lr_at(s, 0.75), 0.1f);   // fourth: full rate
    EXPECT_FLOAT_EQ(lr_at(s, 3.0), 0.1f);
}

TEST(Schedule, BadSettingsAreRejected) {
    LrSchedule s;
    s.kind = "linear";
    EXPECT_THROW(validate(s), Error);
    s.kind = "step";
    s.step_epochs = 0;
    EXPECT_THROW(validate(s), Error);
}
