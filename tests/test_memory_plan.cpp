// The memory plan (trainer/memory_plan.h) against what the code allocates: weights, adapters,
// gradients, masters and AdamW moments equal the real optimizer's tensors byte for byte
// (replicated and ZeRO-1, fp32 and bf16, full and LoRA); the KV caches and work buffers equal
// the generator's; the update's activations are compared with the peak a counting CPU allocator
// measures over a real forward and backward (tolerance below); Qwen3-8B's parameter count is
// transformers'; a run that does not fit is refused before a model is loaded.
#include "lm/transformer.h"
#include "policy/logprobs.h"
#include "policy/lora.h"
#include "rollout/generator.h"
#include "rollout/kv_cache.h"
#include "stories260k.h"
#include "test_util.h"
#include "trainer/config.h"
#include "trainer/dist/data_parallel.h"
#include "trainer/grpo_trainer.h"
#include "trainer/memory_plan.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

namespace fs = std::filesystem;
using namespace precept;

namespace {

// Counts the bytes live in LibTorch's CPU allocator and their peak: while installed, CPU tensors
// are allocated here (c10::alloc_cpu, as the default allocator does). One instance for the
// process, never destroyed, since tensors it allocated may outlive a measurement.
class CountingAllocator final : public c10::Allocator {
 public:
  static CountingAllocator& instance() {
    static auto* counter = new CountingAllocator();
    return *counter;
  }
  void install() {
    base_ = c10::GetCPUAllocator();
    c10::SetCPUAllocator(this, /*priority=*/UINT8_MAX);
  }
  void uninstall() { c10::SetCPUAllocator(base_, UINT8_MAX); }

  c10::DataPtr allocate(size_t n) override {
    void* data = c10::alloc_cpu(n);
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[data] = n;
    live_ += static_cast<int64_t>(n);
    peak_ = std::max(peak_, live_);
    return {data, data, &release, c10::Device(c10::kCPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  int64_t live() {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_;
  }
  int64_t peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = live_;
  }

 private:
  CountingAllocator() = default;
  static void release(void* data) {
    CountingAllocator& self = instance();
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.sizes_.find(data);
      if (it != self.sizes_.end()) {
        self.live_ -= static_cast<int64_t>(it->second);
        self.sizes_.erase(it);
      }
    }
    c10::free_cpu(data);
  }
  c10::Allocator* base_ = nullptr;
  std::mutex mutex_;
  std::unordered_map<void*, size_t> sizes_;
  int64_t live_ = 0, peak_ = 0;
};

// Installs the counting allocator for a scope.
struct Counting {
  Counting() { CountingAllocator::instance().install(); }
  ~Counting() { CountingAllocator::instance().uninstall(); }
  CountingAllocator& counter = CountingAllocator::instance();
};

// SmolLM2-135M's layer shape (hidden 576, 9 heads, 3 KV heads, MLP 1536) with 4 layers and a
// smaller vocabulary; `qwen3` adds per-head q/k norms.
lm::ModelConfig small_shape(bool qwen3) {
  nlohmann::json config = {{"architectures", {qwen3 ? "Qwen3ForCausalLM" : "LlamaForCausalLM"}},
                           {"hidden_size", 576},
                           {"intermediate_size", 1536},
                           {"num_hidden_layers", 4},
                           {"num_attention_heads", 9},
                           {"num_key_value_heads", 3},
                           {"head_dim", 64},
                           {"max_position_embeddings", 2048},
                           {"vocab_size", 8192},
                           {"tie_word_embeddings", !qwen3},
                           {"rms_norm_eps", 1e-5}};
  return lm::config_from_json(config, qwen3 ? "small-qwen3" : "small-llama");
}

trainer::RunConfig run_config(const std::string& dtype, bool zero1, bool lora, bool recompute) {
  trainer::RunConfig config;
  config.source = "test.toml";
  config.policy.model = "policy-shape";
  config.policy.dtype = dtype;
  config.policy.recompute = recompute;
  if (lora) {
    policy::LoraConfig adapter;
    adapter.r = 8;
    config.policy.lora = adapter;
  }
  config.distributed.zero1 = zero1;
  config.algorithm.kl_mode = trainer::KlMode::loss;
  config.reward.type = "regex";
  return config;
}

trainer::MemoryPlanOptions shape_options(const lm::ModelConfig& shape) {
  trainer::MemoryPlanOptions options;
  options.limit_bytes = 0;
  options.shape = [shape](const std::string&, const std::string&) { return shape; };
  return options;
}

int64_t bytes_of(const trainer::MemoryPlan& plan, const std::string& part) {
  for (const auto& item : plan.items) {
    if (item.part == part) return item.bytes;
  }
  ADD_FAILURE() << "the plan has no part '" << part << "':\n" << plan.table();
  return -1;
}

int64_t phase_bytes(const trainer::MemoryPlan& plan, const std::string& phase) {
  int64_t total = 0;
  for (const auto& item : plan.items) {
    if (item.phase == phase) total += item.bytes;
  }
  return total;
}

struct StateCase {
  std::string dtype;
  bool zero1, lora;
};

class MemoryPlanState : public ::testing::TestWithParam<StateCase> {};

}  // namespace

TEST_P(MemoryPlanState, WeightsGradientsMastersAndMomentsAreTheOptimizersBytes) {
  const StateCase c = GetParam();
  const lm::ModelConfig shape = small_shape(/*qwen3=*/true);
  const trainer::RunConfig config = run_config(c.dtype, c.zero1, c.lora, false);
  const trainer::MemoryPlan plan = trainer::plan_run_memory(config, shape_options(shape));

  const auto dtype = lm::dtype_from_name(c.dtype, "test");
  lm::Transformer model(shape, at::TensorOptions().dtype(dtype));
  if (c.lora) policy::attach_lora(*model, *config.policy.lora, 0);
  int64_t base = 0, adapters = 0;
  for (const auto& item : model->named_parameters()) {
    (lm::is_adapter_parameter(item.key()) ? adapters : base) += item.value().nbytes();
  }
  trainer::DataParallelOptimizer optimizer(*model, trainer::single_process_communicator(), {}, c.zero1);
  optimizer.zero_grad();
  optimizer.step(1e-3, 1.0, 0.0);  // the moments exist from the first step
  int64_t gradients = 0;
  for (const auto& p : model->parameters()) {
    if (p.requires_grad()) gradients += p.grad().nbytes();
  }
  const auto memory = optimizer.measured_memory();  // the bytes of the tensors it holds
  ASSERT_GT(memory.state_bytes_per_rank, 0);
  EXPECT_EQ(bytes_of(plan, "policy weights"), base);
  if (c.lora) {
    EXPECT_EQ(bytes_of(plan, "LoRA adapters"), adapters);
    EXPECT_EQ(bytes_of(plan, "reference model"), 0) << "the reference is the policy with its adapters off";
  } else {
    EXPECT_EQ(bytes_of(plan, "reference model"), base);
  }
  EXPECT_EQ(bytes_of(plan, "AdamW moments (fp32)"), memory.state_bytes_per_rank);
  // ZeRO-1's fp32 gradient shard is in the optimizer's buffers and in the plan's gradients.
  const int64_t shard_bytes = c.zero1 ? (memory.parameters) * 4 : 0;
  EXPECT_EQ(bytes_of(plan, "fp32 master weights") + shard_bytes, memory.buffer_bytes_per_rank);
  EXPECT_EQ(bytes_of(plan, "gradients"), gradients + shard_bytes);
  if (c.dtype == "bfloat16" && !c.lora) EXPECT_GT(bytes_of(plan, "fp32 master weights"), 0);
  std::cout << plan.table();
}

INSTANTIATE_TEST_SUITE_P(Layouts, MemoryPlanState,
                         ::testing::Values(StateCase{"float32", false, false}, StateCase{"bfloat16", false, false},
                                           StateCase{"bfloat16", true, false}, StateCase{"float32", true, false},
                                           StateCase{"bfloat16", false, true}, StateCase{"bfloat16", true, true}),
                         [](const auto& info) {
                           return std::string(info.param.dtype == "float32" ? "Fp32" : "Bf16") +
                                  (info.param.zero1 ? "Zero1" : "Replicated") + (info.param.lora ? "LoRA" : "Full");
                         });

TEST(MemoryPlanZero1, ShardsShrinkWithTheWorldAndPadToIt) {
  const lm::ModelConfig shape = small_shape(false);
  const trainer::RunConfig config = run_config("bfloat16", true, false, false);
  trainer::MemoryPlanOptions one = shape_options(shape), eight = shape_options(shape);
  eight.world_size = 8;
  const auto a = trainer::plan_run_memory(config, one), b = trainer::plan_run_memory(config, eight);
  int64_t trainable = 0;
  lm::Transformer model(shape, at::TensorOptions().dtype(at::kBFloat16).device(at::kMeta));
  for (const auto& p : model->parameters()) trainable += p.numel();
  const int64_t shard = (trainable + 7) / 8;
  EXPECT_EQ(bytes_of(a, "AdamW moments (fp32)"), trainable * 8);
  EXPECT_EQ(bytes_of(b, "AdamW moments (fp32)"), shard * 8);
  EXPECT_EQ(bytes_of(b, "fp32 master weights"), shard * 4);
  EXPECT_EQ(bytes_of(b, "gradients"), shard * 8 * 2 + shard * 4);
  EXPECT_EQ(bytes_of(b, "policy weights"), bytes_of(a, "policy weights"));
}

TEST(MemoryPlanCaches, KvCachesAndWorkBuffersAreTheGenerators) {
  const lm::ModelConfig shape = small_shape(true);
  trainer::RunConfig config = run_config("float32", false, false, false);
  config.rollout.slots = 12;
  config.rollout.max_new_tokens = 100;
  config.reward.type = "rewardanything";
  config.reward.options = {{"model", "judge-shape"}, {"principle", "Be kind."}, {"slots", 5}, {"max_length", 900}};
  trainer::MemoryPlanOptions options = shape_options(shape);
  options.longest_prompt = 60;
  const trainer::MemoryPlan plan = trainer::plan_run_memory(config, options);

  lm::Transformer model(shape, at::TensorOptions().dtype(at::kFloat));
  rollout::GeneratorConfig generator;
  generator.max_slots = 12;
  generator.max_length = 160;
  rollout::Generator policy_generator(*model, generator);
  EXPECT_EQ(bytes_of(plan, "policy KV cache"), policy_generator.memory().cache_bytes);
  EXPECT_EQ(bytes_of(plan, "policy KV cache"), rollout::KvCache(shape, 12, 160, at::kFloat, at::kCPU).bytes());
  EXPECT_EQ(bytes_of(plan, "rollout work buffers"), policy_generator.memory().workspace_bytes);
  generator.max_slots = 5;
  generator.max_length = 900;
  rollout::Generator judge_generator(*model, generator);
  EXPECT_EQ(bytes_of(plan, "judge KV cache"), judge_generator.memory().cache_bytes);
  EXPECT_EQ(bytes_of(plan, "judge work buffers"), judge_generator.memory().workspace_bytes);
  int64_t weights = 0;
  for (const auto& p : model->parameters()) weights += p.nbytes();
  EXPECT_EQ(bytes_of(plan, "judge weights"), weights);
}

TEST(MemoryPlanShapes, Qwen3EightBHasTransformersParameterCount) {
  // Qwen3-8B: transformers' Qwen3ForCausalLM(config).num_parameters() = 8,190,735,360.
  nlohmann::json qwen3_8b = {{"architectures", {"Qwen3ForCausalLM"}}, {"hidden_size", 4096}, {"intermediate_size", 12288},
                             {"num_hidden_layers", 36}, {"num_attention_heads", 32}, {"num_key_value_heads", 8},
                             {"head_dim", 128}, {"max_position_embeddings", 40960}, {"vocab_size", 151936},
                             {"tie_word_embeddings", false}, {"torch_dtype", "bfloat16"}};
  const lm::ModelConfig shape = lm::config_from_json(qwen3_8b, "Qwen3-8B");
  trainer::RunConfig config = run_config("bfloat16", false, false, false);
  const trainer::MemoryPlan plan = trainer::plan_run_memory(config, shape_options(shape));
  EXPECT_EQ(bytes_of(plan, "policy weights"), int64_t{8190735360} * 2);
  // LoRA r 64 on every linear module of the decoder: r x (in + out) per module.
  trainer::RunConfig r64 = run_config("bfloat16", false, true, false);
  r64.policy.lora->r = 64;
  const trainer::MemoryPlan adapted = trainer::plan_run_memory(r64, shape_options(shape));
  const int64_t per_layer = 64 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096) + 2 * (4096 + 12288) + (12288 + 4096));
  EXPECT_EQ(bytes_of(adapted, "LoRA adapters"), per_layer * 36 * 4);  // fp32 adapters on a bf16 base
}

// ---- activations: the plan against a counting allocator --------------------------------------

namespace {

struct ActivationCase {
  std::string dtype;
  bool recompute, lora, qwen3;
};

class MemoryPlanActivations : public ::testing::TestWithParam<ActivationCase> {};

// Peak bytes above the level before the forward, over forward, chunked log-probs and backward
// of one padded micro-batch (the update's work; the gradients already exist).
int64_t measured_update_peak(lm::TransformerImpl& model, int64_t micro, int64_t T, int64_t chunk) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor tokens = at::randint(0, model.config().vocab_size, {micro, T}, generator, at::kLong);
  at::Tensor valid = at::ones({micro, T}, at::kBool);
  valid.index_put_({0, at::indexing::Slice(0, T / 4)}, false);  // left padding in one row: the masked path
  const at::Tensor positions = (valid.to(at::kLong).cumsum(1) - 1).clamp_min(0);
  const at::Tensor targets = at::roll(tokens, -1, 1);
  policy::LogprobOptions options;
  options.chunk_tokens = chunk;
  auto run = [&] {
    at::Tensor hidden = model.forward(tokens, positions, valid);
    at::Tensor logprobs = policy::chunked_logprobs(hidden, model.output_weight(), targets, options).logprobs;
    (-logprobs.mean()).backward();
  };
  run();  // gradients allocated
  Counting counting;
  auto& counter = counting.counter;
  run();
  counter.reset_peak();
  const int64_t before = counter.live();
  {
    at::Tensor hidden = model.forward(tokens, positions, valid);
    const int64_t saved = counter.live() - before;
    at::Tensor logprobs = policy::chunked_logprobs(hidden, model.output_weight(), targets, options).logprobs;
    const int64_t forward_peak = counter.peak() - before;
    (-logprobs.mean()).backward();
    std::cout << "[memory plan] measured: after the layers " << rollout::format_bytes(saved) << ", forward peak "
              << rollout::format_bytes(forward_peak) << ", whole peak " << rollout::format_bytes(counter.peak() - before) << "\n";
  }
  return counter.peak() - before;
}

}  // namespace

TEST_P(MemoryPlanActivations, UpdatePeakIsWithinTheStatedToleranceOfTheMeasured) {
  const ActivationCase c = GetParam();
  const lm::ModelConfig shape = small_shape(c.qwen3);
  trainer::RunConfig config = run_config(c.dtype, false, c.lora, c.recompute);
  config.algorithm.micro_batch_size = 4;
  config.policy.logprob_chunk = 256;
  config.rollout.max_new_tokens = 64;
  trainer::MemoryPlanOptions options = shape_options(shape);
  options.longest_prompt = 192;  // T = 256
  const trainer::MemoryPlan plan = trainer::plan_run_memory(config, options);
  const int64_t planned = phase_bytes(plan, "update");

  at::set_num_threads(1);
  lm::Transformer model(shape, at::TensorOptions().dtype(lm::dtype_from_name(c.dtype, "test")));
  model->init_random(3, 0.02);
  model->train();
  model->set_recompute(c.recompute);
  if (c.lora) policy::attach_lora(*model, *config.policy.lora, 0);
  const int64_t measured = measured_update_peak(*model, 4, 256, 256);
  const double ratio = static_cast<double>(planned) / static_cast<double>(measured);
  std::cout << "[memory plan] update: planned " << rollout::format_bytes(planned) << ", measured peak "
            << rollout::format_bytes(measured) << " (planned / measured " << ratio << ")\n";
  // The plan may overstate (it is a bound to refuse by) but not by much; it may understate by 3% at
  // most (allocation details of the CPU kernels vary: measured 1.01-1.21 here, docs/memory.md).
  EXPECT_GE(ratio, 0.97);
  EXPECT_LE(ratio, 1.5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MemoryPlanActivations,
                         ::testing::Values(ActivationCase{"float32", false, false, false},
                                           ActivationCase{"float32", true, false, false},
                                           ActivationCase{"bfloat16", false, false, true},
                                           ActivationCase{"bfloat16", true, false, true},
                                           ActivationCase{"float32", false, true, false},
                                           ActivationCase{"bfloat16", false, true, true}),
                         [](const auto& info) {
                           return std::string(info.param.dtype == "float32" ? "Fp32" : "Bf16") +
                                  (info.param.recompute ? "Recompute" : "NoRecompute") + (info.param.lora ? "LoRA" : "Full") +
                                  (info.param.qwen3 ? "Qwen3" : "Llama");
                         });

// ---- refusal ----------------------------------------------------------------------------------

TEST(MemoryPlanRefusal, ATrainRunThatDoesNotFitIsRefusedWithThePlan) {
  const fs::path dir = precept::testing::temp_dir("memory_plan_refusal");
  const std::string recipe = "[run]\noutput_dir = \"" + (dir / "run").string() +
                             "\"\nsteps = 1\nthreads = 1\nmemory_limit_gb = 0.0001\n\n[policy]\nmodel = \"" +
                             precept::testing::stories260k_model().string() + "\"\n\n[data]\nprompts = \"" +
                             (fs::path(PRECEPT_SOURCE_DIR) / "recipes" / "data" / "story_openings.jsonl").string() +
                             "\"\nchat = false\n\n[reward]\ntype = \"regex\"\nmust_match = ['x']\n";
  precept::testing::write_all(dir / "recipe.toml", recipe);
  const trainer::RunConfig config = trainer::load_run_config((dir / "recipe.toml").string());
  try {
    trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
    FAIL() << "a run over run.memory_limit_gb was not refused";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("does not fit in memory"), std::string::npos) << message;
    EXPECT_NE(message.find("total per rank"), std::string::npos) << message;
    EXPECT_NE(message.find("DOES NOT FIT"), std::string::npos) << message;
    EXPECT_NE(message.find("run.memory_limit_gb"), std::string::npos) << message;
  }
  const trainer::RunConfig unchecked = trainer::load_run_config((dir / "recipe.toml").string(), {"run.memory_limit_gb=-1"});
  trainer::GrpoTrainer trainer(unchecked, trainer::single_process_communicator());
  EXPECT_TRUE(trainer.memory_plan().fits());
  EXPECT_EQ(trainer.memory_plan().limit_bytes, 0);
  // The plan's policy weights are the loaded model's.
  int64_t weights = 0;
  for (const auto& p : trainer.policy().parameters()) weights += p.nbytes();
  EXPECT_EQ(bytes_of(trainer.memory_plan(), "policy weights"), weights);
}
