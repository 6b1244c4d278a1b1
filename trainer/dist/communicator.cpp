#include "trainer/dist/communicator.h"

#include <ATen/ATen.h>

namespace precept::trainer {

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void all_reduce_sum(std::vector<at::Tensor>&) override {}
  void broadcast(std::vector<at::Tensor>&, int) override {}
  void all_gather(at::Tensor& output, const at::Tensor& input) override { output.copy_(input.view_as(output)); }
  void reduce_scatter_sum(at::Tensor& output, const at::Tensor& input) override { output.copy_(input.view_as(output)); }
  void barrier() override {}
};

}  // namespace

std::shared_ptr<Communicator> single_process_communicator() { return std::make_shared<SingleProcess>(); }

std::vector<double> all_reduce_scalars(Communicator& communicator, const std::vector<double>& values) {
  if (communicator.world_size() == 1 || values.empty()) return values;
  at::Tensor buffer = at::tensor(values, at::kDouble);
  std::vector<at::Tensor> tensors = {buffer};
  communicator.all_reduce_sum(tensors);
  return std::vector<double>(buffer.data_ptr<double>(), buffer.data_ptr<double>() + buffer.numel());
}

}  // namespace precept::trainer
