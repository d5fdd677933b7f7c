// CaptureSink: an AuditSink for the anomaly tests that keeps every record as its JSON text,
// so a test can count records and look at their fields. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "portcullis/audit.h"

namespace portcullis::audit::testing {

class CaptureSink : public AuditSink {
 public:
  void Write(Record record) override {
    std::string line = record.TakeOpenJson() + "}";
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
  }
  void Flush() override {}

  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return lines_.size();
  }
  // The records whose "event" is `event`, parsed.
  std::vector<rapidjson::Document> Events(std::string_view event) const {
    std::vector<rapidjson::Document> out;
    for (const std::string& line : lines()) {
      rapidjson::Document doc;
      doc.Parse(line.c_str(), line.size());
      if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("event") &&
          std::string_view(doc["event"].GetString()) == event) {
        out.push_back(std::move(doc));
      }
    }
    return out;
  }
  // True if every record is one well-formed JSON object on one line.
  bool AllValid() const {
    for (const std::string& line : lines()) {
      rapidjson::Document doc;
      doc.Parse(line.c_str(), line.size());
      if (doc.HasParseError() || !doc.IsObject() || line.find('\n') != std::string::npos) {
        return false;
      }
    }
    return true;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    lines_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace portcullis::audit::testing
