// core::python_json_dumps against strings Python 3's json.dumps(x, ensure_ascii=False) printed
// (copied from an interpreter session). JudgeFixtures.PythonJsonStrings compares many more
// strings generated at test time (tests/check_judge_text.py).
#include "core/python_strings.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using json = nlohmann::ordered_json;
using precept::core::python_json_dumps;
using precept::core::python_json_string;

TEST(PythonJson, SeparatorsAndKeyOrder) {
  json value = json::object();
  value["z"] = 1;
  value["a"] = json::array({1, 2.5, nullptr, true, false, "s"});
  value["m"] = json::object();
  value["e"] = json::array();
  EXPECT_EQ(python_json_dumps(value), R"({"z": 1, "a": [1, 2.5, null, true, false, "s"], "m": {}, "e": []})");
  EXPECT_EQ(python_json_dumps(json::parse(R"({"b": {"c": [[]], "a": {"x": -3}}})")),
            R"({"b": {"c": [[]], "a": {"x": -3}}})");
}

TEST(PythonJson, StringEscapes) {
  // json.dumps('\x00\x01\x08\x0b\x1f\x7f\x80\u2028', ensure_ascii=False)
  EXPECT_EQ(python_json_string(std::string("\x00\x01\x08\x0b\x1f\x7f\xc2\x80\xe2\x80\xa8", 11)),
            "\"\\u0000\\u0001\\b\\u000b\\u001f\x7f\xc2\x80\xe2\x80\xa8\"");
  EXPECT_EQ(python_json_string("q\" b\\ n\n r\r t\t f\f /"), R"("q\" b\\ n\n r\r t\t f\f /")");
  EXPECT_EQ(python_json_string("é/😀 日本"), "\"é/😀 日本\"");
  EXPECT_EQ(python_json_string("\x1b[0m"), "\"\\u001b[0m\"");
}

TEST(PythonJson, InvalidUtf8IsRepairedAsPythonDecodes) {
  // b'a\xffb\xe4\xb8'.decode('utf-8', 'replace') == 'a\ufffdb\ufffd'
  EXPECT_EQ(python_json_string("a\xff" "b\xe4\xb8"), "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
  json value = json::object();
  value["k\xff"] = "v";
  EXPECT_EQ(python_json_dumps(value), "{\"k\xef\xbf\xbd\": \"v\"}");
}

TEST(PythonJson, NumbersAsPythonPrintsThem) {
  const std::pair<double, const char*> floats[] = {
      {1.0, "1.0"},     {1e16, "1e+16"},     {0.1, "0.1"},   {1e-5, "1e-05"}, {123456789.125, "123456789.125"},
      {2.5e-7, "2.5e-07"}, {-0.0, "-0.0"}, {1e22, "1e+22"}, {3e-300, "3e-300"}};
  for (const auto& [number, text] : floats) EXPECT_EQ(python_json_dumps(json(number)), text) << text;
  EXPECT_EQ(python_json_dumps(json(std::numeric_limits<double>::quiet_NaN())), "NaN");
  EXPECT_EQ(python_json_dumps(json(std::numeric_limits<double>::infinity())), "Infinity");
  EXPECT_EQ(python_json_dumps(json(-std::numeric_limits<double>::infinity())), "-Infinity");
  EXPECT_EQ(python_json_dumps(json(-42)), "-42");
  EXPECT_EQ(python_json_dumps(json(uint64_t{18446744073709551615u})), "18446744073709551615");
}
