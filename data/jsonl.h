// Reading JSONL files record by record, with errors that name the file and the line: a line
// that is not JSON, is not an object, or repeats a key (a JSON object with a duplicate key is
// not an error for nlohmann or Python, which silently keep one value; a dataset that does it
// is broken). Blank lines are skipped. Keys keep their order (ordered_json), so an object of
// responses keeps the order it was written in. Used by the dataset readers in data/ and the
// evaluation commands. Not a streaming parser for huge files: one line at a time, in memory.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace precept::data {

using ordered_json = nlohmann::ordered_json;

// One JSON value from `text`; `where` ("file:line") prefixes every error. Duplicate keys in
// any object are an error naming the key.
ordered_json parse_json_text(const std::string& text, const std::string& where);

// Calls visit(record, where, line_number) for every non-blank line of a JSONL file, where each
// line must be a JSON object. Throws std::runtime_error naming the file (and line) when the file
// cannot be opened or a line is not a JSON object.
void for_each_jsonl_object(const std::filesystem::path& path,
                           const std::function<void(const ordered_json& record, const std::string& where,
                                                    int64_t line_number)>& visit);

// A record's "id": a string, or an integer written as its digits. Throws "WHERE: field 'id': ..."
// when it is missing or of another type.
std::string record_id(const ordered_json& record, const std::string& where);

// "an object", "an array", "a string", "a number", "a boolean" or "null": for error messages.
std::string json_type_name(const ordered_json& value);

}  // namespace precept::data
