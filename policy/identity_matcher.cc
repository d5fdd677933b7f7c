// IdentityIndex: exact values and literal prefixes in hash maps; everything else walked.

#include "policy/identity_matcher.h"

#include <algorithm>
#include <functional>

namespace portcullis::policy::internal {

namespace {

// Which condition a matcher is filed under when it has several: the field most likely to be
// unique to one certificate (an issuer is shared by every certificate of a CA).
int Selectivity(Field field) {
  switch (field) {
    case Field::kFingerprint:
      return 0;
    case Field::kSpki:
      return 1;
    case Field::kSpiffeId:
      return 2;
    case Field::kUriSan:
      return 3;
    case Field::kCn:
      return 4;
    case Field::kEmailSan:
      return 5;
    case Field::kDnsSan:
      return 6;
    case Field::kSubject:
      return 7;
    case Field::kIssuer:
      return 8;
  }
  return 9;
}

bool HasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// At most this many certificate values are listed in a mismatch explanation.
constexpr size_t kMaxListedValues = 5;

}  // namespace

IdentityIndex::IdentityIndex(const std::vector<Rule>* rules) : rules_(rules) {
  for (uint32_t r = 0; r < rules->size(); ++r) {
    const Rule& rule = (*rules)[r];
    for (uint32_t m = 0; m < rule.matchers.size(); ++m) {
      File(Ref{r, m}, rule.matchers[m]);
    }
  }
}

void IdentityIndex::File(Ref ref, const Matcher& matcher) {
  const Condition* exact = nullptr;
  const Condition* anchored = nullptr;  // the glob with the longest literal prefix or suffix
  bool by_suffix = false;
  size_t anchor_length = 0;
  for (const Condition& condition : matcher.conditions) {
    if (condition.glob.is_literal()) {
      if (exact == nullptr || Selectivity(condition.field) < Selectivity(exact->field)) {
        exact = &condition;
      }
      continue;
    }
    size_t prefix = condition.glob.literal_prefix().size();
    size_t suffix = condition.glob.literal_suffix().size();
    size_t length = std::max(prefix, suffix);
    if (length == 0) {
      continue;
    }
    if (anchored == nullptr || length > anchor_length ||
        (length == anchor_length && Selectivity(condition.field) < Selectivity(anchored->field))) {
      anchored = &condition;
      anchor_length = length;
      by_suffix = suffix > prefix;
    }
  }
  auto add_length = [](std::vector<size_t>* lengths, size_t length) {
    auto at = std::lower_bound(lengths->begin(), lengths->end(), length);
    if (at == lengths->end() || *at != length) {
      lengths->insert(at, length);
    }
  };
  if (exact != nullptr) {
    fields_[static_cast<size_t>(exact->field)].exact[exact->glob.literal_prefix()].push_back(ref);
  } else if (anchored != nullptr && by_suffix) {
    FieldIndex& index = fields_[static_cast<size_t>(anchored->field)];
    index.by_suffix[anchored->glob.literal_suffix()].push_back(ref);
    add_length(&index.suffix_lengths, anchor_length);
  } else if (anchored != nullptr) {
    FieldIndex& index = fields_[static_cast<size_t>(anchored->field)];
    index.by_prefix[anchored->glob.literal_prefix()].push_back(ref);
    add_length(&index.prefix_lengths, anchor_length);
  } else {
    unindexed_.push_back(ref);
  }
}

void IdentityIndex::Probe(const FieldIndex& index, std::string_view value,
                          std::vector<Ref>* candidates) const {
  if (!index.exact.empty()) {
    auto it = index.exact.find(value);
    if (it != index.exact.end()) {
      candidates->insert(candidates->end(), it->second.begin(), it->second.end());
    }
  }
  for (size_t length : index.prefix_lengths) {
    if (length > value.size()) {
      break;
    }
    auto it = index.by_prefix.find(value.substr(0, length));
    if (it != index.by_prefix.end()) {
      candidates->insert(candidates->end(), it->second.begin(), it->second.end());
    }
  }
  for (size_t length : index.suffix_lengths) {
    if (length > value.size()) {
      break;
    }
    auto it = index.by_suffix.find(value.substr(value.size() - length));
    if (it != index.by_suffix.end()) {
      candidates->insert(candidates->end(), it->second.begin(), it->second.end());
    }
  }
}

void IdentityIndex::MatchingRules(const Identity& identity, std::vector<uint32_t>* out) const {
  out->clear();
  std::vector<Ref> candidates;
  for (const FieldInfo& info : AllFields()) {
    const FieldIndex& index = fields_[static_cast<size_t>(info.field)];
    if (index.empty()) {
      continue;
    }
    AnyValue(identity, info.field, [&](const std::string& value) {
      if (info.fold && HasUpper(value)) {
        Probe(index, AsciiLower(value), &candidates);
      } else {
        Probe(index, value, &candidates);
      }
      return false;  // every value: another SAN may select other matchers
    });
  }
  const std::vector<Ref>* both[] = {&candidates, &unindexed_};
  for (const std::vector<Ref>* refs : both) {
    for (const Ref& ref : *refs) {
      if ((*rules_)[ref.rule].matchers[ref.matcher].Matches(identity)) {
        out->push_back(ref.rule);
      }
    }
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

std::string DescribeMismatch(const Matcher& matcher, const Identity& identity) {
  size_t failed = matcher.FirstFailure(identity);
  if (failed == matcher.conditions.size()) {
    return "";
  }
  const Condition& condition = matcher.conditions[failed];
  const FieldInfo& info = InfoFor(condition.field);
  std::vector<std::string> values;
  AnyValue(identity, condition.field, [&](const std::string& value) {
    values.push_back(value);
    return false;
  });
  const std::string wanted = Quote(condition.glob.pattern());
  if (values.empty()) {
    return std::string("the certificate has no ") + info.key + " (wanted " + wanted + ")";
  }
  if (!info.multi) {
    return std::string(info.key) + " " + Quote(values[0]) + " does not match " + wanted;
  }
  std::string has;
  for (size_t i = 0; i < values.size() && i < kMaxListedValues; ++i) {
    has += (i == 0 ? "" : ", ") + Quote(values[i]);
  }
  if (values.size() > kMaxListedValues) {
    has += ", ...";
  }
  return std::string("no ") + info.key + " matches " + wanted + " (the certificate has " + has +
         ")";
}

std::string DescribeMatch(const Matcher& matcher, const Identity& identity) {
  std::string out;
  for (const Condition& condition : matcher.conditions) {
    std::string matched;
    AnyValue(identity, condition.field, [&](const std::string& value) {
      if (condition.glob.Matches(value)) {
        matched = value;
        return true;
      }
      return false;
    });
    if (!out.empty()) {
      out += ", ";
    }
    out += std::string(InfoFor(condition.field).key) + " " + Quote(matched) + " matches " +
           Quote(condition.glob.pattern());
  }
  return out;
}

}  // namespace portcullis::policy::internal
