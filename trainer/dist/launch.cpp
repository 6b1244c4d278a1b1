#include "trainer/dist/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace precept::trainer::dist {

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("cannot open a socket to find a free port");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a local socket to find a free port");
  }
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

int launch_local(int nproc, const std::vector<std::string>& train_args, int grace_seconds, const std::string& command) {
  if (nproc < 1) throw std::invalid_argument("--nproc must be at least 1");
  // The same command without --nproc (and its value), run once per rank.
  std::vector<std::string> args = {command};
  for (size_t i = 0; i < train_args.size(); ++i) {
    if (train_args[i] == "--nproc") {
      ++i;
      continue;
    }
    if (train_args[i].rfind("--nproc=", 0) == 0) continue;
    args.push_back(train_args[i]);
  }
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) throw std::runtime_error("cannot find this program's path (/proc/self/exe)");
  self[length] = '\0';
  const int port = free_local_port();
  std::cerr << "[precept " << command << "] starting " << nproc << " local ranks (MASTER_ADDR=127.0.0.1 MASTER_PORT=" << port << ")\n";

  std::vector<pid_t> children;
  const pid_t launcher = ::getpid();
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
      // A rank dies with its launcher: were the launcher killed (kill -9, the OOM killer), orphaned
      // ranks would go on training and writing checkpoints beside the next run. The signal is
      // kept across execv; the check covers a launcher that died before prctl.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != launcher) ::_exit(1);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> argv = {self};
      for (auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(self, argv.data());
      std::perror("execv");
      ::_exit(127);
    }
    children.push_back(pid);
  }

  // Wait; after the first failure give the others the grace period to fail on their own
  // (they name the rank at fault), then stop them.
  int first_failure = 0, failed_rank = -1;
  size_t running = children.size();
  std::chrono::steady_clock::time_point deadline{};
  std::vector<bool> done(children.size(), false);
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, failed_rank >= 0 ? WNOHANG : 0);
    if (pid > 0) {
      for (size_t r = 0; r < children.size(); ++r) {
        if (children[r] != pid || done[r]) continue;
        done[r] = true;
        --running;
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (code != 0 && failed_rank < 0) {
          failed_rank = static_cast<int>(r);
          first_failure = code;
          deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds);
          std::cerr << "[precept " << command << "] rank " << r << " exited with code " << code << "; waiting up to " << grace_seconds
                    << " s for the other ranks\n";
        }
      }
      continue;
    }
    if (failed_rank >= 0 && std::chrono::steady_clock::now() > deadline) {
      for (size_t r = 0; r < children.size(); ++r) {
        if (!done[r]) {
          std::cerr << "[precept " << command << "] stopping rank " << r << "\n";
          ::kill(children[r], SIGKILL);
        }
      }
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return first_failure;
}

}  // namespace precept::trainer::dist
