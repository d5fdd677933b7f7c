#include "gateway/admin/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace portcullis::admin {

std::string EscapeLabelValue(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  char buf[64];
  // Whole numbers up to 2^53 print exactly without an exponent; the rest in the shortest form
  // that reads back to the same double.
  if (std::fabs(value) < 9007199254740992.0 && value == std::trunc(value)) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(value));
    return std::string(buf, end);
  }
  // Fixed notation where it stays short ("0.0005", not "5e-04": bucket bounds are read by
  // people too), the shortest general form elsewhere.
  double magnitude = std::fabs(value);
  auto format =
      magnitude >= 1e-6 && magnitude < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, format);
  return std::string(buf, end);
}

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += EscapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PrometheusText::AppendLabels(const Labels& labels) {
  if (labels.empty()) {
    return;
  }
  out_ += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) {
      out_ += ',';
    }
    first = false;
    out_ += key;
    out_ += "=\"";
    out_ += EscapeLabelValue(value);
    out_ += '"';
  }
  out_ += '}';
}

void PrometheusText::Sample(std::string_view name, const Labels& labels, uint64_t value) {
  out_ += name;
  AppendLabels(labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusText::Sample(std::string_view name, const Labels& labels, int64_t value) {
  out_ += name;
  AppendLabels(labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusText::Sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  AppendLabels(labels);
  out_ += ' ';
  out_ += FormatValue(value);
  out_ += '\n';
}

void PrometheusText::Histogram(std::string_view name, const Labels& labels,
                               std::span<const uint64_t> bounds_us,
                               std::span<const uint64_t> counts, uint64_t sum_us) {
  std::string bucket_name = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le = i < bounds_us.size() ? FormatValue(static_cast<double>(bounds_us[i]) / 1e6)
                                          : std::string("+Inf");
    Labels with_le = labels;
    with_le.emplace_back("le", le);
    Sample(bucket_name, with_le, cumulative);
  }
  Sample(std::string(name) + "_sum", labels, static_cast<double>(sum_us) / 1e6);
  Sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace portcullis::admin
