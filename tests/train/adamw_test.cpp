// AdamW and its schedule against PyTorch's definitions: hand-computed values for a tiny case, a double-precision
// re-statement of torch.optim.AdamW + clip_grad_norm_ for a random one, and the state file's round trip and
// failure modes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "train/adamw.h"

namespace rwkv::train {
namespace {

// One parameter with its own storage, so tests can build ParamRefs and copy optimisers' weights.
struct Param {
    std::string name;
    std::vector<float> value, grad;
    bool decay;
};

std::vector<ParamRef> refs(std::vector<Param>& ps) {
    std::vector<ParamRef> r;
    for (Param& p : ps) r.push_back({p.name, p.value.data(), p.grad.data(), p.value.size(), p.decay});
    return r;
}

AdamWConfig constant_cfg(double lr) {
    AdamWConfig c;
    c.lr = lr;
    c.schedule = "constant";
    c.grad_clip = 0;
    return c;
}

template <class F>
void expect_error_containing(F&& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "expected rwkv::Error containing '" << needle << "'";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(LearningRate, WarmupThenCosineOrLinearDecay) {
    AdamWConfig c;
    c.lr = 1e-3;
    c.lr_final = 1e-4;
    c.warmup_steps = 10;
    c.total_steps = 110;
    for (const char* s : {"cosine", "linear", "constant"}) {
        c.schedule = s;
        EXPECT_DOUBLE_EQ(learning_rate(c, 0), 0.0) << s;
        EXPECT_DOUBLE_EQ(learning_rate(c, 5), 5e-4) << s;
        EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1e-3) << s;  // peak right after warm-up
    }
    c.schedule = "cosine";
    EXPECT_NEAR(learning_rate(c, 35), 1e-4 + 0.9e-3 * 0.5 * (1 + std::sqrt(0.5)), 1e-15);
    EXPECT_NEAR(learning_rate(c, 60), 5.5e-4, 1e-15);  // half way
    EXPECT_DOUBLE_EQ(learning_rate(c, 110), 1e-4);
    EXPECT_DOUBLE_EQ(learning_rate(c, 1000), 1e-4);  // flat after the end
    c.schedule = "linear";
    EXPECT_NEAR(learning_rate(c, 35), 7.75e-4, 1e-15);
    EXPECT_NEAR(learning_rate(c, 60), 5.5e-4, 1e-15);
    EXPECT_DOUBLE_EQ(learning_rate(c, 110), 1e-4);
    EXPECT_DOUBLE_EQ(learning_rate(c, 1000), 1e-4);
    c.schedule = "constant";
    EXPECT_DOUBLE_EQ(learning_rate(c, 60), 1e-3);
    EXPECT_DOUBLE_EQ(learning_rate(c, 1000), 1e-3);
}

TEST(LearningRate, NoTotalStepsHoldsThePeakAndUnknownScheduleFails) {
    AdamWConfig c;
    c.lr = 2e-3;
    c.total_steps = 0;
    EXPECT_DOUBLE_EQ(learning_rate(c, 0), 2e-3);
    EXPECT_DOUBLE_EQ(learning_rate(c, 12345), 2e-3);
    c.schedule = "exponential";
    EXPECT_THROW(learning_rate(c, 0), Error);
    std::vector<ParamRef> none;
    EXPECT_THROW(AdamW(c, none), Error);
}

// lr 0.1, betas (0.9, 0.99), wd 0.1, no clipping. Worked by hand from torch.optim.AdamW's update:
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
// Step 1: bias correction makes every element move by lr·sign(g). Step 2 (g of "w" = [0.5, 1]):
//   m = [0.095, 0.01], v = [0.004975, 0.0199], 1-b1² = 0.19, 1-b2² = 0.0199, so the denominators are exactly
//   [0.5, 1] and the steps are 0.1/0.19 · [0.19, 0.01] = [0.1, 0.1/19].
TEST(AdamW, TwoStepsMatchHandComputedPyTorchValues) {
    AdamWConfig c = constant_cfg(0.1);
    c.beta1 = 0.9;
    c.beta2 = 0.99;
    c.eps = 1e-8;
    c.weight_decay = 0.1;
    std::vector<Param> ps = {{"w", {1.0f, -2.0f}, {0.5f, -1.0f}, true}, {"b", {3.0f}, {-2.0f}, false}};
    AdamW opt(c, refs(ps));

    EXPECT_NEAR(opt.step(refs(ps)), std::sqrt(0.25 + 1.0 + 4.0), 1e-12);
    EXPECT_EQ(opt.steps_done(), 1);
    EXPECT_NEAR(ps[0].value[0], 0.99 - 0.1, 1e-6);
    EXPECT_NEAR(ps[0].value[1], -1.98 + 0.1, 1e-6);
    EXPECT_NEAR(ps[1].value[0], 3.1, 1e-6);  // no decay

    ps[0].grad = {0.5f, 1.0f};
    opt.step(refs(ps));
    EXPECT_NEAR(ps[0].value[0], 0.89 * 0.99 - 0.1, 1e-6);
    EXPECT_NEAR(ps[0].value[1], -1.88 * 0.99 - 0.1 / 19, 1e-6);
    // "b": m = -0.38, v = 0.0796, denominator sqrt(0.0796/0.0199) = 2, step 0.1/0.19 · 0.38/2 = 0.1.
    EXPECT_NEAR(ps[1].value[0], 3.2, 1e-6);
}

// torch.optim.AdamW (amsgrad off, maximize off) after torch.nn.utils.clip_grad_norm_, in double.
struct ReferenceAdamW {
    AdamWConfig c;
    std::vector<std::vector<double>> p, m, v;
    int64_t t = 0;

    double step(const std::vector<Param>& ps) {
        double sumsq = 0;
        for (const Param& q : ps)
            for (float g : q.grad) sumsq += static_cast<double>(g) * g;
        const double norm = std::sqrt(sumsq);
        const double coef = c.grad_clip > 0 ? std::min(1.0, c.grad_clip / (norm + 1e-6)) : 1.0;
        const double lr = learning_rate(c, t);
        ++t;
        const double bc1 = 1 - std::pow(c.beta1, static_cast<double>(t));
        const double bc2 = 1 - std::pow(c.beta2, static_cast<double>(t));
        for (size_t i = 0; i < ps.size(); ++i)
            for (size_t j = 0; j < p[i].size(); ++j) {
                const double g = ps[i].grad[j] * coef;
                if (ps[i].decay) p[i][j] *= 1 - lr * c.weight_decay;
                m[i][j] += (g - m[i][j]) * (1 - c.beta1);  // exp_avg.lerp_(grad, 1 - beta1)
                v[i][j] = v[i][j] * c.beta2 + (1 - c.beta2) * g * g;
                const double denom = std::sqrt(v[i][j]) / std::sqrt(bc2) + c.eps;
                p[i][j] += -(lr / bc1) * m[i][j] / denom;
            }
        return norm;
    }
};

std::vector<Param> random_params(std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<Param> ps = {{"emb", std::vector<float>(37), {}, false},
                             {"att.key.weight", std::vector<float>(64 * 3), {}, true},
                             {"ln_x.bias", std::vector<float>(5), {}, false}};
    for (Param& p : ps) {
        for (float& x : p.value) x = nd(rng);
        p.grad.assign(p.value.size(), 0.0f);
    }
    return ps;
}

void random_grads(std::vector<Param>& ps, std::mt19937& rng, float sigma) {
    std::normal_distribution<float> nd(0.0f, sigma);
    for (Param& p : ps)
        for (float& g : p.grad) g = nd(rng);
}

TEST(AdamW, RandomRunMatchesDoubleReference) {
    AdamWConfig c;
    c.lr = 1e-2;
    c.lr_final = 1e-3;
    c.warmup_steps = 3;
    c.total_steps = 20;
    c.weight_decay = 0.1;
    c.grad_clip = 1.0;
    std::mt19937 rng(7);
    std::vector<Param> ps = random_params(rng);
    AdamW opt(c, refs(ps));
    ReferenceAdamW ref{c, {}, {}, {}};
    for (const Param& p : ps) {
        ref.p.emplace_back(p.value.begin(), p.value.end());
        ref.m.emplace_back(p.value.size(), 0.0);
        ref.v.emplace_back(p.value.size(), 0.0);
    }
    for (int s = 0; s < 25; ++s) {
        // Alternate clipped (norm ~ 3) and unclipped (norm ~ 0.3) steps.
        random_grads(ps, rng, s % 2 ? 0.1f : 0.01f);
        const double norm = opt.step(refs(ps));
        EXPECT_NEAR(norm, ref.step(ps), 1e-9 * norm);
    }
    for (size_t i = 0; i < ps.size(); ++i)
        for (size_t j = 0; j < ps[i].value.size(); ++j)
            ASSERT_NEAR(ps[i].value[j], ref.p[i][j], 2e-6 * (1 + std::abs(ref.p[i][j])))
                << ps[i].name << "[" << j << "]";
}

TEST(AdamW, WeightDecayOnlyOnDecayParams) {
    AdamWConfig c = constant_cfg(0.5);
    c.weight_decay = 0.2;
    // Zero gradients: Adam's step is 0/(0+eps) = 0, leaving the decay alone.
    std::vector<Param> ps = {{"proj", {2.0f, -4.0f}, {0.0f, 0.0f}, true},
                             {"norm", {2.0f, -4.0f}, {0.0f, 0.0f}, false}};
    AdamW opt(c, refs(ps));
    opt.step(refs(ps));
    opt.step(refs(ps));
    const float keep = static_cast<float>(1.0 - 0.5 * 0.2);
    EXPECT_FLOAT_EQ(ps[0].value[0], 2.0f * keep * keep);
    EXPECT_FLOAT_EQ(ps[0].value[1], -4.0f * keep * keep);
    EXPECT_EQ(ps[1].value[0], 2.0f);
    EXPECT_EQ(ps[1].value[1], -4.0f);
}

TEST(AdamW, LearningRateScalePerParameter) {
    AdamWConfig c = constant_cfg(0.01);
    c.weight_decay = 0.5;
    // First Adam step moves each weight by lr·g/(|g| + eps) ≈ lr; scale 2 doubles it, and the decay with it.
    std::vector<Param> ps = {{"att.w0", {1.0f}, {3.0f}, false}, {"x.weight", {1.0f}, {3.0f}, true},
                             {"y.weight", {1.0f}, {3.0f}, true}};
    std::vector<ParamRef> r = refs(ps);
    r[0].lr_scale = 2.0;
    r[2].lr_scale = 2.0;
    AdamW opt(c, r);
    opt.step(r);
    EXPECT_NEAR(ps[0].value[0], 1.0f - 0.02f, 1e-6);
    EXPECT_NEAR(ps[1].value[0], 1.0f * (1 - 0.01f * 0.5f) - 0.01f, 1e-6);
    EXPECT_NEAR(ps[2].value[0], 1.0f * (1 - 0.02f * 0.5f) - 0.02f, 1e-6);
}

TEST(AdamW, ClippingScalesGradientsExactly) {
    // Norm 10 clipped to 1 must equal feeding the pre-scaled gradient unclipped: same moments, same weights.
    AdamWConfig clipped = constant_cfg(1e-2);
    clipped.grad_clip = 1.0;
    AdamWConfig unclipped = constant_cfg(1e-2);
    std::vector<Param> a = {{"w", {0.5f, 0.25f}, {6.0f, 8.0f}, true}};
    std::vector<Param> b = a;
    const float scale = static_cast<float>(1.0 / (10.0 + 1e-6));
    for (float& g : b[0].grad) g *= scale;
    AdamW oa(clipped, refs(a)), ob(unclipped, refs(b));
    for (int s = 0; s < 3; ++s) {
        EXPECT_DOUBLE_EQ(oa.step(refs(a)), 10.0);  // the norm before clipping
        ob.step(refs(b));
    }
    EXPECT_EQ(a[0].value, b[0].value);
    std::vector<uint8_t> sa, sb;
    oa.save_state(sa);
    ob.save_state(sb);
    EXPECT_EQ(sa, sb);

    // Below the threshold nothing is scaled.
    std::vector<Param> c = {{"w", {0.5f, 0.25f}, {0.3f, 0.4f}, true}};
    std::vector<Param> d = c;
    AdamW oc(clipped, refs(c)), od(unclipped, refs(d));
    EXPECT_NEAR(oc.step(refs(c)), 0.5, 1e-7);
    od.step(refs(d));
    EXPECT_EQ(c[0].value, d[0].value);
}

TEST(AdamW, NormIsAccumulatedInDouble) {
    // 1e8 + 1000 · 1: in float each 1 vanishes below the spacing (8) at 1e8.
    std::vector<float> g(1001, 1.0f);
    g[0] = 1e4f;
    std::vector<Param> ps = {{"w", std::vector<float>(g.size(), 0.0f), g, false}};
    AdamW opt(constant_cfg(0.0), refs(ps));
    EXPECT_DOUBLE_EQ(opt.step(refs(ps)), std::sqrt(1e8 + 1000.0));
}

TEST(AdamW, NonFiniteGradientIsRefusedBeforeAnyUpdate) {
    std::vector<Param> ps = {{"a", {1.0f, 2.0f}, {0.1f, 0.2f}, true}, {"b", {3.0f}, {NAN}, false}};
    AdamW opt(constant_cfg(0.1), refs(ps));
    expect_error_containing([&] { opt.step(refs(ps)); }, "'b'");
    EXPECT_EQ(opt.steps_done(), 0);
    EXPECT_EQ(ps[0].value, (std::vector<float>{1.0f, 2.0f}));
}

TEST(AdamW, StepRejectsOtherParameters) {
    std::vector<Param> ps = {{"a", {1.0f, 2.0f}, {0.1f, 0.2f}, true}};
    AdamW opt(constant_cfg(0.1), refs(ps));
    std::vector<Param> other = {{"a", {1.0f}, {0.1f}, true}};
    EXPECT_THROW(opt.step(refs(other)), Error);
    std::vector<Param> two = {ps[0], ps[0]};
    two[1].name = "b";
    EXPECT_THROW(opt.step(refs(two)), Error);
    two[1].name = "a";
    EXPECT_THROW(AdamW(constant_cfg(0.1), refs(two)), Error);  // a name must be unique
}

TEST(AdamW, SavedAndRestoredRunContinuesBitIdentically) {
    AdamWConfig c;
    c.lr = 3e-3;
    c.lr_final = 3e-4;
    c.warmup_steps = 4;
    c.total_steps = 12;
    std::mt19937 rng(11);
    std::vector<Param> straight = random_params(rng);
    std::vector<Param> resumed = straight;
    AdamW a(c, refs(straight));
    auto b = std::make_unique<AdamW>(c, refs(resumed));

    std::mt19937 grads_a(5), grads_b(5);
    for (int s = 0; s < 6; ++s) {
        random_grads(straight, grads_a, 0.2f);
        a.step(refs(straight));
        random_grads(resumed, grads_b, 0.2f);
        b->step(refs(resumed));
    }
    std::vector<uint8_t> blob;
    b->save_state(blob);
    // A fresh optimiser (as after a restart) picks up the moments and the step count, hence the schedule.
    b = std::make_unique<AdamW>(c, refs(resumed));
    b->load_state(blob.data(), blob.size());
    EXPECT_EQ(b->steps_done(), 6);
    for (int s = 0; s < 8; ++s) {
        random_grads(straight, grads_a, 0.2f);
        a.step(refs(straight));
        random_grads(resumed, grads_b, 0.2f);
        b->step(refs(resumed));
    }
    for (size_t i = 0; i < straight.size(); ++i)
        EXPECT_EQ(0, std::memcmp(straight[i].value.data(), resumed[i].value.data(), straight[i].value.size() * 4))
            << straight[i].name;
    std::vector<uint8_t> sa, sb;
    a.save_state(sa);
    b->save_state(sb);
    EXPECT_EQ(sa, sb);
}

class AdamWStateErrors : public ::testing::Test {
protected:
    void SetUp() override {
        ps = {{"blocks.0.att.key.weight", {1, 2, 3, 4}, {0.1f, -0.2f, 0.3f, 0.4f}, true},
              {"blocks.0.ln1.weight", {1, 1}, {0.5f, 0.5f}, false}};
        AdamW opt(constant_cfg(0.1), refs(ps));
        opt.step(refs(ps));
        opt.save_state(blob);
    }
    std::vector<Param> ps;
    std::vector<uint8_t> blob;
};

TEST_F(AdamWStateErrors, TruncationAtAnyLengthFailsAndLeavesStateUntouched) {
    AdamW opt(constant_cfg(0.1), refs(ps));
    std::vector<uint8_t> before, after;
    opt.save_state(before);
    for (size_t len = 0; len < blob.size(); ++len) {
        EXPECT_THROW(opt.load_state(blob.data(), len), Error) << len;
    }
    opt.save_state(after);
    EXPECT_EQ(before, after);
    expect_error_containing([&] { opt.load_state(blob.data(), blob.size() - 3); }, "blocks.0.ln1.weight");
}

TEST_F(AdamWStateErrors, CorruptHeaderOrTrailingBytesFail) {
    AdamW opt(constant_cfg(0.1), refs(ps));
    std::vector<uint8_t> bad = blob;
    bad[0] ^= 0xff;
    expect_error_containing([&] { opt.load_state(bad.data(), bad.size()); }, "magic");
    bad = blob;
    bad[8] = 99;  // version
    expect_error_containing([&] { opt.load_state(bad.data(), bad.size()); }, "version");
    bad = blob;
    bad.push_back(0);
    expect_error_containing([&] { opt.load_state(bad.data(), bad.size()); }, "unexpected bytes");
    bad = blob;
    bad[8 + 4 + 8 + 8 + 4 + 3] = 'X';  // a character of the first name
    expect_error_containing([&] { opt.load_state(bad.data(), bad.size()); }, "bloXks.0.att.key.weight");
    opt.load_state(blob.data(), blob.size());
    EXPECT_EQ(opt.steps_done(), 1);
}

TEST_F(AdamWStateErrors, NameOrSizeMismatchNamesTheParameter) {
    std::vector<Param> renamed = ps;
    renamed[1].name = "blocks.0.ln2.weight";
    AdamW r(constant_cfg(0.1), refs(renamed));
    expect_error_containing([&] { r.load_state(blob.data(), blob.size()); }, "blocks.0.ln1.weight");

    std::vector<Param> resized = ps;
    resized[0].value.resize(6);
    resized[0].grad.resize(6);
    AdamW s(constant_cfg(0.1), refs(resized));
    expect_error_containing([&] { s.load_state(blob.data(), blob.size()); }, "blocks.0.att.key.weight");

    std::vector<Param> more = ps;
    more.push_back({"head.weight", {1}, {0}, true});
    AdamW m(constant_cfg(0.1), refs(more));
    expect_error_containing([&] { m.load_state(blob.data(), blob.size()); }, "head.weight");
}

}  // namespace
}  // namespace rwkv::train
