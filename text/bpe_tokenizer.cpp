// BpeTokenizer: see bpe_tokenizer.h. The order of work is tokenizers' Tokenizer::encode:
//   1. added tokens whose `normalized` is false are cut out of the raw text,
//   2. each remaining segment is normalized, then added tokens with `normalized` are cut out,
//   3. each remaining segment is pre-tokenized into words,
//   4. each word goes through BPE (ByteLevel words are bytes here: the model's tokens are stored
//      as the bytes they stand for, so no byte-to-character mapping happens at encode time),
//   5. the post-processor's ids go around the result.
#include "text/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <queue>
#include <unordered_map>

namespace precept::text {

namespace {

// Words longer than this are not cached (as tokenizers); the cache is emptied when full.
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kCacheCapacity = 1 << 16;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// The added tokens of one trie of tokenizers' AddedVocabulary: leftmost-longest matching, then
// single_word / lstrip / rstrip as AddedVocabulary::find_matches applies them.
class AddedTokenMatcher {
 public:
  struct Entry {
    std::string text;
    int32_t id = 0;
    bool lstrip = false, rstrip = false, single_word = false;
  };

  void add(Entry entry) {
    if (!entry.text.empty()) entries_.push_back(std::move(entry));
  }
  void finish() {
    for (auto& candidates : by_first_byte_) candidates.clear();
    for (size_t i = 0; i < entries_.size(); ++i) {
      by_first_byte_[static_cast<unsigned char>(entries_[i].text[0])].push_back(i);
    }
    for (auto& candidates : by_first_byte_) {
      std::stable_sort(candidates.begin(), candidates.end(),
                       [&](size_t a, size_t b) { return entries_[a].text.size() > entries_[b].text.size(); });
    }
  }

  // Calls on_text for each non-empty stretch of text between tokens and on_token for each token,
  // in order.
  void split(std::string_view text, const std::function<void(std::string_view)>& on_text,
             const std::function<void(int32_t)>& on_token) const {
    if (entries_.empty()) {
      if (!text.empty()) on_text(text);
      return;
    }
    size_t start_offset = 0;  // where the text not yet given out begins
    size_t pos = 0;
    while (pos < text.size()) {
      const Entry* found = nullptr;
      for (size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
        const Entry& entry = entries_[index];
        if (entry.text.size() <= text.size() - pos &&
            std::memcmp(entry.text.data(), text.data() + pos, entry.text.size()) == 0) {
          found = &entry;
          break;
        }
      }
      if (found == nullptr) {
        ++pos;
        continue;
      }
      size_t start = pos, stop = pos + found->text.size();
      pos = stop;  // the search goes on after the match, whatever becomes of it
      if (found->single_word) {
        const bool free_start = start == 0 || !ends_with_word_char(text.substr(0, start));
        const bool free_stop = stop == text.size() || !starts_with_word_char(text.substr(stop));
        if (!free_start || !free_stop) continue;
      }
      if (found->lstrip) start = std::max(start - trailing_white_space(text.substr(0, start)), start_offset);
      if (found->rstrip) stop += leading_white_space(text.substr(stop));
      if (start_offset < start) on_text(text.substr(start_offset, start - start_offset));
      on_token(found->id);
      start_offset = std::max(start_offset, stop);
    }
    if (start_offset < text.size()) on_text(text.substr(start_offset));
  }

 private:
  static char32_t last_code_point(std::string_view text) {
    size_t pos = text.size() - 1;
    while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
    return unicode::decode_next(text, pos);
  }
  static bool ends_with_word_char(std::string_view text) {
    return !text.empty() && unicode::is_word_char(last_code_point(text));
  }
  static bool starts_with_word_char(std::string_view text) {
    size_t pos = 0;
    return !text.empty() && unicode::is_word_char(unicode::decode_next(text, pos));
  }
  static size_t leading_white_space(std::string_view text) {
    size_t pos = 0, length = 0;
    while (pos < text.size() && unicode::is_white_space(unicode::decode_next(text, pos))) length = pos;
    return length;
  }
  static size_t trailing_white_space(std::string_view text) {
    size_t end = text.size();
    while (end > 0) {
      size_t start = end - 1;
      while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      size_t pos = start;
      if (!unicode::is_white_space(unicode::decode_next(text, pos))) break;
      end = start;
    }
    return text.size() - end;
  }

  std::vector<Entry> entries_;
  std::array<std::vector<size_t>, 256> by_first_byte_;
};

}  // namespace

struct BpeTokenizer::Impl {
  enum class Kind : uint8_t { kNone, kModel, kAdded };
  struct Merge {
    int32_t rank;
    int32_t id;
  };

  std::string source;
  int64_t vocab_size = 0;

  // Per id.
  std::vector<Kind> kinds;
  std::vector<bool> special;
  std::vector<std::string> pieces;   // as the files spell them
  std::vector<std::string> decoded;  // the bytes the ByteLevel decoder writes for the id

  std::unordered_map<std::string, int64_t> piece_to_id;  // added tokens win over the model's
  std::unordered_map<std::string, int32_t> bytes_to_id;  // the model's tokens by their bytes
  std::unordered_map<uint64_t, Merge> merges;            // pair_key(left, right)
  std::array<int32_t, 256> byte_ids{};                   // -1 when the byte is not a token
  std::array<std::vector<int32_t>, 256> fallback_ids;    // "<0xNN>" ids, when byte_fallback
  std::optional<int32_t> unk_id;
  bool fuse_unk = false;
  bool ignore_merges = false;

  AddedTokenMatcher raw_tokens;
  AddedTokenMatcher normalized_tokens;
  std::vector<unicode::NormalForm> normalizers;
  PreTokenizer pre_tokenizer{{}};
  std::vector<int64_t> prefix_ids, suffix_ids;
  std::optional<int64_t> bos_id, eos_id;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(source + ": " + what); }

  void check_id(int64_t id) const {
    if (id < 0 || id >= vocab_size) {
      throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary of " + source + " (" +
                              std::to_string(vocab_size) + " ids)");
    }
  }

  std::vector<int32_t> merge_word(std::string_view word) const;
  void encode_word(std::string_view word, std::vector<int64_t>& ids) const;
};

// The symbols of the word start as one token per byte; then the adjacent pair with the lowest
// merge rank (the leftmost among equals) is merged until no pair has a merge: tokenizers'
// Word::merge_all, with its priority queue and lazy invalidation.
std::vector<int32_t> BpeTokenizer::Impl::merge_word(std::string_view word) const {
  struct Symbol {
    int32_t id;
    int32_t previous;
    int32_t next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto append = [&](int32_t id) {
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, -1});
    if (index > 0) symbols[index - 1].next = index;
  };
  bool unk_pending = false;
  for (char c : word) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte_ids[byte] >= 0) {
      if (unk_pending) append(*unk_id), unk_pending = false;
      append(byte_ids[byte]);
    } else if (!fallback_ids[byte].empty()) {
      if (unk_pending) append(*unk_id), unk_pending = false;
      for (int32_t id : fallback_ids[byte]) append(id);
    } else if (unk_id) {
      if (unk_pending && !fuse_unk) append(*unk_id);
      unk_pending = true;
    }
    // else: no token, no fallback, no unk: the byte is dropped, as tokenizers does.
  }
  if (unk_pending) append(*unk_id);

  struct Candidate {
    int32_t rank;
    int32_t position;  // index of the left symbol
    int32_t id;        // the merged token
  };
  auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.position > b.position;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  auto consider = [&](int32_t left) {
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    auto found = merges.find(pair_key(symbols[left].id, symbols[right].id));
    if (found != merges.end()) queue.push({found->second.rank, left, found->second.id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (left.id < 0 || left.next < 0) continue;  // merged away, or nothing on its right any more
    Symbol& right = symbols[left.next];
    auto found = merges.find(pair_key(left.id, right.id));
    if (found == merges.end() || found->second.id != top.id) continue;  // the pair has changed
    left.id = top.id;
    right.id = -1;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].previous = top.position;
    if (left.previous >= 0) consider(left.previous);
    consider(top.position);
  }

  std::vector<int32_t> ids;
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
  return ids;
}

void BpeTokenizer::Impl::encode_word(std::string_view word, std::vector<int64_t>& ids) const {
  std::string key(word);
  if (ignore_merges) {
    auto whole = bytes_to_id.find(key);
    if (whole != bytes_to_id.end()) {
      ids.push_back(whole->second);
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto hit = cache.find(key);
    if (hit != cache.end()) {
      ids.insert(ids.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  std::vector<int32_t> merged = merge_word(word);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (word.size() < kMaxCachedWordBytes) {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= kCacheCapacity) cache.clear();
    cache.emplace(std::move(key), std::move(merged));
  }
}

// ---------------------------------------------------------------------------------------------

BpeTokenizer::BpeTokenizer(BpeSpec spec) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.source = spec.source;

  const bool byte_level = !spec.pre_tokenizer.empty() &&
                          spec.pre_tokenizer.back().kind == PreTokenizerStep::Kind::kByteLevel;
  if (!byte_level) {
    throw UnsupportedTokenizerError(m.source +
                                    ": the pre-tokenizer does not end with ByteLevel; precept's BPE "
                                    "tokenizer handles byte-level BPE only");
  }

  // Ids and their pieces. The id space is bounded by the entries there are (real vocabularies
  // are dense; this leaves room for gaps), so that one huge id cannot make precept allocate
  // billions of empty pieces.
  const int64_t entries = static_cast<int64_t>(spec.vocab.size() + spec.added_tokens.size());
  const int64_t id_limit = std::min<int64_t>(INT32_MAX, 2 * entries + 65536);
  int64_t size = 0;
  for (const auto& [piece, id] : spec.vocab) {
    if (id < 0 || id >= id_limit) {
      m.fail("token '" + piece + "' has the id " + std::to_string(id) + " (ids must be below " + std::to_string(id_limit) +
             " for " + std::to_string(entries) + " tokens)");
    }
    size = std::max(size, id + 1);
  }
  for (const BpeAddedToken& token : spec.added_tokens) {
    if (token.id < 0 || token.id >= id_limit) {
      m.fail("added token '" + token.content + "' has the id " + std::to_string(token.id) + " (ids must be below " +
             std::to_string(id_limit) + " for " + std::to_string(entries) + " tokens)");
    }
    if (token.content.empty()) m.fail("added token " + std::to_string(token.id) + " is empty");
    size = std::max(size, token.id + 1);
  }
  m.vocab_size = size;
  m.kinds.assign(size, Impl::Kind::kNone);
  m.special.assign(size, false);
  m.pieces.resize(size);
  m.decoded.resize(size);
  // The ByteLevel decoder writes a token's bytes when every character of it is in the byte-level
  // alphabet, and its UTF-8 text otherwise.
  auto decoded_bytes = [](const std::string& piece) {
    std::optional<std::string> bytes = unicode::byte_level_to_bytes(piece);
    return bytes ? *bytes : piece;
  };

  m.bytes_to_id.reserve(spec.vocab.size());
  std::unordered_map<std::string, int32_t> model_ids;  // as spelled in the files
  model_ids.reserve(spec.vocab.size());
  for (const auto& [piece, id] : spec.vocab) {
    if (m.kinds[id] != Impl::Kind::kNone) {
      m.fail("the id " + std::to_string(id) + " is given to both '" + m.pieces[id] + "' and '" + piece + "'");
    }
    if (!model_ids.emplace(piece, static_cast<int32_t>(id)).second) m.fail("token '" + piece + "' appears twice");
    m.kinds[id] = Impl::Kind::kModel;
    m.pieces[id] = piece;
    m.decoded[id] = decoded_bytes(piece);
    if (std::optional<std::string> bytes = unicode::byte_level_to_bytes(piece)) {
      m.bytes_to_id.emplace(std::move(*bytes), static_cast<int32_t>(id));
    }
    m.piece_to_id.emplace(piece, id);
  }

  // Merges: rank = position in the list; a later duplicate of a pair takes its rank.
  m.merges.reserve(spec.merges.size());
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [left, right] = spec.merges[rank];
    // Captured by an init-capture: clang before 16 (Debian's 14 builds fuzz/) cannot capture a structured binding.
    auto id_of = [&, &left = left, &right = right](const std::string& piece) {
      auto found = model_ids.find(piece);
      if (found == model_ids.end()) {
        m.fail("merge " + std::to_string(rank) + " ('" + left + "' '" + right + "') needs the token '" + piece +
               "', which is not in the vocabulary");
      }
      return found->second;
    };
    const int32_t left_id = id_of(left), right_id = id_of(right), merged_id = id_of(left + right);
    m.merges[pair_key(left_id, right_id)] = {static_cast<int32_t>(rank), merged_id};
  }
  m.ignore_merges = spec.ignore_merges;

  for (int byte = 0; byte < 256; ++byte) {
    auto found = m.bytes_to_id.find(std::string(1, static_cast<char>(byte)));
    m.byte_ids[byte] = found == m.bytes_to_id.end() ? -1 : found->second;
    if (m.byte_ids[byte] < 0 && spec.byte_fallback) {
      // tokenizers falls back on the UTF-8 bytes of the missing byte-level character.
      std::vector<int32_t> ids;
      for (char c : unicode::byte_to_char(static_cast<unsigned char>(byte))) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned char>(c));
        auto fallback = model_ids.find(name);
        if (fallback == model_ids.end()) {
          ids.clear();
          break;
        }
        ids.push_back(fallback->second);
      }
      m.fallback_ids[byte] = std::move(ids);
    }
  }
  if (spec.unk_token) {
    auto found = model_ids.find(*spec.unk_token);
    if (found == model_ids.end()) m.fail("unk_token '" + *spec.unk_token + "' is not in the vocabulary");
    m.unk_id = found->second;
  }
  m.fuse_unk = spec.fuse_unk;

  // Added tokens.
  for (const BpeAddedToken& token : spec.added_tokens) {
    m.kinds[token.id] = Impl::Kind::kAdded;
    m.special[token.id] = token.special;
    m.pieces[token.id] = token.content;
    m.decoded[token.id] = decoded_bytes(token.content);
    m.piece_to_id[token.content] = token.id;
    AddedTokenMatcher::Entry entry{token.content, static_cast<int32_t>(token.id), token.lstrip, token.rstrip,
                                   token.single_word};
    if (token.normalized) {
      for (unicode::NormalForm form : spec.normalizers) entry.text = unicode::normalize(entry.text, form);
      m.normalized_tokens.add(std::move(entry));
    } else {
      m.raw_tokens.add(std::move(entry));
    }
  }
  m.raw_tokens.finish();
  m.normalized_tokens.finish();

  m.normalizers = spec.normalizers;
  try {
    m.pre_tokenizer = PreTokenizer(spec.pre_tokenizer);
  } catch (const std::runtime_error& error) {
    m.fail(error.what());
  }

  for (const auto* list : {&spec.prefix_ids, &spec.suffix_ids}) {
    for (int64_t id : *list) {
      if (id < 0 || id >= size || m.kinds[id] == Impl::Kind::kNone) {
        m.fail("the post-processor adds the id " + std::to_string(id) + ", which names no token");
      }
    }
  }
  m.prefix_ids = spec.prefix_ids;
  m.suffix_ids = spec.suffix_ids;
  for (const auto& id : {spec.bos_id, spec.eos_id}) {
    if (id && (*id < 0 || *id >= size || m.kinds[*id] == Impl::Kind::kNone)) {
      m.fail("the BOS/EOS id " + std::to_string(*id) + " names no token");
    }
  }
  m.bos_id = spec.bos_id;
  m.eos_id = spec.eos_id;
}

BpeTokenizer::~BpeTokenizer() = default;

std::vector<int64_t> BpeTokenizer::encode(const std::string& text, bool add_special) const {
  const Impl& m = *impl_;
  std::string repaired;
  std::string_view input = text;
  if (!unicode::is_valid_utf8(text)) {
    repaired = unicode::to_valid_utf8(text);
    input = repaired;
  }

  std::vector<int64_t> ids;
  ids.reserve(input.size() / 3 + m.prefix_ids.size() + m.suffix_ids.size() + 4);
  if (add_special) ids.insert(ids.end(), m.prefix_ids.begin(), m.prefix_ids.end());

  const std::function<void(int32_t)> add_token = [&](int32_t id) { ids.push_back(id); };
  const std::function<void(std::string_view)> add_word = [&](std::string_view word) { m.encode_word(word, ids); };
  const std::function<void(std::string_view)> pre_tokenize = [&](std::string_view segment) {
    m.pre_tokenizer.split(segment, add_word);
  };
  const std::function<void(std::string_view)> normalize = [&](std::string_view segment) {
    if (m.normalizers.empty()) {
      m.normalized_tokens.split(segment, pre_tokenize, add_token);
      return;
    }
    std::string normalized(segment);
    for (unicode::NormalForm form : m.normalizers) normalized = unicode::normalize(normalized, form);
    m.normalized_tokens.split(normalized, pre_tokenize, add_token);
  };
  m.raw_tokens.split(input, normalize, add_token);

  if (add_special) ids.insert(ids.end(), m.suffix_ids.begin(), m.suffix_ids.end());
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string bytes;
  for (int64_t id : ids) {
    m.check_id(id);
    if (m.kinds[id] == Impl::Kind::kNone) continue;
    if (skip_special && m.special[id]) continue;
    bytes += m.decoded[id];
  }
  return unicode::is_valid_utf8(bytes) ? bytes : unicode::to_valid_utf8(bytes);
}

std::string BpeTokenizer::piece(int64_t id) const {
  const Impl& m = *impl_;
  m.check_id(id);
  if (m.kinds[id] == Impl::Kind::kNone) {
    throw std::out_of_range("token id " + std::to_string(id) + " names no token of " + m.source);
  }
  return m.pieces[id];
}

std::optional<int64_t> BpeTokenizer::token_id(const std::string& piece) const {
  auto found = impl_->piece_to_id.find(piece);
  if (found == impl_->piece_to_id.end()) return std::nullopt;
  return found->second;
}

int64_t BpeTokenizer::vocab_size() const { return impl_->vocab_size; }
std::optional<int64_t> BpeTokenizer::bos_id() const { return impl_->bos_id; }
std::optional<int64_t> BpeTokenizer::eos_id() const { return impl_->eos_id; }

bool BpeTokenizer::is_special(int64_t id) const {
  impl_->check_id(id);
  return impl_->special[id];
}

const std::string& BpeTokenizer::source() const { return impl_->source; }

}  // namespace precept::text
