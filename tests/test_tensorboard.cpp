// TensorBoard event files written by hand: CRC32C against published vectors, varints, record
// framing, and Event bytes against what protobuf's own serializer writes for the same message
// (hex strings below printed by tensorboard 2.21's event_pb2 / summary_v2.text_pb).
// tests/check_tensorboard_events.py reads whole files back with TensorBoard itself.
#include "trainer/tensorboard.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

namespace fs = std::filesystem;
using namespace precept::trainer::tensorboard;
using namespace precept::testing;

namespace {

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += digits[static_cast<unsigned char>(c) >> 4];
    out += digits[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

std::string varint(uint64_t value) {
  std::string out;
  append_varint(out, value);
  return out;
}

std::vector<fs::path> event_files_in(const fs::path& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory))
    if (is_event_file_name(entry.path().filename().string())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<int64_t> steps_in(const fs::path& file) {
  std::vector<int64_t> steps;
  for (const std::string& record : scan_records(read_all(file)).records) steps.push_back(event_step(record));
  return steps;
}

}  // namespace

TEST(Crc32c, PublishedVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  EXPECT_EQ(crc32c(""), 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending += static_cast<char>(i);
    descending += static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
}

TEST(Crc32c, ContinuesAndMasks) {
  EXPECT_EQ(crc32c("56789", crc32c("1234")), 0xE3069283u);
  EXPECT_EQ(mask_crc(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc(crc32c("123456789")), 0xc78ab0e5u);  // tensorboard's masked_crc32c
}

TEST(Protobuf, Varints) {
  EXPECT_EQ(hex(varint(0)), "00");
  EXPECT_EQ(hex(varint(1)), "01");
  EXPECT_EQ(hex(varint(127)), "7f");
  EXPECT_EQ(hex(varint(128)), "8001");
  EXPECT_EQ(hex(varint(300)), "ac02");
  EXPECT_EQ(hex(varint(std::numeric_limits<uint64_t>::max())), "ffffffffffffffffff01");
  for (const uint64_t value : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) {
    const std::string bytes = varint(value) + "rest";
    size_t at = 0;
    EXPECT_EQ(read_varint(bytes, at), value);
    EXPECT_EQ(at, bytes.size() - 4);
  }
  size_t at = 0;
  EXPECT_NE(error_of([&] { read_varint("\x80\x80", at); }).find("cut off"), std::string::npos);
  at = 0;
  EXPECT_NE(error_of([&] { read_varint(std::string(11, '\x80') + "\x01", at); }).find("longer than 10"),
            std::string::npos);
}

TEST(Records, FramingMatchesTensorBoard) {
  EXPECT_EQ(hex(frame_record("hello")), "0500000000000000eab2043e68656c6c6fbb1f1c19");
  const std::string two = frame_record("hello") + frame_record("");
  const RecordScan scan = scan_records(two);
  ASSERT_EQ(scan.records.size(), 2u);
  EXPECT_EQ(scan.records[0], "hello");
  EXPECT_EQ(scan.records[1], "");
  EXPECT_EQ(scan.intact_bytes, two.size());
  EXPECT_EQ(scan.problem, "");
}

TEST(Records, StopAtACutOrCorruptRecord) {
  const std::string first = frame_record("first");
  const std::string second = frame_record("second");
  for (size_t cut = 1; cut < second.size(); ++cut) {
    const RecordScan scan = scan_records(first + second.substr(0, cut));
    ASSERT_EQ(scan.records.size(), 1u) << cut;
    EXPECT_EQ(scan.intact_bytes, first.size());
    EXPECT_NE(scan.problem.find("cut off"), std::string::npos) << scan.problem;
  }
  std::string corrupt = first + second;
  corrupt[first.size() + 13] ^= 1;  // a data byte of the second record
  RecordScan scan = scan_records(corrupt);
  EXPECT_EQ(scan.records.size(), 1u);
  EXPECT_NE(scan.problem.find("wrong data checksum"), std::string::npos) << scan.problem;
  corrupt = first + second;
  corrupt[first.size() + 1] ^= 1;  // its length
  scan = scan_records(corrupt);
  EXPECT_EQ(scan.records.size(), 1u);
  EXPECT_NE(scan.problem.find("wrong length checksum"), std::string::npos) << scan.problem;
}

TEST(Events, BytesEqualProtobufSerializer) {
  EXPECT_EQ(hex(file_version_event(1.5)), "09000000000000f83f1a0d627261696e2e4576656e743a32");
  EXPECT_EQ(hex(scalars_event(1700000000.25, 7, {{"loss", 0.5}, {"reward/mean", -1.0}, {"zero", 0.0}})),
            "0900001040fc54d94110072a2e0a0b0a046c6f7373150000003f0a120a0b7265776172642f6d65616e15000080bf0a0b0a04"
            "7a65726f1500000000");
  EXPECT_EQ(hex(text_event(2.0, 300, "samples/0", "hi *there*")),
            "09000000000000004010ac022a290a270a0973616d706c65732f30421008071200420a6869202a74686572652a4a080a060a"
            "0474657874");
}

TEST(Events, StepIsReadBack) {
  EXPECT_EQ(event_step(file_version_event(3.0)), 0);
  EXPECT_EQ(event_step(scalars_event(1.0, 12345678901, {{"x", 1.0}})), 12345678901);
  EXPECT_EQ(event_step(text_event(1.0, 9, "t", "text")), 9);
  EXPECT_EQ(hex(scalars_event(0.0, -3, {})), "10fdffffffffffffffff012a00");
  EXPECT_EQ(event_step(scalars_event(0.0, -3, {})), -3);
  EXPECT_NE(error_of([] { event_step("\x2a\x10short"); }).find("cut off"), std::string::npos);
  EXPECT_NE(error_of([] { event_step("\x0b"); }).find("wire type 3"), std::string::npos);
}

TEST(Events, ScalarsAreRoundedToFloat) {
  const std::string event = scalars_event(1.0, 1, {{"x", 0.1}});
  float stored;
  std::memcpy(&stored, event.data() + event.size() - 4, 4);
  EXPECT_EQ(stored, 0.1f);
  const std::string nan = scalars_event(1.0, 1, {{"x", std::nan("")}});
  std::memcpy(&stored, nan.data() + nan.size() - 4, 4);
  EXPECT_TRUE(std::isnan(stored));
}

TEST(EventFileWriter, NamesSortInCreationOrder) {
  const fs::path dir = temp_dir("tensorboard_names");
  std::vector<fs::path> paths;
  {
    EventFileWriter first(dir, 1700000000.9);
    EventFileWriter second(dir, 1700000000.1);
    EventFileWriter third(dir, 1700000000.5);
    paths = {first.path(), second.path(), third.path()};
  }
  const std::string name = paths[0].filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.1700000000.", 0), 0u) << name;
  EXPECT_EQ(paths[1].filename().string(), name + ".1");
  EXPECT_EQ(paths[2].filename().string(), name + ".2");
  EXPECT_EQ(event_files_in(dir), paths);
  const RecordScan scan = scan_records(read_all(paths[0]));
  ASSERT_EQ(scan.records.size(), 1u);
  EXPECT_EQ(scan.records[0], file_version_event(1700000000.9));
  fs::remove_all(dir);
}

TEST(EventFileWriter, UnwritableFolderNamesTheFile) {
  const fs::path dir = temp_dir("tensorboard_missing");
  const std::string message = error_of([&] { EventFileWriter writer(dir / "absent", 1.0); });
  EXPECT_NE(message.find("absent/events.out.tfevents."), std::string::npos) << message;
  EXPECT_NE(message.find("cannot create"), std::string::npos) << message;
  fs::remove_all(dir);
}

TEST(TruncateEventFiles, KeepsStepsUpToTheLastAndDropsATornTail) {
  const fs::path dir = temp_dir("tensorboard_truncate");
  fs::path first_path, second_path;
  {
    EventFileWriter first(dir, 100.0);
    for (int step = 1; step <= 6; ++step) first.write(scalars_event(100.0 + step, step, {{"x", step}}));
    first_path = first.path();
    EventFileWriter second(dir, 100.0);  // a second file, all of it at or before step 2
    second.write(scalars_event(200.0, 2, {{"y", 2}}));
    second_path = second.path();
  }
  const std::string second_before = read_all(second_path);
  // A record torn by a crash at the end of the first file.
  const std::string torn = frame_record(scalars_event(107.0, 7, {{"x", 7}}));
  std::ofstream(first_path, std::ios::binary | std::ios::app) << torn.substr(0, torn.size() - 3);

  // And the temporary file of a rewrite that a crash interrupted.
  write_all(first_path.string() + ".tmp", "partial");

  const EventTruncation result = truncate_event_files(dir, 3);
  EXPECT_EQ(result.kept, 4 + 2);  // file_version + steps 1..3; file_version + step 2
  EXPECT_EQ(result.dropped, 3);   // steps 4..6
  ASSERT_EQ(result.damaged.size(), 1u);
  EXPECT_NE(result.damaged[0].find(first_path.filename().string() + ": record data cut off"), std::string::npos)
      << result.damaged[0];
  EXPECT_EQ(steps_in(first_path), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(read_all(second_path), second_before);
  EXPECT_FALSE(fs::exists(first_path.string() + ".tmp"));
  EXPECT_EQ(event_files_in(dir), (std::vector<fs::path>{first_path, second_path}));
  fs::remove_all(dir);
}
