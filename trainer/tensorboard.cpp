// TensorBoard event files: CRC32C, protobuf wire format, records, Event encoders; see tensorboard.h.
#include "trainer/tensorboard.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace precept::trainer::tensorboard {

namespace {

// The byte-at-a-time table of the reflected Castagnoli polynomial.
constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    table[byte] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// Protobuf wire types.
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

void append_tag(std::string& out, uint32_t field, uint32_t wire_type) { append_varint(out, (field << 3) | wire_type); }

void append_bytes_field(std::string& out, uint32_t field, std::string_view bytes) {
  append_tag(out, field, kLengthDelimited);
  append_varint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

void append_little_endian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint64_t read_little_endian(std::string_view bytes, size_t at, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) value |= uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return value;
}

// Event fields 1 (wall_time) and 2 (step), left out at their proto3 defaults.
std::string event_header(double wall_time, int64_t step) {
  std::string event;
  uint64_t bits;
  std::memcpy(&bits, &wall_time, sizeof bits);
  if (bits != 0) {
    append_tag(event, 1, kFixed64);
    append_little_endian(event, bits, 8);
  }
  if (step != 0) {
    append_tag(event, 2, kVarint);
    append_varint(event, static_cast<uint64_t>(step));  // int64: negative values take 10 bytes
  }
  return event;
}

// Event field 5: Summary{repeated Value value = 1}.
std::string event_with_summary(double wall_time, int64_t step, const std::vector<std::string>& values) {
  std::string summary;
  for (const std::string& value : values) append_bytes_field(summary, 1, value);
  std::string event = event_header(wall_time, step);
  append_bytes_field(event, 5, summary);
  return event;
}

}  // namespace

uint32_t crc32c(std::string_view bytes, uint32_t crc) {
  crc = ~crc;
  for (const char c : bytes) crc = kCrc32cTable[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

uint64_t read_varint(std::string_view bytes, size_t& at) {
  uint64_t value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (at >= bytes.size()) throw std::runtime_error("protobuf: varint cut off at byte " + std::to_string(at));
    const auto byte = static_cast<unsigned char>(bytes[at++]);
    value |= uint64_t(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw std::runtime_error("protobuf: varint longer than 10 bytes ending at byte " + std::to_string(at));
}

std::string frame_record(std::string_view data) {
  std::string record;
  record.reserve(data.size() + 16);
  append_little_endian(record, data.size(), 8);
  append_little_endian(record, mask_crc(crc32c(record)), 4);
  record.append(data.data(), data.size());
  append_little_endian(record, mask_crc(crc32c(data)), 4);
  return record;
}

RecordScan scan_records(std::string_view file_bytes) {
  RecordScan scan;
  size_t at = 0;
  while (at < file_bytes.size()) {
    if (file_bytes.size() - at < 12) {
      scan.problem = "record header cut off at byte " + std::to_string(at);
      break;
    }
    const uint64_t length = read_little_endian(file_bytes, at, 8);
    if (mask_crc(crc32c(file_bytes.substr(at, 8))) != read_little_endian(file_bytes, at + 8, 4)) {
      scan.problem = "wrong length checksum at byte " + std::to_string(at);
      break;
    }
    if (file_bytes.size() - at - 12 < length + 4) {
      scan.problem = "record data cut off at byte " + std::to_string(at);
      break;
    }
    const std::string_view data = file_bytes.substr(at + 12, length);
    if (mask_crc(crc32c(data)) != read_little_endian(file_bytes, at + 12 + length, 4)) {
      scan.problem = "wrong data checksum in the record at byte " + std::to_string(at);
      break;
    }
    scan.records.emplace_back(data);
    at += 12 + length + 4;
    scan.intact_bytes = at;
  }
  return scan;
}

std::string file_version_event(double wall_time) {
  std::string event = event_header(wall_time, 0);
  append_bytes_field(event, 3, "brain.Event:2");
  return event;
}

std::string scalars_event(double wall_time, int64_t step, const std::map<std::string, double>& scalars) {
  std::vector<std::string> values;
  values.reserve(scalars.size());
  for (const auto& [tag, number] : scalars) {
    std::string value;
    append_bytes_field(value, 1, tag);
    // simple_value is in a oneof, so it is written even when it is 0.
    const float single = static_cast<float>(number);
    uint32_t bits;
    std::memcpy(&bits, &single, sizeof bits);
    append_tag(value, 2, kFixed32);
    append_little_endian(value, bits, 4);
    values.push_back(std::move(value));
  }
  return event_with_summary(wall_time, step, values);
}

std::string text_event(double wall_time, int64_t step, const std::string& tag, const std::string& text) {
  // TensorProto{dtype DT_STRING = 7, tensor_shape {} (a scalar), string_val [text]}.
  std::string tensor;
  append_tag(tensor, 1, kVarint);
  append_varint(tensor, 7);
  append_bytes_field(tensor, 2, "");
  append_bytes_field(tensor, 8, text);
  // SummaryMetadata{plugin_data{plugin_name "text"}}; the text plugin's content (version 0) is empty.
  std::string plugin_data;
  append_bytes_field(plugin_data, 1, "text");
  std::string metadata;
  append_bytes_field(metadata, 1, plugin_data);
  // Value{tag = 1, tensor = 8, metadata = 9}.
  std::string value;
  append_bytes_field(value, 1, tag);
  append_bytes_field(value, 8, tensor);
  append_bytes_field(value, 9, metadata);
  return event_with_summary(wall_time, step, {value});
}

int64_t event_step(std::string_view event) {
  int64_t step = 0;
  size_t at = 0;
  while (at < event.size()) {
    const uint64_t tag = read_varint(event, at);
    const uint64_t field = tag >> 3;
    const uint64_t wire_type = tag & 7;
    if (field == 0) throw std::runtime_error("protobuf: field number 0 at byte " + std::to_string(at));
    uint64_t skip = 0;
    switch (wire_type) {
      case kVarint: {
        const uint64_t value = read_varint(event, at);
        if (field == 2) step = static_cast<int64_t>(value);
        break;
      }
      case kFixed64: skip = 8; break;
      case kLengthDelimited: skip = read_varint(event, at); break;
      case kFixed32: skip = 4; break;
      default:
        throw std::runtime_error("protobuf: unsupported wire type " + std::to_string(wire_type) + " at byte " +
                                 std::to_string(at));
    }
    if (skip > event.size() - at) throw std::runtime_error("protobuf: field " + std::to_string(field) + " cut off");
    at += skip;
  }
  return step;
}

bool is_event_file_name(const std::string& name) { return name.find("tfevents") != std::string::npos; }

EventTruncation truncate_event_files(const std::filesystem::path& directory, int64_t last_step) {
  EventTruncation result;
  std::vector<std::filesystem::path> files;
  std::error_code error;
  std::vector<std::filesystem::path> leftovers;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !is_event_file_name(name)) continue;
    const bool temporary = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
    (temporary ? leftovers : files).push_back(entry.path());
  }
  if (error) throw std::runtime_error(directory.string() + ": cannot list the folder: " + error.message());
  // A replace that a crash interrupted leaves its ".tmp"; TensorBoard would read it as events.
  for (const auto& path : leftovers) {
    std::filesystem::remove(path, error);
    if (error) throw std::runtime_error(path.string() + ": cannot delete a leftover temporary file: " + error.message());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    const std::string bytes = core::read_file(path);
    const RecordScan scan = scan_records(bytes);
    std::string kept;
    int64_t dropped = 0;
    for (const std::string& record : scan.records) {
      bool keep = false;
      try {
        keep = event_step(record) <= last_step;
      } catch (const std::runtime_error&) {
        keep = false;  // not an Event protobuf: unreadable for TensorBoard as well
      }
      if (keep) {
        kept += frame_record(record);
        ++result.kept;
      } else {
        ++dropped;
      }
    }
    if (!scan.problem.empty()) result.damaged.push_back(path.filename().string() + ": " + scan.problem);
    if (dropped > 0 || scan.intact_bytes != bytes.size()) core::replace_file_atomically(path, kept);
    result.dropped += dropped;
  }
  return result;
}

core::AppendFile EventFileWriter::create(const std::filesystem::path& directory, double wall_time) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  std::string hostname = host;
  std::replace(hostname.begin(), hostname.end(), '/', '_');
  char stem[64];
  std::snprintf(stem, sizeof stem, "events.out.tfevents.%010lld.",
                static_cast<long long>(std::isfinite(wall_time) ? wall_time : 0.0));
  const std::string base = stem + hostname;
  for (int suffix = 0;; ++suffix) {
    const std::filesystem::path path = directory / (suffix == 0 ? base : base + "." + std::to_string(suffix));
    if (std::filesystem::exists(path)) continue;
    return core::AppendFile(path, core::AppendFile::Mode::create_new);
  }
}

EventFileWriter::EventFileWriter(const std::filesystem::path& directory, double wall_time)
    : file_(create(directory, wall_time)) {
  write(file_version_event(wall_time));
}

}  // namespace precept::trainer::tensorboard
