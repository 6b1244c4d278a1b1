// Principle files: the format, its errors (file, line, key), and the starter set in
// configs/principles/, which must all load.
#include "reward/principle.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <set>

namespace fs = std::filesystem;
using namespace precept::reward;
using namespace precept::testing;

TEST(Principle, ReadsTheKeys) {
  const Principle p = parse_principle(
      "name = \"brief\"\ndescription = \"  Short answers. \"\ntext = \"\"\"\nAnswer in at most three sentences.\n\"\"\"\n",
      "dir/brief_v2.toml");
  EXPECT_EQ(p.name, "brief");
  EXPECT_EQ(p.description, "Short answers.");
  EXPECT_EQ(p.text, "Answer in at most three sentences.");
  EXPECT_EQ(p.source, "dir/brief_v2.toml");

  const Principle unnamed = parse_principle("text = 'Be kind.'", "dir/kindness.toml");
  EXPECT_EQ(unnamed.name, "kindness");
  EXPECT_EQ(unnamed.description, "");
}

TEST(Principle, ErrorsNameFileLineAndKey) {
  const std::string unknown = error_of([] { parse_principle("text = 'x'\n\ncolour = 'red'\n", "p.toml"); });
  EXPECT_NE(unknown.find("p.toml:3"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("unknown key 'colour'"), std::string::npos) << unknown;

  const std::string wrong_type = error_of([] { parse_principle("name = 'n'\ntext = 5\n", "p.toml"); });
  EXPECT_NE(wrong_type.find("p.toml:2"), std::string::npos) << wrong_type;
  EXPECT_NE(wrong_type.find("'text' must be a string, not an integer"), std::string::npos) << wrong_type;

  const std::string table = error_of([] { parse_principle("text = 'x'\n[description]\na = 1\n", "p.toml"); });
  EXPECT_NE(table.find("'description' must be a string, not a table"), std::string::npos) << table;

  const std::string missing = error_of([] { parse_principle("name = 'n'\n", "p.toml"); });
  EXPECT_NE(missing.find("p.toml"), std::string::npos);
  EXPECT_NE(missing.find("'text'"), std::string::npos);
  EXPECT_NE(missing.find("missing"), std::string::npos) << missing;

  const std::string empty = error_of([] { parse_principle("text = \"\"\"\n   \n\"\"\"\n", "p.toml"); });
  EXPECT_NE(empty.find("p.toml:1: key 'text' is empty"), std::string::npos) << empty;

  const std::string syntax = error_of([] { parse_principle("text = 'x'\nname = \n", "p.toml"); });
  EXPECT_NE(syntax.find("p.toml:2"), std::string::npos) << syntax;
  EXPECT_NE(syntax.find("syntax"), std::string::npos) << syntax;

  const std::string no_file = error_of([] { load_principle("/no/such/principle.toml"); });
  EXPECT_NE(no_file.find("/no/such/principle.toml"), std::string::npos) << no_file;
}

TEST(Principle, LoadsFromAFile) {
  const fs::path dir = temp_dir("principle");
  write_all(dir / "honest.toml", "text = \"Say so when you do not know.\"\n");
  const Principle p = load_principle(dir / "honest.toml");
  EXPECT_EQ(p.name, "honest");
  EXPECT_EQ(p.source, (dir / "honest.toml").string());
  fs::remove_all(dir);
}

TEST(Principle, StarterSetLoads) {
  std::set<std::string> names;
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(PRECEPT_SOURCE_DIR) / "configs/principles")) {
    if (entry.path().extension() != ".toml") continue;
    const Principle p = load_principle(entry.path());
    EXPECT_EQ(p.name, entry.path().stem().string()) << entry.path();
    EXPECT_FALSE(p.description.empty()) << entry.path();
    EXPECT_GT(p.text.size(), 80u) << entry.path();
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    ++count;
  }
  EXPECT_GE(count, 8u);
  EXPECT_TRUE(names.count("nuanced_safety"));
}
