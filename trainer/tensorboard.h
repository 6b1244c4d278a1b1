// TensorBoard event files written by hand: TFRecord framing (length, masked CRC32C, bytes, masked
// CRC32C) around `tensorflow.Event` protocol buffers encoded field by field. Not a protobuf library:
// only the fields a scalar or text summary needs. Used by trainer/metrics.h; the encoders are
// public so that tests can compare bytes.
//
// Written by hand because the alternatives are a dependency on libprotobuf plus TensorBoard's
// .proto files (and a code generator in the build) for three small messages, or TensorFlow.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/files.h"

namespace precept::trainer::tensorboard {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven. `crc` is the value of the
// bytes before these, so crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(std::string_view bytes, uint32_t crc = 0);
// TensorFlow's masked form stored in records: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t mask_crc(uint32_t crc);

// Protocol buffer wire format, the pieces an Event needs.
void append_varint(std::string& out, uint64_t value);
// Reads a varint at `at` and moves `at` past it; throws std::runtime_error when it is cut off or
// longer than 10 bytes.
uint64_t read_varint(std::string_view bytes, size_t& at);

// One record: uint64 length, masked CRC32C of those 8 bytes, the data, masked CRC32C of the data
// (all little-endian).
std::string frame_record(std::string_view data);

struct RecordScan {
  std::vector<std::string> records;  // the data of every whole, intact record, in file order
  size_t intact_bytes = 0;           // length of the prefix those records occupy
  std::string problem;               // empty, or why the bytes after that prefix were not read
};
// Splits a file's bytes into records, stopping at the first cut-off record or wrong checksum.
RecordScan scan_records(std::string_view file_bytes);

// Serialized `Event`s, in the canonical field order and with proto3 defaults (a zero step or
// wall_time) left out, so the bytes equal what protobuf's own serializer writes.
std::string file_version_event(double wall_time);                // file_version "brain.Event:2"
std::string scalars_event(double wall_time, int64_t step,        // Summary{Value{tag, simple_value}}
                          const std::map<std::string, double>& scalars);  // values rounded to float
std::string text_event(double wall_time, int64_t step,           // Summary{Value{tag, metadata text
                       const std::string& tag, const std::string& text);  // plugin, tensor string}}
// The step field of a serialized Event (0 when absent); throws std::runtime_error when the bytes
// are not a well-formed protobuf message.
int64_t event_step(std::string_view event);

// Whether `name` is an event file name TensorBoard reads (contains "tfevents").
bool is_event_file_name(const std::string& name);

// Rewrites every event file in `directory` to hold only the events with step <= last_step (and
// only its intact records), each file atomically; files with nothing to drop are not touched.
// Deletes the "<event file>.tmp" that a crash during such a rewrite can leave behind.
struct EventTruncation {
  int64_t kept = 0;                  // events kept, over all files
  int64_t dropped = 0;               // events dropped: step > last_step, or not an Event protobuf
  std::vector<std::string> damaged;  // "<file>: <problem>" for each file whose tail was cut off or corrupt
};
EventTruncation truncate_event_files(const std::filesystem::path& directory, int64_t last_step);

// A new event file `events.out.tfevents.<seconds>.<host>` in `directory` (".1", ".2", ... added
// when that name exists, so that names sort in creation order), opened with the file_version
// event. Every event reaches the operating system before write() returns.
class EventFileWriter {
 public:
  EventFileWriter(const std::filesystem::path& directory, double wall_time);
  void write(std::string_view serialized_event) { file_.write(frame_record(serialized_event)); }
  void sync() { file_.sync(); }
  const std::filesystem::path& path() const { return file_.path(); }

 private:
  static core::AppendFile create(const std::filesystem::path& directory, double wall_time);
  core::AppendFile file_;
};

}  // namespace precept::trainer::tensorboard
