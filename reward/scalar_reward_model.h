// reward::ScalarRewardModel: a Bradley-Terry reward model as a Reward. A Hugging Face
// XxxForSequenceClassification checkpoint with one label (Llama, Mistral, Qwen2, Qwen3) scores
// each (prompt, response): rendered as [user: prompt, assistant: response] with the model's own
// chat template, run through lm::Transformer, and the `score` head read at the last token that
// is not the pad token, as transformers pools it. Not a judge (no principle, no text) and not
// trained here. Used by the trainer and the command line through reward::Reward.
#pragma once

#include "lm/pretrained.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "lm/transformer.h"
#include "reward/reward.h"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace precept::reward {

struct ScalarRewardModelConfig {
  std::string name = "scalar_rm";
  std::filesystem::path model_dir;        // a Hugging Face directory: config.json, safetensors, tokenizer
  std::optional<c10::ScalarType> dtype;   // default: float32 on CPU, the checkpoint's dtype elsewhere
  c10::Device device = c10::kCPU;
  int64_t batch_size = 8;                 // sequences per forward pass (sorted by length, right-padded)
  int64_t max_tokens = 0;                 // longer pairs are not run (fallback, invalid); 0 = max_position_embeddings
  double fallback_value = 0.0;            // the reward of a response that could not be scored
  std::string system_prompt;              // prepended as a system message when not empty
  bool enable_thinking = true;            // passed to the chat template (Qwen3)
  std::string chat_template = "default";  // a named template of the checkpoint
};

// transformers' pooling position: the rightmost index of `ids` whose id is not pad_token_id (0
// when all are), or the last index when there is no pad token (pad_token_id < 0).
int64_t pooled_position(const std::vector<int64_t>& ids, int64_t pad_token_id);

// The head outputs of whole sequences: runs `model` (a sequence classifier) on batches of up to
// `batch_size` sequences, longest first, right-padded (causal attention keeps the padding out of
// every real position, so no key mask is needed), and reads `score`
// at each sequence's pooled_position -> [N, num_labels] float32 on the CPU. Empty sequences
// are an error.
at::Tensor classify_sequences(lm::TransformerImpl& model, const std::vector<std::vector<int64_t>>& sequences,
                              int64_t batch_size);

class ScalarRewardModel : public Reward {
 public:
  // Loads config.model_dir. Throws when the checkpoint is not a sequence classifier, has
  // num_labels != 1, misses score.weight, has no chat template, or when the template fails on a
  // plain (prompt, response) probe.
  explicit ScalarRewardModel(ScalarRewardModelConfig config);
  // From parts already loaded (the same checks on the model).
  ScalarRewardModel(lm::Transformer model, std::shared_ptr<const text::Tokenizer> tokenizer, text::ChatTemplate chat,
                    ScalarRewardModelConfig config);
  // From an opened directory (lm::open_pretrained); its template must be there.
  ScalarRewardModel(lm::Pretrained pretrained, ScalarRewardModelConfig config);

  std::string name() const override { return config_.name; }
  // One reward per response: logit[0] of the pair. A pair whose template rendering fails or that
  // is longer than max_tokens gets fallback_value, is invalid and counts as a failure; the
  // diagnostics hold each pair's token count and such errors.
  GroupScores score(const Group& group) override;
  // All pairs of all groups in one pass of batched forwards.
  std::vector<GroupScores> score_batch(const std::vector<Group>& groups) override;

  // The text the model reads for one pair, and its ids (no special tokens added by the tokenizer).
  std::string render(const std::string& prompt, const std::string& response) const;
  std::vector<int64_t> encode(const std::string& prompt, const std::string& response) const;
  // logit[0] of token sequences as they are (no template), batched.
  std::vector<double> score_sequences(const std::vector<std::vector<int64_t>>& sequences);

  lm::TransformerImpl& model() { return *model_; }
  int64_t max_tokens() const { return max_tokens_; }

 private:
  void check_model();  // the checks both constructors make; sets max_tokens_
  lm::Transformer model_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  text::ChatTemplate chat_;
  ScalarRewardModelConfig config_;
  int64_t max_tokens_ = 0;
};

}  // namespace precept::reward
