#include "trainer/dist/process_group.h"

#include <ATen/ATen.h>
#include <c10/util/Logging.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef PRECEPT_WITH_CUDA
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

extern char** environ;

namespace precept::trainer::dist {

namespace {

int parse_int(const std::map<std::string, std::string>& variables, const std::string& name, int fallback) {
  auto it = variables.find(name);
  if (it == variables.end() || it->second.empty()) return fallback;
  try {
    size_t used = 0;
    const int value = std::stoi(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument(name);
    return value;
  } catch (const std::exception&) {
    throw std::runtime_error("environment variable " + name + "='" + it->second + "' is not an integer");
  }
}

std::string get(const std::map<std::string, std::string>& variables, const std::string& name,
                const std::string& fallback = "") {
  auto it = variables.find(name);
  return it == variables.end() || it->second.empty() ? fallback : it->second;
}

// The first host of a SLURM node list such as "node[03-05,07],gpu1" -> "node03".
std::string first_slurm_host(const std::string& list) {
  const size_t bracket = list.find('['), comma = list.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return list.substr(0, comma);
  }
  std::string prefix = list.substr(0, bracket);
  std::string inside = list.substr(bracket + 1);
  const size_t end = inside.find_first_of(",-]");
  return prefix + inside.substr(0, end);
}

// The c10d-backed communicator. Collectives are bucketed; every wait has the timeout; a
// failure is turned into an error that names the rank at fault, found through the store:
// `failed` (a rank that threw said so), heartbeats (a rank that died stopped beating), and the
// count of collectives each rank entered (a rank that stalled is behind).
class C10dCommunicator final : public Communicator {
 public:
  C10dCommunicator(const LaunchEnvironment& environment, const DistributedSection& settings, const std::string& device)
      : environment_(environment),
        timeout_(std::chrono::seconds(settings.timeout_seconds)),
        bucket_bytes_(settings.bucket_mb << 20) {
    // c10d logs every retry and peer loss as a warning with a stack trace; precept reports
    // these itself, naming the rank. PRECEPT_C10D_LOGS=1 keeps c10d's own logs.
    if (!std::getenv("PRECEPT_C10D_LOGS")) FLAGS_caffe2_log_level = std::max(FLAGS_caffe2_log_level, 3);
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(environment.master_port);
    options.isServer = environment.rank == 0;
    options.numWorkers = environment.world_size;
    options.waitWorkers = true;
    options.timeout = timeout_;
    const std::string where = environment.master_addr + ":" + std::to_string(environment.master_port);
    try {
      tcp_store_ = c10::make_intrusive<c10d::TCPStore>(environment.master_addr, options);
    } catch (const std::exception& error) {
      throw std::runtime_error("rank " + std::to_string(environment.rank) + ": cannot " +
                               (environment.rank == 0 ? "open" : "reach") + " the rendezvous store at " + where +
                               " (MASTER_ADDR/MASTER_PORT, from " + environment.source + ") within " +
                               std::to_string(settings.timeout_seconds) + " s: " + first_line(error.what()));
    }
    store_ = c10::make_intrusive<c10d::PrefixStore>("precept/", tcp_store_);
    std::string backend = settings.backend;
    if (backend == "auto") backend = device.rfind("cuda", 0) == 0 ? "nccl" : "gloo";
    backend_name_ = backend;
    if (backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout_);
      gloo_options->devices.push_back(gloo_device(environment.master_addr));
      backend_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo/", store_),
                                                              environment.rank, environment.world_size, gloo_options);
    } else if (backend == "nccl") {
#ifdef PRECEPT_WITH_CUDA
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout_;
      backend_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl/", store_),
                                                              environment.rank, environment.world_size, nccl_options);
      device_ = c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(environment.local_rank));
#else
      throw std::runtime_error("distributed.backend = \"nccl\" needs precept built with CUDA (-DPRECEPT_DEVICE=cuda)");
#endif
    } else {
      throw std::runtime_error("distributed.backend must be gloo or nccl, not " + backend);
    }
    heartbeat_ = std::thread([this] { beat(); });
  }

  ~C10dCommunicator() override {
    stop_ = true;
    if (heartbeat_.joinable()) heartbeat_.join();
  }

  int rank() const override { return environment_.rank; }
  int world_size() const override { return environment_.world_size; }
  int local_rank() const override { return environment_.local_rank; }
  std::string backend() const override { return backend_name_; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    in_buckets(tensors, [&](std::vector<at::Tensor>& buffer) { run("all_reduce", [&] { return backend_->allreduce(buffer); }); });
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    in_buckets(tensors, [&](std::vector<at::Tensor>& buffer) {
      run("broadcast", [&] { return backend_->broadcast(buffer, options); });
    });
  }

  void all_gather(at::Tensor& output, const at::Tensor& input) override {
    at::Tensor source = to_backend(input.reshape({-1}).contiguous());
    at::Tensor target = to_backend(at::empty({output.numel()}, output.options()));
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < world_size(); ++r) outputs[0].push_back(target.narrow(0, r * source.numel(), source.numel()));
    std::vector<at::Tensor> inputs = {source};
    run("all_gather", [&] { return backend_->allgather(outputs, inputs); });
    output.copy_(target.view_as(output));
  }

  void reduce_scatter_sum(at::Tensor& output, const at::Tensor& input) override {
    const int64_t n = output.numel();
    if (backend_name_ == "nccl") {
      at::Tensor source = to_backend(input.reshape({-1}).contiguous());
      at::Tensor target = to_backend(at::empty({n}, output.options()));
      run("reduce_scatter", [&] { return backend_->_reduce_scatter_base(target, source); });
      output.copy_(target.view_as(output));
      return;
    }
    // Gloo: an all-reduce, keeping this rank's slice (the same sums, twice the traffic).
    std::vector<at::Tensor> buffer = {input.reshape({-1}).clone()};
    all_reduce_sum(buffer);
    output.copy_(buffer[0].narrow(0, rank() * n, n).view_as(output));
  }

  void barrier() override {
    // A tiny all-reduce: it fails over to the same diagnosis as every other collective.
    std::vector<at::Tensor> token = {at::zeros({1}, at::TensorOptions(at::kFloat).device(device_))};
    run("barrier", [&] { return backend_->allreduce(token); });
  }

  void report(const std::string& message) {
    try {
      const std::string text = "rank " + std::to_string(rank()) + ": " + message;
      store_->set("failed", std::vector<uint8_t>(text.begin(), text.end()));
    } catch (const std::exception&) {
      // The store may be gone (rank 0 died); nothing more to tell.
    }
  }

 private:
  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  // The network device Gloo binds, chosen as torch.distributed chooses it: the interface named by
  // GLOO_SOCKET_IFNAME (the first of a comma list), else this host's address. A run whose
  // rendezvous is on the loopback address is local, so it binds the loopback too.
  static std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
    if (const char* names = std::getenv("GLOO_SOCKET_IFNAME"); names && *names) {
      const std::string list = names;
      return c10d::ProcessGroupGloo::createDeviceForInterface(list.substr(0, list.find(',')));
    }
    if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0 || master_addr == "::1") {
      return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    }
    return c10d::ProcessGroupGloo::createDefaultDevice();
  }

  // Runs `collective` on flat buckets of at most bucket_bytes_ (one dtype each), copying the
  // results back into the tensors.
  template <class F>
  void in_buckets(std::vector<at::Tensor>& tensors, F&& collective) {
    size_t i = 0;
    while (i < tensors.size()) {
      std::vector<size_t> members;
      int64_t bytes = 0;
      const auto dtype = tensors[i].scalar_type();
      while (i < tensors.size() && tensors[i].scalar_type() == dtype &&
             (members.empty() || bytes + static_cast<int64_t>(tensors[i].nbytes()) <= bucket_bytes_)) {
        bytes += static_cast<int64_t>(tensors[i].nbytes());
        members.push_back(i++);
      }
      std::vector<at::Tensor> parts;
      for (size_t m : members) parts.push_back(tensors[m].reshape({-1}));
      std::vector<at::Tensor> buffer = {to_backend(at::cat(parts))};
      collective(buffer);
      int64_t offset = 0;
      for (size_t m : members) {
        const int64_t n = tensors[m].numel();
        tensors[m].copy_(buffer[0].narrow(0, offset, n).view_as(tensors[m]));
        offset += n;
      }
    }
  }

  at::Tensor to_backend(const at::Tensor& tensor) const {
    return tensor.device() == device_ ? tensor.contiguous() : tensor.to(device_).contiguous();
  }

  // Each rank bumps its heartbeat in the store every 500 ms.
  void beat() {
    const std::string key = "alive/" + std::to_string(rank());
    while (!stop_) {
      try {
        store_->add(key, 1);
      } catch (const std::exception&) {
        return;  // the store is gone: the next collective will say so
      }
      for (int i = 0; i < 5 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  template <class F>
  void run(const char* what, F&& start) {
    ++collectives_;
    try {
      store_->set("entered/" + std::to_string(rank()), std::to_string(collectives_));
    } catch (const std::exception& error) {
      throw std::runtime_error(blame(what, "the rendezvous store (hosted by rank 0) is unreachable: " + first_line(error.what())));
    }
    try {
      auto work = start();
      work->wait(timeout_);
    } catch (const std::exception& error) {
      throw std::runtime_error(blame(what, first_line(error.what())));
    }
  }

  // An error message that names the rank at fault, as far as the store can tell.
  std::string blame(const char* what, const std::string& cause) {
    std::ostringstream out;
    out << "rank " << rank() << ": " << what << " #" << collectives_ << " failed (" << cause << "). ";
    try {
      if (store_->check({"failed"})) {
        auto bytes = store_->get("failed");
        out << "Cause: " << std::string(bytes.begin(), bytes.end()) << ".";
        return out.str();
      }
      std::vector<int64_t> before(world_size()), after(world_size());
      for (int r = 0; r < world_size(); ++r) before[r] = store_->add("alive/" + std::to_string(r), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      std::string dead, behind;
      for (int r = 0; r < world_size(); ++r) {
        after[r] = store_->add("alive/" + std::to_string(r), 0);
        if (r != rank() && after[r] == before[r]) dead += (dead.empty() ? "" : ", ") + std::to_string(r);
        if (r != rank() && store_->check({"entered/" + std::to_string(r)})) {
          auto bytes = store_->get("entered/" + std::to_string(r));
          if (std::stoll(std::string(bytes.begin(), bytes.end())) < collectives_) {
            behind += (behind.empty() ? "" : ", ") + std::to_string(r);
          }
        }
      }
      if (!dead.empty()) {
        out << "Rank(s) " << dead << " stopped: no heartbeat (the process died or hung).";
      } else if (!behind.empty()) {
        out << "Rank(s) " << behind << " did not reach this collective within the timeout ("
            << std::chrono::duration_cast<std::chrono::seconds>(timeout_).count() << " s).";
      } else {
        out << "Every rank is alive; the transport failed.";
      }
    } catch (const std::exception&) {
      out << "The rendezvous store is gone, so rank 0 (its host) has stopped.";
    }
    return out.str();
  }

  LaunchEnvironment environment_;
  std::chrono::milliseconds timeout_;
  int64_t bucket_bytes_;
  std::string backend_name_;
  c10::Device device_ = c10::kCPU;
  c10::intrusive_ptr<c10d::TCPStore> tcp_store_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
  int64_t collectives_ = 0;
  std::atomic<bool> stop_{false};
  std::thread heartbeat_;
};

}  // namespace

LaunchEnvironment read_launch_environment(const std::map<std::string, std::string>& variables) {
  LaunchEnvironment environment;
  if (variables.count("WORLD_SIZE") || variables.count("RANK")) {
    environment.source = "torchrun";
    environment.world_size = parse_int(variables, "WORLD_SIZE", 1);
    environment.rank = parse_int(variables, "RANK", 0);
    environment.local_rank = parse_int(variables, "LOCAL_RANK", environment.rank);
  } else if (variables.count("SLURM_PROCID") && variables.count("SLURM_NTASKS")) {
    environment.source = "slurm";
    environment.world_size = parse_int(variables, "SLURM_NTASKS", 1);
    environment.rank = parse_int(variables, "SLURM_PROCID", 0);
    environment.local_rank = parse_int(variables, "SLURM_LOCALID", 0);
    const std::string nodes = get(variables, "SLURM_STEP_NODELIST", get(variables, "SLURM_JOB_NODELIST"));
    environment.master_addr = get(variables, "MASTER_ADDR", nodes.empty() ? "127.0.0.1" : first_slurm_host(nodes));
  }
  if (environment.source == "torchrun") environment.master_addr = get(variables, "MASTER_ADDR", "127.0.0.1");
  environment.master_port = parse_int(variables, "MASTER_PORT", 29500);
  if (environment.world_size < 1) throw std::runtime_error("WORLD_SIZE must be at least 1");
  if (environment.rank < 0 || environment.rank >= environment.world_size) {
    throw std::runtime_error("RANK=" + std::to_string(environment.rank) + " is outside [0, WORLD_SIZE=" +
                             std::to_string(environment.world_size) + ")");
  }
  if (environment.master_port < 1 || environment.master_port > 65535) {
    throw std::runtime_error("MASTER_PORT=" + std::to_string(environment.master_port) + " is not a TCP port (1..65535)");
  }
  return environment;
}

LaunchEnvironment read_launch_environment() {
  std::map<std::string, std::string> variables;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text = *entry;
    const size_t equals = text.find('=');
    if (equals != std::string::npos) variables[text.substr(0, equals)] = text.substr(equals + 1);
  }
  return read_launch_environment(variables);
}

std::shared_ptr<Communicator> make_c10d_communicator(const LaunchEnvironment& environment,
                                                     const DistributedSection& settings, const std::string& device) {
  return std::make_shared<C10dCommunicator>(environment, settings, device);
}

std::shared_ptr<Communicator> communicator_from_environment(const DistributedSection& settings,
                                                            const std::string& device) {
  const LaunchEnvironment environment = read_launch_environment();
  if (environment.world_size == 1) return single_process_communicator();
  return make_c10d_communicator(environment, settings, device);
}

void report_failure(Communicator& communicator, const std::string& message) {
  if (auto* c10d = dynamic_cast<C10dCommunicator*>(&communicator)) c10d->report(message);
}

}  // namespace precept::trainer::dist
