// The one precompiled header: every torch include the project needs, compiled once.
// Headers of the project include narrow torch headers; this file makes them cheap.
#pragma once
#include <torch/torch.h>
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>
