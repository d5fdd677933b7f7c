// Parsing of the `--config FILE` flag shared by run and check.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace portcullis::cli {

// The FILE of `--config FILE` or `--config=FILE`; nullopt (with a message on stderr) when
// missing or when another argument is unknown.
std::optional<std::string> ParseConfigFlag(const std::string& command,
                                           const std::vector<std::string>& args);

}  // namespace portcullis::cli
